"""embed: maps features into a new space for the head; see README.md.

Fixed bases (scikit-learn transformers, torch inside): ``IdentityBasis``,
``PolynomialBasis``, ``RBFBasis``, ``RandomFourierFeatures``, or by config name with
``make_basis``; learned features: ``MLPEncoder`` (a ``torch.nn.Module``). For the hashed
CTR path: the interaction models ``make_interaction("none" | "fm" | "ffm" | "deep")``
over the token table laid out by ``RowLayout`` (``sum_by_row`` gives each touched
row's gradient). The names are imported on first use (``_util.lazy``): the CTR path's
modules load no scikit-learn.
"""
from logitkit._util.lazy import lazy_names

_WHERE = {
    "make_basis": "basis", "BASES": "basis", "IdentityBasis": "basis", "PolynomialBasis": "basis",
    "RBFBasis": "basis", "RandomFourierFeatures": "basis", "BasisModule": "basis", "MLPEncoder": "encoder",
    "ACTIVATIONS": "encoder", "INTERACTIONS": "interactions", "Interaction": "interactions",
    "make_interaction": "interactions", "DeepTower": "deep", "RowLayout": "token_table", "sum_by_row": "token_table",
}
__all__ = list(_WHERE)

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
