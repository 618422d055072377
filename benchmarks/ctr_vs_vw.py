"""CTR at scale: logitkit's HashedLogisticRegression against Vowpal Wabbit, same data, same run.

    .venv/bin/python benchmarks/ctr_vs_vw.py                 # 1,000,000 + 250,000 generated rows
    .venv/bin/python benchmarks/ctr_vs_vw.py --quick         # 100,000 + 25,000 rows
    .venv/bin/python benchmarks/ctr_vs_vw.py --train TRAIN.tsv --test TEST.tsv   # any Criteo-layout files

Both systems see the same tokens: ``field=value`` for the 26 categoricals and the
log-bucket code of the 13 counts (missing -> ``field=``), hashed into 2^22 buckets. VW
gets them as its own text format (written once, not timed); logitkit parses the Criteo
TSV itself. Timed for both: one training pass over the text file (parse + hash + learn;
neither writes a cache), then scoring of the test file. logitkit then runs a cached
pass (text in, parse + hash + learn + cache write, parsing ahead of learning as in the
compared pass; the cache also keeps the learner's row plans, ``CTRStream.request_extras``,
as ``fit`` would ask) and passes over the cache, all continuing to train the same model (the
same learner work per pass): ``first_pass_over_cache_pass`` is their ratio by the wall
clock, ``..._cpu`` by CPU seconds, ``..._idle_cores`` by the least wall each pass can
take on idle cores (max(learner thread's CPU, all CPU / cores)), the figure that does
not depend on other jobs sharing the machine. Each system runs in its own process, so
its peak resident memory (VmHWM) is its own; logitkit's is also split into what the
imports hold and what the data adds. Log loss and AUC are computed by scikit-learn from the
saved predictions, the same way for both (the runs are deterministic; with ``--repeat``
the median speed is shown). Printed: one JSON line per system, then one with the
ratios, the cache passes and the memory-bandwidth bound of a cached pass.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_seconds() -> float:
    """User + system CPU time of this process, all its threads (robust on a shared machine)."""
    t = os.times()
    return t.user + t.system


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Clock:
    """Wall seconds, CPU seconds of all threads and of the calling (main) thread."""

    def __enter__(self):
        self.w, self.c, self.t = time.perf_counter(), cpu_seconds(), time.thread_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w
        self.cpu = cpu_seconds() - self.c
        self.main = time.thread_time() - self.t


def peak_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would include the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- data
def prepare(args) -> tuple[Path, Path, Path, Path, dict]:
    """Criteo TSVs (generated unless given) and their VW-text twins (not timed)."""
    from logitkit.loaddata.criteo import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS, load_criteo, write_criteo
    from logitkit.loaddata.synthetic import log_loss_of, make_ctr
    from logitkit.loaddata.vw import write_vw

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    info: dict = {}
    if args.train:
        train, test = Path(args.train), Path(args.test)
    else:
        tag = f"{args.rows}_{args.test_rows}_s{args.seed}"
        train, test = work / f"train_{tag}.tsv", work / f"test_{tag}.tsv"
        truth_file = work / f"truth_{tag}.json"
        if not (train.exists() and test.exists() and truth_file.exists()):
            table, truth = make_ctr(args.rows + args.test_rows, seed=args.seed)
            write_criteo(table.data.slice(0, args.rows), train)
            write_criteo(table.data.slice(args.rows), test)
            y = table.data.column("label").to_numpy()[args.rows :]
            truth_file.write_text(json.dumps({"truth_test_log_loss": log_loss_of(y, truth.prob[args.rows :])}))
        info = json.loads(truth_file.read_text())
    ns = {"n": NUMERIC_COLUMNS, "c": CATEGORICAL_COLUMNS}
    vw_files = []
    for src in (train, test):
        dst = work / (src.stem + ".vw")
        if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime:
            write_vw(load_criteo(src), dst, namespaces=ns, numeric="log_bucket")
        vw_files.append(dst)
    return train, test, vw_files[0], vw_files[1], info


def memory_bandwidth() -> float:
    """Read bandwidth in bytes/s: best of 5 sums over a 256 MiB array."""
    a = np.ones(32 << 20)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        a.sum()
        best = min(best, time.perf_counter() - t)
    return a.nbytes / best


# ---------------------------------------------------------------------------- systems
def run_logitkit(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from logitkit.evaluate import evaluate_stream
    from logitkit.interpret.hashed import collision_stats, top_weights
    from logitkit.loaddata import CTRStream
    from logitkit.predict import HashedLogisticRegression
    from logitkit.predict.online.plan import PLAN_DTYPES, plan_key
    from logitkit.prepdata import FeatureHasher

    cache = Path(args.workdir) / "logitkit_cache"
    for suffix in (".json", ".idx", ".y", ".dense"):
        Path(str(cache) + suffix).unlink(missing_ok=True)
    hasher = FeatureHasher(n_bits=args.bits)
    prefetch = False if args.prefetch == "none" else args.prefetch
    rows = args.stream_rows
    sketch_every = 16  # the token sketch sees every 16th batch: 1/16 of the rows, whatever the batch size
    model = HashedLogisticRegression(
        n_bits=args.bits, optimizer="ftrl", learning_rate=args.alpha, beta=1.0, l1=args.l1, l2=args.l2,
        batch_size=args.batch_size, sketch_size=100_000,
    )
    model._plan_ahead = {"auto": "auto", "thread": True, "inline": False}[args.plan_ahead]
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # peak RSS := current RSS: the interpreter, torch, sklearn, pyarrow
    base_rss = rss_mb()
    m = 1 << args.bits  # the table, its FTRL slots z, n (+ the intercept row) and the int32 claim map
    table_mb = ((m + 1) * 4 * 3 + m * 4) / 2**20
    # the compared pass: text in, parse + hash + learn, as VW's (no cache written by either)
    stream = CTRStream(args.train, hasher, batch_rows=rows, prefetch=prefetch, sketch_every=sketch_every)
    with Clock() as first:
        model.fit(stream)
    n = model.n_rows_seen_
    train_peak = peak_mb()

    class Keep:
        def __init__(self):
            self.p = []

        def update(self, y, p):
            self.p.append(p)

    keep = Keep()
    test = CTRStream(args.test, hasher, batch_rows=rows, sketch_every=0, prefetch=prefetch)
    t0 = time.perf_counter()
    evaluate_stream(model, test, [keep])
    test_s = time.perf_counter() - t0
    np.save(Path(args.workdir) / "pred_logitkit.npy", np.concatenate(keep.p))
    out = {
        "system": "logitkit", "train_rows": n, "train_seconds": first.wall, "train_rows_per_s": n / first.wall,
        "train_cpu_seconds": first.cpu, "train_main_thread_cpu_seconds": first.main,
        "progressive_log_loss": model.progressive_loss_, "test_seconds": test_s,
    }
    # a cached run: its first pass parses, hashes, learns and writes the cache (prefetch as
    # above); later passes read the binary cache (no parsing, no hashing). The model
    # continues training: every pass is the same learner work.
    stream = CTRStream(args.train, hasher, batch_rows=rows, cache=cache, prefetch=prefetch, sketch_every=0)
    # (what model.fit does): the cache also keeps the row plans
    stream.request_extras(plan_key(args.batch_size, 1 << args.bits), PLAN_DTYPES)
    with Clock() as writing:
        for batch in stream:
            model.partial_fit(*batch)
    reads = []
    for _ in range(args.cache_passes):
        with Clock() as c:
            for _batch in stream:
                pass
        reads.append(c)
    passes = []
    for _ in range(args.cache_passes):
        with Clock() as c:
            for batch in stream:
                model.partial_fit(*batch)
        passes.append(c)
    best = min(passes, key=lambda c: c.wall)
    nbytes = stream.cache_bytes()
    out.update({
        "cache_writing_pass_seconds": writing.wall, "cache_writing_pass_cpu_seconds": writing.cpu,
        "cache_writing_pass_main_thread_cpu_seconds": writing.main,
        "cache_pass_seconds": best.wall, "cache_pass_cpu_seconds": min(c.cpu for c in passes),
        "cache_pass_main_thread_cpu_seconds": min(c.main for c in passes),
        "cache_read_only_seconds": min(c.wall for c in reads), "cache_bytes": nbytes,
        "peak_rss_mb": peak_mb(), "baseline_rss_mb": base_rss, "table_mb": table_mb, "train_pass_peak_rss_mb": train_peak,
        "stream_batch_rows": rows,
        "collisions": collision_stats(model),
        "top_weights": [(round(t["weight"], 3), t["tokens"][:1]) for t in top_weights(model, 5)],
    })
    return out


def run_vw(args) -> dict:
    import vowpalwabbit

    model = Path(args.workdir) / "vw.model"
    opts = f"-b {args.bits} --loss_function logistic --quiet {args.vw_args}".strip()
    t0, c0 = time.perf_counter(), cpu_seconds()
    ws = vowpalwabbit.Workspace(f"-d {args.vw_train} -f {model} {opts}")
    ws.run_parser()
    prog = ws.get_sum_loss() / ws.get_weighted_examples()
    n = int(ws.get_weighted_examples())
    ws.finish()
    train_s, train_cpu = time.perf_counter() - t0, cpu_seconds() - c0
    preds = Path(args.workdir) / "vw_preds.txt"
    t0 = time.perf_counter()
    ws = vowpalwabbit.Workspace(f"-t -i {model} -d {args.vw_test} -p {preds} --link logistic --quiet")
    ws.run_parser()
    ws.finish()
    test_s = time.perf_counter() - t0
    np.save(Path(args.workdir) / "pred_vw.npy", np.loadtxt(preds, usecols=0))
    return {
        "system": "vowpalwabbit", "train_rows": n, "train_seconds": train_s, "train_rows_per_s": n / train_s,
        "train_cpu_seconds": train_cpu,
        "progressive_log_loss": prog, "test_seconds": test_s, "peak_rss_mb": peak_mb(), "options": opts,
    }


# ---------------------------------------------------------------------------- driver
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", help="Criteo-layout training TSV (default: generated)")
    ap.add_argument("--test", help="Criteo-layout test TSV (with --train)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--test-rows", type=int, default=250_000)
    ap.add_argument("--quick", action="store_true", help="100,000 + 25,000 generated rows")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bits", type=int, default=22)
    ap.add_argument("--alpha", type=float, default=0.2, help="FTRL alpha")
    ap.add_argument("--l1", type=float, default=0.1)
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (VW learns on one)")
    ap.add_argument("--prefetch", choices=["thread", "process", "none"], default="thread",
                    help="parse + hash ahead in a thread, a forked process, or inline")
    ap.add_argument("--plan-ahead", choices=["auto", "thread", "inline"], default="auto",
                    help="the learner's distinct-rows helper thread: when a core is free (the model's default), always, never")
    ap.add_argument("--cache-passes", type=int, default=2)
    ap.add_argument("--stream-rows", type=int, default=16384,
                    help="rows per parsed + hashed batch (memory: a few of them are in flight)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per system (alternating); the median is shown")
    ap.add_argument("--vw-args", default="", help="extra VW options, e.g. '--l1 1e-8'")
    ap.add_argument("--workdir", default=os.environ.get("TMPDIR", "/tmp") + "/logitkit_ctr_bench")
    ap.add_argument("--system", choices=["logitkit", "vw"], help=argparse.SUPPRESS)
    ap.add_argument("--vw-train", help=argparse.SUPPRESS)
    ap.add_argument("--vw-test", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.rows, args.test_rows = 100_000, 25_000
    if args.system:
        print(json.dumps(run_logitkit(args) if args.system == "logitkit" else run_vw(args)))
        return
    if bool(args.train) != bool(args.test):
        ap.error("--train and --test go together")
    train, test, vw_train, vw_test, info = prepare(args)
    from logitkit.loaddata.criteo import stream_criteo
    from sklearn.metrics import log_loss, roc_auc_score

    y = np.concatenate([b.column("label").to_numpy() for b in stream_criteo(test)]).astype(np.float64)
    base = [sys.executable, __file__, "--train", str(train), "--test", str(test), "--vw-train", str(vw_train),
            "--vw-test", str(vw_test), "--workdir", args.workdir, "--bits", str(args.bits), "--threads", str(args.threads),
            "--alpha", str(args.alpha), "--l1", str(args.l1), "--l2", str(args.l2), "--batch-size", str(args.batch_size),
            "--cache-passes", str(args.cache_passes), "--stream-rows", str(args.stream_rows), "--vw-args", args.vw_args, "--prefetch", args.prefetch,
            "--plan-ahead", args.plan_ahead]
    runs: dict[str, list[dict]] = {"logitkit": [], "vw": []}
    for _ in range(args.repeat):  # alternate, so both see the same (shared) machine
        for system in ("logitkit", "vw"):
            proc = subprocess.run(base + ["--system", system], capture_output=True, text=True, cwd=ROOT)
            if proc.returncode:
                sys.exit(f"{system} failed:\n{proc.stderr}")
            runs[system].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    results = {}
    for system, rs in runs.items():
        speeds = [r["train_rows_per_s"] for r in rs]
        r = rs[int(np.argsort(speeds)[len(speeds) // 2])]  # the median run
        r["train_rows_per_s_runs"] = speeds
        p = np.clip(np.load(Path(args.workdir) / f"pred_{system}.npy"), 1e-15, 1 - 1e-15)
        r["test_log_loss"] = log_loss(y, p, labels=[0, 1])
        r["test_auc"] = roc_auc_score(y, p)
        r.update(info)
        results[system] = r
        print(json.dumps(r))
    lk, vw = results["logitkit"], results["vw"]
    bw = memory_bandwidth()
    cores = len(os.sched_getaffinity(0))

    def idle(r: dict, prefix: str) -> float:  # the least wall a phase can take on `cores` idle cores
        return max(r[prefix + "main_thread_cpu_seconds"], r[prefix + "cpu_seconds"] / cores)

    first_idle, cache_idle = idle(lk, "cache_writing_pass_"), idle(lk, "cache_pass_")
    lk_runs = runs["logitkit"]
    speedups = {  # per run: the cache speed-up by the wall clock, by CPU, on idle cores
        "wall": [r["cache_writing_pass_seconds"] / r["cache_pass_seconds"] for r in lk_runs],
        "cpu": [r["cache_writing_pass_cpu_seconds"] / r["cache_pass_cpu_seconds"] for r in lk_runs],
        "idle_cores": [idle(r, "cache_writing_pass_") / idle(r, "cache_pass_") for r in lk_runs],
    }
    summary = {
        "summary": "logitkit / vw",
        "train_throughput_ratio": lk["train_rows_per_s"] / vw["train_rows_per_s"],
        "train_throughput_ratio_runs": [a / b for a, b in zip(lk["train_rows_per_s_runs"], vw["train_rows_per_s_runs"])],
        "train_cpu_ratio_vw_over_logitkit": vw["train_cpu_seconds"] / lk["train_cpu_seconds"],
        "test_log_loss_diff": lk["test_log_loss"] - vw["test_log_loss"],
        "test_auc_diff": lk["test_auc"] - vw["test_auc"],
        "first_pass_over_cache_pass": lk["cache_writing_pass_seconds"] / lk["cache_pass_seconds"],
        "first_pass_over_cache_pass_cpu": lk["cache_writing_pass_cpu_seconds"] / lk["cache_pass_cpu_seconds"],
        "first_pass_over_cache_pass_idle_cores": first_idle / cache_idle,
        "first_pass_over_cache_pass_runs": speedups,
        "compared_pass_over_cache_pass": lk["train_seconds"] / lk["cache_pass_seconds"],
        "memory_read_bandwidth_GBps": bw / 1e9,
        "cache_pass_bound_seconds": lk["cache_bytes"] / bw,
        "cache_read_only_seconds": lk["cache_read_only_seconds"],
        "cache_pass_passes_per_s": 1 / lk["cache_pass_seconds"],
        "bound_passes_per_s": bw / lk["cache_bytes"],
        "peak_rss_mb": {"logitkit": lk["peak_rss_mb"], "vw": vw["peak_rss_mb"]},
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(summary))
    n = lk["train_rows"]
    print(f"# training: logitkit {lk['train_rows_per_s']:,.0f} rows/s ({lk['train_cpu_seconds']:.2f} CPU-s), "
          f"VW {vw['train_rows_per_s']:,.0f} rows/s ({vw['train_cpu_seconds']:.2f} CPU-s); test log loss "
          f"{lk['test_log_loss']:.4f} vs {vw['test_log_loss']:.4f}, AUC {lk['test_auc']:.4f} vs {vw['test_auc']:.4f}")
    print(f"# cache: first pass (parse + hash + learn + write) {lk['cache_writing_pass_seconds']:.2f} s wall, "
          f"{lk['cache_writing_pass_cpu_seconds']:.2f} CPU-s ({lk['cache_writing_pass_main_thread_cpu_seconds']:.2f} in the "
          f"learner's thread); a pass over the cache {lk['cache_pass_seconds']:.2f} s wall, "
          f"{lk['cache_pass_cpu_seconds']:.2f} CPU-s ({lk['cache_pass_main_thread_cpu_seconds']:.2f} in the learner's thread)")
    print(f"# cache speed-up: {summary['first_pass_over_cache_pass']:.2f}x wall, "
          f"{summary['first_pass_over_cache_pass_cpu']:.2f}x CPU, {summary['first_pass_over_cache_pass_idle_cores']:.2f}x "
          f"on {cores} idle cores (each pass's least wall: max(learner thread, all CPU / {cores}) = "
          f"{first_idle:.2f} s / {cache_idle:.2f} s); load average {summary['load_average']:.1f}")
    if len(lk_runs) > 1:
        print("# cache speed-up per run: " + "; ".join(
            f"{k} " + ", ".join(f"{v:.2f}x" for v in vs) for k, vs in speedups.items()))
    print(f"# bandwidth bound of a cached pass: {lk['cache_bytes'] / 1e6:.0f} MB of cache (indices, labels, row plans) at "
          f"{bw / 1e9:.1f} GB/s = {summary['cache_pass_bound_seconds']:.3f} s ({n / summary['cache_pass_bound_seconds']:,.0f} rows/s); "
          f"reading the cache alone took {lk['cache_read_only_seconds']:.3f} s, learning from it "
          f"{lk['cache_pass_seconds']:.2f} s: the sparse updates bound it, not memory bandwidth")
    print(f"# peak RSS: logitkit {lk['peak_rss_mb']:.0f} MB = {lk['baseline_rss_mb']:.0f} MB after imports "
          f"(interpreter, torch, scikit-learn, pyarrow) + {lk['peak_rss_mb'] - lk['baseline_rss_mb']:.0f} MB of data "
          f"(table + slots {lk['table_mb']:.0f} MB, batches of {lk['stream_batch_rows']:,} rows in flight); VW {vw['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
