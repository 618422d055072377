"""Statistical inference for a fitted logistic regression, computed in torch.

``summary(model, X, y)`` gives the coefficient table (coef, standard error, z, p, CI,
odds ratio and its CI) and model-level statistics (log-likelihood, null
log-likelihood, deviance, AIC, BIC, McFadden pseudo-R², likelihood-ratio test against
the intercept-only model). Covariances:

    nonrobust   V = H⁻¹,                H = −∂²ℓ/∂θ∂θᵀ  (observed Fisher information)
    HC0         V = H⁻¹ B H⁻¹,          B = Σ_i g_i g_iᵀ (g_i: row i's score)
    HC1         V = n/(n − k) · HC0
    cluster     V = c · H⁻¹ (Σ_g G_g G_gᵀ) H⁻¹,  G_g = Σ_{i∈g} g_i,
                c = G/(G − 1) · (n − 1)/(n − k)   (statsmodels' default correction)

Softmax models are reported per class against the reference class (``classes_[0]``),
as statsmodels' ``MNLogit`` does; one-vs-rest models per class, each binary problem on
its own. For an L2-penalised fit the model-based covariance uses the penalised
Hessian (the curvature of the posterior under the Gaussian prior the penalty implies);
for L1 inference is not defined and a ``DataError`` says so.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import stats

from logitkit._util.errors import ConfigError, DataError
from logitkit.evaluate.fitted import fitted_from
from logitkit.formula import model_matrix
from logitkit.predict.logistic import objective_for
from logitkit.predict.objective import LogisticObjective
from logitkit.predict.rank import Aliasing, AliasedColumnsWarning, aliased_message, aliasing

COLUMNS = ["term", "coef", "std_err", "z", "p_value", "ci_low", "ci_high",
           "odds_ratio", "odds_ratio_ci_low", "odds_ratio_ci_high"]
COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")


@dataclass
class Summary:
    """Coefficient table plus model statistics; print it, or take ``to_dict``/``to_frame``."""

    rows: list[dict]
    stats: dict
    cov_type: str
    level: float
    cov: np.ndarray = field(repr=False, default=None)
    fit: object = field(repr=False, default=None)  # evaluate.fitted.Fitted: what the methods below need
    aliased: list = field(default_factory=list)    # terms that are not identified (aliased): no standard errors

    # the statistician's toolkit (evaluate.margins, .hypotheses, .prediction), as statsmodels names it
    def marginal_effects(self, at="overall", method: str = "dydx", dummy: bool = False, values=None):
        """Average (``at="overall"``), at-the-mean or at-given-values marginal effects
        with delta-method SEs; see ``logitkit.evaluate.margins``."""
        from logitkit.evaluate.margins import marginal_effects

        return marginal_effects(self._fitted(), at=at, method=method, dummy=dummy, values=values)

    def wald_test(self, hypothesis, value=None):
        """Joint Wald test of ``"x1 = x2, x3 = 0"`` (or R, q); see ``evaluate.hypotheses``."""
        from logitkit.evaluate.hypotheses import wald_test

        return wald_test(self._fitted(), hypothesis, value)

    def t_test(self, hypothesis, value=None):
        """Each constraint's estimate, SE, z, p and CI; see ``evaluate.hypotheses``."""
        from logitkit.evaluate.hypotheses import t_test

        return t_test(self._fitted(), hypothesis, value)

    def predict(self, X_new, level: float | None = None, ci: str = "endpoint"):
        """Probabilities of new rows with SEs and CIs; see ``evaluate.prediction``."""
        from logitkit.evaluate.prediction import predict

        return predict(self._fitted(), X_new, level=level, ci=ci)

    def _fitted(self):
        if self.fit is None:
            raise ConfigError("this Summary was built without its model (e.g. read back from a file); "
                              "call logitkit.evaluate.summary(model, X, y) again")
        return self.fit

    def to_dict(self) -> dict:
        return {"coefficients": [dict(r) for r in self.rows], "stats": dict(self.stats),
                "cov_type": self.cov_type, "level": self.level}

    def to_frame(self):
        """The coefficient table as a pandas DataFrame indexed by term."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=COLUMNS).set_index("term")

    def column(self, name: str) -> np.ndarray:
        """One column of the table as floats (NaN where the table holds None: aliased terms)."""
        return np.array([np.nan if r[name] is None else r[name] for r in self.rows], dtype=float)

    def __str__(self) -> str:
        s = self.stats
        pct = f"{100 * self.level:g}%"
        head = [
            f"Logistic regression ({s['link']}), {s['n_obs']} observations, covariance {self.cov_type}",
            f"Log-likelihood {s['llf']:.4f}   null {s['llnull']:.4f}   deviance {s['deviance']:.4f}",
            f"AIC {s['aic']:.4f}   BIC {s['bic']:.4f}   McFadden pseudo-R² {s['pseudo_r2']:.4f}",
            f"LR test vs intercept-only: chi2({s['lr_df']}) = {s['lr_stat']:.4f}, p = {s['lr_pvalue']:.4g}",
        ]
        if self.aliased:
            head.append(f"Not identified (aliased; no standard errors): {', '.join(self.aliased)}")
        if "hl_stat" in s:
            head.append(f"Hosmer-Lemeshow ({s['hl_groups']} groups): chi2({s['hl_df']}) = "
                        f"{s['hl_stat']:.4f}, p = {s['hl_pvalue']:.4g}")
        width = max(12, max(len(r["term"]) for r in self.rows))
        cols = f"{'term':<{width}} {'coef':>10} {'std err':>10} {'z':>8} {'P>|z|':>8} " \
               f"{pct + ' CI low':>12} {'high':>10} {'odds ratio':>11} {'OR low':>9} {'OR high':>9}"
        lines = head + ["", cols, "-" * len(cols)]
        for r in self.rows:
            if r["std_err"] is None:  # aliased, or no inference at all
                coef = "NA" if r["coef"] is None else f"{r['coef']:.4f}"
                lines.append(f"{r['term']:<{width}} {coef:>10} {'(not identified: no standard error)' if self.aliased else ''}")
                continue
            lines.append(
                f"{r['term']:<{width}} {r['coef']:>10.4f} {r['std_err']:>10.4f} {r['z']:>8.3f} "
                f"{r['p_value']:>8.4f} {r['ci_low']:>12.4f} {r['ci_high']:>10.4f} "
                f"{r['odds_ratio']:>11.4g} {r['odds_ratio_ci_low']:>9.4g} {r['odds_ratio_ci_high']:>9.4g}"
            )
        return "\n".join(lines)


def _reduce_softmax(theta: torch.Tensor, H: torch.Tensor, S: torch.Tensor, K: int, p: int):
    """Reference-class parametrisation β_k = θ_k − θ_0 (k ≥ 1): the likelihood depends on θ
    only through these differences, so its Hessian and scores are the full ones with class
    0's rows and columns dropped."""
    beta = (theta[1:] - theta[0]).reshape(-1)
    H = H.reshape(K, p, K, p)[1:, :, 1:, :].reshape((K - 1) * p, (K - 1) * p)
    return beta, H, None if S is None else S[:, 1:, :].reshape(S.shape[0], -1)


def covariance(model, X, y, sample_weight=None, cov_type: str = "nonrobust", groups=None):
    """Covariance of the estimates: ([(beta, V)] per block, obj, θ̂) of ``identified_covariance``."""
    return identified_covariance(model, X, y, sample_weight, cov_type, groups)[:3]


def identified_covariance(model, X, y, sample_weight=None, cov_type: str = "nonrobust", groups=None):
    """Covariance of the estimates, with the estimates and scores it belongs to.

    Returns ([(beta, V)] per block, obj, θ̂, free, aliasing): beta (k,), V (k, k) (one block; per
    class for ovr); for softmax, beta is in the reference-class parametrisation (K−1
    classes × p). ``free`` (p,) is False for the coefficients of aliased columns
    (``predict.rank``) and those a penalty alone splits (see ``_free_parameters``);
    ``aliasing`` is ``predict.rank.aliasing``'s finding.
    """
    if cov_type not in COV_TYPES:
        raise ConfigError(f"cov_type={cov_type!r} is not known; use one of {list(COV_TYPES)}")
    if cov_type == "cluster" and groups is None:
        raise ConfigError("cov_type='cluster' needs groups=: one cluster label per row")
    obj, theta = objective_for(model, model_matrix(model, X), y, sample_weight)  # formula: X via its design
    if obj.l1 > 0:
        raise DataError("standard errors are not defined for an L1/elastic-net fit; refit with "
                        "penalty=None (or 'l2') for inference")
    n = obj.n_total
    # HC0/HC1 need only Σ g_i g_iᵀ, from the same sweeps over X as the Hessian, without
    # materialising the (n, m, p) scores (cluster sums need those)
    if cov_type in ("HC0", "HC1"):
        H, meat = obj.hessian(theta, meat=True)
    else:
        H, meat = obj.hessian(theta), None
    H = H * n                                      # Hessian of the total penalised NLL
    K, p = len(model.classes_), obj.p
    if obj.link == "softmax" and obj.alpha > 0:
        warnings.warn("inference for a penalised softmax model uses the unpenalised "
                      "reference-class Hessian; refit with penalty=None for exact "
                      "maximum-likelihood inference", UserWarning, stacklevel=3)
        H = H - _ridge_full(obj) * n
    S = obj.scores(theta) if cov_type == "cluster" else None
    if obj.link == "softmax":
        beta, H, S = _reduce_softmax(theta, H, S, K, p)
        if meat is not None:
            meat = meat.reshape(K, p, K, p)[1:, :, 1:, :].reshape((K - 1) * p, (K - 1) * p)
        blocks = [(beta, H, S, meat)]
    elif obj.link == "ovr":
        blocks = [(theta[k], H[k], None if S is None else S[:, k, :], None if meat is None else meat[k])
                  for k in range(obj.m)]
    else:
        blocks = [(theta[0], H, None if S is None else S[:, 0, :], None if meat is None else meat[0])]
    free, kept, al = _free_parameters(obj)  # which coefficients have standard errors, which enter H
    rank = obj.p - int(al.aliased.sum())
    out = []
    for beta, Hk, Sk, Bk in blocks:
        f = kept.repeat(beta.numel() // p).to(Hk.device)
        idx = torch.nonzero(f).reshape(-1)
        Hk, Sk = Hk[idx][:, idx], None if Sk is None else Sk[:, idx]
        Bk = None if Bk is None else Bk[idx][:, idx]
        try:
            Hinv = torch.linalg.inv(Hk)
        except torch.linalg.LinAlgError:
            raise DataError("the information matrix is singular (a constant or collinear feature), so standard "
                            "errors are not defined; drop that feature, or set evaluate.inference: false") from None
        if cov_type == "nonrobust":
            V = Hinv
        else:
            kpar = rank * (beta.numel() // p)  # identified coefficients (statsmodels: the rank)
            if cov_type == "cluster":
                if obj.n_total != Sk.shape[0]:  # rows on other ranks: clusters may span them
                    raise ConfigError("cov_type='cluster' is not available for a model fitted over several "
                                      "ranks; use 'HC0'/'HC1' or compute it on one process")
                codes = torch.as_tensor(np.unique(np.asarray(groups), return_inverse=True)[1], device=Sk.device)
                if codes.shape[0] != Sk.shape[0]:
                    raise DataError(f"groups has {codes.shape[0]} labels but X has {Sk.shape[0]} rows")
                G = int(codes.max()) + 1
                Sg = torch.zeros(G, Sk.shape[1], dtype=Sk.dtype, device=Sk.device).index_add_(0, codes, Sk)
                c = G / (G - 1) * (n - 1) / (n - kpar)
                B = c * Sg.T @ Sg
            else:
                B = Bk * (n / (n - kpar) if cov_type == "HC1" else 1.0)
            V = Hinv @ B @ Hinv
        full = torch.zeros(f.numel(), f.numel(), dtype=V.dtype, device=V.device)
        full[idx[:, None], idx[None, :]] = V  # an aliased coefficient is fixed: no variance
        out.append((beta, full))
    return out, obj, theta, free, al


def _free_parameters(obj: LogisticObjective) -> tuple[torch.Tensor, torch.Tensor, Aliasing]:
    """(free, kept, aliasing): ``free`` and ``kept`` (p,) bool per class block, and what
    ``predict.rank.aliasing`` found. ``free``: the coefficients that
    have a standard error; ``kept``: those whose rows of the Hessian are inverted.

    Aliased design columns (``predict.rank``: linear combinations of the intercept and
    earlier columns) make the likelihood flat along some directions. An unpenalised fit
    fixed their coefficients at 0: they have no standard error and are left out of H.
    A ridge-penalised fit keeps every column, and the penalty alone decides how the
    coefficients along a flat direction split, so none of the coefficients that the
    direction moves (the aliased columns, the columns they are combinations of, the
    intercept where it is one of them) has a standard error; H, penalised, stays whole
    (a softmax model's unpenalised H drops them all)."""
    al = aliasing(obj.X, obj.fit_intercept, obj.collective, rows=(obj.s > 0).cpu().numpy())
    free = torch.ones(obj.p, dtype=torch.bool)
    if obj.l2 > 0:
        free[: obj.d] = torch.as_tensor(~(al.aliased | al.involved))
        if obj.fit_intercept and al.intercept:
            free[-1] = False
        whole = obj.link != "softmax" or not al.aliased.any()
        return free, torch.ones_like(free) if whole else free, al
    free[: obj.d] = torch.as_tensor(~al.aliased)
    return free, free, al


def _ridge_full(obj: LogisticObjective) -> torch.Tensor:
    eye = torch.diag(obj.l2 * obj.penalty_mask[0])
    return torch.block_diag(*([eye] * obj.m)).to(torch.float64)


def _terms(model, p: int) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    names = list(names) if names is not None else [f"x{j}" for j in range(model.n_features_in_)]
    return names + (["intercept"] if model.fit_intercept else [])


def model_stats(model, X, y, sample_weight=None, obj=None, theta=None, n_aliased: int = 0) -> dict:
    """Log-likelihood, null log-likelihood, deviance, AIC, BIC, McFadden R², LR test.
    The number of parameters is the rank: the ``n_aliased`` aliased columns' coefficients
    per class (``predict.rank``) are not counted."""
    if obj is None:
        obj, theta = objective_for(model, model_matrix(model, X), y, sample_weight)  # formula: X via its design
    w, total = obj.s, obj.collective.sum  # total: Σ over rows (and over ranks for a distributed model)
    llf = -float(total((w * obj.nll_rows(obj.logits(theta))).sum()))
    K = len(model.classes_)
    Y1 = obj.Y1
    if obj.link == "ovr":
        prev = total((w[:, None] * Y1).sum(0)) / total(w.sum())
        llnull = float(total((w[:, None] * (Y1 * torch.log(prev) + (1 - Y1) * torch.log1p(-prev))).sum()))
        k, k_null = obj.m * (obj.p - n_aliased), obj.m
    else:
        if obj.link == "binary":
            Y1 = torch.cat([1 - Y1, Y1], 1)
        prev = total((w[:, None] * Y1).sum(0)) / total(w.sum())
        llnull = float(total((w[:, None] * Y1 * torch.log(prev.clamp_min(1e-300))).sum()))
        k = (K - 1) * (obj.p - n_aliased)
        k_null = K - 1
    n = obj.n_total
    lr = 2 * (llf - llnull)
    df = k - k_null if model.fit_intercept else k
    return {
        "link": obj.link, "n_obs": int(n), "df_model": int(df), "n_params": int(k),
        "llf": llf, "llnull": llnull, "deviance": -2 * llf, "null_deviance": -2 * llnull,
        "aic": -2 * llf + 2 * k, "bic": -2 * llf + k * math.log(n),
        "pseudo_r2": 1 - llf / llnull if llnull != 0 else float("nan"),
        "lr_stat": lr, "lr_df": int(df), "lr_pvalue": float(stats.chi2.sf(lr, df)) if df > 0 else float("nan"),
    }


def _rank_groups(p: np.ndarray, groups: int) -> np.ndarray:
    """Group of each row when the rows, in stable ascending order of p, are cut into
    ``groups`` consecutive parts of (almost) equal size (the first n mod groups parts one
    row larger, as ``np.array_split``). Only the cut values are needed (a sort of the
    values, no permutation); rows tied at a cut point are ordered by row index, as a
    stable sort orders them."""
    n = p.shape[0]
    sizes = np.full(groups, n // groups)
    sizes[: n % groups] += 1
    cuts = np.cumsum(sizes)[:-1]
    cut_values = np.sort(p)[cuts]  # the values at the cut ranks (NumPy's vectorised sort)
    # a value seen once: its group is the number of cut values <= it
    g = torch.bucketize(torch.from_numpy(p), torch.from_numpy(cut_values), right=True).numpy()
    for v in np.unique(cut_values):
        tied = np.flatnonzero(p == v)
        if tied.size > 1:  # a tie at a cut: the tied rows take ranks in row order
            ranks = int((p < v).sum()) + np.arange(tied.size)
            g[tied] = np.searchsorted(cuts, ranks, side="right")
    return g


def hosmer_lemeshow(y_true, p_pred, groups: int = 10) -> dict:
    """Hosmer–Lemeshow goodness-of-fit test for a binary model.

    Rows are sorted by predicted probability and cut into ``groups`` groups of (almost)
    equal size; HL = Σ_g (O_g − E_g)² / (E_g (1 − E_g / n_g)) with O_g the observed and
    E_g the expected positives; under a well-fitting model HL ~ χ²(groups − 2).
    """
    y = np.asarray(y_true.cpu() if isinstance(y_true, torch.Tensor) else y_true, dtype=np.float64).reshape(-1)
    p = np.ascontiguousarray(np.asarray(p_pred.cpu() if isinstance(p_pred, torch.Tensor) else p_pred,
                                        dtype=np.float64).reshape(-1))
    if y.shape != p.shape:
        raise DataError(f"y_true has {y.shape[0]} values but p_pred has {p.shape[0]}")
    if groups < 3 or groups > y.shape[0]:
        raise ConfigError(f"groups={groups} must be between 3 and the number of rows ({y.shape[0]})")
    g = _rank_groups(p, groups)
    n_g = np.bincount(g, minlength=groups)
    obs = np.bincount(g, weights=y, minlength=groups)
    exp = np.bincount(g, weights=p, minlength=groups)
    denom = exp * (1 - exp / n_g)
    ok = denom > 0
    stat = float(((obs - exp)[ok] ** 2 / denom[ok]).sum())
    df = groups - 2
    return {"hl_stat": stat, "hl_df": df, "hl_groups": groups, "hl_pvalue": float(stats.chi2.sf(stat, df))}


def summary(model, X, y=None, sample_weight=None, cov_type: str = "nonrobust", groups=None,
            level: float = 0.95, hl_groups: int = 10) -> Summary:
    """Coefficient table and model statistics for a fitted ``LogisticRegression``.

    Rows: every feature and the intercept (binary); ``"<class>: <term>"`` per
    non-reference class (softmax) or per class (ovr). ``level`` sets the CI coverage.
    ``y`` may be left out for a formula model (``logitkit.formula``): the outcome is
    then the formula's left-hand side evaluated on ``X``.
    """
    if y is None:
        if not hasattr(model, "design_"):
            raise ConfigError("summary(model, X, y): pass the labels y (only a formula model takes them from X)")
        y = model.design_.labels(X)
    if not 0 < level < 1:
        raise ConfigError(f"level={level} must be in (0, 1), e.g. 0.95")
    blocks, obj, theta, free, al = identified_covariance(model, X, y, sample_weight, cov_type, groups)
    terms, free = _terms(model, obj.p), free.numpy()
    left_out = np.append(np.asarray(getattr(model, "aliased_", np.zeros(obj.d, bool)), bool),
                         np.zeros(obj.p - obj.d, bool))  # the fit fixed these at 0
    zq = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    K = len(model.classes_)
    if obj.link == "softmax":
        labels = [f"{c}: " for c in model.classes_[1:]]
    elif obj.link == "ovr":
        labels = [f"{c}: " for c in model.classes_]
    else:
        labels = [""]
    covs = []
    for b, (beta, V) in enumerate(blocks):
        beta = beta.reshape(-1).cpu().numpy()
        se = np.sqrt(np.clip(np.diag(V.cpu().numpy()), 0, None))
        covs.append(V.cpu().numpy())
        per = obj.p
        for i, (coef, s) in enumerate(zip(beta, se)):
            label = labels[b + i // per] if obj.link == "softmax" else labels[b]
            if not free[i % per]:  # aliased: no standard error; not estimated at all by an unpenalised fit
                c = None if left_out[i % per] else float(coef)
                rows.append({**dict.fromkeys(COLUMNS), "term": label + terms[i % per], "coef": c,
                             "odds_ratio": None if c is None else _exp(c)})
                continue
            z = coef / s if s > 0 else float("nan")
            lo, hi = coef - zq * s, coef + zq * s
            rows.append({
                "term": label + terms[i % per], "coef": float(coef), "std_err": float(s), "z": float(z),
                "p_value": float(2 * stats.norm.sf(abs(z))), "ci_low": float(lo), "ci_high": float(hi),
                "odds_ratio": _exp(coef), "odds_ratio_ci_low": _exp(lo),
                "odds_ratio_ci_high": _exp(hi),
            })
    aliased = [terms[j] for j in np.flatnonzero(al.aliased)]
    unidentified = [terms[j] for j in np.flatnonzero(~free)]
    st = model_stats(model, X, y, sample_weight, obj, theta, n_aliased=len(aliased))
    st["cov_type"] = cov_type
    if unidentified:
        st["aliased"], st["no_std_err"] = aliased, unidentified
        if not left_out[~free].all():  # (an unpenalised fit has said so already)
            warnings.warn(aliased_message(aliased, "the design", penalised=unidentified), AliasedColumnsWarning,
                          stacklevel=2)
    if K == 2:
        p1 = torch.sigmoid(obj.logits(theta)[:, 0]).cpu().numpy()
        y1 = obj.Y1[:, 0].cpu().numpy()
        if len(y1) >= hl_groups and obj.n_total == len(y1):  # HL sorts all rows: one process only
            st.update(hosmer_lemeshow(y1, p1, hl_groups))
    V = covs[0] if len(covs) == 1 else np.stack(covs)
    return Summary(rows, st, cov_type, level, V, fitted_from(model, obj, blocks, [r["term"] for r in rows], level,
                                                                free),
                   unidentified)


def _exp(v: float) -> float:
    """exp(v); inf past float64's range (a separated fit's coefficient; its warning says why)."""
    with np.errstate(over="ignore"):
        return float(np.exp(v))


def lr_test(full: Summary | dict, reduced: Summary | dict) -> dict:
    """Likelihood-ratio test of nested models: 2·(ℓ_full − ℓ_reduced) ~ χ²(k_full − k_reduced).

    Pass the ``summary(...)`` (or its ``stats``) of both models, fitted on the same rows.
    """
    f = full.stats if isinstance(full, Summary) else full
    r = reduced.stats if isinstance(reduced, Summary) else reduced
    if f["n_obs"] != r["n_obs"]:
        raise DataError(f"the models were fitted on different data ({f['n_obs']} vs {r['n_obs']} rows); "
                        "the LR test needs the same rows")
    df = f["n_params"] - r["n_params"]
    if df <= 0:
        raise DataError(f"the full model must have more parameters than the reduced one "
                        f"({f['n_params']} vs {r['n_params']}); pass them in the order (full, reduced)")
    stat = 2 * (f["llf"] - r["llf"])
    return {"lr_stat": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df))}
