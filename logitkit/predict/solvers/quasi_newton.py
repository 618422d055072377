"""L-BFGS, and OWL-QN when there is an L1 term (Andrew & Gao, 2007).

OWL-QN runs L-BFGS on the pseudo-gradient, keeps each step inside the orthant the
iterate starts in, and sets to exactly zero any coordinate that would cross zero.
Without L1 it is plain L-BFGS with a backtracking (Armijo) line search. Each iteration
costs one pass over X for the value and gradient (two matrix products).
"""
from __future__ import annotations

import math
from collections import deque

import torch

from logitkit.predict.objective import LogisticObjective
from logitkit.predict.solvers.common import SolverResult, pseudo_gradient, stop_test, two_loop


def _scaled(S: deque, Y: deque):
    """H₀ = γ I with γ = sᵀy / yᵀy of the newest pair (Nocedal & Wright, eq. 7.20)."""
    if not S:
        return lambda q: q
    s, y = S[-1], Y[-1]
    gamma = (s * y).sum() / (y * y).sum()
    return lambda q: q.mul_(gamma)


def lbfgs(
    obj: LogisticObjective,
    theta0: torch.Tensor,
    max_iter: int = 1000,
    tol: float = 1e-6,
    memory: int = 20,
    verbose: int = 0,
) -> SolverResult:
    """Minimise ``obj`` by L-BFGS / OWL-QN; stop when ‖pseudo-gradient‖∞ ≤ tol."""
    lam, mask = obj.l1, obj.penalty_mask
    x = theta0.clone()
    F, g = obj.value_and_gradient(x)
    S: deque = deque(maxlen=memory)
    Y: deque = deque(maxlen=memory)
    curve = [F]
    eps = float(torch.finfo(obj.dtype).eps)
    for it in range(1, max_iter + 1):
        pg, gnorm, done = stop_test("lbfgs", it - 1, x, g, obj, F, tol, verbose, curve)
        if done:
            return done
        d = -two_loop(pg, S, Y, _scaled(S, Y))
        if lam > 0:
            d = torch.where(d * pg < 0, d, torch.zeros_like(d))
        slope = float((pg * d).sum())
        if slope >= 0:  # not a descent direction: restart from steepest descent
            S.clear()
            Y.clear()
            d, slope = -pg, -float((pg * pg).sum())
        orthant = torch.where(x != 0, torch.sign(x), torch.sign(-pg))
        step = 1.0 if S else min(1.0, 1.0 / max(float(pg.abs().sum()), 1e-300))
        while True:
            x_new = x + step * d
            if lam > 0:
                keep = (torch.sign(x_new) == orthant) | (mask == 0)
                x_new = torch.where(keep, x_new, torch.zeros_like(x_new))
            F_new, g_new = obj.value_and_gradient(x_new)
            if F_new <= F + 1e-4 * float((pg * (x_new - x)).sum()) or step < 1e-12:
                break
            step *= 0.5
        if step < 1e-12 or not F_new < F:
            # the line search cannot decrease F in this dtype: precision limit
            done = gnorm <= math.sqrt(eps)
            return SolverResult(x, it, done, curve, "precision limit reached")
        s, y = x_new - x, g_new - g
        sy = float((s * y).sum())
        if sy > eps * float((y * y).sum()):
            S.append(s)
            Y.append(y)
        x, g, F = x_new, g_new, F_new
        curve.append(F)
    pg = pseudo_gradient(x, g, lam, mask)
    return SolverResult(x, max_iter, bool(pg.abs().max() <= tol), curve)
