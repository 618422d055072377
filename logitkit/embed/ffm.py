"""The field-aware factorisation machine (Juan et al. 2016) over hashed tokens, forward and
hand-written backward, for a few fields.

F of a row's T positions (``fields``: their column indices; one token per field, as the
feature hasher writes them) take part; each token has one k-vector per field of the
FFM, so the interaction width of a table row is F·k: position a's row holds
E_a = (e_{a,1}, …, e_{a,F}), e_{a,b} the vector it uses against field b. The logit,
bias and dense part aside, is

    z = Σ_t w_t (all T positions) + Σ_{a<b} ⟨e_{a,b}, e_{b,a}⟩,

O(F²·k) per row. Its gradient: ∂z/∂w_t = 1, ∂z/∂e_{a,b} = e_{b,a} for b ≠ a and 0 for
b = a (a token's vector for its own field is not used); the embedding columns of
positions outside ``fields`` get 0. With r = σ(z) − y, position gradients are r times
these; the table rows' gradients are their sums by row (``token_table.sum_by_row``).
"""
from __future__ import annotations

import torch


def ffm_forward(weights: torch.Tensor, fields: torch.Tensor | None, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, T, 1 + F·k) weights per position -> (logits (n,), the F×F×k block E (n, F, F, k)).

    ``fields``: the F positions (long tensor) of the FFM, or None for all T (F = T).
    """
    n = weights.shape[0]
    cols = weights[..., 1:] if fields is None else weights[:, fields, 1:]
    f = cols.shape[1]
    e = cols.reshape(n, f, f, k)
    pair = (e * e.transpose(1, 2)).sum(-1)  # ⟨e_{a,b}, e_{b,a}⟩, (n, F, F), symmetric
    inter = 0.5 * (pair.sum((1, 2)) - pair.diagonal(dim1=1, dim2=2).sum(1))
    return weights[..., 0].sum(1) + inter, e


def ffm_backward(weights: torch.Tensor, e: torch.Tensor, fields: torch.Tensor | None, r: torch.Tensor) -> torch.Tensor:
    """∂(Σ_rows loss)/∂[w, E] per position, (n, T, 1 + F·k), from r = ∂loss/∂z per row (n,)."""
    n, f = e.shape[0], e.shape[1]
    ge = e.transpose(1, 2) * r.view(-1, 1, 1, 1)  # r·e_{b,a} at (a, b)
    ge.diagonal(dim1=1, dim2=2).zero_()
    if fields is None:
        grad = torch.empty_like(weights)
        grad[..., 1:] = ge.reshape(n, f, -1)
    else:
        grad = torch.zeros_like(weights)
        grad[:, fields, 1:] = ge.reshape(n, f, -1)
    grad[..., 0] = r.view(-1, 1)
    return grad
