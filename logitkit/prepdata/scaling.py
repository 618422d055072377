"""Column-wise numeric transforms on float arrays ``X`` of shape (n, k): impute, standardise, min-max.

Each has ``fit(X) -> self``, ``transform(X) -> array`` and JSON state
(``to_json() -> dict``, ``from_json(d)``). Missing values are NaN.

``fit(X, coll)`` fits on the rows of every rank of a job (``coll``, a
``logitkit._util.collective.Collective``; in one process, the default, its reductions are
the identity): ``X`` is this rank's rows, and every statistic is reduced over the ranks —
``coll.sum``, ``coll.min``, ``coll.max`` element-wise, ``coll.concat`` for the values a
median needs. Means and variances come from summed partial sums (two passes: the global
mean, then Σ(x − mean)²), the same arithmetic as ``X.mean(0)`` and ``X.std(0)``, so one
process gets NumPy's numbers and several ranks get them to rounding.
"""
from __future__ import annotations

import numpy as np

from logitkit._util.collective import LOCAL, Collective
from logitkit._util.errors import ConfigError


class Imputer:
    """Fill NaN with a per-column statistic of the training rows.

    ``strategy``: 'mean' | 'median' | 'constant' (``value``). With ``indicators`` the
    output gains, for each column that had missing training values, a 0/1 column
    (1 where the value was missing): shape (n, k + n_indicators).
    """

    def __init__(self, strategy: str = "mean", value: float = 0.0, indicators: bool = True) -> None:
        if strategy not in ("mean", "median", "constant"):
            raise ConfigError(f"prep.impute {strategy!r} is unknown; use mean, median or constant")
        self.strategy, self.value, self.indicators = strategy, float(value), bool(indicators)

    def fit(self, X: np.ndarray, coll: Collective = LOCAL) -> "Imputer":
        """fill = Σ x / count of the non-missing values (mean), their median, or the
        constant; a column with no value at all takes the constant."""
        X = np.asarray(X, dtype=np.float64)
        miss = np.isnan(X)
        self.had_missing_ = coll.sum(miss.sum(axis=0)) > 0
        if self.strategy == "constant":
            fill = np.full(X.shape[1], self.value)
        elif self.strategy == "mean":
            total = coll.sum(np.where(miss, 0.0, X).sum(axis=0))
            count = coll.sum((~miss).sum(axis=0))
            fill = np.where(count > 0, total / np.maximum(count, 1), self.value)
        else:
            cols = [coll.concat(X[~miss[:, j], j]) for j in range(X.shape[1])]
            fill = np.array([np.median(c) if len(c) else self.value for c in cols])
        self.fill_ = fill
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=np.float64, copy=True)
        miss = np.isnan(X)
        X[miss] = np.broadcast_to(self.fill_, X.shape)[miss]
        if self.indicators and self.had_missing_.any():
            X = np.hstack([X, miss[:, self.had_missing_].astype(np.float64)])
        return X

    def to_json(self) -> dict:
        return {
            "kind": "Imputer",
            "strategy": self.strategy,
            "value": self.value,
            "indicators": self.indicators,
            "fill": self.fill_.tolist(),
            "had_missing": self.had_missing_.tolist(),
        }

    @classmethod
    def from_json(cls, d: dict) -> "Imputer":
        obj = cls(d["strategy"], d["value"], d["indicators"])
        obj.fill_ = np.asarray(d["fill"], dtype=np.float64)
        obj.had_missing_ = np.asarray(d["had_missing"], dtype=bool)
        return obj


class Standardizer:
    """z = (x − mean) / std with the training mean and (population) std; a constant column gets std 1."""

    def fit(self, X: np.ndarray, coll: Collective = LOCAL) -> "Standardizer":
        """mean = Σ x / n, then sd² = Σ (x − mean)² / n, each sum over every rank's rows."""
        X = np.asarray(X, dtype=np.float64)
        n = coll.sum(np.array([X.shape[0]]))[0]
        self.mean_ = coll.sum(X.sum(axis=0)) / n
        sd = np.sqrt(coll.sum(((X - self.mean_) ** 2).sum(axis=0)) / n)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_

    def to_json(self) -> dict:
        return {"kind": "Standardizer", "mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> "Standardizer":
        obj = cls()
        obj.mean_, obj.scale_ = np.asarray(d["mean"]), np.asarray(d["scale"])
        return obj


class MinMaxScaler:
    """u = (x − min) / (max − min) with the training min and max; a constant column gets range 1."""

    def fit(self, X: np.ndarray, coll: Collective = LOCAL) -> "MinMaxScaler":
        X = np.asarray(X, dtype=np.float64)
        empty = X.shape[0] == 0  # a rank without rows contributes +inf / -inf
        self.min_ = coll.min(np.full(X.shape[1], np.inf) if empty else X.min(axis=0))
        rng = coll.max(np.full(X.shape[1], -np.inf) if empty else X.max(axis=0)) - self.min_
        self.range_ = np.where(rng > 0, rng, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.min_) / self.range_

    def to_json(self) -> dict:
        return {"kind": "MinMaxScaler", "min": self.min_.tolist(), "range": self.range_.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> "MinMaxScaler":
        obj = cls()
        obj.min_, obj.range_ = np.asarray(d["min"]), np.asarray(d["range"])
        return obj
