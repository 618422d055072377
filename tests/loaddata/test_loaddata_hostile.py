"""Hostile files: each failure issue 19 found by fuzzing, and the other ways a file can be
wrong, give one line naming the file (and the line where there is one). Messages pinned."""
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logitkit._util.errors import InputFileError, UserError
from logitkit.loaddata import (load_csv, load_file, load_parquet, load_svmlight, load_vw, read_svmlight_csr,
                               stream_criteo, stream_csv, stream_file, stream_parquet, stream_svmlight)
from logitkit.loaddata.svmlight import MAX_INFERRED_WIDTH


def _csv(tmp_path, text: bytes | str, name="d.csv"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def _both(path, fmt="auto", **kw):
    """Run load_file and stream_file (to the end); both must raise the same UserError."""
    msgs = []
    for read in (lambda: load_file(path, fmt, **kw), lambda: list(stream_file(path, fmt, batch_rows=16, **kw))):
        with pytest.raises(UserError) as info:
            read()
        msgs.append(str(info.value))
        assert "\n" not in msgs[-1]
    return msgs


ROWS = "".join(f"{i * 0.1:.1f},{i % 2}\n" for i in range(200))


# ------------------------------------------------------------------ headers
def test_duplicate_header_names(tmp_path):
    p = _csv(tmp_path, "x0,x0,y\n1,2,0\n3,4,1\n")
    for msg in _both(p):
        assert msg == f"{p}: line 1: the column name 'x0' is given twice (columns 1 and 2); give every column its own name"


def test_empty_header_name(tmp_path):
    p = _csv(tmp_path, ",x,y\n0,1,0\n1,3,1\n")
    with pytest.raises(InputFileError, match=r"d\.csv: line 1: column 1 has no name; name every column in the header "
                                             r"\(an index column written by pandas has none: write with to_csv\(index=False\)\)"):
        load_csv(p)


# ------------------------------------------------------------------ bytes that are not UTF-8
def test_invalid_utf8_in_a_value(tmp_path):
    p = _csv(tmp_path, b"x,c,y\n1,a,0\n2,b\xff,1\n")
    for msg in _both(p):
        assert msg == f"{p}: line 3, byte 4: ff is not UTF-8 text; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"


def test_invalid_utf8_in_the_header(tmp_path):
    p = _csv(tmp_path, b"x,c\xe9,y\n1,a,0\n2,b,1\n")
    with pytest.raises(InputFileError, match=r"d\.csv: line 1, byte 4: e9 is not UTF-8 text"):
        load_csv(p)


def test_invalid_utf8_in_svmlight_and_vw(tmp_path):
    p = _csv(tmp_path, b"1 1:2\n0 1:3 # caf\xe9\n", "d.svm")
    with pytest.raises(InputFileError, match=r"d\.svm: line 2, byte 12: e9 is not UTF-8 text"):
        load_svmlight(p)
    q = _csv(tmp_path, b"1 |a x\n-1 |a \xc3\n", "d.vw")
    with pytest.raises(InputFileError, match=r"d\.vw: line 2, byte 7: c3 is not UTF-8 text"):
        load_vw(q)


def test_random_bytes_one_line_and_no_unraisable_noise(tmp_path):
    """Random bytes used to print "Exception ignored in ... _first_ragged_row.handler" first."""
    rng = np.random.default_rng(0)
    p = _csv(tmp_path, rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), "r.tsv")
    code = ("import sys\nfrom logitkit.loaddata import load_criteo\nfrom logitkit._util.errors import UserError\n"
            f"try:\n    load_criteo({str(p)!r})\nexcept UserError as e:\n    print(e, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{p}: line "), proc.stderr


def test_ragged_row_with_bytes_that_are_not_utf8_names_its_line(tmp_path):
    p = _csv(tmp_path, b"a\tb\n1\t2\n3\xff\n", "g.tsv")
    with pytest.raises(InputFileError, match=r"g\.tsv: line 3 has the wrong number of fields \(expected 2 fields, got 1\)"):
        list(stream_csv(p, header=False, column_names=["a", "b"]))


# ------------------------------------------------------------------ long lines and values
def test_two_megabyte_value_is_read(tmp_path):
    big = "z" * 2_000_000
    p = _csv(tmp_path, f"x,c,y\n1,a,0\n2,{big},1\n3,b,0\n")
    t = load_csv(p)
    assert t.data.column("c")[1].as_py() == big
    assert sum(b.num_rows for b in stream_csv(p, batch_rows=2)) == 3


def test_long_criteo_line_in_the_chunked_reader(tmp_path, monkeypatch):
    """A line longer than a parse block (and than a whole chunk) is read, not refused."""
    line = "\t".join(["1"] + ["2"] * 13 + ["a" * 3_000_000] + ["b"] * 25)
    short = "\t".join(["0"] + ["1"] * 13 + ["c"] * 26)
    p = _csv(tmp_path, "\n".join([short, line, short]) + "\n", "c.tsv")
    got = pa.Table.from_batches(list(stream_criteo(p, batch_rows=2, chunk_bytes=1 << 20)))
    assert got.num_rows == 3 and len(got.column("C1")[1].as_py()) == 3_000_000


def test_file_without_newlines_is_read_in_linear_time(tmp_path):
    """No newline at all: each read doubles instead of re-copying the text (O(size))."""
    p = _csv(tmp_path, "1 " + " ".join(f"{j}:1" for j in range(1, 400_000)), "w.svm")
    with pytest.raises(InputFileError, match=r"w\.svm: line 1: feature index 399999 would make the dense table"):
        list(stream_svmlight(p, batch_rows=8))


# ------------------------------------------------------------------ svmlight widths and indices
def test_wide_svmlight_index_is_an_error_before_any_allocation(tmp_path):
    """`1 1000000:1` in a 200-line file used to build a 200 x 1,000,000 dense table (8.9 GB and more)."""
    lines = [f"{i % 2} 1:{i} 2:1" for i in range(200)]
    lines[50] = "1 1000000:1"
    p = _csv(tmp_path, "\n".join(lines) + "\n", "wide.svm")
    tracemalloc.start()
    msgs = _both(p)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 << 20
    assert msgs[0] == (
        f"{p}: line 51: feature index 1000000 would make the dense table 1,000,000 columns wide "
        f"(200 rows x 1,000,000 x 8 bytes = 1.6 GB); widths above {MAX_INFERRED_WIDTH:,} are not taken from the "
        "data: declare it with data.n_features (n_features=) if the data really is that wide, or read it sparse "
        "with logitkit.loaddata.read_svmlight_csr")
    X, y = read_svmlight_csr(p)  # the sparse reader holds the entries only
    assert X.shape == (200, 1_000_001) and X.nnz == 399


def test_svmlight_index_1e9_and_2_63(tmp_path):
    p = _csv(tmp_path, "1 1:1\n0 1000000000:1\n", "e9.svm")
    with pytest.raises(InputFileError, match=r"e9\.svm: line 2: feature index 1000000000 would make the dense table "
                                             r"1,000,000,000 columns wide \(2 rows x 1,000,000,000 x 8 bytes = 16\.0 GB\)"):
        load_svmlight(p)
    for idx in (str(2**63), str(2**64), "99999999999999999999999"):
        q = _csv(tmp_path, f"1 1:1\n0 2:1\n1 {idx}:3\n", "big.svm")
        with pytest.raises(InputFileError, match=rf"big\.svm: line 3: feature index '{idx}' is beyond 2\^63 - 2; "
                                                 "svmlight indices are feature numbers: fix the line"):
            read_svmlight_csr(q)
    q = _csv(tmp_path, f"1 1:1\n0 {2**62}:1\n", "ok.svm")
    X, _ = read_svmlight_csr(q)
    assert X.shape == (2, 2**62 + 1)


def test_declared_width_that_does_not_fit_in_memory(tmp_path):
    p = _csv(tmp_path, "1 1:1\n0 2:1\n", "n.svm")
    with pytest.raises(InputFileError, match=r"n\.svm: a dense table of 2 rows x 10,000,000,000,000 columns "
                                             r"\(160\.0 TB\) does not fit in memory"):
        load_svmlight(p, n_features=10**13)


def test_svmlight_bad_qid(tmp_path):
    p = _csv(tmp_path, "1 qid:1 1:1\n0 qid:x 1:2\n", "q.svm")
    with pytest.raises(InputFileError, match=r"q\.svm: line 2: 'qid:x' is not qid:<number>"):
        load_svmlight(p)


# ------------------------------------------------------------------ Parquet
@pytest.fixture
def parquet_file(tmp_path):
    t = pa.table({"x": np.arange(400, dtype=float), "c": [f"v{i % 7}" for i in range(400)], "y": np.arange(400) % 2})
    p = tmp_path / "d.parquet"
    pq.write_table(t, p, row_group_size=100, compression="snappy")
    return p


def test_corrupt_parquet_page(parquet_file):
    b = bytearray(parquet_file.read_bytes())
    for k in range(60, 400, 7):  # inside the first column chunk's pages
        b[k] ^= 0x5A
    parquet_file.write_bytes(bytes(b))
    for msg in _both(parquet_file):
        assert msg.startswith(f"{parquet_file}: could not be read as Parquet (")
        assert msg.endswith("); the file is damaged or not Parquet: write it again")


@pytest.mark.parametrize("cut", ["magic", "footer", "truncated"])
def test_corrupt_parquet_footer(parquet_file, cut):
    b = bytearray(parquet_file.read_bytes())
    if cut == "magic":
        b[-1] ^= 0xFF
    elif cut == "footer":
        flen = int.from_bytes(bytes(b[-8:-4]), "little")
        for k in range(len(b) - 8 - flen, len(b) - 8, 3):
            b[k] = 0xFF
    else:
        b = b[:-20]
    parquet_file.write_bytes(bytes(b))
    with pytest.raises(InputFileError, match=r"d\.parquet: could not be read as Parquet \(.+\); the file is damaged"):
        load_parquet(parquet_file)


def test_parquet_awkward_columns(tmp_path):
    p = tmp_path / "dup.parquet"
    pq.write_table(pa.table([pa.array([1, 2]), pa.array([3, 4])], names=["x", "x"]), p)
    with pytest.raises(InputFileError, match=r"dup\.parquet: the column name 'x' is given twice \(columns 1 and 2\)"):
        load_parquet(p)
    p = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"l": pa.array([[1], [2]]), "y": [0, 1]}), p)
    with pytest.raises(InputFileError, match=r"nested\.parquet: column 'l' has type list<element: int64>; logitkit "
                                             r"reads columns of numbers, booleans, text or times: flatten or drop it"):
        list(stream_parquet(p))
    p = tmp_path / "bytes.parquet"
    pq.write_table(pa.table({"b": pa.array([b"ok", b"\xff"], pa.binary()), "y": [0, 1]}), p)
    with pytest.raises(InputFileError, match=r"bytes\.parquet: column 'b' holds bytes that are not UTF-8 text"):
        load_parquet(p)
    p = tmp_path / "text.parquet"  # binary holding UTF-8 (as some writers store strings) is text
    pq.write_table(pa.table({"b": pa.array([b"ok", "é".encode()], pa.binary()), "y": [0, 1]}), p)
    assert load_parquet(p).data.column("b").type == pa.string()


# ------------------------------------------------------------------ what is given as data (item 6)
def test_directory_given_as_csv(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(InputFileError, match=r"folder\.csv: is a directory; data.path must name a file \(only "
                                             r"Parquet data may be a directory of files\)"):
        load_csv(tmp_path / "folder.csv")


def test_dangling_symlink_and_loop(tmp_path):
    (tmp_path / "gone.csv").symlink_to(tmp_path / "missing.csv")
    with pytest.raises(InputFileError, match=r"gone\.csv: a symbolic link to '.*missing\.csv', which does not exist"):
        load_csv(tmp_path / "gone.csv")
    (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")
    (tmp_path / "b.csv").symlink_to(tmp_path / "a.csv")
    with pytest.raises(InputFileError, match=r"a\.csv: cannot be opened \(Too many levels of symbolic links\)"):
        load_csv(tmp_path / "a.csv")


def test_symlink_to_a_file_is_followed(tmp_path):
    real = _csv(tmp_path, "x,y\n1,0\n2,1\n")
    (tmp_path / "link.csv").symlink_to(real)
    assert load_csv(tmp_path / "link.csv").n_rows == 2


def test_fifo_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(InputFileError, match=r"pipe\.csv: is not a regular file \(a device, pipe or socket\)"):
        load_csv(tmp_path / "pipe.csv")


@contextmanager
def _as_nobody():
    """Root reads every file: act as user 'nobody' for a moment (as any other user, nothing changes)."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


def test_unreadable_file():
    folder = Path(tempfile.mkdtemp(prefix="logitkit-perm-"))  # (under /tmp, which every user may enter)
    try:
        folder.chmod(0o755)
        p = _csv(folder, "x,y\n1,0\n")
        p.chmod(0o000)
        with _as_nobody(), pytest.raises(InputFileError) as info:
            load_csv(p)
        assert str(info.value) == f"{p}: cannot be read (permission denied); check the file's permissions"
        folder.chmod(0o000)
        with _as_nobody(), pytest.raises(InputFileError) as info:
            load_csv(p)
        assert str(info.value) == f"{p}: cannot be opened (Permission denied); check the path and its permissions"
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_damaged_gzip(tmp_path):
    p = tmp_path / "d.csv.gz"
    p.write_bytes(gzip.compress(("x,y\n" + ROWS).encode())[:-30] + b"\x00" * 30)
    with pytest.raises(InputFileError, match=r"d\.csv\.gz: could not be read \(.*\); check the file"):
        load_csv(p)


def test_wide_svmlight_fits_sparse_end_to_end(tmp_path):
    """Past the dense width the CSR reader and the solvers keep X sparse; the fit is scikit-learn's."""
    from sklearn.linear_model import LogisticRegression as SkLogistic

    from logitkit.predict import LogisticRegression

    rng = np.random.default_rng(0)
    lines = []
    for i in range(80):
        cols = np.sort(rng.choice(4_999, 5, replace=False) + 1)
        lines.append(f"{i % 2} " + " ".join(f"{j}:{rng.normal():.3f}" for j in cols) + f" 5000:{i % 2 + 1}")
    p = _csv(tmp_path, "\n".join(lines) + "\n", "w.svm")
    with pytest.raises(InputFileError, match="widths above 4,096 are not taken from the data"):
        load_svmlight(p)
    X, y = read_svmlight_csr(p)
    assert X.shape == (80, 5_001) and X.nnz == 480
    model = LogisticRegression(alpha=1e-2, tol=1e-10).fit(X, y)
    ref = SkLogistic(C=1 / (1e-2 * 80), tol=1e-10, max_iter=10_000).fit(X, y)
    assert np.abs(model.coef_ - ref.coef_).max() < 1e-4


def test_criteo_text_that_is_not_utf8(tmp_path):
    """Criteo is parsed without pyarrow's UTF-8 check (a third of the parse); text with a byte
    above 0x7F is validated after the parse, so a bad byte is still a line error."""
    ok = "\t".join(["0"] + ["1"] * 13 + ["68fd1e64"] * 26)
    bad = "\t".join(["1"] + ["2"] * 13 + ["caf\udce9"] + ["a"] * 25).encode("utf-8", "surrogateescape")
    p = _csv(tmp_path, (ok + "\n").encode() * 3 + bad + b"\n", "c.tsv")
    for msg in _both(p, "criteo"):
        assert msg == f"{p}: line 4, byte 32: e9 is not UTF-8 text; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
    fine = _csv(tmp_path, (ok + "\n" + ok.replace("68fd1e64", "café") + "\n").encode(), "u.tsv")
    assert load_file(fine, "criteo").data.column("C1").to_pylist() == ["68fd1e64", "café"]


def test_label_of_a_megabyte_is_not_a_class(tmp_path):
    from logitkit.loaddata import Table

    p = _csv(tmp_path, "x,y\n1,a\n2," + "b" * 1_000_001 + "\n3,a\n")
    t = load_csv(p)
    assert isinstance(t, Table)
    with pytest.raises(UserError, match=r"d\.csv: label column 'y' holds a value of 1,000,001 characters at row 2 "
                                        r"\(line 3 of d\.csv\), which is not a class label \(at most 1,000\)"):
        t.labels()


# ------------------------------------------------------------------ reader threads (item 9)
@pytest.fixture(scope="module")
def criteo_file(tmp_path_factory):
    from logitkit.loaddata import make_ctr, write_criteo

    p = tmp_path_factory.mktemp("ctr") / "d.tsv"
    write_criteo(make_ctr(20_000, seed=3, max_cardinality=100)[0], p)
    return p


def _reader_threads():
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("logitkit-")]


def test_reader_threads_end_on_error_and_on_close(tmp_path, criteo_file):
    lines = criteo_file.read_text().split("\n")
    lines[15_000] = "\t".join(lines[15_000].split("\t")[:30])
    bad = _csv(tmp_path, "\n".join(lines), "bad.tsv")
    with pytest.raises(InputFileError, match=r"bad\.tsv: line 15001 has the wrong number of fields"):
        for _ in stream_criteo(bad, batch_rows=500, chunk_bytes=256 << 10):
            pass
    assert _reader_threads() == []
    g = stream_criteo(criteo_file, batch_rows=500, chunk_bytes=256 << 10)
    next(g)
    assert _reader_threads()  # parsing ahead
    g.close()
    assert _reader_threads() == []


def test_streams_left_open_at_exit_end_quietly(tmp_path, criteo_file):
    """Streams abandoned mid-file by a process that exits: exit status 0, nothing on stderr."""
    from logitkit.loaddata import load_criteo, write_csv, write_parquet

    t = load_criteo(criteo_file)
    write_parquet(t, tmp_path / "d.parquet", row_group_rows=1000)
    write_csv(t, tmp_path / "d.csv")
    code = f"""
from logitkit.loaddata import stream_criteo, stream_csv, stream_parquet
open_streams = [stream_criteo({str(criteo_file)!r}, batch_rows=100, chunk_bytes=1 << 18),
                stream_csv({str(tmp_path / 'd.csv')!r}, batch_rows=100),
                stream_parquet({str(tmp_path / 'd.parquet')!r}, batch_rows=100)]
for s in open_streams:
    next(s)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0 and proc.stderr == ""


def test_criteo_count_beyond_2_53(tmp_path):
    """(It reached the CTR stream's vocabulary as an ArrowInvalid traceback.)"""
    row = ["0"] + ["1"] * 13 + ["68fd1e64"] * 26
    big = list(row)
    big[5] = str(2**63 - 1)
    p = _csv(tmp_path, "\n".join("\t".join(r) for r in [row, row, big, row]) + "\n", "c.tsv")
    for msg in _both(p, "criteo"):
        assert msg == (f"{p}: column 'I5' at line 3: count 9223372036854775807 is beyond 2^53 in size, which no count "
                       "reaches (and a float64 cannot hold exactly)")


def test_ragged_row_line_counts_quoted_newlines_and_blank_lines(tmp_path):
    """pyarrow numbers records (a quoted newline joins two lines; blank lines are not
    records): the message gives the line of the file."""
    p = _csv(tmp_path, 'a,b\n"x\ny",1\n\n\n3\n', "q.csv")
    for msg in _both(p):
        assert msg.startswith(f"{p}: line 6 has the wrong number of fields (expected 2 fields, got 1)")
    p = _csv(tmp_path, "a,b\r\n1,2\r\n\r\n3\r\n", "crlf.csv")
    with pytest.raises(InputFileError, match=r"crlf\.csv: line 4 has the wrong number of fields"):
        load_csv(p)


def test_chunks_of_the_error_path_cut_outside_quoted_fields():
    from logitkit.loaddata.diagnose import _clean_chunks

    rows = [('"a\nb""c",' if i % 3 == 0 else "x,") + str(i) for i in range(200)]
    data = ("h,i\n" + "\n".join(rows) + "\n").encode() + b"\xff\n"
    for size in (5, 13, 64, 1000):
        chunks = list(_clean_chunks(data, True, size))
        assert b"".join(c for c, _ in chunks) == data.replace(b"\xff", "\ufffd".encode())
        pos = 0
        for text, line in chunks:
            assert text.count(b'"') % 2 == 0 and data[:pos].count(b"\n") + 1 == line
            pos += len(text) - (2 if b"\xef\xbf\xbd" in text else 0)


def test_conversion_error_names_the_column_and_the_line_after_blank_lines(tmp_path):
    row = ["0"] + ["1"] * 13 + ["68fd1e64"] * 26
    bad = list(row)
    bad[3] = "xx"
    p = _csv(tmp_path, "\n".join(["\t".join(row), "", "", "\t".join(row), "\t".join(bad)]) + "\n", "cb.tsv")
    with pytest.raises(InputFileError, match=r"cb\.tsv: column 'I3' at line 5: value is not int64 \(invalid value 'xx'\)"):
        list(stream_criteo(p))
    q = _csv(tmp_path, 'a,b\n1,2\n"q\nq",3\n')
    with pytest.raises(InputFileError, match=r"d\.csv: column 'a': value is not int64 \(invalid value 'q q'\)"):
        load_csv(q, column_types={"a": pa.int64()})


def test_criteo_label_that_is_not_a_click(tmp_path):
    """(The streamed hashed model said "labels must be 0 or 1; found 2", naming no file or line.)"""
    row = ["0"] + ["1"] * 13 + ["68fd1e64"] * 26
    p = _csv(tmp_path, "\n".join("\t".join(["2" if i == 2 else "1"] + row[1:]) for i in range(4)) + "\n", "l.tsv")
    for msg in _both(p, "criteo"):
        assert msg == (f"{p}: line 3: the label is 2; Criteo labels are 0 (no click) or 1 (click): map other labels "
                       "(e.g. VW's -1/+1) to 0/1 first")
