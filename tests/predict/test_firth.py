"""Firth's fit against the Jeffreys-penalised likelihood maximised independently by SciPy.

The reference objective is written here with torch autograd supplying its exact
gradient and Hessian to ``scipy.optimize.minimize(method="trust-exact")``.
"""
import warnings

import numpy as np
import pytest
import torch
from scipy import optimize, stats
from sklearn.base import clone

from logitkit._util.errors import ConfigError, DataError
from logitkit.predict import LogisticRegression, SeparationWarning
from logitkit.predict.firth import FirthLogisticRegression


def _penalised(Xa: np.ndarray, y: np.ndarray):
    """−ℓ*(θ) = −(Σ y z − log(1 + e^z) + ½ log det Xᵀ W X), its gradient and Hessian."""
    Xt, yt = torch.as_tensor(Xa), torch.as_tensor(y, dtype=torch.float64)

    def f(theta):
        z = Xt @ theta
        p = torch.sigmoid(z)
        info = Xt.T @ ((p * (1 - p))[:, None] * Xt)
        return -((yt * z - torch.nn.functional.softplus(z)).sum() + 0.5 * torch.logdet(info))

    def fun(t):
        return float(f(torch.as_tensor(t)))

    def jac(t):
        return torch.autograd.functional.jacobian(f, torch.as_tensor(t)).numpy()

    def hess(t):
        return torch.autograd.functional.hessian(f, torch.as_tensor(t)).numpy()

    return fun, jac, hess


def _reference(Xa, y, fixed=None, start=None):
    """argmax of ℓ*, optionally with θ_j fixed (from ``start``, default 0): returns (θ, ℓ*)."""
    fun, jac, hess = _penalised(Xa, y)
    p = Xa.shape[1]
    if fixed is None:
        res = optimize.minimize(fun, np.zeros(p), jac=jac, hess=hess, method="trust-exact", options={"gtol": 1e-12})
        return res.x, -res.fun
    j, b = fixed
    keep = [k for k in range(p) if k != j]

    def full(t):
        out = np.empty(p)
        out[keep], out[j] = t, b
        return out

    x0 = np.zeros(p - 1) if start is None else np.asarray(start, dtype=float)[keep]
    res = optimize.minimize(lambda t: fun(full(t)), x0, jac=lambda t: jac(full(t))[keep],
                            hess=lambda t: hess(full(t))[np.ix_(keep, keep)], method="trust-exact",
                            options={"gtol": 1e-12})
    return full(res.x), -res.fun


def _spector():
    sm = pytest.importorskip("statsmodels.api")
    data = sm.datasets.spector.load_pandas()
    return data.exog.to_numpy(float), data.endog.to_numpy(float).astype(int)


def _separated():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int)  # x0 separates the classes completely
    return X, y


@pytest.mark.parametrize("dataset", [_spector, _separated])
def test_matches_scipy_reference(dataset):
    X, y = dataset()
    Xa = np.column_stack([X, np.ones(len(y))])
    theta_ref, value_ref = _reference(Xa, y)
    m = FirthLogisticRegression(profile_ci=False).fit(X, y)
    assert m.converged_
    np.testing.assert_allclose(m.theta_, theta_ref, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(m.coef_[0], theta_ref[:-1], rtol=1e-7, atol=1e-8)
    assert m.penalised_loglik_ == pytest.approx(value_ref, rel=1e-10)
    p = 1 / (1 + np.exp(-Xa @ theta_ref))
    cov = np.linalg.inv(Xa.T @ ((p * (1 - p))[:, None] * Xa))
    np.testing.assert_allclose(m.bse_, np.sqrt(np.diag(cov)), rtol=1e-6)
    np.testing.assert_allclose(m.predict_proba(X)[:, 1], p, rtol=1e-7)
    assert m.terms_[-1] == "intercept"


def test_finite_under_separation_where_mle_diverges():
    X, y = _separated()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.warns(SeparationWarning):
            LogisticRegression(penalty=None).fit(X, y)
    m = FirthLogisticRegression().fit(X, y)
    assert np.all(np.isfinite(m.theta_)) and np.all(np.isfinite(m.conf_int_))
    assert m.conf_int_[0, 0] > 0  # the separating feature is clearly positive


@pytest.mark.parametrize("dataset", [_spector, _separated])
def test_profile_intervals_and_tests(dataset):
    X, y = dataset()
    Xa = np.column_stack([X, np.ones(len(y))])
    theta_ref, best = _reference(Xa, y)
    m = FirthLogisticRegression(ci_level=0.9).fit(X, y)
    q = stats.chi2.ppf(0.9, 1)

    def drop(j, b):  # 2 (ℓ*(θ̂) − max ℓ* given θ_j = b), best of two starts
        return 2 * (best - max(_reference(Xa, y, fixed=(j, b), start=s)[1] for s in (None, theta_ref)))

    def drop_along_path(j, b, steps=25):
        # Under separation ℓ* given θ_j = b can have several local maxima, and the branch
        # through θ̂ can end, so the profile jumps past q. Follow that branch from θ̂ by
        # continuation and take the better of it and the fresh starts.
        t = theta_ref
        for c in np.linspace(theta_ref[j], b, steps)[1:]:
            t, value = _reference(Xa, y, fixed=(j, c), start=t)
        return min(2 * (best - value), drop(j, b))

    for j in range(Xa.shape[1]):
        lo, hi = m.conf_int_[j]
        assert lo < m.theta_[j] < hi
        for b, out in ((lo, -1), (hi, 1)):
            if abs(drop(j, b) - q) > 1e-6:  # a jump: q lies between the two sides of b
                eps = 1e-4 * (1 + abs(b))
                assert drop_along_path(j, b - out * eps) < q < drop_along_path(j, b + out * eps)
        stat = 2 * (best - max(_reference(Xa, y, fixed=(j, 0.0), start=s)[1] for s in (None, theta_ref)))
        assert m.pvalues_[j] == pytest.approx(stats.chi2.sf(stat, 1), rel=1e-5, abs=1e-10)
    if dataset is _spector:  # a smooth profile: every endpoint is a crossing of q
        assert all(abs(drop(j, b) - q) < 1e-6 for j in range(Xa.shape[1]) for b in m.conf_int_[j])


def test_wald_intervals_and_sklearn_contract():
    X, y = _spector()
    m = FirthLogisticRegression(profile_ci=False)
    assert clone(m).get_params() == m.get_params()
    m.fit(X, y)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(m.conf_int_, np.column_stack([m.theta_ - z * m.bse_, m.theta_ + z * m.bse_]))
    assert m.predict_proba(X).shape == (len(y), 2)
    np.testing.assert_array_equal(m.predict(X), (m.decision_function(X) > 0).astype(int))


def test_errors_are_pinned():
    X, y = _separated()
    with pytest.raises(DataError, match=r"supported by FirthLogisticRegression; y has 3 classes \(\[0, 1, 2\]\)"):
        FirthLogisticRegression().fit(X, np.arange(30) % 3)
    with pytest.raises(DataError, match=r"y has only one class \(1\); Firth's fit needs both classes"):
        FirthLogisticRegression().fit(X, np.ones(30, dtype=int))
    with pytest.raises(ConfigError, match="ci_level=95 is invalid; expected a number in"):
        FirthLogisticRegression(ci_level=95).fit(X, y)
    with pytest.raises(DataError, match=r"the columns of X are linearly dependent \(X'X is singular\): \['x2'\] is a "
                                        r"combination of the intercept and earlier columns"):
        FirthLogisticRegression().fit(np.column_stack([X, X[:, :1]]), y)
    with pytest.raises(DataError, match="X has 3 features, but FirthLogisticRegression is expecting 2"):
        FirthLogisticRegression(profile_ci=False).fit(X, y).predict(np.ones((2, 3)))
