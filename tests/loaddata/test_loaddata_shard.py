"""Reading one rank's part (ranks simulated in one process): the parts of W ranks cover
the input exactly once, in order, and ``load_shard`` in one process is ``load_from_config``."""
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from logitkit._util.errors import InputFileError
from logitkit.loaddata import load_from_config, write_criteo
from logitkit.loaddata.criteo import CRITEO_COLUMNS
from logitkit.loaddata.data_section import load_shard
from logitkit.loaddata.shard import (byte_range, count_lines, parquet_row_groups, parse_range,
                                     range_chunks, read_row_groups, stream_range_batches, unify_types)
from logitkit.pipeline.config import DataSection


def _csv(tmp_path, n=200):
    rng = np.random.default_rng(0)
    t = pa.table({"x": rng.normal(size=n), "k": rng.integers(0, 5, n), "c": [f"v{i % 7}" for i in range(n)],
                  "y": rng.integers(0, 2, n)})
    p = tmp_path / "d.csv"
    pacsv.write_csv(t, p)
    return p, pacsv.read_csv(p)


@pytest.mark.parametrize("world", [1, 2, 3, 7])
def test_byte_ranges_are_contiguous_whole_lines_covering_the_file(tmp_path, world):
    p, whole = _csv(tmp_path)
    raw = p.read_bytes()
    ranges = [byte_range(p, r, world, header=True) for r in range(world)]
    assert ranges[0][0] == raw.index(b"\n") + 1 and ranges[-1][1] == len(raw)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    names = whole.column_names
    parts = [parse_range(raw[a:b], p, names, 2) for a, b in ranges]
    got = pa.concat_tables([t.cast(whole.schema) for t in parts])
    assert got.equals(whole)
    assert sum(count_lines(p, a, b) for a, b in ranges) == whole.num_rows
    for a, b in ranges:  # each range starts at a line start
        assert a == b or raw[a - 1:a] == b"\n"


def test_a_line_longer_than_a_range_leaves_a_rank_empty(tmp_path):
    p = tmp_path / "long.csv"
    p.write_bytes(b"a,b\n" + b"1," + b"9" * 500 + b"\n2,3\n")
    ranges = [byte_range(p, r, 4, header=True) for r in range(4)]
    sizes = [b - a for a, b in ranges]
    assert sum(sizes) == p.stat().st_size - 4 and sizes.count(0) >= 1


def test_range_chunks_cut_at_newlines(tmp_path):
    p, _ = _csv(tmp_path)
    a, b = byte_range(p, 1, 3, header=True)
    chunks = list(range_chunks(p, a, b, chunk_bytes=64))
    assert b"".join(chunks) == p.read_bytes()[a:b]
    assert all(c.endswith(b"\n") for c in chunks)


def test_criteo_ranges_stream_every_row_once(tmp_path):
    from logitkit.loaddata import load_criteo, make_ctr

    p = write_criteo(make_ctr(500, seed=3)[0], tmp_path / "c.tsv")
    whole = load_criteo(p).data
    types = {f.name: f.type for f in whole.schema}
    got = []
    for r in range(3):
        a, b = byte_range(p, r, 3)
        got += list(stream_range_batches(p, a, b, CRITEO_COLUMNS, 64, types, chunk_bytes=1000))
    assert all(bt.num_rows <= 64 for bt in got)
    assert pa.Table.from_batches(got).equals(whole)


def test_parquet_row_groups_dealt_round_robin(tmp_path):
    t = pa.table({"x": np.arange(1000.0), "y": np.arange(1000) % 2})
    p = tmp_path / "d.parquet"
    pq.write_table(t, p, row_group_size=128)
    rows = []
    for r in range(3):
        groups, starts = parquet_row_groups(p, r, 3)
        assert groups == list(range(8))[r::3] and starts[-1] == 1000
        rows += read_row_groups(p, groups).column("x").to_pylist()
    assert sorted(rows) == t.column("x").to_pylist()


def test_unify_types():
    assert unify_types([pa.int64(), pa.null(), pa.float64()]) == pa.float64()
    assert unify_types([pa.int64(), pa.string()]) == pa.string()
    assert unify_types([pa.null(), pa.null()]) == pa.null()
    assert unify_types([pa.bool_(), pa.bool_(), pa.null()]) == pa.bool_()


@pytest.mark.parametrize("kind", ["csv", "tsv", "criteo", "parquet", "dir"])
def test_load_shard_in_one_process_is_load_from_config(tmp_path, kind):
    p, whole = _csv(tmp_path)
    if kind == "criteo":
        from logitkit.loaddata import make_ctr

        ctr = make_ctr(300, seed=2)[0].data
        p = write_criteo(ctr, tmp_path / "c.tsv")
        data = DataSection(path=str(p), format="criteo")
        a, _ = load_from_config(data, tmp_path)
        b, _, parts = load_shard(data, tmp_path)
        assert b.data.equals(a.data) and b.fingerprint == a.fingerprint and parts["train"].lines == [1, 300]
        return
    if kind == "tsv":
        pacsv.write_csv(whole, tmp_path / "d.tsv", write_options=pacsv.WriteOptions(delimiter="\t"))
        p = tmp_path / "d.tsv"
    elif kind == "parquet":
        pq.write_table(whole, tmp_path / "d.parquet", row_group_size=50)
        p = tmp_path / "d.parquet"
    elif kind == "dir":
        (tmp_path / "dd").mkdir()
        for k in range(3):
            pq.write_table(whole.slice(70 * k, 70), tmp_path / "dd" / f"part-{k}.parquet")
        p = tmp_path / "dd"
    data = DataSection(path=str(p), label="y", exclude=["k"], positive_class=1)
    a, _ = load_from_config(data, tmp_path)
    b, test, parts = load_shard(data, tmp_path)
    assert test is None and b.data.equals(a.data) and b.fingerprint == a.fingerprint and b.label == a.label
    assert parts["train"].rows == whole.num_rows
    np.testing.assert_array_equal(b.source_rows, np.arange(whole.num_rows))


def test_a_bad_line_is_named_by_its_line_in_the_file(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("a,b\n1,2\n3,4\n5\n7,8\n")
    with pytest.raises(InputFileError, match=r"bad\.csv: line 4 has the wrong number of fields"):
        load_shard(DataSection(path=str(p)), tmp_path)
