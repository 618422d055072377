"""Matplotlib set-up shared by every plot: the Agg backend, one ``save`` helper, and how a
plot degrades on absurd input.

Every text of a figure (tick labels, legend entries, axis labels, titles) longer than
``MAX_LABEL`` characters is cut to that length when the figure is saved, so a 2 MB
category value or column name makes a short label, not a figure too large to draw. A
plot that still cannot be drawn (a figure past the renderer's size limit, values
matplotlib cannot place) is skipped with a ``PlotSkippedWarning`` naming the file and
the reason; the run that asked for it goes on (the run record lists the warning).
"""
from __future__ import annotations

import functools
import inspect
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.ticker import FixedFormatter, FixedLocator  # noqa: E402

from logitkit._util.errors import UserError  # noqa: E402

#: longest text drawn in a figure; longer labels are cut, ending in an ellipsis
MAX_LABEL = 40
#: what a plot that cannot be drawn raises (a UserError, e.g. a misuse of the function, is not skipped)
_CANNOT_DRAW = (ValueError, OverflowError, MemoryError, RuntimeError, FloatingPointError)


class PlotSkippedWarning(UserWarning):
    """A plot could not be drawn from these values and was skipped (the message says which and why)."""


def short(text, limit: int = MAX_LABEL) -> str:
    """``str(text)`` on one line, at most ``limit`` characters (cut ones end in '…')."""
    s = " ".join(str(text).split()) if "\n" in str(text)[: limit * 4] else str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _shorten_texts(fig) -> None:
    for ax in fig.axes:  # tick labels are made by the axis' formatter at each draw: replace it
        for axis in (ax.xaxis, ax.yaxis):
            loc = axis.get_major_locator()
            if isinstance(loc, FixedLocator):
                fmt = axis.get_major_formatter()
                labels = [str(fmt(v, i)) for i, v in enumerate(loc.locs)]
                if any(len(s) > MAX_LABEL for s in labels):
                    axis.set_major_formatter(FixedFormatter([short(s) for s in labels]))
    for t in fig.findobj(Text):
        s = t.get_text()
        if len(s) > MAX_LABEL:
            t.set_text(short(s))


def save(fig, path) -> Path:
    """Write ``fig`` as a PNG (or the format ``path``'s suffix names), close it, return the path.

    Texts longer than ``MAX_LABEL`` characters are cut first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _shorten_texts(fig)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def skippable(plot):
    """A plot function that, when its figure cannot be drawn, warns (``PlotSkippedWarning``)
    and returns None instead of raising: a run does not fail for want of one picture."""

    @functools.wraps(plot)
    def run(*args, **kwargs):
        before = set(plt.get_fignums())
        try:
            return plot(*args, **kwargs)
        except UserError:
            raise
        except _CANNOT_DRAW as exc:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)
            path = inspect.signature(plot).bind_partial(*args, **kwargs).arguments.get("path", plot.__name__)
            reason = short(f"{type(exc).__name__}: {exc}", 200)
            warnings.warn(PlotSkippedWarning(f"{Path(str(path)).name} skipped: {reason}"), stacklevel=2)
            return None

    return run


__all__ = ["plt", "save", "short", "skippable", "PlotSkippedWarning", "MAX_LABEL"]
