"""prepdata: fitted transforms (fit on train, apply anywhere, JSON state) and seeded splits."""
from logitkit.prepdata.hashing import FeatureHasher
from logitkit.prepdata.preprocess import Preprocessor
from logitkit.prepdata.schema import binary_labels, select_columns
from logitkit.prepdata.splits import input_rows, kfold_indices, split_table

__all__ = ["Preprocessor", "FeatureHasher", "split_table", "input_rows", "kfold_indices", "binary_labels", "select_columns"]
