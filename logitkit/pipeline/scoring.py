"""``logitkit predict``: score a CSV with a run's saved model and transforms."""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from logitkit._util.errors import InputFileError
from logitkit.pipeline.rundir import OutputPathError, check_folder, make_folder


def score_file(run_dir: Path, input_path: Path, output: Path, force: bool = False, progress=None) -> Path:
    """Write ``output``: the input's columns, one ``p_<class>`` column per class and ``prediction``
    (a hashed run: a Criteo-layout file, streamed; ``label``, ``p_0``, ``p_1``, ``prediction``;
    ``progress(rows_done)`` after each batch). Both go through ``pipeline.scorer.Scorer``."""
    if input_path.is_dir():
        raise InputFileError(f"{input_path}: is a folder; pass the CSV file to score")
    if not input_path.is_file():
        raise InputFileError(f"{input_path} does not exist; pass the CSV file to score")
    check_output(output, input_path, force)
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
    make_folder(output.parent, "-o")
    tmp = output.with_name(f".{output.name}.partial")
    try:  # a complete file or none: written aside, renamed over OUTPUT when done
        pacsv.write_csv(pa.table(cols), tmp)
        os.replace(tmp, output)
    except OSError as exc:
        raise OutputPathError(f"-o {output}: cannot write the scores ({exc.strerror or exc}); pass a path you can "
                              "write to") from None
    finally:
        tmp.unlink(missing_ok=True)
    return output


def check_output(output: Path, input_path: Path, force: bool) -> None:
    """``output`` may be written: not a folder, not the input, not an existing file unless
    ``force``, in a folder we may write in (or may create); an error naming it otherwise."""
    if output.is_dir():
        raise OutputPathError(f"-o {output}: is a folder; give a file name for the scores (e.g. {output / 'scores.csv'})")
    if output.exists() and os.path.samefile(output, input_path):
        raise OutputPathError(f"-o {output}: is the input file; choose another path (predict never overwrites its input)")
    if os.path.lexists(output) and not force:
        raise InputFileError(f"{output} already exists; pass --force to overwrite it or choose another -o path")
    check_folder(output.parent, "-o")
