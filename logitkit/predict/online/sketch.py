"""A bounded sketch of the ``field=value`` tokens seen in training, with their buckets.

A hashed model keeps weights by bucket, not by token; to read a weight back as
``C7=3f9a``, the trainer records which tokens fell into which bucket. Memory is bounded
by ``capacity``: counts are summed in a dict and, whenever it holds more than
2·capacity tokens, only the ``capacity`` most frequent survive (a "frequent items"
sketch: a token whose true count is at least a 1/capacity share of all tokens is never
dropped; counts of survivors are lower bounds).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np


class TokenSketch:
    """Token → (count, bucket), at most ``2·capacity`` entries between prunings."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = int(capacity)
        self.counts: dict[str, int] = {}
        self.buckets: dict[str, int] = {}
        self.total = 0

    def update(self, tokens: np.ndarray, buckets: np.ndarray, counts: np.ndarray) -> None:
        """Add ``counts[k]`` sightings of ``tokens[k]`` (hashed to ``buckets[k]``); shapes (m,)."""
        if self.capacity <= 0:
            return
        c, b = self.counts, self.buckets
        for tok, bucket, n in zip(tokens.tolist(), buckets.tolist(), counts.tolist()):
            if tok in c:
                c[tok] += n
            else:
                c[tok] = n
                b[tok] = bucket
        self.total += int(counts.sum())
        if len(c) > 2 * self.capacity:
            self.prune()

    def prune(self) -> None:
        """Keep the ``capacity`` most frequent tokens (ties broken by token, for determinism)."""
        keep = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[: self.capacity]
        self.counts = dict(keep)
        self.buckets = {tok: self.buckets[tok] for tok, _ in keep}

    def by_bucket(self) -> dict[int, list[tuple[str, int]]]:
        """bucket → [(token, count), ...] most frequent first."""
        out: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for tok, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            out[self.buckets[tok]].append((tok, n))
        return dict(out)

    def to_json(self) -> dict:
        toks = sorted(self.counts)
        return {
            "capacity": self.capacity,
            "total": self.total,
            "tokens": toks,
            "counts": [self.counts[t] for t in toks],
            "buckets": [self.buckets[t] for t in toks],
        }

    @classmethod
    def from_json(cls, d: dict) -> "TokenSketch":
        sk = cls(d["capacity"])
        sk.total = int(d["total"])
        sk.counts = dict(zip(d["tokens"], d["counts"]))
        sk.buckets = dict(zip(d["tokens"], d["buckets"]))
        return sk
