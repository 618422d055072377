"""What every solver shares: the result record, the L1 pseudo-gradient and the L-BFGS
two-loop recursion."""
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


def two_loop(q: torch.Tensor, S, Y, initial) -> torch.Tensor:
    """H q for the L-BFGS inverse-Hessian approximation H built on the pairs (s, y) of
    ``S``, ``Y`` (oldest first) from H₀ = ``initial`` (a function q ↦ H₀ q): the
    two-loop recursion of Nocedal & Wright (Algorithm 7.4)."""
    q = q.clone()
    alphas = []
    for s, y in zip(reversed(S), reversed(Y)):
        a = (s * q).sum() / (y * s).sum()
        alphas.append(a)
        q -= a * y
    r = initial(q)
    for (s, y), a in zip(zip(S, Y), reversed(alphas)):
        b = (y * r).sum() / (y * s).sum()
        r += (a - b) * s
    return r


def soft_threshold(u: torch.Tensor, thresh: torch.Tensor) -> torch.Tensor:
    """sign(u)·max(|u| − thresh, 0): the proximal map of thresh·|·|; gives exact zeros."""
    return torch.sign(u) * torch.clamp(u.abs() - thresh, min=0)


def log_progress(verbose: int, solver: str, it: int, value: float, gnorm: float) -> None:
    """An iteration of a solver: logged with ``verbose``, and told to the progress reporter."""
    from logitkit._util import progress

    progress.current().step(f"{solver} iteration {it}, objective {value:.6g}")
    if verbose:
        import logging

        logging.getLogger("logitkit.predict").info(
            "%s iter %d  objective %.10g  |grad|inf %.3g", solver, it, value, gnorm
        )


def stop_test(solver: str, it: int, theta: torch.Tensor, g: torch.Tensor, obj, F: float, tol: float, verbose: int,
              curve: list[float]):
    """The check at the top of iteration ``it + 1``: (pseudo-gradient, its ∞-norm, the
    converged result when that norm is ≤ tol, else None); the iteration is logged."""
    pg = pseudo_gradient(theta, g, obj.l1, obj.penalty_mask)
    gnorm = float(pg.abs().max())
    log_progress(verbose, solver, it, F, gnorm)
    return pg, gnorm, (SolverResult(theta, it, True, curve) if gnorm <= tol else None)
