"""The interaction models learn what a linear model over single tokens cannot: on
``make_ctr`` data whose truth has a low-rank pairwise group, fm, ffm and deep (in the
streamed learner, ``predict.HashedInteractionModel``) beat the linear model
(``predict.HashedLogisticRegression``, the same FTRL settings) by far, and the FM's
learned pair interactions match the truth's."""
import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss

from logitkit.loaddata.synthetic import log_loss_of, make_ctr
from logitkit.predict import HashedInteractionModel, HashedLogisticRegression
from logitkit.prepdata.hashing import FeatureHasher

GROUP = ("C5", "C8", "C11", "I4")


@pytest.fixture(scope="module")
def data():
    n_train, n_test = 30000, 10000
    table, truth = make_ctr(n_train + n_test, seed=1, max_cardinality=20, interactions=[GROUP],
                            interaction_rank=2, interaction_scale=2.0)
    hasher = FeatureHasher(n_bits=16)
    idx = hasher.transform(table.data, dtype=np.int32)
    y = table.labels().astype(np.float32)
    return {"idx": idx, "y": y, "n": n_train, "truth": truth, "table": table, "fields": hasher.fields,
            "floor": log_loss_of(y[n_train:], truth.prob[n_train:])}


def _fit(data, kind):
    torch.set_num_threads(1)
    fields = sorted(data["fields"].index(f) for f in GROUP)
    common = dict(n_bits=16, batch_size=64, l1=0.1, l2=1.0, random_state=1, sketch_size=0)
    model = (HashedLogisticRegression(**common) if kind == "none" else
             HashedInteractionModel(kind, embedding_dim=4, ffm_fields=fields, hidden=(16,), **common))
    n = data["n"]
    for _ in range(3):
        model.partial_fit(data["idx"][:n], data["y"][:n])
    loss = log_loss(data["y"][n:], model.predict_proba(data["idx"][n:])[:, 1])
    return model, loss


@pytest.fixture(scope="module")
def linear(data):
    return _fit(data, "none")[1]


def test_fm_recovers_what_the_linear_model_cannot(data, linear):
    model, fm = _fit(data, "fm")
    floor = data["floor"]
    assert linear - floor > 0.08  # the pairs carry signal a linear model misses
    assert fm < linear - 0.05
    assert (linear - fm) / (linear - floor) > 0.5  # more than half of the gap closed
    assert 0 < model.progressive_loss_ < 1  # every mini-batch scored before it was learned
    # the learned ⟨v_a, v_b⟩ of the most frequent values of two grouped fields against the
    # truth's ⟨U_a, U_b⟩, both double-centred (row and column effects belong to the linear part)
    table, truth, idx = data["table"], data["truth"], data["idx"]
    v = model.v_.numpy()

    def frequent_buckets(f):
        pos = {x: i for i, x in enumerate(truth.vocab[f])}
        ids = np.array([len(pos) if x is None else pos[x] for x in table.data.column(f).to_pylist()])
        top = np.argsort(-np.bincount(ids))[:6]
        col = data["fields"].index(f)
        return top, [idx[np.argmax(ids == i), col] for i in top]

    (ta, ba), (tb, bb) = frequent_buckets("C5"), frequent_buckets("C8")
    learned = v[ba] @ v[bb].T
    true = truth.groups[GROUP]["C5"][ta] @ truth.groups[GROUP]["C8"][tb].T

    def centred(m):
        return m - m.mean(0) - m.mean(1)[:, None] + m.mean()

    assert np.corrcoef(centred(learned).ravel(), centred(true).ravel())[0, 1] > 0.8


@pytest.mark.parametrize("kind", ["ffm", "deep"])
def test_ffm_and_deep_learn_the_interactions_too(data, linear, kind):
    _, loss = _fit(data, kind)
    assert loss < linear - 0.05
