"""Plots saved as PNG (matplotlib, Agg backend): each function writes one file and returns its path."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from logitkit.interpret.tables import grouped_prevalence  # noqa: E402


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def dot_plot(x, y, path, *, xlabel: str = "x", ylabel: str = "y", title: str | None = None) -> Path:
    """Each observation as a dot: feature on the x-axis, 0/1 label on the y-axis."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.scatter(np.asarray(x), np.asarray(y), s=28, alpha=0.75, color="tab:blue")
    ax.set_yticks([0, 1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"Dot plot: {ylabel} against {xlabel}")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def prevalence_plot(x, y, edges, proba: Callable[[np.ndarray], np.ndarray], path, *,
                    xlabel: str = "x", ylabel: str = "P(y = 1)", title: str | None = None) -> Path:
    """Share of positives per group (at the group midpoints) with the fitted sigmoid over them."""
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
    return _save(fig, path)
