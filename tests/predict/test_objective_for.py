"""``objective_for``: a fitted model's objective and θ̂, the public door evaluate uses."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.exceptions import NotFittedError

from logitkit import UserError
from logitkit.predict import LogisticRegression, objective_for


def scaled(loader):
    X, y = loader(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


@pytest.mark.parametrize("kw", [dict(penalty=None), dict(alpha=1e-2, class_weight="balanced"),
                                dict(alpha=1e-3, multiclass="ovr"), dict(alpha=1e-3, dtype="float32")])
def test_the_objective_is_the_one_the_fit_minimised(kw):
    X, y = scaled(load_wine) if "multiclass" in kw else scaled(load_breast_cancer)
    X = X[:, [0, 1, 4]]
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    model = LogisticRegression(solver="newton", tol=1e-9, **kw).fit(X, y, sample_weight=w)
    obj, theta = objective_for(model, X, y, sample_weight=w)
    assert obj.dtype == torch.float64 and theta.shape == (obj.m, obj.p)
    assert obj.link == model.link_ and obj.alpha == (0.0 if model.penalty is None else model.alpha)
    value, grad = obj.smooth(theta)
    rtol = 1e-6 if kw.get("dtype") == "float32" else 1e-12
    assert float(value) == pytest.approx(model.loss_curve_[-1], rel=rtol)
    if "dtype" not in kw:  # at the optimum: the gradient vanishes to the solver's tolerance
        assert float(grad.abs().max()) <= 1e-9


def test_labels_the_model_has_not_seen_and_unfitted_models_are_errors():
    X, y = scaled(load_breast_cancer)
    with pytest.raises(NotFittedError):
        objective_for(LogisticRegression(), X, y)
    model = LogisticRegression().fit(X, y)
    bad = y.copy()
    bad[3] = 7
    with pytest.raises(UserError, match=r"y holds the label 7 \(row 3\), which the model was not fitted on; "
                                        r"its classes are \[0, 1\]"):
        objective_for(model, X, bad)
    with pytest.raises(UserError, match="X has 5 features, but LogisticRegression is expecting 30"):
        objective_for(model, X[:, :5], y)
