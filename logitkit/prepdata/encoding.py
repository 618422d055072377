"""Encoders of one column into indicator columns: one-hot, log buckets, quantile buckets.

Each has ``fit(values) -> self``, ``transform(values, column, where) -> (n, K) float64``
(``where(i)`` names row ``i`` in error messages), ``names(column) -> list[str]`` and
JSON state. Missing values of a categorical column are the category ``""``.
``fit(values, coll)`` fits on the values of every rank of a job (see ``scaling``):
categories and log buckets are the union of the ranks' (``coll.union``), quantile edges
those of every rank's values (``coll.concat``), so all equal one process's.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from logitkit._util.collective import LOCAL, Collective
from logitkit._util.errors import ConfigError, DataError
from logitkit.loaddata.tokens import code_of_id, log_bucket_ids

Where = Callable[[int], str]


def _one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(codes), k), dtype=np.float64)
    ok = codes >= 0
    out[np.nonzero(ok)[0], codes[ok]] = 1.0
    return out


class OneHotEncoder:
    """x = e_j for the j-th training category (sorted); unseen categories: zeros ('ignore') or an error."""

    def __init__(self, unknown: str = "ignore") -> None:
        if unknown not in ("ignore", "error"):
            raise ConfigError(f"prep.unknown {unknown!r} must be 'ignore' or 'error'")
        self.unknown = unknown

    def fit(self, values: np.ndarray, coll: Collective = LOCAL) -> "OneHotEncoder":
        self.categories_ = coll.union(np.asarray(values, dtype=object).astype(str)).astype(str)
        return self

    def _codes(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=object).astype(str)
        pos = np.searchsorted(self.categories_, v)
        pos = np.minimum(pos, len(self.categories_) - 1)
        return np.where(self.categories_[pos] == v, pos, -1)

    def transform(self, values: np.ndarray, column: str = "x", where: Where = lambda i: f"row {i + 1}") -> np.ndarray:
        codes = self._codes(values)
        if self.unknown == "error" and (codes < 0).any():
            i = int(np.nonzero(codes < 0)[0][0])
            raise DataError(
                f"column {column!r}: category {str(values[i])!r} at {where(i)} was not seen in training; "
                "set prep.unknown: ignore to encode unseen categories as all zeros"
            )
        return _one_hot(codes, len(self.categories_))

    def names(self, column: str) -> list[str]:
        return [f"{column}={c}" for c in self.categories_]

    def to_json(self) -> dict:
        return {"kind": "OneHotEncoder", "unknown": self.unknown, "categories": self.categories_.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> "OneHotEncoder":
        obj = cls(d["unknown"])
        obj.categories_ = np.asarray(d["categories"], dtype=str)
        return obj


class LogBucketer:
    """One-hot of the log-bucket code of a count (see ``loaddata.tokens``); missing is its own bucket."""

    def __init__(self, unknown: str = "ignore") -> None:
        self.unknown = unknown

    def fit(self, v: np.ndarray, coll: Collective = LOCAL) -> "LogBucketer":
        self.ids_ = coll.union(log_bucket_ids(np.asarray(v, dtype=np.float64))).astype(np.int64)
        return self

    def transform(self, v: np.ndarray, column: str = "x", where: Where = lambda i: f"row {i + 1}") -> np.ndarray:
        ids = log_bucket_ids(np.asarray(v, dtype=np.float64))
        pos = np.minimum(np.searchsorted(self.ids_, ids), len(self.ids_) - 1)
        codes = np.where(self.ids_[pos] == ids, pos, -1)
        if self.unknown == "error" and (codes < 0).any():
            i = int(np.nonzero(codes < 0)[0][0])
            raise DataError(
                f"column {column!r}: value {v[i]} at {where(i)} falls in log bucket "
                f"{code_of_id(int(ids[i]))!r}, not seen in training; set prep.unknown: ignore"
            )
        return _one_hot(codes, len(self.ids_))

    def names(self, column: str) -> list[str]:
        return [f"{column}={code_of_id(int(i))}" for i in self.ids_]

    def to_json(self) -> dict:
        return {"kind": "LogBucketer", "unknown": self.unknown, "ids": self.ids_.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> "LogBucketer":
        obj = cls(d["unknown"])
        obj.ids_ = np.asarray(d["ids"], dtype=np.int64)
        return obj


class QuantileBucketer:
    """One-hot of the bucket between training quantiles: bucket j holds edges[j-1] <= x < edges[j]."""

    def __init__(self, n_quantiles: int = 10, impute: str | None = None, value: float = 0.0) -> None:
        self.n_quantiles = int(n_quantiles)
        self.impute, self.value = impute, float(value)

    def fit(self, v: np.ndarray, coll: Collective = LOCAL) -> "QuantileBucketer":
        """Edges from the training values of every rank (NaN left out).
        With ``impute`` ('mean' | 'median' | 'constant'), ``fill_`` is the training value
        that missing entries take at transform time (the configured imputer's rule)."""
        v = np.asarray(v, dtype=np.float64)
        v = coll.concat(v[~np.isnan(v)]).astype(np.float64)
        qs = np.linspace(0, 1, self.n_quantiles + 1)[1:-1]
        self.edges_ = np.unique(np.quantile(v, qs)) if len(v) else np.zeros(0)
        if self.impute in ("mean", "median") and len(v):
            self.fill_ = float(np.mean(v) if self.impute == "mean" else np.median(v))
        else:
            self.fill_ = self.value
        return self

    def fill(self, v: np.ndarray) -> np.ndarray:
        """Missing entries replaced by the training ``fill_``."""
        v = np.asarray(v, dtype=np.float64)
        return np.where(np.isnan(v), self.fill_, v)

    def transform(self, v: np.ndarray, column: str = "x", where: Where = lambda i: f"row {i + 1}") -> np.ndarray:
        codes = np.searchsorted(self.edges_, np.asarray(v, dtype=np.float64), side="right")
        return _one_hot(codes, len(self.edges_) + 1)

    def names(self, column: str) -> list[str]:
        return [f"{column}=q{j}" for j in range(len(self.edges_) + 1)]

    def to_json(self) -> dict:
        return {"kind": "QuantileBucketer", "n_quantiles": self.n_quantiles, "edges": self.edges_.tolist(),
                "impute": self.impute, "fill": self.fill_}

    @classmethod
    def from_json(cls, d: dict) -> "QuantileBucketer":
        obj = cls(d["n_quantiles"], d.get("impute"))
        obj.edges_ = np.asarray(d["edges"], dtype=np.float64)
        obj.fill_ = float(d.get("fill", 0.0))
        return obj
