"""What every metric of ``evaluate.metrics`` does first: labels, scores, probabilities and
weights brought to float64 tensors on one device, with the errors that name the
mismatch (lengths, unknown labels, a 1-D score with several classes, values outside
[0, 1]).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from logitkit._util.errors import DataError

_F64 = torch.float64


def device_of(*xs) -> torch.device:
    for x in xs:
        if isinstance(x, torch.Tensor):
            return x.device
    return torch.device("cpu")


def as_float64(x, device: torch.device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(device=device, dtype=_F64)
    return torch.as_tensor(np.asarray(x, dtype=np.float64), device=device)


def label_array(y) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"y_true must be 1-D (one label per row), got shape {y.shape}")
    return y


def encode_in(y: np.ndarray, classes: np.ndarray, name: str = "y_true") -> np.ndarray:
    """Position of each label in ``classes`` (any order); DataError for an unknown label."""
    order = np.argsort(classes, kind="stable")
    ordered = classes[order]
    idx = np.clip(np.searchsorted(ordered, y), 0, len(classes) - 1)
    bad = ordered[idx] != y
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name} has label {getattr(y[i], 'tolist', lambda: y[i])()!r} at row {i} that is not among the classes "
            f"{classes.tolist()}; pass classes= listing every label"
        )
    return order[idx]


def weight_vector(sample_weight, n: int, device: torch.device) -> torch.Tensor:
    if sample_weight is None:
        return torch.ones(n, dtype=_F64, device=device)
    w = as_float64(sample_weight, device).reshape(-1)
    if w.shape[0] != n:
        raise DataError(f"sample_weight has {w.shape[0]} values but y_true has {n}; pass one weight per row")
    return w


def check_length(n_true: int, n_other: int, what: str) -> None:
    if n_true != n_other:
        raise DataError(f"y_true has {n_true} rows but {what} has {n_other}; they must have the same length")


@dataclass
class Probabilities:
    """Labels and probabilities brought to one form: Y one-hot (n, K), P (n, K)."""

    Y: torch.Tensor
    P: torch.Tensor
    w: torch.Tensor
    classes: np.ndarray

    @property
    def binary(self) -> bool:
        return self.P.shape[1] == 2


def probabilities(y_true, proba, classes=None, pos_label=1, sample_weight=None) -> Probabilities:
    y = label_array(y_true)
    device = device_of(proba, y_true)
    P = as_float64(proba, device)
    if P.ndim == 2 and P.shape[1] == 1:
        P = P[:, 0]
    check_length(len(y), P.shape[0], "proba")
    if P.ndim == 1:
        present = np.unique(y)
        if len(present) > 2:
            raise DataError(
                f"proba is 1-D (one score per row) but y_true has {len(present)} classes; "
                "pass the (n, K) matrix from predict_proba"
            )
        if len(present) == 2 and pos_label not in present.tolist():
            raise DataError(
                f"pos_label={pos_label!r} is not a label of y_true ({present.tolist()}); "
                "pass pos_label= naming the positive class"
            )
        pos = torch.as_tensor(y == pos_label, dtype=_F64, device=device)
        Y = torch.stack([1 - pos, pos], 1)
        P = torch.stack([1 - P, P], 1)
        cls = np.array([None, pos_label], dtype=object)
    else:
        cls = np.unique(y) if classes is None else np.asarray(classes)
        if len(cls) != P.shape[1]:
            raise DataError(
                f"proba has {P.shape[1]} columns but there are {len(cls)} classes "
                f"({cls.tolist()}); pass classes= with one label per column"
            )
        idx = torch.as_tensor(encode_in(y, cls), device=device)
        Y = torch.nn.functional.one_hot(idx, len(cls)).to(_F64)
    if bool(((P < 0) | (P > 1)).any()):
        raise DataError("proba has values outside [0, 1]; pass probabilities (predict_proba), not logits")
    return Probabilities(Y, P, weight_vector(sample_weight, len(y), device), cls)


__all__ = ["device_of", "as_float64", "label_array", "encode_in", "weight_vector", "check_length", "Probabilities",
           "probabilities"]
