"""``Preprocessor``: the ``prep:`` section applied to a ``Table`` — fitted on training rows only.

Column roles, decided in ``fit`` from the training table and saved:

- numeric (int/float/bool columns, and text columns whose values read as numbers):
  optional impute (+ missing indicators), then optional standardise or min-max;
- one-hot: ``prep.one_hot`` patterns, or (``one_hot: null``) every text column whose
  values are mostly not numbers;
- ``prep.log_bucket`` / ``prep.quantile_bucket`` columns: one-hot of their buckets.

Indicator blocks (one-hot, buckets) are treatment coded (``prepdata.encoding``): with
an intercept each leaves out its reference level — ``prep.reference``: "first" (the
default: the first level in sorted order), ``{column: level}`` for some columns, or
"none" (every level: for a penalised model that should shrink every level alike). A
model without intercept (``Preprocessor(prep, intercept=False)``) keeps every level of
its first indicator block, as R does; the later blocks still leave out a reference.

Output of ``transform``: float64 ``(n, d)``, columns in the order numeric (scaled),
missing indicators, one-hot blocks and bucket blocks; ``feature_names_`` names them.
With ``prep.hashing`` set use ``transform_indices`` (int64 bucket indices) instead.
Default ``PrepSection()``: numeric columns pass through unchanged.

``fit(table, coll=collective)`` fits on the union of every rank's rows in a job of
several processes (``table`` is this rank's part; the column types must agree): column
roles from summed counts, every transform from reduced statistics (see ``scaling``,
``encoding``), so the fitted state equals one process's on all the rows. In one process
(``coll`` left at ``LOCAL``) the reductions are the identity.
"""
from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa

from logitkit._util.collective import LOCAL, Collective
from logitkit._util.errors import ConfigError, DataError, did_you_mean
from logitkit.loaddata.table import Table
from logitkit.prepdata.encoding import LogBucketer, OneHotEncoder, QuantileBucketer
from logitkit.prepdata.hashing import FeatureHasher
from logitkit.prepdata.scaling import Imputer, MinMaxScaler, Standardizer
from logitkit.prepdata.schema import check_no_nan, is_numeric_type, numeric_counts, numeric_values, select_columns

log = logging.getLogger(__name__)

_PREP_DEFAULTS = dict(
    standardize=False,
    minmax=False,
    impute=None,
    impute_value=0.0,
    missing_indicators=True,
    one_hot=None,
    unknown="ignore",
    log_bucket=[],
    quantile_bucket=[],
    n_quantiles=10,
    hashing=None,
    reference="first",
)
_ENCODERS = {"OneHotEncoder": OneHotEncoder, "LogBucketer": LogBucketer, "QuantileBucketer": QuantileBucketer}


def _settings(prep) -> dict:
    """The prep section as a plain dict (a pydantic ``PrepSection``, a dict or None)."""
    if prep is None:
        d = {}
    elif isinstance(prep, dict):
        d = dict(prep)
    elif hasattr(prep, "model_dump"):
        d = prep.model_dump()
    else:
        d = dict(vars(prep))
    unknown = set(d) - set(_PREP_DEFAULTS)
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"prep.{k} is not a prep option." + did_you_mean(k, _PREP_DEFAULTS))
    out = {**_PREP_DEFAULTS, **d}
    if out["standardize"] and out["minmax"]:
        raise ConfigError("prep.standardize and prep.minmax are both true; choose one scaler")
    return out


class Preprocessor:
    """Fit the ``prep`` transforms on training rows, apply them anywhere, save them as JSON."""

    def __init__(self, prep=None, intercept: bool = True) -> None:
        self.prep = prep
        self._s = _settings(prep)
        self.intercept = intercept
        self.fitted_ = False

    # -- fit ----------------------------------------------------------------------------------
    def _roles(self, table: Table, coll: Collective) -> dict[str, str]:
        s = self._s
        feats = table.feature_names
        log_cols = select_columns(feats, s["log_bucket"], key="prep.log_bucket") if s["log_bucket"] else []
        q_cols = select_columns(feats, s["quantile_bucket"], key="prep.quantile_bucket") if s["quantile_bucket"] else []
        oh_cols = select_columns(feats, s["one_hot"], key="prep.one_hot") if s["one_hot"] else []
        roles: dict[str, str] = {}
        for c in feats:
            t = table.data.column(c).type
            t = t.value_type if pa.types.is_dictionary(t) else t
            if c in log_cols:
                roles[c] = "log_bucket"
            elif c in q_cols:
                roles[c] = "quantile_bucket"
            elif c in oh_cols:
                roles[c] = "one_hot"
            elif is_numeric_type(t) or pa.types.is_null(t):
                roles[c] = "numeric"
            elif s["one_hot"] is None and self._share(table.data.column(c), coll) < 0.5:
                roles[c] = "one_hot"
            else:
                roles[c] = "numeric"  # numeric_values names the first non-number
        return roles

    @staticmethod
    def _share(col, coll: Collective) -> float:
        """Share of every rank's non-missing values of a text column that read as numbers."""
        ok, n = coll.sum(np.array(numeric_counts(col), dtype=np.float64))
        return float(ok) / n if n else 0.0

    def fit(self, table: Table, refit: bool = False, coll: Collective = LOCAL) -> "Preprocessor":
        """Learn every transform's state from ``table`` (the training rows). Returns self.

        Fitting a fitted preprocessor again needs ``refit=True`` (a refit is never silent).
        ``coll`` (``logitkit._util.collective``): the job's ranks; ``table`` is this rank's
        part and the state is fitted on the union of the ranks' rows.
        """
        if self.fitted_ and not refit:
            raise RuntimeError("Preprocessor is already fitted; pass refit=True to fit it again on new rows")
        s = self._s
        if s["hashing"] is not None:
            h = s["hashing"] if isinstance(s["hashing"], dict) else dict(s["hashing"])
            fields = h.get("fields") or table.feature_names
            self.hasher_ = FeatureHasher(
                h.get("n_bits", 22), h.get("seed", 0), fields, [tuple(c) for c in h.get("crosses", [])],
                h.get("numeric", "log_bucket"), table.label,
            )
            self.columns_ = list(fields)
            self.roles_ = {c: "hash" for c in fields}
            self.feature_names_ = self.hasher_.token_names()
            self.fitted_ = True
            return self
        self.roles_ = self._roles(table, coll)
        self.columns_ = list(self.roles_)
        self.numeric_ = [c for c, r in self.roles_.items() if r == "numeric"]
        X = self._numeric_block(table)
        self.imputer_ = None
        if s["impute"] is not None:
            self.imputer_ = Imputer(s["impute"], s["impute_value"], s["missing_indicators"]).fit(X, coll)
            X = self.imputer_.transform(X)[:, : len(self.numeric_)]
        else:
            check_no_nan(X, self.numeric_, table)
        self.scaler_ = None
        if s["standardize"]:
            self.scaler_ = Standardizer().fit(X, coll)
        elif s["minmax"]:
            self.scaler_ = MinMaxScaler().fit(X, coll)
        self.encoders_: dict[str, object] = {}
        refs = self._references()
        for c, r in self.roles_.items():
            if r == "one_hot":
                self.encoders_[c] = OneHotEncoder(s["unknown"], refs[c]).fit(self._text(table, c), coll, c)
            elif r == "log_bucket":
                self.encoders_[c] = LogBucketer(s["unknown"], refs[c]).fit(numeric_values(table, c), coll, c)
            elif r == "quantile_bucket":
                v = numeric_values(table, c)
                if s["impute"] is None:
                    check_no_nan(v[:, None], [c], table)
                self.encoders_[c] = QuantileBucketer(s["n_quantiles"], s["impute"], s["impute_value"],
                                                     refs[c]).fit(v, coll, c)
        self.feature_names_ = self._names()
        self.fitted_ = True
        log.info("prep: %d columns -> %d features", len(self.columns_), len(self.feature_names_))
        return self

    def _references(self) -> dict[str, str | None]:
        """Each indicator column's reference (``prep.reference``; see the module docstring)."""
        ref = self._s["reference"]
        blocks = [c for c, r in self.roles_.items() if r in ("one_hot", "log_bucket", "quantile_bucket")]
        named = ref if isinstance(ref, dict) else {}
        for c in named:
            if c not in blocks:
                raise ConfigError(f"prep.reference names {c!r}, which is not a one-hot or bucket column; those are "
                                  f"{blocks}." + did_you_mean(c, blocks))
        if ref not in ("first", "none") and not isinstance(ref, dict):
            raise ConfigError(f"prep.reference {ref!r} must be 'first', 'none' or a mapping {{column: level}}")
        out = {c: named.get(c, None if ref == "none" else "first") for c in blocks}
        if not self.intercept and blocks and blocks[0] not in named:
            out[blocks[0]] = None  # no intercept: the first block keeps every level (as R)
        return out

    def references(self) -> dict[str, str | None]:
        """The fitted reference level of each indicator column (None: every level kept)."""
        return {c: e.reference_ for c, e in self.encoders_.items()}

    # -- transform ----------------------------------------------------------------------------
    def _numeric_block(self, table: Table) -> np.ndarray:
        if not self.numeric_:
            return np.zeros((table.n_rows, 0))
        return np.column_stack([numeric_values(table, c) for c in self.numeric_])

    @staticmethod
    def _text(table: Table, c: str) -> np.ndarray:
        col = table.data.column(c)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        return np.asarray(col.cast(pa.string()).fill_null("").to_numpy(zero_copy_only=False), dtype=object)

    def _names(self) -> list[str]:
        names = list(self.numeric_)
        if self.imputer_ is not None and self.imputer_.indicators:
            names += [f"{c}_missing" for c, m in zip(self.numeric_, self.imputer_.had_missing_) if m]
        for c, enc in self.encoders_.items():
            names += enc.names(c)
        return names

    def _check_columns(self, table: Table) -> None:
        if not self.fitted_:
            raise RuntimeError("Preprocessor is not fitted; call fit(train_table) first")
        have = table.data.column_names
        for c in self.columns_:
            if c not in have:
                raise DataError(
                    f"{table.name}: column {c!r} was used in training but is not in this data; columns are "
                    f"{have}." + did_you_mean(c, have)
                )

    def transform(self, table: Table) -> np.ndarray:
        """Features as float64 ``(n, len(feature_names_))``; NaN without imputer is an error naming the row."""
        self._check_columns(table)
        if self._s["hashing"] is not None:
            raise ConfigError("prep.hashing is set: use transform_indices(table) for hashed bucket indices")
        X = self._numeric_block(table)
        blocks = []
        if self.imputer_ is not None:
            X = self.imputer_.transform(X)
            k = len(self.numeric_)
            X, ind = X[:, :k], X[:, k:]
        else:
            check_no_nan(X, self.numeric_, table)
            ind = np.zeros((table.n_rows, 0))
        if self.scaler_ is not None:
            X = self.scaler_.transform(X)
        blocks += [X, ind]
        for c, enc in self.encoders_.items():
            if isinstance(enc, OneHotEncoder):
                blocks.append(enc.transform(self._text(table, c), c, table.where))
            else:
                v = numeric_values(table, c)
                if isinstance(enc, QuantileBucketer):
                    if self.imputer_ is not None:  # the training value, never the rows at hand
                        v = enc.fill(v)
                    else:
                        check_no_nan(v[:, None], [c], table)
                blocks.append(enc.transform(v, c, table.where))
        return np.ascontiguousarray(np.hstack(blocks), dtype=np.float64)

    def fit_transform(self, table: Table) -> np.ndarray:
        return self.fit(table).transform(table)

    def transform_indices(self, table: Table) -> np.ndarray:
        """With ``prep.hashing``: int64 bucket indices ``(n, n_tokens)`` (see ``FeatureHasher``)."""
        self._check_columns(table)
        if self._s["hashing"] is None:
            raise ConfigError("transform_indices needs prep.hashing; use transform(table) for dense features")
        return self.hasher_.transform(table)

    # -- state --------------------------------------------------------------------------------
    def to_json(self) -> dict:
        if not self.fitted_:
            raise RuntimeError("Preprocessor is not fitted; nothing to save")
        d = {"kind": "Preprocessor", "version": 1, "prep": _jsonable(self._s), "roles": self.roles_,
             "feature_names": self.feature_names_}
        if self._s["hashing"] is not None:
            d["hasher"] = self.hasher_.to_json()
            return d
        d["numeric"] = self.numeric_
        d["imputer"] = self.imputer_.to_json() if self.imputer_ is not None else None
        d["scaler"] = self.scaler_.to_json() if self.scaler_ is not None else None
        d["encoders"] = {c: e.to_json() for c, e in self.encoders_.items()}
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Preprocessor":
        if d.get("kind") != "Preprocessor" or d.get("version") != 1:
            raise DataError(f"saved transform state is {d.get('kind')!r} v{d.get('version')}; expected Preprocessor v1")
        obj = cls(d["prep"])
        obj.roles_ = dict(d["roles"])
        obj.columns_ = list(obj.roles_)
        obj.feature_names_ = list(d["feature_names"])
        if "hasher" in d:
            obj.hasher_ = FeatureHasher.from_json(d["hasher"])
        else:
            obj.numeric_ = list(d["numeric"])
            obj.imputer_ = Imputer.from_json(d["imputer"]) if d["imputer"] else None
            sc = d["scaler"]
            obj.scaler_ = None if sc is None else (Standardizer if sc["kind"] == "Standardizer" else MinMaxScaler).from_json(sc)
            obj.encoders_ = {c: _ENCODERS[e["kind"]].from_json(e) for c, e in d["encoders"].items()}
        obj.fitted_ = True
        return obj


def _jsonable(s: dict) -> dict:
    out = dict(s)
    h = out.get("hashing")
    if h is not None and not isinstance(h, dict):
        out["hashing"] = h.model_dump() if hasattr(h, "model_dump") else dict(vars(h))
    if out.get("hashing"):
        out["hashing"] = {**out["hashing"], "crosses": [list(c) for c in out["hashing"].get("crosses", [])]}
    return out


__all__ = ["Preprocessor"]
