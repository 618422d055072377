"""Fitting over several ranks (``torch.distributed``): same answers as one process.

Full batch (``DistributedLogisticRegression``, solvers newton and lbfgs): every rank
holds a shard of the rows. The objective

    F(θ) = (1/n) Σ_r Σ_{i∈shard r} s_i · nll(y_i, z_i) + penalty(θ),   n = Σ_r n_r,

is assembled by ``DistributedObjective``, whose ``_sum`` all-reduces (SUM) each row-sum
(the loss value, the gradient (m, p), each Hessian block (p, p)) and whose ``n_total``
is the global row count; the sample weights are normalised by their global mean and
the classes are the union over ranks. Every rank then sees the same F, ∇F and ∇²F,
takes the same solver steps and ends at the global optimum. A Newton step sends
m·p + m·p² numbers per rank, an L-BFGS step (1 + m·p) per function evaluation —
independent of n.

The hashed/online learner over ranks, ``DistributedHashedLogisticRegression``, is in
``predict.online.distributed``; the round-robin stream helpers are in
``loaddata.roundrobin``, ``reduce_metrics`` in ``evaluate.streaming``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from logitkit._util import dist
from logitkit._util.errors import ConfigError
from logitkit.predict.design import Design
from logitkit.predict.logistic import _STOCHASTIC, LogisticRegression
from logitkit.predict.objective import LogisticObjective

log = logging.getLogger(__name__)

_F64 = torch.float64


@dataclass
class DistributedObjective(LogisticObjective):
    """``LogisticObjective`` over the rows of every rank: row-sums are all-reduced."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.n_total = float(dist.all_reduce_sum(torch.tensor(float(self.X.n), dtype=_F64)))

    def _sum(self, t: torch.Tensor) -> torch.Tensor:
        return dist.all_reduce_sum(t)


class DistributedLogisticRegression(LogisticRegression):
    """``LogisticRegression`` fitted on the union of the ranks' shards (newton, lbfgs).

    Same parameters and attributes; call ``fit(X_shard, y_shard)`` on every rank of an
    initialised process group (``logitkit._util.dist.init_from_env``). Outside one it
    is a plain ``LogisticRegression``. ``summary(X_shard, y_shard)`` on every rank gives
    the whole data's standard errors (nonrobust, HC0, HC1). The stochastic solvers
    (sgd, adam, adagrad; L2 only) run synchronous data-parallel mini-batches with the
    gradient all-reduced every step (``data_parallel``); newton and lbfgs reach the
    same optimum as one process.
    """

    def _classes_of(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        local = np.unique(y)
        classes = np.unique(np.concatenate(dist.all_gather_object(local)))
        return classes, np.searchsorted(classes, y)

    def _class_counts(self, y_idx: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        counts = np.bincount(y_idx, weights=weights, minlength=len(self.classes_)).astype(np.float64)
        counts = dist.all_reduce_sum(torch.as_tensor(counts)).numpy()
        return float(counts.sum()), counts

    def _objective(self, design: Design, Y: torch.Tensor, sw: np.ndarray, link: str, m: int,
                   dtype: torch.dtype, device: torch.device) -> LogisticObjective:
        tot = dist.all_reduce_sum(torch.tensor([sw.sum(), sw.shape[0]], dtype=_F64))
        s = torch.as_tensor(sw / float(tot[0] / tot[1]), dtype=dtype, device=device)
        return DistributedObjective(design, Y, s, link, m, self.fit_intercept, self._alpha(), self._l1_ratio())

    def _solve(self, obj: LogisticObjective, theta0: torch.Tensor):
        solver = self._pick_solver(obj.m, obj.p)
        if solver not in _STOCHASTIC or not dist.is_distributed():
            return super()._solve(obj, theta0)
        if obj.l1 > 0:
            raise ConfigError(f"solver={solver!r} with an L1 penalty is not distributed; use solver='lbfgs' "
                              "(OWL-QN, all-reduced) when running under torchrun")
        rs = 0 if self.random_state is None else int(self.random_state)
        res = data_parallel(obj, theta0, solver, self.max_iter, self.tol, self.batch_size, self.learning_rate, rs)
        res.solver_name = solver
        return res


def data_parallel(obj: LogisticObjective, theta0: torch.Tensor, solver: str, max_iter: int, tol: float,
                  batch_size: int, learning_rate: float | None, random_state: int):
    """Synchronous data-parallel mini-batch training of a ``DistributedObjective``.

    Each step every rank draws ⌈batch_size / W⌉ of its rows (seeded per rank), and the
    ranks all-reduce [Σ s_i·(p_i − y_i) ⊗ [x_i, 1], rows] (m·p + 1 numbers), so the step
    uses the gradient of the union of their batches:  g = Σ / rows + l2·θ_w. An epoch has
    as many steps as the rank with the most rows needs (ranks out of rows add zeros).
    After each epoch the whole objective F (all-reduced) of the last iterate and of the
    epoch's iterate average is taken and the best is kept; when F does not improve the
    batches double (up to each rank's whole shard: full batch), then the rate halves.
    The fit stops after 3 full-batch epochs whose relative gain is below ``tol``.
    """
    from logitkit.predict.solvers.common import SolverResult
    from logitkit.predict.solvers.stochastic import DEFAULT_LR, MOMENTUM, SGD_STEP, lipschitz

    W, d = dist.world_size(), obj.d
    n_loc = obj.X.n
    b = max(1, -(-int(batch_size) // W))
    steps = int(dist.all_reduce_max(torch.tensor([-(-n_loc // b)], dtype=_F64))[0])
    b_max = max(1, int(dist.all_reduce_max(torch.tensor([n_loc], dtype=_F64))[0]))
    if learning_rate is not None:
        lr = float(learning_rate)
    elif solver == "sgd":
        lr = SGD_STEP / float(dist.all_reduce_max(torch.tensor([lipschitz(obj) if n_loc else 0.0], dtype=_F64))[0])
    else:
        lr = DEFAULT_LR[solver]
    theta = torch.nn.Parameter(theta0.clone())
    opt = {"sgd": lambda: torch.optim.SGD([theta], lr=lr, momentum=MOMENTUM),
           "adam": lambda: torch.optim.Adam([theta], lr=lr),
           "adagrad": lambda: torch.optim.Adagrad([theta], lr=lr)}[solver]()
    gen = torch.Generator(device="cpu").manual_seed(int(random_state) * 1_000_003 + dist.rank())
    best = float(obj.value(theta.detach()))
    best_theta, curve, stale, epoch = theta.detach().clone(), [best], 0, 0
    for epoch in range(1, int(max_iter) + 1):
        perm = torch.randperm(n_loc, generator=gen).to(obj.device)
        avg = theta.detach().clone()
        for k in range(steps):
            sel = perm[k * b:(k + 1) * b]
            buf = torch.zeros(obj.m * obj.p + 1, dtype=obj.dtype, device=obj.device)
            if sel.numel():
                th = theta.detach()
                z = obj.X.rows(sel).linear(th[:, :d]) + (th[:, -1] if obj.fit_intercept else 0.0)
                P = torch.softmax(z, 1) if obj.link == "softmax" else torch.sigmoid(z)
                R = obj.s[sel, None] * (P - obj.Y1[sel])
                g = torch.zeros_like(th)
                g[:, :d] = obj.X.rows(sel).adjoint(R)
                if obj.fit_intercept:
                    g[:, -1] = R.sum(0)
                buf[:-1] = g.reshape(-1)
                buf[-1] = sel.numel()
            tot = dist.all_reduce_sum(buf)
            grad = tot[:-1].reshape(theta.shape) / tot[-1] + obj.l2 * obj.penalty_mask * theta.detach()
            theta.grad = grad
            opt.step()
            avg.add_(theta.detach() - avg, alpha=1.0 / (k + 1))
        value, aval = float(obj.value(theta.detach())), float(obj.value(avg))
        cand, cval = (avg, aval) if aval < value else (theta.detach(), value)
        curve.append(cval)
        gain = (best - cval) / max(abs(best), 1e-300)
        if cval < best:
            best, best_theta = cval, cand.clone()
        elif b < b_max:  # a noise floor: bigger batches (up to full batch) before smaller steps
            b = min(b_max, 2 * b)
            steps = int(dist.all_reduce_max(torch.tensor([-(-n_loc // b)], dtype=_F64))[0])
        else:  # full batch and F rose: back to the best point with half the rate
            with torch.no_grad():
                theta.copy_(best_theta)
            opt.state.clear()
            for group in opt.param_groups:
                group["lr"] *= 0.5
        stale = stale + 1 if 0 <= gain < tol and b == b_max else 0  # full-batch epochs that stalled
        if stale >= 3:
            break
    return SolverResult(best_theta, epoch, stale >= 3, curve)
