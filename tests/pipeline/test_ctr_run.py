"""The streamed CTR run through the pipeline: `logitkit run` with model.kind 'hashed'."""
import json

import pytest

from logitkit.loaddata.synthetic import make_ctr
from logitkit.pipeline.cli import main


@pytest.fixture(scope="module")
def files(ctr_files):
    folder = ctr_files(30_000, 8_000, seed=1).folder  # one ground truth: train and test rows from it
    cfg = folder / "ctr.yaml"
    cfg.write_text(
        "data: {path: train.tsv, test_path: test.tsv, format: criteo, label: label, batch_rows: 4096,"
        " split: {method: none}}\n"
        "prep: {hashing: {n_bits: 18, seed: 0}}\n"
        "model: {kind: hashed, learning_rate: 0.2, batch_size: 512,"
        " options: {optimizer: ftrl, l1: 0.1, l2: 1.0, n_passes: 2, prefetch: false}}\n"
        "evaluate: {metrics: [log_loss, roc_auc, ne, calibration_ratio], inference: false}\n"
        "interpret: {graph: false}\n"
    )
    return folder, cfg


def test_ctr_config_runs_streamed_and_records_ctr_stats(files, capsys):
    folder, cfg = files
    assert main(["run", str(cfg), "--out", str(folder / "runs")]) == 0
    run_dir = next((folder / "runs").iterdir())
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "complete"
    test = record["metrics"]["test"]
    assert set(test) == {"log_loss", "roc_auc", "ne", "calibration_ratio"}
    assert 0 < test["ne"] < 1 and test["roc_auc"] > 0.6
    ctr = record["ctr"]
    assert len(ctr["pass_losses"]) == 2 and ctr["top_weights"] and "collisions" in ctr
    assert (run_dir / "model" / "checkpoint.json").is_file() and (run_dir / "report.html").is_file()
    assert not (run_dir / "cache").exists()
    assert ctr["cache"] == {"passes_from_cache": 1, "row_plans_batch_size": 512}  # pass 2 replayed the plans
    # the recorded log loss is the loss of the saved model on the test file
    from logitkit.predict import HashedLogisticRegression

    model = HashedLogisticRegression.load(str(run_dir / "model"))
    assert model.pass_losses_ == pytest.approx(ctr["pass_losses"])
    assert main(["repro", str(run_dir)]) == 0
    assert "reproduced" in capsys.readouterr().out


def test_ctr_cache_without_row_plans_gives_the_same_model(files):
    folder, cfg = files
    runs = {}
    for keep in ("true", "false"):
        out = folder / f"plans_{keep}"
        assert main(["run", str(cfg), "--set", f"model.options.cache_plans={keep}", "--out", str(out)]) == 0
        runs[keep] = json.loads((next(out.iterdir()) / "record.json").read_text())
    assert runs["false"]["ctr"]["cache"] == {"passes_from_cache": 1, "row_plans_batch_size": None}
    assert runs["true"]["ctr"]["pass_losses"] == runs["false"]["ctr"]["pass_losses"]
    assert runs["true"]["metrics"] == runs["false"]["metrics"]


def test_ctr_config_errors(files, capsys):
    folder, cfg = files
    assert main(["run", str(cfg), "--set", "evaluate.metrics=[accuracy]", "--out", str(folder / "r2")]) == 2
    assert "'accuracy'] are not available for the streamed hashed model" in capsys.readouterr().err
    assert main(["run", str(cfg), "--set", "prep.hashing=null", "--out", str(folder / "r2")]) == 2
    assert "needs prep.hashing" in capsys.readouterr().err
    for key in ("data.test_path", "model.options.holdout_path"):
        assert main(["run", str(cfg), "--set", f"{key}={folder / 'nothere.tsv'}", "--out", str(folder / "r2")]) == 2
        err = capsys.readouterr().err
        assert f"{key}: {folder / 'nothere.tsv'} is not a file; check the path" in err and "Traceback" not in err
    assert not (folder / "r2").exists()


def test_vw_files_get_a_config_error_naming_what_to_do(files, tmp_path, capsys):
    from logitkit.loaddata.vw import write_vw

    table, _ = make_ctr(50, seed=2)
    write_vw(table, tmp_path / "d.vw")
    dense = tmp_path / "dense.yaml"
    dense.write_text("data: {path: d.vw, split: {method: none}}\nmodel: {penalty: l2, alpha: 0.01}\n")
    assert main(["run", str(dense), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "d.vw': a VW text file holds a bag of features per row" in err and "FeatureHasher.transform_vw" in err
    folder, cfg = files
    vw = ["--set", f"data.path={tmp_path / 'd.vw'}", "--out", str(tmp_path / "r")]
    assert main(["run", str(cfg), *vw, "--set", "data.format=auto"]) == 2
    assert "model.kind 'hashed' streams Criteo-layout TSV files" in capsys.readouterr().err
    assert main(["run", str(cfg), *vw]) == 2  # declared criteo: the reader names the line
    assert "d.vw: line 1 has the wrong number of fields (expected 40 fields, got 1)" in capsys.readouterr().err
