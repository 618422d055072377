"""loaddata.CTRStream on its own: any transform (no hasher, no learner), the binary cache,
and the arrays a consumer keeps in it (BatchExtras) under a key of its choosing."""
import json

import numpy as np
import pyarrow as pa
import pytest

from logitkit._util.errors import DataError
from logitkit.loaddata import BatchExtras, CTRStream


class FirstChars:
    """A transform that is no hasher: each C field's first character's code, T = len(fields)."""

    n_bits = 8

    def __init__(self, fields=None):
        self.fields = fields
        self.calls = 0

    @property
    def n_tokens(self):
        return len(self.fields or [])

    def resolve_fields(self, names):
        if self.fields is None:
            self.fields = [c for c in names if c.startswith("C")][:3]

    def transform(self, batch, dtype):
        self.calls += 1
        self.resolve_fields(batch.schema.names)
        cols = [[ord((v or " ")[0]) for v in batch.column(f).to_pylist()] for f in self.fields]
        return np.array(cols, dtype=dtype).T.copy()

    def vocab(self, batch, idx):
        return ("tokens of", len(idx))

    def to_json(self):
        return {"kind": "FirstChars", "fields": self.fields}


@pytest.fixture(scope="module")
def train(ctr_files):
    return ctr_files(2_000, 10, seed=4, max_cardinality=50).train


def test_any_transform_gives_the_batches_and_the_cache_replays_them(train, tmp_path):
    t = FirstChars()
    stream = CTRStream(train, t, batch_rows=700, cache=tmp_path / "c", dense=["I1"], sketch_every=2, prefetch=False)
    first = list(stream)
    assert t.fields == ["C1", "C2", "C3"] and t.calls == 3
    assert [len(b[1]) for b in first] == [700, 700, 600]
    assert [b[3] for b in first] == [("tokens of", 700), None, ("tokens of", 600)]
    idx, y, dense = first[0][:3]
    assert idx.dtype == np.int32 and idx.shape == (700, 3) and y.dtype == np.float32 and dense.shape == (700, 1)
    second = list(stream)  # from the cache: the transform is not called again, no vocab
    assert t.calls == 3 and stream.passes_from_cache == 1 and all(b[3] is None and b[4] is None for b in second)
    for a, b in zip(first, second):
        for k in range(3):
            np.testing.assert_array_equal(a[k], b[k])
    meta = json.loads((tmp_path / "c.json").read_text())
    assert meta["transform"] == {"kind": "FirstChars", "fields": ["C1", "C2", "C3"]} and meta["extras"] is None
    # another transform state: the cache is not used
    assert CTRStream(train, FirstChars(["C4"]), batch_rows=700, cache=tmp_path / "c", dense=["I1"]).cache_meta() is None


def test_a_consumers_extras_are_kept_only_when_it_closed_every_batchs(train, tmp_path):
    key, dtypes = {"kind": "row sums", "v": 1}, {"sums": "<i8", "firsts": "<f4"}
    stream = CTRStream(train, FirstChars(), batch_rows=700, cache=tmp_path / "c", prefetch="thread")
    stream.request_extras(key, dtypes)
    for k, (idx, *_, extras) in enumerate(stream):
        assert isinstance(extras, BatchExtras) and extras.writable and extras.key == key
        extras.add("sums", idx.sum(1))
        extras.add("sums", idx.sum(1)[:5])  # several arrays under one name
        extras.add("firsts", idx[:, 0])
        if k != 1:
            extras.close()  # batch 1 left open: nothing is kept
    assert stream.cache_meta()["extras"] is None and not list(tmp_path.glob("c.x.*"))
    stream = CTRStream(train, FirstChars(), batch_rows=700, cache=tmp_path / "d", prefetch="process")
    stream.request_extras(key, dtypes)
    for idx, *_, extras in stream:
        extras.add("sums", idx.sum(1))
        extras.add("sums", idx.sum(1)[:5])
        extras.add("firsts", idx[:, 0])
        extras.close()
    assert stream.cache_meta()["extras"] == {"key": key, "dtypes": dtypes}
    for idx, *_, extras in stream:  # replayed: read-only, as they were added
        assert not extras.writable and [len(a) for a in extras.arrays("sums")] == [len(idx), 5]
        np.testing.assert_array_equal(extras.arrays("sums")[0], idx.sum(1))
        np.testing.assert_array_equal(extras.arrays("firsts")[0], idx[:, 0].astype(np.float32))
        with pytest.raises(RuntimeError, match="read from a cache"):
            extras.add("sums", [1])
    assert stream.cache_bytes() > sum((tmp_path / f"d{s}").stat().st_size for s in (".idx", ".y", ".dense"))
    stream.request_extras({"kind": "row sums", "v": 2}, dtypes)  # another key: none handed back
    assert all(item[4] is None for item in stream)


def test_a_custom_readers_columns_are_recorded_for_the_cache(tmp_path):
    path = tmp_path / "src.tsv"
    path.write_text("x\n")  # (the source file identifies the cache; the reader gives the rows)

    def reader():
        yield pa.record_batch({"label": pa.array([0, 1, 1]), "C1": pa.array(["a", "b", None]),
                               "C9": pa.array(["z", "y", "x"])})

    stream = CTRStream(path, FirstChars(), cache=tmp_path / "c", reader=reader, prefetch=False)
    assert [b[0].tolist() for b in stream] == [[[97, 122], [98, 121], [32, 120]]]
    assert json.loads((tmp_path / "c.json").read_text())["columns"] == ["C1", "C9"]
    fresh = CTRStream(path, FirstChars(), cache=tmp_path / "c", reader=reader)  # a new process: fields unknown
    assert fresh.cache_meta() is not None and fresh.transform.fields == ["C1", "C9"]
    bad = lambda: iter([pa.record_batch({"label": pa.array([1, None]), "C1": pa.array(["a", "b"])})])  # noqa: E731
    with pytest.raises(DataError, match=r"src.tsv: a row of batch 0 \(rows 1\.\.\) has no label"):
        list(CTRStream(path, FirstChars(), reader=bad, prefetch=False))
