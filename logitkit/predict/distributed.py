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

Hashed/online (``DistributedHashedLogisticRegression``): each rank learns from its own
stream with its own optimiser, and every ``sync_every`` mini-batches (and at the end
of each pass) the ranks all-reduce the *change* of their state since the last
synchronisation — the weight table (2^b weights and 2^b values per optimiser slot)
and the dense weights — and all restart from  θ_sync + Σ_r Δ_r.  Where ranks touch
different buckets (most of a sparse table) this is exactly the sequential update; on
shared coordinates (intercept, frequent tokens) it adds both ranks' steps, and the
optimisers' accumulators (FTRL's n, Adagrad's Σg²) are summed the same way, so their
per-coordinate rates shrink as if one process had seen both shards. (Plain averaging,
VW's allreduce mode, halves every bucket only one rank touched and loses most of the
benefit on sparse data.) FTRL's weights are not summed but derived from the summed
accumulators (w is a function of z and n). A dense exchange of the whole table costs 2^b·(1 + slots)
numbers (in the model's dtype) per synchronisation, so ``sync_every`` trades staleness
for traffic. Ranks
with fewer batches keep joining the synchronisations (with no change) until every
rank has finished the pass, so uneven shards never deadlock. The progressive loss of
a pass is summed over ranks.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from logitkit._util import dist
from logitkit._util.errors import ConfigError
from logitkit.predict.design import Design
from logitkit.predict.hashed import HashedLogisticRegression
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


class DistributedHashedLogisticRegression(HashedLogisticRegression):
    """``HashedLogisticRegression`` whose ranks add up their state changes every
    ``sync_every`` mini-batches and at the end of each pass (see the module docstring).

    Extra attributes: ``n_syncs_`` (synchronisations done), ``comm_bytes_`` (payload bytes this
    rank all-reduced; a ring all-reduce moves ≈ 2·(W − 1)/W times that per rank).
    """

    def __init__(self, n_bits: int = 22, optimizer: str = "ftrl", learning_rate: float | None = None,
                 beta: float = 1.0, l1: float = 0.0, l2: float = 0.0, batch_size: int = 1024,
                 n_passes: int = 1, shuffle: bool = False, patience: int = 1, tol: float = 1e-4,
                 checkpoint_dir: str | None = None, checkpoint_every: int = 0, sketch_size: int = 100_000,
                 device: str = "cpu", dtype: str = "float32", random_state: int = 0, verbose: int = 0,
                 sync_every: int = 64) -> None:
        super().__init__(n_bits, optimizer, learning_rate, beta, l1, l2, batch_size, n_passes, shuffle,
                         patience, tol, checkpoint_dir, checkpoint_every, sketch_size, device, dtype,
                         random_state, verbose)
        self.sync_every = sync_every

    def _check_params(self) -> None:
        super()._check_params()
        if int(self.sync_every) < 1:
            raise ConfigError(f"sync_every={self.sync_every!r} must be an integer >= 1 (mini-batches between synchronisations)")

    def _init_state(self, n_dense: int) -> None:
        super()._init_state(n_dense)
        self._synced = None
        self._since_sync = 0
        self.n_syncs_ = 0
        self.comm_bytes_ = 0

    def _flat_state(self) -> tuple[list[str], list[torch.Size], torch.Tensor]:
        """What a checkpoint holds (``_tensors``: the table's weights and optimiser slots,
        intercept included, and the dense weights and slots) as one flat tensor."""
        state = self._tensors()
        keys = sorted(state)
        flat = torch.cat([state[k].reshape(-1).to(self._dtype) for k in keys])
        return keys, [state[k].shape for k in keys], flat

    def _learn(self, idx, y, dense) -> None:
        if self._synced is None:  # every rank starts from the same state (zeros or a checkpoint)
            self._synced = self._flat_state()[2].clone()
        super()._learn(idx, y, dense)
        self._since_sync += 1
        if self._since_sync >= int(self.sync_every):
            self._synchronise(include=True, running=True)

    def _synchronise(self, include: bool, running: bool) -> int:
        """One synchronisation; returns how many ranks are still in their pass.

        Every rank adds the change of its state since the last synchronisation, so all
        ranks restart from  θ_sync + Σ_r Δ_r  (``include=False``: this rank has no change).
        The traffic is in the model's own dtype.
        """
        self._since_sync = 0
        if not dist.is_distributed():
            return 0
        keys, shapes, now = self._flat_state()
        if self._synced is None:
            self._synced = now.clone()
        flags = torch.tensor([float(running)], dtype=now.dtype, device=now.device)
        total = dist.all_reduce_sum(torch.cat([flags, (now - self._synced) * float(include)]))
        parts = (self._synced + total[1:]).split([int(np.prod(sh)) for sh in shapes])
        state = {k: v.reshape(sh) for k, v, sh in zip(keys, parts, shapes)}
        self._load_tensors(self._ftrl_weights(state))
        self._synced = self._flat_state()[2].clone()
        self.n_syncs_ += 1
        self.comm_bytes_ += total.numel() * total.element_size()
        return int(round(float(total[0])))

    def _ftrl_weights(self, state: dict) -> dict:
        """FTRL's weights are a function of its accumulators, w = −(z − sign(z)·l1)⁺ /
        ((β + √n)/α + l2) (intercept: l1 = l2 = 0), not a running sum: once the ranks'
        changes of z and n are added up, the weights are derived from them (a coordinate
        one rank alone touched gets exactly that rank's weight; adding the ranks' weight
        changes instead double-counts every shared coordinate's step, which on dense
        CTR data ran the predictions far off). Other optimisers: w is their state; as is."""
        from logitkit.predict.online.optimizers import FTRL

        opt = self._opt
        if not isinstance(opt, FTRL):
            return state
        l1, l2 = float(self.l1), float(self.l2)

        def weights(z: torch.Tensor, n: torch.Tensor, pen: torch.Tensor | float) -> torch.Tensor:
            shrunk = (z.abs() - l1 * pen).clamp_min(0.0)
            return (torch.copysign(shrunk, -z) / ((n.sqrt() + opt.beta) / opt.alpha + l2 * pen)).add_(0.0)

        pen = torch.ones_like(state["w"])
        pen[-1] = 0.0  # the intercept (the table's last row) is not penalised
        state = dict(state)
        state["w"] = weights(state["slot.z"], state["slot.n"], pen)
        if state["dense_w"].numel():
            state["dense_w"] = weights(state["dense_slot.z"], state["dense_slot.n"], 1.0)
        return state

    def sync_pass(self) -> None:
        """Synchronise once more, then keep joining (with no change) until every rank is done."""
        if not dist.is_distributed():
            return
        running = self._synchronise(include=True, running=False)
        while running > 0:
            running = self._synchronise(include=False, running=False)

    def _end_pass(self, holdout, seconds: float) -> bool:
        self.sync_pass()
        loss = self._pass_loss.to(_F64).reshape(())
        tot = dist.all_reduce_sum(torch.stack([loss, torch.tensor(float(self._pass_rows), dtype=_F64,
                                                                  device=loss.device)]))
        self._pass_loss.fill_(float(tot[0]))
        self._pass_rows = int(round(float(tot[1])))
        return super()._end_pass(holdout, seconds)


# ------------------------------------------------------------------ shards and metrics
def shard_paths(paths: Iterable[str | Path]) -> list[Path]:
    """This rank's files of a list (sorted by name, then dealt round-robin)."""
    files = sorted(Path(p) for p in paths)
    return files[dist.rank():: dist.world_size()]


def shard_parquet(path: str | Path, batch_rows: int = 65536, columns: list[str] | None = None) -> Iterator:
    """Record batches of this rank's row groups of one Parquet file (dealt round-robin)."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    groups = list(range(f.num_row_groups))[dist.rank():: dist.world_size()]
    if groups:
        yield from f.iter_batches(batch_size=batch_rows, row_groups=groups, columns=columns)


def shard_batches(batches: Iterable) -> Iterator:
    """Every W-th batch of a stream, starting at this rank's (line ranges of one text file)."""
    r, w = dist.rank(), dist.world_size()
    for i, b in enumerate(batches):
        if i % w == r:
            yield b


def reduce_metrics(acc):
    """A streaming accumulator (or ``StreamingMetrics``) summed over ranks: a new object
    whose ``result()`` is the metric over every shard's rows."""
    state = dist.all_reduce_sum(acc.state())
    if hasattr(acc, "accumulators"):
        return type(acc).from_state(state, acc.names, acc.auc_bins)
    return type(acc).from_state(state, **acc._config())
