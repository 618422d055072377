"""Labels compared as the file's text; a stray value in a binary label named with its row
and line; when a run is binary and when multiclass (``loaddata.labels``)."""
import numpy as np
import pytest

from logitkit._util.errors import DataError
from logitkit.loaddata import load_from_config
from logitkit.pipeline.config import DataSection


def _write(path, labels, x=None):
    x = x if x is not None else np.arange(len(labels))
    path.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(x, labels)))
    return path


def _load(tmp_path, labels, **data):
    _write(tmp_path / "d.csv", labels)
    return load_from_config(DataSection(path="d.csv", label="y", **data), tmp_path)


def test_a_stray_value_next_to_a_binary_label_is_named_with_its_row_and_line(tmp_path):
    labels = ["Yes", "No"] * 40
    labels[36] = "yes "
    with pytest.raises(DataError, match=r"d.csv: label 'y' has 3 values \['No', 'Yes', 'yes '\], but 'yes ' appears "
                                        r"in 1 row \(row 37 \(line 38 of d.csv\)\): a typo in a binary label of "
                                        r"\['No', 'Yes'\]\? Fix or drop that row, or declare the classes with "
                                        r"data.classes: \[No, Yes, yes \] to fit a multiclass model"):
        _load(tmp_path, labels)
    with pytest.raises(DataError, match=r"label 'y' has the value 'yes ' at row 37 \(line 38 of d.csv\), which "
                                        r"data.positive_class 'Yes' does not allow"):
        _load(tmp_path, labels, positive_class="Yes")
    t, _ = _load(tmp_path, labels, classes=["No", "Yes", "yes "])  # declared: three classes
    assert sorted(set(t.labels())) == ["No", "Yes", "yes "]


def test_multiclass_when_every_class_has_more_than_a_handful_of_rows(tmp_path):
    t, _ = _load(tmp_path, ["a", "b", "c"] * 10)
    assert sorted(set(t.labels())) == ["a", "b", "c"]
    with pytest.raises(DataError, match=r"label 'y' has the value 'd' at row 31 \(line 32 of d.csv\), which "
                                        r"data.classes does not allow"):
        _load(tmp_path, ["a", "b", "c"] * 10 + ["d"], classes=["a", "b", "c"])


def test_positive_class_compared_as_text(tmp_path):
    t, _ = _load(tmp_path, ["yes", "no"] * 5, positive_class="no")
    assert t.label_names == ("yes", "no") and t.labels().tolist() == [0, 1] * 5
    t, _ = _load(tmp_path, [1.0, 0.0] * 5, positive_class="1")  # a number column: 1 names 1.0
    assert t.labels().tolist() == [1, 0] * 5
    t, _ = _load(tmp_path, ["true", "false"] * 5, positive_class="True")  # a true/false column
    assert t.labels().tolist() == [1, 0] * 5 and t.label_names == ("false", "true")


def test_a_test_label_the_training_data_lacks_is_named(tmp_path):
    _write(tmp_path / "d.csv", ["a", "b"] * 10)
    _write(tmp_path / "t.csv", ["a", "b", "B"])
    with pytest.raises(DataError, match=r"t.csv: label 'y' has the value 'B' at row 3 \(line 4 of t.csv\), which is "
                                        r"not a class of the training data \(\['a', 'b'\]\)"):
        load_from_config(DataSection(path="d.csv", test_path="t.csv", label="y"), tmp_path)


def test_a_value_that_is_no_class_is_named_before_the_labels_are_counted(tmp_path):
    """A megabyte-long label (NumPy would copy every label that wide to count them) and a
    number that is not a whole one (not a stray typo to declare as a class)."""
    labels = ["a", "b"] * 1500
    labels[2500] = "z" * 1_000_001
    with pytest.raises(DataError, match=r"^d.csv: label column 'y' holds a value of 1,000,001 characters at row 2501 "
                                        r"\(line 2502 of d.csv\), which is not a class label \(at most 1,000\)"):
        _load(tmp_path, labels)
    labels = [0, 1] * 40
    labels[7] = "99999999999999999999999"
    with pytest.raises(DataError, match=r"^d.csv: label column 'y' holds 1e\+23 at row 8 \(line 9 of d.csv\), which "
                                        r"is not a class label; labels are whole numbers \(below 2\^53\) or text"):
        _load(tmp_path, labels)
