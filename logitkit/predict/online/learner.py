"""``HashedLogisticRegression``: online logistic regression on hashed sparse features.

The model for click-through-rate data: each row is a set of T hashed ``field=value``
tokens (bucket indices in [0, 2^b)), optional dense numeric features and an intercept,

    logit_r = Σ_t w[idx_rt] + Σ_j v_j·x_rj + b,        P(y_r = 1) = σ(logit_r),

with w a table of 2^b weights (``table.HashedTable``: interleaved with the optimiser's
slots). It learns online, one mini-batch at a time, by a per-coordinate optimiser
(FTRL-Proximal, Adagrad or VW-style adaptive normalised SGD, ``optimizers``) on the
summed log loss of the batch. Only the rows a mini-batch touches are read and written:
its *row plan* (``plan``: the distinct rows, found without sorting, and each position's
slot among them) gathers them once, the gradient is summed per distinct row in a small
buffer with ``scatter_add_``, the optimiser updates the gathered block in place and one
``index_copy_`` writes it back. Plans are made inline, by a helper thread ahead of the
learner, or replayed from a stream's cache (``schedule``; same bits every way). Memory
is the table (+ optimiser slots), one int32 scratch table, plus one mini-batch, whatever
the size of the stream.

Progressive validation: each mini-batch is scored before it is learned; the mean log
loss of those scores over a pass is Vowpal Wabbit's "average loss". Other stages use
``logits`` (``evaluate.streaming.evaluate_stream``), ``w_``, ``sketch_`` and ``touched_``
(``interpret.hashed``: top weights, collisions).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from logitkit._util.device import resolve_device, resolve_dtype
from logitkit._util.errors import ConfigError, DataError, InputFileError
from logitkit.loaddata.batch_cache import BatchExtras
from logitkit.predict.online.checkpoint import MANIFEST, load_checkpoint, read_meta, restoring, save_checkpoint
from logitkit.predict.online.curve import LossCurve
from logitkit.predict.online.estimator import OnlineClassifier, check_fitted
from logitkit.predict.online.optimizers import OPTIMIZERS, make_optimizer
from logitkit.predict.online.plan import PLAN_DTYPES, PlanSink, RowPlanner, RowPlans, plan_key, plans_of
from logitkit.predict.online.schedule import PlanSchedule
from logitkit.predict.online.sketch import TokenSketch
from logitkit.predict.online.table import HashedTable, row_penalties
from logitkit.predict.persist import Persistent, read

log = logging.getLogger(__name__)

#: parameters a checkpoint must share with the model that resumes it
_RESUME_PARAMS = ("n_bits", "optimizer", "learning_rate", "beta", "l1", "l2", "batch_size", "shuffle", "random_state")


class HashedLogisticRegression(Persistent, OnlineClassifier):
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
        Capacity of the token sketch that names the buckets (``interpret.hashed.top_weights``;
        0 disables it).
    device, dtype, random_state, verbose : as in ``LogisticRegression``.
    """

    def __init__(self, n_bits: int = 22, optimizer: str = "ftrl", learning_rate: float | None = None,
                 beta: float = 1.0, l1: float = 0.0, l2: float = 0.0, batch_size: int = 1024, n_passes: int = 1,
                 shuffle: bool = False, patience: int = 1, tol: float = 1e-4, checkpoint_dir: str | None = None,
                 checkpoint_every: int = 0, sketch_size: int = 100_000, device: str = "cpu", dtype: str = "float32",
                 random_state: int = 0, verbose: int = 0) -> None:
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
        dev = self._device
        self._set_table(self._new_table(n_dense))
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
        self.loss_curve_ = LossCurve(int(self.batch_size))  # pass 1's progressive loss by rows seen
        self.holdout_losses_: list[float] = []
        self.pass_seconds_: list[float] = []
        self.pass_ = 0
        self.batches_in_pass_ = 0
        self.best_pass_ = None
        self._best: dict[str, torch.Tensor] | None = None
        self._penalties: dict = {}  # row_penalties' vectors
        # the distinct rows of a mini-batch (its scratch table also records the buckets touched)
        self._planner = RowPlanner(1 << int(self.n_bits), dev)
        self._schedule = PlanSchedule(self._planner)
        self._next_plan = None  # the plan of the next _learn, set by partial_fit

    def _new_table(self, n_dense: int) -> HashedTable:  # the initial state: zero weights and slots
        return HashedTable.zeros(1 << int(self.n_bits), n_dense, self._opt.slots, self._device, self._dtype)

    def _set_table(self, table: HashedTable) -> None:
        """The state (``table.HashedTable``); ``w_``, ``slots_`` (the 2^b token rows),
        ``dense_w_``, ``dense_slots_`` are views of it."""
        self._table = table
        self.w_, self.slots_ = table.token_w, table.token_slots
        self.dense_w_, self.dense_slots_ = table.dense_w, table.dense_slots

    # ------------------------------------------------------------------ learning
    def _learn(self, idx: torch.Tensor, y: torch.Tensor, dense: torch.Tensor | None) -> None:
        """Score one mini-batch (progressive loss), then one optimiser step on it."""
        n, t = idx.shape
        plan, self._next_plan = self._next_plan, None
        inv, rows = plan if plan is not None else self._planner.plan(idx)
        u = rows.shape[0]
        # the touched rows, weights and slots at once; the EmbeddingBag sum written as
        # gathers + sum (faster on CPU): the rows' weights spread to the positions
        block = self._table.table.index_select(0, rows)
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
        pen1, pen2 = row_penalties(self._penalties, u, l1, l2, self._device, self._dtype)
        self._opt.step_(block, g, pen1, pen2, lr_scale)
        self._table.table.index_copy_(0, rows, block)  # the rows are distinct
        if dense is not None and dense.shape[1]:  # dense block: numeric features
            self._opt.step_(self._table.dense, dense.T @ r, l1, l2, lr_scale, dense.abs().amax(0))
        self.n_updates_ += 1

    #: plan mini-batches ahead in a helper thread: "auto" (on CPU, when a core was free over
    #: the previous call; ``schedule.PlanSchedule.helper_has_a_core``), True (always), False (never)
    _plan_ahead: bool | str = "auto"

    # ------------------------------------------------------------------ API
    def partial_fit(self, idx, y, dense=None, vocab=None, plans: BatchExtras | RowPlans | PlanSink | None = None, *,
                    classes=None) -> "HashedLogisticRegression":
        """Learn from one batch: (n, T) bucket indices, (n,) 0/1 labels, optional (n, d) dense.

        The rows are split into mini-batches of ``batch_size`` (in a seeded random order
        when ``shuffle``); each is scored, then learned. Their row plans (``plan``) come
        from ``plans`` when made for this batch and ``batch_size`` without ``shuffle``
        (a ``CTRStream``'s extras read from its cache, or ``RowPlans``); else they are
        made here (``schedule``) and left in ``plans`` when it is the empty extras of a
        ``CTRStream`` writing its cache (or a ``PlanSink``). int32 indices are used
        without a copy. ``vocab`` = (tokens, buckets, counts) feeds the token sketch.
        ``classes`` (scikit-learn compatibility) must be [0, 1] when given.
        """
        if isinstance(plans, BatchExtras):
            plans = plans_of(plans, np.shape(idx))
        elif plans is not None and not isinstance(plans, (RowPlans, PlanSink)):
            raise TypeError(f"plans must be a CTRStream's extras, RowPlans or a PlanSink, not {type(plans).__name__}; "
                            "pass classes= by keyword")
        if classes is not None and sorted(np.asarray(classes).tolist()) != [0, 1]:
            raise DataError(f"classes={list(classes)!r}: HashedLogisticRegression is binary with labels 0 and 1")
        if not hasattr(self, "w_"):
            self._init_state(0 if dense is None else np.shape(dense)[1])
        idx_t, y_t, dense_t = self._table.check_batch(idx, y, dense, int(self.n_bits), self.n_dense_in_)
        if vocab is not None:
            self.sketch_.update(*vocab)
        n, bs = idx_t.shape[0], int(self.batch_size)
        order = torch.randperm(n, generator=self._gen).to(self._device) if self.shuffle else None
        parts = [slice(s, s + bs) if order is None else order[s : s + bs] for s in range(0, n, bs)]
        usable = plans is not None and order is None and plans.fits(idx_t, bs, self._planner.n_buckets)
        sink = plans if usable and isinstance(plans, PlanSink) else None
        given = plans if usable and sink is None else None
        for sel, (idx_mb, plan) in zip(parts, self._schedule.pairs(idx_t, parts, given, self._plan_ahead)):
            if sink is not None:
                plan = plan if plan is not None else self._planner.plan(idx_mb)
                sink.add(*plan)
            self._next_plan = plan
            self._learn(idx_mb, y_t[sel], None if dense_t is None else dense_t[sel])
            self.loss_curve_.observe(self.pass_, self.n_rows_seen_, self._pass_loss)
        self._pass_rows += n
        return self

    def fit(self, stream: Iterable, holdout: Iterable | None = None, resume_from: str | None = None) -> "HashedLogisticRegression":
        """Train over ``stream`` for ``n_passes`` passes (or until the holdout stops improving).

        ``stream`` yields tuples (idx, y[, dense[, vocab[, extras]]]); with ``n_passes > 1``
        it must be re-iterable (a list, or a ``CTRStream`` which replays its binary
        cache). A stream with ``request_extras`` (``CTRStream``) is asked to keep the row
        plans of this model's mini-batches (on CPU, without ``shuffle``): its cache stores
        the ones made in the first pass. ``holdout`` (re-iterable too) is scored after
        each pass. ``resume_from`` is a checkpoint directory: training continues from
        where it was written, skipping the stream batches already learned.
        """
        self._check_params()
        if int(self.n_passes) > 1 and iter(stream) is stream:
            raise ConfigError(
                f"n_passes={self.n_passes} needs a re-iterable stream (a list or a CTRStream), "
                "but got a one-shot iterator; wrap the reader in a CTRStream or use n_passes=1"
            )
        if resume_from is not None:
            self.load_checkpoint(resume_from)
        elif hasattr(self, "w_"):
            del self.w_
        first_pass, skip = (self.pass_, self.batches_in_pass_) if hasattr(self, "w_") else (0, 0)
        if hasattr(stream, "request_extras") and not self.shuffle and resolve_device(self.device).type == "cpu":
            stream.request_extras(plan_key(int(self.batch_size), 1 << int(self.n_bits)), PLAN_DTYPES)
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
        self.loss_curve_.close(self.pass_, self._pass_rows, loss)
        self.pass_seconds_.append(seconds)
        self._pass_loss.zero_()
        self._pass_rows = 0
        self.pass_ += 1
        self.batches_in_pass_ = 0
        if self.verbose:
            log.info("pass %d: progressive log loss %.6f, %.1f s", self.pass_, loss, seconds)
        if holdout is None:
            return False
        h = self._table.mean_log_loss(holdout, int(self.n_bits), self.n_dense_in_)
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
        check_fitted(self, "w_")
        return self.pass_losses_[0] if self.pass_losses_ else float(self._pass_loss) / max(self._pass_rows, 1)

    @property
    def running_loss_(self) -> float:
        """Mean progressive log loss of the pass under way, over its rows so far."""
        check_fitted(self, "w_")
        return float(self._pass_loss) / max(self._pass_rows, 1)

    def logits(self, idx, dense=None) -> torch.Tensor:
        """Logits, shape (n,): a tensor on the model's device in its dtype (no gradient)."""
        check_fitted(self, "w_")
        idx_t, _, dense_t = self._table.check_batch(idx, None, dense, int(self.n_bits), self.n_dense_in_)
        with torch.no_grad():
            return self._table.logits(idx_t, dense_t)

    @property
    def coef_(self) -> np.ndarray:
        """(1, 2^b + d): the table weights followed by the dense weights."""
        check_fitted(self, "w_")
        return torch.cat([self.w_, self.dense_w_]).cpu().numpy()[None, :]

    @property
    def intercept_(self) -> np.ndarray:
        check_fitted(self, "w_")
        return self._table.w[-1:].cpu().numpy()

    @property
    def touched_(self) -> torch.Tensor:
        """(2^b,) bool: the buckets that some training row fell in (e.g. for collision statistics)."""
        check_fitted(self, "w_")
        return self._planner.touched()

    # ------------------------------------------------------------------ persistence
    def _tensors(self) -> dict[str, torch.Tensor]:
        return self._table.tensors()

    def _load_tensors(self, t: dict[str, torch.Tensor]) -> None:
        self._set_table(HashedTable.from_tensors(t, self._opt.slots, self._device, self._dtype))

    def to_state(self) -> tuple[dict, dict]:
        """(tensors, JSON metadata): the full training state (resumable); ``from_state``
        rebuilds the model, ``save_checkpoint``/``save`` write it to a folder."""
        check_fitted(self, "w_")
        tensors = dict(self._tensors())
        tensors["rng"] = self._gen.get_state()
        tensors["touched"] = self._planner.touched().to(torch.uint8)
        tensors["pass_loss"] = self._pass_loss.reshape(1)
        if self._best is not None:
            tensors.update({f"best.{k}": v for k, v in self._best.items()})
        c = {"n_rows_seen": self.n_rows_seen_, "n_updates": self.n_updates_, "norm_sum": self._norm_sum,
             "pass_rows": self._pass_rows, "pass": self.pass_, "batches_in_pass": self.batches_in_pass_,
             "best_pass": self.best_pass_}
        meta = {"format": self._format, "estimator": type(self).__name__,
                "params": self.get_params(), "n_dense_in": self.n_dense_in_, "counters": c,
                "pass_losses": self.pass_losses_, "holdout_losses": self.holdout_losses_,
                "pass_seconds": self.pass_seconds_, "sketch": self.sketch_.to_json(),
                "loss_curve": self.loss_curve_.to_json(), **self._checkpoint_meta()}
        return tensors, meta

    @classmethod
    def from_state(cls, tensors: dict, meta: dict) -> "HashedLogisticRegression":
        return cls(**meta["params"])._restore(tensors, meta)

    def save_checkpoint(self, directory: str) -> None:
        """Write the full training state (resumable) to ``directory``."""
        save_checkpoint(directory, *self.to_state())

    _format = "logitkit.HashedLogisticRegression/1"  # "format" in state.json; a subclass's adds _checkpoint_meta()
    _checkpoint_meta = dict  # () -> what a subclass's checkpoint adds to its JSON (nothing here)

    @restoring
    def load_checkpoint(self, directory: str) -> "HashedLogisticRegression":
        """Restore the state written by ``save_checkpoint``; this model's parameters must match."""
        tensors, meta = load_checkpoint(directory)
        saved = meta["params"]
        mine = self.get_params()
        for key in _RESUME_PARAMS:
            if saved.get(key) != mine.get(key):
                raise ConfigError(
                    f"{directory}: checkpoint has {key}={saved.get(key)!r} but this model has {key}={mine.get(key)!r}; "
                    "resume with the parameters of the run that wrote it"
                )
        return self._restore(tensors, meta)

    def _restore(self, tensors: dict, meta: dict) -> "HashedLogisticRegression":
        self._init_state(meta["n_dense_in"])
        self._load_tensors(tensors)
        self._gen.set_state(tensors["rng"])
        self._planner.restore(tensors["touched"][: self._planner.n_buckets])  # (earlier versions kept the intercept's too)
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
        self.loss_curve_ = LossCurve.from_json(meta.get("loss_curve"), int(self.batch_size))
        return self

    @classmethod
    @restoring
    def load(cls, directory: str, device: str = "cpu") -> "HashedLogisticRegression":
        """A model from a checkpoint folder or a ``save`` folder (its saved parameters), ready
        to predict or resume."""
        if (Path(directory) / "model.json").is_file() and not (Path(directory) / MANIFEST).is_file():  # model.save's
            tensors, meta = read(directory)
            return cls(**{**meta["params"], "device": device})._restore(tensors, meta)
        meta = read_meta(directory)
        if meta.get("format", cls._format) != cls._format:
            raise InputFileError(f"{directory}: a {meta['format']} checkpoint, not {cls._format}; load it with "
                                 "logitkit.predict.online.load_hashed(directory)")
        return cls(**{**meta["params"], "device": device}).load_checkpoint(directory)
