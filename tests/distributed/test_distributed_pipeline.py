"""``torchrun --nproc_per_node=2 -m logitkit run``: a failing or killed rank stops the job and
leaves the run directory marked failed (the runs that succeed: test_distributed_sharded)."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _spawn import torchrun  # noqa: E402

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


def only_run(out: Path) -> Path:
    runs = list(out.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


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
