"""MLPClassifier: zero hidden layers is LogisticRegression; sklearn contract; early stopping."""
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris, make_circles
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from logitkit import LogisticRegression
from logitkit._util.errors import ConfigError, DataError
from logitkit.predict.mlp import MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("multiclass", ["softmax", "ovr"])
@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris])
def test_no_hidden_layers_equals_logistic_regression(loader, multiclass):
    X, y = _scaled(loader)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    mlp = MLPClassifier((), alpha=1e-2, multiclass=multiclass, tol=1e-9, max_iter=300).fit(X, y, sample_weight=w)
    lr = LogisticRegression(penalty="l2", alpha=1e-2, multiclass=multiclass, tol=1e-9).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(mlp.coef_, lr.coef_, atol=1e-6)
    np.testing.assert_allclose(mlp.intercept_, lr.intercept_, atol=1e-6)
    np.testing.assert_allclose(mlp.predict_proba(X), lr.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(mlp.decision_function(X), lr.decision_function(X), atol=1e-5)


def test_objective_is_the_documented_formula():
    X, y = _scaled(load_breast_cancer)
    m = MLPClassifier((4,), alpha=0.1, max_iter=3).fit(X[:80], y[:80])
    Xt, yt = torch.as_tensor(X[:80]), torch.as_tensor(y[:80])
    z = m.network_(Xt)
    nll = torch.nn.functional.binary_cross_entropy_with_logits(z, yt.double())  # autograd oracle
    pen = 0.05 * sum((p ** 2).sum() for n, p in m.network_.named_parameters() if n.endswith("weight"))
    s = torch.ones(80, dtype=torch.float64)
    assert float(m.objective(Xt, yt, s).detach()) == pytest.approx(float((nll + pen).detach()), rel=1e-12)


def test_hidden_layer_separates_circles_where_lr_cannot():
    X, y = make_circles(200, noise=0.05, factor=0.4, random_state=0)
    assert LogisticRegression().fit(X, y).score(X, y) < 0.7
    mlp = MLPClassifier((8,), activation="tanh", max_iter=300).fit(X, y)
    assert mlp.score(X, y) > 0.95
    assert mlp.features(X).shape == (200, 8)
    assert mlp.predict_proba(X).shape == (200, 2)
    assert [c.shape for c in mlp.coefs_] == [(2, 8), (8, 1)]


def test_seeded_and_clonable():
    X, y = _scaled(load_iris)
    a = MLPClassifier((5,), solver="adam", max_iter=20, random_state=3).fit(X, y)
    b = clone(a).fit(X, y)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    c = MLPClassifier((5,), solver="adam", max_iter=20, random_state=4).fit(X, y)
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))


def test_early_stopping_restores_best_validation_weights():
    X, y = make_circles(300, noise=0.2, factor=0.5, random_state=1)
    m = MLPClassifier((16, 16), solver="adam", learning_rate=0.05, max_iter=200, early_stopping=True,
                      validation_fraction=0.2, n_iter_no_change=5, batch_norm=True, dropout=0.1).fit(X, y)
    curve = m.validation_loss_curve_
    assert m.n_iter_ < 200 and len(curve) == m.n_iter_ == len(m.loss_curve_)
    assert curve[m.best_iteration_ - 1] == pytest.approx(min(curve), abs=1e-6)


def test_sgd_learns():
    X, y = _scaled(load_breast_cancer)
    assert MLPClassifier((8,), solver="sgd", max_iter=30).fit(X, y).score(X, y) > 0.95


def test_errors_name_the_key():
    X, y = _scaled(load_iris)
    with pytest.raises(ConfigError, match="MLPClassifier: solver='newton' is invalid; expected one of 'lbfgs'"):
        MLPClassifier(solver="newton").fit(X, y)
    with pytest.raises(ConfigError, match="MLPClassifier: hidden sizes"):
        MLPClassifier(hidden_layer_sizes=(4, -1)).fit(X, y)
    with pytest.raises(DataError, match="y has only one class"):
        MLPClassifier().fit(X, np.zeros(len(y)))
    m = MLPClassifier((3,), max_iter=5).fit(X, y)
    with pytest.raises(DataError, match="X has 2 features, but MLPClassifier is expecting 4"):
        m.predict(X[:, :2])


@parametrize_with_checks([MLPClassifier((4,), max_iter=20)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
