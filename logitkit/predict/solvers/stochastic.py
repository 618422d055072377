"""Mini-batch stochastic solvers: SGD (momentum), Adam, Adagrad, from ``torch.optim``.

Each epoch visits the rows in a seeded random order in batches of ``batch_size``;
the gradient of the batch's weighted mean NLL plus the L2 term is computed in
closed form and handed to the torch optimiser. An L1 term is applied after each step
by the proximal (soft-threshold) map, so coefficients reach exact zeros. The learning
rate is halved whenever a full-data epoch objective fails to improve by ``tol``
(relative), and fitting stops after the rate has been halved ``n_halvings`` times or
``max_iter`` epochs; so the final iterate settles at the optimum instead of
rattling around it.
"""
from __future__ import annotations

import torch

from logitkit.predict.objective import LogisticObjective
from logitkit.predict.solvers.common import SolverResult, log_progress, soft_threshold

DEFAULT_LR = {"sgd": 0.5, "adam": 0.01, "adagrad": 0.5}


def _optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.Adagrad(params, lr=lr)


def stochastic(
    obj: LogisticObjective,
    theta0: torch.Tensor,
    solver: str = "adam",
    max_iter: int = 200,
    tol: float = 1e-6,
    batch_size: int = 256,
    learning_rate: float | None = None,
    random_state: int = 0,
    n_halvings: int = 8,
    verbose: int = 0,
) -> SolverResult:
    lr = DEFAULT_LR[solver] if learning_rate is None else learning_rate
    theta = torch.nn.Parameter(theta0.clone())
    opt = _optimizer(solver, [theta], lr)
    gen = torch.Generator(device="cpu").manual_seed(int(random_state))
    n = obj.X.n
    lam_vec = obj.l1 * obj.penalty_mask
    best = float(obj.value(theta.detach()))
    curve = [best]
    halvings = 0
    epoch = 0
    for epoch in range(1, max_iter + 1):
        perm = torch.randperm(n, generator=gen).to(obj.device)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            sub = LogisticObjective(
                obj.X.rows(idx), obj.Y[idx], obj.s[idx], obj.link, obj.m,
                obj.fit_intercept, obj.alpha, obj.l1_ratio,
            )
            _, g = sub.smooth(theta.detach())
            theta.grad = g
            opt.step()
            if obj.l1 > 0:
                with torch.no_grad():
                    theta.copy_(soft_threshold(theta, lam_vec * opt.param_groups[0]["lr"]))
        value = float(obj.value(theta.detach()))
        curve.append(value)
        log_progress(verbose, solver, epoch, value, float("nan"))
        if value > best - tol * max(abs(best), 1.0):
            halvings += 1
            if halvings >= n_halvings:
                return SolverResult(theta.detach(), epoch, True, curve)
            for group in opt.param_groups:
                group["lr"] *= 0.5
        best = min(best, value)
    return SolverResult(theta.detach(), epoch, False, curve)
