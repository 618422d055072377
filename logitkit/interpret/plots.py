"""Plots saved as PNG (matplotlib, Agg backend): each function takes arrays and a path,
writes one file and returns its path.

This module holds the data and link plots (dot plot, grouped prevalence with the
fitted sigmoid, logit vs probability) and re-exports the rest, so every plot is
``logitkit.interpret.plots.<name>``:

- ``diagnostics``: ``roc_plot``, ``pr_plot``, ``calibration_plot``, ``confusion_matrix_plot``
- ``model_plots``: ``odds_ratio_plot``, ``loss_plot``, ``regularisation_path_plot``,
  ``cv_curve_plot``, ``decision_boundary_plot``
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from logitkit.interpret._figure import plt, save, skippable
from logitkit.interpret.diagnostics import calibration_plot, confusion_matrix_plot, pr_plot, roc_plot
from logitkit.interpret.model_plots import (
    cv_curve_plot,
    decision_boundary_plot,
    loss_plot,
    odds_ratio_plot,
    regularisation_path_plot,
)
from logitkit.interpret.tables import grouped_prevalence

_save = save  # kept for callers of the first version


@skippable
def dot_plot(x, y, path, *, xlabel: str = "x", ylabel: str = "y", title: str | None = None) -> Path:
    """Each observation as a dot: feature on the x-axis, 0/1 label on the y-axis (the lecture's
    dot plot of Table 1). Coincident points are drawn darker."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.scatter(np.asarray(x), np.asarray(y), s=28, alpha=0.6, color="tab:blue", edgecolor="none")
    ax.set_yticks([0, 1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"Dot plot: {ylabel} against {xlabel}")
    ax.grid(alpha=0.3)
    return save(fig, path)


@skippable
def prevalence_plot(x, y, edges, proba: Callable[[np.ndarray], np.ndarray], path, *,
                    xlabel: str = "x", ylabel: str = "P(y = 1)", title: str | None = None) -> Path:
    """Share of positives per group (at the group midpoints, Table 2) with the fitted sigmoid
    ``proba(grid)`` (a callable mapping feature values (m,) to P(y=1) (m,)) over them."""
    rows = grouped_prevalence(x, y, np.asarray(edges))
    mids = np.array([(r["low"] + r["high"]) / 2 for r in rows])
    share = np.array([r["percent"] / 100 for r in rows])
    grid = np.linspace(float(edges[0]), float(edges[-1]), 300)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(grid, proba(grid), color="tab:red", label="fitted P(y=1 | x)")
    ax.scatter(mids, share, s=40, color="tab:blue", zorder=3, label="observed share per group")
    ax.scatter(np.asarray(x), np.asarray(y), s=10, alpha=0.35, color="grey", label="observations")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Group prevalence and the fitted sigmoid")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return save(fig, path)


@skippable
def logit_plot(path, z=None, *, title: str | None = None) -> Path:
    """Two panels: the logistic function pi = 1 / (1 + e^-z) over ``z`` (default -6..6),
    and its inverse, the logit z = log(pi / (1 - pi)), over (0, 1)."""
    z = np.linspace(-6, 6, 241) if z is None else np.asarray(z, dtype=float)
    p = np.linspace(0.002, 0.998, 241)
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.2))
    a.plot(z, 1 / (1 + np.exp(-z)), color="tab:red")
    a.axhline(0.5, color="grey", lw=0.8, ls=":")
    a.set_xlabel("z = w·x (log-odds)")
    a.set_ylabel("π = sigmoid(z)")
    a.set_title("logistic (sigmoid)")
    b.plot(p, np.log(p / (1 - p)), color="tab:blue")
    b.axhline(0.0, color="grey", lw=0.8, ls=":")
    b.set_xlabel("π (probability)")
    b.set_ylabel("logit(π) = log(π / (1 − π))")
    b.set_title("logit")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return save(fig, path)


__all__ = [
    "dot_plot", "prevalence_plot", "logit_plot", "roc_plot", "pr_plot", "calibration_plot",
    "confusion_matrix_plot", "odds_ratio_plot", "loss_plot", "regularisation_path_plot",
    "cv_curve_plot", "decision_boundary_plot",
]
