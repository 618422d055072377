"""Progress of the long stages, shown the way the place it goes to can show it.

The stages report, the door chooses how it is shown (``logitkit`` picks one reporter
for the whole command and installs it with ``use``; a library call gets ``Silent``):

    with progress.current().task("train", total_bytes=size, unit="rows", source="train.tsv") as t:
        for batch in stream:
            ...
            t.update(rows=n_done, bytes=n_read, loss=mean_loss_so_far)
    progress.current().stage("prepdata")                       # the dense path's stages
    progress.current().step("lbfgs iteration 12, objective 0.3412")   # and what they do

* ``Silent``: nothing (a library call, ``--quiet``, the ranks > 0 of a torchrun job).
* ``Lines`` (stderr is not a terminal: CI, a pipe, a log file): Vowpal Wabbit's table,
  one line when the rows reach a doubling of the last line's count (rows, average loss,
  the loss since the last line, rows/s, share of the file read), never two lines less
  than ``LOGITKIT_PROGRESS_SECONDS`` (default 3) apart, and a closing line for a task
  that took longer than that. A dense stage's step is a line at most that often. A run
  shorter than that prints nothing.
* ``Live`` (stderr is a terminal): one live line per task (rich): rows, bytes read as a
  percentage of the file, rows/s, the running loss and the time left; for the dense
  path, the stage and its current step (solver iteration, cross-validation fold).

Reporting is cheap (a few attribute writes), so a stage may report every batch.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import TextIO

_SECONDS_VAR = "LOGITKIT_PROGRESS_SECONDS"


class Task:
    """One long stage's counters: ``rows`` done, ``bytes`` read of ``total_bytes``, a running ``loss``."""

    def __init__(self, reporter: "Silent", name: str, total_bytes: int | None, unit: str, source: str | None):
        self.reporter, self.name, self.unit, self.source = reporter, name, unit, source
        self.total_bytes = total_bytes if total_bytes else None
        self.rows, self.bytes, self.loss = 0, 0, None
        self.start = time.perf_counter()
        self.closed = False

    def update(self, rows: int | None = None, bytes: int | None = None, loss: float | None = None) -> None:
        """Set the counters (absolute values, not increments)."""
        if rows is not None:
            self.rows = int(rows)
        if bytes is not None:
            self.bytes = int(bytes)
        if loss is not None:
            self.loss = float(loss)
        self.reporter.changed(self)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    @property
    def rate(self) -> float:
        """Rows (or the unit) per second so far."""
        return self.rows / max(self.seconds, 1e-9)

    @property
    def fraction(self) -> float | None:
        """Share of the file read, when its size is known."""
        return min(self.bytes / self.total_bytes, 1.0) if self.total_bytes else None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.reporter.done(self)

    def __enter__(self) -> "Task":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Silent:
    """Shows nothing: what a library call and ``--quiet`` get."""

    def task(self, name: str, total_bytes: int | None = None, unit: str = "rows", source: str | None = None) -> Task:
        return Task(self, name, total_bytes, unit, source)

    def stage(self, name: str) -> None:
        """A stage of the dense path begins."""

    def step(self, text: str) -> None:
        """What the current stage is doing (solver iteration, cross-validation fold)."""

    def changed(self, task: Task) -> None:
        pass

    def done(self, task: Task) -> None:
        pass

    def close(self) -> None:
        pass


def _count(n: float) -> str:
    return f"{n:,.0f}"


class Lines(Silent):
    """VW's progress table as log lines on a stream that is not a terminal (see module doc)."""

    def __init__(self, stream: TextIO, every: float | None = None):
        self.stream = stream
        self.every = float(os.environ.get(_SECONDS_VAR, "3") if every is None else every)
        self.last = time.perf_counter()  # the last line (or the start): lines are >= every apart
        self.stage_name: str | None = None
        self._mark: dict[int, tuple[int, float]] = {}  # task -> (rows, loss sum) at its last line

    def _print(self, text: str) -> None:
        self.stream.write(f"logitkit: {text}\n")
        self.stream.flush()
        self.last = time.perf_counter()

    def _line(self, task: Task, final: bool) -> str:
        rows0, sum0 = self._mark.get(id(task), (0, 0.0))
        parts = [f"{task.name}: {_count(task.rows)} {task.unit}"]
        if task.loss is not None:
            total = task.loss * task.rows
            parts.append(f"average loss {task.loss:.4f}")
            if not final and task.rows > rows0:
                parts.append(f"since last {(total - sum0) / (task.rows - rows0):.4f}")
            self._mark[id(task)] = (task.rows, total)
        else:
            self._mark[id(task)] = (task.rows, 0.0)
        parts.append(f"{_count(task.rate)} {task.unit}/s")
        if task.fraction is not None and not final:
            parts.append(f"{100 * task.fraction:.0f}% of {task.source or 'the file'} read")
        if final:
            parts.append(f"done in {task.seconds:.1f} s")
        return ", ".join(parts)

    def changed(self, task: Task) -> None:
        rows0 = self._mark.get(id(task), (0, 0.0))[0]
        if task.rows >= max(2 * rows0, 1) and time.perf_counter() - self.last >= self.every:
            self._print(self._line(task, final=False))

    def done(self, task: Task) -> None:
        if task.seconds >= self.every:
            self._print(self._line(task, final=True))
        self._mark.pop(id(task), None)

    def stage(self, name: str) -> None:
        self.stage_name = name

    def step(self, text: str) -> None:
        if time.perf_counter() - self.last >= self.every:
            self._print(f"{self.stage_name}: {text}" if self.stage_name else text)


class Live(Silent):
    """A live line per task on a terminal, drawn by rich (see module doc)."""

    def __init__(self, stream: TextIO):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn

        self.console = Console(file=stream)
        self.bar = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(bar_width=24),
                            TextColumn("{task.fields[read]}"), TextColumn("{task.fields[what]}"),
                            TimeRemainingColumn(), console=self.console, transient=False, refresh_per_second=8,
                            redirect_stdout=False, redirect_stderr=False)
        self.bar.start()
        self.ids: dict[int, int] = {}
        self.stage_id: int | None = None
        self.stage_name: str | None = None

    @staticmethod
    def _what(task: Task) -> str:
        text = f"{_count(task.rows)} {task.unit}  {_count(task.rate)} {task.unit}/s"
        return text + (f"  loss {task.loss:.4f}" if task.loss is not None else "")

    def changed(self, task: Task) -> None:
        fields = {"read": f"{100 * task.fraction:3.0f}%" if task.fraction is not None else "",
                  "what": self._what(task)}
        key = id(task)
        if key not in self.ids:
            self.ids[key] = self.bar.add_task(task.name, total=task.total_bytes, **fields)
        self.bar.update(self.ids[key], completed=task.bytes if task.total_bytes else None, **fields)

    def done(self, task: Task) -> None:
        self.changed(task)
        key = self.ids.pop(id(task))
        fields = {"read": "", "what": self._what(task) + f"  {task.seconds:.1f} s"}
        self.bar.update(key, total=1, completed=1, **fields)
        self.bar.stop_task(key)

    def stage(self, name: str) -> None:
        self.stage_name = name
        if self.stage_id is None:
            self.stage_id = self.bar.add_task(name, total=None, read="", what="")
        self.bar.update(self.stage_id, description=name, what="")

    def step(self, text: str) -> None:
        if self.stage_id is None:
            self.stage(self.stage_name or "run")
        self.bar.update(self.stage_id, what=text)

    def close(self) -> None:
        if self.bar is None:
            return
        if self.stage_id is not None:
            self.bar.update(self.stage_id, total=1, completed=1, what="done")
        self.bar.stop()
        self.bar = None


_current: Silent = Silent()


def current() -> Silent:
    """The reporter the stages report to (``Silent`` unless a door installed another)."""
    return _current


def for_stream(stream: TextIO | None = None, quiet: bool = False) -> Silent:
    """The reporter for ``stream`` (default stderr): ``Silent`` when ``quiet``, ``Live``
    on a terminal, ``Lines`` elsewhere."""
    stream = sys.stderr if stream is None else stream
    if quiet:
        return Silent()
    isatty = getattr(stream, "isatty", lambda: False)
    return Live(stream) if isatty() else Lines(stream)


def finish() -> None:
    """Close the current reporter (a live display is stopped and left as it is), so that
    what the command prints next comes after it; later reports show nothing."""
    global _current
    _current.close()
    _current = Silent()


@contextmanager
def use(reporter: Silent):
    """Install ``reporter`` for the stages while the block runs; closed after it."""
    global _current
    before, _current = _current, reporter
    try:
        yield reporter
    finally:
        _current = before
        reporter.close()
