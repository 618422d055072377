"""Each example runs (in this process, as ``python examples/NAME.py --out DIR`` would) and the
numbers it prints are checked against statsmodels / scikit-learn / pandas."""
import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

from logitkit.loaddata import load_dataset

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(name, out, capsys, *args) -> str:
    argv = sys.argv
    sys.argv = [str(EXAMPLES / f"{name}.py"), "--out", str(out), *args]
    try:
        runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    finally:
        sys.argv = argv
    return capsys.readouterr().out


def num(text: str, key: str) -> float:
    m = re.search(re.escape(key) + r"\s*=\s*(-?[0-9.]+(?:e[-+]?\d+)?)", text)
    assert m, f"{key!r} not in output:\n{text}"
    return float(m.group(1))


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def cd_age():
    t = load_dataset("cd_age")
    return t.column("age").astype(float), t.labels().astype(int)


def test_cd_age(tmp_path, capsys, cd_age):
    out = run("cd_age", tmp_path, capsys)
    age, cd = cd_age
    fit = sm.Logit(cd, sm.add_constant(age)).fit(disp=0)
    assert num(out, "intercept") == pytest.approx(fit.params[0], abs=2e-5)
    assert num(out, "coef_age") == pytest.approx(fit.params[1], abs=2e-5)
    assert num(out, "odds_ratio_per_year") == pytest.approx(np.exp(fit.params[1]), abs=2e-5)
    lo, hi = np.exp(fit.conf_int()[1])
    assert re.search(rf"odds_ratio_95ci = \[{lo:.4f}, {hi:.4f}\]", out)
    # Table 2 against pandas
    groups = pd.DataFrame({"age": age, "cd": cd}).groupby(pd.cut(age, np.arange(20, 100, 10), right=False), observed=False)["cd"]
    for (interval, n), pos in zip(groups.count().items(), groups.sum()):
        label = f"{int(interval.left)}-{int(interval.right) - 1}"
        assert re.search(rf"{label}\s+{n}\s+{pos}\s", out), label
    assert is_png(tmp_path / "dot_plot.png") and is_png(tmp_path / "prevalence_sigmoid.png")


def test_odds_and_logit(tmp_path, capsys, cd_age):
    out = run("odds_and_logit", tmp_path, capsys)
    assert num(out, "max relative error |odds - exp(w.x)| / exp(w.x)") < 1e-10
    assert num(out, "max |logit(pi) - w.x|") < 1e-10
    w = sm.Logit(cd_age[1], sm.add_constant(cd_age[0])).fit(disp=0).params[1]
    for key in ("exp(w_age)", "odds(age+1)/odds(age), min over ages", "odds(age+1)/odds(age), max over ages"):
        assert num(out, key) == pytest.approx(np.exp(w), abs=2e-5)
    assert is_png(tmp_path / "logit_and_logistic.png")


def test_autograd_by_hand(tmp_path, capsys):
    out = run("autograd_by_hand", tmp_path, capsys)
    assert num(out, "max |hand gradient - autograd gradient|") < 1e-12
    assert num(out, "max |w_hand - w_auto|") < 1e-12
    labels = re.findall(r'label="([^"\\]*)', (tmp_path / "dynamic_graph.dot").read_text())
    assert sorted(labels) == sorted(["Sum", "Tanh", "Add", "Mm", "Mm", "W_h", "W_x"])
    assert "W_h.grad shape = (20, 20)" in out and is_png(tmp_path / "dynamic_graph.png")


def test_multiclass(tmp_path, capsys):
    out = run("multiclass", tmp_path, capsys)
    for name in ("iris", "wine"):
        t = load_dataset(name)
        X = np.column_stack([t.column(c).astype(float) for c in t.feature_names])
        Xtr, Xte, ytr, yte = train_test_split(X, t.labels(), test_size=0.3, random_state=0, stratify=t.labels())
        sc = StandardScaler().fit(Xtr)
        C = 1 / (1e-2 * len(ytr))
        soft = SkLogisticRegression(C=C, max_iter=5000, tol=1e-10).fit(sc.transform(Xtr), ytr)
        ovr = OneVsRestClassifier(SkLogisticRegression(C=C, max_iter=5000, tol=1e-10)).fit(sc.transform(Xtr), ytr)
        assert num(out, f"{name} softmax: test accuracy") == pytest.approx(soft.score(sc.transform(Xte), yte), abs=1e-4)
        assert num(out, f"{name} ovr: test accuracy") == pytest.approx(ovr.score(sc.transform(Xte), yte), abs=1e-4)
    assert is_png(tmp_path / "iris_regions_ovr.png") and is_png(tmp_path / "iris_regions_softmax.png")


def test_mlp_vs_lr(tmp_path, capsys):
    out = run("mlp_vs_lr", tmp_path, capsys)
    assert "weights = 20, biases = 6, parameters = 26, neurons = 6" in out
    assert num(out, "logistic regression: test accuracy") < 0.7
    assert num(out, "MLP (2-8-1) + logistic head: test accuracy") > 0.95
    assert num(out, "MLP parameters") == 2 * 8 + 8 + 8 + 1
    for f in ("circles_lr.png", "circles_mlp.png", "mlp_loss.png"):
        assert is_png(tmp_path / f)


def test_ctr(tmp_path, capsys):
    out = run("ctr", tmp_path, capsys, "--rows", "20000")  # (an import error fails here: no skip)
    model = num(out, "test log loss: hashed model")
    floor, base = num(out, "true probabilities"), num(out, "base rate")
    assert floor < model < base  # learns, and cannot beat the truth
    assert num(out, "mean predicted") == pytest.approx(num(out, "test click rate"), abs=0.02)
    assert num(out, "test AUC") > 0.75
    assert len((tmp_path / "train.tsv").read_text().split("\n", 1)[0].split("\t")) == 40
