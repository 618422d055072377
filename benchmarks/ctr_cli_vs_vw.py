"""CTR through the front door: the whole ``logitkit run configs/ctr.yaml`` command against
Vowpal Wabbit's training and test commands, each a separate process timed from outside.

    .venv/bin/python benchmarks/ctr_cli_vs_vw.py              # 1,000,000 + 250,000 generated rows
    .venv/bin/python benchmarks/ctr_cli_vs_vw.py --quick      # 100,000 + 25,000
    .venv/bin/python benchmarks/ctr_cli_vs_vw.py --repeat 5 --load 2

logitkit: ``logitkit run configs/ctr.yaml --set data.path=TRAIN --set data.test_path=TEST
--out DIR --force`` (start-up, parse, hash, learn, score the test file, write the run
directory, the model and the report). Vowpal Wabbit (its Python package's command,
``python -m vowpalwabbit``, as ``vw``): ``-d TRAIN.vw -f model -b 22 --loss_function
logistic --quiet``, then ``-t -i model -d TEST.vw -p preds --link logistic --quiet``; its
text files are written beforehand from the same rows (same ``field=value`` tokens as
logitkit hashes; not timed). The generated files are one table cut in two
(``make_ctr(train + test rows, seed)``: the test rows follow the same true model).

Each system's wall clock is taken around its processes (VW: the sum of its two), the
peak resident memory as the largest sum of the process tree's resident sets, sampled
every 10 ms (and the kernel's own peak of the largest process, ``ru_maxrss``). The runs
alternate (``--repeat``), so both see the same machine; the median is shown. Log loss
and AUC of both are computed by scikit-learn from each system's test predictions
(logitkit's: ``logitkit predict`` of its run on the test file, not timed; equal to its
run's own test scores), and the run's own streamed metrics are shown too.

``--load N`` repeats the comparison with N busy processes competing for the cores (the
threads check: logitkit picks one intra-op thread for the CTR kernels itself), and
adds logitkit with ``OMP_NUM_THREADS`` set to the number of cores, the setting a user
could have forced. Printed: one JSON line per measured configuration, then readable
lines starting with ``#``: both walls, the ratio, each stage's share of logitkit's
wall (from its record: start-up and finishing are the rest), both peak memories.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def tree_rss_kb(pid: int) -> int:
    """Summed VmRSS (kB) of ``pid`` and its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
    return total


def timed(cmd: list[str], env: dict | None = None) -> dict:
    """Run ``cmd``; its wall seconds, the peak summed RSS of its tree (MB) and ru_maxrss (MB)."""
    peak = [0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_kb(proc.pid))
            time.sleep(0.01)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err}")
    return {"wall": wall, "peak_tree_mb": peak[0] / 1024, "maxrss_mb": usage.ru_maxrss / 1024,
            "cpu": usage.ru_utime + usage.ru_stime, "stdout": out, "stderr": err}


def prepare(args) -> tuple[Path, Path, Path, Path]:
    """A train and a test file cut from one generated table, and their VW-text twins."""
    from logitkit.loaddata.criteo import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS, load_criteo, write_criteo
    from logitkit.loaddata.synthetic import make_ctr
    from logitkit.loaddata.vw import write_vw

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    tag = f"{args.rows}_{args.test_rows}_s{args.seed}"
    train, test = work / f"train_{tag}.tsv", work / f"test_{tag}.tsv"
    if not (train.exists() and test.exists()):
        table, _ = make_ctr(args.rows + args.test_rows, seed=args.seed)
        write_criteo(table.data.slice(0, args.rows), train)
        write_criteo(table.data.slice(args.rows), test)
    ns = {"n": NUMERIC_COLUMNS, "c": CATEGORICAL_COLUMNS}
    out = []
    for src in (train, test):
        dst = work / (src.stem + ".vw")
        if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime:
            write_vw(load_criteo(src), dst, namespaces=ns, numeric="log_bucket")
        out.append(dst)
    return train, test, out[0], out[1]


def run_logitkit(train: Path, test: Path, out: Path, env: dict | None = None) -> dict:
    cmd = [str(Path(sys.executable).with_name("logitkit")), "run", "configs/ctr.yaml", "--set", f"data.path={train}",
           "--set", f"data.test_path={test}", "--out", str(out), "--force"]
    r = timed(cmd, env)
    run_dir = Path(r["stdout"].strip().splitlines()[-1])
    record = json.loads((run_dir / "record.json").read_text())
    r.update(run_dir=str(run_dir), timings=record["timings"], metrics=record["metrics"],
             threads=record["environment"]["torch_threads"])
    return r


def run_vw(vw_train: Path, vw_test: Path, work: Path) -> dict:
    vw = [sys.executable, "-m", "vowpalwabbit"]
    model, preds = work / "vw.model", work / "vw_preds.txt"
    a = timed(vw + ["-d", str(vw_train), "-f", str(model), "-b", "22", "--loss_function", "logistic", "--quiet"])
    b = timed(vw + ["-t", "-i", str(model), "-d", str(vw_test), "-p", str(preds), "--link", "logistic", "--quiet"])
    return {"wall": a["wall"] + b["wall"], "train_wall": a["wall"], "test_wall": b["wall"], "cpu": a["cpu"] + b["cpu"],
            "peak_tree_mb": max(a["peak_tree_mb"], b["peak_tree_mb"]), "maxrss_mb": max(a["maxrss_mb"], b["maxrss_mb"]),
            "preds": str(preds)}


def busy(n: int) -> list[subprocess.Popen]:
    """n processes that keep a core busy each (a competing load)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def quality(test: Path, p: np.ndarray) -> dict:
    from sklearn.metrics import log_loss, roc_auc_score

    from logitkit.loaddata.criteo import stream_criteo

    y = np.concatenate([b.column("label").to_numpy() for b in stream_criteo(test)]).astype(np.float64)
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return {"test_log_loss": float(log_loss(y, p, labels=[0, 1])), "test_auc": float(roc_auc_score(y, p))}


def compare(args, train, test, vw_train, vw_test, work: Path, load: int) -> dict:
    """Alternating runs of both systems (and, under load, logitkit with all cores' threads)."""
    procs = busy(load)
    try:
        runs: dict[str, list[dict]] = {"logitkit": [], "vw": []}
        if load:
            runs["logitkit_omp_all_cores"] = []
        for _ in range(args.repeat):
            runs["logitkit"].append(run_logitkit(train, test, work / "runs"))
            runs["vw"].append(run_vw(vw_train, vw_test, work))
            if load:
                env = {"OMP_NUM_THREADS": str(len(os.sched_getaffinity(0)))}
                runs["logitkit_omp_all_cores"].append(run_logitkit(train, test, work / "runs_omp", env))
    finally:
        for p in procs:
            p.kill()
    return {name: sorted(rs, key=lambda r: r["wall"])[len(rs) // 2] | {"walls": [r["wall"] for r in rs]}
            for name, rs in runs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--test-rows", type=int, default=250_000)
    ap.add_argument("--quick", action="store_true", help="100,000 + 25,000 rows")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs of each system; the median is shown")
    ap.add_argument("--load", type=int, default=0, help="also compare with N busy processes competing for the cores")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "logitkit_ctr_cli_bench"))
    args = ap.parse_args()
    if args.quick:
        args.rows, args.test_rows = 100_000, 25_000
    train, test, vw_train, vw_test = prepare(args)
    work = Path(args.workdir)
    results = {"idle": compare(args, train, test, vw_train, vw_test, work, 0)}
    if args.load:
        results[f"load {args.load}"] = compare(args, train, test, vw_train, vw_test, work, args.load)
    idle = results["idle"]
    lk, vw = idle["logitkit"], idle["vw"]
    scores = work / "scores.csv"
    subprocess.run([str(Path(sys.executable).with_name("logitkit")), "predict", lk["run_dir"], str(test), "-o",
                    str(scores), "--force", "--quiet"], cwd=ROOT, check=True, capture_output=True)
    import pyarrow.csv as pacsv

    q_lk = quality(test, pacsv.read_csv(scores).column("p_1").to_numpy())
    q_vw = quality(test, np.loadtxt(vw["preds"], usecols=0))
    for cond, res in results.items():
        for name, r in res.items():
            print(json.dumps({"condition": cond, "system": name, **{k: v for k, v in r.items()
                                                                      if k not in ("stdout", "stderr")}}))
    print(json.dumps({"quality": {"logitkit": q_lk, "vw": q_vw}, "load_average": os.getloadavg()[0]}))
    n = args.rows
    print(f"# {n:,} train + {args.test_rows:,} test rows, {len(os.sched_getaffinity(0))} cores, "
          f"load average {os.getloadavg()[0]:.1f}, median of {args.repeat} alternating runs")
    for cond, res in results.items():
        a, b = res["logitkit"], res["vw"]
        print(f"# {cond}: logitkit run {a['wall']:.2f} s (runs {', '.join(f'{w:.2f}' for w in a['walls'])}; "
              f"{a['threads']} torch thread), VW train + test {b['wall']:.2f} s ({b['train_wall']:.2f} + "
              f"{b['test_wall']:.2f}; runs {', '.join(f'{w:.2f}' for w in b['walls'])}): "
              f"VW / logitkit = {b['wall'] / a['wall']:.2f}x")
        if "logitkit_omp_all_cores" in res:
            c = res["logitkit_omp_all_cores"]
            print(f"#   logitkit with OMP_NUM_THREADS={len(os.sched_getaffinity(0))}: {c['wall']:.2f} s "
                  f"({c['wall'] / a['wall']:.2f}x the run with the thread count it picks)")
    t = lk["timings"]
    rest = lk["wall"] - sum(t.values())
    shares = ", ".join(f"{k} {v:.2f} s ({100 * v / lk['wall']:.0f}%)" for k, v in t.items())
    print(f"# logitkit stages (idle, median run): {shares}, start-up and finishing {rest:.2f} s "
          f"({100 * rest / lk['wall']:.0f}%); {n / t.get('predict', float('nan')):,.0f} training rows/s")
    print(f"# peak RSS: logitkit {lk['peak_tree_mb']:.0f} MB, "
          f"VW {vw['peak_tree_mb']:.0f} MB")
    print(f"# test log loss: logitkit {q_lk['test_log_loss']:.4f}, VW {q_vw['test_log_loss']:.4f}; "
          f"AUC: logitkit {q_lk['test_auc']:.4f}, VW {q_vw['test_auc']:.4f} (scikit-learn, from each system's "
          f"predictions; the run's streamed figures: {lk['metrics'].get('test')})")


if __name__ == "__main__":
    main()
