"""Model selection: cross-validation and tuning of the penalty along a regularisation path.

``cross_validate`` scores any scikit-learn style classifier (``fit``/``predict_proba``/
``classes_``) on k folds with the metrics of ``logitkit.evaluate.metrics``.
``LogisticRegressionCV`` tunes ``alpha`` (and ``l1_ratio``) of ``LogisticRegression``
by cross-validation, fitting each fold's path from the strongest penalty to the
weakest with warm starts, and refits the chosen model on all the data.

alpha versus C. logitkit's objective is a *mean* loss plus alpha·penalty, scikit-learn's
is C·(summed loss) + penalty, so C = 1 / (alpha · n) with n the (weighted) number of
training rows. A training fold holds n_fold ≈ n·(k − 1)/k rows, so one value of C is a
different alpha on every fold and on the final refit. ``LogisticRegressionCV`` offers
both views:

* ``alphas`` (default): alpha is held fixed across folds and the refit (the penalty per
  row is what is tuned);
* ``Cs``: C is held fixed; fold f is fitted with alpha = 1 / (C · n_f) and the refit
  with alpha = 1 / (C · n). This is scikit-learn's ``LogisticRegressionCV`` exactly, and
  picks the same C given the same folds.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, TimeSeriesSplit
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from logitkit._util import progress
from logitkit._util.errors import ConfigError, DataError, did_you_mean
from logitkit._util.params import Instance, Interval, Param, check_params, estimator_init, params_doc
from logitkit.evaluate.metrics import compute_metrics, get_metric
from logitkit.predict.inputs import as_labels, as_matrix
from logitkit.predict.logistic_params import PARAMS as LOGISTIC_PARAMS
from logitkit.predict.logistic import LogisticRegression

log = logging.getLogger("logitkit.evaluate")
SPLITTERS = ("stratified", "kfold", "group", "time")


# ------------------------------------------------------------------ splits
def _n_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _take(X, idx: np.ndarray):
    """Rows ``idx`` of a NumPy array, SciPy sparse matrix, torch tensor, DataFrame or Arrow table."""
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if hasattr(X, "column_names") and hasattr(X, "take"):
        return X.take(idx)
    if isinstance(X, torch.Tensor):
        return X[torch.as_tensor(idx, device=X.device)]
    if sp.issparse(X):
        return X.tocsr()[idx]
    return np.asarray(X)[idx]


def make_splits(cv, X, y, groups=None, random_state: int | None = 0, n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) index pairs for ``cv``.

    ``cv`` is an int k (stratified k-fold, shuffled with ``random_state``; grouped k-fold
    when ``groups`` is given), a name — "stratified", "kfold", "group" (needs
    ``groups``: no group is split between train and test) or "time" (expanding window,
    rows in time order: train on the past, test on the next block) — with ``n_splits``
    folds, any splitter object with ``split(X, y, groups)``, or an iterable of
    (train, test) index pairs.
    """
    y = np.asarray(y)
    if isinstance(cv, Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ConfigError(f"cv={cv} is invalid; use at least 2 folds")
        n_splits, cv = int(cv), ("group" if groups is not None else "stratified")
    if isinstance(cv, str):
        splitter = _named_splitter(cv, y, groups, random_state, n_splits)
    elif hasattr(cv, "split"):
        splitter = cv
    else:
        try:
            return [(np.asarray(tr), np.asarray(te)) for tr, te in cv]
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"cv={cv!r} is not understood; pass an int, one of {SPLITTERS}, a splitter "
                "object or a list of (train, test) index arrays"
            ) from exc
    try:
        return [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, y, groups)]
    except ValueError as exc:
        raise DataError(f"cross-validation split failed: {exc}") from exc


def _named_splitter(name: str, y: np.ndarray, groups, random_state, n_splits: int):
    if name not in SPLITTERS:
        raise ConfigError(f"cv={name!r} is not a known split.{did_you_mean(name, SPLITTERS)} Use one of {list(SPLITTERS)}")
    if name == "stratified":
        values, counts = np.unique(y, return_counts=True)
        if counts.min() < n_splits:
            k = int(np.argmin(counts))
            raise DataError(
                f"class {values[k].item()!r} has only {counts[k]} rows, fewer than the {n_splits} folds of "
                "stratified k-fold; use fewer folds (cv=...) or more data"
            )
        return StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    if name == "kfold":
        return KFold(n_splits, shuffle=True, random_state=random_state)
    if name == "group":
        if groups is None:
            raise ConfigError("cv='group' needs groups= (one group id per row)")
        n_groups = len(np.unique(groups))
        if n_groups < n_splits:
            raise DataError(f"there are {n_groups} groups, fewer than the {n_splits} folds; use fewer folds")
        return GroupKFold(n_splits)
    return TimeSeriesSplit(n_splits)


# -------------------------------------------------------- cross-validation
@dataclass
class CVResult:
    """Per-fold metrics and their mean and (population, ddof=0) standard deviation."""

    folds: list[dict[str, float]]
    mean: dict[str, float]
    std: dict[str, float]
    n_train: list[int] = field(default_factory=list)
    n_test: list[int] = field(default_factory=list)
    fit_seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict, as the run record stores it."""
        return {"folds": self.folds, "mean": self.mean, "std": self.std,
                "n_train": self.n_train, "n_test": self.n_test, "fit_seconds": self.fit_seconds}


def _aligned_proba(est, X_test, classes: np.ndarray) -> np.ndarray:
    """predict_proba with one column per class in ``classes`` (0 for a class the fold lacked)."""
    P = np.asarray(est.predict_proba(X_test), dtype=np.float64)
    fitted = list(np.asarray(est.classes_))
    if fitted == list(classes):
        return P
    out = np.zeros((P.shape[0], len(classes)))
    out[:, np.searchsorted(classes, fitted)] = P
    return out


def _summarise(folds: list[dict[str, float]], names: list[str]):
    mean = {n: float(np.mean([f[n] for f in folds])) for n in names}
    std = {n: float(np.std([f[n] for f in folds])) for n in names}
    return mean, std


def cross_validate(estimator, X, y, cv=5, scoring=("log_loss", "roc_auc", "accuracy"), groups=None,
                   random_state: int | None = 0, n_splits: int = 5, sample_weight=None) -> CVResult:
    """Fit a clone of ``estimator`` on each training fold and score its test fold.

    ``cv`` and ``groups`` as in ``make_splits``; ``scoring`` names metrics of
    ``logitkit.evaluate.metrics.METRICS``. ``sample_weight`` (n,) is passed to ``fit``.
    Returns a ``CVResult`` (``folds[i][name]``, ``mean``, ``std``).
    """
    names = [scoring] if isinstance(scoring, str) else list(scoring)
    for n in names:
        get_metric(n)
    yv = as_labels(y, _n_rows(X))
    classes = np.unique(yv)
    splits = make_splits(cv, X, yv, groups, random_state, n_splits)
    folds, n_train, n_test, secs = [], [], [], []
    for i, (tr, te) in enumerate(splits):
        progress.current().step(f"cross-validation fold {i + 1}/{len(splits)}")
        est = clone(estimator)
        kw = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)[tr]}
        t0 = time.perf_counter()
        est.fit(_take(X, tr), yv[tr], **kw)
        secs.append(time.perf_counter() - t0)
        P = _aligned_proba(est, _take(X, te), classes)
        folds.append(compute_metrics(names, yv[te], P, classes))
        n_train.append(len(tr))
        n_test.append(len(te))
        log.info("fold %d/%d: %s", i + 1, len(splits), folds[-1])
    mean, std = _summarise(folds, names)
    return CVResult(folds, mean, std, n_train, n_test, secs)


# ------------------------------------------------------------------ tuning
def _effective_n(y: np.ndarray, sample_weight, class_weight) -> float:
    """Σ of the (class-weighted) sample weights: the n in C = 1 / (alpha · n)."""
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if class_weight is None:
        return float(sw.sum())
    classes, idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    if class_weight == "balanced":
        table = len(y) / (len(classes) * counts)
    else:
        table = np.array([float(class_weight.get(c, 1.0)) for c in classes])
    return float((sw * table[idx]).sum())


def alpha_max(X, y, sample_weight=None) -> float:
    """max_j |Σ_i s_i (y_ik − ȳ_k) x_ij| / Σ s_i over classes k: the smallest alpha for
    which an L1 fit keeps every weight at zero (the top of the default grid)."""
    M = as_matrix(X)
    classes, idx = np.unique(np.asarray(y), return_inverse=True)
    Y = np.eye(len(classes))[idx]
    s = np.ones(len(idx)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    R = s[:, None] * (Y - np.average(Y, axis=0, weights=s))
    G = (M.T @ R) if not isinstance(M, torch.Tensor) else (M.T @ torch.as_tensor(R, dtype=M.dtype, device=M.device)).cpu().numpy()
    return float(np.abs(np.asarray(G)).max() / s.sum())


_ARRAY = (list, tuple, np.ndarray)
#: LogisticRegression's parameters that the search sets itself
SEARCHED = ("alpha", "l1_ratio", "warm_start")

PARAMS = {
    "alphas": Param(10, (Interval(Integral, 1), Instance(_ARRAY, "an array of alphas >= 0")),
                    "An int asks for that many values log-spaced from alpha_max(X, y) (divided by the "
                    "smallest positive l1_ratio for elastic net) down to 1e-4 of it; an array is used as "
                    "given. Searched from the largest (strongest penalty) down."),
    "Cs": Param(None, (None, Interval(Integral, 1), Instance(_ARRAY, "an array of Cs > 0")),
                "Tune scikit-learn's C instead (see the module docstring): an int asks for "
                "np.logspace(-4, 4, Cs) as scikit-learn does. Overrides alphas."),
    "l1_ratios": Param(None, (None, Instance(_ARRAY, "a list of numbers in [0, 1]")),
                       "Required with penalty='elasticnet'; each is tried with every alpha."),
    "penalty": replace(LOGISTIC_PARAMS["penalty"], allowed=("l2", "l1", "elasticnet"),
                       doc="The penalty whose strength is tuned."),
    "cv": Param(5, (Instance((object,), "an int, a split name, a splitter or (train, test) index pairs"),),
                "As in make_splits. fit(X, y, sample_weight=None, groups=None) takes the groups for "
                "'group'."),
    "n_splits": Param(5, (Interval(Integral, 2),), "The number of folds when cv is a name."),
    "scoring": Param("log_loss", (Instance((str,), "a metric name of logitkit.evaluate.metrics.METRICS"),),
                     "Maximised or minimised according to the metric; ties go to the stronger penalty."),
    **{k: p for k, p in LOGISTIC_PARAMS.items() if k not in SEARCHED and k != "penalty"},
}


class LogisticRegressionCV(ClassifierMixin, BaseEstimator):
    __doc__ = f"""``LogisticRegression`` with alpha (and l1_ratio) chosen by cross-validation.

    Every parameter of ``LogisticRegression`` but {", ".join(SEARCHED)} is passed to each fit.

{params_doc(PARAMS)}

    Attributes
    ----------
    alphas_ : (n_alphas,) the grid, strongest first; with ``Cs``, (n_folds, n_Cs): the
        alpha of each fold's fit. ``Cs_`` (n_Cs,) ascending, with ``Cs``.
    l1_ratios_ : (n_l1,) (``[l1]`` of the penalty when not elastic net).
    cv_scores_ : (n_folds, n_alphas) — (n_folds, n_alphas, n_l1) for elastic net — the
        metric of every fold and grid point, for plotting the CV curve.
    coef_path_ : (n_folds, n_alphas[, n_l1], m, d); ``intercept_path_`` (..., m).
    alpha_, l1_ratio_, C_ (with ``Cs``), best_score_ (mean over folds), best_index_.
    estimator_ : the ``LogisticRegression`` refitted on all the data with the choice;
    coef_, intercept_, classes_, n_features_in_, n_iter_ are copied from it.
    """

    __init__ = estimator_init(PARAMS)

    # -------------------------------------------------------------- checks
    def _l1_grid(self) -> np.ndarray:
        if self.penalty != "elasticnet":
            if self.l1_ratios is not None:
                raise ConfigError("LogisticRegressionCV: l1_ratios is only used with penalty='elasticnet'; set penalty='elasticnet' or drop l1_ratios")
            return np.array([1.0 if self.penalty == "l1" else 0.0])
        r = np.asarray(self.l1_ratios if self.l1_ratios is not None else [], dtype=np.float64).reshape(-1)
        if r.size == 0 or not ((r >= 0) & (r <= 1)).all():
            raise ConfigError("LogisticRegressionCV: penalty='elasticnet' needs l1_ratios, a list of numbers in [0, 1]")
        return r

    def _grid(self, X, y, sample_weight, l1: np.ndarray) -> np.ndarray:
        if self.Cs is not None:
            Cs = np.logspace(-4, 4, self.Cs) if isinstance(self.Cs, Integral) else np.sort(np.asarray(self.Cs, dtype=np.float64))
            if Cs.size == 0 or not (Cs > 0).all():
                raise ConfigError(f"LogisticRegressionCV: Cs={self.Cs!r} is invalid; expected an int >= 1 or positive numbers")
            return Cs
        if isinstance(self.alphas, Integral):
            top = alpha_max(X, y, sample_weight) / max(float(l1[l1 > 0].min()) if (l1 > 0).any() else 1.0, 1e-3)
            return np.logspace(np.log10(top), np.log10(top) - 4, self.alphas)
        a = np.sort(np.asarray(self.alphas, dtype=np.float64))[::-1]
        if a.size == 0 or not (a >= 0).all():
            raise ConfigError(f"LogisticRegressionCV: alphas={self.alphas!r} is invalid; expected numbers >= 0")
        return a.copy()

    def _base(self, l1_ratio: float) -> LogisticRegression:
        """The estimator of every fit: this one's parameters, the given l1_ratio."""
        return LogisticRegression(**{k: getattr(self, k) for k in LOGISTIC_PARAMS if k in PARAMS},
                                  l1_ratio=float(l1_ratio))

    # ----------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None, groups=None) -> "LogisticRegressionCV":
        """Cross-validate the grid, pick the best point, refit on all of X (n, d), y (n,)."""
        check_params(self, PARAMS)
        metric = get_metric(self.scoring)
        if metric.greater_is_better is None:
            raise ConfigError(f"LogisticRegressionCV: scoring={self.scoring!r} has no better direction; choose e.g. 'log_loss' or 'roc_auc'")
        l1 = self._l1_grid()
        if not (hasattr(X, "shape") or sp.issparse(X)):
            X = as_matrix(X)
        n = _n_rows(X)
        if n == 0:
            raise DataError("X has 0 samples; at least one is required")
        yv = as_labels(y, n)
        check_classification_targets(yv)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if sw is not None and sw.shape[0] != n:
            raise DataError(f"sample_weight has {sw.shape[0]} values but X has {n} rows; pass one weight per row")
        if sw is not None and not sw.sum() > 0:
            raise DataError("the sample weights sum to zero; at least one row needs a positive weight")
        present = np.unique(yv if sw is None else yv[sw > 0])
        if len(present) < 2:
            raise DataError(f"y has only one class ({present[0].item()!r}) with positive weight; "
                            "tuning a classifier needs at least two classes")
        grid = self._grid(X, yv, sw, l1)
        splits = make_splits(self.cv, X, yv, groups, self.random_state, self.n_splits)
        classes = np.unique(yv)
        sign = 1.0 if metric.greater_is_better else -1.0
        scores, coefs, inters, fold_alphas = [], [], [], []
        for tr, te in splits:
            s_tr = None if sw is None else sw[tr]
            n_f = _effective_n(yv[tr], s_tr, self.class_weight)
            alphas = 1.0 / (grid * n_f) if self.Cs is not None else grid  # strongest first either way
            fold_alphas.append(alphas)
            S, Wp, Bp = self._path(_take(X, tr), yv[tr], s_tr, _take(X, te), yv[te], alphas, l1, classes)
            scores.append(S)
            coefs.append(Wp)
            inters.append(Bp)
        cv_scores = np.array(scores)  # (n_folds, n_grid, n_l1)
        flat = (sign * cv_scores.sum(0)).reshape(-1)
        best = int(np.argmax(flat))  # first best: the strongest penalty among ties
        i, j = np.unravel_index(best, cv_scores.shape[1:])
        squeeze = self.penalty != "elasticnet"
        self.cv_scores_ = cv_scores[:, :, 0] if squeeze else cv_scores
        self.coef_path_ = np.array(coefs)[:, :, 0] if squeeze else np.array(coefs)
        self.intercept_path_ = np.array(inters)[:, :, 0] if squeeze else np.array(inters)
        self.l1_ratios_ = l1
        self.l1_ratio_ = float(l1[j])
        self.best_index_ = (int(i),) if squeeze else (int(i), int(j))
        self.best_score_ = float(cv_scores[:, i, j].mean())
        if self.Cs is not None:
            self.Cs_, self.alphas_ = grid, np.array(fold_alphas)
            self.C_ = float(grid[i])
            self.alpha_ = 1.0 / (self.C_ * _effective_n(yv, sw, self.class_weight))
        else:
            self.alphas_, self.alpha_ = grid, float(grid[i])
        est = self._base(self.l1_ratio_).set_params(alpha=self.alpha_)
        est.fit(X, yv, sample_weight=sw)
        self.estimator_ = est
        for key in ("coef_", "intercept_", "classes_", "n_features_in_", "n_iter_", "feature_names_in_"):
            if hasattr(est, key):
                setattr(self, key, getattr(est, key))
        return self

    def _path(self, X_tr, y_tr, s_tr, X_te, y_te, alphas, l1, classes):
        """Scores (n_grid, n_l1), coefs (n_grid, n_l1, m, d) and intercepts of one fold."""
        S = np.empty((len(alphas), len(l1)))
        W, B = [[None] * len(l1) for _ in alphas], [[None] * len(l1) for _ in alphas]
        for j, r in enumerate(l1):
            est = self._base(r).set_params(warm_start=True)
            for i, a in enumerate(alphas):  # strongest penalty first: each fit warm-starts the next
                est.set_params(alpha=float(a))
                est.fit(X_tr, y_tr, sample_weight=s_tr)
                P = _aligned_proba(est, X_te, classes)
                S[i, j] = compute_metrics([self.scoring], y_te, P, classes)[self.scoring]
                W[i][j], B[i][j] = est.coef_.copy(), est.intercept_.copy()
        return S, np.array(W), np.array(B)

    def to_record(self) -> dict:
        """The choice and the CV curve as plain JSON-ready values, for the run record."""
        check_is_fitted(self)
        rec = {"scoring": self.scoring, "alpha": self.alpha_, "l1_ratio": self.l1_ratio_,
               "best_score": self.best_score_, "l1_ratios": self.l1_ratios_.tolist(),
               "cv_scores": self.cv_scores_.tolist(), "cv_mean": self.cv_scores_.mean(0).tolist()}
        if self.Cs is not None:
            rec.update(C=self.C_, Cs=self.Cs_.tolist(), fold_alphas=self.alphas_.tolist())
        else:
            rec["alphas"] = self.alphas_.tolist()
        return rec

    # ------------------------------------------------------------- predict
    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    def predict_log_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.predict_log_proba(X)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
