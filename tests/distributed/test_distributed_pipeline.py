"""``torchrun --nproc_per_node=2 -m logitkit run``: a failing or killed rank stops the job and
leaves the run directory marked failed (the runs that succeed: test_distributed_sharded)."""
import json
import re
import sys
import time
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


def no_traceback_of_ours(stderr: str) -> None:
    """No rank printed a traceback (torchrun's own summary of the failed job may follow)."""
    assert not re.search(r'File ".*/logitkit/', stderr), stderr[-3000:]
    assert "[rank0]:" not in stderr and "[rank1]:" not in stderr, stderr[-3000:]


@pytest.mark.parametrize("mode,rank", [("raise", 1), ("kill", 1), ("kill", 0)])
def test_a_failing_rank_stops_the_job_and_marks_the_run_failed(config, tmp_path, mode, rank):
    """The other rank stops within seconds with one line, no traceback; the run is marked
    failed naming the rank that failed first (rank 1 records it when rank 0 was killed)."""
    out, when = tmp_path / "runs", tmp_path / "failed_at"
    res = torchrun([str(HERE / "_faulty_run.py"), mode, str(rank), str(config), str(out)], cwd=tmp_path,
                   env_extra={"FAULT_TIME_FILE": str(when)})
    stopped = time.time() - float(when.read_text())
    assert res.returncode != 0, res.stderr[-3000:]
    assert stopped < 20, stopped  # (from the failure to the launcher's exit, on a shared 2-core machine)
    run = only_run(out)
    assert run.name.endswith(".failed")
    record = json.loads((run / "record.json").read_text())
    assert record["status"] == "failed"
    no_traceback_of_ours(res.stderr)
    errors = [line for line in res.stderr.splitlines() if line.startswith("logitkit: error: ")]
    other = 1 - rank
    if mode == "raise":  # the failing rank's own message, on the console and in the record
        msg = "shard 1: line 7 of the input is malformed (injected failure)"
        assert sorted(errors) == [f"logitkit: error: rank 1: DataError: {msg}", f"logitkit: error: {msg}"]
        assert record["error"] == f"RankFailedError: rank 1: DataError: {msg}"
    else:
        assert len(errors) == 1, errors  # the rank still alive
        said = rf"rank {rank} \(pid \d+ on \S+\) ended without a message \(killed by a signal, or out of memory\?\); "
        assert re.fullmatch(rf"logitkit: error: {said}rank {other} saw: .*|logitkit: error: {said}then rank {other} "
                            r"stopped by the launcher \(SIGTERM\)", errors[0]), errors
        assert re.match(rf"RankFailedError: {said}", record["error"]), record["error"]


@pytest.mark.parametrize("bad,message", [
    (b"1,2", "line 351 has the wrong number of fields (expected 3 fields, got 2)"),
    (b"1,caf\xe9,1", "line 351, byte 6: e9 is not UTF-8 text; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"),
])
def test_a_bad_line_in_the_last_ranks_part_is_named_by_its_line_in_the_file(tmp_path, bad, message):
    """Rank 1 parses only the second half of the file: its error names the file's line,
    and rank 0, waiting in a collective, stops with rank 1's message; no traceback."""
    lines = [b"a,b,y"] + [f"{i * 0.1},{i % 3},{i % 2}".encode() for i in range(400)]
    lines[350] = bad  # line 351 of the file, in rank 1's byte range
    (tmp_path / "d.csv").write_bytes(b"\n".join(lines) + b"\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{path: {tmp_path}/d.csv, label: y, split: {{method: none}}}}\n"
                   "interpret: {plots: false, report: false}\n")
    res = torchrun(["-m", "logitkit", "run", str(cfg), "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert res.returncode != 0
    no_traceback_of_ours(res.stderr)
    errors = sorted(line for line in res.stderr.splitlines() if line.startswith("logitkit: error: "))
    want = f"{tmp_path}/d.csv: {message}"
    assert len(errors) == 2, errors  # rank 1's own, and rank 0's saying it is rank 1's
    assert errors[0].startswith(f"logitkit: error: {want}"), errors
    assert errors[1] == f"logitkit: error: rank 1: InputFileError: {errors[0][len('logitkit: error: '):]}", errors
    assert not (tmp_path / "out").exists()  # it failed reading: no run id, no run directory (as in one process)
