"""_util.progress: what each reporter shows, and when (the command line's own tests are in
tests/pipeline/test_progress_cli.py)."""
import io
import re

import pytest

from logitkit._util import progress


class Clock:
    """A stand-in for time.perf_counter that moves only when told."""

    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progress.time, "perf_counter", c)
    return c


def lines(stream):
    return stream.getvalue().splitlines()


def test_lines_at_doubling_rows_and_never_closer_than_the_interval(clock):
    out = io.StringIO()
    rep = progress.Lines(out, every=3)
    task = rep.task("train", total_bytes=1000, source="train.tsv")
    for rows in range(1, 101):  # one update a second, the running loss constant
        clock.t += 1
        task.update(rows=rows * 1000, bytes=rows * 10, loss=0.5)
    task.close()
    got = lines(out)
    counts = [int(re.search(r"train: ([\d,]+) rows", g).group(1).replace(",", "")) for g in got]
    assert counts[:-1] == [3000, 6000, 12000, 24000, 48000, 96000]  # doubling, the first after 3 s
    assert counts[-1] == 100000 and got[-1].endswith("done in 100.0 s")
    assert got[0] == ("logitkit: train: 3,000 rows, average loss 0.5000, since last 0.5000, 1,000 rows/s, "
                      "3% of train.tsv read")


def test_lines_since_last_is_the_loss_of_the_rows_since_the_last_line(clock):
    out = io.StringIO()
    task = progress.Lines(out, every=0).task("train")
    clock.t += 1
    task.update(rows=100, loss=1.0)   # 100 rows at 1.0
    clock.t += 1
    task.update(rows=300, loss=0.5)   # then 200 rows at 0.25: mean (100 + 50) / 300
    first, second = lines(out)
    assert "average loss 1.0000, since last 1.0000" in first
    assert "average loss 0.5000, since last 0.2500" in second


def test_a_short_task_prints_nothing(clock):
    out = io.StringIO()
    rep = progress.Lines(out, every=3)
    task = rep.task("test")
    clock.t += 1
    task.update(rows=10, loss=0.3)
    task.close()
    rep.stage("predict")
    rep.step("lbfgs iteration 1")
    assert out.getvalue() == ""


def test_dense_steps_are_lines_at_most_every_interval(clock):
    out = io.StringIO()
    rep = progress.Lines(out, every=3)
    rep.stage("predict")
    for it in range(10):
        clock.t += 1
        rep.step(f"lbfgs iteration {it}, objective 0.5")
    assert lines(out) == ["logitkit: predict: lbfgs iteration 2, objective 0.5",
                          "logitkit: predict: lbfgs iteration 5, objective 0.5",
                          "logitkit: predict: lbfgs iteration 8, objective 0.5"]


def test_the_reporter_for_a_stream_and_use():
    assert type(progress.for_stream(io.StringIO())) is progress.Lines
    assert type(progress.for_stream(io.StringIO(), quiet=True)) is progress.Silent
    assert type(progress.current()) is progress.Silent  # a library call shows nothing
    rep = progress.Lines(io.StringIO())
    with progress.use(rep):
        assert progress.current() is rep
    assert type(progress.current()) is progress.Silent


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_live_draws_a_line_per_task_with_rows_share_rate_loss():
    out = Terminal()
    rep = progress.for_stream(out)
    assert type(rep) is progress.Live
    with progress.use(rep):
        with rep.task("train", total_bytes=200, source="train.tsv") as task:
            task.update(rows=5000, bytes=100, loss=0.4321)
        rep.stage("predict")
        rep.step("lbfgs iteration 3, objective 0.25")
        rep.bar.refresh()  # (what its refresh thread does 8 times a second)
    text = out.getvalue()
    assert "train" in text and "5,000 rows" in text and "rows/s" in text and "loss 0.4321" in text
    assert "lbfgs iteration 3" in text and "predict" in text
