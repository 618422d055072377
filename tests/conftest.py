"""Fixtures shared by the test files (pytest finds them here; no import needed).

One section per concern; each fixture says what it is for.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

from logitkit._util.collective import Collective
from logitkit.loaddata.criteo import write_criteo
from logitkit.loaddata.synthetic import make_ctr


# ---------------------------------------------------------------- general
@pytest.fixture(scope="module")
def one_thread():
    """torch on one thread for a module's tests, restored afterwards: small fits are not
    faster on more threads, and the results do not depend on the machine's core count.
    Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# ---------------------------------------------------------------- ranks of a job, in threads
class _ThreadCollective(Collective):
    """A ``Collective`` over W threads of this process, exchanging through memory: the
    stages' general code runs on simulated ranks without ``torchrun``."""

    def __init__(self, rank: int, world: int, slots: list, barrier: threading.Barrier) -> None:
        self.rank, self.world_size, self.backend = rank, world, "threads"
        self._slots, self._barrier = slots, barrier

    def all_gather(self, obj) -> list:
        self._slots[self.rank] = obj
        self._barrier.wait()
        out = list(self._slots)
        self._barrier.wait()  # every rank has read before the next exchange writes
        return out

    def gather(self, obj, dst: int = 0):
        out = self.all_gather(obj)
        return out if self.rank == dst else None

    def broadcast(self, obj, src: int = 0):
        return self.all_gather(obj)[src]

    def barrier(self) -> None:
        self._barrier.wait()

    def _reduce(self, t: torch.Tensor, op: str) -> torch.Tensor:
        stacked = torch.stack(self.all_gather(t.detach().clone()))
        return stacked.sum(0) if op == "sum" else stacked.max(0).values


@pytest.fixture
def thread_ranks():
    """``run(fn, world=2)``: ``[fn(coll) of rank 0, fn(coll) of rank 1, ...]``, each rank a
    thread with its ``Collective``; a rank's exception is raised (the others stop at the
    next exchange)."""
    def run(fn, world: int = 2) -> list:
        slots, barrier = [None] * world, threading.Barrier(world, timeout=60)
        results, errors = [None] * world, []

        def rank(r: int) -> None:
            try:
                results[r] = fn(_ThreadCollective(r, world, slots, barrier))
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                errors.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=rank, args=(r,)) for r in range(world)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0])
        return results

    return run


# ----------------------------------------------------------------------------- CTR data
# Generated Criteo-layout files (label, I1..I13, C1..C26) with a known logistic truth,
# for the streamed CTR path (tests/predict/test_hashed_stream.py, tests/pipeline/test_ctr_run.py,
# tests/cuda). One generator, made once per session for each set of arguments.
class CTRFiles(NamedTuple):
    folder: Path  # holds train.tsv and test.tsv
    train: Path
    test: Path
    table: object  # the generated loaddata.Table, train rows first
    truth: object  # make_ctr's ground truth (.prob: every row's true P(click))


@pytest.fixture(scope="session")
def ctr_files(tmp_path_factory):
    """``make(n_train, n_test, seed=0, **make_ctr_options) -> CTRFiles``: the first
    ``n_train`` rows of ``make_ctr(n_train + n_test, seed, ...)`` in train.tsv, the rest in
    test.tsv (one ground truth for both)."""
    made: dict = {}

    def make(n_train: int, n_test: int, seed: int = 0, **options) -> CTRFiles:
        key = (n_train, n_test, seed, tuple(sorted(options.items())))
        if key not in made:
            folder = tmp_path_factory.mktemp("ctr")
            table, truth = make_ctr(n_train + n_test, seed=seed, **options)
            write_criteo(table.data.slice(0, n_train), folder / "train.tsv")
            write_criteo(table.data.slice(n_train), folder / "test.tsv")
            made[key] = CTRFiles(folder, folder / "train.tsv", folder / "test.tsv", table, truth)
        return made[key]

    return make


@pytest.fixture(scope="session")
def ctr_config():
    """``ctr_config(folder, batch_rows=, n_bits=, model=)`` writes ``folder/ctr.yaml`` (below)."""
    return write_ctr_config


def write_ctr_config(folder, *, batch_rows: int, n_bits: int, model: str) -> None:
    """``folder/ctr.yaml``: a hashed run of ``folder``'s train.tsv and test.tsv (no split,
    log loss and AUC, no inference); ``model`` is the YAML flow mapping of its model section."""
    (folder / "ctr.yaml").write_text(
        f"data: {{path: train.tsv, test_path: test.tsv, format: criteo, batch_rows: {batch_rows}, split: {{method: none}}}}\n"
        f"prep: {{hashing: {{n_bits: {n_bits}}}}}\nmodel: {model}\n"
        "evaluate: {metrics: [log_loss, roc_auc], inference: false}\n")
