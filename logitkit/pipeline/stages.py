"""One function per stage, as the runner calls them; each reads its own config section."""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from logitkit._util import dist
from logitkit._util.errors import ConfigError, did_you_mean
from logitkit.pipeline import toolkit
from logitkit.pipeline.config import Config

log = logging.getLogger("logitkit.pipeline")


# ---------------------------------------------------------------- loaddata / prepdata
def load(cfg: Config):
    """``(table, test table or None, parts)``: the whole input in one process (``parts``
    None); under torchrun this rank's part of it (``loaddata.shard.load_shard``)."""
    if cfg.data.dataset is None and cfg.data.path is None:
        raise ConfigError("config: set data.dataset (a built-in data set) or data.path (a file)")
    _no_vw(cfg)
    if dist.is_distributed():
        from logitkit.loaddata.shard import load_shard

        return load_shard(cfg.data, Path.cwd())
    from logitkit.loaddata import load_from_config

    return (*load_from_config(cfg.data, Path.cwd()), None)


def _no_vw(cfg: Config) -> None:
    """VW text holds a bag of features per row, which no model of the pipeline takes."""
    from logitkit.loaddata.files import guess_format

    for key in ("path", "test_path"):
        path = getattr(cfg.data, key)
        if path is not None and guess_format(path, cfg.data.format) == "vw":
            raise ConfigError(
                f"data.{key} {path!r}: a VW text file holds a bag of features per row, which the pipeline's "
                "models do not take (the dense model needs a column per feature, model.kind 'hashed' a "
                "Criteo-layout TSV). Read it from Python with logitkit.loaddata.load_vw / stream_vw and hash it "
                "with FeatureHasher.transform_vw, or convert it to CSV or Criteo TSV"
            )


def ctr_fingerprints(cfg: Config) -> dict:
    """The streamed CTR run's input fingerprints (its config is checked first)."""
    from logitkit.pipeline import ctr

    ctr.check(cfg)
    return dist.broadcast_object(ctr.fingerprints(cfg) if dist.is_main() else None)  # rank 0 hashes the files


def split(cfg: Config, table, test_table):
    from logitkit.prepdata import split_table

    if test_table is not None:
        return table, test_table
    if dist.is_distributed():
        return split_shard(cfg, table)
    return split_table(table, cfg.data.split, cfg.run.seed)


def global_rows(table) -> np.ndarray:
    """Each row's index in the whole input (``source_rows``; 0..n-1 for a whole table)."""
    return np.arange(table.n_rows) if table.source_rows is None else np.asarray(table.source_rows)


def _in_row_order(rows: np.ndarray, *arrays, to_all: bool = True):
    """Every rank's ``arrays`` gathered and put in the order of the rows of the whole input
    (on every rank, or with ``to_all=False`` on rank 0 only: None elsewhere)."""
    parts = (dist.all_gather_object if to_all else dist.gather_object)((rows, *arrays))
    if parts is None:
        return None
    order = np.argsort(np.concatenate([p[0] for p in parts]), kind="stable")
    return [np.concatenate([p[k] for p in parts])[order] for k in range(1, len(arrays) + 1)]


def split_shard(cfg: Config, table):
    """``split_table`` of the whole input, computed on this rank's part: the same rows go
    to the test set as on one process. 'random' needs only the global row count (every
    rank draws the same permutation of n); 'stratified', 'time' and 'group' all-gather the
    one column that decides (label, time or group; O(n) values, not the features)."""
    from logitkit._util.errors import DataError
    from logitkit.prepdata.splits import _column, group_split, random_split, stratified_split, time_split

    sp, seed = cfg.data.split, cfg.run.seed
    method, test_size = sp.method, float(sp.test_size)
    if method == "none" or test_size == 0:
        return table, None
    rows = global_rows(table)
    n = int(dist.ShardStats().sum(np.array([table.n_rows]))[0])
    if method == "random":
        te = random_split(n, test_size, seed)[1]
    elif method == "stratified":
        if table.label is None:
            raise ConfigError("split.method 'stratified' needs a label column; set data.label or use 'random'")
        te = stratified_split(_in_row_order(rows, _column(table, table.label, "label"))[0], test_size, seed)[1]
    elif method == "time":
        te = time_split(_in_row_order(rows, _column(table, sp.time_column, "time_column"))[0], test_size)[1]
    else:
        te = group_split(_in_row_order(rows, _column(table, sp.group_column, "group_column"))[0], test_size, seed)[1]
    if len(te) in (0, n):
        raise DataError(f"{table.name}: split.test_size={test_size} leaves {n - len(te)} training and {len(te)} "
                        f"test rows of {n}; change test_size or use split.method 'none'")
    is_test = np.zeros(n, dtype=bool)
    is_test[te] = True
    mine = is_test[rows]
    train, test = table.take(np.nonzero(~mine)[0]), table.take(np.nonzero(mine)[0])
    drop = [c for c in (sp.time_column, sp.group_column) if c and method in ("time", "group")]
    drop = [c for c in drop if c in table.data.column_names and c != table.label]
    if drop:
        train = train.with_data(train.data.drop_columns(drop))
        test = test.with_data(test.data.drop_columns(drop))
    return train, test


def prepare(cfg: Config, train):
    """Fit the prep transforms on the training rows (under torchrun: on the union of every
    rank's training rows, from reduced statistics) and transform them."""
    from logitkit.prepdata import Preprocessor

    if cfg.model.formula is not None:
        return toolkit.formula_prep(cfg, train)
    prep = Preprocessor(cfg.prep).fit(train, stats=dist.ShardStats() if dist.is_distributed() else None)
    X = prep.transform(train)
    return prep, X, train.labels(), list(prep.feature_names_)


# ---------------------------------------------------------------- embed
def embed(cfg: Config, X_train, X_test, names, rows=None):
    """The embedding fitted on the training rows (``rows``: their indices in the whole
    input; under torchrun the data-dependent 'rbf' basis gathers every rank's rows)."""
    if cfg.embed.kind == "identity":
        return None, X_train, X_test, names
    from logitkit.embed.basis import make_basis

    X_fit = X_train
    if cfg.embed.kind == "rbf" and dist.is_distributed():  # centres and widths from all training rows
        X_fit = _in_row_order(rows, X_train)[0]
    emb = make_basis(cfg.embed.kind, **cfg.embed.basis_params(cfg.run.seed)).fit(X_fit)
    Z_test = emb.transform(X_test) if X_test is not None else None
    return emb, emb.transform(X_train), Z_test, [str(n) for n in emb.get_feature_names_out(names)]


# ---------------------------------------------------------------- predict
def _with_options(cls, kwargs: dict, options: dict, kind: str):
    """``cls(**kwargs, **options)``; an option the estimator does not take is a ConfigError."""
    valid = set(cls().get_params())
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise ConfigError(f"model.options: {unknown[0]!r} is not a parameter of model.kind {kind!r}."
                          + did_you_mean(unknown[0], valid) + f" Its parameters: {', '.join(sorted(valid))}")
    return cls(**{**kwargs, **options})


def build_model(cfg: Config, device):
    m = cfg.model
    common = dict(alpha=m.alpha, max_iter=m.max_iter, tol=m.tol, dtype=m.dtype, device=str(device),
                  random_state=cfg.run.seed)
    if m.kind == "logistic":
        from logitkit.predict import LogisticRegression
        from logitkit.predict.distributed import DistributedLogisticRegression

        cls = DistributedLogisticRegression if dist.is_distributed() else LogisticRegression
        return _with_options(cls, dict(penalty=m.penalty, l1_ratio=m.l1_ratio, multiclass=m.multiclass,
                                       solver=m.solver, fit_intercept=m.fit_intercept, class_weight=m.class_weight,
                                       batch_size=m.batch_size, learning_rate=m.learning_rate, **common),
                             m.options, m.kind)
    if m.kind == "mlp":
        from logitkit.predict.mlp import MLPClassifier

        if dist.is_distributed():
            raise ConfigError("model.kind='mlp' is not distributed; run it without torchrun, or use "
                              "model.kind='logistic' with solver newton or lbfgs")
        return _with_options(MLPClassifier, dict(hidden_layer_sizes=tuple(m.hidden_layer_sizes), **common),
                             m.options, m.kind)
    raise ConfigError(f"model.kind={m.kind!r} is streamed by logitkit.pipeline.ctr; see docs/ctr.md")


def share_tuning(model, tuning: dict | None) -> dict | None:
    """Rank 0 tuned (``tune``); every rank takes its choice."""
    tuning = dist.broadcast_object(tuning)
    if tuning is not None:
        model.set_params(**tuning["chosen"])
    return tuning


def single_process(model):
    """The fitted model as the estimator one process would have made (to save and plot)."""
    from logitkit.predict.distributed import DistributedLogisticRegression

    if not isinstance(model, DistributedLogisticRegression):
        return model
    from logitkit.predict import LogisticRegression

    return LogisticRegression._from_state(*model._state())


def hosmer_lemeshow_full(cfg: Config, model, y, p1, summary) -> None:
    """Hosmer–Lemeshow on all training rows (it sorts them, so it is not summed over
    shards): rank 0 adds it to a distributed run's statistics from the gathered labels
    ``y`` and probabilities ``p1`` of the positive class, as one process would."""
    from logitkit.evaluate.inference import hosmer_lemeshow

    groups = cfg.evaluate.hosmer_lemeshow_groups
    if summary is None or not summary.stats or len(model.classes_) != 2 or len(y) < groups:
        return
    y1 = (np.asarray(y) == model.classes_[1]).astype(float)
    summary.stats.update(hosmer_lemeshow(y1, p1, groups))


def gather_predictions(model, splits: dict, names: list[str]) -> dict | None:
    """``{split: (y, proba)}`` over every rank's rows, in the whole input's row order, on
    rank 0 (None elsewhere). ``splits``: ``{split: (Z, y, rows)}`` of this rank. Rank 0
    receives n·(K + 1) numbers per split (labels and probabilities), never the features."""
    from logitkit.pipeline.runner import _named

    out = {}
    for name, (Z, y, rows) in splits.items():
        P = model.predict_proba(_named(Z, names)) if len(y) else np.zeros((0, len(model.classes_)))
        got = _in_row_order(rows, np.asarray(y), P, to_all=False)
        if got is not None:
            out[name] = tuple(got)
    return out if dist.is_main() else None


def gather_train(cfg: Config, Z, y, train):
    """The whole training set on rank 0 for cross-validation (``evaluate.cv``): ``(Z, y,
    table of the group column)``; the rows of every rank are gathered (the one stage that
    needs all training rows in one place). None elsewhere, or without cross-validation."""
    from logitkit.loaddata.table import Table
    import pyarrow as pa

    cv = cfg.evaluate.cv
    if cv.folds == 0:
        return None
    if not dist.is_distributed():
        return Z, y, train
    extra = [train.column(cv.group_column)] if cv.group_column else []
    got = _in_row_order(global_rows(train), Z, np.asarray(y), *extra, to_all=False)
    if got is None:
        return None
    groups = Table(pa.table({cv.group_column: got[2]}), None) if cv.group_column else None
    return got[0], got[1], groups


def gather_prevalence(cfg: Config, train, y_train):
    """(feature values, labels) of every training row for ``interpret.prevalence``, on rank 0."""
    prev = cfg.interpret.prevalence
    if prev is None:
        return None
    got = _in_row_order(global_rows(train), train.column(prev.feature), np.asarray(y_train), to_all=False)
    return None if got is None else tuple(got)


def totals(train, test, y_train) -> dict:
    """Row counts and training class counts over every rank."""
    counts = dict(zip(*np.unique(np.asarray(y_train), return_counts=True)))
    parts = dist.all_gather_object((train.n_rows, test.n_rows if test is not None else 0, counts))
    classes: dict = {}
    for _, _, c in parts:
        for k, v in c.items():
            classes[k] = classes.get(k, 0) + int(v)
    return {"n_train": sum(p[0] for p in parts), "n_test": sum(p[1] for p in parts),
            "class_counts_train": {str(k): classes[k] for k in sorted(classes)}}


def shard_record(parts: dict, train, test) -> dict:
    """Which rank read what: every rank's host, what it read of each input (byte range and
    lines, row groups, files, or rows) and how many of its rows went to training and test."""
    import socket

    mine = {"rank": dist.rank(), "host": socket.gethostname(),
            "train": parts["train"].describe(), "test": parts["test"].describe() if parts.get("test") else None,
            "train_rows": int(train.n_rows), "test_rows": int(test.n_rows) if test is not None else 0}
    return {"world_size": dist.world_size(), "backend": dist.backend(), "shards": dist.all_gather_object(mine)}


# ---------------------------------------------------------------- evaluate
def metrics(cfg: Config, model, y, proba) -> dict:
    """The configured metrics of labels ``y`` and probabilities ``proba`` (n, K)."""
    from logitkit.evaluate.metrics import compute_metrics

    return compute_metrics(cfg.evaluate.metrics, y, proba, model.classes_)


def _inference_applies(model) -> bool:
    from logitkit.predict import LogisticRegression

    return isinstance(model, LogisticRegression) and (model.penalty in (None, "l2") or model.alpha == 0)


def inference(cfg: Config, model, X, y, train):
    """The coefficient table (summary) or, where inference does not apply, coefficients only."""
    from logitkit.evaluate.inference import Summary, summary

    if not hasattr(model, "coef_"):
        return None
    ev = cfg.evaluate
    if ev.inference and _inference_applies(model):
        groups = train.column(ev.cluster_column) if ev.cov_type == "cluster" and ev.cluster_column else None
        return summary(model, X, y, cov_type=ev.cov_type, groups=groups, level=ev.level,
                       hl_groups=ev.hosmer_lemeshow_groups)
    names = list(getattr(model, "feature_names_in_", [f"x{j}" for j in range(model.n_features_in_)]))
    rows = []
    multi = model.coef_.shape[0] > 1
    for k, cls in enumerate(model.classes_ if multi else model.classes_[1:]):
        prefix = f"{cls}: " if multi else ""
        for term, c in zip(names + ["intercept"], list(model.coef_[k]) + [model.intercept_[k]]):
            rows.append({"term": prefix + term, "coef": float(c), "odds_ratio": float(np.exp(c))})
    from logitkit.evaluate.inference import COLUMNS

    rows = [{k: r.get(k) for k in COLUMNS} for r in rows]
    return Summary(rows, {}, "none", ev.level)


def _split_name(cv) -> str:
    return {"stratified": "stratified", "group": "group", "time": "time"}[cv.method]


def tune(cfg: Config, model, X, y, train) -> dict | None:
    """Choose alpha (and l1_ratio) by cross-validation along a warm-started path and set
    them on ``model`` before it is fitted; returns the tuning record, or None."""
    cv = cfg.evaluate.cv
    if cv.folds == 0 or not cv.tune_alphas:
        return None
    from logitkit.evaluate.selection import LogisticRegressionCV

    m = cfg.model
    groups = train.column(cv.group_column) if cv.group_column else None
    penalty = "elasticnet" if cv.tune_l1_ratios else (m.penalty or "l2")
    tuner = LogisticRegressionCV(
        alphas=cv.tune_alphas, l1_ratios=cv.tune_l1_ratios or None, penalty=penalty,
        cv=_split_name(cv), n_splits=cv.folds, scoring=cv.scoring, multiclass=m.multiclass, solver=m.solver,
        fit_intercept=m.fit_intercept, class_weight=m.class_weight, max_iter=m.max_iter, tol=m.tol,
        dtype=m.dtype, random_state=cfg.run.seed,
    ).fit(X, y, groups=groups)
    chosen = {"penalty": penalty, "alpha": float(tuner.alpha_)}
    if cv.tune_l1_ratios:
        chosen["l1_ratio"] = float(tuner.l1_ratio_)
    model.set_params(**chosen)
    return {"chosen": chosen, **tuner.to_record()}


def cross_validation(cfg: Config, model, X, y, train) -> dict | None:
    """Per-fold metrics of the (possibly tuned) model, with their mean and spread."""
    cv = cfg.evaluate.cv
    if cv.folds == 0:
        return None
    from sklearn.base import clone

    from logitkit.evaluate.selection import cross_validate

    groups = train.column(cv.group_column) if cv.group_column else None
    res = cross_validate(clone(model), X, y, cv=_split_name(cv), n_splits=cv.folds, scoring=cfg.evaluate.metrics,
                         groups=groups, random_state=cfg.run.seed)
    return {"method": cv.method, "n_splits": cv.folds, **res.to_dict()}


# ---------------------------------------------------------------- interpret
def interpret(cfg: Config, work: Path, model, label: str, preds: dict, prevalence, first_rows, summary, names,
              record) -> None:
    """Tables and plots on rank 0: ``preds`` are the gathered ``{split: (y, proba)}``,
    ``prevalence`` the gathered (feature, label) of the training rows, ``first_rows`` the
    first training rows ``(Z, y)`` for the computational graph."""
    from logitkit.interpret import plots
    from logitkit.interpret.tables import grouped_prevalence

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
        _standard_plots(work / "plots", model, preds, summary, binary)
        tuning = record.get("tuning")
        if tuning and len(tuning.get("l1_ratios") or [None]) <= 1:  # a curve over alpha alone
            from logitkit.interpret import model_plots

            scores = np.asarray(tuning["cv_scores"], dtype=float).reshape(len(tuning["cv_scores"]), -1)
            model_plots.cv_curve_plot(tuning["alphas"], scores.mean(0), work / "plots" / "cv_curve.png",
                                      std_score=scores.std(0), best_alpha=tuning["alpha"],
                                      score_name=tuning["scoring"])
    if it.graph:
        _graph(work, model, first_rows, names)


def _profile_fn(model, names):
    import pyarrow as pa

    return lambda v: model.predict_proba(pa.table({names[0]: pa.array(np.asarray(v, dtype=float))}))[:, -1]


def _standard_plots(folder: Path, model, preds, summary, binary) -> None:
    from logitkit.interpret import diagnostics, model_plots

    split = "test" if "test" in preds else "train"
    y, proba = preds[split]
    y_idx = np.searchsorted(model.classes_, y)
    classes = [str(c) for c in model.classes_]
    score = proba[:, 1] if binary else proba
    diagnostics.roc_plot(y_idx, score, folder / "roc.png", classes=None if binary else classes,
                         title=f"ROC ({split})")
    diagnostics.pr_plot(y_idx, score, folder / "pr.png", classes=None if binary else classes,
                        title=f"Precision-recall ({split})")
    if binary:
        diagnostics.calibration_plot(y_idx, proba[:, 1], folder / "calibration.png", title=f"Calibration ({split})")
    diagnostics.confusion_matrix_plot(y_idx, proba.argmax(1), folder / "confusion.png",
                                      labels=classes, title=f"Confusion matrix ({split})")
    if getattr(model, "loss_curve_", None):
        model_plots.loss_plot(model.loss_curve_, folder / "loss_curve.png")
    if summary is not None and summary.rows and summary.rows[0].get("std_err") is not None:
        model_plots.odds_ratio_plot(summary.rows, folder / "odds_ratios.png")


def _graph(work: Path, model, train_split, names) -> None:
    from logitkit.interpret import graph, render_graph

    Z, y = train_split
    k = min(len(Z), 8)
    dot = graph(model, Z[:k], np.searchsorted(model.classes_, y[:k]))
    (work / "graph.dot").write_text(dot)
    render_graph(dot, work / "graph.svg")


def report(work: Path, record: dict) -> None:
    from logitkit.interpret.report import write_report

    from logitkit.pipeline.record import write_json

    write_json(work / "record.json", record)
    write_report(work)


def _write_rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
