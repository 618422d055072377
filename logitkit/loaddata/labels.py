"""The label column's values, compared as the file's text, and which classes a run has.

A run is **binary** when the label has two values, or when ``data.positive_class``
names one of them (its rows are 1, the other value's 0). It is **multiclass** when the
label has three or more values and either ``data.classes`` declares them, or every
value beyond the two most frequent has more than a handful of rows. Three or more
values where those beyond the two most frequent hold ``STRAY_ROWS`` rows or fewer (and
at most ``STRAY_SHARE`` of the rows) look like a binary label with a typo (``"yes "``
next to ``Yes``/``No``): that is an error naming the stray value, its row and line,
unless ``data.classes`` declares the classes. With ``data.classes`` or
``data.positive_class`` set, any other value is an error naming it.

Values are compared as text: a label read as numbers matches ``1`` for ``1.0``, one
read as true/false matches ``true``, ``True``, ``1`` and their opposites.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logitkit._util.collective import LOCAL, Collective
from logitkit._util.errors import DataError, shown, shown_list

STRAY_ROWS = 5
STRAY_SHARE = 0.05
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def label_text(col) -> np.ndarray:
    """The label column's values as text (object array; None where missing)."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return np.asarray(pc.cast(col, pa.string()).to_pylist(), dtype=object)


def same_value(given: str, value: str, kind: str) -> bool:
    """Whether the config's text ``given`` names the label value ``value`` (text of a
    column of pyarrow type kind 'number', 'bool' or 'text')."""
    if given == value:
        return True
    if kind == "number":
        try:
            return float(given) == float(value)
        except ValueError:
            return False
    if kind == "bool":
        g = given.strip().lower()
        return (g in _TRUE and value == "true") or (g in _FALSE and value == "false")
    return False


def kind_of(col) -> str:
    t = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
    if pa.types.is_boolean(t):
        return "bool"
    return "number" if pa.types.is_integer(t) or pa.types.is_floating(t) else "text"


def _counts(table, coll: Collective) -> tuple[dict, dict]:
    """({value: rows}, {value: (source row, where)}) over every rank."""
    table.check_label_values()  # (not a class at all: before a fixed-width copy of every label below)
    text = label_text(table.data.column(table.label))
    rows = table.source_rows if table.source_rows is not None else np.arange(table.n_rows)
    mine = {}
    vals, first, counts = np.unique(text[text != None].astype(str), return_index=True, return_counts=True)  # noqa: E711
    at = np.flatnonzero(text != None)  # noqa: E711
    for v, i, c in zip(vals, first, counts):
        j = int(at[i])
        mine[str(v)] = (int(c), int(rows[j]), table.where(j))
    count: dict = {}
    where: dict = {}
    for part in coll.all_gather(mine):
        for v, (c, r, w) in part.items():
            count[v] = count.get(v, 0) + c
            if v not in where or r < where[v][0]:
                where[v] = (r, w)
    return count, where


def check_labels(table, data, coll: Collective = LOCAL) -> list[str]:
    """The classes of ``table``'s label (text, sorted), after the checks of the module
    docstring; a ``DataError`` naming the value, its row and line otherwise."""
    count, where = _counts(table, coll)
    kind = kind_of(table.data.column(table.label))
    values = sorted(count)
    declared = data.classes if data.classes is not None else None
    if declared is None and data.positive_class is not None and len(values) > 2:
        others = sorted(values, key=lambda v: -count[v])
        keep = {v for v in values if same_value(data.positive_class, v, kind)}
        keep.add(next((v for v in others if v not in keep), values[0]))
        declared = sorted(keep)
    if declared is not None:
        for v in sorted(values, key=lambda v: where[v][0]):
            if not any(same_value(d, v, kind) for d in declared):
                what = "data.classes" if data.classes is not None else f"data.positive_class {data.positive_class!r}"
                raise DataError(f"{table.name}: label {shown(table.label)} has the value {shown(v)} at {where[v][1]}, "
                                f"which {what} does not allow (the label's values: {shown_list(values)}); a binary "
                                "label has two values: fix or drop that row" + (", or declare every class with data.classes"
                                                                     if data.classes is None else ""))
        return values
    if len(values) >= 3:
        main = sorted(values, key=lambda v: -count[v])[:2]
        rest = [v for v in values if v not in main]
        n = sum(count.values())
        few = sum(count[v] for v in rest)
        if few <= STRAY_ROWS and few <= STRAY_SHARE * n:
            v = min(rest, key=lambda v: (count[v], where[v][0]))
            raise DataError(f"{table.name}: label {shown(table.label)} has {len(values)} values {shown_list(values)}, "
                            f"but {shown(v)} "
                            f"appears in {count[v]} row{'s' if count[v] > 1 else ''} ({where[v][1]}{', the first' if count[v] > 1 else ''}): a "
                            f"typo in a binary label of {shown_list(main)}? Fix or drop that row, or declare the "
                            f"classes with data.classes: [{', '.join(x if len(x) <= 40 else x[:37] + '...' for x in values[:10])}"
                            f"{', ...' if len(values) > 10 else ''}] to fit a multiclass model")
    return values


def check_test_labels(test, classes: list[str], coll: Collective = LOCAL) -> None:
    """Every label of the test table is one of the training ``classes`` (text)."""
    count, where = _counts(test, coll)
    kind = kind_of(test.data.column(test.label))
    for v in sorted(count, key=lambda v: where[v][0]):
        if not any(same_value(c, v, kind) for c in classes):
            raise DataError(f"{test.name}: label {shown(test.label)} has the value {shown(v)} at {where[v][1]}, which "
                            f"is not a class of the training data ({shown_list(classes)}); fix or drop that row")


__all__ = ["check_labels", "check_test_labels", "label_text", "same_value", "STRAY_ROWS", "STRAY_SHARE"]
