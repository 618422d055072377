"""A run's input files, watched for change while the run reads them.

The run id and ``record.json`` name the data by the sha256 of its files. That hash is
computed apart from the parse (the dense readers parse, then hash; the CTR path hashes,
then streams), so a file that grows or is rewritten in between would be named by bytes
the model never saw. ``InputWatch`` takes each input's size, modification time (ns),
inode and device before anything reads it, and ``check`` compares them after the read:
a file that changed is an ``InputChangedError`` naming it (an error, not a warning: a
run whose fingerprint does not name its data cannot be reproduced or trusted). When
``check`` passes, the bytes hashed are the bytes parsed.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from logitkit._util.errors import InputFileError


class InputChangedError(InputFileError):
    """An input file changed while the run read it."""


def _state(path: Path) -> dict[str, tuple]:
    """{file: (size, mtime_ns, inode, device)} of ``path`` (every file under a folder)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    out = {}
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            out[str(f)] = None
            continue
        out[str(f)] = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
    return out


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).isoformat(timespec="milliseconds")


class InputWatch:
    """The state of a run's input files, taken when made; ``check`` says if any changed."""

    def __init__(self, paths: list[str | Path]) -> None:
        self.before = {}
        for p in paths:
            if p is not None and os.path.exists(p):
                self.before.update(_state(Path(p)))
        self.paths = [Path(p) for p in paths if p is not None and os.path.exists(p)]

    @classmethod
    def of(cls, cfg) -> "InputWatch":
        """The files a run of ``cfg`` reads: ``data.path``, ``data.test_path`` and the hashed
        model's ``holdout_path`` (built-in data sets have none)."""
        holdout = (cfg.model.options or {}).get("holdout_path") if cfg.model.kind == "hashed" else None
        return cls([cfg.data.path, cfg.data.test_path, holdout])

    def check(self, done: str = "read") -> None:
        """An ``InputChangedError`` naming the first input that is not as it was."""
        now = {}
        for p in self.paths:
            now.update(_state(p))
        for name in sorted(set(self.before) | set(now)):
            a, b = self.before.get(name), now.get(name)
            if a == b:
                continue
            if a is None or b is None:
                what = "appeared" if a is None else "disappeared"
                detail = f"a file {what} in the input folder"
            elif a[0] != b[0]:
                detail = f"{a[0]:,} bytes before, {b[0]:,} now"
            elif a[2:] != b[2:]:
                detail = "it was replaced by another file"
            else:
                detail = f"it was rewritten at {_when(b[1])}"
            raise InputChangedError(
                f"{name}: changed while the run {done} it ({detail}), so the run's fingerprint would not name the "
                "bytes the model saw; run again once the file is complete (copy it first if something keeps "
                "writing it)"
            )


__all__ = ["InputWatch", "InputChangedError"]
