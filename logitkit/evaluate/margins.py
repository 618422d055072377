"""Marginal effects of a fitted logistic regression, with delta-method standard errors.

For the softmax over K logits z = B̃ x̃ (binary: K = 2, B̃'s row 0 zero), class k's
probability P_k changes with feature j by

    dydx   ∂P_k/∂x_j = P_k c_kj,   c_kj = B̃_kj − Σ_m P_m B̃_mj
    eydx   ∂log P_k/∂x_j = c_kj          dyex = dydx · x_j        eyex = eydx · x_j

evaluated at every row and averaged (``at="overall"``), at the column means
(``at="mean"``), or at rows whose named columns are fixed (``at={"x": 1}``: averaged over
the rows, as statsmodels' ``atexog`` and Stata's ``margins, at()``). With
``dummy=True`` a 0/1 column's effect is the discrete change P_k(x_j = 1) − P_k(x_j = 0)
(eydx: the change in log P_k). A binary model reports the effect on P(classes_[1]); a
softmax model on every class, as statsmodels' ``get_margeff``.

Standard errors by the delta method, Var = J V Jᵀ, with V the summary's covariance and
J = ∂(effects)/∂β in closed form: per row, ∂f/∂β_l = a_j (A_kl e_j + D_kjl x̃) with
a_j = x_j for the "ex" methods (else 1). Σ_i D_i x̃_iᵀ is one matrix product per block of
rows, so the cost is O(n·d·p·|classes|²) in torch on the model's device, with nothing
of size n·p held beyond X itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import stats

from logitkit._util.errors import ConfigError, DataError, did_you_mean
from logitkit.evaluate.fitted import Fitted

METHODS = ("dydx", "eyex", "dyex", "eydx")
BLOCK_ELEMENTS = 1 << 22  # entries of the per-block derivative tensor (32 MB in float64)


@dataclass
class MarginalEffects:
    """Effects (one per feature, per class for softmax), their delta-method standard
    errors, z, p-values and CIs. ``to_frame()`` gives the table."""

    effect: np.ndarray            # (n_classes_reported, d)
    std_err: np.ndarray
    cov: np.ndarray = field(repr=False)   # covariance of the effects, class-major
    names: list[str] = field(default_factory=list)
    classes: list = field(default_factory=list)   # the classes reported (binary: [classes_[1]])
    method: str = "dydx"
    at: str = "overall"
    values: dict = field(default_factory=dict)
    dummies: list[str] = field(default_factory=list)
    level: float = 0.95
    softmax: bool = False
    aliased: list[str] = field(default_factory=list)   # columns left out: not identified (aliased)

    @property
    def z(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.std_err > 0, self.effect / self.std_err, np.nan)

    @property
    def p_value(self) -> np.ndarray:
        return 2 * stats.norm.sf(np.abs(self.z))

    def conf_int(self) -> tuple[np.ndarray, np.ndarray]:
        q = float(stats.norm.ppf(0.5 + self.level / 2))
        return self.effect - q * self.std_err, self.effect + q * self.std_err

    def to_frame(self):
        """Columns ``<method>`` (dydx, eyex, dyex or eydx), std_err, z, p_value, ci_low,
        ci_high; indexed by feature (binary) or by (class, feature) (softmax)."""
        import pandas as pd

        lo, hi = self.conf_int()
        cols = {self.method: self.effect, "std_err": self.std_err, "z": self.z, "p_value": self.p_value,
                "ci_low": lo, "ci_high": hi}
        if self.softmax:
            index = pd.MultiIndex.from_product([self.classes, self.names], names=["class", "term"])
        else:
            index = pd.Index(self.names, name="term")
        return pd.DataFrame({k: np.asarray(v).reshape(-1) for k, v in cols.items()}, index=index)

    def to_dict(self) -> dict:
        f = self.to_frame().reset_index()
        return {"method": self.method, "at": self.at, "values": dict(self.values), "dummies": list(self.dummies),
                "level": self.level, "effects": f.to_dict(orient="records")}

    def __str__(self) -> str:
        at = self.at + (f" with {self.values}" if self.values else "")
        lines = [f"Marginal effects ({self.method}) at {at}; delta-method standard errors"]
        if self.dummies:
            lines.append(f"discrete change from 0 to 1 for {', '.join(self.dummies)}")
        if self.aliased:
            lines.append(f"left out (aliased, not identified): {', '.join(self.aliased)}")
        return "\n".join(lines) + "\n" + self.to_frame().to_string(float_format=lambda v: f"{v:.6g}")


def marginal_effects(fit: Fitted, at="overall", method: str = "dydx", dummy: bool = False,
                     values: dict | None = None) -> MarginalEffects:
    """Marginal effects of the model ``fit`` describes (see the module docstring)."""
    fit.check_link("marginal effects")
    if fit.n_total != fit.design.n:
        raise ConfigError(f"marginal effects average over every row, but this process holds {fit.design.n} of the "
                          f"{fit.n_total} rows (a model fitted under torchrun); compute them in one process")
    if method not in METHODS:
        raise ConfigError(f"method={method!r} is not known; use one of {list(METHODS)}." + did_you_mean(str(method), METHODS))
    if isinstance(at, dict):
        values, at = {**(values or {}), **at}, "overall"
    if at not in ("overall", "mean"):
        raise ConfigError(f"at={at!r} is not known; use 'overall' (average over the rows), 'mean' (at the "
                          "column means) or a dict {feature: value}")
    fixed = _fixed_columns(fit, values or {})
    if dummy and method in ("eyex", "dyex"):
        raise ConfigError(f"method={method!r} with dummy=True: an elasticity with respect to a 0/1 column is "
                          "not defined; use 'dydx' or 'eydx' for the discrete change, or dummy=False")
    dummies = _dummy_columns(fit) if dummy else []
    K, R = fit.B.shape[0], ([1] if fit.link == "binary" else list(range(fit.B.shape[0])))
    d, p, nd, ex = fit.d, fit.p, len(dummies), method in ("eyex", "dyex")
    acc = _Sums(fit, len(R), nd, ex)
    n = 0
    for X in _rows(fit, at, fixed, len(R) * K * (K + 2 * nd) + d):
        _continuous(fit, method, X, R, acc)
        if dummies:
            _discrete(fit, method, X, R, dummies, acc)
        n += X.shape[0]
    eff, A, J = acc.result(fit, ex)                 # (|R|, d), (|R|, d, K−1), (|R|, d, K−1, p)
    if dummies:  # the dummies' rows: the discrete change replaces the derivative
        js = torch.as_tensor(dummies, device=fit.device)
        eff[:, js], A[:, js] = acc.eff_d, acc.A_d
        J[:, js] = acc.D_d.reshape(len(R), nd, K - 1, p)
    idx = torch.arange(d, device=fit.device)
    J[:, idx, :, idx] += A.permute(1, 0, 2)         # the e_j part: column j of each class block
    J = J.reshape(len(R) * d, (K - 1) * p) / n
    cov = J @ fit.V @ J.T
    se = torch.sqrt(torch.clamp(torch.diagonal(cov), min=0))
    ok = fit.identified_columns()  # an aliased column has no effect of its own: left out
    pick = np.flatnonzero(np.tile(ok, len(R)))
    cov = cov.cpu().numpy()[np.ix_(pick, pick)]
    return MarginalEffects(
        effect=(eff / n).cpu().numpy()[:, ok], std_err=se.reshape(len(R), d).cpu().numpy()[:, ok], cov=cov,
        names=[m for m, k in zip(fit.names, ok) if k], classes=fit.class_labels(R), method=method, at=at,
        values={fit.names[j]: v for j, v in fixed.items()}, dummies=[fit.names[j] for j in dummies if ok[j]],
        level=fit.level, softmax=fit.link == "softmax", aliased=[m for m, k in zip(fit.names, ok) if not k])


class _Sums:
    """Sums over the rows. Every per-row quantity is linear in B̃'s column j, with
    weights that depend on the row's probabilities only:

        f_kj = a_j Σ_m E_km B̃_mj      (the effect; a_j = x_j for "ex" methods, else 1)
        A_kl  (the e_j part)          D_kjl = a_j Σ_m T_klm B̃_mj   (the x̃ part)

    so the sweep keeps Σ E, Σ A, Σ T x̃ (Σ x_j ·, Σ x_j T x̃ for "ex"): O(n·p) per
    block, O(n·d·p) for "ex" (one weighted product per (k, l, m)), never O(n·d·p·K²)."""

    def __init__(self, fit: Fitted, r: int, nd: int, ex: bool):
        K, d, p = fit.B.shape[0], fit.d, fit.p
        z = dict(dtype=torch.float64, device=fit.device)
        lead = (d,) if ex else ()
        self.E = torch.zeros(*lead, r, K - 1, **z)
        self.A = torch.zeros(*lead, r, K - 1, **z)
        self.T = torch.zeros(r * (K - 1) * (K - 1), *lead, p, **z)
        self.eff_d, self.A_d = torch.zeros(r, nd, **z), torch.zeros(r, nd, K - 1, **z)
        self.D_d = torch.zeros(r * nd * (K - 1), p, **z)

    def result(self, fit: Fitted, ex: bool):
        Bm = fit.B[1:, : fit.d]                                        # (K−1, d): B̃_mj, m ≥ 1
        r, K1 = self.E.shape[-2], self.E.shape[-1]
        if ex:
            eff = torch.einsum("jkm,mj->kj", self.E, Bm)
            A = self.A.permute(1, 0, 2).clone()
            D = torch.einsum("mj,klmjq->kjlq", Bm, self.T.reshape(r, K1, K1, fit.d, fit.p))
        else:
            eff = self.E @ Bm
            A = self.A[:, None, :].expand(-1, fit.d, -1).clone()
            D = torch.einsum("mj,klmq->kjlq", Bm, self.T.reshape(r, K1, K1, fit.p))
        return eff, A, D


def _xt(fit: Fitted, M: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Mᵀ X̃ with X̃ = [X, 1] (the intercept column is never materialised)."""
    out = M.T @ X
    return torch.cat([out, M.sum(0)[:, None]], 1) if fit.fit_intercept else out


def _proba(fit: Fitted, X: torch.Tensor) -> torch.Tensor:
    z = X @ fit.B[:, : fit.d].T
    return torch.softmax(z + fit.B[:, fit.d] if fit.fit_intercept else z, dim=1)


def _continuous(fit: Fitted, method: str, X, R, acc: _Sums) -> None:
    """Add one block of rows to the sums, for every feature at once:

        eydx  E_km = δ_km − P_m          A_kl = δ_kl − P_l       T_klm = −P_l (δ_lm − P_m)
        dydx  E_km = P_k (δ_km − P_m)    A_kl = P_k (δ_kl − P_l)
              T_klm = −P_k P_l (δ_lm − P_m) + P_k (δ_kl − P_l)(δ_km − P_m)

    (k the reported class, l and m the non-reference classes)."""
    K = fit.B.shape[0]
    P = _proba(fit, X)                                                # (r, K)
    Pm = P[:, 1:]                                                     # (r, K−1)
    eye = torch.eye(K, dtype=P.dtype, device=P.device)
    Em = eye[R][:, 1:][None] - Pm[:, None, :]                        # (r, |R|, K−1): δ_km − P_m
    Lm = eye[1:, 1:][None] - Pm[:, None, :]                          # (r, K−1, K−1): δ_lm − P_m
    if method in ("eydx", "eyex"):
        E = A = Em
        T = (-Pm[:, :, None] * Lm)[:, None].expand(-1, len(R), -1, -1)
    else:
        Pk = P[:, R][:, :, None]
        E = A = Pk * Em
        T = -Pk[..., None] * Pm[:, None, :, None] * Lm[:, None] + A[:, :, :, None] * Em[:, :, None, :]
    Tf = T.reshape(X.shape[0], -1)
    if method in ("eyex", "dyex"):
        acc.E += (X.T @ E.reshape(X.shape[0], -1)).reshape(acc.E.shape)
        acc.A += (X.T @ A.reshape(X.shape[0], -1)).reshape(acc.A.shape)
        for c in range(Tf.shape[1]):
            acc.T[c] += _xt(fit, X * Tf[:, c, None], X)
    else:
        acc.E += E.sum(0)
        acc.A += A.sum(0)
        acc.T += _xt(fit, Tf, X)


def _discrete(fit: Fitted, method: str, X, R, dummies, acc: _Sums) -> None:
    """Add one block of rows' discrete changes 0 → 1 of the dummies, and their Jacobian
    parts: Σ_i (G1 − G0) x̃_i and Σ_i G1 (1 − x_ij) + G0 x_ij (the e_j part), with G the
    derivative of P_k (eydx: of log P_k) in z_l at x_j = 1 and at x_j = 0."""
    K = fit.B.shape[0]
    js = torch.as_tensor(dummies, device=X.device)
    z = X @ fit.B[:, : fit.d].T + (fit.B[:, fit.d] if fit.fit_intercept else 0)   # (r, K)
    bj = fit.B[:, js].T                                       # (nd, K)
    xj = X[:, js]                                             # (r, nd)
    delta = torch.eye(K, dtype=X.dtype, device=X.device)[R][:, 1:]
    parts = []
    for zz in (z[:, None, :] + (1 - xj)[:, :, None] * bj[None], z[:, None, :] - xj[:, :, None] * bj[None]):
        P = torch.softmax(zz, dim=2)                          # (r, nd, K)
        if method == "eydx":
            F = torch.log_softmax(zz, dim=2)[:, :, R]
            G = delta[None, None] - P[:, :, None, 1:]         # (r, nd, |R|, K−1)
        else:
            F = P[:, :, R]
            G = P[:, :, R, None] * (delta[None, None] - P[:, :, None, 1:])
        parts.append((F, G))
    (F1, G1), (F0, G0) = parts
    acc.eff_d += (F1 - F0).sum(0).T
    acc.D_d += _xt(fit, (G1 - G0).permute(0, 2, 1, 3).reshape(X.shape[0], -1), X)
    acc.A_d += torch.einsum("rjkl->kjl", G1 * (1 - xj)[:, :, None, None] + G0 * xj[:, :, None, None])


def _fixed_columns(fit: Fitted, values: dict) -> dict[int, float]:
    out = {}
    ok = fit.identified_columns()
    for name, v in values.items():
        if name not in fit.names:
            raise ConfigError(f"at/values names {name!r}, which is not a feature of the model; features are "
                              f"{fit.names[:10]}{' ...' if fit.d > 10 else ''}." + did_you_mean(str(name), fit.names))
        if not ok[fit.names.index(name)]:
            raise DataError(f"at/values names {name!r}, an aliased column (not identified: a linear combination of "
                            "other columns), whose value the model cannot tell apart from theirs; leave it out")
        try:
            out[fit.names.index(name)] = float(v)
        except (TypeError, ValueError):
            raise ConfigError(f"at/values: {name!r} must be a number, not {v!r}") from None
    return out


def _dummy_columns(fit: Fitted) -> list[int]:
    """Columns whose values are all 0 or 1 and that take both (statsmodels' rule)."""
    lo = hi = None
    integral = None
    for X in _blocks(fit.design, fit.d):
        a, b = X.min(0).values, X.max(0).values
        i = (X == torch.round(X)).all(0)
        lo = a if lo is None else torch.minimum(lo, a)
        hi = b if hi is None else torch.maximum(hi, b)
        integral = i if integral is None else integral & i
    mask = (lo == 0) & (hi == 1) & integral
    return torch.nonzero(mask).reshape(-1).tolist()


def _blocks(design, width: int):
    rows = max(1, BLOCK_ELEMENTS // max(1, width))
    for i in range(0, design.n, rows):
        if design.sparse:
            yield design.rows(torch.arange(i, min(design.n, i + rows))).dense()
        else:
            yield design.X[i : i + rows]


def _rows(fit: Fitted, at: str, fixed: dict[int, float], width: int):
    """The rows the effects are evaluated at, in blocks: the training rows with the
    fixed columns set, or their mean (one row)."""
    def setting(X):
        if fixed:
            X = X.clone()
            for j, v in fixed.items():
                X[:, j] = v
        return X

    if at == "mean":
        total = torch.zeros(fit.d, dtype=torch.float64, device=fit.device)
        for X in _blocks(fit.design, fit.d):
            total += X.sum(0)
        yield setting((total / fit.design.n)[None])
        return
    for X in _blocks(fit.design, width):
        yield setting(X)
