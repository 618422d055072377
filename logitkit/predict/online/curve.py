"""The progressive loss against the rows seen, kept for a plot (Vowpal Wabbit's table).

VW prints its average loss at doubling example counts; ``LossCurve`` keeps the
progressive (score-before-learning) log loss of the first pass at four points per
doubling of the rows, from the first mini-batch on, and the pass's last row: about 40
points for a million rows, what a log-x plot of the learning needs. Reading the loss
sum at a point synchronises with the device, so it is done only at those points.
"""
from __future__ import annotations

STEP = 2 ** 0.25  # four points per doubling


class LossCurve:
    """``points``: (rows seen, mean progressive log loss of those rows), rows increasing."""

    def __init__(self, first_rows: int, points: list | None = None, next_rows: float | None = None):
        self.points: list[tuple[int, float]] = [tuple(p) for p in points or []]
        self.next_rows = float(first_rows if next_rows is None else next_rows)

    def observe(self, pass_: int, rows: int, loss_sum) -> None:
        """After a mini-batch of pass ``pass_`` (0: the first; the others are not kept):
        ``rows`` seen, ``loss_sum`` their summed loss (a tensor)."""
        if pass_ == 0 and rows >= self.next_rows:
            self.points.append((int(rows), float(loss_sum) / rows))
            while self.next_rows <= rows:
                self.next_rows *= STEP

    def close(self, pass_: int, rows: int, loss: float) -> None:
        """The end of pass ``pass_`` (0: the first): its last row and mean loss."""
        if pass_ == 0 and rows and (not self.points or self.points[-1][0] != rows):
            self.points.append((int(rows), float(loss)))

    def to_json(self) -> dict:
        return {"points": [list(p) for p in self.points], "next_rows": self.next_rows}

    @classmethod
    def from_json(cls, d: dict | None, first_rows: int) -> "LossCurve":
        """From ``to_json`` (None: an empty curve, e.g. a checkpoint written before curves)."""
        return cls(first_rows) if d is None else cls(first_rows, d["points"], d["next_rows"])
