"""The streamed CTR run (``model.kind: hashed``): nothing is loaded whole.

    train file ──CTRStream (parse + hash, binary cache)──▶ HashedLogisticRegression.fit
    test file  ──CTRStream──▶ evaluate_stream ──▶ StreamingMetrics (log loss, AUC, NE, calibration)

Memory is the weight table plus a batch, whatever the file sizes. The record holds the
progressive (VW-style) loss, the loss of every pass, hash-collision statistics and the
top weights named by their ``field=value`` tokens.

Under torchrun every rank streams only its byte range of the training file (and of the
test file; ``loaddata.shard``; a compressed file: every rank parses it and keeps
batches r, r + W, ...), learns with ``DistributedHashedLogisticRegression`` (state
changes added up every ``model.options.sync_every`` mini-batches, default 64, and at the
end of each pass), and the test metrics are streaming accumulators summed over ranks.
A holdout file is read whole by every rank (their models agree, so early stopping does).
Rank 0 writes the run directory; ``record["distributed"]`` lists each rank's bytes and lines.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from logitkit._util import dist
from logitkit._util.errors import ConfigError
from logitkit.pipeline.config import Config
from logitkit.pipeline.record import sha256_file

#: config metric name -> streaming accumulator name
STREAMED_METRICS = {"log_loss": "log_loss", "roc_auc": "auc", "ne": "ne", "calibration_ratio": "calibration_ratio"}
_STREAM_OPTIONS = ("cache", "cache_plans", "sketch_every", "dense", "prefetch", "holdout_path", "sync_every")


def check(cfg: Config) -> None:
    """Config errors of the streamed path, before anything is read."""
    if cfg.data.path is None:
        raise ConfigError("model.kind 'hashed' streams a file: set data.path (a Criteo-layout TSV)")
    if cfg.prep.hashing is None:
        raise ConfigError("model.kind 'hashed' needs prep.hashing (n_bits, seed, crosses, ...)")
    from logitkit.loaddata.files import guess_format

    for key in ("path", "test_path"):
        path = getattr(cfg.data, key)
        if path is not None and guess_format(path, cfg.data.format) not in ("criteo", "tsv"):
            raise ConfigError(
                f"data.{key} {path!r}: model.kind 'hashed' streams Criteo-layout TSV files (label, I1..I13, "
                "C1..C26; data.format: criteo); convert the file, or use the dense model for other formats"
            )
    unknown = [m for m in cfg.evaluate.metrics if m not in STREAMED_METRICS]
    if unknown:
        raise ConfigError(f"evaluate.metrics: {unknown} are not available for the streamed hashed model; "
                          f"use some of {list(STREAMED_METRICS)}")


def fingerprints(cfg: Config) -> dict:
    """sha256 of the input files, computed by streaming them (not loading)."""
    check(cfg)
    out = {"train": {"files": {cfg.data.path: sha256_file(cfg.data.path)}, "format": cfg.data.format}}
    out["test"] = ({"files": {cfg.data.test_path: sha256_file(cfg.data.test_path)}, "format": cfg.data.format}
                   if cfg.data.test_path else None)
    holdout = cfg.model.options.get("holdout_path")
    if holdout:
        out["holdout"] = {"files": {holdout: sha256_file(holdout)}}
    return out


def _part(path: str, batch_rows: int):
    """(reader of this rank's record batches of a Criteo file, what it reads), or (None, None) alone."""
    import pyarrow as pa

    from logitkit.loaddata.criteo import CRITEO_COLUMNS, stream_criteo
    from logitkit.loaddata.shard import Part, byte_range, count_lines, is_compressed, stream_range_batches
    from logitkit.predict.distributed import shard_batches

    if not dist.is_distributed():
        return None, None
    if is_compressed(path):
        part = Part(str(path), "batches", extra={"batches": f"{dist.rank()}::{dist.world_size()}",
                                                  "note": "compressed: every rank parses the file"})
        return (lambda: shard_batches(stream_criteo(path, batch_rows))), part
    start, end = byte_range(path, dist.rank(), dist.world_size())
    n_lines = count_lines(path, start, end)
    counts = dist.all_gather_object(n_lines)
    first = 1 + sum(counts[: dist.rank()])
    types = {"label": pa.int8(), **{c: pa.int64() for c in CRITEO_COLUMNS[1:14]},
             **{c: pa.string() for c in CRITEO_COLUMNS[14:]}}
    part = Part(str(path), "bytes", n_lines, bytes=[start, end], lines=[first, first + n_lines - 1] if n_lines else None)
    return (lambda: stream_range_batches(path, start, end, CRITEO_COLUMNS, batch_rows, types, first)), part


def run(cfg: Config, device, work: Path | None, record: dict, timer) -> object:
    """Fit over the training stream, score the test stream; fills ``record``; returns the model.

    ``work`` is None on ranks > 0 of a distributed run (they write nothing)."""
    from logitkit.evaluate.streaming import StreamingMetrics
    from logitkit.loaddata.criteo import CRITEO_COLUMNS
    from logitkit.predict.distributed import DistributedHashedLogisticRegression, reduce_metrics
    from logitkit.predict.hashed import HashedLogisticRegression, evaluate_stream
    from logitkit.predict.online.stream import CTRStream
    from logitkit.prepdata.hashing import FeatureHasher

    h = cfg.prep.hashing
    label = cfg.data.label or "label"
    distributed = dist.is_distributed()
    fields = h.fields
    if fields is None and distributed:  # a reader's stream: name the Criteo fields as one process does
        fields = [c for c in CRITEO_COLUMNS if c != label]
    hasher = FeatureHasher(n_bits=h.n_bits, seed=h.seed, fields=fields, crosses=list(h.crosses),
                           numeric=h.numeric, label=label)
    opts = dict(cfg.model.options)
    stream_opts = {k: opts.pop(k) for k in _STREAM_OPTIONS if k in opts}
    m = cfg.model
    kw = dict(n_bits=h.n_bits, learning_rate=m.learning_rate, batch_size=m.batch_size, dtype=m.dtype,
              device=str(device), random_state=cfg.run.seed,
              checkpoint_dir=str(work / "model") if work is not None else None, **opts)
    if distributed:
        model = DistributedHashedLogisticRegression(**kw, sync_every=int(stream_opts.get("sync_every", 64)))
    else:
        model = HashedLogisticRegression(**kw)
    common = dict(batch_rows=cfg.data.batch_rows, dense=stream_opts.get("dense"), label=label,
                  prefetch=stream_opts.get("prefetch", "thread"))
    scratch = Path(tempfile.mkdtemp(prefix="logitkit-cache-")) if work is None else None
    cache = None
    if stream_opts.get("cache", True):
        cache = (work if work is not None else scratch) / "cache" / "train"
    reader, part = _part(cfg.data.path, cfg.data.batch_rows)
    train = CTRStream(cfg.data.path, hasher, cache=cache, sketch_every=stream_opts.get("sketch_every", 16),
                      reader=reader, cache_plans=stream_opts.get("cache_plans", True), **common)
    holdout_path = stream_opts.get("holdout_path")
    holdout = CTRStream(holdout_path, hasher, sketch_every=0, **common) if holdout_path else None
    try:
        with timer.stage("predict"):
            model.fit(train, holdout=holdout)
        names = tuple(STREAMED_METRICS[n] for n in cfg.evaluate.metrics)
        metrics = {"train": {"progressive_log_loss": float(model.progressive_loss_)}}
        test_part = None
        if cfg.data.test_path:
            with timer.stage("evaluate"):
                acc = StreamingMetrics(names)
                test_reader, test_part = _part(cfg.data.test_path, cfg.data.batch_rows)
                test = CTRStream(cfg.data.test_path, hasher, sketch_every=0, reader=test_reader, **common)
                if distributed:
                    _evaluate_part(model, test, acc)
                    acc = reduce_metrics(acc)  # the accumulators' sums over every rank's rows
                else:
                    evaluate_stream(model, test, [acc])
                got = acc.result()
                metrics["test"] = {name: float(got[STREAMED_METRICS[name]]) for name in cfg.evaluate.metrics}
        if distributed:
            record["distributed"] = _shard_record(part, test_part, model)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if work is None:
        return model
    record["metrics"] = metrics
    record["ctr"] = {
        "progressive_log_loss": float(model.progressive_loss_),
        "pass_losses": [float(v) for v in model.pass_losses_],
        "holdout_losses": [float(v) for v in getattr(model, "holdout_losses_", [])],
        "pass_seconds": [float(v) for v in getattr(model, "pass_seconds_", [])],
        "collisions": model.collision_stats(),
        "top_weights": model.top_weights(20),
        "hasher": hasher.to_json(),
        "cache": _cache_record(train),
    }
    if (work / "cache").exists():
        shutil.rmtree(work / "cache")  # the cache serves later passes of this run only
    model.save_checkpoint(str(work / "model"))
    if cfg.interpret.plots and len(model.pass_losses_) > 0:
        from logitkit.interpret import model_plots

        model_plots.loss_plot(list(model.pass_losses_), work / "plots" / "loss_curve.png",
                              validation_loss=list(getattr(model, "holdout_losses_", [])) or None)
    return model


def _cache_record(stream) -> dict | None:
    """What the training stream's cache did: passes read from it, the mini-batch size of
    the row plans it kept (None: none kept)."""
    if stream.cache is None:
        return None
    meta = stream.cache_meta() or {}
    plans = meta.get("plans")
    return {"passes_from_cache": stream.passes_from_cache, "row_plans_batch_size": plans and plans["batch_size"]}


def _evaluate_part(model, stream, acc) -> None:
    """Score this rank's part of the test stream into ``acc``; an empty part adds nothing."""
    from logitkit._util.errors import DataError
    from logitkit.predict.hashed import evaluate_stream

    seen = [0]

    def batches():
        for b in stream:
            seen[0] += 1
            yield b

    try:
        evaluate_stream(model, batches(), [acc])
    except DataError:
        if seen[0]:
            raise


def _shard_record(part, test_part, model) -> dict:
    import socket

    mine = {"rank": dist.rank(), "host": socket.gethostname(), "train": part.describe() if part else None,
            "test": test_part.describe() if test_part else None, "syncs": int(model.n_syncs_),
            "comm_bytes": int(model.comm_bytes_)}
    return {"world_size": dist.world_size(), "backend": dist.backend(), "shards": dist.all_gather_object(mine)}
