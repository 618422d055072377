"""A config is checked before any work: a wrong name (metric, option, column, level)
costs no fit and leaves no run directory, not even a ``.failed`` one; ``none`` turns the
penalty off from ``--set``; YAML's yes/no are text where a label value is meant."""
import json

import numpy as np
import pandas as pd
import pytest

from logitkit._util.errors import ConfigError
from logitkit.pipeline.cli import main
from logitkit.pipeline.config_load import load_config, parse_set


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("check")
    rng = np.random.default_rng(1)
    n = 200
    d = pd.DataFrame({"x": rng.normal(size=n).round(3), "region": rng.choice(list("abc"), n),
                      "site": rng.integers(0, 10, n)})
    d["y"] = np.where(rng.random(n) < 1 / (1 + np.exp(-d.x)), "yes", "no")
    d.to_csv(tmp / "data.csv", index=False)
    (tmp / "cfg.yaml").write_text("data: {path: data.csv, label: y, split: {method: none}}\n"
                                  "interpret: {plots: false, graph: false, report: false}\n")
    return tmp


@pytest.mark.parametrize("override, message", [
    ("evaluate.metrics=[acuracy]", "cfg.yaml: evaluate.metrics: unknown metric 'acuracy'. Did you mean 'accuracy'?"),
    ("evaluate.cv.scoring=logloss", "evaluate.cv.scoring: unknown metric 'logloss'. Did you mean 'log_loss'?"),
    ("model.options={max_iters: 5}", "model.options: 'max_iters' is not a parameter of model.kind 'logistic'. "
                                     "Did you mean 'max_iter'?"),
    ("data.exclude=[regon]", "data.exclude: 'regon' is not a column of "),
    ("data.features=[x, regoin]", "data.features: 'regoin' is not a column of "),
    ("prep.one_hot=[regoin*]", "prep.one_hot: 'regoin*' matches no column of"),
    ("evaluate.cov_type=cluster", "evaluate.cov_type 'cluster' needs evaluate.cluster_column"),
    ("evaluate.cluster_column=sight", "evaluate.cluster_column: 'sight' is not a column of"),
    ("prep.reference={regon: a}", "prep.reference: 'regon' is not a column of"),
    ("prep.reference={region: z}", "prep.reference: 'z' is not a level of column 'region' in data.csv; its levels are "
                                   "['a', 'b', 'c']"),
    ("data.positive_class=maybe", "data.positive_class 'maybe' is not a value of label column 'y'"),
    ("interpret.profile={feature: x, values: [1]}", "interpret.profile.feature: 'x' must be the model's only feature"),
    ("evaluate.marginal_effects=true", "evaluate.marginal_effects asks for standard errors, but standard errors are "
                                       "not defined for an MLP (model.kind 'mlp')"),
])
def test_a_mistake_costs_no_fit_and_leaves_no_run(folder, override, message, capsys, tmp_path):
    extra = ["--set", "model.kind=mlp"] if "marginal_effects" in override else []
    extra += ["--set", "evaluate.cov_type=cluster"] if "cluster_column" in override else []
    out = tmp_path / "runs"
    assert main(["run", str(folder / "cfg.yaml"), "--out", str(out), "--set", override, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()  # no run directory, no .partial, no .failed


def test_penalty_none_from_the_command_line(folder):
    cfg = load_config(folder / "cfg.yaml", ["model.penalty=none"])
    assert cfg.model.penalty is None
    assert load_config(folder / "cfg.yaml", ["model.penalty=None", "prep.impute=null"]).prep.impute is None
    with pytest.raises(ConfigError, match=r"'model.penalty': Input should be 'l2', 'l1' or 'elasticnet'"):
        load_config(folder / "cfg.yaml", ["model.penalty=nothing"])


def test_yes_and_no_are_text_where_a_label_is_meant(folder, tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(f"data: {{path: {folder / 'data.csv'}, label: y, positive_class: no, classes: [no, yes]}}\n"
                 "interpret: {plots: no, report: off}\n")
    cfg = load_config(f)
    assert cfg.data.positive_class == "no" and cfg.data.classes == ["no", "yes"]
    assert cfg.interpret.plots is False and cfg.interpret.report is False  # a boolean key still takes no/off
    assert load_config(f, ["data.positive_class=yes"]).data.positive_class == "yes"
    assert load_config(f, ["data.positive_class='1.0'", "data.classes=null"]).data.positive_class == "1.0"
    assert load_config(f, ["data.positive_class=null"]).data.positive_class is None
    assert parse_set(["data.classes=[no, yes, 1]"]) == {"data": {"classes": ["no", "yes", "1"]}}
    assert load_config(raw={"data": {"dataset": "iris", "positive_class": True}}).data.positive_class == "true"


def test_predictions_are_named_by_the_label_values(folder, tmp_path):
    assert main(["run", str(folder / "cfg.yaml"), "--out", str(tmp_path / "runs"), "--set", "data.positive_class=no"]) == 0
    rd = next((tmp_path / "runs").iterdir())
    record = json.loads((rd / "record.json").read_text())
    assert record["data"]["summary"]["classes"] == ["yes", "no"] and record["data"]["summary"]["positive_class"] == "no"
    new = tmp_path / "new.csv"
    pd.read_csv(folder / "data.csv").drop(columns="y").head(3).to_csv(new, index=False)
    assert main(["predict", str(rd), str(new), "-o", str(tmp_path / "p.csv")]) == 0
    p = pd.read_csv(tmp_path / "p.csv")
    assert list(p.columns[-3:]) == ["p_yes", "p_no", "prediction"]
    assert set(p.prediction) <= {"yes", "no"} and np.allclose(p.p_yes + p.p_no, 1)
