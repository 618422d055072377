"""``classifier_plots``: the standard set of plots for a fitted classifier, in one call.

What the pipeline writes under ``runs/<run-id>/plots/``; each plot is also callable on
its own from ``logitkit.interpret.plots``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from logitkit.interpret.diagnostics import calibration_plot, confusion_matrix_plot, pr_plot, roc_plot
from logitkit.interpret.model_plots import decision_boundary_plot, loss_plot, odds_ratio_plot

log = logging.getLogger("logitkit.interpret")


def classifier_plots(model, X, y, out_dir, *, coefficients=None, feature_names=None,
                     prefix: str = "") -> list[Path]:
    """Write the plots that apply to ``model`` on (X, y) into ``out_dir``; return their paths.

    Always ``confusion_matrix``; with both classes present in y, ``roc`` and ``pr``
    (one-vs-rest curves for K > 2) and, for two classes, ``calibration``; ``loss`` when
    the model has a ``loss_curve_`` (and ``validation_loss_curve_``); ``odds_ratios`` when
    ``coefficients`` rows (term, odds_ratio, odds_ratio_ci_low/high) are given;
    ``decision_boundary`` when X has two columns. File names are ``prefix + name + .png``.
    """
    out = Path(out_dir)
    X = np.asarray(X, dtype=float) if not hasattr(X, "to_numpy") else X
    y = np.asarray(y)
    classes = np.asarray(model.classes_)
    P = np.asarray(model.predict_proba(X))
    paths = [confusion_matrix_plot(y, model.predict(X), out / f"{prefix}confusion_matrix.png", labels=classes)]
    present = np.isin(classes, y)
    if present.sum() >= 2:
        score = P[:, 1] if len(classes) == 2 else P
        paths.append(roc_plot(y, score, out / f"{prefix}roc.png", classes=classes))
        paths.append(pr_plot(y, score, out / f"{prefix}pr.png", classes=classes))
        if len(classes) == 2:
            yb = (y == classes[1]).astype(int)
            paths.append(calibration_plot(yb, P[:, 1], out / f"{prefix}calibration.png"))
    else:
        log.warning("only one class in y: ROC, PR and calibration plots skipped")
    curve = getattr(model, "loss_curve_", None)
    if curve is not None and len(curve) > 1:
        paths.append(loss_plot(curve, out / f"{prefix}loss.png",
                               validation_loss=getattr(model, "validation_loss_curve_", None),
                               best_iteration=getattr(model, "best_iteration_", None)))
    if coefficients is not None:
        paths.append(odds_ratio_plot(coefficients, out / f"{prefix}odds_ratios.png"))
    if np.ndim(X) == 2 and np.shape(X)[1] == 2:
        names = tuple(feature_names) if feature_names is not None else ("x1", "x2")
        paths.append(decision_boundary_plot(model, np.asarray(X, dtype=float), y,
                                            out / f"{prefix}decision_boundary.png", feature_names=names))
    return paths
