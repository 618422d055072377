"""The second-order factorisation machine (Rendle 2010) over hashed tokens, forward and
hand-written backward.

A row holds T tokens (positions); position t has a linear weight w_t and a k-vector v_t
(gathered from the token table, ``embed.token_table``). Its logit, bias and dense part
aside, is

    z = Σ_t w_t + Σ_{s<t} ⟨v_s, v_t⟩ = Σ_t w_t + ½ (‖S‖² − Σ_t ‖v_t‖²),    S = Σ_t v_t,

the sum over the T(T−1)/2 pairs computed in O(k·T) by the sum-square identity. Its
gradient by one position's parameters:

    ∂z/∂w_t = 1,        ∂z/∂v_t = S − v_t,

so for the summed log loss, with r = σ(z) − y per row, position t of a row gets r and
r·(S − v_t). Two positions on the same table row (a hash collision, or a token twice)
are two positions: their gradients add up when they are summed by row
(``token_table.sum_by_row``), which is the derivative of the shared parameter.
"""
from __future__ import annotations

import torch


def fm_forward(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, T, 1 + k) weights [w, v] per position -> (logits (n,), sums (n, 1 + k)).

    ``sums`` = [Σ_t w_t, S]: what ``fm_backward`` needs besides the weights.
    """
    sums = weights.sum(1)
    squares = weights.square().sum(1)
    s = sums[:, 1:]
    pairs = 0.5 * (s.square().sum(1) - squares[:, 1:].sum(1))
    return sums[:, 0] + pairs, sums


def fm_backward(weights: torch.Tensor, sums: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """∂(Σ_rows loss)/∂[w, v] per position, (n, T, 1 + k), from r = ∂loss/∂z per row (n,)."""
    grad = sums.unsqueeze(1) - weights  # S − v_t in the embedding columns
    grad[..., 0] = 1.0
    return grad.mul_(r.view(-1, 1, 1))

