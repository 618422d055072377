"""``MLPClassifier``: an ``MLPEncoder`` and a ``LogisticHead`` trained jointly.

The lecture's "fancy feature extraction + logistic regression": the last layer is the
same ``LogisticHead`` that ``LogisticRegression`` fits, the objective follows the same
convention, and with ``hidden_layer_sizes=()`` the model *is* L2-penalised logistic
regression (same coefficients).
"""
from __future__ import annotations

import copy
import logging
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from torch import nn

from logitkit._util import progress
from logitkit._util.device import resolve_device, resolve_dtype
from logitkit._util.errors import DataError
from logitkit._util.params import (BOOL, DEVICE, DTYPE, POSITIVE, VERBOSE, Interval, Param, check_params,
                                   estimator_init, params_doc)
from logitkit._util.threads import threads_for
from logitkit.embed.encoder import MLPEncoder, check_encoder_params
from logitkit.predict.head import LogisticHead, LogitsClassifierMixin
from logitkit.predict.inputs import as_labels, as_matrix, sample_weights
from logitkit.predict.logistic_params import PARAMS as LOGISTIC_PARAMS
from logitkit.predict.persist import Persistent, classes_from_json, classes_to_json

log = logging.getLogger("logitkit.predict")
_SOLVERS = ("lbfgs", "adam", "sgd")
_DEFAULT_LR = {"adam": 1e-3, "sgd": 0.1}
# rows per step x weights below which one torch thread is faster: the per-op sync of the
# intra-op pool costs more than it saves on small steps (and far more on a busy machine)
_SMALL_STEP = 4_000_000


PARAMS = {
    "hidden_layer_sizes": Param((16,), None, "Widths of the hidden layers; () gives plain logistic regression.",
                                text="a list of integers >= 1"),
    "activation": Param("relu", None, "See embed.MLPEncoder.", text="'relu', 'tanh', 'sigmoid', 'gelu' or 'identity'"),
    "dropout": Param(0.0, None, "See embed.MLPEncoder.", text="a number in [0, 1)"),
    "batch_norm": Param(False, None, "See embed.MLPEncoder.", text="True or False"),
    "alpha": Param(1e-4, (Interval(Real, 0),), "L2 penalty on every Linear layer's weights (alpha/2 · Σ‖W_l‖²)."),
    "multiclass": LOGISTIC_PARAMS["multiclass"],
    "solver": Param("lbfgs", _SOLVERS,
                    "'lbfgs' (full batch, strong-Wolfe line search; best for small data and for exact "
                    "agreement with LogisticRegression), 'adam' or 'sgd' (momentum 0.9; mini-batches of "
                    "batch_size in a seeded order)."),
    "max_iter": Param(200, (Interval(Integral, 1),), "L-BFGS iterations or epochs."),
    "tol": Param(1e-6, (POSITIVE,),
                 "L-BFGS stops when the largest gradient entry is <= tol; adam/sgd stop when the epoch loss "
                 "has not improved by tol for n_iter_no_change epochs."),
    "batch_size": Param(64, (Interval(Integral, 1),), "Rows per step of adam and sgd."),
    "learning_rate": Param(None, (None, POSITIVE), "Step size; None means adam 1e-3, sgd 0.1."),
    "early_stopping": Param(False, (BOOL,),
                            "Hold out validation_fraction of the rows (stratified, seeded) and stop when their "
                            "loss has not improved by tol for n_iter_no_change iterations/epochs; the best "
                            "weights are restored."),
    "validation_fraction": Param(0.1, (Interval(Real, 0, 1, "neither"),), "Share of rows held out for early stopping."),
    "n_iter_no_change": Param(10, (Interval(Integral, 1),), "Patience of the stopping rules, in iterations/epochs."),
    "dtype": DTYPE,
    "device": DEVICE,
    "random_state": Param(0, (None, Interval(Integral)),
                          "Seeds the initial weights, the shuffling and the validation split."),
    "verbose": VERBOSE,
}


class MLPClassifier(Persistent, LogitsClassifierMixin, ClassifierMixin, BaseEstimator):
    __doc__ = f"""Multilayer perceptron whose output layer is a logistic / softmax regression.

    Minimises over all weights W_l, biases b_l (and batch-norm parameters)

        mean_i s_i · nll(y_i, head(encoder(x_i)))  +  alpha/2 · Σ_l ‖W_l‖²

    with s_i the sample weights normalised to mean 1 and ``nll`` the logistic (two
    classes), softmax or one-vs-rest negative log-likelihood computed from logits. Only
    the Linear weights are penalised (biases, batch-norm never). This is
    ``LogisticRegression(penalty="l2", alpha=alpha)``'s objective when there are no
    hidden layers.

{params_doc(PARAMS)}

    Attributes
    ----------
    classes_, n_features_in_, network_ (``nn.Sequential(encoder, head)``), encoder_,
    head_, coef_/intercept_ (the head, as in ``LogisticRegression``), coefs_/intercepts_
    (every Linear layer, scikit-learn layout (in, out)), n_iter_, loss_curve_,
    validation_loss_curve_ (with early stopping), best_iteration_.
    """

    __init__ = estimator_init(PARAMS)

    # ------------------------------------------------------------ checks
    def _check_params(self) -> tuple[int, ...]:
        check_params(self, PARAMS)
        return check_encoder_params("MLPClassifier", self.hidden_layer_sizes, self.activation,
                                    self.dropout, self.batch_norm)

    # ------------------------------------------------------------ fit
    def fit(self, X, y, sample_weight=None) -> "MLPClassifier":
        """Fit on X (n, d), labels y (n,), optional sample_weight (n,). Returns self."""
        sizes = self._check_params()
        M = as_matrix(X)
        if not isinstance(M, np.ndarray):
            M = M.toarray() if hasattr(M, "toarray") else M.cpu().numpy()
        y = as_labels(y, M.shape[0])
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise DataError(f"y has only one class ({classes[0]!r}); MLPClassifier needs at least two "
                            "classes in the training data")
        sw = self._sample_weight(sample_weight, len(y))
        self.classes_, self.n_features_in_ = classes, M.shape[1]
        dtype, device = resolve_dtype(self.dtype), resolve_device(self.device)
        seed = 0 if self.random_state is None else int(self.random_state)
        encoder, head = self._build(M.shape[1], sizes, len(classes), seed)
        if not sizes:  # plain logistic regression: start where LogisticRegression starts
            nn.init.zeros_(head.linear.weight)
            nn.init.zeros_(head.linear.bias)
        rows = np.arange(len(y))
        val = None
        if self.early_stopping:
            strat = y_idx if np.bincount(y_idx).min() >= 2 else None
            rows, val_rows = train_test_split(rows, test_size=self.validation_fraction, random_state=seed, stratify=strat)
            val = self._tensors(M[val_rows], y_idx[val_rows], sw[val_rows], dtype, device)
        train = self._tensors(M[rows], y_idx[rows], sw[rows], dtype, device)
        fit = self._fit_lbfgs if self.solver == "lbfgs" else self._fit_stochastic
        widths = (M.shape[1],) + sizes + (len(classes),)
        rows_per_step = len(y) if self.solver == "lbfgs" else min(self.batch_size, len(y))
        work = rows_per_step * sum(a * b for a, b in zip(widths[:-1], widths[1:]))
        with threads_for(0 if work < _SMALL_STEP else work):
            fit(train, val, seed)
        self._export()
        return self

    def _build(self, d: int, sizes: tuple[int, ...], K: int, seed: int):
        """The encoder and head for d inputs and K classes (seeded initial weights)."""
        dtype, device = resolve_dtype(self.dtype), resolve_device(self.device)
        with torch.random.fork_rng(devices=[]):  # initialise on the CPU: same seed, same weights on any device
            torch.manual_seed(seed)
            encoder = MLPEncoder(d, sizes, self.activation, self.dropout, self.batch_norm, dtype).to(device)
            head = LogisticHead(encoder.out_features, K, multiclass=self.multiclass, dtype=dtype).to(device)
        self.encoder_, self.head_ = encoder, head
        self.network_ = nn.Sequential(encoder, head)
        return encoder, head

    # ------------------------------------------------------------ state (predict.persist)
    def to_state(self) -> tuple[dict, dict]:
        """(tensors: the network's weights and buffers, JSON metadata); ``from_state``
        rebuilds the network and loads them."""
        check_is_fitted(self)
        tensors = {f"network.{k}": v for k, v in self.network_.state_dict().items()}
        meta = {"estimator": type(self).__name__, "params": {**self.get_params(),
                                                             "hidden_layer_sizes": list(self.hidden_layer_sizes)},
                "classes": classes_to_json(self.classes_),
                "n_features_in": int(self.n_features_in_), "n_iter": int(self.n_iter_),
                "best_iteration": int(self.best_iteration_), "loss_curve": list(map(float, self.loss_curve_)),
                "validation_loss_curve": list(map(float, getattr(self, "validation_loss_curve_", []))) or None}
        return tensors, meta

    @classmethod
    def from_state(cls, tensors: dict, meta: dict) -> "MLPClassifier":
        model = cls(**{**meta["params"], "hidden_layer_sizes": tuple(meta["params"]["hidden_layer_sizes"])})
        model.classes_ = classes_from_json(meta["classes"])
        model.n_features_in_ = meta["n_features_in"]
        model._build(model.n_features_in_, model._check_params(), len(model.classes_), 0)
        model.network_.load_state_dict({k[len("network."):]: v for k, v in tensors.items()})
        model.network_.eval()
        model.n_iter_, model.best_iteration_, model.loss_curve_ = meta["n_iter"], meta["best_iteration"], meta["loss_curve"]
        if meta.get("validation_loss_curve") is not None:
            model.validation_loss_curve_ = meta["validation_loss_curve"]
        model._export()
        return model

    @staticmethod
    def _sample_weight(sample_weight, n: int) -> np.ndarray:
        sw = sample_weights(sample_weight, n)
        if not sw.sum() > 0:
            raise DataError("every sample weight is zero; at least one row needs a positive weight")
        return sw

    @staticmethod
    def _tensors(M, y_idx, sw, dtype, device):
        return (torch.as_tensor(M, dtype=dtype, device=device), torch.as_tensor(y_idx, device=device),
                torch.as_tensor(sw / sw.mean(), dtype=dtype, device=device))

    def objective(self, X: torch.Tensor, y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The training objective on rows (X, y) with weights s (mean 1 on the full data),
        a scalar tensor with its autograd graph: mean weighted NLL + alpha/2 · Σ‖W_l‖²."""
        z = self.encoder_(X)
        value = self.head_.loss(z, y, s)
        if self.alpha:
            weights = [m.weight for m in self.encoder_.linear_layers()] + [self.head_.linear.weight]
            value = value + 0.5 * self.alpha * sum((w * w).sum() for w in weights)
        return value

    def _val_loss(self, val) -> float:
        self.network_.eval()
        with torch.no_grad():
            v = float(self.head_.loss(self.encoder_(val[0]), val[1], val[2]))
        self.network_.train()
        return v

    def _fit_lbfgs(self, train, val, seed) -> None:
        params = list(self.network_.parameters())
        # one L-BFGS iteration per step() (memory persists in the optimiser state), so that
        # the loss curve, the gradient test and early stopping see every iteration
        opt = torch.optim.LBFGS(params, lr=1.0, max_iter=1, max_eval=12, history_size=20,
                                line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)

        def closure():
            opt.zero_grad()
            loss = self.objective(*train)
            loss.backward()
            return loss

        stopper = _Stopper(self, val)
        self.network_.train()
        self.loss_curve_, converged, it, stall, prev = [], False, 0, 0, np.inf
        for it in range(1, self.max_iter + 1):
            loss = float(closure().detach())
            gmax = max(float(p.grad.abs().max()) for p in params if p.grad is not None)
            self.loss_curve_.append(loss)
            progress.current().step(f"mlp lbfgs iteration {it}, objective {loss:.6g}")
            if self.verbose:
                log.info("mlp lbfgs iter %d  objective %.10g  |grad|inf %.3g", it, loss, gmax)
            if gmax <= self.tol:
                converged = True
                break
            # at the limit of float precision the line search cannot decrease the loss
            stall = stall + 1 if np.isfinite(prev) and loss >= prev - 4 * np.finfo(float).eps * abs(prev) else 0
            if stall >= 3:
                converged = gmax <= 100 * self.tol
                break
            prev = loss
            opt.step(closure)
            if stopper.update(it):
                converged = True
                break
        self._finish(it, converged, stopper, "iterations")

    def _fit_stochastic(self, train, val, seed) -> None:
        lr = self.learning_rate or _DEFAULT_LR[self.solver]
        params = list(self.network_.parameters())
        opt = (torch.optim.Adam(params, lr=lr, foreach=True) if self.solver == "adam"
               else torch.optim.SGD(params, lr=lr, momentum=0.9, foreach=True))
        gen = torch.Generator().manual_seed(seed)
        X, y, s = train
        n = X.shape[0]
        stopper = _Stopper(self, val)
        self.network_.train()
        self.loss_curve_, converged, stale, best, epoch = [], False, 0, np.inf, 0
        for epoch in range(1, self.max_iter + 1):
            perm = torch.randperm(n, generator=gen).to(X.device)
            total = 0.0
            for start in range(0, n, self.batch_size):
                idx = perm[start:start + self.batch_size]
                if self.batch_norm and idx.numel() < 2:
                    continue  # batch norm needs two rows to estimate a variance
                opt.zero_grad()
                loss = self.objective(X[idx], y[idx], s[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * idx.numel()
            self.loss_curve_.append(total / n)
            progress.current().step(f"mlp {self.solver} epoch {epoch}, loss {total / n:.6g}")
            if self.verbose:
                log.info("mlp %s epoch %d  loss %.10g", self.solver, epoch, self.loss_curve_[-1])
            if stopper.update(epoch):
                converged = True
                break
            if self.loss_curve_[-1] < best - self.tol:
                best, stale = self.loss_curve_[-1], 0
            else:
                stale += 1
            if val is None and stale >= self.n_iter_no_change:
                converged = True
                break
        self._finish(epoch, converged, stopper, "epochs")

    def _finish(self, n_iter: int, converged: bool, stopper: "_Stopper", unit: str) -> None:
        self.n_iter_ = n_iter
        self.best_iteration_ = n_iter
        if stopper.val is not None:
            self.validation_loss_curve_ = stopper.curve
            self.best_iteration_ = stopper.best_iter
            self.network_.load_state_dict(stopper.best_state)
        self.network_.eval()
        if not converged:
            warnings.warn(f"MLPClassifier ({self.solver}) did not converge in {n_iter} {unit}; increase "
                          "max_iter, standardise the features or raise tol", ConvergenceWarning, stacklevel=4)

    def _export(self) -> None:
        lin = self.encoder_.linear_layers() + [self.head_.linear]
        self.coefs_ = [m.weight.detach().cpu().numpy().T.astype(np.float64) for m in lin]
        self.intercepts_ = [m.bias.detach().cpu().numpy().astype(np.float64) for m in lin]
        self.coef_ = self.coefs_[-1].T.copy()
        self.intercept_ = self.intercepts_[-1].copy()
        self.link_ = self.head_.link

    # ------------------------------------------------------------ predict
    def _input(self, X) -> torch.Tensor:
        check_is_fitted(self)
        M = as_matrix(X)
        if not isinstance(M, np.ndarray):
            M = M.toarray() if hasattr(M, "toarray") else M.cpu().numpy()
        if M.shape[1] != self.n_features_in_:
            raise DataError(f"X has {M.shape[1]} features, but MLPClassifier is expecting "
                            f"{self.n_features_in_} features as input (the number seen in fit)")
        p = next(self.head_.parameters())
        return torch.as_tensor(M, dtype=p.dtype, device=p.device)

    def _logits(self, X) -> torch.Tensor:
        x = self._input(X)
        self.network_.eval()
        with torch.no_grad():
            return self.network_(x)

    def features(self, X) -> np.ndarray:
        """The learned features h(x) the head sees, shape (n, last hidden size)."""
        x = self._input(X)
        self.network_.eval()
        with torch.no_grad():
            return self.encoder_(x).cpu().numpy().astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # densified in fit / predict
        return tags


class _Stopper:
    """Early stopping on the validation loss: remembers the best weights."""

    def __init__(self, model: MLPClassifier, val):
        self.model, self.val = model, val
        self.curve: list[float] = []
        self.best, self.best_iter, self.stale = np.inf, 0, 0
        self.best_state = None

    def update(self, it: int) -> bool:
        """Record the validation loss after iteration ``it``; True when it is time to stop."""
        if self.val is None:
            return False
        v = self.model._val_loss(self.val)
        self.curve.append(v)
        if v < self.best - self.model.tol:
            self.best, self.best_iter, self.stale = v, it, 0
            self.best_state = copy.deepcopy(self.model.network_.state_dict())
        else:
            self.stale += 1
        if self.best_state is None:
            self.best_state = copy.deepcopy(self.model.network_.state_dict())
        return self.stale >= self.model.n_iter_no_change
