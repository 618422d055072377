"""The stages of a dense run, one function per stage, as ``pipeline.dense`` calls them; each
reads its own config section.

Every function is written once, for a job of any number of processes. It is handed the
job's ``Collective`` (``coll``; ``logitkit._util.collective``): in one process every
exchange is the identity, on the ranks of a ``torchrun`` job each call computes over
the rows of every rank. A ``Table`` holds this rank's rows (the whole input in one
process) and ``prepdata.input_rows`` gives each row's index in the whole input, by
which gathered arrays are put back in the input's order. What travels: the split's one
deciding column, the transforms' statistics, the fit's sums; rank 0 receives every row's
label and predicted probabilities (metrics, plots), and the training rows only for
cross-validation.
"""
from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pyarrow as pa
from sklearn.base import clone

from logitkit._util.collective import Collective
from logitkit._util.errors import ConfigError, did_you_mean, prefixed
from logitkit.embed.basis import basis_to_json, make_basis
from logitkit.evaluate.inference import COLUMNS, Summary, hosmer_lemeshow, summary
from logitkit.evaluate.metrics import compute_metrics
from logitkit.evaluate.selection import LogisticRegressionCV, cross_validate
from logitkit.loaddata import Table, guess_format, load_input
from logitkit.pipeline import toolkit
from logitkit.pipeline.config import Config
from logitkit.pipeline.config_check import check_loaded
from logitkit.pipeline.modelio import save_model
from logitkit.predict import LogisticRegression
from logitkit.predict.distributed import DistributedLogisticRegression
from logitkit.predict.firth import FirthLogisticRegression
from logitkit.predict.mlp import MLPClassifier
from logitkit.prepdata import Preprocessor, check_split_labels, input_rows, split_table


def named_features(Z: np.ndarray, names: list[str]) -> pa.Table:
    """Features as a pyarrow Table, so that the estimator records their names."""
    return pa.table({n: pa.array(np.ascontiguousarray(Z[:, j])) for j, n in enumerate(names)})


# ---------------------------------------------------------------- loaddata / prepdata
def load(cfg: Config, coll: Collective):
    """``(table, test table or None, parts)``: what this rank reads (``loaddata.load_input``:
    the whole input in one process, ``parts`` None; this rank's part under torchrun)."""
    if cfg.data.dataset is None and cfg.data.path is None:
        raise ConfigError("config: set data.dataset (a built-in data set) or data.path (a file)")
    for key in ("path", "test_path"):  # a bag of features per row, which no dense model takes
        path = getattr(cfg.data, key)
        if path is not None and guess_format(path, cfg.data.format) == "vw":
            raise ConfigError(
                f"data.{key} {path!r}: a VW text file holds a bag of features per row, which the pipeline's "
                "models do not take (the dense model needs a column per feature, model.kind 'hashed' a "
                "Criteo-layout TSV). Read it from Python with logitkit.loaddata.load_vw / stream_vw and hash it "
                "with FeatureHasher.transform_vw, or convert it to CSV or Criteo TSV"
            )
    ev = cfg.evaluate
    carry = [ev.cluster_column if ev.cov_type == "cluster" else None, ev.cv.group_column if ev.cv.folds else None]
    loaded = load_input(cfg.data, Path.cwd(), coll, carry)
    check_loaded(cfg, loaded[0])  # what needs the rows, before the run directory exists
    return loaded


def split(cfg: Config, table, test_table, coll: Collective):
    """(train, test): the test file when there is one, else ``data.split`` of the input;
    the training rows must hold two classes and the test rows none that they lack
    (``prepdata.check_split_labels``, over every rank's rows)."""
    if test_table is not None:
        train, test = table, test_table
    else:
        train, test = split_table(table, cfg.data.split, cfg.run.seed, coll)
    check_split_labels(train, test, coll)
    return train, test


def prepare(cfg: Config, train, coll: Collective):
    """Fit the prep transforms on every rank's training rows (from reduced statistics) and
    transform this rank's: ``(preprocessor, X, y, feature names)``; with ``model.formula``
    the formula's design instead (``toolkit.formula_prep``)."""
    if cfg.model.formula is not None:
        return toolkit.formula_prep(cfg, train, coll)
    intercept = cfg.model.fit_intercept or cfg.model.kind != "logistic"  # (an MLP's layers have biases)
    prep = Preprocessor(cfg.prep, intercept=intercept).fit(train, coll=coll)
    return prep, prep.transform(train), train.labels(), list(prep.feature_names_)


# ---------------------------------------------------------------- embed
def embed(cfg: Config, X_train, X_test, names, rows, coll: Collective):
    """The embedding fitted on the training rows (``rows``: their indices in the whole
    input): ``(embedder or None, Z_train, Z_test, names)``. The data-dependent 'rbf'
    basis places its centres from every rank's rows; the others need only the width."""
    if cfg.embed.kind == "identity":
        return None, X_train, X_test, names
    X_fit = coll.in_row_order(rows, X_train)[0] if cfg.embed.kind == "rbf" else X_train
    emb = make_basis(cfg.embed.kind, **cfg.embed.basis_params(cfg.run.seed)).fit(X_fit)
    Z_test = emb.transform(X_test) if X_test is not None else None
    return emb, emb.transform(X_train), Z_test, [str(n) for n in emb.get_feature_names_out(names)]


# ---------------------------------------------------------------- predict
#: (model.kind, fitted over several ranks) -> estimator; several ranks fit all-reduced
_ESTIMATORS = {("logistic", False): LogisticRegression, ("logistic", True): DistributedLogisticRegression,
               ("mlp", False): MLPClassifier, ("firth", False): FirthLogisticRegression}


def _with_options(cls, kwargs: dict, options: dict, kind: str):
    """``cls(**kwargs, **options)``; an option the estimator does not take is a ConfigError."""
    valid = set(cls().get_params())
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise ConfigError(f"model.options: {unknown[0]!r} is not a parameter of model.kind {kind!r}."
                          + did_you_mean(unknown[0], valid) + f" Its parameters: {', '.join(sorted(valid))}")
    return cls(**{**kwargs, **options})


def build_model(cfg: Config, device, coll: Collective):
    """The estimator ``model`` asks for, fitted by this job's ranks (all-reduced on several)."""
    m = cfg.model
    if m.kind == "hashed":
        raise ConfigError(f"model.kind={m.kind!r} is streamed by logitkit.pipeline.ctr; see docs/ctr.md")
    cls = _ESTIMATORS.get((m.kind, coll.world_size > 1))
    if cls is None:
        raise ConfigError(f"model.kind={m.kind!r} is not distributed; run it without torchrun, or use "
                          "model.kind='logistic' with solver newton or lbfgs")
    common = dict(alpha=m.alpha, max_iter=m.max_iter, tol=m.tol, dtype=m.dtype, device=str(device),
                  random_state=cfg.run.seed)
    if m.kind == "mlp":
        return _with_options(cls, dict(hidden_layer_sizes=tuple(m.hidden_layer_sizes), **common), m.options, m.kind)
    if m.kind == "firth":  # its own max_iter and tol unless the config sets them
        own = {k: getattr(m, k) for k in ("max_iter", "tol") if k in m.model_fields_set}
        return _with_options(cls, dict(fit_intercept=m.fit_intercept, ci_level=cfg.evaluate.level, device=str(device),
                                       **own), m.options, m.kind)
    return _with_options(cls, dict(penalty=m.penalty, l1_ratio=m.l1_ratio, multiclass=m.multiclass, solver=m.solver,
                                   fit_intercept=m.fit_intercept, class_weight=m.class_weight,
                                   batch_size=m.batch_size, learning_rate=m.learning_rate, **common),
                         m.options, m.kind)


def gather_train(cfg: Config, Z, y, train, coll: Collective):
    """Every training row on rank 0 for cross-validation (``evaluate.cv``): ``(Z, y, table
    of the group column or None)``, in the input's row order. None on the other ranks,
    and without cross-validation (the one stage that needs all training rows at once)."""
    cv = cfg.evaluate.cv
    if cv.folds == 0:
        return None
    extra = [train.column(cv.group_column)] if cv.group_column else []
    got = coll.in_row_order(input_rows(train, coll), Z, np.asarray(y), *extra, dst=0)
    if got is None:
        return None
    groups = Table(pa.table({cv.group_column: got[2]}), None) if cv.group_column else None
    return got[0], got[1], groups


def _split_name(cv) -> str:
    return {"stratified": "stratified", "group": "group", "time": "time"}[cv.method]


def tune(cfg: Config, X, y, groups) -> dict | None:
    """Choose alpha (and l1_ratio) by cross-validation along a warm-started path: the
    tuning record, with the choice under ``"chosen"``; None when nothing is tuned."""
    cv = cfg.evaluate.cv
    if cv.folds == 0 or not cv.tune_alphas:
        return None
    m = cfg.model
    penalty = "elasticnet" if cv.tune_l1_ratios else (m.penalty or "l2")
    tuner = LogisticRegressionCV(
        alphas=cv.tune_alphas, l1_ratios=cv.tune_l1_ratios or None, penalty=penalty,
        cv=_split_name(cv), n_splits=cv.folds, scoring=cv.scoring, multiclass=m.multiclass, solver=m.solver,
        fit_intercept=m.fit_intercept, class_weight=m.class_weight, max_iter=m.max_iter, tol=m.tol,
        dtype=m.dtype, random_state=cfg.run.seed,
    ).fit(X, y, groups=groups.column(cv.group_column) if groups is not None else None)
    chosen = {"penalty": penalty, "alpha": float(tuner.alpha_)}
    if cv.tune_l1_ratios:
        chosen["l1_ratio"] = float(tuner.l1_ratio_)
    return {"chosen": chosen, **tuner.to_record()}


def share_tuning(model, tuning: dict | None, coll: Collective) -> dict | None:
    """Rank 0 tuned (``tune``); every rank sets its choice on ``model`` before the fit."""
    tuning = coll.broadcast(tuning)
    if tuning is not None:
        model.set_params(**tuning["chosen"])
    return tuning


def save(work: Path, model, prep, embedder, label_names=None) -> None:
    """``model/``: the estimator, the prep transforms and the embedding (``modelio``);
    ``label_names``: the label's text by class code, for a label coded 0/1."""
    save_model(work / "model", model, prep.to_json(), basis_to_json(embedder) if embedder is not None else None,
               label_names=label_names)


# ---------------------------------------------------------------- evaluate
def _inference_applies(model) -> bool:
    return isinstance(model, LogisticRegression) and (model.penalty in (None, "l2") or model.alpha == 0)


def inference(cfg: Config, model, X, y, train):
    """The coefficient table (``Summary``; its sums run over every rank for a model fitted
    over ranks) or, where inference does not apply, the coefficients alone; the stats
    say which covariance the standard errors are (``cov_type``), or why there are none."""
    if not hasattr(model, "coef_"):
        return None
    ev = cfg.evaluate
    if ev.inference and isinstance(model, FirthLogisticRegression):
        return toolkit.firth_summary(model, ev.level)
    if ev.inference and _inference_applies(model):
        groups = train.column(ev.cluster_column) if ev.cov_type == "cluster" and ev.cluster_column else None
        with prefixed(train.name):  # (a statistic not defined on these rows names their file)
            s = summary(model, X, y, cov_type=ev.cov_type, groups=groups, level=ev.level,
                        hl_groups=ev.hosmer_lemeshow_groups)
        if groups is not None:
            s.stats.update(cluster_column=ev.cluster_column, n_clusters=int(len(np.unique(groups))))
        return s
    if ev.inference and (ev.cov_type != "nonrobust" or ev.marginal_effects):  # asked for, not defined
        why = "an MLP" if not isinstance(model, LogisticRegression) else "an L1/elastic-net fit"
        raise ConfigError(f"evaluate.cov_type {ev.cov_type!r}{' and evaluate.marginal_effects' if ev.marginal_effects else ''}"
                          f": standard errors are not defined for {why}; refit with model.penalty none (or l2) "
                          "for inference, or set evaluate.inference: false")
    names = list(getattr(model, "feature_names_in_", [f"x{j}" for j in range(model.n_features_in_)]))
    rows = []
    multi = model.coef_.shape[0] > 1
    for k, cls in enumerate(model.classes_ if multi else model.classes_[1:]):
        prefix = f"{cls}: " if multi else ""
        for term, c in zip(names + ["intercept"], list(model.coef_[k]) + [model.intercept_[k]]):
            rows.append({"term": prefix + term, "coef": float(c), "odds_ratio": float(np.exp(c))})
    rows = [{k: r.get(k) for k in COLUMNS} for r in rows]
    why = ("evaluate.inference is false" if not ev.inference else "not defined for an MLP"
           if not isinstance(model, LogisticRegression) else "not defined for an L1/elastic-net fit")
    return Summary(rows, {"cov_type": "none", "std_errors": f"none: {why}"}, "none", ev.level)


def add_hosmer_lemeshow(cfg: Config, model, y, p1, summary) -> None:
    """The Hosmer–Lemeshow test on all training rows, where the summary has none: it sorts
    the rows, so a summary summed over ranks leaves it out; rank 0 computes it from the
    gathered labels ``y`` and probabilities ``p1`` of the positive class."""
    groups = cfg.evaluate.hosmer_lemeshow_groups
    if summary is None or summary.cov_type == "none" or "hl_stat" in summary.stats or len(model.classes_) != 2 \
            or len(y) < groups:
        return
    y1 = (np.asarray(y) == model.classes_[1]).astype(float)
    summary.stats.update(hosmer_lemeshow(y1, p1, groups))


def gather_predictions(model, splits: dict, names: list[str], coll: Collective) -> dict | None:
    """``{split: (y, proba)}`` over every rank's rows, in the whole input's row order, on
    rank 0 (None elsewhere). ``splits``: ``{split: (Z, y, rows)}`` of this rank. Rank 0
    receives n·(K + 1) numbers per split (labels and probabilities), never the features."""
    out = {}
    for name, (Z, y, rows) in splits.items():
        P = model.predict_proba(named_features(Z, names)) if len(y) else np.zeros((0, len(model.classes_)))
        got = coll.in_row_order(rows, np.asarray(y), P, dst=0)
        if got is not None:
            out[name] = tuple(got)
    return out or None


def gather_prevalence(cfg: Config, train, y_train, coll: Collective):
    """(feature values, labels) of every training row for ``interpret.prevalence``, on rank 0."""
    prev = cfg.interpret.prevalence
    if prev is None:
        return None
    got = coll.in_row_order(input_rows(train, coll), train.column(prev.feature), np.asarray(y_train), dst=0)
    return None if got is None else tuple(got)


def totals(train, test, y_train, coll: Collective) -> dict:
    """Row counts and training class counts over every rank."""
    counts = dict(zip(*np.unique(np.asarray(y_train), return_counts=True)))
    parts = coll.all_gather((train.n_rows, test.n_rows if test is not None else 0, counts))
    classes: dict = {}
    for _, _, c in parts:
        for k, v in c.items():
            classes[k] = classes.get(k, 0) + int(v)
    return {"n_train": sum(p[0] for p in parts), "n_test": sum(p[1] for p in parts),
            "class_counts_train": {str(k): classes[k] for k in sorted(classes)}}


def shard_record(parts: dict | None, train, test, coll: Collective) -> dict | None:
    """Which rank read what (None when one process read the whole input): every rank's
    host, what it read of each input (byte range and lines, row groups, files, or rows)
    and how many of its rows went to training and test."""
    if parts is None:
        return None
    mine = {"rank": coll.rank, "host": socket.gethostname(),
            "train": parts["train"].describe(), "test": parts["test"].describe() if parts.get("test") else None,
            "train_rows": int(train.n_rows), "test_rows": int(test.n_rows) if test is not None else 0}
    return {"world_size": coll.world_size, "backend": coll.backend, "shards": coll.all_gather(mine)}


def metrics(cfg: Config, model, y, proba) -> dict:
    """The configured metrics of labels ``y`` and probabilities ``proba`` (n, K)."""
    return compute_metrics(cfg.evaluate.metrics, y, proba, model.classes_)


def cross_validation(cfg: Config, model, X, y, groups) -> dict | None:
    """Per-fold metrics of the (possibly tuned) model, with their mean and spread."""
    cv = cfg.evaluate.cv
    if cv.folds == 0:
        return None
    res = cross_validate(clone(model), X, y, cv=_split_name(cv), n_splits=cv.folds, scoring=cfg.evaluate.metrics,
                         groups=groups.column(cv.group_column) if groups is not None else None,
                         random_state=cfg.run.seed)
    return {"method": cv.method, "n_splits": cv.folds, **res.to_dict()}
