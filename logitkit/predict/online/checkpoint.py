"""Checkpoints of an online model: tensors in safetensors, everything else in JSON, named
by one manifest written last. Loading never unpickles.

    checkpoint.json           the manifest: format, generation, {part: sha256}
    state-<g>.safetensors     weight table, optimiser slots, dense block, RNG state
    state-<g>.json            parameters, progress counters, sketch

A save writes the parts of generation g + 1 under their own names (flushed to disk), then
the manifest under a temporary name, renamed over the old one; only then are older parts
removed. A process killed at any point leaves a manifest that names complete parts: the
previous checkpoint until the rename, the new one from it on. ``load_checkpoint`` reads
the manifest, checks every part's sha256 and refuses a checkpoint whose manifest or parts
are missing, damaged or edited with one ``InputFileError`` naming the file (there is no
silent fall-back to an older state: a checkpoint that does not verify was damaged after
it was written, and resuming anything else would train a different model).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from logitkit._util.errors import InputFileError, UserError

MANIFEST = "checkpoint.json"
FORMAT = "logitkit.checkpoint/2"
_FIX = "resume from another checkpoint, or start the fit again"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Every change a save makes on disk goes through these four (tests stop a process after each).
def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    save_file(tensors, str(path))
    _sync(path)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _rename(src: Path, dst: Path) -> None:
    os.replace(src, dst)
    _sync(dst.parent)  # the rename itself reaches the disk


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a checkpoint directory (an ``InputFileError`` naming it otherwise)."""
    d = Path(directory)
    path = d / MANIFEST
    if not path.is_file():
        old = " (it holds state.json: a checkpoint of an older logitkit)" if (d / "state.json").is_file() else ""
        raise InputFileError(f"{d}: not a logitkit checkpoint ({MANIFEST} missing{old}); pass the directory given "
                             "as checkpoint_dir to the run that wrote it")
    try:
        manifest = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno}, column {exc.colno}: " if isinstance(exc, json.JSONDecodeError) else ""
        raise InputFileError(f"{path}: {where}not valid JSON, so the checkpoint is damaged; {_FIX}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputFileError(f"{path}: not a manifest of format {FORMAT!r}; {_FIX}")
    parts = manifest.get("parts")
    if not isinstance(parts, dict) or set(parts) != {"tensors", "meta"} or \
            not all(isinstance(p, dict) and {"file", "sha256"} <= set(p) for p in parts.values()):
        raise InputFileError(f"{path}: does not name the checkpoint's two parts (tensors, meta) and their sha256; {_FIX}")
    for p in parts.values():
        if Path(str(p["file"])).name != p["file"]:
            raise InputFileError(f"{path}: names {p['file']!r}, which is not a file of the checkpoint directory; {_FIX}")
    return manifest


def save_checkpoint(directory: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
    """Write ``tensors`` and ``meta`` into ``directory`` as its next checkpoint; returns the
    directory. Atomic: the manifest, renamed in last, decides which parts are the checkpoint."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    try:
        generation = int(read_manifest(d)["generation"]) + 1
    except (InputFileError, KeyError, TypeError, ValueError):
        generation = 1
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    names = {"tensors": f"state-{generation:06d}.safetensors", "meta": f"state-{generation:06d}.json"}
    _save_tensors(d / names["tensors"], cpu)
    _write_text(d / names["meta"], json.dumps(meta, sort_keys=True))
    manifest = {"format": FORMAT, "generation": generation,
                "parts": {k: {"file": n, "sha256": _sha256(d / n)} for k, n in names.items()}}
    _write_text(d / (MANIFEST + ".tmp"), json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    _rename(d / (MANIFEST + ".tmp"), d / MANIFEST)
    for old in sorted(d.glob("state-*")):  # earlier generations, and parts a killed save left
        if old.name not in names.values():
            _remove(old)
    for old in ("state.safetensors", "state.json"):  # an older logitkit's layout
        if (d / old).exists():
            _remove(d / old)
    return d


def _part(d: Path, manifest: dict, key: str) -> Path:
    """The path of part ``key``, checked against the manifest's sha256."""
    part = manifest["parts"][key]
    path = d / part["file"]
    if not path.is_file():
        raise InputFileError(f"{path} is missing ({d / MANIFEST} names it), so the checkpoint is incomplete; {_FIX}")
    got = _sha256(path)
    if got != part["sha256"]:
        raise InputFileError(f"{path}: its sha256 ({got[:12]}...) differs from the one {MANIFEST} names "
                             f"({str(part['sha256'])[:12]}...): the checkpoint was damaged or edited; {_FIX}")
    return path


def read_meta(directory: str | Path) -> dict:
    """The checkpoint's JSON part (parameters, counters, ...), checked against the manifest."""
    d = Path(directory)
    path = _part(d, read_manifest(d), "meta")
    try:
        meta = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputFileError(f"{path}: not valid JSON, although its digest matches; {_FIX}") from None
    if not isinstance(meta, dict):
        raise InputFileError(f"{path}: not a JSON object of the checkpoint's state; {_FIX}")
    return meta


def load_checkpoint(directory: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a directory written by :func:`save_checkpoint` (tensors on CPU), each part
    checked against the manifest's sha256; a floating tensor must be finite."""
    d = Path(directory)
    meta = read_meta(d)
    path = _part(d, read_manifest(d), "tensors")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise InputFileError(f"{path}: not a readable safetensors file ({exc}); {_FIX}") from None
    for key, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise InputFileError(f"{path}: tensor '{key}' holds NaN or infinite values; a model with "
                                 f"such a state predicts nothing sound, so it is refused; {_FIX}")
    return tensors, meta


def restoring(method):
    """Decorate a model's ``load_checkpoint(self, directory)``: a state whose parts do not
    fit the model (a key missing, a shape or type that is not the model's) is an
    ``InputFileError`` naming the directory, not a ``KeyError`` from inside the model."""
    @functools.wraps(method)
    def load(self, directory, *args, **kwargs):
        try:
            return method(self, directory, *args, **kwargs)
        except UserError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            what = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
            raise InputFileError(f"{directory}: the checkpoint's state does not fit the model ({what}); "
                                 f"{_FIX}") from None
    return load


__all__ = ["save_checkpoint", "load_checkpoint", "read_manifest", "read_meta", "restoring", "MANIFEST"]
