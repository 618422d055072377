"""Newton from a subsample: the smooth (L2 or unpenalised) Newton path for many rows.

A Newton iteration on all n rows costs a Hessian, O(n·p²), which on large data is many
times a gradient pass. Most of that is wasted far from the optimum. So, for n ≥
``MIN_ROWS`` (and no L1 term):

1. **Subsample.** Newton on a seeded random subset of n_s rows (the same objective,
   weights and penalty; mean over those rows). Its optimum θ_s is within O(1/√n_s) of
   the full one. n_s = 3n/(m·p), kept within [n/64, n/16] and at least 64·m·p: one
   subsample Hessian (n_s·(m·p)² work) then costs about 1.5 gradient passes on all rows
   (2·n·m·p), so wider problems take a smaller share of the rows (1/16 at 51
   coefficients, 1/34 at 101: the faster of 1/16 and 1/32 in benchmarks/inference.py and
   benchmarks/dense_fit.py respectively).
2. **Full data, preconditioned L-BFGS.** From θ_s, quasi-Newton steps on the full
   objective with the subsample's Hessian H_s (Cholesky, float64) as the initial
   inverse-Hessian approximation, corrected by the L-BFGS pairs of the full-data
   steps. H_s differs from the full Hessian by O(√(p/n_s)) relative, so each step
   shrinks the gradient by about that factor, one gradient pass each: on 1,000,000
   rows a handful of passes reach a gradient of 1e-8.
3. **Safeguard.** If a step fails to shrink the gradient by half (H_s is a poor model:
   a rare class the subsample barely holds, heavy-tailed rows), the remaining iterations
   are exact Newton from the current point, so the result is never worse than Newton's.

The stopping rule is Newton's: ‖∇F‖∞ ≤ tol on the full objective.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import torch

from logitkit.predict.objective import LogisticObjective
from logitkit.predict.solvers.common import SolverResult, log_progress, two_loop

MIN_ROWS = 200_000
MIN_ROWS_PER_COEF = 64
SEED = 0


def subsample_rows(n: int, k: int) -> int:
    """n_s for n rows and k = m·p coefficients (see the module docstring)."""
    return int(max(MIN_ROWS_PER_COEF * k, min(max(3 * n / k, n / 64), n / 16)))


def applies(obj: LogisticObjective, theta0: torch.Tensor) -> bool:
    """Large smooth problems started from zero (a user's warm start goes straight to Newton)."""
    k = obj.m * obj.p
    n = obj.n_total
    return (obj.l1 == 0 and n >= MIN_ROWS and subsample_rows(int(n), k) <= n / 4
            and not bool(theta0.any()))


def _subsample(obj: LogisticObjective) -> LogisticObjective:
    n = obj.X.n
    k = min(n, subsample_rows(n, obj.m * obj.p))
    idx = np.sort(np.random.default_rng(SEED).choice(n, size=k, replace=False))
    return obj.subset(torch.as_tensor(idx, device=obj.device))


def _direction(g: torch.Tensor, L: torch.Tensor, S: deque, Y: deque) -> torch.Tensor:
    """−B⁻¹ g for the L-BFGS matrix B built on B₀ = H_s (Cholesky factor L)."""
    return -two_loop(g.reshape(-1).to(torch.float64), S, Y, lambda q: torch.cholesky_solve(q[:, None], L)[:, 0])


def subsampled_newton(obj: LogisticObjective, theta0: torch.Tensor, max_iter: int, tol: float,
                      newton, full_hessian, verbose: int = 0) -> SolverResult:
    """Minimise the smooth objective ``obj`` (no L1) as the module docstring says.

    ``newton`` and ``full_hessian`` are the exact solver and its Hessian builder (passed
    in to keep the import graph one-way). Returns the result on the full objective."""
    sub = _subsample(obj)
    first = newton(sub, theta0, max_iter, max(tol, 1e-10) / 10, verbose=verbose, subsample=False)
    if not first.converged:  # the subsample is separable or hard: plain Newton on all rows
        return newton(obj, theta0, max_iter, tol, verbose=verbose, subsample=False)
    theta = first.theta
    L, info = torch.linalg.cholesky_ex(full_hessian(sub, theta))
    del sub
    if int(info) != 0:
        return newton(obj, theta, max_iter, tol, verbose=verbose, subsample=False)
    shape = theta.shape
    f, g = obj.smooth(theta)
    F = float(f)
    curve = [F]
    S: deque = deque(maxlen=10)
    Y: deque = deque(maxlen=10)
    gnorm = float(g.abs().max())
    for it in range(1, max_iter + 1):
        log_progress(verbose, "newton (subsampled start)", it - 1, F, gnorm)
        if gnorm <= tol:
            return SolverResult(theta, it - 1, True, curve)
        d = _direction(g, L, S, Y)
        g64 = g.reshape(-1).to(torch.float64)
        slope = float(g64 @ d)
        step = 1.0
        while slope < 0:
            cand = theta + (step * d).to(obj.dtype).reshape(shape)
            f_new, g_new = obj.smooth(cand)
            if float(f_new) <= F + 1e-4 * step * slope or step < 1e-3:
                break
            step *= 0.5
        new_gnorm = float(g_new.abs().max()) if slope < 0 else gnorm
        if slope >= 0 or not float(f_new) <= F or new_gnorm > 0.5 * gnorm:
            # H_s is not a good enough model here: exact Newton from the better point
            if slope < 0 and float(f_new) <= F:
                theta = cand
            rest = newton(obj, theta, max_iter - it + 1, tol, verbose=verbose, subsample=False)
            rest.n_iter += it
            rest.loss_curve = curve + rest.loss_curve[1:]
            return rest
        s = (cand - theta).reshape(-1).to(torch.float64)
        y = (g_new - g).reshape(-1).to(torch.float64)
        if float(s @ y) > 0:
            S.append(s)
            Y.append(y)
        theta, g, F, gnorm = cand, g_new, float(f_new), new_gnorm
        curve.append(F)
    return SolverResult(theta, max_iter, gnorm <= tol, curve)
