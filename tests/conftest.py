"""Fixtures shared by the test files (pytest finds them here; no import needed).

One section per concern; each fixture says what it is for.
"""
import threading

import pytest
import torch

from logitkit._util.collective import Collective


# ---------------------------------------------------------------- general
@pytest.fixture(scope="module")
def one_thread():
    """torch on one thread for a module's tests, restored afterwards: small fits are not
    faster on more threads, and the results do not depend on the machine's core count.
    Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# ---------------------------------------------------------------- ranks of a job, in threads
class _ThreadCollective(Collective):
    """A ``Collective`` over W threads of this process, exchanging through memory: the
    stages' general code runs on simulated ranks without ``torchrun``."""

    def __init__(self, rank: int, world: int, slots: list, barrier: threading.Barrier) -> None:
        self.rank, self.world_size, self.backend = rank, world, "threads"
        self._slots, self._barrier = slots, barrier

    def all_gather(self, obj) -> list:
        self._slots[self.rank] = obj
        self._barrier.wait()
        out = list(self._slots)
        self._barrier.wait()  # every rank has read before the next exchange writes
        return out

    def gather(self, obj, dst: int = 0):
        out = self.all_gather(obj)
        return out if self.rank == dst else None

    def broadcast(self, obj, src: int = 0):
        return self.all_gather(obj)[src]

    def barrier(self) -> None:
        self._barrier.wait()

    def _reduce(self, t: torch.Tensor, op: str) -> torch.Tensor:
        stacked = torch.stack(self.all_gather(t.detach().clone()))
        return stacked.sum(0) if op == "sum" else stacked.max(0).values


@pytest.fixture
def thread_ranks():
    """``run(fn, world=2)``: ``[fn(coll) of rank 0, fn(coll) of rank 1, ...]``, each rank a
    thread with its ``Collective``; a rank's exception is raised (the others stop at the
    next exchange)."""
    def run(fn, world: int = 2) -> list:
        slots, barrier = [None] * world, threading.Barrier(world, timeout=60)
        results, errors = [None] * world, []

        def rank(r: int) -> None:
            try:
                results[r] = fn(_ThreadCollective(r, world, slots, barrier))
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                errors.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=rank, args=(r,)) for r in range(world)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0])
        return results

    return run
