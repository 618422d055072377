"""Every metric against scikit-learn on random and edge-case inputs."""
import numpy as np
import pytest
import sklearn.metrics as skm
import torch
from sklearn.calibration import calibration_curve

from logitkit._util.errors import ConfigError, DataError
from logitkit.evaluate import metrics as M


def _binary(seed, n=200, ties=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * (2 * y - 1))))
    if ties:
        p = np.round(p, 1)
    w = rng.uniform(0.2, 2.0, n)
    return y, p, w


def _multi(seed, n=300, K=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    z = rng.normal(size=(n, K)) + 1.5 * np.eye(K)[y]
    P = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return y, P


CASES = [(s, t) for s in range(3) for t in (False, True)]


@pytest.mark.parametrize("seed,ties", CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_probability_metrics_match_sklearn(seed, ties, weighted):
    y, p, w = _binary(seed, ties=ties)
    w = w if weighted else None
    assert M.roc_auc(y, p, sample_weight=w) == pytest.approx(skm.roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    assert M.average_precision(y, p, sample_weight=w) == pytest.approx(
        skm.average_precision_score(y, p, sample_weight=w), abs=1e-12)
    assert M.log_loss(y, p, sample_weight=w) == pytest.approx(skm.log_loss(y, p, sample_weight=w), rel=1e-12)
    assert M.brier_score(y, p, sample_weight=w) == pytest.approx(
        skm.brier_score_loss(y, p, sample_weight=w), rel=1e-12)
    P2 = np.column_stack([1 - p, p])
    assert M.log_loss(y, P2, sample_weight=w) == pytest.approx(skm.log_loss(y, P2, sample_weight=w), rel=1e-12)
    assert M.roc_auc(torch.tensor(y), torch.tensor(p)) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_label_metrics_match_sklearn(seed):
    y, p, w = _binary(seed)
    yp = (p > 0.5).astype(int)
    for weights in (None, w):
        kw = {"sample_weight": weights}
        assert M.accuracy(y, yp, **kw) == pytest.approx(skm.accuracy_score(y, yp, **kw), rel=1e-12)
        assert M.balanced_accuracy(y, yp, **kw) == pytest.approx(skm.balanced_accuracy_score(y, yp, **kw), rel=1e-12)
        np.testing.assert_allclose(M.confusion_matrix(y, yp, **kw), skm.confusion_matrix(y, yp, **kw))
        for ours, theirs in [(M.precision, skm.precision_score), (M.recall, skm.recall_score), (M.f1, skm.f1_score)]:
            assert ours(y, yp, **kw) == pytest.approx(theirs(y, yp, **kw), rel=1e-12)
    ym, P = _multi(seed)
    ypm = P.argmax(1)
    ypm[:5] = 4  # a predicted label absent from y_true
    for avg in ("macro", "micro"):
        for ours, theirs in [(M.precision, skm.precision_score), (M.recall, skm.recall_score), (M.f1, skm.f1_score)]:
            assert ours(ym, ypm, average=avg) == pytest.approx(
                theirs(ym, ypm, average=avg, zero_division=0.0), rel=1e-12)
    with pytest.warns(UserWarning):
        expected = skm.balanced_accuracy_score(ym, ypm)
    assert M.balanced_accuracy(ym, ypm) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(M.confusion_matrix(ym, ypm, labels=[3, 1, 0]),
                                  skm.confusion_matrix(ym, ypm, labels=[3, 1, 0]))


def test_string_labels_and_pos_label():
    y, p, _ = _binary(7)
    ys = np.where(y == 1, "spam", "ham")
    assert M.roc_auc(ys, p, pos_label="spam") == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    yp = np.where(p > 0.5, "spam", "ham")
    assert M.f1(ys, yp, pos_label="spam") == pytest.approx(skm.f1_score(ys, yp, pos_label="spam"))
    with pytest.raises(DataError, match=r"pos_label=1 is not a label of y_true/y_pred \(\['ham', 'spam'\]\)"):
        M.f1(ys, yp)
    with pytest.raises(DataError, match=r"pos_label=1 is not a label of y_true \(\['ham', 'spam'\]\)"):
        M.roc_auc(ys, p)


@pytest.mark.parametrize("seed", range(3))
def test_multiclass_probability_metrics_match_sklearn(seed):
    y, P = _multi(seed)
    for mc in ("ovr", "ovo"):
        for avg in ("macro", "weighted"):
            assert M.roc_auc(y, P, multi_class=mc, average=avg) == pytest.approx(
                skm.roc_auc_score(y, P, multi_class=mc, average=avg), abs=1e-12)
    assert M.log_loss(y, P) == pytest.approx(skm.log_loss(y, P), rel=1e-12)
    assert M.brier_score(y, P) == pytest.approx(skm.brier_score_loss(y, P, labels=[0, 1, 2, 3]), rel=1e-12)
    assert M.average_precision(y, P) == pytest.approx(skm.average_precision_score(y, P), abs=1e-12)
    ys = np.array(["a", "b", "c", "d"])[y]
    assert M.log_loss(ys, P) == pytest.approx(skm.log_loss(ys, P), rel=1e-12)


def test_ties_and_constant_predictions():
    y = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    const = np.full(8, 0.3)
    assert M.roc_auc(y, const) == pytest.approx(skm.roc_auc_score(y, const)) == 0.5
    assert M.average_precision(y, const) == pytest.approx(skm.average_precision_score(y, const))
    assert M.log_loss(y, const) == pytest.approx(skm.log_loss(y, const))
    tied = np.array([0.2, 0.8, 0.5, 0.5, 0.8, 0.2, 0.5, 0.5])
    assert M.roc_auc(y, tied) == pytest.approx(skm.roc_auc_score(y, tied), abs=1e-15)
    assert M.average_precision(y, tied) == pytest.approx(skm.average_precision_score(y, tied), abs=1e-15)
    # predicting one label only: precision of the positive class is 0/0 -> zero_division
    zeros = np.zeros(8, dtype=int)
    assert M.precision(y, zeros) == skm.precision_score(y, zeros, zero_division=0.0) == 0.0
    assert M.precision(y, zeros, zero_division=1.0) == 1.0
    # probabilities of exactly 0 and 1 are clipped like scikit-learn
    hard = y.astype(float)
    hard[0] = 1.0
    assert M.log_loss(y, hard) == pytest.approx(skm.log_loss(y, hard), rel=1e-12)


def test_one_class_present():
    y = np.ones(6, dtype=int)
    p = np.linspace(0.1, 0.9, 6)
    with pytest.raises(DataError, match="only one class is present in y_true; ROC-AUC is not defined"):
        M.roc_auc(y, p)
    with pytest.raises(DataError, match="only one class is present in y_true; ROC-AUC"):
        M.roc_auc(np.zeros(6, dtype=int), p)
    with pytest.raises(DataError, match="y_true has no positive rows; average precision is not defined"):
        M.average_precision(np.zeros(6, dtype=int), p)
    assert M.average_precision(y, p) == pytest.approx(skm.average_precision_score(y, p)) == 1.0
    # documented values: log loss and Brier score are defined for one class
    assert M.log_loss(y, p) == pytest.approx(skm.log_loss(y, p, labels=[0, 1]), rel=1e-12)
    assert M.brier_score(y, p) == pytest.approx(skm.brier_score_loss(y, p), rel=1e-12)
    with pytest.raises(DataError, match="normalized entropy needs at least two classes in y_true"):
        M.normalized_entropy(y, p)
    assert M.accuracy(y, y) == 1.0


@pytest.mark.parametrize("n_bins", [5, 10, 15])
def test_ece_matches_calibration_curve(n_bins):
    y, p, _ = _binary(3, n=500)
    p = np.round(p, 2)  # put values on bin edges too
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0, 1, n_bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=n_bins)
    counts = counts[counts > 0]
    expected = np.sum(counts / len(y) * np.abs(prob_true - prob_pred))
    assert M.expected_calibration_error(y, p, n_bins=n_bins) == pytest.approx(expected, rel=1e-12)


def test_multiclass_ece_is_top_label():
    y, P = _multi(4)
    conf, hit = P.max(1), (P.argmax(1) == y).astype(float)
    prob_true, prob_pred = calibration_curve(hit, conf, n_bins=10)
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], conf), minlength=10)
    expected = np.sum(counts[counts > 0] / len(y) * np.abs(prob_true - prob_pred))
    assert M.expected_calibration_error(y, P) == pytest.approx(expected, rel=1e-12)


def test_calibration_ratio_and_normalized_entropy():
    y, p, w = _binary(5)
    assert M.calibration_ratio(y, p) == pytest.approx(y.mean() / p.mean(), rel=1e-12)
    assert M.calibration_ratio(y, p, sample_weight=w) == pytest.approx(np.sum(w * y) / np.sum(w * p), rel=1e-12)
    base = np.full(len(y), y.mean())
    assert M.normalized_entropy(y, p) == pytest.approx(skm.log_loss(y, p) / skm.log_loss(y, base), rel=1e-12)
    assert M.normalized_entropy(y, base) == pytest.approx(1.0, rel=1e-12)
    ym, P = _multi(5)
    prior = np.bincount(ym) / len(ym)
    assert M.normalized_entropy(ym, P) == pytest.approx(
        skm.log_loss(ym, P) / skm.log_loss(ym, np.tile(prior, (len(ym), 1))), rel=1e-12)


def test_compute_metrics_registry():
    y, p, _ = _binary(6)
    classes = np.array(["neg", "pos"])
    ys = classes[y]
    P = np.column_stack([1 - p, p])
    out = M.compute_metrics(["accuracy", "log_loss", "roc_auc", "f1", "brier", "ne", "calibration_ratio"], ys, P, classes)
    yp = classes[(p > 0.5).astype(int)]
    assert out["accuracy"] == pytest.approx(skm.accuracy_score(ys, yp))
    assert out["log_loss"] == pytest.approx(skm.log_loss(ys, P))
    assert out["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert out["f1"] == pytest.approx(skm.f1_score(ys, yp, pos_label="pos"))
    assert out["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    assert out["calibration_ratio"] == pytest.approx(y.mean() / p.mean())
    ym, Pm = _multi(6)
    out = M.compute_metrics(["f1", "balanced_accuracy", "roc_auc_ovo", "average_precision"], ym, Pm, [0, 1, 2, 3])
    assert out["f1"] == pytest.approx(skm.f1_score(ym, Pm.argmax(1), average="macro"))
    assert out["roc_auc_ovo"] == pytest.approx(skm.roc_auc_score(ym, Pm, multi_class="ovo"))


def test_errors_are_pinned():
    y, p, _ = _binary(1)
    with pytest.raises(ConfigError, match="unknown metric 'rocauc'. Did you mean 'roc_auc'"):
        M.compute_metrics(["rocauc"], y, np.column_stack([1 - p, p]), [0, 1])
    with pytest.raises(DataError, match=r"proba must have shape \(n, 3\)"):
        M.compute_metrics(["accuracy"], y, np.column_stack([1 - p, p]), [0, 1, 2])
    with pytest.raises(DataError, match="proba has 3 columns but there are 4 classes"):
        M.log_loss([0, 1, 2, 3], np.full((4, 3), 1 / 3))
    with pytest.raises(DataError, match=r"y_true has label 5 at row 2 that is not among the classes \[0, 1\]"):
        M.log_loss([0, 1, 5], np.full((3, 2), 0.5), classes=[0, 1])
    with pytest.raises(DataError, match="proba has values outside"):
        M.log_loss(y, p * 3 - 1)
    with pytest.raises(DataError, match="y_true has 200 rows but proba has 199"):
        M.roc_auc(y, p[:-1])
    with pytest.raises(DataError, match="average='binary' needs two labels"):
        M.f1([0, 1, 2], [0, 1, 2])
    with pytest.raises(ConfigError, match="average='mean' is invalid"):
        M.f1(y, y, average="mean")
    with pytest.raises(DataError, match="calibration_ratio is defined for two classes"):
        M.compute_metrics(["calibration_ratio"], *_multi(1), [0, 1, 2, 3])
    with pytest.raises(DataError, match="proba is 1-D"):
        M.roc_auc([0, 1, 2], [0.1, 0.2, 0.3])
