"""Newton's method (IRLS) with the exact Hessian and a Cholesky solve; proximal Newton for L1.

Each iteration: H Δ = g (Cholesky, float64), then a backtracking line search on the
objective. With an L1 term the step minimises the local quadratic model plus the L1
term (solved by FISTA, so zeros are exact) — proximal Newton as in glmnet/newGLMNET.
Converges quadratically near the optimum; the cost per iteration is O(n·p²) for the
Hessian, so it suits moderate feature counts.
"""
from __future__ import annotations

import math

import torch

from logitkit.predict.objective import LogisticObjective
from logitkit.predict.solvers.common import SolverResult, pseudo_gradient, soft_threshold, stop_test
from logitkit.predict.solvers import subsampled


def _null_directions(obj: LogisticObjective) -> torch.Tensor:
    """For softmax: (K·p, K·p) matrix N Nᵀ over directions that add a constant to every
    class's coefficient j, for each unpenalised j (with any penalty, only the intercept).
    F is flat along them; adding N Nᵀ to H makes it invertible and leaves the Newton step
    on the gradient's subspace unchanged."""
    K, p = obj.m, obj.p
    free = (obj.penalty_mask[0] == 0) if obj.alpha > 0 else torch.ones(p, dtype=torch.bool)
    E = torch.zeros(K, p, K, p, dtype=torch.float64, device=obj.device)
    for j in torch.nonzero(free).flatten().tolist():
        E[:, j, :, j] = 1.0 / K
    return E.reshape(K * p, K * p)


def _full_hessian(obj: LogisticObjective, theta: torch.Tensor) -> torch.Tensor:
    """Hessian as one (m·p, m·p) float64 matrix (block-diagonal for ovr)."""
    H = obj.hessian(theta).to(torch.float64)
    if obj.link == "ovr":
        H = torch.block_diag(*H)
    elif obj.link == "softmax":
        H = H + _null_directions(obj)
    return H


def _solve(H: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """H⁻¹ g by Cholesky. When H is singular (collinear features, an unpenalised fit),
    the minimum-norm solution H⁺ g from the eigendecomposition, with eigenvalues below
    p·eps·λ_max treated as zero; the same on every device (CUDA's least-squares solver
    assumes full rank)."""
    L, info = torch.linalg.cholesky_ex(H)
    if int(info) == 0:
        return torch.cholesky_solve(g[:, None], L)[:, 0]
    w, V = torch.linalg.eigh(H)
    cutoff = H.shape[0] * torch.finfo(H.dtype).eps * float(w.abs().max())
    inv = torch.where(w > cutoff, 1.0 / w, torch.zeros_like(w))
    return V @ (inv * (V.T @ g))


def _fista(S, g, x0, lam_vec, gnorm: float, iters: int = 5000):
    """argmin_x gᵀ(x − x0) + ½ (x − x0)ᵀ S (x − x0) + ‖lam_vec ⊙ x‖₁ by FISTA with a
    Jacobi metric: steps 1/(L·S_ii) with L = λ_max(D^-½ S D^-½), D = diag(S), so features
    on different scales converge alike. Momentum restarts when it points uphill
    (O'Donoghue & Candès); stops at a gradient-mapping norm of 1% of ``gnorm``."""
    dS = torch.clamp(torch.diagonal(S), min=1e-300)
    r = dS.rsqrt()
    L = float(torch.linalg.eigvalsh(r[:, None] * S * r[None, :])[-1]) or 1.0
    step = 1.0 / (L * dS)
    u = x0.clone()
    v = u.clone()
    t = 1.0
    for _ in range(iters):
        u_new = soft_threshold(v - step * (g + S @ (v - x0)), lam_vec * step)
        if float(((u_new - v) / step).abs().max()) <= max(1e-2 * gnorm, 1e-15):
            return u_new
        if float(((v - u_new) * (u_new - u)).sum()) > 0:
            t = 1.0
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        v = u_new + ((t - 1) / t_new) * (u_new - u)
        u, t = u_new, t_new
    return u


def _prox_newton_step(H, g, theta, lam_vec, gnorm: float):
    """The proximal Newton step: argmin_Δ gᵀΔ + ½ ΔᵀHΔ + ‖lam_vec ⊙ (θ + Δ)‖₁.

    The unpenalised coordinates U (intercepts) are minimised out exactly:
    Δ_U = −H_UU⁻¹ (g_U + H_UP Δ_P), leaving a problem in the penalised coordinates P with
    the Schur complement S = H_PP − H_PU H_UU⁻¹ H_UP, i.e. the Hessian of centred features.
    That keeps the inner problem well conditioned when features sit far from zero.
    """
    U = lam_vec == 0
    P = ~U
    if not bool(U.any()):
        return _fista(H, g, theta, lam_vec, gnorm) - theta
    Huu, Hup = H[U][:, U], H[U][:, P]
    A = torch.linalg.lstsq(Huu, torch.cat([Hup, g[U][:, None]], 1)).solution
    A_p, c = A[:, :-1], A[:, -1]
    S = H[P][:, P] - Hup.T @ A_p
    S = (S + S.T) / 2
    gP = g[P] - Hup.T @ c
    delta = torch.empty_like(theta)
    dP = _fista(S, gP, theta[P], lam_vec[P], gnorm) - theta[P]
    delta[P] = dP
    delta[U] = -(c + A_p @ dP)
    return delta


def newton(obj: LogisticObjective, theta0: torch.Tensor, max_iter: int = 100, tol: float = 1e-6, verbose: int = 0,
           subsample: bool = True) -> SolverResult:
    """Minimise ``obj`` by (proximal) Newton; stop when ‖pseudo-gradient‖∞ ≤ tol.

    Large smooth problems started from zero begin on a subsample and finish with
    subsample-preconditioned quasi-Newton passes (``solvers.subsampled``), unless
    ``subsample=False``."""
    if subsample and subsampled.applies(obj, theta0):
        return subsampled.subsampled_newton(obj, theta0, max_iter, tol, newton, _full_hessian, verbose)
    shape = theta0.shape
    lam = obj.l1
    mask = obj.penalty_mask
    theta = theta0.clone()
    F, g = obj.value_and_gradient(theta)
    curve = [F]
    eps = torch.finfo(obj.dtype).eps
    for it in range(1, max_iter + 1):
        pg, gnorm, done = stop_test("newton", it - 1, theta, g, obj, F, tol, verbose, curve)
        if done:
            return done
        H = _full_hessian(obj, theta)
        g64, th64 = g.reshape(-1).to(torch.float64), theta.reshape(-1).to(torch.float64)
        if lam > 0:
            lam_vec = lam * mask.reshape(-1).to(torch.float64)
            delta = _prox_newton_step(H, g64, th64, lam_vec, gnorm)
            decrease = float(g64 @ delta) + float((lam_vec * (th64 + delta)).abs().sum() - (lam_vec * th64).abs().sum())
        else:
            delta = -_solve(H, g64)
            decrease = float(g64 @ delta)
        delta = delta.to(obj.dtype).reshape(shape)
        step = 1.0
        while True:
            cand = theta + step * delta
            F_new, g_new = obj.value_and_gradient(cand)
            if F_new <= F + 1e-4 * step * decrease or step < 1e-10:
                break
            step *= 0.5
        if step < 1e-10 or F - F_new <= 4 * eps * max(abs(F), 1.0) and gnorm <= math.sqrt(eps):
            # no further decrease is representable in this dtype: at the optimum to precision
            done = F_new <= F and gnorm <= math.sqrt(float(eps))
            if F_new <= F:
                theta, g, F = cand, g_new, F_new
                curve.append(F)
            return SolverResult(theta, it, done, curve, "precision limit reached")
        theta, g, F = cand, g_new, F_new
        curve.append(F)
    pg = pseudo_gradient(theta, g, lam, mask)
    return SolverResult(theta, max_iter, bool(pg.abs().max() <= tol), curve)
