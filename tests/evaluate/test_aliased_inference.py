"""Inference on a rank-deficient design: the identified coefficients as statsmodels gives
them on the design without the aliased columns, the aliased ones without standard
errors (R's "not defined because of singularities"), LR degrees of freedom = the rank,
and margins / hypotheses that involve an aliased coefficient refused by name."""
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import logitkit
from logitkit._util.errors import DataError
from logitkit.evaluate import lr_test, summary
from logitkit.predict.rank import AliasedColumnsWarning


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 500
    d = pd.DataFrame({"x": rng.normal(size=n), "region": rng.choice(["a", "b", "c", "d", "e"], n)})
    eta = -0.3 + 0.9 * d.x + d.region.map({"a": 0, "b": 0.5, "c": -0.4, "d": 0.8, "e": 0.2})
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    X = pd.get_dummies(d[["x", "region"]], columns=["region"], dtype=float)  # every level: singular with the intercept
    X["x_copy"] = X["x"]
    return d, X


def test_aliased_columns_have_no_standard_errors_and_the_rest_match_statsmodels(data):
    d, X = data
    with pytest.warns(AliasedColumnsWarning, match=r"2 columns \('region_e', 'x_copy'\) are linear combinations"):
        m = logitkit.LogisticRegression(penalty=None, tol=1e-10).fit(X, d.y)
    s = summary(m, X, d.y)
    ref = smf.logit("y ~ x + C(region, Treatment('e'))", d).fit(disp=0, tol=1e-12)
    rows = {r["term"]: r for r in s.rows}
    for term, name in [("x", "x"), ("intercept", "Intercept")] + [
            (f"region_{k}", f"C(region, Treatment('e'))[T.{k}]") for k in "abcd"]:
        assert rows[term]["coef"] == pytest.approx(ref.params[name], abs=1e-6)
        assert rows[term]["std_err"] == pytest.approx(ref.bse[name], abs=1e-6)
    for term in ("region_e", "x_copy"):
        assert rows[term]["coef"] is None and rows[term]["std_err"] is None and rows[term]["p_value"] is None
    assert s.aliased == ["region_e", "x_copy"] and s.stats["aliased"] == ["region_e", "x_copy"]
    assert s.stats["lr_df"] == ref.df_model == 5 and s.stats["n_params"] == 6
    assert s.stats["aic"] == pytest.approx(ref.aic, rel=1e-9)
    assert "Not identified (aliased; no standard errors): region_e, x_copy" in str(s)
    reduced = summary(logitkit.LogisticRegression(penalty=None).fit(X[["x"]], d.y), X[["x"]], d.y)
    assert lr_test(s, reduced)["df"] == 4  # the four identified region contrasts, not 5 + 1


def test_hypotheses_and_margins_that_involve_an_aliased_coefficient_are_refused(data):
    d, X = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AliasedColumnsWarning)
        s = summary(logitkit.LogisticRegression(penalty=None, tol=1e-10).fit(X, d.y), X, d.y)
    assert s.wald_test("x = 0").df == 1
    with pytest.raises(DataError, match=r"the hypothesis involves 'x_copy', which is not identified \(an aliased "
                                        r"design column: no standard error\); leave it out"):
        s.wald_test("x = x_copy")
    me = s.marginal_effects()
    assert me.aliased == ["region_e", "x_copy"] and "x_copy" not in me.to_frame().index
    ref = smf.logit("y ~ x + C(region, Treatment('e'))", d).fit(disp=0, tol=1e-12).get_margeff()
    assert me.to_frame().loc["x", "dydx"] == pytest.approx(ref.margeff[-1], abs=1e-6)
    assert me.to_frame().loc["x", "std_err"] == pytest.approx(ref.margeff_se[-1], abs=1e-6)
    with pytest.raises(DataError, match=r"at/values names 'x_copy', an aliased column"):
        s.marginal_effects(at={"x_copy": 1.0})
    assert np.isfinite(s.predict(X.iloc[:5]).std_err).all()


def test_a_penalised_fit_gives_no_standard_error_to_what_the_penalty_alone_splits(data):
    d, X = data
    m = logitkit.LogisticRegression(penalty="l2", alpha=1e-6, tol=1e-10).fit(X, d.y)
    with pytest.warns(AliasedColumnsWarning, match=r"a penalised fit keeps them, but only the penalty decides how "
                                                   r"the coefficients of 'x', 'region_a'"):
        s = summary(m, X, d.y)
    rows = {r["term"]: r for r in s.rows}
    # x and x_copy share x's effect, the five levels and the intercept the regions': none has a standard error
    assert all(r["std_err"] is None for r in rows.values())
    assert rows["x"]["coef"] == pytest.approx(rows["x_copy"]["coef"]) and rows["x"]["coef"] is not None
    # with the copy dropped, x is identified and its standard error is the ridge posterior's
    X2 = X.drop(columns="x_copy")
    with pytest.warns(AliasedColumnsWarning, match=r"1 column \('region_e'\) is a linear combination"):
        s2 = summary(logitkit.LogisticRegression(penalty="l2", alpha=1e-6, tol=1e-10).fit(X2, d.y), X2, d.y)
    ref = smf.logit("y ~ x + C(region)", d).fit(disp=0, tol=1e-12)
    x = next(r for r in s2.rows if r["term"] == "x")
    assert x["coef"] == pytest.approx(ref.params["x"], abs=1e-4) and x["std_err"] == pytest.approx(ref.bse["x"], abs=1e-4)
    assert s2.aliased == [f"region_{k}" for k in "abcde"] + ["intercept"]
