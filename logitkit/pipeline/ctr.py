"""The streamed CTR run (``model.kind: hashed``): nothing is loaded whole.

    train file ──loaddata.CTRStream (parse, prepdata.FeatureHasher, binary cache)──▶ HashedLogisticRegression.fit
    test file  ──CTRStream──▶ evaluate.evaluate_stream ──▶ StreamingMetrics (log loss, AUC, NE, calibration)
    the model  ──interpret.hashed──▶ collision statistics, top weights named by their tokens

This module only wires the stages together; the typed ``model.options`` are
``config_hashed.HashedOptions``. Memory is the weight table plus a batch, whatever the
file sizes. The record holds the progressive (VW-style) loss, the loss of every pass,
hash-collision statistics and the top weights named by their ``field=value`` tokens.

The ranks of a job are one ``Collective`` (``_util.collective.current()``: the identity
in one process). Under torchrun every rank streams only its byte range of the training
file (and of the test file; ``loaddata.shard``; a compressed file: every rank parses it
and keeps batches r, r + W, ...), learns with ``DistributedHashedLogisticRegression``
(state changes added up every ``model.options.sync_every`` mini-batches and at the end
of each pass), and the test metrics are streaming accumulators summed over ranks. A
holdout file is read whole by every rank (their models agree, so early stopping does).
Rank 0 writes the run directory; ``record["distributed"]`` lists each rank's bytes and lines.
"""
from __future__ import annotations

import shutil
import socket
import tempfile
import warnings
from pathlib import Path

from logitkit._util.collective import Collective, current
from logitkit._util.errors import ConfigError, DataError, InputFileError
from logitkit.pipeline.config import Config
from logitkit.pipeline.config_hashed import hashed_options
from logitkit.pipeline.record import sha256_file

#: config metric name -> streaming accumulator name
STREAMED_METRICS = {"log_loss": "log_loss", "roc_auc": "auc", "ne": "ne", "calibration_ratio": "calibration_ratio"}


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
    opts = hashed_options(cfg.model.options)
    if opts.interactions != "none" and current().is_distributed:
        raise ConfigError(f"model.options.interactions '{opts.interactions}' is not distributed: run it in one process "
                          "(without torchrun), or use interactions: none under torchrun")
    unknown = [m for m in cfg.evaluate.metrics if m not in STREAMED_METRICS]
    if unknown:
        raise ConfigError(f"evaluate.metrics: {unknown} are not available for the streamed hashed model; "
                          f"use some of {list(STREAMED_METRICS)}")
    here = "the config's folder"
    files = {"data.path": (cfg.data.path, here), "data.test_path": (cfg.data.test_path, here),
             "model.options.holdout_path": (opts.holdout_path, "the current folder")}
    for key, (path, base) in files.items():
        if path is not None and not Path(path).is_file():
            raise InputFileError(f"{key}: {path} is not a file; check the path (a relative one is taken from {base})")


def fingerprints(cfg: Config) -> dict:
    """sha256 of the input files, computed by streaming them (not loading)."""
    check(cfg)
    out = {"train": {"files": {cfg.data.path: sha256_file(cfg.data.path)}, "format": cfg.data.format}}
    out["test"] = ({"files": {cfg.data.test_path: sha256_file(cfg.data.test_path)}, "format": cfg.data.format}
                   if cfg.data.test_path else None)
    holdout = hashed_options(cfg.model.options).holdout_path
    if holdout:
        out["holdout"] = {"files": {holdout: sha256_file(holdout)}}
    return out


def _part(path: str, batch_rows: int, coll: Collective):
    """(reader of this rank's record batches of a Criteo file, what it reads); (None, None)
    for a job of one process, which reads the whole file with ``CTRStream``'s own reader."""
    import pyarrow as pa

    from logitkit.loaddata.criteo import CRITEO_COLUMNS, stream_criteo
    from logitkit.loaddata.roundrobin import shard_batches
    from logitkit.loaddata.shard import Part, byte_range, count_lines, is_compressed, stream_range_batches

    if not coll.is_distributed:
        return None, None
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


def run(cfg: Config, device, work: Path | None, record: dict, timer, coll: Collective | None = None) -> object:
    """Fit over the training stream, score the test stream; fills ``record``; returns the model.

    ``work`` is None on ranks > 0 of a distributed run (they write nothing)."""
    from logitkit.evaluate.streaming import StreamingMetrics
    from logitkit.interpret.hashed import collision_stats, top_weights
    from logitkit.loaddata.criteo import CRITEO_COLUMNS
    from logitkit.loaddata.ctr_stream import CTRStream
    from logitkit.predict.online.distributed import DistributedHashedLogisticRegression
    from logitkit.predict.online.learner import HashedLogisticRegression
    from logitkit.prepdata.hashing import FeatureHasher

    coll = coll or current()
    h, m, opts = cfg.prep.hashing, cfg.model, hashed_options(cfg.model.options)
    label = cfg.data.label or "label"
    fields = h.fields if h.fields is not None else [c for c in CRITEO_COLUMNS if c != label]
    hasher = FeatureHasher(n_bits=h.n_bits, seed=h.seed, fields=fields, crosses=list(h.crosses),
                           numeric=h.numeric, label=label)
    kw = dict(n_bits=h.n_bits, learning_rate=m.learning_rate, batch_size=m.batch_size, dtype=m.dtype,
              device=str(device), random_state=cfg.run.seed,
              checkpoint_dir=str(work / "model") if work is not None else None, **opts.learner_params())
    # (one process saves a plain HashedLogisticRegression, whose checkpoint HashedLogisticRegression.load reads)
    model = (DistributedHashedLogisticRegression(**kw, sync_every=opts.sync_every) if coll.is_distributed
             else HashedLogisticRegression(**kw) if opts.interactions == "none"
             else _interaction_model(kw, opts, hasher.token_names()))
    common = dict(batch_rows=cfg.data.batch_rows, dense=opts.dense, label=label, prefetch=opts.prefetch)
    scratch = Path(tempfile.mkdtemp(prefix="logitkit-cache-")) if work is None else None
    cache = (work if work is not None else scratch) / "cache" / "train" if opts.cache else None
    reader, part = _part(cfg.data.path, cfg.data.batch_rows, coll)
    train = CTRStream(cfg.data.path, hasher, cache=cache, sketch_every=opts.sketch_every, reader=reader,
                      cache_extras=opts.cache_plans, **common)
    holdout = CTRStream(opts.holdout_path, hasher, sketch_every=0, **common) if opts.holdout_path else None
    try:
        with timer.stage("predict"):
            model.fit(train, holdout=holdout)
        metrics = {"train": {"progressive_log_loss": float(model.progressive_loss_)}}
        test_part = None
        if cfg.data.test_path:
            with timer.stage("evaluate"):
                test_reader, test_part = _part(cfg.data.test_path, cfg.data.batch_rows, coll)
                test = CTRStream(cfg.data.test_path, hasher, sketch_every=0, reader=test_reader, **common)
                got = _evaluate(model, test, StreamingMetrics(tuple(STREAMED_METRICS[n] for n in cfg.evaluate.metrics)),
                                coll).result()
                metrics["test"] = {name: float(got[STREAMED_METRICS[name]]) for name in cfg.evaluate.metrics}
        if coll.is_distributed:
            record["distributed"] = _shard_record(part, test_part, model, coll)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if work is None:
        return model
    record["metrics"] = metrics
    if opts.interactions != "none":  # (the report shows model_stats)
        record["model_stats"] = {**(record.get("model_stats") or {}), **model.interaction_stats()}
    record["ctr"] = {
        "progressive_log_loss": float(model.progressive_loss_),
        "pass_losses": [float(v) for v in model.pass_losses_],
        "holdout_losses": [float(v) for v in model.holdout_losses_],
        "pass_seconds": [float(v) for v in model.pass_seconds_],
        "collisions": collision_stats(model),
        "top_weights": top_weights(model, 20),
        "hasher": hasher.to_json(),
        "cache": _cache_record(train),
    }
    if (work / "cache").exists():
        shutil.rmtree(work / "cache")  # the cache serves later passes of this run only
    model.save_checkpoint(str(work / "model"))
    if cfg.interpret.plots and len(model.pass_losses_) > 0:
        from logitkit.interpret import model_plots

        model_plots.loss_plot(list(model.pass_losses_), work / "plots" / "loss_curve.png",
                              validation_loss=list(model.holdout_losses_) or None)
    return model


def _interaction_model(kw: dict, opts, token_names: list[str]):
    """``HashedInteractionModel`` of the options (``interactions`` fm, ffm or deep); a
    warning names the interaction options this kind does not use."""
    from logitkit.predict.online.interaction_learner import HashedInteractionModel

    if opts.ignored():
        warnings.warn(f"model.options {', '.join(opts.ignored())} not used by interactions: {opts.interactions}; "
                      "ignored", UserWarning, stacklevel=2)
    return HashedInteractionModel(**kw, **opts.interaction_params(token_names))


def _cache_record(stream) -> dict | None:
    """What the training stream's cache did: passes read from it, the mini-batch size of
    the row plans it kept (None: none kept)."""
    if stream.cache is None:
        return None
    extras = (stream.cache_meta() or {}).get("extras")
    return {"passes_from_cache": stream.passes_from_cache, "row_plans_batch_size": extras and extras["key"]["batch_size"]}


def _evaluate(model, stream, acc, coll: Collective):
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


def _shard_record(part, test_part, model, coll: Collective) -> dict:
    mine = {"rank": coll.rank, "host": socket.gethostname(), "train": part.describe() if part else None,
            "test": test_part.describe() if test_part else None, "syncs": int(model.n_syncs_),
            "comm_bytes": int(model.comm_bytes_)}
    return {"world_size": coll.world_size, "backend": coll.backend, "shards": coll.all_gather(mine)}
