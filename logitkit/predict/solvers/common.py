"""What every solver shares: the result record and the L1 pseudo-gradient."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class SolverResult:
    theta: torch.Tensor
    n_iter: int
    converged: bool
    loss_curve: list[float] = field(default_factory=list)
    message: str = ""


def pseudo_gradient(theta: torch.Tensor, g: torch.Tensor, lam: float, mask: torch.Tensor) -> torch.Tensor:
    """Minimum-norm subgradient of smooth(θ) + lam·‖mask ⊙ θ‖₁.

    Where θ_j ≠ 0 it is g_j + lam·sign(θ_j); at θ_j = 0 it is the gradient of the
    side that descends, or 0 when neither does. It is zero exactly at the optimum,
    so ‖·‖∞ of it is the stopping rule for every L1 solver.
    """
    if lam == 0.0:
        return g
    pen = lam * mask
    nonzero = g + pen * torch.sign(theta)
    right, left = g + pen, g - pen
    at_zero = torch.where(right < 0, right, torch.where(left > 0, left, torch.zeros_like(g)))
    return torch.where(theta == 0, at_zero, nonzero)


def soft_threshold(u: torch.Tensor, thresh: torch.Tensor) -> torch.Tensor:
    """sign(u)·max(|u| − thresh, 0): the proximal map of thresh·|·|; gives exact zeros."""
    return torch.sign(u) * torch.clamp(u.abs() - thresh, min=0)


def log_progress(verbose: int, solver: str, it: int, value: float, gnorm: float) -> None:
    if verbose:
        import logging

        logging.getLogger("logitkit.predict").info(
            "%s iter %d  objective %.10g  |grad|inf %.3g", solver, it, value, gnorm
        )
