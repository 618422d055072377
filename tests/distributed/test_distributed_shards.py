"""Shard helpers (one process, ranks simulated): the parts cover the whole exactly once."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from logitkit._util import dist
from logitkit._util.collective import Collective
from logitkit.evaluate.streaming import AUC, StreamingMetrics, reduce_metrics
from logitkit.loaddata import roundrobin


def as_rank(r, w) -> Collective:
    """A collective that says it is rank r of w (nothing is exchanged: the helpers only deal)."""
    coll = Collective()
    coll.rank, coll.world_size = r, w
    return coll


@pytest.mark.parametrize("n,w", [(10, 3), (569, 2), (2, 4), (0, 2)])
def test_shard_range_matches_array_split(n, w):
    parts = [dist.shard_range(n, r, w) for r in range(w)]
    expected = np.array_split(np.arange(n), w)
    assert [list(range(lo, hi)) for lo, hi in parts] == [e.tolist() for e in expected]


def test_parquet_row_groups_and_batches_and_files(tmp_path):
    t = pa.table({"x": np.arange(1000), "y": np.arange(1000) % 2})
    path = tmp_path / "d.parquet"
    pq.write_table(t, path, row_group_size=128)  # 8 row groups
    files = [tmp_path / f"part-{i}.csv" for i in (3, 1, 2, 0, 4)]
    rows, got_files, got_batches = [], [], []
    for r in range(3):
        coll = as_rank(r, 3)
        rows += [v for b in roundrobin.shard_parquet(path, batch_rows=100, coll=coll) for v in b.column("x").to_pylist()]
        got_files.append(roundrobin.shard_paths(files, coll))
        got_batches += list(roundrobin.shard_batches(iter(range(10)), coll))
    assert sorted(rows) == t.column("x").to_pylist()  # every row once
    assert sorted(sum(got_files, [])) == sorted(files)
    assert got_files[0] == [tmp_path / "part-0.csv", tmp_path / "part-3.csv"]
    assert sorted(got_batches) == list(range(10))


def test_reduce_metrics_is_identity_in_one_process():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 200), rng.random(200)
    sm = StreamingMetrics().update(y, p)
    assert reduce_metrics(sm).result() == sm.result()
    auc = AUC(n_bins=256).update(y, p)
    assert reduce_metrics(auc).result() == auc.result()
    assert torch.equal(dist.all_reduce_sum(torch.ones(3)), torch.ones(3)) and not dist.is_distributed()
