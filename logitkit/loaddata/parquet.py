"""Parquet: one file or a directory of files (read as one data set), whole or streamed.

A file pyarrow cannot decode (a damaged page or footer, a codec error, not Parquet at
all) is an ``InputFileError`` naming it. Columns must be usable as a table of numbers and
text: distinct, non-empty names; a binary column holding UTF-8 is read as text; a
binary column holding other bytes, or a nested column (list, struct, map), is an error
naming it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from logitkit._util.errors import InputFileError, shown
from logitkit.loaddata.delimited import check_file, file_sha256, rebatch
from logitkit.loaddata.diagnose import check_names, one_line
from logitkit.loaddata.table import Table

#: what pyarrow raises for a file it cannot decode (OSError: codec and I/O errors)
DECODE_ERRORS = (pa.ArrowException, OSError, ValueError)


def damaged(path: Path, exc: BaseException) -> InputFileError:
    msg = str(exc).replace(f"'{path}'", "the file").replace(str(path), "the file")
    msg = msg.split("Is this a 'parquet' file?:")[-1]  # (pyarrow's dataset wrapper around the reader's reason)
    return InputFileError(
        f"{path}: could not be read as Parquet ({one_line(msg, 200)}); the file is damaged or not Parquet: "
        "write it again"
    )


def _dataset(path: Path) -> pads.Dataset:
    check_file(path, directory=True)
    try:
        ds = pads.dataset(str(path), format="parquet")
    except DECODE_ERRORS as exc:
        if path.is_file():  # a schema pyarrow will not make a data set of (e.g. a name given twice): say why
            try:
                schema = pq.read_schema(path)
            except DECODE_ERRORS:
                schema = None
            if schema is not None:
                check_schema(schema, path)
        raise damaged(path, exc) from None
    if path.is_dir() and not ds.files:
        raise InputFileError(f"{path}: is a directory that holds no Parquet files; data.path must name a file, or a "
                             "directory of Parquet files")
    check_schema(ds.schema, path)
    return ds


def check_schema(schema: pa.Schema, path: Path) -> None:
    check_names(schema.names, path, line=None)
    for f in schema:
        t = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if pa.types.is_nested(t) or pa.types.is_union(t) or isinstance(t, pa.ExtensionType):
            raise InputFileError(
                f"{path}: column {shown(f.name)} has type {t}; logitkit reads columns of numbers, booleans, text "
                "or times: flatten or drop it before"
            )


def as_text(t, path: Path):
    """Binary columns (of a Table or RecordBatch) as text when they hold UTF-8, as files of
    some writers do; a binary column holding other bytes is an error naming it."""
    for j, f in enumerate(t.schema):
        if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) or pa.types.is_fixed_size_binary(f.type):
            try:
                text = t.column(j).cast(pa.string())  # (the cast checks the bytes are UTF-8)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise InputFileError(
                    f"{path}: column {shown(f.name)} holds bytes that are not UTF-8 text; convert or drop the "
                    "column before"
                ) from None
            t = t.set_column(j, f.name, text)
    return t


def load_parquet(path: str | Path, label: str | None = None, columns: list[str] | None = None) -> Table:
    """A Parquet file, or every Parquet file under a directory, as a ``Table``; ``label`` None = last column."""
    p = Path(path)
    ds = _dataset(p)
    try:
        t = ds.to_table(columns=columns)
    except DECODE_ERRORS as exc:
        raise damaged(p, exc) from None
    if t.num_rows == 0:
        raise InputFileError(f"{p}: the Parquet data has no rows")
    t = as_text(t, p)
    lab = label if label is not None else t.column_names[-1]
    return Table(t, lab, p.name, {"path": str(p), "sha256": file_sha256(p), "format": "parquet"})


def stream_parquet(path: str | Path, batch_rows: int = 65536, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of ``batch_rows`` rows, read row group by row group (files in sorted order)."""
    p = Path(path)
    ds = _dataset(p)
    batches = ds.to_batches(columns=columns, batch_size=batch_rows, batch_readahead=2, fragment_readahead=1)
    it = rebatch(batches, batch_rows)
    while True:
        try:
            b = next(it, None)
        except DECODE_ERRORS as exc:
            raise damaged(p, exc) from None
        if b is None:
            return
        yield as_text(b, p)


def write_parquet(table: Table | pa.Table, path: str | Path, n_files: int = 1, row_group_rows: int = 65536) -> Path:
    """Write a table as one Parquet file (``n_files=1``) or a directory of ``n_files`` parts."""
    data = table.data if isinstance(table, Table) else table
    p = Path(path)
    if n_files <= 1:
        pq.write_table(data, p, row_group_size=row_group_rows)
        return p
    p.mkdir(parents=True, exist_ok=True)
    step = -(-data.num_rows // n_files)
    for k in range(n_files):
        pq.write_table(data.slice(k * step, step), p / f"part-{k:05d}.parquet", row_group_size=row_group_rows)
    return p
