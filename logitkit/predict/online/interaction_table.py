"""The state of a hashed model with interactions: the token table with a vector per row.

    table (2^b + 1, columns)   row i: [w_i, linear slots | v_i (D), the vectors' slots]
                               (``embed.RowLayout``); row 2^b: the intercept (its v is 0)
    dense (d, 1 + slots)       the dense features' weights and slots, as the linear model's

``InteractionTable`` is a ``table.HashedTable`` over the wider rows: its views ``w``,
``slots``, ``token_w``, ``dense_w`` and the checks of a batch are the linear model's
(the linear part of a row comes first), and it adds ``v`` (every row's vector) and
``vector_slots``. The interaction part (``embed.make_interaction``: the FM, FFM or
DeepFM's MLP) is held beside it, because scoring needs both:

    logit_r = Σ_t w[idx_rt] + inter(v[idx_r1], …, v[idx_rT]) + Σ_j u_j·x_rj + b

``logits`` scores row by row in the layout of ``Interaction.score`` (row-stable: a
row's bits do not depend on the rows scored with it), a few thousand rows at a time.
``tensors`` / ``restore`` use the checkpoint's names: the linear model's (``w``,
``slot.<k>``, ``dense_w``, ``dense_slot.<k>``) plus ``v``, ``v_slot.<k>`` and the MLP's
``tower.*`` (its parameters and its optimiser's state).
"""
from __future__ import annotations

import torch

from logitkit.embed.interactions import Interaction
from logitkit.embed.token_table import RowLayout
from logitkit.predict.online.table import HashedTable

#: rows scored at a time by ``logits`` (bounds the gathered weights: rows × T × (1 + D) floats)
SCORE_ROWS = 4096


class InteractionTable(HashedTable):
    """The wide ``table``, the ``dense`` block and the interaction part ``inter`` (see the
    module docstring); ``layout`` says where each column is."""

    def __init__(self, table: torch.Tensor, dense: torch.Tensor, slot_names: tuple[str, ...],
                 vector_slot_names: tuple[str, ...], inter: Interaction) -> None:
        super().__init__(table, dense, slot_names)
        self.inter, self.vector_slot_names = inter, tuple(vector_slot_names)
        self.layout = RowLayout(inter.width, len(self.slot_names), len(self.vector_slot_names))
        if table.shape[1] != self.layout.columns:
            raise ValueError(f"table has {table.shape[1]} columns; the layout has {self.layout.columns}")
        planes = self.layout.vectors(table)
        self.v = planes[:, 0]
        self.vector_slots = {k: planes[:, j + 1] for j, k in enumerate(self.vector_slot_names)}

    @classmethod
    def new(cls, n_buckets: int, n_dense: int, slot_names: tuple[str, ...], vector_slot_names: tuple[str, ...],
            inter: Interaction, init_scale: float, seed: int, device, dtype) -> "InteractionTable":
        """A new table: w, the slots and the dense block 0; v ~ N(0, init_scale²) drawn on
        the CPU from ``seed`` (``RowLayout.new_table``: the same bits on every device),
        the intercept's v 0."""
        layout = RowLayout(inter.width, len(slot_names), len(vector_slot_names))
        table = layout.new_table(n_buckets + 1, init_scale, seed, device, dtype)
        layout.vectors(table)[-1] = 0.0
        dense = torch.zeros(n_dense, 1 + len(slot_names), device=device, dtype=dtype)
        return cls(table, dense, slot_names, vector_slot_names, inter)

    @classmethod
    def restore(cls, t: dict[str, torch.Tensor], slot_names: tuple[str, ...], vector_slot_names: tuple[str, ...],
                inter: Interaction, device, dtype) -> "InteractionTable":
        """The table of ``tensors()`` on ``device`` in ``dtype``; the MLP's state goes into ``inter``."""
        layout = RowLayout(inter.width, len(slot_names), len(vector_slot_names))
        table = torch.empty(t["w"].shape[0], layout.columns, device=device, dtype=dtype)
        for j, column in enumerate((t["w"], *(t[f"slot.{k}"] for k in slot_names))):
            table[:, j] = column
        planes = layout.vectors(table)
        for j, plane in enumerate((t["v"], *(t[f"v_slot.{k}"] for k in vector_slot_names))):
            planes[:, j] = plane
        dense = torch.stack([t["dense_w"], *(t[f"dense_slot.{k}"] for k in slot_names)], 1).to(device, dtype)
        inter.load_tensors(t)
        return cls(table, dense, slot_names, vector_slot_names, inter)

    def tensors(self) -> dict[str, torch.Tensor]:
        t = super().tensors()
        t["v"] = self.v
        t.update({f"v_slot.{k}": v for k, v in self.vector_slots.items()})
        t.update(self.inter.tensors())
        return t

    def logits(self, idx: torch.Tensor, dense: torch.Tensor | None) -> torch.Tensor:
        """(n, T) indices, (n, d) dense -> (n,) logits, scored ``SCORE_ROWS`` rows at a time."""
        parts = [self.inter.score(self.layout.gather_rows(self.table, idx[s : s + SCORE_ROWS]))
                 for s in range(0, idx.shape[0], SCORE_ROWS)]
        out = (torch.cat(parts) if parts else self.w.new_zeros(0)) + self.w[-1]
        if dense is not None and dense.shape[1]:
            out = out + dense @ self.dense_w
        return out
