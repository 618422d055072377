"""Mini-batch stochastic solvers: SGD (heavy-ball momentum), Adam, Adagrad (``torch.optim``).

Each epoch visits the rows in an order drawn from a generator seeded with
``random_state``, in batches of b rows (b starts at ``batch_size``). A batch B gives the
unbiased gradient estimate

    g_B(θ) = (1/|B|) Σ_{i∈B} s_i (p_i − y_i) ⊗ [x_i, 1]  +  l2 · mask ⊙ θ,

which the ``torch.optim`` optimiser turns into a step. The scheme around the optimiser:

**Step sizes.** SGD: η = 3/L with momentum β = 0.9 (torch's form v ← βv + g,
θ ← θ − ηv; heavy ball is stable for η < 2(1+β)/L = 3.8/L), where
L = c·λ_max([X 1]ᵀ S [X 1]/n) + l2 is the Lipschitz constant of the full gradient
(c = ¼ for sigmoids since σ' ≤ ¼, c = ½ for softmax since diag(p) − ppᵀ ≼ ½I; λ_max by
20 power iterations on at most 20,000 rows). Adam: 0.1 (β = 0.9, 0.999); Adagrad: 1.0.
Standardised features are assumed; ``learning_rate`` overrides the rate of any solver.

**Tail averaging and batch growth (stochastic phase, b < n).** Over each epoch the
Polyak–Ruppert average θ̄ = (1/k) Σ_t θ_t of that epoch's iterates is kept. After the
epoch both F(θ_last) and F(θ̄) are evaluated on all rows; the better one is the epoch's
candidate. While F(θ_last) ≤ F(θ̄) the iterates are still descending faster than their
noise, and nothing changes. When F(θ̄) < F(θ_last) the iterates rattle around a noise
floor: if θ̄ improved on the best objective so far, the next epoch restarts from θ̄;
otherwise b ← 2b (a growing batch shrinks the gradient noise geometrically, the
convergent "hybrid deterministic–stochastic" scheme of Friedlander & Schmidt, 2012)
and the next epoch restarts from the best iterate.

**Full-batch phase (b = n).** Each epoch is one step on the exact gradient (no shuffle),
with the gradient reused from the epoch's evaluation. When F falls, the step is kept:
SGD's momentum grows along β_k = min(0.99, max(0.9, 1 − 3/(k+3))) (k = steps since the
last restart), Adam's and Adagrad's rate grows by 5% ("bold driver"). When F rises, the
best iterate is restored and SGD first drops its momentum (adaptive restart,
O'Donoghue & Candès 2015), halving η only when a restart alone did not help; Adam
zeroes its first moment and halves its rate; Adagrad halves its rate.

**L1 (exact zeros).** SGD: inertial proximal step (iPiano, Ochs et al. 2014):
θ ← soft_threshold(θ − ηv, η·l1), after which the momentum buffer is set to the actual
displacement / η, so the fixed points are exactly those of the proximal-gradient map,
the L1 optimum. Adam/Adagrad: the optimiser steps on the minimum-norm subgradient
(pseudo-gradient, as OWL-QN) and every penalised weight that leaves its orthant
(sign(θ), or −sign(pseudo-gradient) at zero) is set to exactly 0; the pseudo-gradient
vanishes only at the optimum, so its diagonal scaling does not bias the fixed point.

**Cost.** A stochastic-phase epoch is ⌈n/b⌉ optimiser steps (one pass over X) plus two
passes to evaluate F(θ_last) and F(θ̄); a full-batch epoch is one pass (value and
gradient together). Small, ill-conditioned problems (n ≤ a few batches, weak penalty)
spend most epochs in the full-batch phase and may need several hundred epochs for a
1e-3 relative gap; large ones reach it in the stochastic phase within a few epochs.

**Stopping.** In the full-batch phase, when the best objective has improved by less
than ``tol`` (relative) in each of 20 consecutive epochs (converged), or after
``max_iter`` epochs. The returned θ is the best candidate seen, so its objective is the
minimum of ``loss_curve`` (whose last entry is that objective).

**Several ranks (torchrun).** The same solver, synchronous data parallel: every sum
goes through the objective's collective. Each rank shuffles its own rows (generator
seeded with ``random_state`` + 1,000,003·rank) and takes ⌈b/W⌉ of them per step (W
ranks); the step uses the gradient of the union of the ranks' batches (one all-reduce
of m·p numbers), and an epoch has as many steps as the rank with the most rows needs
(ranks out of rows add nothing). Full batch means every rank's whole shard. The
objective values that drive the schedule are all-reduced, so every rank takes the same
decisions and ends with the same θ. In one process all of this is the schedule above.
"""
from __future__ import annotations

import math

import torch

from logitkit.predict.objective import LogisticObjective
from logitkit.predict.solvers.common import SolverResult, log_progress, pseudo_gradient, soft_threshold

MOMENTUM = 0.9  # SGD's base momentum β
MAX_MOMENTUM = 0.99  # cap of the full-batch momentum schedule
SGD_STEP = 3.0  # η = SGD_STEP / L
DEFAULT_LR = {"adam": 0.1, "adagrad": 1.0}
GROW = 2  # batch growth factor on a noise floor
DECAY = 0.5  # rate factor when the full-batch objective rises
BOLD = 1.05  # Adam/Adagrad rate factor after a full-batch step that lowered F
PATIENCE = 20  # full-batch epochs with relative gain < tol before stopping


def lipschitz(obj: LogisticObjective, iters: int = 20, rows: int = 20_000) -> float:
    """Upper estimate of the full gradient's Lipschitz constant, c·λ_max([X 1]ᵀ S [X 1]/n) + l2.

    c = ¼ for sigmoids (σ' ≤ ¼), ½ for softmax (diag(p) − ppᵀ ≼ ½I); S = diag(s);
    λ_max by power iteration on (at most) the first ``rows`` rows, times 1.05 for safety.
    """
    idx = torch.arange(min(obj.X.n, rows), device=obj.device)
    root_s = obj.s[idx, None].sqrt()
    X = obj.X.rows(idx).dense() * root_s
    if obj.fit_intercept:
        X = torch.cat([X, root_s], 1)
    v = torch.ones(X.shape[1], dtype=X.dtype, device=X.device)
    lam = 1.0
    for _ in range(iters):
        w = X.T @ (X @ v) / X.shape[0]
        lam = float(w.norm())
        v = w / max(lam, 1e-300)
    c = 0.5 if obj.link == "softmax" else 0.25
    return c * lam * 1.05 + obj.l2


def _optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=MOMENTUM)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.Adagrad(params, lr=lr)


def _scale_lr(opt: torch.optim.Optimizer, factor: float) -> None:
    for group in opt.param_groups:
        group["lr"] *= factor


def _step(opt: torch.optim.Optimizer, theta: torch.nn.Parameter, g: torch.Tensor,
          obj: LogisticObjective, solver: str) -> None:
    """One optimiser step on g, the gradient of the smooth part; an L1 term handled exactly."""
    if obj.l1 == 0:
        theta.grad = g
        opt.step()
        return
    before = theta.detach().clone()
    if solver == "sgd":
        theta.grad = g
        opt.step()
        lr = opt.param_groups[0]["lr"]
        with torch.no_grad():  # inertial proximal step: momentum = actual displacement / η
            theta.copy_(soft_threshold(theta, obj.l1 * obj.penalty_mask * lr))
            opt.state[theta]["momentum_buffer"].copy_((before - theta) / lr)
        return
    pg = pseudo_gradient(before, g, obj.l1, obj.penalty_mask)
    orthant = torch.where(before != 0, torch.sign(before), -torch.sign(pg))
    theta.grad = pg
    opt.step()
    with torch.no_grad():
        theta.masked_fill_((obj.penalty_mask > 0) & (theta * orthant <= 0), 0.0)


class _Steps:
    """Where each step's rows come from, on every rank: each takes ``b`` rows of its own
    per step (the last step of an epoch fewer); ``count`` is the step's rows over all."""

    def __init__(self, sizes: list[int], batch_size: int):
        self.sizes, self.most = sizes, max(sizes)
        self.b = min(-(-int(batch_size) // len(sizes)), self.most)

    @property
    def full(self) -> bool:
        """Every rank takes all its rows in one step."""
        return self.b == self.most

    def grow(self) -> None:
        self.b = min(self.most, int(math.ceil(self.b * GROW)))

    def starts(self) -> range:
        return range(0, self.most, self.b)

    def count(self, start: int) -> int:
        return sum(min(max(n - start, 0), self.b) for n in self.sizes)

    def rows(self) -> int:
        return self.count(0)


def stochastic(
    obj: LogisticObjective,
    theta0: torch.Tensor,
    solver: str = "adam",
    max_iter: int = 1000,
    tol: float = 1e-6,
    batch_size: int = 256,
    learning_rate: float | None = None,
    random_state: int = 0,
    verbose: int = 0,
) -> SolverResult:
    """Minimise ``obj`` from θ0 (m, p) with mini-batch ``solver`` ("sgd", "adam", "adagrad").

    ``max_iter`` counts epochs (passes over the rows); see the module docstring for the
    schedule. Same ``random_state``, same bits.
    """
    coll = obj.collective
    n = obj.X.n  # this rank's rows
    steps = _Steps([int(k) for k in coll.all_gather(n)], batch_size)
    if learning_rate is not None:
        lr = float(learning_rate)
    elif solver == "sgd":
        L = coll.max(torch.tensor([lipschitz(obj) if n else 0.0], dtype=torch.float64))
        lr = SGD_STEP / float(L[0])
    else:
        lr = DEFAULT_LR[solver]
    theta = torch.nn.Parameter(theta0.clone())
    opt = _optimizer(solver, [theta], lr)
    gen = torch.Generator(device="cpu").manual_seed(int(random_state) + 1_000_003 * coll.rank)
    best = float(obj.value(theta.detach()))
    best_theta = theta.detach().clone()
    curve = [best]
    cache = None  # (θ, ∇ smooth part) from the last full-batch evaluation
    since_restart, stale, momentum_dropped = 0, 0, False
    epoch, converged, gain = 0, False, float("nan")
    for epoch in range(1, max_iter + 1):
        full = steps.full
        avg, k = theta.detach().clone(), 0
        if full:
            same = cache is not None and torch.equal(cache[0], theta.detach())
            g = cache[1] if same else obj.smooth(theta.detach())[1]
            _step(opt, theta, g, obj, solver)
            k = 1
        else:
            batches = obj.batches(torch.randperm(n, generator=gen).to(obj.device))
            for start in steps.starts():
                g = batches.gradient(theta.detach(), start, start + steps.b, steps.count(start))
                _step(opt, theta, g, obj, solver)
                k += 1
                avg.add_(theta.detach() - avg, alpha=1.0 / k)
        if full:
            value, g = obj.value_and_gradient(theta.detach())
            cache = (theta.detach().clone(), g)
        else:
            value = float(obj.value(theta.detach()))
        aval = float(obj.value(avg)) if k > 1 else value
        cand, cval = (avg, aval) if aval < value else (theta.detach(), value)
        curve.append(cval)
        log_progress(verbose, solver, epoch, cval, float("nan"))
        gain = (best - cval) / max(abs(best), 1e-300)
        if cval < best:
            best, best_theta = cval, cand.clone()
        if not full:
            if aval >= value:
                continue  # still descending: the last iterate leads its average
            if gain <= 0:  # a noise floor that averaging no longer beats: bigger batches
                steps.grow()
        else:
            stale = stale + 1 if gain < tol else 0
            if stale >= PATIENCE:
                converged = True
                break
            if gain >= 0:
                momentum_dropped = False
                since_restart += 1
                if solver == "sgd":
                    beta = min(MAX_MOMENTUM, max(MOMENTUM, 1 - 3 / (since_restart + 3)))
                    opt.param_groups[0]["momentum"] = beta
                else:
                    _scale_lr(opt, BOLD)
                continue
            since_restart = 0
            if solver == "sgd" and not momentum_dropped:
                opt.state[theta].pop("momentum_buffer", None)
                opt.param_groups[0]["momentum"] = MOMENTUM
                momentum_dropped = True
            else:
                momentum_dropped = False
                if solver == "adam":
                    opt.state[theta]["exp_avg"].zero_()
                _scale_lr(opt, DECAY)
        with torch.no_grad():
            theta.copy_(best_theta)
    if curve[-1] != best:
        curve.append(best)
    message = "" if converged else (
        f"objective still changing by {abs(gain):.1e} (relative) per epoch; batch size {steps.rows()} "
        f"of {int(obj.n_total)} rows")
    return SolverResult(best_theta, epoch, converged, curve, message)
