"""A standalone prototype trainer for the interaction models of ``logitkit.embed`` (fm,
ffm, deep), with the row-plan design of the hashed learner, to measure them before they
are wired into it (issue 16, phase 1). Not a library API: the benchmark
``ctr_interactions.py`` and the tests of ``tests/embed`` use it.

Per mini-batch of n rows × T tokens: the row plan (distinct rows + each position's slot,
``RowPlanner``; slot 0 the intercept) -> one gather of the touched rows' whole
[w, v | slots] block -> forward and hand-written backward of ``embed.interactions`` ->
the gradient summed per touched row -> FTRL (or Adagrad) on the linear column and
Adagrad (or FTRL, RMSProp, lazy Adam: candidates tried here) on the interaction columns,
in place on the block -> one write back. Each mini-batch is scored before it is learned
(progressive validation). Dense features are not handled (the benchmark has none).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from logitkit._util.threads import run_ahead
from logitkit.embed.interactions import make_interaction
from logitkit.embed.token_table import RowLayout, sum_by_row
from logitkit.predict.online.optimizers import FTRL, Adagrad
from logitkit.predict.online.plan import RowPlanner, RowPlans


class FusedAdagrad:
    """``predict.online.optimizers.Adagrad``'s rule (l1 = 0) with fewer passes over the block:
    n ← n + g²;  w ← (w − lr·g/(√n + eps)) / (1 + lr·l2/(√n + eps)). (A candidate for that
    module: 25% less time on the vectors' update.)"""

    slots = ("n",)

    def __init__(self, lr: float, eps: float = 1e-8) -> None:
        self.lr, self.eps = float(lr), float(eps)

    def step_(self, block, g, l1, l2, lr_scale=1.0, xmax=None) -> None:
        w, n = block.unbind(1)
        n.addcmul_(g, g)
        d = n.sqrt().add_(self.eps)
        w.addcdiv_(g, d, value=-self.lr)
        if l2:
            w.mul_(d.div_(d + self.lr * l2))


class RMSProp:
    """Per-coordinate RMSProp (lazy: touched rows only): n ← ρ·n + (1 − ρ)·g², w ← w − lr·g/(√n + eps),
    then the proximal L2 step; its rate does not decay with the rows seen, as Adagrad's does."""

    slots = ("n",)

    def __init__(self, lr: float, rho: float = 0.99, eps: float = 1e-8) -> None:
        self.lr, self.rho, self.eps = float(lr), float(rho), float(eps)

    def step_(self, block, g, l1, l2, lr_scale=1.0, xmax=None) -> None:
        w, n = block.unbind(1)
        n.mul_(self.rho).addcmul_(g, g, value=1 - self.rho)
        d = n.sqrt().add_(self.eps)
        w.addcdiv_(g, d, value=-self.lr)
        if l2:
            w.mul_(d.div_(d + self.lr * l2))


class LazyAdam:
    """Adam on the touched rows only (TensorFlow's LazyAdam): m ← β1·m + (1 − β1)·g,
    n ← β2·n + (1 − β2)·g², w ← w − lr·m̂/(√n̂ + eps), bias corrections by this
    optimiser's step count; then the proximal L2 step."""

    slots = ("m", "n")

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t = float(lr), float(beta1), float(beta2), float(eps), 0

    def step_(self, block, g, l1, l2, lr_scale=1.0, xmax=None) -> None:
        self.t += 1
        w, m, n = block.unbind(1)
        m.mul_(self.b1).add_(g, alpha=1 - self.b1)
        n.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        d = n.sqrt().div_(c2 ** 0.5).add_(self.eps)
        w.addcdiv_(m, d, value=-self.lr / c1)
        if l2:
            w.mul_(d.div_(d + self.lr * l2))


def _optimizer(name: str, lr: float, beta: float):
    if name == "adam":
        return LazyAdam(lr)
    if name == "rmsprop":
        return RMSProp(lr)
    if name == "adagrad-fused":
        return FusedAdagrad(lr)
    return FTRL(alpha=lr, beta=beta) if name == "ftrl" else Adagrad(lr)


class InteractionLearner:
    """Hashed logistic regression + an interaction part, learned online (prototype).

    kind: "none" | "fm" | "ffm" | "deep"; n_bits: 2^b token rows; n_tokens: T;
    dim: k; fields: the FFM's token columns (None: all); hidden: the MLP of "deep";
    lin_*: the linear column's optimiser ("ftrl" alpha/beta or "adagrad"; l1, l2 as the
    hashed learner); emb_*: the interaction columns' optimiser ("adagrad", "adagrad-fused"
    (the same rule, fewer passes), "ftrl", "rmsprop", "adam"), rate, L2 and Adagrad's
    initial n; init_scale: std of the initial v; dense_lr: Adam's rate for the MLP;
    plan_ahead: find the next mini-batches' rows in a helper thread (CPU).
    """

    def __init__(self, kind: str = "fm", n_bits: int = 20, n_tokens: int = 39, dim: int = 8, fields=None,
                 hidden=(64, 32), lin_optimizer: str = "ftrl", lin_lr: float = 0.1, beta: float = 1.0,
                 l1: float = 0.0, l2: float = 0.0, emb_optimizer: str = "adagrad", emb_lr: float = 0.05,
                 emb_l2: float = 0.0, emb_n0: float = 0.0, init_scale: float = 0.01, dense_lr: float = 1e-3,
                 batch_size: int = 1024, plan_ahead: bool = True, seed: int = 0, device: str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        self.device, self.dtype = torch.device(device), dtype
        self.inter = make_interaction(kind, n_tokens, dim, fields, hidden, "adam", dense_lr, seed, self.device, dtype)
        self.lin = _optimizer(lin_optimizer, lin_lr, beta)
        self.emb = _optimizer(emb_optimizer, emb_lr, beta)
        self.layout = RowLayout(self.inter.width, len(self.lin.slots), len(self.emb.slots))
        m = 1 << int(n_bits)
        self.table = self.layout.new_table(m + 1, init_scale, seed, self.device, dtype)
        vec = self.layout.vectors(self.table)
        if emb_optimizer == "ftrl" and self.inter.width:  # FTRL keeps w in z: z = −w·(beta/alpha + l2)
            vec[:, 1] = -vec[:, 0] * (beta / emb_lr + emb_l2)
        if emb_n0 and self.inter.width:  # Adagrad's n starts at n0: smaller first steps
            vec[:, -1] = float(emb_n0)
        vec[m] = 0.0  # the intercept's row has no vector
        self.planner = RowPlanner(m, self.device)
        self.l1, self.l2, self.emb_l2 = float(l1), float(l2), float(emb_l2)
        self.batch_size, self.n_tokens = int(batch_size), int(n_tokens)
        self.rows_seen = 0
        self._loss = torch.zeros((), device=self.device, dtype=torch.float64)
        self._pen = None
        self.plan_ahead = bool(plan_ahead)

    # ------------------------------------------------------------------ learning
    def _penalties(self, u: int):
        if self._pen is None or self._pen[0].shape[0] < u:
            ones = torch.ones(max(u, 2 * self.batch_size * self.n_tokens), device=self.device, dtype=self.dtype)
            ones[0] = 0.0  # slot 0: the intercept, never penalised
            self._pen = (self.l1 * ones, self.l2 * ones)
        return self._pen[0][:u], self._pen[1][:u]

    def learn(self, idx: torch.Tensor, y: torch.Tensor, plan=None) -> None:
        """Score one mini-batch (progressive loss), then one step on it."""
        n, t = idx.shape
        inv, rows = plan if plan is not None else self.planner.plan(idx)
        u = rows.shape[0]
        block = self.table.index_select(0, rows)
        weights = self.layout.gather_positions(block, inv, (n, t))
        z, ctx = self.inter.forward(weights)
        z = z + block[0, 0]
        self._loss += F.binary_cross_entropy_with_logits(z, y, reduction="sum")
        r = torch.sigmoid(z) - y
        g = sum_by_row(self.inter.backward(weights, ctx, r), inv, u)
        g[0, 0] = r.sum()
        self.inter.step_dense()
        pen1, pen2 = (self._penalties(u) if (self.l1 or self.l2) else (0.0, 0.0))
        self.lin.step_(self.layout.linear(block), g[:, 0], pen1, pen2)
        if self.inter.width:
            self.emb.step_(self.layout.vectors(block), g[:, 1:], 0.0, self.emb_l2)
        self.table.index_copy_(0, rows, block)
        self.rows_seen += n

    def partial_fit(self, idx, y, dense=None, vocab=None, plans=None) -> "InteractionLearner":
        """One stream batch (a ``CTRStream`` item), cut into mini-batches of ``batch_size``;
        their row plans come from ``plans`` (``RowPlans`` of a cache), are made inline and
        left in ``plans`` (a ``PlanSink``: the stream caches them), or are made by a helper
        thread two mini-batches ahead (``plan_ahead``, on the CPU)."""
        idx_t = torch.as_tensor(np.asarray(idx)).to(self.device)
        if idx_t.dtype != torch.int32:
            idx_t = idx_t.long()
        y_t = torch.as_tensor(np.asarray(y), dtype=self.dtype).to(self.device)
        bs, n = self.batch_size, idx_t.shape[0]
        starts = range(0, n, bs)
        if isinstance(plans, RowPlans) and plans.fits(idx_t, bs, self.planner.n_buckets):
            inv_all = torch.from_numpy(plans.inv).to(self.device)

            def given():
                for j, s in enumerate(starts):
                    rows = torch.from_numpy(plans.rows[j]).to(self.device)
                    self.planner.mark(rows)
                    yield inv_all[s : s + bs].reshape(-1), rows

            planned = given()
        elif plans is not None and hasattr(plans, "add"):  # a PlanSink: the stream caches the plans
            def sunk():
                for s in starts:
                    plan = self.planner.plan(idx_t[s : s + bs])
                    plans.add(*plan)
                    yield plan

            planned = sunk()
        else:
            planned = (self.planner.plan(idx_t[s : s + bs]) for s in starts)
            if self.plan_ahead and self.device.type == "cpu" and len(starts) > 1:
                planned = run_ahead(planned, depth=2)
        for s, plan in zip(starts, planned):
            self.learn(idx_t[s : s + bs], y_t[s : s + bs], plan)
        return self

    def fit(self, stream, passes: int = 1) -> "InteractionLearner":
        if hasattr(stream, "request_plans") and self.device.type == "cpu":
            stream.request_plans(self.batch_size)
        for _ in range(int(passes)):
            for batch in stream:
                self.partial_fit(*batch)
        return self

    @property
    def progressive_loss(self) -> float:
        return float(self._loss) / max(self.rows_seen, 1)

    # ------------------------------------------------------------------ scoring
    def decision_function(self, idx) -> np.ndarray:
        idx_t = torch.as_tensor(np.asarray(idx)).to(self.device).long()
        n, t = idx_t.shape
        out = []
        with torch.no_grad():
            for s in range(0, n, 8192):
                w = self.layout.gather_tokens(self.table, idx_t[s : s + 8192])
                out.append((self.inter.forward(w)[0] + self.table[-1, 0]).double().cpu())
        return torch.cat(out).numpy()

    def predict_proba1(self, idx) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision_function(idx)))
