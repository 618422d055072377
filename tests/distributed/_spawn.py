"""Launching a 2-rank gloo world for the distributed tests with torchrun, bounded in time."""
import os
import signal
import subprocess
import sys
from pathlib import Path

TIMEOUT = 120


def torchrun(args: list[str], cwd: Path, world: int = 2, timeout: float = TIMEOUT, env_extra=None):
    """``torchrun --standalone --nproc_per_node=world ...`` (it picks a free port); returns
    the CompletedProcess. Collectives give up after 60 s; after ``timeout`` the launcher and
    its ranks (one process group) are killed and the test fails."""
    env = dict(os.environ, OMP_NUM_THREADS="1", LOGITKIT_DIST_TIMEOUT="60", **(env_extra or {}))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={world}", *args]
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)
