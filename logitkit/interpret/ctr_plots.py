"""The plots of a CTR run (``model.kind: hashed``), as SVG (``interpret.svg``).

* ``progressive_loss_plot``: the progressive log loss (each row scored before it is
  learned) against the rows seen, on a log axis: Vowpal Wabbit's view of learning;
* ``pass_loss_plot``: each pass's progressive loss and holdout loss, when there are
  two passes or more (one pass is one number, in the report's table);
* ``reliability_plot``: observed click rate against mean predicted probability per bin
  of the test predictions, with the diagonal of perfect calibration;
* ``roc_plot``: the test ROC curve.

The test plots are drawn from the streaming accumulators (``evaluate.streaming.AUC``'s
histogram), not from the predictions, which are never held. Each function writes one
file and returns its path, or None when there is nothing to draw (no plot of one point).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from logitkit.interpret.svg import line_chart


def _write(path: Path, svg: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg, encoding="utf-8")
    return path


def progressive_loss_plot(points: list, path: Path, test_loss: float | None = None) -> Path | None:
    """``points``: (rows seen, mean progressive log loss) of the first pass; with
    ``test_loss`` a flat line at the test file's log loss for comparison."""
    if len(points) < 2:
        return None
    rows = np.array([p[0] for p in points], np.float64)
    series = [{"label": "progressive (train)", "x": rows, "y": [p[1] for p in points]}]
    if test_loss is not None:
        series.append({"label": "test log loss", "x": [rows[0], rows[-1]], "y": [test_loss, test_loss]})
    return _write(path, line_chart(series, "Progressive log loss", "rows seen (log scale)", "mean log loss",
                                   log_x=True))


def pass_loss_plot(pass_losses: list, holdout_losses: list, path: Path) -> Path | None:
    if len(pass_losses) < 2:
        return None
    x = np.arange(1, len(pass_losses) + 1)
    series = [{"label": "progressive (train)", "x": x, "y": pass_losses, "markers": True}]
    if len(holdout_losses) == len(pass_losses):
        series.append({"label": "holdout", "x": x, "y": holdout_losses, "markers": True})
    return _write(path, line_chart(series, "Log loss per pass", "pass", "mean log loss"))


def reliability_plot(observed, predicted, path: Path) -> Path | None:
    """Per probability bin: observed rate against mean prediction (``AUC.calibration_curve``)."""
    if len(observed) < 2:
        return None
    hi = min(1.0, 1.1 * float(max(np.max(observed), np.max(predicted))))
    series = [{"label": "test rows, by bin", "x": predicted, "y": observed, "markers": True}]
    return _write(path, line_chart(series, "Reliability (test)", "mean predicted probability", "observed click rate",
                                   x_range=(0.0, hi), y_range=(0.0, hi), diagonal=True, legend="bottom"))


def roc_plot(fpr, tpr, auc: float, path: Path, max_points: int = 400) -> Path | None:
    """The ROC curve (``AUC.roc_curve``), thinned to ``max_points`` points along it."""
    if len(fpr) < 3:
        return None
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), max_points)).round().astype(np.int64))
    series = [{"label": f"test, AUC {auc:.4f}", "x": np.asarray(fpr)[keep], "y": np.asarray(tpr)[keep]}]
    return _write(path, line_chart(series, "ROC curve (test)", "false positive rate", "true positive rate",
                                   x_range=(0.0, 1.0), y_range=(0.0, 1.0), diagonal=True, legend="bottom"))
