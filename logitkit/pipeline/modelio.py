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
from safetensors.torch import save_file

from logitkit._util.errors import InputFileError
from logitkit.pipeline.modelcheck import build, json_state, tensors_state
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


def load_model(directory: Path, read=None):
    """(estimator, prep_state or None, embed_state or None) from a ``model/`` folder.

    ``read(name)`` gives a file's bytes, or None when there is no such file (default: read
    from ``directory``; ``Scorer`` passes one that checks each file's sha256 against the
    run's record first). A missing or damaged file, a state this logitkit cannot build,
    and a NaN or infinite parameter are an ``InputFileError`` naming the file."""
    directory = Path(directory)
    read = read or (lambda name: (directory / name).read_bytes() if (directory / name).is_file() else None)
    meta_path, tensor_path = directory / "model.json", directory / "model.safetensors"
    meta_raw, tensor_raw = read("model.json"), read("model.safetensors")
    for p, raw in ((meta_path, meta_raw), (tensor_path, tensor_raw)):
        if raw is None:
            raise InputFileError(f"{p} is missing; is {directory.parent} a complete logitkit run directory?")
    meta = json_state(meta_path, meta_raw)
    name = meta.get("estimator")
    if not isinstance(name, str) or name not in ESTIMATORS:
        raise InputFileError(f"{meta_path}: key 'estimator' is {name!r}; this logitkit knows {sorted(ESTIMATORS)}")
    params = meta.get("params") or {}
    if not isinstance(params, dict):
        raise InputFileError(f"{meta_path}: key 'params' is a {type(params).__name__}, not an object of parameters")
    device = params.get("device")
    if isinstance(device, str) and device.startswith("cuda") and not torch.cuda.is_available():
        # tensors are stored on the CPU; a model fitted on a GPU predicts anywhere
        warnings.warn(f"{meta_path}: the model was fitted with device={device!r}; torch sees no GPU "
                      "here, so it runs on the CPU", UserWarning, stacklevel=2)
        params["device"] = "cpu"
    model = build(ESTIMATORS[name], tensors_state(tensor_path, tensor_raw), meta, meta_path)
    prep, embed = (read(n) for n in ("prep.json", "embed.json"))
    prep = json_state(directory / "prep.json", prep) if prep is not None else None
    embed = json_state(directory / "embed.json", embed) if embed is not None else None
    return model, prep, embed
