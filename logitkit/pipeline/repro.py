"""``logitkit repro``: re-run a recorded run from its config and compare the results.

The recorded run is checked first (``integrity.RunFiles``): its record and every file it
lists, by sha256. A run directory that is incomplete or was edited is an error naming
the file (exit 2), not a comparison with something the run never wrote."""
from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import yaml
from safetensors.torch import load as load_tensors

from logitkit._util.errors import InputFileError, UserError
from logitkit.pipeline.config_load import load_config
from logitkit.pipeline.integrity import RunFiles
from logitkit.pipeline.modelcheck import tensors_state
from logitkit.pipeline.runner import execute


def _config(files: RunFiles):
    """The run's config from its checked ``config.yaml``."""
    path = files.run_dir / "config.yaml"
    raw = files.read("config.yaml")
    if raw is None:
        raise InputFileError(f"{path} is missing and the record does not list it; pass a run directory written "
                             "by `logitkit run`")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise InputFileError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise InputFileError(f"{path}: holds no mapping of config sections (run, data, ...)")
    try:
        # config.yaml's data paths are relative to the config's folder (record.json's config_dir)
        return load_config(raw=data, base_dir=files.record.get("config_dir") or files.run_dir)
    except UserError as exc:
        raise InputFileError(f"{path}: {exc}") from None


def _coefficients(raw: bytes | None) -> dict[str, dict[str, str]]:
    if raw is None:
        return {}
    return {row.get("term"): row for row in csv.DictReader(io.StringIO(raw.decode(errors="replace")))}


def reproduce(run_dir: Path) -> tuple[bool, list[str]]:
    """(identical?, report lines). Compares data fingerprints, model tensors, coefficients and metrics."""
    files = RunFiles(run_dir)
    files.verify()  # every file the record lists is there, as the run wrote it
    recorded = files.record
    cfg = _config(files)
    with tempfile.TemporaryDirectory(prefix="logitkit-repro-") as tmp:
        new = execute(cfg, out=tmp, force=True)
        diffs: list[str] = []
        if new.record["data"]["train"] != recorded.get("data", {}).get("train"):
            diffs.append("data: the input's fingerprint differs from the recorded one (the data changed)")
        names = sorted(p.name for p in (new.run_dir / "model").glob("*.safetensors"))
        old_files = sorted(n[6:] for n in files.files if n.startswith("model/") and n.endswith(".safetensors"))
        if old_files != names:
            diffs.append(f"model files: recorded {old_files}, re-run {names}")
        for name in sorted(set(names) & set(old_files)):
            old_t = tensors_state(run_dir / "model" / name, files.read(f"model/{name}"))
            new_t = load_tensors((new.run_dir / "model" / name).read_bytes())
            for key in sorted(set(old_t) | set(new_t)):
                if key not in old_t or key not in new_t or not old_t[key].equal(new_t[key]):
                    diffs.append(f"model tensor '{key}' ({name}) differs")
        new_csv = new.run_dir / "coefficients.csv"
        old_c = _coefficients(files.read("coefficients.csv"))
        new_c = _coefficients(new_csv.read_bytes() if new_csv.is_file() else None)
        for term in sorted(set(old_c) | set(new_c)):
            a, b = old_c.get(term), new_c.get(term)
            if a != b:
                if a is None or b is None:
                    diffs.append(f"coefficients.csv: term '{term}' is only in the {'re-run' if a is None else 'record'}")
                    continue
                cols = [k for k in a if a[k] != b.get(k)]
                diffs.append(f"coefficients.csv: term '{term}' differs in {cols}: recorded "
                             f"{[a[k] for k in cols]}, re-run {[b.get(k) for k in cols]}")
        old_m, new_m = recorded.get("metrics", {}), new.record.get("metrics", {})
        for split in sorted(set(old_m) | set(new_m)):
            for name in sorted(set(old_m.get(split, {})) | set(new_m.get(split, {}))):
                a, b = old_m.get(split, {}).get(name), new_m.get(split, {}).get(name)
                if a != b:
                    diffs.append(f"metric {split}.{name}: recorded {a!r}, re-run {b!r}")
    if diffs:
        return False, [f"{run_dir}: NOT reproduced ({len(diffs)} difference(s))"] + [f"  {d}" for d in diffs]
    n_terms = len(old_c)
    n_metrics = sum(len(v) for v in old_m.values())
    return True, [f"{run_dir}: reproduced: model tensors, {n_terms} coefficients and {n_metrics} metrics are identical"]
