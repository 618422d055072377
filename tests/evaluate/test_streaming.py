"""Streaming accumulators against scikit-learn on the whole data, over shards and states."""
import numpy as np
import pytest
import sklearn.metrics as skm
import torch

from logitkit._util.errors import ConfigError, DataError
from logitkit.evaluate.streaming import AUC, CalibrationRatio, LogLoss, NormalizedEntropy, StreamingMetrics


def _data(seed=0, n=20000, rate=0.05):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n) * 1.5 + np.log(rate / (1 - rate))
    p = 1 / (1 + np.exp(-z))
    y = (rng.uniform(size=n) < p).astype(np.int64)
    w = rng.uniform(0.5, 2, n)
    return y, p, z, w


def _shards(n, k=4):
    return np.array_split(np.arange(n), k)


@pytest.mark.parametrize("weighted", [False, True])
def test_exact_accumulators_match_sklearn_over_shards(weighted):
    y, p, z, w = _data()
    w = w if weighted else None
    parts = []
    for idx in _shards(len(y)):
        acc = StreamingMetrics(names=("log_loss", "ne", "calibration_ratio"))
        for chunk in np.array_split(idx, 3):
            acc.update(y[chunk], p[chunk], None if w is None else w[chunk])
        parts.append(acc)
    total = parts[0]
    for other in parts[1:]:
        total.merge(other)
    res = total.result()
    ll = skm.log_loss(y, p, sample_weight=w)
    base = np.full(len(y), np.average(y, weights=w))
    assert res["log_loss"] == pytest.approx(ll, rel=1e-12)
    assert res["ne"] == pytest.approx(ll / skm.log_loss(y, base, sample_weight=w), rel=1e-12)
    assert res["calibration_ratio"] == pytest.approx(np.average(y, weights=w) / np.average(p, weights=w), rel=1e-12)


def test_logits_input_matches_probabilities():
    y, p, z, _ = _data(1)
    a = LogLoss().update(y, torch.tensor(z), logits=True).result()
    assert a == pytest.approx(skm.log_loss(y, p), rel=1e-10)
    c = CalibrationRatio().update(y, z, logits=True).result()
    assert c == pytest.approx(y.mean() / p.mean(), rel=1e-12)
    u = AUC().update(y, z, logits=True)
    assert abs(u.result() - skm.roc_auc_score(y, p)) <= u.error_bound() + 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_auc_within_documented_bound(seed):
    y, p, _, w = _data(seed)
    acc = AUC()
    for idx in _shards(len(y), 5):
        acc.update(y[idx], p[idx], w[idx])
    exact = skm.roc_auc_score(y, p, sample_weight=w)
    bound = acc.error_bound()
    assert abs(acc.result() - exact) <= bound + 1e-12
    assert bound < 1e-4  # the figure the docs quote for the default bins
    coarse = AUC(n_bins=64).update(y, p, w)
    assert abs(coarse.result() - exact) <= coarse.error_bound() + 1e-12
    assert coarse.error_bound() > bound


def test_auc_exact_when_bins_separate_the_distinct_scores():
    rng = np.random.default_rng(3)
    p = rng.choice([0.01, 0.1, 0.3, 0.7, 0.95], size=3000)
    y = (rng.uniform(size=3000) < p).astype(int)
    acc = AUC().update(y, p)
    assert acc.result() == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)


def test_state_round_trip_sums_like_all_reduce():
    y, p, _, _ = _data(4, n=5000)
    halves = _shards(len(y), 2)
    a = StreamingMetrics(auc_bins=1024).update(y[halves[0]], p[halves[0]])
    b = StreamingMetrics(auc_bins=1024).update(y[halves[1]], p[halves[1]])
    summed = a.state() + b.state()  # what all_reduce(SUM) leaves on every rank
    back = StreamingMetrics.from_state(summed, auc_bins=1024).result()
    whole = StreamingMetrics(auc_bins=1024).update(y, p).result()
    for k in whole:
        assert back[k] == pytest.approx(whole[k], rel=1e-12)
    ne = NormalizedEntropy.from_state(NormalizedEntropy().update(y, p).state())
    assert ne.result() == pytest.approx(whole["ne"], rel=1e-12)


def test_errors_are_pinned():
    with pytest.raises(ConfigError, match=r"cannot merge AUC\{'n_bins': 16, 'limit': 16.0\} into AUC"):
        AUC().merge(AUC(n_bins=16))
    with pytest.raises(ConfigError, match="cannot merge LogLoss"):
        AUC().merge(LogLoss())
    with pytest.raises(DataError, match="LogLoss has seen no rows; call update"):
        LogLoss().result()
    with pytest.raises(DataError, match="only one class among the rows seen; AUC is not defined"):
        AUC().update([1, 1], [0.2, 0.4]).result()
    with pytest.raises(DataError, match="normalized entropy needs both classes"):
        NormalizedEntropy().update([0, 0], [0.2, 0.4]).result()
    with pytest.raises(DataError, match="streaming metrics take binary labels"):
        LogLoss().update([0, 2], [0.2, 0.4])
    with pytest.raises(DataError, match="p has values outside"):
        LogLoss().update([0, 1], [0.2, 1.4])
    with pytest.raises(DataError, match="y_true has 2 rows but p has 3"):
        LogLoss().update([0, 1], [0.2, 0.4, 0.1])
    with pytest.raises(ConfigError, match=r"unknown streaming metric\(s\) \['aucc'\]"):
        StreamingMetrics(names=("aucc",))
    with pytest.raises(DataError, match=r"LogLoss state must have shape \(2,\)"):
        LogLoss.from_state(torch.zeros(3, dtype=torch.float64))


def test_evaluate_stream_needs_only_the_models_logits():
    """evaluate_stream scores with the public ``logits(idx, dense)`` of any model: here a
    fixed table of logits (one per index), against scikit-learn on the whole data."""
    from logitkit.evaluate.streaming import evaluate_stream, reduce_metrics

    class Table:
        def __init__(self, z):
            self.z = torch.as_tensor(z, dtype=torch.float64)

        def logits(self, idx, dense=None):
            return self.z[torch.as_tensor(idx)[:, 0]]

    y, p, z, _ = _data(n=5000)
    model = Table(z)
    idx = np.arange(5000)[:, None]
    batches = [(idx[s : s + 700], y[s : s + 700]) for s in range(0, 5000, 700)]
    acc = StreamingMetrics(("log_loss", "auc"))
    got = evaluate_stream(model, batches, [acc])
    assert got["n_rows"] == 5000 and got["log_loss"] == pytest.approx(skm.log_loss(y, p), rel=1e-12)
    assert got["mean_p"] == pytest.approx(p.mean(), rel=1e-12) and got["mean_y"] == pytest.approx(y.mean())
    assert reduce_metrics(acc).result()["auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-4)
    with pytest.raises(DataError, match=r"evaluate_stream takes labels 0 or 1; map -1/\+1 \(VW\) labels"):
        evaluate_stream(model, [(idx[:3], np.array([1, -1, 1]))])
    with pytest.raises(DataError, match=r"a batch has 2 labels for 3 rows of idx"):
        evaluate_stream(model, [(idx[:3], np.array([1, 0]))])
    with pytest.raises(DataError, match=r"the evaluation stream yielded no rows"):
        evaluate_stream(model, [])
