"""``parameter_count``: how many weights, biases and neurons a model has, layer by layer.

The lecture's question for a 3-4-2 network (h = sigma(W1 x + b1), y = sigma(W2 h + b2)):
[3 x 4] + [4 x 2] = 20 weights, 4 + 2 = 6 biases, 26 learnable parameters,
4 + 2 = 6 neurons (inputs not counted).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from torch import nn


@dataclass
class LayerCount:
    """One layer: ``weights`` (W entries, incl. batch-norm scales), ``biases`` (b entries,
    incl. batch-norm shifts), ``neurons`` (output units of a Linear layer, else 0)."""

    name: str
    kind: str
    shape: str
    weights: int
    biases: int
    neurons: int

    @property
    def parameters(self) -> int:
        return self.weights + self.biases


@dataclass
class ParameterCount:
    """Per-layer rows and totals; ``parameters == weights + biases == sum(p.numel())``
    over the trainable parameters."""

    layers: list[LayerCount] = field(default_factory=list)

    @property
    def weights(self) -> int:
        return sum(r.weights for r in self.layers)

    @property
    def biases(self) -> int:
        return sum(r.biases for r in self.layers)

    @property
    def parameters(self) -> int:
        return self.weights + self.biases

    @property
    def neurons(self) -> int:
        return sum(r.neurons for r in self.layers)

    def as_rows(self) -> list[dict]:
        """One dict per layer plus a "total" row, for tables and the report."""
        rows = [{"layer": r.name, "kind": r.kind, "shape": r.shape, "weights": r.weights,
                 "biases": r.biases, "parameters": r.parameters, "neurons": r.neurons} for r in self.layers]
        rows.append({"layer": "total", "kind": "", "shape": "", "weights": self.weights, "biases": self.biases,
                     "parameters": self.parameters, "neurons": self.neurons})
        return rows

    def as_dict(self) -> dict:
        return {"weights": self.weights, "biases": self.biases, "parameters": self.parameters,
                "neurons": self.neurons, "layers": self.as_rows()[:-1]}

    def __str__(self) -> str:
        from logitkit.interpret.tables import format_table

        cols = [("layer", "layer", ""), ("kind", "kind", ""), ("shape", "shape", ""), ("weights", "weights", "d"),
                ("biases", "biases", "d"), ("parameters", "parameters", "d"), ("neurons", "neurons", "d")]
        return format_table(self.as_rows(), cols)


def parameter_count(model) -> ParameterCount:
    """Count a model's learnable parameters.

    ``model``: a ``torch.nn.Module``; an estimator holding one in ``network_``
    (``MLPClassifier``); or a fitted linear estimator with ``coef_`` (K, d) and
    ``intercept_`` (``LogisticRegression``: one layer, K·d weights, K biases, K neurons).
    Only parameters with ``requires_grad`` count.
    """
    module = getattr(model, "network_", model)
    if isinstance(module, nn.Module):
        return _count_module(module)
    coef = getattr(model, "coef_", None)
    if coef is None:
        raise TypeError(f"parameter_count needs a torch module or a fitted estimator, got {type(model).__name__}")
    coef = np.atleast_2d(np.asarray(coef))
    k, d = coef.shape
    b = int(np.size(getattr(model, "intercept_", []))) if getattr(model, "fit_intercept", True) else 0
    return ParameterCount([LayerCount("linear", "Linear", f"{d} -> {k}", k * d, b, k)])


def _count_module(module: nn.Module) -> ParameterCount:
    rows = []
    for name, sub in module.named_modules():
        own = [(n, p) for n, p in sub.named_parameters(recurse=False) if p.requires_grad]
        if not own:
            continue
        weights = sum(p.numel() for n, p in own if not n.startswith("bias"))
        biases = sum(p.numel() for n, p in own if n.startswith("bias"))
        if isinstance(sub, nn.Linear):
            shape, neurons = f"{sub.in_features} -> {sub.out_features}", sub.out_features
        else:
            shape, neurons = "x".join(str(s) for s in own[0][1].shape), 0
        rows.append(LayerCount(name or type(sub).__name__, type(sub).__name__, shape, weights, biases, neurons))
    return ParameterCount(rows)


def lecture_network() -> nn.Sequential:
    """The lecture's 3-4-2 perceptron: h = sigma(W1 x + b1), y = sigma(W2 h + b2)."""
    return nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2), nn.Sigmoid())


def total_numel(module: nn.Module) -> int:
    """sum(p.numel()) over trainable parameters: the oracle ``parameter_count`` must match."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["parameter_count", "ParameterCount", "LayerCount", "lecture_network", "total_numel"]
