"""The run record: run id, environment, fingerprints, metrics, timings, warnings."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from logitkit import __version__


def run_id(resolved_config: dict, fingerprints: dict) -> str:
    """12 hex digits of sha256 over the resolved config and the data fingerprints.

    The same config and the same data name the same run, wherever they are: the run id
    is of content, not location. ``run.out`` is left out (where a run is written does
    not change what it is), and so are the data files' paths: the files are named by
    their content (sha256) in the fingerprints, whose own path keys are left out too.
    """
    cfg = {k: v for k, v in resolved_config.items()}
    cfg["run"] = {k: v for k, v in cfg.get("run", {}).items() if k != "out"}
    cfg["data"] = {k: v for k, v in cfg.get("data", {}).items() if k not in ("path", "test_path")}
    blob = json.dumps({"config": cfg, "data": _content(fingerprints)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _content(fp):
    """Fingerprints without locations: no "path" keys, each "files" map as its sorted digests."""
    if isinstance(fp, dict):
        return {k: sorted(map(str, v.values())) if k == "files" and isinstance(v, dict) else _content(v)
                for k, v in fp.items() if k != "path"}
    if isinstance(fp, list):
        return [_content(v) for v in fp]
    return fp


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def environment(device) -> dict:
    """Versions and hardware that produced the run (``device``: a ``torch.device``)."""
    import torch  # (here: reading a record, or the run id, needs no torch)

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "logitkit": __version__,
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "argv": sys.argv,
    }
    return env


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Timer:
    """Wall-clock seconds per named stage."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        from logitkit._util import progress

        progress.current().stage(name)  # (a live line shows the stage under way)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - t0, 6)


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    return str(v)
