"""``FormulaDesign``: a Wilkinson formula turned into a design matrix, once for the
training data and then the same way for new data.

The formula engine is formulaic (https://github.com/matthewwardrop/formulaic): it is
the maintained successor of patsy (which is in maintenance mode), statsmodels 0.15
itself builds on it, and it keeps the fitted state of the design — categorical levels,
contrasts, the means of ``center(x)`` — in a model spec that re-applies it to new rows.

Categorical terms (strings, booleans, ``C(x)``) are treatment coded: with an intercept
the first level (sorted) is the reference and its column is dropped; ``C(x,
Treatment("b"))`` picks another reference. Columns are named as formulaic and
statsmodels name them: ``region[T.b]``, ``C(region)[T.b]``, ``np.log(z)``, ``x:w``.

Never a silent wrong answer: a missing value in a column the formula uses, a column
that is not there, and a level of a categorical that was not seen in fit are errors
naming the column, the row and the value (formulaic itself would drop such rows or
encode them as all-zero dummies).
"""
from __future__ import annotations

import re
import warnings

import numpy as np

from logitkit._util.errors import ConfigError, DataError, did_you_mean

INTERCEPT = "Intercept"


def as_frame(data):
    """A pandas DataFrame from a DataFrame, a dict of columns, a pyarrow Table or a
    ``logitkit.loaddata.Table``."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    inner = getattr(data, "data", None)
    if inner is not None and hasattr(inner, "to_pandas"):  # logitkit Table
        return inner.to_pandas()
    if hasattr(data, "to_pandas"):  # pyarrow Table
        return data.to_pandas()
    if isinstance(data, dict):
        return pd.DataFrame(data)
    raise DataError(f"formula data must be a pandas DataFrame, a dict of columns or a pyarrow Table, "
                    f"not {type(data).__name__}")


def _one_line(exc: Exception) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m|[⧛⧚]", "", str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class FormulaDesign:
    """The right-hand side of a formula fitted to data: ``names`` (the design's columns,
    the intercept excluded), ``fit_intercept``, and ``matrix(data)`` for any rows."""

    def __init__(self, formula: str):
        from formulaic import Formula
        from formulaic.errors import FormulaicError

        if not isinstance(formula, str) or "~" not in formula:
            raise ConfigError(f"formula {formula!r} is not a formula; write it as 'y ~ x + C(region)'")
        try:
            parsed = Formula(formula)
        except (FormulaicError, ValueError, SyntaxError) as exc:
            raise ConfigError(f"formula {formula!r} cannot be parsed: {_one_line(exc)}") from exc
        self.formula = formula
        self._lhs = getattr(parsed, "lhs", None)
        self._rhs = getattr(parsed, "rhs", parsed)
        self.outcome = str(self._lhs).strip() if self._lhs is not None else None
        self.spec = None
        self.names: list[str] = []
        self.fit_intercept = True

    # ---------------------------------------------------------------- fit
    def fit(self, data) -> "FormulaDesign":
        """Build the design on the training data (levels, reference levels, transform
        states are fixed here)."""
        df = as_frame(data)
        mm = self._materialize(df, None)
        self.spec = mm.model_spec
        cols = list(mm.columns)
        self.fit_intercept = INTERCEPT in cols
        self.names = [c for c in cols if c != INTERCEPT]
        if not self.names:
            raise ConfigError(f"formula {self.formula!r} has no terms besides the intercept; "
                              "add at least one variable on the right of '~'")
        return self

    def labels(self, data) -> np.ndarray:
        """The outcome (the left-hand side) as a label array: the column as it is when
        the left side names a column, else the one column it evaluates to."""
        df = as_frame(data)
        if self.outcome is None:
            raise ConfigError(f"formula {self.formula!r} has no outcome; write 'y ~ ...' or pass y=")
        if self.outcome in df.columns:
            y = df[self.outcome]
            self._check_missing(df, [self.outcome])
            return y.to_numpy()
        from formulaic import model_matrix
        from formulaic.errors import FormulaicError

        self._check_missing(df, sorted(self._lhs.required_variables & set(df.columns)))
        try:
            out = model_matrix(self._lhs, df, ensure_full_rank=False, na_action="raise")
        except (FormulaicError, ValueError, NameError) as exc:
            raise DataError(f"the outcome {self.outcome!r} of formula {self.formula!r} cannot be "
                            f"evaluated: {_one_line(exc)}") from exc
        if out.shape[1] != 1:
            raise DataError(f"the outcome {self.outcome!r} of formula {self.formula!r} gives "
                            f"{out.shape[1]} columns; it must be one column of labels")
        return np.asarray(out.iloc[:, 0])

    # ---------------------------------------------------------------- transform
    def matrix(self, data):
        """The design for ``data`` (a DataFrame with the formula's columns), as a float
        DataFrame whose columns are ``names``."""
        if self.spec is None:
            raise ConfigError("this FormulaDesign is not fitted; call fit(data) first")
        df = as_frame(data)
        mm = self._materialize(df, self.spec)
        if self.fit_intercept:
            mm = mm.drop(columns=[INTERCEPT])
        if list(mm.columns) != self.names:  # cannot happen with a fitted spec; a guard all the same
            raise DataError(f"the formula gave columns {list(mm.columns)} for the new data, but the model "
                            f"was fitted on {self.names}")
        return mm.astype(np.float64)

    def _materialize(self, df, spec):
        from formulaic import model_matrix
        from formulaic.errors import DataMismatchWarning, FormulaicError

        needed = sorted(self._rhs.required_variables)
        present = set(map(str, df.columns))
        missing = [v for v in needed if v not in present and not _is_module(v)]
        if missing:
            raise DataError(f"formula {self.formula!r} needs column {missing[0]!r}, which the data does not have; "
                            f"its columns are {list(df.columns)}." + did_you_mean(missing[0], present))
        self._check_missing(df, [v for v in needed if v in present])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", DataMismatchWarning)
                if spec is None:
                    return model_matrix(self._rhs, df, ensure_full_rank=True, na_action="raise")
                return spec.get_model_matrix(df, na_action="raise")
        except DataMismatchWarning as exc:
            raise DataError(self._unseen_message(df, str(exc))) from None
        except (FormulaicError, ValueError, TypeError, NameError) as exc:
            raise DataError(f"formula {self.formula!r} cannot be evaluated on the data: {_one_line(exc)}") from exc

    def _check_missing(self, df, columns) -> None:
        for c in columns:
            na = df[c].isna().to_numpy()
            if na.any():
                i = int(np.flatnonzero(na)[0])
                k = int(na.sum())
                raise DataError(f"column {c!r} has a missing value at row {i} ({k} row{'s' if k > 1 else ''} in all); "
                                f"drop or impute them first, e.g. data.dropna(subset={[c]!r})")

    def _unseen_message(self, df, text: str) -> str:
        for factor, (kind, state) in (self.spec.encoder_state if self.spec else {}).items():
            levels = state.get("categories") if isinstance(state, dict) else None
            if levels is None:
                continue
            m = re.match(r"^\s*C\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*[,)]", factor)
            col = m.group(1) if m else factor
            if col not in df.columns:
                continue
            values = df[col].to_numpy()
            bad = ~np.isin(values.astype(object), np.asarray(levels, dtype=object))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                return (f"column {col!r} has the level {_plain(values[i])!r} at row {i}, which the model was not fitted on; "
                        f"its levels are {[_plain(v) for v in levels]}. Map it to one of them or drop those rows")
        return f"the data has categorical levels the model was not fitted on ({text.split('. ')[0]})"

    def needed_columns(self) -> list[str]:
        """The data columns the right-hand side reads (known before any fit)."""
        return sorted(v for v in self._rhs.required_variables if not _is_module(v))

    def input_columns(self) -> list[tuple[str, bool]]:
        """The data columns the design reads, each with whether it is categorical (a
        factor with levels), in name order: what a scorer asks a request for."""
        cats = set()
        for factor, (_, state) in (self.spec.encoder_state if self.spec else {}).items():
            if isinstance(state, dict) and "categories" in state:
                m = re.match(r"^\s*C\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*[,)]", factor)
                cats.add(m.group(1) if m else factor)
        return [(v, v in cats) for v in sorted(self._rhs.required_variables) if not _is_module(v)]

    # ---------------------------------------------------------------- as a prep transform
    @property
    def feature_names_(self) -> list[str]:
        return list(self.names)

    def transform(self, data) -> np.ndarray:
        """``matrix(data)`` as a float64 array (the pipeline's prep protocol)."""
        return np.ascontiguousarray(self.matrix(data).to_numpy(dtype=np.float64))

    # ---------------------------------------------------------------- JSON
    def to_json(self) -> dict:
        """Everything fitted, as plain JSON (no pickle): the formula, the columns, each
        factor's kind and categorical levels, the stateful transforms' states."""
        if self.spec is None:
            raise ConfigError("this FormulaDesign is not fitted; call fit(data) first")
        encoders = {}
        for factor, (kind, state) in self.spec.encoder_state.items():
            keep = {"categories": _plain_tree(state["categories"])} if "categories" in state else {}
            encoders[factor] = [kind.value, keep]
        return {"kind": "formula", "formula": self.formula, "names": list(self.names),
                "fit_intercept": self.fit_intercept, "encoders": encoders,
                "transforms": _plain_tree(self.spec.transform_state)}

    @classmethod
    def from_json(cls, state: dict) -> "FormulaDesign":
        """The design ``to_json`` wrote, ready to transform new rows."""
        from formulaic import ModelSpec
        from formulaic.parser.types.factor import Factor

        design = cls(state["formula"])
        enc = {k: (Factor.Kind(kind), dict(s)) for k, (kind, s) in state["encoders"].items()}
        design.spec = ModelSpec(formula=design._rhs, materializer="pandas", ensure_full_rank=True,
                                transform_state=state["transforms"], encoder_state=enc)
        design.names, design.fit_intercept = list(state["names"]), bool(state["fit_intercept"])
        return design

    def describe(self) -> dict:
        """What the design is, for a record or a report: the formula, the columns, the
        reference level of each categorical."""
        refs = {}
        for factor, (kind, state) in (self.spec.encoder_state if self.spec else {}).items():
            if isinstance(state, dict) and state.get("categories") is not None:
                refs[factor] = {"levels": [str(v) for v in state["categories"]]}
        return {"formula": self.formula, "columns": list(self.names), "intercept": self.fit_intercept,
                "categoricals": refs}


def _plain(v):
    """A NumPy scalar as the Python value it holds (for messages: 7.0, not np.float64(7.0))."""
    return v.item() if hasattr(v, "item") else v


def _plain_tree(v):
    """NumPy scalars and arrays inside dicts and lists as plain Python values (JSON)."""
    if isinstance(v, dict):
        return {str(k): _plain_tree(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain_tree(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    return _plain(v)


def _is_module(name: str) -> bool:
    """Names the formula evaluates from its context, not the data (``np`` in ``np.log(z)``)."""
    return name in ("np", "numpy", "math", "pd", "scipy")
