"""How good are the predictions: ROC and precision-recall curves, the calibration
(reliability) diagram and the confusion matrix. Each writes a PNG and returns its path.

``score`` may be the positive-class probability or logit (n,), or a probability matrix
(n, K): two columns use column 1; K > 2 columns draw one one-vs-rest curve per class.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import auc, average_precision_score, confusion_matrix, precision_recall_curve, roc_curve

from logitkit._util.errors import DataError
from logitkit.interpret._figure import plt, save, skippable


def as_class_values(y_true, classes):
    """y as values of ``classes``: unchanged when they are, mapped when y holds the class
    indices 0..K-1 instead (e.g. ``np.searchsorted(model.classes_, y)``)."""
    y = np.asarray(y_true)
    if classes is None:
        return y
    classes = np.asarray(classes)
    if np.isin(y, classes).all():
        return y
    if y.dtype.kind in "iu" and len(y) and y.min() >= 0 and y.max() < len(classes):
        return classes[y]
    missing = np.setdiff1d(y, classes)[:3].tolist()
    raise DataError(f"y_true has values {missing} that are not in classes {classes.tolist()}; pass the "
                    "labels the model was fitted on, or class indices 0..K-1")


#: most curves named in a legend, and most classes labelled in a confusion matrix
MAX_LEGEND = 20
MAX_CELLS_TEXT, MAX_TICKS = 25, 60


def _legend(ax, loc: str) -> None:
    """A legend when it stays readable (``MAX_LEGEND`` entries or fewer)."""
    if len(ax.get_legend_handles_labels()[0]) <= MAX_LEGEND:
        ax.legend(loc=loc, fontsize=8)


def _curves(y_true, score, classes=None):
    """(label, y_binary, score_column) per curve."""
    y = as_class_values(y_true, classes)
    s = np.asarray(score, dtype=float)
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    if s.ndim == 1:
        labels = np.unique(y) if classes is None else np.asarray(classes)
        if len(labels) != 2:
            raise DataError(f"a 1-D score needs two classes in y_true, found {len(labels)}; "
                            "pass the (n, K) probability matrix for several classes")
        return [(str(labels[1]), (y == labels[1]).astype(int), s)]
    labels = np.arange(s.shape[1]) if classes is None else np.asarray(classes)
    return [(str(c), (y == c).astype(int), s[:, k]) for k, c in enumerate(labels)]


@skippable
def roc_plot(y_true, score, path, *, classes=None, title: str | None = None) -> Path:
    """ROC curve(s): true-positive rate against false-positive rate, AUC in the legend."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    for label, yb, s in _curves(y_true, score, classes):
        fpr, tpr, _ = roc_curve(yb, s)
        ax.plot(fpr, tpr, lw=1.6, label=f"{label}: AUC = {auc(fpr, tpr):.3f}")
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="chance")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title or "ROC curve")
    _legend(ax, "lower right")
    ax.grid(alpha=0.3)
    ax.set_aspect("equal")
    return save(fig, path)


@skippable
def pr_plot(y_true, score, path, *, classes=None, title: str | None = None) -> Path:
    """Precision-recall curve(s), average precision in the legend; the dotted line is the
    positive rate (a classifier without skill)."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    for label, yb, s in _curves(y_true, score, classes):
        prec, rec, _ = precision_recall_curve(yb, s)
        ax.step(rec, prec, where="post", lw=1.6, label=f"{label}: AP = {average_precision_score(yb, s):.3f}")
        ax.axhline(yb.mean(), color="grey", ls=":", lw=1)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title(title or "Precision-recall curve")
    _legend(ax, "lower left")
    ax.grid(alpha=0.3)
    return save(fig, path)


def calibration_bins(y_true, proba, n_bins: int = 10) -> list[dict]:
    """Equal-width bins of the predicted probability: per bin ``low``, ``high``, ``n``,
    ``mean_predicted`` and ``observed`` (share of positives). Empty bins are dropped."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(proba, dtype=float)
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    rows = []
    for k in range(n_bins):
        inside = idx == k
        if inside.any():
            rows.append({"low": edges[k], "high": edges[k + 1], "n": int(inside.sum()),
                         "mean_predicted": float(p[inside].mean()), "observed": float(y[inside].mean())})
    return rows


@skippable
def calibration_plot(y_true, proba, path, *, n_bins: int = 10, title: str | None = None) -> Path:
    """Reliability diagram for a binary model: observed share of positives against the mean
    predicted probability per bin (on the diagonal = calibrated), with a histogram of the
    predictions below. ``proba``: P(y=1) (n,) or the (n, 2) matrix; y_true in {0, 1}
    (or two labels, the larger is positive)."""
    p = np.asarray(proba, dtype=float)
    p = p[:, 1] if p.ndim == 2 else p
    y = np.asarray(y_true)
    labels = np.unique(y)
    if len(labels) > 2:
        raise DataError(f"calibration_plot is for two classes, y_true has {len(labels)}; "
                        "plot one class against the rest")
    yb = (y == labels[-1]).astype(float) if len(labels) == 2 else y.astype(float)
    rows = calibration_bins(yb, p, n_bins)
    fig, (a, b) = plt.subplots(2, 1, figsize=(4.6, 5.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    a.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfectly calibrated")
    a.plot([r["mean_predicted"] for r in rows], [r["observed"] for r in rows], "o-", color="tab:blue", label="model")
    a.set_ylabel("observed share of positives")
    a.set_title(title or "Calibration (reliability) diagram")
    a.legend(loc="upper left", fontsize=8)
    a.grid(alpha=0.3)
    b.hist(p, bins=np.linspace(0, 1, n_bins + 1), color="tab:blue", alpha=0.6)
    b.set_xlabel("predicted probability")
    b.set_ylabel("count")
    return save(fig, path)


@skippable
def confusion_matrix_plot(y_true, y_pred, path, *, labels=None, normalize: str | None = None,
                          title: str | None = None) -> Path:
    """Confusion matrix as a heat map with the counts (or shares with ``normalize`` =
    "true", "pred" or "all", as in scikit-learn) written in the cells."""
    if labels is None:
        labels = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    labels = np.asarray(labels)
    y_true, y_pred = as_class_values(y_true, labels), as_class_values(y_pred, labels)
    cm = confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
    k = len(labels)
    side = min(1.2 * k + 2.4, 14.0)  # (many classes: a bounded figure, cells without numbers)
    fig, ax = plt.subplots(figsize=(side, min(1.1 * k + 1.8, 13.4)))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    top = cm.max() if cm.size else 1
    for i in range(k if k <= MAX_CELLS_TEXT else 0):
        for j in range(k):
            text = f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", color="white" if cm[i, j] > top / 2 else "black")
    if k <= MAX_TICKS:
        ax.set_xticks(range(k), [str(v) for v in labels])
        ax.set_yticks(range(k), [str(v) for v in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "Confusion matrix")
    return save(fig, path)
