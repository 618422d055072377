"""``write_report``: one self-contained ``report.html`` for a run directory.

Everything the page shows is inside the file: images are base64 ``data:`` URIs, the
CSS is inline, and there is no script, font or link to fetch, so it opens offline, in
a mail attachment or on a phone. The page is rendered with the jinja2 template
``templates/report.html`` shipped in the package (autoescaped).
"""
from __future__ import annotations

import base64
import csv
import json
import logging
import tempfile
from importlib import resources
from pathlib import Path

import jinja2

from logitkit._util.errors import InputFileError

log = logging.getLogger("logitkit.interpret")

COEF_COLUMNS = ["term", "coef", "std_err", "z", "p_value", "ci_low", "ci_high",
                "odds_ratio", "odds_ratio_ci_low", "odds_ratio_ci_high"]
# the story of a run: the data, the fit, how good it is, what it learned, how it was tuned
PLOT_ORDER = ("dot", "prevalence", "logit", "roc", "pr", "calibration", "confusion", "odds",
              "loss", "path", "cv", "decision", "boundary", "region")
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def data_uri(path: Path) -> str:
    """The file as a ``data:<mime>;base64,...`` URI."""
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def fmt(value) -> str:
    """Numbers to 4 significant digits (p-values in scientific notation when tiny)."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "–"
        return f"{value:.3e}" if value != 0 and abs(value) < 1e-3 else f"{value:.4g}"
    if isinstance(value, str):
        try:
            return fmt(int(value)) if value.strip().lstrip("-").isdigit() else fmt(float(value))
        except ValueError:
            return value
    return json.dumps(value, default=str)


def _read_csv(path: Path) -> dict:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return {"name": path.stem, "header": [], "rows": []}
    return {"name": path.stem, "header": rows[0], "rows": [[fmt(c) for c in r] for r in rows[1:]]}


def _kv(d) -> list[tuple[str, str]]:
    """A dict as (key, text) rows; nested values as compact JSON."""
    if not isinstance(d, dict):
        return [("value", fmt(d))] if d not in (None, "", [], {}) else []
    return [(str(k), fmt(v) if not isinstance(v, (dict, list)) else json.dumps(v, default=str)) for k, v in d.items()]


def _metrics(metrics: dict) -> dict:
    """{split: {name: value}} as a table: one row per metric, one column per split."""
    splits = list(metrics or {})
    names: list[str] = []
    for s in splits:
        for n in (metrics[s] or {}):
            if n not in names:
                names.append(n)
    return {"splits": splits, "rows": [[n] + [fmt((metrics[s] or {}).get(n)) for s in splits] for n in names]}


def _load_record(run_dir: Path) -> dict:
    path = run_dir / "record.json"
    if not path.is_file():
        raise InputFileError(f"{path}: the run record is missing; write_report reads it. Run the "
                             "pipeline into this directory first (logitkit run CONFIG)")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}); "
                             "rerun the pipeline to rewrite it") from exc
    if not isinstance(record, dict):
        raise InputFileError(f"{path}: expected a JSON object with run_id, metrics, ...; got {type(record).__name__}")
    return record


def _graph(run_dir: Path) -> dict | None:
    for name in ("graph.svg", "graph.png"):
        if (run_dir / name).is_file():
            dot = run_dir / "graph.dot"
            return {"src": data_uri(run_dir / name), "dot": dot.read_text() if dot.is_file() else None}
    dot = run_dir / "graph.dot"
    if not dot.is_file():
        return None
    from logitkit.interpret.autograd_graph import render_graph

    text = dot.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            src = data_uri(render_graph(text, Path(tmp) / "graph.png"))
        except Exception as exc:  # a broken DOT file should not cost the whole report
            log.warning("could not render %s: %s", dot, exc)
            src = None
    return {"src": src, "dot": text}


def _plot_rank(path: Path) -> tuple[int, str]:
    stem = path.stem.lower()
    for i, key in enumerate(PLOT_ORDER):
        if stem == key or stem.startswith(key + "_") or stem.startswith(key + "-") or stem.endswith("_" + key):
            return i, stem
    return len(PLOT_ORDER), stem


_TITLES = {"roc": "ROC curve", "pr": "Precision-recall curve", "cv": "Cross-validation curve",
           "dot_plot": "Dot plot", "prevalence_sigmoid": "Prevalence and fitted sigmoid",
           "loss_progressive": "Progressive log loss by rows seen", "loss_passes": "Log loss per pass",
           "calibration": "Reliability (calibration)"}


def _title(stem: str) -> str:
    if stem.lower() in _TITLES:
        return _TITLES[stem.lower()]
    return stem.replace("_", " ").replace("-", " ").strip().capitalize()


def _sources(data) -> list[list[tuple[str, str]]]:
    """The record's data entries ({split: {files, format, ...}}; older: {"fingerprints": ...})
    as key-value rows, one list per source."""
    if not isinstance(data, dict):
        return []
    fps = data.get("fingerprints")
    if fps is not None:
        return [_kv(f) for f in fps] if isinstance(fps, list) else [_kv(fps)]
    out = []
    for split, entry in data.items():
        if split == "summary" or not isinstance(entry, dict):
            continue
        files = entry.get("files") if isinstance(entry.get("files"), dict) else {}
        rows = [("split", split)] + [("file", f"{name} (sha256 {digest})") for name, digest in files.items()]
        out.append(rows + [r for r in _kv({k: v for k, v in entry.items() if k != "files"})])
    return out


def _ctr(record: dict) -> dict | None:
    """The CTR run's tables: passes and rows/s, top weights with their tokens, collisions, cache."""
    ctr = record.get("ctr")
    if not isinstance(ctr, dict):
        return None
    passes = []
    losses, holdout = ctr.get("pass_losses") or [], ctr.get("holdout_losses") or []
    through = ctr.get("throughput") or {}
    for i, p in enumerate(through.get("train") or []):
        passes.append(["train", p.get("pass"), p.get("read"), fmt(p.get("rows")), fmt(p.get("seconds")),
                       fmt(p.get("rows_per_s")), fmt(losses[i]) if i < len(losses) else "",
                       fmt(holdout[i]) if i < len(holdout) else ""])
    for split in ("holdout", "test"):
        for p in through.get(split) or []:
            passes.append([split, p.get("pass"), p.get("read"), fmt(p.get("rows")), fmt(p.get("seconds")),
                           fmt(p.get("rows_per_s")), "", ""])
    top = [[str(i + 1), str(t.get("bucket")), fmt(t.get("weight")),
            ", ".join(f"{tok} ({n})" for tok, n in (t.get("tokens") or [])[:3]) or "(tokens too rare for the sketch)"]
           for i, t in enumerate(ctr.get("top_weights") or [])]
    cache = ctr.get("cache")
    return {"summary": _kv({"progressive log loss (pass 1)": ctr.get("progressive_log_loss"),
                            "passes": len(losses), "hasher": ctr.get("hasher")}),
            "passes": passes, "top_weights": top, "collisions": _kv(ctr.get("collisions")),
            "cache": _kv(cache) if cache else [("cache", "none written (one pass reads the file once)")]}


def write_report(run_dir: Path) -> Path:
    """Build ``run_dir/report.html`` from what the run directory holds and return its path.

    Reads ``record.json`` (required: run_id, created, seed, environment, data,
    metrics {split: {name: value}}, timings, warnings, optional model_stats and cv),
    and when present ``config.yaml``, ``coefficients.csv``, ``marginal_effects.csv``, ``plots/*.png|svg``,
    ``graph.svg|png|dot`` and ``tables/*.csv``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(f"{run_dir}: no such run directory; pass the directory the pipeline wrote "
                             "(runs/<run-id>)")
    record = _load_record(run_dir)
    cfg = run_dir / "config.yaml"
    coef = run_dir / "coefficients.csv"
    plots = [p for p in (run_dir / "plots").glob("*") if p.suffix.lower() in _MIME] if (run_dir / "plots").is_dir() else []
    plots.sort(key=_plot_rank)
    tables = sorted((run_dir / "tables").glob("*.csv")) if (run_dir / "tables").is_dir() else []
    data = record.get("data") or {}
    context = {
        "run_id": record.get("run_id", run_dir.name),
        "created": record.get("created", ""),
        "seed": record.get("seed", ""),
        "config": cfg.read_text(encoding="utf-8") if cfg.is_file() else None,
        "fingerprints": _sources(data),
        "data_summary": _kv(data.get("summary")) if isinstance(data, dict) else [],
        "metrics": _metrics(record.get("metrics") or {}),
        "coefficients": _read_csv(coef) if coef.is_file() else None,
        "marginal_effects": _read_csv(run_dir / "marginal_effects.csv") if (run_dir / "marginal_effects.csv").is_file() else None,
        "plots": [{"title": _title(p.stem), "name": p.name, "src": data_uri(p)} for p in plots],
        "graph": _graph(run_dir),
        "tables": [_read_csv(t) for t in tables],
        "model_stats": _kv(record.get("model_stats")),
        "cv": _kv(record.get("cv")),
        "timings": _kv(record.get("timings")),
        "warnings": [str(w) for w in (record.get("warnings") or [])],
        "environment": _kv(record.get("environment")),
        "record_json": json.dumps(record, indent=2, default=str),
        "ctr": _ctr(record),
    }
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(resources.files("logitkit.interpret").joinpath("templates/report.html").read_text("utf-8"))
    out = run_dir / "report.html"
    out.write_text(template.render(**context), encoding="utf-8")
    return out
