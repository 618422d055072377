"""The statistician's toolkit in a run: ``model.formula`` as the design, average
marginal effects (``evaluate.marginal_effects``) and intervals for the profile table.
Called from ``stages``/``runner`` with one line each."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from logitkit._util.collective import Collective
from logitkit._util.errors import ConfigError
from logitkit.pipeline.config import Config, PrepSection


def formula_prep(cfg: Config, train, coll: Collective):
    """(design, X, y, names) from ``model.formula`` on the training rows, in place of the
    prep transforms; the design is saved as the run's prep state."""
    from logitkit.formula import FormulaDesign

    m = cfg.model
    if m.kind != "logistic":
        raise ConfigError(f"model.formula is for model.kind 'logistic', not {m.kind!r}")
    if coll.is_distributed:
        raise ConfigError("model.formula is not available under torchrun (each rank would see its own levels); "
                          "run it in one process, or encode with prep.one_hot")
    changed = [k for k, v in cfg.prep.model_dump().items() if v != PrepSection().model_dump()[k]]
    if changed:
        raise ConfigError(f"prep.{changed[0]} and model.formula both build the design; with a formula write the "
                          "transform in it (np.log(x), center(x), scale(x), C(g)) and leave prep at its defaults")
    design = FormulaDesign(m.formula)
    if design.outcome is not None and design.outcome != train.label:
        raise ConfigError(f"model.formula's outcome {design.outcome!r} is not data.label {train.label!r}; write "
                          f"'{train.label} ~ ...' or '~ ...'")
    design.fit(train)
    if design.fit_intercept != m.fit_intercept:
        raise ConfigError(f"model.formula {'keeps' if design.fit_intercept else 'drops'} the intercept but "
                          f"model.fit_intercept is {m.fit_intercept}; make them agree")
    return design, design.transform(train), train.labels(), design.feature_names_


def marginal_effects(cfg: Config, summary, work: Path, record: dict) -> None:
    """Average marginal effects (dydx; a 0/1 column's as the discrete change 0 → 1;
    delta-method SEs with the summary's covariance) to
    ``marginal_effects.csv`` and the record, when ``evaluate.marginal_effects`` is set."""
    if not cfg.evaluate.marginal_effects:
        return
    if summary is None or getattr(summary, "fit", None) is None:
        raise ConfigError("evaluate.marginal_effects needs standard errors: set evaluate.inference: true and "
                          "model.penalty null or l2 (model.kind 'logistic', one process)")
    me = summary.marginal_effects(dummy=True)
    frame = me.to_frame().reset_index()
    rows = frame.to_dict(orient="records")
    with open(work / "marginal_effects.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(frame.columns))
        w.writeheader()
        for r in rows:
            w.writerow({k: (repr(float(v)) if isinstance(v, (float, np.floating)) else v) for k, v in r.items()})
    record["marginal_effects"] = {"method": me.method, "at": me.at, "dummies": me.dummies, "cov_type": summary.cov_type,
                                  "level": me.level, "effects": rows, "aliased": me.aliased}


def with_intervals(summary, feature: str, rows: list[dict]) -> list[dict]:
    """The profile rows ({feature: value, "probability": p}) with the probability's SE and
    CI (``summary.level``) added, where the summary has standard errors (binary models)."""
    if summary is None or getattr(summary, "fit", None) is None or summary.fit.link != "binary":
        return rows
    import pyarrow as pa

    pr = summary.predict(pa.table({feature: pa.array(np.asarray([r[feature] for r in rows], dtype=float))}))
    return [{**r, "std_err": float(s), "ci_low": float(lo), "ci_high": float(hi)}
            for r, s, lo, hi in zip(rows, pr.std_err, pr.ci_low, pr.ci_high)]


def firth_summary(model, level: float):
    """The coefficient table of a ``FirthLogisticRegression`` (``model.kind: firth``): its
    standard errors (√diag I(θ̂)⁻¹), its profile penalised-likelihood intervals and
    penalised likelihood-ratio p-values (as R's logistf; Wald ones with
    ``model.options.profile_ci: false``)."""
    from logitkit.evaluate.inference import COLUMNS, Summary

    rows = []
    for term, coef, se, (lo, hi), p in zip(model.terms_, model.theta_, model.bse_, model.conf_int_, model.pvalues_):
        rows.append(dict(zip(COLUMNS, [term, float(coef), float(se), float(coef / se), float(p), float(lo), float(hi),
                                       float(np.exp(coef)), float(np.exp(lo)), float(np.exp(hi))])))
    stats = {"cov_type": "nonrobust", "link": "binary", "method": "Firth (Jeffreys-prior penalised likelihood)",
             "intervals": "profile penalised likelihood" if model.profile_ci else "Wald",
             "llf": float(model.loglik_), "penalised_llf": float(model.penalised_loglik_),
             "n_params": len(rows), "converged": bool(model.converged_)}
    return Summary(rows, stats, "nonrobust", level)
