"""Classification metrics computed in torch; inputs may be NumPy arrays or torch tensors.

Conventions (they follow scikit-learn, and the tests check every metric against it):

* ``y_true`` holds labels (numbers or strings); ``y_pred`` holds predicted labels.
* ``proba`` is either a 1-D score / probability of the positive class (binary; the
  positive class is ``pos_label``, default 1), or an (n, K) matrix whose columns follow
  ``classes`` (default: the sorted labels of ``y_true``), as ``predict_proba`` returns.
* ``sample_weight`` (n,) is optional everywhere; results are weighted means.
* Results are Python floats (or NumPy arrays for the confusion matrix).

Edge cases, pinned by tests: a ranking metric (ROC-AUC, average precision) needs both
classes in ``y_true`` and raises ``DataError`` otherwise — except average precision
when every row is positive, which is 1.0 (as in scikit-learn). Precision/recall/F1 with
an empty denominator are ``zero_division`` (default 0.0). Normalized entropy needs both
classes (the base-rate entropy is 0 otherwise). Probabilities are clipped to
[eps, 1 − eps] (eps of float64) inside log losses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from logitkit._util.errors import ConfigError, DataError, did_you_mean
from logitkit.evaluate.metric_inputs import (check_length, device_of, encode_in, label_array, probabilities,
                                             weight_vector)

_F64 = torch.float64
_EPS = float(np.finfo(np.float64).eps)


def _wmean(v: torch.Tensor, w: torch.Tensor) -> float:
    return float((v * w).sum() / w.sum())


# ------------------------------------------------------------- label metrics
def confusion_matrix(y_true, y_pred, labels=None, sample_weight=None) -> np.ndarray:
    """C[i, j] = (weighted) count of rows with true label i predicted as j; shape (K, K).

    ``labels`` (default: the sorted union of y_true and y_pred) orders the rows/columns.
    """
    yt, yp = label_array(y_true), label_array(y_pred)
    check_length(len(yt), len(yp), "y_pred")
    cls = np.unique(np.concatenate([yt, yp])) if labels is None else np.asarray(labels)
    keep = np.isin(yt, cls) & np.isin(yp, cls)
    device = device_of(y_true, y_pred)
    K = len(cls)
    i = torch.as_tensor(encode_in(yt[keep], cls), device=device)
    j = torch.as_tensor(encode_in(yp[keep], cls, "y_pred"), device=device)
    w = weight_vector(sample_weight, len(yt), device)[torch.as_tensor(keep, device=device)]
    C = torch.bincount(i * K + j, weights=w, minlength=K * K).reshape(K, K)
    C = C.cpu().numpy()
    return C.astype(np.int64) if sample_weight is None else C


def accuracy(y_true, y_pred, sample_weight=None) -> float:
    """Weighted fraction of rows with y_pred == y_true."""
    yt, yp = label_array(y_true), label_array(y_pred)
    check_length(len(yt), len(yp), "y_pred")
    device = device_of(y_true, y_pred)
    hit = torch.as_tensor(yt == yp, dtype=_F64, device=device)
    return _wmean(hit, weight_vector(sample_weight, len(yt), device))


def balanced_accuracy(y_true, y_pred, sample_weight=None) -> float:
    """Mean over the classes present in y_true of the per-class recall."""
    C = confusion_matrix(y_true, y_pred, sample_weight=sample_weight).astype(np.float64)
    support = C.sum(1)
    present = support > 0
    return float(np.mean(np.diag(C)[present] / support[present]))


def _prf_counts(y_true, y_pred, average: str, pos_label, sample_weight):
    """Per-label (tp, predicted, true) counts, selected/pooled per ``average``."""
    if average not in ("binary", "macro", "micro"):
        raise ConfigError(f"average={average!r} is invalid; use 'binary', 'macro' or 'micro'")
    yt, yp = label_array(y_true), label_array(y_pred)
    cls = np.unique(np.concatenate([yt, yp]))
    C = confusion_matrix(yt, yp, labels=cls, sample_weight=sample_weight).astype(np.float64)
    tp, pred, true = np.diag(C), C.sum(0), C.sum(1)
    if average == "binary":
        if len(cls) > 2:
            raise DataError(
                f"average='binary' needs two labels but y_true/y_pred have {len(cls)} "
                f"({cls.tolist()[:10]}); use average='macro' or 'micro'"
            )
        if pos_label not in cls.tolist():
            if len(cls) == 2:
                raise DataError(
                    f"pos_label={pos_label!r} is not a label of y_true/y_pred ({cls.tolist()}); "
                    "pass pos_label= naming the positive class"
                )
            return np.zeros(1), np.zeros(1), np.zeros(1)
        k = cls.tolist().index(pos_label)
        return tp[k : k + 1], pred[k : k + 1], true[k : k + 1]
    if average == "micro":
        return tp.sum(keepdims=True), pred.sum(keepdims=True), true.sum(keepdims=True)
    return tp, pred, true


def _ratio(num: np.ndarray, den: np.ndarray, zero_division: float) -> float:
    safe = np.where(den > 0, den, 1.0)
    return float(np.mean(np.where(den > 0, num / safe, zero_division)))


def precision(y_true, y_pred, average: str = "binary", pos_label=1, zero_division: float = 0.0, sample_weight=None) -> float:
    """tp / (tp + fp): per ``pos_label`` ("binary"), averaged over labels ("macro") or pooled ("micro")."""
    tp, pred, _ = _prf_counts(y_true, y_pred, average, pos_label, sample_weight)
    return _ratio(tp, pred, zero_division)


def recall(y_true, y_pred, average: str = "binary", pos_label=1, zero_division: float = 0.0, sample_weight=None) -> float:
    """tp / (tp + fn); ``average`` as in ``precision``."""
    tp, _, true = _prf_counts(y_true, y_pred, average, pos_label, sample_weight)
    return _ratio(tp, true, zero_division)


def f1(y_true, y_pred, average: str = "binary", pos_label=1, zero_division: float = 0.0, sample_weight=None) -> float:
    """2·tp / (2·tp + fp + fn), the harmonic mean of precision and recall, per label."""
    tp, pred, true = _prf_counts(y_true, y_pred, average, pos_label, sample_weight)
    return _ratio(2 * tp, pred + true, zero_division)


# ------------------------------------------------------- probability metrics
def log_loss(y_true, proba, classes=None, pos_label=1, sample_weight=None) -> float:
    """mean_i −log p_i(y_i), with p clipped to [eps, 1 − eps]."""
    d = probabilities(y_true, proba, classes, pos_label, sample_weight)
    nll = -(d.Y * torch.log(d.P.clamp(_EPS, 1 - _EPS))).sum(1)
    return _wmean(nll, d.w)


def brier_score(y_true, proba, classes=None, pos_label=1, sample_weight=None) -> float:
    """Binary: mean (p − y)². K > 2 classes: mean Σ_k (p_k − [y = k])² (scikit-learn's scaling)."""
    d = probabilities(y_true, proba, classes, pos_label, sample_weight)
    if d.binary:
        return _wmean((d.P[:, 1] - d.Y[:, 1]) ** 2, d.w)
    return _wmean(((d.P - d.Y) ** 2).sum(1), d.w)


def normalized_entropy(y_true, proba, classes=None, pos_label=1, sample_weight=None) -> float:
    """Log loss divided by the entropy of the base rate, −Σ_k π_k log π_k (π = class frequencies).

    1.0 means no better than always predicting the base rate; lower is better.
    """
    d = probabilities(y_true, proba, classes, pos_label, sample_weight)
    pi = (d.Y * d.w[:, None]).sum(0) / d.w.sum()
    h = float(-(torch.special.xlogy(pi, pi)).sum())
    if h <= 0:
        raise DataError("normalized entropy needs at least two classes in y_true (the base-rate entropy is 0)")
    nll = -(d.Y * torch.log(d.P.clamp(_EPS, 1 - _EPS))).sum(1)
    return _wmean(nll, d.w) / h


def calibration_ratio(y_true, proba, classes=None, pos_label=1, sample_weight=None) -> float:
    """Observed / predicted positive rate, Σ w·y / Σ w·p (binary); 1.0 is calibrated-in-the-large."""
    d = probabilities(y_true, proba, classes, pos_label, sample_weight)
    if not d.binary:
        raise DataError("calibration_ratio is defined for two classes; y_true/proba have more")
    predicted = float((d.w * d.P[:, 1]).sum())
    if predicted <= 0:
        raise DataError("calibration_ratio is undefined: every predicted probability is 0")
    return float((d.w * d.Y[:, 1]).sum()) / predicted


def expected_calibration_error(y_true, proba, n_bins: int = 10, classes=None, pos_label=1, sample_weight=None) -> float:
    """ECE = Σ_b (W_b / W) · |mean_b(outcome) − mean_b(confidence)|.

    Binning: ``n_bins`` equal-width bins on [0, 1]; bin b holds the confidences in
    (b/n_bins, (b+1)/n_bins] (the first bin also holds 0) — scikit-learn's
    ``calibration_curve(strategy="uniform")`` binning. Binary: confidence = p(positive),
    outcome = y (a reliability diagram). K > 2 classes: top-label ECE, confidence =
    max_k p_k, outcome = [argmax_k p_k = y].
    """
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ConfigError(f"n_bins={n_bins!r} is invalid; expected an integer >= 1")
    d = probabilities(y_true, proba, classes, pos_label, sample_weight)
    if d.binary:
        conf, outcome = d.P[:, 1].contiguous(), d.Y[:, 1]
    else:
        conf, top = d.P.max(1)
        outcome = d.Y.gather(1, top[:, None])[:, 0]
    inner = torch.linspace(0, 1, n_bins + 1, dtype=_F64, device=conf.device)[1:-1]
    b = torch.bucketize(conf, inner, right=False)
    gap = torch.zeros(n_bins, dtype=_F64, device=conf.device).index_add_(0, b, d.w * (outcome - conf))
    return float(gap.abs().sum() / d.w.sum())


# ---------------------------------------------------------- ranking metrics
def _binary_curve(y: torch.Tensor, s: torch.Tensor, w: torch.Tensor):
    """Cumulative (fp, tp) weights at each distinct score, highest score first."""
    s_sorted, order = torch.sort(s, descending=True, stable=True)
    y, w = y[order], w[order]
    last = torch.ones_like(s_sorted, dtype=torch.bool)
    last[:-1] = s_sorted[1:] != s_sorted[:-1]  # last row of each tied group
    tps = torch.cumsum(w * y, 0)[last]
    fps = torch.cumsum(w * (1 - y), 0)[last]
    return fps, tps


def _need_both(y: torch.Tensor, what: str) -> None:
    if bool((y > 0).all()) or bool((y == 0).all()):
        raise DataError(
            f"only one class is present in y_true; {what} is not defined then. "
            "Evaluate on data holding both classes (e.g. a stratified split)"
        )


def _auc_binary(y: torch.Tensor, s: torch.Tensor, w: torch.Tensor) -> float:
    """Area under the ROC curve by the trapezoidal rule (= Mann–Whitney with ties as ½)."""
    _need_both(y, "ROC-AUC")
    fps, tps = _binary_curve(y, s, w)
    zero = torch.zeros(1, dtype=_F64, device=s.device)
    fpr = torch.cat([zero, fps / fps[-1]])
    tpr = torch.cat([zero, tps / tps[-1]])
    return float(torch.trapezoid(tpr, fpr))


def _ap_binary(y: torch.Tensor, s: torch.Tensor, w: torch.Tensor) -> float:
    """Σ_n (R_n − R_{n−1}) · P_n over distinct thresholds, highest first (no interpolation)."""
    if bool((y == 0).all()):
        raise DataError(
            "y_true has no positive rows; average precision is not defined then. "
            "Evaluate on data holding both classes"
        )
    fps, tps = _binary_curve(y, s, w)
    prec = tps / (tps + fps)
    rec = tps / tps[-1]
    drec = torch.diff(rec, prepend=torch.zeros(1, dtype=_F64, device=s.device))
    return float((drec * prec).sum())


def _average(scores: list[float], weights: list[float], average: str) -> float:
    if average == "macro":
        return float(np.mean(scores))
    return float(np.average(scores, weights=weights))


def roc_auc(y_true, proba, multi_class: str = "ovr", average: str = "macro", classes=None, pos_label=1, sample_weight=None) -> float:
    """ROC-AUC. Binary: the area under the ROC curve of the positive-class score (tied
    scores count ½). K > 2 classes (proba (n, K)): "ovr" averages the K one-vs-rest
    AUCs; "ovo" (Hand & Till) averages, over class pairs (a, b) and the rows of those
    two classes, (AUC(a | p_a) + AUC(b | p_b)) / 2. ``average``: "macro" (plain mean) or
    "weighted" (by class prevalence for ovr, pair prevalence for ovo).
    """
    if multi_class not in ("ovr", "ovo"):
        raise ConfigError(f"multi_class={multi_class!r} is invalid; use 'ovr' or 'ovo'")
    if average not in ("macro", "weighted"):
        raise ConfigError(f"average={average!r} is invalid; use 'macro' or 'weighted'")
    d = probabilities(y_true, proba, classes, pos_label, sample_weight)
    if d.binary:
        return _auc_binary(d.Y[:, 1], d.P[:, 1], d.w)
    K = d.P.shape[1]
    if multi_class == "ovr":
        scores = [_auc_binary(d.Y[:, k], d.P[:, k], d.w) for k in range(K)]
        return _average(scores, (d.Y * d.w[:, None]).sum(0).tolist(), average)
    scores, weights = [], []
    for a in range(K):
        for b in range(a + 1, K):
            rows = (d.Y[:, a] + d.Y[:, b]) > 0
            ya, w = d.Y[rows, a], d.w[rows]
            s_ab = _auc_binary(ya, d.P[rows, a], w)
            s_ba = _auc_binary(1 - ya, d.P[rows, b], w)
            scores.append((s_ab + s_ba) / 2)
            weights.append(float(rows.to(_F64).mean()))
    return _average(scores, weights, average)


def average_precision(y_true, proba, classes=None, pos_label=1, sample_weight=None) -> float:
    """Area under the precision–recall curve as Σ_n (R_n − R_{n−1}) P_n (PR-AUC).

    K > 2 classes: the macro mean of the one-vs-rest values.
    """
    d = probabilities(y_true, proba, classes, pos_label, sample_weight)
    if d.binary:
        return _ap_binary(d.Y[:, 1], d.P[:, 1], d.w)
    return float(np.mean([_ap_binary(d.Y[:, k], d.P[:, k], d.w) for k in range(d.P.shape[1])]))


# ---------------------------------------------------------------- registry
@dataclass(frozen=True)
class Metric:
    """A named metric of (y_true, proba (n, K), classes); ``greater_is_better`` is None
    for a metric with a target value rather than a direction (calibration_ratio)."""

    fn: Callable[[np.ndarray, torch.Tensor, np.ndarray], float]
    greater_is_better: bool | None


def _predicted(y, P, classes):
    return classes[torch.as_tensor(P).argmax(1).cpu().numpy()]


def _label_metric(fn, average_multi: str, average_binary: str = "binary"):
    def metric(y, P, classes):
        avg = average_binary if len(classes) == 2 else average_multi
        kw = {"pos_label": classes[-1]} if avg == "binary" else {}
        return fn(y, _predicted(y, P, classes), average=avg, **kw)

    return metric


def _calibration_ratio_metric(y, P, classes) -> float:
    if len(classes) != 2:
        raise DataError(f"calibration_ratio is defined for two classes; there are {len(classes)}")
    return calibration_ratio(y, P, classes=classes)


METRICS: dict[str, Metric] = {
    "accuracy": Metric(lambda y, P, c: accuracy(y, _predicted(y, P, c)), True),
    "balanced_accuracy": Metric(lambda y, P, c: balanced_accuracy(y, _predicted(y, P, c)), True),
    "precision": Metric(_label_metric(precision, "macro"), True),
    "recall": Metric(_label_metric(recall, "macro"), True),
    "f1": Metric(_label_metric(f1, "macro"), True),
    "f1_macro": Metric(_label_metric(f1, "macro", "macro"), True),
    "f1_micro": Metric(_label_metric(f1, "micro", "micro"), True),
    "log_loss": Metric(lambda y, P, c: log_loss(y, P, classes=c), False),
    "roc_auc": Metric(lambda y, P, c: roc_auc(y, P, classes=c), True),
    "roc_auc_ovo": Metric(lambda y, P, c: roc_auc(y, P, multi_class="ovo", classes=c), True),
    "average_precision": Metric(lambda y, P, c: average_precision(y, P, classes=c), True),
    "brier": Metric(lambda y, P, c: brier_score(y, P, classes=c), False),
    "ece": Metric(lambda y, P, c: expected_calibration_error(y, P, classes=c), False),
    "ne": Metric(lambda y, P, c: normalized_entropy(y, P, classes=c), False),
    "calibration_ratio": Metric(lambda y, P, c: _calibration_ratio_metric(y, P, c), None),
}


def get_metric(name: str) -> Metric:
    """The registry entry for ``name``; ConfigError naming the closest name otherwise."""
    if name not in METRICS:
        raise ConfigError(
            f"unknown metric {name!r}.{did_you_mean(name, METRICS)} "
            f"Known metrics: {', '.join(sorted(METRICS))}"
        )
    return METRICS[name]


def compute_metrics(names: list[str], y_true, proba, classes) -> dict[str, float]:
    """{name: value} for each metric in ``names``.

    ``proba`` is (n, K) with columns following ``classes`` (a fitted model's
    ``classes_``); predicted labels are the argmax. Two classes: precision, recall and f1
    are for the positive class ``classes[1]``; more classes: their macro averages.
    """
    metrics = [get_metric(n) for n in names]  # validate every name first
    classes = np.asarray(classes)
    y = label_array(y_true)
    P = proba if isinstance(proba, torch.Tensor) else np.asarray(proba, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] != len(classes):
        raise DataError(
            f"proba must have shape (n, {len(classes)}) (one column per class), got {tuple(P.shape)}"
        )
    return {n: float(m.fn(y, P, classes)) for n, m in zip(names, metrics)}
