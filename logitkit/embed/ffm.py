"""The field-aware factorisation machine (Juan et al. 2016) over hashed tokens, forward and
hand-written backward, for a few fields.

F of a row's T positions (``fields``: their column indices; one token per field, as the
feature hasher writes them) take part; each token has one k-vector per field of the
FFM, so the interaction width of a table row is F·k: position a's row holds
(e_{a,1}, …, e_{a,F}), e_{a,b} the vector it uses against field b. The logit, bias and
dense part aside, is

    z = Σ_t w_t (all T positions) + Σ_{a<b} ⟨e_{a,b}, e_{b,a}⟩,

O(F²·k) per row. Its gradient: ∂z/∂w_t = 1, ∂z/∂e_{a,b} = e_{b,a} for b ≠ a and 0 for
b = a (a token's vector for its own field is not used); the vector columns of positions
outside ``fields`` get 0. With r = σ(z) − y, position gradients are r times these; the
table rows' gradients are their sums by row (``token_table.sum_by_row``).

Layout as in ``embed.fm``: ``weights`` (1 + F·k, n, T); column 1 + b·k + c holds
coordinate c of the vectors e_{·,b}.
"""
from __future__ import annotations

import torch


def ffm_forward(weights: torch.Tensor, fields: torch.Tensor | None, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(1 + F·k, n, T) weights -> (logits (n,), the vectors E (F, k, n, F)).

    ``E[b, c, i, a]`` is coordinate c of e_{a,b} in row i. ``fields``: the F positions
    (long tensor) of the FFM, or None for all T (F = T).
    """
    n = weights.shape[1]
    cols = weights[1:] if fields is None else weights[1:, :, fields]
    f = cols.shape[2]
    e = cols.reshape(f, k, n, f)
    pair = (e * e.permute(3, 1, 2, 0)).sum(1)  # [b, i, a] = ⟨e_{a,b}, e_{b,a}⟩, symmetric in a, b
    inter = 0.5 * (pair.sum((0, 2)) - pair.diagonal(dim1=0, dim2=2).sum(1))
    return weights[0].sum(1) + inter, e


def ffm_backward(weights: torch.Tensor, e: torch.Tensor, fields: torch.Tensor | None, r: torch.Tensor) -> torch.Tensor:
    """∂(Σ_rows loss)/∂[w, E] per position, (1 + F·k, n, T), from r = ∂loss/∂z per row (n,)."""
    f, k, n = e.shape[0], e.shape[1], e.shape[2]
    ge = e.permute(3, 1, 2, 0) * r.view(1, 1, -1, 1)  # r·e_{b,a} at e_{a,b}
    ge.diagonal(dim1=0, dim2=3).zero_()
    if fields is None:
        grad = torch.empty_like(weights)
        grad[1:] = ge.reshape(f * k, n, f)
    else:
        grad = torch.zeros_like(weights)
        grad[1:, :, fields] = ge.reshape(f * k, n, f)
    grad[0] = r.view(-1, 1)
    return grad
