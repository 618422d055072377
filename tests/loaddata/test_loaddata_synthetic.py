"""Synthetic generators: seeded, and their ground truth really generated the labels."""
import numpy as np
from sklearn.linear_model import LogisticRegression as SkLogit
from sklearn.metrics import log_loss

from logitkit.loaddata import CRITEO_COLUMNS, make_ctr, make_logistic
from logitkit.loaddata.tokens import N_CODES, log_bucket_ids


def test_make_logistic_seeded_and_recoverable():
    a, ta = make_logistic(20000, 3, seed=7, intercept=-0.5)
    b, _ = make_logistic(20000, 3, seed=7, intercept=-0.5)
    assert a.data.equals(b.data)
    X = a.data.drop_columns(["y"]).to_pandas().to_numpy()
    fit = SkLogit(C=1e6).fit(X, a.labels())
    np.testing.assert_allclose(fit.coef_[0], ta.coef, atol=0.1)
    np.testing.assert_allclose(fit.intercept_[0], ta.intercept, atol=0.1)
    assert abs(ta.log_loss(a.labels()) - log_loss(a.labels(), ta.prob)) < 1e-12


def test_make_ctr_layout_and_truth():
    t, truth = make_ctr(20000, seed=3, max_cardinality=200, missing_rate=0.1)
    t2, _ = make_ctr(20000, seed=3, max_cardinality=200, missing_rate=0.1)
    assert t.data.equals(t2.data)
    assert t.data.column_names == CRITEO_COLUMNS
    df = t.data.to_pandas()
    assert 0.02 < df.isna().to_numpy().mean() < 0.3
    assert (df["I2"].dropna() < 0).any()
    # Zipf: the most frequent value of a wide field is far above uniform
    top = df["C26"].value_counts(normalize=True).iloc[0]
    assert top > 5.0 / df["C26"].nunique()
    # recompute every row's logit from the table and the returned weights
    logit = np.full(len(df), truth.bias)
    for f in [c for c in CRITEO_COLUMNS if c.startswith("I")]:
        ids = log_bucket_ids(df[f].to_numpy(dtype=float))
        ids[ids < 0] = N_CODES
        logit += truth.num_weights[f][ids]
    for f in [c for c in CRITEO_COLUMNS if c.startswith("C")]:
        pos = {v: i for i, v in enumerate(truth.vocab[f])}
        w = [truth.cat_missing[f] if v is None else truth.cat_weights[f][pos[v]] for v in t.data.column(f).to_pylist()]
        logit += np.asarray(w)
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), truth.prob, rtol=1e-9)
    y = t.labels()
    base = log_loss(y, np.full(len(y), y.mean()))
    assert truth.log_loss(y) < base - 0.02
    assert abs(y.mean() - truth.prob.mean()) < 0.02
