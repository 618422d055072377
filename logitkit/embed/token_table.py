"""The hashed token table of the interaction models: one row per bucket, weights and
optimiser state side by side, so that a mini-batch reads and writes each touched row once.

A table of ``n_rows`` rows (2^b buckets, and the intercept's row after them) holding,
per row, a linear weight w and an interaction width of D floats (FM and DeepFM: one
k-vector v, D = k; FFM: one k-vector per field of the FFM, D = F·k) is the tensor

    table  (n_rows, planes, 1 + D)      plane 0 = [w, v],  planes 1.. = optimiser slots

Plane p holds, column for column, what the optimiser keeps beside each weight (FTRL: z
then n; Adagrad: n), so each coordinate's weight and slots are one column of a row
(``planes = 1 + slots``). The layout of the linear model is the same with D = 0.
Gathering a mini-batch's distinct rows (``table.index_select(0, rows)``: its row plan,
``rows`` and ``inv``) gives a block of the same shape; the per-coordinate optimisers,
which unbind their argument along dimension 1 into weight and slots and are otherwise
elementwise, then update

* the linear column with ``block[:, :1 + s_lin, 0]``   (u, 1 + s_lin), and
* the interaction columns with ``emb_view(block, s_emb)``   (u, 1 + s_emb, D),

each with its own optimiser (FTRL for w and Adagrad for v, say): when their slot counts
differ, the one with fewer slots uses plane 0 and the last ones (a strided view, no copy).

Initialisation (``init_table``): w and every slot 0; v ~ N(0, init_scale²), drawn on the
CPU by a ``torch.Generator`` seeded with ``seed`` over the whole table in row order (the
same bits on every device), then moved. v ≠ 0 matters: at v = 0 the gradient of every
pairwise term is 0 (a saddle point) and the embeddings would never move.
"""
from __future__ import annotations

import torch


def init_table(n_rows: int, width: int, planes: int, init_scale: float = 0.01, seed: int = 0,
               device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A new (n_rows, planes, 1 + width) table, initialised as the module docstring says."""
    table = torch.zeros(int(n_rows), int(planes), 1 + int(width), dtype=dtype)
    if width:
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        v = torch.randn(int(n_rows), int(width), generator=gen, dtype=torch.float64 if dtype == torch.float64 else torch.float32)
        table[:, 0, 1:] = v.mul_(float(init_scale)).to(dtype)
    return table.to(device)


def emb_view(block: torch.Tensor, slots: int) -> torch.Tensor:
    """(u, 1 + slots, D) view of a block's interaction columns: plane 0 and the last ``slots``
    planes (all of them when ``slots`` = planes − 1; a strided view when it is 1)."""
    planes = block.shape[1]
    if slots == planes - 1:
        return block[:, :, 1:]
    if slots == 1:
        return block[:, :: planes - 1, 1:]
    raise ValueError(f"an optimiser with {slots} slots cannot share a table of {planes} planes")


def lin_view(block: torch.Tensor, slots: int) -> torch.Tensor:
    """(u, 1 + slots) view of a block's linear column (plane 0 and the last ``slots``)."""
    planes = block.shape[1]
    if slots == planes - 1:
        return block[:, :, 0]
    if slots == 1:
        return block[:, :: planes - 1, 0]
    raise ValueError(f"an optimiser with {slots} slots cannot share a table of {planes} planes")


def gather_positions(block: torch.Tensor, inv: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """The weights [w, v] of every position: (n, T, 1 + D) from a block (u, planes, 1 + D)
    and each position's slot ``inv`` (n·T,), positions row by row."""
    n, t = shape
    return block[:, 0].index_select(0, inv).view(n, t, block.shape[2])


def sum_by_row(grad_pos: torch.Tensor, inv: torch.Tensor, u: int) -> torch.Tensor:
    """Σ of the per-position gradients (n, T, 1 + D) over the positions of each of the ``u``
    slots of a row plan: the gradient of every touched row, (u, 1 + D)."""
    width = grad_pos.shape[-1]
    out = torch.zeros(u, width, device=grad_pos.device, dtype=grad_pos.dtype)
    return out.index_add_(0, inv, grad_pos.reshape(-1, width))
