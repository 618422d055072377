"""A rank's part of a hostile file (ranks simulated in threads): the readers' one-line errors
hold under torchrun too, with the line of the whole file, and every rank says the same."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logitkit._util.errors import DataError, InputFileError
from logitkit.loaddata import make_ctr, write_criteo
from logitkit.loaddata.parts import read_part
from logitkit.loaddata.table import Table
from logitkit.pipeline.config import DataSection
from logitkit.prepdata import check_split_labels


def _every_rank_raises(thread_ranks, fn, world=2) -> list[str]:
    """Each rank's error message (every rank must raise)."""
    def rank(coll):
        try:
            fn(coll)
        except (InputFileError, DataError) as exc:
            return str(exc)
        return None

    return thread_ranks(rank, world)


def test_criteo_label_in_the_last_ranks_part_names_its_line(tmp_path, thread_ranks):
    p = write_criteo(make_ctr(400, seed=3, max_cardinality=20)[0], tmp_path / "c.tsv")
    lines = p.read_text().split("\n")
    lines[349] = "2" + lines[349][1:]  # line 350, in rank 1's half
    p.write_text("\n".join(lines))
    data = DataSection(path=str(p), format="criteo")

    def rank(coll):
        read_part(p, data, tmp_path, coll)
        return None

    with pytest.raises(InputFileError, match=r"c\.tsv: line 350: the label is 2; Criteo labels are 0 \(no click\) "
                                             r"or 1 \(click\)"):
        thread_ranks(rank, 2)


def test_svmlight_width_from_a_later_rank_is_refused_on_every_rank(tmp_path, thread_ranks):
    lines = [f"{i % 2} 1:{i / 10} 2:1" for i in range(200)]
    lines[150] = "1 1000000:1"  # rank 1's part
    p = tmp_path / "w.svm"
    p.write_text("\n".join(lines) + "\n")
    data = DataSection(path=str(p), format="svmlight")
    msgs = _every_rank_raises(thread_ranks, lambda coll: read_part(p, data, tmp_path, coll))
    assert msgs[0] == msgs[1]
    assert msgs[0].startswith(f"{p}: line 151: feature index 1000000 would make the dense table 1,000,000 columns "
                              "wide (200 rows x 1,000,000 x 8 bytes = 1.6 GB); widths above 4,096 are not taken")


def test_damaged_and_nested_parquet_parts_are_one_line(tmp_path, thread_ranks):
    good = pa.table({"x": np.arange(100.0), "y": np.arange(100) % 2})
    p = tmp_path / "d.parquet"
    pq.write_table(good, p, row_group_size=25)
    raw = bytearray(p.read_bytes())
    raw[-6:-4] = b"\xff\xff"  # the footer's length
    p.write_bytes(bytes(raw))
    data = DataSection(path=str(p), format="parquet", label="y")
    msgs = _every_rank_raises(thread_ranks, lambda coll: read_part(p, data, tmp_path, coll))
    assert all(m.startswith(f"{p}: could not be read as Parquet (") and "\n" not in m for m in msgs)
    n = tmp_path / "n.parquet"
    pq.write_table(pa.table({"l": [[1, 2]] * 10, "y": [0, 1] * 5}), n)
    msgs = _every_rank_raises(thread_ranks, lambda coll: read_part(n, DataSection(path=str(n), label="y"),
                                                                   tmp_path, coll))
    assert msgs == [f"{n}: column 'l' has type list<element: int64>; logitkit reads columns of numbers, booleans, "
                    "text or times: flatten or drop it before"] * 2


def test_split_labels_checked_over_every_rank(thread_ranks):
    """The classes are those of every rank's training rows; a test label none of them holds
    is named on every rank by its first row in the input."""
    def table(labels, rows):
        return Table(pa.table({"x": np.zeros(len(labels)), "y": labels}), "y", "d.csv", first_line=2,
                     source_rows=np.asarray(rows))

    def rank(coll):
        if coll.rank == 0:  # rank 0's training rows hold only 'a', rank 1's only 'b': two classes in all
            train, test = table(["a", "a"], [0, 1]), table(["c", "a"], [7, 2])
        else:
            train, test = table(["b", "b"], [3, 4]), table(["d", "b"], [5, 6])
        try:
            check_split_labels(train, test, coll)
        except DataError as exc:
            return str(exc)

    assert thread_ranks(rank, 2) == [
        "d.csv: label 'd' at row 6 (line 7 of d.csv) (a test row) is not among the training rows' labels ['a', 'b']; "
        "a model cannot score a class it never saw: fix the label, or split with split.method stratified"] * 2

    def one_class(coll):
        try:
            check_split_labels(table(["a"], [coll.rank]), None, coll)
        except DataError as exc:
            return str(exc)

    assert thread_ranks(one_class, 2) == [
        "d.csv: the training rows' label column 'y' holds one class only ('a'); a classifier needs two or more: "
        "check data.label, or give rows of another class"] * 2
