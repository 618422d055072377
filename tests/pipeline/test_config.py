"""Config validation: unknown keys with suggestions, wrong types, --set overrides, defaults."""
import pytest

from logitkit import UserError
from logitkit.pipeline.config import Config
from logitkit.pipeline.config_load import load_config, parse_set, resolved_dict


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_unknown_key_names_key_and_suggests(tmp_path):
    p = write(tmp_path, "model:\n  penalt: l2\n")
    with pytest.raises(UserError, match=r"c.yaml: unknown key 'model.penalt'. Did you mean 'penalty'\?"):
        load_config(p)


def test_unknown_section_suggests(tmp_path):
    with pytest.raises(UserError, match=r"unknown key 'evalute'. Did you mean 'evaluate'\?"):
        load_config(write(tmp_path, "evalute: {}\n"))


def test_nested_unknown_key(tmp_path):
    with pytest.raises(UserError, match=r"unknown key 'evaluate.cv.fold'. Did you mean 'folds'\?"):
        load_config(write(tmp_path, "evaluate:\n  cv:\n    fold: 3\n"))


def test_wrong_type_names_key(tmp_path):
    with pytest.raises(UserError, match=r"'model.alpha': Input should be a valid number.*got 'strong'"):
        load_config(write(tmp_path, "model:\n  alpha: strong\n"))


def test_bad_yaml_names_line(tmp_path):
    with pytest.raises(UserError, match=r"c.yaml: line 2, column 10 is not valid YAML .*; fix the syntax"):
        load_config(write(tmp_path, "model:\n  alpha: : 1\n"))


def test_missing_file():
    with pytest.raises(UserError, match=r"config file nowhere.yaml does not exist"):
        load_config("nowhere.yaml")


def test_set_overrides_parse_yaml_values(tmp_path):
    cfg = load_config(write(tmp_path, "data: {dataset: iris}\n"), ["model.alpha=0.5", "model.penalty=null",
                                                                   "evaluate.metrics=[accuracy]"])
    assert cfg.model.alpha == 0.5 and cfg.model.penalty is None and cfg.evaluate.metrics == ["accuracy"]
    with pytest.raises(UserError, match=r"--set 'alpha=1': the key must name a section and a key"):
        parse_set(["alpha=1"])
    with pytest.raises(UserError, match=r"expected section.key=value"):
        parse_set(["model.alpha"])


def test_every_default_is_in_the_schema():
    d = resolved_dict(Config())
    assert set(d) == {"run", "data", "prep", "embed", "model", "evaluate", "interpret"}
    assert d["run"]["seed"] == 0 and d["model"]["penalty"] == "l2" and d["data"]["split"]["test_size"] == 0.25


def test_relative_paths_resolve_against_config_folder(tmp_path):
    (tmp_path / "d.csv").write_text("x,y\n1,0\n2,1\n")
    cfg = load_config(write(tmp_path, "data: {path: d.csv}\n"))
    assert cfg.data.path == str((tmp_path / "d.csv").resolve())


def test_unknown_model_option_is_a_config_error(tmp_path, capsys):
    from logitkit.pipeline.cli import main

    cfg = write(tmp_path, "data: {dataset: iris}\nmodel: {options: {warm_strat: true}}\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "model.options: 'warm_strat' is not a parameter of model.kind 'logistic'. Did you mean 'warm_start'?" in err
