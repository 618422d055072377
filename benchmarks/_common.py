"""Shared by the benchmarks: a memory-bandwidth probe and timing helpers."""
from __future__ import annotations

import time

import numpy as np


def bandwidth_gbs(n_bytes: int = 1 << 30, repeats: int = 5) -> float:
    """Measured read bandwidth (GB/s) of the whole machine: the best of ``repeats`` sums
    over an array of n_bytes (larger than the caches), with NumPy (one thread) and with
    torch (all its intra-op threads); the larger is the bound."""
    import torch

    a = np.ones(n_bytes // 8)
    t = torch.from_numpy(a)
    best = float("inf")
    for _ in range(repeats):
        for total in (a.sum, t.sum):
            t0 = time.perf_counter()
            total()
            best = min(best, time.perf_counter() - t0)
    return n_bytes / best / 1e9


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0
