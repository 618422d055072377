"""``model.formula`` and ``evaluate.marginal_effects`` through ``logitkit run`` and
``logitkit predict``, against statsmodels' formula API; the demo's intervals."""
import csv
import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from logitkit.loaddata import load_dataset
from logitkit.pipeline.cli import main

CONFIG = """
data:
  path: data.csv
  label: y
  split:
    method: none
model:
  penalty: null
  solver: newton
  tol: 1.0e-10
  formula: "y ~ x + np.log(z) + C(region)"
evaluate:
  marginal_effects: true
  cov_type: HC0
interpret:
  plots: false
  graph: false
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("formula")
    rng = np.random.default_rng(0)
    n = 400
    d = pd.DataFrame({"x": rng.normal(size=n).round(3), "z": rng.uniform(1, 5, n).round(3),
                      "region": rng.choice(["north", "south", "east", "west", "mid"], n)})
    eta = 0.8 * d.x + 0.5 * np.log(d.z) + d.region.map({"north": 0, "south": 0.6, "east": -0.5, "west": 0.2, "mid": 0})
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    d.to_csv(tmp / "data.csv", index=False)
    (tmp / "cfg.yaml").write_text(CONFIG)
    out = tmp / "runs"
    assert main(["run", str(tmp / "cfg.yaml"), "--out", str(out)]) == 0
    return tmp, d, next(p for p in out.iterdir() if not p.name.startswith("."))


def read(path):
    with open(path, newline="") as f:
        return {r["term"]: r for r in csv.DictReader(f)}


def test_run_matches_statsmodels_formula(folder):
    tmp, d, run = folder
    r = smf.logit("y ~ x + np.log(z) + C(region)", d).fit(disp=0, tol=1e-12, cov_type="HC0")
    coef = read(run / "coefficients.csv")
    names = [n for n in r.params.index if n != "Intercept"]
    assert set(coef) == set(names) | {"intercept"} and "C(region)[T.east]" not in coef   # east: the reference
    np.testing.assert_allclose([float(coef[n]["coef"]) for n in names], r.params[names], rtol=1e-6)
    np.testing.assert_allclose([float(coef[n]["std_err"]) for n in names], r.bse[names], rtol=1e-6)
    me, g = read(run / "marginal_effects.csv"), r.get_margeff(dummy=True)
    order = [r.model.exog_names.index(n) - 1 for n in me]
    np.testing.assert_allclose([float(v["dydx"]) for v in me.values()], g.margeff[order], rtol=1e-6)
    np.testing.assert_allclose([float(v["std_err"]) for v in me.values()], g.margeff_se[order], rtol=1e-6)
    record = json.loads((run / "record.json").read_text())
    assert record["marginal_effects"]["cov_type"] == "HC0" and len(record["marginal_effects"]["dummies"]) == 4
    assert "Average marginal effects" in (run / "report.html").read_text()
    prep = json.loads((run / "model" / "prep.json").read_text())
    assert prep["kind"] == "formula" and prep["encoders"]["C(region)"][1]["categories"][0] == "east"


def test_predict_goes_through_the_formula(folder, capsys):
    tmp, d, run = folder
    new = d.drop(columns=["y"]).sample(7, random_state=2)
    new.to_csv(tmp / "new.csv", index=False)
    assert main(["predict", str(run), str(tmp / "new.csv"), "-o", str(tmp / "scored.csv")]) == 0
    scored = pd.read_csv(tmp / "scored.csv")
    r = smf.logit("y ~ x + np.log(z) + C(region)", d).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(scored["p_1"], r.predict(new), rtol=1e-6)
    new.assign(region=["north"] * 6 + ["atlantis"]).to_csv(tmp / "bad.csv", index=False)
    capsys.readouterr()
    assert main(["predict", str(run), str(tmp / "bad.csv"), "-o", str(tmp / "bad_out.csv")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv: column 'region' has the level 'atlantis' at row 6, which the model was not fitted on" in err
    assert "(row 0 is line 2)" in err and not (tmp / "bad_out.csv").exists()


@pytest.mark.parametrize("override, message", [
    ("model.formula='cd ~ x'", "model.formula's outcome 'cd' is not data.label 'y'; write 'y ~ ...' or '~ ...'"),
    ("prep.standardize=true", "prep.standardize and model.formula both build the design"),
    ("model.fit_intercept=false", "model.formula keeps the intercept but model.fit_intercept is False"),
    ("model.formula='y ~ x + np.log(w)'", "model.formula needs column 'w', which"),
    ("model.penalty=l1", "evaluate.cov_type 'HC0' asks for standard errors, but standard errors are not defined "
                         "for an L1/elastic-net fit"),
])
def test_config_mistakes_are_one_line_errors(folder, override, message, capsys):
    tmp, d, run = folder
    capsys.readouterr()
    assert main(["run", str(tmp / "cfg.yaml"), "--out", str(tmp / "bad_runs"), "--set", override]) == 2
    assert message in capsys.readouterr().err


def test_demo_prints_probabilities_with_intervals(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert ("Fitted probability of CD (95% CI): age 30: 0.059 (0.008 to 0.321), age 50: 0.467 (0.261 to 0.684), "
            "age 70: 0.924 (0.611 to 0.989)") in out
    cd = pd.read_csv(next(p for p in tmp_path.iterdir() if not p.name.startswith(".")) / "tables" / "profile.csv")
    r = smf.logit("cd ~ age", load_dataset("cd_age").data.to_pandas()).fit(disp=0, tol=1e-12)
    f = r.get_prediction(pd.DataFrame({"age": [30.0, 50.0, 70.0]})).summary_frame()
    np.testing.assert_allclose(cd["ci_low"], f["ci_lower"], rtol=1e-6)
    np.testing.assert_allclose(cd["ci_high"], f["ci_upper"], rtol=1e-6)
    assert "Average marginal effect of a year of age on P(CD): 0.0186" in out
