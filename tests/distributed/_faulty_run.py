"""``torchrun ... _faulty_run.py MODE CONFIG OUT``: ``logitkit run`` whose rank 1 fails in
the middle of the fit (MODE "raise": a DataError; MODE "kill": SIGKILL, no message)."""
import os
import signal
import sys

from logitkit._util import dist
from logitkit._util.errors import DataError
from logitkit.pipeline.cli import main
from logitkit.predict.objective import LogisticObjective

mode, config, out = sys.argv[1:4]
calls = {"n": 0}
_smooth = LogisticObjective.smooth


def faulty_smooth(self, theta, grad=True):
    calls["n"] += 1
    if dist.rank() == 1 and calls["n"] == 3:  # rank 0 goes on into the all-reduce of this evaluation
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise DataError("shard 1: line 7 of the input is malformed (injected failure)")
    return _smooth(self, theta, grad)


LogisticObjective.smooth = faulty_smooth
raise SystemExit(main(["run", config, "--out", out]))
