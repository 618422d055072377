"""embed: maps features into a new space for the head; see README.md.

Fixed bases (scikit-learn transformers, torch inside): ``IdentityBasis``,
``PolynomialBasis``, ``RBFBasis``, ``RandomFourierFeatures``, or by config name with
``make_basis``; learned features: ``MLPEncoder`` (a ``torch.nn.Module``). For the hashed
CTR path: the interaction models ``make_interaction("none" | "fm" | "ffm" | "deep")``
over the token table laid out by ``RowLayout`` (``sum_by_row`` gives each touched
row's gradient).
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
from logitkit.embed.deep import DeepTower
from logitkit.embed.encoder import ACTIVATIONS, MLPEncoder
from logitkit.embed.interactions import INTERACTIONS, Interaction, make_interaction
from logitkit.embed.token_table import RowLayout, sum_by_row

__all__ = ["make_basis", "BASES", "IdentityBasis", "PolynomialBasis", "RBFBasis", "RandomFourierFeatures",
           "BasisModule", "MLPEncoder", "ACTIVATIONS", "INTERACTIONS", "Interaction", "make_interaction",
           "DeepTower", "RowLayout", "sum_by_row"]
