"""Linear hypotheses (Wald and z tests) against statsmodels' wald_test and t_test."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

import logitkit
import logitkit.evaluate
import logitkit.formula as lf
from logitkit import UserError
from logitkit.evaluate import summary


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-6, atol=1e-10)


@pytest.fixture(scope="module")
def fair():
    d = sm.datasets.fair.load_pandas().data
    d["affair"] = (d.affairs > 0).astype(int)
    f = "affair ~ rate_marriage + np.log(age) + yrs_married + C(religious) + educ:children"
    return d, lf.logit(f, d), f


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_wald_and_t_from_strings_with_formula_names(fair, cov_type):
    d, m, f = fair
    r = smf.logit(f, d).fit(disp=0, tol=1e-12, cov_type=cov_type)
    s = summary(m, d, cov_type=cov_type)
    hyp = "rate_marriage = yrs_married, C(religious)[T.2.0] = 0, 2*np.log(age) - educ:children = 0.5"
    theirs = hyp.replace("intercept", "Intercept")
    w, wr = s.wald_test(hyp), r.wald_test(theirs, scalar=True)
    close(w.statistic, wr.statistic)
    close(w.p_value, wr.pvalue)
    assert w.df == 3 == int(wr.df_denom)
    t, tr = s.t_test(hyp), r.t_test(theirs)
    fr = t.to_frame()
    assert list(fr.columns) == ["effect", "std_err", "statistic", "p_value", "ci_low", "ci_high"]
    assert list(fr.index) == ["rate_marriage = yrs_married", "C(religious)[T.2.0] = 0",
                              "2*np.log(age) - educ:children = 0.5"]
    close(fr["effect"], tr.effect)
    close(fr["std_err"], tr.sd)
    close(fr["statistic"], tr.tvalue)
    close(fr["p_value"], tr.pvalue)
    ci = tr.conf_int()
    close(fr["ci_low"], ci[:, 0])
    close(fr["ci_high"], ci[:, 1])


def test_intercept_names_and_matrices(fair):
    d, m, f = fair
    r = smf.logit(f, d).fit(disp=0, tol=1e-12)
    s = summary(m, d)
    a = s.wald_test("intercept = 1, rate_marriage")
    b = s.wald_test("Intercept = 1, rate_marriage = 0")
    close(a.statistic, b.statistic)
    close(a.statistic, r.wald_test("Intercept = 1, rate_marriage = 0", scalar=True).statistic)
    terms = list(s.to_frame().index)
    R = np.zeros((2, len(terms)))
    R[0, terms.index("intercept")] = 1
    R[1, terms.index("rate_marriage")] = 1
    close(s.wald_test(R, [1, 0]).statistic, a.statistic)
    close(s.wald_test((R, [1, 0])).statistic, a.statistic)
    close(s.t_test(R[1]).to_frame()["statistic"], s.to_frame().loc[["rate_marriage"], "z"])


def test_softmax_matrices_anes96():
    d = sm.datasets.anes96.load_pandas()
    X, y = d.exog[["logpopul", "selfLR", "age", "educ", "income"]], d.endog
    m = logitkit.LogisticRegression(penalty=None, tol=1e-12).fit(X, y)
    r = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    s = logitkit.evaluate.summary(m, X, y)
    # statsmodels orders the parameters the same way here (class-major, constant last)
    R = np.zeros((3, 36))
    R[0, 1], R[0, 7] = 1, -1        # selfLR equal in the classes 1 and 2
    R[1, 2] = 1                     # age in class 1 is zero
    R[2, 5 + 6 * 3] = 1             # the intercept of class 4
    close(s.wald_test(R).statistic, r.wald_test(R, scalar=True).statistic)
    close(s.t_test(R).to_frame()["std_err"], r.t_test(R).sd)
    hyp = "1.0: selfLR = 2.0: selfLR, 1.0: age, 4.0: intercept"
    close(s.wald_test(hyp).statistic, r.wald_test(R, scalar=True).statistic)


def test_hypothesis_mistakes(fair):
    d, m, f = fair
    s = summary(m, d)
    with pytest.raises(UserError, match=r"hypothesis 'rate_marriage = yrs_marrid': 'yrs_marrid' is not a "
                                        r"coefficient of the model. Did you mean 'yrs_married'\? The coefficients "
                                        r"are: rate_marriage, np.log\(age\)"):
        s.wald_test("rate_marriage = yrs_marrid")
    with pytest.raises(UserError, match=r"a product of two coefficients is not linear"):
        s.wald_test("rate_marriage * yrs_married = 0")
    with pytest.raises(UserError, match=r"'rate_marriage = 1 = 2' must read 'expression = expression'"):
        s.wald_test("rate_marriage = 1 = 2")
    with pytest.raises(UserError, match=r"has an empty constraint; separate constraints by single commas"):
        s.wald_test("rate_marriage = 1,, educ:children")
    with pytest.raises(UserError, match=r"the 2 constraints are not independent \(rank 1"):
        s.wald_test("rate_marriage = 0, 2*rate_marriage = 0")
    with pytest.raises(UserError, match=r"the hypothesis matrix has shape \(1, 3\); it needs 8 columns, one per coefficient"):
        s.wald_test(np.ones((1, 3)))
    with pytest.raises(UserError, match=r"value= is for a matrix hypothesis"):
        s.t_test("rate_marriage", value=1)
