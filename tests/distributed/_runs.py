"""``torchrun ... _runs.py OUT CONFIG...``: ``logitkit run CONFIG --out OUT/<config stem>`` for
each config in turn, in one launch and one process group (a default group destroyed and
created again under the same launcher store could read the last group's keys)."""
import sys
from pathlib import Path

from logitkit._util import dist
from logitkit.pipeline.cli import main

out = Path(sys.argv[1])
leave, dist.shutdown = dist.shutdown, lambda: None  # the runner leaves the group after a run: not here
dist.init_from_env()
for config in sys.argv[2:]:
    code = main(["run", config, "--out", str(out / Path(config).stem)])
    if code:
        raise SystemExit(code)
dist.barrier()
leave()
