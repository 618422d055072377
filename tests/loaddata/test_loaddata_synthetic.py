"""Synthetic generators: seeded, and their ground truth really generated the labels."""
import itertools

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogit
from sklearn.metrics import log_loss

from logitkit._util.errors import ConfigError
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
    logit = _linear_logit(t, truth)
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), truth.prob, rtol=1e-9)
    y = t.labels()
    base = log_loss(y, np.full(len(y), y.mean()))
    assert truth.log_loss(y) < base - 0.02
    assert abs(y.mean() - truth.prob.mean()) < 0.02


def _value_ids(t, truth, f):
    """The value id of field ``f`` in every row, as ``CTRTruth`` documents it."""
    if f.startswith("I"):
        ids = log_bucket_ids(t.data.column(f).to_pandas().to_numpy(dtype=float))
        ids[ids < 0] = N_CODES
        return ids
    pos = {v: i for i, v in enumerate(truth.vocab[f])}
    return np.array([len(pos) if v is None else pos[v] for v in t.data.column(f).to_pylist()])


def _linear_logit(t, truth):
    logit = np.full(t.data.num_rows, truth.bias)
    for f in [c for c in CRITEO_COLUMNS if c.startswith("I")]:
        logit += truth.num_weights[f][_value_ids(t, truth, f)]
    for f in [c for c in CRITEO_COLUMNS if c.startswith("C")]:
        pos = {v: i for i, v in enumerate(truth.vocab[f])}
        w = [truth.cat_missing[f] if v is None else truth.cat_weights[f][pos[v]] for v in t.data.column(f).to_pylist()]
        logit += np.asarray(w)
    return logit


def test_make_ctr_interactions_truth_pair_by_pair():
    groups = [("C3", "C14"), ("I5", "C20", "C21")]
    t, truth = make_ctr(5000, seed=3, max_cardinality=200, interactions=groups, interaction_rank=3)
    plain, plain_truth = make_ctr(5000, seed=3, max_cardinality=200)
    # the features are the same bits; the labels come from the same uniforms and another truth
    assert t.data.drop_columns(["label"]).equals(plain.data.drop_columns(["label"]))
    assert not np.array_equal(t.labels(), plain.labels())
    assert plain_truth.groups == {} and list(truth.groups) == groups
    assert t.fingerprint["interactions"] == {"groups": [list(g) for g in groups], "rank": 3, "scale": 1.0}
    logit = _linear_logit(t, truth)
    for group, vecs in truth.groups.items():
        assert sorted(vecs) == sorted(group) and all(u.shape[1] == 3 for u in vecs.values())
        for f, g in itertools.combinations(group, 2):  # the explicit sum over the group's pairs
            logit += np.einsum("nr,nr->n", vecs[f][_value_ids(t, truth, f)], vecs[g][_value_ids(t, truth, g)])
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), truth.prob, rtol=1e-9)
    assert truth.log_loss(t.labels()) < plain_truth.log_loss(plain.labels())  # more signal, a lower floor


def test_make_ctr_random_pairs_are_seeded_and_disjoint():
    a = make_ctr(300, seed=5, interactions=4)[1]
    b = make_ctr(300, seed=5, interactions=4)[1]
    assert list(a.groups) == list(b.groups) and len(a.groups) == 4
    fields = [f for g in a.groups for f in g]
    assert len(fields) == len(set(fields)) == 8
    for g in a.groups:
        np.testing.assert_array_equal(a.groups[g][g[0]], b.groups[g][g[0]])
    assert make_ctr(300, seed=5, interactions=0)[1].groups == {}


@pytest.mark.parametrize("interactions, message", [
    ([("C3", "C99")], "'C99' is not a Criteo field .*Did you mean 'C9"),
    ([("C3", "C4"), ("C4", "I1")], "field 'C4' is in two groups"),
    ([("C3",)], "is not a group of two or more fields"),
    (["C3C4"], "is not a group of two or more fields"),
    (20, "interactions=20 must be a number of disjoint field pairs in \\[0, 19\\]"),
])
def test_make_ctr_interactions_errors(interactions, message):
    with pytest.raises(ConfigError, match=message):
        make_ctr(10, interactions=interactions)


def test_make_ctr_interaction_rank_error():
    with pytest.raises(ConfigError, match="interaction_rank=0 must be an integer >= 1"):
        make_ctr(10, interactions=1, interaction_rank=0)
