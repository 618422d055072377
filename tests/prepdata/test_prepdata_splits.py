"""Splits against scikit-learn's splitters (sizes, proportions, groups) and the label checks."""
import math

import numpy as np
import pyarrow as pa
import pytest
from sklearn.model_selection import GroupShuffleSplit, StratifiedKFold, train_test_split

from logitkit._util.errors import ConfigError, DataError
from logitkit.loaddata import Table, load_csv
from logitkit.pipeline.config import SplitSection
from logitkit.prepdata import binary_labels, kfold_indices, split_table


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    n = 503
    return Table(
        pa.table({
            "x": rng.standard_normal(n),
            "day": rng.integers(0, 30, n),
            "patient": rng.integers(0, 60, n),
            "y": (rng.random(n) < 0.2).astype(np.int64),
        }),
        "y",
        "t",
    )


def test_random_split_sizes_match_sklearn_and_seed(table):
    tr, te = split_table(table, SplitSection(method="random", test_size=0.3), seed=4)
    sk_tr, sk_te = train_test_split(np.arange(table.n_rows), test_size=0.3, random_state=0)
    assert (tr.n_rows, te.n_rows) == (len(sk_tr), len(sk_te))
    rows = np.concatenate([tr.source_rows, te.source_rows])
    assert sorted(rows.tolist()) == list(range(table.n_rows))
    tr2, _ = split_table(table, SplitSection(method="random", test_size=0.3), seed=4)
    tr3, _ = split_table(table, SplitSection(method="random", test_size=0.3), seed=5)
    assert np.array_equal(tr.source_rows, tr2.source_rows) and not np.array_equal(tr.source_rows, tr3.source_rows)


def test_stratified_keeps_class_proportions_like_sklearn(table):
    tr, te = split_table(table, SplitSection(method="stratified", test_size=0.25), seed=0)
    y = table.labels()
    _, _, _, sk_te = train_test_split(np.arange(len(y)), y, test_size=0.25, stratify=y, random_state=0)
    assert abs(te.labels().mean() - y.mean()) <= 1.0 / te.n_rows + 1e-12
    assert abs(te.n_rows - len(sk_te)) <= 1
    assert tr.n_rows + te.n_rows == table.n_rows


def test_time_split_holds_out_the_latest_rows(table):
    tr, te = split_table(table, SplitSection(method="time", test_size=0.2, time_column="day"), seed=0)
    assert te.n_rows == math.ceil(0.2 * table.n_rows)
    day = table.column("day")
    assert day[tr.source_rows].max() <= day[te.source_rows].min()
    assert "day" not in tr.data.column_names and "day" not in te.feature_names


def test_group_split_keeps_groups_whole(table):
    tr, te = split_table(table, SplitSection(method="group", test_size=0.25, group_column="patient"), seed=1)
    g = table.column("patient")
    assert not set(g[tr.source_rows]) & set(g[te.source_rows])
    n_groups = len(np.unique(g))
    sk = GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=0)
    _, sk_te = next(sk.split(np.zeros(len(g)), groups=g))
    assert len(np.unique(g[te.source_rows])) == len(np.unique(g[sk_te])) == math.ceil(0.25 * n_groups)


def test_none_and_errors(table):
    assert split_table(table, SplitSection(method="none"), 0)[1] is None
    assert split_table(table, SplitSection(test_size=0.0), 0)[1] is None
    with pytest.raises(ConfigError, match=r"split.time_column 'days' is not a column.*Did you mean 'day'"):
        split_table(table, SplitSection(method="time", time_column="days"), 0)
    with pytest.raises(DataError, match=r"split.test_size=0.5 leaves 0 training and 1 test rows of 1"):
        split_table(table.take(np.arange(1)), SplitSection(method="random", test_size=0.5), 0)


def test_kfold_partitions_and_stratifies(table):
    y = table.labels()
    folds = list(kfold_indices(table.n_rows, 5, seed=0, y=y))
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests.tolist()) == list(range(table.n_rows))
    sk = [te for _, te in StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y)]
    assert sorted(len(te) for _, te in folds) == sorted(len(te) for te in sk)
    for (_, te), ske in zip(folds, sk):
        assert abs(y[te].sum() - np.mean([y[s].sum() for s in sk])) <= 1
    g = table.column("patient")
    for tr, te in kfold_indices(table.n_rows, 4, seed=0, groups=g):
        assert not set(g[tr]) & set(g[te])
    with pytest.raises(ConfigError, match=r"k-fold needs 2 <= k <= n_rows; got k=1"):
        list(kfold_indices(10, 1))


def test_binary_labels(tmp_path):
    f = tmp_path / "l.csv"
    f.write_text("x,y\n1,a\n2,b\n3,a\n4,c\n")
    t = load_csv(f)
    with pytest.raises(DataError, match=r"label column 'y' has 3 classes \['a', 'b', 'c'\], a binary model needs two; the third first appears at row 4 \(line 5 of l.csv\)"):
        binary_labels(t)
    two = t.take(np.arange(3))
    np.testing.assert_array_equal(binary_labels(two, positive_class="a"), [1, 0, 1])
    np.testing.assert_array_equal(binary_labels(two), [0, 1, 0])
    with pytest.raises(DataError, match=r"label column 'y' has one class only \(\['a'\]\); a binary model needs two"):
        binary_labels(t.take(np.array([0, 2])))
    with pytest.raises(DataError, match=r"data.positive_class 'z' is not a value of label column 'y'"):
        binary_labels(two, positive_class="z")
