"""When the row plans of a batch's mini-batches are made: taken from a cache, made
ahead by a helper thread, or made inline by the learner.

A plan (``plan.RowPlanner``) needs only a mini-batch's indices, so on CPU a helper
thread can find the next mini-batch's distinct rows while the learner updates with this
one (torch releases the GIL in its kernels). The results are the bits of the inline
loop: the plans are made in the same order on the same buffer (the planner's scratch
table), which the learner itself never touches.

Whether the helper pays is a question of free cores. ``PlanSchedule.helper_has_a_core``
("auto") answers it from the CPU time of the process since the previous call: the
helper runs when the other threads of the process (a stream's parsers and hasher, say)
used at most cores − 1.5 of them, the learner's own thread and its helper not counted.
So it runs when the learner is alone (a pass over a binary cache without stored plans)
and on many cores, but not while a text file is parsed and hashed on 2 cores, where it
only competes with those threads: the same work plus its hand-offs, ~0.4-0.9 more
CPU-s per million rows and a first pass ~10% slower on the 2-core benchmark machine.
"""
from __future__ import annotations

import os
import time
from typing import Iterator

import torch

from logitkit._util.threads import run_ahead
from logitkit.predict.online.plan import RowPlanner, RowPlans


def n_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class PlanSchedule:
    """Pairs (mini-batch indices, its plan or None) for the learner (see the module docstring).

    ``planner`` makes the plans (and records the buckets touched); a plan of None means
    "make it inline". ``mode``: "auto" (the CPU-time rule), True (always a helper on
    CPU), False (never).
    """

    def __init__(self, planner: RowPlanner) -> None:
        self.planner = planner
        self._last_call = None  # (wall, process CPU, thread CPU) at the last call
        self._helper_cpu = 0.0  # CPU seconds of the helper threads since then

    def pairs(self, idx: torch.Tensor, parts: list, given: RowPlans | None, mode: bool | str) -> Iterator[tuple]:
        """The mini-batches ``idx[sel]`` for ``sel`` in ``parts`` with their plans: from
        ``given`` (a cache's), from a helper thread, or None (inline)."""
        if given is not None:
            return self._given(idx, parts, given)
        if idx.device.type == "cpu" and len(parts) > 1 and self.helper_has_a_core(mode):
            return self._ahead(idx, parts)
        return ((idx[sel], None) for sel in parts)

    def helper_has_a_core(self, mode: bool | str = "auto") -> bool:
        """Whether this call finds the next mini-batch's rows in a helper thread."""
        if mode != "auto":
            return bool(mode)
        now = (time.perf_counter(), time.process_time(), time.thread_time())
        last, self._last_call = self._last_call, now
        helper, self._helper_cpu = self._helper_cpu, 0.0
        if last is None:
            return True
        others = (now[1] - last[1]) - (now[2] - last[2]) - helper
        return others <= (n_cores() - 1.5) * (now[0] - last[0])

    def _given(self, idx: torch.Tensor, parts: list, plans: RowPlans) -> Iterator[tuple]:
        """The plans of ``plans`` (consecutive slices); their buckets are recorded as touched."""
        dev = idx.device
        inv = torch.from_numpy(plans.inv)
        for sel, rows in zip(parts, plans.rows):
            rows = torch.from_numpy(rows).to(dev)
            self.planner.mark(rows)
            yield idx[sel], (inv[sel].reshape(-1).to(dev), rows)

    def _ahead(self, idx: torch.Tensor, parts: list) -> Iterator[tuple]:
        """Plans made by a helper thread one or two mini-batches ahead of the learner."""

        def plans() -> Iterator[tuple]:
            try:
                for sel in parts:
                    mb = idx[sel]
                    yield mb, self.planner.plan(mb)
            finally:  # (run in the helper thread: its own CPU seconds)
                self._helper_cpu += time.thread_time()

        return run_ahead(plans(), depth=2)
