"""FeatureHasher: against a plain-Python implementation of the documented hash, stable across processes."""
import json
import math
import os
import struct
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import chisquare

from logitkit._util.errors import ConfigError, DataError
from logitkit.loaddata import make_ctr
from logitkit.prepdata import FeatureHasher

M64 = (1 << 64) - 1


def mix(z):
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & M64
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def H(data: bytes, key: int) -> int:
    """The documented hash, one byte string at a time, in plain Python integers."""
    h = mix(key ^ ((len(data) * 0x9E3779B97F4A7C15) & M64))
    for j in range(0, len(data), 8):
        (w,) = struct.unpack("<Q", data[j : j + 8].ljust(8, b"\0"))
        h = mix(h ^ w)
    return h


def ref_bucket(field, text, seed, n_bits):
    s = mix((seed + 0x9E3779B97F4A7C15) & M64)
    return H(text.encode(), H((field + "=").encode(), s)) & ((1 << n_bits) - 1)


def ref_log_code(v):
    if v is None:
        return ""
    if v <= 2:
        return str(max(math.floor(v), -1000))
    return "L" + str(min(math.floor(math.log(v) ** 2), 4000))


@pytest.fixture(scope="module")
def ctr():
    return make_ctr(3000, seed=1, max_cardinality=300)[0]


def test_transform_matches_reference_hash(ctr):
    h = FeatureHasher(n_bits=18, seed=7)
    X = h.transform(ctr)
    assert X.shape == (3000, 39) and X.dtype == np.int64 and X.flags["C_CONTIGUOUS"]
    assert h.fields == ctr.feature_names
    rows = ctr.data.to_pylist()
    for i in range(0, 3000, 97):
        r = rows[i]
        exp = [ref_bucket(f, ref_log_code(r[f]) if f[0] == "I" else (r[f] or ""), 7, 18) for f in h.fields]
        assert X[i].tolist() == exp
        assert [h.token_of(f, r[f]) for f in h.fields] == exp


def test_long_and_unicode_values_and_categorical_numbers():
    vals = ["", "a", "12345678", "123456789", "ü" * 13, "x" * 40, None]
    b = pa.record_batch({"s": pa.array(vals), "n": pa.array([1, 2, 3, 300, 5, None, 7])})
    h = FeatureHasher(n_bits=30, numeric="categorical", label=None)
    X = h.transform(b)
    for i, v in enumerate(vals):
        assert X[i, 0] == ref_bucket("s", v or "", 0, 30)
    n = b.column("n").to_pylist()
    assert X[:, 1].tolist() == [ref_bucket("n", "" if v is None else str(v), 0, 30) for v in n]


def test_megabyte_values_among_short_ones_hash_as_documented():
    """A few very long values (a 2 MB category from a damaged file) are hashed word by word at
    the end instead of one vectorised pass per word over the batch: same hashes, bounded time."""
    vals = ["9" * 2_000_003, "ab", None, "é" * 50_001, "x" * 600, "12345678"] + ["c"] * 50
    b = pa.record_batch({"s": pa.array(vals)})
    X = FeatureHasher(n_bits=30, label=None).transform(b)
    assert X[:, 0].tolist() == [ref_bucket("s", v or "", 0, 30) for v in vals]


def test_missing_is_its_own_token(ctr):
    h = FeatureHasher(n_bits=22)
    X = h.transform(ctr)
    col = ctr.data.column("C1").to_pylist()
    miss = [i for i, v in enumerate(col) if v is None]
    assert miss and all(X[i, h.fields.index("C1")] == h.token_of("C1", None) == h.token_of("C1", "") for i in miss)


def test_crosses(ctr):
    h = FeatureHasher(n_bits=20, fields=["C1", "C2", "I1"], crosses=[("C1", "C2"), ("I1", "C3")])
    X = h.transform(ctr)
    assert X.shape == (3000, 5) and h.token_names()[-1] == "I1^C3"
    rows = ctr.data.to_pylist()
    for i in (0, 11, 2999):
        r = rows[i]
        assert X[i, 3] == h.cross_of("C1", r["C1"], "C2", r["C2"])
        assert X[i, 4] == h.cross_of("I1", r["I1"], "C3", r["C3"])


def test_batches_equal_whole(ctr):
    h = FeatureHasher(n_bits=20)
    whole = h.transform(ctr)
    parts = np.vstack([h.transform(b) for b in ctr.data.to_batches(max_chunksize=333)])
    np.testing.assert_array_equal(whole, parts)


def test_buckets_are_uniform():
    toks = pa.array([f"{i:08x}" for i in range(40000)])
    X = FeatureHasher(n_bits=6, label=None).transform(pa.record_batch({"c": toks}))
    counts = np.bincount(X[:, 0], minlength=64)
    assert chisquare(counts).pvalue > 1e-4


def test_json_round_trip_and_unknown_column(ctr):
    h = FeatureHasher(n_bits=16, seed=3, crosses=[("C1", "C2")])
    X = h.transform(ctr)
    d = json.loads(json.dumps(h.to_json()))
    np.testing.assert_array_equal(FeatureHasher.from_json(d).transform(ctr), X)
    with pytest.raises(DataError, match=r"feature hashing: column 'C99' is not in the data"):
        FeatureHasher(fields=["C99"]).transform(ctr)


CHILD = r"""
import json, sys
import pyarrow as pa
from logitkit.prepdata import FeatureHasher
b = pa.record_batch({"site": pa.array(["a", "bb", None, "héllo wörld, long value"]), "n": pa.array([1, 40, None, 9000])})
h = FeatureHasher(n_bits=24, seed=5, crosses=[("site", "n")], label=None)
print(json.dumps(h.transform(b).tolist()))
"""


def test_stable_across_processes_and_pythonhashseed():
    outs = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
        outs.add(r.stdout)
    assert len(outs) == 1
    got = json.loads(outs.pop())
    here = {}
    exec(CHILD.replace("print(json.dumps(h.transform(b).tolist()))", "out = h.transform(b).tolist()"), here)
    assert got == here["out"]  # this process has yet another (random) PYTHONHASHSEED
    assert got[1][0] == ref_bucket("site", "bb", 5, 24) and got[1][1] == ref_bucket("n", ref_log_code(40), 5, 24)


def test_vw_bags_match_table_tokens(tmp_path):
    from logitkit.loaddata import load_vw, write_vw

    table, _ = make_ctr(300, seed=6, max_cardinality=40)
    cats = table.data.select(["label"] + [f"C{i}" for i in range(1, 27)])
    vw = load_vw(write_vw(cats, tmp_path / "c.vw"))
    h = FeatureHasher(n_bits=20, seed=2)
    idx, off, val = h.transform_vw(vw)
    dense = FeatureHasher(n_bits=20, seed=2).transform(cats)
    rows = cats.to_pylist()
    assert len(off) == 301 and off[-1] == len(idx) == len(val)
    for i in (0, 17, 299):
        present = [j for j, f in enumerate(cats.column_names[1:]) if rows[i][f] is not None]
        assert idx[off[i] : off[i + 1]].tolist() == dense[i, present].tolist()
        assert (val[off[i] : off[i + 1]] == 1.0).all()
    r = vw.data.slice(5, 1).to_pylist()[0]
    assert idx[off[5]] == ref_bucket(r["namespace"][0], r["feature"][0], 2, 20)


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.binary()])
def test_row_wise_hash_paths_match_reference(kind):
    """Aligned words (8-character ids), unaligned (mixed lengths), nulls, sliced arrays,
    chunked columns, int32 output, and counts outside the lookup table's range."""
    rng = np.random.default_rng(3)
    ids = [f"{v:08x}" for v in rng.integers(0, 2**32, 300)]
    ids = [None if i % 7 == 0 else ("" if i % 11 == 0 else v) for i, v in enumerate(ids)]
    mixed = ["a" * (i % 19) if i % 5 else None for i in range(300)]
    counts = [None if i % 9 == 0 else int(v) for i, v in enumerate(rng.choice([-5000, -3, 0, 2, 70, 65536, 65537, 10**9], 300))]
    t = pa.table({"c": pa.array(ids, kind), "m": pa.array(mixed, kind), "n": pa.array(counts, pa.int64())})
    h = FeatureHasher(n_bits=31, seed=5, label=None)
    whole = h.transform(t)
    chunked = h.transform(pa.concat_tables([t.slice(0, 100), t.slice(100)]))
    sliced = h.transform(t.slice(37, 150), dtype=np.int32)
    assert sliced.dtype == np.int32 and sliced.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(whole, chunked)
    np.testing.assert_array_equal(whole[37:187], sliced)
    for i in range(300):
        exp = [ref_bucket("c", ids[i] or "", 5, 31), ref_bucket("m", mixed[i] or "", 5, 31),
               ref_bucket("n", ref_log_code(counts[i]), 5, 31)]
        assert whole[i].tolist() == exp


def test_int32_output_needs_31_bits():
    b = pa.record_batch({"s": pa.array(["a"])})
    with pytest.raises(ConfigError, match="int32 bucket indices need n_bits <= 31.*use dtype=np.int64"):
        FeatureHasher(n_bits=40, label=None).transform(b, dtype=np.int32)
    with pytest.raises(ConfigError, match="dtype=float32 must be np.int64 or np.int32"):
        FeatureHasher(label=None).transform(b, dtype=np.float32)


def test_a_few_rows_hash_to_the_same_buckets_as_the_field_by_field_path(monkeypatch):
    """``prepdata.few_rows`` (strings joined, counts stacked) against the per-field path:
    nulls, empty strings, counts beyond the tables, a dictionary and a float column."""
    import numpy as np
    import pyarrow as pa

    import logitkit.prepdata.hashing as hashing
    from logitkit.prepdata.hashing import FeatureHasher

    rng = np.random.default_rng(3)
    n = 300
    cols = {}
    for k in range(4):
        cols[f"s{k}"] = pa.array([None if rng.random() < 0.1 else "" if rng.random() < 0.1 else f"v{int(rng.integers(50))}"
                                  for _ in range(n)], pa.string())
    for k in range(3):
        v = rng.integers(-2000, 70_000, n).astype(np.int64)
        v[::37] = 10**12  # beyond the bucket tables
        cols[f"i{k}"] = pa.array(v, pa.int64(), mask=rng.random(n) < 0.1)
    cols["d"] = pa.array([f"k{int(i)}" for i in rng.integers(5, size=n)]).dictionary_encode()
    cols["f"] = pa.array(rng.normal(size=n))
    table = pa.table(cols)
    for crosses in ([], [("s0", "i1")]):
        hasher = FeatureHasher(n_bits=20, seed=4, fields=list(cols), crosses=crosses)
        for rows in (1, 2, 50, n):
            part = table.slice(7, rows)
            few = hasher.transform(part)
            monkeypatch.setattr(hashing, "FEW_ROWS", 0)
            assert np.array_equal(few, hasher.transform(part))
            monkeypatch.undo()
