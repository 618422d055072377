"""The run's fingerprint covers exactly the bytes read: an input file that changes while the
run reads it (here: appended to between the parse and the hash, or during the streamed
fit) stops the run with one line naming it, and no complete run directory is written."""
import json
import os
import shutil

import pytest

from logitkit.pipeline.cli import main
from logitkit.pipeline.watch import InputChangedError, InputWatch


def test_a_file_appended_to_between_the_parse_and_the_hash(tmp_path, monkeypatch, capsys):
    data = tmp_path / "d.csv"
    data.write_text("x,y\n" + "".join(f"{i / 10},{i % 2}\n" for i in range(40)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{path: {data}, label: y}}\ninterpret: {{plots: false, graph: false, report: false}}\n")
    from logitkit.loaddata import delimited

    real = delimited.file_sha256

    def hash_after_an_append(path):  # the writer appends 2 rows after the rows were parsed
        with open(data, "a") as f:
            f.write("9.9,1\n9.8,0\n")
        return real(path)

    monkeypatch.setattr(delimited, "file_sha256", hash_after_an_append)
    size = data.stat().st_size
    assert main(["run", str(cfg), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"logitkit: error: {data}: changed while the run read and fingerprinted it ({size:,} bytes before, "
                   f"{size + 12:,} now), so the run's fingerprint would not name the bytes the model saw; run again "
                   "once the file is complete (copy it first if something keeps writing it)")
    assert not (tmp_path / "runs").exists()  # stopped before the run directory is begun
    monkeypatch.setattr(delimited, "file_sha256", real)
    assert main(["run", str(cfg), "--out", str(tmp_path / "runs")]) == 0  # a file at rest runs


def test_a_streamed_file_appended_to_during_the_fit(ctr_files, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "ctr"
    shutil.copytree(ctr_files(3000, 1000, seed=2).folder, folder)
    cfg = folder / "ctr.yaml"
    cfg.write_text("data: {path: train.tsv, test_path: test.tsv, format: criteo, label: label, batch_rows: 1000,"
                   " split: {method: none}}\nprep: {hashing: {n_bits: 14, seed: 0}}\n"
                   "model: {kind: hashed, batch_size: 256, options: {prefetch: false}}\n"
                   "evaluate: {metrics: [log_loss], inference: false}\ninterpret: {plots: false, report: false}\n")
    from logitkit.predict.online.learner import HashedLogisticRegression

    real = HashedLogisticRegression.fit
    line = (folder / "train.tsv").open().readline()

    def fit_while_appended(self, stream, *args, **kwargs):
        with open(folder / "train.tsv", "a") as f:
            f.write(line)
        return real(self, stream, *args, **kwargs)

    monkeypatch.setattr(HashedLogisticRegression, "fit", fit_while_appended)
    assert main(["run", str(cfg), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"logitkit: error: {folder / 'train.tsv'}: changed while the run read it (")
    (failed,) = (tmp_path / "runs").iterdir()
    assert failed.name.endswith(".failed")
    assert json.loads((failed / "record.json").read_text())["error"].startswith("InputChangedError: ")


def test_what_the_watch_tells_apart(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("x\n1\n")
    w = InputWatch([f, None])
    w.check()
    os.utime(f, ns=(1, 1_700_000_000_123_000_000))
    with pytest.raises(InputChangedError, match=r"a.csv: changed while the run read it \(it was rewritten at "
                                                r"2023-11-14T22:13:20.123\+00:00\)"):
        w.check()
    w = InputWatch([f])
    f.unlink()
    f.write_text("x\n1\n")  # the same bytes, another file
    with pytest.raises(InputChangedError, match=r"\(it was replaced by another file\)|\(it was rewritten at"):
        w.check()
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "p0.parquet").write_bytes(b"x")
    w = InputWatch([folder])
    (folder / "p1.parquet").write_bytes(b"y")
    with pytest.raises(InputChangedError, match=r"p1.parquet: changed while the run read it \(a file appeared in the "
                                                r"input folder\)"):
        w.check()
