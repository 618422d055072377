"""The hashed token table of the interaction models: one row per bucket, weights and
optimiser state side by side, so that a mini-batch reads and writes each touched row once.

A row of the table (2^b buckets, then the intercept's row) holds a linear weight w with
its optimiser's slots, then an interaction width of D floats (FM and DeepFM: one
k-vector v, D = k; FFM: one k-vector per field of the FFM, D = F·k) with theirs:

    [ w, s_1 … s_a | v_1 … v_D, (slot 1 of v_1 … v_D), …, (slot b of v_1 … v_D) ]
      linear part     interaction part: 1 + b planes of D

(a = the linear optimiser's slots, FTRL: z, n; b = the vectors' optimiser's, Adagrad:
n). With D = 0 this is the row of the linear learner as it is. Gathering a mini-batch's
distinct rows (its row plan: ``rows``, ``inv``) with one ``index_select`` gives a block
of u rows; the per-coordinate optimisers, which unbind their argument along dimension 1
into weight and slots and are otherwise elementwise, update it in place through

* ``layout.linear(block)``: (u, 1 + a), the linear part, and
* ``layout.vectors(block)``: (u, 1 + b, D), the interaction part,

each with its own optimiser (FTRL for w and Adagrad for v, say); one ``index_copy_``
writes the block back. ``gather_positions`` spreads the [w, v] of the rows to the
positions, ``sum_by_row`` sums the positions' gradients back per row.

Initialisation (``new_table``): w and every slot 0; v ~ N(0, init_scale²), drawn on the
CPU by a ``torch.Generator`` seeded with ``seed`` over the whole table in row order (the
same bits on every device), then moved. v ≠ 0 matters: at v = 0 the gradient of every
pairwise term is 0 (a saddle point) and the vectors would never move.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RowLayout:
    """The columns of a table row: ``width`` D, the linear and the vectors' slot counts."""

    width: int
    linear_slots: int
    vector_slots: int

    @property
    def columns(self) -> int:
        return 1 + self.linear_slots + (1 + self.vector_slots) * self.width

    @property
    def v0(self) -> int:
        """The column of v_1."""
        return 1 + self.linear_slots

    def new_table(self, n_rows: int, init_scale: float = 0.01, seed: int = 0, device: torch.device | str = "cpu",
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A new (n_rows, columns) table, initialised as the module docstring says."""
        table = torch.zeros(int(n_rows), self.columns, dtype=dtype)
        if self.width:
            gen = torch.Generator(device="cpu").manual_seed(int(seed))
            v = torch.randn(int(n_rows), self.width, generator=gen, dtype=dtype)
            table[:, self.v0 : self.v0 + self.width] = v.mul_(float(init_scale))
        return table.to(device)

    def linear(self, block: torch.Tensor) -> torch.Tensor:
        """(u, 1 + linear_slots) view: w and its slots."""
        return block[:, : self.v0]

    def vectors(self, block: torch.Tensor) -> torch.Tensor:
        """(u, 1 + vector_slots, D) view: v and its slots, plane by plane."""
        return block[:, self.v0 :].view(block.shape[0], 1 + self.vector_slots, self.width)

    def weights(self, block: torch.Tensor) -> torch.Tensor:
        """[w, v] of every row of ``block``, transposed: (1 + D, u), contiguous."""
        out = torch.empty(1 + self.width, block.shape[0], device=block.device, dtype=block.dtype)
        out[0] = block[:, 0]
        out[1:] = block[:, self.v0 : self.v0 + self.width].T
        return out

    def gather_positions(self, block: torch.Tensor, inv: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        """The weights [w, v] of every position, column-major: (1 + D, n, T) from a block of
        u rows and each position's slot ``inv`` (n·T,), positions row by row."""
        n, t = shape
        return self.weights(block).index_select(1, inv).view(-1, n, t)

    def gather_tokens(self, table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """The weights of (n, T) bucket indices straight from the table (scoring, no row
        plan): (1 + D, n, T), as ``gather_positions`` lays them out."""
        n, t = idx.shape
        return self.weights(table.index_select(0, idx.reshape(-1).long())).view(-1, n, t)


    def gather_rows(self, table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """The weights of (n, T) bucket indices row by row, for ``Interaction.score``:
        (n, 1 + D, T), contiguous; only the w and v columns of the table are read."""
        n, t = idx.shape
        flat = idx.reshape(-1).long()
        out = torch.empty(n, t, 1 + self.width, device=table.device, dtype=table.dtype)
        out[:, :, 0] = table[:, 0].index_select(0, flat).view(n, t)
        out[:, :, 1:] = table[:, self.v0 : self.v0 + self.width].index_select(0, flat).view(n, t, self.width)
        return out.transpose(1, 2).contiguous()


def sum_by_row(grad_pos: torch.Tensor, inv: torch.Tensor, u: int) -> torch.Tensor:
    """Σ of the per-position gradients (1 + D, n, T) over the positions of each of the
    ``u`` slots of a row plan: the gradient of every touched row, (u, 1 + D) (a
    transposed view, which the elementwise optimisers take as it is)."""
    width = grad_pos.shape[0]
    out = torch.zeros(width, u, device=grad_pos.device, dtype=grad_pos.dtype)
    return out.index_add_(1, inv, grad_pos.reshape(width, -1)).T
