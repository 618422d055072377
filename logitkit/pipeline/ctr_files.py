"""The input files of a CTR run (``model.kind: hashed``): checked before anything is
read, fingerprinted for the run id, and recognised when a run of them is already there.

A CTR run reads its files once: in one process they are fingerprinted (sha256) by the
pass that parses them (``loaddata.CTRStream.fingerprint``), so the run id is known when
they have been read, not before. ``fingerprints`` reads them beforehand, for a job of
several ranks (each rank parses only its byte range); both give the same entries, hence
the same run id. So that a repeated command does not redo a long run only to find it
exists, ``same_run`` looks for a complete run of the same resolved config whose files
had the same sizes and modification times (``stat_inputs``, kept in the record; not
part of the run id, which is by content).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from logitkit._util.collective import current
from logitkit._util.errors import ConfigError, InputFileError
from logitkit.pipeline.config import Config
from logitkit.pipeline.config_hashed import hashed_options
from logitkit.pipeline.record import sha256_file

#: config metric name -> streaming accumulator name
STREAMED_METRICS = {"log_loss": "log_loss", "roc_auc": "auc", "ne": "ne", "calibration_ratio": "calibration_ratio"}


def input_files(cfg: Config) -> dict[str, str]:
    """{split: path} of the files a run reads: train, and test and holdout when set."""
    files = {"train": cfg.data.path, "test": cfg.data.test_path,
             "holdout": hashed_options(cfg.model.options).holdout_path}
    return {k: v for k, v in files.items() if v is not None}


def check(cfg: Config) -> None:
    """Config errors of the streamed path, before anything is read."""
    if cfg.data.path is None:
        raise ConfigError("model.kind 'hashed' streams a file: set data.path (a Criteo-layout TSV)")
    if cfg.prep.hashing is None:
        raise ConfigError("model.kind 'hashed' needs prep.hashing (n_bits, seed, crosses, ...)")
    from logitkit.loaddata.formats import guess_format

    for key in ("path", "test_path"):
        path = getattr(cfg.data, key)
        if path is not None and guess_format(path, cfg.data.format) not in ("criteo", "tsv"):
            raise ConfigError(
                f"data.{key} {path!r}: model.kind 'hashed' streams Criteo-layout TSV files (label, I1..I13, "
                "C1..C26; data.format: criteo); convert the file, or use the dense model for other formats"
            )
    interactions = hashed_options(cfg.model.options).interactions
    if interactions != "none" and current().is_distributed:
        raise ConfigError(f"model.options.interactions '{interactions}' is not distributed: run it in one process "
                          "(without torchrun), or use interactions: none under torchrun")
    unknown = [m for m in cfg.evaluate.metrics if m not in STREAMED_METRICS]
    if unknown:
        raise ConfigError(f"evaluate.metrics: {unknown} are not available for the streamed hashed model; "
                          f"use some of {list(STREAMED_METRICS)}")
    keys = {"train": "data.path", "test": "data.test_path", "holdout": "model.options.holdout_path"}
    for split, path in input_files(cfg).items():
        if not Path(path).is_file():
            raise InputFileError(f"{keys[split]}: {path} is not a file; check the path (a relative path starts at "
                                 "the config file's folder, or at the current folder when given with --set)")


def entries(cfg: Config, sha256: dict[str, str]) -> dict:
    """The record's ``data`` (what the run id covers) from each split's file digest."""
    out: dict = {"train": {"files": {cfg.data.path: sha256["train"]}, "format": cfg.data.format}, "test": None}
    if "test" in sha256:
        out["test"] = {"files": {cfg.data.test_path: sha256["test"]}, "format": cfg.data.format}
    if "holdout" in sha256:
        out["holdout"] = {"files": {hashed_options(cfg.model.options).holdout_path: sha256["holdout"]}}
    return out


def fingerprints(cfg: Config) -> dict:
    """``entries`` by reading the files now (sha256, streamed): for a job of several ranks."""
    check(cfg)
    return entries(cfg, {split: sha256_file(path) for split, path in input_files(cfg).items()})


def stat_inputs(cfg: Config) -> dict:
    """{split: {path, size, mtime_ns}}: how the files looked when the run began."""
    out = {}
    for split, path in input_files(cfg).items():
        st = os.stat(path)
        out[split] = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return out


def same_run(out_dir: Path, resolved: dict, inputs: dict) -> Path | None:
    """A complete run directory in ``out_dir`` of this resolved config (``run.out`` aside)
    whose input files had these sizes and modification times, if there is one."""
    import yaml

    def key(cfg: dict) -> dict:
        return {**cfg, "run": {k: v for k, v in (cfg.get("run") or {}).items() if k != "out"}}

    if not out_dir.is_dir():
        return None
    for rec in out_dir.glob("*/record.json"):
        run_dir = rec.parent
        if run_dir.name.startswith(".") or run_dir.name.endswith(".failed"):
            continue
        try:
            record = json.loads(rec.read_text())
            if record.get("inputs") != inputs or record.get("status") != "complete":
                continue
            if key(yaml.safe_load((run_dir / "config.yaml").read_text()) or {}) == key(resolved):
                return run_dir
        except (OSError, ValueError, yaml.YAMLError):
            continue
    return None
