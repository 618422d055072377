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

Layout: ``weights`` is (1 + k, n, T), column-major by position: ``weights[0]`` the w of
every position, ``weights[1 + j]`` the j-th coordinate of every v (``gather_positions``).
The reductions over a row's T positions then run along contiguous memory, which on a
CPU is about a third faster than (n, T, 1 + k) for k ≈ 8.
"""
from __future__ import annotations

import torch


def fm_forward(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(1 + k, n, T) weights -> (logits (n,), sums (1 + k, n)).

    ``sums`` = [Σ_t w_t, S]: what ``fm_backward`` needs besides the weights.
    """
    sums = weights.sum(2)
    squares = weights[1:].square().sum(2).sum(0)
    pairs = 0.5 * (sums[1:].square().sum(0) - squares)
    return sums[0] + pairs, sums


def fm_backward(weights: torch.Tensor, sums: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """∂(Σ_rows loss)/∂[w, v] per position, (1 + k, n, T), from r = ∂loss/∂z per row (n,)."""
    grad = sums.unsqueeze(2) - weights  # S − v_t in the vector coordinates
    grad[0] = 1.0
    return grad.mul_(r.view(1, -1, 1))
