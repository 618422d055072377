"""Hashed batches from a Criteo-layout file, with a binary cache for later passes.

``CTRStream(path, hasher)`` is re-iterable: each iteration yields ``HashedBatch``-shaped
tuples ``(idx, y, dense, vocab, plans)``. The first iteration parses the file
(``loaddata.criteo.stream_criteo``) and hashes it (``prepdata.hashing.FeatureHasher``);
with ``cache=`` it also writes what it yields to a binary cache, and every later
iteration reads the cache instead (VW's ``--cache``): no parsing, no hashing.

``request_plans(batch_size)`` (``HashedLogisticRegression.fit`` calls it) asks a cached
stream for the row plans of the learner's mini-batches (``predict.online.plan``): in the
first pass each item comes with a ``PlanSink`` that the learner fills with the plans it
makes anyway, and the stream appends them to the cache; later passes hand them back
(``RowPlans``), so they skip finding each mini-batch's distinct rows as well. ``plans``
is None otherwise.

Cache layout (``<cache>.idx``, ``.y``, ``.dense``, ``.json``): the indices as raw
little-endian int32 (n_bits <= 31) row-major (rows, tokens), the labels as uint8, the
dense features as float32 (rows, d), and a JSON file with the row count of every batch,
the hasher state and the source file's size and modification time. With plans, also
``.inv`` (int32, the layout of ``.idx``: each position's slot in its mini-batch) and
``.rows`` (int64: per mini-batch its row count, then the rows), and the JSON's
``plans`` names their mini-batch size; they are kept only when the learner filled every
sink of the pass. The JSON is written last, so an interrupted first pass leaves no cache
that looks complete; a cache whose JSON does not match the source file or the hasher is
rebuilt. A pass over the cache
reads (4·T + 1 + 4·d) bytes per row, (8·T + 1 + 4·d) and the rows with plans.
"""
from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logitkit._util.errors import DataError
from logitkit._util.threads import drain, run_ahead
from logitkit.loaddata.criteo import CRITEO_COLUMNS, stream_criteo
from logitkit.loaddata.tokens import N_CODES, code_of_id, log_bucket_ids
from logitkit.predict.online.plan import PlanSink, RowPlans

_SUFFIXES = (".idx", ".y", ".dense")
_PLAN_SUFFIXES = (".inv", ".rows")


def batch_vocab(batch: pa.RecordBatch, fields: list[str], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``field=value`` tokens of one batch: (tokens, buckets, counts), shapes (m,).

    ``idx`` (n, T) are the hashed buckets whose first ``len(fields)`` columns belong to
    ``fields`` (crosses are not sketched). Strings are built only for distinct values.
    """
    toks, bks, cnts = [], [], []
    for j, f in enumerate(fields):
        arr = batch.column(f)
        if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
            codes = log_bucket_ids(arr.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False))
            codes[codes < 0] = N_CODES
            k = N_CODES + 1
            counts = np.bincount(codes, minlength=k)
            present = np.nonzero(counts)[0]
            toks.extend(f"{f}={code_of_id(int(c)) if c < N_CODES else ''}" for c in present)
        else:
            enc = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr.cast(pa.string()))
            k = len(enc.dictionary) + 1
            codes = enc.indices.fill_null(k - 1).to_numpy(zero_copy_only=False).astype(np.int64)
            counts = np.bincount(codes, minlength=k)
            present = np.nonzero(counts)[0]
            values = enc.dictionary.cast(pa.string()).take(pa.array(present[present < k - 1]))
            toks.extend(pc.binary_join_element_wise(f"{f}=", values, "").to_pylist())
            if present[-1] == k - 1:
                toks.append(f"{f}=")
        bucket_of = np.zeros(k, dtype=np.int64)
        bucket_of[codes] = idx[:, j]
        bks.append(bucket_of[present])
        cnts.append(counts[present])
    return np.array(toks, dtype=object), np.concatenate(bks), np.concatenate(cnts)


class CTRStream:
    """Re-iterable stream of hashed batches ``(idx, y, dense, vocab)`` from a Criteo TSV.

    Parameters: ``path`` (Criteo layout, gzip allowed), ``hasher`` (a ``FeatureHasher``),
    ``batch_rows`` rows per batch, ``cache`` (path prefix of the binary cache, or None),
    ``dense`` (numeric columns also given as dense features log(1 + max(x, 0)), missing
    -> 0), ``sketch_every`` (token vocab for the sketch on every k-th batch of the parsed
    pass; 0 = never), ``prefetch`` (parse + hash the next batches while the model learns
    the current one: ``"thread"`` (or True), a background thread; ``"process"``, a forked
    worker process, free of the GIL, as torch's DataLoader workers (a custom ``reader``
    uses a thread); ``False``, inline. On a machine whose cores are all busy, none of
    them beats inline. A pass over the cache is read ahead in a thread with either),
    ``reader`` (a callable returning record batches, instead of
    ``stream_criteo``), ``cache_plans`` (keep the learner's row plans in the cache when
    asked, ``request_plans``).
    """

    def __init__(
        self,
        path: str | Path,
        hasher,
        batch_rows: int = 65536,
        cache: str | Path | None = None,
        dense: list[str] | None = None,
        label: str = "label",
        sketch_every: int = 16,
        prefetch: str | bool = "thread",
        reader: Callable[[], Iterator[pa.RecordBatch]] | None = None,
        cache_plans: bool = True,
    ) -> None:
        self.path = Path(path)
        self.hasher = hasher
        self.batch_rows = int(batch_rows)
        self.cache = None if cache is None else Path(cache)
        self.dense = list(dense or [])
        self.label = label
        self.sketch_every = int(sketch_every)
        self.prefetch = prefetch
        self.reader = reader
        self.passes_from_cache = 0
        self.cache_plans = bool(cache_plans)
        self.plan_batch_size: int | None = None  # set by request_plans

    def request_plans(self, batch_size: int) -> None:
        """Keep the learner's row plans of mini-batches of ``batch_size`` rows in the cache
        (see the module docstring). Only a stream with a cache has them: a pass writing
        the cache yields a ``PlanSink`` per batch, a pass over a cache that has them yields
        ``RowPlans``; a cache written without them (or for another batch size) yields None.
        Ignored with ``cache_plans=False`` (a cache half the size, passes over it slower)."""
        if self.cache_plans:
            self.plan_batch_size = int(batch_size)

    def _plan_meta(self) -> dict | None:
        if self.cache is None or self.plan_batch_size is None:
            return None
        return {"batch_size": self.plan_batch_size, "n_buckets": 1 << int(self.hasher.n_bits)}

    # -- cache bookkeeping -------------------------------------------------------------
    def _source_id(self) -> dict:
        st = self.path.stat()
        return {"path": str(self.path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def _meta_path(self) -> Path:
        return Path(str(self.cache) + ".json")

    def cache_meta(self) -> dict | None:
        """The cache's JSON when a complete cache for this source and hasher exists, else None."""
        if self.cache is None or not self._meta_path().is_file():
            return None
        self._resolve_fields()
        meta = json.loads(self._meta_path().read_text())
        hasher = self.hasher.to_json()
        if self.hasher.fields is None:  # a custom reader's columns: take the cache's word for them
            hasher["fields"] = meta.get("hasher", {}).get("fields")
        want = {"source": self._source_id(), "hasher": hasher, "dense": self.dense}
        if any(meta.get(k) != v for k, v in want.items()) or meta.get("batch_rows") != self.batch_rows:
            return None
        return meta

    def _resolve_fields(self) -> None:
        """A hasher without ``fields`` hashes every non-label column: name them now for a
        Criteo file, so that its state matches the cache (and a worker process's) up front."""
        if self.hasher.fields is None and self.reader is None:
            self.hasher.fields = [c for c in CRITEO_COLUMNS if c != self.label]

    def cache_bytes(self) -> int:
        """Bytes a pass over the (complete) cache reads: the files it opens."""
        meta = self.cache_meta()
        if meta is None:
            return 0
        plans = meta.get("plans") is not None and meta.get("plans") == self._plan_meta()
        names = _SUFFIXES + (_PLAN_SUFFIXES if plans else ())
        return sum(Path(str(self.cache) + s).stat().st_size for s in names)

    # -- iteration -----------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple]:
        meta = self.cache_meta()
        if meta is not None:
            self.passes_from_cache += 1
            it = self._from_cache(meta)  # (read ahead in a thread with any prefetch: no parsing to fork for)
            return run_ahead(it) if self.prefetch else it
        it = self._parse_and_cache()
        self._resolve_fields()
        if self.prefetch == "process" and self.reader is None:
            it = _process_prefetched(self)
        elif self.prefetch:
            it = run_ahead(it)  # (closing it when abandoned: the pass leaves no cache behind)
        plan_meta = self._plan_meta()
        return self._collect_plans(it, plan_meta) if plan_meta else it

    def _convert(self, b: int, batch: pa.RecordBatch) -> tuple:
        # int32 indices (what the cache stores and the learner takes without a copy)
        idx = self.hasher.transform(batch, dtype=np.int32 if self.hasher.n_bits <= 31 else np.int64)
        ycol = batch.column(self.label)
        if ycol.null_count:
            raise DataError(f"{self.path}: a row of batch {b} (rows {b * self.batch_rows + 1}..) has no label; every row needs 0 or 1")
        y = ycol.to_numpy(zero_copy_only=False).astype(np.float32)
        dense = None
        if self.dense:
            cols = [batch.column(c).cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False) for c in self.dense]
            dense = np.log1p(np.maximum(np.stack(cols, 1), 0)).astype(np.float32)
        vocab = None
        if self.sketch_every and b % self.sketch_every == 0:
            vocab = batch_vocab(batch, self.hasher.fields, idx)
        return idx, y, dense, vocab, None

    def _batches(self) -> Iterator[pa.RecordBatch]:
        if self.reader is not None:
            return self.reader()
        # 2 MiB text chunks: a few are parsed ahead, so this bounds the reader's memory
        return stream_criteo(self.path, self.batch_rows, chunk_bytes=2 << 20)

    def _parse_and_cache(self) -> Iterator[tuple]:
        if self.cache is None:
            for b, batch in enumerate(self._batches()):
                item = self._convert(b, batch)
                del batch  # not held while the consumer has the item
                yield item
            return
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = {s: Path(str(self.cache) + s + ".tmp") for s in _SUFFIXES}
        files = {s: open(p, "wb") for s, p in tmp.items()}
        sizes, complete = [], False
        try:
            for b, batch in enumerate(self._batches()):
                item = self._convert(b, batch)
                del batch
                idx, y, dense = item[:3]
                if self.hasher.n_bits > 31:
                    raise DataError(f"the cache stores int32 indices; hasher n_bits={self.hasher.n_bits} needs <= 31")
                np.asarray(idx, dtype="<i4").tofile(files[".idx"])
                y.astype(np.uint8).tofile(files[".y"])
                if dense is not None:
                    dense.astype("<f4", copy=False).tofile(files[".dense"])
                sizes.append(len(y))
                yield item
            complete = True
        finally:  # an error or an abandoned pass leaves no partial files behind
            for f in files.values():
                f.close()
            for s, p in tmp.items():
                if complete:
                    os.replace(p, str(self.cache) + s)
                else:
                    p.unlink(missing_ok=True)
        for s in _PLAN_SUFFIXES:  # an earlier cache's plans (this pass's come after the JSON)
            Path(str(self.cache) + s).unlink(missing_ok=True)
        meta = {
            "format": "logitkit.ctr-cache/1", "source": self._source_id(), "hasher": self.hasher.to_json(),
            "dense": self.dense, "batch_rows": self.batch_rows, "batch_sizes": sizes,
            "n_tokens": self.hasher.n_tokens, "n_rows": int(sum(sizes)), "plans": None,
        }
        self._meta_path().write_text(json.dumps(meta))

    def _collect_plans(self, it: Iterator[tuple], plan_meta: dict) -> Iterator[tuple]:
        """The items of a cache-writing pass, each with a ``PlanSink`` for the learner; in
        this (the consumer's) thread, the sinks' plans go to the cache's ``.inv`` and
        ``.rows`` files, which join the cache (with ``plans`` in its JSON) when every sink
        of the pass was filled. The JSON without plans is already there: the producer
        wrote it before its last item arrived here."""
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = {s: Path(str(self.cache) + s + ".tmp") for s in _PLAN_SUFFIXES}
        complete = True

        def store(sink: PlanSink | None) -> None:
            nonlocal complete
            complete = complete and (sink is None or sink.complete())
            if complete and sink is not None:
                sink.write(fv, fr)

        try:
            with open(tmp[".inv"], "wb") as fv, open(tmp[".rows"], "wb") as fr:
                pending = None
                for item in it:
                    store(pending)  # the learner is done with the previous batch
                    pending = PlanSink(plan_meta["batch_size"], plan_meta["n_buckets"], np.shape(item[0]))
                    yield (*item[:4], pending)
                store(pending)
            meta = self.cache_meta() if complete else None
            if meta is not None and meta.get("batch_sizes") is not None:
                for s, p in tmp.items():
                    os.replace(p, str(self.cache) + s)
                meta["plans"] = plan_meta
                staged = Path(str(self._meta_path()) + ".tmp")
                staged.write_text(json.dumps(meta))
                os.replace(staged, self._meta_path())
        finally:
            getattr(it, "close", lambda: None)()  # an abandoned pass: the producer stops, no cache
            for p in tmp.values():
                p.unlink(missing_ok=True)

    def _from_cache(self, meta: dict) -> Iterator[tuple]:
        t, d = meta["n_tokens"], len(self.dense)
        base = str(self.cache)
        plan_meta = meta.get("plans")
        plans_here = plan_meta is not None and plan_meta == self._plan_meta()
        with contextlib.ExitStack() as files:
            fi, fy, fd = (files.enter_context(open(base + s, "rb")) for s in _SUFFIXES)
            fv, fr = (files.enter_context(open(base + s, "rb")) for s in _PLAN_SUFFIXES) if plans_here else (None, None)
            for n in meta["batch_sizes"]:
                idx = np.fromfile(fi, dtype="<i4", count=n * t).reshape(n, t)
                y = np.fromfile(fy, dtype=np.uint8, count=n).astype(np.float32)
                dense = np.fromfile(fd, dtype="<f4", count=n * d).reshape(n, d) if d else None
                plans = _read_plans(fv, fr, n, t, plan_meta) if plans_here else None
                yield idx, y, dense, None, plans


def _read_plans(fv, fr, n: int, t: int, plan_meta: dict) -> RowPlans:
    """The plans of one batch of ``n`` rows from the cache's ``.inv`` and ``.rows`` files."""
    bs = plan_meta["batch_size"]
    inv = np.fromfile(fv, dtype="<i4", count=n * t).reshape(n, t).astype(np.int64)
    rows = []
    for _ in range(0, n, bs):
        (count,) = np.fromfile(fr, dtype="<i8", count=1)
        rows.append(np.fromfile(fr, dtype="<i8", count=int(count)))
    return RowPlans(bs, plan_meta["n_buckets"], inv, rows)


def _produce(stream: CTRStream, q) -> None:
    """Worker process: parse, hash (and cache) the stream, hand each item to ``q``; None ends it."""
    try:
        for item in stream._parse_and_cache():
            q.put(item)
    except BaseException as exc:  # re-raised by the consumer
        q.put(exc)
        return
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
        yield from drain(q, None)
    finally:
        stopped = worker.is_alive()
        if stopped:
            worker.terminate()
        worker.join()
        q.close()
        if stopped and stream.cache is not None:  # the worker's partial files
            for suffix in _SUFFIXES:
                Path(str(stream.cache) + suffix + ".tmp").unlink(missing_ok=True)
