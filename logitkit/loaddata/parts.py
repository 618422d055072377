"""``read_part``: one rank's part of one input file, as a ``Table``, agreed with the other
ranks of the job through a ``Collective``.

A rank cuts its part alone (``loaddata.shard``: a byte range of a text file, Parquet
row groups or files) and parses only that. What the parts must share goes through the
collective ``coll`` handed in, each by one all-gather of a few numbers:

- the line and row offsets of each part (so a row knows its index in the whole input
  and an error names the file's line): the counts of the ranks before it;
- one schema for a CSV/TSV file (a column that reads as int on one rank and as float on
  another is float64 everywhere, as one parse of the whole file infers);
- an svmlight file's index base, width and ``qid`` column.

In one process (``coll`` a ``Local``, what ``collective.current()`` gives outside
``torchrun``) every exchange is the identity and the part is the
whole file. The sha256 of a file is computed by rank 0 alone (other ranks hold None).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from logitkit._util.collective import Collective, current
from logitkit._util.dist import shard_range
from logitkit._util.errors import InputFileError
from logitkit.loaddata import parquet, svmlight
from logitkit.loaddata.criteo import CRITEO_COLUMNS, check_values
from logitkit.loaddata.delimited import check_file, file_sha256
from logitkit.loaddata.files import check_fixed_label, guess_format, load_file
from logitkit.loaddata.shard import (Part, byte_range, file_rows, header_names, is_compressed, parquet_files,
                                     parquet_row_groups, parse_range, read_files, read_row_groups, unify_types)
from logitkit.loaddata.table import Table

_WHOLE = ("vw",)  # formats read whole by every rank (rows then dealt out)
_CRITEO_TYPES = {"label": pa.int8(), **{c: pa.int64() for c in CRITEO_COLUMNS[1:14]},
                 **{c: pa.string() for c in CRITEO_COLUMNS[14:]}}


def offsets(count: int, coll: Collective) -> tuple[int, int]:
    """(Σ ``count`` of the ranks before this one, Σ of all ranks) by one all-gather."""
    counts = coll.all_gather(int(count))
    return int(sum(counts[: coll.rank])), int(sum(counts))


def _my_bytes(p: Path, header: bool, coll: Collective) -> tuple[bytes, int, int, int, int]:
    """This rank's byte range of a text file: (bytes, start, end, its lines, the lines of
    the ranks before it)."""
    start, end = byte_range(p, coll.rank, coll.world_size, header)
    with open(p, "rb") as f:
        f.seek(start)
        buf = f.read(end - start)
    n_lines = buf.count(b"\n") + (1 if buf and not buf.endswith(b"\n") else 0)
    line0, _ = offsets(n_lines, coll)
    return buf, start, end, n_lines, line0


def _read_text(p: Path, fmt: str, data, coll: Collective) -> tuple[pa.Table, np.ndarray, int, Part, str | None]:
    """This rank's lines of one CSV/TSV/Criteo file, with a schema common to every rank."""
    check_file(p)
    if fmt == "criteo":
        names, delim, header, label = CRITEO_COLUMNS, "\t", False, "label"
        fixed, opts = _CRITEO_TYPES, dict(quoting=False, check_utf8=False)
    else:
        delim = data.delimiter if data.delimiter is not None else ("\t" if fmt == "tsv" else ",")  # as load_file
        header = data.header
        names = header_names(p, delim, header, data.column_names)
        fixed, label, opts = None, None, {}
    buf, start, end, n_lines, line0 = _my_bytes(p, header, coll)
    first = (2 if header else 1) + line0
    t = parse_range(buf, p, names, first, delim, fixed, **opts)
    if fmt == "criteo":  # (a label other than 0/1, a count beyond 2^53: the line, as load_criteo says)
        check_values(t, p, first)
    if fixed is None:  # one type per column on every rank: re-parse the columns inferred otherwise
        common = {n: unify_types(ts) for n, ts in zip(names, zip(*coll.all_gather([c.type for c in t.columns])))}
        if any(common[n] != t.column(n).type and not pa.types.is_null(t.column(n).type) for n in names):
            t = parse_range(buf, p, names, first, delim, common, **opts)
        t = t.cast(pa.schema([(n, common[n]) for n in names]))
    row0, total = offsets(t.num_rows, coll)
    if total == 0:
        raise InputFileError(f"{p}: the file has a header but no rows; give at least one row")
    part = Part(str(p), "bytes", t.num_rows, bytes=[start, end],
                lines=[first, first + n_lines - 1] if n_lines else None)
    return t, row0 + np.arange(t.num_rows, dtype=np.int64), (2 if header else 1), part, label


def _read_svmlight(p: Path, data, coll: Collective) -> tuple[pa.Table, np.ndarray, Part]:
    """This rank's lines of an svmlight file, as the dense columns ``load_svmlight`` gives
    for the whole file: the index base (0 if any rank saw index 0), the width (the largest
    index of any rank, or ``data.n_features``) and a ``qid`` column (if any rank saw one)
    agreed by one all-gather."""
    check_file(p)
    buf, start, end, n_lines, line0 = _my_bytes(p, False, coll)
    lines = parse_range(buf, p, ["line"], 1 + line0, "\x1f", {"line": pa.string()}, quoting=False,
                        ignore_empty_lines=False).column("line").combine_chunks()
    y, off, idx, val, qid, line_of = svmlight._parse_lines(lines, 1 + line0, p)
    seen = coll.all_gather((int(idx.min()) if len(idx) else None,
                            svmlight.largest_index(idx, off, line_of) if len(idx) else None, qid is not None, len(y)))
    lows, highs = [s[0] for s in seen if s[0] is not None], [s[1] for s in seen if s[1] is not None]
    lo = 0 if lows and min(lows) == 0 else 1
    top = max(highs, key=lambda h: (h[0], -h[1])) if highs else None  # (the largest index, its first line)
    d = data.n_features if data.n_features is not None else (top[0] + 1 - lo if top else 0)
    if data.n_features is None and d > svmlight.MAX_INFERRED_WIDTH:  # (every rank: the same error)
        index, line = top
        raise svmlight.too_wide(p, line, index, d, sum(s[3] for s in seen))
    batch = svmlight._dense_batch(y, off, idx, val, lo, d, p)
    if any(s[2] for s in seen):
        batch = batch.append_column("qid", pa.array(qid if qid is not None else np.zeros(len(y), dtype=np.int64)))
    row0, total = offsets(len(y), coll)
    if total == 0:
        raise InputFileError(f"{p}: the svmlight file has no examples; give at least one 'label index:value' line")
    part = Part(str(p), "bytes", len(y), bytes=[start, end],
                lines=[1 + line0, line0 + n_lines] if n_lines else None)
    return pa.Table.from_batches([batch]), row0 + np.arange(len(y), dtype=np.int64), part


def _read_parquet(p: Path, coll: Collective) -> tuple[pa.Table, np.ndarray, Part]:
    """Files r, r + W, ... of a Parquet directory, or row groups r, r + W, ... of one file;
    every row's index comes from the footers alone (no communication)."""
    r, w = coll.rank, coll.world_size
    try:  # (a damaged file, a nested column: one line naming it, as load_parquet says)
        if p.is_dir():
            files, schema = parquet_files(p)
            parquet.check_schema(schema, p)
            starts = np.concatenate([[0], np.cumsum(file_rows(files))]).astype(np.int64)
            mine = list(range(len(files)))[r::w]
            t = read_files([files[i] for i in mine], schema)
            part = Part(str(p), "files", t.num_rows, files=[os.path.relpath(files[i], p) for i in mine])
        else:
            check_file(p)
            mine, starts = parquet_row_groups(p, r, w)
            t = read_row_groups(p, mine)
            parquet.check_schema(t.schema, p)
            part = Part(str(p), "row_groups", t.num_rows, row_groups=mine)
    except parquet.DECODE_ERRORS as exc:
        if isinstance(exc, InputFileError):
            raise
        raise parquet.damaged(p, exc) from None
    t = parquet.as_text(t, p)
    if int(starts[-1]) == 0:
        raise InputFileError(f"{p}: the Parquet data has no rows")
    rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in mine] or [np.zeros(0)]).astype(np.int64)
    return t, rows, part


def read_part(path: str | Path, data, base_dir: Path, coll: Collective | None = None) -> tuple[Table, Part]:
    """This rank's part of one input file as a ``Table`` whose ``source_rows`` are the rows'
    indices in the whole file (so errors name the file's line), and what was read (``Part``).
    VW and compressed text are read whole by every rank and their rows dealt out. ``coll``:
    the job's ranks (default: this process's, ``collective.current()``)."""
    coll = coll if coll is not None else current()
    p = Path(path)
    if not p.is_absolute():
        p = Path(base_dir) / p
    fmt = guess_format(p, data.format)
    if fmt in _WHOLE or (fmt != "parquet" and is_compressed(p)):
        whole = load_file(p, data.format, data.label, data.header, data.column_names, data.delimiter, data.n_features)
        lo, hi = shard_range(whole.n_rows, coll.rank, coll.world_size)
        part = Part(str(p), "rows", hi - lo, row_range=[lo, hi],
                    extra={"note": "read whole by every rank (compressed or VW), rows dealt out"})
        return whole.take(np.arange(lo, hi)), part
    if fmt in ("svmlight", "criteo"):
        check_fixed_label(data.label, fmt)
    if fmt == "svmlight":
        t, rows, part = _read_svmlight(p, data, coll)
        fp = {"path": str(p), "sha256": file_sha256(p) if coll.is_main else None, "format": "svmlight"}
        return Table(t, "label", p.name, fp, None, rows), part
    if fmt == "parquet":
        t, rows, part = _read_parquet(p, coll)
        label, first_line, kind = None, None, "parquet"
    else:
        t, rows, first_line, part, label = _read_text(p, fmt, data, coll)
        kind = "criteo" if fmt == "criteo" else "csv"
    label = label or (data.label if data.label is not None else t.column_names[-1])
    sha = file_sha256(p) if coll.is_main else None  # the run id needs it; rank 0 alone hashes
    fp = {"path": str(p), "sha256": sha, "format": kind}
    return Table(t, label, p.name, fp, first_line, rows), part


__all__ = ["read_part", "offsets"]
