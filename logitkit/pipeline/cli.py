"""The ``logitkit`` command line.

    logitkit run CONFIG.yaml [--set section.key=value ...] [--out DIR] [--force]
    logitkit demo [--out DIR]
    logitkit repro RUN_DIR
    logitkit predict RUN_DIR INPUT -o OUTPUT [--force]
    logitkit serve RUN_DIR [RUN_DIR ...] [--name ALIAS=RUN_DIR] [--host H] [--port P]
    logitkit datasets

A ``UserError`` is printed as one line on stderr and the exit status is 2. The long
stages report their progress on stderr (``_util.progress``: a live line on a terminal,
a line now and then elsewhere); ``-q/--quiet`` silences it. stdout is the command's
result (for ``run``, the metrics and, last, the run directory).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from importlib import resources
from pathlib import Path

from logitkit._util import progress
from logitkit._util.errors import StoppedError, UserError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="logitkit", description="Reproducible logistic-regression pipelines on PyTorch.")
    p.add_argument("-v", "--verbose", action="store_true", help="log what each stage does to stderr")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    quiet = argparse.ArgumentParser(add_help=False)  # (also after the command: logitkit run cfg.yaml -q)
    quiet.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress on stderr (a live line on a terminal, else a line every few seconds)")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", parents=[quiet], help="run a pipeline config and write its run directory")
    r.add_argument("config", help="YAML config file")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable)")
    r.add_argument("--out", help="folder for run directories (default: run.out of the config)")
    r.add_argument("--force", action="store_true", help="replace an existing run directory of the same run id")

    d = sub.add_parser("demo", parents=[quiet], help="the lecture's heart-disease example (33 patients, age -> CD)")
    d.add_argument("--out", default="runs", help="folder for the run directory (default: runs)")

    rp = sub.add_parser("repro", parents=[quiet], help="re-run a recorded run and check it gives identical results")
    rp.add_argument("run_dir")

    pr = sub.add_parser("predict", parents=[quiet], help="score a CSV file (a hashed run: a Criteo-layout TSV) with a run's saved model")
    pr.add_argument("run_dir")
    pr.add_argument("input", help="CSV with the feature columns the model was trained on (a hashed run: Criteo TSV)")
    pr.add_argument("-o", "--output", required=True, help="CSV to write (input columns + probabilities)")
    pr.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")

    from logitkit.serve.server import add_parser as add_serve

    add_serve(sub)
    sub.add_parser("datasets", help="list the built-in data sets")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    # progress on rank 0 only (under torchrun every rank runs this command)
    shown = not args.quiet and not args.verbose and int(os.environ.get("RANK", "0")) == 0
    try:
        with progress.use(progress.for_stream(sys.stderr, quiet=not shown)):
            return _COMMANDS[args.command](args)
    except (UserError, StoppedError) as exc:  # (StoppedError: another rank of a torchrun job failed)
        print(f"logitkit: error: {exc}", file=sys.stderr)
        return 2


# Each command imports what it runs when it runs (here and below), so that `logitkit --help`,
# `datasets` or a CTR `run` start without loading what they do not use.
def _run(args) -> int:
    from logitkit.pipeline.config_load import load_config
    from logitkit.pipeline.runner import execute

    cfg = load_config(args.config, args.overrides)
    result = execute(cfg, out=args.out, force=args.force)
    progress.finish()  # (what is printed comes after the progress lines)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 reports; the others only log
        return 0
    for w in result.record.get("warnings", []):  # also in record.json and the report
        print(f"logitkit: warning: {w}", file=sys.stderr)
    for split, values in result.record.get("metrics", {}).items():
        print(f"{split:>5}: " + "  ".join(f"{k} {v:.4f}" for k, v in values.items()))
    print(result.run_dir)
    return 0


def _demo(args) -> int:
    from logitkit.interpret.tables import format_table
    from logitkit.pipeline.config_load import load_config
    from logitkit.pipeline.runner import execute

    path = resources.files("logitkit.pipeline").joinpath("configs/cd_age.yaml")
    with resources.as_file(path) as p:
        cfg = load_config(p)
    result = execute(cfg, out=args.out, force=True)
    progress.finish()
    rec = result.record
    print("Table 2: prevalence of signs of CD by age group (computed from the 33 patients)")
    print(format_table(rec["prevalence"], [("group", "Age group", "s"), ("n", "# in group", "d"),
                                           ("positive", "# diseased", "d"), ("percent", "%", ".0f")]))
    print()
    print("Maximum-likelihood fit: logit P(CD = 1 | age) = b0 + b1 * age")
    print(result.summary)
    age = next(r for r in result.summary.rows if r["term"] == "age")
    print()
    print(f"Odds ratio per year of age: {age['odds_ratio']:.4f} "
          f"(95% CI {age['odds_ratio_ci_low']:.4f} to {age['odds_ratio_ci_high']:.4f}); "
          f"per 10 years: {age['odds_ratio'] ** 10:.3f}")
    pct = f"{100 * result.summary.level:g}%"
    print(f"Fitted probability of CD ({pct} CI): " + ", ".join(
        f"age {r['age']:g}: {r['probability']:.3f} ({r['ci_low']:.3f} to {r['ci_high']:.3f})" for r in rec["profile"]))
    ame = next(r for r in rec["marginal_effects"]["effects"] if r["term"] == "age")
    print(f"Average marginal effect of a year of age on P(CD): {ame['dydx']:.4f} "
          f"({pct} CI {ame['ci_low']:.4f} to {ame['ci_high']:.4f})")
    print(f"Report: {result.run_dir / 'report.html'}")
    print(result.run_dir)
    return 0


def _repro(args) -> int:
    from logitkit.pipeline.repro import reproduce

    same, lines = reproduce(Path(args.run_dir))
    progress.finish()
    for line in lines:
        print(line)
    return 0 if same else 1


def _predict(args) -> int:
    from logitkit.pipeline.scoring import score_file

    out = score_file(Path(args.run_dir), Path(args.input), Path(args.output), force=args.force)
    progress.finish()
    print(out)
    return 0


def _serve(args) -> int:
    from logitkit.serve.server import run

    return run(args)


def _datasets(args) -> int:
    from logitkit.loaddata import describe_datasets

    rows = describe_datasets()
    w = max(len(r.name) for r in rows)
    print(f"{'name':<{w}}  {'rows':>6}  {'features':>8}  {'classes':>7}  source")
    for r in rows:
        print(f"{r.name:<{w}}  {r.n_rows:>6}  {r.n_features:>8}  {r.n_classes:>7}  {r.source}")
    return 0


_COMMANDS = {"run": _run, "demo": _demo, "repro": _repro, "predict": _predict, "serve": _serve, "datasets": _datasets}
