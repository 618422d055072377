"""Inference statistics against statsmodels (Logit, MNLogit, GLM) on data it ships."""
import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

import logitkit
from logitkit import UserError
from logitkit.evaluate import hosmer_lemeshow, lr_test, summary


@pytest.fixture(scope="module")
def spector():
    d = sm.datasets.spector.load_pandas()
    X, y = d.exog.values, d.endog.values
    model = logitkit.LogisticRegression(penalty=None, tol=1e-12).fit(X, y)
    return X, y, model, sm.add_constant(X, prepend=False)


def rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.maximum(np.abs(b), 1e-300))


def test_model_based_matches_logit(spector):
    X, y, model, Xc = spector
    res = sm.Logit(y, Xc).fit(disp=0, tol=1e-12)
    s = summary(model, X, y)
    assert rel(s.column("coef"), res.params) < 1e-6
    assert rel(s.column("std_err"), res.bse) < 1e-6
    assert rel(s.column("z"), res.tvalues) < 1e-6
    assert rel(s.column("p_value"), res.pvalues) < 1e-6
    ci = res.conf_int()
    assert rel(s.column("ci_low"), ci[:, 0]) < 1e-6 and rel(s.column("ci_high"), ci[:, 1]) < 1e-6
    np.testing.assert_allclose(s.column("odds_ratio"), np.exp(res.params), rtol=1e-6)
    st = s.stats
    for ours, theirs in [("llf", res.llf), ("llnull", res.llnull), ("aic", res.aic), ("bic", res.bic),
                         ("pseudo_r2", res.prsquared), ("lr_stat", res.llr), ("lr_pvalue", res.llr_pvalue)]:
        assert abs(st[ours] - theirs) <= 1e-6 * abs(theirs), ours
    assert st["deviance"] == pytest.approx(-2 * res.llf, rel=1e-9)


def test_level_changes_interval(spector):
    X, y, model, Xc = spector
    res = sm.Logit(y, Xc).fit(disp=0, tol=1e-12)
    s = summary(model, X, y, level=0.9)
    assert rel(s.column("ci_low"), res.conf_int(alpha=0.1)[:, 0]) < 1e-6


def test_robust_and_cluster_match_statsmodels(spector):
    X, y, model, Xc = spector
    hc0 = sm.Logit(y, Xc).fit(disp=0, tol=1e-12, cov_type="HC0")
    assert rel(summary(model, X, y, cov_type="HC0").column("std_err"), hc0.bse) < 1e-6
    # HC1 is HC0 times n/(n - k) (MacKinnon & White). statsmodels' Logit applies no such
    # factor for cov_type="HC1" (it equals its HC0), so compare with the factor applied.
    n, k = Xc.shape
    assert rel(summary(model, X, y, cov_type="HC1").column("std_err"), hc0.bse * np.sqrt(n / (n - k))) < 1e-6
    groups = np.arange(n) % 7
    cl = sm.Logit(y, Xc).fit(disp=0, tol=1e-12, cov_type="cluster", cov_kwds={"groups": groups})
    assert rel(summary(model, X, y, cov_type="cluster", groups=groups).column("std_err"), cl.bse) < 1e-6


def test_glm_binomial_agrees(spector):
    X, y, model, Xc = spector
    glm = sm.GLM(y, Xc, family=sm.families.Binomial()).fit(tol=1e-12)
    s = summary(model, X, y)
    assert rel(s.column("std_err"), glm.bse) < 1e-6
    assert s.stats["deviance"] == pytest.approx(glm.deviance, rel=1e-6)


def test_softmax_matches_mnlogit():
    d = sm.datasets.anes96.load_pandas()
    X = d.exog[["logpopul", "selfLR", "age", "educ", "income"]].values
    y = np.asarray(d.endog).astype(int)
    res = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(disp=0, method="newton", maxiter=100)
    model = logitkit.LogisticRegression(penalty=None, tol=1e-10).fit(X, y)
    s = summary(model, X, y)
    assert rel(s.column("coef"), np.asarray(res.params).T.reshape(-1)) < 1e-6
    assert rel(s.column("std_err"), np.asarray(res.bse).T.reshape(-1)) < 1e-6
    assert abs(s.stats["llf"] - res.llf) < 1e-6 * abs(res.llf)
    assert abs(s.stats["llnull"] - res.llnull) < 1e-6 * abs(res.llnull)
    assert abs(s.stats["aic"] - res.aic) < 1e-6 * res.aic and abs(s.stats["bic"] - res.bic) < 1e-6 * res.bic
    assert s.rows[0]["term"] == "1: x0" and len(s.rows) == 6 * 6


def test_ovr_blocks_are_separate_binary_fits():
    X, y = sm.datasets.anes96.load_pandas().exog[["selfLR", "age"]].values, None
    y = np.asarray(sm.datasets.anes96.load_pandas().endog).astype(int) % 3
    model = logitkit.LogisticRegression(penalty=None, multiclass="ovr", tol=1e-10).fit(X, y)
    s = summary(model, X, y)
    for k in range(3):
        res = sm.Logit((y == k).astype(float), sm.add_constant(X, prepend=False)).fit(disp=0, tol=1e-12)
        assert rel(s.column("std_err")[3 * k: 3 * k + 3], res.bse) < 1e-6


def test_lr_test_of_nested_models(spector):
    X, y, model, Xc = spector
    full = summary(model, X, y)
    reduced_model = logitkit.LogisticRegression(penalty=None, tol=1e-12).fit(X[:, :1], y)
    reduced = summary(reduced_model, X[:, :1], y)
    out = lr_test(full, reduced)
    r_full = sm.Logit(y, Xc).fit(disp=0)
    r_red = sm.Logit(y, sm.add_constant(X[:, :1], prepend=False)).fit(disp=0)
    stat = 2 * (r_full.llf - r_red.llf)
    df = r_full.df_model - r_red.df_model
    p = stats.chi2.sf(stat, df)
    assert out["lr_stat"] == pytest.approx(stat, rel=1e-6) and out["df"] == df
    assert out["p_value"] == pytest.approx(p, rel=1e-6)
    with pytest.raises(UserError, match="pass them in the order \\(full, reduced\\)"):
        lr_test(reduced, full)


@pytest.mark.parametrize("n,groups,ties", [(200, 10, False), (1003, 10, True), (57, 7, True), (30, 3, False)])
def test_hosmer_lemeshow_against_direct_computation(n, groups, ties):
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, n)
    if ties:  # few distinct predictions (e.g. binary features): ties across the group cuts
        p = np.round(p * 8) / 8 * 0.9 + 0.05
    y = (rng.uniform(size=n) < p).astype(float)
    out = hosmer_lemeshow(y, p, groups=groups)
    order = np.argsort(p, kind="stable")
    stat = 0.0
    for g in np.array_split(order, groups):
        o, e, n = y[g].sum(), p[g].sum(), len(g)
        stat += (o - e) ** 2 / (e * (1 - e / n))
    assert out["hl_stat"] == pytest.approx(stat, rel=1e-12)
    assert out["hl_pvalue"] == pytest.approx(stats.chi2.sf(stat, groups - 2), rel=1e-12)


def test_l1_has_no_standard_errors(spector):
    X, y, _, _ = spector
    m = logitkit.LogisticRegression(penalty="l1", alpha=0.01).fit(X, y)
    with pytest.raises(UserError, match="standard errors are not defined for an L1"):
        summary(m, X, y)


def test_summary_outputs(spector):
    X, y, model, _ = spector
    s = summary(model, X, y)
    text = str(s)
    assert "LR test vs intercept-only" in text and "Hosmer-Lemeshow" in text and "odds ratio" in text
    d = s.to_dict()
    assert d["coefficients"][0]["term"] == "x0" and "llf" in d["stats"]
    frame = s.to_frame()
    assert list(frame.index) == ["x0", "x1", "x2", "intercept"]


def test_softmax_robust_matches_mnlogit():
    d = sm.datasets.anes96.load_pandas()
    X = d.exog[["logpopul", "selfLR", "age"]].values
    y = np.asarray(d.endog).astype(int) % 3
    res = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(disp=0, method="newton", maxiter=100,
                                                                 cov_type="HC0")
    model = logitkit.LogisticRegression(penalty=None, tol=1e-10).fit(X, y)
    s = summary(model, X, y, cov_type="HC0")
    assert rel(s.column("std_err"), np.asarray(res.bse).T.reshape(-1)) < 1e-6
