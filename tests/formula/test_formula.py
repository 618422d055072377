"""Formula models against statsmodels' formula API on the data sets statsmodels ships."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from sklearn.base import clone

import logitkit.formula as lf
from logitkit import UserError
from logitkit.evaluate import summary


@pytest.fixture(scope="module")
def fair():
    d = sm.datasets.fair.load_pandas().data
    d["affair"] = (d.affairs > 0).astype(int)
    return d


def by_name(ours: pd.DataFrame, params: pd.Series, bse: pd.Series, names):
    np.testing.assert_allclose(ours.loc[names, "coef"].values, params[names].values, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.loc[names, "std_err"].values, bse[names].values, rtol=1e-6)


def test_logit_formula_spector_transforms_and_interaction():
    d = sm.datasets.spector.load_pandas().data
    f = "GRADE ~ np.log(GPA) + TUCE + C(PSI) + GPA:TUCE"
    m = lf.logit(f, d)
    assert list(m.feature_names_in_) == ["np.log(GPA)", "TUCE", "C(PSI)[T.1.0]", "GPA:TUCE"]
    assert m.fit_intercept and m.formula_ == f
    r = smf.logit(f, d).fit(disp=0, tol=1e-12)
    s = summary(m, d, d["GRADE"])
    by_name(s.to_frame(), r.params, r.bse, list(m.feature_names_in_))
    assert s.to_frame().loc["intercept", "coef"] == pytest.approx(r.params["Intercept"], rel=1e-6)
    # the outcome from the formula's left-hand side
    assert summary(m, d).to_frame()["coef"].equals(s.to_frame()["coef"])


def test_fair_categoricals_robust_covariance_and_new_rows(fair):
    f = "affair ~ rate_marriage + np.log(age) + yrs_married + C(religious) + C(occupation) + educ:children"
    m = lf.logit(f, fair)
    r = smf.logit(f, fair).fit(disp=0, tol=1e-12, cov_type="HC0")
    s = summary(m, fair, cov_type="HC0")
    names = list(m.feature_names_in_)
    assert "C(occupation)[T.2.0]" in names and "C(occupation)[T.1.0]" not in names  # treatment coding
    by_name(s.to_frame(), r.params, r.bse, names)
    new = fair.sample(25, random_state=0)
    np.testing.assert_allclose(m.predict_proba(new)[:, 1], r.predict(new), rtol=1e-6)
    assert (m.predict(new) == (r.predict(new).values > 0.5)).all()


def test_mnlogit_formula_anes96():
    d = sm.datasets.anes96.load_pandas().data
    d["agegroup"] = pd.cut(d.age, [0, 35, 55, 120], labels=["young", "middle", "old"]).astype(str)
    f = "PID ~ logpopul + selfLR + agegroup + educ + income"
    m = lf.mnlogit(f, d)
    r = smf.mnlogit(f, d).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    fr = summary(m, d).to_frame()
    names = list(m.feature_names_in_)
    for k, cls in enumerate(m.classes_[1:]):
        ours = fr.loc[[f"{cls}: {n}" for n in names]]
        np.testing.assert_allclose(ours["coef"].values, r.params.iloc[:, k][names].values, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(ours["std_err"].values, r.bse.iloc[:, k][names].values, rtol=1e-6)
    np.testing.assert_allclose(m.predict_proba(d.head(20)), r.predict(d.head(20)), rtol=1e-6, atol=1e-12)


def test_reference_level_no_intercept_and_string_labels():
    rng = np.random.default_rng(0)
    n = 400
    d = pd.DataFrame({"x": rng.normal(size=n), "region": rng.choice(["north", "south", "east"], n)})
    eta = 0.5 * d.x + d.region.map({"north": 0.0, "south": 0.7, "east": -0.4})
    d["y"] = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), "yes", "no")
    m = lf.logit("y ~ x + C(region, Treatment('north'))", d)
    assert list(m.classes_) == ["no", "yes"]
    assert [c for c in m.feature_names_in_ if "T.north" in c] == []
    d01 = d.assign(y=(d.y == "yes").astype(int))
    r = smf.logit("y ~ x + C(region, Treatment('north'))", d01).fit(disp=0, tol=1e-12)
    s = summary(m, d)
    by_name(s.to_frame(), r.params, r.bse, list(m.feature_names_in_))
    me, g = s.marginal_effects(dummy=True), r.get_margeff(dummy=True)
    order = [r.model.exog_names.index(n) - 1 for n in m.feature_names_in_]
    np.testing.assert_allclose(me.effect[0], g.margeff[order], rtol=1e-6)
    assert me.classes == ["yes"]
    np.testing.assert_allclose(s.predict(d.head(5)).prob, r.predict(d01.head(5)), rtol=1e-6)
    m0 = lf.logit("y ~ 0 + x + region", d)  # no intercept: every level gets a column
    assert not m0.fit_intercept and len(m0.feature_names_in_) == 4
    r0 = smf.logit("y ~ 0 + x + region", d01).fit(disp=0, tol=1e-12)
    by_name(summary(m0, d).to_frame(), r0.params, r0.bse, list(m0.feature_names_in_))


def test_clone_refits_the_same_formula():
    d = sm.datasets.spector.load_pandas().data
    m = lf.FormulaLogisticRegression("GRADE ~ GPA + PSI").fit(d)
    c = clone(m).fit(d)
    np.testing.assert_allclose(c.coef_, m.coef_)
    assert c.get_params()["formula"] == "GRADE ~ GPA + PSI"


def test_unseen_level_is_an_error_naming_column_row_and_value(fair):
    m = lf.logit("affair ~ rate_marriage + C(occupation)", fair)
    new = fair.head(3).copy()
    new.loc[new.index[2], "occupation"] = 7.0
    with pytest.raises(UserError, match=r"column 'occupation' has the level 7\.0 at row 2, which the model was "
                                        r"not fitted on; its levels are \[1\.0, 2\.0, 3\.0, 4\.0, 5\.0, 6\.0\]"):
        m.predict_proba(new)


def test_missing_values_and_columns_are_errors(fair):
    m = lf.logit("affair ~ rate_marriage + np.log(age)", fair)
    new = fair.head(4).copy()
    new.loc[new.index[1], "age"] = np.nan
    with pytest.raises(UserError, match=r"column 'age' has a missing value at row 1 \(1 row in all\); drop or "
                                        r"impute them first, e.g. data.dropna\(subset=\['age'\]\)"):
        m.predict_proba(new)
    with pytest.raises(UserError, match=r"needs column 'rate_marriage', which the data does not have"):
        m.predict_proba(fair.drop(columns=["rate_marriage"]))
    with pytest.raises(UserError, match=r"needs column 'rate_mariage'.* Did you mean 'rate_marriage'\?"):
        lf.logit("affair ~ rate_mariage", fair)


def test_formula_mistakes_are_one_line_errors(fair):
    with pytest.raises(UserError, match=r"formula 'affair rate_marriage' is not a formula; write it as"):
        lf.logit("affair rate_marriage", fair)
    with pytest.raises(UserError, match=r"formula 'affair ~ rate_marriage \+\+\+ \)' cannot be parsed: "):
        lf.logit("affair ~ rate_marriage +++ )", fair)
    with pytest.raises(UserError, match=r"logit is for two classes, but 'occupation' has 6 values .*use "
                                        r"logitkit.formula.mnlogit"):
        lf.logit("occupation ~ rate_marriage", fair)
    with pytest.raises(UserError, match=r"has no terms besides the intercept"):
        lf.logit("affair ~ 1", fair)
    with pytest.raises(UserError, match=r"formula data must be a pandas DataFrame"):
        lf.logit("affair ~ rate_marriage", [1, 2, 3])


def test_design_json_round_trip_gives_the_same_matrix():
    import json

    from logitkit.formula import FormulaDesign

    rng = np.random.default_rng(1)
    d = pd.DataFrame({"x": rng.normal(size=50), "z": rng.uniform(1, 3, 50), "w": rng.normal(size=50),
                      "g": rng.choice(["a", "b", "c"], 50), "n": rng.choice([1.0, 2.0], 50)})
    f = "~ x + C(g, Treatment('b')) + np.log(z) + center(w) + g:x + C(n)"
    design = FormulaDesign(f).fit(d)
    back = FormulaDesign.from_json(json.loads(json.dumps(design.to_json())))
    new = d.sample(10, random_state=0)
    pd.testing.assert_frame_equal(back.matrix(new), design.matrix(new))
    assert back.feature_names_ == design.names and back.transform(new).shape == (10, len(design.names))
    with pytest.raises(UserError, match=r"column 'g' has the level 'q' at row 0"):
        back.transform(new.assign(g="q"))
