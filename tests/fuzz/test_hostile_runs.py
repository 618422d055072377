"""`logitkit run` on the files issue 19 found by fuzzing: one stderr line naming the file and
exit 2, or a complete run (plots degrade instead of failing it). Messages pinned."""
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from logitkit.pipeline.cli import main

CFG = "data: {{path: {path}{extra}}}\ninterpret: {{plots: {plots}, report: false, graph: false}}\n"


def _table(n=120, seed=0, cat=None):
    r = random.Random(seed)
    rows = ["x0,x1,c,y"]
    for i in range(n):
        x0, x1 = r.gauss(0, 1), r.gauss(0, 1)
        y = int(r.random() < 1 / (1 + 2.718 ** -(1.5 * x0)))
        rows.append(f"{x0:.3f},{x1:.3f},{cat(i) if cat else r.choice('ab')},{y}")
    return rows


def _run(tmp_path, name, text, capsys, plots=False, extra="", out="runs"):
    data = tmp_path / name
    data.write_bytes(text.encode() if isinstance(text, str) else text)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CFG.format(path=name, extra=extra, plots=str(plots).lower()))
    code = main(["run", str(cfg), "--out", str(tmp_path / out), "-q"])  # (no progress lines: stderr is the error)
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines(), tmp_path / out


def _record(out: Path) -> dict:
    (rec,) = [json.loads(p.read_text()) for p in out.glob("*/record.json")]
    return rec


def test_label_beyond_int64(tmp_path, capsys):
    rows = _table()
    rows[6] = rows[6].rsplit(",", 1)[0] + ",99999999999999999999999"
    code, err, _ = _run(tmp_path, "lab.csv", "\n".join(rows) + "\n", capsys)
    assert code == 2 and err == [
        "logitkit: error: lab.csv: label column 'y' holds 1e+23 at row 6 (line 7 of lab.csv), which is not a class "
        "label; labels are whole numbers (below 2^53) or text: fix the value, or choose the label column with data.label"]


def test_fractional_label(tmp_path, capsys):
    rows = _table()
    rows[9] = rows[9].rsplit(",", 1)[0] + ",0.5"
    code, err, _ = _run(tmp_path, "half.csv", "\n".join(rows) + "\n", capsys)
    assert code == 2 and err[0].startswith("logitkit: error: half.csv: label column 'y' holds 0.5 at row 9 (line 10 of")


def test_two_megabyte_category_value_runs_with_short_plot_labels(tmp_path, capsys):
    """It used to fail the run: 'Image size of 18000593x439 pixels is too large' (odds-ratio plot)."""
    big = "z" * 2_000_000
    rows = _table(cat=lambda i: big if i % 3 == 0 else "a")
    code, err, out = _run(tmp_path, "big.csv", "\n".join(rows) + "\n", capsys, plots=True,
                          extra=", split: {method: none}")
    assert code == 0 and err == []
    rec = _record(out)
    assert rec["status"] == "complete" and not [w for w in rec["warnings"] if "PlotSkipped" in w]
    from PIL import Image

    (run,) = [p.parent for p in out.glob("*/record.json")]
    with Image.open(run / "plots" / "odds_ratios.png") as im:
        assert max(im.size) < 2000


def test_plot_that_cannot_be_drawn_is_skipped_with_a_warning(tmp_path, capsys, monkeypatch):
    import logitkit.interpret.diagnostics as diagnostics

    def broken(*a, **k):
        raise ValueError("Axis limits cannot be NaN or Inf")

    monkeypatch.setattr(diagnostics, "roc_curve", broken)
    code, err, out = _run(tmp_path, "ok.csv", "\n".join(_table()) + "\n", capsys, plots=True)
    assert code == 0 and err == [
        "logitkit: warning: PlotSkippedWarning: roc.png skipped: ValueError: Axis limits cannot be NaN or Inf"]
    rec = _record(out)
    assert rec["status"] == "complete"
    assert "PlotSkippedWarning: roc.png skipped: ValueError: Axis limits cannot be NaN or Inf" in rec["warnings"]
    (run,) = [p.parent for p in out.glob("*/record.json")]
    assert not (run / "plots" / "roc.png").exists() and (run / "plots" / "pr.png").exists()


def test_svmlight_index_1e6_in_200_lines(tmp_path, capsys):
    lines = [f"{i % 2} 1:{i / 10} 2:1" for i in range(200)]
    lines[50] = "1 1000000:1"
    code, err, _ = _run(tmp_path, "w.svm", "\n".join(lines) + "\n", capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"logitkit: error: {tmp_path / 'w.svm'}: line 51: feature index 1000000 would make the "
                             "dense table 1,000,000 columns wide (200 rows x 1,000,000 x 8 bytes = 1.6 GB)")


def test_huge_and_subnormal_feature_values(tmp_path, capsys):
    rows = _table()
    rows[3] = "1e308," + rows[3].split(",", 1)[1]
    code, err, _ = _run(tmp_path, "h.csv", "\n".join(rows) + "\n", capsys)
    assert code == 2 and err == [
        "logitkit: error: h.csv: column 'x0' holds 1e+308 at row 3 (line 4 of h.csv), outside what a fit can use "
        "(0, or a size from 1e-150 to 1e+150, so that its square is a normal float64); fix the value, or rescale "
        "the column"]
    rows = _table()
    rows[5] = rows[5].split(",")[0] + ",inf," + rows[5].split(",", 2)[2]
    code, err, _ = _run(tmp_path, "i.csv", "\n".join(rows) + "\n", capsys)
    assert code == 2 and err[0].startswith("logitkit: error: i.csv: column 'x1' holds infinity (or a number too "
                                           "large for float64) at row 5 (line 6 of i.csv)")


def test_one_class_in_training_rows(tmp_path, capsys):
    rows = ["x,y"] + [f"{i},1" for i in range(30)]
    code, err, _ = _run(tmp_path, "one.csv", "\n".join(rows) + "\n", capsys)
    assert code == 2 and err == [
        "logitkit: error: one.csv: the training rows' label column 'y' holds one class only (1); a classifier needs "
        "two or more: check data.label, or give rows of another class"]


def test_test_label_never_seen_in_training(tmp_path, capsys):
    rows = _table(40)
    (tmp_path / "test.csv").write_text("\n".join(rows[:1] + [rows[1].rsplit(",", 1)[0] + ",7"] + rows[2:10]) + "\n")
    code, err, _ = _run(tmp_path, "train.csv", "\n".join(rows) + "\n", capsys, extra=", test_path: test.csv")
    assert code == 2 and err == [  # (loaddata.labels: the test file checked against the training file's classes)
        "logitkit: error: test.csv: label 'y' has the value '7' at row 1 (line 2 of test.csv), which is not a class "
        "of the training data (['0', '1']); fix or drop that row"]


def test_split_leaves_a_class_in_the_test_rows_only(tmp_path, capsys):
    """A class the split puts in the test rows alone (here: the latest rows of a time split)."""
    r = random.Random(1)
    rows = ["x,t,y"] + [f"{r.gauss(0, 1):.3f},{t},{'c' if t >= 70 else r.choice('ab')}" for t in range(100)]
    code, err, _ = _run(tmp_path, "late.csv", "\n".join(rows) + "\n", capsys,
                        extra=", split: {method: time, time_column: t, test_size: 0.3}")
    assert code == 2 and err == [
        "logitkit: error: late.csv: label 'c' at row 71 (line 72 of late.csv) (a test row) is not among the training "
        "rows' labels ['a', 'b']; a model cannot score a class it never saw: fix the label, or split with "
        "split.method stratified"]


def test_metric_undefined_on_the_test_rows_names_the_file(tmp_path, capsys):
    rows = _table(40)
    test = rows[:1] + [r for r in rows[1:] if r.endswith(",0")][:5]  # one class only: ROC-AUC is not defined
    (tmp_path / "t0.csv").write_text("\n".join(test) + "\n")
    code, err, _ = _run(tmp_path, "train.csv", "\n".join(rows) + "\n", capsys, extra=", test_path: t0.csv")
    assert code == 2 and len(err) == 1
    assert err[0].startswith("logitkit: error: t0.csv (test rows): only one class is present in y_true; ROC-AUC is "
                             "not defined then")


def test_directory_and_dangling_symlink_as_data(tmp_path, capsys):
    (tmp_path / "d.csv").mkdir()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CFG.format(path="d.csv", extra="", plots="false"))
    assert main(["run", str(cfg), "--out", str(tmp_path / "runs"), "-q"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"logitkit: error: {tmp_path / 'd.csv'}: is a directory that holds no Parquet files; data.path must name a "
        "file, or a directory of Parquet files"]
    (tmp_path / "l.csv").symlink_to(tmp_path / "gone.csv")
    cfg.write_text(CFG.format(path="l.csv", extra="", plots="false"))
    assert main(["run", str(cfg), "--out", str(tmp_path / "runs"), "-q"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [  # (paths keep the names given: the link is named)
        f"logitkit: error: {tmp_path / 'l.csv'}: a symbolic link to '{tmp_path / 'gone.csv'}', which does not exist; "
        "point data.path at the file itself"]


CTR = """data: {{path: {path}, format: criteo, split: {{method: none}}}}
prep: {{hashing: {{n_bits: 12}}}}
model: {{kind: hashed}}
evaluate: {{metrics: [log_loss], inference: false}}
interpret: {{plots: false, report: false, graph: false}}
"""


@pytest.mark.parametrize("kind", ["ragged", "random"])
def test_console_script_exits_cleanly_after_a_reader_error(tmp_path, kind):
    """The process must end with the one-line error: no abort ("terminate called without an
    active exception", exit 134) and no "Exception ignored" from a reader thread."""
    from logitkit.loaddata import make_ctr, write_criteo

    p = tmp_path / "d.tsv"
    if kind == "ragged":
        write_criteo(make_ctr(3000, seed=1, max_cardinality=50)[0], p)
        lines = p.read_text().split("\n")
        lines[2500] = "\t".join(lines[2500].split("\t")[:30])
        p.write_text("\n".join(lines))
    else:
        p.write_bytes(random.Random(0).randbytes(5000))
    (tmp_path / "c.yaml").write_text(CTR.format(path="d.tsv"))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "logitkit", "run", "c.yaml", "--out", "runs"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"logitkit: error: {p}: line "), proc.stderr
