"""Parquet: one file or a directory of files (read as one data set), whole or streamed."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from logitkit._util.errors import InputFileError
from logitkit.loaddata.delimited import check_file, file_sha256, rebatch
from logitkit.loaddata.table import Table


def _dataset(path: Path) -> pads.Dataset:
    check_file(path)
    try:
        ds = pads.dataset(str(path), format="parquet")
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputFileError(f"{path}: not a readable Parquet file or directory ({exc})") from None
    if path.is_dir() and not ds.files:
        raise InputFileError(f"{path}: the directory holds no Parquet files")
    return ds


def load_parquet(path: str | Path, label: str | None = None, columns: list[str] | None = None) -> Table:
    """A Parquet file, or every Parquet file under a directory, as a ``Table``; ``label`` None = last column."""
    p = Path(path)
    try:
        t = _dataset(p).to_table(columns=columns)
    except pa.ArrowInvalid as exc:
        raise InputFileError(f"{p}: could not be read as Parquet ({exc})") from None
    if t.num_rows == 0:
        raise InputFileError(f"{p}: the Parquet data has no rows")
    lab = label if label is not None else t.column_names[-1]
    return Table(t, lab, p.name, {"path": str(p), "sha256": file_sha256(p), "format": "parquet"})


def stream_parquet(path: str | Path, batch_rows: int = 65536, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of ``batch_rows`` rows, read row group by row group (files in sorted order)."""
    p = Path(path)
    ds = _dataset(p)
    batches = ds.to_batches(columns=columns, batch_size=batch_rows, batch_readahead=2, fragment_readahead=1)
    yield from rebatch(batches, batch_rows)


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
