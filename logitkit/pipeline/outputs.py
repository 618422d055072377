"""What a run writes for people, on rank 0: ``coefficients.csv``, ``tables/*.csv``,
``plots/*.png`` (the standard set of ``interpret.figures`` plus the data and tuning
plots the config asks for), ``graph.dot``/``graph.svg`` and ``report.html``.

Everything here works from what rank 0 holds after the gathers: every row's label and
predicted probabilities, the prevalence feature's values, the first training rows.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa

from logitkit._util.errors import ConfigError
from logitkit.evaluate.inference import COLUMNS
from logitkit.interpret import graph, plots, prediction_plots, render_graph, write_report
from logitkit.interpret.model_plots import cv_curve_plot
from logitkit.interpret.tables import grouped_prevalence
from logitkit.pipeline import toolkit
from logitkit.pipeline.config import Config
from logitkit.pipeline.record import write_json


def write_coefficients(path: Path, rows: list[dict], cov_type: str = "none") -> None:
    """``coefficients.csv``: one row per term, the inference columns empty where None
    (an aliased term, or no inference), and ``cov_type``: the covariance the standard
    errors are from ("none" where there are none)."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS + ["cov_type"])
        w.writeheader()
        for r in rows:
            cells = {k: (repr(float(r[k])) if k != "term" and r.get(k) is not None else r.get(k, "")) for k in COLUMNS}
            w.writerow({**cells, "cov_type": cov_type if r.get("std_err") is not None else "none"})


def interpret(cfg: Config, work: Path, model, label: str, preds: dict, prevalence, first_rows, summary, names,
              record) -> None:
    """Tables and plots: ``preds`` are the gathered ``{split: (y, proba)}``, ``prevalence``
    the gathered (feature, label) of the training rows, ``first_rows`` the first training
    rows ``(Z, y)`` for the computational graph."""
    it = cfg.interpret
    tables = work / "tables"
    binary = len(model.classes_) == 2
    if it.prevalence is not None:
        x, y_train = prevalence
        y01 = (np.asarray(y_train) == model.classes_[-1]).astype(float)
        rows = grouped_prevalence(x, y01, np.asarray(it.prevalence.edges))
        _write_rows(tables / "prevalence.csv", rows)
        record["prevalence"] = rows
        if it.plots:
            plots.dot_plot(x, y01, work / "plots" / "dot_plot.png", xlabel=it.prevalence.feature,
                           ylabel=str(label), title=f"Dot plot: {label} by {it.prevalence.feature}")
            if len(names) == 1 and binary:
                plots.prevalence_plot(x, y01, np.asarray(it.prevalence.edges), _profile_fn(model, names),
                                      work / "plots" / "prevalence_sigmoid.png", xlabel=it.prevalence.feature,
                                      ylabel=f"P({label} = 1)")
    if it.profile is not None:
        if it.profile.feature not in names or len(names) != 1:
            raise ConfigError(f"interpret.profile.feature: {it.profile.feature!r} must be the model's only "
                              f"feature (features are {names})")
        p = _profile_fn(model, names)(np.asarray(it.profile.values, dtype=float))
        rows = [{it.profile.feature: v, "probability": float(q)} for v, q in zip(it.profile.values, p)]
        rows = toolkit.with_intervals(summary, names[0], rows)
        _write_rows(tables / "profile.csv", rows)
        record["profile"] = rows
    if it.plots:
        split = "test" if "test" in preds else "train"
        y, proba = preds[split]
        prediction_plots(y, proba, model.classes_, work / "plots", loss_curve=getattr(model, "loss_curve_", None),
                         validation_loss=getattr(model, "validation_loss_curve_", None),
                         best_iteration=getattr(model, "best_iteration_", None),
                         coefficients=summary.rows if summary is not None else None, split=split)
        tuning = record.get("tuning")
        if tuning and len(tuning.get("l1_ratios") or [None]) <= 1:  # a curve over alpha alone
            scores = np.asarray(tuning["cv_scores"], dtype=float).reshape(len(tuning["cv_scores"]), -1)
            cv_curve_plot(tuning["alphas"], scores.mean(0), work / "plots" / "cv_curve.png", std_score=scores.std(0),
                          best_alpha=tuning["alpha"], score_name=tuning["scoring"])
    if it.graph:
        Z, y = first_rows
        k = min(len(Z), 8)
        dot = graph(model, Z[:k], np.searchsorted(model.classes_, y[:k]))
        (work / "graph.dot").write_text(dot)
        render_graph(dot, work / "graph.svg")


def _profile_fn(model, names):
    return lambda v: model.predict_proba(pa.table({names[0]: pa.array(np.asarray(v, dtype=float))}))[:, -1]


def report(work: Path, record: dict) -> None:
    """``report.html`` from the run directory, with the record as it stands."""
    write_json(work / "record.json", record)
    write_report(work)


def _write_rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
