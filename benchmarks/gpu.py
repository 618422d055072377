"""logitkit on one device (a GPU by default): dense fits against the memory-bandwidth
bound, classical inference against statsmodels on the host CPU, and hashed CTR
training throughput against the same training on the host CPU, all in one run.

    python benchmarks/gpu.py                          # 1,000,000 x 100 fits, 1,000,000 x 50 inference, 1,000,000 CTR rows
    python benchmarks/gpu.py --quick --device cpu     # small sizes: a smoke run on a laptop

One JSON line per measurement (``"what"`` names it); lines starting with ``#`` sum them up.

- ``bandwidth``: a large device-to-device copy; bytes read + written per second.
- ``dense_fit``: L2 with C = 1 (alpha = 1/n), as ``benchmarks/dense_fit.py`` (its data
  generator and objective are reused). Time until the objective is within 1e-6
  (relative) of the optimum (a float64 Newton fit at tol 1e-12 on the device), for
  newton and lbfgs, with X handed over as NumPy (host-to-device copy included) and as a
  tensor already on the device; gradient passes per second of the objective against the
  bound bandwidth / bytes(X) (a pass reads X once).
- ``inference``: unpenalised float64 fit + nonrobust and HC0 standard errors on the
  device, statsmodels ``Logit`` on the host CPU; speed-up and agreement (max relative
  difference of the standard errors, which must be < 1e-6).
- ``ctr``: generated Criteo-layout rows (``make_ctr``), parsed and hashed on the CPU
  (``CTRStream``, prefetch thread), FTRL learned on the device; the same on the CPU;
  rows per second of each, the parse + hash rate alone, and the progressive log losses.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_fit import make_data as dense_data  # noqa: E402
from dense_fit import objective as dense_objective  # noqa: E402

import logitkit  # noqa: E402
from logitkit.predict.design import Design  # noqa: E402
from logitkit.predict.objective import LogisticObjective  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)


def emit(what: str, **fields) -> None:
    print(json.dumps({"what": what, **fields}, default=float), flush=True)


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def clock(dev: torch.device) -> tuple[float, float]:
    sync(dev)
    return time.perf_counter(), time.process_time()


def since(dev: torch.device, t: tuple[float, float]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) since ``t``."""
    sync(dev)
    return time.perf_counter() - t[0], time.process_time() - t[1]


# ----------------------------------------------------------------------------- bandwidth
def bandwidth(dev: torch.device, n_bytes: int, repeats: int = 5) -> float:
    """Bytes read + written per second (GB/s) of the best of ``repeats`` device-to-device copies."""
    a = torch.ones(n_bytes // 4, dtype=torch.float32, device=dev)
    b = torch.empty_like(a)
    b.copy_(a)
    best = float("inf")
    for _ in range(repeats):
        t = clock(dev)
        b.copy_(a)
        best = min(best, since(dev, t)[0])
    del a, b
    return 2 * n_bytes / best / 1e9


# ----------------------------------------------------------------------------- dense fits
def dense_case(n: int, d: int, dtype: str, dev: torch.device, bw: float) -> None:
    X, y = dense_data(n, d, np.float32 if dtype == "float32" else np.float64)
    alpha = 1.0 / n
    ref = logitkit.LogisticRegression(alpha=alpha, solver="newton", tol=1e-12, dtype="float64", device=str(dev)).fit(X, y)
    f_opt = dense_objective(X, y, ref.coef_, ref.intercept_, alpha)
    X_dev = torch.as_tensor(X, device=dev)
    results = {}
    for solver in ("newton", "lbfgs"):
        for handed in ("numpy", "device_tensor"):
            Xin = X if handed == "numpy" else X_dev
            out = None
            for tol in (1e-4, 1e-6, 1e-8, 1e-10):
                t = clock(dev)
                m = logitkit.LogisticRegression(alpha=alpha, solver=solver, tol=tol, dtype=dtype, device=str(dev)).fit(Xin, y)
                wall, cpu = since(dev, t)
                gap = (dense_objective(X, y, m.coef_, m.intercept_, alpha) - f_opt) / abs(f_opt)
                out = {"seconds": round(wall, 4), "cpu_seconds": round(cpu, 3), "tol": tol, "rel_gap": gap,
                       "n_iter": int(m.n_iter_[0]), "reached_1e-6": bool(gap <= 1e-6)}
                if gap <= 1e-6:
                    break
            results[f"{solver}/{handed}"] = out
    # gradient passes per second of the objective, X on the device in this dtype
    tdt = torch.float32 if dtype == "float32" else torch.float64
    obj = LogisticObjective(Design.from_array(X_dev, tdt, dev), torch.as_tensor(y, device=dev),
                            torch.ones(n, dtype=tdt, device=dev), "binary", 1, True, alpha, 0.0)
    theta = obj.zeros() + 0.01  # non-zero weights: a full pass (z = X w, then r' X)
    obj.smooth(theta)
    reps = 20
    t = clock(dev)
    for _ in range(reps):
        obj.smooth(theta)
    wall, _ = since(dev, t)
    passes = reps / wall
    x_bytes = n * d * torch.finfo(tdt).bits // 8
    bound = bw * 1e9 / x_bytes
    best = min((r["seconds"] for r in results.values() if r["reached_1e-6"]), default=float("nan"))
    emit("dense_fit", case=f"{n}x{d} {dtype}", device=str(dev), optimum=f_opt, results=results,
         best_seconds_to_target=best, gradient_passes_per_s=round(passes, 2),
         bandwidth_bound_passes_per_s=round(bound, 2), fraction_of_bound=round(passes / bound, 3))
    print(f"# dense {n}x{d} {dtype} on {dev}: {best:.3f} s to 1e-6; {passes:.1f} gradient passes/s = "
          f"{passes / bound:.0%} of the bandwidth bound ({bound:.1f}/s)", flush=True)
    del X_dev, obj
    if dev.type == "cuda":
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------------- inference
def inference_case(n: int, d: int, dev: torch.device) -> None:
    import statsmodels.api as sm

    from logitkit.evaluate import summary

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    w = rng.normal(0, 0.5 / np.sqrt(d), d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w - 0.5)))).astype(float)
    Xc = sm.add_constant(X, prepend=False)
    for cov in ("nonrobust", "HC0"):
        t = clock(dev)
        m = logitkit.LogisticRegression(penalty=None, solver="newton", tol=1e-8, device=str(dev)).fit(X, y)
        s = summary(m, X, y, cov_type=cov)
        ours, ours_cpu = since(dev, t)
        t0, c0 = time.perf_counter(), time.process_time()
        r = sm.Logit(y, Xc).fit(disp=0, method="newton", tol=1e-8, cov_type=cov)
        theirs, theirs_cpu = time.perf_counter() - t0, time.process_time() - c0
        se_rel = float(np.max(np.abs(s.column("std_err") / np.asarray(r.bse) - 1)))
        coef_rel = float(np.max(np.abs(s.column("coef") - np.asarray(r.params)) / np.abs(np.asarray(r.bse))))
        emit("inference", case=f"{n}x{d} float64", cov_type=cov, device=str(dev),
             logitkit_s=round(ours, 3), logitkit_cpu_s=round(ours_cpu, 3),
             statsmodels_cpu_s=round(theirs, 3), statsmodels_cpu_cpu_s=round(theirs_cpu, 3),
             speedup=round(theirs / ours, 2), max_rel_diff_std_err=se_rel,
             max_coef_diff_in_std_errs=coef_rel, agree_1e6=bool(se_rel < 1e-6))
        print(f"# inference {n}x{d} {cov}: logitkit on {dev} {ours:.2f} s, statsmodels on the CPU {theirs:.2f} s "
              f"({theirs / ours:.1f}x); std. errors agree to {se_rel:.1e}", flush=True)


# ----------------------------------------------------------------------------- CTR
def ctr_case(rows: int, dev: torch.device, n_bits: int, workdir: Path) -> None:
    from logitkit.loaddata.criteo import write_criteo
    from logitkit.loaddata.synthetic import make_ctr
    from logitkit.loaddata import CTRStream
    from logitkit.predict import HashedLogisticRegression
    from logitkit.prepdata.hashing import FeatureHasher

    path = workdir / f"ctr_{rows}.tsv"
    t0 = time.perf_counter()
    table, _ = make_ctr(rows, seed=0)
    write_criteo(table, path)
    del table
    emit("ctr_data", rows=rows, file_mb=round(path.stat().st_size / 1e6, 1), seconds=round(time.perf_counter() - t0, 2))
    hasher = FeatureHasher(n_bits=n_bits)
    # parse + hash alone: the rate any learner on this host is fed at
    t = clock(torch.device("cpu"))
    n = sum(len(b[1]) for b in CTRStream(path, hasher, batch_rows=65536, sketch_every=0))
    wall, cpu = since(torch.device("cpu"), t)
    parse_rate = round(n / wall)
    emit("ctr_parse_hash", rows=n, seconds=round(wall, 3), cpu_seconds=round(cpu, 3), rows_per_s=parse_rate)
    out = {}
    for name, where in (("device", dev), ("cpu", torch.device("cpu"))):
        if name == "cpu" and dev.type == "cpu":
            continue
        model = HashedLogisticRegression(n_bits=n_bits, optimizer="ftrl", learning_rate=0.2, l1=0.1, l2=1.0,
                                         batch_size=1024, device=str(where))
        t = clock(where)
        model.fit(CTRStream(path, hasher, batch_rows=65536))
        wall, cpu = since(where, t)
        out[name] = {"device": str(where), "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
                     "rows_per_s": round(model.n_rows_seen_ / wall), "progressive_log_loss": model.progressive_loss_}
        emit("ctr_train", rows=model.n_rows_seen_, n_bits=n_bits, **out[name])
        del model
    if "cpu" in out:
        print(f"# CTR {rows} rows: {out['device']['rows_per_s']:,} rows/s on {dev}, {out['cpu']['rows_per_s']:,} on the CPU "
              f"(parse + hash alone: {parse_rate:,} rows/s)", flush=True)
        emit("ctr_ratio", device=str(dev), device_over_cpu_rows_per_s=round(out["device"]["rows_per_s"] / out["cpu"]["rows_per_s"], 3),
             progressive_log_loss_rel_diff=abs(out["device"]["progressive_log_loss"] - out["cpu"]["progressive_log_loss"])
             / out["cpu"]["progressive_log_loss"])


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                    help="device to benchmark (default: cuda when available, else cpu)")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--only", nargs="*", choices=["dense", "inference", "ctr"], default=["dense", "inference", "ctr"],
                    help="sections to run (default: all)")
    args = ap.parse_args(argv)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("benchmarks/gpu.py: --device cuda but torch sees no GPU; use --device cpu")
    env = {"device": str(dev), "torch": torch.__version__, "cuda": torch.version.cuda, "threads": torch.get_num_threads(),
           "cpus": os.cpu_count(), "load_avg": os.getloadavg(), "quick": args.quick}
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        env.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / 2**30, 1))
    emit("environment", **env)
    t_start = time.perf_counter()
    # warm-up: CUDA context, kernels, cuSOLVER handles
    Xw, yw = dense_data(2000, 10, np.float64)
    for solver in ("newton", "lbfgs"):
        logitkit.LogisticRegression(solver=solver, device=str(dev)).fit(Xw, yw)
    from logitkit.evaluate import summary

    for cov in ("nonrobust", "HC0"):
        summary(logitkit.LogisticRegression(penalty=None, device=str(dev)).fit(Xw, yw), Xw, yw, cov_type=cov)
    bw = bandwidth(dev, (1 << 26) if args.quick else (1 << 32) if dev.type == "cuda" else (1 << 29))
    emit("bandwidth", device=str(dev), copy_GBps_read_plus_write=round(bw, 1))
    if "dense" in args.only:
        sizes = [(50_000, 20, "float32"), (50_000, 20, "float64")] if args.quick else \
            [(1_000_000, 100, "float32"), (1_000_000, 100, "float64")]
        for n, d, dtype in sizes:
            dense_case(n, d, dtype, dev, bw)
    if "inference" in args.only:
        inference_case(*((50_000, 10) if args.quick else (1_000_000, 50)), dev)
    if "ctr" in args.only:
        with tempfile.TemporaryDirectory() as tmp:
            ctr_case(30_000 if args.quick else 1_000_000, dev, 18 if args.quick else 22, Path(tmp))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    emit("done", seconds=round(time.perf_counter() - t_start, 1), cpu_seconds=round(ru.ru_utime + ru.ru_stime, 1),
         peak_rss_mb=round(ru.ru_maxrss / 1024), load_avg=os.getloadavg())


if __name__ == "__main__":
    main()
