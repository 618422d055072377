"""Matplotlib set-up shared by every plot: the Agg backend and one ``save`` helper."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save(fig, path) -> Path:
    """Write ``fig`` as a PNG (or the format ``path``'s suffix names), close it, return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


__all__ = ["plt", "save"]
