"""The streamed CTR run (``model.kind: hashed``): nothing is loaded whole.

    train file ──CTRStream (parse + hash, binary cache)──▶ HashedLogisticRegression.fit
    test file  ──CTRStream──▶ evaluate_stream ──▶ StreamingMetrics (log loss, AUC, NE, calibration)

Memory is the weight table plus a batch, whatever the file sizes. The record holds the
progressive (VW-style) loss, the loss of every pass, hash-collision statistics and the
top weights named by their ``field=value`` tokens.
"""
from __future__ import annotations

from pathlib import Path

from logitkit._util.errors import ConfigError
from logitkit.pipeline.config import Config
from logitkit.pipeline.record import sha256_file

#: config metric name -> streaming accumulator name
STREAMED_METRICS = {"log_loss": "log_loss", "roc_auc": "auc", "ne": "ne", "calibration_ratio": "calibration_ratio"}
_STREAM_OPTIONS = ("cache", "sketch_every", "dense", "prefetch", "holdout_path")


def check(cfg: Config) -> None:
    """Config errors of the streamed path, before anything is read."""
    if cfg.data.path is None:
        raise ConfigError("model.kind 'hashed' streams a file: set data.path (a Criteo-layout TSV)")
    if cfg.prep.hashing is None:
        raise ConfigError("model.kind 'hashed' needs prep.hashing (n_bits, seed, crosses, ...)")
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


def run(cfg: Config, device, work: Path, record: dict, timer) -> object:
    """Fit over the training stream, score the test stream; fills ``record``; returns the model."""
    from logitkit.evaluate.streaming import StreamingMetrics
    from logitkit.predict.hashed import HashedLogisticRegression, evaluate_stream
    from logitkit.predict.online.stream import CTRStream
    from logitkit.prepdata.hashing import FeatureHasher

    h = cfg.prep.hashing
    hasher = FeatureHasher(n_bits=h.n_bits, seed=h.seed, fields=h.fields, crosses=list(h.crosses),
                           numeric=h.numeric, label=cfg.data.label or "label")
    opts = dict(cfg.model.options)
    stream_opts = {k: opts.pop(k) for k in _STREAM_OPTIONS if k in opts}
    m = cfg.model
    model = HashedLogisticRegression(
        n_bits=h.n_bits, learning_rate=m.learning_rate, batch_size=m.batch_size, dtype=m.dtype,
        device=str(device), random_state=cfg.run.seed, checkpoint_dir=str(work / "model"), **opts,
    )
    label = cfg.data.label or "label"
    common = dict(batch_rows=cfg.data.batch_rows, dense=stream_opts.get("dense"), label=label,
                  prefetch=stream_opts.get("prefetch", "thread"))
    cache = work / "cache" / "train" if stream_opts.get("cache", True) else None
    train = CTRStream(cfg.data.path, hasher, cache=cache, sketch_every=stream_opts.get("sketch_every", 16), **common)
    holdout_path = stream_opts.get("holdout_path")
    holdout = CTRStream(holdout_path, hasher, sketch_every=0, **common) if holdout_path else None
    with timer.stage("predict"):
        model.fit(train, holdout=holdout)
    names = tuple(STREAMED_METRICS[n] for n in cfg.evaluate.metrics)
    metrics = {"train": {"progressive_log_loss": float(model.progressive_loss_)}}
    if cfg.data.test_path:
        with timer.stage("evaluate"):
            acc = StreamingMetrics(names)
            evaluate_stream(model, CTRStream(cfg.data.test_path, hasher, sketch_every=0, **common), [acc])
            got = acc.result()
            metrics["test"] = {name: float(got[STREAMED_METRICS[name]]) for name in cfg.evaluate.metrics}
    record["metrics"] = metrics
    record["ctr"] = {
        "progressive_log_loss": float(model.progressive_loss_),
        "pass_losses": [float(v) for v in model.pass_losses_],
        "holdout_losses": [float(v) for v in getattr(model, "holdout_losses_", [])],
        "pass_seconds": [float(v) for v in getattr(model, "pass_seconds_", [])],
        "collisions": model.collision_stats(),
        "top_weights": model.top_weights(20),
        "hasher": hasher.to_json(),
    }
    if (work / "cache").exists():
        import shutil

        shutil.rmtree(work / "cache")  # the cache serves later passes of this run only
    model.save_checkpoint(str(work / "model"))
    if cfg.interpret.plots and len(model.pass_losses_) > 0:
        from logitkit.interpret import model_plots

        model_plots.loss_plot(list(model.pass_losses_), work / "plots" / "loss_curve.png",
                              validation_loss=list(getattr(model, "holdout_losses_", [])) or None)
    return model
