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

The functions here take ``rank`` and ``world`` and do no communication; the collective
parts (line and row offsets, a common schema) are in ``load_shard``, which uses
``logitkit._util.dist`` (a no-op in one process).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from logitkit._util.errors import InputFileError
from logitkit.loaddata.delimited import check_file, csv_options, rebatch, translate_error

log = logging.getLogger(__name__)

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
        return pacsv.read_csv(pa.py_buffer(buf), read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise translate_error(exc, path, read, parse, convert, chunk=buf, first_line=first_line) from None


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
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(check_file(path)).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    return list(range(meta.num_row_groups))[rank::world], np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def read_row_groups(path: str | Path, groups: list[int]) -> pa.Table:
    """Only the row groups ``groups`` of one Parquet file, in that order."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    if not groups:
        return f.schema_arrow.empty_table()
    return f.read_row_groups(groups)


def parquet_files(path: str | Path) -> tuple[list[str], pa.Schema]:
    """The files of a Parquet directory in the data set's order, and its schema."""
    import pyarrow.dataset as pads

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
    import pyarrow.parquet as pq

    return np.array([pq.ParquetFile(f).metadata.num_rows for f in files], dtype=np.int64)


def read_files(files: list[str], schema: pa.Schema) -> pa.Table:
    """Parquet files read as one data set with ``schema`` (that of the whole directory)."""
    import pyarrow.dataset as pads

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


# ------------------------------------------------------------------ the data section, sharded
_WHOLE = ("vw",)  # formats read whole by every rank (rows then dealt out)


def _offsets(count: int) -> tuple[int, int]:
    """(Σ counts of the ranks before this one, Σ of all) by one all-gather."""
    from logitkit._util import dist

    counts = dist.all_gather_object(int(count))
    return int(sum(counts[: dist.rank()])), int(sum(counts))


def _my_bytes(p: Path, header: bool) -> tuple[bytes, int, int, int, int]:
    """This rank's byte range of a text file: (bytes, start, end, its lines, the lines of
    the ranks before it)."""
    from logitkit._util import dist

    start, end = byte_range(p, dist.rank(), dist.world_size(), header)
    with open(p, "rb") as f:
        f.seek(start)
        buf = f.read(end - start)
    n_lines = buf.count(b"\n") + (1 if buf and not buf.endswith(b"\n") else 0)
    line0, _ = _offsets(n_lines)
    return buf, start, end, n_lines, line0


def _read_text(p: Path, fmt: str, data) -> tuple[pa.Table, np.ndarray, int, Part, str | None]:
    """This rank's lines of one CSV/TSV/Criteo file, with a schema common to every rank."""
    from logitkit._util import dist
    from logitkit.loaddata.criteo import CRITEO_COLUMNS

    check_file(p)
    if fmt == "criteo":
        names, delim, header, label = CRITEO_COLUMNS, "\t", False, "label"
        fixed = {"label": pa.int8(), **{c: pa.int64() for c in CRITEO_COLUMNS[1:14]},
                 **{c: pa.string() for c in CRITEO_COLUMNS[14:]}}
        opts = dict(quoting=False, check_utf8=False)
    else:
        delim = data.delimiter if data.delimiter is not None else ("\t" if fmt == "tsv" else ",")  # as load_file
        header = data.header
        names = header_names(p, delim, header, data.column_names)
        fixed, label, opts = None, None, {}
    buf, start, end, n_lines, line0 = _my_bytes(p, header)
    first = (2 if header else 1) + line0
    t = parse_range(buf, p, names, first, delim, fixed, **opts)
    if fixed is None:  # one type per column on every rank: re-parse the columns inferred otherwise
        common = {n: unify_types(ts) for n, ts in zip(names, zip(*dist.all_gather_object([c.type for c in t.columns])))}
        if any(common[n] != t.column(n).type and not pa.types.is_null(t.column(n).type) for n in names):
            t = parse_range(buf, p, names, first, delim, common, **opts)
        t = t.cast(pa.schema([(n, common[n]) for n in names]))
    row0, total = _offsets(t.num_rows)
    if total == 0:
        raise InputFileError(f"{p}: the file has a header but no rows; give at least one row")
    part = Part(str(p), "bytes", t.num_rows, bytes=[start, end],
                lines=[first, first + n_lines - 1] if n_lines else None)
    return t, row0 + np.arange(t.num_rows, dtype=np.int64), (2 if header else 1), part, label


def _read_svmlight(p: Path, data) -> tuple[pa.Table, np.ndarray, Part]:
    """This rank's lines of an svmlight file, as the dense columns ``load_svmlight`` gives
    for the whole file: the index base (0 if any rank saw index 0), the width (the largest
    index of any rank, or ``data.n_features``) and a ``qid`` column (if any rank saw one)
    agreed by one all-gather."""
    from logitkit._util import dist
    from logitkit.loaddata import svmlight

    check_file(p)
    buf, start, end, n_lines, line0 = _my_bytes(p, header=False)
    lines = parse_range(buf, p, ["line"], 1 + line0, "\x1f", {"line": pa.string()}, quoting=False,
                        ignore_empty_lines=False).column("line").combine_chunks()
    y, off, idx, val, qid = svmlight._parse(lines, 1 + line0, p)
    seen = dist.all_gather_object((int(idx.min()) if len(idx) else None, int(idx.max()) if len(idx) else None,
                                   qid is not None))
    lows, highs = [s[0] for s in seen if s[0] is not None], [s[1] for s in seen if s[1] is not None]
    lo = 0 if lows and min(lows) == 0 else 1
    d = data.n_features if data.n_features is not None else (max(highs) + 1 - lo if highs else 0)
    batch = svmlight._dense_batch(y, off, idx, val, lo, d, p)
    if any(s[2] for s in seen):
        batch = batch.append_column("qid", pa.array(qid if qid is not None else np.zeros(len(y), dtype=np.int64)))
    row0, total = _offsets(len(y))
    if total == 0:
        raise InputFileError(f"{p}: the svmlight file has no examples; give at least one 'label index:value' line")
    part = Part(str(p), "bytes", len(y), bytes=[start, end],
                lines=[1 + line0, line0 + n_lines] if n_lines else None)
    return pa.Table.from_batches([batch]), row0 + np.arange(len(y), dtype=np.int64), part


def _read_parquet(p: Path) -> tuple[pa.Table, np.ndarray, Part]:
    from logitkit._util import dist

    r, w = dist.rank(), dist.world_size()
    if p.is_dir():
        files, schema = parquet_files(p)
        starts = np.concatenate([[0], np.cumsum(file_rows(files))]).astype(np.int64)
        mine = list(range(len(files)))[r::w]
        t = read_files([files[i] for i in mine], schema)
        part = Part(str(p), "files", t.num_rows, files=[os.path.relpath(files[i], p) for i in mine])
    else:
        mine, starts = parquet_row_groups(p, r, w)
        t = read_row_groups(p, mine)
        part = Part(str(p), "row_groups", t.num_rows, row_groups=mine)
    if int(starts[-1]) == 0:
        raise InputFileError(f"{p}: the Parquet data has no rows")
    rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in mine] or [np.zeros(0)]).astype(np.int64)
    return t, rows, part


def read_part(path: str | Path, data, base_dir: Path):
    """This rank's part of one input file as a ``Table`` whose ``source_rows`` are the rows'
    indices in the whole file (so errors name the file's line), and what was read (``Part``)."""
    from logitkit._util import dist
    from logitkit._util.errors import ConfigError
    from logitkit.loaddata.delimited import file_sha256
    from logitkit.loaddata.files import check_fixed_label, guess_format, load_file
    from logitkit.loaddata.table import Table

    p = Path(path)
    if not p.is_absolute():
        p = Path(base_dir) / p
    fmt = guess_format(p, data.format)
    if fmt in _WHOLE or (fmt != "parquet" and is_compressed(p)):
        whole = load_file(p, data.format, data.label, data.header, data.column_names, data.delimiter, data.n_features)
        lo, hi = dist.shard_range(whole.n_rows)
        part = Part(str(p), "rows", hi - lo, row_range=[lo, hi],
                    extra={"note": "read whole by every rank (compressed or VW), rows dealt out"})
        return whole.take(np.arange(lo, hi)), part
    if fmt in ("svmlight", "criteo"):
        check_fixed_label(data.label, fmt)
    if fmt == "svmlight":
        t, rows, part = _read_svmlight(p, data)
        sha = file_sha256(p) if dist.is_main() else None
        fp = {"path": str(p), "sha256": sha, "format": "svmlight"}
        return Table(t, "label", p.name, fp, None, rows), part
    if fmt == "parquet":
        t, rows, part = _read_parquet(p)
        label, first_line, kind = None, None, "parquet"
    else:
        t, rows, first_line, part, label = _read_text(p, fmt, data)
        kind = "criteo" if fmt == "criteo" else "csv"
    label = label or (data.label if data.label is not None else t.column_names[-1])
    sha = file_sha256(p) if dist.is_main() else None  # the run id needs it; rank 0 alone hashes
    fp = {"path": str(p), "sha256": sha, "format": kind}
    return Table(t, label, p.name, fp, first_line, rows), part


def _positive_all(table, positive_class):
    """``load_from_config``'s positive-class label, with the classes of every rank."""
    from logitkit._util import dist
    from logitkit._util.errors import DataError

    col = table.data.column(table.label)
    y = col.to_numpy(zero_copy_only=False)
    null = col.is_null().to_numpy(zero_copy_only=False)
    vals = np.unique(np.concatenate(dist.all_gather_object(np.unique(y[~null].astype(str)))))
    if str(positive_class) not in vals:
        raise DataError(f"{table.name}: data.positive_class {positive_class!r} is not a value of label column "
                        f"{table.label!r} (values: {vals.tolist()[:10]})")
    if len(vals) != 2:
        raise DataError(f"{table.name}: data.positive_class is set but label column {table.label!r} has {len(vals)} "
                        f"classes {vals.tolist()[:10]}; a binary label needs exactly two")
    yy = pa.array((y.astype(str) == str(positive_class)).astype(np.int8), mask=null)
    i = table.data.column_names.index(table.label)
    return table.with_data(table.data.set_column(i, table.label, yy))


def load_shard(data, base_dir: Path):
    """This rank's part of the ``data`` section: ``(table, test table or None, parts)``.

    The same tables ``load_from_config`` gives, restricted to this rank's rows:
    ``source_rows`` holds their indices in the whole input, the schema is common to every
    rank, the fingerprint is that of the whole file (rank 0 hashes it; other ranks hold
    None). Built-in data sets, VW files and compressed text are read whole by
    every rank and their rows dealt out (contiguous ``[lo, hi)``). ``parts``:
    ``{"train": Part, "test": Part or None}``.
    """
    from logitkit._util import dist
    from logitkit._util.errors import ConfigError, did_you_mean
    from logitkit.loaddata.config import finish_tables, load_from_config

    if data.dataset is not None:
        table, test = load_from_config(data, base_dir)
        parts = {"train": None, "test": None}
        for key, t in (("train", table), ("test", test)):
            if t is not None:
                lo, hi = dist.shard_range(t.n_rows)
                parts[key] = Part(t.fingerprint.get("path", data.dataset), "rows", hi - lo, row_range=[lo, hi],
                                  extra={"note": "read whole by every rank (built-in data set), rows dealt out"})
        if test is not None:
            test = test.take(np.arange(*parts["test"].row_range))
        return table.take(np.arange(*parts["train"].row_range)), test, parts
    if data.path is None:
        raise ConfigError("data: set either data.dataset (a built-in name) or data.path (a file)")
    table, part = read_part(data.path, data, base_dir)
    if table.label not in table.data.column_names:
        cols = table.data.column_names
        raise ConfigError(f"data.label {table.label!r} is not a column of {table.name}; columns are {cols}."
                          + did_you_mean(table.label, cols))
    split = data.split
    keep = [split.time_column, split.group_column] if split.method in ("time", "group") and not data.test_path else []
    test, test_part = read_part(data.test_path, data, base_dir) if data.test_path is not None else (None, None)
    table, test = finish_tables(table, test, data, keep, _positive_all)
    log.info("rank %d: %s, %d rows (%s)", dist.rank(), table.name, table.n_rows, part.kind)
    return table, test, {"train": part, "test": test_part}


__all__ = [
    "byte_range", "range_chunks", "count_lines", "data_start", "is_compressed", "header_names", "parse_range",
    "unify_types", "stream_range_batches", "parquet_row_groups", "read_row_groups", "parquet_files",
    "file_rows", "read_files", "Part", "read_part", "load_shard",
]
