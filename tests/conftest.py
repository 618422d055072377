"""Fixtures shared by the test folders."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from logitkit.loaddata.criteo import write_criteo
from logitkit.loaddata.synthetic import make_ctr


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
