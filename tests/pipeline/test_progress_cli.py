"""Progress of `logitkit run` and `logitkit predict` as a user sees it: through a pipe (a
log line at doubling rows), through a pseudo-terminal (rich's live line), silenced by
--quiet; stdout stays the command's result, its last line the run directory."""
import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def logitkit(args, cwd, seconds="0", stderr=subprocess.PIPE):
    env = {**os.environ, "LOGITKIT_PROGRESS_SECONDS": seconds, "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "logitkit", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=stderr, text=True, timeout=300)


@pytest.fixture(scope="module")
def ctr(ctr_files, ctr_config):
    folder = ctr_files(40_000, 6_000, seed=3).folder
    ctr_config(folder, batch_rows=2048, n_bits=18,
                model="{kind: hashed, learning_rate: 0.2, batch_size: 512, options: {l1: 0.1, l2: 1.0}}")
    return folder


def test_through_a_pipe_vw_table_lines_and_stdout_unchanged(ctr):
    proc = logitkit(["run", "ctr.yaml", "--out", "runs_pipe"], ctr)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0].startswith("train: progressive_log_loss") and out[1].startswith(" test: log_loss")
    run_dir = ctr / out[-1]
    assert len(out) == 3 and run_dir.is_dir() and (run_dir / "record.json").is_file()
    err = proc.stderr.splitlines()
    train = [e for e in err if e.startswith("logitkit: train: ")]
    rows = [int(re.search(r"train: ([\d,]+) rows", e).group(1).replace(",", "")) for e in train]
    assert rows[-1] == 40_000 and train[-1].endswith(re.search(r"done in .* s$", train[-1]).group(0))
    assert all(b >= 2 * a for a, b in zip(rows, rows[1:-1]))  # at doubling row counts
    first = train[0]
    assert re.match(r"logitkit: train: [\d,]+ rows, average loss 0\.\d{4}, since last 0\.\d{4}, [\d,]+ rows/s, "
                    r"\d+% of train\.tsv read$", first), first
    assert any(e.startswith("logitkit: test: 6,000 rows, average loss") for e in err)
    assert all(e.startswith("logitkit: ") for e in err)


def test_through_a_pseudo_terminal_a_live_line(ctr):
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "logitkit", "run", "ctr.yaml", "--out", "runs_pty"], cwd=ctr,
                            env=env, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    screen = b""
    while True:  # read the terminal until the command closes it
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        screen += chunk
    out = proc.stdout.read()
    assert proc.wait(timeout=120) == 0
    os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", "replace"))
    assert "\x1b[" in screen.decode("utf-8", "replace")  # drawn in place, not a log
    assert "train" in text and "40,000 rows" in text and "rows/s" in text and re.search(r"loss 0\.\d{4}", text)
    assert re.search(r"\b100%", text) and "test" in text
    assert (ctr / out.splitlines()[-1]).is_dir()


def test_quiet_shows_nothing_and_a_short_run_no_line(ctr):
    quiet = logitkit(["run", "ctr.yaml", "--out", "runs_quiet", "--quiet"], ctr)
    assert quiet.returncode == 0 and quiet.stderr == ""
    short = logitkit(["run", "ctr.yaml", "--out", "runs_quiet", "--force"], ctr, seconds="600")
    assert short.returncode == 0 and short.stderr == ""  # (no line before LOGITKIT_PROGRESS_SECONDS)
    assert short.stdout.splitlines()[-1] == quiet.stdout.splitlines()[-1]


def test_hashed_predict_reports_its_progress(ctr):
    run = logitkit(["run", "ctr.yaml", "--out", "runs_predict", "-q"], ctr)
    run_dir = run.stdout.splitlines()[-1]
    proc = logitkit(["predict", run_dir, "test.tsv", "-o", "scores.csv", "--force"], ctr)
    assert proc.returncode == 0 and proc.stdout.strip() == "scores.csv"
    assert re.search(r"^logitkit: predict: 6,000 rows, [\d,]+ rows/s, done in", proc.stderr, re.M), proc.stderr


def test_the_dense_path_reports_its_stage_and_solver_steps(tmp_path):
    cfg = tmp_path / "bc.yaml"
    cfg.write_text("data: {dataset: breast_cancer}\nprep: {standardize: true}\n"
                   "model: {penalty: l2, alpha: 0.001, solver: lbfgs}\n"
                   "evaluate: {metrics: [accuracy], cv: {folds: 3}}\ninterpret: {plots: false, report: false}\n")
    proc = logitkit(["run", str(cfg), "--out", "runs"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^logitkit: predict: lbfgs iteration \d+, objective ", proc.stderr, re.M), proc.stderr
    assert re.search(r"^logitkit: evaluate: cross-validation fold 1/3$", proc.stderr, re.M), proc.stderr
    record = json.loads((tmp_path / proc.stdout.splitlines()[-1] / "record.json").read_text())
    assert record["status"] == "complete"
