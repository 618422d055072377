"""``LogisticHead``: the logistic-regression layer as a ``torch.nn.Module`` returning logits."""
from __future__ import annotations

import torch
from torch import nn


class LogisticHead(nn.Module):
    """z = x Wᵀ + b. One logit for two classes (P(y=1|x) = sigmoid(z)), K logits for
    K classes (P(y=k|x) = softmax(z)_k, or K independent sigmoids for one-vs-rest).

    It returns logits only; losses take logits (``binary_cross_entropy_with_logits``,
    ``cross_entropy``) and the link is applied when probabilities are asked for. Put
    it on top of any encoder to get "feature extraction + logistic regression".
    """

    def __init__(self, in_features: int, n_classes: int = 2, bias: bool = True,
                 multiclass: str = "softmax", dtype: torch.dtype | None = None, device=None):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.n_classes = n_classes
        self.multiclass = multiclass
        out = 1 if n_classes == 2 else n_classes
        self.linear = nn.Linear(in_features, out, bias=bias, dtype=dtype, device=device)

    @property
    def link(self) -> str:
        return "binary" if self.n_classes == 2 else self.multiclass

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: shape (n,) for two classes, (n, K) otherwise."""
        z = self.linear(x)
        return z[:, 0] if self.n_classes == 2 else z

    def proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities, shape (n, K) (two columns for a binary head)."""
        return logits_to_proba(self.forward(x), self.link)

    def loss(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Mean (weighted) negative log-likelihood from logits. y: class indices 0..K-1."""
        z = self.forward(x)
        if self.link == "binary":
            nll = nn.functional.binary_cross_entropy_with_logits(z, y.to(z.dtype), reduction="none")
        elif self.link == "softmax":
            nll = nn.functional.cross_entropy(z, y.long(), reduction="none")
        else:
            onehot = nn.functional.one_hot(y.long(), self.n_classes).to(z.dtype)
            nll = nn.functional.binary_cross_entropy_with_logits(z, onehot, reduction="none").sum(1)
        if weight is None:
            return nll.mean()
        return (weight * nll).sum() / weight.sum()


def logits_to_proba(z: torch.Tensor, link: str) -> torch.Tensor:
    """Apply the link: sigmoid (binary, two columns), softmax, or normalised sigmoids (ovr)."""
    if link == "binary":
        p = torch.sigmoid(z.reshape(-1))
        return torch.stack([1 - p, p], dim=1)
    if link == "softmax":
        return torch.softmax(z, dim=1)
    p = torch.sigmoid(z)
    return p / p.sum(dim=1, keepdim=True)


def logits_to_log_proba(z: torch.Tensor, link: str) -> torch.Tensor:
    """Log-probabilities computed stably from logits."""
    if link == "binary":
        z = z.reshape(-1)
        return torch.stack([nn.functional.logsigmoid(-z), nn.functional.logsigmoid(z)], dim=1)
    if link == "softmax":
        return torch.log_softmax(z, dim=1)
    ls = nn.functional.logsigmoid(z)
    return ls - torch.logsumexp(ls, dim=1, keepdim=True)


class LogitsClassifierMixin:
    """``decision_function``, ``predict_proba``, ``predict_log_proba`` and ``predict`` for
    an estimator whose ``_logits(X)`` returns torch logits ((n,) or (n, 1) for two
    classes, (n, K) otherwise) and whose ``link_`` names the link."""

    def _class_logits(self, X) -> torch.Tensor:
        z = self._logits(X)
        return z.reshape(-1) if len(self.classes_) == 2 else z

    def decision_function(self, X):
        """Logits: shape (n,) for two classes (log-odds of classes_[1]), else (n, K)."""
        return self._class_logits(X).cpu().numpy().astype("float64")

    def predict_proba(self, X):
        """Class probabilities, shape (n, K); columns follow ``classes_``."""
        return logits_to_proba(self._class_logits(X), self.link_).cpu().numpy().astype("float64")

    def predict_log_proba(self, X):
        return logits_to_log_proba(self._class_logits(X), self.link_).cpu().numpy().astype("float64")

    def predict(self, X):
        z = self._class_logits(X)
        idx = (z > 0).long() if z.ndim == 1 else z.argmax(1)
        return self.classes_[idx.cpu().numpy()]
