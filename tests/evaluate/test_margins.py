"""Marginal effects against statsmodels' get_margeff on spector, fair and anes96."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.tools.numdiff import approx_fprime_cs

import logitkit
import logitkit.evaluate
import logitkit.formula as lf
from logitkit import UserError
from logitkit.evaluate import summary

METHODS = ["dydx", "eyex", "dyex", "eydx"]


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-9)


@pytest.fixture(scope="module")
def spector():
    d = sm.datasets.spector.load_pandas().data
    f = "GRADE ~ GPA + TUCE + PSI"
    return d, lf.logit(f, d), smf.logit(f, d).fit(disp=0, tol=1e-12)


@pytest.fixture(scope="module")
def anes():
    d = sm.datasets.anes96.load_pandas().data
    d["young"] = (d.age < 35).astype(float)
    f = "PID ~ logpopul + selfLR + age + educ + income + young"
    return d, lf.mnlogit(f, d), smf.mnlogit(f, d).fit(disp=0, method="newton", tol=1e-12, maxiter=100)


@pytest.mark.parametrize("at", ["overall", "mean"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dummy", [False, True])
def test_binary_spector_every_method(spector, at, method, dummy):
    d, m, r = spector
    if dummy and method in ("eyex", "dyex"):
        with pytest.raises(UserError, match=rf"method='{method}' with dummy=True: an elasticity with respect to a "
                                            r"0/1 column is not defined"):
            summary(m, d).marginal_effects(at=at, method=method, dummy=True)
        return
    me = summary(m, d).marginal_effects(at=at, method=method, dummy=dummy)
    g = r.get_margeff(at=at, method=method, dummy=dummy)
    assert me.dummies == (["PSI"] if dummy else [])
    close(me.effect[0], g.margeff)
    close(me.std_err[0], g.margeff_se)
    f, sf = me.to_frame(), g.summary_frame()
    assert list(f.columns) == [method, "std_err", "z", "p_value", "ci_low", "ci_high"]
    close(f["z"], sf["z"])
    close(f["p_value"], sf["Pr(>|z|)"])
    close(f["ci_low"], sf["Conf. Int. Low"])
    close(f["ci_high"], sf["Cont. Int. Hi."])


@pytest.mark.parametrize("at", ["overall", "mean"])
def test_at_given_values(spector, at):
    d, m, r = spector
    me = summary(m, d).marginal_effects(at=at, values={"GPA": 3.0, "PSI": 1})
    g = r.get_margeff(at=at, atexog={1: 3.0, 3: 1.0})
    close(me.effect[0], g.margeff)
    close(me.std_err[0], g.margeff_se)
    same = summary(m, d).marginal_effects(at={"GPA": 3.0, "PSI": 1}) if at == "overall" else me
    close(same.effect, me.effect)


@pytest.mark.parametrize("cov_type", ["HC0", "cluster"])
def test_robust_and_cluster_covariances_fair(cov_type):
    d = sm.datasets.fair.load_pandas().data
    d["affair"] = (d.affairs > 0).astype(int)
    f = "affair ~ rate_marriage + age + yrs_married + C(religious) + educ"
    groups = d.occupation.values
    kw = {"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {}
    r = smf.logit(f, d).fit(disp=0, tol=1e-12, cov_type=cov_type, **kw)
    m = lf.logit(f, d)
    s = summary(m, d, cov_type=cov_type, groups=groups if cov_type == "cluster" else None)
    order = [r.model.exog_names.index(n) - 1 for n in m.feature_names_in_]
    for method, dummy in [("dydx", True), ("eyex", False), ("eydx", True)]:
        me = s.marginal_effects(method=method, dummy=dummy)
        g = r.get_margeff(method=method, dummy=dummy)
        close(me.effect[0], g.margeff[order])
        close(me.std_err[0], g.margeff_se[order])


@pytest.mark.parametrize("at", ["overall", "mean"])
@pytest.mark.parametrize("method", ["dydx", "eydx"])
@pytest.mark.parametrize("dummy", [False, True])
def test_softmax_anes96(anes, at, method, dummy):
    d, m, r = anes
    me = summary(m, d).marginal_effects(at=at, method=method, dummy=dummy)
    g = r.get_margeff(at=at, method=method, dummy=dummy)
    close(me.effect, np.asarray(g.margeff).T)     # statsmodels: (features, classes)
    close(me.std_err, np.asarray(g.margeff_se).T)
    f = me.to_frame()
    assert f.index.names == ["class", "term"] and len(f) == 7 * 6


@pytest.mark.parametrize("method", ["eyex", "dyex"])
def test_softmax_elasticities_against_complex_step(anes, method):
    """statsmodels' MNLogit fails on eyex/dyex (a broadcasting error); the oracle is its
    row-level dydx and predict, differentiated by complex step, with its covariance."""
    d, m, r = anes
    model, exog = r.model, r.model.exog
    n, k = exog.shape
    J = model.J

    def effects(flat):
        params = flat.reshape(k, J - 1, order="F")
        me = model._derivative_exog(params, exog, "dydx").reshape(n, k, J, order="F") * exog[:, :, None]
        if method == "eyex":
            me = me / model.predict(params, exog)[:, None, :]
        return me.mean(0)[1:].ravel("F")               # drop the constant; class-major

    flat = r.params.values.ravel("F")
    Jac = approx_fprime_cs(flat, effects)
    se = np.sqrt(np.diag(Jac @ r.cov_params().values @ Jac.T)).reshape(J, k - 1)
    me = summary(m, d).marginal_effects(method=method)
    close(me.effect, effects(flat).reshape(J, k - 1))
    close(me.std_err, se)


def test_plain_arrays_and_large_data_in_blocks(monkeypatch):
    """No formula, and the rows swept in many small blocks: the same numbers."""
    import logitkit.evaluate.margins as margins

    d = sm.datasets.spector.load_pandas()
    X, y = d.exog.values, d.endog.values
    m = logitkit.LogisticRegression(penalty=None, tol=1e-12).fit(X, y)
    s = logitkit.evaluate.summary(m, X, y)
    whole = s.marginal_effects(dummy=True)
    monkeypatch.setattr(margins, "BLOCK_ELEMENTS", 40)
    blocks = s.marginal_effects(dummy=True)
    close(blocks.effect, whole.effect)
    close(blocks.std_err, whole.std_err)
    assert whole.names == ["x0", "x1", "x2"]
    r = sm.Logit(y, sm.add_constant(X, prepend=False)).fit(disp=0, tol=1e-12).get_margeff(dummy=True)
    close(whole.effect[0], r.margeff)


def test_mistakes_are_clear_errors(spector):
    d, m, r = spector
    s = summary(m, d)
    with pytest.raises(UserError, match=r"method='dydz' is not known; use one of .* Did you mean 'dydx'\?"):
        s.marginal_effects(method="dydz")
    with pytest.raises(UserError, match=r"at='median' is not known; use 'overall'"):
        s.marginal_effects(at="median")
    with pytest.raises(UserError, match=r"at/values names 'GPAA', which is not a feature of the model.* Did you "
                                        r"mean 'GPA'\?"):
        s.marginal_effects(at={"GPAA": 3})
    with pytest.raises(UserError, match=r"at/values: 'GPA' must be a number, not 'high'"):
        s.marginal_effects(at={"GPA": "high"})
    X, y = d[["GPA", "TUCE"]].values, d.PSI.values + (d.GRADE.values * (d.TUCE.values > 22))
    ovr = logitkit.LogisticRegression(penalty=None, multiclass="ovr").fit(X, y)
    with pytest.raises(UserError, match=r"marginal effects are defined for binary and softmax models; this model is "
                                        r"one-vs-rest"):
        logitkit.evaluate.summary(ovr, X, y).marginal_effects()


def test_a_shard_of_the_rows_is_refused(spector):
    """Under torchrun a rank's summary holds its own rows only: averaging them would be wrong."""
    from dataclasses import replace

    from logitkit.evaluate.margins import marginal_effects

    d, m, r = spector
    fit = summary(m, d).fit
    with pytest.raises(UserError, match=r"this process holds 32 of the 64 rows \(a model fitted under torchrun\)"):
        marginal_effects(replace(fit, n_total=64))
