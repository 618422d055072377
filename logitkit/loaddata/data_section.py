"""The ``data:`` section of a run config to tables: the whole input (``load_from_config``)
or one rank's part of it (``load_shard``); ``load_input`` picks what this process reads.

The section itself (its keys, defaults and checks) is ``pipeline.config.DataSection``;
this module only reads what it names.
"""
from __future__ import annotations

import fnmatch
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa

from logitkit._util.collective import LOCAL, Collective, current
from logitkit._util.dist import shard_range
from logitkit._util.errors import ConfigError, DataError, did_you_mean
from logitkit.loaddata.datasets import load_dataset
from logitkit.loaddata.files import load_file
from logitkit.loaddata.labels import check_labels, check_test_labels, kind_of, label_text, same_value
from logitkit.loaddata.parts import read_part
from logitkit.loaddata.shard import Part
from logitkit.loaddata.table import Table

log = logging.getLogger(__name__)


def _select(table: Table, data, keep: list[str]) -> Table:
    """Label + selected features (names or shell patterns) + ``keep`` columns (split,
    group and cluster columns), which ride along as ``Table.extra``: not features, unless
    ``data.features`` names one by its exact name."""
    names = [c for c in table.data.column_names if c != table.label]
    chosen = list(names)
    if data.features is not None:
        for p in data.features:
            if not fnmatch.filter(names, p):
                raise ConfigError(f"data.features: {p!r} matches no column; columns are {names}." + did_you_mean(p, names))
        chosen = [c for c in names if any(fnmatch.fnmatchcase(c, p) for p in data.features)]
    drop = {c for p in (data.exclude or []) for c in fnmatch.filter(names, p)}
    chosen = [c for c in chosen if c not in drop]
    named = set(data.features or [])
    extra = [c for c in dict.fromkeys(keep) if c and c in table.data.column_names and c not in named and c != table.label]
    chosen = [c for c in chosen if c not in extra] + extra
    cols = chosen + ([table.label] if table.label is not None else [])
    out = table.with_data(table.data.select(cols))
    out.extra = tuple(extra)
    return out


def positive_label(table: Table, positive_class, coll: Collective = LOCAL) -> Table:
    """The label column as int8 0/1 with 1 for ``positive_class`` (compared as the file's
    text, ``loaddata.labels``); the label must have two values over every rank's rows
    (``coll``). ``Table.label_names`` keeps the values' text: (the other value, the
    positive class)."""
    col = table.data.column(table.label)
    text = label_text(col)
    null = np.array([v is None for v in text], dtype=bool)
    vals = coll.union(text[~null].astype(str))
    kind = kind_of(col)
    pos = [v for v in vals.tolist() if same_value(str(positive_class), v, kind)]
    if not pos:
        raise DataError(
            f"{table.name}: data.positive_class {positive_class!r} is not a value of label column "
            f"{table.label!r} (values: {vals.tolist()[:10]}); give one of them, as written in the file"
        )
    if len(vals) != 2:
        raise DataError(
            f"{table.name}: data.positive_class is set but label column {table.label!r} has {len(vals)} "
            f"classes {vals.tolist()[:10]}; a binary label needs exactly two"
        )
    yy = pa.array(np.where(null, 0, text == pos[0]).astype(np.int8), mask=null)
    i = table.data.column_names.index(table.label)
    out = table.with_data(table.data.set_column(i, table.label, yy))
    out.label_names = (next(v for v in vals.tolist() if v != pos[0]), pos[0])
    return out


def _check_label(table: Table) -> None:
    if table.label is not None and table.label not in table.data.column_names:
        cols = table.data.column_names
        raise ConfigError(f"data.label {table.label!r} is not a column of {table.name}; columns are {cols}."
                          + did_you_mean(table.label, cols))


def _split_columns(data, carry=()) -> list[str]:
    """The columns that ride along without being features: the split's time/group column
    (with a test file there is no split) and ``carry`` (the cluster and cross-validation
    group columns the run names)."""
    split = data.split
    own = [split.time_column, split.group_column] if split.method in ("time", "group") and not data.test_path else []
    return own + [c for c in carry if c]


def finish_tables(table: Table, test: Table | None, data, keep: list[str], coll: Collective = LOCAL):
    """The steps after reading, shared by ``load_from_config`` and ``load_shard``: select
    the columns (``keep``: split columns that ride along), check that the test table has
    the training features, encode ``data.positive_class``, and record the files'
    fingerprints and the column types."""
    table = _select(table, data, keep)
    if test is not None:
        test = _select(test, data, [])
        missing = [c for c in table.feature_names if c not in test.data.column_names and c not in keep]
        if missing:
            raise DataError(f"{test.name} (data.test_path) lacks column {missing[0]!r} that {table.name} has")
    if table.label is not None and table.label in table.data.column_names:
        classes = check_labels(table, data, coll)  # which classes, or the stray value's row and line
        if test is not None and test.label in test.data.column_names:
            check_test_labels(test, classes, coll)
    if data.positive_class is not None:
        table = positive_label(table, data.positive_class, coll)
        if test is not None:
            test = positive_label(test, data.positive_class, coll)
            test.label_names = table.label_names
    files = {table.fingerprint.get("path", table.name): table.fingerprint.get("sha256", table.fingerprint.get("version"))}
    if test is not None:
        files[test.fingerprint.get("path", test.name)] = test.fingerprint.get("sha256")
    table.fingerprint["files"] = files
    table.fingerprint["schema"] = {f.name: str(f.type) for f in table.data.schema}
    if test is not None:
        test.fingerprint["schema"] = {f.name: str(f.type) for f in test.data.schema}
    return table, test


def _read(path: str, data, base_dir: Path) -> Table:
    p = Path(path)
    if not p.is_absolute():
        p = Path(base_dir) / p
    return load_file(p, data.format, data.label, data.header, data.column_names, data.delimiter, data.n_features)


def load_from_config(data, base_dir: Path, carry=()) -> tuple[Table, Table | None]:
    """(table, test table or None) as the ``data`` section (a ``DataSection``) says.

    Relative paths resolve against ``base_dir`` (the config file's folder). The
    fingerprint holds the sha256 of every input file (or data set name and version),
    under ``files``, and the inferred column types under ``schema``. ``carry``: columns
    that ride along in ``Table.extra`` without being features (group, cluster columns).
    """
    if data.dataset is None and data.path is None:
        raise ConfigError("data: set either data.dataset (a built-in name) or data.path (a file)")
    if data.dataset is not None:
        table = load_dataset(data.dataset)
        if data.label is not None and data.label != table.label:
            if data.label not in table.data.column_names:
                raise ConfigError(
                    f"data.label {data.label!r} is not a column of {data.dataset}; columns are "
                    f"{table.data.column_names}." + did_you_mean(data.label, table.data.column_names)
                )
            table.label = data.label
    else:
        table = _read(data.path, data, base_dir)
    _check_label(table)
    test = _read(data.test_path, data, base_dir) if data.test_path is not None else None
    table, test = finish_tables(table, test, data, _split_columns(data, carry))
    log.info("data: %s, %d rows, %d features", table.name, table.n_rows, len(table.feature_names))
    return table, test


def load_shard(data, base_dir: Path, coll: Collective | None = None, carry=()):
    """This rank's part of the ``data`` section: ``(table, test table or None, parts)``.

    The same tables ``load_from_config`` gives, restricted to this rank's rows:
    ``source_rows`` holds their indices in the whole input, the schema is common to every
    rank (``loaddata.parts``), the fingerprint is that of the whole file (rank 0 hashes
    it; other ranks hold None). Built-in data sets, VW files and compressed text are read
    whole by every rank and their rows dealt out (contiguous ``[lo, hi)``). ``parts``:
    ``{"train": Part, "test": Part or None}``. ``coll``: the job's ranks (default: this
    process's, ``collective.current()``).
    """
    coll = coll if coll is not None else current()
    if data.dataset is not None:
        table, test = load_from_config(data, base_dir, carry)
        parts = {"train": None, "test": None}
        for key, t in (("train", table), ("test", test)):
            if t is not None:
                lo, hi = shard_range(t.n_rows, coll.rank, coll.world_size)
                parts[key] = Part(t.fingerprint.get("path", data.dataset), "rows", hi - lo, row_range=[lo, hi],
                                  extra={"note": "read whole by every rank (built-in data set), rows dealt out"})
        if test is not None:
            test = test.take(np.arange(*parts["test"].row_range))
        return table.take(np.arange(*parts["train"].row_range)), test, parts
    if data.path is None:
        raise ConfigError("data: set either data.dataset (a built-in name) or data.path (a file)")
    table, part = read_part(data.path, data, base_dir, coll)
    _check_label(table)
    test, test_part = read_part(data.test_path, data, base_dir, coll) if data.test_path is not None else (None, None)
    table, test = finish_tables(table, test, data, _split_columns(data, carry), coll)
    log.info("rank %d: %s, %d rows (%s)", coll.rank, table.name, table.n_rows, part.kind)
    return table, test, {"train": part, "test": test_part}


def load_input(data, base_dir: Path, coll: Collective | None = None, carry=()):
    """What this process of a job reads of the ``data`` section: ``(table, test table or
    None, parts)``. In one process the whole input (``load_from_config``; ``parts`` None);
    on each rank of several its part (``load_shard``). ``coll`` and ``carry`` as in
    ``load_shard`` and ``load_from_config``."""
    coll = coll if coll is not None else current()
    if coll.world_size == 1:
        return (*load_from_config(data, base_dir, carry), None)
    return load_shard(data, base_dir, coll, carry)


__all__ = ["load_from_config", "load_shard", "load_input", "finish_tables", "positive_label"]
