"""The public state protocol of every estimator the pipeline runs: to_state/from_state,
model.save(path), Class.load(path) and logitkit.load(path) give back a model that
predicts the same bits (safetensors + JSON, no pickle)."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.preprocessing import StandardScaler

import logitkit
from logitkit._util.errors import InputFileError
from logitkit.formula import logit
from logitkit.predict import FirthLogisticRegression, HashedLogisticRegression, LogisticRegression, MLPClassifier


pytestmark = pytest.mark.filterwarnings("ignore:MLPClassifier .lbfgs. did not converge")


def _bc():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X)[:, :6], y


def _fitted():
    X, y = _bc()
    Xi, yi = load_iris(return_X_y=True)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 1 << 10, size=(300, 5))
    yh = (rng.random(300) < 0.3).astype(np.float32)
    hashed = HashedLogisticRegression(n_bits=10, batch_size=50).fit([(idx, yh)])
    d = pd.DataFrame({"x": X[:, 0], "g": np.where(X[:, 1] > 0, "hi", "lo"), "y": y})
    return {
        "logistic": (LogisticRegression(alpha=1e-3).fit(X, y), X),
        "softmax": (LogisticRegression(alpha=1e-3).fit(Xi, yi), Xi),
        "formula": (logit("y ~ x + C(g)", d), d.head(20)),
        "firth": (FirthLogisticRegression(profile_ci=False).fit(X[:80], y[:80]), X[:80]),
        "mlp": (MLPClassifier(hidden_layer_sizes=(5,), batch_norm=True, max_iter=30).fit(X, y), X),
        "hashed": (hashed, idx),
    }


@pytest.fixture(scope="module")
def fitted():
    return _fitted()


@pytest.mark.parametrize("kind", ["logistic", "softmax", "formula", "firth", "mlp", "hashed"])
def test_save_and_load_give_the_same_predictions(fitted, kind, tmp_path):
    model, X = fitted[kind]
    tensors, meta = model.to_state()
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    json.dumps(meta)  # plain JSON
    again = type(model).from_state(tensors, meta)
    folder = model.save(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.safetensors"]
    for loaded in (again, type(model).load(folder), logitkit.load(folder)):
        assert type(loaded) is type(model)
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        np.testing.assert_array_equal(loaded.classes_, model.classes_)


def test_aliased_columns_and_firth_statistics_survive(fitted, tmp_path):
    X, y = _bc()
    with pytest.warns(UserWarning):
        m = LogisticRegression(penalty=None).fit(np.column_stack([X, X[:, 0]]), y)
    assert LogisticRegression.load(m.save(tmp_path / "a")).aliased_.tolist() == [False] * 6 + [True]
    f, _ = fitted["firth"]
    back = logitkit.load(f.save(tmp_path / "f"))
    np.testing.assert_array_equal(back.bse_, f.bse_)
    assert back.terms_ == f.terms_


def test_loading_the_wrong_kind_or_a_missing_folder_says_so(fitted, tmp_path):
    fitted["mlp"][0].save(tmp_path / "mlp")
    with pytest.raises(InputFileError, match=r"holds a MLPClassifier, not a LogisticRegression; load it with "
                                             r"logitkit.load\(path\)"):
        LogisticRegression.load(tmp_path / "mlp")
    with pytest.raises(InputFileError, match=r"no such folder; pass a folder written by model.save"):
        logitkit.load(tmp_path / "nothing")
    (tmp_path / "mlp" / "model.json").write_text("{")
    with pytest.raises(InputFileError, match=r"model.json: line 1, column 2: not valid JSON"):
        logitkit.load(tmp_path / "mlp")
