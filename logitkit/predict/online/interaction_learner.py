"""``HashedInteractionModel``: the hashed online learner with pairwise interactions (FM,
field-aware FM, DeepFM) in front of the same logistic head.

Each token's table row holds, beside its linear weight w, a vector v (``embed``:
``RowLayout``, ``make_interaction``), and

    logit_r = Σ_t w[idx_rt] + inter(v[idx_r1], …, v[idx_rT]) + Σ_j u_j·x_rj + b

with ``inter`` the factorisation machine Σ_{s<t} ⟨v_s, v_t⟩ (``fm``), the field-aware
FM over a few token columns (``ffm``: one vector per token and other field), or the FM
plus an MLP over [v_1, …, v_T] (``deep``, DeepFM). Everything else is
``HashedLogisticRegression``'s, inherited: the stream of batches, mini-batches and
their row plans (replayed from the stream's cache, else made ahead by a helper thread
on 2+ cores: the learner is the slow thread here), the progressive loss, passes,
holdout early stopping, checkpoints and resume (the same bits), the token sketch. Per
mini-batch of n rows × T tokens:

    block = table[rows]                         one gather of the touched rows, [w, slots | v, slots]
    z = inter.forward(block spread to the positions) + b (+ dense part)        scored first
    r = σ(z) − y;  per-position gradients by hand (``embed``), summed per touched row
    the linear optimiser (FTRL or Adagrad: ``optimizer``) on [w, slots] and the vectors'
    (Adagrad or FTRL: ``embedding_optimizer``) on [v, slots], in place; the MLP's
    (Adam or Adagrad: ``dense_optimizer``) on its weights
    table[rows] = block                         one write back

so only the touched rows are read and written (lazy per-coordinate updates); the MLP
is dense and takes one step per mini-batch.

Initialisation and seeds: w, every slot and the dense weights start at 0; v ~ N(0,
init_scale²), drawn on the CPU by a generator seeded with ``random_state`` over the
whole table in row order (the same bits on every device; the intercept's row 0); with
FTRL on the vectors its z starts at −v·(beta/alpha + l2), so that its first weights
are those v. The MLP's weights are Kaiming-normal N(0, 2/fan_in) from a generator
seeded with ``random_state + 1``, its biases 0. ``shuffle`` draws from the
``random_state`` generator as the linear model does. Same parameters, same stream:
same bits.
"""
from __future__ import annotations

import inspect
import json
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F

from logitkit._util.device import resolve_device, resolve_dtype
from logitkit._util.errors import ConfigError, DataError, UserError
from logitkit._util.params import POSITIVE, Interval, Param, check_params, estimator_init, params_doc
from logitkit.embed.interactions import make_interaction
from logitkit.embed.token_table import sum_by_row
from logitkit.predict.online.checkpoint import read_meta
from logitkit.predict.online.interaction_table import InteractionTable
from logitkit.predict.online.learner import HashedLogisticRegression
from logitkit.predict.online.optimizers import FTRL, FusedAdagrad
from logitkit.predict.online.schedule import n_cores
from logitkit.predict.online.table import row_penalties

#: the interaction part's parameters (the linear part's are ``HashedLogisticRegression``'s)
PARAMS = {
    "interactions": Param("fm", ("fm", "ffm", "deep"),
                          "The interaction part: 'fm' (factorisation machine), 'ffm' (field-aware, over "
                          "ffm_fields) or 'deep' (DeepFM: fm + an MLP over the vectors)."),
    "embedding_dim": Param(8, (Interval(Integral, 1),), "k, the length of a token's vector (an FFM row holds one "
                                                        "per field: F·k floats)."),
    "embedding_optimizer": Param("adagrad", ("adagrad", "ftrl"), "Per-coordinate rule of the vectors, on the "
                                                                 "touched rows only."),
    "embedding_learning_rate": Param(0.05, (POSITIVE,), "The vectors' rate (FTRL's alpha)."),
    "embedding_l2": Param(0.0, (Interval(Real, 0),), "L2 penalty on the vectors (summed-loss units, as l2)."),
    "init_scale": Param(0.01, (POSITIVE,), "Standard deviation of the initial vectors (v = 0 would be a saddle "
                                           "point)."),
    "ffm_fields": Param(None, None, "The token columns of the FFM (the hasher's order: fields, then crosses); "
                                    "None: all.", text="None or a list of token columns"),
    "hidden": Param((64, 32), None, "The MLP of 'deep' (ReLU layers) over the T·k concatenated vectors.",
                    text="a sequence of layer sizes"),
    "dense_optimizer": Param("adam", ("adam", "adagrad"), "The MLP's optimiser (one step per mini-batch)."),
    "dense_learning_rate": Param(1e-3, (POSITIVE,), "The MLP's rate."),
}
#: the linear model's parameters, with the mini-batch that trained best per row here (benchmarks/ctr_interactions.py)
_LINEAR = {name: Param(256 if name == "batch_size" else p.default, None, "As HashedLogisticRegression's.")
           for name, p in list(inspect.signature(HashedLogisticRegression.__init__).parameters.items())[1:]}


class HashedInteractionModel(HashedLogisticRegression):
    __doc__ = f"""Hashed logistic regression + an interaction part over token vectors, trained online.

    The parameters of ``HashedLogisticRegression`` mean the same here (its ``optimizer``
    is the linear part's, "ftrl" or "adagrad"; ``batch_size`` defaults to 256), and

{params_doc(PARAMS)}

    Attributes beside the linear model's: ``v_`` (2^b, D) the token vectors (a view of the
    table), ``n_tokens_in_`` (T, fixed by the first batch).
    """

    __init__ = estimator_init({**PARAMS, **_LINEAR})
    _format = "logitkit.HashedInteractionModel/1"
    #: the row plans of the next mini-batches made by a helper thread whenever there is more
    #: than one core: here the learner is the slow thread, so taking the plans off it pays
    #: (the linear model's "auto" rule left it inline at times; 12% slower on 2 cores)
    _plan_ahead = n_cores() > 1

    # ------------------------------------------------------------------ set-up
    def _check_params(self) -> None:
        super()._check_params()
        if self.interactions == "none":
            raise ConfigError("HashedInteractionModel: interactions='none' is the linear model, HashedLogisticRegression")
        if self.optimizer == "sgd":
            raise ConfigError("HashedInteractionModel: optimizer='sgd' (VW's normalised update) is the linear "
                              "model's; with interactions use 'ftrl' or 'adagrad'")
        check_params(self, PARAMS)

    def _init_state(self, n_dense: int) -> None:
        self._check_params()
        t = self._tokens_for_init
        self._inter = make_interaction(self.interactions, t, int(self.embedding_dim), self.ffm_fields,
                                       tuple(self.hidden), self.dense_optimizer, self.dense_learning_rate,
                                       int(self.random_state) + 1, resolve_device(self.device),
                                       resolve_dtype(self.dtype))
        lr = float(self.embedding_learning_rate)
        self._vopt = FTRL(alpha=lr, beta=float(self.beta)) if self.embedding_optimizer == "ftrl" else FusedAdagrad(lr)
        self.n_tokens_in_ = int(t)
        super()._init_state(n_dense)

    def _new_table(self, n_dense: int) -> InteractionTable:
        table = InteractionTable.new(1 << int(self.n_bits), n_dense, self._opt.slots, self._vopt.slots, self._inter,
                                     float(self.init_scale), int(self.random_state), self._device, self._dtype)
        if isinstance(self._vopt, FTRL):  # z such that FTRL's first weights are the drawn v
            table.vector_slots["z"].copy_(table.v * -(self._vopt.beta / self._vopt.alpha + float(self.embedding_l2)))
        return table

    def _set_table(self, table: InteractionTable) -> None:
        super()._set_table(table)
        self.v_ = table.v[:-1]

    def _load_tensors(self, t: dict[str, torch.Tensor]) -> None:
        self._set_table(InteractionTable.restore(t, self._opt.slots, self._vopt.slots, self._inter, self._device,
                                                 self._dtype))

    # ------------------------------------------------------------------ learning
    def _learn(self, idx: torch.Tensor, y: torch.Tensor, dense: torch.Tensor | None) -> None:
        """Score one mini-batch (progressive loss), then one step of every optimiser on it."""
        n, t = idx.shape
        plan, self._next_plan = self._next_plan, None
        inv, rows = plan if plan is not None else self._planner.plan(idx)
        u = rows.shape[0]
        tab = self._table
        block = tab.table.index_select(0, rows)
        weights = tab.layout.gather_positions(block, inv, (n, t))  # (1 + D, n, T): [w, v] per position
        z, ctx = self._inter.forward(weights)
        logits = z + block[0, 0]
        if dense is not None and dense.shape[1]:
            logits = logits + dense @ self.dense_w_
        self._pass_loss += F.binary_cross_entropy_with_logits(logits, y, reduction="sum")
        r = torch.sigmoid(logits) - y  # d(summed loss)/d(logit), (n,)
        g = sum_by_row(self._inter.backward(weights, ctx, r), inv, u)  # (u, 1 + D) per touched row
        g[0, 0] = r.sum()  # the intercept (slot 0)
        self._inter.step_dense()
        self.n_rows_seen_ += n
        l1, l2 = float(self.l1), float(self.l2)
        pen1, pen2 = row_penalties(self._penalties, u, l1, l2, self._device, self._dtype)
        self._opt.step_(tab.layout.linear(block), g[:, 0], pen1, pen2)
        self._vopt.step_(tab.layout.vectors(block), g[:, 1:], 0.0, float(self.embedding_l2))
        tab.table.index_copy_(0, rows, block)  # the rows are distinct
        if dense is not None and dense.shape[1]:
            self._opt.step_(tab.dense, dense.T @ r, l1, l2)
        self.n_updates_ += 1

    def partial_fit(self, idx, y, dense=None, vocab=None, plans=None, *, classes=None) -> "HashedInteractionModel":
        """As ``HashedLogisticRegression.partial_fit``; the first batch fixes T, the tokens per row."""
        self._tokens_for_init = self._check_tokens(idx)
        return super().partial_fit(idx, y, dense, vocab, plans, classes=classes)

    def _check_tokens(self, idx) -> int:
        shape = tuple(np.shape(idx))
        if len(shape) != 2:
            raise DataError(f"idx must be a 2-D integer array (rows, tokens) of bucket indices; got shape {shape}")
        if hasattr(self, "n_tokens_in_") and hasattr(self, "w_") and shape[1] != self.n_tokens_in_:
            raise DataError(f"idx has {shape[1]} tokens per row; the model was trained with {self.n_tokens_in_} "
                            "(hash every file with the same hasher)")
        return shape[1]

    def logits(self, idx, dense=None) -> torch.Tensor:
        if hasattr(self, "w_"):
            self._check_tokens(idx)
        return super().logits(idx, dense)

    # ------------------------------------------------------------------ persistence and description
    def _checkpoint_meta(self) -> dict:
        return {"n_tokens_in": self.n_tokens_in_}

    def _restore(self, tensors: dict, meta: dict) -> "HashedInteractionModel":
        self._tokens_for_init = int(meta.get("n_tokens_in", 0))  # (the MLP's width: before _init_state)
        return super()._restore(tensors, meta)

    def load_checkpoint(self, directory: str) -> "HashedInteractionModel":
        """Restore the state written by ``save_checkpoint``; this model's parameters must match."""
        meta = _meta(directory)
        if meta is not None:
            saved, mine = meta.get("params", {}), self.get_params()
            for key in PARAMS:  # (the linear part's: HashedLogisticRegression.load_checkpoint)
                if _plain(saved.get(key)) != _plain(mine.get(key)):
                    raise ConfigError(
                        f"{directory}: checkpoint has {key}={saved.get(key)!r} but this model has {key}={mine.get(key)!r}; "
                        "resume with the parameters of the run that wrote it")
        return super().load_checkpoint(directory)

    def interaction_stats(self) -> dict:
        """What the record says of the interaction part: kind, k, the table's columns and
        size, the MLP's parameters."""
        tab = self._table
        return {"interactions": self.interactions, "embedding_dim": int(self.embedding_dim),
                "n_tokens": self.n_tokens_in_, "row_columns": tab.layout.columns,
                "table_mb": tab.table.numel() * tab.table.element_size() / 2**20,
                "mlp_parameters": sum(v.numel() for k, v in self._inter.tensors().items() if not k.startswith("tower.opt.")),
                "embedding_optimizer": self.embedding_optimizer,
                "dense_optimizer": self.dense_optimizer if self.interactions == "deep" else None}


def _plain(v):
    """A parameter as its JSON form (tuples and lists compare equal)."""
    return json.loads(json.dumps(v))


def _meta(directory: str) -> dict | None:
    """A checkpoint's JSON part, or None when there is none to read (``load_checkpoint`` then says why)."""
    try:
        return read_meta(directory)
    except UserError:
        return None


def load_hashed(directory: str, device: str = "cpu") -> HashedLogisticRegression:
    """The hashed model of a checkpoint directory, of whichever class wrote it
    (``HashedLogisticRegression`` or ``HashedInteractionModel``), ready to predict or resume."""
    from logitkit.predict.persist import load_checkpoint_folder

    return load_checkpoint_folder(directory, device)
