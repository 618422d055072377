"""Every model kind ``logitkit run`` fits is saved through the estimators' public state
protocol and scored back by ``logitkit predict`` and ``logitkit.load``; the run id is of
the content, not the location (the same config and data in another folder)."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

import logitkit
from logitkit.pipeline.cli import main
from logitkit.pipeline.scorer import Scorer

CONFIG = """
data: {path: data/d.csv, label: y, split: {method: random, test_size: 0.25}}
prep: {standardize: true}
interpret: {plots: false, graph: false, report: false}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("model_files")
    rng = np.random.default_rng(2)
    n = 240
    d = pd.DataFrame({"a": rng.normal(size=n).round(3), "b": rng.normal(size=n).round(3),
                      "c": rng.choice(["u", "v", "w"], n)})
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-(d.a - d.b)))).astype(int)
    (tmp / "data").mkdir()
    d.to_csv(tmp / "data" / "d.csv", index=False)
    (tmp / "cfg.yaml").write_text(CONFIG)
    return tmp, d


@pytest.mark.parametrize("kind", [[], ["model.kind=mlp", "model.hidden_layer_sizes=[4]", "model.max_iter=40"],
                                  ["model.penalty=none"], ["model.kind=firth", "model.options={profile_ci: false}"]])
def test_run_then_predict_every_kind(folder, kind, tmp_path, capsys):
    tmp, d = folder
    args = ["run", str(tmp / "cfg.yaml"), "--out", str(tmp_path)]
    for s in kind:
        args += ["--set", s]
    assert main(args) == 0
    rd = next(p for p in tmp_path.iterdir() if p.is_dir())
    new = tmp_path / "new.csv"
    d.drop(columns="y").to_csv(new, index=False)
    assert main(["predict", str(rd), str(new), "-o", str(tmp_path / "scored.csv")]) == 0
    scored = pd.read_csv(tmp_path / "scored.csv")
    model = logitkit.load(rd)  # the run's estimator, without its transforms
    scorer = Scorer.load(rd)
    assert type(model) is type(scorer.model)
    np.testing.assert_array_equal(scored[["p_0", "p_1"]].to_numpy(), scorer.proba(scorer.table(
        {c: d[c].to_numpy() if c != "c" else d[c].tolist() for c in ["a", "b", "c"]})))


def test_same_config_and_data_elsewhere_is_the_same_run(folder, tmp_path):
    tmp, d = folder
    other = tmp_path / "elsewhere"
    shutil.copytree(tmp, other, ignore=shutil.ignore_patterns("runs*"))
    ids = []
    for where in (tmp, other):
        out = tmp_path / f"out_{len(ids)}"
        assert main(["run", str(where / "cfg.yaml"), "--out", str(out)]) == 0
        ids.append(next(out.iterdir()).name)
    assert ids[0] == ids[1]
    rd = tmp_path / "out_1" / ids[1]
    assert "path: data/d.csv" in (rd / "config.yaml").read_text()  # relative to the config, as written
    assert json.loads((rd / "record.json").read_text())["config_dir"] == str(other)
    assert main(["repro", str(rd)]) == 0
    (other / "data" / "d.csv").write_text((other / "data" / "d.csv").read_text().replace("0.", "1.", 1))
    assert main(["run", str(other / "cfg.yaml"), "--out", str(tmp_path / "out_2")]) == 0
    assert next((tmp_path / "out_2").iterdir()).name != ids[0]  # other content, other run


def test_firth_in_a_run_is_firths_fit(folder, tmp_path):
    tmp, d = folder
    assert main(["run", str(tmp / "cfg.yaml"), "--out", str(tmp_path), "--set", "model.kind=firth",
                 "--set", "data.split.method=none"]) == 0
    rd = next(tmp_path.iterdir())
    rows = pd.read_csv(rd / "coefficients.csv").set_index("term")
    from logitkit.loaddata import load_csv
    from logitkit.predict import FirthLogisticRegression
    from logitkit.prepdata import Preprocessor
    from logitkit.pipeline.config import PrepSection

    t = load_csv(tmp / "data" / "d.csv", label="y")
    prep = Preprocessor(PrepSection(standardize=True)).fit(t)
    ref = FirthLogisticRegression().fit(pd.DataFrame(prep.transform(t), columns=prep.feature_names_), t.labels())
    np.testing.assert_allclose(rows.loc[ref.terms_, "coef"], ref.theta_, rtol=1e-8)
    np.testing.assert_allclose(rows.loc[ref.terms_, "ci_low"], ref.conf_int_[:, 0], rtol=1e-6)
    np.testing.assert_allclose(rows.loc[ref.terms_, "p_value"], ref.pvalues_, rtol=1e-6)
    stats = json.loads((rd / "record.json").read_text())["model_stats"]
    assert stats["intervals"] == "profile penalised likelihood" and stats["cov_type"] == "nonrobust"


def test_firth_is_binary_and_has_no_robust_covariance(folder, tmp_path, capsys):
    tmp, d = folder
    assert main(["run", str(tmp / "cfg.yaml"), "--out", str(tmp_path), "--set", "model.kind=firth",
                 "--set", "evaluate.cov_type=HC0"]) == 2
    assert "evaluate.cov_type 'HC0' is not available for model.kind 'firth'" in capsys.readouterr().err
    assert main(["run", str(tmp / "cfg.yaml"), "--out", str(tmp_path), "--set", "model.kind=firth",
                 "--set", "data.label=c", "--set", "data.exclude=[y]"]) == 2
    assert "model.kind 'firth' is a binary model, but label 'c'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
