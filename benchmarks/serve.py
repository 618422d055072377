"""``logitkit serve`` under load on 127.0.0.1, against ``logitkit predict`` on a file.

    .venv/bin/python benchmarks/serve.py [--requests 4000] [--rate 500] [--rows 200000]

Makes the demo run and a 2^22-bucket hashed run (generated Criteo-layout files), starts
``logitkit serve`` for both, then drives it with a bounded load generator (asyncio,
keep-alive HTTP/1.1 connections, requests encoded once, a fixed number of requests,
stops by itself):

1. single-row requests at a fixed rate (open loop: each request is sent at its planned
   time whatever the others do; latency counted from that time), demo and hashed model;
2. single-row requests at increasing concurrency (closed loop);
3. 100-row batch requests to the hashed model (binary tensors, as tritonclient sends).

It prints requests/s, rows/s and p50/p99 latency, then the same rows through
``logitkit predict`` on a file (the bulk baseline: the whole command's wall time, and
its rows/s) and the ratio. Client and server share the machine's cores.
Targets: single-row p99 <= 5 ms at 500 requests/s; >= 100,000 rows/s with 100-row
batches for the hashed model.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LOGITKIT = [sys.executable, "-m", "logitkit"]


def make_runs(folder: Path, n_test: int) -> tuple[Path, Path, Path]:
    """(demo run, hashed 2^22 run, its Criteo test file of n_test rows)."""
    from logitkit.loaddata.criteo import write_criteo
    from logitkit.loaddata.synthetic import make_ctr

    subprocess.run([*LOGITKIT, "demo", "--out", str(folder / "demo")], check=True, capture_output=True)
    table, _ = make_ctr(100_000 + n_test, seed=7)
    write_criteo(table.data.slice(0, 100_000), folder / "train.tsv")
    write_criteo(table.data.slice(100_000), folder / "test.tsv")
    cfg = folder / "ctr.yaml"
    cfg.write_text((ROOT / "configs" / "ctr.yaml").read_text())
    subprocess.run([*LOGITKIT, "run", str(cfg), "--out", str(folder / "ctr"), "--set", "interpret.report=false",
                    "--set", "interpret.plots=false"], check=True, capture_output=True)
    runs = [next(p for p in (folder / k).iterdir() if not p.name.startswith(".")) for k in ("demo", "ctr")]
    return runs[0], runs[1], folder / "test.tsv"


# -- requests ------------------------------------------------------------------------------
def http_request(path: str, body: bytes, headers: dict | None = None) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    for k, v in (headers or {}).items():
        head += f"{k}: {v}\r\n"
    return (head + "\r\n").encode() + body


def demo_requests(model: str, n: int, seed: int = 0) -> list[bytes]:
    ages = np.random.default_rng(seed).integers(20, 70, size=n)
    return [http_request(f"/v2/models/{model}/infer", json.dumps(
        {"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", "data": [float(a)]}]}).encode(),
        {"Content-Type": "application/json"}) for a in ages]


def binary_request(model: str, table, names_kinds) -> bytes:
    """Binary tensor request: counts as FP64 (NaN = missing), categoricals as BYTES."""
    import pyarrow as pa

    n, inputs, blobs = table.num_rows, [], []
    for name, kind in names_kinds:
        col = table.column(name)
        if kind == "count":
            raw = col.cast(pa.float64()).fill_null(float("nan")).to_numpy(zero_copy_only=False).astype("<f8").tobytes()
            dt = "FP64"
        else:
            raw = b"".join(struct.pack("<I", len(v)) + v for v in
                           (b"" if x is None else x.encode() for x in col.to_pylist()))
            dt = "BYTES"
        inputs.append({"name": name, "shape": [n], "datatype": dt, "parameters": {"binary_data_size": len(raw)}})
        blobs.append(raw)
    head = json.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}}).encode()
    return http_request(f"/v2/models/{model}/infer", head + b"".join(blobs),
                        {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": len(head)})


def hashed_requests(run_dir: Path, test: Path, rows: int, count: int) -> list[bytes]:
    import pyarrow as pa

    from logitkit.loaddata import stream_criteo
    from logitkit.pipeline.scorer import Scorer

    kinds = [(i.name, i.kind) for i in Scorer.load(run_dir).inputs]
    table = pa.Table.from_batches(list(stream_criteo(test, 65536)))
    return [binary_request("ctr", table.slice((k * rows) % (table.num_rows - rows), rows), kinds) for k in range(count)]


# -- the load generator ---------------------------------------------------------------------
class Conn:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    async def send(self, raw: bytes) -> int:
        self.writer.write(raw)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status


async def _connect(port: int) -> Conn:
    return Conn(*await asyncio.open_connection("127.0.0.1", port))


async def closed_loop(port: int, requests: list[bytes], concurrency: int) -> dict:
    """``concurrency`` connections, each sending its next request when the last one is answered."""
    conns = [await _connect(port) for _ in range(concurrency)]
    lat, bad, it = [], 0, iter(range(len(requests)))

    async def worker(c: Conn):
        nonlocal bad
        for i in it:
            t0 = time.perf_counter()
            if await c.send(requests[i]) != 200:
                bad += 1
            lat.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    wall = time.perf_counter() - t0
    for c in conns:
        c.writer.close()
    return {"wall": wall, "lat": np.array(lat), "bad": bad, "n": len(requests)}


async def open_loop(port: int, requests: list[bytes], rate: float, pool: int = 64) -> dict:
    """Request i is due at t0 + i / rate; its latency counts from then (queueing included)."""
    free: asyncio.Queue = asyncio.Queue()
    for _ in range(8):
        free.put_nowait(await _connect(port))
    opened, lat, bad = 8, [], 0
    t0 = time.perf_counter() + 0.05

    async def one(i: int):
        nonlocal opened, bad
        due = t0 + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if free.empty() and opened < pool:
            opened += 1
            free.put_nowait(await _connect(port))
        c = await free.get()
        if await c.send(requests[i]) != 200:
            bad += 1
        lat.append(time.perf_counter() - due)
        free.put_nowait(c)

    await asyncio.gather(*(one(i) for i in range(len(requests))))
    wall = time.perf_counter() - t0
    while not free.empty():
        free.get_nowait().writer.close()
    return {"wall": wall, "lat": np.array(lat), "bad": bad, "n": len(requests)}


def line(label: str, r: dict, rows_per_request: int) -> str:
    rps = r["n"] / r["wall"]
    p50, p99 = np.percentile(r["lat"], [50, 99]) * 1000
    return (f"{label:<44} {r['n']:>6} req  {rps:>8.0f} req/s  {rps * rows_per_request:>9.0f} rows/s  "
            f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  failed {r['bad']}")


def start_server(demo: Path, ctr: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([*LOGITKIT, "serve", str(demo), "--name", f"demo={demo}", "--name", f"ctr={ctr}",
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    url = proc.stdout.readline().strip()
    port = int(url.rsplit(":", 1)[1])
    import urllib.request

    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{url}/v2/health/ready", timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    return proc, port


def bulk(run_dir: Path, src: Path, out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([*LOGITKIT, "predict", str(run_dir), str(src), "-o", str(out), "--force"], check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=4000, help="requests per single-row measurement")
    ap.add_argument("--rate", type=float, default=500.0, help="open-loop rate of single-row requests")
    ap.add_argument("--rows", type=int, default=200_000, help="rows sent as 100-row batch requests")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores (shared by the load generator and the server)")
    with tempfile.TemporaryDirectory(prefix="logitkit-serve-bench-") as tmp:
        folder = Path(tmp)
        demo, ctr, test = make_runs(folder, max(args.rows, 10_000))
        print(f"runs: demo {demo.name}, hashed 2^22 {ctr.name}")
        single_demo = demo_requests("demo", args.requests)
        single_ctr = hashed_requests(ctr, test, 1, args.requests)
        batches = hashed_requests(ctr, test, 100, args.rows // 100)
        proc, port = start_server(demo, ctr)
        try:
            run = asyncio.run
            run(closed_loop(port, single_demo[:300] + single_ctr[:300] + batches[:100], 4))  # warm-up
            print(f"\n-- single-row requests, open loop at {args.rate:.0f} requests/s")
            r = run(open_loop(port, single_demo, args.rate))
            print(line("demo model (JSON)", r, 1))
            p99 = {"demo": np.percentile(r["lat"], 99) * 1000}
            r = run(open_loop(port, single_ctr, args.rate))
            print(line("hashed 2^22 model (binary, 39 inputs)", r, 1))
            p99["hashed"] = np.percentile(r["lat"], 99) * 1000
            print("\n-- single-row requests, closed loop")
            for c in (1, 4, 16, 64):
                print(line(f"demo model, concurrency {c}", run(closed_loop(port, single_demo, c)), 1))
            for c in (1, 16):
                print(line(f"hashed model, concurrency {c}", run(closed_loop(port, single_ctr, c)), 1))
            print("\n-- 100-row batch requests, hashed 2^22 model (binary)")
            best = 0.0
            for c in (4, 16):
                r = run(closed_loop(port, batches, c))
                best = max(best, r["n"] * 100 / r["wall"])
                print(line(f"concurrency {c}", r, 100))
        finally:
            proc.terminate()
            proc.wait(60)
        print("\n-- bulk baseline: logitkit predict on a file (the whole command)")
        n = len(batches) * 100
        sub = folder / "bulk.tsv"
        with open(test) as f, open(sub, "w") as g:
            for _, row in zip(range(n), f):
                g.write(row)
        wall = bulk(ctr, sub, folder / "bulk.csv")
        print(f"hashed model, {n} rows: {wall:.2f} s wall = {n / wall:,.0f} rows/s; "
              f"served 100-row batches / predict: {best / (n / wall):.2f}x")
        print(f"\ntargets: single-row p99 at {args.rate:.0f} requests/s <= 5 ms: demo {p99['demo']:.2f} ms, hashed "
              f"{p99['hashed']:.2f} ms; hashed 100-row batches >= 100,000 rows/s: {best:,.0f} rows/s "
              f"(load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        ages = folder / "ages.csv"
        ages.write_text("age\n" + "\n".join(str(a) for a in np.random.default_rng(1).integers(20, 70, n)) + "\n")
        wall = bulk(demo, ages, folder / "ages_scored.csv")
        print(f"demo model, {n} rows: {wall:.2f} s wall = {n / wall:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
