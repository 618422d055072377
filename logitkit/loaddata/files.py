"""One entry point per file: ``load_file`` / ``stream_file`` pick the reader by format."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa

from logitkit._util.errors import ConfigError
from logitkit.loaddata.criteo import load_criteo, stream_criteo
from logitkit.loaddata.delimited import load_csv, stream_csv
from logitkit.loaddata.formats import FORMATS, guess_format  # noqa: F401 (public here too)
from logitkit.loaddata.parquet import load_parquet, stream_parquet
from logitkit.loaddata.svmlight import load_svmlight, stream_svmlight
from logitkit.loaddata.table import Table
from logitkit.loaddata.vw import load_vw, stream_vw

def load_file(
    path: str | Path,
    format: str = "auto",
    label: str | None = None,
    header: bool = True,
    column_names: list[str] | None = None,
    delimiter: str | None = None,
    n_features: int | None = None,
) -> Table:
    """Read a whole file with the reader its format calls for."""
    fmt = guess_format(path, format)
    if fmt in ("csv", "tsv"):
        return load_csv(path, label, _delimiter(fmt, delimiter), header, column_names)
    if fmt == "parquet":
        return load_parquet(path, label)
    check_fixed_label(label, fmt)  # (before reading)
    return load_svmlight(path, n_features) if fmt == "svmlight" else load_criteo(path) if fmt == "criteo" else load_vw(path)


def _delimiter(fmt: str, delimiter: str | None) -> str:
    """The delimiter given, else the format's: tab for tsv, ',' for csv."""
    return delimiter if delimiter is not None else ("\t" if fmt == "tsv" else ",")


def check_fixed_label(label: str | None, fmt: str) -> None:
    """svmlight, Criteo and VW files name their label column 'label' themselves."""
    if label is not None and label != "label":
        raise ConfigError(f"data.label {label!r}: {fmt} files have their label in the column 'label'; leave data.label unset")


def stream_file(
    path: str | Path,
    format: str = "auto",
    batch_rows: int = 65536,
    header: bool = True,
    column_names: list[str] | None = None,
    delimiter: str | None = None,
    n_features: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream a file as record batches of ``batch_rows`` rows, whatever its format."""
    fmt = guess_format(path, format)
    if fmt in ("csv", "tsv"):
        return stream_csv(path, batch_rows, _delimiter(fmt, delimiter), header, column_names)
    if fmt == "parquet":
        return stream_parquet(path, batch_rows)
    if fmt == "svmlight":
        return stream_svmlight(path, batch_rows, n_features)
    if fmt == "criteo":
        return stream_criteo(path, batch_rows)
    return stream_vw(path, batch_rows)
