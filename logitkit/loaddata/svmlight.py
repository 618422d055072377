"""svmlight / libsvm: ``label [qid:q] index:value ...  # comment`` per line.

Parsed with vectorised pyarrow string kernels (no Python loop per line). Features are
columns ``x<index>`` with the file's own indices (``x1 .. xd`` for one-based files);
absent entries are 0. ``read_svmlight_csr`` returns the sparse form for wide data.

Nothing is allocated by the largest index seen: a dense table takes its width from the
largest index only up to ``MAX_INFERRED_WIDTH`` columns; a wider file needs its width
declared (``n_features``, ``data.n_features`` in a config) or the sparse reader. Indices
are below 2^63 - 1.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from logitkit._util.errors import ConfigError, InputFileError, shown
from logitkit.loaddata.delimited import file_sha256, read_delimited, stream_delimited
from logitkit.loaddata.table import Table

_LINE_OPTIONS = dict(
    delimiter="\x1f", header=False, column_names=["line"], column_types={"line": pa.string()},
    quoting=False, ignore_empty_lines=False,
)
_TOKEN = r"^\d+:[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^\d+:[+-]?(inf|nan)$"
_LABEL = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
#: widest dense table whose width is taken from the largest index seen (declare wider ones)
MAX_INFERRED_WIDTH = 4096
_MAX_INDEX = 2**63 - 2  # (index + 1 is a width, an int64)


def _indices(txt: pa.Array, parent: np.ndarray, line_no: np.ndarray, path: Path) -> np.ndarray:
    """The index texts as int64; an index beyond 2^63 - 2 is an error naming its line."""
    long = np.nonzero(pc.greater_equal(pc.utf8_length(txt), 19).to_numpy(zero_copy_only=False))[0]
    for k in long:
        if int(txt[int(k)].as_py()) > _MAX_INDEX:
            raise InputFileError(
                f"{path}: line {line_no[parent[k]]}: feature index {shown(txt[int(k)].as_py())} is beyond 2^63 - 2; "
                "svmlight indices are feature numbers: fix the line"
            )
    return txt.cast(pa.int64()).to_numpy(zero_copy_only=False)


def _parse(lines: pa.Array, first_line: int, path: Path):
    """(labels (n,), row offsets (n+1,), indices, values, qid or None) of a batch of lines."""
    return _parse_lines(lines, first_line, path)[:5]


def _parse_lines(lines: pa.Array, first_line: int, path: Path):
    """``_parse``'s five and the file line of each row (n,)."""
    lines = pc.utf8_trim_whitespace(pc.replace_substring_regex(lines.fill_null(""), r"#.*$", ""))
    keep = pc.not_equal(lines, "").to_numpy(zero_copy_only=False)
    line_no = (np.arange(len(lines)) + first_line)[keep]
    lines = lines.filter(pa.array(keep))
    toks = pc.utf8_split_whitespace(lines)
    lab_txt = pc.list_element(toks, 0)
    bad = np.nonzero(~pc.match_substring_regex(lab_txt, _LABEL).to_numpy(zero_copy_only=False))[0]
    if len(bad):
        i = int(bad[0])
        raise InputFileError(f"{path}: line {line_no[i]}: label {shown(lab_txt[i].as_py())} is not a number")
    labels = lab_txt.cast(pa.float64()).to_numpy(zero_copy_only=False)
    feats = pc.list_slice(toks, 1)
    parent = pc.list_parent_indices(feats).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(feats)
    is_qid = pc.starts_with(flat, "qid:").to_numpy(zero_copy_only=False)
    qid = None
    if is_qid.any():
        ok = pc.match_substring_regex(flat.filter(pa.array(is_qid)), r"^qid:\d{1,18}$").to_numpy(zero_copy_only=False)
        if not ok.all():
            k = int(np.nonzero(is_qid)[0][np.nonzero(~ok)[0][0]])
            raise InputFileError(f"{path}: line {line_no[parent[k]]}: {shown(flat[k].as_py())} is not qid:<number>")
        qid = np.zeros(len(lines), dtype=np.int64)
        qid[parent[is_qid]] = pc.utf8_slice_codeunits(flat.filter(pa.array(is_qid)), 4).cast(pa.int64()).to_numpy()
        flat, parent = flat.filter(pa.array(~is_qid)), parent[~is_qid]
    ok = pc.match_substring_regex(flat, _TOKEN).to_numpy(zero_copy_only=False)
    if not ok.all():
        k = int(np.nonzero(~ok)[0][0])
        raise InputFileError(
            f"{path}: line {line_no[parent[k]]}: {shown(flat[k].as_py())} is not index:value; "
            "svmlight lines read 'label index:value index:value ...'"
        )
    parts = pc.split_pattern(flat, ":", max_splits=1)
    idx = _indices(pc.list_element(parts, 0), parent, line_no, path)
    val = pc.list_element(parts, 1).cast(pa.float64()).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(parent, minlength=len(lines)))])
    return labels, offsets, idx, val, qid, line_no


def read_svmlight_csr(path: str | Path, n_features: int | None = None) -> tuple[sp.csr_matrix, np.ndarray]:
    """(X as CSR (n, n_features) with columns = file indices from 0, labels (n,)). Duplicates add up.

    Memory is that of the entries (and n + 1 row offsets), whatever the largest index."""
    p = Path(path)
    t = read_delimited(p, **_LINE_OPTIONS)
    y, off, idx, val, _ = _parse(t.column("line").combine_chunks(), 1, p)
    d = int(idx.max()) + 1 if len(idx) else 0
    if n_features is not None:
        if d > n_features:
            raise ConfigError(f"{p}: feature index {d - 1} is beyond data.n_features={n_features}")
        d = n_features
    # (writable arrays: Arrow's are read-only, and torch warns on tensors made of read-only memory)
    X = sp.csr_matrix((np.require(val, requirements="W"), np.require(idx, requirements="W"), off), shape=(len(y), d))
    X.sum_duplicates()
    return X, y


def _width(idx: np.ndarray, off: np.ndarray, lines: np.ndarray, lo: int, n_features: int | None, path: Path) -> int:
    """Columns of the dense table: ``n_features``, else the largest index seen (up to
    ``MAX_INFERRED_WIDTH``; beyond it an error naming the line, the width and the options)."""
    if n_features is not None:
        return int(n_features)
    if not len(idx):
        return 0
    index, line = largest_index(idx, off, lines)
    d = index + 1 - lo
    if d > MAX_INFERRED_WIDTH:
        raise too_wide(path, line, index, d, len(off) - 1)
    return d


def largest_index(idx: np.ndarray, off: np.ndarray, lines: np.ndarray) -> tuple[int, int]:
    """(the largest feature index of a parsed batch, the file line holding it); idx not empty."""
    k = int(np.argmax(idx))
    return int(idx[k]), int(lines[int(np.searchsorted(off, k, side="right") - 1)])


def too_wide(path: Path, line: int, index: int, d: int, n: int) -> InputFileError:
    """The error for a dense table of ``n`` rows that the largest ``index`` (at ``line``)
    would make ``d`` columns wide, above ``MAX_INFERRED_WIDTH``."""
    return InputFileError(
        f"{path}: line {line}: feature index {index} would make the dense table {d:,} columns "
        f"wide ({n:,} rows x {d:,} x 8 bytes = {_size(n * d * 8)}); widths above "
        f"{MAX_INFERRED_WIDTH:,} are not taken from the data: declare it with data.n_features (n_features=) "
        "if the data really is that wide, or read it sparse with logitkit.loaddata.read_svmlight_csr"
    )


def _size(nbytes: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB", "EB"):
        if nbytes < 1000 or unit == "EB":
            return f"{nbytes:,.0f} {unit}" if unit == "bytes" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1000
    return ""


def _dense_batch(y, off, idx, val, lo: int, d: int, path: Path) -> pa.RecordBatch:
    n = len(y)
    if len(idx) and (idx.min() < lo or idx.max() >= lo + d):
        raise ConfigError(
            f"{path}: feature index {int(idx.max())} is outside x{lo}..x{lo + d - 1}; set data.n_features"
        )
    try:
        X = np.zeros((n, d), order="F")  # (columns contiguous: each becomes an Arrow array without a copy)
    except MemoryError:
        raise InputFileError(
            f"{path}: a dense table of {n:,} rows x {d:,} columns ({_size(n * d * 8)}) does not fit in memory; "
            "lower data.n_features, or read it sparse with logitkit.loaddata.read_svmlight_csr"
        ) from None
    rows = np.repeat(np.arange(n), np.diff(off))
    np.add.at(X, (rows, idx - lo), val)
    cols = [pa.array(y)] + [pa.array(X[:, j]) for j in range(d)]
    return pa.record_batch(cols, names=["label"] + [f"x{lo + j}" for j in range(d)])


def load_svmlight(path: str | Path, n_features: int | None = None, zero_based: bool | str = "auto") -> Table:
    """An svmlight file as a dense ``Table`` (columns ``label``, ``x<i>``).

    ``zero_based="auto"``: one-based (``x1..xd``) unless some index is 0.
    ``n_features``: number of feature columns (default: the largest index seen, up to
    ``MAX_INFERRED_WIDTH``).
    """
    p = Path(path)
    t = read_delimited(p, **_LINE_OPTIONS)
    y, off, idx, val, qid, lines = _parse_lines(t.column("line").combine_chunks(), 1, p)
    lo = 0 if (zero_based is True or (zero_based == "auto" and len(idx) and idx.min() == 0)) else 1
    d = _width(idx, off, lines, lo, n_features, p)
    batch = _dense_batch(y, off, idx, val, lo, d, p)
    if qid is not None:
        batch = batch.append_column("qid", pa.array(qid))
    fp = {"path": str(p), "sha256": file_sha256(p), "format": "svmlight"}
    first = 1 if np.array_equal(lines, np.arange(1, len(lines) + 1)) else None  # (rows are lines: no blank ones)
    return Table(pa.Table.from_batches([batch]), "label", p.name, fp, first_line=first)


def stream_svmlight(
    path: str | Path, batch_rows: int = 65536, n_features: int | None = None, zero_based: bool = False
) -> Iterator[pa.RecordBatch]:
    """Dense record batches of ``batch_rows`` lines; ``n_features`` must be known up front.

    ``n_features=None`` reads the first batch's largest index and raises (naming the
    line) if a later line goes beyond it.
    """
    p = Path(path)
    first = 1
    lo = 0 if zero_based else 1
    d = n_features
    for b in stream_delimited(p, batch_rows, **_LINE_OPTIONS):
        y, off, idx, val, _, lines = _parse_lines(b.column(0), first, p)
        first += b.num_rows
        if d is None:
            d = _width(idx, off, lines, lo, None, p)
        if len(y):
            yield _dense_batch(y, off, idx, val, lo, d, p)


def write_svmlight(table: Table | pa.Table, path: str | Path, label: str = "label", zero_based: bool = False) -> Path:
    """Write features (every column but ``label``, in order) as svmlight; zeros and missing values are omitted."""
    data = table.data if isinstance(table, Table) else table
    data = data.combine_chunks().to_batches()[0] if data.num_rows else data
    feats = [c for c in data.schema.names if c != label]
    lo = 0 if zero_based else 1
    y = data.column(label).cast(pa.float64())
    pieces = []
    for j, c in enumerate(feats):
        v = data.column(c).cast(pa.float64())
        txt = pc.binary_join_element_wise(f"{j + lo}:", v.cast(pa.string()), "")
        pieces.append(pc.if_else(pc.fill_null(pc.not_equal(v, 0.0), False), txt, None))
    lab = pc.cast(y, pa.string())
    lab = pc.replace_substring_regex(lab, r"\.0$", "")
    line = pc.binary_join_element_wise(lab, *pieces, "\n", " ", null_handling="skip")
    line = pc.replace_substring(line, " \n", "\n")
    line = line.combine_chunks() if isinstance(line, pa.ChunkedArray) else line
    p = Path(path)
    with pa.OSFile(str(p), "wb") as out:
        if len(line):
            off = np.frombuffer(line.buffers()[1], np.int32)[line.offset : line.offset + len(line) + 1]
            out.write(line.buffers()[2][int(off[0]) : int(off[-1])])
    return p
