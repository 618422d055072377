"""Tables a person reads: grouped prevalence (the lecture's Table 2)."""
from __future__ import annotations

import numpy as np


def grouped_prevalence(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> list[dict]:
    """Count, positives and percentage of positives per bin [edges[k], edges[k+1]).

    With x = age, y = CD and edges 20, 30, ..., 90 this is the lecture's Table 2.
    Returns one dict per bin: ``group`` ("20-29"), ``low``, ``high``, ``n``,
    ``positive``, ``percent`` (NaN for an empty bin).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (x >= lo) & (x < hi)
        n = int(inside.sum())
        pos = int(y[inside].sum())
        label = f"{lo:g}-{hi - 1:g}" if float(lo).is_integer() and float(hi).is_integer() else f"[{lo:g}, {hi:g})"
        rows.append({"group": label, "low": float(lo), "high": float(hi), "n": n,
                     "positive": pos, "percent": 100.0 * pos / n if n else float("nan")})
    return rows


def format_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Plain-text table: columns are (key, header, format spec)."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        cells.append([format(r[k], f) if r[k] == r[k] else "-" for k, _, f in columns])
    widths = [max(len(row[j]) for row in cells) for j in range(len(columns))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
