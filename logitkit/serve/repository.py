"""The models a server holds, by name: load, reload (an atomic swap), unload, index.

A run is served under its run id and, with ``--name ALIAS=RUN_DIR``, under the alias as
well. ``load(name)`` reads a run (a ``pipeline.scorer.Scorer``) off the event loop and
then replaces what the name resolves to in one assignment: a request resolved before
the swap is scored by the old run, one resolved after by the new; none fails. The run
to load is the ``run_dir`` parameter, else the name's run directory (re-read: a run
rewritten in place or a symlink moved), else ``<repository>/<name>`` with
``--repository DIR``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from logitkit._util.errors import UserError
from logitkit.pipeline.scorer import Scorer
from logitkit.serve.protocol import ProtocolError


@dataclass(frozen=True)
class Entry:
    name: str
    scorer: Scorer
    path: Path
    loaded_at: float

    @property
    def version(self) -> str:
        return self.scorer.run_id

    def metadata(self) -> dict:
        return {
            "name": self.name, "versions": [self.version], "platform": f"logitkit_{self.scorer.kind}",
            "inputs": [{"name": i.name, "datatype": i.datatype, "shape": [-1]} for i in self.scorer.inputs],
            "outputs": [{"name": n, "datatype": d, "shape": [-1]} for n, d in self.scorer.outputs],
        }


class Repository:
    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.models: dict[str, Entry] = {}
        self.paths: dict[str, Path] = {}  # every name ever served -> the run directory it loads from
        self.reasons: dict[str, str] = {}  # name -> why its last load failed / it was unloaded
        self._lock = threading.Lock()
        if self.folder is not None and not self.folder.is_dir():
            raise UserError(f"--repository {self.folder}: no such folder; give the folder holding run directories")

    def add(self, path: str | Path, alias: str | None = None) -> Entry:
        """Load the run in ``path`` under its run id (and ``alias``)."""
        path = Path(path)
        scorer = Scorer.load(path)
        now = time.time()
        entry = Entry(scorer.run_id, scorer, path, now)
        self._put(entry)
        if alias:
            self._put(Entry(alias, scorer, path, now))
        return entry

    def _put(self, entry: Entry) -> None:
        self.paths[entry.name] = entry.path
        self.reasons.pop(entry.name, None)
        self.models[entry.name] = entry  # the swap: one assignment

    def get(self, name: str, version: str | None = None) -> Entry:
        entry = self.models.get(name)
        if entry is None:
            known = sorted(self.models)
            raise ProtocolError(f"unknown model {name!r}; this server has {known}" if known else
                                f"unknown model {name!r}; no model is loaded", 404)
        if version is not None and version != entry.version:
            raise ProtocolError(f"model {name!r} has version {entry.version!r} (its run id), not {version!r}", 404)
        return entry

    def load(self, name: str, run_dir: str | None = None) -> Entry:
        """(Re)load ``name``; blocking (the server calls it in a worker thread)."""
        with self._lock:
            if run_dir is not None:
                path = Path(run_dir)
            elif name in self.paths:
                path = self.paths[name]
            elif self.folder is not None and (self.folder / name).is_dir():
                path = self.folder / name
            else:
                where = f" nor a run directory {self.folder / name}" if self.folder is not None else ""
                raise ProtocolError(f"model {name!r} was never loaded{where}; give the run with the load "
                                    "request's parameters: {\"run_dir\": \"runs/<run id>\"}", 404)
            try:
                scorer = Scorer.load(path)
            except UserError as exc:
                self.reasons[name] = str(exc)
                raise ProtocolError(f"loading model {name!r} from {path} failed: {exc}") from None
            now = time.time()
            self._put(Entry(name, scorer, path, now))
            if scorer.run_id != name and scorer.run_id not in self.models:
                self._put(Entry(scorer.run_id, scorer, path, now))
            return self.models[name]

    def unload(self, name: str) -> None:
        with self._lock:
            if self.models.pop(name, None) is None:
                raise ProtocolError(f"unknown model {name!r}; nothing to unload", 404)
            self.reasons[name] = "unloaded"

    def index(self, ready_only: bool = False) -> list[dict]:
        rows = [{"name": n, "version": e.version, "state": "READY", "reason": ""} for n, e in self.models.items()]
        if not ready_only:
            names = set(self.models)
            others = set(self.paths) - names
            if self.folder is not None:
                others |= {p.name for p in self.folder.iterdir()
                           if p.is_dir() and (p / "model").is_dir() and not p.name.startswith(".")} - names
            rows += [{"name": n, "state": "UNAVAILABLE", "reason": self.reasons.get(n, "not loaded")} for n in sorted(others)]
        return rows
