"""``LogisticRegression``: a scikit-learn compatible estimator whose computation runs in torch.

Its parameters are declared once, in ``logistic_params.PARAMS`` (see
``logitkit._util.params``): the signature, the checks and the docstring come from there,
and the run config's ``model`` section derives its fields from it.
``objective_for(model, X, y)`` gives a fitted model's objective on some data and its θ̂,
which the inference statistics of ``evaluate`` are computed from.
"""
from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from logitkit._util.collective import LOCAL, Collective
from logitkit._util.device import resolve_device, resolve_dtype
from logitkit._util.errors import DataError
from logitkit._util.params import check_params, estimator_init, params_doc
from logitkit._util.threads import threads_for
from logitkit.predict.design import Design
from logitkit.predict.head import LogitsClassifierMixin
from logitkit.predict.inputs import as_labels, as_matrix, encode_labels, feature_names_of, sample_weights
from logitkit.predict.logistic_params import PARAMS, STOCHASTIC
from logitkit.predict.objective import LogisticObjective
from logitkit.predict.persist import Persistent, classes_from_json, classes_to_json
from logitkit.predict.rank import AliasedColumnsWarning, aliased_columns, aliased_message
from logitkit.predict.solvers import lbfgs, newton, stochastic


class SeparationWarning(UserWarning):
    """The maximum-likelihood estimate does not exist: the classes are (quasi-)separated."""




class LogisticRegression(Persistent, LogitsClassifierMixin, ClassifierMixin, BaseEstimator):
    __doc__ = f"""Logistic regression (binary, softmax or one-vs-rest) fitted in torch.

    Minimises, over weights W and intercepts b,

        mean_i s_i · nll(y_i, W x_i + b) + alpha · ( l1_ratio·‖W‖₁ + (1 − l1_ratio)/2 · ‖W‖₂² )

    where s_i are the sample weights (times class weights) normalised to mean 1.
    The intercept is never penalised. scikit-learn's ``C`` maps to
    ``alpha = 1 / (C · n)`` with n the sum of the (class-weighted) sample weights, i.e.
    the number of rows for an unweighted fit: ``LogisticRegression(C=1.0)`` on 500 rows
    is ``logitkit.LogisticRegression(penalty="l2", alpha=1/500)``.

{params_doc(PARAMS)}

    Attributes
    ----------
    coef_ (1, d) or (K, d); intercept_ (1,) or (K,); classes_; n_features_in_;
    feature_names_in_ (when fitted on a DataFrame/Table); n_iter_; loss_curve_;
    aliased_ (d,) bool: the columns an unpenalised fit left out, linear combinations of
    the intercept and earlier columns (``predict.rank``), whose coefficients are 0.

    ``save(path)`` writes the fitted model to a folder (safetensors + JSON, no pickle) and
    ``LogisticRegression.load(path)`` (or ``logitkit.load(path)``) reads it back;
    ``to_state``/``from_state`` give the same as tensors and a dict.
    """

    __init__ = estimator_init(PARAMS)

    # ---------------------------------------------------------------- checks
    def _check_params(self) -> None:
        check_params(self, PARAMS)

    def _l1_ratio(self) -> float:
        return {None: 0.0, "l2": 0.0, "l1": 1.0, "elasticnet": float(self.l1_ratio)}[self.penalty]

    def _alpha(self) -> float:
        return 0.0 if self.penalty is None else float(self.alpha)

    def _pick_solver(self, m: int, p: int) -> str:
        if self.solver != "auto":
            return self.solver
        return "newton" if m * p <= 1500 else "lbfgs"

    # ---------------------------------------------------------------- data
    def _sample_weights(self, y_idx: np.ndarray, sample_weight) -> np.ndarray:
        sw = sample_weights(sample_weight, y_idx.shape[0])
        cw = self.class_weight
        if cw == "balanced":
            # as scikit-learn: total weight / (classes · the class's weight), so with
            # sample weights the classes' weighted totals are balanced
            total, counts = self._class_counts(y_idx, None if sample_weight is None else sw)
            factor = np.divide(total, len(self.classes_) * counts, out=np.zeros_like(counts), where=counts > 0)
            sw = sw * factor[y_idx]
        elif isinstance(cw, dict):
            unknown = [k for k in cw if k not in set(self.classes_.tolist())]
            if unknown:
                raise DataError(f"class_weight names classes {unknown} that are not in y; classes are {self.classes_.tolist()}")
            table = np.array([float(cw.get(c, 1.0)) for c in self.classes_])
            sw = sw * table[y_idx]
        if not sw.sum() > 0:
            raise DataError("the sample weights are all zero (they sum to 0); at least one row needs a positive weight")
        return sw

    def _device(self) -> torch.device:
        return resolve_device(self.device)

    def _collective(self) -> Collective:
        """The ranks whose rows make one fit: this process alone (``predict.distributed``
        hands over the ranks of a torchrun job)."""
        return LOCAL

    def _classes_of(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sorted classes, index of each row's class); the classes of every rank."""
        classes, y_idx = encode_labels(y)
        every = self._collective().union(classes)
        if len(every) > len(classes):  # some classes are only on other ranks
            classes, y_idx = every, np.searchsorted(every, y)
        return classes, y_idx

    def _class_counts(self, y_idx: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """(total, total per class) of the rows (every rank's), or of their ``weights``,
        for class_weight="balanced"."""
        counts = np.bincount(y_idx, weights=weights, minlength=len(self.classes_)).astype(np.float64)
        counts = self._collective().sum(counts)
        return float(counts.sum()), counts

    def _objective(self, M, y_idx: np.ndarray, sample_weight, dtype: torch.dtype) -> LogisticObjective:
        """The objective of the rows (M, y_idx) for this model's classes and link, with the
        sample and class weights normalised to mean 1 over every rank's rows."""
        sw = self._sample_weights(y_idx, sample_weight)
        device, coll = self._device(), self._collective()
        K = len(self.classes_)
        if self.link_ == "ovr":
            Y = torch.as_tensor(np.eye(K)[y_idx], dtype=dtype, device=device)
        else:
            Y = torch.as_tensor(y_idx, device=device)
        tot = coll.sum(torch.tensor([sw.sum(), sw.shape[0]], dtype=torch.float64))
        s = torch.as_tensor(sw / float(tot[0] / tot[1]), dtype=dtype, device=device)
        return LogisticObjective(self._to_design(M, dtype, device), Y, s, self.link_, 1 if K == 2 else K,
                                 self.fit_intercept, self._alpha(), self._l1_ratio(), coll)

    def _to_design(self, M, dtype: torch.dtype, device: torch.device) -> Design:
        return Design.from_array(M, dtype, device)

    # ---------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None) -> "LogisticRegression":
        """Fit on X (n, d) and labels y (n,); ``sample_weight`` (n,) optional. Returns self."""
        self._check_params()
        names = feature_names_of(X)
        if y is None:
            raise DataError("LogisticRegression requires y to be passed, but the target y is None")
        M = as_matrix(X)
        y = as_labels(y, M.shape[0])
        check_classification_targets(y)
        classes, y_idx = self._classes_of(y)
        if len(classes) < 2:
            raise DataError(
                f"y has only one class ({classes[0].item()!r}); logistic regression needs at least two "
                "classes in the training data"
            )
        prev = (getattr(self, "coef_", None), getattr(self, "intercept_", None), getattr(self, "classes_", None))
        self.classes_ = classes
        self.n_features_in_ = M.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        dtype, device = resolve_dtype(self.dtype), self._device()
        K = len(classes)
        m = 1 if K == 2 else K
        self.link_ = "binary" if K == 2 else self.multiclass
        obj = self._objective(M, y_idx, sample_weight, dtype)
        keep = self._identifiable(obj)  # an unpenalised fit leaves aliased columns out (fixed at 0)
        if keep is not None:
            obj = self._objective(_columns(M, keep), y_idx, sample_weight, dtype)
        theta0 = obj.zeros()
        if self.warm_start and prev[0] is not None and prev[0].shape == (m, M.shape[1]) and np.array_equal(prev[2], classes):
            theta0[:, : obj.d] = torch.as_tensor(prev[0][:, keep if keep is not None else slice(None)],
                                                 dtype=dtype, device=device)
            if self.fit_intercept:
                theta0[:, -1] = torch.as_tensor(prev[1], dtype=dtype, device=device)
        with threads_for(M.shape[0] * M.shape[1] * m):
            result = self._solve(obj, theta0)
        theta = result.theta.detach().cpu().numpy().astype(np.float64)
        self.coef_ = np.zeros((m, M.shape[1]))
        self.coef_[:, keep if keep is not None else slice(None)] = theta[:, : obj.d]
        self.intercept_ = theta[:, -1].copy() if self.fit_intercept else np.zeros(m)
        self.n_iter_ = np.array([result.n_iter])
        self.loss_curve_ = list(result.loss_curve)
        self.solver_ = result.solver_name
        self._check_outcome(obj, result)
        return self

    def _identifiable(self, obj: LogisticObjective) -> np.ndarray | None:
        """Sets ``aliased_`` (bool (d,)): the columns an unpenalised fit leaves out because
        they are linear combinations of the intercept and earlier columns
        (``predict.rank``); their coefficients are 0. Returns the kept columns' indices,
        or None when every column is kept (a penalised fit keeps them all: the penalty
        makes its solution unique)."""
        self.aliased_ = np.zeros(obj.d, dtype=bool)
        if obj.l2 > 0 or obj.l1 > 0:
            return None
        self.aliased_ = aliased_columns(obj.X, self.fit_intercept, obj.collective, rows=(obj.s > 0).cpu().numpy())
        if not self.aliased_.any():
            return None
        names = getattr(self, "feature_names_in_", None)
        names = [str(names[j]) if names is not None else f"x{j}" for j in np.flatnonzero(self.aliased_)]
        warnings.warn(aliased_message(names, "the design (X)"), AliasedColumnsWarning, stacklevel=3)
        return np.flatnonzero(~self.aliased_)

    def _solve(self, obj: LogisticObjective, theta0: torch.Tensor):
        solver = self._pick_solver(obj.m, obj.p)
        if solver == "newton":
            res = newton(obj, theta0, self.max_iter, self.tol, verbose=self.verbose)
        elif solver == "lbfgs":
            res = lbfgs(obj, theta0, 10 * self.max_iter, self.tol, verbose=self.verbose)
        else:
            rs = 0 if self.random_state is None else int(self.random_state)
            res = stochastic(obj, theta0, solver, 10 * self.max_iter, self.tol, self.batch_size,
                             self.learning_rate, rs, verbose=self.verbose)
        res.solver_name = solver
        return res

    def _check_outcome(self, obj: LogisticObjective, result) -> None:
        separated = False
        if obj.l2 == 0 and obj.l1 == 0:
            z = obj.logits(result.theta)
            nll = obj.nll_rows(z)
            # quasi-complete separation: some rows are predicted with certainty and the
            # weights keep growing along the separating direction
            separated = bool((nll < 1e-9).any()) and float(result.theta.abs().max()) > 10
        if separated:
            warnings.warn(
                "the classes are (quasi-)completely separated by the features: the "
                "maximum-likelihood estimate does not exist and the coefficients grow "
                "without bound. Use a penalty (penalty='l2' with alpha > 0) or Firth's "
                "bias-reduced fit (logitkit.FirthLogisticRegression; in a run, model.kind: firth) "
                "instead of penalty=None.",
                SeparationWarning,
                stacklevel=3,
            )
        elif not result.converged:
            unit = "epochs" if result.solver_name in STOCHASTIC else "iterations"
            warnings.warn(
                f"{result.solver_name} did not converge in {result.n_iter} {unit} "
                f"({result.message or 'iteration limit'}); increase max_iter, standardise "
                "the features, or try solver='newton'.",
                ConvergenceWarning,
                stacklevel=3,
            )

    # ---------------------------------------------------------------- predict
    def _check_X(self, X):
        check_is_fitted(self)
        names = feature_names_of(X)
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and names is not None and list(names) != list(fitted):
            missing = [n for n in fitted if n not in set(names)]
            raise DataError(
                f"X's columns do not match the columns seen in fit; missing {missing[:5]}; "
                "pass the same columns in the same order"
            )
        M = as_matrix(X)
        if M.shape[1] != self.n_features_in_:
            raise DataError(
                f"X has {M.shape[1]} features, but LogisticRegression is expecting "
                f"{self.n_features_in_} features as input (the number seen in fit)"
            )
        return M

    def _logits(self, X) -> torch.Tensor:
        M = self._check_X(X)
        dtype, device = resolve_dtype(self.dtype), self._device()
        design = self._to_design(M, dtype, device)
        W = torch.as_tensor(self.coef_, dtype=dtype, device=device)
        return design.linear(W) + torch.as_tensor(self.intercept_, dtype=dtype, device=device)

    # ---------------------------------------------------------------- state (predict.persist)
    def to_state(self) -> tuple[dict, dict]:
        """(tensors, JSON metadata) that describe the fitted model completely — no pickle;
        ``from_state`` rebuilds it, ``save``/``load`` write and read them as files."""
        check_is_fitted(self)
        tensors = {"coef": torch.as_tensor(self.coef_), "intercept": torch.as_tensor(self.intercept_)}
        meta = {
            "estimator": type(self).__name__,
            "params": self.get_params(),
            "classes": classes_to_json(self.classes_),
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": list(map(str, getattr(self, "feature_names_in_", []))) or None,
            "link": self.link_, "solver": self.solver_, "n_iter": int(self.n_iter_[0]),
            "loss_curve": list(map(float, self.loss_curve_)),
            "aliased": np.flatnonzero(getattr(self, "aliased_", np.zeros(0, bool))).tolist(),
        }
        return tensors, meta

    @classmethod
    def from_state(cls, tensors: dict, meta: dict) -> "LogisticRegression":
        """The model ``to_state`` described."""
        model = cls(**meta["params"])
        model.coef_ = tensors["coef"].numpy().astype(np.float64)
        model.intercept_ = tensors["intercept"].numpy().astype(np.float64)
        model.classes_ = classes_from_json(meta["classes"])
        model.n_features_in_ = meta["n_features_in"]
        if meta.get("feature_names_in"):
            model.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
        model.link_, model.solver_ = meta["link"], meta["solver"]
        model.n_iter_ = np.array([meta["n_iter"]])
        model.loss_curve_ = meta["loss_curve"]
        model.aliased_ = np.zeros(model.n_features_in_, dtype=bool)
        model.aliased_[meta.get("aliased", [])] = True
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def objective_for(model: LogisticRegression, X, y, sample_weight=None,
                  dtype: torch.dtype = torch.float64) -> tuple[LogisticObjective, torch.Tensor]:
    """A fitted ``model``'s objective on (X, y) and θ̂ (m, p) at its coefficients.

    The objective is the one the model minimises (link, penalty, sample and class
    weights; over every rank's rows for a distributed model), in ``dtype``, on the
    model's device. The inference statistics (``evaluate.summary``) are computed from
    it. y may hold only classes the model was fitted on."""
    M = model._check_X(X)
    y = as_labels(y, M.shape[0])
    classes = model.classes_
    y_idx = np.searchsorted(classes, y)
    bad = (y_idx >= len(classes)) | (classes[np.minimum(y_idx, len(classes) - 1)] != y)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"y holds the label {y[i:i + 1].tolist()[0]!r} (row {i}), which the model was not fitted on; "
                        f"its classes are {classes.tolist()}")
    obj = model._objective(M, y_idx, sample_weight, dtype)
    theta = np.column_stack([model.coef_, model.intercept_]) if model.fit_intercept else model.coef_
    return obj, torch.as_tensor(theta, dtype=dtype, device=obj.device)


def _columns(M, keep: np.ndarray):
    """Columns ``keep`` of a NumPy array, SciPy sparse matrix or torch tensor."""
    if isinstance(M, torch.Tensor):
        return M[:, torch.as_tensor(keep, device=M.device)]
    return M[:, keep]
