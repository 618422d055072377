"""CSV / TSV reading on pyarrow's multi-threaded C++ reader: whole tables or streamed batches.

gzip (and the other codecs pyarrow knows) is looked through by the file extension.
Malformed input becomes an ``InputFileError`` naming the file and the line:
an empty file, a header-only file, a row with the wrong number of fields.
"""
from __future__ import annotations

import hashlib
import queue
import re
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Mapping

import pyarrow as pa
import pyarrow.csv as pacsv

from logitkit._util.errors import InputFileError
from logitkit.loaddata.table import Table

BLOCK_SIZE = 8 << 20


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (or of every file under a directory, in sorted order)."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def check_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p}: no such file; check data.path (a relative path starts at the config "
                             "file's folder, or at the current folder when given with --set)")
    if p.is_file() and p.stat().st_size == 0:
        raise InputFileError(f"{p}: the file is empty; give a file with at least one row")
    return p


def csv_options(
    delimiter: str = ",",
    header: bool = True,
    column_names: list[str] | None = None,
    column_types: Mapping[str, pa.DataType] | None = None,
    block_size: int = BLOCK_SIZE,
    use_threads: bool = True,
    dictionary_columns: list[str] | None = None,
    quoting: bool = True,
    ignore_empty_lines: bool = True,
    check_utf8: bool = True,
):
    """pyarrow (read, parse, convert) options for a delimited text file."""
    read = pacsv.ReadOptions(
        column_names=column_names,
        autogenerate_column_names=(not header and column_names is None),
        skip_rows=1 if (header and column_names is not None) else 0,
        block_size=block_size,
        use_threads=use_threads,
    )
    parse = pacsv.ParseOptions(
        delimiter=delimiter, quote_char='"' if quoting else False, ignore_empty_lines=ignore_empty_lines
    )
    convert = pacsv.ConvertOptions(
        column_types=dict(column_types or {}),
        strings_can_be_null=True,
        null_values=["", "NA", "NaN", "nan", "null", "NULL"],
        auto_dict_encode=False,
        check_utf8=check_utf8,
    )
    if dictionary_columns:
        types = dict(convert.column_types)
        for c in dictionary_columns:
            types.setdefault(c, pa.dictionary(pa.int32(), pa.string()))
        convert.column_types = types
    return read, parse, convert


def _first_ragged_row(source, read, parse, convert):
    """The first row with the wrong field count, by a serial pass (error path only)."""
    found: list = []

    def handler(row):
        found.append(row)
        return "skip"

    serial = pacsv.ReadOptions(
        column_names=read.column_names, autogenerate_column_names=read.autogenerate_column_names,
        skip_rows=read.skip_rows, block_size=read.block_size, use_threads=False,
    )
    p2 = pacsv.ParseOptions(
        delimiter=parse.delimiter, quote_char=parse.quote_char, ignore_empty_lines=parse.ignore_empty_lines,
        invalid_row_handler=handler,
    )
    try:
        for _ in pacsv.open_csv(source, read_options=serial, parse_options=p2, convert_options=convert):
            if found:
                break
    except pa.ArrowInvalid:
        pass
    return found[0] if found and found[0].number is not None else None


def translate_error(exc: pa.ArrowInvalid, path: Path, read, parse, convert,
                    chunk: bytes | None = None, first_line: int = 1) -> InputFileError:
    """A pyarrow parse/convert error as an ``InputFileError`` naming file, line and column.

    ``chunk``: the text that failed when a file is parsed in chunks, its first line being
    line ``first_line`` of the file; without it the whole file is the source."""
    msg = str(exc)
    if chunk is None and "Empty CSV file" in msg:
        return InputFileError(f"{path}: the file is empty; give a file with at least one row")
    if "Expected" in msg and "columns" in msg:
        source = pa.BufferReader(chunk) if chunk is not None else str(path)
        row = _first_ragged_row(source, read, parse, convert)
        where = f"line {first_line + row.number - 1}" if row is not None else "a line"
        what = f"expected {row.expected_columns} fields, got {row.actual_columns}" if row is not None else msg
        return InputFileError(
            f"{path}: {where} has the wrong number of fields ({what}); every row must have "
            f"as many fields as the first line (delimiter {parse.delimiter!r})"
        )
    m = re.search(r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to (\w+): (.*)", msg)
    if m:
        col_i = int(m.group(1))
        names = read.column_names or []
        col = names[col_i] if col_i < len(names) else f"#{col_i}"
        if m.group(2):
            where = f" at line {first_line + int(m.group(2)) - 1}"
        else:
            where = f" in lines from {first_line}" if chunk is not None else ""
        return InputFileError(
            f"{path}: column {col!r}{where}: value is not {m.group(3)} ({m.group(4)}); fix the value or "
            "declare the column's type"
        )
    near = f" near line {first_line}" if chunk is not None else ""
    return InputFileError(f"{path}: could not be read as delimited text{near}: {msg}")


def _check_rows(t: pa.Table, path: Path) -> pa.Table:
    if t.num_rows == 0:
        raise InputFileError(f"{path}: the file has a header but no rows; give at least one row")
    return t


def read_delimited(path: str | Path, **options) -> pa.Table:
    """The whole file as a ``pyarrow.Table`` (options: see ``csv_options``)."""
    p = check_file(path)
    read, parse, convert = csv_options(**options)
    try:
        t = pacsv.read_csv(p, read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise translate_error(exc, p, read, parse, convert) from None
    return _check_rows(t, p)


def rebatch(batches: Iterator[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Re-cut a stream of record batches into batches of exactly ``batch_rows`` rows (the last may be short)."""
    pending: list[pa.RecordBatch] = []
    have = 0
    for b in batches:
        while b.num_rows:
            take = min(batch_rows - have, b.num_rows)
            pending.append(b.slice(0, take))
            have += take
            b = b.slice(take)
            if have == batch_rows:
                yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)
                pending, have = [], 0
    if have:
        yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)


def _text_chunks(path: Path, chunk_bytes: int, meter=None) -> Iterator[tuple[memoryview, int]]:
    """(chunk of whole lines, line number of its first line): the file cut at newlines.

    Each chunk is read straight into its own buffer after the previous chunk's partial
    last line, and handed on as a view (no copy of the text). ``meter`` (a
    ``readmeter.ReadMeter``) is handed every block read, and told the end."""
    with pa.input_stream(str(path), compression="detect") as f:
        rest = b""
        line = 1
        while True:
            buf = bytearray(len(rest) + chunk_bytes)
            buf[: len(rest)] = rest
            got = f.readinto(memoryview(buf)[len(rest) :])
            end = len(rest) + got
            if meter is not None:
                meter.update(memoryview(buf)[len(rest) : end])
            if got == 0:
                if meter is not None:
                    meter.finish()
                if rest:
                    yield memoryview(buf)[:end], line
                return
            cut = buf.rfind(b"\n", 0, end) + 1
            if cut == 0:
                rest = bytes(buf[:end])
                continue
            yield memoryview(buf)[:cut], line
            line += buf.count(b"\n", 0, cut)
            rest = bytes(buf[cut:end])


def prefetch(it: Iterator, depth: int = 2) -> Iterator:
    """Run an iterator in a background thread, ``depth`` items ahead (pyarrow parses without the GIL)."""
    q: queue.Queue = queue.Queue(depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in it:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        pass
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as exc:  # handed to the consumer
            q.put((done, exc))

    t = threading.Thread(target=work, daemon=True)
    t.start()
    try:
        while True:
            item, exc = q.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()


def _parse_chunk(buf: bytes, line: int, path: Path, ro, parse, convert) -> pa.Table:
    try:
        return pacsv.read_csv(pa.py_buffer(buf), read_options=ro, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise translate_error(exc, path, ro, parse, convert, chunk=buf, first_line=line) from None


def _parse_chunks(path: Path, read, parse, convert, header: bool, chunk_bytes: int,
                  threads: int = 2, meter=None) -> Iterator[pa.Table]:
    """The text chunks parsed in file order (quote-free formats only).

    Each chunk is parsed by a serial pyarrow reader (no GIL held); ``threads`` chunks are
    parsed at once by a small pool, at most ``threads + 1`` ahead of the consumer. Serial
    readers side by side cost less CPU than pyarrow's own block-parallel reader on
    small chunks, and leave a core to whoever hashes the rows.
    """
    def options(names, skip: int):
        return pacsv.ReadOptions(
            column_names=names,
            autogenerate_column_names=names is None and not header,
            skip_rows=skip if names is not None else 0,
            block_size=max(256 << 10, chunk_bytes // 4),
            use_threads=False,
        )

    chunks = _text_chunks(path, chunk_bytes, meter)
    first = next(chunks, None)
    if first is None:
        return
    names = read.column_names or None
    t = _parse_chunk(*first, path, options(names, 1 if header else 0), parse, convert)
    yield t
    ro = options(names or t.column_names, 0)
    with ThreadPoolExecutor(max(1, int(threads)), thread_name_prefix="logitkit-parse") as pool:
        pending: deque = deque()
        for buf, line in chunks:
            pending.append(pool.submit(_parse_chunk, buf, line, path, ro, parse, convert))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def stream_delimited(path: str | Path, batch_rows: int = 65536, **options) -> Iterator[pa.RecordBatch]:
    """Record batches of ``batch_rows`` rows; holds a few parse chunks at a time.

    Quote-free formats (``quoting=False``: Criteo, VW, svmlight lines) are cut at newlines
    into chunks of ``chunk_bytes`` (default 4 MiB), parsed ahead of the consumer by
    ``parse_threads`` (default 2) serial readers in background threads; quoted CSV uses
    pyarrow's streaming reader. ``meter`` (a ``readmeter.ReadMeter``, quote-free formats)
    sees every block read: the bytes read so far and the file's sha256.
    """
    p = check_file(path)
    meter = options.pop("meter", None)
    chunk_bytes = options.pop("chunk_bytes", 4 << 20)
    parse_threads = options.pop("parse_threads", 2)
    block = options.pop("block_size", None) or max(1 << 20, min(64 << 20, batch_rows * 256))
    read, parse, convert = csv_options(block_size=block, **options)
    n = 0
    if not options.get("quoting", True):
        header = options.get("header", True)
        tables = prefetch(_parse_chunks(p, read, parse, convert, header, chunk_bytes, parse_threads, meter))
        batches = (b for t in tables for b in t.to_batches())
        for b in rebatch(batches, batch_rows):
            n += b.num_rows
            yield b
    else:
        try:
            reader = pacsv.open_csv(p, read_options=read, parse_options=parse, convert_options=convert)
            for b in rebatch(reader, batch_rows):
                n += b.num_rows
                yield b
        except pa.ArrowInvalid as exc:
            raise translate_error(exc, p, read, parse, convert) from None
    if n == 0:
        raise InputFileError(f"{p}: the file has a header but no rows; give at least one row")


def _delim_for(path: Path, delimiter: str | None) -> str:
    if delimiter is not None:
        return delimiter
    suffixes = [s.lower() for s in path.suffixes]
    return "\t" if ".tsv" in suffixes or ".tab" in suffixes else ","


def load_csv(
    path: str | Path,
    label: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
    column_names: list[str] | None = None,
    column_types: Mapping[str, pa.DataType] | None = None,
) -> Table:
    """A CSV/TSV file (gzip allowed) as a ``Table``; ``label`` None = the last column.

    ``delimiter`` None = tab for ``.tsv``/``.tab`` files, else ','. Without a header the
    columns are ``column_names`` or ``c0, c1, ...``.
    """
    p = Path(path)
    t = read_delimited(
        p,
        delimiter=_delim_for(p, delimiter),
        header=header,
        column_names=column_names,
        column_types=column_types,
    )
    if not header and column_names is None:
        t = t.rename_columns([f"c{j}" for j in range(t.num_columns)])
    lab = label if label is not None else t.column_names[-1]
    fp = {"path": str(p), "sha256": file_sha256(p), "format": "csv"}
    return Table(t, lab, name=p.name, fingerprint=fp, first_line=2 if header else 1)


def stream_csv(
    path: str | Path,
    batch_rows: int = 65536,
    delimiter: str | None = None,
    header: bool = True,
    column_names: list[str] | None = None,
    column_types: Mapping[str, pa.DataType] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The same rows as ``load_csv``, as record batches of ``batch_rows`` rows."""
    p = Path(path)
    for b in stream_delimited(
        p,
        batch_rows,
        delimiter=_delim_for(p, delimiter),
        header=header,
        column_names=column_names,
        column_types=column_types,
    ):
        if not header and column_names is None:
            b = b.rename_columns([f"c{j}" for j in range(b.num_columns)])
        yield b


def write_csv(table: Table | pa.Table, path: str | Path, delimiter: str = ",", header: bool = True,
              quoting: str = "needed") -> Path:
    """Write a table as CSV/TSV (gzip when the name ends in .gz); ``quoting`` as pyarrow's
    ``quoting_style`` ("needed", "all_valid" or "none")."""
    data = table.data if isinstance(table, Table) else table
    p = Path(path)
    opts = pacsv.WriteOptions(include_header=header, delimiter=delimiter, quoting_style=quoting)
    data = _plain(data)
    if p.suffix == ".gz":
        with pa.CompressedOutputStream(str(p), "gzip") as out:
            pacsv.write_csv(data, out, write_options=opts)
    else:
        pacsv.write_csv(data, p, write_options=opts)
    return p


def _plain(data: pa.Table) -> pa.Table:
    """Dictionary columns decoded (the CSV writer wants plain values)."""
    cols = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in data.columns]
    return pa.table(cols, names=data.column_names)
