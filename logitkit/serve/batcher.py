"""Micro-batching: one scoring thread scores the rows of concurrent requests together.

Requests (checked by the event loop: names, datatypes, shapes, sizes; binary tensors
not yet decoded) are queued with the ``Scorer`` they were resolved to. The scoring thread takes the first one, then
every queued request for the same scorer with the same inputs (names, datatypes,
binary or JSON), and — while other requests are still being
read and decoded by the event loop (``arriving``) — waits for more until the first one
has waited ``max_wait`` seconds or ``max_rows`` rows are together. A lone request is
scored at once. Each input's binary data is joined over the batch and decoded once
(per-column costs are paid per batch, not per request); the batch is one table, scored once (torch, no Python loop per row),
and each request gets its slice. When a batch fails on a user error, each of its
requests is scored alone, so one bad request never fails the others and its message
counts its own rows.

A hot reload swaps the scorer a *name* resolves to; a request already queued keeps the
scorer it was resolved to, so nothing in flight is lost or scored twice.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque

import numpy as np

from logitkit._util.errors import UserError
from logitkit.serve.protocol import merge_columns

log = logging.getLogger("logitkit.serve")


class Job:
    __slots__ = ("scorer", "request", "where", "n", "key", "future", "loop", "t0")

    def __init__(self, scorer, request, where: str, future: asyncio.Future, loop) -> None:
        self.scorer, self.request, self.where, self.n = scorer, request, where, request.n_rows
        self.key = (id(scorer), request.key())  # requests decoded and scored together
        self.future, self.loop, self.t0 = future, loop, time.monotonic()


def _deliver(fut: asyncio.Future, result, exc) -> None:
    if fut.done():  # the client went away
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


class Batcher:
    """The scoring thread. ``submit`` (from the event loop) returns a future of
    ``(proba (n, K), labels (n,))``; ``close`` scores what is queued, then stops."""

    def __init__(self, max_rows: int = 4096, max_wait: float = 0.002, on_batch=None) -> None:
        self.max_rows, self.max_wait = int(max_rows), float(max_wait)
        self.on_batch = on_batch  # (rows, requests, seconds) after each batch, for metrics
        self.arriving = 0  # requests being read/decoded by the event loop (set there)
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="logitkit-scorer", daemon=True)
        self._thread.start()

    def submit(self, scorer, request, where: str) -> asyncio.Future:
        """Queue a checked ``protocol.InferRequest`` for ``scorer``; a future of (proba, labels)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._q.put(Job(scorer, request, where, fut, loop))
        return fut

    def queued(self) -> int:
        return self._q.qsize()

    def close(self, timeout: float = 30.0) -> None:
        self._q.put(None)
        self._thread.join(timeout)

    # -- the scoring thread ---------------------------------------------------------------
    def _next(self, carry: deque, stopping: bool):
        if carry:
            return carry.popleft()
        if not stopping:
            return self._q.get()
        try:
            return self._q.get_nowait()
        except queue.Empty:
            return None

    def _run(self) -> None:
        import torch

        torch.set_grad_enabled(False)
        carry: deque = deque()  # taken from the queue for another scorer: scored next
        stopping = False  # close() was called: score what is queued, then stop
        while True:
            job = self._next(carry, stopping)
            if job is None:
                if stopping:
                    break
                stopping = True
                continue
            batch, rows = [job], job.n
            deadline = job.t0 + self.max_wait
            while rows < self.max_rows:
                if carry:
                    if carry[0].key != job.key:
                        break
                    nxt = carry.popleft()
                else:
                    try:
                        nxt = self._q.get_nowait()
                    except queue.Empty:
                        left = deadline - time.monotonic()
                        if left <= 0 or self.arriving <= 0 or stopping:
                            break  # nobody else is on the way: score now
                        try:
                            nxt = self._q.get(timeout=min(left, 0.0005))
                        except queue.Empty:
                            continue
                    if nxt is None:
                        stopping = True
                        continue
                    if nxt.key != job.key:
                        carry.append(nxt)
                        break
                batch.append(nxt)
                rows += nxt.n
            self._score(batch, rows)

    def _score(self, batch: list[Job], rows: int) -> None:
        t0 = time.perf_counter()
        scorer = batch[0].scorer
        try:  # each input decoded once for the batch, then the reader's types, then the model
            columns = merge_columns([j.request.columns for j in batch])
            proba = scorer.proba(scorer.table(columns, where=batch[0].where))
            labels = scorer.labels(proba)
        except UserError as exc:
            if len(batch) == 1:
                self._send(batch[0], None, exc)
            else:  # find whose rows it was: each request alone
                for j in batch:
                    self._score([j], j.n)
            return
        except Exception as exc:  # a bug: logged with its traceback, answered as a 500
            log.exception("scoring a batch of %d rows failed", rows)
            for j in batch:
                self._send(j, None, exc)
            return
        start = 0
        for j in batch:
            self._send(j, (np.ascontiguousarray(proba[start : start + j.n]), labels[start : start + j.n]), None)
            start += j.n
        if self.on_batch is not None:
            self.on_batch(rows, len(batch), time.perf_counter() - t0)

    @staticmethod
    def _send(job: Job, result, exc) -> None:
        try:
            job.loop.call_soon_threadsafe(_deliver, job.future, result, exc)
        except RuntimeError:  # the loop is closed: nobody waits for it
            pass
