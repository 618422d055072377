"""Saving and loading fitted estimators: tensors in safetensors, everything else in JSON,
never a pickle.

Every estimator the pipeline runs (``LogisticRegression`` and its formula and
distributed kinds, ``FirthLogisticRegression``, ``MLPClassifier``,
``HashedLogisticRegression``) has the same public protocol:

    tensors, meta = model.to_state()         # {name: tensor}, JSON-able dict
    model = type(model).from_state(tensors, meta)
    model.save("my_model")                   # my_model/model.safetensors + my_model/model.json
    model = LogisticRegression.load("my_model")
    model = logitkit.load("my_model")        # any estimator (or a run directory's model)

``meta["estimator"]`` names the class that ``load`` rebuilds; ``meta["params"]`` holds
``get_params()``. A model fitted on a GPU loads on a machine without one (on the CPU,
with a warning).
"""
from __future__ import annotations

import json
import warnings
from importlib import import_module
from pathlib import Path

import numpy as np
import torch

from logitkit._util.errors import InputFileError

TENSORS, META = "model.safetensors", "model.json"
#: an estimator fitted over several ranks -> the one-process estimator it is saved as
SAVED_AS = {"DistributedLogisticRegression": "LogisticRegression",
            "DistributedHashedLogisticRegression": "HashedLogisticRegression"}


#: the classes a model file may name, and their modules (imported when a file names them)
WHERE = {"LogisticRegression": "logitkit.predict.logistic", "FormulaLogisticRegression": "logitkit.formula.model",
         "FirthLogisticRegression": "logitkit.predict.firth", "MLPClassifier": "logitkit.predict.mlp",
         "HashedLogisticRegression": "logitkit.predict.online.learner",
         "HashedInteractionModel": "logitkit.predict.online.interaction_learner"}


def estimator_class(name: str) -> type:
    """The estimator class a model file names (``WHERE``)."""
    return getattr(import_module(WHERE[name]), name)


def save(model, path: str | Path, extra: dict | None = None) -> Path:
    """Write ``model.to_state()`` into the folder ``path`` (made if needed); ``extra``
    keys are added to the JSON. Returns the folder."""
    from safetensors.torch import save_file

    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    tensors, meta = model.to_state()
    meta = {**meta, "estimator": SAVED_AS.get(meta.get("estimator"), meta.get("estimator")), **(extra or {})}
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(directory / TENSORS))
    (directory / META).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return directory


def read(path: str | Path) -> tuple[dict, dict]:
    """(tensors on the CPU, metadata) of a folder ``save`` wrote."""
    from safetensors.torch import load_file

    directory = Path(path)
    meta_path, tensor_path = directory / META, directory / TENSORS
    for p in (meta_path, tensor_path):
        if not p.is_file():
            raise InputFileError(f"{p} is missing; pass a folder written by model.save(...) or a run's model/ folder")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{meta_path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(meta, dict):
        raise InputFileError(f"{meta_path}: expected a JSON object with 'estimator' and 'params'")
    return load_file(str(tensor_path)), meta


def load(path: str | Path):
    """The estimator saved in the folder ``path`` (``save``'s format)."""
    tensors, meta = read(path)
    name = meta.get("estimator")
    if name not in WHERE:
        raise InputFileError(f"{Path(path) / META}: key 'estimator' is {name!r}; this logitkit knows {sorted(WHERE)}")
    on_this_machine(meta, Path(path) / META)
    return estimator_class(name).from_state(tensors, meta)


def on_this_machine(meta: dict, where: Path) -> None:
    """A model fitted on a GPU loads on a machine without one: ``meta``'s device becomes
    the CPU, with a warning naming ``where`` (tensors are stored on the CPU anyway)."""
    params = meta.get("params") or {}
    device = params.get("device")
    if isinstance(device, str) and device.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(f"{where}: the model was fitted with device={device!r}; torch sees no GPU "
                      "here, so it runs on the CPU", UserWarning, stacklevel=3)
        params["device"] = "cpu"


def load_any(path: str | Path):
    """``logitkit.load``: a folder ``save`` wrote, a run directory (its ``model/``), or a
    hashed model's checkpoint folder."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p}: no such folder; pass a folder written by model.save(...) or a run directory")
    if (p / "model").is_dir() and not (p / META).is_file():
        p = p / "model"
    if (p / "checkpoint.json").is_file() and not (p / META).is_file():  # (predict.online.checkpoint's manifest)
        return load_checkpoint_folder(p)
    return load(p)


def load_checkpoint_folder(path: str | Path, device: str = "cpu"):
    """A hashed model's checkpoint folder, loaded by the class that wrote it (its
    ``estimator``; a checkpoint older than that key is a ``HashedLogisticRegression``'s)."""
    from logitkit.predict.online.checkpoint import read_meta

    name = read_meta(str(path)).get("estimator", "HashedLogisticRegression")
    name = SAVED_AS.get(name, name)
    if name not in WHERE:
        raise InputFileError(f"{path}: the checkpoint's 'estimator' is {name!r}; this logitkit knows {sorted(WHERE)}")
    return estimator_class(name).load(str(path), device=device)


def classes_to_json(classes: np.ndarray) -> dict:
    """A fitted ``classes_`` array as JSON (its values and dtype)."""
    return {"values": classes.tolist(), "dtype": classes.dtype.str if classes.dtype != object else "object"}


def classes_from_json(d: dict) -> np.ndarray:
    return np.array(d["values"], dtype=None if d["dtype"] == "object" else np.dtype(d["dtype"]))


class Persistent:
    """``save(path)`` and ``load(path)`` for an estimator with ``to_state``/``from_state``."""

    def save(self, path: str | Path) -> Path:
        """Write the fitted model into the folder ``path``: ``model.safetensors`` (its
        tensors) and ``model.json`` (class, parameters, classes, ...). Returns the folder."""
        return save(self, path)

    @classmethod
    def load(cls, path: str | Path):
        """The model saved in the folder ``path`` by ``save`` (a run's ``model/`` folder too)."""
        model = load_any(path)
        if not isinstance(model, cls):
            raise InputFileError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}; "
                                 "load it with logitkit.load(path)")
        return model


__all__ = ["save", "read", "load", "load_any", "estimator_class", "Persistent", "SAVED_AS", "WHERE", "classes_to_json", "on_this_machine",
           "classes_from_json"]
