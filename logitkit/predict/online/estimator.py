"""scikit-learn's estimator contract for the online learner, without importing scikit-learn.

``HashedLogisticRegression`` is what a CTR ``logitkit run`` trains; importing
scikit-learn (and the SciPy and pandas it brings) would add about a second and 125 MB
to a run that uses none of it. ``OnlineClassifier`` gives what ``sklearn.base.BaseEstimator``
and ``ClassifierMixin`` give an estimator, written out:

* ``get_params`` / ``set_params`` from the ``__init__`` signature, so ``sklearn.base.clone``,
  ``GridSearchCV`` and ``Pipeline`` work as with any estimator;
* ``__sklearn_tags__`` (a binary classifier; scikit-learn is imported only when it asks);
* ``decision_function``, ``predict_proba`` (n, 2) and ``predict`` from the model's
  ``logits(idx, dense)``; ``score``: accuracy of ``predict``; a ``repr`` that shows the
  parameters changed from their defaults.

``check_fitted`` raises ``NotFittedError`` (an ``AttributeError``, as scikit-learn's, so
``hasattr(model, "coef_")`` is False before fitting).
"""
from __future__ import annotations

import inspect

import numpy as np
import torch

from logitkit._util.errors import UserError


class NotFittedError(UserError, AttributeError):
    """A model was used before it was fitted."""


def check_fitted(model, attribute: str) -> None:
    if not hasattr(model, attribute):
        raise NotFittedError(f"this {type(model).__name__} is not fitted yet; call fit or partial_fit first")


class OnlineClassifier:
    """Base of an online binary classifier: parameters only in ``__init__`` (see module doc)."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "OnlineClassifier":
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                                 f"Valid parameters are: {valid!r}.")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                   if not (isinstance(v, type(defaults.get(k))) and v == defaults.get(k))]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True), transformer_tags=None,
                    regressor_tags=None, classifier_tags=ClassifierTags(multi_class=False))

    def decision_function(self, idx, dense=None) -> np.ndarray:
        """Logits, shape (n,), float64 NumPy (``self.logits(idx, dense)``: a tensor)."""
        return self.logits(idx, dense).cpu().double().numpy()

    def predict_proba(self, idx, dense=None) -> np.ndarray:
        """(n, 2): P(y=0), P(y=1)."""
        z = torch.from_numpy(self.decision_function(idx, dense))
        return torch.stack([torch.sigmoid(-z), torch.sigmoid(z)], 1).numpy()

    def predict(self, idx, dense=None) -> np.ndarray:
        return (self.decision_function(idx, dense) > 0).astype(np.int64)

    def score(self, X, y, sample_weight=None) -> float:
        """Mean accuracy of ``predict(X)`` (weighted by ``sample_weight``)."""
        hit = (self.predict(X) == np.asarray(y)).astype(np.float64)
        return float(np.average(hit, weights=sample_weight))
