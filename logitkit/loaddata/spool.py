"""Items made ahead in a worker process and handed over through files: a spool.

``Spool(producers, folder)`` forks one worker process that runs the producers one after
the other (each an iterator factory: a ``CTRStream``'s parse, hash and cache pass) and
appends every item, pickled, to files in ``folder``; ``spool.items(k)`` yields producer
k's items in the consumer, in order, as they arrive. The worker may run ahead of the
consumer by up to ``ahead`` bytes of items (on disk, so in the page cache, not in either
process's memory): it parses and hashes while the consumer is still starting (importing
torch takes a second), where a queue of a few items would stop it almost at once. The
files are segments of about ``segment`` bytes; the consumer deletes each one it has
read, so the disk holds at most ``ahead + segment`` bytes whatever the file's size.

Fork it before the consumer imports anything large (torch): a forked process starts
with its parent's pages, which the kernel shares until they are written but counts in
the resident memory of both. An exception in the worker is raised in the consumer;
stopping early (``close``) ends the worker. Records: 8 bytes of length, then the
pickled ``(kind, payload)``: ``("item", (item, extra))``, ``("end", extra)`` at the end
of a producer, ``("next", None)`` to continue in the next segment, ``("error", exc)``.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import time
from pathlib import Path
from typing import Callable, Iterator

_POLL = 0.0005  # seconds between looks at a file the other process is writing


def _segment(folder: Path, k: int) -> Path:
    return folder / f"{k:06d}.spool"


def _work(producers: list, folder: Path, consumed, ahead: int, segment: int) -> None:
    """The worker: every producer's items into the spool, pausing while ``ahead`` bytes
    are written and not yet read."""
    k, written = 0, 0
    out = open(_segment(folder, k), "wb")

    def put(kind: str, payload) -> None:
        nonlocal out, k, written
        blob = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        while written - consumed.value > ahead:
            if os.getppid() == 1:  # the consumer is gone
                raise SystemExit(0)
            time.sleep(_POLL * 4)
        out.write(len(blob).to_bytes(8, "little") + blob)
        out.flush()
        written += 8 + len(blob)
        if out.tell() >= segment and kind != "end":
            nxt = pickle.dumps(("next", None))
            out.write(len(nxt).to_bytes(8, "little") + nxt)
            out.close()
            k += 1
            out = open(_segment(folder, k), "wb")

    try:
        for produce, extra in producers:
            it = produce()
            for item in it:
                put("item", (item, extra()))
            put("end", extra())
    except BaseException as exc:  # handed to the consumer, raised there
        try:
            put("error", exc)
        except Exception:
            put("error", RuntimeError(f"{type(exc).__name__}: {exc}"))
    finally:
        out.close()


class Spool:
    """One worker process running ``producers`` [(iterator factory, extra)] in order;
    ``extra()`` is called in the worker after each item and at the end of each producer
    (e.g. the bytes a reader has read, then the file's digest) and handed over with it."""

    def __init__(self, producers: list[tuple[Callable[[], Iterator], Callable[[], object]]], folder: Path,
                 ahead: int = 256 << 20, segment: int = 32 << 20):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        ctx = multiprocessing.get_context("fork")
        self._consumed = ctx.Value("q", 0, lock=False)
        self._worker = ctx.Process(target=_work, args=(producers, self.folder, self._consumed, ahead, segment),
                                   daemon=True, name="logitkit-spool")
        self._worker.start()
        self._k, self._file, self._next_producer = 0, None, 0
        self.closed = False

    def _read(self, n: int) -> bytes:
        """n bytes of the current segment, waiting for the worker to write them."""
        got = b""
        while len(got) < n:
            if self._file is None:
                path = _segment(self.folder, self._k)
                if not path.exists():
                    self._check_alive()
                    time.sleep(_POLL)
                    continue
                self._file = open(path, "rb")
            chunk = self._file.read(n - len(got))
            if chunk:
                got += chunk
                continue
            self._check_alive()
            time.sleep(_POLL)
        return got

    def _check_alive(self) -> None:
        if not self._worker.is_alive() and self._worker.exitcode not in (0, None):
            raise RuntimeError(f"the reader process ended with exit code {self._worker.exitcode}")

    def _record(self):
        size = int.from_bytes(self._read(8), "little")
        kind, payload = pickle.loads(self._read(size))
        self._consumed.value += 8 + size
        if kind == "next":  # this segment is read: the next one
            self._file.close()
            _segment(self.folder, self._k).unlink()
            self._k, self._file = self._k + 1, None
            return self._record()
        return kind, payload

    def items(self, k: int) -> Iterator[tuple]:
        """Producer k's (item, extra) pairs, then (None, its last extra). Producers are read
        in order: k must be the next one."""
        if k != self._next_producer:
            raise RuntimeError(f"spool: producer {k} asked for while {self._next_producer} is next")
        while True:
            kind, payload = self._record()
            if kind == "error":
                self.close()
                raise payload
            if kind == "end":
                self._next_producer += 1
                yield None, payload
                return
            yield payload

    def close(self) -> None:
        """Stop the worker (if still running) and remove the spool's files."""
        if self.closed:
            return
        self.closed = True
        if self._file is not None:
            self._file.close()
        if self._worker.is_alive():
            self._worker.terminate()
        self._worker.join()
        shutil.rmtree(self.folder, ignore_errors=True)
