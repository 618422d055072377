"""The binary cache of a ``CTRStream``, and the arrays a consumer keeps in it.

A stream's first pass writes what it yields next to a path prefix P; every later pass
reads it back instead of parsing (Vowpal Wabbit's ``--cache``):

    P.idx    int32 little-endian (rows, T) row-major: the token indices
    P.y      uint8 (rows,): the labels
    P.dense  float32 (rows, d): the dense features
    P.json   the row count of every batch, the source file's size and modification
             time, the transform's state; written last, so an interrupted pass leaves
             no cache that looks complete

**Extras.** A consumer may keep arrays of its own with each batch, derived from it (the
learner keeps its row plans, ``predict.online.plan``). This stage knows them only as
``BatchExtras``: named 1-D arrays under a JSON ``key`` that the consumer chose. It asks
the stream with ``request_extras(key, dtypes)``; in the pass that writes the cache every
batch comes with an empty ``BatchExtras`` that the consumer fills (``add``) and closes
(``close``) when it has put everything; they are stored, per name, in

    P.x.<name>      the arrays, back to back, in the dtype the consumer named
    P.x.<name>.len  int64, per batch: how many arrays c, then their c lengths

and the JSON's ``extras`` names the key, only when the consumer closed the extras of
every batch of the pass. A later pass asked for the same key hands each batch's stored
extras back (read-only); for another key, None. (The dependency points down: this
stage defines the container, the consumer what is in it; no name of an upper stage is
known here.)
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np

SUFFIXES = (".idx", ".y", ".dense")


class BatchExtras:
    """Named 1-D arrays a consumer keeps with one batch of a cached stream (see the module docstring).

    ``key`` (JSON) and ``dtypes`` ({name: NumPy dtype string}) are the consumer's;
    ``writable`` is True in the pass that writes the cache (fill it with ``add``, then
    ``close``), False for extras read back from the cache (``arrays``).
    """

    def __init__(self, key: dict, dtypes: dict[str, str], arrays: dict[str, list[np.ndarray]] | None = None) -> None:
        self.key, self.dtypes = key, dict(dtypes)
        self.writable = arrays is None
        self._arrays = {name: [] for name in self.dtypes} if arrays is None else arrays
        self.closed = not self.writable

    def add(self, name: str, array) -> None:
        """Append one array under ``name`` (flattened, in the declared dtype)."""
        if not self.writable or self.closed:
            raise RuntimeError("these extras were read from a cache (or closed); only a cache-writing pass's take arrays")
        self._arrays[name].append(np.asarray(array).reshape(-1).astype(self.dtypes[name], copy=False))

    def close(self) -> None:
        """The consumer put everything it keeps for this batch: the stream may store it."""
        self.closed = True

    def arrays(self, name: str) -> list[np.ndarray]:
        """The arrays under ``name``, in the order they were added."""
        return self._arrays[name]


def extra_suffixes(dtypes: dict[str, str]) -> list[str]:
    """The file suffixes of the extras ``dtypes`` names (data file, then lengths file, per name)."""
    return [s for name in dtypes for s in (f".x.{name}", f".x.{name}.len")]


class Staged:
    """Files being written under temporary names (``staged``); ``keep = False`` drops them."""

    def __init__(self, files: dict) -> None:
        self.files, self.keep = files, True


@contextlib.contextmanager
def staged(prefix: Path, suffixes) -> Iterator[Staged]:
    """Open ``<prefix><suffix>.tmp`` for writing, one per suffix; on a clean exit (and
    ``keep``) they replace ``<prefix><suffix>``, after an error, an abandoned pass or
    ``keep = False`` they are removed."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tmp = {s: Path(str(prefix) + s + ".tmp") for s in suffixes}
    complete = False
    try:
        with contextlib.ExitStack() as stack:
            out = Staged({s: stack.enter_context(open(p, "wb")) for s, p in tmp.items()})
            yield out
        complete = out.keep
    finally:
        for s, p in tmp.items():
            if complete and p.exists():
                os.replace(p, str(prefix) + s)
            else:
                p.unlink(missing_ok=True)


def write_batch(files: dict, idx: np.ndarray, y: np.ndarray, dense: np.ndarray | None) -> None:
    """Append one batch to the cache's ``.idx``, ``.y`` and ``.dense`` files."""
    np.asarray(idx, dtype="<i4").tofile(files[".idx"])
    y.astype(np.uint8).tofile(files[".y"])
    if dense is not None:
        dense.astype("<f4", copy=False).tofile(files[".dense"])


def write_extras(files: dict, extras: BatchExtras) -> None:
    """Append one batch's extras to their ``.x.<name>`` and ``.x.<name>.len`` files."""
    for name, dtype in extras.dtypes.items():
        parts = extras.arrays(name)
        np.array([len(parts), *(len(a) for a in parts)], dtype="<i8").tofile(files[f".x.{name}.len"])
        for a in parts:
            a.astype(dtype, copy=False).tofile(files[f".x.{name}"])


def write_meta(prefix: Path, meta: dict) -> None:
    """The cache's JSON, written whole under a temporary name and renamed."""
    staged_path = Path(str(prefix) + ".json.tmp")
    staged_path.write_text(json.dumps(meta))
    os.replace(staged_path, str(prefix) + ".json")


def read_batches(prefix: Path, meta: dict, n_dense: int, extras: dict | None) -> Iterator[tuple]:
    """(idx, y, dense, None, extras) per batch of a complete cache; ``extras`` ({"key",
    "dtypes"}: the ones stored) gives each batch a read-only ``BatchExtras``, else None."""
    t, d, base = meta["n_tokens"], n_dense, str(prefix)
    with contextlib.ExitStack() as stack:
        fi, fy, fd = (stack.enter_context(open(base + s, "rb")) for s in SUFFIXES)
        xf = {s: stack.enter_context(open(base + s, "rb")) for s in extra_suffixes(extras["dtypes"])} if extras else {}
        for n in meta["batch_sizes"]:
            idx = np.fromfile(fi, dtype="<i4", count=n * t).reshape(n, t)
            y = np.fromfile(fy, dtype=np.uint8, count=n).astype(np.float32)
            dense = np.fromfile(fd, dtype="<f4", count=n * d).reshape(n, d) if d else None
            yield idx, y, dense, None, (read_extras(xf, extras) if extras else None)


def read_extras(files: dict, extras: dict) -> BatchExtras:
    """One batch's extras from the open ``.x.<name>`` and ``.x.<name>.len`` files
    (``extras``: {"key", "dtypes"} as the cache's JSON names them), read-only."""
    arrays = {}
    for name, dtype in extras["dtypes"].items():
        fl, fx = files[f".x.{name}.len"], files[f".x.{name}"]
        (count,) = np.fromfile(fl, dtype="<i8", count=1)
        lengths = np.fromfile(fl, dtype="<i8", count=int(count))
        arrays[name] = [np.fromfile(fx, dtype=dtype, count=int(k)) for k in lengths]
    return BatchExtras(extras["key"], extras["dtypes"], arrays)
