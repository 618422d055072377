"""Where a text file goes wrong, for error messages: the first ragged row, the first byte
that is not UTF-8, a header with a repeated or empty name, pyarrow's parse errors.

Everything here runs on the error path only (or, for the header, on one line), so it
may read a file a second time, serially.
"""
from __future__ import annotations

import codecs
import io
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from logitkit._util.errors import InputFileError, shown

_READ = 1 << 20


def _open(source) -> io.BytesIO | pa.NativeFile:
    """A binary stream of a file's bytes (compression looked through) or of a buffer."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    return pa.input_stream(str(source), compression="detect")


def bad_utf8(source) -> tuple[int, int, bytes] | None:
    """(line, byte within the line, the bytes) of the first byte sequence of a file or
    buffer that is not UTF-8; None when all of it is. Lines and bytes count from 1."""
    dec = codecs.getincrementaldecoder("utf-8")("strict")
    line, line_start, offset = 1, 0, 0  # line_start: offset of the current line's first byte
    with _open(source) as f:
        while True:
            chunk = f.read(_READ)
            try:
                dec.decode(chunk, not chunk)
            except UnicodeDecodeError as exc:
                # exc.object starts with the (at most 3) bytes the decoder held back from the last chunk
                pos = offset - (len(exc.object) - len(chunk)) + exc.start
                before = chunk[: max(0, pos - offset)]
                if b"\n" in before:
                    line += before.count(b"\n")
                    line_start = offset + before.rfind(b"\n") + 1
                return line, pos - line_start + 1, bytes(exc.object[exc.start : exc.end])
            if not chunk:
                return None
            if b"\n" in chunk:
                line += chunk.count(b"\n")
                line_start = offset + chunk.rfind(b"\n") + 1
            offset += len(chunk)


def utf8_error(path: Path, source=None, first_line: int = 1) -> InputFileError | None:
    """The error for the first byte of ``source`` (default: the file) that is not UTF-8, or None."""
    found = bad_utf8(path if source is None else source)
    if found is None:
        return None
    line, col, raw = found
    return InputFileError(
        f"{path}: line {first_line + line - 1}, byte {col}: {raw.hex(' ')} is not UTF-8 text; save the file "
        "as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
    )


def _clean_chunks(source, quoted: bool, size: int = 16 << 20):
    """(text, line number of its first line): the source cut into chunks of whole rows,
    with every byte sequence that is not UTF-8 replaced by U+FFFD (the same lines and
    fields, so pyarrow can hand each row's text to Python). A quoted file is cut only at
    a newline with an even number of quote characters before it (outside a quoted field)."""
    dec = codecs.getincrementaldecoder("utf-8")("replace")
    pending, line, parity = b"", 1, 0
    with _open(source) as raw:
        while True:
            chunk = raw.read(size)
            pending += dec.decode(chunk, not chunk).encode("utf-8")
            if not chunk:
                if pending:
                    yield pending, line
                return
            cut = pending.rfind(b"\n") + 1
            if quoted:
                while cut and (parity + pending.count(b'"', 0, cut)) % 2:
                    cut = pending.rfind(b"\n", 0, cut - 1) + 1
                parity = (parity + pending.count(b'"', 0, cut)) % 2
            if cut:
                yield pending[:cut], line
                line += pending.count(b"\n", 0, cut)
                pending = pending[cut:]


def first_ragged_row(source, read, parse, convert):
    """The first row with the wrong field count (``.number`` counts lines from the start of
    ``source``), or None. Error path only: a serial parse, chunk by chunk on the calling
    thread. (pyarrow's streaming reader, left before its end, can abort the process at
    exit with "terminate called without an active exception"; this never opens one.)"""
    found: list = []

    def handler(row):
        found.append(row)
        return "skip"

    p2 = pacsv.ParseOptions(
        delimiter=parse.delimiter, quote_char=parse.quote_char, ignore_empty_lines=parse.ignore_empty_lines,
        invalid_row_handler=handler,
    )
    names = list(read.column_names or [])
    for text, line in _clean_chunks(source, parse.quote_char is not False):
        if not names:  # the first line (header or row) gives the number of fields every row must have
            head = text[: text.find(b"\n") + 1 or len(text)]
            try:
                k = pacsv.read_csv(pa.py_buffer(head), parse_options=pacsv.ParseOptions(
                    delimiter=parse.delimiter, quote_char=parse.quote_char), read_options=pacsv.ReadOptions(
                    autogenerate_column_names=True, use_threads=False)).num_columns
            except pa.ArrowInvalid:
                return None
            names = [f"f{j}" for j in range(k)]
        ro = pacsv.ReadOptions(column_names=names, skip_rows=read.skip_rows if line == 1 else 0,
                               block_size=max(1 << 20, len(text) + 1), use_threads=False)
        co = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, check_utf8=False)
        try:
            pacsv.read_csv(pa.py_buffer(text), read_options=ro, parse_options=p2, convert_options=co)
        except pa.ArrowInvalid:
            return None
        if found:
            row = found[0]
            if row.number is None:
                return None
            at = _line_of_record(text, row.number, parse.quote_char, parse.ignore_empty_lines)
            return row._replace(number=at + line - 1)
    return None


def _record_starts(text: bytes, quote, skip_empty: bool) -> tuple[np.ndarray, np.ndarray]:
    """(offset where each of pyarrow's records starts, offsets of every newline) in ``text``:
    pyarrow counts records, which quoted newlines join and (with ``skip_empty``) empty
    lines do not count as."""
    a = np.frombuffer(text, np.uint8)
    nl = np.flatnonzero(a == 10)
    ends = nl[np.cumsum(a == ord(quote))[nl] % 2 == 0] if quote else nl
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends, [len(a)]])
    empty = (stops == starts) | ((stops == starts + 1) & (a[np.minimum(starts, max(len(a) - 1, 0))] == 13))
    return (starts[~empty] if skip_empty else starts), nl


def _line_of_record(text: bytes, k: int, quote, skip_empty: bool) -> int:
    """The line (from 1) of ``text`` where pyarrow's row ``k`` (from 1) starts."""
    starts, nl = _record_starts(text, quote, skip_empty)
    return int(np.searchsorted(nl, starts[k - 1])) + 1 if 1 <= k <= len(starts) else k


def record_line(source, k: int, parse) -> int:
    """The line (from 1) of ``source`` (a file or buffer) where pyarrow's row ``k`` starts."""
    seen = 0
    for text, line in _clean_chunks(source, parse.quote_char is not False):
        starts, nl = _record_starts(text, parse.quote_char, parse.ignore_empty_lines)
        if seen + len(starts) >= k:
            return line - 1 + int(np.searchsorted(nl, starts[k - seen - 1])) + 1
        seen += len(starts)
    return k


def header_names(source, parse) -> list[str]:
    """The names the first line of ``source`` gives its columns ([] when it cannot be read)."""
    for text, _ in _clean_chunks(source, parse.quote_char is not False):
        try:
            return pacsv.read_csv(pa.py_buffer(text[: text.find(b"\n") + 1 or len(text)]),
                                  parse_options=pacsv.ParseOptions(delimiter=parse.delimiter, quote_char=parse.quote_char),
                                  read_options=pacsv.ReadOptions(use_threads=False)).column_names
        except pa.ArrowInvalid:
            return []
    return []


def one_line(msg: str, limit: int = 300) -> str:
    """pyarrow's message on one line, cut at ``limit`` characters."""
    msg = " ".join(str(msg).split())
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def translate_error(exc: pa.ArrowInvalid, path: Path, read, parse, convert,
                    chunk: bytes | None = None, first_line: int = 1) -> InputFileError:
    """A pyarrow parse/convert error as an ``InputFileError`` naming file, line and column.

    ``chunk``: the text that failed when a file is parsed in chunks, its first line being
    line ``first_line`` of the file; without it the whole file is the source."""
    msg = str(exc)
    source = chunk if chunk is not None else path
    if chunk is None and "Empty CSV file" in msg:
        return InputFileError(f"{path}: the file is empty; give a file with at least one row")
    if "UTF8" in msg or "UTF-8" in msg or "utf-8" in msg:
        found = utf8_error(path, source, first_line)
        if found is not None:
            return found
    if "Expected" in msg and "columns" in msg:
        row = first_ragged_row(source, read, parse, convert)
        where = f"line {first_line + row.number - 1}" if row is not None else "a line"
        what = (f"expected {row.expected_columns} fields, got {row.actual_columns}" if row is not None
                else one_line(msg, 160))
        return InputFileError(
            f"{path}: {where} has the wrong number of fields ({what}); every row must have "
            f"as many fields as the first line (delimiter {parse.delimiter!r})"
        )
    m = re.search(r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to (\w+): (.*)", msg, re.S)
    if m:
        col_i = int(m.group(1))
        names = read.column_names or ([] if read.autogenerate_column_names else header_names(source, parse))
        col = names[col_i] if col_i < len(names) else f"#{col_i + 1}"
        if m.group(2):
            where = f" at line {first_line + record_line(source, int(m.group(2)), parse) - 1}"
        else:
            where = f" in lines from {first_line}" if chunk is not None else ""
        return InputFileError(
            f"{path}: column {shown(col)}{where}: value is not {m.group(3)} ({one_line(m.group(4), 120)}); fix the "
            "value or declare the column's type"
        )
    near = f" near line {first_line}" if chunk is not None else ""
    return InputFileError(f"{path}: could not be read as delimited text{near}: {one_line(msg)}")


def check_names(names: list[str], path: Path, line: int | None = 1) -> None:
    """Every column must have its own, non-empty name (``line``: of the header, None for Parquet)."""
    where = f"{path}: line {line}:" if line is not None else f"{path}:"
    seen: dict[str, int] = {}
    for j, name in enumerate(names, 1):
        if not name.strip():
            fix = ("name every column in the header (an index column written by pandas has none: write with "
                   "to_csv(index=False))" if line is not None else "name every column when writing the file")
            raise InputFileError(f"{where} column {j} has no name; {fix}")
        if name in seen:
            raise InputFileError(
                f"{where} the column name {shown(name)} is given twice (columns {seen[name]} and {j}); "
                "give every column its own name"
            )
        seen[name] = j


def check_text_columns(t: pa.Table | pa.RecordBatch, path: Path, source=None, first_line: int = 1) -> None:
    """A column pyarrow typed as binary holds bytes that are not UTF-8: name where."""
    binary = [f.name for f in t.schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    if not binary:
        return
    err = utf8_error(path, source, first_line)
    if err is None:
        err = InputFileError(f"{path}: column {shown(binary[0])} holds bytes that are not UTF-8 text; save the "
                             "file as UTF-8")
    raise err
