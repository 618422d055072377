"""Line charts as SVG text, without matplotlib.

The CTR run draws its plots here: matplotlib takes about 0.6 s and 45 MB to import,
a fifth of a whole million-row ``logitkit run`` (docs/ctr.md), for three line charts.
An SVG chart is a few hundred bytes of text, sharp at any size, and the report embeds
it like a PNG (a ``data:`` URI). ``line_chart`` draws series of (x, y) points on
linear or logarithmic axes with ticks at 1, 2, 5 × 10^k (log: the powers of ten, and
2 and 5 between them when the range is short), a legend, and optionally the diagonal
y = x (calibration, ROC).
"""
from __future__ import annotations

import math
from html import escape

import numpy as np

COLOURS = ("#1f5fae", "#d1495b", "#2e933c", "#8f5db7", "#e08e0b")


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round numbers (1, 2, 5 × 10^k steps) covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten in [lo, hi]; with 2 and 5 × 10^k too when that is under three of them."""
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    ticks = [10.0 ** k for k in range(k0, k1 + 1) if lo <= 10.0 ** k <= hi]
    if len(ticks) < 3:
        ticks = sorted(t for k in range(k0, k1 + 1) for t in (10.0 ** k, 2 * 10.0 ** k, 5 * 10.0 ** k) if lo <= t <= hi)
    return ticks


def _label(v: float) -> str:
    """1k, 20k, 1M for large values; 1e-04 style for tiny ones; else 4 significant digits."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{v / size:.4g}{suffix}"
    if v != 0 and abs(v) < 1e-3:
        return f"{v:.0e}"
    return f"{v:.4g}"


def line_chart(series: list[dict], title: str, x_label: str, y_label: str, log_x: bool = False,
               x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
               diagonal: bool = False, legend: str = "top", width: int = 520, height: int = 340) -> str:
    """An SVG document: one line per series {"label", "x", "y", optional "markers": bool}.

    ``log_x``: a logarithmic x axis (x > 0); the ranges default to the data's (with a
    margin for y); ``diagonal`` draws y = x dotted; ``legend`` in the plot's top or
    bottom right corner."""
    left, right, top, bottom = 64, 16, 34, 48
    pw, ph = width - left - right, height - top - bottom
    xs = np.concatenate([np.asarray(s["x"], np.float64) for s in series])
    ys = np.concatenate([np.asarray(s["y"], np.float64) for s in series])
    x0, x1 = x_range or (float(xs.min()), float(xs.max()))
    if y_range is None:
        pad = 0.05 * (float(ys.max()) - float(ys.min()) or abs(float(ys.max())) or 1.0)
        y_range = (float(ys.min()) - pad, float(ys.max()) + pad)
    y0, y1 = y_range
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    fx = (lambda v: (math.log10(v) - math.log10(x0)) / (math.log10(x1) - math.log10(x0))) if log_x else \
        (lambda v: (v - x0) / (x1 - x0))

    def X(v: float) -> float:
        return left + pw * fx(v)

    def Y(v: float) -> float:
        return top + ph * (1 - (v - y0) / (y1 - y0))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="#fff"/>',
           f'<text x="{width / 2:.1f}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>']
    for t in (_log_ticks(x0, x1) if log_x else _nice_ticks(x0, x1)):
        out.append(f'<line x1="{X(t):.1f}" y1="{top}" x2="{X(t):.1f}" y2="{top + ph}" stroke="#e4e7eb"/>'
                   f'<text x="{X(t):.1f}" y="{top + ph + 16}" text-anchor="middle">{_label(t)}</text>')
    for t in _nice_ticks(y0, y1):
        out.append(f'<line x1="{left}" y1="{Y(t):.1f}" x2="{left + pw}" y2="{Y(t):.1f}" stroke="#e4e7eb"/>'
                   f'<text x="{left - 6}" y="{Y(t) + 4:.1f}" text-anchor="end">{_label(t)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#5b6570"/>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 8}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text transform="translate(14 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle">'
               f'{escape(y_label)}</text>')
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        out.append(f'<line x1="{X(lo):.1f}" y1="{Y(lo):.1f}" x2="{X(hi):.1f}" y2="{Y(hi):.1f}" '
                   'stroke="#888" stroke-dasharray="4 4"/>')
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        pts = [(X(float(a)), Y(float(b))) for a, b in zip(s["x"], s["y"])]
        path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if s.get("markers"):
            out.extend(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in pts)
        ly = top + 14 + 16 * i if legend == "top" else top + ph - 8 - 16 * (len(series) - 1 - i)
        out.append(f'<line x1="{left + pw - 150}" y1="{ly - 4}" x2="{left + pw - 130}" y2="{ly - 4}" '
                   f'stroke="{colour}" stroke-width="2"/><text x="{left + pw - 125}" y="{ly}">{escape(s["label"])}</text>')
    out.append("</svg>")
    return "\n".join(out)
