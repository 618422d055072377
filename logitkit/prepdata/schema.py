"""Schema checks: column selection by name or pattern, numeric columns, binary labels.

Every error names the column and the first bad row (with its file line when known).
"""
from __future__ import annotations

import fnmatch

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logitkit._util.collective import LOCAL, Collective
from logitkit._util.errors import ConfigError, DataError, did_you_mean, shown, shown_list
from logitkit.loaddata.table import Table

#: sizes of a usable feature value besides 0: its square (in every Hessian and variance) stays a normal float64
MAX_ABS, MIN_ABS = 1e150, 1e-150
_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$|^\s*[+-]?(inf|nan|NaN|Inf)\s*$"


def select_columns(names: list[str], patterns: list[str] | None, exclude: list[str] = (), key: str = "data.features") -> list[str]:
    """Columns matching any pattern (shell-style: ``I*``, ``x[0-3]``), in the table's order, minus ``exclude``.

    A pattern that matches nothing is an error naming it.
    """
    chosen = list(names)
    if patterns is not None:
        for p in patterns:
            if not fnmatch.filter(names, p):
                raise ConfigError(f"{key}: {p!r} matches no column; columns are {shown_list(names)}." + did_you_mean(p, names))
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
    """Column ``name`` as float64 (n,), missing values NaN; a non-number, or a number whose
    size is outside [MIN_ABS, MAX_ABS] (infinity, 1e308, 4.9e-324) but not 0, is an error
    naming its row."""
    col = table.data.column(name)
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if is_numeric_type(t):
        v = col.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    elif pa.types.is_null(t):
        return np.full(len(col), np.nan)
    else:
        txt = col.cast(pa.string())
        ok = pc.or_kleene(pc.match_substring_regex(txt, _NUMBER), pc.is_null(txt))
        bad = np.nonzero(~ok.to_numpy(zero_copy_only=False))[0]
        if len(bad):
            i = int(bad[0])
            raise DataError(
                f"{table.name}: column {shown(name)} holds a non-numeric value {shown(txt[i].as_py())} at "
                f"{table.where(i)}; fix the value, or list the column in prep.one_hot to treat it as categorical"
            )
        v = pc.cast(pc.utf8_trim_whitespace(txt), pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    size = np.abs(v)
    bad = (size > MAX_ABS) | ((size < MIN_ABS) & (size > 0))  # (NaN compares False: missing stays missing)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "infinity (or a number too large for float64)" if np.isinf(v[i]) else f"{v[i]:g}"
        raise DataError(
            f"{table.name}: column {shown(name)} holds {what} at {table.where(i)}, outside what a fit can use "
            f"(0, or a size from {MIN_ABS:g} to {MAX_ABS:g}, so that its square is a normal float64); fix the "
            "value, or rescale the column"
        )
    return v


def check_no_nan(X: np.ndarray, names: list[str], table: Table) -> None:
    """Raise for the first NaN (by row, then column) of ``X`` (n, k) whose columns are ``names``."""
    bad = np.isnan(X)
    if bad.any():
        rows = np.nonzero(bad.any(axis=1))[0]
        i = int(rows[0])
        j = int(np.nonzero(bad[i])[0][0])
        raise DataError(
            f"{table.name}: column {shown(names[j])} is missing (NaN/empty) at {table.where(i)}, and no imputer is "
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
        raise DataError(f"{table.name}: label column {shown(name)} is missing at {table.where(i)}; every row needs a label")
    y = col.to_numpy(zero_copy_only=False)
    classes, first = np.unique(y.astype(str) if y.dtype == object else y, return_index=True)
    if len(classes) < 2:
        raise DataError(
            f"{table.name}: label column {shown(name)} has one class only ({shown_list(classes.tolist())}); a binary model needs two"
        )
    if len(classes) > 2:
        third = int(np.sort(first)[2])
        raise DataError(
            f"{table.name}: label column {shown(name)} has {len(classes)} classes {shown_list(classes.tolist())}, a binary "
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


def check_split_labels(train: Table, test: Table | None, coll: Collective = LOCAL) -> None:
    """The training rows must hold two classes or more, and every label of the test rows
    must be one of them (a model cannot score a class it never saw). The errors name the
    file and, for the test rows, the first row holding another label. On the ranks of a
    job (``coll``) the classes are those of every rank's training rows, and every rank
    raises the same error (the test row first in the input)."""
    if train.label is None:
        return
    # (as the model finds them: exact values, not NumPy's fixed-width strings)
    classes = coll.union(train.labels()) if coll.world_size > 1 else np.unique(train.labels())
    if len(classes) < 2:
        raise DataError(
            f"{train.name}: the training rows' label column {shown(train.label)} holds one class only "
            f"({shown(classes[0] if len(classes) else None)}); a classifier needs two or more: check "
            "data.label, or give rows of another class"
        )
    if test is None or test.label is None:
        return
    b = test.labels()
    if b.dtype == object or classes.dtype == object:
        seen = set(classes.tolist())
        unseen = np.fromiter((v not in seen for v in b.tolist()), bool, len(b))
    else:
        unseen = ~np.isin(b, classes)
    first = None
    if unseen.any():
        i = int(np.flatnonzero(unseen)[0])
        row = i if test.source_rows is None or coll.world_size == 1 else int(test.source_rows[i])
        first = (row, b[i], test.where(i))
    found = [f for f in coll.all_gather(first) if f is not None] if coll.world_size > 1 else [first] * (first is not None)
    if found:
        _, value, where = min(found, key=lambda f: f[0])
        raise DataError(
            f"{test.name}: label {shown(value)} at {where} (a test row) is not among the training rows' "
            f"labels {shown_list(classes.tolist())}; a model cannot score a class it never saw: fix the "
            "label, or split with split.method stratified"
        )
