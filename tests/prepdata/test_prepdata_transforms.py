"""Fitted transforms against scikit-learn; Preprocessor errors name the column and the row."""
import json
import math

import numpy as np
import pyarrow as pa
import pytest
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import KBinsDiscretizer, MinMaxScaler, OneHotEncoder, StandardScaler

from logitkit._util.errors import ConfigError, DataError
from logitkit.loaddata import Table, load_csv, load_dataset, make_logistic
from logitkit.pipeline.config import PrepSection
from logitkit.prepdata import Preprocessor, split_table
from logitkit.prepdata.encoding import LogBucketer
from logitkit.pipeline.config import SplitSection


def _X(t: Table) -> np.ndarray:
    return t.data.drop_columns([t.label]).to_pandas().to_numpy(dtype=float)


@pytest.fixture(scope="module")
def parts():
    t, _ = make_logistic(400, 4, seed=5, missing_rate=0.1)
    return split_table(t, SplitSection(method="random", test_size=0.3), seed=0)


def test_default_passes_numeric_columns_through():
    t = load_dataset("cd_age")
    p = Preprocessor(PrepSection()).fit(t)
    np.testing.assert_array_equal(p.transform(t)[:, 0], t.column("age"))
    assert p.feature_names_ == ["age"]


@pytest.mark.parametrize("strategy", ["mean", "median", "constant"])
def test_impute_with_indicators_and_standardize_match_sklearn(parts, strategy):
    train, test = parts
    prep = PrepSection(impute=strategy, impute_value=-1.0, standardize=True)
    p = Preprocessor(prep).fit(train)
    imp = SimpleImputer(strategy=strategy, fill_value=-1.0, add_indicator=True).fit(_X(train))
    k = 4
    ref_tr, ref_te = imp.transform(_X(train)), imp.transform(_X(test))
    sc = StandardScaler().fit(ref_tr[:, :k])
    ref = np.hstack([sc.transform(ref_te[:, :k]), ref_te[:, k:]])
    np.testing.assert_allclose(p.transform(test), ref, rtol=1e-12, atol=1e-12)
    assert p.feature_names_ == ["x0", "x1", "x2", "x3", "x0_missing", "x1_missing", "x2_missing", "x3_missing"]
    q = Preprocessor.from_json(json.loads(json.dumps(p.to_json())))
    np.testing.assert_array_equal(q.transform(test), p.transform(test))


def test_minmax_matches_sklearn(parts):
    train, test = parts
    p = Preprocessor(PrepSection(impute="mean", minmax=True, missing_indicators=False)).fit(train)
    filled = SimpleImputer().fit(_X(train))
    ref = MinMaxScaler().fit(filled.transform(_X(train))).transform(filled.transform(_X(test)))
    np.testing.assert_allclose(p.transform(test), ref, atol=1e-12)


def _cat_table(colours, y=None):
    y = y if y is not None else [i % 2 for i in range(len(colours))]
    return Table(pa.table({"colour": colours, "size": [float(i) for i in range(len(colours))], "y": y}), "y", "cats")


def test_one_hot_matches_sklearn_and_unknown_policy():
    train = _cat_table(["red", "blue", "red", None, "green", "blue"])
    test = _cat_table(["blue", "purple", "green"])
    p = Preprocessor(PrepSection(reference="none")).fit(train)
    enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(
        np.array(train.data.column("colour").fill_null("").to_pylist(), dtype=object)[:, None]
    )
    got = p.transform(test)
    full = enc.transform(np.array(["blue", "purple", "green"], dtype=object)[:, None])
    np.testing.assert_array_equal(got[:, 1:], full)
    assert p.feature_names_ == ["size", "colour[]", "colour[blue]", "colour[green]", "colour[red]"]
    # treatment coding (the default): the first named level, 'blue', is the reference
    coded = Preprocessor(PrepSection()).fit(train)
    np.testing.assert_array_equal(coded.transform(test)[:, 1:], np.delete(full, 1, axis=1))
    assert coded.feature_names_ == ["size", "colour[T.]", "colour[T.green]", "colour[T.red]"]
    assert coded.references() == {"colour": "blue"}
    strict = Preprocessor(PrepSection(unknown="error")).fit(train)
    with pytest.raises(DataError, match=r"column 'colour': category 'purple' at row 2 was not seen in training"):
        strict.transform(test)


def test_quantile_buckets_match_sklearn():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(500)
    t = Table(pa.table({"x": x, "y": (x > 0).astype(int)}), "y", "q")
    p = Preprocessor(PrepSection(quantile_bucket=["x"], n_quantiles=5)).fit(t)
    kb = KBinsDiscretizer(n_bins=5, strategy="quantile", encode="onehot-dense", quantile_method="linear").fit(x[:, None])
    np.testing.assert_array_equal(p.transform(t), kb.transform(x[:, None])[:, 1:])  # bucket q0: the reference
    assert p.feature_names_ == [f"x[T.q{j}]" for j in range(1, 5)]


@pytest.mark.parametrize("impute", ["median", "mean", "constant"])
def test_quantile_bucket_missing_values_take_the_training_fill(impute):
    """With prep.impute, a missing value of a quantile-bucketed column is the imputer's
    training value (sklearn's SimpleImputer fitted on train), whatever rows are transformed."""
    rng = np.random.default_rng(1)
    x = rng.exponential(2.0, 300)
    x[::7] = np.nan
    t = Table(pa.table({"x": x, "y": (rng.random(300) < 0.5).astype(int)}), "y", "q")
    p = Preprocessor(PrepSection(quantile_bucket=["x"], n_quantiles=4, impute=impute, impute_value=9.0,
                                 reference="none")).fit(t)
    imp = SimpleImputer(strategy=impute, fill_value=9.0).fit(x[:, None])
    filled = imp.transform(np.array([[np.nan]]))[0, 0]
    edges = p.encoders_["x"].edges_
    for rows in ([np.nan], [np.nan, 100.0], [np.nan, -5.0, 0.0]):
        one = Table(pa.table({"x": np.array(rows), "y": np.zeros(len(rows), dtype=int)}), "y", "new")
        Z = p.transform(one)
        assert int(np.argmax(Z[0])) == int(np.searchsorted(edges, filled, side="right"))
    again = Preprocessor.from_json(json.loads(json.dumps(p.to_json())))
    np.testing.assert_array_equal(again.transform(t), p.transform(t))


def test_log_buckets_follow_formula():
    v = np.array([-5, 0, 1, 2, 3, 7, 20, 1000, np.nan, 3])
    lb = LogBucketer().fit(v)
    codes = ["" if np.isnan(a) else (str(int(math.floor(a))) if a <= 2 else f"L{math.floor(math.log(a) ** 2)}") for a in v]
    names = lb.names("n")
    X = lb.transform(v)
    assert [names[int(np.argmax(r))] for r in X] == [f"n[{c}]" for c in codes]
    assert (X.sum(axis=1) == 1).all()


def test_nan_without_imputer_names_column_row_and_line(tmp_path):
    f = tmp_path / "patients.csv"
    f.write_text("age,bmi,cd\n22,20.1,0\n23,,0\n24,22.0,1\n")
    t = load_csv(f)
    with pytest.raises(DataError, match=r"patients.csv: column 'bmi' is missing \(NaN/empty\) at row 2 \(line 3 of patients.csv\), and no imputer"):
        Preprocessor(PrepSection()).fit(t)


def test_nan_at_transform_time_names_row_after_split(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("age,cd\n" + "".join(f"{20 + i},{i % 2}\n" for i in range(9)) + ",1\n")
    t = load_csv(f)
    train, test = t.take(np.arange(9)), t.take(np.array([9]))
    p = Preprocessor(PrepSection()).fit(train)
    with pytest.raises(DataError, match=r"column 'age' is missing \(NaN/empty\) at row 10 \(line 11 of p.csv\)"):
        p.transform(test)


def test_non_numeric_value_in_numeric_column(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("age,cd\n22,0\n23,0\nforty,1\n25,1\n")
    with pytest.raises(DataError, match=r"column 'age' holds a non-numeric value 'forty' at row 3 \(line 4 of p.csv\)"):
        Preprocessor(PrepSection()).fit(load_csv(f))


def test_refit_is_never_silent_and_columns_are_checked(parts):
    train, test = parts
    p = Preprocessor(PrepSection(impute="mean")).fit(train)
    with pytest.raises(RuntimeError, match="already fitted; pass refit=True"):
        p.fit(test)
    p.fit(test, refit=True)
    with pytest.raises(DataError, match=r"column 'x3' was used in training but is not in this data"):
        p.transform(test.with_data(test.data.drop_columns(["x3"])))


def test_bad_prep_options():
    with pytest.raises(ValueError, match="prep.standardize and prep.minmax are both true"):
        PrepSection(standardize=True, minmax=True)
    with pytest.raises(ConfigError, match=r"prep.standardise is not a prep option. Did you mean 'standardize'"):
        Preprocessor({"standardise": True})


def test_hashing_mode():
    from logitkit.loaddata import make_ctr

    t, _ = make_ctr(200, seed=0, max_cardinality=20)
    p = Preprocessor(PrepSection(hashing={"n_bits": 12, "crosses": [["C1", "C2"]]})).fit(t)
    idx = p.transform_indices(t)
    assert idx.shape == (200, 40) and idx.max() < 4096
    q = Preprocessor.from_json(json.loads(json.dumps(p.to_json())))
    np.testing.assert_array_equal(q.transform_indices(t), idx)
    with pytest.raises(ConfigError, match="prep.hashing is set: use transform_indices"):
        p.transform(t)
