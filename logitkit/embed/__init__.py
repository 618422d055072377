"""embed: maps features into a new space for the head; see README.md.

Fixed bases (scikit-learn transformers, torch inside): ``IdentityBasis``,
``PolynomialBasis``, ``RBFBasis``, ``RandomFourierFeatures``, or by config name with
``make_basis``; learned features: ``MLPEncoder`` (a ``torch.nn.Module``).
"""
from logitkit.embed.basis import (
    BASES,
    BasisModule,
    IdentityBasis,
    PolynomialBasis,
    RandomFourierFeatures,
    RBFBasis,
    make_basis,
)
from logitkit.embed.encoder import ACTIVATIONS, MLPEncoder

__all__ = ["make_basis", "BASES", "IdentityBasis", "PolynomialBasis", "RBFBasis", "RandomFourierFeatures",
           "BasisModule", "MLPEncoder", "ACTIVATIONS"]
