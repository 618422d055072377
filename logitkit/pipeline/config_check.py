"""Checks of a config that the schema cannot make, run when the config is read
(``config_load.load_config``) and when its data is loaded, so that a mistake costs no
fit and leaves no ``.failed`` run:

- names: every metric (``evaluate.metrics``, ``evaluate.cv.scoring``), every
  ``model.options`` key of the dense kinds, the formula (its outcome, its columns);
- what the config asks of inference: a cluster covariance needs its column, standard
  errors (a robust or cluster covariance, marginal effects) need a model that has them;
- columns, from the data file's header only (``loaddata.header``): the label, the
  feature and exclude patterns, the split's, cluster and cross-validation group columns,
  the prep patterns and ``prep.reference``'s columns, the prevalence and profile
  features;
- once the data is loaded (``check_loaded``, before the run directory exists):
  ``prep.reference``'s levels, the profile feature being the only feature.

The streamed CTR kind (``model.kind: hashed``) is checked by ``pipeline.ctr.check``.
"""
from __future__ import annotations

import fnmatch

from logitkit._util.errors import ConfigError, DataError, did_you_mean, shown, shown_list

_SE_ASKED = "asks for standard errors"


def check_config(cfg, source: str = "config") -> None:
    """Every check that needs no more than the config and the data's header."""
    if cfg.model.kind == "hashed":
        return
    _check_names(cfg, source)
    _check_inference(cfg, source)
    _check_columns(cfg, source)


def _check_names(cfg, source: str) -> None:
    from logitkit.evaluate.metrics import METRICS

    ev = cfg.evaluate
    for key, names in (("evaluate.metrics", ev.metrics), ("evaluate.cv.scoring", [ev.cv.scoring])):
        for name in names:
            if name not in METRICS:
                raise ConfigError(f"{source}: {key}: unknown metric {name!r}." + did_you_mean(name, METRICS)
                                  + f" Known metrics: {', '.join(sorted(METRICS))}")
    m = cfg.model
    if m.options:
        from logitkit.predict import FirthLogisticRegression, LogisticRegression, MLPClassifier

        cls = {"mlp": MLPClassifier, "firth": FirthLogisticRegression}.get(m.kind, LogisticRegression)
        valid = set(cls().get_params())
        for k in m.options:
            if k not in valid:
                raise ConfigError(f"{source}: model.options: {k!r} is not a parameter of model.kind {m.kind!r}."
                                  + did_you_mean(k, valid) + f" Its parameters: {', '.join(sorted(valid))}")
    d = cfg.data
    if d.classes is not None:
        if len(set(d.classes)) != len(d.classes) or len(d.classes) < 2:
            raise ConfigError(f"{source}: data.classes {d.classes} must name two or more different values")
        if d.positive_class is not None and (d.positive_class not in d.classes or len(d.classes) != 2):
            raise ConfigError(f"{source}: data.positive_class {d.positive_class!r} needs data.classes to be two "
                              f"values that include it (data.classes is {d.classes})")
    if m.formula is not None:
        _check_formula(cfg, source)


def _check_formula(cfg, source: str) -> None:
    from logitkit.formula import FormulaDesign
    from logitkit.pipeline.config import PrepSection

    m = cfg.model
    if m.kind != "logistic":
        raise ConfigError(f"{source}: model.formula is for model.kind 'logistic', not {m.kind!r}")
    changed = [k for k, v in cfg.prep.model_dump().items() if v != PrepSection().model_dump()[k]]
    if changed:
        raise ConfigError(f"{source}: prep.{changed[0]} and model.formula both build the design; with a formula write "
                          "the transform in it (np.log(x), center(x), scale(x), C(g)) and leave prep at its defaults")
    design = FormulaDesign(m.formula)
    label = cfg.data.label
    if design.outcome is not None and label is not None and design.outcome != label:
        raise ConfigError(f"{source}: model.formula's outcome {design.outcome!r} is not data.label {label!r}; write "
                          f"'{label} ~ ...' or '~ ...'")


def _check_inference(cfg, source: str) -> None:
    ev, m = cfg.evaluate, cfg.model
    if ev.cov_type == "cluster" and not ev.cluster_column:
        raise ConfigError(f"{source}: evaluate.cov_type 'cluster' needs evaluate.cluster_column (the column naming "
                          "each row's cluster; it is read, not used as a feature)")
    if ev.cv.folds and ev.cv.method == "group" and not ev.cv.group_column:
        raise ConfigError(f"{source}: evaluate.cv.method 'group' needs evaluate.cv.group_column")
    asks = [k for k, on in (("evaluate.cov_type " + repr(ev.cov_type), ev.cov_type != "nonrobust"),
                            ("evaluate.marginal_effects", ev.marginal_effects)) if on]
    if not asks:
        return
    if not ev.inference:
        raise ConfigError(f"{source}: {asks[0]} {_SE_ASKED}, but evaluate.inference is false; set "
                          "evaluate.inference: true")
    if m.kind == "firth":
        raise ConfigError(f"{source}: {asks[0]} is not available for model.kind 'firth': its standard errors are "
                          "model-based, its intervals profile penalised-likelihood ones; leave "
                          f"{asks[0].split()[0]} at its default")
    l1 = (m.penalty in ("l1", "elasticnet") and m.alpha > 0) or bool(ev.cv.tune_l1_ratios)
    if m.kind == "mlp" or l1:
        why = "an MLP (model.kind 'mlp')" if m.kind == "mlp" else "an L1/elastic-net fit"
        raise ConfigError(f"{source}: {asks[0]} {_SE_ASKED}, but standard errors are not defined for {why}; set "
                          "model.penalty: none (or l2) with model.kind 'logistic' for inference, or leave "
                          f"{asks[0].split()[0]} at its default")


# ---------------------------------------------------------------- columns, from the header
def _columns_named(cfg) -> list[tuple[str, list[str], bool]]:
    """(key, names or patterns, patterns?) of every column the config names."""
    d, p, ev, it = cfg.data, cfg.prep, cfg.evaluate, cfg.interpret
    out = [("data.label", [d.label] if d.label else [], False),
           ("data.features", d.features or [], True), ("data.exclude", d.exclude, True)]
    if d.split.method == "time" and not d.test_path:
        out.append(("data.split.time_column", [d.split.time_column], False))
    if d.split.method == "group" and not d.test_path:
        out.append(("data.split.group_column", [d.split.group_column], False))
    if ev.cov_type == "cluster":
        out.append(("evaluate.cluster_column", [ev.cluster_column], False))
    if ev.cv.folds and ev.cv.group_column:
        out.append(("evaluate.cv.group_column", [ev.cv.group_column], False))
    for key in ("one_hot", "log_bucket", "quantile_bucket"):
        out.append((f"prep.{key}", getattr(p, key) or [], True))
    if isinstance(p.reference, dict):
        out.append(("prep.reference", list(p.reference), False))
    if p.hashing is not None:
        out.append(("prep.hashing.fields", p.hashing.fields or [], False))
        out.append(("prep.hashing.crosses", [c for pair in p.hashing.crosses for c in pair], False))
    for key, sec in (("interpret.prevalence.feature", it.prevalence), ("interpret.profile.feature", it.profile)):
        if sec is not None:
            out.append((key, [sec.feature], False))
    return out


def _check_columns(cfg, source: str) -> None:
    from logitkit.loaddata.header import column_names

    names = column_names(cfg.data)
    if names is None:
        return
    where = cfg.data.dataset or cfg.data.path
    for key, given, patterns in _columns_named(cfg):
        for name in given:
            ok = fnmatch.filter(names, name) if patterns else name in names
            if not ok:
                what = "matches no column" if patterns and any(ch in name for ch in "*?[") else "is not a column"
                raise ConfigError(f"{source}: {key}: {name!r} {what} of {where}; its columns are "
                                  f"{names[:30]}{' ...' if len(names) > 30 else ''}." + did_you_mean(name, names))
    if cfg.model.formula is not None:
        from logitkit.formula import FormulaDesign

        design = FormulaDesign(cfg.model.formula)
        needed = sorted(v for v in design.needed_columns() if v not in names)
        if needed:
            raise ConfigError(f"{source}: model.formula needs column {needed[0]!r}, which {where} does not have; its "
                              f"columns are {names[:30]}." + did_you_mean(needed[0], names))


# ---------------------------------------------------------------- once the data is loaded
def check_loaded(cfg, table) -> None:
    """Checks that need the loaded rows, run before the run directory exists."""
    ref = cfg.prep.reference
    if isinstance(ref, dict):
        for column, level in ref.items():
            if level is None or column not in table.data.column_names:
                continue
            col = table.data.column(column)
            values = set(col.cast("string").drop_null().unique().to_pylist()) if col.num_chunks else set()
            if level not in values and not _numeric_level(level, values):
                levels = sorted(values)
                raise DataError(f"prep.reference: {shown(level)} is not a level of column {shown(column)} in "
                                f"{table.name}; its levels are {shown_list(levels, 20)}."
                                + did_you_mean(level, levels[:20]))
    if cfg.model.kind == "firth" and table.label is not None:
        values = table.data.column(table.label).drop_null().unique()
        if len(values) > 2:
            raise DataError(f"model.kind 'firth' is a binary model, but label {table.label!r} of {table.name} has "
                            f"{len(values)} values {shown_list(sorted(map(str, values.to_pylist())))}; use model.kind "
                            "'logistic' for several classes")
    prof = cfg.interpret.profile
    if prof is not None and cfg.model.formula is None and table.feature_names != [prof.feature]:
        raise ConfigError(f"interpret.profile.feature: {prof.feature!r} must be the model's only feature (features "
                          f"are {table.feature_names[:10]}); select it alone with data.features: [{prof.feature}]")


def _numeric_level(level: str, values: set) -> bool:
    try:
        x = float(level)
    except ValueError:
        return False
    return any(_float(v) == x for v in values)


def _float(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


__all__ = ["check_config", "check_loaded"]
