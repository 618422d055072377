"""CSV/TSV and Criteo TSV readers against pandas; malformed files name the line."""
import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from logitkit._util.errors import InputFileError
from logitkit.loaddata import (
    CRITEO_COLUMNS,
    load_criteo,
    load_csv,
    make_ctr,
    make_logistic,
    stream_criteo,
    stream_csv,
    write_criteo,
    write_csv,
)
from logitkit.loaddata.delimited import stream_delimited


def _frame(t):
    return t.data.to_pandas() if hasattr(t, "data") else t.to_pandas()


@pytest.fixture(scope="module")
def dense():
    t, _ = make_logistic(300, 4, seed=3, missing_rate=0.05)
    return t


@pytest.mark.parametrize("name,delim", [("d.csv", ","), ("d.tsv", "\t"), ("d.csv.gz", ","), ("d.txt", ";")])
def test_csv_round_trip_against_pandas(tmp_path, dense, name, delim):
    p = write_csv(dense, tmp_path / name, delimiter=delim)
    got = load_csv(p, label="y", delimiter=None if name != "d.txt" else ";")
    ref = pd.read_csv(p, sep=delim)
    pd.testing.assert_frame_equal(_frame(got), ref, check_dtype=False)
    assert got.label == "y" and got.fingerprint["sha256"]
    streamed = pa.Table.from_batches(list(stream_csv(p, batch_rows=70, delimiter=None if name != "d.txt" else ";")))
    pd.testing.assert_frame_equal(streamed.to_pandas(), ref, check_dtype=False)


def test_csv_without_header(tmp_path, dense):
    p = write_csv(dense, tmp_path / "nh.csv", header=False)
    got = load_csv(p, header=False)
    ref = pd.read_csv(p, header=None)
    assert got.data.column_names == [f"c{j}" for j in range(5)] and got.label == "c4"
    np.testing.assert_allclose(_frame(got).to_numpy(dtype=float), ref.to_numpy(dtype=float), equal_nan=True)
    named = load_csv(p, header=False, column_names=["a", "b", "c", "d", "y"], label="y")
    assert named.data.column_names == ["a", "b", "c", "d", "y"] and named.n_rows == len(ref)


def test_stream_batches_have_exact_size(tmp_path, dense):
    p = write_csv(dense, tmp_path / "d.csv")
    sizes = [b.num_rows for b in stream_csv(p, batch_rows=64)]
    assert sizes == [64] * 4 + [300 - 256]


def test_empty_file(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    with pytest.raises(InputFileError, match=r"empty\.csv: the file is empty"):
        load_csv(p)


def test_header_only(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("age,cd\n")
    with pytest.raises(InputFileError, match=r"h\.csv: the file has a header but no rows"):
        load_csv(p)


def test_ragged_row_names_line(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("age,cd\n22,0\n23,0\n24\n25,1\n")
    with pytest.raises(InputFileError, match=r"r\.csv: line 4 has the wrong number of fields \(expected 2 fields, got 1\)"):
        load_csv(p)
    with pytest.raises(InputFileError, match=r"line 4 has the wrong number of fields"):
        list(stream_csv(p, batch_rows=2))


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match=r"nope\.csv: no such file"):
        load_csv(tmp_path / "nope.csv")


@pytest.fixture(scope="module")
def ctr():
    return make_ctr(3000, seed=5, max_cardinality=500)


@pytest.mark.parametrize("name", ["day.tsv", "day.tsv.gz"])
def test_criteo_round_trip_against_pandas(tmp_path, ctr, name):
    table, _ = ctr
    p = write_criteo(table, tmp_path / name)
    ref = pd.read_csv(p, sep="\t", header=None, names=CRITEO_COLUMNS, keep_default_na=False, na_values=[""])
    got = load_criteo(p)
    assert got.data.column_names == CRITEO_COLUMNS and got.n_rows == len(ref)
    df = got.data.to_pandas()
    for c in CRITEO_COLUMNS:
        a, b = df[c], ref[c]
        assert (a.isna() == b.isna()).all(), c
        np.testing.assert_array_equal(a[~a.isna()].astype(str if c[0] == "C" else float),
                                      b[~b.isna()].astype(str if c[0] == "C" else float))
    # stream (small chunks, so several parse chunks and re-cut batches) == load
    streamed = pa.Table.from_batches(list(stream_delimited(p, 500, chunk_bytes=40_000, **_criteo_opts())))
    assert streamed.equals(got.data.combine_chunks())
    for threads in (1, 3):  # chunks parsed side by side come back in file order
        again = pa.Table.from_batches(list(stream_delimited(p, 500, chunk_bytes=20_000, parse_threads=threads, **_criteo_opts())))
        assert again.equals(streamed)
    assert sum(b.num_rows for b in stream_criteo(p, batch_rows=777)) == len(ref)


def _criteo_opts():
    from logitkit.loaddata.criteo import _options

    return _options(False)


def test_criteo_ragged_line_in_later_chunk(tmp_path, ctr):
    table, _ = ctr
    p = write_criteo(table.data.slice(0, 2000), tmp_path / "bad.tsv")
    lines = p.read_bytes().split(b"\n")
    lines[1499] = b"\t".join(lines[1499].split(b"\t")[:30])
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(InputFileError, match=r"bad\.tsv: line 1500 has the wrong number of fields \(expected 40 fields, got 30\)"):
        list(stream_delimited(p, 256, chunk_bytes=30_000, **_criteo_opts()))
    with pytest.raises(InputFileError, match=r"line 1500 has the wrong number of fields"):
        load_criteo(p)


def test_criteo_non_integer_count_names_column(tmp_path, ctr):
    table, _ = ctr
    p = write_criteo(table.data.slice(0, 50), tmp_path / "bad.tsv")
    lines = p.read_text().split("\n")
    f = lines[9].split("\t")
    f[3] = "x7"
    lines[9] = "\t".join(f)
    p.write_text("\n".join(lines))
    with pytest.raises(InputFileError, match=r"column 'I3'.*value is not int64"):
        load_criteo(p)


def test_gzip_is_looked_through(tmp_path):
    p = tmp_path / "g.csv.gz"
    with gzip.open(p, "wt") as f:
        f.write("a,b\n1,2\n3,4\n")
    assert load_csv(p).data.to_pydict() == {"a": [1, 3], "b": [2, 4]}


def test_criteo_without_label(tmp_path, ctr):
    table, _ = ctr
    p = write_criteo(table.data.drop_columns(["label"]).slice(0, 100), tmp_path / "test.tsv")
    got = load_criteo(p, has_label=False)
    assert got.label is None and got.data.column_names == CRITEO_COLUMNS[1:]
    assert got.data.column("C5").to_pylist() == table.data.column("C5").to_pylist()[:100]
    assert sum(b.num_rows for b in stream_criteo(p, 30, has_label=False)) == 100
