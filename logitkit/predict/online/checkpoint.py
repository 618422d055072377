"""Checkpoints of an online model: tensors in safetensors, everything else in JSON.

A checkpoint directory holds ``state.safetensors`` (weight table, optimiser slots,
dense block, RNG state) and ``state.json`` (parameters, progress counters, sketch).
Both are written to temporary names and renamed, so a crash mid-write leaves the
previous checkpoint intact. Loading never unpickles.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from logitkit._util.errors import InputFileError

TENSORS, META = "state.safetensors", "state.json"


def save_checkpoint(directory: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
    """Write ``tensors`` and ``meta`` into ``directory`` atomically; returns the directory."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    save_file(cpu, str(d / (TENSORS + ".tmp")))
    (d / (META + ".tmp")).write_text(json.dumps(meta, sort_keys=True))
    os.replace(d / (TENSORS + ".tmp"), d / TENSORS)
    os.replace(d / (META + ".tmp"), d / META)
    return d


def load_checkpoint(directory: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a directory written by :func:`save_checkpoint` (tensors on CPU)."""
    d = Path(directory)
    missing = [name for name in (TENSORS, META) if not (d / name).is_file()]
    if missing:
        raise InputFileError(
            f"{d}: not a logitkit checkpoint ({', '.join(missing)} missing); "
            "pass the directory given as checkpoint_dir to the run that wrote it"
        )
    try:
        meta = json.loads((d / META).read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"{d / META}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}); "
            "the checkpoint is damaged, resume from an earlier one"
        ) from exc
    return load_file(str(d / TENSORS)), meta
