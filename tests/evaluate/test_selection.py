"""Cross-validation against scikit-learn's, and tuning against its LogisticRegressionCV."""
import warnings

import numpy as np
import pytest
import sklearn.linear_model as sklm
from sklearn.datasets import make_classification
from sklearn.model_selection import GroupKFold, StratifiedKFold, TimeSeriesSplit
from sklearn.model_selection import cross_validate as sk_cross_validate
from sklearn.preprocessing import StandardScaler

from logitkit._util.errors import ConfigError, DataError
from logitkit.evaluate.selection import LogisticRegressionCV, cross_validate, make_splits
from logitkit.predict import LogisticRegression


def _data(n=240, d=5, classes=2, seed=0):
    X, y = make_classification(n_samples=n, n_features=d, n_informative=3, n_redundant=0,
                               n_classes=classes, n_clusters_per_class=1, flip_y=0.1, random_state=seed)
    return StandardScaler().fit_transform(X), y


def test_cross_validate_matches_sklearn_scorers():
    X, y = _data()
    est = LogisticRegression(alpha=1e-2, tol=1e-10)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    ours = cross_validate(est, X, y, cv=folds, scoring=["log_loss", "roc_auc", "accuracy", "brier"])
    theirs = sk_cross_validate(est, X, y, cv=folds, scoring=["neg_log_loss", "roc_auc", "accuracy", "neg_brier_score"])
    np.testing.assert_allclose([f["log_loss"] for f in ours.folds], -theirs["test_neg_log_loss"], rtol=1e-10)
    np.testing.assert_allclose([f["roc_auc"] for f in ours.folds], theirs["test_roc_auc"], rtol=1e-12)
    np.testing.assert_allclose([f["accuracy"] for f in ours.folds], theirs["test_accuracy"], rtol=1e-12)
    np.testing.assert_allclose([f["brier"] for f in ours.folds], -theirs["test_neg_brier_score"], rtol=1e-10)
    assert ours.mean["roc_auc"] == pytest.approx(np.mean(theirs["test_roc_auc"]))
    assert ours.std["roc_auc"] == pytest.approx(np.std(theirs["test_roc_auc"]))
    # the default int cv is the same seeded stratified k-fold
    again = cross_validate(est, X, y, cv=5, scoring=["log_loss"], random_state=0)
    assert again.folds == [{"log_loss": f["log_loss"]} for f in ours.folds]
    assert set(again.to_dict()) == {"folds", "mean", "std", "n_train", "n_test", "fit_seconds"}


def test_group_and_time_splits():
    X, y = _data(n=120)
    groups = np.repeat(np.arange(12), 10)
    splits = make_splits(4, X, y, groups=groups)
    ref = list(GroupKFold(4).split(X, y, groups))
    for (tr, te), (rtr, rte) in zip(splits, ref):
        np.testing.assert_array_equal(te, rte)
        assert not set(groups[tr]) & set(groups[te])
    splits = make_splits("time", X, y, n_splits=3)
    for (tr, te), (rtr, rte) in zip(splits, TimeSeriesSplit(3).split(X)):
        np.testing.assert_array_equal(tr, rtr)
        assert tr.max() < te.min()
    res = cross_validate(LogisticRegression(), X, y, cv="group", groups=groups, n_splits=3, scoring="accuracy")
    assert len(res.folds) == 3
    tuned = LogisticRegressionCV(alphas=[0.1, 0.01], cv="time", n_splits=3).fit(X, y)
    assert tuned.cv_scores_.shape == (3, 2)


def test_split_errors_are_pinned():
    X, y = _data(n=40)
    with pytest.raises(ConfigError, match="cv='stratifed' is not a known split. Did you mean 'stratified'"):
        make_splits("stratifed", X, y)
    with pytest.raises(ConfigError, match=r"cv='group' needs groups= \(one group id per row\)"):
        make_splits("group", X, y)
    y_rare = y.copy()
    y_rare[:] = 0
    y_rare[:3] = 1
    with pytest.raises(DataError, match="class 1 has only 3 rows, fewer than the 5 folds of stratified k-fold"):
        make_splits(5, X, y_rare)
    with pytest.raises(ConfigError, match="unknown metric 'logloss'. Did you mean 'log_loss'"):
        cross_validate(LogisticRegression(), X, y, scoring=["logloss"])
    with pytest.raises(ConfigError, match="scoring='calibration_ratio' has no better direction"):
        LogisticRegressionCV(scoring="calibration_ratio").fit(X, y)
    with pytest.raises(ConfigError, match="penalty='elasticnet' needs l1_ratios"):
        LogisticRegressionCV(penalty="elasticnet").fit(X, y)


def _sk_lrcv(Cs, folds, scoring, multi=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sklm.LogisticRegressionCV(
            Cs=Cs, cv=folds, scoring=scoring, solver="newton-cholesky", tol=1e-12, max_iter=1000,
            l1_ratios=(0.0,), use_legacy_attributes=False).fit(*multi)


@pytest.mark.parametrize("classes", [2, 3])
def test_tuning_picks_sklearn_C(classes):
    X, y = _data(n=300, classes=classes, seed=classes)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=1).split(X, y))
    Cs = np.logspace(-3, 1, 9)
    sk = _sk_lrcv(Cs, folds, "neg_log_loss", (X, y))
    ours = LogisticRegressionCV(Cs=Cs, cv=folds, scoring="log_loss", tol=1e-10).fit(X, y)
    assert ours.C_ == pytest.approx(float(np.ravel(sk.C_)[0]))
    np.testing.assert_allclose(ours.cv_scores_, -sk.scores_[:, 0, :], rtol=1e-6)
    np.testing.assert_allclose(ours.coef_, sk.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.intercept_, sk.intercept_, rtol=1e-5, atol=1e-7)
    assert ours.alphas_.shape == (5, 9)
    n_fold = np.array([len(tr) for tr, _ in folds])
    np.testing.assert_allclose(ours.alphas_, 1 / (Cs[None, :] * n_fold[:, None]))
    assert ours.alpha_ == pytest.approx(1 / (ours.C_ * len(y)))
    # a metric with ties between grid points: both pick the first (strongest) best C
    sk = _sk_lrcv(Cs, folds, "accuracy", (X, y))
    ours = LogisticRegressionCV(Cs=Cs, cv=folds, scoring="accuracy", tol=1e-10).fit(X, y)
    assert ours.C_ == pytest.approx(float(np.ravel(sk.C_)[0]))


def test_alpha_path_matches_independent_fits():
    X, y = _data(n=200, seed=4)
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    cv = LogisticRegressionCV(alphas=6, cv=folds, scoring="roc_auc", tol=1e-10).fit(X, y)
    assert cv.alphas_.shape == (6,) and np.all(np.diff(cv.alphas_) < 0)
    assert cv.cv_scores_.shape == (3, 6) and cv.coef_path_.shape == (3, 6, 1, 5)
    for i, a in enumerate(cv.alphas_):
        res = cross_validate(LogisticRegression(alpha=a, tol=1e-10), X, y, cv=folds, scoring=["roc_auc"])
        np.testing.assert_allclose(cv.cv_scores_[:, i], [f["roc_auc"] for f in res.folds], rtol=1e-9)
        tr = folds[0][0]
        ref = LogisticRegression(alpha=a, tol=1e-10).fit(X[tr], y[tr])
        np.testing.assert_allclose(cv.coef_path_[0, i], ref.coef_, rtol=1e-6, atol=1e-9)
    best = np.argmax(cv.cv_scores_.mean(0))
    assert cv.alpha_ == cv.alphas_[best]
    ref = LogisticRegression(alpha=cv.alpha_, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(cv.predict_proba(X), ref.predict_proba(X), rtol=1e-8)


def test_elasticnet_grid_shapes():
    X, y = _data(n=150, seed=5)
    cv = LogisticRegressionCV(alphas=[0.1, 0.01], l1_ratios=[0.2, 0.8], penalty="elasticnet", cv=3,
                              scoring="log_loss", solver="newton").fit(X, y)
    assert cv.cv_scores_.shape == (3, 2, 2) and cv.coef_path_.shape == (3, 2, 2, 1, 5)
    i, j = cv.best_index_
    assert cv.l1_ratio_ == cv.l1_ratios_[j] and cv.alpha_ == cv.alphas_[i]
    assert np.argmin(cv.cv_scores_.sum(0)) == i * 2 + j
    rec = cv.to_record()
    assert rec["alpha"] == cv.alpha_ and np.array(rec["cv_scores"]).shape == (3, 2, 2)
    import json
    json.dumps(rec)
