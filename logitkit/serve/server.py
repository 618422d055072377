"""``logitkit serve``: run the Open Inference Protocol server on uvicorn.

    logitkit serve RUN_DIR [RUN_DIR ...] [--name ALIAS=RUN_DIR] [--repository DIR]
                   [--host 127.0.0.1] [--port 8080] [--max-batch-rows 4096] [--max-wait-ms 2]
                   [--max-request-mb 16] [--threads 1]

The runs are loaded before the port is opened (a bad run directory is the usual
one-line error, exit 2). The server listens until SIGINT or SIGTERM, then stops taking
connections, finishes the requests in flight and exits 0.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import signal
import socket
import sys


def add_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser("serve", help="serve runs over the Open Inference Protocol (KServe V2 REST)")
    s.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="run directories, each served under its run id")
    s.add_argument("--name", action="append", default=[], metavar="ALIAS=RUN_DIR",
                   help="also serve RUN_DIR under the name ALIAS (repeatable); reload it with POST "
                        "/v2/repository/models/ALIAS/load")
    s.add_argument("--repository", metavar="DIR", help="a folder of run directories (e.g. runs): each can be "
                   "loaded by its run id and is listed by POST /v2/repository/index")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    s.add_argument("--max-batch-rows", type=int, default=4096, help="rows scored together at most (default 4096)")
    s.add_argument("--max-wait-ms", type=float, default=2.0,
                   help="longest a request waits for others to join its batch (default 2)")
    s.add_argument("--max-request-mb", type=float, default=16.0, help="largest request body (default 16 MiB)")
    s.add_argument("--threads", type=int, default=1, help="torch threads of the scoring thread (default 1)")
    return s


def run(args) -> int:
    from logitkit._util.errors import UserError
    from logitkit.serve.repository import Repository

    if not args.run_dirs and not args.name and not args.repository:
        raise UserError("logitkit serve needs a run: give RUN_DIR, --name ALIAS=RUN_DIR or --repository DIR")
    for key in ("max_batch_rows", "threads"):
        if getattr(args, key) < 1:
            raise UserError(f"--{key.replace('_', '-')} {getattr(args, key)} must be at least 1")
    if args.max_wait_ms < 0 or args.max_request_mb <= 0:
        raise UserError("--max-wait-ms must be >= 0 and --max-request-mb > 0")
    repo = Repository(args.repository)
    for path in args.run_dirs:
        repo.add(path)
    for spec in args.name:
        alias, sep, path = spec.partition("=")
        if not sep or not alias or not path or "/" in alias:
            raise UserError(f"--name {spec!r}: give ALIAS=RUN_DIR, e.g. --name ctr=runs/3db082f8bef9")
        repo.add(path, alias=alias)
    return serve(repo, args.host, args.port, max_batch_rows=args.max_batch_rows, max_wait=args.max_wait_ms / 1000,
                 max_request_bytes=int(args.max_request_mb * (1 << 20)), threads=args.threads)


def serve(repo, host: str = "127.0.0.1", port: int = 8080, *, max_batch_rows: int = 4096, max_wait: float = 0.002,
          max_request_bytes: int = 16 << 20, threads: int = 1) -> int:
    """Serve ``repo``'s models until SIGINT/SIGTERM (in-flight requests are finished)."""
    import torch
    import uvicorn

    from logitkit._util.errors import UserError
    from logitkit.serve.app import create_app

    torch.set_num_threads(threads)
    app = create_app(repo, max_batch_rows=max_batch_rows, max_wait=max_wait, max_request_bytes=max_request_bytes)
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port or --host") from None
    sock.listen(2048)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=30,
                            http="auto", loop="auto", backlog=2048)
    for name, entry in sorted(repo.models.items()):
        print(f"logitkit serve: model {name!r} = run {entry.version} ({entry.scorer.kind}) from {entry.path}",
              file=sys.stderr)
    url = f"http://{host if ':' not in host else '[' + host + ']'}:{bound}"
    print(f"logitkit serve: listening on {url} (Ctrl-C or SIGTERM stops it)", file=sys.stderr)
    print(url, flush=True)
    server = uvicorn.Server(config)
    # what is loaded now lives as long as the server: out of the cyclic collector's way, so
    # that its full collections (tens of ms over torch's and pyarrow's objects) do not
    # land in a request's latency; requests' own garbage is still collected
    gc.collect()
    gc.freeze()

    def stop(signum, frame):  # graceful: no new connections, the requests in flight finish; twice: now
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True

    # this process owns SIGINT/SIGTERM (uvicorn would re-raise the signal after its shutdown: exit status -15)
    server.capture_signals = contextlib.nullcontext
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("logitkit serve: stopped", file=sys.stderr)
    return 0

