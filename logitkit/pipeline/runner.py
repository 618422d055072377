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
import signal
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from logitkit._util.errors import UserError
from logitkit._util.threads import set_intra_op_threads
from logitkit.pipeline.config import Config
from logitkit.pipeline import rundir
from logitkit.pipeline.config_load import config_dir, resolved_dict
from logitkit.pipeline.integrity import RunFiles, seal
from logitkit.pipeline.record import Timer, environment, now_iso, run_id, write_json
from logitkit.pipeline.rundir import OutputPathError, RunExistsError, RunInProgressError  # noqa: F401 (public here)
from logitkit.pipeline.watch import InputWatch

if TYPE_CHECKING:
    from logitkit._util.collective import Collective

# (torch is imported in the functions below, not here: a CTR run starts reading its files
# in a worker process before torch loads, ``_read_early``)

log = logging.getLogger("logitkit.pipeline")


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
    out_dir = Path(out if out is not None else cfg.run.out)
    if not force:
        _refuse(ctr.same_run(out_dir, resolved_dict(cfg), ctr.stat_inputs(cfg)))
    return ctr.start(cfg)


def _refuse(final: Path | None) -> None:
    if final is not None:
        raise RunExistsError(f"{final} already exists (a run of this same config and data); pass --force to "
                             "replace it, or --out DIR to write elsewhere")


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
    dist.note_stopped()
    if not _failing:
        me = f"rank {dist.rank()} stopped by the launcher (SIGTERM)"
        raise dist.blame(0.5, f"then {me}", unknown=me)


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
    what = "--out" if out is not None else "run.out"
    if coll.is_main:
        rundir.check_folder(out_dir, what)  # before any work: a run that cannot be written is not started
    path = _path(cfg)  # imported before the stages' clocks start: an import is no stage's time
    watch = InputWatch.of(cfg)  # the inputs as they are before anything reads them
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with timer.stage("loaddata"), dist.peer_failures():
            loaded, fingerprints = _load(path, cfg, coll, early)
            watch.check("read and fingerprinted")  # so the fingerprint covers exactly the bytes read
        # None: a CTR run in one process fingerprints its files in the pass that reads them,
        # so its id comes after its path ran: its directory is built as .pending-<pid>.partial
        rid = run_id(resolved, fingerprints) if fingerprints is not None else None
        # rank 0 alone writes, holding the run id's lock until its directory is in place
        with rundir.locked(out_dir, rid, what) if coll.is_main and rid else nullcontext():
            work = (_start(out_dir, rid or f"pending-{os.getpid()}", force or not rid)
                    if coll.is_main else None)  # ranks > 0 write nothing
            if work is not None:
                (work / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))  # (the report shows it)
            record = {"run_id": rid, "status": "running", "created": now_iso(), "seed": cfg.run.seed,
                      "environment": environment(device), "data": fingerprints,
                      "config_dir": config_dir(cfg)}  # where config.yaml's relative data paths start
            if rid is None:
                record["inputs"] = path.stat_inputs(cfg)  # (how a repeated command is recognised before reading)
            try:
                summary = _run(path, cfg, coll, loaded, device, timer, work, record)
                watch.check("read")  # (the CTR path streams its files during the run)
            except BaseException as exc:
                _failing = True
                exc = dist.peer_failure(exc) if isinstance(exc, Exception) else exc
                if coll.rank == 1 and getattr(exc, "killed", False) and exc.failed_rank == 0:
                    _record_for_rank0(out_dir, rid, what, resolved, record, caught, exc, timer)
                if work is not None:
                    record.update(status="failed", error=f"{type(exc).__name__}: {exc}", timings=timer.seconds)
                    _finish(work, out_dir / f"{rid or work.name[1:-8]}.failed", resolved, record, caught)
                raise exc
            if work is None:
                return RunResult(out_dir / rid, record, summary)
            if rid is not None:
                return _complete(path, cfg, work, out_dir / rid, resolved, record, caught, timer, summary)
        rid = record["run_id"] = run_id(resolved, record["data"])  # (what was read: the CTR run's files)
        with rundir.locked(out_dir, rid, what):
            try:
                _claim(out_dir, rid, force)
            except UserError:
                rundir.remove(work)  # (the run there is this same one: nothing of it is lost)
                raise
            return _complete(path, cfg, work, out_dir / rid, resolved, record, caught, timer, summary)


def _complete(path, cfg: Config, work: Path, final: Path, resolved: dict, record: dict, caught, timer: Timer,
              summary) -> RunResult:
    """A CTR run's report (now that its id is known), then the run directory put in place."""
    if cfg.model.kind == "hashed" and cfg.interpret.report:
        with timer.stage("report"):
            record["timings"] = timer.seconds
            path.report(work, record)
    record["status"] = "complete"
    record["timings"] = timer.seconds
    _finish(work, final, resolved, record, caught)
    return RunResult(final, record, summary)


def _start(out_dir: Path, rid: str, force: bool) -> Path:
    """The empty partial directory of run ``rid``, once ``out_dir/rid`` may be written
    (called holding the run's lock): what a killed ``--force`` left is repaired first;
    an existing run is replaced only with ``force``, and never through a link."""
    work = out_dir / f".{rid}.partial"
    rundir.remove(work)  # left by a run that was killed (none is running: we hold the lock)
    _claim(out_dir, rid, force)
    (work / "plots").mkdir(parents=True)
    return work


def _claim(out_dir: Path, rid: str, force: bool) -> None:
    """Whether ``out_dir/rid`` may be written (called holding the run's lock; see ``_start``)."""
    final = out_dir / rid
    for name in (rid, f"{rid}.failed"):
        rundir.recover(out_dir / name)
    if os.path.lexists(final):
        if force and final.is_symlink():
            raise OutputPathError(
                f"{final}: is a symbolic link (to {os.readlink(final)}); --force does not replace a link or what "
                "it points to: remove the link yourself, or pass --out DIR to write elsewhere")
        if not force:
            try:
                RunFiles(final).verify()
                state = ""
            except UserError as exc:
                state = f", but it is not a complete run ({exc})"
            raise RunExistsError(
                f"{final} already exists (a run of this same config and data){state}; pass --force to replace it, "
                "or --out DIR to write elsewhere"
            )


def _record_for_rank0(out_dir: Path, rid: str, what: str, resolved: dict, record: dict, caught, exc, timer) -> None:
    """Rank 0, which writes the run directory, was killed: rank 1 (on the same host, so the
    same folder) marks the run failed as rank 0 would have, with what rank 0 had written."""
    try:
        with rundir.locked(out_dir, rid, what):  # (free: the kernel released the dead rank 0's lock)
            work = out_dir / f".{rid}.partial"
            work.mkdir(parents=True, exist_ok=True)
            record.update(status="failed", error=f"{type(exc).__name__}: {exc}", timings=timer.seconds)
            _finish(work, out_dir / f"{rid}.failed", resolved, record, caught)
    except (UserError, OSError) as err:  # e.g. the folder is not on this host
        log.warning("rank 1 could not record rank 0's failure in %s: %s", out_dir, err)


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


def _finish(work: Path, final: Path, resolved: dict, record: dict, caught) -> None:
    """Write the config and the record (last: it lists every file's sha256, ``integrity.seal``)
    and put ``work`` in place as ``final``, replacing an earlier one (``rundir.put_in_place``)."""
    record["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    record["finished"] = now_iso()
    (work / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    seal(work, record)
    write_json(work / "record.json", record)
    rundir.put_in_place(work, final)
