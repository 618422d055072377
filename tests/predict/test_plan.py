"""Row plans (``logitkit.predict.online.plan``) against np.unique."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from logitkit.loaddata.batch_cache import BatchExtras, extra_suffixes, read_extras, staged, write_extras
from logitkit.predict.online.plan import PLAN_DTYPES, PlanSink, RowPlanner, RowPlans, plan_key


def check(inv: np.ndarray, rows: np.ndarray, idx: np.ndarray, n_buckets: int) -> None:
    """A plan of ``idx`` against np.unique: the intercept in slot 0, then every distinct
    bucket in exactly one slot, and every position pointing at its bucket's slot."""
    flat = idx.reshape(-1)
    assert rows[0] == n_buckets
    np.testing.assert_array_equal(np.sort(rows[1:]), np.unique(flat))
    assert inv.min(initial=1) >= 1 and inv.max(initial=1) <= len(rows) - 1
    np.testing.assert_array_equal(rows[inv], flat)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_plans_of_consecutive_batches_match_np_unique(dtype):
    rng = np.random.default_rng(0)
    n_buckets = 1 << 12
    planner = RowPlanner(n_buckets)
    touched = np.zeros(n_buckets, dtype=bool)
    for k in range(5):  # the scratch table carries over from batch to batch
        idx = np.minimum(rng.zipf(1.2, (300, 9)), n_buckets) - 1
        idx[:, 3] = idx[:, 2]  # a bucket twice in a row
        inv, rows = planner.plan(torch.from_numpy(idx.astype(dtype)))
        check(inv.numpy(), rows.numpy(), idx, n_buckets)
        touched[idx] = True
        assert inv.dtype == rows.dtype == torch.int64
    np.testing.assert_array_equal(planner.touched().numpy(), touched)


def test_plans_left_in_a_sink_come_back_from_the_cache_files_and_mark_touched_buckets(tmp_path):
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 500, (1000, 4)).astype(np.int32)
    extras = BatchExtras(plan_key(300, 512), PLAN_DTYPES)
    planner, sink = RowPlanner(512), PlanSink(extras, idx.shape)
    assert sink.fits(idx, 300, 512) and not sink.fits(idx, 256, 512) and not sink.fits(idx[:999], 300, 512)
    for s in range(0, 1000, 300):
        assert not sink.complete() and not extras.closed
        sink.add(*planner.plan(torch.from_numpy(idx[s : s + 300])))
    assert sink.complete() and extras.closed  # (the stream keeps closed extras only)
    with staged(tmp_path / "c", extra_suffixes(PLAN_DTYPES)) as out:
        write_extras(out.files, extras)
    files = {s: open(str(tmp_path / "c") + s, "rb") for s in extra_suffixes(PLAN_DTYPES)}
    try:
        back = read_extras(files, {"key": plan_key(300, 512), "dtypes": PLAN_DTYPES})
    finally:
        for f in files.values():
            f.close()
    assert not back.writable
    plans = RowPlans.from_extras(back, idx.shape)
    assert isinstance(plans, RowPlans) and len(plans.rows) == 4 and plans.inv.shape == (1000, 4)
    for k, s in enumerate(range(0, 1000, 300)):
        check(plans.inv[s : s + 300].reshape(-1), plans.rows[k], idx[s : s + 300], 512)
    assert plans.fits(idx, 300, 512)
    assert not plans.fits(idx, 256, 512) and not plans.fits(idx, 300, 1024) and not plans.fits(idx[:999], 300, 512)
    other = RowPlanner(512)
    for r in plans.rows:
        other.mark(torch.from_numpy(r))
    np.testing.assert_array_equal(other.touched().numpy(), np.isin(np.arange(512), idx))


def test_a_batch_without_tokens_plans_only_the_intercept():
    inv, rows = RowPlanner(64).plan(torch.zeros((5, 0), dtype=torch.int64))
    assert inv.shape == (0,) and rows.tolist() == [64]
