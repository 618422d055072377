"""``logitkit predict``: score a CSV with a run's saved model and transforms."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from logitkit._util.errors import InputFileError
from logitkit.embed.basis import basis_from_json
from logitkit.loaddata import Table
from logitkit.pipeline.modelio import load_model
from logitkit.pipeline.stages import named_features
from logitkit.prepdata import Preprocessor


def score_file(run_dir: Path, input_path: Path, output: Path, force: bool = False) -> Path:
    """Write ``output``: the input's columns, one ``p_<class>`` column per class and ``prediction``."""
    if output.exists() and not force:
        raise InputFileError(f"{output} already exists; pass --force to overwrite it or choose another -o path")
    if not input_path.is_file():
        raise InputFileError(f"{input_path} does not exist; pass the CSV file to score")
    if (run_dir / "model" / "state.json").is_file():
        raise InputFileError(f"{run_dir} holds a streamed hashed (CTR) model; score a Criteo file with "
                             "logitkit.predict.hashed.evaluate_stream (see docs/ctr.md), not `logitkit predict`")
    model, prep_state, embed_state = load_model(run_dir / "model")
    try:
        data = pacsv.read_csv(input_path)
    except pa.ArrowInvalid as exc:
        raise InputFileError(f"{input_path}: not a readable CSV ({exc})") from exc
    prep = Preprocessor.from_json(prep_state)
    X = prep.transform(Table(data, label=None, name=str(input_path), first_line=2))
    names = list(prep.feature_names_)
    if embed_state is not None:
        emb = basis_from_json(embed_state)
        X, names = emb.transform(X), [str(n) for n in emb.get_feature_names_out(names)]
    proba = model.predict_proba(named_features(X, names))
    cols = {name: data.column(name) for name in data.column_names}
    for j, c in enumerate(model.classes_):
        cols[f"p_{c}"] = pa.array(proba[:, j])
    cols["prediction"] = pa.array(model.classes_[np.argmax(proba, axis=1)])
    output.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(pa.table(cols), output)
    return output
