"""Fixed basis functions phi(x): polynomial, Gaussian RBF and random Fourier features.

The lecture's "logit(pi) = w . phi(x)": a logistic regression on phi(x) draws curved
decision boundaries in x while staying a convex fit in w. Each basis is a scikit-learn
transformer (``fit`` learns what it needs, ``transform`` only applies it) whose
arithmetic runs in torch; ``as_module()`` returns the fitted map as a
``torch.nn.Module`` to put in front of a ``LogisticHead``.
"""
from __future__ import annotations

import itertools
import math
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from logitkit._util.errors import ConfigError, DataError


def _as_array(X, name: str = "X") -> np.ndarray:
    """X as a finite float64 (n, d) array; a ``DataError`` naming the problem otherwise."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if sp.issparse(X):
        raise DataError(f"{name} is a sparse matrix; sparse input is not supported by the bases: "
                        "pass a dense array (X.toarray())")
    # scikit-learn's checks and messages for 1-D, empty, complex and object input
    M = check_array(X, dtype=np.float64, ensure_all_finite=False, input_name=name)
    if not np.isfinite(M).all():
        i, j = (int(v) for v in np.argwhere(~np.isfinite(M))[0])
        raise DataError(f"{name} contains NaN or infinity at row {i}, column {j}; impute or drop it first")
    return M


def _check_int(owner: str, key: str, value, low: int = 1) -> None:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{owner}: {key}={value!r} is invalid; expected an integer >= {low}")


class _Basis(TransformerMixin, BaseEstimator):
    """Shared plumbing: numpy/torch in, same kind out; ``as_module`` for torch pipelines."""

    def _phi(self, X: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_input(self, X) -> np.ndarray:
        check_is_fitted(self)
        M = _as_array(X)
        if M.shape[1] != self.n_features_in_:
            raise DataError(f"X has {M.shape[1]} features, but {type(self).__name__} is expecting "
                            f"{self.n_features_in_} features as input (the number seen in fit)")
        return M

    def transform(self, X):
        """phi(X): a NumPy array, or a tensor (same dtype/device, autograd kept) for a tensor."""
        if isinstance(X, torch.Tensor):
            check_is_fitted(self)
            return self._phi(X)
        M = self._check_input(X)
        return self._phi(torch.as_tensor(M)).numpy()

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output column names: ``<prefix>0 .. <prefix>(k-1)``, prefix from the class."""
        prefix = {"RBFBasis": "rbf", "RandomFourierFeatures": "rff"}.get(type(self).__name__, "phi")
        return np.asarray([f"{prefix}{k}" for k in range(self.n_features_out_)], dtype=object)

    def as_module(self) -> "BasisModule":
        """The fitted map as a ``torch.nn.Module`` (no learnable parameters)."""
        check_is_fitted(self)
        return BasisModule(self)


class BasisModule(torch.nn.Module):
    """Wraps a fitted basis so it sits in an ``nn.Sequential``; forward(x) = phi(x)."""

    def __init__(self, basis: _Basis):
        super().__init__()
        self.basis = basis
        self.out_features = basis.n_features_out_

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.basis._phi(x)


class PolynomialBasis(_Basis):
    """All monomials x_{j1} x_{j2} ... x_{jk} of degree 1..``degree`` (no constant: the head
    has the intercept), in scikit-learn's ``PolynomialFeatures(include_bias=False)`` order.

    ``interaction_only=True`` keeps products of distinct features only (no x_j^2).
    Output shape (n, n_features_out_); with d inputs and degree k that is
    C(d + k, k) - 1 columns (or sum_{i<=k} C(d, i) - 1 with interactions only).
    """

    def __init__(self, degree: int = 2, interaction_only: bool = False):
        self.degree = degree
        self.interaction_only = interaction_only

    def fit(self, X, y=None) -> "PolynomialBasis":
        _check_int("PolynomialBasis", "degree", self.degree)
        d = _as_array(X).shape[1]
        pick = itertools.combinations if self.interaction_only else itertools.combinations_with_replacement
        combos = [c for k in range(1, self.degree + 1) for c in pick(range(d), k)]
        powers = np.zeros((len(combos), d), dtype=np.int64)
        for row, c in enumerate(combos):
            for j in c:
                powers[row, j] += 1
        self.n_features_in_ = d
        self.powers_ = powers
        self.n_features_out_ = len(combos)
        return self

    def _phi(self, X: torch.Tensor) -> torch.Tensor:
        P = torch.as_tensor(self.powers_, device=X.device)
        # prod_j x_j^{P_kj}; integer powers keep negative x exact
        return torch.stack([torch.prod(X ** P[k].to(X.dtype), dim=1) for k in range(P.shape[0])], dim=1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self)
        names = input_features if input_features is not None else [f"x{j}" for j in range(self.n_features_in_)]
        out = []
        for row in self.powers_:
            out.append(" ".join(n if p == 1 else f"{n}^{p}" for n, p in zip(names, row) if p))
        return np.asarray(out, dtype=object)


class RBFBasis(_Basis):
    """Gaussian bumps phi_k(x) = exp(-||x - c_k||^2 / (2 sigma^2)).

    centres : "kmeans++"  k-means (k-means++ seeding, seeded by ``random_state``) on the
              rows gives ``n_centres`` centres in the full feature space; output (n, n_centres).
              "quantile"  ``n_centres`` centres per feature at evenly spaced quantiles
              (5 % to 95 %), one 1-D bump per (feature, centre): an additive basis with
              output (n, d * n_centres).
    width   : "nearest" (default) sigma = the median, over centres, of the distance from
              a centre to its nearest other centre (per feature for "quantile"), so
              neighbouring bumps overlap at about exp(-1/2); or a number > 0 for a fixed sigma.
    Standardise the features first: one sigma serves all directions.
    """

    def __init__(self, n_centres: int = 10, centres: str = "kmeans++", width="nearest", random_state: int | None = 0):
        self.n_centres = n_centres
        self.centres = centres
        self.width = width
        self.random_state = random_state

    def fit(self, X, y=None) -> "RBFBasis":
        _check_int("RBFBasis", "n_centres", self.n_centres)
        if self.centres not in ("kmeans++", "quantile"):
            raise ConfigError(f"RBFBasis: centres={self.centres!r} is invalid; expected 'kmeans++' or 'quantile'")
        if not (self.width == "nearest" or (isinstance(self.width, Real) and self.width > 0)):
            raise ConfigError(f"RBFBasis: width={self.width!r} is invalid; expected 'nearest' or a number > 0")
        M = _as_array(X)
        self.n_features_in_ = M.shape[1]
        if self.centres == "kmeans++":
            if self.n_centres > M.shape[0]:
                raise DataError(f"RBFBasis: n_centres={self.n_centres} but X has n_samples = {M.shape[0]}; "
                                "use at most one centre per row")
            from sklearn.cluster import KMeans

            km = KMeans(self.n_centres, init="k-means++", n_init=1, random_state=self.random_state).fit(M)
            self.centres_ = km.cluster_centers_  # (n_centres, d)
            groups = [self.centres_]
        else:
            q = np.linspace(0.05, 0.95, self.n_centres)
            self.centres_ = np.quantile(M, q, axis=0).T.copy()  # (d, n_centres)
            groups = [c[:, None] for c in self.centres_]
        self.sigma_ = _nearest_width(groups) if self.width == "nearest" else float(self.width)
        self.n_features_out_ = self.n_centres * (1 if self.centres == "kmeans++" else M.shape[1])
        return self

    def _phi(self, X: torch.Tensor) -> torch.Tensor:
        C = torch.as_tensor(self.centres_, dtype=X.dtype, device=X.device)
        if self.centres == "kmeans++":
            sq = torch.cdist(X, C).pow(2)
        else:
            sq = (X[:, :, None] - C[None]).pow(2).reshape(X.shape[0], -1)
        return torch.exp(-sq / (2 * self.sigma_ ** 2))


class RandomFourierFeatures(_Basis):
    """Random Fourier features (Rahimi & Recht) approximating the Gaussian kernel
    k(x, x') = exp(-gamma ||x - x'||^2):

        z(x) = sqrt(2 / D) cos(x W + b),  W_jk ~ N(0, 2 gamma),  b_k ~ U(0, 2 pi),

    so z(x) . z(x') -> k(x, x') as D = ``n_components`` grows. W and b are drawn once in
    ``fit`` from a torch generator seeded by ``random_state``: same seed, same features.
    """

    def __init__(self, n_components: int = 100, gamma: float = 1.0, random_state: int = 0):
        self.n_components = n_components
        self.gamma = gamma
        self.random_state = random_state

    def fit(self, X, y=None) -> "RandomFourierFeatures":
        _check_int("RandomFourierFeatures", "n_components", self.n_components)
        if not (isinstance(self.gamma, Real) and self.gamma > 0):
            raise ConfigError(f"RandomFourierFeatures: gamma={self.gamma!r} is invalid; expected a number > 0")
        d = _as_array(X).shape[1]
        gen = torch.Generator().manual_seed(int(self.random_state or 0))
        W = torch.randn(d, self.n_components, generator=gen, dtype=torch.float64) * math.sqrt(2 * self.gamma)
        b = torch.rand(self.n_components, generator=gen, dtype=torch.float64) * 2 * math.pi
        self.weights_, self.offsets_ = W.numpy(), b.numpy()
        self.n_features_in_ = d
        self.n_features_out_ = self.n_components
        return self

    def _phi(self, X: torch.Tensor) -> torch.Tensor:
        W = torch.as_tensor(self.weights_, dtype=X.dtype, device=X.device)
        b = torch.as_tensor(self.offsets_, dtype=X.dtype, device=X.device)
        return math.sqrt(2.0 / self.n_components) * torch.cos(X @ W + b)


def _nearest_width(groups: list[np.ndarray]) -> float:
    """Median over centres of the distance to the nearest other centre of the same group."""
    near = []
    for C in groups:
        D = np.linalg.norm(C[:, None] - C[None], axis=2)
        np.fill_diagonal(D, np.inf)
        near.append(D.min(axis=1))
    near = np.concatenate(near)
    near = near[np.isfinite(near) & (near > 0)]
    return float(np.median(near)) if near.size else 1.0


class IdentityBasis(_Basis):
    """phi(x) = x: the "no embedding" choice, so a pipeline always has an embed step."""

    def fit(self, X, y=None) -> "IdentityBasis":
        self.n_features_in_ = self.n_features_out_ = _as_array(X).shape[1]
        return self

    def _phi(self, X: torch.Tensor) -> torch.Tensor:
        return X

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = input_features if input_features is not None else [f"x{j}" for j in range(self.n_features_in_)]
        return np.asarray(list(names), dtype=object)


BASES = {"identity": IdentityBasis, "polynomial": PolynomialBasis, "rbf": RBFBasis,
         "random_fourier": RandomFourierFeatures}


def make_basis(kind: str, **params) -> _Basis:
    """A basis by its config name ("identity", "polynomial", "rbf", "random_fourier") and
    parameters, e.g. ``make_basis("rbf", n_centres=20)``. Unknown names or parameters raise
    ``ConfigError`` naming the key."""
    if kind not in BASES:
        from logitkit._util.errors import did_you_mean

        raise ConfigError(f"embed.kind={kind!r} is not a basis; choose one of {sorted(BASES)}."
                          + did_you_mean(str(kind), BASES))
    cls = BASES[kind]
    allowed = sorted(cls().get_params())
    unknown = [k for k in params if k not in allowed]
    if unknown:
        raise ConfigError(f"embed: {unknown[0]!r} is not a parameter of {kind!r}; its parameters are {allowed}")
    return cls(**params)


def basis_to_json(basis: _Basis) -> dict:
    """A fitted basis as plain JSON: its kind, parameters and fitted arrays (no pickle)."""
    kind = next(k for k, cls in BASES.items() if type(basis) is cls)
    state = {}
    for key, value in vars(basis).items():
        if key.endswith("_") and not key.startswith("_"):
            arr = np.asarray(value)
            state[key] = {"dtype": arr.dtype.str, "shape": list(arr.shape), "values": arr.reshape(-1).tolist()}
    return {"kind": kind, "params": basis.get_params(), "state": state}


def basis_from_json(data: dict) -> _Basis:
    """Inverse of ``basis_to_json``."""
    basis = make_basis(data["kind"], **data["params"])
    for key, item in data["state"].items():
        arr = np.asarray(item["values"], dtype=np.dtype(item["dtype"])).reshape(item["shape"])
        setattr(basis, key, arr.item() if arr.ndim == 0 else arr)
    return basis
