"""``Fitted``: what a ``Summary`` keeps of the fitted model so that marginal effects,
linear hypotheses and prediction intervals are computed without a refit: the training
design on the model's device, the estimates in the summary's parametrisation and their
covariance (of the summary's ``cov_type``).

Parametrisation (as the summary's rows): binary, θ = (w, b) of the one logit, p = d + 1
numbers; softmax, β_k = θ_k − θ_0 for the K − 1 non-reference classes, class-major
((K − 1)·p numbers). Both are the softmax over K logits z = B̃ x̃ with B̃'s row 0 zero
(binary: K = 2), which is how ``margins`` and ``prediction`` treat them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from logitkit._util.errors import ConfigError, DataError
from logitkit.formula import model_matrix
from logitkit.predict.design import Design
from logitkit.predict.inputs import as_matrix, feature_names_of


@dataclass
class Fitted:
    model: object
    design: Design = field(repr=False)      # the training X (n, d), float64 on the model's device
    B: torch.Tensor = field(repr=False)     # (K, p): the logits' coefficients, row 0 zero
    V: torch.Tensor = field(repr=False)     # ((K − 1)·p, (K − 1)·p), class-major
    link: str
    classes: np.ndarray
    names: list[str]                        # the d features
    terms: list[str]                        # the (K − 1)·p coefficients, as the summary's rows
    fit_intercept: bool
    level: float
    n_total: int = 0                        # rows over every rank (more than design.n under torchrun)
    free: np.ndarray | None = None          # ((K − 1)·p,) bool: False where a coefficient is not identified

    def unidentified(self, weights) -> list[str]:
        """The terms with a nonzero entry in ``weights`` ((K − 1)·p) that are not
        identified (aliased columns; ``evaluate.inference``): an estimate that uses them
        has no standard error."""
        if self.free is None:
            return []
        w = np.asarray(weights).reshape(-1, self.free.shape[0]) != 0
        return [self.terms[j] for j in np.flatnonzero(w.any(0) & ~self.free)]

    def check_identified(self, weights, what: str) -> None:
        """A ``DataError`` naming the terms of ``weights`` that are not identified."""
        bad = self.unidentified(weights)
        if bad:
            raise DataError(f"{what} involves {', '.join(repr(t) for t in bad)}, which {'is' if len(bad) == 1 else 'are'} "
                            "not identified (an aliased design column: no standard error); leave "
                            f"{'it' if len(bad) == 1 else 'them'} out")

    def identified_columns(self) -> np.ndarray:
        """(d,) bool: the design columns whose coefficient is identified in every class block."""
        if self.free is None:
            return np.ones(self.d, dtype=bool)
        return self.free.reshape(-1, self.p)[:, : self.d].all(0)

    @property
    def device(self) -> torch.device:
        return self.B.device

    @property
    def d(self) -> int:
        return len(self.names)

    @property
    def p(self) -> int:
        return self.B.shape[1]

    @property
    def beta(self) -> torch.Tensor:
        """The estimates as the summary lists them (class-major, intercept last)."""
        return self.B[1:].reshape(-1)

    def class_labels(self, ks) -> list:
        """The labels of classes ``ks`` as plain Python values."""
        return [self.classes[k].item() if hasattr(self.classes[k], "item") else self.classes[k] for k in ks]

    def check_link(self, what: str) -> None:
        if self.link == "ovr":
            raise ConfigError(f"{what} are defined for binary and softmax models; this model is one-vs-rest "
                              "(K separate binary problems). Refit with multiclass='softmax'")

    def with_intercept(self, X: torch.Tensor) -> torch.Tensor:
        if not self.fit_intercept:
            return X
        return torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)], 1)

    def new_rows(self, X) -> torch.Tensor:
        """New rows as the model takes them (through its formula, when it has one),
        float64 on the model's device; the columns checked against the fit's."""
        M = model_matrix(self.model, X)
        names = feature_names_of(M)
        if names is not None and list(names) != list(self.names):
            missing = [n for n in self.names if n not in set(names)]
            raise DataError(f"X_new's columns do not match the model's; missing {missing[:5]}; pass the "
                            f"columns {self.names[:8]}{' ...' if self.d > 8 else ''} in this order")
        M = as_matrix(M, "X_new")
        if M.shape[1] != self.d:
            raise DataError(f"X_new has {M.shape[1]} columns but the model has {self.d} features "
                            f"({self.names[:8]}{' ...' if self.d > 8 else ''})")
        return Design.from_array(M, torch.float64, self.device).dense()


# --------------------------------------------------------------------------------------
# THE ONE PLACE that reads the layout of the fitted objective and of the covariance
# blocks (``inference.covariance``'s (beta, V) pairs and its LogisticObjective). When
# the public objective API lands (objective_for(model, X, y, sample_weight)), only this
# function changes.
# --------------------------------------------------------------------------------------
def fitted_from(model, obj, blocks, terms: list[str], level: float, free=None) -> Fitted:
    """A ``Fitted`` from ``inference.covariance``'s output: ``obj`` (LogisticObjective
    on the training X), ``blocks`` [(beta, V)], the summary's row names and ``free`` (p,)
    (the identified coefficients of one class block)."""
    names = [str(t) for t in getattr(model, "feature_names_in_", [f"x{j}" for j in range(obj.d)])]
    if obj.link == "ovr":
        B = torch.zeros(1, obj.p, dtype=torch.float64, device=obj.device)
        V = torch.zeros(0, 0, dtype=torch.float64, device=obj.device)
    else:
        beta, V = blocks[0]
        B = torch.cat([torch.zeros(1, obj.p, dtype=beta.dtype, device=beta.device), beta.reshape(-1, obj.p)])
    return Fitted(model=model, design=obj.X, B=B.to(torch.float64), V=V.to(torch.float64), link=obj.link,
                  classes=np.asarray(model.classes_), names=names, terms=list(terms),
                  fit_intercept=bool(obj.fit_intercept), level=level, n_total=int(obj.n_total),
                  free=None if free is None or obj.link == "ovr" else np.tile(np.asarray(free, bool), B.shape[0] - 1))
