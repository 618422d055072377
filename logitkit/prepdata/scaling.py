"""Column-wise numeric transforms on float arrays ``X`` of shape (n, k): impute, standardise, min-max.

Each has ``fit(X) -> self``, ``transform(X) -> array`` and JSON state
(``to_json() -> dict``, ``from_json(d)``). Missing values are NaN.

``fit(X, stats=...)`` fits on the union of several shards' rows (ranks of a distributed
run): ``stats`` reduces per-shard partial statistics over the shards — ``sum(a)``,
``min(a)``, ``max(a)`` element-wise, ``gather(a)`` concatenating (see
``logitkit._util.dist.ShardStats``). Means and variances come from summed partial sums
(two passes: the global mean, then Σ(x − mean)²), so they equal one process's to
rounding; medians gather the column's values.
"""
from __future__ import annotations

import numpy as np

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

    def fit(self, X: np.ndarray, stats=None) -> "Imputer":
        X = np.asarray(X, dtype=np.float64)
        miss = np.isnan(X)
        if stats is not None:
            return self._fit_shards(X, miss, stats)
        self.had_missing_ = miss.any(axis=0)
        if self.strategy == "constant":
            fill = np.full(X.shape[1], self.value)
        else:
            with np.errstate(all="ignore"):
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    fill = np.nanmean(X, axis=0) if self.strategy == "mean" else np.nanmedian(X, axis=0)
            fill = np.where(np.isnan(fill), self.value, fill)  # all-missing column: the constant
        self.fill_ = fill
        return self

    def _fit_shards(self, X: np.ndarray, miss: np.ndarray, stats) -> "Imputer":
        """fill = Σ_shards Σ x / Σ_shards count (mean), the median of the gathered values, or the constant."""
        self.had_missing_ = stats.sum(miss.sum(axis=0)) > 0
        if self.strategy == "constant":
            fill = np.full(X.shape[1], self.value)
        elif self.strategy == "mean":
            total = stats.sum(np.where(miss, 0.0, X).sum(axis=0))
            count = stats.sum((~miss).sum(axis=0))
            fill = np.where(count > 0, total / np.maximum(count, 1), self.value)
        else:
            cols = [stats.gather(X[~miss[:, j], j]) for j in range(X.shape[1])]
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

    def fit(self, X: np.ndarray, stats=None) -> "Standardizer":
        X = np.asarray(X, dtype=np.float64)
        if stats is None:
            self.mean_ = X.mean(axis=0)
            sd = X.std(axis=0)
        else:  # mean = Σ x / n, then sd² = Σ (x − mean)² / n, each summed over shards
            n = stats.sum(np.array([X.shape[0]]))[0]
            self.mean_ = stats.sum(X.sum(axis=0)) / n
            sd = np.sqrt(stats.sum(((X - self.mean_) ** 2).sum(axis=0)) / n)
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

    def fit(self, X: np.ndarray, stats=None) -> "MinMaxScaler":
        X = np.asarray(X, dtype=np.float64)
        if stats is None:
            self.min_ = X.min(axis=0)
            rng = X.max(axis=0) - self.min_
        else:  # a shard without rows contributes +inf / -inf
            empty = X.shape[0] == 0
            self.min_ = stats.min(np.full(X.shape[1], np.inf) if empty else X.min(axis=0))
            rng = stats.max(np.full(X.shape[1], -np.inf) if empty else X.max(axis=0)) - self.min_
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
