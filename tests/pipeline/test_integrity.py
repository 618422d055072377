"""predict, serve and repro use a run only as it was written: every file that decides a
prediction is checked against the sha256 its record lists, and a damaged, missing,
edited or added file is one line naming it, exit 2 (docs/reliability.md). The model
files are also parsed defensively (a model directory without a record, NaN parameters)."""
import json
import shutil
import struct

import numpy as np
import pytest

from logitkit._util.errors import InputFileError
from logitkit.pipeline.cli import main
from logitkit.pipeline.integrity import RunFiles, seal
from logitkit.pipeline.modelio import load_model
from logitkit.pipeline.record import write_json
from logitkit.pipeline.scorer import Scorer


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """(a complete dense run with standardised features, an input file to score)."""
    d = tmp_path_factory.mktemp("integrity")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 2)) * [1.0, 10.0] + [0.0, 50.0]
    y = (x[:, 0] + 0.1 * (x[:, 1] - 50) + rng.normal(size=80) > 0).astype(int)
    (d / "d.csv").write_text("x1,x2,y\n" + "".join(f"{a:.5f},{b:.5f},{c}\n" for (a, b), c in zip(x, y)))
    (d / "c.yaml").write_text(f"data: {{path: {d / 'd.csv'}, label: y, split: {{method: none}}}}\n"
                              "prep: {standardize: true}\nevaluate: {inference: false}\n"
                              "interpret: {plots: false, graph: false, report: false}\n")
    assert main(["run", str(d / "c.yaml"), "--out", str(d / "runs")]) == 0
    (d / "new.csv").write_text("x1,x2\n0.5,55\n-1,40\n")
    return next((d / "runs").iterdir()), d / "new.csv"


@pytest.fixture
def run(made, tmp_path):
    """A fresh copy of the run to damage."""
    return shutil.copytree(made[0], tmp_path / made[0].name)


def edit_json(path, fn):
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data, indent=2))


def flip(path, at: float = 0.5):
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * at)] ^= 0x20
    path.write_bytes(bytes(raw))


def truncate(path, keep: float = 0.5):
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])


def reseal(run):
    """Rewrite the record's digests after an edit: a run as a (buggy) fit could have written it."""
    record = json.loads((run / "record.json").read_text())
    seal(run, record)
    write_json(run / "record.json", record)


R, M, T, P, C = "record.json", "model/model.json", "model/model.safetensors", "model/prep.json", "config.yaml"
#: name -> (file the message names, how to damage the run)
VARIANTS = {
    "record deleted": (R, lambda r: (r / R).unlink()),
    "record empty": (R, lambda r: (r / R).write_bytes(b"")),
    "record not JSON": (R, lambda r: (r / R).write_text("{run_id: 1")),
    "record truncated": (R, lambda r: truncate(r / R)),
    "record not UTF-8": (R, lambda r: (r / R).write_bytes(b"\xff\xfe{}")),
    "record a list": (R, lambda r: (r / R).write_text("[1, 2]")),
    "record status failed": (R, lambda r: edit_json(r / R, lambda d: d.update(status="failed"))),
    "record without digests": (R, lambda r: edit_json(r / R, lambda d: (d.pop("files"), d.pop("record_sha256")))),
    "record metric edited": (R, lambda r: edit_json(r / R, lambda d: d["metrics"]["train"].update(accuracy=1.0))),
    "record digest edited": (R, lambda r: edit_json(r / R, lambda d: d.update(record_sha256="0" * 64))),
    "record lists a path outside": (R, lambda r: reseal_keep(r, {"../x": "0"})),
    "model.json deleted": (M, lambda r: (r / M).unlink()),
    "model.json empty": (M, lambda r: (r / M).write_bytes(b"")),
    "model.json truncated": (M, lambda r: truncate(r / M)),
    "model.json byte flipped": (M, lambda r: flip(r / M)),
    "model.json classes reversed": (M, lambda r: edit_json(r / M, lambda d: d["classes"]["values"].reverse())),
    "model.json estimator renamed": (M, lambda r: edit_json(r / M, lambda d: d.update(estimator="Pickle"))),
    "model.json null": (M, lambda r: (r / M).write_text("null")),
    "model.json reformatted": (M, lambda r: (r / M).write_text(json.dumps(json.loads((r / M).read_text())))),
    "tensors deleted": (T, lambda r: (r / T).unlink()),
    "tensors empty": (T, lambda r: (r / T).write_bytes(b"")),
    "tensors truncated": (T, lambda r: truncate(r / T, 0.9)),
    "tensors header length huge": (T, lambda r: (r / T).write_bytes(struct.pack("<Q", 2**60) + (r / T).read_bytes()[8:])),
    "tensors byte flipped": (T, lambda r: flip(r / T, 0.95)),
    "tensors NaN coefficient": (T, lambda r: nan_coef(r / T)),
    "tensors replaced by JSON": (T, lambda r: (r / T).write_text("{}")),
    "prep.json deleted": (P, lambda r: (r / P).unlink()),
    "prep.json empty": (P, lambda r: (r / P).write_bytes(b"")),
    "prep.json mean shifted": (P, lambda r: edit_json(r / P, lambda d: shift_mean(d))),
    "prep.json truncated": (P, lambda r: truncate(r / P)),
    "prep.json a string": (P, lambda r: (r / P).write_text('"prep"')),
    "config deleted": (C, lambda r: (r / C).unlink()),
    "config empty": (C, lambda r: (r / C).write_bytes(b"")),
    "config not YAML": (C, lambda r: (r / C).write_text("data: [unclosed\n")),
    "config edited": (C, lambda r: (r / C).write_text((r / C).read_text().replace("seed: 0", "seed: 1"))),
    "embed.json added": ("model/embed.json", lambda r: (r / "model/embed.json").write_text('{"kind": "rbf"}')),
}


def reseal_keep(run, extra):
    record = json.loads((run / R).read_text())
    seal(run, record)
    record["files"].update(extra)
    from logitkit.pipeline.integrity import record_digest

    record["record_sha256"] = record_digest(record)
    write_json(run / R, record)


def nan_coef(path):
    from safetensors.torch import load_file, save_file

    t = load_file(str(path))
    t["coef"][0, 0] = float("nan")
    save_file(t, str(path))


def shift_mean(d):
    d["scaler"]["mean"][0] += 3.0


def test_the_variants_are_many():
    assert len(VARIANTS) >= 35


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_predict_refuses_a_damaged_run_in_one_line_naming_the_file(name, run, made, tmp_path, capsys):
    target, damage = VARIANTS[name]
    damage(run)
    out = tmp_path / "scored.csv"
    assert main(["predict", str(run), str(made[1]), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("logitkit: error: ") and "Traceback" not in err, err
    assert f"{run}/{target}" in lines[0] or (target == R and f"{run}/record.json" in lines[0]), lines[0]
    assert not out.exists()


@pytest.mark.parametrize("name", ["record not JSON", "record a list", "config empty", "config not YAML",
                                  "config edited", "tensors truncated", "tensors NaN coefficient", "prep.json deleted",
                                  "model.json classes reversed", "prep.json mean shifted"])
def test_repro_refuses_a_damaged_run_in_one_line_naming_the_file(name, run, capsys):
    target, damage = VARIANTS[name]
    damage(run)
    assert main(["repro", str(run)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"{run}/{target}" in lines[0] and "Traceback" not in err, err


def test_the_messages(run, made, tmp_path):
    (run / P).unlink()
    with pytest.raises(InputFileError, match=rf"^{run}/model/prep.json is missing \(record.json lists it\), so the "
                                             r"run directory is incomplete; restore it, or run its config again"):
        Scorer.load(run)
    (run / P).write_bytes((made[0] / P).read_bytes())
    edit_json(run / M, lambda d: d["classes"]["values"].reverse())
    with pytest.raises(InputFileError, match=rf"^{run}/model/model.json: its sha256 \([0-9a-f]{{12}}...\) differs from "
                                             r"the one record.json lists \([0-9a-f]{12}...\): the file changed after "
                                             r"the run; restore it"):
        Scorer.load(run)
    (run / M).write_bytes((made[0] / M).read_bytes())
    edit_json(run / R, lambda d: d.update(status="failed", error="DataError: x"))
    with pytest.raises(InputFileError, match=rf"^{run}/record.json: the run's status is 'failed', not 'complete': "
                                             r"DataError: x; pass a complete run"):
        Scorer.load(run)
    Scorer.load(made[0])  # the intact run loads


def test_nan_parameters_are_refused_even_with_matching_digests(run):
    """A model that a fit left with a NaN coefficient (its digests match) still does not load."""
    nan_coef(run / T)
    reseal(run)
    RunFiles(run).verify()
    with pytest.raises(InputFileError, match=rf"^{run}/model/model.safetensors: tensor 'coef' holds 1 NaN or "
                                             r"infinite value\(s\); a model with such parameters predicts nothing "
                                             r"sound, so it is refused"):
        Scorer.load(run)


def test_nan_in_a_saved_transform_is_refused(run):
    edit_json(run / P, lambda d: d["scaler"]["mean"].__setitem__(0, float("nan")))
    reseal(run)
    with pytest.raises(InputFileError, match=rf"^{run}/model/prep.json: key 'scaler.mean.0' is NaN, which no fitted "
                                             r"state holds"):
        Scorer.load(run)


@pytest.mark.parametrize("damage,message", [
    (lambda m: (m / "model.json").write_text("[]"), "model.json: holds a JSON list, not the object logitkit writes"),
    (lambda m: edit_json(m / "model.json", lambda d: d.pop("classes")),
     "model.json: not a LogisticRegression this logitkit can load (missing key 'classes')"),
    (lambda m: edit_json(m / "model.json", lambda d: d["classes"].update(values=[0])),
     "model.json: not a LogisticRegression this logitkit can load (ValueError: a row gets 2 probabilities for 1 "
     "classes)"),
    (lambda m: edit_json(m / "model.json", lambda d: d.update(n_features_in=3, feature_names_in=None)),
     "model.json: not a LogisticRegression this logitkit can load"),
    (lambda m: truncate(m / "model.safetensors", 0.9), "model.safetensors: not a readable safetensors file"),
    (lambda m: edit_json(m / "model.json", lambda d: d.update(params=[1])),
     "model.json: key 'params' is a list, not an object of parameters"),
])
def test_model_files_without_a_record_are_parsed_defensively(run, damage, message):
    damage(run / "model")
    with pytest.raises(InputFileError, match=f"^{run}/model/" + message.replace("(", r"\(").replace(")", r"\)")):
        load_model(run / "model")


@pytest.mark.parametrize("text,message", [
    ("", "holds no mapping of config sections (run, data, ...)"),
    ("data: [1\n", "not valid YAML"),
    ("modle: {}\n", "unknown key 'modle'. Did you mean 'model'?"),
])
def test_repro_names_a_config_it_cannot_use_even_with_matching_digests(run, text, message, capsys):
    (run / C).write_text(text)
    reseal(run)
    assert main(["repro", str(run)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"logitkit: error: {run}/config.yaml: ") and message in lines[0], err
