"""load_from_config: the data section to tables, with fingerprints of every file."""
import hashlib

import numpy as np
import pytest

from logitkit._util.errors import ConfigError, DataError
from logitkit.loaddata import describe_datasets, load_from_config, make_logistic, write_csv, write_parquet
from logitkit.pipeline.config import DataSection


def test_builtin_dataset(tmp_path):
    t, test = load_from_config(DataSection(dataset="cd_age"), tmp_path)
    assert test is None and t.label == "cd" and t.feature_names == ["age"] and t.n_rows == 33
    assert t.fingerprint["dataset"] == "cd_age" and t.fingerprint["schema"] == {"age": "int64", "cd": "int64"}


def test_relative_paths_features_and_fingerprint(tmp_path):
    t, _ = make_logistic(60, 5, seed=1)
    (tmp_path / "data").mkdir()
    p = write_csv(t, tmp_path / "data" / "train.csv")
    q = write_parquet(t.data.slice(0, 20), tmp_path / "data" / "test.parquet")
    cfg = DataSection(path="data/train.csv", label="y", features=["x[0-2]", "x4"], exclude=["x1"],
                      test_path="data/test.parquet")
    train, test = load_from_config(cfg, tmp_path)
    assert train.feature_names == ["x0", "x2", "x4"] and test.feature_names == ["x0", "x2", "x4"]
    files = train.fingerprint["files"]
    assert files[str(p)] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert files[str(q)] == hashlib.sha256(q.read_bytes()).hexdigest()
    assert train.fingerprint["schema"]["x0"] == "double"


def test_pattern_matching_nothing(tmp_path):
    t, _ = make_logistic(10, 2, seed=1)
    write_csv(t, tmp_path / "d.csv")
    with pytest.raises(ConfigError, match=r"data.features: 'z\*' matches no column"):
        load_from_config(DataSection(path="d.csv", features=["z*"]), tmp_path)
    with pytest.raises(ConfigError, match=r"data.label 'yy' is not a column of d.csv.*Did you mean 'y'"):
        load_from_config(DataSection(path="d.csv", label="yy"), tmp_path)


def test_positive_class(tmp_path):
    (tmp_path / "d.csv").write_text("x,outcome\n1,sick\n2,well\n3,sick\n")
    t, _ = load_from_config(DataSection(path="d.csv", positive_class="sick"), tmp_path)
    np.testing.assert_array_equal(t.labels(), [1, 0, 1])
    with pytest.raises(DataError, match=r"data.positive_class 'ill' is not a value of label column 'outcome'"):
        load_from_config(DataSection(path="d.csv", positive_class="ill"), tmp_path)


def test_unknown_format(tmp_path):
    (tmp_path / "d.xyz").write_text("a\n1\n")
    with pytest.raises(ConfigError, match=r"d.xyz: cannot tell the format from the extension '.xyz'; set data.format"):
        load_from_config(DataSection(path="d.xyz"), tmp_path)


def test_config_rejects_unknown_keys_and_two_sources():
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        DataSection(dataset="iris", colour="red")
    with pytest.raises(ValueError, match="data.dataset and data.path are both set"):
        DataSection(dataset="iris", path="x.csv")
    with pytest.raises(ValueError, match="split.method 'time' needs split.time_column"):
        DataSection(split={"method": "time"})


def test_describe_datasets():
    info = {d.name: d for d in describe_datasets()}
    assert info["cd_age"].n_rows == 33 and info["iris"].n_classes == 3 and info["breast_cancer"].n_features == 30


def test_time_split_column_rides_along_until_split(tmp_path):
    from logitkit.prepdata import split_table

    (tmp_path / "d.csv").write_text("x,day,y\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(30)))
    cfg = DataSection(path="d.csv", features=["x"], split={"method": "time", "time_column": "day", "test_size": 0.3})
    t, _ = load_from_config(cfg, tmp_path)
    assert t.feature_names == ["x"] and t.extra == ("day",)  # carried along, not a feature
    train, test = split_table(t, cfg.split, seed=0)
    assert train.feature_names == ["x"] and test.feature_names == ["x"]
    assert train.column("day").max() < test.column("day").min() or test.column("day").min() == train.column("day").max()
