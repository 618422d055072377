"""What makes a run directory complete, and reading one back checked.

A run's ``record.json`` is written last and holds

    "files":         {path inside the run directory: sha256} of every other file in it
    "record_sha256": sha256 of the record itself (its canonical JSON without this key)

A run directory is complete iff its record parses, says ``"status": "complete"``, matches
its own digest, and every file it lists is there with the listed sha256. ``RunFiles``
reads a run that way: each file once, its bytes checked before they are parsed, so what
is checked is what is used. A file that is missing, differs, or is there without being
listed (it could change a prediction) is an ``InputFileError`` naming it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PurePosixPath

from logitkit._util.errors import InputFileError
from logitkit.pipeline.record import _jsonable, sha256_file

RECORD = "record.json"
_AGAIN = "run its config again (logitkit run CONFIG --force) to rebuild the run"


def record_digest(record: dict) -> str:
    """sha256 of ``record``'s canonical JSON (sorted keys, no spaces) without ``record_sha256``:
    the same for the record in memory and the record read back from ``record.json``."""
    plain = json.loads(json.dumps({k: v for k, v in record.items() if k != "record_sha256"}, default=_jsonable))
    return hashlib.sha256(json.dumps(plain, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def seal(work: Path, record: dict) -> None:
    """Add to ``record`` the sha256 of every file under ``work`` (but ``record.json``) and the
    record's own digest; call it last, just before the record is written."""
    files = {}
    for p in sorted(work.rglob("*")):
        rel = p.relative_to(work).as_posix()
        if p.is_file() and rel != RECORD:
            files[rel] = sha256_file(p)
    record["files"] = files
    record["record_sha256"] = record_digest(record)


def read_record(run_dir: Path) -> dict:
    """``run_dir``'s record, parsed and checked against its own digest (an ``InputFileError``
    naming the file otherwise). A failed or unfinished run is an error too."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(f"{run_dir}: no such run directory; pass a folder written by `logitkit run`")
    path = run_dir / RECORD
    if not path.is_file():
        raise InputFileError(f"{path} is missing, so {run_dir} is not a complete run directory (a run writes its "
                             f"record last); pass a folder written by `logitkit run`, or {_AGAIN}")
    try:
        record = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno}, column {exc.colno}: " if isinstance(exc, json.JSONDecodeError) else ""
        raise InputFileError(f"{path}: {where}not valid JSON, so the run record is damaged; restore it, or "
                             f"{_AGAIN}") from None
    if not isinstance(record, dict):
        raise InputFileError(f"{path}: holds a JSON {type(record).__name__}, not a run record (an object with "
                             f"run_id, status and files); restore it, or {_AGAIN}")
    status = record.get("status")
    if status != "complete":
        why = f": {record['error']}" if status == "failed" and record.get("error") else ""
        raise InputFileError(f"{path}: the run's status is {status!r}, not 'complete'{why}; "
                             f"pass a complete run, or {_AGAIN}")
    if not isinstance(record.get("files"), dict) or "record_sha256" not in record:
        raise InputFileError(f"{path}: lists no file digests (a run written by an older logitkit), so its "
                             f"files cannot be checked; {_AGAIN}")
    if record_digest(record) != record["record_sha256"]:
        raise InputFileError(f"{path}: its contents do not match its own digest (record_sha256): the record was "
                             f"edited after the run; restore it, or {_AGAIN}")
    return record


class RunFiles:
    """A complete run directory read file by file, each checked against its record.

    ``read(name)`` gives a listed file's bytes after checking their sha256; an unlisted
    name gives None when there is no such file and an error when there is one."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.record = read_record(self.run_dir)
        self.files: dict = self.record["files"]
        for name in self.files:
            self._path(name)

    def has(self, name: str) -> bool:
        return name in self.files

    def _path(self, name: str) -> Path:
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise InputFileError(f"{self.run_dir / RECORD}: lists {name!r}, which is not a path inside the run "
                                 f"directory; restore the record, or {_AGAIN}")
        return self.run_dir / rel

    def read(self, name: str) -> bytes | None:
        path = self._path(name)
        want = self.files.get(name)
        if want is None:
            if os.path.lexists(path):
                raise InputFileError(f"{path}: is not listed in {RECORD} (added after the run?), and it would change "
                                     f"what the run predicts; remove it, or {_AGAIN}")
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputFileError(f"{path} is missing ({RECORD} lists it), so the run directory is incomplete; "
                                 f"restore it, or {_AGAIN}") from None
        except OSError as exc:
            raise InputFileError(f"{path}: cannot be read ({exc.strerror}); restore it, or {_AGAIN}") from None
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            raise InputFileError(f"{path}: its sha256 ({got[:12]}...) differs from the one {RECORD} lists "
                                 f"({str(want)[:12]}...): the file changed after the run; restore it, or {_AGAIN}")
        return data

    def verify(self, prefix: str = "") -> None:
        """Check every listed file whose name starts with ``prefix`` (all by default)."""
        for name in self.files:
            if name.startswith(prefix):
                self.read(name)


__all__ = ["RunFiles", "read_record", "record_digest", "seal"]
