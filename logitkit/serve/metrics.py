"""Prometheus metrics of a server (its own registry, served at ``GET /metrics``)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, disable_created_metrics, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # no *_created series: counts and buckets only
        r = self.registry = CollectorRegistry()
        self.requests = Counter("logitkit_inference_requests", "Inference requests by model and outcome",
                                ["model", "outcome"], registry=r)
        self.rows = Counter("logitkit_inference_rows", "Rows scored", ["model"], registry=r)
        self.latency = Histogram("logitkit_inference_request_duration_seconds",
                                 "Inference request latency in the server (body read to response)", ["model"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.batch_rows = Histogram("logitkit_batch_rows", "Rows per scored micro-batch", buckets=ROW_BUCKETS, registry=r)
        self.batch_requests = Histogram("logitkit_batch_requests", "Requests per scored micro-batch",
                                        buckets=ROW_BUCKETS, registry=r)
        self.batch_seconds = Histogram("logitkit_batch_duration_seconds", "Scoring time of a micro-batch",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.http = Counter("logitkit_http_responses", "HTTP responses by status code", ["code"], registry=r)
        self.loads = Counter("logitkit_model_loads", "Model (re)loads by outcome", ["outcome"], registry=r)
        self.models = Gauge("logitkit_models_loaded", "Model names being served", registry=r)
        self.queued = Gauge("logitkit_queued_requests", "Requests waiting for the scoring thread", registry=r)

    def on_batch(self, rows: int, requests: int, seconds: float) -> None:
        self.batch_rows.observe(rows)
        self.batch_requests.observe(requests)
        self.batch_seconds.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
