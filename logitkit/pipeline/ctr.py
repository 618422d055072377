"""The streamed CTR run (``model.kind: hashed``): nothing is loaded whole.

    train file ──loaddata.CTRStream (parse, prepdata.FeatureHasher, binary cache)──▶ HashedLogisticRegression.fit
    test file  ──CTRStream──▶ evaluate.evaluate_stream ──▶ StreamingMetrics (log loss, AUC, NE, calibration)
    the model  ──interpret.hashed──▶ collision statistics, top weights named by their tokens
               ──interpret.ctr_plots──▶ progressive loss, per-pass loss, reliability, ROC (SVG)

This module only wires the stages together; the typed ``model.options`` are
``config_hashed.HashedOptions``, the files' checks and fingerprints ``ctr_files``.
Memory is the weight table plus a batch, whatever the file sizes. The record holds the
progressive (VW-style) loss and its curve against the rows seen, the loss of every
pass, each pass's rows/s, hash-collision statistics and the top weights named by their
``field=value`` tokens. Each pass and the test scoring report their progress
(``_util.progress``: rows, share of the file read, rows/s, the running log loss).

In one process the files are fingerprinted by the pass that parses them (``record["data"]``
is filled here; the runner derives the run id from it afterwards). The ranks of a job
are one ``Collective`` (``_util.collective.current()``: the identity in one process).
Under torchrun every rank streams only its byte range of the training file (and of the
test file; ``loaddata.shard``; a compressed file: every rank parses it and keeps batches
r, r + W, ...), learns with ``DistributedHashedLogisticRegression`` (state changes added
up every ``model.options.sync_every`` mini-batches and at the end of each pass), and the
test metrics are streaming accumulators summed over ranks; rank 0 fingerprints the
files beforehand (``ctr_files.fingerprints``). A holdout file is read whole by every
rank (their models agree, so early stopping does). Rank 0 writes the run directory;
``record["distributed"]`` lists each rank's bytes and lines.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import warnings
from pathlib import Path

from logitkit._util import progress
from logitkit._util.errors import DataError
from logitkit.pipeline.config import Config
from logitkit.pipeline.config_hashed import hashed_options
from logitkit.pipeline.ctr_files import (  # noqa: F401 (check, fingerprints, same_run, stat_inputs: the runner's)
    STREAMED_METRICS, check, entries, fingerprints, same_run, stat_inputs,
)


def _part(path: str, batch_rows: int, coll):
    """(reader of this rank's record batches of a Criteo file, what it reads); (None, None)
    for a job of one process, which reads the whole file with ``CTRStream``'s own reader."""
    if not coll.is_distributed:
        return None, None
    import pyarrow as pa

    from logitkit.loaddata.criteo import CRITEO_COLUMNS, stream_criteo
    from logitkit.loaddata.roundrobin import shard_batches
    from logitkit.loaddata.shard import Part, byte_range, count_lines, is_compressed, stream_range_batches

    if is_compressed(path):
        part = Part(str(path), "batches", extra={"batches": f"{coll.rank}::{coll.world_size}",
                                                  "note": "compressed: every rank parses the file"})
        return (lambda: shard_batches(stream_criteo(path, batch_rows), coll)), part
    start, end = byte_range(path, coll.rank, coll.world_size)
    n_lines = count_lines(path, start, end)
    counts = coll.all_gather(n_lines)
    first = 1 + sum(counts[: coll.rank])
    types = {"label": pa.int8(), **{c: pa.int64() for c in CRITEO_COLUMNS[1:14]},
             **{c: pa.string() for c in CRITEO_COLUMNS[14:]}}
    part = Part(str(path), "bytes", n_lines, bytes=[start, end], lines=[first, first + n_lines - 1] if n_lines else None)
    return (lambda: stream_range_batches(path, start, end, CRITEO_COLUMNS, batch_rows, types, first)), part


class _Watched:
    """A ``CTRStream`` whose consumer's progress is reported, one task per pass (rows
    taken, share of the file or cache read, rows/s, ``loss()`` when given); each pass's
    rows, seconds and source are kept in ``passes``. Everything else is the stream's."""

    def __init__(self, stream, name: str, n_passes: int = 1, loss=None):
        self._stream, self._name, self._n_passes, self._loss = stream, name, n_passes, loss
        self.passes: list[dict] = []

    def __getattr__(self, attr):
        return getattr(self._stream, attr)

    def __iter__(self):
        s, k = self._stream, len(self.passes) + 1
        meta = s.next_pass_cache()
        total = s.cache_bytes() if meta else os.path.getsize(s.path)
        name = self._name if self._n_passes == 1 else f"{self._name}, pass {k}" + (" (cache)" if meta else "")
        rows, t0 = 0, time.perf_counter()
        with progress.current().task(name, total_bytes=total, source=s.path.name) as task:
            for item in s:
                yield item  # (resumed when the consumer is done with it)
                rows += len(item[1])
                read = total * rows / meta["n_rows"] if meta else (s.meter.bytes_read if s.meter else 0)
                task.update(rows=rows, bytes=read, loss=self._loss() if self._loss else None)
        seconds = time.perf_counter() - t0
        self.passes.append({"pass": k, "read": "cache" if meta else "text", "rows": rows, "seconds": seconds,
                            "rows_per_s": rows / seconds if seconds > 0 else None})


class Streams:
    """A run's streams over one hasher: ``train``, ``test``, ``holdout`` (``CTRStream``s, or
    None) and this rank's parts of the files (``train_part``, ``test_part``; None in one
    process). Files they keep (the cache of later passes, the spool) are in a scratch
    folder that ``close`` removes. With ``spool`` the training file's first pass, then the
    test file's, are parsed and hashed by one worker process (``loaddata.Spool``) from now
    on, ahead of the learner by up to 256 MB on disk: made before torch is imported, they
    are under way while it loads (``start``)."""

    def __init__(self, cfg: Config, coll=None, spool: bool = False):
        from logitkit.loaddata.criteo import CRITEO_COLUMNS
        from logitkit.loaddata.ctr_stream import CTRStream
        from logitkit.prepdata.hashing import FeatureHasher

        h, opts = cfg.prep.hashing, hashed_options(cfg.model.options)
        label = cfg.data.label or "label"
        fields = h.fields if h.fields is not None else [c for c in CRITEO_COLUMNS if c != label]
        self.hasher = FeatureHasher(n_bits=h.n_bits, seed=h.seed, fields=fields, crosses=list(h.crosses),
                                    numeric=h.numeric, label=label)
        common = dict(batch_rows=cfg.data.batch_rows, dense=opts.dense, label=label, prefetch=opts.prefetch,
                      digest=True)  # (the run id: each file's sha256 from the pass that parses it)
        self.scratch = Path(tempfile.mkdtemp(prefix="logitkit-ctr-"))
        # (one pass has no later pass to read a cache: none is written)
        cache = self.scratch / "cache" / "train" if opts.cache and opts.n_passes > 1 else None
        reader, self.train_part = _part(cfg.data.path, cfg.data.batch_rows, coll) if coll else (None, None)
        self.train = CTRStream(cfg.data.path, self.hasher, cache=cache, sketch_every=opts.sketch_every, reader=reader,
                               cache_extras=opts.cache_plans, **common)
        self.test, self.test_part = None, None
        if cfg.data.test_path:
            reader, self.test_part = _part(cfg.data.test_path, cfg.data.batch_rows, coll) if coll else (None, None)
            self.test = CTRStream(cfg.data.test_path, self.hasher, sketch_every=0, reader=reader, **common)
        self.holdout = CTRStream(opts.holdout_path, self.hasher, sketch_every=0, **common) if opts.holdout_path else None
        self.spool = None
        if spool:
            from logitkit.loaddata.spool import Spool

            files = [s for s in (self.train, self.test) if s is not None]
            self.spool = Spool([s.spool_producer() for s in files], self.scratch / "spool")
            for k, s in enumerate(files):
                s.spooled_pass(self.spool.items(k))

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def start(cfg: Config) -> Streams | None:
    """The streams of a one-process run with ``model.options.prefetch: process``, their
    reading begun in a worker process now (call it before torch is imported); else None."""
    check(cfg)
    if hashed_options(cfg.model.options).prefetch != "process":
        return None
    return Streams(cfg, spool=True)


def run(cfg: Config, device, work: Path | None, record: dict, timer, coll=None, streams: Streams | None = None) -> object:
    """Fit over the training stream, score the test stream; fills ``record`` (with the
    files' fingerprints in ``record["data"]`` unless the runner set them); returns the model.

    ``work`` is None on ranks > 0 of a distributed run (they write nothing); ``streams``,
    the ones ``start`` began reading (closed here), else made here."""
    from logitkit._util.collective import current

    coll = coll or current()
    streams = streams or Streams(cfg, coll if coll.is_distributed else None)
    try:
        return _run(cfg, device, work, record, timer, coll, streams)
    finally:
        streams.close()


def _run(cfg: Config, device, work: Path | None, record: dict, timer, coll, streams: Streams) -> object:
    from logitkit.evaluate.streaming import StreamingMetrics
    from logitkit.interpret.hashed import collision_stats, top_weights
    from logitkit.predict.online.distributed import DistributedHashedLogisticRegression
    from logitkit.predict.online.learner import HashedLogisticRegression

    m, opts = cfg.model, hashed_options(cfg.model.options)
    kw = dict(n_bits=cfg.prep.hashing.n_bits, learning_rate=m.learning_rate, batch_size=m.batch_size, dtype=m.dtype,
              device=str(device), random_state=cfg.run.seed,
              checkpoint_dir=str(work / "model") if work is not None else None, **opts.learner_params())
    # (one process saves a plain HashedLogisticRegression, whose checkpoint HashedLogisticRegression.load reads)
    model = (DistributedHashedLogisticRegression(**kw, sync_every=opts.sync_every) if coll.is_distributed
             else HashedLogisticRegression(**kw) if opts.interactions == "none"
             else _interaction_model(kw, opts, streams.hasher.token_names()))
    hasher, part, test_part = streams.hasher, streams.train_part, streams.test_part
    train = _Watched(streams.train, "train", opts.n_passes, lambda: model.running_loss_)
    holdout = _Watched(streams.holdout, "holdout", opts.n_passes) if streams.holdout else None
    acc = StreamingMetrics(("log_loss", "ne", "calibration_ratio", "auc"))  # (auc: also the test plots)
    with timer.stage("predict"):
        model.fit(train, holdout=holdout)
    _release_memory()
    metrics = {"train": {"progressive_log_loss": float(model.progressive_loss_)}}
    test = None
    if streams.test is not None:
        with timer.stage("evaluate"):
            test = _Watched(streams.test, "test", loss=lambda: acc.accumulators["log_loss"].result())
            acc = _evaluate(model, test, acc, coll)
            _release_memory()
            got = acc.result()
            metrics["test"] = {name: float(got[STREAMED_METRICS[name]]) for name in cfg.evaluate.metrics}
    if coll.is_distributed:
        record["distributed"] = _shard_record(part, test_part, model, coll)
    elif record.get("data") is None:  # one process: the digests of the passes that read the files
        read = {"train": train, "test": test, "holdout": holdout}
        record["data"] = entries(cfg, {k: s.fingerprint() for k, s in read.items() if s is not None})
    cache = _cache_record(train)  # (before the streams' cache goes)
    if work is None:
        return model
    record["metrics"] = metrics
    if opts.interactions != "none":  # (the report shows model_stats)
        record["model_stats"] = {**(record.get("model_stats") or {}), **model.interaction_stats()}
    record["ctr"] = {
        "progressive_log_loss": float(model.progressive_loss_),
        "loss_curve": [list(p) for p in model.loss_curve_.points],
        "pass_losses": [float(v) for v in model.pass_losses_],
        "holdout_losses": [float(v) for v in model.holdout_losses_],
        "pass_seconds": [float(v) for v in model.pass_seconds_],
        "throughput": {"train": train.passes, "holdout": holdout.passes if holdout else [],
                       "test": test.passes if test else []},
        "collisions": collision_stats(model),
        "top_weights": top_weights(model, 20),
        "hasher": hasher.to_json(),
        "cache": cache,  # (the cache served the later passes of this run only: removed with the streams)
    }
    # (model/ holds the checkpoint fit wrote at the end of its last pass: the final state)
    if cfg.interpret.plots:
        _plots(model, acc if test is not None else None, metrics.get("test"), work / "plots")
    return model


def _interaction_model(kw: dict, opts, token_names: list[str]):
    """``HashedInteractionModel`` of the options (``interactions`` fm, ffm or deep); a
    warning names the interaction options this kind does not use."""
    from logitkit.predict.online.interaction_learner import HashedInteractionModel

    if opts.ignored():
        warnings.warn(f"model.options {', '.join(opts.ignored())} not used by interactions: {opts.interactions}; "
                      "ignored", UserWarning, stacklevel=2)
    return HashedInteractionModel(**kw, **opts.interaction_params(token_names))


def report(work: Path, record: dict) -> None:
    """``report.html`` from the run directory, with the record as it stands (without the
    dense path's outputs module: a CTR run imports neither SciPy nor matplotlib)."""
    from logitkit.interpret.report import write_report
    from logitkit.pipeline.record import write_json

    write_json(work / "record.json", record)
    write_report(work)


def _plots(model, acc, test_metrics: dict | None, folder: Path) -> None:
    """The run's plots (SVG): progressive loss, per-pass loss, and from the test
    accumulators the reliability diagram and the ROC curve."""
    from logitkit.interpret import ctr_plots

    test_loss = float(acc.accumulators["log_loss"].result()) if acc is not None else None
    ctr_plots.progressive_loss_plot(model.loss_curve_.points, folder / "loss_progressive.svg", test_loss)
    ctr_plots.pass_loss_plot(list(model.pass_losses_), list(model.holdout_losses_), folder / "loss_passes.svg")
    if acc is not None:
        auc = acc.accumulators["auc"]
        try:
            observed, predicted, _ = auc.calibration_curve(10, "quantile")
            ctr_plots.reliability_plot(observed, predicted, folder / "calibration.svg")
            fpr, tpr = auc.roc_curve()
            ctr_plots.roc_plot(fpr, tpr, auc.result(), folder / "roc.svg")
        except DataError:  # one class in the test file: neither curve is defined
            pass


def _release_memory() -> None:
    """Hand the memory the readers freed back to the system (pyarrow's allocator keeps
    freed blocks for reuse; the next stage, or the model's checkpoint, would come on top)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _cache_record(stream) -> dict | None:
    """What the training stream's cache did: passes read from it, the mini-batch size of
    the row plans it kept (None: none kept)."""
    if stream.cache is None:
        return None
    extras = (stream.cache_meta() or {}).get("extras")
    return {"passes_from_cache": stream.passes_from_cache, "row_plans_batch_size": extras and extras["key"]["batch_size"]}


def _evaluate(model, stream, acc, coll):
    """``acc`` over every rank's part of the test stream (``reduce_metrics``). A rank's
    part may be empty when there are several (it adds nothing); one process's may not."""
    from logitkit.evaluate.streaming import evaluate_stream, reduce_metrics

    seen = [0]

    def batches():
        for b in stream:
            seen[0] += 1
            yield b

    try:
        evaluate_stream(model, batches(), [acc])
    except DataError:
        if seen[0] or not coll.is_distributed:
            raise
    return reduce_metrics(acc, coll)


def _shard_record(part, test_part, model, coll) -> dict:
    mine = {"rank": coll.rank, "host": socket.gethostname(), "train": part.describe() if part else None,
            "test": test_part.describe() if test_part else None, "syncs": int(model.n_syncs_),
            "comm_bytes": int(model.comm_bytes_)}
    return {"world_size": coll.world_size, "backend": coll.backend, "shards": coll.all_gather(mine)}
