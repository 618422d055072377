"""``Collective``: what a stage needs of the other processes of a job, in one object.

A stage is written once, for the general case, and is handed a collective:

    coll = collective.current()      # Local() in one process, TorchCollective() under torchrun
    n = coll.sum(np.array([table.n_rows]))[0]      # rows over every rank
    parts = coll.all_gather((rows, labels))         # every rank's small object, rank order
    y, = coll.in_row_order(rows, labels)            # every rank's labels, in the input's row order
    sha = coll.broadcast_call(sha256_file, path)    # rank 0 hashes, every rank gets the answer

In one process every operation is the identity (``sum(x)`` is ``x``, ``all_gather(o)``
is ``[o]``, ``gather(o)`` is ``[o]``, ``broadcast(o)`` is ``o``), so the general code is
the single-process code. Under ``torchrun`` the same calls are ``torch.distributed``
collectives (``logitkit._util.dist`` starts the process group and passes a failing
rank's message on).

What it offers, and nothing more:

- ``rank``, ``world_size``, ``backend``; ``is_main`` (rank 0, the rank that writes files);
- reductions, element-wise over ranks: ``sum``, ``max``, ``min``. They take a tensor
  (returned as a tensor on its own device and dtype) or anything NumPy can read
  (returned as a float64 NumPy array);
- small picklable objects: ``all_gather``, ``gather`` (to one rank), ``broadcast``,
  ``broadcast_call`` (one rank computes, every rank gets the result), ``barrier``;
- arrays, derived from those: ``union`` (sorted distinct values), ``concat`` (rank
  order), ``in_row_order`` (every rank's rows put back in the order of the whole input,
  from each row's index in it).
"""
from __future__ import annotations

import numpy as np
import torch

from logitkit._util import dist


class Collective:
    """The identity collective of a job of one process (see the module docstring)."""

    rank: int = 0
    world_size: int = 1
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """True on the rank that writes files (rank 0)."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    # ---- reductions, element-wise over ranks
    def _reduce(self, t: torch.Tensor, op: str) -> torch.Tensor:
        return t

    def _apply(self, x, op: str):
        if isinstance(x, torch.Tensor):
            return self._reduce(x, op)
        return self._reduce(torch.as_tensor(np.array(x, dtype=np.float64)), op).numpy()

    def sum(self, x):
        """Σ over ranks of ``x`` (tensor in, tensor out; else a float64 array)."""
        return self._apply(x, "sum")

    def max(self, x):
        """Element-wise max over ranks."""
        return self._apply(x, "max")

    def min(self, x):
        """Element-wise min over ranks."""
        if isinstance(x, torch.Tensor):
            return -self.max(-x)
        return -self.max(-np.asarray(x, dtype=np.float64))

    # ---- small picklable objects
    def all_gather(self, obj) -> list:
        """``[obj of rank 0, obj of rank 1, ...]`` on every rank."""
        return [obj]

    def gather(self, obj, dst: int = 0) -> list | None:
        """``[obj of rank 0, ...]`` on rank ``dst``, None on the others."""
        return [obj]

    def broadcast(self, obj, src: int = 0):
        """Rank ``src``'s ``obj`` on every rank."""
        return obj

    def barrier(self) -> None:
        """Wait until every rank is here."""

    def broadcast_call(self, fn, *args, src: int = 0):
        """``fn(*args)`` called on rank ``src`` alone, its result on every rank (e.g. the
        sha256 of a file every rank reads: one rank hashes it)."""
        return self.broadcast(fn(*args) if self.rank == src else None, src)

    # ---- derived
    def union(self, a) -> np.ndarray:
        """The sorted distinct values of every rank's array."""
        return np.unique(np.concatenate(self.all_gather(np.unique(np.asarray(a)))))

    def concat(self, a) -> np.ndarray:
        """Every rank's array concatenated in rank order."""
        return np.concatenate(self.all_gather(np.asarray(a)))

    def in_row_order(self, rows, *arrays, dst: int | None = None) -> list[np.ndarray] | None:
        """Every rank's ``arrays`` (rows along axis 0) concatenated and sorted by ``rows``,
        each row's index in the whole input: the arrays one process holding every row
        would have. On every rank, or with ``dst`` on that rank only (None elsewhere).

        In one process with ``rows`` ascending this is the arrays themselves (copied)."""
        parts = (self.all_gather if dst is None else lambda o: self.gather(o, dst))((np.asarray(rows), *arrays))
        if parts is None:
            return None
        order = np.argsort(np.concatenate([p[0] for p in parts]), kind="stable")
        return [np.concatenate([np.asarray(p[k]) for p in parts])[order] for k in range(1, len(arrays) + 1)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, world_size={self.world_size})"


class Local(Collective):
    """One process: every operation is the identity."""


class TorchCollective(Collective):
    """The ranks of an initialised ``torch.distributed`` process group."""

    def __init__(self) -> None:
        if not dist.is_distributed():
            raise RuntimeError("TorchCollective needs an initialised process group of more than one rank")
        self.rank = dist.rank()
        self.world_size = dist.world_size()
        self.backend = dist.backend()

    def _reduce(self, t: torch.Tensor, op: str) -> torch.Tensor:
        return dist.all_reduce_sum(t) if op == "sum" else dist.all_reduce_max(t)

    def all_gather(self, obj) -> list:
        return dist.all_gather_object(obj)

    def gather(self, obj, dst: int = 0) -> list | None:
        return dist.gather_object(obj, dst)

    def broadcast(self, obj, src: int = 0):
        return dist.broadcast_object(obj, src)

    def barrier(self) -> None:
        dist.barrier()


LOCAL = Local()


def current() -> Collective:
    """The collective of this process: ``TorchCollective`` inside a process group of more
    than one rank (``dist.init_from_env`` joined it), else ``LOCAL``."""
    return TorchCollective() if dist.is_distributed() else LOCAL
