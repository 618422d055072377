"""Model files: tensors in safetensors, everything else in JSON. Loading never unpickles.

    model/model.safetensors   the estimator's tensors          (predict.persist: model.save)
    model/model.json          estimator class, parameters, classes, feature names, link, ...
                              and "label_names" where the label was coded 0/1
    model/prep.json           the fitted prep transforms
    model/embed.json          the fitted embedding (when there is one)

``logitkit.load(run_dir)`` reads the estimator alone; ``load_model`` all of it, checked.
"""
from __future__ import annotations

import json
from pathlib import Path

from logitkit._util.errors import InputFileError
from logitkit.pipeline.modelcheck import build, json_state, tensors_state
from logitkit.predict.persist import SAVED_AS, WHERE, estimator_class, on_this_machine, save


def local_estimator(model):
    """``model`` as the estimator one process would have made, to save, plot and load
    back (a ``DistributedLogisticRegression`` becomes the ``LogisticRegression`` with its
    state); any other model is returned as it is."""
    name = SAVED_AS.get(type(model).__name__)
    if name is None:
        return model
    tensors, meta = model.to_state()
    return estimator_class(name).from_state(tensors, {**meta, "estimator": name})


def save_model(directory: Path, model, prep_state: dict | None = None, embed_state: dict | None = None,
               label_names=None) -> None:
    """The estimator (``model.save``), its transforms and, for a label coded 0/1
    (``data.positive_class``), the label's text by class code (``label_names``)."""
    save(model, directory, {"label_names": list(label_names)} if label_names is not None else None)
    if prep_state is not None:
        (directory / "prep.json").write_text(json.dumps(prep_state, indent=2, default=str) + "\n")
    if embed_state is not None:
        (directory / "embed.json").write_text(json.dumps(embed_state, indent=2, default=str) + "\n")


def _reader(directory: Path, read=None):
    return read or (lambda name: (directory / name).read_bytes() if (directory / name).is_file() else None)


def load_model(directory: Path, read=None):
    """(estimator, prep_state or None, embed_state or None) from a ``model/`` folder.

    ``read(name)`` gives a file's bytes, or None when there is no such file (default: read
    from ``directory``; ``Scorer`` passes one that checks each file's sha256 against the
    run's record first). A missing or damaged file, a state this logitkit cannot build,
    and a NaN or infinite parameter are an ``InputFileError`` naming the file."""
    directory = Path(directory)
    read = _reader(directory, read)
    meta_path, tensor_path = directory / "model.json", directory / "model.safetensors"
    meta_raw, tensor_raw = read("model.json"), read("model.safetensors")
    for p, raw in ((meta_path, meta_raw), (tensor_path, tensor_raw)):
        if raw is None:
            raise InputFileError(f"{p} is missing; is {directory.parent} a complete logitkit run directory?")
    meta = json_state(meta_path, meta_raw)
    name = meta.get("estimator")
    if not isinstance(name, str) or name not in WHERE:
        raise InputFileError(f"{meta_path}: key 'estimator' is {name!r}; this logitkit knows {sorted(WHERE)}")
    params = meta.get("params") or {}
    if not isinstance(params, dict):
        raise InputFileError(f"{meta_path}: key 'params' is a {type(params).__name__}, not an object of parameters")
    on_this_machine(meta, meta_path)
    model = build(estimator_class(name), tensors_state(tensor_path, tensor_raw), meta, meta_path)
    prep, embed = (read(n) for n in ("prep.json", "embed.json"))
    prep = json_state(directory / "prep.json", prep) if prep is not None else None
    embed = json_state(directory / "embed.json", embed) if embed is not None else None
    return model, prep, embed


def label_names(directory: Path, read=None) -> list[str] | None:
    """The label's text by class code saved with the model (None: the classes are the
    labels); ``read`` as in ``load_model``."""
    raw = _reader(Path(directory), read)("model.json")
    names = json_state(Path(directory) / "model.json", raw).get("label_names") if raw is not None else None
    return [str(n) for n in names] if isinstance(names, list) else None
