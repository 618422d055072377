"""CSV / TSV reading on pyarrow's multi-threaded C++ reader: whole tables or streamed batches.

gzip (and the other codecs pyarrow knows) is looked through by the file extension.
Malformed input becomes an ``InputFileError`` naming the file and the line:
an empty file, a header-only file, a row with the wrong number of fields.
"""
from __future__ import annotations

import hashlib
import os
import stat
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from logitkit._util.errors import InputFileError
from logitkit._util.threads import run_ahead
from logitkit.loaddata.diagnose import check_names, check_text_columns, translate_error, utf8_error
from logitkit.loaddata.table import Table

__all__ = ["load_csv", "stream_csv", "write_csv", "read_delimited", "stream_delimited", "check_file", "csv_options",
           "file_sha256", "rebatch", "translate_error"]

BLOCK_SIZE = 8 << 20


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (or of every file under a directory, in sorted order)."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode() + b"\0")
        try:
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        except OSError as exc:
            raise InputFileError(f"{f}: cannot be read ({exc.strerror or exc}); check the file's permissions") from None
    return h.hexdigest()


_EFFECTIVE = {"effective_ids": True} if os.access in os.supports_effective_ids else {}


def check_file(path: str | Path, directory: bool = True) -> Path:
    """``path`` when it names a readable, non-empty regular file (or, with ``directory``, a
    folder); else an ``InputFileError`` saying what it is instead."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        if p.is_symlink():
            raise InputFileError(f"{p}: a symbolic link to {os.readlink(p)!r}, which does not exist; point "
                                 "data.path at the file itself") from None
        raise InputFileError(f"{p}: no such file; check data.path (a relative path starts at the config "
                             "file's folder, or at the current folder when given with --set)") from None
    except OSError as exc:  # a loop of symbolic links, a folder on the way that cannot be entered, ...
        raise InputFileError(f"{p}: cannot be opened ({exc.strerror or exc}); check the path and its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        if not directory:
            raise InputFileError(f"{p}: is a directory; data.path must name a file (only Parquet data may be a "
                                 "directory of files)")
        if not os.access(p, os.R_OK | os.X_OK, **_EFFECTIVE):
            raise InputFileError(f"{p}: the directory cannot be read (permission denied); check its permissions")
        return p
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(f"{p}: is not a regular file (a device, pipe or socket); copy the data into a file")
    if not os.access(p, os.R_OK, **_EFFECTIVE):
        raise InputFileError(f"{p}: cannot be read (permission denied); check the file's permissions")
    if st.st_size == 0:
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


def _check_rows(t: pa.Table, path: Path, header: bool = True) -> pa.Table:
    if t.num_rows == 0:
        raise InputFileError(f"{path}: the file has " + ("a header but no rows" if header else "no rows")
                             + "; give at least one row")
    return t


def read_delimited(path: str | Path, **options) -> pa.Table:
    """The whole file as a ``pyarrow.Table`` (options: see ``csv_options``)."""
    p = check_file(path, directory=False)
    read, parse, convert = csv_options(**options)
    try:
        t = pacsv.read_csv(p, read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise translate_error(exc, p, read, parse, convert) from None
    except OSError as exc:  # a compressed file that is damaged
        raise InputFileError(f"{p}: could not be read ({' '.join(str(exc).split())[:200]}); check the file") from None
    _check_read(t, p, options.get("header", True) and options.get("column_names") is None,
                unchecked=not convert.check_utf8)
    return _check_rows(t, p, options.get("header", True))


def _check_read(t: pa.Table | pa.RecordBatch, p: Path, named_by_file: bool, source=None, first_line: int = 1,
                unchecked: bool = False) -> None:
    """Column names from the file's header must be UTF-8, distinct and non-empty; text must
    be UTF-8 (``unchecked``: pyarrow was told not to check, as for Criteo: text columns with
    a byte above 0x7F are validated here, which costs one pass of ``max`` on ASCII text)."""
    if named_by_file:
        try:
            names = t.column_names
        except UnicodeDecodeError:
            names = None
        if names is None or any("\ufffd" in c for c in names):
            err = utf8_error(p, source, first_line)
            if err is not None:
                raise err
        check_names(names, p)
    check_text_columns(t, p, source, first_line)
    if unchecked:
        for col in t.columns:
            if (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) and not _ascii(col):
                try:
                    col.validate(full=True)
                except pa.ArrowInvalid:
                    raise (utf8_error(p, source, first_line) or InputFileError(
                        f"{p}: text that is not UTF-8 near line {first_line}; save the file as UTF-8")) from None


def _ascii(col) -> bool:
    """No byte of the column's text buffers is 0x80 or above (then it is UTF-8: one pass of max)."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    for c in chunks:
        data = c.buffers()[2]
        if data is not None and data.size and np.frombuffer(data, np.uint8).max() >= 0x80:
            return False
    return True


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
    last line, and handed on as a view (no copy of the text). A line longer than a chunk
    doubles the next read, so a file without newlines is read in O(size). ``meter`` (a
    ``readmeter.ReadMeter``) is handed every block read, and told the end."""
    with pa.input_stream(str(path), compression="detect") as f:
        rest = b""
        line = 1
        want = chunk_bytes
        while True:
            buf = bytearray(len(rest) + want)
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
            cut = buf.rfind(b"\n", len(rest), end) + 1  # (rest holds no newline)
            if cut == 0:
                rest = bytes(buf[:end])
                want = max(want, len(rest))
                continue
            yield memoryview(buf)[:cut], line
            line += buf.count(b"\n", 0, cut)
            rest = bytes(buf[cut:end])
            want = chunk_bytes


def _parse_chunk(buf: bytes, line: int, path: Path, ro, parse, convert) -> pa.Table:
    try:
        try:
            t = pacsv.read_csv(pa.py_buffer(buf), read_options=ro, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as exc:
            if "straddling" not in str(exc):
                raise
            # a row longer than a parse block: this chunk as one block
            ro = pacsv.ReadOptions(column_names=ro.column_names, autogenerate_column_names=ro.autogenerate_column_names,
                                   skip_rows=ro.skip_rows, block_size=len(buf) + 1, use_threads=False)
            t = pacsv.read_csv(pa.py_buffer(buf), read_options=ro, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise translate_error(exc, path, ro, parse, convert, chunk=buf, first_line=line) from None
    _check_read(t, path, line == 1 and ro.column_names == [] and not ro.autogenerate_column_names, buf, line,
                unchecked=not convert.check_utf8)
    return t


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
    p = check_file(path, directory=False)
    meter = options.pop("meter", None)
    chunk_bytes = options.pop("chunk_bytes", 4 << 20)
    parse_threads = options.pop("parse_threads", 2)
    block = options.pop("block_size", None) or max(1 << 20, min(64 << 20, batch_rows * 256))
    read, parse, convert = csv_options(block_size=block, **options)
    n = 0
    if not options.get("quoting", True):
        header = options.get("header", True)
        tables = run_ahead(_parse_chunks(p, read, parse, convert, header, chunk_bytes, parse_threads, meter))
        batches = (b for t in tables for b in t.to_batches())
        for b in rebatch(batches, batch_rows):
            n += b.num_rows
            yield b
    else:
        try:
            reader = pacsv.open_csv(p, read_options=read, parse_options=parse, convert_options=convert)
            _check_read(reader.schema.empty_table(), p, options.get("header", True) and not read.column_names)
            for b in rebatch(reader, batch_rows):
                n += b.num_rows
                yield b
        except pa.ArrowInvalid as exc:
            raise translate_error(exc, p, read, parse, convert) from None
        except OSError as exc:  # a compressed file that is damaged
            raise InputFileError(f"{p}: could not be read ({' '.join(str(exc).split())[:200]}); check the file") from None
    if n == 0:
        raise InputFileError(f"{p}: the file has " + ("a header but no rows" if options.get("header", True) else "no rows")
                             + "; give at least one row")


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
    t = _named(read_delimited(p, **_options(p, delimiter, header, column_names, column_types)), header, column_names)
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
    for b in stream_delimited(p, batch_rows, **_options(p, delimiter, header, column_names, column_types)):
        yield _named(b, header, column_names)


def _options(p: Path, delimiter, header: bool, column_names, column_types) -> dict:
    """The reader's keyword arguments of ``load_csv``/``stream_csv``'s."""
    return dict(delimiter=_delim_for(p, delimiter), header=header, column_names=column_names,
                column_types=column_types)


def _named(t, header: bool, column_names):
    """A table or batch of a file without header or given names: columns ``c0, c1, ...``."""
    return t.rename_columns([f"c{j}" for j in range(t.num_columns)]) if not header and column_names is None else t


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
