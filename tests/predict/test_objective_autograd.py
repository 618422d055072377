"""The closed-form gradient and Hessian used by Newton against autograd."""
import numpy as np
import pytest
import torch
from torch.autograd.functional import hessian

from logitkit.predict.design import Design
from logitkit.predict.objective import LogisticObjective


def make(link, fit_intercept=True, alpha=0.3, sparse=False):
    rng = np.random.default_rng(1)
    n, d, K = 40, 4, 3
    X = rng.normal(size=(n, d))
    if sparse:
        import scipy.sparse as sp

        X[np.abs(X) < 0.6] = 0
        X = sp.csr_matrix(X)
    y = rng.integers(0, 2 if link == "binary" else K, n)
    m = 1 if link == "binary" else K
    Y = torch.as_tensor(np.eye(K)[y] if link == "ovr" else y)
    s = torch.as_tensor(rng.uniform(0.5, 2.0, n))
    obj = LogisticObjective(Design.from_array(X, torch.float64, torch.device("cpu")), Y, s / s.mean(),
                            link, m, fit_intercept, alpha, 0.0)
    theta = torch.as_tensor(rng.normal(size=(m, obj.p)))
    return obj, theta


@pytest.mark.parametrize("link", ["binary", "softmax", "ovr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_gradient_and_hessian_match_autograd(link, fit_intercept, sparse):
    obj, theta = make(link, fit_intercept, sparse=sparse)
    value, grad = obj.smooth(theta)
    t = theta.clone().requires_grad_(True)
    v = obj.smooth(t, grad=False)[0]
    (g_auto,) = torch.autograd.grad(v, t)
    torch.testing.assert_close(grad, g_auto, rtol=1e-10, atol=1e-12)
    H_auto = hessian(lambda th: obj.smooth(th, grad=False)[0], theta)
    H = obj.hessian(theta)
    m, p = theta.shape
    H_auto = H_auto.reshape(m * p, m * p)
    if link == "ovr":
        H = torch.block_diag(*H)
    torch.testing.assert_close(H.reshape(m * p, m * p), H_auto, rtol=1e-9, atol=1e-12)


def test_objective_is_weighted_mean_nll_plus_penalty():
    obj, theta = make("binary", alpha=0.3)
    z = obj.logits(theta)[:, 0]
    y = obj.Y1[:, 0]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(z, y, weight=obj.s, reduction="sum") / obj.n_total
    w = theta[0, :-1]
    expected = bce + 0.5 * 0.3 * (w * w).sum()
    torch.testing.assert_close(obj.value(theta), expected)
