"""Online learning on hashed sparse features: the learner and its parts (see README.md).

The names below are imported on first use (``_util.lazy``): a linear CTR run loads
neither the interaction models nor, through them, the dense bases' scikit-learn.
"""
from logitkit._util.lazy import lazy_names

_WHERE = {
    "HashedLogisticRegression": "learner", "HashedInteractionModel": "interaction_learner",
    "load_hashed": "interaction_learner", "FTRL": "optimizers", "Adagrad": "optimizers",
    "AdaptiveNormalizedSGD": "optimizers", "make_optimizer": "optimizers", "TokenSketch": "sketch",
}
__all__ = list(_WHERE)

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
