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
its mini-batches next to the indices and the passes over the cache skip this step too.
The stream (``loaddata``, a lower stage) knows them only as named arrays: the learner
asks ``stream.request_extras(plan_key(...), PLAN_DTYPES)``; while the cache is written,
each batch comes with an empty ``loaddata.batch_cache.BatchExtras`` that a ``PlanSink``
fills with the plans the learner makes anyway (``inv`` per mini-batch as int32, ``rows``
as int64) and closes after the last mini-batch; the later passes hand the stored ones
back, read as ``RowPlans`` (``plans_of``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from logitkit.loaddata.batch_cache import BatchExtras

#: the arrays of a plan as a stream's cache keeps them
PLAN_DTYPES = {"inv": "<i4", "rows": "<i8"}


def n_minibatches(n: int, batch_size: int) -> int:
    """How many mini-batches of ``batch_size`` rows ``n`` rows make (the last may be short)."""
    return -(-int(n) // int(batch_size))


def plan_key(batch_size: int, n_buckets: int) -> dict:
    """What a stream's cache records its plans were made for."""
    return {"kind": "row-plans", "batch_size": int(batch_size), "n_buckets": int(n_buckets)}


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

    @classmethod
    def from_extras(cls, extras: BatchExtras, shape: tuple[int, int]) -> "RowPlans":
        """The plans a ``PlanSink`` left in ``extras``, read back from a cache, for a batch of ``shape``."""
        inv = extras.arrays("inv")
        inv = (np.concatenate(inv) if inv else np.zeros(0, np.int32)).reshape(shape).astype(np.int64)
        return cls(extras.key["batch_size"], extras.key["n_buckets"], inv, list(extras.arrays("rows")))

    def fits(self, idx, batch_size: int, n_buckets: int) -> bool:
        """Whether these are the plans of ``idx`` cut into mini-batches of ``batch_size``."""
        return (self.batch_size == batch_size and self.n_buckets == n_buckets
                and tuple(self.inv.shape) == tuple(idx.shape) and len(self.rows) == n_minibatches(len(idx), batch_size))


class PlanSink:
    """Where a learner leaves the plans it makes for one batch of ``shape`` (n, T), cut
    into mini-batches of ``extras.key["batch_size"]`` rows: in a stream's ``extras``,
    which are closed (kept by the stream) once every mini-batch's plan is in."""

    def __init__(self, extras: BatchExtras, shape: tuple[int, int]) -> None:
        self.extras = extras
        self.batch_size, self.n_buckets = int(extras.key["batch_size"]), int(extras.key["n_buckets"])
        self.shape = tuple(shape)
        self.n_plans = 0
        if self.complete():  # (a batch without rows)
            extras.close()

    def fits(self, idx, batch_size: int, n_buckets: int) -> bool:
        """Whether ``idx`` cut into mini-batches of ``batch_size`` is the batch this sink is for."""
        return self.batch_size == batch_size and self.n_buckets == n_buckets and tuple(idx.shape) == self.shape

    def add(self, inv: torch.Tensor, rows: torch.Tensor) -> None:
        """The plan of the next mini-batch."""
        self.extras.add("inv", inv.cpu().numpy())
        self.extras.add("rows", rows.cpu().numpy())
        self.n_plans += 1
        if self.complete():
            self.extras.close()

    def complete(self) -> bool:
        return self.n_plans == n_minibatches(self.shape[0], self.batch_size)


def plans_of(extras: BatchExtras | None, shape: tuple[int, int]) -> RowPlans | PlanSink | None:
    """A stream item's extras as plans: a ``PlanSink`` to fill (a pass writing the cache),
    the stored ``RowPlans`` (a pass over it), or None when they hold no row plans."""
    if extras is None or extras.key.get("kind") != "row-plans":
        return None
    return PlanSink(extras, shape) if extras.writable else RowPlans.from_extras(extras, shape)


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

    def restore(self, touched: torch.Tensor) -> None:
        """Record the buckets ``touched`` (bool or 0/1, (n_buckets,)) as touched, forgetting the others."""
        self.owner = torch.where(touched.to(self.device).bool(), 0, -1).to(torch.int32)

    def touched(self) -> torch.Tensor:
        """(n_buckets,) bool: the buckets some plan has covered."""
        return self.owner >= 0
