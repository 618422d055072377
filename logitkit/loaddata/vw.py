"""Vowpal Wabbit text format, read and written with vectorised pyarrow string kernels.

A line is ``label [importance] ['tag] |ns feat[:value] ... |ns2 ...``. ``|`` followed by
a space opens the default namespace (read back as ``" "``). A feature without
``:value`` has value 1. A namespace may carry a scale (``|ns:2.0``), which multiplies
its values. Multi-line examples are not supported.

``load_vw`` gives a ``Table`` with columns ``label`` (float64, null when absent),
``weight`` (float64, 1 when absent), ``tag`` (string), and three list columns with one
entry per feature: ``namespace``, ``feature`` (names) and ``value`` (float64).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logitkit._util.errors import InputFileError, shown
from logitkit.loaddata.delimited import file_sha256, read_delimited, stream_delimited
from logitkit.loaddata.table import Table
from logitkit.loaddata.tokens import N_CODES, code_of_id, log_bucket_ids

VW_COLUMNS = ["label", "weight", "tag", "namespace", "feature", "value"]
_LINE_OPTIONS = dict(
    delimiter="\x1f",
    header=False,
    column_names=["line"],
    column_types={"line": pa.string()},
    quoting=False,
    ignore_empty_lines=False,
)


def _float_or_error(arr: pa.Array, what: str, lines: np.ndarray, path: Path) -> pa.Array:
    ok = pc.match_substring_regex(arr, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$")
    ok = pc.or_kleene(ok, pc.is_null(arr))
    bad = np.nonzero(~ok.to_numpy(zero_copy_only=False))[0]
    if len(bad):
        i = int(bad[0])
        raise InputFileError(
            f"{path}: line {int(lines[i])}: {what} {shown(arr[i].as_py())} is not a number; "
            "VW lines read 'label [importance] [\\'tag] |namespace feature[:value] ...'"
        )
    return arr.cast(pa.float64())


def _nth(lists: pa.Array, k: int) -> pa.Array:
    """Element ``k`` of every list, null where a list is shorter (``list_element`` would raise)."""
    s = pc.list_slice(lists, k, k + 1)
    vals = pc.list_flatten(s)
    parents = pc.list_parent_indices(s).to_numpy(zero_copy_only=False)
    pos = np.full(len(lists), -1, dtype=np.int64)
    pos[parents] = np.arange(len(parents))
    return vals.take(pa.array(pos, mask=pos < 0))


def _blank_null(a: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(a, ""), None, a)


def _parse(lines: pa.Array, first_line: int, path: Path) -> pa.RecordBatch:
    """Parse a batch of VW lines (string array, empty lines allowed) into a record batch."""
    lines = lines.fill_null("")
    keep = pc.not_equal(pc.utf8_trim_whitespace(lines), "")
    line_no = (np.arange(len(lines)) + first_line)[keep.to_numpy(zero_copy_only=False)]
    lines = lines.filter(keep)
    n = len(lines)
    parts = pc.split_pattern(lines, "|")  # [header, seg1, seg2, ...]
    no_bar = np.nonzero(pc.list_value_length(parts).to_numpy(zero_copy_only=False) < 2)[0]
    if len(no_bar):
        raise InputFileError(
            f"{path}: line {int(line_no[no_bar[0]])} has no '|'; a VW example needs at least one "
            "namespace: 'label |features'"
        )
    header = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(_nth(parts, 0)))
    label_txt, second, third = (_blank_null(_nth(header, k)) for k in range(3))
    second_is_tag = pc.fill_null(pc.starts_with(second, "'"), False)
    weight_txt = pc.if_else(second_is_tag, None, second)
    tag_txt = pc.if_else(second_is_tag, second, third)
    tag = pc.utf8_ltrim(tag_txt, "'")
    label = _float_or_error(label_txt, "label", line_no, path)
    weight = pc.fill_null(_float_or_error(weight_txt, "importance weight", line_no, path), 1.0)

    segs = pc.list_slice(parts, 1)
    seg_row = pc.list_parent_indices(segs).to_numpy(zero_copy_only=False)
    seg = pc.list_flatten(segs)
    # the default namespace: '|' followed by whitespace; give it an explicit marker token
    seg = pc.replace_substring_regex(seg, r"^(\s)", "\x00 ")
    toks = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(seg))
    ns_tok = _nth(toks, 0)
    ns_parts = pc.split_pattern(ns_tok, ":", max_splits=1)
    ns_name = pc.replace_substring(_nth(ns_parts, 0), "\x00", " ")
    ns_scale_txt = _nth(ns_parts, 1)
    ns_scale = pc.fill_null(_float_or_error(ns_scale_txt, "namespace scale", line_no[seg_row], path), 1.0)
    feats = pc.list_slice(toks, 1)
    f_seg = pc.list_parent_indices(feats).to_numpy(zero_copy_only=False)
    f_tok = pc.list_flatten(feats)
    f_parts = pc.split_pattern(f_tok, ":", max_splits=1)
    f_name = _nth(f_parts, 0)
    f_val_txt = _nth(f_parts, 1)
    f_val_txt = pc.if_else(pc.equal(f_val_txt, ""), None, f_val_txt)
    f_row = seg_row[f_seg]
    f_val = pc.fill_null(_float_or_error(f_val_txt, "feature value", line_no[f_row], path), 1.0)
    f_val = pc.multiply(f_val, ns_scale.take(pa.array(f_seg)))
    f_ns = ns_name.take(pa.array(f_seg))
    offsets = pa.array(np.concatenate([[0], np.cumsum(np.bincount(f_row, minlength=n))]).astype(np.int32))
    return pa.record_batch(
        [
            label,
            weight,
            tag,
            pa.ListArray.from_arrays(offsets, f_ns),
            pa.ListArray.from_arrays(offsets, f_name),
            pa.ListArray.from_arrays(offsets, f_val),
        ],
        names=VW_COLUMNS,
    )


def load_vw(path: str | Path) -> Table:
    """A whole VW text file (gzip allowed) as a ``Table`` (columns ``VW_COLUMNS``, label ``label``)."""
    p = Path(path)
    t = read_delimited(p, **_LINE_OPTIONS)
    batch = _parse(t.column("line").combine_chunks(), 1, p)
    fp = {"path": str(p), "sha256": file_sha256(p), "format": "vw"}
    return Table(pa.Table.from_batches([batch]), "label", p.name, fp)


def stream_vw(path: str | Path, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
    """The file's examples as record batches of at most ``batch_rows`` lines each."""
    p = Path(path)
    first = 1
    for b in stream_delimited(p, batch_rows, **_LINE_OPTIONS):
        out = _parse(b.column(0), first, p)
        first += b.num_rows
        if out.num_rows:
            yield out


def write_vw(
    table: Table | pa.Table,
    path: str | Path,
    label: str = "label",
    namespaces: dict[str, list[str]] | None = None,
    numeric: str = "value",
    weight: str | None = None,
) -> Path:
    """Write rows as VW text; labels 0/1 (or False/True) become -1/1.

    ``namespaces=None``: one namespace per column, named after it, holding the value as
    the feature (``|C1 68fd1e64 |I1 I1:5``); a missing value omits the namespace. With
    ``namespaces={"c": [...], "n": [...]}``: features ``field=value`` (missing:
    ``field=``) grouped in those namespaces. Numeric columns are written as
    ``name:value`` (``numeric="value"``) or as their log-bucket token
    (``numeric="log_bucket"``, e.g. ``I1=L5``, as the feature hasher tokenises them).
    Whitespace, ':' and '|' inside text values are written as '_'.
    """
    data = table.data if isinstance(table, Table) else table
    data = pa.Table.from_batches([data.combine_chunks().to_batches()[0]]) if data.num_rows else data
    n = data.num_rows
    y = data.column(label).cast(pa.float64())
    lab = pc.if_else(pc.greater(y, 0), "1", "-1")
    head = [lab]
    if weight is not None:
        head.append(data.column(weight).cast(pa.string()))
    feature_cols = [c for c in data.column_names if c not in (label, weight)]
    groups = namespaces if namespaces is not None else {c: [c] for c in feature_cols}
    segments = []
    for ns, cols in groups.items():
        texts = [_feature_text(data.column(c), c, numeric, grouped=namespaces is not None) for c in cols]
        if not texts:
            continue
        # (a one-argument join drops null rows in pyarrow 26, so join only two or more)
        body = texts[0] if len(texts) == 1 else pc.binary_join_element_wise(*texts, " ", null_handling="skip")
        nonempty = pc.not_equal(body, "")
        segments.append(pc.if_else(nonempty, pc.binary_join_element_wise(f"|{ns}", body, " "), None))
    head_txt = pc.binary_join_element_wise(*head, " ")
    line = pc.binary_join_element_wise(head_txt, *segments, "\n", " ", null_handling="skip")
    line = pc.replace_substring(line, " \n", "\n")
    line = line.combine_chunks() if isinstance(line, pa.ChunkedArray) else line
    p = Path(path)
    sink = pa.CompressedOutputStream(str(p), "gzip") if p.suffix == ".gz" else pa.OSFile(str(p), "wb")
    with sink as out:
        off = np.frombuffer(line.buffers()[1], np.int32)[line.offset : line.offset + len(line) + 1]
        if len(line):
            out.write(line.buffers()[2][int(off[0]) : int(off[-1])])
    return p


def _feature_text(col: pa.ChunkedArray, name: str, numeric: str, grouped: bool) -> pa.Array:
    t = col.type
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    col = col.cast(t.value_type) if pa.types.is_dictionary(t) else col
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        if numeric == "log_bucket":
            ids = log_bucket_ids(col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False))
            codes = pa.array([code_of_id(i) for i in range(N_CODES)] + [""], pa.string())
            ids = np.where(ids < 0, N_CODES, ids)
            txt = codes.take(pa.array(ids))
            txt = pc.if_else(pc.is_null(col), None, txt) if not grouped else txt
            return pc.binary_join_element_wise(f"{name}=", txt, "") if grouped else txt
        val = col.cast(pa.string())
        return pc.binary_join_element_wise(f"{name}:", val, "")
    # ' ', ':' and '|' would break the line's syntax; VW users write '_' for them
    val = pc.replace_substring_regex(col.cast(pa.string()), r"[\s:|]", "_")
    if grouped:
        return pc.binary_join_element_wise(f"{name}=", pc.fill_null(val, ""), "")
    return pc.if_else(pc.equal(val, ""), None, val)
