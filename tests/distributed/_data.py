"""Data shared by the distributed worker and the tests (generated, seeded)."""
import numpy as np
from sklearn.datasets import load_iris

N_BINS, T_TOKENS = 12, 6


def binary(n: int = 601, d: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w - 0.3)))).astype(int)
    return X, y


def softmax():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


def hashed(n: int = 24_000, seed: int = 1):
    """CTR-like rows: T tokens each from a 2^N_BINS table, a known logistic truth."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 1 << N_BINS, size=(n, T_TOKENS))
    w_true = rng.normal(scale=0.8, size=1 << N_BINS)
    z = w_true[idx].sum(1) - 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float32)
    return idx.astype(np.int64), y
