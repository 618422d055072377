"""LogisticRegression's contract: inputs, errors, warnings, attributes, scikit-learn checks."""
import warnings

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import logitkit
from logitkit import LogisticHead, LogisticRegression, UserError
from logitkit.predict import SeparationWarning


def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@parametrize_with_checks([LogisticRegression(), LogisticRegression(penalty="l1", alpha=1e-3, tol=1e-10)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_inputs_numpy_sparse_tensor_arrow_agree():
    X, y = cancer()
    ref = LogisticRegression(tol=1e-10).fit(X, y)
    for Xin in (sp.csr_matrix(X), torch.as_tensor(X), pa.table({f"f{j}": X[:, j] for j in range(X.shape[1])})):
        m = LogisticRegression(tol=1e-10).fit(Xin, y)
        np.testing.assert_allclose(m.coef_, ref.coef_, atol=1e-8)
        np.testing.assert_allclose(m.predict_proba(Xin), ref.predict_proba(X), atol=1e-9)
    assert list(m.feature_names_in_) == [f"f{j}" for j in range(X.shape[1])]


def test_pandas_names_and_column_mismatch():
    pd = pytest.importorskip("pandas")
    X, y = cancer()
    df = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    m = LogisticRegression().fit(df, y)
    assert list(m.feature_names_in_) == ["a", "b", "c"]
    with pytest.raises(UserError, match=r"columns do not match .* missing \['c'\]"):
        m.predict(df.rename(columns={"c": "z"}))


def test_shapes_and_links():
    X, y = load_iris(return_X_y=True)
    soft = LogisticRegression().fit(X, y)
    assert soft.coef_.shape == (3, 4) and soft.intercept_.shape == (3,)
    assert soft.predict_proba(X).shape == (150, 3)
    np.testing.assert_allclose(soft.predict_proba(X).sum(1), 1.0)
    np.testing.assert_allclose(np.exp(soft.predict_log_proba(X)), soft.predict_proba(X), atol=1e-12)
    yb = (y == 2).astype(int)
    binary = LogisticRegression().fit(X, yb)
    assert binary.coef_.shape == (1, 4)
    z = binary.decision_function(X)
    assert z.shape == (150,)
    np.testing.assert_allclose(binary.predict_proba(X)[:, 1], 1 / (1 + np.exp(-z)))
    assert binary.n_iter_[0] > 0 and len(binary.loss_curve_) == binary.n_iter_[0] + 1


def test_string_labels_and_score():
    X, y = cancer()
    labels = np.where(y == 1, "benign", "malignant")
    m = LogisticRegression().fit(X, labels)
    assert list(m.classes_) == ["benign", "malignant"]
    assert set(m.predict(X)) <= {"benign", "malignant"}
    assert m.score(X, labels) > 0.95


def test_warm_start_continues_from_previous_fit():
    X, y = cancer()
    m = LogisticRegression(warm_start=True, tol=1e-10).fit(X, y)
    m.fit(X, y)
    assert m.n_iter_[0] <= 1


def test_float32_close_to_float64():
    X, y = cancer()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        a = LogisticRegression(dtype="float32", alpha=1e-2).fit(X, y)
    b = LogisticRegression(alpha=1e-2, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-4)


def test_separation_warns_instead_of_diverging():
    X = np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.warns(SeparationWarning, match="separated .* maximum-likelihood estimate does not exist"):
        LogisticRegression(penalty=None).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(penalty="l2", alpha=0.01).fit(X, y)


def test_convergence_warning_says_what_to_change():
    X, y = cancer()
    with pytest.warns(ConvergenceWarning, match=r"newton did not converge in 1 iterations .*increase max_iter"):
        LogisticRegression(solver="newton", max_iter=1, tol=1e-14).fit(X, y)


@pytest.mark.parametrize(
    "X,y,kwargs,message",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), [0, 1], {}, r"Input X contains NaN at row 0, column 1; impute"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), [0, 1], {}, r"Input X contains infinity at row 0, column 1"),
        (np.ones((3, 2)), [1, 1, 1], {}, r"y has only one class \(1\); logistic regression needs at least two"),
        (np.ones((3, 2)), [0, 1], {}, r"X has 3 rows but y has 2 labels"),
        (np.eye(3), [0, 1, 0], {"sample_weight": [1.0, -1.0, 1.0]}, r"sample_weight has a negative value at row 1"),
        (np.eye(3), [0, 1, 0], {"sample_weight": [1.0, 1.0]}, r"sample_weight has 2 values but X has 3 rows"),
        (np.array([1.0, 2.0, 3.0]), [0, 1, 0], {}, r"X is 1-D with 3 values. Reshape your data"),
    ],
)
def test_bad_input_messages(X, y, kwargs, message):
    with pytest.raises(UserError, match=message):
        LogisticRegression().fit(X, y, **kwargs)


def test_wrong_feature_count_at_predict():
    X, y = cancer()
    m = LogisticRegression().fit(X, y)
    with pytest.raises(UserError, match="X has 5 features, but LogisticRegression is expecting 30 features"):
        m.predict(X[:, :5])


@pytest.mark.parametrize("param,value,message", [
    ("penalty", "l3", r"penalty='l3' is invalid"),
    ("alpha", -1.0, r"alpha=-1.0 is invalid; expected a number >= 0"),
    ("solver", "sag", r"solver='sag' is invalid"),
    ("multiclass", "multinomial", r"multiclass='multinomial' is invalid; expected 'softmax' or 'ovr'"),
])
def test_bad_parameters(param, value, message):
    X, y = cancer()
    with pytest.raises(UserError, match=message):
        LogisticRegression(**{param: value}).fit(X, y)


def test_params_untouched_by_fit_and_clone():
    m = LogisticRegression(alpha=0.5, solver="auto")
    m.fit(*cancer())
    assert m.get_params()["solver"] == "auto" and m.solver_ == "newton"
    assert clone(m).get_params() == m.get_params()


def test_logistic_head_is_the_estimators_model():
    X, y = load_iris(return_X_y=True)
    est = LogisticRegression(tol=1e-10).fit(X, y)
    head = LogisticHead(4, 3, dtype=torch.float64)
    with torch.no_grad():
        head.linear.weight.copy_(torch.as_tensor(est.coef_))
        head.linear.bias.copy_(torch.as_tensor(est.intercept_))
    Xt = torch.as_tensor(X)
    np.testing.assert_allclose(head.proba(Xt).detach().numpy(), est.predict_proba(X), atol=1e-12)
    np.testing.assert_allclose(head(Xt).detach().numpy(), est.decision_function(X), atol=1e-12)
    loss = head.loss(Xt, torch.as_tensor(y))
    assert float(loss.detach()) == pytest.approx(est.loss_curve_[-1] - 0.5 * 1e-4 * (est.coef_ ** 2).sum(), rel=1e-9)
