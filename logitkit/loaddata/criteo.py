"""Criteo display-ads TSV: ``label``, 13 counts ``I1..I13``, 26 categoricals ``C1..C26``.

No header; tab-separated; an empty field is a missing value. The label is 0 or 1 (a
click); counts are nullable int64 of at most 2^53 in size (exact as float64, as the log
buckets and the VW writer use them);
categoricals are strings (``dictionary=True`` asks the parser for dictionary-encoded
strings instead, which saves memory but parses more slowly). The hasher
dictionary-encodes each batch itself and hashes only the distinct values.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from logitkit._util.errors import InputFileError
from logitkit.loaddata.delimited import file_sha256, read_delimited, stream_delimited, write_csv
from logitkit.loaddata.table import Table

NUMERIC_COLUMNS = [f"I{i}" for i in range(1, 14)]
CATEGORICAL_COLUMNS = [f"C{i}" for i in range(1, 27)]
CRITEO_COLUMNS = ["label"] + NUMERIC_COLUMNS + CATEGORICAL_COLUMNS
_EXACT = 2**53  # largest count a float64 holds exactly


def check_values(t, path: Path, first_line: int = 1):
    """A label other than 0 or 1 (missing ones are left to the consumer), or a count beyond
    2^53 in size, is an error naming the column and line; ``t`` is returned."""
    if "label" in t.schema.names:
        lab = t.column("label")
        mm = pc.min_max(lab).as_py()  # (missing: left; no list made into an array: that imports pandas)
        if mm["min"] is not None and (mm["min"] < 0 or mm["max"] > 1):
            i = int(pc.index(pc.or_(pc.less(lab, 0), pc.greater(lab, 1)), True).as_py())
            raise InputFileError(f"{path}: line {first_line + i}: the label is {lab[i].as_py()}; Criteo labels are 0 "
                                 "(no click) or 1 (click): map other labels (e.g. VW's -1/+1) to 0/1 first")
    for c in NUMERIC_COLUMNS:
        mm = pc.min_max(t.column(c)).as_py()
        if mm["max"] is not None and (mm["max"] > _EXACT or mm["min"] < -_EXACT):
            i = int(pc.index(pc.greater(pc.abs(t.column(c)), _EXACT), True).as_py())
            raise InputFileError(f"{path}: column '{c}' at line {first_line + i}: count {t.column(c)[i].as_py()} is "
                                 "beyond 2^53 in size, which no count reaches (and a float64 cannot hold exactly)")
    return t


def _columns(has_label: bool) -> list[str]:
    return CRITEO_COLUMNS if has_label else CRITEO_COLUMNS[1:]


def _types(dictionary: bool) -> dict[str, pa.DataType]:
    cat = pa.dictionary(pa.int32(), pa.string()) if dictionary else pa.string()
    types: dict[str, pa.DataType] = {"label": pa.int8()}
    types.update({c: pa.int64() for c in NUMERIC_COLUMNS})
    types.update({c: cat for c in CATEGORICAL_COLUMNS})
    return types


def _options(dictionary: bool, has_label: bool = True) -> dict:
    types = _types(dictionary)
    if not has_label:
        types.pop("label")
    return dict(
        delimiter="\t", header=False, column_names=_columns(has_label), column_types=types, quoting=False,
        check_utf8=False,  # Criteo values are ASCII; skipping UTF-8 validation saves a third of the parse
    )


def load_criteo(path: str | Path, dictionary: bool = False, has_label: bool = True) -> Table:
    """A whole Criteo TSV file (gzip allowed) as a ``Table`` with label column ``label``.

    ``has_label=False`` reads files without the label column (39 fields, e.g. a test set).
    """
    p = Path(path)
    t = check_values(read_delimited(p, **_options(dictionary, has_label)), p)
    return Table(t, "label" if has_label else None, p.name, {"path": str(p), "sha256": file_sha256(p), "format": "criteo"}, first_line=1)


def stream_criteo(
    path: str | Path,
    batch_rows: int = 65536,
    dictionary: bool = False,
    chunk_bytes: int = 4 << 20,
    has_label: bool = True,
    meter=None,
) -> Iterator[pa.RecordBatch]:
    """Record batches of ``batch_rows`` rows of a Criteo TSV file; never holds the whole file.

    The text is parsed ``chunk_bytes`` at a time, one chunk ahead of the consumer, so
    memory stays near a few chunks plus a batch whatever the file size. ``meter`` (a
    ``readmeter.ReadMeter``) counts the bytes read and fingerprints them in the same pass.
    """
    first = 1
    for b in stream_delimited(Path(path), batch_rows, chunk_bytes=chunk_bytes, meter=meter,
                              **_options(dictionary, has_label)):
        yield check_values(b, Path(path), first)
        first += b.num_rows


def write_criteo(table: Table | pa.Table, path: str | Path) -> Path:
    """Write ``label, I1..I13, C1..C26`` as Criteo TSV (missing -> empty field; .gz compresses).

    A table without a ``label`` column is written without it (39 fields).
    """
    data = table.data if isinstance(table, Table) else table
    names = _columns("label" in data.column_names)
    return write_csv(data.select(names), path, delimiter="\t", header=False, quoting="none")
