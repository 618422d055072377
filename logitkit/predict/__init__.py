"""predict: torch modules that return logits, the estimators that fit them, and solvers.

The names below are imported on first use (``from logitkit.predict import
LogisticRegression`` works as usual), so that importing one module of this stage (the
streamed CTR learner, the parameter table a config reads) does not load every estimator.
"""
from logitkit._util.lazy import lazy_names

_WHERE = {
    "FirthLogisticRegression": "firth", "LogisticHead": "head", "logits_to_proba": "head",
    "LogisticRegression": "logistic", "SeparationWarning": "logistic", "objective_for": "logistic",
    "MLPClassifier": "mlp", "LogisticObjective": "objective", "HashedLogisticRegression": "online.learner",
    "HashedInteractionModel": "online.interaction_learner",
}
__all__ = list(_WHERE)


__getattr__, __dir__ = lazy_names(__name__, _WHERE)


def __dir__():
    return sorted(list(globals()) + __all__)
