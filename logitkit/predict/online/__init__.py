"""Online learning on hashed sparse features: the learner and its parts (see README.md)."""
from logitkit.predict.online.interaction_learner import HashedInteractionModel, load_hashed
from logitkit.predict.online.learner import HashedLogisticRegression
from logitkit.predict.online.optimizers import FTRL, Adagrad, AdaptiveNormalizedSGD, make_optimizer
from logitkit.predict.online.sketch import TokenSketch

__all__ = ["HashedLogisticRegression", "HashedInteractionModel", "load_hashed", "FTRL", "Adagrad", "AdaptiveNormalizedSGD", "TokenSketch", "make_optimizer"]
