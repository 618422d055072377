"""Reading a hashed model (``predict.HashedLogisticRegression``) back as tokens and buckets.

A hashed model keeps weights by bucket, not by token. From its public state — the
table weights ``w_`` (2^b,), the token sketch ``sketch_`` (which ``field=value`` tokens
fell in which bucket, bounded) and ``touched_`` (the buckets some training row fell in):

* ``top_weights(model, k)``: the k buckets of largest |w| with the tokens hashed there;
* ``collision_stats(model)``: how full the table is and how many tokens share a bucket.
"""
from __future__ import annotations

import math

import torch

from logitkit.predict.online.estimator import check_fitted


def top_weights(model, k: int = 20) -> list[dict]:
    """The k table rows of largest |w|, with the tokens the sketch saw hashed there.

    Each entry: {"bucket", "weight", "tokens": [(token, count), ...]}; an empty token
    list means the bucket's tokens were too rare to stay in the sketch. Buckets of
    weight 0 are left out.
    """
    check_fitted(model, "w_")
    w = model.w_
    k = min(int(k), w.shape[0])
    vals, rows = torch.topk(w.abs(), k)
    by_bucket = model.sketch_.by_bucket()
    out = []
    for v, r in zip(vals.tolist(), rows.tolist()):
        if v == 0:
            break
        out.append({"bucket": r, "weight": float(w[r]), "tokens": by_bucket.get(r, [])})
    return out


def expected_collisions(n_tokens: float, n_buckets: int) -> float:
    """Expected number of tokens sharing a bucket with another, n tokens hashed uniformly
    into m buckets: n − m·(1 − (1 − 1/m)^n) (tokens minus occupied buckets)."""
    occupied = n_buckets * (1.0 - math.exp(n_tokens * math.log1p(-1.0 / n_buckets)))
    return n_tokens - occupied


def collision_stats(model) -> dict[str, float]:
    """Hash-collision statistics of the table.

    occupied_buckets: rows ever touched by a training row; distinct_tokens_est: linear-counting estimate
    m·ln(m/(m − occupied)) of the distinct tokens behind them; expected_colliding_tokens:
    tokens expected to share a bucket at that many tokens; sketch_*: exact counts among
    the tokens the sketch holds (buckets holding >= 2 of them).
    """
    check_fitted(model, "w_")
    m = model.w_.shape[0]
    occ = int(model.touched_.sum())
    est = m * math.log(m / (m - occ)) if occ < m else float("inf")
    per_bucket: dict[int, int] = {}
    for b in model.sketch_.buckets.values():
        per_bucket[b] = per_bucket.get(b, 0) + 1
    shared = [c for c in per_bucket.values() if c > 1]
    return {
        "n_buckets": m,
        "occupied_buckets": occ,
        "load_factor": occ / m,
        "distinct_tokens_est": est,
        "expected_colliding_tokens": expected_collisions(est, m) if math.isfinite(est) else float("inf"),
        "sketch_tokens": len(model.sketch_.counts),
        "sketch_buckets_shared": len(shared),
        "sketch_tokens_in_shared_buckets": int(sum(shared)),
    }
