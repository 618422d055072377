"""One rank's part of an input: a byte range of a text file, Parquet row groups, files.

Rank ``r`` of ``W`` reads

* one text file (CSV/TSV, Criteo, svmlight): the lines whose first byte lies in
  ``[s0 + (size − s0)·r/W, s0 + (size − s0)·(r + 1)/W)``, ``s0`` being the first data byte
  (after the header line). Each rank finds its own boundaries by seeking there and
  scanning to the next newline, so the W ranges are contiguous, cover every line once
  and need no communication; a rank never parses another rank's lines;
* one Parquet file: row groups r, r + W, r + 2W, ... (only those are read);
* a directory of Parquet files: files r, r + W, ... in the data set's (sorted) order.

A line is one record: a quoted field holding a newline would be cut (such files must be
read whole). Compressed text cannot be cut by bytes.

The functions here take ``rank`` and ``world`` where they need them and do no
communication: a rank finds its part of a file alone. What the ranks must agree on (the
line and row offsets of each part, one schema, the width of an svmlight file) is in
``loaddata.parts``, which communicates through a ``Collective``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from logitkit._util.errors import InputFileError
from logitkit.loaddata.delimited import check_file, csv_options, rebatch, translate_error

_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")
_SCAN = 1 << 16


# ------------------------------------------------------------------ byte ranges of one text file
def is_compressed(path: str | Path) -> bool:
    return any(s.lower() in _COMPRESSED for s in Path(path).suffixes)


def data_start(path: str | Path, header: bool) -> int:
    """Offset of the first data byte: after the first line when ``header``, else 0."""
    if not header:
        return 0
    return _next_line(Path(path), 0)


def _next_line(path: Path, pos: int) -> int:
    """The offset just after the first newline at or after ``pos`` (the file size if none)."""
    with open(path, "rb") as f:
        f.seek(pos)
        while True:
            block = f.read(_SCAN)
            if not block:
                return f.tell()
            k = block.find(b"\n")
            if k >= 0:
                return pos + k + 1
            pos += len(block)


def _line_start(path: Path, pos: int, s0: int) -> int:
    """The first line start at or after ``pos`` (a line starts at ``s0`` or after a newline)."""
    return s0 if pos <= s0 else _next_line(path, pos - 1)


def byte_range(path: str | Path, rank: int, world: int, header: bool = False) -> tuple[int, int]:
    """Rank ``rank``'s bytes ``[start, end)`` of a text file: whole lines, contiguous over ranks."""
    p = Path(path)
    size = p.stat().st_size
    s0 = data_start(p, header)
    a = s0 + (size - s0) * rank // world
    b = s0 + (size - s0) * (rank + 1) // world
    start = _line_start(p, a, s0)
    end = size if rank == world - 1 else _line_start(p, b, s0)
    return min(start, end), end


def range_chunks(path: str | Path, start: int, end: int, chunk_bytes: int = 4 << 20) -> Iterator[bytes]:
    """The bytes ``[start, end)`` in chunks of whole lines (each cut after a newline)."""
    with open(path, "rb") as f:
        f.seek(start)
        left, rest = end - start, b""
        while left > 0:
            data = f.read(min(chunk_bytes, left))
            if not data:
                break
            left -= len(data)
            buf = rest + data if rest else data
            cut = buf.rfind(b"\n") + 1 if left > 0 else len(buf)
            if cut:
                yield buf[:cut]
            rest = buf[cut:]
        if rest:
            yield rest


def count_lines(path: str | Path, start: int, end: int) -> int:
    """Lines in ``[start, end)`` (a last line without a newline counts)."""
    n, last = 0, b"\n"
    for chunk in range_chunks(path, start, end):
        n += chunk.count(b"\n")
        last = chunk[-1:]
    return n + (last != b"\n")


# ------------------------------------------------------------------ parsing a range
def header_names(path: str | Path, delimiter: str, header: bool, column_names: list[str] | None) -> list[str]:
    """Column names as ``load_csv`` gives them: ``column_names``, the header line, or c0, c1, ..."""
    if column_names is not None:
        return list(column_names)
    p = check_file(path)
    first = next(range_chunks(p, 0, _next_line(p, 0)), b"")
    if not first.strip():
        raise InputFileError(f"{p}: the file is empty; give a file with at least one row")
    ro = pacsv.ReadOptions(autogenerate_column_names=not header)
    t = pacsv.read_csv(pa.py_buffer(first), read_options=ro, parse_options=pacsv.ParseOptions(delimiter=delimiter))
    return list(t.column_names) if header else [f"c{j}" for j in range(t.num_columns)]


def parse_range(buf: bytes, path: Path, names: list[str], first_line: int, delimiter: str = ",",
                column_types: dict | None = None, quoting: bool = True, check_utf8: bool = True,
                ignore_empty_lines: bool = True) -> pa.Table:
    """Lines of a delimited file (no header) as a table with columns ``names``.

    ``first_line``: the file line of ``buf``'s first line, for error messages. Types are
    inferred as ``load_csv`` infers them unless ``column_types`` fixes them.
    """
    read, parse, convert = csv_options(delimiter=delimiter, header=False, column_names=names,
                                       column_types=column_types, quoting=quoting, check_utf8=check_utf8,
                                       ignore_empty_lines=ignore_empty_lines)
    if not buf.strip():
        types = column_types or {}
        return pa.table({n: pa.array([], type=types.get(n, pa.null())) for n in names})
    try:
        t = pacsv.read_csv(pa.py_buffer(buf), read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        bad = not_utf8(buf, path, first_line) if check_utf8 and "utf8" in str(exc).lower() else None
        raise (bad or translate_error(exc, path, read, parse, convert, chunk=buf, first_line=first_line)) from None
    if check_utf8 and any(pa.types.is_binary(c.type) for c in t.columns):  # text that is not UTF-8 reads as bytes
        bad = not_utf8(buf, path, first_line)
        if bad is not None:
            raise bad
    return t


def not_utf8(buf: bytes, path: Path, first_line: int) -> InputFileError | None:
    """The error naming the file line and byte of ``buf``'s first byte that is not UTF-8
    (``first_line``: the file line of ``buf``'s first line), or None when all of it is."""
    try:
        buf.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        start = buf.rfind(b"\n", 0, exc.start) + 1
        line = first_line + buf.count(b"\n", 0, exc.start)
        return InputFileError(f"{path}: line {line}, byte {exc.start - start + 1}: {buf[exc.start:exc.end].hex(' ')} "
                              "is not UTF-8 text; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)")


def unify_types(types: list[pa.DataType]) -> pa.DataType:
    """The type one parse of all the rows would infer from per-part inferences:
    nulls give way; int and float give float64; anything else mixed is string."""
    seen = [t for t in types if not pa.types.is_null(t)]
    if not seen:
        return pa.null()
    if all(t == seen[0] for t in seen):
        return seen[0]
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in seen):
        return pa.float64()
    return pa.string()


def stream_range_batches(path: str | Path, start: int, end: int, names: list[str], batch_rows: int,
                         column_types: dict, first_line: int = 1, delimiter: str = "\t", quoting: bool = False,
                         check_utf8: bool = False, chunk_bytes: int = 4 << 20) -> Iterator[pa.RecordBatch]:
    """Record batches of ``batch_rows`` rows of the lines in ``[start, end)`` (quote-free formats:
    Criteo); parses ``chunk_bytes`` at a time, never the other ranks' lines."""
    p = Path(path)

    def tables() -> Iterator[pa.Table]:
        line = first_line
        for buf in range_chunks(p, start, end, chunk_bytes):
            yield parse_range(buf, p, names, line, delimiter, column_types, quoting, check_utf8)
            line += buf.count(b"\n")

    yield from rebatch((b for t in tables() for b in t.to_batches()), batch_rows)


# ------------------------------------------------------------------ Parquet
def parquet_row_groups(path: str | Path, rank: int, world: int) -> tuple[list[int], np.ndarray]:
    """(this rank's row groups r, r + W, ..., the first global row of every row group (+ total))."""
    meta = pq.ParquetFile(check_file(path)).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    return list(range(meta.num_row_groups))[rank::world], np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def read_row_groups(path: str | Path, groups: list[int]) -> pa.Table:
    """Only the row groups ``groups`` of one Parquet file, in that order."""
    f = pq.ParquetFile(path)
    if not groups:
        return f.schema_arrow.empty_table()
    return f.read_row_groups(groups)


def parquet_files(path: str | Path) -> tuple[list[str], pa.Schema]:
    """The files of a Parquet directory in the data set's order, and its schema."""
    p = check_file(path)
    try:
        ds = pads.dataset(str(p), format="parquet")
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputFileError(f"{p}: not a readable Parquet file or directory ({exc})") from None
    if not ds.files:
        raise InputFileError(f"{p}: the directory holds no Parquet files")
    return list(ds.files), ds.schema


def file_rows(files: list[str]) -> np.ndarray:
    """Rows of each Parquet file, from its footer alone."""
    return np.array([pq.ParquetFile(f).metadata.num_rows for f in files], dtype=np.int64)


def read_files(files: list[str], schema: pa.Schema) -> pa.Table:
    """Parquet files read as one data set with ``schema`` (that of the whole directory)."""
    if not files:
        return schema.empty_table()
    return pads.dataset(files, schema=schema, format="parquet").to_table()


# ------------------------------------------------------------------ what a rank read
@dataclass
class Part:
    """What one rank read of one input, for the run record (``describe``)."""

    source: str
    kind: str                       # "bytes" | "row_groups" | "files" | "rows"
    rows: int = 0
    bytes: list[int] | None = None  # [start, end)
    lines: list[int] | None = None  # [first, last] file lines, 1-based (empty range: None)
    row_groups: list[int] | None = None
    files: list[str] | None = None
    row_range: list[int] | None = None  # [lo, hi) global rows (built-in data sets, whole reads)
    extra: dict = field(default_factory=dict)

    def describe(self) -> dict:
        d = {"source": self.source, "read": self.kind, "rows": int(self.rows)}
        for k in ("bytes", "lines", "row_groups", "files", "row_range"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        d.update(self.extra)
        return d


__all__ = [
    "byte_range", "range_chunks", "count_lines", "data_start", "is_compressed", "header_names", "parse_range",
    "unify_types", "stream_range_batches", "parquet_row_groups", "read_row_groups", "parquet_files",
    "file_rows", "read_files", "Part",
]
