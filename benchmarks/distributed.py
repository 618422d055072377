"""Distributed training on this machine: 1 process against 2 ranks (gloo), dense and hashed.

    .venv/bin/python benchmarks/distributed.py            # dense 400,000 x 50; hashed 1,000,000 rows
    .venv/bin/python benchmarks/distributed.py --quick    # dense 40,000 x 50; hashed 100,000 rows
    .venv/bin/python benchmarks/distributed.py --pipeline [--quick]   # `logitkit run` on a CSV file

Dense: ``LogisticRegression`` (1 process) against ``DistributedLogisticRegression``
(each rank holds half of the rows), solvers newton and lbfgs, L2 penalty, to the same
tolerance; the coefficients are compared. Hashed: one pass of ``HashedLogisticRegression``
against ``DistributedHashedLogisticRegression`` (each rank learns half of the batches and
synchronises every ``--sync-every`` mini-batches). Every process (ranks included) runs
torch with one thread, so 2 ranks use 2 cores against the single process's 1.

Communication is measured by counting what goes through ``logitkit._util.dist``'s
all-reduce (payload bytes per rank) and is printed next to the figure computed from the
model's size: newton m·p² + m·p + 1 numbers per iteration (+1 per line-search trial),
lbfgs m·p + 1 per function evaluation, hashed 2^b·(1 + slots) table numbers per
synchronisation. Printed: one JSON line per run and one with the speed-ups.

``--pipeline``: ``logitkit run`` of one CSV file (1,000,000 x 20 numeric + 1 text column;
``--quick`` 100,000) with a stratified split, imputation, z-scores, one-hot and a Newton
fit with HC1 standard errors, on one process and under ``torchrun --nproc_per_node=2``
(each rank reads its byte range). Printed per run: wall seconds, the CPU seconds of the
launcher's children, rank 0's stage timings from ``record.json``, each rank's bytes
read; then the speed-up and the largest coefficient difference.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def dense_data(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d) / np.sqrt(d) * 2
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w)))).astype(np.int64)
    return X, y


def hashed_data(n: int, n_bits: int, tokens: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    # Zipf-like token frequencies, as in CTR data: a few hot buckets, a long tail
    idx = (rng.zipf(1.3, size=(n, tokens)) * 2654435761 + np.arange(tokens) * 97) % (1 << n_bits)
    w_true = rng.normal(scale=0.5, size=1 << n_bits)
    y = (rng.random(n) < 1 / (1 + np.exp(-(w_true[idx].sum(1) - 1.0)))).astype(np.float32)
    return idx.astype(np.int64), y


class Counter:
    """Wraps ``dist.all_reduce_sum`` to count calls and payload bytes."""

    def __init__(self):
        from logitkit._util import dist

        self.calls, self.bytes, self._inner = 0, 0, dist.all_reduce_sum
        dist.all_reduce_sum = self
        import logitkit.predict.distributed as pd

        pd.dist.all_reduce_sum = self

    def __call__(self, t):
        self.calls += 1
        self.bytes += t.numel() * t.element_size()
        return self._inner(t)


def run(args, world: int) -> list[dict]:
    """The measurements of one process (rank ``RANK`` of ``world``, or the single process)."""
    import torch

    from logitkit._util import dist
    from logitkit.predict import HashedLogisticRegression, LogisticRegression
    from logitkit.predict.distributed import DistributedLogisticRegression
    from logitkit.predict.online.distributed import DistributedHashedLogisticRegression

    torch.set_num_threads(1)
    if world > 1:
        dist.init_from_env()
    counter = Counter()
    out = []
    X, y = dense_data(args.dense_rows, args.dense_features)
    lo, hi = dist.shard_range(len(y))
    cls = DistributedLogisticRegression if world > 1 else LogisticRegression
    for solver in ("newton", "lbfgs"):
        counter.calls = counter.bytes = 0
        dist.barrier()
        t0 = time.perf_counter()
        m = cls(penalty="l2", alpha=1e-4, solver=solver, tol=1e-8, max_iter=100).fit(X[lo:hi], y[lo:hi])
        dist.barrier()
        sec = time.perf_counter() - t0
        p = args.dense_features + 1
        per_iter = (p * p + p + 1) * 8 if solver == "newton" else None
        out.append({"path": f"dense-{solver}", "world": world, "rank": dist.rank(), "seconds": sec,
                    "rows": int(hi - lo), "n_iter": int(m.n_iter_[0]), "evals": len(m.loss_curve_),
                    "allreduce_calls": counter.calls, "allreduce_bytes": counter.bytes,
                    "computed_bytes_per_newton_iter": per_iter,
                    "coef": np.concatenate([m.coef_.ravel(), m.intercept_]).tolist()})
    idx, yh = hashed_data(args.hashed_rows, args.bits, args.tokens)
    bs = 8192
    batches = [(idx[i:i + bs], yh[i:i + bs]) for i in range(0, len(yh), bs)][dist.rank():: world]
    params = dict(n_bits=args.bits, optimizer="ftrl", batch_size=1024, sketch_size=0)
    h = DistributedHashedLogisticRegression(**params, sync_every=args.sync_every) if world > 1 \
        else HashedLogisticRegression(**params)
    counter.calls = counter.bytes = 0
    dist.barrier()
    t0 = time.perf_counter()
    h.fit(batches)
    sec = time.perf_counter() - t0
    slots = 2  # FTRL: z and n
    syncs = getattr(h, "n_syncs_", 0)
    out.append({"path": "hashed-ftrl", "world": world, "rank": dist.rank(), "seconds": sec,
                "rows": int(sum(len(b[1]) for b in batches)), "progressive_loss": h.pass_losses_[0],
                "syncs": syncs, "allreduce_bytes": counter.bytes,
                "computed_bytes_per_sync": ((1 << args.bits) + 1) * (1 + slots) * 4 + 4})
    return out


def spawn(args, world: int) -> list[dict]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for r in range(world):
        env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(world), LOCAL_RANK=str(r), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, __file__, "--worker", *sys.argv[1:]], env=env,
                                      stdout=subprocess.PIPE, text=True))
    rows = []
    for p in procs:
        stdout, _ = p.communicate(timeout=3600)
        if p.returncode:
            raise SystemExit(f"a rank failed (exit {p.returncode})")
        rows += json.loads(stdout.strip().splitlines()[-1])
    return rows


def pipeline_bench(quick: bool) -> None:
    """``logitkit run`` of one CSV file on 1 process and on 2 ranks (see the docstring)."""
    import csv
    import resource
    import tempfile

    import pyarrow as pa
    import pyarrow.csv as pacsv

    n, d = (100_000, 20) if quick else (1_000_000, 20)
    folder = Path(tempfile.mkdtemp(prefix="logitkit-dist-bench-"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    z = X @ (rng.normal(size=d) / np.sqrt(d))
    cols = {f"x{j}": X[:, j] for j in range(d)}
    cols["c"] = rng.choice(["a", "b", "c", "d"], n)
    cols["y"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    pacsv.write_csv(pa.table(cols), folder / "d.csv")
    (folder / "c.yaml").write_text(
        f"data: {{path: {folder}/d.csv, label: y, split: {{method: stratified, test_size: 0.25}}}}\n"
        "prep: {standardize: true, impute: mean}\n"
        "model: {penalty: l2, alpha: 0.0001, solver: newton, tol: 1.0e-10}\n"
        "evaluate: {metrics: [log_loss, roc_auc], inference: true, cov_type: HC1}\n"
        "interpret: {plots: false, report: false, graph: false}\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    launch = {1: [sys.executable, "-m", "logitkit", "run"],
              2: [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                  "-m", "logitkit", "run"]}
    coefs = {}
    seconds = {}
    for world, cmd in launch.items():
        out = folder / f"runs{world}"
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([*cmd, str(folder / "c.yaml"), "--out", str(out)], env=env, check=True,
                       stdout=subprocess.DEVNULL, cwd=ROOT)
        seconds[world] = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        (run_dir,) = list(out.iterdir())
        record = json.loads((run_dir / "record.json").read_text())
        with open(run_dir / "coefficients.csv", newline="") as f:
            coefs[world] = np.array([float(r["coef"]) for r in csv.DictReader(f)])
        shards = record.get("distributed", {}).get("shards", [])
        n_iter = json.loads((run_dir / "model" / "model.json").read_text()).get("n_iter")
        print(json.dumps({"path": "pipeline-csv", "world": world, "rows": n, "file_bytes": (folder / "d.csv").stat().st_size,
                          "seconds": seconds[world], "n_iter": n_iter,
                          "cpu_seconds": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
                          "stage_seconds_rank0": record["timings"],
                          "bytes_read": [s["train"]["bytes"] for s in shards] or None}))
    print(json.dumps({"summary": {"pipeline-csv": {
        "speedup_2_ranks": seconds[1] / seconds[2],
        "max_coef_diff": float(np.max(np.abs(coefs[1] - coefs[2]))), "load_average": os.getloadavg()}}}))
    import shutil

    shutil.rmtree(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bits", type=int, default=18)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--sync-every", type=int, default=64)
    ap.add_argument("--pipeline", action="store_true", help="logitkit run of a CSV file, 1 process vs 2 ranks")
    args = ap.parse_args()
    if args.pipeline:
        pipeline_bench(args.quick)
        return
    args.dense_rows, args.hashed_rows = (40_000, 100_000) if args.quick else (400_000, 1_000_000)
    args.dense_features = 50
    if args.worker:
        from logitkit._util import dist

        print(json.dumps(run(args, int(os.environ["WORLD_SIZE"]))))
        dist.shutdown()
        return
    one = spawn(args, 1)
    two = spawn(args, 2)
    summary = {}
    for r in one:
        ranks = [t for t in two if t["path"] == r["path"]]
        t2 = max(t["seconds"] for t in ranks)
        line = {k: v for k, v in r.items() if k != "coef"}
        print(json.dumps(line))
        for t in ranks:
            print(json.dumps({k: v for k, v in t.items() if k != "coef"}))
        total_rows = sum(t["rows"] for t in ranks)
        passes = r.get("evals", 1)  # full batch: one pass over the rows per function evaluation
        s = {"speedup_2_ranks": r["seconds"] / t2,
             "rows_per_s_1": r["rows"] * passes / r["seconds"],
             "rows_per_s_2": total_rows * ranks[0].get("evals", 1) / t2}
        if "coef" in r:
            s["max_coef_diff"] = float(np.max(np.abs(np.subtract(r["coef"], ranks[0]["coef"]))))
            s["bytes_per_fit_per_rank"] = ranks[0]["allreduce_bytes"]
        else:
            s["loss_1"], s["loss_2"] = r["progressive_loss"], ranks[0]["progressive_loss"]
            s["measured_bytes_per_sync"] = ranks[0]["allreduce_bytes"] / max(ranks[0]["syncs"], 1)
            s["computed_bytes_per_sync"] = ranks[0]["computed_bytes_per_sync"]
        summary[r["path"]] = s
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    main()
