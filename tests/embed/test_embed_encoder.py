"""MLPEncoder: layer structure, shapes, and parameter counts against sum(p.numel())."""
import pytest
import torch
from torch import nn

from logitkit._util.errors import ConfigError
from logitkit.embed import MLPEncoder


def test_layers_and_shapes():
    enc = MLPEncoder(5, (8, 3), activation="tanh", dropout=0.2, batch_norm=True)
    kinds = [type(m) for m in enc.layers]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.Tanh, nn.Dropout] * 2
    assert enc(torch.randn(10, 5)).shape == (10, 3) and enc.out_features == 3
    weights = sum(m.weight.numel() for m in enc.linear_layers())
    assert weights == 5 * 8 + 8 * 3


def test_no_hidden_layers_is_identity():
    enc = MLPEncoder(4, ())
    x = torch.randn(6, 4)
    assert torch.equal(enc(x), x) and enc.out_features == 4


def test_bad_settings():
    with pytest.raises(ConfigError, match="activation='relu6' is invalid.*Did you mean 'relu'"):
        MLPEncoder(3, (4,), activation="relu6")
    with pytest.raises(ConfigError, match="hidden sizes \\[4, 0\\] are invalid"):
        MLPEncoder(3, [4, 0])
    with pytest.raises(ConfigError, match="dropout=1.5 is invalid"):
        MLPEncoder(3, (4,), dropout=1.5)
