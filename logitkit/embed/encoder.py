"""``MLPEncoder``: learned features h(x) for a logistic head ("fancy feature extraction").

    h_0 = x,   h_l = dropout(act(BN(W_l h_{l-1} + b_l))),   l = 1..L

With ``hidden_sizes=()`` it is the identity, so "logistic regression" and "logistic
regression on learned features" are one code path (see ``predict.mlp.MLPClassifier``).
"""
from __future__ import annotations

from numbers import Integral, Real
from typing import Sequence

import torch
from torch import nn

from logitkit._util.errors import ConfigError, did_you_mean

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "identity": nn.Identity}


def check_encoder_params(owner: str, hidden_sizes, activation, dropout, batch_norm) -> tuple[int, ...]:
    """Validate encoder settings; returns the hidden sizes as a tuple. ``ConfigError`` otherwise."""
    if isinstance(hidden_sizes, Integral) and not isinstance(hidden_sizes, bool):
        hidden_sizes = (int(hidden_sizes),)
    try:
        sizes = tuple(hidden_sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(isinstance(h, Integral) and not isinstance(h, bool) and h >= 1 for h in sizes):
        raise ConfigError(f"{owner}: hidden sizes {hidden_sizes!r} are invalid; expected a list of "
                          "integers >= 1, e.g. [16, 8], or [] for plain logistic regression")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"{owner}: activation={activation!r} is invalid; expected one of "
                          f"{sorted(ACTIVATIONS)}." + did_you_mean(str(activation), ACTIVATIONS))
    if not (isinstance(dropout, Real) and 0 <= dropout < 1):
        raise ConfigError(f"{owner}: dropout={dropout!r} is invalid; expected a number in [0, 1)")
    if not isinstance(batch_norm, bool):
        raise ConfigError(f"{owner}: batch_norm={batch_norm!r} is invalid; expected true or false")
    return tuple(int(h) for h in sizes)


class MLPEncoder(nn.Module):
    """A stack of fully connected layers; forward(x) maps (n, in_features) to (n, out_features).

    Each hidden layer is Linear -> [BatchNorm1d] -> activation -> [Dropout].
    ``out_features`` is the last hidden size (``in_features`` when there are none).
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int] = (16,), activation: str = "relu",
                 dropout: float = 0.0, batch_norm: bool = False,
                 dtype: torch.dtype | None = None, device=None):
        super().__init__()
        sizes = check_encoder_params("MLPEncoder", hidden_sizes, activation, dropout, batch_norm)
        layers: list[nn.Module] = []
        width = in_features
        for h in sizes:
            layers.append(nn.Linear(width, h, dtype=dtype, device=device))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h, dtype=dtype, device=device))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.layers = nn.Sequential(*layers)
        self.in_features = in_features
        self.out_features = width
        self.hidden_sizes = sizes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def linear_layers(self) -> list[nn.Linear]:
        """The Linear layers in order (their weights are what ``alpha`` penalises)."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]
