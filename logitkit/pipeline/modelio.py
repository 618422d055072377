"""Model files: tensors in safetensors, everything else in JSON. Loading never unpickles.

    model/model.safetensors   the estimator's tensors
    model/model.json          estimator class, parameters, classes, feature names, link, ...
    model/prep.json           the fitted prep transforms
    model/embed.json          the fitted embedding (when there is one)
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from logitkit._util.errors import InputFileError
from logitkit.predict import HashedLogisticRegression, LogisticRegression, MLPClassifier


#: the estimators a model file may name (``model.json``'s "estimator")
ESTIMATORS = {c.__name__: c for c in (LogisticRegression, MLPClassifier, HashedLogisticRegression)}
#: an estimator fitted over several ranks -> the one-process estimator it equals once fitted
_LOCAL_CLASS = {"DistributedLogisticRegression": "LogisticRegression"}


def local_estimator(model):
    """``model`` as the estimator one process would have made, to save, plot and load
    back (a ``DistributedLogisticRegression`` becomes the ``LogisticRegression`` with its
    state); any other model is returned as it is."""
    name = _LOCAL_CLASS.get(type(model).__name__)
    if name is None:
        return model
    tensors, meta = model._state()
    return ESTIMATORS[name]._from_state(tensors, {**meta, "estimator": name})


def save_model(directory: Path, model, prep_state: dict | None = None, embed_state: dict | None = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tensors, meta = model._state()
    save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, str(directory / "model.safetensors"))
    (directory / "model.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    if prep_state is not None:
        (directory / "prep.json").write_text(json.dumps(prep_state, indent=2, default=str) + "\n")
    if embed_state is not None:
        (directory / "embed.json").write_text(json.dumps(embed_state, indent=2, default=str) + "\n")


def load_model(directory: Path):
    """(estimator, prep_state or None, embed_state or None) from a ``model/`` folder."""
    directory = Path(directory)
    meta_path, tensor_path = directory / "model.json", directory / "model.safetensors"
    for p in (meta_path, tensor_path):
        if not p.is_file():
            raise InputFileError(f"{p} is missing; is {directory.parent} a complete logitkit run directory?")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{meta_path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from exc
    name = meta.get("estimator")
    if name not in ESTIMATORS:
        raise InputFileError(f"{meta_path}: key 'estimator' is {name!r}; this logitkit knows {sorted(ESTIMATORS)}")
    params = meta.get("params") or {}
    device = params.get("device")
    if isinstance(device, str) and device.startswith("cuda") and not torch.cuda.is_available():
        # tensors are stored on the CPU; a model fitted on a GPU predicts anywhere
        warnings.warn(f"{meta_path}: the model was fitted with device={device!r}; torch sees no GPU "
                      "here, so it runs on the CPU", UserWarning, stacklevel=2)
        params["device"] = "cpu"
    model = ESTIMATORS[name]._from_state(load_file(str(tensor_path)), meta)
    prep = json.loads((directory / "prep.json").read_text()) if (directory / "prep.json").is_file() else None
    embed = json.loads((directory / "embed.json").read_text()) if (directory / "embed.json").is_file() else None
    return model, prep, embed
