"""Thread count for small problems.

torch's intra-op threads only cost time on small matrices, and when the cores are
shared (oversubscribed) their spin-waits can make a small fit tens of times slower.
``threads_for(work)`` runs small problems on one thread and restores the setting after.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

SMALL_WORK = 250_000  # n · d below which one thread is used


@contextmanager
def threads_for(work: int):
    before = torch.get_num_threads()
    small = work < SMALL_WORK and before > 1
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if small:
            torch.set_num_threads(before)
