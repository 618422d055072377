"""loaddata: readers, built-in data sets and synthetic generators; hands on a ``Table``."""
from logitkit.loaddata.datasets import dataset_names, describe_datasets, load_dataset
from logitkit.loaddata.table import Table

__all__ = ["Table", "load_dataset", "dataset_names", "describe_datasets"]
