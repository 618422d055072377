"""Model files written on a GPU machine load and predict on a CPU-only one."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

import logitkit
from logitkit.pipeline.modelio import load_model, save_model


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_model_fitted_with_device_cuda_predicts_on_the_cpu(tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    model = logitkit.LogisticRegression(alpha=1e-3).fit(X, y)
    model.set_params(device="cuda")  # as a run on a GPU machine records it
    save_model(tmp_path / "model", model)
    with pytest.warns(UserWarning, match="fitted with device='cuda'; torch sees no GPU here, so it runs on the CPU"):
        loaded, _, _ = load_model(tmp_path / "model")
    assert loaded.get_params()["device"] == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), model.set_params(device="cpu").predict_proba(X))
