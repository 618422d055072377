"""Predicted probabilities for new rows with standard errors and confidence intervals.

For the softmax over K logits z = B̃ x̃ (binary: K = 2, the reported class classes_[1]),
with V the summary's covariance of the coefficients:

    std_err   delta method: ∂P_k/∂β_l = P_k (δ_kl − P_l) x̃, Var P_k = Σ_ll' g_l g_l' x̃ᵀ V_ll' x̃
    CI        ci="endpoint" (default): the interval of the log-odds η_k = log P_k − log(1 − P_k)
              (binary: the linear predictor x̃ᵀβ) by the delta method, mapped back through
              the logistic function, so it stays inside [0, 1] (statsmodels'
              ``get_prediction().summary_frame()`` for ``Logit``);
              ci="delta": P_k ± z·std_err, which can leave [0, 1].

All of it in torch on the model's device, in blocks of rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import stats
from scipy.special import expit

from logitkit._util.errors import ConfigError
from logitkit.evaluate.fitted import Fitted

BLOCK_ELEMENTS = 1 << 22


@dataclass
class Prediction:
    """``prob``, ``std_err``, ``ci_low``, ``ci_high``: (n,) for a binary model (the
    probability of classes_[1]), (n, K) for softmax; ``to_frame()`` gives the table."""

    prob: np.ndarray
    std_err: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    log_odds: np.ndarray = field(repr=False)      # η (binary: the linear predictor)
    log_odds_se: np.ndarray = field(repr=False)
    classes: list = field(default_factory=list)
    index: object = None
    level: float = 0.95
    ci: str = "endpoint"

    def to_frame(self):
        """Columns prob, std_err, ci_low, ci_high; one row per new row (binary) or per
        (row, class) (softmax)."""
        import pandas as pd

        index = self.index if self.index is not None else pd.RangeIndex(self.prob.shape[0], name="row")
        cols = {"prob": self.prob, "std_err": self.std_err, "ci_low": self.ci_low, "ci_high": self.ci_high}
        if self.prob.ndim == 1:
            return pd.DataFrame(cols, index=index)
        mi = pd.MultiIndex.from_product([index, self.classes], names=[index.name or "row", "class"])
        return pd.DataFrame({k: v.reshape(-1) for k, v in cols.items()}, index=mi)

    def __str__(self) -> str:
        pct = f"{100 * self.level:g}%"
        head = f"Predicted probabilities with {pct} intervals ({self.ci}) and delta-method standard errors"
        return head + "\n" + self.to_frame().to_string(float_format=lambda v: f"{v:.6g}")


def predict(fit: Fitted, X_new, level: float | None = None, ci: str = "endpoint") -> Prediction:
    """Probabilities of ``X_new``'s rows with SEs and CIs (see the module docstring)."""
    fit.check_link("prediction intervals")
    level = fit.level if level is None else level
    if not 0 < level < 1:
        raise ConfigError(f"level={level} must be in (0, 1), e.g. 0.95")
    if ci not in ("endpoint", "delta"):
        raise ConfigError(f"ci={ci!r} is not known; use 'endpoint' (the log-odds interval transformed, inside "
                          "[0, 1]) or 'delta' (prob ± z·std_err)")
    index = getattr(X_new, "index", None)
    X = fit.new_rows(X_new)
    K, p = fit.B.shape
    R = [1] if fit.link == "binary" else list(range(K))
    Vb = fit.V.reshape(K - 1, p, K - 1, p)
    out = {k: [] for k in ("P", "se", "eta", "eta_se")}
    rows = max(1, BLOCK_ELEMENTS // max(1, (K - 1) ** 2 * p))
    for i in range(0, X.shape[0], rows):
        Xt = fit.with_intercept(X[i : i + rows])
        z = Xt @ fit.B.T
        P = torch.softmax(z, dim=1)
        # Q_ll' = x̃ᵀ V_ll' x̃ for every row: the covariance of the K − 1 free logits
        Q = torch.einsum("ilmr,ir->ilm", torch.einsum("iq,lqmr->ilmr", Xt, Vb), Xt)
        delta = torch.eye(K, dtype=z.dtype, device=z.device)[R][:, 1:]            # (|R|, K−1)
        g = P[:, R, None] * (delta[None] - P[:, None, 1:])                          # ∂P_k/∂z_l
        # ∂η_k/∂z_l = δ_kl − P_l / (1 − P_k) (l ≠ k), from the softmax over the classes other than k
        other = torch.softmax(z[:, None, :].expand(-1, len(R), -1).masked_fill(
            torch.eye(K, dtype=torch.bool, device=z.device)[R][None], float("-inf")), dim=2)
        h = delta[None] - other[:, :, 1:]
        eta = z[:, R] - torch.logsumexp(z[:, None, :].expand(-1, len(R), -1).masked_fill(
            torch.eye(K, dtype=torch.bool, device=z.device)[R][None], float("-inf")), dim=2)
        out["P"].append(P[:, R])
        out["se"].append(torch.sqrt(torch.clamp(torch.einsum("ikl,ilm,ikm->ik", g, Q, g), min=0)))
        out["eta"].append(eta)
        out["eta_se"].append(torch.sqrt(torch.clamp(torch.einsum("ikl,ilm,ikm->ik", h, Q, h), min=0)))
    P, se, eta, eta_se = (torch.cat(out[k]).cpu().numpy() for k in ("P", "se", "eta", "eta_se"))
    q = float(stats.norm.ppf(0.5 + level / 2))
    if ci == "endpoint":
        lo, hi = expit(eta - q * eta_se), expit(eta + q * eta_se)
    else:
        lo, hi = P - q * se, P + q * se
    import pandas as pd

    squeeze = (lambda a: a[:, 0]) if fit.link == "binary" else (lambda a: a)
    return Prediction(squeeze(P), squeeze(se), squeeze(lo), squeeze(hi), squeeze(eta), squeeze(eta_se),
                      classes=fit.class_labels(R),
                      index=index if isinstance(index, pd.Index) else None, level=level, ci=ci)

