"""Schema checks: column selection by name or pattern, numeric columns, binary labels.

Every error names the column and the first bad row (with its file line when known).
"""
from __future__ import annotations

import fnmatch

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logitkit._util.errors import ConfigError, DataError, did_you_mean
from logitkit.loaddata.table import Table

_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$|^\s*[+-]?(inf|nan|NaN|Inf)\s*$"


def select_columns(names: list[str], patterns: list[str] | None, exclude: list[str] = (), key: str = "data.features") -> list[str]:
    """Columns matching any pattern (shell-style: ``I*``, ``x[0-3]``), in the table's order, minus ``exclude``.

    A pattern that matches nothing is an error naming it.
    """
    chosen = list(names)
    if patterns is not None:
        for p in patterns:
            if not fnmatch.filter(names, p):
                raise ConfigError(f"{key}: {p!r} matches no column; columns are {names}." + did_you_mean(p, names))
        chosen = [c for c in names if any(fnmatch.fnmatchcase(c, p) for p in patterns)]
    drop = {c for p in exclude for c in fnmatch.filter(names, p)}
    return [c for c in chosen if c not in drop]


def is_numeric_type(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t)


def numeric_counts(col: pa.ChunkedArray | pa.Array) -> tuple[int, int]:
    """(values that read as numbers, non-missing values) of a text column."""
    col = col.cast(pa.string()) if not pa.types.is_string(col.type) else col
    ok = pc.match_substring_regex(col, _NUMBER)
    return int(pc.sum(ok).as_py() or 0), len(col) - col.null_count


def numeric_values(table: Table, name: str) -> np.ndarray:
    """Column ``name`` as float64 (n,), missing values NaN; a non-number is an error naming its row."""
    col = table.data.column(name)
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if is_numeric_type(t):
        return col.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    if pa.types.is_null(t):
        return np.full(len(col), np.nan)
    txt = col.cast(pa.string())
    ok = pc.or_kleene(pc.match_substring_regex(txt, _NUMBER), pc.is_null(txt))
    bad = np.nonzero(~ok.to_numpy(zero_copy_only=False))[0]
    if len(bad):
        i = int(bad[0])
        raise DataError(
            f"{table.name}: column {name!r} holds a non-numeric value {txt[i].as_py()!r} at {table.where(i)}; "
            "fix the value, or list the column in prep.one_hot to treat it as categorical"
        )
    return pc.cast(pc.utf8_trim_whitespace(txt), pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)


def check_no_nan(X: np.ndarray, names: list[str], table: Table) -> None:
    """Raise for the first NaN (by row, then column) of ``X`` (n, k) whose columns are ``names``."""
    bad = np.isnan(X)
    if bad.any():
        rows = np.nonzero(bad.any(axis=1))[0]
        i = int(rows[0])
        j = int(np.nonzero(bad[i])[0][0])
        raise DataError(
            f"{table.name}: column {names[j]!r} is missing (NaN/empty) at {table.where(i)}, and no imputer is "
            "configured; set prep.impute (mean, median or constant) or remove those rows"
        )


def binary_labels(table: Table, positive_class=None) -> np.ndarray:
    """Labels as 0/1 int8 (n,): 1 for ``positive_class`` (default: the larger of the two classes).

    Errors: a missing label (names the row), one class only, more than two classes
    (names the first row holding a third class), a ``positive_class`` not present.
    """
    if table.label is None:
        raise DataError(f"{table.name}: no label column is set; set data.label")
    col = table.data.column(table.label)
    name = table.label
    if col.null_count:
        i = int(np.nonzero(col.is_null().to_numpy(zero_copy_only=False))[0][0])
        raise DataError(f"{table.name}: label column {name!r} is missing at {table.where(i)}; every row needs a label")
    y = col.to_numpy(zero_copy_only=False)
    classes, first = np.unique(y.astype(str) if y.dtype == object else y, return_index=True)
    if len(classes) < 2:
        raise DataError(
            f"{table.name}: label column {name!r} has one class only ({classes.tolist()}); a binary model needs two"
        )
    if len(classes) > 2:
        third = int(np.sort(first)[2])
        raise DataError(
            f"{table.name}: label column {name!r} has {len(classes)} classes {classes.tolist()[:10]}, a binary "
            f"model needs two; the third first appears at {table.where(third)}. Use a multiclass model "
            "or map the labels to two classes"
        )
    vals = [c.item() if hasattr(c, "item") else c for c in classes]
    if positive_class is None:
        pos = classes[1]
    else:
        match = [c for c, v in zip(classes, vals) if v == positive_class or str(v) == str(positive_class)]
        if not match:
            raise DataError(
                f"{table.name}: data.positive_class {positive_class!r} is not a value of label column {name!r} "
                f"(values: {vals})"
            )
        pos = match[0]
    yy = y.astype(str) if y.dtype == object else y
    return (yy == pos).astype(np.int8)
