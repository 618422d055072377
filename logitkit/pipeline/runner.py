"""Run one config and write its run directory: the run id, the directory's life, the
record's frame, failures; the work itself is one of two paths, ``pipeline.dense`` (the
stages in order, ``model.kind`` logistic or mlp) or ``pipeline.ctr`` (the streamed CTR run).

    runs/<run-id>/config.yaml     the fully resolved config (defaults included)
                  record.json     run id, seed, environment, data fingerprints,
                                  metrics per split, model statistics, timings, warnings
                  model/          safetensors + JSON (see ``modelio``)
                  coefficients.csv  (when the model has a coefficient table)
                  tables/*.csv, plots/*.png, report.html

The directory is built under a temporary name and renamed when complete, so a run
that fails never leaves a directory that looks complete: it is renamed
``<run-id>.failed`` with ``"status": "failed"`` and the error in its record.

Under ``torchrun`` (see docs/distributed.md) ``execute`` joins the process group and
hands the paths the job's ``Collective``; every rank runs the stages on its own part
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

import logging
import os
import shutil
import signal
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from logitkit._util.errors import UserError
from logitkit._util.threads import set_intra_op_threads
from logitkit.pipeline.config import Config
from logitkit.pipeline.config_load import resolved_dict
from logitkit.pipeline.record import Timer, environment, now_iso, run_id, write_json

if TYPE_CHECKING:
    from logitkit._util.collective import Collective

# (torch is imported in the functions below, not here: a CTR run starts reading its files
# in a worker process before torch loads, ``_read_early``)
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
    early = _read_early(cfg, out, force)
    try:
        return _execute_in_group(cfg, out, force, early)
    finally:
        if early is not None:
            early.close()


def _read_early(cfg: Config, out, force: bool):
    """A CTR run in one process begins reading its files now, in a worker process, while
    torch is imported (``ctr.start``); None for the other runs. A complete run of the
    same config and files is refused before anything is read."""
    if cfg.model.kind != "hashed" or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return None
    from logitkit.pipeline import ctr

    ctr.check(cfg)
    if not force:
        out_dir = Path(out if out is not None else cfg.run.out)
        _refuse_existing(ctr.same_run(out_dir, resolved_dict(cfg), ctr.stat_inputs(cfg)))
    return ctr.start(cfg)


def _execute_in_group(cfg: Config, out, force: bool, early):
    from logitkit._util import dist

    if not dist.init_from_env():
        return _execute(cfg, out, force, early)
    try:
        previous = signal.signal(signal.SIGTERM, _stopped_by_launcher)
    except ValueError:  # not the main thread: torchrun's SIGTERM then just ends the process
        previous = None
    try:
        result = _execute(cfg, out, force, early)
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
    from logitkit._util import dist

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let the failure be recorded
    if not _failing:
        raise dist.RankFailedError(dist.peer_error(0.5) or f"rank {dist.rank()} stopped by the launcher (SIGTERM)")


def _execute(cfg: Config, out: str | Path | None, force: bool, early=None) -> RunResult:
    from logitkit._util import collective, dist
    from logitkit._util.device import resolve_device
    from logitkit._util.seed import seed_everything

    global _failing
    _failing = False
    coll = collective.current()
    resolved = resolved_dict(cfg)
    seed_everything(cfg.run.seed, cfg.run.deterministic)
    set_intra_op_threads(cfg.run.threads, small_kernels=cfg.model.kind == "hashed")
    device = resolve_device(cfg.run.device)
    timer = Timer()
    out_dir = Path(out if out is not None else cfg.run.out)
    path = _path(cfg)  # imported before the stages' clocks start: an import is no stage's time
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with timer.stage("loaddata"), dist.peer_failures():
            loaded, fingerprints = _load(path, cfg, coll, early)
        # None: the CTR path fingerprints its files in the pass that reads them; the id comes after
        rid = run_id(resolved, fingerprints) if fingerprints is not None else None
        if coll.is_main and not force:
            _refuse_existing(out_dir / rid if rid else path.same_run(out_dir, resolved, path.stat_inputs(cfg)))
        work = out_dir / f".{rid or f'pending-{os.getpid()}'}.partial" if coll.is_main else None  # ranks > 0 write nothing
        if work is not None:
            if work.exists():
                shutil.rmtree(work)
            (work / "plots").mkdir(parents=True)
            (work / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))  # (the report shows it)
        record = {"run_id": rid, "status": "running", "created": now_iso(), "seed": cfg.run.seed,
                  "environment": environment(device), "data": fingerprints}
        if rid is None:
            record["inputs"] = path.stat_inputs(cfg)
        try:
            summary = _run(path, cfg, coll, loaded, device, timer, work, record)
            if rid is None:
                rid = record["run_id"] = run_id(resolved, record["data"])
                if coll.is_main and not force:
                    _refuse_existing(out_dir / rid, work)
            if work is not None and cfg.model.kind == "hashed" and cfg.interpret.report:
                with timer.stage("report"):
                    record["timings"] = timer.seconds
                    path.report(work, record)
        except BaseException as exc:
            _failing = True
            exc = dist.peer_failure(exc) if isinstance(exc, Exception) else exc
            if work is not None and not isinstance(exc, RunExistsError):
                record.update(status="failed", error=f"{type(exc).__name__}: {exc}", timings=timer.seconds)
                _finish(work, out_dir / f"{rid or work.name[1:-8]}.failed", resolved, record, caught)
            raise exc
        final = out_dir / rid
        if work is None:
            return RunResult(final, record, summary)
        record["status"] = "complete"
        record["timings"] = timer.seconds
        _finish(work, final, resolved, record, caught, replace=force)
    return RunResult(final, record, summary)


def _refuse_existing(final: Path | None, work: Path | None = None) -> None:
    """``RunExistsError`` when ``final`` (a run of this same config and data) exists; the
    ``work`` of a run that found it only once its files were read is removed."""
    if final is None or not final.exists():
        return
    if work is not None:
        shutil.rmtree(work, ignore_errors=True)
    raise RunExistsError(
        f"{final} already exists (a run of this same config and data); pass --force to "
        "replace it, or --out DIR to write elsewhere"
    )


def _path(cfg: Config):
    """The module of this config's path: ``pipeline.ctr`` for ``model.kind: hashed``, else
    ``pipeline.dense``. Imported here, when a run needs it, so that a CTR run starts
    without the dense path's SciPy, scikit-learn and matplotlib."""
    if cfg.model.kind == "hashed":
        from logitkit.pipeline import ctr

        return ctr
    from logitkit.pipeline import dense

    return dense


def _load(path, cfg: Config, coll: Collective, early=None) -> tuple[object, dict | None]:
    """(what the run's path loaded, the input fingerprints of the run id; None: they come
    from the passes that read the files). A CTR run's "loaded" are the streams it began
    reading early (or None)."""
    if cfg.model.kind != "hashed":
        return path.load(cfg, coll)
    path.check(cfg)  # the CTR run: files are streamed, never loaded whole
    if not coll.is_distributed:
        return early, None  # fingerprinted by the passes that read them (ctr.run)
    return None, coll.broadcast_call(path.fingerprints, cfg)  # rank 0 hashes the files


def _run(path, cfg: Config, coll: Collective, loaded, device, timer: Timer, work: Path | None, record: dict):
    """The run's path after loading; fills ``record`` and, on rank 0, ``work``. Returns
    the inference summary (None for the CTR run, whose report comes once its id is known)."""
    if cfg.model.kind != "hashed":
        return path.run(cfg, coll, loaded, device, timer, work, record)
    path.run(cfg, device, work, record, timer, coll, streams=loaded)
    return None


def _finish(work: Path, final: Path, resolved: dict, record: dict, caught, replace: bool = True) -> None:
    record["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    record["finished"] = now_iso()
    (work / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    write_json(work / "record.json", record)
    if final.exists() and replace:
        shutil.rmtree(final)
    work.rename(final)
