"""Newton from a subsample (solvers.subsampled) reaches the same optimum as exact Newton.

The thresholds are lowered so that small generated problems take the subsampled path;
the oracle is plain Newton on all rows (itself checked against scikit-learn and
statsmodels in test_logistic_oracle.py) and scikit-learn for the unpenalised case.
"""
import importlib

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression as SkLR

import logitkit
from logitkit.predict.design import Design
from logitkit.predict.objective import LogisticObjective
from logitkit.predict.solvers import subsampled

newton_mod = importlib.import_module("logitkit.predict.solvers.newton")


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch):
    monkeypatch.setattr(subsampled, "MIN_ROWS", 2000)


def gen(n, d, K, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + shift
    W = rng.normal(0, 1.0, (K, d))
    z = X @ W.T
    if K == 2:
        y = (rng.random(n) < 1 / (1 + np.exp(-z[:, 0]))).astype(int)
    else:
        P = np.exp(z - z.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        y = (P.cumsum(1) > rng.random((n, 1))).argmax(1)
    return X, y


def objective(X, y, model, link, alpha=None):
    classes, idx = np.unique(y, return_inverse=True)
    K = len(classes)
    Y = torch.as_tensor(np.eye(K)[idx] if link == "ovr" else idx)
    obj = LogisticObjective(Design.from_array(X, torch.float64, torch.device("cpu")), Y,
                            torch.ones(len(y), dtype=torch.float64), link, 1 if K == 2 else K,
                            True, (model.alpha if model.penalty else 0.0) if alpha is None else alpha, 0.0)
    return float(obj.value(torch.as_tensor(np.column_stack([model.coef_, model.intercept_]))))


def fit_both(X, y, monkeypatch, **kw):
    calls = []
    real = subsampled.subsampled_newton

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(subsampled, "subsampled_newton", spy)
    fast = logitkit.LogisticRegression(solver="newton", **kw).fit(X, y)
    assert calls, "the subsampled path was not taken"
    monkeypatch.setattr(subsampled, "applies", lambda *a: False)
    exact = logitkit.LogisticRegression(solver="newton", **kw).fit(X, y)
    return fast, exact


@pytest.mark.parametrize("K,multiclass", [(2, "softmax"), (3, "softmax"), (3, "ovr")])
@pytest.mark.parametrize("penalty", [None, "l2"])
def test_same_optimum_as_exact_newton(K, multiclass, penalty, monkeypatch):
    X, y = gen(60_000, 5, K)
    fast, exact = fit_both(X, y, monkeypatch, penalty=penalty, alpha=1e-3, multiclass=multiclass, tol=1e-9)
    link = "binary" if K == 2 else multiclass
    f_fast, f_exact = objective(X, y, fast, link), objective(X, y, exact, link)
    assert abs(f_fast - f_exact) <= 1e-10 * abs(f_exact)
    if not (K > 2 and multiclass == "softmax" and penalty is None):  # softmax MLE: identified up to a shift
        np.testing.assert_allclose(fast.coef_, exact.coef_, atol=1e-6)
    np.testing.assert_allclose(fast.predict_proba(X), exact.predict_proba(X), atol=1e-7)
    assert fast.solver_ == "newton"


def test_unpenalised_matches_sklearn_and_default_tol(monkeypatch):
    X, y = gen(50_000, 8, 2, seed=3, shift=2.0)  # features far from zero: an ill-scaled intercept
    sk = SkLR(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=100).fit(X, y)
    fast, _ = fit_both(X, y, monkeypatch, penalty=None)  # the default tol
    f_fast, f_sk = objective(X, y, fast, "binary"), objective(X, y, sk, "binary", alpha=0.0)
    assert f_fast - f_sk <= 1e-9 * abs(f_sk)  # DESIGN: defaults reach the optimum to 1e-6 relative
    np.testing.assert_allclose(fast.coef_, sk.coef_, atol=1e-4)
    tight = logitkit.LogisticRegression(solver="newton", penalty=None, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(tight.coef_, sk.coef_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tight.intercept_, sk.intercept_, rtol=1e-6, atol=1e-7)


def test_sample_weight_and_float32(monkeypatch):
    X, y = gen(40_000, 6, 2, seed=1)
    w = np.random.default_rng(2).uniform(0.2, 3.0, len(y))
    fast = logitkit.LogisticRegression(solver="newton", penalty=None, tol=1e-10).fit(X, y, sample_weight=w)
    monkeypatch.setattr(subsampled, "applies", lambda *a: False)
    exact = logitkit.LogisticRegression(solver="newton", penalty=None, tol=1e-10).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(fast.coef_, exact.coef_, atol=1e-7)
    f32 = logitkit.LogisticRegression(solver="newton", penalty=None, dtype="float32").fit(X, y, sample_weight=w)
    np.testing.assert_allclose(f32.coef_, exact.coef_, atol=2e-4)


def test_falls_back_to_exact_newton_when_the_subsample_is_a_poor_model(monkeypatch):
    # rows sorted by the first feature and a "subsample" of the first rows: its Hessian
    # misjudges the curvature, the quasi-Newton steps stall, exact Newton takes over
    X, y = gen(30_000, 4, 2, seed=5)
    order = np.argsort(X[:, 0])
    X, y = X[order], y[order]
    monkeypatch.setattr(subsampled, "_subsample", lambda obj: obj.subset(torch.arange(2000)))
    exact_calls = []
    real_newton = newton_mod.newton

    def counting(obj, theta0, *a, subsample=True, **k):
        if not subsample:
            exact_calls.append(obj.X.n)
        return real_newton(obj, theta0, *a, subsample=subsample, **k)

    monkeypatch.setattr(newton_mod, "newton", counting)
    monkeypatch.setattr("logitkit.predict.logistic.newton", counting)
    fast = logitkit.LogisticRegression(solver="newton", penalty=None, tol=1e-10).fit(X, y)
    sk = SkLR(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=100).fit(X, y)
    np.testing.assert_allclose(fast.coef_, sk.coef_, rtol=1e-6, atol=1e-7)
    assert exact_calls == [2000, len(y)]  # stage 1 on the subsample, then the fallback on all rows


def test_applies_only_to_large_smooth_problems_from_zero():
    X, y = gen(10_000, 3, 2)
    obj = LogisticObjective(Design.from_array(X, torch.float64, torch.device("cpu")), torch.as_tensor(y),
                            torch.ones(len(y), dtype=torch.float64), "binary", 1, True, 1e-3, 0.0)
    assert subsampled.applies(obj, obj.zeros())
    assert not subsampled.applies(obj, obj.zeros() + 0.1)  # a warm start
    obj.l1_ratio = 0.5
    assert not subsampled.applies(obj, obj.zeros())  # L1: proximal Newton on all rows
