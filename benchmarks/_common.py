"""Shared by the benchmarks: a memory-bandwidth probe and timing helpers."""
from __future__ import annotations

import time

import numpy as np


def bandwidth_gbs(n_bytes: int = 1 << 29, repeats: int = 5) -> float:
    """Measured read bandwidth (GB/s): the best of ``repeats`` sums over an array of n_bytes."""
    a = np.ones(n_bytes // 8)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a.sum()
        best = min(best, time.perf_counter() - t0)
    return n_bytes / best / 1e9


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0
