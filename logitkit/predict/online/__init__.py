"""Online learning on hashed sparse features: optimisers, token sketch, checkpoints, streams."""
from logitkit.predict.online.optimizers import FTRL, Adagrad, AdaptiveNormalizedSGD, make_optimizer
from logitkit.predict.online.sketch import TokenSketch

__all__ = ["FTRL", "Adagrad", "AdaptiveNormalizedSGD", "TokenSketch", "make_optimizer"]
