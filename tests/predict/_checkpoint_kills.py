"""``python _checkpoint_kills.py OUT``: one fit of a checkpointing ``HashedLogisticRegression``
per write its checkpoints make, each in a forked child killed (``os._exit``) right after
that write; child k leaves its checkpoint directory in OUT/k<k>. Prints the number of
writes one whole fit makes. Forked before any torch work, so no thread pool is copied."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

KW = dict(n_bits=10, optimizer="ftrl", batch_size=32, n_passes=2, checkpoint_every=3, random_state=0, sketch_size=5)
WRITES = ("_save_tensors", "_write_text", "_rename", "_remove")


def stream():
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 1 << 10, (400, 6))
    y = (rng.random(400) < 1 / (1 + np.exp(-(idx % 7 - 3).sum(1) / 4))).astype(np.float32)
    return [(idx[i:i + 100], y[i:i + 100], None) for i in range(0, 400, 100)]


def fit(directory: Path, kill_after: int | None = None) -> int:
    """Fit with checkpoints in ``directory``; with ``kill_after`` the process ends right after
    that write. Returns the number of writes."""
    import torch

    from logitkit.predict.online import checkpoint
    from logitkit.predict.online.learner import HashedLogisticRegression

    torch.set_num_threads(1)
    n = [0]

    def counted(write):
        def run(*args, **kwargs):
            out = write(*args, **kwargs)
            n[0] += 1
            if n[0] == kill_after:
                os._exit(77)  # killed: no clean-up, no finally
            return out
        return run

    for name in WRITES:
        setattr(checkpoint, name, counted(getattr(checkpoint, name)))
    HashedLogisticRegression(**KW, checkpoint_dir=str(directory)).fit(stream())
    return n[0]


if __name__ == "__main__":
    out = Path(sys.argv[1])
    import torch  # noqa: F401  (imported once, before the forks; no torch work yet)

    from logitkit.predict.online.learner import HashedLogisticRegression  # noqa: F401

    pid = os.fork()
    if pid == 0:  # a whole fit, counting its writes
        os._exit(0 if (out / "count").write_text(str(fit(out / "whole"))) else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    total = int((out / "count").read_text())
    for k in range(1, total + 1):
        pid = os.fork()
        if pid == 0:
            fit(out / f"k{k}", kill_after=k)
            os._exit(1)  # (not reached: the k-th write ends the child)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        assert code == 77, (k, code)
    print(total)
