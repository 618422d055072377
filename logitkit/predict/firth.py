"""Firth's bias-reduced logistic regression (binary), fitted in torch.

Firth (1993) maximises the log-likelihood penalised by the Jeffreys prior,

    ℓ*(θ) = ℓ(θ) + ½ log det I(θ),   ℓ(θ) = Σ_i y_i z_i − log(1 + e^{z_i}),
    I(θ) = Xᵀ W X,  W = diag(π_i (1 − π_i)),  z = X θ  (X holds a column of 1s last),

whose maximiser removes the O(1/n) bias of the MLE and stays finite under (quasi-)
complete separation. Its gradient is the modified score

    U*(θ) = Xᵀ (y − π + h ⊙ (½ − π)),   h_i = W_ii x_iᵀ I⁻¹ x_i  (the hat values),

and the fit takes modified Newton steps θ ← θ + I⁻¹ U* (step halved until ℓ* rises,
its largest entry capped at ``max_step``), as in Heinze & Schemper (2002).

Standard errors are √diag I(θ̂)⁻¹. Confidence intervals are profile penalised-likelihood
intervals: {b : 2 (ℓ*(θ̂) − max_{θ: θ_j = b} ℓ*(θ)) ≤ χ²₁(level)}, and p-values are the
penalised likelihood-ratio tests of θ_j = 0 — both as in R's ``logistf``.
"""
from __future__ import annotations

import logging
import math
from numbers import Integral, Real

import numpy as np
import torch
from scipy import optimize, stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from logitkit._util.device import resolve_device
from logitkit._util.errors import DataError
from logitkit._util.params import BOOL, DEVICE, POSITIVE, Interval, Param, check_params, estimator_init, params_doc
from logitkit.predict.design import Design
from logitkit.predict.inputs import as_labels, as_matrix, feature_names_of
from logitkit.predict.objective import LogisticObjective
from logitkit.predict.persist import Persistent, classes_from_json, classes_to_json
from logitkit.predict.rank import aliased_columns

log = logging.getLogger("logitkit.predict")
_F64 = torch.float64


def _cholesky(A: torch.Tensor) -> torch.Tensor | None:
    """Lower Cholesky factor of the small (p, p) matrix A, or None when A is not positive definite.

    On CPU the factorisation goes through NumPy: in torch 2.13 a ``torch.linalg.cholesky``
    right after a threaded matmul waits milliseconds for the thread pool, which dominates
    the many small solves of the profile intervals.
    """
    if A.device.type == "cpu":
        try:
            return torch.from_numpy(np.linalg.cholesky(A.numpy()))
        except np.linalg.LinAlgError:
            return None
    try:
        return torch.linalg.cholesky(A)
    except torch.linalg.LinAlgError:
        return None


def _solve(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """A⁻¹ b for a small symmetric positive-definite A (NumPy on CPU, as above)."""
    if A.device.type == "cpu":
        return torch.from_numpy(np.linalg.solve(A.numpy(), b.numpy()))
    return torch.linalg.solve(A, b)


class _Penalised:
    """ℓ*, U* and I for one data set; ``free`` masks the coordinates being optimised."""

    def __init__(self, obj: LogisticObjective, Xa: torch.Tensor, y: torch.Tensor):
        self.obj, self.Xa, self.y = obj, Xa, y
        self.n = obj.n_total

    def evaluate(self, theta: torch.Tensor):
        """(ℓ*, U* (p,), I (p, p), Cholesky factor of I or None when I is singular)."""
        z = self.obj.logits(theta[None, :])[:, 0]
        info = self.n * self.obj.hessian(theta[None, :])  # I = Xᵀ W X
        L = _cholesky(info)
        if L is None:
            return -math.inf, None, info, None
        loglik = float((self.y * z - torch.nn.functional.softplus(z)).sum())
        value = loglik + float(torch.log(torch.diagonal(L)).sum())  # ½ log det I
        pi = torch.sigmoid(z)
        w = pi * (1 - pi)
        A = torch.linalg.solve_triangular(L, (self.Xa * w.sqrt()[:, None]).T, upper=False)
        h = (A * A).sum(0)  # diag of W^½ X I⁻¹ Xᵀ W^½
        score = self.Xa.T @ (self.y - pi + h * (0.5 - pi))
        return value, score, info, L

    def loglik(self, theta: torch.Tensor) -> float:
        z = self.obj.logits(theta[None, :])[:, 0]
        return float((self.y * z - torch.nn.functional.softplus(z)).sum())

    def maximise(self, theta: torch.Tensor, free: torch.Tensor, max_iter: int, tol: float, max_step: float,
                 max_halvings: int = 30):
        """Modified Newton on the coordinates in ``free``; returns (θ, ℓ*, n_iter, converged)."""
        theta = theta.clone()
        value, score, info, _ = self.evaluate(theta)
        for it in range(1, max_iter + 1):
            Uf = score[free]
            step = torch.zeros_like(theta)
            step[free] = _solve(info[free][:, free], Uf)
            big = float(step.abs().max())
            if big > max_step:
                step *= max_step / big
            for _ in range(max_halvings):
                cand = theta + step
                new_value, new_score, new_info, _ = self.evaluate(cand)
                if new_value >= value - 1e-12 * abs(value):
                    break
                step *= 0.5
            else:
                return theta, value, it, False
            theta, value, score, info = cand, new_value, new_score, new_info
            if float(step.abs().max()) <= tol or float(score[free].abs().max()) <= tol:
                return theta, value, it, True
        return theta, value, max_iter, False


PARAMS = {
    "fit_intercept": Param(True, (BOOL,), "Fit an intercept (last in the parameter order)."),
    "max_iter": Param(100, (Interval(Integral, 1),), "Modified Newton iterations (per profile fit too)."),
    "tol": Param(1e-10, (POSITIVE,), "Stop when the largest step or modified score entry is below."),
    "max_step": Param(5.0, (POSITIVE,), "Cap on the largest entry of a step (as logistf's maxstep)."),
    "ci_level": Param(0.95, (Interval(Real, 0, 1, "neither"),), "Level of the confidence intervals."),
    "profile_ci": Param(True, (BOOL,),
                        "Profile penalised-likelihood intervals and penalised LR p-values (costs ~20 "
                        "constrained fits per coefficient); else Wald intervals θ̂ ± z·SE and Wald p-values."),
    "device": DEVICE,
}


class FirthLogisticRegression(Persistent, ClassifierMixin, BaseEstimator):
    __doc__ = f"""Binary logistic regression with Firth's penalty (see the module docstring).

{params_doc(PARAMS)}

    Attributes
    ----------
    coef_ (1, d), intercept_ (1,), classes_, n_features_in_, n_iter_, converged_;
    terms_ : names of the parameters, features first then "intercept" (the order below);
    bse_ (p,) standard errors; conf_int_ (p, 2); pvalues_ (p,);
    loglik_ (ℓ at θ̂), penalised_loglik_ (ℓ* at θ̂).
    """

    __init__ = estimator_init(PARAMS)

    def _check_params(self) -> None:
        check_params(self, PARAMS)

    def _problem(self, X, y) -> _Penalised:
        device = resolve_device(self.device)
        design = Design.from_array(X, _F64, device)
        yt = torch.as_tensor(y, dtype=_F64, device=device)
        s = torch.ones_like(yt)
        obj = LogisticObjective(design, yt, s, "binary", 1, self.fit_intercept)
        Xa = design.dense()
        if self.fit_intercept:
            Xa = torch.cat([Xa, torch.ones(Xa.shape[0], 1, dtype=_F64, device=device)], 1)
        return _Penalised(obj, Xa, yt)

    def fit(self, X, y) -> "FirthLogisticRegression":
        """Fit on X (n, d) and binary labels y (n,). Returns self."""
        self._check_params()
        names = feature_names_of(X)
        M = as_matrix(X)
        yv = as_labels(y, M.shape[0])
        check_classification_targets(yv)
        classes, y_idx = np.unique(yv, return_inverse=True)
        if len(classes) == 1:
            raise DataError(f"y has only one class ({classes[0].item()!r}); Firth's fit needs both classes")
        if len(classes) > 2:
            raise DataError(
                f"Only binary classification is supported by FirthLogisticRegression; y has "
                f"{len(classes)} classes ({classes.tolist()[:10]}). Use LogisticRegression for more classes"
            )
        self.classes_, self.n_features_in_ = classes, M.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        prob = self._problem(M, y_idx)
        p = prob.Xa.shape[1]
        if p > prob.Xa.shape[0]:
            raise DataError(f"X has {M.shape[1]} features but only {M.shape[0]} rows; Firth's fit needs at least as many rows as parameters")
        theta0 = torch.zeros(p, dtype=_F64, device=prob.Xa.device)
        if _cholesky(prob.n * prob.obj.hessian(theta0[None, :])) is None:
            al = aliased_columns(prob.obj.X, self.fit_intercept)
            feat = [str(f) for f in names] if names is not None else [f"x{j}" for j in range(M.shape[1])]
            bad = [feat[j] for j in np.flatnonzero(al)] or ["(none found at tolerance 1e-7)"]
            raise DataError(f"the columns of X are linearly dependent (X'X is singular): {bad[:10]} "
                            f"{'are combinations' if len(bad) > 1 else 'is a combination'} of the intercept and "
                            "earlier columns; drop duplicated or constant columns, or code categoricals against "
                            "a reference level")
        everything = torch.ones(p, dtype=torch.bool, device=theta0.device)
        theta, value, n_iter, ok = prob.maximise(theta0, everything, self.max_iter, self.tol, self.max_step)
        if not ok:
            import warnings
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(f"Firth's fit did not converge in {n_iter} iterations; increase max_iter", ConvergenceWarning, stacklevel=2)
        self.theta_ = theta.cpu().numpy()
        d = M.shape[1]
        self.coef_ = self.theta_[None, :d].copy()
        self.intercept_ = self.theta_[d:].copy() if self.fit_intercept else np.zeros(1)
        self.n_iter_, self.converged_ = np.array([n_iter]), ok
        self.penalised_loglik_, self.loglik_ = value, prob.loglik(theta)
        _, _, info, _ = prob.evaluate(theta)
        self.cov_ = torch.linalg.inv(info).cpu().numpy()
        self.bse_ = np.sqrt(np.diag(self.cov_))
        feat = [str(f) for f in names] if names is not None else [f"x{j}" for j in range(d)]
        self.terms_ = feat + (["intercept"] if self.fit_intercept else [])
        if self.profile_ci:
            self.conf_int_, self.pvalues_ = self._profile(prob, theta, value)
        else:
            zq = stats.norm.ppf(0.5 + self.ci_level / 2)
            self.conf_int_ = np.column_stack([self.theta_ - zq * self.bse_, self.theta_ + zq * self.bse_])
            self.pvalues_ = 2 * stats.norm.sf(np.abs(self.theta_ / self.bse_))
        return self

    # ------------------------------------------------------------ profile
    def _profile_value(self, prob: _Penalised, theta_hat: torch.Tensor, j: int, b: float, cache: list) -> float:
        """max ℓ* over θ with θ_j fixed at b.

        Under separation ℓ* restricted to θ_j = b can have several local maxima, so two
        starts are tried — θ̂ and the solution at the nearest b already profiled (a
        continuation along the path from θ̂) — and the better maximum is kept.
        """
        free = torch.ones_like(theta_hat, dtype=torch.bool)
        free[j] = False
        starts = [theta_hat.clone()]
        if cache:
            starts.append(min(cache, key=lambda bt: abs(bt[0] - b))[1].clone())
        best_value, best_theta = -math.inf, None
        for start in starts:
            start[j] = b
            theta, value, _, _ = prob.maximise(start, free, self.max_iter, self.tol, self.max_step)
            if value > best_value:
                best_value, best_theta = value, theta
        cache.append((b, best_theta))
        return best_value

    def _profile(self, prob: _Penalised, theta: torch.Tensor, best: float):
        q = stats.chi2.ppf(self.ci_level, 1)
        p = theta.shape[0]
        ci, pv = np.empty((p, 2)), np.empty(p)
        for j in range(p):
            center, width = float(theta[j]), max(float(self.bse_[j]), 1e-3)
            for side, sign in ((0, -1.0), (1, 1.0)):
                cache: list = []
                drop = lambda b: 2 * (best - self._profile_value(prob, theta, j, b, cache)) - q  # noqa: E731
                ci[j, side] = self._root(drop, center, sign * width)
            stat = max(2 * (best - self._profile_value(prob, theta, j, 0.0, [])), 0.0)
            pv[j] = stats.chi2.sf(stat, 1)
        return ci, pv

    @staticmethod
    def _root(drop, center: float, step: float) -> float:
        """The b on one side of ``center`` where ``drop`` crosses 0 (±inf if never)."""
        inner, outer = center, center + step
        for _ in range(60):
            if drop(outer) > 0:
                return optimize.brentq(drop, min(inner, outer), max(inner, outer), xtol=1e-10, rtol=1e-12)
            inner, outer, step = outer, outer + 2 * step, 2 * step
        return math.copysign(math.inf, step)

    # ------------------------------------------------------------ state (predict.persist)
    _ARRAYS = ("theta_", "coef_", "intercept_", "cov_", "bse_", "conf_int_", "pvalues_")

    def to_state(self) -> tuple[dict, dict]:
        """(tensors, JSON metadata) of the fitted model; ``from_state`` rebuilds it."""
        check_is_fitted(self)
        tensors = {k.rstrip("_"): torch.as_tensor(np.asarray(getattr(self, k), dtype=np.float64)) for k in self._ARRAYS}
        meta = {"estimator": type(self).__name__, "params": self.get_params(),
                "classes": classes_to_json(self.classes_),
                "n_features_in": int(self.n_features_in_), "terms": list(self.terms_),
                "feature_names_in": list(map(str, getattr(self, "feature_names_in_", []))) or None,
                "n_iter": int(self.n_iter_[0]), "converged": bool(self.converged_),
                "loglik": float(self.loglik_), "penalised_loglik": float(self.penalised_loglik_)}
        return tensors, meta

    @classmethod
    def from_state(cls, tensors: dict, meta: dict) -> "FirthLogisticRegression":
        model = cls(**meta["params"])
        for k in cls._ARRAYS:
            setattr(model, k, tensors[k.rstrip("_")].numpy().astype(np.float64))
        model.classes_ = classes_from_json(meta["classes"])
        model.n_features_in_, model.terms_ = meta["n_features_in"], list(meta["terms"])
        if meta.get("feature_names_in"):
            model.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
        model.n_iter_, model.converged_ = np.array([meta["n_iter"]]), meta["converged"]
        model.loglik_, model.penalised_loglik_ = meta["loglik"], meta["penalised_loglik"]
        return model

    # ------------------------------------------------------------ predict
    def decision_function(self, X) -> np.ndarray:
        """Log-odds of classes_[1], shape (n,)."""
        check_is_fitted(self)
        M = as_matrix(X)
        if M.shape[1] != self.n_features_in_:
            raise DataError(f"X has {M.shape[1]} features, but FirthLogisticRegression is expecting {self.n_features_in_} features as input")
        design = Design.from_array(M, _F64, torch.device("cpu"))
        z = design.linear(torch.as_tensor(self.coef_, dtype=_F64))[:, 0] + float(self.intercept_[0])
        return z.numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Shape (n, 2); columns follow ``classes_``."""
        p1 = 1 / (1 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p1, p1])

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.sparse = True  # accepted, densified: Firth's fit needs the hat values
        return tags
