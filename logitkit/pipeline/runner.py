"""Run the seven stages for one config and write the run directory.

    runs/<run-id>/config.yaml     the fully resolved config (defaults included)
                  record.json     run id, seed, environment, data fingerprints,
                                  metrics per split, model statistics, timings, warnings
                  model/          safetensors + JSON (see ``modelio``)
                  coefficients.csv  (when the model has a coefficient table)
                  tables/*.csv, plots/*.png, report.html

The directory is built under a temporary name and renamed when complete, so a run
that fails never leaves a directory that looks complete: it is renamed
``<run-id>.failed`` with ``"status": "failed"`` and the error in its record.

Under ``torchrun`` (see docs/distributed.md) every rank runs the stages on its own part
of the input (a byte range of a text file, Parquet row groups or files; ``loaddata.shard``):
the split follows the rows' indices in the whole input, the transforms are fitted from
statistics reduced over the ranks, the model is fitted with all-reduced solvers, the
inference statistics are summed over the shards, rank 0 receives every row's label and
predicted probabilities for the metrics and plots, and only rank 0 writes the run
directory (``record["distributed"]`` lists which rank read what) — the run one process
writes, with the same run id. A failure on any rank is published to the others, so
rank 0 marks the run failed with that rank's message.
"""
from __future__ import annotations

import csv
import logging
import shutil
import signal
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from logitkit._util import dist
from logitkit._util.device import resolve_device
from logitkit._util.errors import UserError
from logitkit._util.seed import seed_everything
from logitkit.pipeline import stages, toolkit
from logitkit.pipeline.config import Config, resolved_dict
from logitkit.pipeline.modelio import save_model
from logitkit.pipeline.record import Timer, environment, now_iso, run_id, write_json

log = logging.getLogger("logitkit.pipeline")


class RunExistsError(UserError):
    """The run directory for these inputs is already there."""


@dataclass
class RunResult:
    run_dir: Path
    record: dict
    summary: object | None = None


def execute(cfg: Config, out: str | Path | None = None, force: bool = False) -> RunResult:
    """Run every stage for ``cfg``; returns the run directory and the record.

    Under ``torchrun`` it joins the process group first; a rank's failure is published
    to the other ranks, which stop with ``RankFailedError`` carrying its message.
    """
    if not dist.init_from_env():
        return _execute(cfg, out, force)
    try:
        previous = signal.signal(signal.SIGTERM, _stopped_by_launcher)
    except ValueError:  # not the main thread: torchrun's SIGTERM then just ends the process
        previous = None
    try:
        result = _execute(cfg, out, force)
        dist.shutdown()  # leave the group cleanly; ranks > 0 return before rank 0 has written
        return result
    except BaseException as exc:
        if isinstance(exc, dist.RankFailedError):
            raise
        dist.publish_error(f"rank {dist.rank()}: {type(exc).__name__}: {exc}")
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


_failing = False  # set while a failure is being recorded: a SIGTERM then waits


def _stopped_by_launcher(signum, frame) -> None:
    """torchrun stops the other ranks with SIGTERM when one fails: record, then exit."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let the failure be recorded
    if not _failing:
        raise dist.RankFailedError(dist.peer_error(0.5) or f"rank {dist.rank()} stopped by the launcher (SIGTERM)")


def _peer_failure(exc: BaseException) -> BaseException:
    """A collective that broke because another rank failed: that rank's error instead."""
    if not dist.is_distributed() or isinstance(exc, (UserError, dist.RankFailedError)) or not isinstance(exc, RuntimeError):
        return exc
    peer = dist.peer_error(1.0)
    if peer is None:
        return dist.RankFailedError(f"a rank stopped without a message (killed?); rank {dist.rank()} saw: {exc}")
    return dist.RankFailedError(peer)


@contextmanager
def _peer_failures():
    """A collective broken by another rank's failure raises that rank's error instead."""
    try:
        yield
    except Exception as exc:
        peer = _peer_failure(exc)
        if peer is exc:
            raise
        raise peer from exc


def _execute(cfg: Config, out: str | Path | None, force: bool) -> RunResult:
    global _failing
    _failing = False
    resolved = resolved_dict(cfg)
    seed_everything(cfg.run.seed, cfg.run.deterministic)
    device = resolve_device(cfg.run.device)
    timer = Timer()
    out_dir = Path(out if out is not None else cfg.run.out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        streamed = cfg.model.kind == "hashed"  # the CTR run: files are streamed, never loaded whole
        with timer.stage("loaddata"), _peer_failures():
            if streamed:
                table = test_table = parts = None
                fingerprints = stages.ctr_fingerprints(cfg)
            else:
                table, test_table, parts = stages.load(cfg)  # under torchrun: this rank's part
                fingerprints = {"train": table.fingerprint, "test": test_table.fingerprint if test_table else None}
                if dist.is_distributed():  # the whole files' fingerprints, hashed by rank 0
                    fingerprints = dist.broadcast_object(fingerprints)
        rid = run_id(resolved, fingerprints)
        final = out_dir / rid
        main = dist.is_main()
        if main and final.exists() and not force:
            raise RunExistsError(
                f"{final} already exists (a run of this same config and data); pass --force to "
                "replace it, or --out DIR to write elsewhere"
            )
        work = out_dir / f".{rid}.partial" if main else None  # ranks > 0 write nothing
        if main:
            if work.exists():
                shutil.rmtree(work)
            (work / "plots").mkdir(parents=True)
        record = {"run_id": rid, "status": "running", "created": now_iso(), "seed": cfg.run.seed,
                  "environment": environment(device), "data": fingerprints}
        try:
            if streamed:
                result = _streamed(cfg, device, timer, work, record)
            else:
                result = _stages(cfg, table, test_table, parts, device, timer, work, record)
        except BaseException as exc:
            _failing = True
            exc = _peer_failure(exc) if isinstance(exc, Exception) else exc
            if main:
                record.update(status="failed", error=f"{type(exc).__name__}: {exc}", timings=timer.seconds)
                _finish(work, out_dir / f"{rid}.failed", resolved, record, caught)
            raise exc
        if not main:
            return RunResult(final, record, result.summary)
        record["status"] = "complete"
        record["timings"] = timer.seconds
        _finish(work, final, resolved, record, caught, replace=force)
    result.run_dir = final
    result.record = record
    return result


def _finish(work: Path, final: Path, resolved: dict, record: dict, caught, replace: bool = True) -> None:
    record["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    record["finished"] = now_iso()
    (work / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    write_json(work / "record.json", record)
    if final.exists() and replace:
        shutil.rmtree(final)
    work.rename(final)


def _stages(cfg: Config, table, test_table, parts, device, timer: Timer, work: Path | None, record: dict) -> RunResult:
    """The stages after loading; ``work`` is None on ranks > 0 (they write nothing).

    Under torchrun ``table`` is this rank's part of the input (``parts`` says which): the
    split, the transforms' statistics, the fit and the inference statistics are computed
    over every rank's rows; rank 0 receives the labels and predicted probabilities of all
    rows (metrics, plots) and, only for cross-validation, the training rows.
    """
    main = work is not None
    with timer.stage("prepdata"):
        train, test = stages.split(cfg, table, test_table)
        prep, X_train, y_train, names = stages.prepare(cfg, train)
        X_test = prep.transform(test) if test is not None else None
        y_test = test.labels() if test is not None else None
    rows_train = stages.global_rows(train)
    with timer.stage("embed"):
        embedder, Z_train, Z_test, znames = stages.embed(cfg, X_train, X_test, names, rows_train)
    with timer.stage("predict"):
        model = stages.build_model(cfg, device)
        whole = stages.gather_train(cfg, Z_train, y_train, train)  # rank 0, for cross-validation only
        tuning = stages.tune(cfg, model, _named(whole[0], znames), whole[1], whole[2]) if whole else None
        if dist.is_distributed():
            tuning = stages.share_tuning(model, tuning)
        if tuning is not None:
            record["tuning"] = tuning
        model.fit(_named(Z_train, znames), y_train)  # this rank's training rows (all of them alone)
    if dist.is_distributed():
        record["distributed"] = stages.shard_record(parts, train, test)
    tot = stages.totals(train, test, y_train)  # over every rank
    record["data"]["summary"] = {
        "n_train": tot["n_train"], "n_test": tot["n_test"], "features": names,
        "classes": [str(c) for c in model.classes_], "class_counts_train": tot["class_counts_train"],
    }
    with timer.stage("evaluate"):
        summary = stages.inference(cfg, model, _named(Z_train, znames), y_train, train)  # summed over ranks
        splits = {"train": (Z_train, y_train, rows_train)}
        if Z_test is not None:
            splits["test"] = (Z_test, y_test, stages.global_rows(test))
        preds = stages.gather_predictions(model, splits, znames)  # rank 0: every row's (y, proba)
        prevalence = stages.gather_prevalence(cfg, train, y_train)
        if not main:
            return RunResult(None, record, summary)
        model = stages.single_process(model)
        if dist.is_distributed():
            stages.hosmer_lemeshow_full(cfg, model, preds["train"][0], preds["train"][1][:, -1], summary)
        record["metrics"] = {name: stages.metrics(cfg, model, y, P) for name, (y, P) in preds.items()}
        if summary is not None:
            record["model_stats"] = summary.stats
            _write_coefficients(work / "coefficients.csv", summary.rows)
        toolkit.marginal_effects(cfg, summary, work, record)
        cv = stages.cross_validation(cfg, model, _named(whole[0], znames), whole[1], whole[2]) if whole else None
        if cv is not None:
            record["cv"] = cv
    with timer.stage("interpret"):
        stages.interpret(cfg, work, model, train.label, preds, prevalence, (Z_train[:8], y_train[:8]), summary,
                         znames, record)
    from logitkit.embed.basis import basis_to_json

    save_model(work / "model", model, prep.to_json(), basis_to_json(embedder) if embedder is not None else None)
    if cfg.interpret.report:
        with timer.stage("report"):
            record["timings"] = timer.seconds
            stages.report(work, record)
    return RunResult(work, record, summary)


def _streamed(cfg: Config, device, timer: Timer, work: Path | None, record: dict) -> RunResult:
    """The CTR run (``pipeline.ctr``): hashed model over the streamed file, streamed metrics."""
    from logitkit.pipeline import ctr

    ctr.run(cfg, device, work, record, timer)
    if work is None:  # ranks > 0 write nothing
        return RunResult(None, record, None)
    if cfg.interpret.report:
        with timer.stage("report"):
            record["timings"] = timer.seconds
            stages.report(work, record)
    return RunResult(work, record, None)


def _named(Z: np.ndarray, names: list[str]) -> pa.Table:
    """Features as a pyarrow Table so the estimator records their names."""
    return pa.table({n: pa.array(np.ascontiguousarray(Z[:, j])) for j, n in enumerate(names)})


def _write_coefficients(path: Path, rows: list[dict]) -> None:
    from logitkit.evaluate.inference import COLUMNS

    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (repr(float(r[k])) if k != "term" and r.get(k) is not None else r.get(k, "")) for k in COLUMNS})
