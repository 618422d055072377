"""Built-in data sets by name: the lecture's ``cd_age`` and scikit-learn's bundled real data.

Each loader returns a ``Table`` whose fingerprint names the data set and its version,
so a run record says exactly which data it used.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from logitkit._util.errors import DataError, did_you_mean
from logitkit.loaddata.table import Table


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    n_rows: int
    n_features: int
    n_classes: int
    source: str


def _cd_age() -> Table:
    raw = resources.files("logitkit.loaddata").joinpath("data/cd_age.csv").read_bytes()
    data = pacsv.read_csv(pa.py_buffer(raw))
    fp = {"dataset": "cd_age", "version": "1", "sha256": hashlib.sha256(raw).hexdigest()}
    return Table(data, label="cd", name="cd_age", fingerprint=fp)


def _from_sklearn(loader_name: str) -> Callable[[], Table]:
    def load() -> Table:
        import sklearn
        import sklearn.datasets as skd

        bunch = getattr(skd, loader_name)()
        names = [str(n).replace(" ", "_") for n in bunch.feature_names]
        cols = {n: pa.array(np.ascontiguousarray(bunch.data[:, j])) for j, n in enumerate(names)}
        cols["target"] = pa.array(bunch.target.astype(np.int64))
        name = loader_name.removeprefix("load_")
        fp = {"dataset": name, "version": f"scikit-learn {sklearn.__version__}"}
        return Table(pa.table(cols), label="target", name=name, fingerprint=fp)

    return load


_LOADERS: dict[str, Callable[[], Table]] = {
    "cd_age": _cd_age,
    "breast_cancer": _from_sklearn("load_breast_cancer"),
    "iris": _from_sklearn("load_iris"),
    "wine": _from_sklearn("load_wine"),
    "digits": _from_sklearn("load_digits"),
}

_SOURCES = {
    "cd_age": "Lecture 6 (Haiping Lu, COM4059/6059 Sheffield), Table 1: age and signs of "
    "coronary heart disease, 33 patients",
    "breast_cancer": "scikit-learn bundled: Wisconsin diagnostic breast cancer (UCI)",
    "iris": "scikit-learn bundled: Fisher's iris (UCI)",
    "wine": "scikit-learn bundled: wine recognition (UCI)",
    "digits": "scikit-learn bundled: optical recognition of handwritten digits 8x8 (UCI)",
}


def dataset_names() -> list[str]:
    return list(_LOADERS)


def load_dataset(name: str) -> Table:
    """Load a built-in data set by name (see ``dataset_names()``)."""
    if name not in _LOADERS:
        raise DataError(
            f"unknown data set {name!r}; built-in data sets are {dataset_names()}."
            + did_you_mean(name, _LOADERS)
        )
    return _LOADERS[name]()


def describe_datasets() -> list[DatasetInfo]:
    """Name, shape, number of classes and source of every built-in data set."""
    out = []
    for name in _LOADERS:
        t = load_dataset(name)
        y = t.labels()
        out.append(
            DatasetInfo(name, t.n_rows, len(t.feature_names), len(np.unique(y)), _SOURCES[name])
        )
    return out
