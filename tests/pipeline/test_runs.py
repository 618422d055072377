"""Runs end to end: the demo against statsmodels, determinism, repro, predict, the CLI."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import statsmodels.api as sm

from logitkit.loaddata import load_dataset
from logitkit.pipeline.cli import main
from logitkit.pipeline.modelio import load_model


def lines(capsys):
    return capsys.readouterr().out.strip().splitlines()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main(["demo", "--out", str(out)]) == 0
    return next(p for p in out.iterdir() if not p.name.startswith("."))


def coefficients(run_dir):
    with open(run_dir / "coefficients.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_demo_matches_statsmodels(demo_dir):
    t = load_dataset("cd_age")
    age, cd = t.column("age").astype(float), t.column("cd").astype(float)
    res = sm.Logit(cd, sm.add_constant(age)).fit(disp=0, tol=1e-12)
    rows = {r["term"]: r for r in coefficients(demo_dir)}
    assert list(rows) == ["age", "intercept"]
    ours = np.array([float(rows["intercept"]["coef"]), float(rows["age"]["coef"])])
    ses = np.array([float(rows["intercept"]["std_err"]), float(rows["age"]["std_err"])])
    np.testing.assert_allclose(ours, res.params, atol=1e-6)
    np.testing.assert_allclose(ses, res.bse, atol=1e-6)
    assert float(rows["age"]["odds_ratio"]) == pytest.approx(np.exp(res.params[1]), rel=1e-6)
    record = json.loads((demo_dir / "record.json").read_text())
    assert record["model_stats"]["lr_pvalue"] == pytest.approx(res.llr_pvalue, rel=1e-6)
    assert "hl_stat" in record["model_stats"]
    prev = record["prevalence"]
    assert [r["n"] for r in prev] == [5, 6, 7, 7, 5, 2, 1] and [r["positive"] for r in prev] == [0, 1, 2, 4, 4, 2, 1]
    p = res.predict(sm.add_constant(np.array([30.0, 50.0, 70.0])))
    np.testing.assert_allclose([r["probability"] for r in record["profile"]], p, atol=1e-6)


def test_demo_run_directory_layout(demo_dir):
    for name in ("config.yaml", "record.json", "coefficients.csv", "report.html", "model/model.safetensors",
                 "model/model.json", "model/prep.json", "plots/dot_plot.png", "plots/prevalence_sigmoid.png"):
        assert (demo_dir / name).is_file(), name
    record = json.loads((demo_dir / "record.json").read_text())
    assert record["status"] == "complete" and record["run_id"] == demo_dir.name
    assert {"python", "torch", "numpy", "logitkit", "os"} <= set(record["environment"])
    assert record["data"]["train"]["dataset"] == "cd_age"
    assert set(record["timings"]) >= {"loaddata", "prepdata", "predict", "evaluate", "interpret"}
    assert not list(demo_dir.parent.glob(".*partial"))
    report = (demo_dir / "report.html").read_text()
    assert "config.yaml not found" not in report and "dataset: cd_age" in report  # the config section shows
    assert "No data description recorded" not in report and "cd_age" in report.split('id="data"')[1]


def test_demo_prints_tables_and_ends_with_path(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = lines(capsys)
    text = "\n".join(out)
    assert "Table 2" in text and "80-89" in text and "Odds ratio per year of age" in text
    assert "age 30:" in text and "LR test" in text and "Hosmer-Lemeshow" in text
    assert out[-1].startswith(str(tmp_path)) and (tmp_path / out[-1].split("/")[-1]).is_dir()


def test_same_config_same_bits_and_repro(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {dataset: breast_cancer}\nprep: {standardize: true}\nmodel: {solver: lbfgs}\n"
                   "interpret: {plots: false, graph: false, report: false}\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "a")]) == 0
    assert main(["run", str(cfg), "--out", str(tmp_path / "b")]) == 0
    out = lines(capsys)
    a, b = (next((tmp_path / d).iterdir()) for d in ("a", "b"))
    assert a.name == b.name  # same inputs, same run id
    assert (a / "coefficients.csv").read_bytes() == (b / "coefficients.csv").read_bytes()
    ra, rb = (json.loads((d / "record.json").read_text()) for d in (a, b))
    assert ra["metrics"] == rb["metrics"]
    assert main(["repro", str(a)]) == 0
    assert "reproduced" in lines(capsys)[-1]
    # an edited record or coefficient file is not compared with anything: repro names it, exit 2
    good = (a / "record.json").read_bytes()
    ra["metrics"]["test"]["accuracy"] = 0.5
    (a / "record.json").write_text(json.dumps(ra))
    assert main(["repro", str(a)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{a}/record.json: its contents do not match its own digest (record_sha256)" in err
    assert len(err.splitlines()) == 1
    (a / "record.json").write_bytes(good)
    text = (a / "coefficients.csv").read_text().splitlines()
    parts = text[1].split(",")
    parts[1] = "0.123"
    text[1] = ",".join(parts)
    (a / "coefficients.csv").write_text("\n".join(text) + "\n")
    assert main(["repro", str(a)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{a}/coefficients.csv: its sha256 (" in err and "differs from the one record.json lists" in err


def test_repro_names_what_differs_when_the_data_changed(tmp_path, capsys):
    data = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    data.write_text("x,y\n" + "".join(f"{v:.6f},{int(v + rng.normal() > 0)}\n" for v in x))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{path: {data}, label: y}}\ninterpret: {{plots: false, graph: false, report: false}}\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "runs")]) == 0
    run = next((tmp_path / "runs").iterdir())
    capsys.readouterr()
    data.write_text(data.read_text().replace("\n1", "\n1", 1).replace(",0\n", ",1\n", 5))
    assert main(["repro", str(run)]) == 1
    report = lines(capsys)
    assert report[0] == f"{run}: NOT reproduced ({len(report) - 1} difference(s))"
    assert "  data: the input's fingerprint differs from the recorded one (the data changed)" in report
    assert any(r.startswith("  coefficients.csv: term 'x' differs in ['coef'") for r in report)


def test_existing_run_is_not_overwritten(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {dataset: iris}\ninterpret: {plots: false, graph: false, report: false}\n")
    assert main(["run", str(cfg), "--out", str(tmp_path)]) == 0
    capsys.readouterr()  # (the run's warnings, also on stderr)
    assert main(["run", str(cfg), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("logitkit: error: ") and "already exists" in err and "--force" in err
    assert len(err.splitlines()) == 1
    assert main(["run", str(cfg), "--out", str(tmp_path), "--force"]) == 0


def test_model_round_trip_and_predict(demo_dir, tmp_path, capsys):
    model, prep, embed = load_model(demo_dir / "model")
    assert embed is None and prep is not None
    inp = tmp_path / "ages.csv"
    inp.write_text("age\n30\n50\n70\n")
    out = tmp_path / "scored.csv"
    assert main(["predict", str(demo_dir), str(inp), "-o", str(out)]) == 0
    rows = list(csv.DictReader(open(out)))
    record = json.loads((demo_dir / "record.json").read_text())
    np.testing.assert_allclose([float(r["p_1"]) for r in rows], [r["probability"] for r in record["profile"]],
                               rtol=1e-12)
    assert main(["predict", str(demo_dir), str(inp), "-o", str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err


def test_model_files_are_not_pickles(demo_dir):
    meta = json.loads((demo_dir / "model" / "model.json").read_text())
    assert meta["estimator"] == "LogisticRegression" and meta["classes"]["values"] == [0, 1]
    raw = (demo_dir / "model" / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")  # safetensors: header length, JSON header, raw tensors
    header = json.loads(raw[8:8 + n])
    assert set(header) == {"coef", "intercept"} and header["coef"]["dtype"] == "F64"


@pytest.mark.parametrize("argv,message", [
    (["run", "missing.yaml"], "config file missing.yaml does not exist"),
    (["repro", "no_such_run"], "no_such_run: no such run directory; pass a folder written by `logitkit run`"),
    (["predict", "no_such_run", "x.csv", "-o", "y.csv"], "x.csv does not exist"),
])
def test_cli_errors_are_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_console_script_bad_key_exit_2(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("modle: {}\n")
    proc = subprocess.run([sys.executable, "-m", "logitkit", "run", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown key 'modle'. Did you mean 'model'?" in proc.stderr and "Traceback" not in proc.stderr


def test_datasets_command(capsys):
    assert main(["datasets"]) == 0
    text = capsys.readouterr().out
    assert "cd_age" in text and "33" in text and "breast_cancer" in text
