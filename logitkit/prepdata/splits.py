"""Seeded train/test splits and k-fold index sets.

Every function returns row indices in ascending (file) order. The same seed gives the
same split on every machine (``numpy.random.default_rng(seed)``).

- random: a shuffled ``ceil(test_size · n)`` rows are the test set;
- stratified: within each class ``round(test_size · n_c)`` rows (at least one when the
  class has two or more rows) go to the test set;
- time: the rows with the largest ``time_column`` values (ties broken by file order);
- group: ``ceil(test_size · n_groups)`` whole groups, drawn at random.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from logitkit._util.collective import LOCAL, Collective
from logitkit._util.errors import ConfigError, DataError, did_you_mean
from logitkit.loaddata.table import Table


def random_split(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    k = math.ceil(test_size * n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def stratified_split(y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    _, codes = np.unique(y, return_inverse=True)
    test = []
    for c in range(codes.max() + 1 if len(codes) else 0):
        rows = np.nonzero(codes == c)[0]
        rows = rows[rng.permutation(len(rows))]
        k = int(round(test_size * len(rows)))
        if k == 0 and len(rows) >= 2 and test_size > 0:
            k = 1
        test.append(rows[:k])
    te = np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)
    tr = np.setdiff1d(np.arange(len(y)), te)
    return tr, te


def time_split(t: np.ndarray, test_size: float) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(t, kind="stable")
    k = math.ceil(test_size * len(t))
    cut = len(t) - k
    return np.sort(order[:cut]), np.sort(order[cut:])


def group_split(groups: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    uniq, codes = np.unique(groups, return_inverse=True)
    k = math.ceil(test_size * len(uniq))
    test_groups = rng.permutation(len(uniq))[:k]
    is_test = np.isin(codes, test_groups)
    return np.nonzero(~is_test)[0], np.nonzero(is_test)[0]


def kfold_indices(
    n: int, k: int = 5, seed: int = 0, y: np.ndarray | None = None, groups: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, test) index pairs; folds partition the rows.

    With ``y``: stratified (each class dealt round-robin over the folds after a shuffle).
    With ``groups``: whole groups per fold.
    """
    if k < 2 or k > n:
        raise ConfigError(f"k-fold needs 2 <= k <= n_rows; got k={k} with {n} rows")
    rng = np.random.default_rng(seed)
    fold = np.empty(n, dtype=np.int64)
    if groups is not None:
        uniq, codes = np.unique(groups, return_inverse=True)
        if len(uniq) < k:
            raise DataError(f"k-fold by group needs at least k={k} groups; the data has {len(uniq)}")
        gfold = np.empty(len(uniq), dtype=np.int64)
        gfold[rng.permutation(len(uniq))] = np.arange(len(uniq)) % k
        fold = gfold[codes]
    elif y is not None:
        _, codes = np.unique(y, return_inverse=True)
        start = 0
        for c in range(codes.max() + 1):
            rows = np.nonzero(codes == c)[0]
            rows = rows[rng.permutation(len(rows))]
            fold[rows] = (np.arange(len(rows)) + start) % k
            start += len(rows)
    else:
        fold[rng.permutation(n)] = np.arange(n) % k
    for f in range(k):
        yield np.nonzero(fold != f)[0], np.nonzero(fold == f)[0]


def split_column(table: Table, name: str, what: str) -> np.ndarray:
    """Column ``name`` that decides a split (``what``: 'label', 'time_column',
    'group_column'); a missing column or a missing value is an error naming it."""
    if name not in table.data.column_names:
        raise ConfigError(
            f"split.{what} {name!r} is not a column; columns are {table.data.column_names}."
            + did_you_mean(name, table.data.column_names)
        )
    col = table.data.column(name)
    if col.null_count:
        first = int(np.nonzero(col.is_null().to_numpy(zero_copy_only=False))[0][0])
        raise DataError(f"{table.name}: split.{what} {name!r} is missing at {table.where(first)}; every row needs a value")
    return col.to_numpy(zero_copy_only=False)


def input_rows(table: Table, coll: Collective = LOCAL) -> np.ndarray:
    """Each row's index in the job's whole input: the table's own positions in one
    process (the table is the whole input), ``table.source_rows`` on each rank of several
    (the table is that rank's part; ``loaddata.shard``)."""
    if coll.world_size == 1 or table.source_rows is None:
        return np.arange(table.n_rows)
    return np.asarray(table.source_rows)


def split_table(table: Table, split, seed: int, coll: Collective = LOCAL) -> tuple[Table, Table | None]:
    """(train, test) by ``split`` (a ``SplitSection``: method, test_size, time_column, group_column).

    test is None for method 'none' or test_size 0. The time/group column decides the
    split and is dropped from both tables (it is not a feature).

    On the ranks of a job (``coll``) each rank passes its part of the input and gets its
    rows of the split of the whole input: the same rows go to the test set as in one
    process. 'random' needs only the row count over ranks (every rank draws the same
    permutation of n); 'stratified', 'time' and 'group' gather the one column that
    decides, in the input's row order (O(n) values, not the features).
    """
    method = getattr(split, "method", "none")
    test_size = float(getattr(split, "test_size", 0.0))
    if method == "none" or test_size == 0:
        return table, None
    rows = input_rows(table, coll)
    n = int(coll.sum(np.array([table.n_rows]))[0])

    def deciding(name: str, what: str) -> np.ndarray:  # the column of every rank, in row order
        return coll.in_row_order(rows, split_column(table, name, what))[0]

    if method == "random":
        te = random_split(n, test_size, seed)[1]
    elif method == "stratified":
        if table.label is None:
            raise ConfigError("split.method 'stratified' needs a label column; set data.label or use 'random'")
        te = stratified_split(deciding(table.label, "label"), test_size, seed)[1]
    elif method == "time":
        te = time_split(deciding(split.time_column, "time_column"), test_size)[1]
    elif method == "group":
        te = group_split(deciding(split.group_column, "group_column"), test_size, seed)[1]
    else:
        raise ConfigError(f"split.method {method!r} is unknown; use random, stratified, time, group or none")
    if len(te) in (0, n):
        raise DataError(
            f"{table.name}: split.test_size={test_size} leaves {n - len(te)} training and {len(te)} test rows "
            f"of {n}; change test_size or use split.method 'none'"
        )
    is_test = np.zeros(n, dtype=bool)
    is_test[te] = True
    mine = is_test[rows]
    train, test = table.take(np.nonzero(~mine)[0]), table.take(np.nonzero(mine)[0])
    drop = [c for c in (getattr(split, "time_column", None), getattr(split, "group_column", None)) if c]
    drop = [c for c in drop if c in table.data.column_names and c != table.label and method in ("time", "group")
            and c not in table.extra]  # a carried column (not a feature) stays: inference may need it
    if drop:
        train = train.with_data(train.data.drop_columns(drop))
        test = test.with_data(test.data.drop_columns(drop))
    return train, test
