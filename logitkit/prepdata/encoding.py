"""Encoders of one column into indicator columns: one-hot, log buckets, quantile buckets.

Each has ``fit(values) -> self``, ``transform(values, column, where) -> (n, K) float64``
(``where(i)`` names row ``i`` in error messages), ``names(column) -> list[str]`` and
JSON state. Missing values of a categorical column are the category ``""``.

Treatment coding: an encoder fitted with ``reference`` ("first", or a level's text)
leaves out the indicator of its reference level, so that next to an intercept the
columns are not a linear combination of it; a row of the reference level is all zeros,
and each column's coefficient is the contrast of its level with the reference. The
columns are named as statsmodels and R name them, ``region[T.south]``; without a
reference (``reference=None``: every level, e.g. for a penalised model or a model
without intercept) ``region[south]``. "first" is the first level in sorted order that
is not the missing category ``""`` (buckets: the first bucket).
``fit(values, coll)`` fits on the values of every rank of a job (see ``scaling``):
categories and log buckets are the union of the ranks' (``coll.union``), quantile edges
those of every rank's values (``coll.concat``), so all equal one process's.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from logitkit._util.collective import LOCAL, Collective
from logitkit._util.errors import ConfigError, DataError, did_you_mean, shown, shown_list
from logitkit.loaddata.tokens import code_of_id, log_bucket_ids

Where = Callable[[int], str]


def _one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(codes), k), dtype=np.float64)
    ok = codes >= 0
    out[np.nonzero(ok)[0], codes[ok]] = 1.0
    return out


def _same_number(text: str, levels: list[str]) -> int | None:
    """The index of the level that reads as the same number as ``text``, if any."""
    try:
        x = float(text)
    except ValueError:
        return None
    for j, v in enumerate(levels):
        try:
            if float(v) == x:
                return j
        except ValueError:
            continue
    return None


class _Indicators:
    """The reference level (treatment coding) that the encoders share: ``levels_`` are
    the fitted levels' texts, ``drop_`` the index of the reference or None."""

    drop_: int | None = None

    def _set_reference(self, reference, column: str = "x") -> None:
        levels = [str(v) for v in self.levels_]
        if reference is None or not levels:
            self.drop_ = None
        elif reference == "first":
            named = [j for j, v in enumerate(levels) if v != ""]
            self.drop_ = named[0] if named else 0
        elif str(reference) in levels:
            self.drop_ = levels.index(str(reference))
        elif _same_number(str(reference), levels) is not None:  # '1' names the level '1.0' of a number column
            self.drop_ = _same_number(str(reference), levels)
        else:
            raise ConfigError(f"prep.reference: {shown(reference)} is not a level of column {shown(column)}; its levels "
                              f"are {shown_list(levels, 20)}." + did_you_mean(str(reference), levels))

    def _coded(self, X: np.ndarray) -> np.ndarray:
        return X if self.drop_ is None else np.delete(X, self.drop_, axis=1)

    def _names(self, column: str) -> list[str]:
        if self.drop_ is None:
            return [f"{column}[{v}]" for v in self.levels_]
        return [f"{column}[T.{v}]" for j, v in enumerate(self.levels_) if j != self.drop_]

    @property
    def reference_(self) -> str | None:
        """The reference level's text (None: every level has a column)."""
        return None if self.drop_ is None else str(self.levels_[self.drop_])


class OneHotEncoder(_Indicators):
    """x = e_j for the j-th training category (sorted), without the reference level's
    column when there is one; unseen categories: zeros ('ignore', the reference level's
    coding) or an error."""

    def __init__(self, unknown: str = "ignore", reference: str | None = None) -> None:
        if unknown not in ("ignore", "error"):
            raise ConfigError(f"prep.unknown {unknown!r} must be 'ignore' or 'error'")
        self.unknown, self.reference = unknown, reference

    @property
    def levels_(self) -> list:
        return list(self.categories_)

    def fit(self, values: np.ndarray, coll: Collective = LOCAL, column: str = "x") -> "OneHotEncoder":
        self.categories_ = coll.union(np.asarray(values, dtype=object).astype(str)).astype(str)
        self._set_reference(self.reference, column)
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
                f"column {shown(column)}: category {shown(str(values[i]))} at {where(i)} was not seen in training; "
                "set prep.unknown: ignore to encode unseen categories as all zeros"
            )
        return self._coded(_one_hot(codes, len(self.categories_)))

    def names(self, column: str) -> list[str]:
        return self._names(column)

    def to_json(self) -> dict:
        return {"kind": "OneHotEncoder", "unknown": self.unknown, "categories": self.categories_.tolist(),
                "drop": self.drop_}

    @classmethod
    def from_json(cls, d: dict) -> "OneHotEncoder":
        obj = cls(d["unknown"])
        obj.categories_ = np.asarray(d["categories"], dtype=str)
        obj.drop_ = d.get("drop")
        return obj


class LogBucketer(_Indicators):
    """One-hot of the log-bucket code of a count (see ``loaddata.tokens``); missing is its own bucket."""

    def __init__(self, unknown: str = "ignore", reference: str | None = None) -> None:
        self.unknown, self.reference = unknown, reference

    @property
    def levels_(self) -> list:
        return [code_of_id(int(i)) for i in self.ids_]

    def fit(self, v: np.ndarray, coll: Collective = LOCAL, column: str = "x") -> "LogBucketer":
        self.ids_ = coll.union(log_bucket_ids(np.asarray(v, dtype=np.float64))).astype(np.int64)
        self._set_reference(self.reference, column)
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
        return self._coded(_one_hot(codes, len(self.ids_)))

    def names(self, column: str) -> list[str]:
        return self._names(column)

    def to_json(self) -> dict:
        return {"kind": "LogBucketer", "unknown": self.unknown, "ids": self.ids_.tolist(), "drop": self.drop_}

    @classmethod
    def from_json(cls, d: dict) -> "LogBucketer":
        obj = cls(d["unknown"])
        obj.ids_ = np.asarray(d["ids"], dtype=np.int64)
        obj.drop_ = d.get("drop")
        return obj


class QuantileBucketer(_Indicators):
    """One-hot of the bucket between training quantiles: bucket j holds edges[j-1] <= x < edges[j]."""

    def __init__(self, n_quantiles: int = 10, impute: str | None = None, value: float = 0.0,
                 reference: str | None = None) -> None:
        self.n_quantiles = int(n_quantiles)
        self.impute, self.value, self.reference = impute, float(value), reference

    @property
    def levels_(self) -> list:
        return [f"q{j}" for j in range(len(self.edges_) + 1)]

    def fit(self, v: np.ndarray, coll: Collective = LOCAL, column: str = "x") -> "QuantileBucketer":
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
        self._set_reference(self.reference, column)
        return self

    def fill(self, v: np.ndarray) -> np.ndarray:
        """Missing entries replaced by the training ``fill_``."""
        v = np.asarray(v, dtype=np.float64)
        return np.where(np.isnan(v), self.fill_, v)

    def transform(self, v: np.ndarray, column: str = "x", where: Where = lambda i: f"row {i + 1}") -> np.ndarray:
        codes = np.searchsorted(self.edges_, np.asarray(v, dtype=np.float64), side="right")
        return self._coded(_one_hot(codes, len(self.edges_) + 1))

    def names(self, column: str) -> list[str]:
        return self._names(column)

    def to_json(self) -> dict:
        return {"kind": "QuantileBucketer", "n_quantiles": self.n_quantiles, "edges": self.edges_.tolist(),
                "impute": self.impute, "fill": self.fill_, "drop": self.drop_}

    @classmethod
    def from_json(cls, d: dict) -> "QuantileBucketer":
        obj = cls(d["n_quantiles"], d.get("impute"))
        obj.edges_ = np.asarray(d["edges"], dtype=np.float64)
        obj.fill_ = float(d.get("fill", 0.0))
        obj.drop_ = d.get("drop")
        return obj
