"""prepdata: fitted transforms (fit on train, apply anywhere, JSON state) and seeded splits.

The names below are imported on first use (``_util.lazy``).
"""
from logitkit._util.lazy import lazy_names

_WHERE = {
    "FeatureHasher": "hashing", "Preprocessor": "preprocess", "binary_labels": "schema",
    "check_split_labels": "schema",
    "select_columns": "schema", "input_rows": "splits", "kfold_indices": "splits", "split_table": "splits",
}
__all__ = [
    "Preprocessor", "FeatureHasher", "split_table", "input_rows", "kfold_indices", "binary_labels",
    "check_split_labels", "select_columns",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE)
