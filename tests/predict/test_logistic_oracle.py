"""LogisticRegression against scikit-learn and statsmodels on data they ship."""
import numpy as np
import pytest
import statsmodels.api as sm
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression as SkLR
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

import logitkit
from logitkit.predict.rank import AliasedColumnsWarning
from logitkit.predict.design import Design
from logitkit.predict.objective import LogisticObjective

LOADERS = {"breast_cancer": load_breast_cancer, "iris": load_iris, "wine": load_wine, "digits": load_digits}


def data(name):
    X, y = LOADERS[name](return_X_y=True)
    return StandardScaler().fit_transform(X), y


def objective(X, y, coef, intercept, alpha, link, l1_ratio=0.0):
    """Our objective at any (coef, intercept), e.g. at scikit-learn's solution."""
    classes, idx = np.unique(y, return_inverse=True)
    K = len(classes)
    m = 1 if K == 2 else K
    Y = torch.as_tensor(np.eye(K)[idx] if link == "ovr" else idx)
    obj = LogisticObjective(Design.from_array(X, torch.float64, torch.device("cpu")), Y,
                            torch.ones(len(y), dtype=torch.float64), link, m, True, alpha, l1_ratio)
    return float(obj.value(torch.as_tensor(np.column_stack([coef, intercept]))))


CASES = [(name, C) for name in ("breast_cancer", "iris", "wine") for C in (0.1, 1.0, 10.0)] + [("digits", 1.0)]


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("name,C", CASES)
def test_l2_matches_sklearn(name, C, solver):
    X, y = data(name)
    n = len(y)
    sk = SkLR(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    lk = logitkit.LogisticRegression(alpha=1 / (C * n), solver=solver, tol=1e-10, max_iter=1000).fit(X, y)
    link = "binary" if len(sk.classes_) == 2 else "softmax"
    f_sk = objective(X, y, sk.coef_, sk.intercept_, 1 / (C * n), link)
    f_lk = objective(X, y, lk.coef_, lk.intercept_, 1 / (C * n), link)
    assert f_lk <= f_sk * (1 + 1e-8)
    assert abs(f_lk - f_sk) <= 1e-8 * abs(f_sk)
    np.testing.assert_allclose(lk.coef_, sk.coef_, atol=1e-5)
    np.testing.assert_allclose(lk.intercept_, sk.intercept_, atol=1e-5)
    np.testing.assert_allclose(lk.predict_proba(X), sk.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("name", ["iris", "wine"])
def test_ovr_matches_sklearn_one_vs_rest(name, solver):
    X, y = data(name)
    n, C = len(y), 1.0
    sk = OneVsRestClassifier(SkLR(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)).fit(X, y)
    lk = logitkit.LogisticRegression(alpha=1 / (C * n), multiclass="ovr", solver=solver, tol=1e-10).fit(X, y)
    coef = np.vstack([e.coef_ for e in sk.estimators_])
    intercept = np.concatenate([e.intercept_ for e in sk.estimators_])
    f_sk = objective(X, y, coef, intercept, 1 / (C * n), "ovr")
    f_lk = objective(X, y, lk.coef_, lk.intercept_, 1 / (C * n), "ovr")
    assert abs(f_lk - f_sk) <= 1e-8 * abs(f_sk)
    np.testing.assert_allclose(lk.coef_, coef, atol=1e-5)
    np.testing.assert_allclose(lk.predict_proba(X), sk.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("name,l1_ratio", [("breast_cancer", 1.0), ("breast_cancer", 0.5), ("wine", 1.0), ("wine", 0.5)])
def test_l1_and_elasticnet_match_saga(name, l1_ratio, solver):
    X, y = data(name)
    n, C = len(y), 0.5
    sk = SkLR(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-10, max_iter=100_000).fit(X, y)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    lk = logitkit.LogisticRegression(penalty=penalty, l1_ratio=l1_ratio, alpha=1 / (C * n), solver=solver,
                                     tol=1e-9, max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(lk.coef_ == 0, sk.coef_ == 0)
    assert (lk.coef_ == 0).sum() > 0
    np.testing.assert_allclose(lk.coef_, sk.coef_, atol=2e-6)
    link = "binary" if len(sk.classes_) == 2 else "softmax"
    f_sk = objective(X, y, sk.coef_, sk.intercept_, 1 / (C * n), link, l1_ratio)
    f_lk = objective(X, y, lk.coef_, lk.intercept_, 1 / (C * n), link, l1_ratio)
    assert f_lk <= f_sk * (1 + 1e-9)


def test_unpenalised_binary_matches_statsmodels_logit():
    d = sm.datasets.spector.load_pandas()
    X, y = d.exog.values, d.endog.values
    res = sm.Logit(y, sm.add_constant(X, prepend=False)).fit(disp=0, tol=1e-12)
    for solver in ("newton", "lbfgs"):
        lk = logitkit.LogisticRegression(penalty=None, solver=solver, tol=1e-10, max_iter=2000).fit(X, y)
        np.testing.assert_allclose(np.r_[lk.coef_[0], lk.intercept_], res.params, rtol=1e-6, atol=1e-7)


def test_unpenalised_softmax_matches_statsmodels_mnlogit():
    d = sm.datasets.anes96.load_pandas()
    X = d.exog[["logpopul", "selfLR", "age", "educ", "income"]].values
    y = np.asarray(d.endog).astype(int)
    res = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(disp=0, method="newton", maxiter=100)
    lk = logitkit.LogisticRegression(penalty=None, tol=1e-10).fit(X, y)
    theta = np.column_stack([lk.coef_, lk.intercept_])
    ours = (theta[1:] - theta[0]).T  # reference class = classes_[0], like MNLogit
    np.testing.assert_allclose(ours, np.asarray(res.params), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["breast_cancer", "wine"])
def test_defaults_reach_optimum(name):
    X, y = data(name)
    tight = logitkit.LogisticRegression(tol=1e-12, max_iter=1000).fit(X, y)
    default = logitkit.LogisticRegression().fit(X, y)
    link = "binary" if len(tight.classes_) == 2 else "softmax"
    f_opt = objective(X, y, tight.coef_, tight.intercept_, 1e-4, link)
    f_def = objective(X, y, default.coef_, default.intercept_, 1e-4, link)
    assert (f_def - f_opt) <= 1e-6 * f_opt


def test_sample_and_class_weights_match_sklearn():
    X, y = data("wine")
    rng = np.random.default_rng(0)
    sw = rng.uniform(0.2, 3.0, len(y))
    cw = {0: 2.0, 1: 0.5, 2: 1.0}
    C = 1.0
    sk = SkLR(C=C, solver="newton-cholesky", tol=1e-12, class_weight=cw).fit(X, y, sample_weight=sw)
    total = (sw * np.array([cw[c] for c in y])).sum()
    lk = logitkit.LogisticRegression(alpha=1 / (C * total), class_weight=cw, tol=1e-10).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(lk.coef_, sk.coef_, atol=1e-5)
    skb = SkLR(C=C, solver="newton-cholesky", tol=1e-12, class_weight="balanced").fit(X, y)
    lkb = logitkit.LogisticRegression(alpha=1 / (C * len(y)), class_weight="balanced", tol=1e-10).fit(X, y)
    np.testing.assert_allclose(lkb.coef_, skb.coef_, atol=1e-5)
    # "balanced" with sample weights balances the classes' weighted totals (scikit-learn >= 1.8);
    # the per-row weights then sum to Σ sw, which sets alpha
    skw = SkLR(C=C, solver="newton-cholesky", tol=1e-12, class_weight="balanced").fit(X, y, sample_weight=sw)
    lkw = logitkit.LogisticRegression(alpha=1 / (C * sw.sum()), class_weight="balanced", tol=1e-10).fit(
        X, y, sample_weight=sw)
    np.testing.assert_allclose(lkw.coef_, skw.coef_, atol=1e-5)
    np.testing.assert_allclose(lkw.predict_proba(X), skw.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("K,multiclass", [(2, "softmax"), (3, "softmax"), (3, "ovr")])
def test_newton_with_collinear_columns_reaches_the_same_optimum(K, multiclass):
    """A column that is the sum of two others spans no new direction: the unpenalised
    optimum (value and probabilities) is that of the data without it, although the
    Hessian is singular and the coefficients are not unique."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((600, 4))
    y = rng.integers(0, K, 600)  # labels unrelated to X: no separation
    Xc = np.column_stack([X, X[:, 0] + X[:, 1]])
    kw = dict(penalty=None, solver="newton", multiclass=multiclass, tol=1e-9, max_iter=200)
    base = logitkit.LogisticRegression(**kw).fit(X, y)
    with pytest.warns(AliasedColumnsWarning, match=r"1 column \('x4'\) is a linear combination of the intercept"):
        coll = logitkit.LogisticRegression(**kw).fit(Xc, y)
    assert np.isfinite(coll.coef_).all()
    np.testing.assert_allclose(coll.predict_proba(Xc), base.predict_proba(X), atol=1e-6)
    # the aliased column is left out of the fit (R's NA): the others are the reduced model's
    assert coll.aliased_.tolist() == [False] * 4 + [True] and (coll.coef_[:, 4] == 0).all()
    np.testing.assert_allclose(coll.coef_[:, :4], base.coef_, atol=1e-6)
