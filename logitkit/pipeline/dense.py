"""The dense run (``model.kind`` logistic or mlp): the stages in order, from the loaded
tables to the run directory's contents. The runner owns the directory and the record's
frame; ``pipeline.ctr`` is the other path (the streamed CTR run).

    tables ─split─▶ train/test ─prepare─▶ X ─embed─▶ Z ─fit─▶ model
           ─inference, gathered predictions─▶ metrics ─▶ coefficients, tables, plots, model/

The same code runs in one process and on every rank of a ``torchrun`` job: ``coll``
carries what the ranks exchange (``stages`` says what), and ``preds`` — the gathered
labels and probabilities — exist on rank 0 alone, which writes everything.
"""
from __future__ import annotations

from pathlib import Path

from logitkit._util.collective import Collective
from logitkit._util.errors import prefixed
from logitkit.pipeline import outputs, stages, toolkit
from logitkit.pipeline.config import Config
from logitkit.pipeline.modelio import local_estimator
from logitkit.pipeline.record import Timer
from logitkit.prepdata import input_rows

named = stages.named_features


def class_names(model, train) -> list[str]:
    """The classes as the label's text: the file's values of a label coded 0/1."""
    names = train.label_names
    return list(names) if names is not None else [str(c) for c in model.classes_]


def load(cfg: Config, coll: Collective) -> tuple[tuple, dict]:
    """(this rank's ``(table, test table, parts)``, the fingerprints of the whole input
    files, hashed by rank 0)."""
    loaded = stages.load(cfg, coll)
    table, test_table, _ = loaded
    return loaded, coll.broadcast({"train": table.fingerprint, "test": test_table.fingerprint if test_table else None})


def run(cfg: Config, coll: Collective, loaded, device, timer: Timer, work: Path | None, record: dict):
    """The stages after loading (``loaded``: ``stages.load``'s tables and parts); fills
    ``record`` and, on rank 0, ``work``. Returns the inference summary (or None)."""
    table, test_table, parts = loaded
    with timer.stage("prepdata"):
        train, test = stages.split(cfg, table, test_table, coll)
        prep, X_train, y_train, names = stages.prepare(cfg, train, coll)
        X_test = prep.transform(test) if test is not None else None
        y_test = test.labels() if test is not None else None
    rows_train = input_rows(train, coll)
    with timer.stage("embed"):
        embedder, Z_train, Z_test, znames = stages.embed(cfg, X_train, X_test, names, rows_train, coll)
    with timer.stage("predict"):
        model = stages.build_model(cfg, device, coll)
        whole = stages.gather_train(cfg, Z_train, y_train, train, coll)  # rank 0, with cross-validation only
        tuning = stages.tune(cfg, named(whole[0], znames), whole[1], whole[2]) if whole else None
        tuning = stages.share_tuning(model, tuning, coll)
        if tuning is not None:
            record["tuning"] = tuning
        model.fit(named(Z_train, znames), y_train)  # this rank's training rows; the sums run over every rank
    shards = stages.shard_record(parts, train, test, coll)
    if shards is not None:
        record["distributed"] = shards
    tot = stages.totals(train, test, y_train, coll)
    record["data"]["summary"] = {
        "n_train": tot["n_train"], "n_test": tot["n_test"], "features": names,
        "classes": class_names(model, train), "class_counts_train": tot["class_counts_train"],
    }
    if train.label_names is not None:  # data.positive_class: the label is coded 0/1
        record["data"]["summary"]["positive_class"] = train.label_names[1]
    with timer.stage("evaluate"):
        summary = stages.inference(cfg, model, named(Z_train, znames), y_train, train)
        splits = {"train": (Z_train, y_train, rows_train)}
        if Z_test is not None:
            splits["test"] = (Z_test, y_test, input_rows(test, coll))
        preds = stages.gather_predictions(model, splits, znames, coll)
        prevalence = stages.gather_prevalence(cfg, train, y_train, coll)
        if preds is None:  # not rank 0: nothing to write
            return summary
        model = local_estimator(model)
        stages.add_hosmer_lemeshow(cfg, model, preds["train"][0], preds["train"][1][:, -1], summary)
        record["metrics"] = {}
        for name, (y, P) in preds.items():  # (a metric not defined on these rows names their file)
            with prefixed(f"{(test if name == 'test' else train).name} ({name} rows)"):
                record["metrics"][name] = stages.metrics(cfg, model, y, P)
        if summary is not None:
            record["model_stats"] = summary.stats
            outputs.write_coefficients(work / "coefficients.csv", summary.rows, summary.cov_type)
        toolkit.marginal_effects(cfg, summary, work, record)
        cv = stages.cross_validation(cfg, model, named(whole[0], znames), whole[1], whole[2]) if whole else None
        if cv is not None:
            record["cv"] = cv
    with timer.stage("interpret"):
        outputs.interpret(cfg, work, model, train.label, preds, prevalence, (Z_train[:8], y_train[:8]), summary,
                          znames, record)
    stages.save(work, model, prep, embedder, train.label_names)
    if cfg.interpret.report:
        with timer.stage("report"):
            record["timings"] = timer.seconds
            outputs.report(work, record)
    return summary
