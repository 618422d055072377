"""embed: maps features into a new space for the head; see README.md.

Fixed bases (scikit-learn transformers, torch inside): ``PolynomialBasis``, ``RBFBasis``,
``RandomFourierFeatures``; learned features: ``MLPEncoder`` (a ``torch.nn.Module``).
"""
from logitkit.embed.basis import BasisModule, PolynomialBasis, RandomFourierFeatures, RBFBasis
from logitkit.embed.encoder import ACTIVATIONS, MLPEncoder

__all__ = ["PolynomialBasis", "RBFBasis", "RandomFourierFeatures", "BasisModule", "MLPEncoder", "ACTIVATIONS"]
