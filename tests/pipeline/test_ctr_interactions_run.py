"""`logitkit run` with model.options.interactions (fm, ffm, deep): streamed like the linear
model, recorded, reproduced, predicted; its mistakes are one line."""
import json

import numpy as np
import pyarrow.csv as pacsv
import pytest

from logitkit.pipeline.cli import main


@pytest.fixture(scope="module")
def files(ctr_files):
    folder = ctr_files(8_000, 2_000, seed=5, interactions=(("C3", "C9", "I2"),), max_cardinality=40).folder
    cfg = folder / "fm.yaml"
    cfg.write_text(
        "data: {path: train.tsv, test_path: test.tsv, format: criteo, label: label, batch_rows: 2048,"
        " split: {method: none}}\n"
        "prep: {hashing: {n_bits: 14, seed: 0}}\n"
        "model: {kind: hashed, learning_rate: 0.1, batch_size: 256,"
        " options: {l1: 0.1, l2: 1.0, n_passes: 2, prefetch: false, interactions: fm, embedding_dim: 4}}\n"
        "evaluate: {metrics: [log_loss, roc_auc], inference: false}\n"
        "interpret: {graph: false, plots: false, report: false}\n"
    )
    return folder, cfg


def _run(cfg, out, *sets):
    args = ["run", str(cfg), "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    return next(p for p in out.iterdir() if not p.name.startswith("."))


def test_fm_run_is_streamed_recorded_reproduced_and_predicted(files, tmp_path, capsys):
    folder, cfg = files
    run_dir = _run(cfg, folder / "runs", "interpret.report=true")
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "complete" and record["warnings"] == []
    stats = record["model_stats"]
    assert stats["interactions"] == "fm" and stats["embedding_dim"] == 4 and stats["row_columns"] == 3 + 2 * 4
    assert len(record["ctr"]["pass_losses"]) == 2 and record["ctr"]["top_weights"]
    assert record["ctr"]["cache"] == {"passes_from_cache": 1, "row_plans_batch_size": 256}
    assert (run_dir / "report.html").is_file() and "row_columns" in (run_dir / "report.html").read_text()
    assert main(["repro", str(run_dir)]) == 0 and "reproduced" in capsys.readouterr().out
    # `logitkit predict` gives the run's own test log loss
    assert main(["predict", str(run_dir), str(folder / "test.tsv"), "-o", str(tmp_path / "s.csv")]) == 0
    scores = pacsv.read_csv(tmp_path / "s.csv")
    y, p = scores.column("label").to_numpy().astype(float), scores.column("p_1").to_numpy()
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))
    assert loss == pytest.approx(record["metrics"]["test"]["log_loss"], rel=1e-6)


def test_deep_run_records_its_mlp_and_names_the_options_it_ignores(files, tmp_path):
    folder, cfg = files
    run_dir = _run(cfg, tmp_path / "deep", "model.options.interactions=deep", "model.options.n_passes=1",
                   "model.options.hidden=[16, 8]", "model.options.ffm_fields=[C3, C9]")
    record = json.loads((run_dir / "record.json").read_text())
    assert record["warnings"] == ["UserWarning: model.options ffm_fields not used by interactions: deep; ignored"]
    assert record["model_stats"]["mlp_parameters"] == 39 * 4 * 16 + 16 + 16 * 8 + 8 + 8 + 1
    assert record["model_stats"]["dense_optimizer"] == "adam"
    assert record["metrics"]["test"]["roc_auc"] > 0.8


def test_ffm_with_a_holdout_stops_early_and_keeps_the_best_pass(files, tmp_path):
    folder, cfg = files
    sets = ["model.options.n_passes=4", "model.options.patience=1", "model.options.tol=0.5",
            f"model.options.holdout_path={folder / 'test.tsv'}"]
    run_dir = _run(cfg, tmp_path / "ffm", "model.options.interactions=ffm", "model.options.ffm_fields=[C3, C9, I2]",
                   *sets)
    ctr = json.loads((run_dir / "record.json").read_text())["ctr"]
    assert len(ctr["holdout_losses"]) == 2  # pass 2 did not beat pass 1 by half: stopped
    from logitkit.predict.online import load_hashed

    model = load_hashed(str(run_dir / "model"))
    assert model.ffm_fields == [15, 21, 1] and model.holdout_losses_ == ctr["holdout_losses"]
    assert model.best_pass_ == 0


def test_interaction_mistakes_are_one_line(files, tmp_path, capsys):
    folder, cfg = files
    out = tmp_path / "bad"
    for setting, message in [
        ("model.options.ffm_fields=[C3, C99]", "model.options.ffm_fields: 'C99' is not a token column of the hasher."),
        ("model.options.interactions=fn", "'model.options.interactions': Input should be 'none', 'fm', 'ffm' or 'deep'"),
        ("model.options.optimizer=sgd", "model.options.optimizer 'sgd' (VW's normalised update) is the linear model's"),
        ("model.options.embedding_dimension=4", "Did you mean 'embedding_dim'?"),
    ]:
        assert main(["run", str(cfg), "--out", str(out), "--set", setting]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_under_torchrun_interactions_are_a_config_error(files, monkeypatch):
    from logitkit._util.errors import ConfigError
    from logitkit.pipeline import ctr_files
    from logitkit.pipeline.config_load import load_config

    class Ranks:
        is_distributed = True

    monkeypatch.setattr(ctr_files, "current", lambda: Ranks())
    folder, cfg = files
    with pytest.raises(ConfigError, match=r"^model.options.interactions 'fm' is not distributed: run it in one "
                                          r"process \(without torchrun\), or use interactions: none under torchrun$"):
        ctr_files.check(load_config(cfg))
