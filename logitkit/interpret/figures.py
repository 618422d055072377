"""The standard plots of a fitted classifier, in one call: what ``logitkit run`` writes
under ``runs/<run-id>/plots/`` and what ``classifier_plots`` writes for a Python user.

    roc.png                ROC curve(s), AUC           both classes present in y
    pr.png                 precision-recall curve(s)   both classes present in y
    calibration.png        reliability diagram         two classes
    confusion.png          confusion matrix            always
    loss_curve.png         training (validation) loss  a model with ``loss_curve_``
    odds_ratios.png        odds ratios with intervals  coefficient rows with intervals
    decision_boundary.png  regions over a grid         ``classifier_plots`` on two features

``prediction_plots`` draws them from labels and predicted probabilities alone (a run
gathers those from every rank; it holds no model inputs there); ``classifier_plots``
predicts them from a model and (X, y). Each plot is also callable on its own from
``logitkit.interpret.plots``. A plot that cannot be drawn from the values given warns
``PlotSkippedWarning`` and is left out of the returned paths.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from logitkit.interpret.diagnostics import (as_class_values, calibration_plot, confusion_matrix_plot, pr_plot,
                                           roc_plot)
from logitkit.interpret.model_plots import decision_boundary_plot, loss_plot, odds_ratio_plot

log = logging.getLogger("logitkit.interpret")


def _title(name: str, split: str | None) -> str | None:
    return f"{name} ({split})" if split else None


def prediction_plots(y, proba, classes, out_dir, *, loss_curve: Sequence[float] | None = None,
                     validation_loss: Sequence[float] | None = None, best_iteration: int | None = None,
                     coefficients=None, split: str | None = None, prefix: str = "") -> list[Path]:
    """Write the standard plots that apply into ``out_dir``; return their paths.

    ``y`` (n,): labels (class values, or indices 0..K-1 into ``classes``); ``proba``
    (n, K): predicted probabilities, columns in the order of ``classes``; ``loss_curve``
    (with ``validation_loss`` and ``best_iteration``): the fit's loss per iteration;
    ``coefficients``: rows with ``term``, ``odds_ratio``, ``odds_ratio_ci_low``,
    ``odds_ratio_ci_high`` (``coefficients.csv``; rows without intervals draw nothing);
    ``split`` ("test") goes into the titles. File names are ``prefix + name + .png``.
    """
    out = Path(out_dir)
    classes = np.asarray(classes)
    P = np.asarray(proba, dtype=float)
    y = as_class_values(y, classes)
    paths = [confusion_matrix_plot(y, classes[P.argmax(1)], out / f"{prefix}confusion.png", labels=classes,
                                   title=_title("Confusion matrix", split))]
    if len(np.unique(y)) >= 2:
        score = P[:, 1] if len(classes) == 2 else P
        paths.append(roc_plot(y, score, out / f"{prefix}roc.png", classes=classes, title=_title("ROC", split)))
        paths.append(pr_plot(y, score, out / f"{prefix}pr.png", classes=classes,
                             title=_title("Precision-recall", split)))
        if len(classes) == 2:
            paths.append(calibration_plot((y == classes[1]).astype(int), P[:, 1], out / f"{prefix}calibration.png",
                                          title=_title("Calibration", split)))
    else:
        log.warning("only one class in y: ROC, PR and calibration plots skipped")
    if loss_curve is not None and len(loss_curve):
        paths.append(loss_plot(loss_curve, out / f"{prefix}loss_curve.png", validation_loss=validation_loss,
                               best_iteration=best_iteration))
    rows = list(coefficients) if coefficients is not None else []
    if any(r.get("odds_ratio_ci_low") is not None for r in rows):
        paths.append(odds_ratio_plot(rows, out / f"{prefix}odds_ratios.png"))
    return [p for p in paths if p is not None]  # (a plot that could not be drawn warned and returned None)


def classifier_plots(model, X, y, out_dir, *, coefficients=None, feature_names=None, split: str | None = None,
                     prefix: str = "") -> list[Path]:
    """``prediction_plots`` of ``model`` on (X, y), its loss curve, and
    ``decision_boundary.png`` when X has two columns (``feature_names`` label the axes)."""
    X = np.asarray(X, dtype=float) if not hasattr(X, "to_numpy") else X
    paths = prediction_plots(y, model.predict_proba(X), model.classes_, out_dir,
                             loss_curve=getattr(model, "loss_curve_", None),
                             validation_loss=getattr(model, "validation_loss_curve_", None),
                             best_iteration=getattr(model, "best_iteration_", None),
                             coefficients=coefficients, split=split, prefix=prefix)
    if np.ndim(X) == 2 and np.shape(X)[1] == 2:
        names = tuple(feature_names) if feature_names is not None else ("x1", "x2")
        paths.append(decision_boundary_plot(model, np.asarray(X, dtype=float), np.asarray(y),
                                            Path(out_dir) / f"{prefix}decision_boundary.png", feature_names=names))
    return [p for p in paths if p is not None]


__all__ = ["prediction_plots", "classifier_plots"]
