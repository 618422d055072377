"""Log-bucket codes of counts, shared by the VW writer and the feature hasher.

A count ``v`` becomes a short token so that a linear model can learn a step function
of it (the Criteo winners' trick):

    code(v) = str(floor(v))                 for v <= 2   (floors below -1000 are -1000)
    code(v) = "L" + str(floor(ln(v)^2))     for v > 2    (capped at L4000)

Missing values have the empty code "".
"""
from __future__ import annotations

import numpy as np

SMALL_MIN = -1000
BIG_MAX = 4000
#: number of distinct non-missing codes; code ids run over [0, N_CODES)
N_CODES = (2 - SMALL_MIN + 1) + (BIG_MAX + 1)


def log_bucket_ids(v: np.ndarray) -> np.ndarray:
    """Integer code ids in [0, N_CODES) of float values ``v`` (shape (n,)); NaN -> -1."""
    v = np.asarray(v, dtype=np.float64)
    out = np.full(v.shape, -1, dtype=np.int64)
    ok = ~np.isnan(v)
    small = ok & (v <= 2)
    big = ok & (v > 2)
    out[small] = np.maximum(np.floor(v[small]), SMALL_MIN).astype(np.int64) - SMALL_MIN
    lv = np.log(v[big])
    out[big] = (2 - SMALL_MIN + 1) + np.minimum(np.floor(lv * lv), BIG_MAX).astype(np.int64)
    return out


def code_of_id(i: int) -> str:
    """The code string of a code id (inverse of ``log_bucket_ids`` up to bucketing)."""
    if i < 0:
        return ""
    if i <= 2 - SMALL_MIN:
        return str(i + SMALL_MIN)
    return "L" + str(i - (2 - SMALL_MIN + 1))


def log_bucket_code(v: float | None) -> str:
    """The code string of one value (None/NaN -> '')."""
    if v is None:
        return ""
    return code_of_id(int(log_bucket_ids(np.array([v], dtype=np.float64))[0]))


INT_HI = 1 << 16
_INT_TABLE: np.ndarray | None = None


def int_code_table() -> np.ndarray:
    """Code ids of the integers SMALL_MIN..INT_HI (index v - SMALL_MIN); below SMALL_MIN the
    code is that of SMALL_MIN, above INT_HI use ``log_bucket_ids``."""
    global _INT_TABLE
    if _INT_TABLE is None:
        _INT_TABLE = log_bucket_ids(np.arange(SMALL_MIN, INT_HI + 1, dtype=np.float64))
    return _INT_TABLE


def int_table_positions(v: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Where integers ``v`` (any shape) sit in a table laid out as ``int_code_table`` with
    one more entry, the missing value's, at the end: v - SMALL_MIN (clipped to the table),
    ``len(int_code_table())`` where ``valid`` is False. Counts above INT_HI land on INT_HI's
    entry: the caller handles them with ``log_bucket_ids``."""
    pos = np.clip(v, SMALL_MIN, INT_HI)
    pos -= SMALL_MIN
    if valid is not None:
        pos[~valid] = INT_HI - SMALL_MIN + 1
    return pos


def log_bucket_ids_int(v: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """``log_bucket_ids`` for int64 values (missing rows flagged by ``missing`` get N_CODES),
    through a lookup table for values in [-1000, 65536]; larger values take the log path."""
    ids = int_code_table()[np.clip(v, SMALL_MIN, INT_HI) - SMALL_MIN]
    big = v > INT_HI
    if big.any():
        ids[big] = log_bucket_ids(v[big].astype(np.float64))
    if missing is not None:
        ids[missing] = N_CODES
    return ids
