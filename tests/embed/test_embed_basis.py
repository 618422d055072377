"""Bases are correct transforms: oracle values from scikit-learn, shapes, seeds, fit/transform separation."""
import numpy as np
import pytest
import torch
from sklearn.kernel_approximation import RBFSampler
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.preprocessing import PolynomialFeatures

from logitkit._util.errors import ConfigError, DataError
from logitkit.embed import PolynomialBasis, RandomFourierFeatures, RBFBasis, make_basis


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(60, 3))


@pytest.mark.parametrize("degree", [1, 2, 3])
@pytest.mark.parametrize("interaction_only", [False, True])
def test_polynomial_equals_sklearn(X, degree, interaction_only):
    ours = PolynomialBasis(degree, interaction_only).fit(X)
    ref = PolynomialFeatures(degree, interaction_only=interaction_only, include_bias=False).fit(X)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-12, atol=1e-12)
    assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())
    assert ours.n_features_out_ == ref.n_output_features_


def test_rbf_kmeans_equals_kernel_to_centres(X):
    b = RBFBasis(n_centres=7, centres="kmeans++", random_state=3).fit(X)
    expected = rbf_kernel(X, b.centres_, gamma=1 / (2 * b.sigma_ ** 2))
    np.testing.assert_allclose(b.transform(X), expected, rtol=1e-12)
    D = np.linalg.norm(b.centres_[:, None] - b.centres_[None], axis=2)
    np.fill_diagonal(D, np.inf)
    assert b.sigma_ == pytest.approx(np.median(D.min(1)))  # the documented width rule


def test_rbf_quantile_is_additive_bumps(X):
    b = RBFBasis(n_centres=4, centres="quantile", width=0.5).fit(X)
    Z = b.transform(X)
    assert Z.shape == (60, 12)
    np.testing.assert_allclose(b.centres_[1], np.quantile(X[:, 1], np.linspace(0.05, 0.95, 4)))
    expected = np.exp(-(X[:, 1:2] - b.centres_[1][None]) ** 2 / (2 * 0.25))
    np.testing.assert_allclose(Z[:, 4:8], expected, rtol=1e-12)


def test_random_fourier_approximates_the_gaussian_kernel(X):
    Z = RandomFourierFeatures(n_components=4000, gamma=0.3, random_state=1).fit_transform(X)
    # same estimator scikit-learn ships; error shrinks like 1/sqrt(D)
    ref = RBFSampler(gamma=0.3, n_components=4000, random_state=1).fit_transform(X)
    K = rbf_kernel(X, gamma=0.3)
    ours_err, ref_err = np.abs(Z @ Z.T - K).max(), np.abs(ref @ ref.T - K).max()
    assert ours_err < 3 * ref_err + 0.02


def test_random_fourier_is_seeded(X):
    a = RandomFourierFeatures(50, random_state=5).fit_transform(X)
    b = RandomFourierFeatures(50, random_state=5).fit_transform(X)
    c = RandomFourierFeatures(50, random_state=6).fit_transform(X)
    assert np.array_equal(a, b) and not np.allclose(a, c)


@pytest.mark.parametrize("basis", [PolynomialBasis(2), RBFBasis(5), RandomFourierFeatures(20)])
def test_fit_transform_separation_and_torch(X, basis):
    basis.fit(X[:30])
    state = {k: np.copy(v) for k, v in vars(basis).items() if k.endswith("_") and isinstance(v, np.ndarray)}
    out = basis.transform(X[30:])  # transform learns nothing from new rows
    assert out.shape == (30, basis.n_features_out_)
    for k, v in state.items():
        assert np.array_equal(getattr(basis, k), v)
    np.testing.assert_allclose(basis.transform(X[30:]), out)
    # torch in, torch out, gradients flow; and as a module
    t = torch.tensor(X[30:], requires_grad=True)
    zt = basis.transform(t)
    zt.sum().backward()
    assert t.grad is not None and torch.allclose(zt.detach(), torch.as_tensor(out))
    mod = basis.as_module()
    assert torch.allclose(mod(torch.as_tensor(X[30:])), torch.as_tensor(out))
    with pytest.raises(DataError, match="X has 2 features, but .* is expecting 3 features"):
        basis.transform(X[:, :2])


def test_bad_settings_name_the_key(X):
    with pytest.raises(ConfigError, match="PolynomialBasis: degree=0 is invalid"):
        PolynomialBasis(0).fit(X)
    with pytest.raises(ConfigError, match="RBFBasis: centres='kmeans' is invalid; expected 'kmeans\\+\\+' or 'quantile'"):
        RBFBasis(centres="kmeans").fit(X)
    with pytest.raises(DataError, match="n_centres=100 but X has n_samples = 60"):
        RBFBasis(100).fit(X)
    with pytest.raises(DataError, match="NaN or infinity at row 0, column 1"):
        PolynomialBasis().fit(np.array([[1.0, np.nan]]))


def test_make_basis_by_config_name(X):
    b = make_basis("polynomial", degree=3, interaction_only=True)
    assert isinstance(b, PolynomialBasis) and b.degree == 3
    assert np.array_equal(make_basis("identity").fit_transform(X), X)
    with pytest.raises(ConfigError, match="embed.kind='polynomal' is not a basis.*Did you mean 'polynomial'"):
        make_basis("polynomal")
    with pytest.raises(ConfigError, match="embed: 'centers' is not a parameter of 'rbf'"):
        make_basis("rbf", centers=5)
