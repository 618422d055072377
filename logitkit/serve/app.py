"""The ASGI application (Starlette): the Open Inference Protocol's REST endpoints.

    GET  /v2                                   server metadata
    GET  /v2/health/live | /v2/health/ready    liveness, readiness
    GET  /v2/models/{name}[/versions/{v}]      model metadata (inputs, outputs)
    GET  /v2/models/{name}[/versions/{v}]/ready
    POST /v2/models/{name}[/versions/{v}]/infer
    POST /v2/repository/index                  model repository extension
    POST /v2/repository/models/{name}/load | /unload
    GET  /metrics                              Prometheus text format

Every error is ``{"error": message}`` with a 4xx status (a bug: 500, logged with its
traceback on the server, never in the response).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logitkit import __version__
from logitkit._util.errors import UserError
from logitkit.serve.batcher import Batcher
from logitkit.serve.metrics import Metrics
from logitkit.serve.protocol import ProtocolError, decode_infer, decompress, encode_infer, error_body, parse_json
from logitkit.serve.repository import Repository

log = logging.getLogger("logitkit.serve")
EXTENSIONS = ["binary_tensor_data", "model_repository"]


def _json(doc, status: int = 200) -> Response:
    return Response(json.dumps(doc).encode(), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return Response(error_body(message), status_code=status, media_type="application/json")


async def _body(request: Request, limit: int) -> bytes:
    """The request body, decompressed; a 413 past ``limit`` bytes (before reading it when
    Content-Length says so)."""
    too_big = ProtocolError(f"the request body is larger than {limit} bytes; send smaller batches "
                            "(or start the server with a larger --max-request-mb)", 413)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return decompress(b"".join(chunks), request.headers.get("content-encoding"), limit)


class _CountStatus:
    """ASGI middleware: counts responses by status code."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def counting(message):
            if message["type"] == "http.response.start":
                self.metrics.http.labels(str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting)


def create_app(repo: Repository, *, max_batch_rows: int = 4096, max_wait: float = 0.002,
               max_request_bytes: int = 16 << 20) -> Starlette:
    """The server's application for the models in ``repo``."""
    metrics = Metrics()
    batcher: Batcher | None = None
    metrics.models.set_function(lambda: len(repo.models))

    def scoring() -> Batcher:
        nonlocal batcher
        if batcher is None:
            batcher = Batcher(max_batch_rows, max_wait, on_batch=metrics.on_batch)
            metrics.queued.set_function(batcher.queued)
        return batcher

    async def server_metadata(request: Request) -> Response:
        return _json({"name": "logitkit", "version": __version__, "extensions": EXTENSIONS})

    async def live(request: Request) -> Response:
        return _json({"live": True})

    async def ready(request: Request) -> Response:
        ok = bool(repo.models)
        return _json({"ready": ok}, 200 if ok else 503)

    async def model_metadata(request: Request) -> Response:
        p = request.path_params
        return _json(repo.get(p["name"], p.get("version")).metadata())

    async def model_ready(request: Request) -> Response:
        p = request.path_params
        return _json({"name": repo.get(p["name"], p.get("version")).name, "ready": True})

    async def infer(request: Request) -> Response:
        t0 = time.perf_counter()
        p = request.path_params
        b = scoring()
        b.arriving += 1
        arriving = True
        model = "_unknown"  # (a metrics label: only names the server has)
        try:
            entry = repo.get(p["name"], p.get("version"))
            model = entry.name
            req = decode_infer(await _body(request, max_request_bytes),
                               request.headers.get("inference-header-content-length"))
            if req.n_rows == 0:
                raise ProtocolError("the request has 0 rows; send at least one value per input")
            outputs = _outputs(entry, req)
            where = f"model {model!r}"
            entry.scorer.check_names(req.columns, where)
            b.arriving -= 1
            arriving = False
            proba, labels = await b.submit(entry.scorer, req, where)
        except (ProtocolError, UserError) as exc:
            metrics.requests.labels(model, "error").inc()
            return _error(getattr(exc, "status", 400), str(exc))
        finally:
            if arriving:
                b.arriving -= 1
        tensors = []
        for name, binary in outputs:
            if name == "prediction":
                tensors.append((name, entry.scorer.outputs[-1][1], labels, binary))
            else:
                tensors.append((name, "FP64", proba[:, entry.scorer.output_index(name)], binary))
        body, headers = encode_infer(entry.name, entry.version, req.id, tensors)
        metrics.requests.labels(model, "ok").inc()
        metrics.rows.labels(model).inc(req.n_rows)
        metrics.latency.labels(model).observe(time.perf_counter() - t0)
        return Response(body, headers=headers)

    async def repository_index(request: Request) -> Response:
        raw = await _body(request, max_request_bytes)
        doc = parse_json(raw) if raw.strip() else {}
        ready_only = isinstance(doc, dict) and doc.get("ready") is True
        return _json(repo.index(ready_only))

    async def load(request: Request) -> Response:
        name = request.path_params["name"]
        raw = await _body(request, max_request_bytes)
        run_dir = _run_dir_parameter(parse_json(raw) if raw.strip() else {})
        try:
            entry = await asyncio.to_thread(repo.load, name, run_dir)
        except ProtocolError:
            metrics.loads.labels("error").inc()
            raise
        metrics.loads.labels("ok").inc()
        print(f"logitkit serve: model {name!r} = run {entry.version} ({entry.scorer.kind}) from {entry.path}",
              file=sys.stderr, flush=True)
        return _json({"name": entry.name, "version": entry.version, "run_dir": str(entry.path)})

    async def unload(request: Request) -> Response:
        name = request.path_params["name"]
        await _body(request, max_request_bytes)
        repo.unload(name)
        return _json({"name": name})

    async def metrics_endpoint(request: Request) -> Response:
        body, ctype = metrics.render()
        return Response(body, media_type=ctype)

    async def protocol_error(request: Request, exc: ProtocolError) -> Response:
        return _error(exc.status, str(exc))

    async def user_error(request: Request, exc: UserError) -> Response:
        return _error(400, str(exc))

    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return _error(404, f"no endpoint {request.url.path}; see GET /v2 and the protocol's paths under /v2/")
        if exc.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}")
        return _error(exc.status_code, str(exc.detail))

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, f"internal error ({type(exc).__name__}); the server log has the details")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        scoring()
        yield
        if batcher is not None:
            batcher.close()

    model_paths = ["/v2/models/{name}", "/v2/models/{name}/versions/{version}"]
    routes = [Route("/v2", server_metadata), Route("/v2/health/live", live), Route("/v2/health/ready", ready),
              Route("/metrics", metrics_endpoint),
              Route("/v2/repository/index", repository_index, methods=["POST"]),
              Route("/v2/repository/models/{name}/load", load, methods=["POST"]),
              Route("/v2/repository/models/{name}/unload", unload, methods=["POST"])]
    for base in model_paths:
        routes += [Route(base, model_metadata), Route(base + "/ready", model_ready),
                   Route(base + "/infer", infer, methods=["POST"])]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={ProtocolError: protocol_error, UserError: user_error,
                                        HTTPException: http_error, Exception: internal_error})
    app.state.metrics, app.state.repository = metrics, repo
    app.add_middleware(_CountStatus, metrics=metrics)
    return app


def _outputs(entry, req) -> list[tuple[str, bool]]:
    names = [n for n, _ in entry.scorer.outputs]
    if req.outputs is None:
        return [(n, req.binary_output) for n in names]
    for n, _ in req.outputs:
        if n not in names:
            raise ProtocolError(f"unknown output {n!r}; model {entry.name!r} has outputs {names}")
    return req.outputs


def _run_dir_parameter(doc) -> str | None:
    """The run to load from a load request: parameters.run_dir, or parameters.config (a
    JSON string, what ``tritonclient``'s ``load_model(config=...)`` sends) with run_dir."""
    if not isinstance(doc, dict):
        raise ProtocolError("the load request body must be a JSON object ({\"parameters\": {...}})")
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError("\"parameters\" must be a JSON object")
    run_dir = params.get("run_dir")
    config = params.get("config")
    if run_dir is None and config is not None:
        if not isinstance(config, str):
            raise ProtocolError("parameter \"config\" must be a JSON string, e.g. \"{\\\"run_dir\\\": \\\"runs/abc\\\"}\"")
        cfg = parse_json(config.encode(), "load request's \"config\" parameter")
        run_dir = cfg.get("run_dir") if isinstance(cfg, dict) else None
        if run_dir is None:
            raise ProtocolError("the \"config\" parameter has no \"run_dir\"; give {\"run_dir\": \"runs/<run id>\"}")
    if run_dir is not None and not isinstance(run_dir, str):
        raise ProtocolError(f"parameter \"run_dir\" must be a path (a string), not {run_dir!r}")
    return run_dir
