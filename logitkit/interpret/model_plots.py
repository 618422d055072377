"""What the model learned and how it was fitted: odds-ratio forest plot, loss curves,
regularisation path, CV curve and the 2-D decision boundary. Each writes a PNG and
returns its path."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from logitkit._util.errors import DataError
from logitkit.interpret._figure import plt, save, skippable

#: most terms drawn in the odds-ratio plot (more: those with the largest |log odds ratio|)
MAX_TERMS = 40
INTERCEPT_TERMS = {"intercept", "const", "(intercept)", "_intercept", "bias"}
_OR_KEYS = ("term", "odds_ratio", "odds_ratio_ci_low", "odds_ratio_ci_high")


def _records(rows) -> list[dict]:
    """Rows as a list of dicts from a list, a pandas DataFrame or a pyarrow Table."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        return rows.to_dict("records")
    if hasattr(rows, "to_pylist"):
        return rows.to_pylist()
    return [dict(r) for r in rows]


@skippable
def odds_ratio_plot(rows, path, *, include_intercept: bool = False, title: str | None = None) -> Path:
    """Forest plot: each term's odds ratio exp(w_j) with its confidence interval on a log
    axis; the dotted line at 1 is "no effect". ``rows``: records with ``term``,
    ``odds_ratio``, ``odds_ratio_ci_low``, ``odds_ratio_ci_high`` (the columns of
    ``coefficients.csv``); the intercept row is left out unless asked for."""
    recs = _records(rows)
    missing = [k for k in _OR_KEYS if recs and k not in recs[0]]
    if not recs or missing:
        raise DataError(f"odds_ratio_plot needs rows with columns {list(_OR_KEYS)}; missing {missing or 'all rows'}")
    if not include_intercept:
        recs = [r for r in recs if str(r["term"]).lower() not in INTERCEPT_TERMS]
    recs = [r for r in recs if r["odds_ratio_ci_low"] is not None]  # an aliased term has no interval
    n_terms = len(recs)
    if n_terms > MAX_TERMS:  # the terms that matter most, in their order: a readable figure of bounded size
        size = np.abs(np.log(np.array([float(r["odds_ratio"]) for r in recs])))
        keep = np.sort(np.argsort(-np.nan_to_num(size, nan=-1.0), kind="stable")[:MAX_TERMS])
        recs = [recs[i] for i in keep]
    recs = recs[::-1]  # first term on top
    est = np.array([float(r["odds_ratio"]) for r in recs])
    lo = np.array([float(r["odds_ratio_ci_low"]) for r in recs])
    hi = np.array([float(r["odds_ratio_ci_high"]) for r in recs])
    ypos = np.arange(len(recs))
    fig, ax = plt.subplots(figsize=(6, 0.38 * len(recs) + 1.4))
    # (an interval that is missing, or does not hold its estimate, is drawn as none)
    xerr = [np.nan_to_num(np.maximum(est - lo, 0), nan=0.0), np.nan_to_num(np.maximum(hi - est, 0), nan=0.0)]
    ax.errorbar(est, ypos, xerr=xerr, fmt="o", color="tab:blue", ecolor="tab:blue", capsize=3)
    ax.axvline(1.0, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(ypos, [str(r["term"]) for r in recs])
    ax.set_xlabel("odds ratio (log scale) with confidence interval")
    note = f" ({MAX_TERMS} of {n_terms} terms: the largest |log odds ratio|)" if n_terms > MAX_TERMS else ""
    ax.set_title((title or "Odds ratios") + note, fontsize=10 if note else None)
    ax.grid(alpha=0.3, axis="x")
    return save(fig, path)


@skippable
def loss_plot(train_loss: Sequence[float], path, validation_loss: Sequence[float] | None = None, *,
              best_iteration: int | None = None, xlabel: str = "iteration / epoch",
              title: str | None = None) -> Path:
    """Training (and validation) loss against iteration; a marker at ``best_iteration``
    (1-based) when early stopping restored it."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    t = np.asarray(train_loss, dtype=float)
    ax.plot(np.arange(1, len(t) + 1), t, color="tab:blue", label="training")
    if validation_loss is not None and len(validation_loss):
        v = np.asarray(validation_loss, dtype=float)
        ax.plot(np.arange(1, len(v) + 1), v, color="tab:orange", label="validation")
    if best_iteration:
        ax.axvline(best_iteration, color="grey", ls=":", lw=1, label=f"best ({best_iteration})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    ax.set_title(title or "Loss curves")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save(fig, path)


@skippable
def regularisation_path_plot(alphas, coefs, path, *, feature_names: Sequence[str] | None = None,
                             title: str | None = None) -> Path:
    """Each coefficient against the penalty strength alpha (log axis): ``coefs`` has shape
    (n_alphas, d) (one row per alpha; a (n_alphas, K, d) array is flattened per class)."""
    a = np.asarray(alphas, dtype=float)
    C = np.asarray(coefs, dtype=float).reshape(len(a), -1)
    names = list(feature_names) if feature_names is not None else [f"w{j}" for j in range(C.shape[1])]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for j in range(C.shape[1]):
        ax.plot(a, C[:, j], lw=1.3, label=names[j] if j < len(names) else f"w{j}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("alpha (penalty strength, log scale)")
    ax.set_ylabel("coefficient")
    ax.set_title(title or "Regularisation path")
    if C.shape[1] <= 12:  # (a legend of more lines would hide the plot)
        ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return save(fig, path)


@skippable
def cv_curve_plot(alphas, mean_score, path, *, std_score=None, best_alpha: float | None = None,
                  score_name: str = "score", title: str | None = None) -> Path:
    """Cross-validated score against alpha (log axis), a band of ±1 standard deviation across
    folds when ``std_score`` is given, and a line at ``best_alpha``."""
    a = np.asarray(alphas, dtype=float)
    m = np.asarray(mean_score, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(a, m, "o-", color="tab:blue", ms=3, label=f"mean {score_name}")
    if std_score is not None:
        s = np.asarray(std_score, dtype=float)
        ax.fill_between(a, m - s, m + s, color="tab:blue", alpha=0.2, label="± 1 sd over folds")
    if best_alpha is not None:
        ax.axvline(best_alpha, color="tab:red", ls=":", label=f"best alpha = {best_alpha:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("alpha (log scale)")
    ax.set_ylabel(score_name)
    ax.set_title(title or "Cross-validation curve")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save(fig, path)


@skippable
def decision_boundary_plot(model, X, y, path, *, feature_names: Sequence[str] = ("x1", "x2"),
                           resolution: int = 200, title: str | None = None) -> Path:
    """Decision regions of a fitted classifier on two features: background colour = predicted
    class over a grid; for two classes the P(y=1) = 0.5 contour is drawn; points = data.
    ``model`` has ``predict_proba`` (n, K) and ``classes_``, or is a callable X -> (n, K)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise DataError(f"decision_boundary_plot needs exactly two features, X has shape {X.shape}; "
                        "select two columns or project first")
    y = np.asarray(y)
    proba = model.predict_proba if hasattr(model, "predict_proba") else model
    classes = np.asarray(getattr(model, "classes_", np.unique(y)))
    pad = 0.08 * (X.max(0) - X.min(0) + 1e-12)
    g0 = np.linspace(X[:, 0].min() - pad[0], X[:, 0].max() + pad[0], resolution)
    g1 = np.linspace(X[:, 1].min() - pad[1], X[:, 1].max() + pad[1], resolution)
    G0, G1 = np.meshgrid(g0, g1)
    P = np.asarray(proba(np.column_stack([G0.ravel(), G1.ravel()])))
    fig, ax = plt.subplots(figsize=(5, 4.4))
    cmap = plt.get_cmap("tab10")
    k = P.shape[1]
    ax.contourf(G0, G1, P.argmax(1).reshape(G0.shape), levels=np.arange(k + 1) - 0.5,
                colors=[cmap(i) for i in range(k)], alpha=0.22)
    if k == 2:
        ax.contour(G0, G1, P[:, 1].reshape(G0.shape), levels=[0.5], colors="black", linewidths=1.2)
    for i, c in enumerate(classes):
        sel = y == c
        ax.scatter(X[sel, 0], X[sel, 1], s=14, color=cmap(i), edgecolor="white", linewidth=0.4, label=str(c))
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    ax.set_title(title or "Decision regions")
    ax.legend(fontsize=8, title="class")
    return save(fig, path)
