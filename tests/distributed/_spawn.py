"""Spawning a 2-rank gloo world for the distributed tests, bounded in time."""
import os
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(script: str, args: list[str], world: int = 2, timeout: float = TIMEOUT):
    """Run ``script`` as ranks 0..world-1 (env:// rendezvous); returns their CompletedProcess-like
    (returncode, stderr) pairs. Kills every rank when the time is up."""
    port = str(free_port())
    procs = []
    for r in range(world):
        env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(world), LOCAL_RANK=str(r), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=port, OMP_NUM_THREADS="1", LOGITKIT_DIST_TIMEOUT="60")
        procs.append(subprocess.Popen([sys.executable, str(HERE / script), *args], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    out = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        out.append((p.returncode, err))
    return out


def torchrun(args: list[str], cwd: Path, world: int = 2, timeout: float = TIMEOUT, env_extra=None):
    """``torchrun --standalone --nproc_per_node=world ...`` (it picks a free port); returns CompletedProcess."""
    env = dict(os.environ, OMP_NUM_THREADS="1", LOGITKIT_DIST_TIMEOUT="60", **(env_extra or {}))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={world}", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
