"""``logitkit repro``: re-run a recorded run from its config and compare the results."""
from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import yaml
from safetensors.torch import load_file

from logitkit._util.errors import InputFileError
from logitkit.pipeline.config_load import load_config
from logitkit.pipeline.runner import execute


def _read(run_dir: Path, name: str) -> Path:
    path = run_dir / name
    if not path.is_file():
        raise InputFileError(f"{path} is missing; pass a complete run directory (it holds config.yaml and record.json)")
    return path


def _coefficients(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        return {row["term"]: row for row in csv.DictReader(f)}


def reproduce(run_dir: Path) -> tuple[bool, list[str]]:
    """(identical?, report lines). Compares data fingerprints, model tensors, coefficients and metrics."""
    raw = yaml.safe_load(_read(run_dir, "config.yaml").read_text())
    recorded = json.loads(_read(run_dir, "record.json").read_text())
    cfg = load_config(raw=raw, base_dir=recorded.get("config_dir") or run_dir)  # config.yaml's paths start there
    with tempfile.TemporaryDirectory(prefix="logitkit-repro-") as tmp:
        new = execute(cfg, out=tmp, force=True)
        diffs: list[str] = []
        if new.record["data"]["train"] != recorded.get("data", {}).get("train"):
            diffs.append("data: the input's fingerprint differs from the recorded one (the data changed)")
        files = sorted(p.name for p in (new.run_dir / "model").glob("*.safetensors"))
        for name in files:
            old_t = load_file(str(_read(run_dir, f"model/{name}")))
            new_t = load_file(str(new.run_dir / "model" / name))
            for key in sorted(set(old_t) | set(new_t)):
                if key not in old_t or key not in new_t or not old_t[key].equal(new_t[key]):
                    diffs.append(f"model tensor '{key}' ({name}) differs")
        old_c, new_c = _coefficients(run_dir / "coefficients.csv"), _coefficients(new.run_dir / "coefficients.csv")
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
