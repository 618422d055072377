"""Shard helpers (one process, ranks simulated): the parts cover the whole exactly once."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from logitkit._util import dist
from logitkit.evaluate.streaming import AUC, StreamingMetrics
from logitkit.predict import distributed as pd


def as_rank(monkeypatch, r, w):
    monkeypatch.setattr(dist, "rank", lambda: r)
    monkeypatch.setattr(dist, "world_size", lambda: w)


@pytest.mark.parametrize("n,w", [(10, 3), (569, 2), (2, 4), (0, 2)])
def test_shard_range_matches_array_split(n, w):
    parts = [dist.shard_range(n, r, w) for r in range(w)]
    expected = np.array_split(np.arange(n), w)
    assert [list(range(lo, hi)) for lo, hi in parts] == [e.tolist() for e in expected]


def test_parquet_row_groups_and_batches_and_files(tmp_path, monkeypatch):
    t = pa.table({"x": np.arange(1000), "y": np.arange(1000) % 2})
    path = tmp_path / "d.parquet"
    pq.write_table(t, path, row_group_size=128)  # 8 row groups
    files = [tmp_path / f"part-{i}.csv" for i in (3, 1, 2, 0, 4)]
    rows, got_files, got_batches = [], [], []
    for r in range(3):
        as_rank(monkeypatch, r, 3)
        rows += [v for b in pd.shard_parquet(path, batch_rows=100) for v in b.column("x").to_pylist()]
        got_files.append(pd.shard_paths(files))
        got_batches += list(pd.shard_batches(iter(range(10))))
    assert sorted(rows) == t.column("x").to_pylist()  # every row once
    assert sorted(sum(got_files, [])) == sorted(files)
    assert got_files[0] == [tmp_path / "part-0.csv", tmp_path / "part-3.csv"]
    assert sorted(got_batches) == list(range(10))


def test_reduce_metrics_is_identity_in_one_process():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 200), rng.random(200)
    sm = StreamingMetrics().update(y, p)
    assert pd.reduce_metrics(sm).result() == sm.result()
    auc = AUC(n_bins=256).update(y, p)
    assert pd.reduce_metrics(auc).result() == auc.result()
    assert torch.equal(dist.all_reduce_sum(torch.ones(3)), torch.ones(3)) and not dist.is_distributed()
