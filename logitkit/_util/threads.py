"""Threads: how many torch uses for small problems, and work done ahead in a thread.

torch's intra-op threads only cost time on small matrices, and when the cores are
shared (oversubscribed) their spin-waits can make a small fit tens of times slower.
``threads_for(work)`` runs small problems on one thread and restores the setting after.

``run_ahead(it, depth)`` runs an iterator in a background thread, ``depth`` items ahead
of its consumer (useful where the work releases the GIL: torch kernels, pyarrow, NumPy);
``drain`` hands a producer's queue to the consumer, re-raising the producer's exception.
"""
from __future__ import annotations

import os
import queue
import threading
from contextlib import contextmanager
from typing import Iterator

SMALL_WORK = 250_000  # n · d below which one thread is used
#: the environment variables through which a user sets the threads of OpenMP / MKL (torch reads them)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def set_intra_op_threads(requested: int | None, small_kernels: bool) -> int:
    """Set torch's intra-op threads for a run and return their number.

    ``requested`` (a config's ``run.threads``) wins; else a variable of
    ``THREAD_VARIABLES`` the user set (torch read it when it started); else, for a run
    made of small per-batch kernels (``small_kernels``: the hashed CTR learner's
    gathers and scatters over a mini-batch), one thread: OpenMP threads on such kernels
    cost more to wake and join than they save, and on a machine whose cores are busy
    they wait for each other and multiply the run time; otherwise torch's default."""
    import torch

    if requested is not None:
        torch.set_num_threads(int(requested))
    elif small_kernels and not any(os.environ.get(v) for v in THREAD_VARIABLES):
        torch.set_num_threads(1)
    return torch.get_num_threads()


@contextmanager
def threads_for(work: int):
    import torch  # (here: the run-ahead helpers below are used where torch is not loaded yet)

    before = torch.get_num_threads()
    small = work < SMALL_WORK and before > 1
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if small:
            torch.set_num_threads(before)


def run_ahead(it: Iterator, depth: int = 2) -> Iterator:
    """The items of ``it``, made in a background thread ``depth`` ahead. An exception of
    ``it`` is raised in the consumer; a consumer that stops early stops the thread and
    closes ``it`` there (so a generator's clean-up runs in the thread that ran it)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in it:
                if stop.is_set():
                    break
                q.put(item)
            getattr(it, "close", lambda: None)()
        except BaseException as exc:  # handed to the consumer, re-raised there
            q.put(exc)
            return
        q.put(done)

    th = threading.Thread(target=work, daemon=True, name="logitkit-ahead")
    th.start()
    try:
        yield from drain(q, done)
    finally:
        stop.set()
        while th.is_alive():  # unblock a producer waiting on a full queue, then let it end
            try:
                q.get_nowait()
            except queue.Empty:
                th.join(0.01)


def drain(q, done) -> Iterator:
    """Items from a producer's queue until ``done``; an exception the producer put there is
    raised here, in the consumer."""
    while True:
        item = q.get()
        if item is done:
            return
        if isinstance(item, BaseException):
            raise item
        yield item
