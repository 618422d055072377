"""The fuzz harness: mutated files through every reader and through ``logitkit run``.

    python tests/fuzz/fuzz.py --cases 1200            # the long run (make fuzz)
    python tests/fuzz/fuzz.py --seed 0 --cli-share 0.15 --case 17   # one case again, its folder kept
    python tests/fuzz/fuzz.py --cases 50 --seed 3 --keep DIR

Every case must end in one of two ways: exit 0 with finite results (the reader's rows
agree between load and stream; a run's record is complete and its metrics finite), or
exit 2 with exactly one line on stderr, ``logitkit: error: ...``, that names the file.
Anything else is a failure: a traceback, a signal, a hang (past the time limit), memory
past the limit, noise on stderr ("Exception ignored ..."), an error of several lines or
one that does not name the file, a run that says complete with missing or non-finite
results. The count table (format x outcome, mutation x outcome) is printed as Markdown.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _cases import FORMATS, Case, make_case, write_case  # noqa: E402

OK = ("ran", "error")
FAILURES = ("traceback", "signal", "time", "hang", "memory", "noise", "bad_error", "bad_result", "other_exit")
CPU = {"read": 20, "cli": 60}  # CPU seconds per case (all threads): past it, SIGXCPU ("time")
TIMEOUT = {"read": 300.0, "cli": 600.0}  # wall clock per case, for a case that waits without computing ("hang")
MEM_MB = 6144  # address-space cap of a case's process (the zygote alone maps about 2.1 GB)
RSS_MB = 1500  # peak resident memory allowed per case (the zygote's own pages count: ~450 MB)


class Zygote:
    """One ``_zygote.py`` process: imports logitkit once, forks a child per case."""

    def __init__(self) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "_zygote.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        ready = self.proc.stdout.readline()
        if not ready:
            raise RuntimeError("the fuzz zygote did not start (see stderr above)")

    def run(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _finite(x) -> bool:
    if isinstance(x, dict):
        return all(_finite(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return all(_finite(v) for v in x)
    return not isinstance(x, float) or math.isfinite(x)


def _is_progress(line: str) -> bool:
    """A line of the CLI's progress reporter (stderr off a terminal), not an error or a warning."""
    return line.startswith("logitkit: ") and not line.startswith(("logitkit: error: ", "logitkit: warning: "))


def classify(case: Case, folder: Path, res: dict) -> tuple[str, str]:
    """(outcome, detail) of one finished case."""
    err = (folder / "err").read_text(errors="replace") if (folder / "err").exists() else ""
    if res["status"] == "hang":
        return "hang", f"killed after {res['wall']:.0f} s"
    if res["status"] == "signal":
        if res["signal"] == signal.SIGXCPU:
            return "time", f"over {CPU[case.door]} CPU seconds"
        return "signal", f"signal {res['signal']}: {err[-300:]!r}"
    if res["maxrss_mb"] > RSS_MB:
        return "memory", f"peak RSS {res['maxrss_mb']:.0f} MB > {RSS_MB} MB"
    code = res["code"]
    if "Traceback (most recent call last)" in err:
        kind = "noise" if code in (0, 2) else "traceback"
        return kind, err.strip().splitlines()[-1][:300]
    if "Exception ignored" in err or "terminate called" in err:
        return "noise", err[:300]
    if code == 2:
        # (progress lines, ``logitkit: <stage>: ...``, may come first: a case that runs a few seconds prints them)
        lines = [ln for ln in err.strip().splitlines() if not _is_progress(ln)]
        if len(lines) != 1 or not lines[0].startswith("logitkit: error: ") \
                or not err.strip().endswith(lines[0] if lines else "\0"):
            return "bad_error", f"{len(lines)} lines: {err[:300]!r}"
        if case.name not in lines[0]:
            return "bad_error", f"does not name {case.name}: {lines[0][:300]}"
        return "error", lines[0][:300]
    if code != 0:
        return "other_exit", f"exit {code}: {err[-300:]!r}"
    if case.door == "cli":
        records = list((folder / "runs").glob("*/record.json"))
        if len(records) != 1:
            return "bad_result", f"exit 0 but {len(records)} run records"
        rec = json.loads(records[0].read_text())
        if rec.get("status") != "complete":
            return "bad_result", f"status {rec.get('status')!r}"
        if not _finite(rec.get("metrics")):
            return "bad_result", f"non-finite metrics {rec.get('metrics')}"
    return "ran", ""


def run_cases(cases: list[Case], jobs: int = 2, keep: Path | None = None, progress=None) -> list[dict]:
    """Run the cases on ``jobs`` zygotes; one result dict per case, in order."""
    root = Path(tempfile.mkdtemp(prefix="logitkit-fuzz-")) if keep is None else Path(keep)
    results: list[dict | None] = [None] * len(cases)
    todo = list(range(len(cases)))
    lock = threading.Lock()

    def worker() -> None:
        z = Zygote()
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    k = todo.pop(0)
                case = cases[k]
                folder = root / f"case{case.index}"
                req = write_case(case, folder)
                req.update(timeout=TIMEOUT[case.door], cpu=CPU[case.door], mem_mb=MEM_MB)
                res = z.run(req)
                outcome, detail = classify(case, folder, res)
                results[k] = {"case": case, "outcome": outcome, "detail": detail, **res}
                if progress:
                    progress(results[k])
                if keep is None and outcome in OK:
                    shutil.rmtree(folder, ignore_errors=True)
        finally:
            z.close()

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if keep is None and all(r["outcome"] in OK for r in results):
        shutil.rmtree(root, ignore_errors=True)
    return results


def count_table(results: list[dict]) -> str:
    """Markdown tables: cases by format and door, and by mutation, against outcome."""
    cols = list(OK) + [f for f in FAILURES if any(r["outcome"] == f for r in results)]

    def table(title: str, key) -> list[str]:
        counts: dict[str, Counter] = {}
        for r in results:
            for k in key(r):
                counts.setdefault(k, Counter())[r["outcome"]] += 1
        out = [f"| {title} | cases | " + " | ".join(cols) + " |", "|---|---:|" + "---:|" * len(cols)]
        for k in sorted(counts):
            c = counts[k]
            out.append(f"| {k} | {sum(c.values())} | " + " | ".join(str(c[o]) for o in cols) + " |")
        total = Counter(r["outcome"] for r in results)
        if title == "format, door":
            out.append(f"| **all** | **{len(results)}** | " + " | ".join(f"**{total[o]}**" for o in cols) + " |")
        return out

    by_fmt = table("format, door", lambda r: [f"{r['case'].fmt}, {r['case'].door}"])
    by_mut = table("mutation", lambda r: sorted(set(r["case"].mutations)))
    return "\n".join(by_fmt + [""] + by_mut)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cases", type=int, default=1200, help="number of generated cases (default 1200)")
    ap.add_argument("--start", type=int, default=0, help="index of the first case")
    ap.add_argument("--case", type=int, action="append", help="run only this case (repeatable); keeps its folder")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    ap.add_argument("--cli-share", type=float, default=0.25, help="share of cases run through `logitkit run`")
    ap.add_argument("--log", help="write one JSON line per case (outcome, time, memory) to this file")
    ap.add_argument("--keep", help="folder for the cases' files (default: a temporary folder, removed)")
    args = ap.parse_args(argv)
    indices = args.case or list(range(args.start, args.start + args.cases))
    keep = Path(args.keep) if args.keep else (Path(tempfile.mkdtemp(prefix="logitkit-fuzz-")) if args.case else None)
    cases = [make_case(args.seed, i, args.cli_share) for i in indices]
    t0 = time.monotonic()
    done = [0]

    def progress(r: dict) -> None:
        done[0] += 1
        bad = r["outcome"] not in OK
        if bad or args.case or done[0] % 100 == 0:
            print(f"[{done[0]}/{len(cases)}] {r['case'].key}: {r['outcome']} {r['detail'][:200]}", file=sys.stderr)

    results = run_cases(cases, args.jobs, keep, progress)
    wall = time.monotonic() - t0
    print(count_table(results))
    fails = [r for r in results if r["outcome"] not in OK]
    slowest = max(results, key=lambda r: r["cpu"])
    peak = max(results, key=lambda r: r["maxrss_mb"])
    cpu = {d: sum(r["cpu"] for r in results if r["case"].door == d) for d in ("read", "cli")}
    n = {d: sum(r["case"].door == d for r in results) for d in ("read", "cli")}
    print(f"\n{len(results)} cases (seed {args.seed}, formats {', '.join(FORMATS)}) in {wall:.0f} s on {args.jobs} "
          f"jobs; {len(fails)} failures; CPU seconds per case: read {cpu['read'] / max(1, n['read']):.2f}, "
          f"cli {cpu['cli'] / max(1, n['cli']):.2f}; most CPU {slowest['cpu']:.1f} s ({slowest['case'].key}); "
          f"peak RSS {peak['maxrss_mb']:.0f} MB ({peak['case'].key})")
    if args.log:
        with open(args.log, "w") as f:
            for r in results:
                f.write(json.dumps({"key": r["case"].key, "outcome": r["outcome"], "detail": r["detail"],
                                    "wall": r["wall"], "cpu": r["cpu"], "maxrss_mb": r["maxrss_mb"]}) + "\n")
    if keep is not None:
        print(f"case folders under {keep}")
    for r in fails:
        print(f"FAIL {r['case'].key}: {r['outcome']}: {r['detail']}\n  rerun: {r['case'].rerun}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
