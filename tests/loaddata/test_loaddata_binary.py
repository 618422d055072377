"""Parquet (file and directory) against pyarrow.parquet; svmlight against scikit-learn."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import dump_svmlight_file, load_svmlight_file

from logitkit._util.errors import InputFileError
from logitkit.loaddata import (
    load_parquet,
    load_svmlight,
    make_logistic,
    read_svmlight_csr,
    stream_parquet,
    stream_svmlight,
    write_parquet,
    write_svmlight,
)


@pytest.fixture(scope="module")
def dense():
    return make_logistic(400, 6, seed=11)[0]


def test_parquet_file_against_pyarrow(tmp_path, dense):
    p = write_parquet(dense, tmp_path / "d.parquet", row_group_rows=100)
    got = load_parquet(p)
    assert got.data.equals(pq.read_table(p)) and got.label == "y"
    streamed = pa.Table.from_batches(list(stream_parquet(p, batch_rows=64)))
    assert streamed.equals(got.data.combine_chunks())
    assert [b.num_rows for b in stream_parquet(p, batch_rows=64)] == [64] * 6 + [16]


def test_parquet_directory_against_pyarrow(tmp_path, dense):
    d = write_parquet(dense, tmp_path / "parts", n_files=3)
    assert len(list(d.glob("*.parquet"))) == 3
    got = load_parquet(d, label="y")
    ref = pq.read_table(d)
    assert got.data.equals(ref.select(got.data.column_names))
    assert got.data.to_pandas().equals(dense.data.to_pandas())


def test_parquet_empty_directory(tmp_path):
    (tmp_path / "none").mkdir()
    with pytest.raises(InputFileError, match=r"none: is a directory that holds no Parquet files; data.path must name a file, or a directory of Parquet files"):
        load_parquet(tmp_path / "none")


def test_svmlight_written_file_reads_in_sklearn(tmp_path, dense):
    p = write_svmlight(dense, tmp_path / "d.svm", label="y")
    X, y = load_svmlight_file(str(p))
    feats = dense.data.drop_columns(["y"]).to_pandas().to_numpy()
    np.testing.assert_array_equal(X.toarray(), feats)
    np.testing.assert_array_equal(y, dense.labels())


def test_svmlight_reads_sklearn_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 9)) * (rng.random((120, 9)) < 0.3)
    y = rng.integers(0, 2, 120)
    p = tmp_path / "sk.svm"
    dump_svmlight_file(X, y, str(p), zero_based=False, comment="made by sklearn")
    got = load_svmlight(p, n_features=9)
    Xr, yr = load_svmlight_file(str(p), n_features=9, zero_based=False)
    assert got.data.column_names == ["label"] + [f"x{j}" for j in range(1, 10)]
    np.testing.assert_allclose(got.data.drop_columns(["label"]).to_pandas().to_numpy(), Xr.toarray())
    np.testing.assert_array_equal(got.labels(), yr)
    csr, yc = read_svmlight_csr(p)
    np.testing.assert_allclose(csr.toarray()[:, 1:], Xr.toarray()[:, : csr.shape[1] - 1])
    streamed = pa.Table.from_batches(list(stream_svmlight(p, batch_rows=50, n_features=9)))
    assert streamed.equals(got.data.combine_chunks())


def test_svmlight_comments_qid_and_blank_lines(tmp_path):
    p = tmp_path / "q.svm"
    p.write_text("# header comment\n1 qid:3 1:0.5 3:2 # tail\n\n-1 qid:4 2:1.5\n")
    got = load_svmlight(p)
    Xr, yr, qr = load_svmlight_file(str(p), query_id=True)
    np.testing.assert_allclose(got.data.select(["x1", "x2", "x3"]).to_pandas().to_numpy(), Xr.toarray())
    np.testing.assert_array_equal(got.data.column("qid").to_numpy(), qr)


def test_svmlight_bad_token_names_line(tmp_path):
    p = tmp_path / "bad.svm"
    p.write_text("1 1:0.5\n0 2:1\n1 3=4\n")
    with pytest.raises(InputFileError, match=r"bad\.svm: line 3: '3=4' is not index:value"):
        load_svmlight(p)
    p.write_text("1 1:0.5\nyes 2:1\n")
    with pytest.raises(InputFileError, match=r"bad\.svm: line 2: label 'yes' is not a number"):
        load_svmlight(p)
