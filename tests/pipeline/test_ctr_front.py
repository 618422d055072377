"""A CTR `logitkit run` as a user meets it: the run id from the pass that reads the files,
a repeated command refused before reading, the path rule, the threads, the record and
report a person reads (issue 13)."""
import json
import os
from pathlib import Path

import pytest

from logitkit.pipeline import ctr_files
from logitkit.pipeline.cli import main
from logitkit.pipeline.config_load import load_config, resolved_dict
from logitkit.pipeline.record import run_id

CONFIG = ("data: {path: train.tsv, test_path: test.tsv, format: criteo, batch_rows: 2048, split: {method: none}}\n"
          "prep: {hashing: {n_bits: 16}}\n"
          "model: {kind: hashed, learning_rate: 0.2, batch_size: 256, options: {l1: 0.1, l2: 1.0}}\n"
          "evaluate: {metrics: [log_loss, roc_auc], inference: false}\n")


@pytest.fixture(scope="module")
def made(ctr_files):
    folder = ctr_files(12_000, 3_000, seed=4).folder
    (folder / "ctr.yaml").write_text(CONFIG)
    return folder


def one_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    return run


def test_the_run_id_is_the_content_fingerprint_read_in_the_same_pass(made, capsys):
    out = made / "runs_id"
    assert main(["run", str(made / "ctr.yaml"), "--out", str(out), "-q"]) == 0
    run = one_run(out)
    record = json.loads((run / "record.json").read_text())
    cfg = load_config(made / "ctr.yaml", [f"run.out={out}"])
    before = ctr_files.fingerprints(cfg)  # the files read once more, beforehand (as a torchrun job does)
    assert record["data"] == before
    assert run.name == record["run_id"] == run_id(resolved_dict(cfg), before)
    assert record["inputs"]["train"]["size"] == (made / "train.tsv").stat().st_size


def test_a_repeated_command_is_refused_before_reading(made, monkeypatch, capsys):
    out = made / "runs_again"
    assert main(["run", str(made / "ctr.yaml"), "--out", str(out), "-q"]) == 0
    first = one_run(out)
    capsys.readouterr()
    from logitkit.loaddata.ctr_stream import CTRStream

    def never(self):
        raise AssertionError("the file was read")

    monkeypatch.setattr(CTRStream, "__iter__", never)
    assert main(["run", str(made / "ctr.yaml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"logitkit: error: {first} already exists (a run of this same config and data); pass --force to "
                   "replace it, or --out DIR to write elsewhere")
    assert sorted(p.name for p in out.iterdir()) == [first.name]


def test_same_content_new_mtime_is_read_then_refused_and_nothing_is_left(made, tmp_path, capsys):
    for name in ("train.tsv", "test.tsv", "ctr.yaml"):
        (tmp_path / name).write_bytes((made / name).read_bytes())
    out = tmp_path / "runs"
    assert main(["run", str(tmp_path / "ctr.yaml"), "--out", str(out), "-q"]) == 0
    first = one_run(out)
    stamp = (first / "record.json").stat().st_mtime_ns
    os.utime(tmp_path / "train.tsv", ns=(1, 1))  # the same bytes, another modification time
    capsys.readouterr()
    assert main(["run", str(tmp_path / "ctr.yaml"), "--out", str(out), "-q"]) == 2
    assert f"{first} already exists" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == [first.name]  # no partial or failed directory
    assert (first / "record.json").stat().st_mtime_ns == stamp  # the run that was there is untouched


def test_the_record_and_the_report_a_person_reads(made, capsys):
    out = made / "runs_report"
    assert main(["run", str(made / "ctr.yaml"), "--out", str(out), "-q"]) == 0
    run = one_run(out)
    ctr = json.loads((run / "record.json").read_text())["ctr"]
    rows = [r for r, _ in ctr["loss_curve"]]
    assert rows[0] == 256 and rows[-1] == 12_000 and rows == sorted(set(rows)) and len(rows) > 10
    assert ctr["loss_curve"][-1][1] == pytest.approx(ctr["progressive_log_loss"])
    (train,) = ctr["throughput"]["train"]
    (test,) = ctr["throughput"]["test"]
    assert (train["read"], train["rows"], test["rows"]) == ("text", 12_000, 3_000) and train["rows_per_s"] > 0
    assert ctr["cache"] is None  # one pass: nothing to cache
    assert sorted(p.name for p in (run / "plots").iterdir()) == ["calibration.svg", "loss_progressive.svg", "roc.svg"]
    assert all((run / "plots" / p).read_text().startswith("<svg") for p in os.listdir(run / "plots"))
    html = (run / "report.html").read_text()
    assert "config.yaml not found" not in html and "kind: hashed" in html  # the config section
    for text in ('id="ctr"', "Top weights", "Hash collisions", "Passes and rows/s", "occupied_buckets",
                 "Progressive log loss by rows seen", "ROC curve", "Reliability", "sha256"):
        assert text in html, text


def test_two_passes_plot_each_pass_and_say_what_the_cache_did(made):
    out = made / "runs_two"
    assert main(["run", str(made / "ctr.yaml"), "--set", "model.options.n_passes=2", "--out", str(out), "-q"]) == 0
    run = one_run(out)
    ctr = json.loads((run / "record.json").read_text())["ctr"]
    assert [p["read"] for p in ctr["throughput"]["train"]] == ["text", "cache"]
    assert ctr["cache"] == {"passes_from_cache": 1, "row_plans_batch_size": 256}
    assert (run / "plots" / "loss_passes.svg").is_file()


def test_the_path_rule_for_every_kind(made, tmp_path, monkeypatch, capsys):
    # a relative path in the file: from the config's folder, wherever the command runs
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(made / "ctr.yaml"), "--out", "r1", "-q"]) == 0
    # on the command line: from the current folder (the README's command, files in the current folder)
    elsewhere = tmp_path / "configs"
    elsewhere.mkdir()
    (elsewhere / "ctr.yaml").write_text(CONFIG)
    monkeypatch.chdir(made)
    cfg = load_config(elsewhere / "ctr.yaml", ["data.path=train.tsv", "data.test_path=test.tsv",
                                               "model.options.holdout_path=test.tsv"])
    assert (cfg.data.path, cfg.data.test_path) == (str(made / "train.tsv"), str(made / "test.tsv"))
    assert cfg.model.options["holdout_path"] == str(made / "test.tsv")
    assert main(["run", str(elsewhere / "ctr.yaml"), "--set", "data.path=train.tsv", "--set", "data.test_path=test.tsv",
                 "--out", str(tmp_path / "r2"), "-q"]) == 0
    # a missing file: one line naming it and the rule, exit 2, for the hashed and the dense kind
    (elsewhere / "dense.yaml").write_text("data: {path: d.csv, split: {method: none}}\nmodel: {penalty: l2}\n")
    capsys.readouterr()
    for config in ("ctr.yaml", "dense.yaml"):
        assert main(["run", str(elsewhere / config), "--set", "data.path=nothere.tsv" if config == "ctr.yaml"
                     else "data.path=nothere.csv", "--out", str(tmp_path / "r3")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(made / "nothere") in err and "Traceback" not in err
        assert "at the current folder when given with --set" in err
    assert not (tmp_path / "r3").exists()


def test_threads_one_for_the_ctr_kernels_unless_the_user_says(made, monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        for extra, want in (([], 1), (["--set", "run.threads=2"], 2)):
            out = made / f"runs_threads_{want}"
            assert main(["run", str(made / "ctr.yaml"), "--out", str(out), "-q", *extra]) == 0
            assert json.loads((one_run(out) / "record.json").read_text())["environment"]["torch_threads"] == want
        from logitkit._util.threads import set_intra_op_threads

        torch.set_num_threads(2)
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert set_intra_op_threads(None, small_kernels=True) == 2  # the user's variable wins
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert set_intra_op_threads(None, small_kernels=True) == 1
        assert set_intra_op_threads(3, small_kernels=True) == 3
    finally:
        torch.set_num_threads(before)


def test_reading_begun_before_torch_in_a_worker_gives_the_same_run(made, monkeypatch):
    """model.options.prefetch: process: the files' first passes are parsed and hashed by a
    worker process forked before torch is imported, spooled on disk (loaddata.Spool)."""
    import tempfile

    from logitkit.pipeline import runner

    begun = []
    real = runner._read_early
    monkeypatch.setattr(runner, "_read_early", lambda *a: begun.append(real(*a)) or begun[-1])
    records = {}
    for mode in ("thread", "process"):
        out = made / f"runs_prefetch_{mode}"
        for passes in (1, 2):
            assert main(["run", str(made / "ctr.yaml"), "--set", f"model.options.prefetch={mode}", "--set",
                         f"model.options.n_passes={passes}", "--out", str(out), "-q"]) == 0
        records[mode] = sorted((json.loads((r / "record.json").read_text()) for r in out.iterdir()),
                               key=lambda r: len(r["ctr"]["pass_losses"]))
    assert [b is not None for b in begun] == [False, False, True, True]
    for a, b in zip(records["thread"], records["process"]):
        assert a["metrics"] == b["metrics"] and a["data"] == b["data"]  # the same model, the same digests
        assert a["ctr"]["pass_losses"] == b["ctr"]["pass_losses"] and a["ctr"]["cache"] == b["ctr"]["cache"]
        assert a["ctr"]["top_weights"] == b["ctr"]["top_weights"]
        reads = [[p["read"] for p in r["ctr"]["throughput"]["train"]] for r in (a, b)]
        assert reads[0] == reads[1] == ["text", "cache"][: len(a["ctr"]["pass_losses"])]
    assert not list(Path(tempfile.gettempdir()).glob("logitkit-ctr-*"))  # the spool and the cache are gone
