"""``torchrun --nproc_per_node=2 -m logitkit run``: same run as one process; a failing or
killed rank stops the job and leaves the run directory marked failed."""
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _spawn import torchrun  # noqa: E402
from logitkit.pipeline.cli import main  # noqa: E402

HERE = Path(__file__).parent
CONFIG = """\
run: {seed: 0}
data:
  dataset: breast_cancer
  split: {method: none}
prep: {standardize: true}
model: {penalty: l2, alpha: 0.01, solver: newton}
evaluate: {metrics: [accuracy, log_loss, roc_auc], inference: true, cov_type: HC1}
interpret: {plots: false, report: false, graph: false}
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    p = tmp_path_factory.mktemp("cfg") / "bc.yaml"
    p.write_text(CONFIG)
    return p


def table(run_dir: Path) -> dict:
    with open(run_dir / "coefficients.csv", newline="") as f:
        return {r["term"]: (float(r["coef"]), float(r["std_err"])) for r in csv.DictReader(f)}


def only_run(out: Path) -> Path:
    runs = list(out.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def test_two_ranks_write_the_same_run_as_one_process(config, tmp_path, capsys):
    assert main(["run", str(config), "--out", str(tmp_path / "one")]) == 0
    one = only_run(tmp_path / "one")
    res = torchrun(["-m", "logitkit", "run", str(config), "--out", str(tmp_path / "two")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    two = only_run(tmp_path / "two")  # rank 0 alone wrote; nothing partial is left
    assert two.name == one.name
    a, b = table(one), table(two)
    assert list(a) == list(b)
    np.testing.assert_allclose([v for v in b.values()], [v for v in a.values()], rtol=1e-6, atol=1e-9)
    ra, rb = (json.loads((d / "record.json").read_text()) for d in (one, two))
    assert rb["status"] == "complete"
    for split in ra["metrics"]:
        for k, v in ra["metrics"][split].items():
            assert rb["metrics"][split][k] == pytest.approx(v, rel=1e-6)
    for k in ("llf", "llnull", "n_obs", "hl_stat"):
        assert rb["model_stats"][k] == pytest.approx(ra["model_stats"][k], rel=1e-9)
    shards = rb["distributed"]["shards"]
    assert rb["distributed"]["world_size"] == 2 and [s["rank"] for s in shards] == [0, 1]
    assert [s["train"]["row_range"] for s in shards] == [[0, 285], [285, 569]]  # a built-in set: rows dealt out
    assert [s["train_rows"] for s in shards] == [285, 284]


@pytest.mark.parametrize("mode", ["raise", "kill"])
def test_a_failing_rank_stops_the_job_and_marks_the_run_failed(config, tmp_path, mode):
    res = torchrun([str(HERE / "_faulty_run.py"), mode, str(config), str(tmp_path)], cwd=tmp_path)
    assert res.returncode != 0, res.stderr[-3000:]
    run = only_run(tmp_path)
    assert run.name.endswith(".failed")
    record = json.loads((run / "record.json").read_text())
    assert record["status"] == "failed"
    if mode == "raise":  # the failing rank's own message, on the console and in the record
        assert "injected failure" in res.stderr
        assert record["error"].startswith("RankFailedError: rank 1: DataError: shard 1: line 7")
    else:
        assert "a rank stopped without a message" in record["error"]
