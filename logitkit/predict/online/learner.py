"""``HashedLogisticRegression``: online logistic regression on hashed sparse features.

The model for click-through-rate data: each row is a set of T hashed ``field=value``
tokens (bucket indices in [0, 2^b)), optional dense numeric features and an intercept,

    logit_r = Σ_t w[idx_rt] + Σ_j v_j·x_rj + b,        P(y_r = 1) = σ(logit_r),

with w a table of 2^b weights looked up as an ``EmbeddingBag`` (mode "sum"; in training
the same sum as gather + sum, whose gathered weights the update reuses). It learns
online, one mini-batch at a time, by a per-coordinate optimiser (FTRL-Proximal,
Adagrad or VW-style adaptive normalised SGD, see ``logitkit.predict.online.optimizers``)
on the summed log loss of the batch. The table is interleaved: row i holds w_i and then
its optimiser slots (FTRL: z_i, n_i), so an update reads and writes each touched row
once. Only the rows a mini-batch touches are read and written: its *row plan*
(``logitkit.predict.online.plan``: the distinct rows, found without sorting, and each
position's slot among them) gathers them once, the gradient is summed per distinct row
in a small buffer with ``scatter_add_``, the optimiser updates the gathered block in
place and one ``index_copy_`` writes it back. A plan needs only the indices, so on CPU a
helper thread makes the next mini-batch's while one is learned (same bits as inline;
``_plan_ahead``), and a ``CTRStream`` with a cache makes them once, in its first pass,
and replays them. Memory is the table (+ optimiser slots), one int32 scratch table, plus
one mini-batch, whatever the size of the stream.

Progressive validation: each mini-batch is scored before it is learned, and the mean
log loss of those scores over a pass is Vowpal Wabbit's "average loss".
"""
from __future__ import annotations

import logging
import math
import os
import time
from typing import Any, Iterable, Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from logitkit._util.device import resolve_device, resolve_dtype
from logitkit._util.errors import ConfigError, DataError
from logitkit._util.threads import run_ahead
from logitkit.predict.online.checkpoint import load_checkpoint, save_checkpoint
from logitkit.predict.online.optimizers import OPTIMIZERS, expected_collisions, make_optimizer
from logitkit.predict.online.plan import PlanSink, RowPlanner, RowPlans
from logitkit.predict.online.sketch import TokenSketch

log = logging.getLogger(__name__)


class HashedBatch(NamedTuple):
    """One batch of a hashed stream.

    idx: (n, T) integer bucket indices; y: (n,) labels in {0, 1}; dense: (n, d) floats
    or None; vocab: (tokens, buckets, counts) arrays of the ``field=value`` tokens seen
    in the batch, for the token sketch, or None; plans: the ``RowPlans`` of its
    mini-batches (from a stream's cache) or None.
    """

    idx: Any
    y: Any
    dense: Any = None
    vocab: Any = None
    plans: Any = None


def _tensor(a, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
    return t.to(device=device, dtype=dtype) if dtype is not None else t.to(device)


class HashedLogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression on hashed tokens + dense features, trained online.

    Parameters
    ----------
    n_bits : int, default 22
        The weight table has 2^n_bits rows; indices must come from a hasher with the same b.
    optimizer : "ftrl", "adagrad" or "sgd" (VW-style adaptive normalised), default "ftrl"
    learning_rate : float or None
        FTRL's alpha, Adagrad's / SGD's rate; None = 0.1, 0.1, 0.5.
    beta : float, default 1.0
        FTRL's beta (per-coordinate rate alpha / (beta + √n)).
    l1, l2 : float >= 0, default 0
        Penalties on the table and the dense weights (never on the intercept), in units
        of the summed loss: l1·‖w‖₁ + l2/2·‖w‖₂² per coordinate as in McMahan et al.
    batch_size : int, default 1024
        Rows per update.
    n_passes : int, default 1
        Passes over the stream in ``fit``.
    shuffle : bool, default False
        Visit the rows of each incoming batch in a seeded random order.
    patience, tol : int, float
        With a holdout stream, stop after ``patience`` passes whose holdout log loss does
        not beat the best by a relative ``tol``; the best pass's weights are kept.
    checkpoint_dir, checkpoint_every : path or None, int
        Write a checkpoint every ``checkpoint_every`` stream batches (0: only at the end of
        each pass) into ``checkpoint_dir``; ``fit(..., resume_from=dir)`` continues it.
    sketch_size : int, default 100_000
        Capacity of the token sketch used by ``top_weights`` (0 disables it).
    device, dtype, random_state, verbose : as in ``LogisticRegression``.
    """

    def __init__(
        self,
        n_bits: int = 22,
        optimizer: str = "ftrl",
        learning_rate: float | None = None,
        beta: float = 1.0,
        l1: float = 0.0,
        l2: float = 0.0,
        batch_size: int = 1024,
        n_passes: int = 1,
        shuffle: bool = False,
        patience: int = 1,
        tol: float = 1e-4,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 0,
        sketch_size: int = 100_000,
        device: str = "cpu",
        dtype: str = "float32",
        random_state: int = 0,
        verbose: int = 0,
    ) -> None:
        self.n_bits = n_bits
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.beta = beta
        self.l1 = l1
        self.l2 = l2
        self.batch_size = batch_size
        self.n_passes = n_passes
        self.shuffle = shuffle
        self.patience = patience
        self.tol = tol
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.sketch_size = sketch_size
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ set-up
    def _check_params(self) -> None:
        if not isinstance(self.n_bits, (int, np.integer)) or not 1 <= self.n_bits <= 31:
            raise ConfigError(f"n_bits={self.n_bits!r} must be an integer in [1, 31]; 22 is VW's -b default for CTR")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer={self.optimizer!r} is not one of {sorted(OPTIMIZERS)}")
        for name in ("l1", "l2", "beta"):
            if not float(getattr(self, name)) >= 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be >= 0")
        if self.learning_rate is not None and not float(self.learning_rate) > 0:
            raise ConfigError(f"learning_rate={self.learning_rate!r} must be > 0 (or None for the default)")
        for name in ("batch_size", "n_passes", "patience"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be an integer >= 1")

    def _init_state(self, n_dense: int) -> None:
        self._check_params()
        self._device = resolve_device(self.device)
        self._dtype = resolve_dtype(self.dtype)
        self._opt = make_optimizer(self.optimizer, self.learning_rate, self.beta)
        m, dev, dt = 1 << int(self.n_bits), self._device, self._dtype
        width = 1 + len(self._opt.slots)
        # row m of the table is the intercept: updated with the touched rows, never penalised
        self._set_table(torch.zeros(m + 1, width, device=dev, dtype=dt), torch.zeros(n_dense, width, device=dev, dtype=dt))
        self.n_dense_in_ = int(n_dense)
        self._gen = torch.Generator(device="cpu").manual_seed(int(self.random_state))
        self.sketch_ = TokenSketch(self.sketch_size)
        self.classes_ = np.array([0, 1])
        self.n_rows_seen_ = 0
        self.n_updates_ = 0
        self._norm_sum = 0.0
        self._pass_loss = torch.zeros((), device=dev, dtype=torch.float64)
        self._pass_rows = 0
        self.pass_losses_: list[float] = []
        self.holdout_losses_: list[float] = []
        self.pass_seconds_: list[float] = []
        self.pass_ = 0
        self.batches_in_pass_ = 0
        self.best_pass_ = None
        self._best: dict[str, torch.Tensor] | None = None
        self._scratch()

    def _set_table(self, table: torch.Tensor, dense: torch.Tensor) -> None:
        """The interleaved state: ``table`` (2^b + 1, 1 + slots), each row a bucket's weight
        then its optimiser slots (an update reads and writes a touched row at once), row
        2^b the intercept; ``dense`` (d, 1 + slots) the same for the dense features.
        ``w_``, ``slots_`` (the 2^b token rows), ``dense_w_``, ``dense_slots_`` are views."""
        self._table, self._dense = table, dense
        m = table.shape[0] - 1
        self._w = table[:, 0]
        self._slots = {k: table[:, j + 1] for j, k in enumerate(self._opt.slots)}
        self.w_ = self._w[:m]
        self.slots_ = {k: v[:m] for k, v in self._slots.items()}
        self.dense_w_ = dense[:, 0]
        self.dense_slots_ = {k: dense[:, j + 1] for j, k in enumerate(self._opt.slots)}

    def _scratch(self) -> None:
        m = self._table.shape[0]
        self._l1vec = torch.empty(0, device=self._device, dtype=self._dtype)
        self._pen_for = (0.0, 0.0)
        # the distinct rows of a mini-batch (its scratch table also records the buckets touched)
        self._planner = RowPlanner(m - 1, self._device)
        self._next_plan = None  # set by partial_fit's helper thread for the next _learn
        self._last_call = None  # (wall, process CPU, thread CPU) at the last partial_fit
        self._helper_cpu = 0.0  # CPU seconds of the helper threads since then

    # ------------------------------------------------------------------ inputs
    def _inputs(self, idx, y=None, dense=None):
        dev = self._device
        idx_t = _tensor(idx, dev)
        if idx_t.ndim != 2 or idx_t.dtype not in (torch.int32, torch.int64):
            raise DataError(
                f"idx must be a 2-D integer array (rows, tokens) of bucket indices; got shape "
                f"{tuple(idx_t.shape)} and dtype {idx_t.dtype}"
            )
        n = idx_t.shape[0]
        if n and idx_t.numel():
            lo, hi = torch.aminmax(idx_t)
            if int(lo) < 0 or int(hi) >= self.w_.shape[0]:
                bad = int(lo) if int(lo) < 0 else int(hi)
                raise DataError(
                    f"idx holds bucket {bad}, outside [0, 2^{self.n_bits}); hash with n_bits="
                    f"{self.n_bits} or set the model's n_bits to the hasher's"
                )
        if idx_t.dtype != torch.int32:  # int32 (the cache's) is used as it is: no copy
            idx_t = idx_t.long()
        if dense is None:
            if self.n_dense_in_:
                raise DataError(f"the model was trained with {self.n_dense_in_} dense features; pass dense=(n, {self.n_dense_in_})")
            dense_t = None
        else:
            dense_t = _tensor(dense, dev, self._dtype)
            if dense_t.ndim != 2 or dense_t.shape != (n, self.n_dense_in_):
                raise DataError(
                    f"dense has shape {tuple(dense_t.shape)}; expected ({n}, {self.n_dense_in_}): one row per "
                    "row of idx and the same dense columns as the first batch"
                )
            if not bool(torch.isfinite(dense_t).all()):
                raise DataError("dense holds NaN or infinite values; impute them before training")
        if y is None:
            return idx_t, None, dense_t
        y_t = _tensor(y, dev, self._dtype).reshape(-1)
        if y_t.shape[0] != n:
            raise DataError(f"y has {y_t.shape[0]} labels for {n} rows of idx")
        if not bool(((y_t == 0) | (y_t == 1)).all()):
            bad = y_t[(y_t != 0) & (y_t != 1)][0].item()
            raise DataError(f"labels must be 0 or 1; found {bad:g}. Map -1/+1 (VW) labels to 0/1 first")
        return idx_t, y_t, dense_t

    # ------------------------------------------------------------------ model
    def _logits(self, idx: torch.Tensor, dense: torch.Tensor | None) -> torch.Tensor:
        """(n, T) indices, (n, d) dense -> (n,) logits."""
        # whole interleaved rows summed (as fast as a contiguous weight column), column 0 kept
        out = F.embedding_bag(idx, self._table[:-1], mode="sum")[:, 0]
        out = out + self._w[-1]
        if dense is not None and dense.shape[1]:
            out = out + dense @ self.dense_w_
        return out

    def _learn(self, idx: torch.Tensor, y: torch.Tensor, dense: torch.Tensor | None) -> None:
        """Score one mini-batch (progressive loss), then one optimiser step on it."""
        n, t = idx.shape
        plan, self._next_plan = self._next_plan, None
        inv, rows = plan if plan is not None else self._planner.plan(idx)
        u = rows.shape[0]
        # the touched rows, weights and slots at once; the EmbeddingBag sum written as
        # gathers + sum (faster on CPU): the rows' weights spread to the positions
        block = self._table.index_select(0, rows)
        w_u = block[:, 0]
        logits = w_u.index_select(0, inv).view(n, t).sum(1) + w_u[0]
        if dense is not None and dense.shape[1]:
            logits = logits + dense @ self.dense_w_
        self._pass_loss += F.binary_cross_entropy_with_logits(logits, y, reduction="sum")
        r = torch.sigmoid(logits) - y  # d(summed loss)/d(logit), shape (n,)
        # per slot: Σ of r over its positions, in position order; the intercept (slot 0) gets Σ r
        g = torch.zeros(u, device=self._device, dtype=self._dtype)
        g.scatter_add_(0, inv, r.repeat_interleave(t))  # (faster than index_add_)
        g[0] = r.sum()
        # VW's global normaliser: rows seen / Σ_rows ‖x/s‖² (tokens and intercept count 1 each)
        self._norm_sum += n * (t + 1)
        if dense is not None and dense.shape[1]:
            s = self.dense_slots_.get("s")
            if s is not None:
                scale = torch.maximum(s, dense.abs().amax(0)).clamp_min(1e-30)
                self._norm_sum += float(((dense / scale) ** 2).sum())
        self.n_rows_seen_ += n
        lr_scale = self.n_rows_seen_ / self._norm_sum
        l1, l2 = float(self.l1), float(self.l2)
        pen1, pen2 = self._row_penalties(u, l1, l2)
        self._opt.step_(block, g, pen1, pen2, lr_scale)
        self._table.index_copy_(0, rows, block)  # the rows are distinct
        if dense is not None and dense.shape[1]:  # dense block: numeric features
            self._opt.step_(self._dense, dense.T @ r, l1, l2, lr_scale, dense.abs().amax(0))
        self.n_updates_ += 1

    def _row_penalties(self, u: int, l1: float, l2: float):
        """l1, l2 for ``u`` touched rows whose first is the intercept (slot 0 of a row plan):
        views of cached vectors starting with 0."""
        if l1 == 0 and l2 == 0:
            return 0.0, 0.0
        if self._l1vec.shape[0] < u or self._pen_for != (l1, l2):
            pen = torch.ones(2 * u, device=self._device, dtype=self._dtype)
            pen[0] = 0.0
            self._l1vec, self._l2vec, self._pen_for = l1 * pen, l2 * pen, (l1, l2)
        return self._l1vec[:u], self._l2vec[:u]

    #: plan mini-batches ahead in a helper thread: "auto" (on CPU, when a core was free over
    #: the previous call; see ``_helper_has_a_core``), True (always), False (never)
    _plan_ahead: bool | str = "auto"

    def _helper_has_a_core(self) -> bool:
        """Whether this ``partial_fit`` call finds the next mini-batch's rows in a helper thread.

        "auto" (the default): when a core was free over the previous call, i.e. the
        process's other threads (the stream's parsers and hasher, say) used at most
        cores − 1.5 of them, the learner's own thread and its helper not counted. So the
        helper runs when the learner is alone (a pass over a binary cache without stored
        plans) and on many cores, but not while a text file is parsed and hashed on 2 cores, where it competes with
        those threads: the same work plus its hand-offs, ~0.4-0.9 more CPU-s per million
        rows and a first pass ~10% slower on the 2-core benchmark machine. True: always;
        False: never. The bits are the same either way.
        """
        if self._plan_ahead != "auto":
            return bool(self._plan_ahead)
        now = (time.perf_counter(), time.process_time(), time.thread_time())
        last, self._last_call = self._last_call, now
        helper, self._helper_cpu = self._helper_cpu, 0.0
        if last is None:
            return True
        others = (now[1] - last[1]) - (now[2] - last[2]) - helper
        return others <= (_n_cores() - 1.5) * (now[0] - last[0])

    # ------------------------------------------------------------------ API
    def partial_fit(self, idx, y, dense=None, vocab=None, plans: RowPlans | PlanSink | None = None, *,
                    classes=None) -> "HashedLogisticRegression":
        """Learn from one batch: (n, T) bucket indices, (n,) 0/1 labels, optional (n, d) dense.

        The rows are split into mini-batches of ``batch_size`` (visited in a seeded random
        order when ``shuffle``); each is scored, then learned. Each mini-batch's distinct
        table rows (its row plan, ``logitkit.predict.online.plan``) come from ``plans``
        (``RowPlans``) when they were made for this batch cut into ``batch_size`` rows and
        ``shuffle`` is off (a ``CTRStream`` replaying its cache); otherwise they are found
        here, on CPU by a helper thread one mini-batch ahead while one is learned (same
        bits as inline; ``_helper_has_a_core``), and left in ``plans`` when it is a
        ``PlanSink`` for them (a ``CTRStream`` writing its cache). int32 indices are used
        without a copy. ``vocab`` = (tokens, buckets, counts) feeds the token sketch.
        ``classes`` is accepted for scikit-learn compatibility and must be [0, 1] when given.
        """
        if plans is not None and not isinstance(plans, (RowPlans, PlanSink)):
            raise TypeError(f"plans must be RowPlans or a PlanSink (a CTRStream's), not {type(plans).__name__}; "
                            "pass classes= by keyword")
        if classes is not None and sorted(np.asarray(classes).tolist()) != [0, 1]:
            raise DataError(f"classes={list(classes)!r}: HashedLogisticRegression is binary with labels 0 and 1")
        if not hasattr(self, "w_"):
            self._init_state(0 if dense is None else np.shape(dense)[1])
        idx_t, y_t, dense_t = self._inputs(idx, y, dense)
        if vocab is not None:
            self.sketch_.update(*vocab)
        n, bs = idx_t.shape[0], int(self.batch_size)
        order = torch.randperm(n, generator=self._gen).to(self._device) if self.shuffle else None
        parts = [slice(s, s + bs) if order is None else order[s : s + bs] for s in range(0, n, bs)]
        usable = plans is not None and order is None and plans.fits(idx_t, bs, self._planner.n_buckets)
        sink = plans if usable and isinstance(plans, PlanSink) else None
        if usable and sink is None:
            planned = _given(self, idx_t, parts, plans)
        elif self._device.type == "cpu" and len(parts) > 1 and self._helper_has_a_core():
            planned = _planned(self, idx_t, parts)
        else:
            planned = ((idx_t[sel], None) for sel in parts)
        for sel, (idx_mb, plan) in zip(parts, planned):
            if sink is not None:
                plan = plan if plan is not None else self._planner.plan(idx_mb)
                sink.add(*plan)
            self._next_plan = plan
            self._learn(idx_mb, y_t[sel], None if dense_t is None else dense_t[sel])
        self._pass_rows += n
        return self

    def fit(self, stream: Iterable, holdout: Iterable | None = None, resume_from: str | None = None) -> "HashedLogisticRegression":
        """Train over ``stream`` for ``n_passes`` passes (or until the holdout stops improving).

        ``stream`` yields ``HashedBatch`` / tuples (idx, y[, dense[, vocab[, plans]]]); with
        ``n_passes > 1`` it must be re-iterable (a list, or a ``CTRStream`` which replays
        its binary cache). A stream with ``request_plans`` (``CTRStream``) is asked for the
        row plans of this model's mini-batches (on CPU, without ``shuffle``): its cache
        stores the ones made in the first pass. ``holdout`` (re-iterable too) is scored after each pass.
        ``resume_from`` is a checkpoint directory: training continues from where it was
        written, skipping the stream batches already learned.
        """
        self._check_params()
        if int(self.n_passes) > 1 and iter(stream) is stream:
            raise ConfigError(
                f"n_passes={self.n_passes} needs a re-iterable stream (a list or a CTRStream), "
                "but got a one-shot iterator; wrap the reader in a CTRStream or use n_passes=1"
            )
        if resume_from is not None:
            self.load_checkpoint(resume_from)
        else:
            for attr in ("w_",):
                if hasattr(self, attr):
                    delattr(self, attr)
        first_pass, skip = (self.pass_, self.batches_in_pass_) if hasattr(self, "w_") else (0, 0)
        if hasattr(stream, "request_plans") and not self.shuffle and resolve_device(self.device).type == "cpu":
            stream.request_plans(int(self.batch_size))
        for p in range(first_pass, int(self.n_passes)):
            t0 = time.perf_counter()
            self.pass_ = p
            for b, batch in enumerate(stream):
                if b < skip:
                    continue
                self.partial_fit(*batch)
                self.batches_in_pass_ = b + 1
                if self.checkpoint_dir and self.checkpoint_every and (b + 1) % int(self.checkpoint_every) == 0:
                    self.save_checkpoint(self.checkpoint_dir)
            skip = 0
            if not hasattr(self, "w_"):
                raise DataError("the training stream yielded no rows; check the file and its batch size")
            stop = self._end_pass(holdout, time.perf_counter() - t0)
            if self.checkpoint_dir:
                self.save_checkpoint(self.checkpoint_dir)
            if stop:
                break
        if self._best is not None and self.holdout_losses_[-1] > self.holdout_losses_[self.best_pass_]:
            self._load_tensors(self._best)  # the best pass's weights (and optimiser state)
            if self.checkpoint_dir:
                self.save_checkpoint(self.checkpoint_dir)
        return self

    def _end_pass(self, holdout, seconds: float) -> bool:
        """Close a pass: record its progressive loss, score the holdout; True = stop early."""
        loss = float(self._pass_loss) / max(self._pass_rows, 1)
        self.pass_losses_.append(loss)
        self.pass_seconds_.append(seconds)
        self._pass_loss.zero_()
        self._pass_rows = 0
        self.pass_ += 1
        self.batches_in_pass_ = 0
        if self.verbose:
            log.info("pass %d: progressive log loss %.6f, %.1f s", self.pass_, loss, seconds)
        if holdout is None:
            return False
        h = evaluate_stream(self, holdout)["log_loss"]
        self.holdout_losses_.append(h)
        best = None if self.best_pass_ is None else self.holdout_losses_[self.best_pass_]
        if best is None or h < best - float(self.tol) * abs(best):
            self.best_pass_ = len(self.holdout_losses_) - 1
            self._best = {k: v.clone() for k, v in self._tensors().items()}
            return False
        return len(self.holdout_losses_) - 1 - self.best_pass_ >= int(self.patience)

    @property
    def progressive_loss_(self) -> float:
        """Mean log loss of the first pass, each row scored before it was learned (VW's average loss)."""
        check_is_fitted(self, "w_")
        return self.pass_losses_[0] if self.pass_losses_ else float(self._pass_loss) / max(self._pass_rows, 1)

    def decision_function(self, idx, dense=None) -> np.ndarray:
        """Logits, shape (n,)."""
        check_is_fitted(self, "w_")
        idx_t, _, dense_t = self._inputs(idx, None, dense)
        with torch.no_grad():
            return self._logits(idx_t, dense_t).cpu().double().numpy()

    def predict_proba(self, idx, dense=None) -> np.ndarray:
        """(n, 2): P(y=0), P(y=1)."""
        z = torch.from_numpy(self.decision_function(idx, dense))
        p1 = torch.sigmoid(z)
        return torch.stack([torch.sigmoid(-z), p1], 1).numpy()

    def predict(self, idx, dense=None) -> np.ndarray:
        return (self.decision_function(idx, dense) > 0).astype(np.int64)

    @property
    def coef_(self) -> np.ndarray:
        """(1, 2^b + d): the table weights followed by the dense weights."""
        check_is_fitted(self, "w_")
        return torch.cat([self.w_, self.dense_w_]).cpu().numpy()[None, :]

    @property
    def intercept_(self) -> np.ndarray:
        check_is_fitted(self, "w_")
        return self._w[-1:].cpu().numpy()

    # ------------------------------------------------------------------ interpretation
    def top_weights(self, k: int = 20) -> list[dict]:
        """The k table rows of largest |w|, with the tokens the sketch saw hashed there.

        Each entry: {"bucket", "weight", "tokens": [(token, count), ...]}; an empty token
        list means the bucket's tokens were too rare to stay in the sketch.
        """
        check_is_fitted(self, "w_")
        k = min(int(k), self.w_.shape[0])
        vals, rows = torch.topk(self.w_.abs(), k)
        by_bucket = self.sketch_.by_bucket()
        out = []
        for v, r in zip(vals.tolist(), rows.tolist()):
            if v == 0:
                break
            out.append({"bucket": r, "weight": float(self.w_[r]), "tokens": by_bucket.get(r, [])})
        return out

    def collision_stats(self) -> dict[str, float]:
        """Hash-collision statistics of the table.

        occupied_buckets: rows ever touched by a training row; distinct_tokens_est: linear-counting estimate
        m·ln(m/(m − occupied)) of the distinct tokens behind them; expected_colliding_tokens:
        tokens expected to share a bucket at that many tokens; sketch_*: exact counts among
        the tokens the sketch holds (buckets holding >= 2 of them).
        """
        check_is_fitted(self, "w_")
        m = self.w_.shape[0]
        occ = int(self._planner.touched().sum())
        est = m * math.log(m / (m - occ)) if occ < m else float("inf")
        per_bucket: dict[int, int] = {}
        for b in self.sketch_.buckets.values():
            per_bucket[b] = per_bucket.get(b, 0) + 1
        shared = [c for c in per_bucket.values() if c > 1]
        return {
            "n_buckets": m,
            "occupied_buckets": occ,
            "load_factor": occ / m,
            "distinct_tokens_est": est,
            "expected_colliding_tokens": expected_collisions(est, m) if math.isfinite(est) else float("inf"),
            "sketch_tokens": len(self.sketch_.counts),
            "sketch_buckets_shared": len(shared),
            "sketch_tokens_in_shared_buckets": int(sum(shared)),
        }

    # ------------------------------------------------------------------ persistence
    def _tensors(self) -> dict[str, torch.Tensor]:
        t = {"w": self._w, "dense_w": self.dense_w_}  # w: the 2^b token rows, then the intercept (views)
        t.update({f"slot.{k}": v for k, v in self._slots.items()})
        t.update({f"dense_slot.{k}": v for k, v in self.dense_slots_.items()})
        return t

    def _load_tensors(self, t: dict[str, torch.Tensor]) -> None:
        dev, dt, names = self._device, self._dtype, self._opt.slots
        table = torch.stack([t["w"], *(t[f"slot.{k}"] for k in names)], 1)
        dense = torch.stack([t["dense_w"], *(t[f"dense_slot.{k}"] for k in names)], 1)
        self._set_table(table.to(dev, dt), dense.to(dev, dt))

    def save_checkpoint(self, directory: str) -> None:
        """Write the full training state (resumable) to ``directory``."""
        check_is_fitted(self, "w_")
        tensors = dict(self._tensors())
        tensors["rng"] = self._gen.get_state()
        tensors["touched"] = self._planner.touched().to(torch.uint8)
        tensors["pass_loss"] = self._pass_loss.reshape(1)
        if self._best is not None:
            tensors.update({f"best.{k}": v for k, v in self._best.items()})
        meta = {
            "format": "logitkit.HashedLogisticRegression/1",
            "params": self.get_params(),
            "n_dense_in": self.n_dense_in_,
            "counters": {
                "n_rows_seen": self.n_rows_seen_, "n_updates": self.n_updates_, "norm_sum": self._norm_sum,
                "pass_rows": self._pass_rows, "pass": self.pass_, "batches_in_pass": self.batches_in_pass_,
                "best_pass": self.best_pass_,
            },
            "pass_losses": self.pass_losses_,
            "holdout_losses": self.holdout_losses_,
            "pass_seconds": self.pass_seconds_,
            "sketch": self.sketch_.to_json(),
        }
        save_checkpoint(directory, tensors, meta)

    def load_checkpoint(self, directory: str) -> "HashedLogisticRegression":
        """Restore the state written by ``save_checkpoint``; this model's parameters must match."""
        tensors, meta = load_checkpoint(directory)
        saved = meta["params"]
        mine = self.get_params()
        for key in ("n_bits", "optimizer", "learning_rate", "beta", "l1", "l2", "batch_size", "shuffle", "random_state"):
            if saved.get(key) != mine.get(key):
                raise ConfigError(
                    f"{directory}: checkpoint has {key}={saved.get(key)!r} but this model has {key}={mine.get(key)!r}; "
                    "resume with the parameters of the run that wrote it"
                )
        self._init_state(meta["n_dense_in"])
        self._load_tensors(tensors)
        self._gen.set_state(tensors["rng"])
        touched = tensors["touched"][: self._planner.n_buckets]  # (earlier versions kept the intercept's too)
        self._planner.owner = torch.where(touched.to(self._device).bool(), 0, -1).to(torch.int32)
        self._pass_loss = tensors["pass_loss"].to(self._device, torch.float64).reshape(())
        best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        self._best = {k: v.to(self._device) for k, v in best.items()} or None
        c = meta["counters"]
        self.n_rows_seen_, self.n_updates_, self._norm_sum = c["n_rows_seen"], c["n_updates"], c["norm_sum"]
        self._pass_rows, self.pass_, self.batches_in_pass_ = c["pass_rows"], c["pass"], c["batches_in_pass"]
        self.best_pass_ = c["best_pass"]
        self.pass_losses_, self.holdout_losses_ = meta["pass_losses"], meta["holdout_losses"]
        self.pass_seconds_ = meta["pass_seconds"]
        self.sketch_ = TokenSketch.from_json(meta["sketch"])
        return self

    @classmethod
    def load(cls, directory: str, device: str = "cpu") -> "HashedLogisticRegression":
        """A model from a checkpoint directory (its saved parameters), ready to predict or resume."""
        _, meta = load_checkpoint(directory)
        model = cls(**{**meta["params"], "device": device})
        return model.load_checkpoint(directory)


def _n_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _given(model: HashedLogisticRegression, idx: torch.Tensor, parts: list, plans: RowPlans) -> Iterator[tuple]:
    """(mini-batch indices, its plan from ``plans``) for each of ``parts`` (consecutive
    slices); the plans' buckets are recorded as touched."""
    dev = model._device
    inv = torch.from_numpy(plans.inv)
    for sel, rows in zip(parts, plans.rows):
        rows = torch.from_numpy(rows).to(dev)
        model._planner.mark(rows)
        yield idx[sel], (inv[sel].reshape(-1).to(dev), rows)


def _planned(model: HashedLogisticRegression, idx: torch.Tensor, parts: list) -> Iterator[tuple]:
    """(mini-batch indices, ``model._planner.plan`` of them) for each of ``parts``, made by a helper
    thread one or two mini-batches ahead of the learner (torch releases the GIL in its
    kernels, so the plan of the next mini-batch is found while this one is learned).

    The results are the bits of the inline loop: the plans are made in the same order on
    the same buffer (the planner's ``owner``), which the learner itself never touches.
    """

    def plans() -> Iterator[tuple]:
        try:
            for sel in parts:
                mb = idx[sel]
                yield mb, model._planner.plan(mb)
        finally:  # (run in the helper thread: its own CPU seconds)
            model._helper_cpu += time.thread_time()

    return run_ahead(plans(), depth=2)


def evaluate_stream(model: HashedLogisticRegression, batches: Iterable, accumulators: Iterable = ()) -> dict[str, float]:
    """Score a stream without learning; memory is one batch.

    Returns {"log_loss", "n_rows", "mean_p", "mean_y"} computed here, and hands each
    batch's (y, p) (numpy float64, shape (n,)) to every ``accumulator.update(y, p)``
    (e.g. the streaming AUC of ``logitkit.evaluate.streaming``).
    """
    accs = list(accumulators)
    loss, n, sp, sy = 0.0, 0, 0.0, 0.0
    with torch.no_grad():
        for batch in batches:
            idx_t, y_t, dense_t = model._inputs(batch[0], batch[1], batch[2] if len(batch) > 2 else None)
            z = model._logits(idx_t, dense_t)
            loss += float(F.binary_cross_entropy_with_logits(z, y_t, reduction="sum").double())
            p = torch.sigmoid(z.double())
            n += y_t.shape[0]
            sp += float(p.sum())
            sy += float(y_t.sum())
            if accs:
                yn, pn = y_t.double().cpu().numpy(), p.cpu().numpy()
                for acc in accs:
                    acc.update(yn, pn)
    if n == 0:
        raise DataError("the evaluation stream yielded no rows; check the test file")
    return {"log_loss": loss / n, "n_rows": n, "mean_p": sp / n, "mean_y": sy / n}
