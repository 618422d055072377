"""Launching a 2-rank gloo world for the distributed tests with torchrun, bounded in time."""
import os
import subprocess
import sys
from pathlib import Path

TIMEOUT = 120


def torchrun(args: list[str], cwd: Path, world: int = 2, timeout: float = TIMEOUT, env_extra=None):
    """``torchrun --standalone --nproc_per_node=world ...`` (it picks a free port); returns
    the CompletedProcess. Collectives give up after 60 s; the whole job after ``timeout``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", LOGITKIT_DIST_TIMEOUT="60", **(env_extra or {}))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={world}", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
