"""Prediction intervals against statsmodels' get_prediction (Logit) and, for softmax,
statsmodels' MNLogit predict differentiated by complex step with its covariance."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from scipy.special import expit, logit
from statsmodels.tools.numdiff import approx_fprime_cs

import logitkit
import logitkit.evaluate
import logitkit.formula as lf
from logitkit import UserError
from logitkit.evaluate import summary


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_binary_formula_matches_get_prediction(cov_type):
    d = sm.datasets.fair.load_pandas().data
    d["affair"] = (d.affairs > 0).astype(int)
    f = "affair ~ rate_marriage + np.log(age) + yrs_married + C(religious) + educ:children"
    r = smf.logit(f, d).fit(disp=0, tol=1e-12, cov_type=cov_type)
    s = summary(lf.logit(f, d), d, cov_type=cov_type)
    new = d.sample(40, random_state=1)
    ours = s.predict(new).to_frame()
    pr = r.get_prediction(new)
    theirs = pr.summary_frame()
    assert list(ours.columns) == ["prob", "std_err", "ci_low", "ci_high"]
    assert list(ours.index) == list(new.index)
    close(ours["prob"], theirs["predicted"])
    close(ours["std_err"], theirs["se"])
    close(ours["ci_low"], theirs["ci_lower"])
    close(ours["ci_high"], theirs["ci_upper"])
    delta = s.predict(new, level=0.9, ci="delta").to_frame()
    ci = pr.conf_int(method="delta", alpha=0.1)
    close(delta["ci_low"], ci[:, 0])
    close(delta["ci_high"], ci[:, 1])


def test_cd_age_profile_stays_in_unit_interval():
    from logitkit.loaddata import load_dataset

    d = load_dataset("cd_age").data.to_pandas()
    m = lf.logit("cd ~ age", d)
    r = smf.logit("cd ~ age", d).fit(disp=0, tol=1e-12)
    ages = pd.DataFrame({"age": [5.0, 30.0, 50.0, 70.0, 120.0]})
    p = summary(m, d).predict(ages)
    theirs = r.get_prediction(ages).summary_frame()
    close(p.prob, theirs["predicted"])
    close(p.ci_low, theirs["ci_lower"])
    close(p.ci_high, theirs["ci_upper"])
    assert (p.ci_low > 0).all() and (p.ci_high < 1).all()
    close(p.log_odds, r.params["Intercept"] + r.params["age"] * ages.age)


def test_softmax_against_complex_step_delta_method():
    d = sm.datasets.anes96.load_pandas()
    X, y = d.exog[["logpopul", "selfLR", "age", "educ", "income"]], d.endog
    m = logitkit.LogisticRegression(penalty=None, tol=1e-12).fit(X, y)
    r = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    new = X.iloc[::97]
    exog = sm.add_constant(new, prepend=False).values
    flat, k, J = r.params.values.ravel("F"), exog.shape[1], r.model.J
    V = r.cov_params().values
    q = stats.norm.ppf(0.975)

    def probs(params):
        return r.model.predict(params.reshape(k, J - 1, order="F"), exog).ravel()

    def log_odds(params):
        P = r.model.predict(params.reshape(k, J - 1, order="F"), exog)
        return (np.log(P) - np.log(1 - P)).ravel()

    P = probs(flat)
    Jp, Je = approx_fprime_cs(flat, probs), approx_fprime_cs(flat, log_odds)
    se = np.sqrt(np.einsum("ia,ab,ib->i", Jp, V, Jp))
    se_eta = np.sqrt(np.einsum("ia,ab,ib->i", Je, V, Je))
    ours = logitkit.evaluate.summary(m, X, y).predict(new)
    f = ours.to_frame()
    assert f.index.names == ["row", "class"] and len(f) == len(new) * 7
    close(f["prob"], P)
    close(f["std_err"], se)
    close(f["ci_low"], expit(logit(P) - q * se_eta))
    close(f["ci_high"], expit(logit(P) + q * se_eta))


def test_new_rows_mistakes():
    d = sm.datasets.spector.load_pandas()
    X, y = d.exog, d.endog
    m = logitkit.LogisticRegression(penalty=None).fit(X, y)
    s = logitkit.evaluate.summary(m, X, y)
    with pytest.raises(UserError, match=r"X_new's columns do not match the model's; missing \['PSI'\]"):
        s.predict(X[["GPA", "TUCE"]])
    with pytest.raises(UserError, match=r"X_new has 2 columns but the model has 3 features"):
        s.predict(X.values[:, :2])
    with pytest.raises(UserError, match=r"level=1.5 must be in \(0, 1\)"):
        s.predict(X, level=1.5)
    with pytest.raises(UserError, match=r"ci='wald' is not known; use 'endpoint'"):
        s.predict(X, ci="wald")
    from logitkit.evaluate.inference import Summary

    with pytest.raises(UserError, match=r"this Summary was built without its model"):
        Summary(s.rows, s.stats, s.cov_type, s.level).predict(X)
