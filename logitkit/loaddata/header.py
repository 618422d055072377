"""The column names a ``data:`` section will give, read without reading the rows: a
CSV/TSV file's header line (or ``data.column_names``, or c0, c1, ...), a Parquet file's
schema, Criteo's fixed layout, a built-in data set's columns. So a config's column names
are checked before any work (``pipeline.config_check``)."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from logitkit._util.errors import InputFileError
from logitkit.loaddata.criteo import CRITEO_COLUMNS
from logitkit.loaddata.files import guess_format


def _first_line(path: Path) -> bytes:
    with pa.input_stream(str(path), compression="detect") as f:
        head = f.read(1 << 20)
    return head.split(b"\n", 1)[0].rstrip(b"\r") + b"\n"


def column_names(data, path: str | None = None) -> list[str] | None:
    """The columns of the file ``path`` (default ``data.path``) or of ``data.dataset``, as
    the readers will name them; None where they cannot be known from the header (svmlight,
    VW: their columns come from the rows) or the file is not there (its reader says so)."""
    if path is None and data.dataset is not None:
        from logitkit.loaddata.datasets import load_dataset

        return list(load_dataset(data.dataset).data.column_names)
    path = path if path is not None else data.path
    if path is None or not Path(path).exists():
        return None
    fmt = guess_format(path, data.format)
    if fmt == "criteo":
        return list(CRITEO_COLUMNS)
    if fmt == "parquet":
        import pyarrow.dataset as pads

        try:
            return list(pads.dataset(str(path), format="parquet").schema.names)
        except (pa.ArrowInvalid, OSError):
            return None  # the reader names what is wrong
    if fmt not in ("csv", "tsv"):
        return None
    if data.column_names is not None:
        return list(data.column_names)
    suffixes = [s.lower() for s in Path(path).suffixes]
    delimiter = data.delimiter or ("\t" if fmt == "tsv" or ".tsv" in suffixes or ".tab" in suffixes else ",")
    try:
        first = _first_line(Path(path))
        if not first.strip():
            return None
        ro = pacsv.ReadOptions(autogenerate_column_names=not data.header)
        t = pacsv.read_csv(pa.py_buffer(first), read_options=ro, parse_options=pacsv.ParseOptions(delimiter=delimiter))
    except (pa.ArrowInvalid, OSError, InputFileError):
        return None
    return list(t.column_names) if data.header else [f"c{j}" for j in range(t.num_columns)]


__all__ = ["column_names"]
