"""Issue 14's acceptance through ``logitkit run``: a 5-level categorical, unpenalised, gives
statsmodels' ``logit('y ~ x + C(region)')`` (coefficients and SEs to 1e-6), by the CLI and
by the Python API; a duplicated column is named in a warning (stderr, record, report)
and leaves the other SEs finite; cluster columns are not features; the covariance type
is in coefficients.csv, the record and the report."""
import csv
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import logitkit
from logitkit.evaluate import summary
from logitkit.loaddata import load_csv
from logitkit.pipeline.cli import main
from logitkit.pipeline.config import PrepSection
from logitkit.prepdata import Preprocessor

CONFIG = """
data: {path: data.csv, label: y, split: {method: none}}
model: {penalty: null, tol: 1.0e-10}
interpret: {plots: false, graph: false}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("categorical")
    rng = np.random.default_rng(0)
    n = 400
    d = pd.DataFrame({"x": rng.normal(size=n).round(4), "region": rng.choice(["north", "south", "east", "west", "mid"], n),
                      "site": rng.integers(0, 25, n)})
    eta = -0.3 + 0.9 * d.x + d.region.map({"north": 0, "south": 0.5, "east": -0.4, "west": 0.8, "mid": 0.2})
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    d.to_csv(tmp / "data.csv", index=False, columns=["x", "region", "y"])
    d.assign(x_copy=d.x).to_csv(tmp / "dup.csv", index=False, columns=["x", "region", "x_copy", "site", "y"])
    (tmp / "cfg.yaml").write_text(CONFIG)
    return tmp, d


def run(tmp, *sets, out="runs"):
    args = ["run", str(tmp / "cfg.yaml"), "--out", str(tmp / out), "--force"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    return max((tmp / out).iterdir(), key=lambda p: p.stat().st_mtime)


def coefficients(run_dir):
    with open(run_dir / "coefficients.csv", newline="") as f:
        return {r["term"]: r for r in csv.DictReader(f)}


def compare(got: dict, ref, reference: str = "east"):
    names = {"x": "x", "intercept": "Intercept"}
    names.update({f"region[T.{k}]": f"C(region, Treatment('{reference}'))[T.{k}]"
                  for k in ["east", "mid", "north", "south", "west"] if k != reference})
    assert set(got) == set(names)
    for term, name in names.items():
        coef, se = got[term]
        assert coef == pytest.approx(ref.params[name], abs=1e-6), term
        assert se == pytest.approx(ref.bse[name], abs=1e-6), term


def test_cli_run_equals_statsmodels_treatment_coding(folder):
    tmp, d = folder
    got = coefficients(run(tmp))
    ref = smf.logit("y ~ x + C(region, Treatment('east'))", d).fit(disp=0, tol=1e-12)
    compare({t: (float(r["coef"]), float(r["std_err"])) for t, r in got.items()}, ref)
    assert {r["cov_type"] for r in got.values()} == {"nonrobust"}
    # the same as statsmodels' default formula, whose reference is also the first level
    assert ref.params["x"] == pytest.approx(smf.logit("y ~ x + C(region)", d).fit(disp=0).params["x"], abs=1e-6)


def test_python_api_equals_statsmodels(folder):
    tmp, d = folder
    table = load_csv(tmp / "data.csv", label="y")
    prep = Preprocessor(PrepSection()).fit(table)
    X = pd.DataFrame(prep.transform(table), columns=prep.feature_names_)
    m = logitkit.LogisticRegression(penalty=None, tol=1e-10).fit(X, table.labels())
    s = summary(m, X, table.labels())
    ref = smf.logit("y ~ x + C(region, Treatment('east'))", d).fit(disp=0, tol=1e-12)
    compare({r["term"]: (r["coef"], r["std_err"]) for r in s.rows}, ref)
    assert prep.references() == {"region": "east"}


def test_reference_level_by_config(folder):
    tmp, d = folder
    got = coefficients(run(tmp, "prep.reference={region: north}"))
    ref = smf.logit("y ~ x + C(region, Treatment('north'))", d).fit(disp=0, tol=1e-12)
    compare({t: (float(r["coef"]), float(r["std_err"])) for t, r in got.items()}, ref, reference="north")


def test_every_level_for_a_penalised_model(folder):
    tmp, d = folder
    got = coefficients(run(tmp, "prep.reference=none", "model.penalty=l2", "model.alpha=0.01"))
    assert [t for t in got if t.startswith("region")] == [f"region[{k}]" for k in ["east", "mid", "north", "south", "west"]]
    # the levels and the intercept are not identified apart from the penalty: no standard errors; x is
    assert all(got[t]["std_err"] == "" and got[t]["cov_type"] == "none" for t in got if t != "x")
    assert float(got["x"]["std_err"]) > 0


def test_duplicated_column_is_named_and_the_rest_keep_finite_ses(folder, capsys):
    tmp, d = folder
    capsys.readouterr()
    rd = run(tmp, f"data.path={tmp / 'dup.csv'}", "data.exclude=[site]")
    err = capsys.readouterr().err
    assert "logitkit: warning: AliasedColumnsWarning: the design (X) is rank deficient: 1 column ('x_copy') is a " \
           "linear combination of the intercept and earlier columns" in err
    record = json.loads((rd / "record.json").read_text())
    assert any("'x_copy'" in w for w in record["warnings"]) and record["model_stats"]["aliased"] == ["x_copy"]
    assert "x_copy" in (rd / "report.html").read_text()
    got = coefficients(rd)
    assert got["x_copy"]["coef"] == "" and got["x_copy"]["std_err"] == ""
    ref = smf.logit("y ~ x + C(region, Treatment('east'))", d).fit(disp=0, tol=1e-12)
    compare({t: (float(r["coef"]), float(r["std_err"])) for t, r in got.items() if t != "x_copy"}, ref)
    assert record["model_stats"]["lr_df"] == 5


def test_cluster_column_is_read_but_not_a_feature(folder):
    tmp, d = folder
    rd = run(tmp, f"data.path={tmp / 'dup.csv'}", "data.exclude=[x_copy]", "evaluate.cov_type=cluster",
             "evaluate.cluster_column=site")
    got = coefficients(rd)
    assert "site" not in got and {r["cov_type"] for r in got.values()} == {"cluster"}
    ref = smf.logit("y ~ x + C(region, Treatment('east'))", d).fit(
        disp=0, tol=1e-12, cov_type="cluster", cov_kwds={"groups": d.site})
    compare({t: (float(r["coef"]), float(r["std_err"])) for t, r in got.items()}, ref)
    record = json.loads((rd / "record.json").read_text())
    assert record["model_stats"]["cov_type"] == "cluster" and record["model_stats"]["n_clusters"] == 25
    assert "cluster" in (rd / "report.html").read_text()
    new = tmp / "new.csv"
    d[["x", "region"]].head(4).to_csv(new, index=False)  # no site, no label: predict does not ask for them
    assert main(["predict", str(rd), str(new), "-o", str(tmp / "scored.csv"), "--force"]) == 0


def test_group_split_column_can_be_the_cluster_column(folder):
    tmp, d = folder
    rd = run(tmp, f"data.path={tmp / 'dup.csv'}", "data.exclude=[x_copy]", "data.split.method=group",
             "data.split.group_column=site", "evaluate.cov_type=cluster", "evaluate.cluster_column=site")
    assert "site" not in coefficients(rd)


def test_an_l1_run_says_it_has_no_standard_errors(folder):
    tmp, d = folder
    rd = run(tmp, "model.penalty=l1", "model.alpha=0.01")
    got = coefficients(rd)
    assert {r["cov_type"] for r in got.values()} == {"none"} and all(r["std_err"] == "" for r in got.values())
    stats = json.loads((rd / "record.json").read_text())["model_stats"]
    assert stats == {"cov_type": "none", "std_errors": "none: not defined for an L1/elastic-net fit"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["run", str(tmp / "cfg.yaml"), "--out", str(tmp / "bad"), "--set", "model.penalty=l1",
                     "--set", "evaluate.cov_type=cluster", "--set", "evaluate.cluster_column=region"]) == 2
    assert not (tmp / "bad").exists()


def test_cross_validation_group_column_is_not_a_feature(folder):
    tmp, d = folder
    rd = run(tmp, f"data.path={tmp / 'dup.csv'}", "data.exclude=[x_copy]", "evaluate.cv.folds=3", "evaluate.cv.method=group",
             "evaluate.cv.group_column=site")
    assert "site" not in coefficients(rd)
    record = json.loads((rd / "record.json").read_text())
    assert record["cv"]["method"] == "group" and "site" not in record["data"]["summary"]["features"]
