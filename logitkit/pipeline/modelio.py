"""Model files: tensors in safetensors, everything else in JSON. Loading never unpickles.

    model/model.safetensors   the estimator's tensors          (predict.persist: model.save)
    model/model.json          estimator class, parameters, classes, feature names, link, ...
                              and "label_names" where the label was coded 0/1
    model/prep.json           the fitted prep transforms
    model/embed.json          the fitted embedding (when there is one)

``logitkit.load(run_dir)`` reads the estimator alone; ``load_model`` all of it.
"""
from __future__ import annotations

import json
from pathlib import Path

from logitkit.predict.persist import SAVED_AS, estimator_class, load, save

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


def load_model(directory: Path):
    """(estimator, prep_state or None, embed_state or None) from a ``model/`` folder."""
    directory = Path(directory)
    model = load(directory)
    prep = json.loads((directory / "prep.json").read_text()) if (directory / "prep.json").is_file() else None
    embed = json.loads((directory / "embed.json").read_text()) if (directory / "embed.json").is_file() else None
    return model, prep, embed


def label_names(directory: Path) -> list[str] | None:
    """The label's text by class code saved with the model (None: the classes are the labels)."""
    meta = Path(directory) / "model.json"
    names = json.loads(meta.read_text()).get("label_names") if meta.is_file() else None
    return [str(n) for n in names] if names is not None else None
