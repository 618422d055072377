"""``torchrun ... _faulty_run.py MODE RANK CONFIG OUT``: ``logitkit run`` whose rank RANK fails
in the middle of the fit (MODE "raise": a DataError; MODE "kill": SIGKILL, no message). With
``FAULT_TIME_FILE`` set, the failing rank writes the time it failed there first."""
import os
import signal
import sys
import time

from logitkit._util import dist
from logitkit._util.errors import DataError
from logitkit.pipeline.cli import main
from logitkit.predict.objective import LogisticObjective

mode, failing, config, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
calls = {"n": 0}
_smooth = LogisticObjective.smooth


def faulty_smooth(self, theta, grad=True):
    calls["n"] += 1
    if dist.rank() == failing and calls["n"] == 3:  # the other rank goes on into the all-reduce of this evaluation
        if os.environ.get("FAULT_TIME_FILE"):
            with open(os.environ["FAULT_TIME_FILE"], "w") as f:
                f.write(repr(time.time()))
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise DataError(f"shard {failing}: line 7 of the input is malformed (injected failure)")
    return _smooth(self, theta, grad)


LogisticObjective.smooth = faulty_smooth
raise SystemExit(main(["run", config, "--out", out]))
