"""Token batches from a Criteo-layout file, with a binary cache for later passes.

``CTRStream(path, transform)`` is re-iterable: each iteration yields 5-tuples
``(idx, y, dense, vocab, extras)``. The first iteration parses the file
(``criteo.stream_criteo``, or a ``reader``) and hands each record batch to the
*transform*, which turns it into token indices; with ``cache=`` it also writes what it
yields to a binary cache (``batch_cache``), and every later iteration reads the cache
instead (VW's ``--cache``): no parsing, no hashing.

**The import rule here.** This stage reads; it does not hash and does not learn, and it
imports neither ``prepdata`` nor ``predict``. What it needs of them is handed in:

* the transform, anything with the methods of ``TokenTransform`` below
  (``prepdata.FeatureHasher`` is one): record batch -> (n, T) int32 indices, the
  batch's ``field=value`` tokens for a token sketch, and a JSON state (a cache is valid
  for one state only);
* the arrays a consumer keeps in the cache next to each batch (the learner's row
  plans): named 1-D arrays in a ``batch_cache.BatchExtras``, asked for with
  ``request_extras(key, dtypes)``; this stage stores and replays them without knowing
  what they mean.

The pass that parses the file also reads it for the run id: ``meter`` (a
``readmeter.ReadMeter``) counts the bytes read (progress reports show the share of the
file read) and keeps their sha256, ``fingerprint()`` once the pass reached the end.

Items: ``idx`` (n, T) int32; ``y`` (n,) float32 labels in {0, 1}; ``dense`` (n, d)
float32 or None; ``vocab`` the transform's tokens of every ``sketch_every``-th batch of
a parsed pass (else None; a cache keeps none); ``extras`` a ``BatchExtras`` (writable in
the pass that writes the cache, the stored ones in a pass over it) or None.
"""
from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np
import pyarrow as pa

from logitkit._util.errors import DataError
from logitkit._util.threads import drain, run_ahead
from logitkit.loaddata.batch_cache import (
    SUFFIXES, BatchExtras, extra_suffixes, read_batches, staged, write_batch, write_extras, write_meta,
)
from logitkit.loaddata.criteo import CRITEO_COLUMNS, stream_criteo
from logitkit.loaddata.readmeter import ReadMeter


class TokenTransform(Protocol):
    """What a ``CTRStream`` needs of the transform it is given (``prepdata.FeatureHasher`` has it)."""

    n_bits: int  # indices are in [0, 2^n_bits); the cache stores int32, so n_bits <= 31 there
    n_tokens: int  # T, the indices per row (known once the fields are resolved)

    def resolve_fields(self, names: list[str]) -> None:
        """Choose / check the columns it reads, given the feature column names."""

    def transform(self, batch: pa.RecordBatch, dtype) -> np.ndarray:
        """(n, T) token indices of a record batch, in ``dtype``."""

    def vocab(self, batch: pa.RecordBatch, idx: np.ndarray):
        """The batch's tokens with their indices, for a token sketch."""

    def to_json(self) -> dict:
        """The state that the indices depend on."""


class CTRStream:
    """Re-iterable stream of token batches ``(idx, y, dense, vocab, extras)`` from a Criteo TSV.

    Parameters: ``path`` (Criteo layout, gzip allowed), ``transform`` (a
    ``TokenTransform``, e.g. ``prepdata.FeatureHasher``), ``batch_rows`` rows per batch,
    ``cache`` (path prefix of the binary cache, or None), ``dense`` (numeric columns also
    given as dense features log(1 + max(x, 0)), missing -> 0), ``label`` (the label
    column), ``sketch_every`` (the transform's ``vocab`` on every k-th batch of the
    parsed pass; 0 = never), ``prefetch`` (parse + transform the next batches while the
    consumer works on the current one: ``"thread"`` (or True), a background thread;
    ``"process"``, a forked worker process, free of the GIL, as torch's DataLoader
    workers (a custom ``reader`` uses a thread); ``False``, inline. On a machine whose
    cores are all busy, none of them beats inline. A pass over the cache is read ahead in
    a thread with either), ``reader`` (a callable returning record batches, instead of
    ``stream_criteo``), ``cache_extras`` (keep the arrays a consumer asks to keep,
    ``request_extras``; False: a cache half the size with row plans, passes slower),
    ``digest`` (the pass that parses the file also keeps its sha256 for ``fingerprint``,
    as a run does for its id; else ``fingerprint`` reads the file when asked).
    """

    def __init__(
        self,
        path: str | Path,
        transform: TokenTransform,
        batch_rows: int = 65536,
        cache: str | Path | None = None,
        dense: list[str] | None = None,
        label: str = "label",
        sketch_every: int = 16,
        prefetch: str | bool = "thread",
        reader: Callable[[], Iterator[pa.RecordBatch]] | None = None,
        cache_extras: bool = True,
        digest: bool = False,
    ) -> None:
        self.path = Path(path)
        self.transform = transform
        self.batch_rows = int(batch_rows)
        self.cache = None if cache is None else Path(cache)
        self.dense = list(dense or [])
        self.label = label
        self.sketch_every = int(sketch_every)
        self.prefetch = prefetch
        self.reader = reader
        self.passes_from_cache = 0
        self.cache_extras = bool(cache_extras)
        self.extras_request: dict | None = None  # set by request_extras
        self.digest = bool(digest)  # the parsing pass keeps the file's sha256 (fingerprint())
        self.meter: ReadMeter | None = None  # the bytes read by the last pass that parsed the file
        self._spooled: Iterator | None = None  # the next parsed pass, made by a Spool's worker

    # -- a pass made in another process (loaddata.spool) -----------------------------------
    def spool_producer(self):
        """(iterator factory, extra) of this stream's parsing pass for a ``loaddata.Spool``:
        the worker parses, transforms and caches; ``extra`` is what its reader has read,
        then the file's sha256. Hand the spool's items back with ``spooled_pass``."""
        def produce():
            self._resolve_fields()
            self.meter = ReadMeter(self.path, self.digest) if self.reader is None else None
            return self._parse_and_cache()

        def extra():
            return (self.meter.bytes_read, self.meter.sha256) if self.meter is not None else (0, None)

        return produce, extra

    def spooled_pass(self, items: Iterator) -> None:
        """The next pass over the file is the spool's (``Spool.items(k)`` of ``spool_producer``)."""
        self._spooled = items

    def next_pass_cache(self) -> dict | None:
        """The cache's JSON when the next pass reads the cache, None when it parses the file."""
        return None if self._spooled is not None else self.cache_meta()

    def _from_spool(self, items: Iterator) -> Iterator[tuple]:
        for item, (read, sha) in items:
            if item is None:
                self.meter.adopt(sha)
                return
            self.meter.bytes_read = read
            yield item

    def fingerprint(self) -> str:
        """sha256 of the file's bytes: from the pass that parsed it when that pass read it
        to the end, else read now (a compressed file, a custom ``reader``, no pass yet)."""
        if self.meter is not None and self.meter.sha256 is not None:
            return self.meter.sha256
        import hashlib

        h = hashlib.sha256()
        with open(self.path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        return h.hexdigest()

    def request_extras(self, key: dict, dtypes: dict[str, str]) -> None:
        """Keep the consumer's arrays ``dtypes`` ({name: dtype}) under ``key`` in the cache
        (see ``batch_cache``). Only a stream with a cache has them: a pass writing the cache
        yields a writable ``BatchExtras`` per batch, a pass over a cache that has them for
        this key the stored ones; a cache written without them (or for another key) yields
        None. Ignored with ``cache_extras=False``."""
        if self.cache_extras:
            self.extras_request = {"key": dict(key), "dtypes": dict(dtypes)}

    def _extras_meta(self) -> dict | None:
        return self.extras_request if self.cache is not None else None

    # -- cache bookkeeping -------------------------------------------------------------
    def _source_id(self) -> dict:
        st = self.path.stat()
        return {"path": str(self.path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def _meta_path(self) -> Path:
        return Path(str(self.cache) + ".json")

    def cache_meta(self) -> dict | None:
        """The cache's JSON when a complete cache for this source and transform exists, else None."""
        if self.cache is None or not self._meta_path().is_file():
            return None
        meta = json.loads(self._meta_path().read_text())
        try:  # a custom reader's columns: those its first batch had when the cache was written
            self._resolve_fields(meta.get("columns"))
        except DataError:
            return None
        want = {"source": self._source_id(), "transform": self.transform.to_json(), "dense": self.dense}
        if any(meta.get(k) != v for k, v in want.items()) or meta.get("batch_rows") != self.batch_rows:
            return None
        return meta

    def _features(self, names: list[str]) -> list[str]:
        return [c for c in names if c != self.label]

    def _resolve_fields(self, columns: list[str] | None = None) -> None:
        """Tell the transform the feature columns up front (a Criteo file's are known), so
        that its state matches the cache's (and a worker process's) before any batch."""
        if self.reader is None:
            self.transform.resolve_fields(self._features(list(CRITEO_COLUMNS)))
        elif columns is not None:
            self.transform.resolve_fields(columns)

    def cache_bytes(self) -> int:
        """Bytes a pass over the (complete) cache reads: the files it opens."""
        meta = self.cache_meta()
        if meta is None:
            return 0
        extras = self._stored_extras(meta)
        names = SUFFIXES + tuple(extra_suffixes(extras["dtypes"]) if extras else ())
        return sum(Path(str(self.cache) + s).stat().st_size for s in names)

    def _stored_extras(self, meta: dict) -> dict | None:
        """The cache's extras when they are the ones asked for, else None."""
        stored = meta.get("extras")
        return stored if stored is not None and stored == self._extras_meta() else None

    # -- iteration -----------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple]:
        if self._spooled is not None:  # (before the cache: the spool's worker may have written it already)
            items, self._spooled = self._spooled, None
            self._resolve_fields()
            self.meter = ReadMeter(self.path, self.digest)
            it = self._from_spool(items)
            extras = self._extras_meta()
            return self._collect_extras(it, extras) if extras else it
        meta = self.cache_meta()
        if meta is not None:
            self.passes_from_cache += 1
            it = read_batches(self.cache, meta, len(self.dense), self._stored_extras(meta))
            return run_ahead(it) if self.prefetch else it  # (read ahead in a thread: no parsing to fork for)
        self._resolve_fields()
        self.meter = ReadMeter(self.path, self.digest) if self.reader is None else None
        it = self._parse_and_cache()
        if self.prefetch == "process" and self.reader is None:
            it = _process_prefetched(self)
        elif self.prefetch:
            it = run_ahead(it)  # (closing it when abandoned: the pass leaves no cache behind)
        extras = self._extras_meta()
        return self._collect_extras(it, extras) if extras else it

    def _convert(self, b: int, batch: pa.RecordBatch) -> tuple:
        # int32 indices (what the cache stores and the learner takes without a copy)
        idx = self.transform.transform(batch, dtype=np.int32 if self.transform.n_bits <= 31 else np.int64)
        ycol = batch.column(self.label)
        if ycol.null_count:
            raise DataError(f"{self.path}: a row of batch {b} (rows {b * self.batch_rows + 1}..) has no label; every row needs 0 or 1")
        y32 = ycol.cast(pa.float32())  # (read from its buffer: Array.to_numpy imports pandas)
        y = np.frombuffer(y32.buffers()[1], np.float32)[y32.offset : y32.offset + len(y32)].copy()
        dense = None
        if self.dense:
            cols = [batch.column(c).cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False) for c in self.dense]
            dense = np.log1p(np.maximum(np.stack(cols, 1), 0)).astype(np.float32)
        vocab = None
        if self.sketch_every and b % self.sketch_every == 0:
            vocab = self.transform.vocab(batch, idx)
        return idx, y, dense, vocab, None

    def _batches(self) -> Iterator[pa.RecordBatch]:
        if self.reader is not None:
            return self.reader()
        # 2 MiB text chunks: a few are parsed ahead, so this bounds the reader's memory
        return stream_criteo(self.path, self.batch_rows, chunk_bytes=2 << 20, meter=self.meter)

    def _parse_and_cache(self) -> Iterator[tuple]:
        if self.cache is None:
            for b, batch in enumerate(self._batches()):
                item = self._convert(b, batch)
                del batch  # not held while the consumer has the item
                yield item
            return
        sizes, columns = [], None
        with staged(self.cache, SUFFIXES) as out:  # an error or an abandoned pass leaves no partial files
            for b, batch in enumerate(self._batches()):
                columns = columns or self._features(list(batch.schema.names))
                item = self._convert(b, batch)
                del batch
                if self.transform.n_bits > 31:
                    raise DataError(f"the cache stores int32 indices; hasher n_bits={self.transform.n_bits} needs <= 31")
                write_batch(out.files, *item[:3])
                sizes.append(len(item[1]))
                yield item
        for p in _extras_files(self.cache):  # an earlier cache's extras (this pass's come after the JSON)
            p.unlink()
        write_meta(self.cache, {
            "format": "logitkit.ctr-cache/2", "source": self._source_id(), "transform": self.transform.to_json(),
            "columns": columns, "dense": self.dense, "batch_rows": self.batch_rows, "batch_sizes": sizes,
            "n_tokens": self.transform.n_tokens, "n_rows": int(sum(sizes)), "extras": None,
        })

    def _collect_extras(self, it: Iterator[tuple], request: dict) -> Iterator[tuple]:
        """The items of a cache-writing pass, each with an empty ``BatchExtras`` for the
        consumer; in this (the consumer's) thread, each batch's extras go to the cache's
        extras files once the consumer moved on, and join the cache (named in its JSON)
        when the consumer closed every batch's. The JSON without them is already there:
        the producer wrote it before its last item arrived here."""
        complete = True

        def store(extras: BatchExtras | None) -> None:
            nonlocal complete
            complete = complete and (extras is None or extras.closed)
            if complete and extras is not None:
                write_extras(out.files, extras)

        try:
            with staged(self.cache, extra_suffixes(request["dtypes"])) as out:
                pending = None
                for item in it:
                    store(pending)  # the consumer is done with the previous batch
                    pending = BatchExtras(request["key"], request["dtypes"])
                    yield (*item[:4], pending)
                store(pending)
                meta = self.cache_meta() if complete else None
                out.keep = meta is not None and meta.get("batch_sizes") is not None
            if out.keep:  # the files are in place: the JSON may name them
                write_meta(self.cache, {**meta, "extras": request})
        finally:
            getattr(it, "close", lambda: None)()  # an abandoned pass: the producer stops, no cache


def _extras_files(prefix: Path) -> list[Path]:
    """The extras files next to a cache prefix (not the ones being written)."""
    return [p for p in prefix.parent.glob(prefix.name + ".x.*") if not p.name.endswith(".tmp")]


def _produce(stream: CTRStream, q) -> None:
    """Worker process: parse, transform (and cache) the stream, hand each item to ``q``
    with the bytes read so far; then (None, the file's sha256); None ends it."""
    try:
        for item in stream._parse_and_cache():
            q.put((item, stream.meter.bytes_read))
    except BaseException as exc:  # re-raised by the consumer
        q.put(exc)
        return
    q.put((None, stream.meter.sha256))
    q.put(None)


def _process_prefetched(stream: CTRStream, depth: int = 3) -> Iterator[tuple]:
    """Items of ``stream._parse_and_cache()`` made in a forked process, ``depth`` ahead.

    The worker writes the cache; its JSON is written before the worker signals the end,
    so a consumer that saw the last item finds the cache complete. Abandoning the
    iteration terminates the worker, which leaves no cache behind.
    """
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue(maxsize=depth)
    worker = ctx.Process(target=_produce, args=(stream, q), daemon=True)
    worker.start()
    try:
        for item, read in drain(q, None):
            if item is None:  # the worker's meter: this process's meter takes its digest
                stream.meter.adopt(read)
                continue
            stream.meter.bytes_read = read
            yield item
    finally:
        stopped = worker.is_alive()
        if stopped:
            worker.terminate()
        worker.join()
        q.close()
        if stopped and stream.cache is not None:  # the worker's partial files
            for suffix in SUFFIXES:
                Path(str(stream.cache) + suffix + ".tmp").unlink(missing_ok=True)
