"""HashedLogisticRegression over generated Criteo-layout files: one-pass accuracy against
the ground truth, the binary cache, the token sketch and collision statistics."""
from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest
import torch

from logitkit._util.errors import DataError
from logitkit.evaluate.streaming import evaluate_stream
from logitkit.interpret.hashed import collision_stats, top_weights
from logitkit.loaddata.batch_cache import BatchExtras
from logitkit.loaddata.criteo import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS
from logitkit.loaddata.ctr_stream import CTRStream
from logitkit.loaddata.synthetic import log_loss_of
from logitkit.loaddata.tokens import log_bucket_ids
from logitkit.predict import HashedLogisticRegression
from logitkit.predict.online.plan import PLAN_DTYPES, RowPlans, plan_key, plans_of
from logitkit.prepdata.hashing import FeatureHasher


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def small(ctr_files):
    f = ctr_files(24_000, 6_000, seed=11, max_cardinality=3000)
    return f.folder, f.table


def test_one_pass_reaches_the_true_models_log_loss_within_one_percent(ctr_files):
    n_train, n_test = 300_000, 40_000
    f = ctr_files(n_train, n_test, seed=3, max_cardinality=10, weight_scale=0.3)
    hasher = FeatureHasher(n_bits=18)
    model = HashedLogisticRegression(n_bits=18, learning_rate=0.1, l1=0.1, l2=1.0, batch_size=1024)
    model.fit(CTRStream(f.train, hasher, batch_rows=50_000))
    got = evaluate_stream(model, CTRStream(f.test, hasher, sketch_every=0))["log_loss"]
    y = f.table.data.column("label").to_numpy()[n_train:]
    best = log_loss_of(y, f.truth.prob[n_train:])
    assert got <= 1.01 * best, (got, best)


def test_cache_replays_the_parsed_pass_exactly(small, tmp_path):
    d, _ = small
    hasher = FeatureHasher(n_bits=16, crosses=[("C1", "C2")])
    kw = dict(batch_rows=5000, dense=["I1", "I5"])
    cached = CTRStream(d / "train.tsv", hasher, cache=tmp_path / "c", **kw)
    plain = CTRStream(d / "train.tsv", hasher, **kw)
    first = list(cached)
    assert cached.cache_meta() is not None and cached.passes_from_cache == 0
    second = list(cached)
    assert cached.passes_from_cache == 1
    assert len(first) == len(second) == 5
    for a, b in zip(first, second):
        for k in range(3):
            np.testing.assert_array_equal(a[k], b[k])
    m = dict(n_bits=16, n_passes=3, batch_size=256, shuffle=True, l1=0.5)
    with_cache = HashedLogisticRegression(**m).fit(CTRStream(d / "train.tsv", hasher, cache=tmp_path / "c2", **kw))
    without = HashedLogisticRegression(**m).fit(plain)
    assert torch.equal(with_cache.w_, without.w_) and torch.equal(with_cache.dense_w_, without.dense_w_)
    # the same bits whichever way the batches are prefetched (thread, forked process, inline)
    for prefetch in ("process", False):
        again = CTRStream(d / "train.tsv", FeatureHasher(n_bits=16, crosses=[("C1", "C2")]), cache=tmp_path / f"c{prefetch}",
                          prefetch=prefetch, **kw)
        other_model = HashedLogisticRegression(**m).fit(again)
        assert again.passes_from_cache == 2 and torch.equal(other_model.w_, without.w_)
    # a new stream with a fresh (equal) hasher, as in a new process, reads the cache at once
    fresh = CTRStream(d / "train.tsv", FeatureHasher(n_bits=16, crosses=[("C1", "C2")]), cache=tmp_path / "c", **kw)
    np.testing.assert_array_equal(next(iter(fresh))[0], first[0][0])
    assert fresh.passes_from_cache == 1
    # a different hasher (or a changed file) invalidates the cache
    other = CTRStream(d / "train.tsv", FeatureHasher(n_bits=16, seed=1), cache=tmp_path / "c", **kw)
    assert other.cache_meta() is None


def test_cached_row_plans_give_the_bits_of_planning_in_the_learner(small, tmp_path):
    d, _ = small
    kw = dict(batch_rows=5000, dense=["I1", "I5"])
    m = dict(n_bits=16, n_passes=3, batch_size=256, l1=0.5, l2=1.0)
    plain = HashedLogisticRegression(**m).fit(CTRStream(d / "train.tsv", FeatureHasher(n_bits=16), **kw))
    for prefetch in ("thread", "process", False):
        stream = CTRStream(d / "train.tsv", FeatureHasher(n_bits=16), cache=tmp_path / f"p{prefetch}", prefetch=prefetch, **kw)
        model = HashedLogisticRegression(**m).fit(stream)
        assert stream.passes_from_cache == 2 and stream.cache_meta()["extras"]["key"] == plan_key(256, 1 << 16)
        assert all(torch.equal(v, plain._tensors()[k]) for k, v in model._tensors().items())
        assert collision_stats(model) == collision_stats(plain)  # the cached plans' buckets count as touched
        item = next(iter(stream))
        plans = plans_of(item[4], item[0].shape)
        assert isinstance(plans, RowPlans) and plans.fits(item[0], 256, 1 << 16)
    # another batch size (or shuffling) cannot use them: the learner plans, with the same result
    other = dict(m, batch_size=300)
    assert torch.equal(HashedLogisticRegression(**other).fit(stream).w_,
                       HashedLogisticRegression(**other).fit(CTRStream(d / "train.tsv", FeatureHasher(n_bits=16), **kw)).w_)
    assert next(iter(stream))[4] is None  # (the stream was asked for 300-row plans now)
    # resuming from a checkpoint over the cached plans ends with the uninterrupted bits
    half = HashedLogisticRegression(**dict(m, n_passes=1), checkpoint_dir=str(tmp_path / "ck")).fit(stream)
    assert half.pass_ == 1
    resumed = HashedLogisticRegression(**m, checkpoint_dir=str(tmp_path / "ck")).fit(stream, resume_from=str(tmp_path / "ck"))
    occupied = collision_stats(plain)["occupied_buckets"]  # (the sketch saw no tokens: a cache has none)
    assert torch.equal(resumed.w_, plain.w_) and collision_stats(resumed)["occupied_buckets"] == occupied


def test_plans_are_kept_only_when_the_learner_made_every_one(small, tmp_path):
    d, _ = small
    # read without a learner: the sinks stay empty, the cache is complete without plans
    stream = CTRStream(d / "train.tsv", FeatureHasher(n_bits=16), batch_rows=5000, cache=tmp_path / "a")
    stream.request_extras(plan_key(256, 1 << 16), PLAN_DTYPES)
    first = list(stream)
    assert all(isinstance(item[4], BatchExtras) and item[4].writable for item in first)
    assert stream.cache_meta()["extras"] is None and next(iter(stream))[4] is None
    assert not list(tmp_path.glob("a.x.*")) and not list(tmp_path.glob("*.tmp"))
    # an interrupted pass with plans asked for leaves neither a cache nor plan files
    stream = CTRStream(d / "train.tsv", FeatureHasher(n_bits=16), batch_rows=1000, cache=tmp_path / "b")
    stream.request_extras(plan_key(256, 1 << 16), PLAN_DTYPES)  # (24 batches: the reader, 2 ahead, is not done when the learner stops)
    model = HashedLogisticRegression(n_bits=16, batch_size=256)
    for k, batch in enumerate(stream):
        model.partial_fit(*batch)
        if k == 2:
            break
    assert stream.cache_meta() is None and list(tmp_path.glob("b*")) == []
    # a shuffling model asks for none
    stream = CTRStream(d / "train.tsv", FeatureHasher(n_bits=16), batch_rows=5000, cache=tmp_path / "c")
    HashedLogisticRegression(n_bits=16, batch_size=256, shuffle=True).fit(stream)
    assert stream.cache_meta()["extras"] is None and not list(tmp_path.glob("c.x.*"))


@pytest.mark.parametrize("prefetch", ["thread", "process", False])
def test_interrupted_first_pass_leaves_no_cache(small, tmp_path, prefetch):
    d, _ = small
    stream = CTRStream(d / "train.tsv", FeatureHasher(n_bits=16), batch_rows=1000, cache=tmp_path / "c", prefetch=prefetch)
    for k, _ in enumerate(stream):
        if k == 2:
            break
    assert stream.cache_meta() is None and list(tmp_path.iterdir()) == []  # nor partial files


def test_top_weights_map_back_to_tokens_of_the_hasher(small):
    d, table = small
    hasher = FeatureHasher(n_bits=20)
    model = HashedLogisticRegression(n_bits=20, sketch_size=50_000).fit(CTRStream(d / "train.tsv", hasher, batch_rows=4000, sketch_every=1))
    top = top_weights(model, 30)
    assert len(top) == 30 and all(abs(a["weight"]) >= abs(b["weight"]) for a, b in zip(top, top[1:]))
    named = [t for t in top if t["tokens"]]
    assert len(named) >= 25
    train = table.data.slice(0, 24_000)
    for entry in named:
        token, count = entry["tokens"][0]
        field, value = token.split("=", 1)
        assert field in CATEGORICAL_COLUMNS + NUMERIC_COLUMNS
        if field in CATEGORICAL_COLUMNS:
            assert hasher.token_of(field, value or None) == entry["bucket"]
            col = train.column(field)
            expected = col.null_count if value == "" else pc.sum(pc.equal(col, value)).as_py()
            assert count == expected  # the sketch never pruned: its counts are exact
        else:
            col = FeatureHasher(n_bits=20, fields=[field]).transform(train.select([field]))[:, 0]
            assert int((col == entry["bucket"]).sum()) >= count


def test_collision_stats_match_exact_counts(small):
    d, table = small
    hasher = FeatureHasher(n_bits=14)  # small table: many collisions
    model = HashedLogisticRegression(n_bits=14, sketch_size=10**6).fit(CTRStream(d / "train.tsv", hasher, batch_rows=6000, sketch_every=1))
    train = table.data.slice(0, 24_000)
    tokens = set()
    for f in CATEGORICAL_COLUMNS:
        tokens |= {f"{f}={v}" for v in train.column(f).to_pylist()}
    for f in NUMERIC_COLUMNS:
        ids = log_bucket_ids(train.column(f).cast("float64").fill_null(np.nan).to_numpy(zero_copy_only=False))
        tokens |= {f"{f}#{i}" for i in np.unique(ids)}
    buckets = np.unique(hasher.transform(train))
    stats = collision_stats(model)
    assert stats["occupied_buckets"] == len(buckets)
    assert stats["sketch_tokens"] == len(tokens)
    assert stats["distinct_tokens_est"] == pytest.approx(len(tokens), rel=0.05)
    shared = len(tokens) - len(buckets)
    assert stats["sketch_tokens_in_shared_buckets"] - stats["sketch_buckets_shared"] == shared
    assert stats["expected_colliding_tokens"] == pytest.approx(shared, rel=0.15)


def test_stream_errors_name_file_and_fix(small, tmp_path):
    d, _ = small
    lines = (d / "train.tsv").read_text().splitlines()[:10]
    lines[3] = "\t" + lines[3].split("\t", 1)[1]  # no label on line 4
    bad = tmp_path / "bad.tsv"
    bad.write_text("\n".join(lines) + "\n")
    for prefetch in (False, "thread", "process"):
        with pytest.raises(DataError, match=r"bad.tsv: a row of batch 0 \(rows 1\.\.\) has no label"):
            list(CTRStream(bad, FeatureHasher(n_bits=16), prefetch=prefetch))
    with pytest.raises(DataError, match=r"the cache stores int32 indices; hasher n_bits=40 needs <= 31"):
        list(CTRStream(d / "train.tsv", FeatureHasher(n_bits=40), cache=tmp_path / "c"))
    model = HashedLogisticRegression(n_bits=16).fit(CTRStream(d / "test.tsv", FeatureHasher(n_bits=16)))
    with pytest.raises(DataError, match=r"the evaluation stream yielded no rows"):
        evaluate_stream(model, [])
