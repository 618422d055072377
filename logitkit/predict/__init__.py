"""predict: torch modules that return logits, the estimators that fit them, and solvers."""
from logitkit.predict.firth import FirthLogisticRegression
from logitkit.predict.head import LogisticHead, logits_to_proba
from logitkit.predict.logistic import LogisticRegression, SeparationWarning, objective_for
from logitkit.predict.mlp import MLPClassifier
from logitkit.predict.objective import LogisticObjective
from logitkit.predict.online.learner import HashedLogisticRegression

__all__ = ["LogisticHead", "LogisticRegression", "LogisticObjective", "SeparationWarning", "logits_to_proba",
           "FirthLogisticRegression", "MLPClassifier", "HashedLogisticRegression", "objective_for"]
