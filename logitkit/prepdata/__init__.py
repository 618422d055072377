"""prepdata: fitted transforms (fit on train, apply anywhere, JSON state) and seeded splits.

The names below are imported on first use (``from logitkit.prepdata import ...`` works as
usual), so that importing one module of this stage loads only what that module needs
(a CTR run starts without the readers, SciPy, scikit-learn or matplotlib it does not use).
"""
from importlib import import_module

_WHERE = {
    "FeatureHasher": "hashing", "Preprocessor": "preprocess", "binary_labels": "schema",
    "select_columns": "schema", "input_rows": "splits", "kfold_indices": "splits", "split_table": "splits",
}
__all__ = [
    "Preprocessor", "FeatureHasher", "split_table", "input_rows", "kfold_indices", "binary_labels",
    "select_columns",
]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f"logitkit.prepdata.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'logitkit.prepdata' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_WHERE))
