"""A run directory's life on disk: the output folder checked before any work, one writer
per run id, and the finished directory put in place by renames, so that a folder named
like a run is always a whole run (docs/reliability.md).

    <out>/.<run-id>.lock        held (``flock``) by the one process writing this run id
    <out>/.<run-id>.partial     the run being built; only the lock's holder touches it
    <out>/<run-id>              a complete run, renamed from ``.partial`` when done
    <out>/<run-id>.failed       a failed run, its error in ``record.json``
    <out>/.<name>.replaced      an old run moved aside while ``--force`` puts the new one in
                                place; removed once the new one is there

A second process with the same config and data finds the lock held and stops at once
with ``RunInProgressError`` (the kernel releases a lock when its process ends, killed or
not, so a lock never outlives its writer). ``--force`` moves the old directory aside,
renames the new one in and only then removes the old one; a writer killed between those
renames is repaired by the next run of that id, which puts the old run back.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from logitkit._util.errors import UserError

try:
    import fcntl
except ImportError:  # (not POSIX, e.g. Windows: no flock, so one writer per run id is not enforced there)
    fcntl = None

log = logging.getLogger("logitkit.pipeline")


class RunExistsError(UserError):
    """The run directory for these inputs is already there."""


class RunInProgressError(UserError):
    """Another process is writing the run directory of the same config and data now."""


class OutputPathError(UserError):
    """An output path cannot be written (a file where a folder is needed, no permission, a link)."""


def _nearest_existing(path: Path) -> Path:
    p = path
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def check_folder(folder: Path, what: str) -> None:
    """``folder`` can hold what we write: it is a folder we may write in, or it is missing
    and its nearest existing ancestor is such a folder (it is created later). An
    ``OutputPathError`` naming ``what`` (e.g. ``--out``) and the path otherwise; creates nothing."""
    folder = Path(folder)
    if os.path.lexists(folder) and not folder.is_dir():
        raise OutputPathError(f"{what} {folder}: is a file, not a folder; pass a folder for the output "
                              "(a missing one is created)")
    base = _nearest_existing(folder) if not folder.exists() else folder
    if base.exists() and not base.is_dir():
        raise OutputPathError(f"{what} {folder}: {base} is a file, so the folder cannot be created there; "
                              "pass another folder")
    if not os.access(base, os.W_OK | os.X_OK):
        made = "" if base == folder else f" (to create {folder} in it)"
        raise OutputPathError(f"{what} {folder}: no permission to write in {base}{made}; pass a folder you can "
                              "write to")


def make_folder(folder: Path, what: str) -> None:
    """Create ``folder`` (and its parents); an ``OutputPathError`` naming it when that fails."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"{what} {folder}: cannot create the folder ({exc.strerror}); pass a folder you can "
                              "write to") from None


def remove(path: Path) -> None:
    """Remove a file, a link (never what it points to) or a directory tree; nothing if absent."""
    if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _aside(final: Path) -> Path:
    return final.with_name(f".{final.name}.replaced")


def put_in_place(work: Path, final: Path) -> None:
    """Rename the finished ``work`` to ``final``. An existing ``final`` is first renamed
    aside and removed only after ``work`` is in place: at every moment ``final`` is the old
    run or the new one (or, for an instant, absent with the old one aside; ``recover``)."""
    if not os.path.lexists(final):
        os.rename(work, final)
        return
    aside = _aside(final)
    remove(aside)
    os.rename(final, aside)
    os.rename(work, final)
    remove(aside)


def recover(final: Path) -> None:
    """Repair what a writer killed inside ``put_in_place`` left: the old run put back when
    the new one never got in place, or the old run's leftovers removed when it did."""
    aside = _aside(final)
    if not os.path.lexists(aside):
        return
    if os.path.lexists(final):
        remove(aside)
    else:
        os.rename(aside, final)
        log.warning("%s: put back (a --force that replaced it was stopped before the new run was in place)", final)


@contextmanager
def locked(out_dir: Path, rid: str, what: str) -> Iterator[None]:
    """Hold the lock of run ``rid`` in ``out_dir`` (created if missing) for the block;
    ``RunInProgressError`` at once when another process holds it."""
    make_folder(out_dir, what)
    if fcntl is None:
        yield
        return
    path = out_dir / f".{rid}.lock"
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputPathError(f"{what} {out_dir}: cannot write in the folder ({exc.strerror}); pass a folder "
                                  "you can write to") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunInProgressError(
                f"{out_dir / rid}: another logitkit process ({holder}) is writing this run (same config and data) "
                "now; wait for it to finish (the run will then be there), or pass --out DIR to write elsewhere"
            ) from None
        try:  # the file we locked may have been removed by the holder before us: lock the new one
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    try:
        yield
    finally:
        try:
            os.unlink(path)  # while still held: a process that opened it before retries (inode check)
        except OSError:
            pass
        os.close(fd)


__all__ = ["RunExistsError", "RunInProgressError", "OutputPathError", "check_folder", "make_folder", "locked",
           "put_in_place", "recover", "remove"]
