"""One rank of the 2-process checks: fits on its shard, writes its results as JSON.

Run as ``torchrun --standalone --nproc_per_node=2 _worker.py OUT_DIR``.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import _data  # noqa: E402

from logitkit._util import collective, dist  # noqa: E402
from logitkit.evaluate import summary  # noqa: E402
from logitkit.evaluate.streaming import StreamingMetrics, reduce_metrics  # noqa: E402
from logitkit.predict.distributed import DistributedLogisticRegression  # noqa: E402
from logitkit.predict.online.distributed import DistributedHashedLogisticRegression  # noqa: E402

HASH_PARAMS = dict(n_bits=_data.N_BINS, optimizer="ftrl", batch_size=256)


def shard(*arrays):
    lo, hi = dist.shard_range(arrays[0].shape[0])
    return [a[lo:hi] for a in arrays]


def main(out: Path) -> None:
    torch.set_num_threads(1)
    assert dist.init_from_env() and dist.world_size() == 2
    res = {}
    X, y = shard(*_data.binary())
    for solver in ("newton", "lbfgs"):
        m = DistributedLogisticRegression(penalty=None, solver=solver, tol=1e-10, max_iter=200).fit(X, y)
        res[solver] = np.concatenate([m.coef_.ravel(), m.intercept_]).tolist()
        if solver == "newton":
            for cov in ("nonrobust", "HC1"):
                s = summary(m, X, y, cov_type=cov)
                res[f"se_{cov}"] = s.column("std_err").tolist()
                res["llf"] = s.stats["llf"]
            sm = StreamingMetrics(auc_bins=4096).update(y, m.predict_proba(X)[:, 1])
            res["metrics"] = reduce_metrics(sm).result()
    m = DistributedLogisticRegression(penalty="l2", alpha=1e-2, solver="adam", max_iter=60, tol=1e-6).fit(X, y)
    res["adam"] = {"value": m.loss_curve_[-1], "n_iter": int(m.n_iter_[0])}
    m = DistributedLogisticRegression(penalty="l1", alpha=5e-2, solver="sgd", max_iter=60, tol=1e-6).fit(X, y)
    res["sgd_l1"] = {"value": m.loss_curve_[-1], "coef": m.coef_.ravel().tolist()}
    m = DistributedLogisticRegression(penalty="l2", alpha=1e-2, solver="newton", class_weight="balanced",
                                      tol=1e-10).fit(X, y)
    res["balanced"] = np.concatenate([m.coef_.ravel(), m.intercept_]).tolist()
    Xs, ys = _data.softmax()
    # iris is sorted by class: a contiguous shard lacks a class, so the union of classes matters
    Xs, ys = shard(Xs, ys)
    m = DistributedLogisticRegression(penalty="l2", alpha=1e-3, solver="lbfgs", tol=1e-10).fit(Xs, ys)
    res["softmax"] = np.concatenate([m.coef_, m.intercept_[:, None]], 1).ravel().tolist()
    idx, yh = _data.hashed()
    batches = [(idx[i:i + 1024], yh[i:i + 1024]) for i in range(0, idx.shape[0], 1024)]
    h = DistributedHashedLogisticRegression(**HASH_PARAMS, sync_every=4)
    h.fit(list(dist.rank() == 0 and batches[0::2] + batches[-1:] or batches[1::2]))  # uneven: 13 vs 12
    res["hashed_loss"] = h.pass_losses_[0]
    res["hashed_w"] = float(h.w_.double().norm())
    res["hashed_syncs"] = h.n_syncs_
    res["collective"] = collective_checks()
    (out / f"rank{dist.rank()}.json").write_text(json.dumps(res))
    dist.shutdown()


def collective_checks() -> dict:
    """Every operation of the job's ``Collective`` once, with values that tell the ranks apart."""
    coll = collective.current()
    r = coll.rank
    t = coll.sum(torch.tensor([2.0, r], dtype=torch.float32))
    rows = np.array([0, 2, 4]) if r == 0 else np.array([3, 1])  # interleaved, out of order on rank 1
    got = coll.in_row_order(rows, rows * 10, np.stack([rows, -rows], 1))
    to_main = coll.in_row_order(rows, rows * 10, dst=0)
    return {
        "type": type(coll).__name__, "rank": r, "world_size": coll.world_size, "is_main": coll.is_main,
        "sum": coll.sum(np.array([1.0, r])).tolist(), "sum_tensor": [t.tolist(), str(t.dtype)],
        "max": coll.max([r, -r]).tolist(), "min": coll.min([r, -r]).tolist(),
        "all_gather": coll.all_gather({"rank": r}), "gather": coll.gather(r),
        "broadcast": coll.broadcast(f"from {r}"), "broadcast_src1": coll.broadcast(f"from {r}", src=1),
        "broadcast_call": coll.broadcast_call(lambda: f"computed on {r}"),
        "union": coll.union(["a", "b"] if r == 0 else ["c", "b"]).tolist(),
        "concat": coll.concat([r, r]).tolist(),
        "in_row_order": [got[0].tolist(), got[1].tolist()],
        "in_row_order_dst": None if to_main is None else to_main[0].tolist(),
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]))
