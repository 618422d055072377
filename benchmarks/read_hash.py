"""Read + hash a Criteo TSV into bucket indices: logitkit vs pandas + scikit-learn, and the bandwidth bound.

    .venv/bin/python benchmarks/read_hash.py            # 1,000,000 rows (generates the file once)
    .venv/bin/python benchmarks/read_hash.py --quick    # 100,000 rows, smoke run

logitkit: ``stream_criteo`` (4 MiB text chunks parsed by two serial pyarrow readers in
background threads, ahead of the consumer) + ``FeatureHasher.transform`` per batch in
the main thread -> int32 bucket indices (n, 39) (``--dtype int64`` for int64).
The CPU seconds are split into hashing (the main thread's) and parsing (the rest).
Peer: ``pandas.read_csv`` + ``sklearn.feature_extraction.FeatureHasher`` on
``field=value`` strings (run on the first ``--peer-rows`` rows; it is slow).
Bound: one pass over the file's bytes at the memory-copy bandwidth measured here.
Wall-clock figures on a shared machine are noisy, so CPU seconds are printed too.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return -1


def make_file(rows: int, path: Path) -> Path:
    from logitkit.loaddata import make_ctr, write_criteo

    if path.exists():
        return path
    t0 = time.time()
    table, _ = make_ctr(rows, seed=0, max_cardinality=100_000)
    write_criteo(table, path)
    print(f"generated {rows:,} rows -> {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.time() - t0:.1f}s")
    return path


def run_logitkit(path: Path, batch_rows: int, n_bits: int, dtype: str, parse_threads: int) -> dict:
    """{rows, wall, cpu, hash_cpu, growth_mib} of stream + hash, in a fresh child process."""
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), str(batch_rows), str(n_bits), dtype, str(parse_threads)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(path: str, batch_rows: int, n_bits: int, dtype: str, parse_threads: int) -> None:
    import json

    from logitkit.loaddata.criteo import _options
    from logitkit.loaddata.delimited import stream_delimited
    from logitkit.prepdata import FeatureHasher

    h = FeatureHasher(n_bits=n_bits)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # peak RSS := current RSS (after imports)
    rss0 = _status("VmRSS:")
    w, c, n, hc = time.perf_counter(), time.process_time(), 0, 0.0
    # stream_criteo(path, batch_rows) with the parse pool's size made explicit
    for b in stream_delimited(Path(path), batch_rows, parse_threads=parse_threads, **_options(False)):
        t0 = time.thread_time()
        n += h.transform(b, dtype=dtype).shape[0]
        hc += time.thread_time() - t0
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    growth = (_status("VmHWM:") - rss0) / 1024
    print(json.dumps({"rows": n, "wall": wall, "cpu": cpu, "hash_cpu": hc, "growth_mib": growth}))


def run_pandas_sklearn(path: Path, rows: int, n_bits: int) -> tuple[int, float, float]:
    import pandas as pd
    from sklearn.feature_extraction import FeatureHasher as SkHasher

    from logitkit.loaddata import CRITEO_COLUMNS

    w, c = time.perf_counter(), time.process_time()
    df = pd.read_csv(path, sep="\t", header=None, names=CRITEO_COLUMNS, nrows=rows, dtype=str, keep_default_na=False)
    feats = CRITEO_COLUMNS[1:]
    tokens = ([f"{f}={v}" for f, v in zip(feats, row)] for row in df[feats].itertuples(index=False, name=None))
    X = SkHasher(n_features=2**n_bits, input_type="string", alternate_sign=False).transform(tokens)
    assert X.shape[0] == len(df)
    return len(df), time.perf_counter() - w, time.process_time() - c


def memory_bandwidth() -> float:
    """Bytes/s of a large NumPy copy (read + write counted once: the bytes a pass must touch)."""
    a = np.ones(256 << 20, dtype=np.uint8)
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return a.nbytes / best


def read_bandwidth(path: Path) -> float:
    t0 = time.perf_counter()
    n = 0
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(16 << 20):
            n += len(chunk)
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1], int(argv[2]), int(argv[3]), argv[4], int(argv[5]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100,000 rows, peer on 20,000")
    ap.add_argument("--peer-rows", type=int, default=100_000)
    ap.add_argument("--batch-rows", type=int, default=65536)
    ap.add_argument("--n-bits", type=int, default=22)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dtype", choices=["int32", "int64"], default="int32",
                    help="bucket index dtype (int32: what CTRStream and its cache use)")
    ap.add_argument("--parse-threads", type=int, default=2, help="serial chunk parsers running side by side")
    ap.add_argument("--path", type=Path, default=None, help="an existing Criteo TSV to use instead")
    a = ap.parse_args(argv)
    if a.quick:
        a.rows, a.peer_rows, a.repeat = 100_000, 20_000, 1
    path = a.path or make_file(a.rows, Path(tempfile.gettempdir()) / f"logitkit_criteo_{a.rows}.tsv")
    size = path.stat().st_size
    cores = len(os.sched_getaffinity(0))
    print(f"file {path} ({size / 1e6:.0f} MB), {cores} cores, load average {os.getloadavg()[0]:.1f}")

    rbw = read_bandwidth(path)
    mbw = memory_bandwidth()
    runs = [run_logitkit(path, a.batch_rows, a.n_bits, a.dtype, a.parse_threads) for _ in range(a.repeat)]
    best = min(runs, key=lambda r: r["wall"])
    n, wall, cpu, growth = best["rows"], best["wall"], min(r["cpu"] for r in runs), best["growth_mib"]
    hash_cpu = min(r["hash_cpu"] for r in runs)
    lk = n / wall
    per_m = 1e6 / n
    walls = ", ".join(f"{r['wall']:.2f}" for r in runs)
    print(f"logitkit read+hash : {n:,} rows in {wall:.2f}s wall = {lk:,.0f} rows/s (best of {a.repeat}; "
          f"walls {walls} s)")
    print(f"  CPU per 1M rows  : {cpu * per_m:.2f} CPU-s in all threads (least of the runs) = hashing "
          f"{hash_cpu * per_m:.2f} (main thread) + parsing {(cpu - hash_cpu) * per_m:.2f} "
          f"({a.parse_threads} parser threads); {n / cpu:,.0f} rows per CPU-second; on {cores} idle cores "
          f"<= {n / max(cpu / cores, hash_cpu, (cpu - hash_cpu) / min(cores, a.parse_threads)):,.0f} rows/s")
    print(f"streaming memory   : peak RSS grew {growth:.0f} MiB while streaming a {size / 2**20:.0f} MiB file "
          f"(batches of {a.batch_rows:,} rows; grows with batch_rows, not with the file)")
    pn, pwall, pcpu = run_pandas_sklearn(path, min(a.peer_rows, n), a.n_bits)
    pk = pn / pwall
    print(f"pandas + sklearn   : {pn:,} rows in {pwall:.2f}s wall = {pk:,.0f} rows/s ({pn / pcpu:,.0f} rows per CPU-second)")
    print(f"ratio logitkit / pandas+sklearn: {lk / pk:.1f}x wall, {(n / cpu) / (pn / pcpu):.1f}x per CPU-second")
    bytes_per_row = size / n
    print(f"bounds: file read {rbw / 1e9:.2f} GB/s -> {rbw / bytes_per_row:,.0f} rows/s; memory copy "
          f"{mbw / 1e9:.2f} GB/s -> {mbw / bytes_per_row:,.0f} rows/s; logitkit reaches "
          f"{lk / (mbw / bytes_per_row):.1%} of the memory bound")
    target = 500_000
    idle = n / max(cpu / cores, hash_cpu, (cpu - hash_cpu) / min(cores, a.parse_threads))
    print(f"target {target:,} rows/s: {'met' if lk >= target else 'NOT met'} on the wall clock"
          f" (load average {os.getloadavg()[0]:.1f} on {cores} cores; other jobs share them); "
          f"the CPU seconds allow {idle:,.0f} rows/s on {cores} idle cores "
          f"({'above' if idle >= target else 'below'} the target by {abs(idle / target - 1):.0%})")


if __name__ == "__main__":
    sys.exit(main())
