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


def test_a_bad_line_in_another_ranks_part_is_named_by_its_line_in_the_file(tmp_path):
    """Rank 1 parses only the second half of the file: its error names the file's line,
    and rank 0, waiting in a collective, stops with rank 1's message."""
    lines = ["a,b,y"] + [f"{i * 0.1},{i % 3},{i % 2}" for i in range(400)]
    lines[350] = "1,2"  # line 351 of the file, in rank 1's byte range
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{path: {tmp_path}/d.csv, label: y, split: {{method: none}}}}\n"
                   "interpret: {plots: false, report: false}\n")
    res = torchrun(["-m", "logitkit", "run", str(cfg), "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert res.returncode != 0
    msg = "d.csv: line 351 has the wrong number of fields (expected 3 fields, got 2)"
    assert f"logitkit: error: {tmp_path}/{msg}" in res.stderr  # rank 1, as one process says it
    assert f"RankFailedError: rank 1: InputFileError: {tmp_path}/{msg}" in res.stderr  # rank 0
