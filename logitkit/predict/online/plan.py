"""Row plans: which table rows a mini-batch touches, found from its indices alone.

A mini-batch of n rows × T hashed tokens touches u distinct table rows. Its *plan* is

* ``inv`` (n·T,) int64: the slot in [1, u] of every position (the tokens row by row);
* ``rows`` (u + 1,) int64: slot 0 the intercept's row (the table's last, 2^b), slots
  1..u the distinct buckets (in the order of their representatives, below).

The learner gathers the u + 1 rows once, spreads their weights to the positions with
``inv`` and sums the gradient back per slot, so the optimiser runs on distinct rows.

``RowPlanner`` finds a plan without sorting: every position writes its own number into
its bucket's entry of a scratch table ``owner`` (whichever write lands does not matter:
the update is elementwise per row); the positions that read their own number back are
the representatives, numbered 1, 2, … in position order by a cumulative sum. ``owner`` stays ≥ 0 for every
bucket ever planned, which is what ``touched`` reports.

A plan depends on the indices alone, so a stream with a binary cache stores the plans of
its mini-batches next to the indices (``CTRStream.request_plans``) and the passes over the
cache skip this step too: while the cache is written, each batch comes with a
``PlanSink`` into which the learner puts the plans it makes anyway; the later passes
hand them back as ``RowPlans``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


def n_minibatches(n: int, batch_size: int) -> int:
    """How many mini-batches of ``batch_size`` rows ``n`` rows make (the last may be short)."""
    return -(-int(n) // int(batch_size))


class RowPlans(NamedTuple):
    """The plans of the consecutive mini-batches of ``batch_size`` rows of one batch.

    ``inv`` (n, T) int64 array: per position its slot in its own mini-batch; ``rows`` the
    mini-batches' ``rows`` arrays (int64) in order; ``n_buckets`` the table's token rows
    (2^b; the intercept's row is ``n_buckets``). NumPy arrays, so that they pass between
    processes as plain buffers and into torch without a copy.
    """

    batch_size: int
    n_buckets: int
    inv: np.ndarray
    rows: list[np.ndarray]

    def fits(self, idx, batch_size: int, n_buckets: int) -> bool:
        """Whether these are the plans of ``idx`` cut into mini-batches of ``batch_size``."""
        return (self.batch_size == batch_size and self.n_buckets == n_buckets
                and tuple(self.inv.shape) == tuple(idx.shape) and len(self.rows) == n_minibatches(len(idx), batch_size))


class PlanSink:
    """Where a learner leaves the plans it makes for one batch of ``shape`` (n, T), cut
    into mini-batches of ``batch_size`` rows, for a stream to store (``CTRStream``)."""

    def __init__(self, batch_size: int, n_buckets: int, shape: tuple[int, int]) -> None:
        self.batch_size, self.n_buckets, self.shape = int(batch_size), int(n_buckets), tuple(shape)
        self.inv: list[torch.Tensor] = []
        self.rows: list[torch.Tensor] = []

    def fits(self, idx, batch_size: int, n_buckets: int) -> bool:
        """Whether ``idx`` cut into mini-batches of ``batch_size`` is the batch this sink is for."""
        return self.batch_size == batch_size and self.n_buckets == n_buckets and tuple(idx.shape) == self.shape

    def add(self, inv: torch.Tensor, rows: torch.Tensor) -> None:
        """The plan of the next mini-batch."""
        self.inv.append(inv.cpu())
        self.rows.append(rows.cpu())

    def complete(self) -> bool:
        return len(self.rows) == n_minibatches(self.shape[0], self.batch_size)

    def write(self, inv_file, rows_file) -> None:
        """Append the plans to the cache's ``.inv`` (int32) and ``.rows`` (int64: count, rows) files."""
        if self.inv:
            torch.cat(self.inv).numpy().astype("<i4").tofile(inv_file)
            np.concatenate([np.r_[len(r), r.numpy()] for r in self.rows]).astype("<i8").tofile(rows_file)


class RowPlanner:
    """Plans of mini-batches over a table of ``n_buckets`` token rows (see module docstring)."""

    def __init__(self, n_buckets: int, device: torch.device | str = "cpu") -> None:
        self.n_buckets = int(n_buckets)
        self.device = torch.device(device)
        self.owner = torch.full((self.n_buckets,), -1, device=self.device, dtype=torch.int32)
        self._arange = torch.arange(0, device=self.device, dtype=torch.int32)

    def plan(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, T) bucket indices -> (inv, rows) of the module docstring."""
        flat = idx.reshape(-1).long()  # int64: scatter_'s index (no copy when idx is int64)
        k = flat.shape[0]
        if self._arange.shape[0] < k:
            self._arange = torch.arange(k, device=self.device, dtype=torch.int32)
        pos = self._arange[:k]
        self.owner.scatter_(0, flat, pos)  # (faster than index_copy_ on CPU)
        rep = self.owner.index_select(0, flat)  # the representative position of each position
        number = (rep == pos).cumsum(0)
        inv = number.index_select(0, rep)
        rows = flat.new_empty(1 + (int(number[-1]) if k else 0))
        rows[0] = self.n_buckets
        rows.scatter_(0, inv, flat)  # a slot's positions all write the same bucket
        return inv, rows

    def mark(self, rows: torch.Tensor) -> None:
        """Record the buckets of a plan made elsewhere (a cache) as touched."""
        self.owner.index_fill_(0, rows[1:], 0)

    def touched(self) -> torch.Tensor:
        """(n_buckets,) bool: the buckets some plan has covered."""
        return self.owner >= 0
