"""A process that imports logitkit once and forks one child per fuzz case.

Started as ``python tests/fuzz/_zygote.py``; reads one JSON request per line on stdin
and answers one JSON line on stdout per request, in order:

    {"argv": [...], "door": "cli" | "read", "dir": CASE_DIR, "timeout": s, "cpu": s, "mem_mb": MiB}
    -> {"status": "exit" | "signal" | "hang", "code": int, "signal": int, "wall": s, "cpu": s, "maxrss_mb": MiB}

The child is what a user's process would be: ``door == "cli"`` runs
``logitkit.pipeline.cli.main(argv)`` and leaves through ``SystemExit`` like the console
script (so the interpreter's shutdown, thread teardown included, runs as it would);
``door == "read"`` loads and streams one file with ``load_file``/``stream_file`` and
prints a ``UserError`` the way the CLI does. Its stdout and stderr go to CASE_DIR/out
and CASE_DIR/err, its address space is capped at ``mem_mb`` MiB, it runs in its own
process group, gets SIGXCPU after ``cpu`` seconds of CPU time (all its threads) and is
killed (``hang``) after ``timeout`` seconds of wall clock.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # two cases at a time share two cores
os.environ.setdefault("MPLBACKEND", "Agg")

import logitkit.interpret.plots  # noqa: E402,F401  (everything a run imports, imported once)
import logitkit.interpret.report  # noqa: E402,F401
import logitkit.pipeline.ctr  # noqa: E402,F401
import logitkit.pipeline.runner  # noqa: E402,F401
from logitkit._util.errors import UserError  # noqa: E402
from logitkit.loaddata.files import load_file, stream_file  # noqa: E402
from logitkit.pipeline.cli import main  # noqa: E402


def read_door(path: str, fmt: str, options: dict) -> int:
    """Load and stream one file; 0 when both give the same rows, 2 with the error's line."""
    try:
        n_load = load_file(path, fmt, **options).n_rows
        stream_opts = {k: v for k, v in options.items() if k != "label"}
        n_stream = sum(b.num_rows for b in stream_file(path, fmt, batch_rows=64, **stream_opts))
    except UserError as exc:
        print(f"logitkit: error: {exc}", file=sys.stderr)
        return 2
    if n_load != n_stream:
        print(f"load_file gave {n_load} rows, stream_file {n_stream}", file=sys.stderr)
        return 3
    return 0


def _child(req: dict) -> None:
    """Runs in the forked child; never returns (leaves through SystemExit)."""
    os.setpgid(0, 0)
    limit = int(req["mem_mb"]) << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = int(req["cpu"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    d = req["dir"]
    os.chdir(d)
    fd_in = os.open(os.devnull, os.O_RDONLY)
    fd_out = os.open(os.path.join(d, "out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    fd_err = os.open(os.path.join(d, "err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd_in, 0)
    os.dup2(fd_out, 1)
    os.dup2(fd_err, 2)
    if req["door"] == "cli":
        code = main(req["argv"])  # an exception other than UserError escapes: a traceback, exit 1
    else:
        path, fmt, options = req["argv"]
        code = read_door(path, fmt, options)
    raise SystemExit(code)


def _wait(pid: int, timeout: float) -> dict:
    t0 = time.monotonic()
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        wall = time.monotonic() - t0
        if got:
            out = {"wall": round(wall, 3), "cpu": round(usage.ru_utime + usage.ru_stime, 3),
                   "maxrss_mb": round(usage.ru_maxrss / 1024, 1)}
            if os.WIFSIGNALED(status):
                return {"status": "signal", "signal": os.WTERMSIG(status), **out}
            return {"status": "exit", "code": os.WEXITSTATUS(status), **out}
        if wall > timeout:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, _, usage = os.wait4(pid, 0)
            return {"status": "hang", "wall": round(wall, 3), "cpu": round(usage.ru_utime + usage.ru_stime, 3),
                    "maxrss_mb": round(usage.ru_maxrss / 1024, 1)}
        time.sleep(0.005 if wall < 0.2 else 0.02)


def serve() -> None:
    import gc

    gc.freeze()  # the zygote's objects: never scanned in a child (fewer pages copied on write)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(req)
        print(json.dumps(_wait(pid, float(req["timeout"]))), flush=True)


if __name__ == "__main__":
    serve()
