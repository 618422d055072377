"""``logitkit predict``: score a CSV with a run's saved model and transforms."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from logitkit._util.errors import InputFileError


def score_file(run_dir: Path, input_path: Path, output: Path, force: bool = False, progress=None) -> Path:
    """Write ``output``: the input's columns, one ``p_<class>`` column per class and ``prediction``
    (a hashed run: a Criteo-layout file, streamed; ``label``, ``p_0``, ``p_1``, ``prediction``;
    ``progress(rows_done)`` after each batch). Both go through ``pipeline.scorer.Scorer``."""
    if output.exists() and not force:
        raise InputFileError(f"{output} already exists; pass --force to overwrite it or choose another -o path")
    if not input_path.is_file():
        raise InputFileError(f"{input_path} does not exist; pass the CSV file to score")
    from logitkit.pipeline.scorer import Scorer, score_criteo_file

    scorer = Scorer.load(run_dir)
    if scorer.kind == "hashed":  # a Criteo-layout file, streamed batch by batch
        return score_criteo_file(scorer, input_path, output, progress=progress)
    try:
        data = pacsv.read_csv(input_path)
    except pa.ArrowInvalid as exc:
        raise InputFileError(f"{input_path}: not a readable CSV ({exc})") from exc
    proba = scorer.proba(data, name=str(input_path), first_line=2)
    cols = {name: data.column(name) for name in data.column_names}
    for j, c in enumerate(scorer.classes):
        cols[f"p_{c}"] = pa.array(proba[:, j])
    cols["prediction"] = pa.array(scorer.labels(proba))
    output.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(pa.table(cols), output)
    return output
