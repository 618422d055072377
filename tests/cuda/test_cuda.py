"""logitkit on an accelerator: every stage run on the device named by the environment
variable ``LOGITKIT_TEST_DEVICE`` (default "cuda"), checked against the same fit on the
CPU in float64, scikit-learn and statsmodels.

    LOGITKIT_TEST_DEVICE=cpu python -m pytest tests/cuda -q     # dry run on the CPU
    python -m pytest tests/cuda -q                               # on a machine with a GPU

The whole module is skipped (with the reason) when the device is not available, so a
CPU-only CI skips it. Tolerances (why each is what it is):

- float64 full-batch fits (newton, lbfgs/OWL-QN): the objective at the device's solution
  is within 1e-8 (relative) of the CPU fit's; both are fitted with ``tol=1e-8``.
- float32 fits: the objective (evaluated in float64) within 1e-5 of the float64 optimum:
  float32 gradients carry ~1e-7 relative rounding, which bounds how close a solver gets.
- stochastic solvers: the same seeded order on every device (the permutation is drawn
  on the CPU); the device's float64 reductions sum in another order, so the iterates
  drift apart by rounding only; each stops within ~1e-6 of the optimum, so the
  objectives agree to 2e-6.
- hashed online models: float64 tables equal the CPU's to 1e-8 (relative) — the
  updates are the same per-coordinate arithmetic, only summation order differs; float32
  tables to 1e-4 relative / 1e-5 absolute (the rounding of ~1e-7 per update compounds
  over a few hundred updates per coordinate).
- L1 zeros: the same coordinates are exactly zero on both devices, except one sitting
  on the threshold, which rounding may leave at a tiny value (< 1e-6) on one of them.
- statistics (standard errors, tests) against statsmodels: 1e-6 relative, as on the CPU.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.linear_model import LogisticRegression as SkLR
from sklearn.preprocessing import StandardScaler

import logitkit
from logitkit import LogisticRegression
from logitkit.predict.design import Design
from logitkit.predict.objective import LogisticObjective

ROOT = Path(__file__).resolve().parents[2]
DEV = os.environ.get("LOGITKIT_TEST_DEVICE", "cuda")


def _device_available(name: str) -> tuple[bool, str]:
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        return False, f"LOGITKIT_TEST_DEVICE={name!r} is not a device name torch knows"
    if dev.type == "cpu":
        return True, ""
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return False, (f"LOGITKIT_TEST_DEVICE={name!r} but torch sees no CUDA GPU "
                           "(set LOGITKIT_TEST_DEVICE=cpu for a dry run on the CPU)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            return False, f"LOGITKIT_TEST_DEVICE={name!r} but only {torch.cuda.device_count()} GPU(s) are visible"
        return True, ""
    backend = getattr(torch.backends, dev.type, None)
    if backend is not None and hasattr(backend, "is_available") and backend.is_available():
        return True, ""
    return False, f"LOGITKIT_TEST_DEVICE={name!r}: torch cannot use a {dev.type!r} device here"


_OK, _WHY = _device_available(DEV)
pytestmark = pytest.mark.skipif(not _OK, reason=_WHY)
IS_CUDA = torch.device(DEV).type == "cuda" if _OK else False


# ----------------------------------------------------------------------------- data
def _std(X):
    return StandardScaler().fit_transform(X)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return _std(X), y


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return _std(X), y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    keep = X.std(0) > 0
    return _std(X[:, keep]), y


@pytest.fixture(scope="module")
def mixed():
    """Three overlapping classes (generated): the unpenalised MLE exists."""
    from sklearn.datasets import make_classification

    X, y = make_classification(600, 6, n_informative=4, n_redundant=0, n_classes=3, class_sep=0.5,
                               random_state=0)
    return _std(X), y


@pytest.fixture(scope="module")
def sparse_data():
    rng = np.random.default_rng(0)
    n, d = 3000, 200
    X = sp.random(n, d, density=0.05, format="csr", random_state=1, dtype=np.float64)
    X.data = rng.normal(0, 1, X.nnz)
    w = rng.normal(0, 1, d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w)))).astype(int)
    return X, y


def _data(request, name):
    return request.getfixturevalue(name)


# ----------------------------------------------------------------------------- oracle
def objective_value(model, X, y, sample_weight=None) -> float:
    """The fitted model's objective (docs/architecture.md), evaluated on the CPU in float64:
    mean_i s_i nll_i + alpha (l1_ratio ||W||_1 + (1 - l1_ratio)/2 ||W||_2^2)."""
    classes = model.classes_
    y_idx = np.searchsorted(classes, np.asarray(y))
    K = len(classes)
    sw = np.ones(len(y_idx)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if model.class_weight == "balanced":  # weighted class totals, as scikit-learn
        counts = np.bincount(y_idx, weights=sw, minlength=K)
        sw = sw * (counts.sum() / (K * counts))[y_idx]
    elif isinstance(model.class_weight, dict):
        sw = sw * np.array([model.class_weight.get(c, 1.0) for c in classes])[y_idx]
    link, m = model.link_, (1 if K == 2 else K)
    Y = torch.as_tensor(np.eye(K)[y_idx] if link == "ovr" else y_idx)
    alpha = 0.0 if model.penalty is None else model.alpha
    l1_ratio = {None: 0.0, "l2": 0.0, "l1": 1.0, "elasticnet": model.l1_ratio}[model.penalty]
    X64 = X.astype(np.float64) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    obj = LogisticObjective(Design.from_array(X64, torch.float64, torch.device("cpu")), Y.double() if link == "ovr" else Y,
                            torch.as_tensor(sw / sw.mean()), link, m, model.fit_intercept, alpha, l1_ratio)
    theta = np.column_stack([model.coef_, model.intercept_]) if model.fit_intercept else model.coef_
    return float(obj.value(torch.as_tensor(theta, dtype=torch.float64)))


@contextlib.contextmanager
def _no_fail():
    """Let warnings pass silently (a float32 or short stochastic fit may end with a ConvergenceWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def rel(a, b) -> float:
    return abs(a - b) / abs(b)


def assert_same_zeros(a, b, small: float) -> None:
    """Exact zeros in the same places; a coordinate sitting at the L1 threshold may be 0
    on one device and tiny (< ``small``) on the other by rounding alone."""
    differ = (a == 0) != (b == 0)
    assert np.all(np.abs(a[differ]) + np.abs(b[differ]) < small), (int(differ.sum()), np.abs(a[differ] - b[differ]).max())


def assert_numpy_outputs(model, X):
    """predict / predict_proba / decision_function / coef_ come back as CPU NumPy, as on CPU fits."""
    for out in (model.predict(X), model.predict_proba(X), model.decision_function(X), model.coef_, model.intercept_):
        assert isinstance(out, np.ndarray), type(out)
    assert model.predict_proba(X).dtype == np.float64 and model.decision_function(X).dtype == np.float64
    assert model.predict(X).dtype == model.classes_.dtype


# ----------------------------------------------------------------------------- estimator
FULL_BATCH = [  # (data, solver, penalty, multiclass)
    ("cancer", "newton", "l2", "softmax"), ("cancer", "lbfgs", "l2", "softmax"), ("cancer", "auto", "l2", "softmax"),
    ("cancer", "newton", "l1", "softmax"), ("cancer", "lbfgs", "l1", "softmax"),
    ("cancer", "newton", "elasticnet", "softmax"), ("cancer", "lbfgs", "elasticnet", "softmax"),
    ("mixed", "newton", None, "softmax"), ("mixed", "newton", None, "ovr"), ("mixed", "lbfgs", None, "softmax"),
    ("iris", "lbfgs", "l2", "softmax"), ("iris", "lbfgs", "l2", "ovr"), ("iris", "newton", "l1", "softmax"),
    ("iris", "newton", "elasticnet", "ovr"), ("iris", "auto", "l2", "ovr"),
    ("digits", "auto", "l2", "softmax"), ("digits", "lbfgs", "l1", "ovr"),
]


@pytest.mark.parametrize("data,solver,penalty,multiclass", FULL_BATCH)
def test_cuda_full_batch_fit_float64_matches_cpu(request, data, solver, penalty, multiclass):
    X, y = _data(request, data)
    alpha = 0.05 if penalty is not None and data == "iris" else 0.01
    kw = dict(penalty=penalty, alpha=alpha, solver=solver, multiclass=multiclass, tol=1e-8, max_iter=200, dtype="float64")
    cpu = LogisticRegression(**kw, device="cpu").fit(X, y)
    dev = LogisticRegression(**kw, device=DEV).fit(X, y)
    f_cpu, f_dev = objective_value(cpu, X, y), objective_value(dev, X, y)
    assert rel(f_dev, f_cpu) <= 1e-8, (f_dev, f_cpu)
    assert dev.solver_ == cpu.solver_ and dev.link_ == cpu.link_
    assert_numpy_outputs(dev, X)
    np.testing.assert_allclose(dev.predict_proba(X), cpu.predict_proba(X), atol=1e-6)
    if penalty in ("l1", "elasticnet"):  # exact zeros, the same ones (up to a coefficient at the threshold)
        assert (dev.coef_ == 0).sum() > 0
        assert_same_zeros(dev.coef_, cpu.coef_, 1e-6)


def test_cuda_binary_l2_matches_sklearn(cancer):
    X, y = cancer
    sk = SkLR(C=1.0, tol=1e-10, max_iter=10_000).fit(X, y)
    dev = LogisticRegression(alpha=1 / len(y), tol=1e-8, device=DEV).fit(X, y)
    ref = clone(dev)  # scikit-learn's solution, scored by the same objective
    ref.classes_, ref.link_, ref.coef_, ref.intercept_ = dev.classes_, dev.link_, sk.coef_, sk.intercept_
    assert objective_value(dev, X, y) <= objective_value(ref, X, y) * (1 + 1e-8)
    np.testing.assert_allclose(dev.predict_proba(X), sk.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("solver", ["sgd", "adam", "adagrad"])
def test_cuda_stochastic_solvers_match_cpu(cancer, solver):
    X, y = cancer
    kw = dict(alpha=0.01, solver=solver, max_iter=30, random_state=3, batch_size=64, dtype="float64")
    cpu = LogisticRegression(**kw, device="cpu").fit(X, y)
    dev = LogisticRegression(**kw, device=DEV).fit(X, y)
    f_cpu, f_dev = objective_value(cpu, X, y), objective_value(dev, X, y)
    assert rel(f_dev, f_cpu) <= 2e-6, (f_dev, f_cpu)  # each stops within ~1e-6 of the optimum
    opt = objective_value(LogisticRegression(alpha=0.01, solver="newton", tol=1e-10, device="cpu").fit(X, y), X, y)
    assert rel(f_dev, opt) <= 1e-3
    assert_numpy_outputs(dev, X)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("data", ["cancer", "iris"])
def test_cuda_float32_reaches_the_float64_optimum(request, data, solver):
    X, y = _data(request, data)
    opt = LogisticRegression(alpha=0.01, solver="newton", tol=1e-10, dtype="float64", device="cpu").fit(X, y)
    with _no_fail():
        dev = LogisticRegression(alpha=0.01, solver=solver, tol=1e-5, dtype="float32", device=DEV).fit(X, y)
    assert rel(objective_value(dev, X, y), objective_value(opt, X, y)) <= 1e-5
    assert_numpy_outputs(dev, X)
    assert dev.coef_.dtype == np.float64


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_cuda_sparse_csr_input_equals_dense_cpu_fit(sparse_data, penalty):
    X, y = sparse_data
    kw = dict(penalty=penalty, alpha=1e-3, solver="lbfgs", tol=1e-8, max_iter=300)
    dev = LogisticRegression(**kw, device=DEV).fit(X, y)
    cpu = LogisticRegression(**kw, device="cpu").fit(X.toarray(), y)
    assert rel(objective_value(dev, X, y), objective_value(cpu, X.toarray(), y)) <= 1e-8
    np.testing.assert_allclose(dev.predict_proba(X), cpu.predict_proba(X.toarray()), atol=1e-6)
    assert_numpy_outputs(dev, X)


def test_cuda_torch_tensors_already_on_the_device(iris):
    X, y = iris
    Xt = torch.as_tensor(X, device=DEV)
    yt = torch.as_tensor(y, device=DEV)
    dev = LogisticRegression(alpha=0.01, tol=1e-8, device=DEV).fit(Xt, yt)
    cpu = LogisticRegression(alpha=0.01, tol=1e-8, device="cpu").fit(X, y)
    np.testing.assert_allclose(dev.coef_, cpu.coef_, rtol=1e-6, atol=1e-8)
    assert_numpy_outputs(dev, Xt)
    np.testing.assert_allclose(dev.predict_proba(Xt), cpu.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(dev.predict(Xt), cpu.predict(X))
    # a float32 tensor on the device into a float64 model, and the reverse
    np.testing.assert_allclose(dev.predict_proba(Xt.float()), cpu.predict_proba(X), atol=1e-6)
    f32 = LogisticRegression(alpha=0.01, dtype="float32", tol=1e-5, device=DEV).fit(Xt, yt)
    assert f32.predict_proba(Xt).shape == (len(y), 3)


@pytest.mark.parametrize("class_weight", [None, "balanced", {0: 2.0, 1: 0.5}])
def test_cuda_sample_and_class_weights(cancer, class_weight):
    X, y = cancer
    sw = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    kw = dict(alpha=0.01, tol=1e-8, class_weight=class_weight)
    dev = LogisticRegression(**kw, device=DEV).fit(X, y, sample_weight=sw)
    cpu = LogisticRegression(**kw, device="cpu").fit(X, y, sample_weight=sw)
    assert rel(objective_value(dev, X, y, sw), objective_value(cpu, X, y, sw)) <= 1e-8
    # scikit-learn with C = 1/(alpha n_w), n_w the sum of the effective weights ("balanced":
    # weighted class totals in both, so the effective weights sum to Σ sw)
    if class_weight == "balanced":
        eff = sw
    else:
        eff = sw * (np.array([class_weight[0], class_weight[1]])[y] if class_weight else 1.0)
    sk = SkLR(C=1 / (0.01 * eff.sum()), class_weight=class_weight, tol=1e-10, max_iter=10_000).fit(
        X, y, sample_weight=sw)
    np.testing.assert_allclose(dev.predict_proba(X), sk.predict_proba(X), atol=1e-5)


def test_cuda_fitted_model_saves_and_loads_on_a_cpu_only_machine(iris, tmp_path, monkeypatch):
    from logitkit.pipeline.modelio import load_model, save_model

    X, y = iris
    dev = LogisticRegression(alpha=0.01, tol=1e-8, device=DEV).fit(X, y)
    save_model(tmp_path / "model", dev)
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["estimator"] == "LogisticRegression"
    expected = dev.predict_proba(X)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the machine that loads has no GPU
    warns = pytest.warns(UserWarning, match="torch sees no GPU here, so it runs on the CPU")
    with warns if str(DEV).startswith("cuda") else contextlib.nullcontext():
        loaded, _, _ = load_model(tmp_path / "model")
    np.testing.assert_array_equal(loaded.coef_, dev.coef_)
    np.testing.assert_allclose(loaded.predict_proba(X), expected, atol=1e-12)


# ----------------------------------------------------------------------------- inference
@pytest.fixture(scope="module")
def spector():
    import statsmodels.api as sm

    d = sm.datasets.spector.load_pandas()
    X, y = d.exog.values, d.endog.values
    model = LogisticRegression(penalty=None, tol=1e-12, device=DEV).fit(X, y)
    return X, y, model, sm.add_constant(X, prepend=False)


def relmax(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "cluster"])
def test_cuda_summary_matches_statsmodels(spector, cov_type):
    import statsmodels.api as sm

    from logitkit.evaluate import summary

    X, y, model, Xc = spector
    n, k = Xc.shape
    groups = np.arange(n) % 7
    sm_cov = {"nonrobust": "nonrobust", "HC0": "HC0", "HC1": "HC0", "cluster": "cluster"}[cov_type]
    kw = {"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {}
    res = sm.Logit(y, Xc).fit(disp=0, tol=1e-12, cov_type=sm_cov, **kw)
    s = summary(model, X, y, cov_type=cov_type, groups=groups if cov_type == "cluster" else None)
    bse = res.bse * (np.sqrt(n / (n - k)) if cov_type == "HC1" else 1.0)  # statsmodels' Logit HC1 == HC0
    assert relmax(s.column("coef"), res.params) < 1e-6
    assert relmax(s.column("std_err"), bse) < 1e-6
    assert isinstance(s.cov, np.ndarray)
    for ours, theirs in [("llf", res.llf), ("llnull", res.llnull), ("aic", res.aic), ("bic", res.bic),
                         ("lr_stat", res.llr), ("lr_pvalue", res.llr_pvalue)]:
        assert abs(s.stats[ours] - theirs) <= 1e-6 * abs(theirs), ours
    # the same summary as the CPU fit's
    cpu = LogisticRegression(penalty=None, tol=1e-12, device="cpu").fit(X, y)
    s_cpu = summary(cpu, X, y, cov_type=cov_type, groups=groups if cov_type == "cluster" else None)
    assert relmax(s.column("std_err"), s_cpu.column("std_err")) < 1e-8


def test_cuda_lr_test_and_hosmer_lemeshow(spector):
    import statsmodels.api as sm

    from logitkit.evaluate import hosmer_lemeshow, lr_test, summary

    X, y, model, Xc = spector
    reduced = LogisticRegression(penalty=None, tol=1e-12, device=DEV).fit(X[:, :2], y)
    t = lr_test(summary(model, X, y), summary(reduced, X[:, :2], y))
    full_sm = sm.Logit(y, Xc).fit(disp=0, tol=1e-12)
    red_sm = sm.Logit(y, sm.add_constant(X[:, :2], prepend=False)).fit(disp=0, tol=1e-12)
    stat = 2 * (full_sm.llf - red_sm.llf)
    assert abs(t["lr_stat"] - stat) <= 1e-6 * abs(stat) and t["df"] == 1
    # Hosmer-Lemeshow from the device summary equals the test on statsmodels' probabilities
    s = summary(model, X, y)
    hl = hosmer_lemeshow(y, full_sm.predict(Xc), groups=s.stats["hl_groups"])
    assert abs(s.stats["hl_stat"] - hl["hl_stat"]) <= 1e-6 * abs(hl["hl_stat"])


def test_cuda_firth_equals_cpu(spector):
    from logitkit import FirthLogisticRegression

    X, y, _, _ = spector
    dev = FirthLogisticRegression(device=DEV).fit(X, y)
    cpu = FirthLogisticRegression(device="cpu").fit(X, y)
    for name in ("coef_", "intercept_", "bse_", "conf_int_", "pvalues_"):
        assert isinstance(getattr(dev, name), np.ndarray), name
        assert relmax(getattr(dev, name), getattr(cpu, name)) < 1e-6, name
    np.testing.assert_allclose(dev.predict_proba(X), cpu.predict_proba(X), atol=1e-10)


# ----------------------------------------------------------------------------- metrics
@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(5)
    n = 4000
    z = rng.normal(0, 2, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    p = 1 / (1 + np.exp(-(z + rng.normal(0, 1, n))))
    w = rng.uniform(0.1, 2.0, n)
    P3 = rng.dirichlet(np.ones(3), n)
    y3 = np.array([rng.choice(3, p=row) for row in P3])
    return y, p, w, y3, P3


def test_cuda_metrics_on_device_tensors_match_sklearn(scores):
    import sklearn.metrics as skm

    from logitkit.evaluate import metrics as M

    y, p, w, y3, P3 = scores
    yt, pt, wt = (torch.as_tensor(a, device=DEV) for a in (y, p, w))
    P2 = torch.stack([1 - pt, pt], 1)
    yhat = (pt > 0.5).long()
    yhat_np = (p > 0.5).astype(int)
    checks = [
        (M.accuracy(yt, yhat, sample_weight=wt), skm.accuracy_score(y, yhat_np, sample_weight=w)),
        (M.balanced_accuracy(yt, yhat), skm.balanced_accuracy_score(y, yhat_np)),
        (M.precision(yt, yhat, sample_weight=wt), skm.precision_score(y, yhat_np, sample_weight=w)),
        (M.recall(yt, yhat), skm.recall_score(y, yhat_np)),
        (M.f1(yt, yhat, sample_weight=wt), skm.f1_score(y, yhat_np, sample_weight=w)),
        (M.log_loss(yt, P2, sample_weight=wt), skm.log_loss(y, np.column_stack([1 - p, p]), sample_weight=w)),
        (M.roc_auc(yt, P2, sample_weight=wt), skm.roc_auc_score(y, p, sample_weight=w)),
        (M.average_precision(yt, P2), skm.average_precision_score(y, p)),
        (M.brier_score(yt, P2, sample_weight=wt), skm.brier_score_loss(y, p, sample_weight=w)),
        (M.log_loss(torch.as_tensor(y3, device=DEV), torch.as_tensor(P3, device=DEV)), skm.log_loss(y3, P3)),
        (M.roc_auc(torch.as_tensor(y3, device=DEV), torch.as_tensor(P3, device=DEV)),
         skm.roc_auc_score(y3, P3, multi_class="ovr")),
    ]
    for i, (ours, theirs) in enumerate(checks):
        assert isinstance(ours, float), (i, type(ours))
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12), i
    cm = M.confusion_matrix(yt, yhat)
    assert isinstance(cm, np.ndarray)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y, yhat_np))


def test_cuda_streaming_accumulators_match_sklearn(scores):
    import sklearn.metrics as skm

    from logitkit.evaluate.streaming import AUC, CalibrationRatio, LogLoss, NormalizedEntropy, StreamingMetrics

    y, p, w, _, _ = scores
    logloss, auc, cal, ne = LogLoss(device=DEV), AUC(device=DEV), CalibrationRatio(device=DEV), NormalizedEntropy(device=DEV)
    sm_ = StreamingMetrics(device=DEV)
    for i in range(0, len(y), 512):
        yb = torch.as_tensor(y[i : i + 512], device=DEV)
        pb = torch.as_tensor(p[i : i + 512], device=DEV)
        wb = torch.as_tensor(w[i : i + 512], device=DEV)
        for acc in (logloss, auc, cal, ne):
            acc.update(yb, pb, wb)
        sm_.update(yb, pb, wb)
    assert logloss.result() == pytest.approx(skm.log_loss(y, p, sample_weight=w), rel=1e-10)
    assert abs(auc.result() - skm.roc_auc_score(y, p, sample_weight=w)) <= max(auc.error_bound(), 1e-12)
    assert cal.result() == pytest.approx(np.sum(w * y) / np.sum(w * p), rel=1e-10)  # observed / predicted
    base = np.average(y, weights=w)
    h = -(base * np.log(base) + (1 - base) * np.log(1 - base))
    assert ne.result() == pytest.approx(skm.log_loss(y, p, sample_weight=w) / h, rel=1e-10)
    res = sm_.result()
    assert res["log_loss"] == pytest.approx(logloss.result(), rel=1e-12)
    assert all(isinstance(v, float) for v in res.values())
    # the state leaves the device and comes back
    again = StreamingMetrics.from_state(sm_.state().cpu())
    assert again.result()["log_loss"] == pytest.approx(res["log_loss"], rel=1e-12)


# ----------------------------------------------------------------------------- networks
def test_cuda_mlp_without_hidden_layers_is_logistic_regression(iris):
    from logitkit import MLPClassifier

    X, y = iris
    mlp = MLPClassifier(hidden_layer_sizes=(), alpha=0.01, tol=1e-10, max_iter=500, device=DEV).fit(X, y)
    lr = LogisticRegression(alpha=0.01, tol=1e-10, device="cpu").fit(X, y)
    np.testing.assert_allclose(mlp.predict_proba(X), lr.predict_proba(X), atol=1e-5)
    assert_numpy_outputs(mlp, X)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_cuda_mlp_same_seed_same_fit_as_cpu(digits, solver):
    from logitkit import MLPClassifier

    X, y = digits
    X, y = X[:600], y[:600]
    kw = dict(hidden_layer_sizes=(16,), activation="tanh", alpha=1e-3, solver=solver, max_iter=40, random_state=0)
    with _no_fail():
        dev = MLPClassifier(**kw, device=DEV).fit(X, y)
        cpu = MLPClassifier(**kw, device="cpu").fit(X, y)
    # same initial weights (drawn on the CPU), same order; only rounding differs, which 40
    # steps on a non-convex objective may amplify a little
    np.testing.assert_allclose(dev.predict_proba(X), cpu.predict_proba(X), atol=1e-5)
    assert_numpy_outputs(dev, X)
    assert next(dev.network_.parameters()).device.type == torch.device(DEV).type
    feats = dev.features(X)
    assert isinstance(feats, np.ndarray) and feats.shape == (600, 16)


def test_cuda_encoder_and_logistic_head_modules():
    from logitkit import LogisticHead
    from logitkit.embed.encoder import MLPEncoder

    torch.manual_seed(0)
    enc = MLPEncoder(10, (8, 6), activation="relu", batch_norm=True, dtype=torch.float64)
    head = LogisticHead(enc.out_features, 3, dtype=torch.float64)
    x = torch.randn(50, 10, dtype=torch.float64)
    yy = torch.randint(0, 3, (50,))
    ref_loss = head.loss(enc(x), yy)
    enc_d, head_d = MLPEncoder(10, (8, 6), batch_norm=True, dtype=torch.float64, device=DEV), \
        LogisticHead(6, 3, dtype=torch.float64).to(DEV)
    enc_d.load_state_dict(enc.state_dict())
    head_d.load_state_dict(head.state_dict())
    loss = head_d.loss(enc_d(x.to(DEV)), yy.to(DEV))
    assert loss.device.type == torch.device(DEV).type
    assert float(loss) == pytest.approx(float(ref_loss), rel=1e-12)
    loss.backward()
    ref_loss.backward()
    np.testing.assert_allclose(head_d.linear.weight.grad.cpu().numpy(), head.linear.weight.grad.numpy(), rtol=1e-10, atol=1e-14)
    p = head_d.proba(enc_d(x.to(DEV)))
    assert p.shape == (50, 3) and torch.allclose(p.sum(1).cpu(), torch.ones(50, dtype=torch.float64))


def test_cuda_graph_of_models_on_the_device(iris):
    from logitkit import LogisticHead, MLPClassifier
    from logitkit.interpret import graph

    X, y = iris
    mlp = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, device=DEV).fit(X, y)
    dot = graph(mlp, X, y)
    assert dot.startswith("digraph") and "Addmm" in dot
    dot = graph(LogisticRegression(device=DEV).fit(X, y), X, y)
    assert "digraph" in dot
    head = LogisticHead(4, 3, dtype=torch.float64).to(DEV)
    dot = graph(head, X, y)
    assert "linear.weight" in dot


# ----------------------------------------------------------------------------- hashed / CTR
N_BITS = 12


def hashed_data(n=3000, t=8, seed=0, n_dense=2):
    rng = np.random.default_rng(seed)
    m = 1 << N_BITS
    card = rng.integers(3, 200, t)
    ranks = np.minimum(rng.zipf(1.3, (n, t)), card) - 1
    idx = (ranks * 7919 + np.arange(t) * 104729) % m
    w_true = rng.normal(0, 0.7, m)
    dense = rng.normal(0, 1, (n, n_dense)) * np.array([1.0, 10.0, 0.1][:n_dense])
    z = w_true[idx].sum(1) - 0.5 + dense @ rng.normal(0, 0.5, n_dense)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float32)
    return idx.astype(np.int64), y, dense.astype(np.float32)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer,l1", [("ftrl", 0.3), ("adagrad", 0.0), ("sgd", 0.0)])
def test_cuda_hashed_partial_fit_matches_cpu(optimizer, l1, dtype):
    from logitkit import HashedLogisticRegression

    idx, y, dense = hashed_data()
    kw = dict(n_bits=N_BITS, optimizer=optimizer, batch_size=128, l1=l1, l2=0.5, dtype=dtype, shuffle=True)
    cpu = HashedLogisticRegression(**kw, device="cpu")
    dev = HashedLogisticRegression(**kw, device=DEV)
    for i in range(0, len(y), 1000):  # three stream batches, numpy in
        cpu.partial_fit(idx[i : i + 1000], y[i : i + 1000], dense[i : i + 1000])
        dev.partial_fit(idx[i : i + 1000], y[i : i + 1000], dense[i : i + 1000])
    rtol, atol = (1e-8, 1e-10) if dtype == "float64" else (1e-4, 1e-5)
    np.testing.assert_allclose(dev.coef_, cpu.coef_, rtol=rtol, atol=atol)
    np.testing.assert_allclose(dev.intercept_, cpu.intercept_, rtol=rtol, atol=atol)
    np.testing.assert_allclose(dev.predict_proba(idx, dense), cpu.predict_proba(idx, dense), atol=10 * atol)
    assert dev.progressive_loss_ == pytest.approx(cpu.progressive_loss_, rel=1e-6)
    for out in (dev.coef_, dev.intercept_, dev.predict(idx, dense), dev.decision_function(idx, dense)):
        assert isinstance(out, np.ndarray)
    if l1 and dtype == "float64":  # FTRL's L1: exact zeros, the same ones as on the CPU
        assert (dev.coef_ == 0).sum() > 0
        assert_same_zeros(dev.coef_, cpu.coef_, 1e-8)


def test_cuda_hashed_device_tensors_in(tmp_path):
    from logitkit import HashedLogisticRegression

    idx, y, dense = hashed_data(n=1000)
    kw = dict(n_bits=N_BITS, batch_size=100, l1=0.1, dtype="float64")
    dev = HashedLogisticRegression(**kw, device=DEV).partial_fit(
        torch.as_tensor(idx, device=DEV), torch.as_tensor(y, device=DEV), torch.as_tensor(dense, device=DEV))
    cpu = HashedLogisticRegression(**kw, device="cpu").partial_fit(idx, y, dense)
    np.testing.assert_allclose(dev.coef_, cpu.coef_, rtol=1e-8, atol=1e-10)
    p = dev.predict_proba(torch.as_tensor(idx, device=DEV), torch.as_tensor(dense, device=DEV))
    assert isinstance(p, np.ndarray) and p.shape == (1000, 2)


@pytest.fixture(scope="module")
def ctr_dir(ctr_files):
    return ctr_files(6_000, 1_500, seed=2, max_cardinality=2000).folder  # (tests/conftest.py)


def _ctr_stream(d, name, **kw):
    from logitkit.loaddata import CTRStream
    from logitkit.prepdata.hashing import FeatureHasher

    return CTRStream(d / name, FeatureHasher(n_bits=16), batch_rows=1500, prefetch=False, **kw)


@pytest.mark.parametrize("optimizer", ["ftrl", "adagrad", "sgd"])
def test_cuda_hashed_fit_over_a_criteo_stream_matches_cpu_and_partial_fit(ctr_dir, optimizer):
    from logitkit import HashedLogisticRegression
    from logitkit.evaluate import evaluate_stream

    kw = dict(n_bits=16, optimizer=optimizer, l1=0.5 if optimizer == "ftrl" else 0.0, l2=1.0, batch_size=256,
              dtype="float64", n_passes=2)
    stream = _ctr_stream(ctr_dir, "train.tsv", cache=ctr_dir / f"cache_{optimizer}")
    dev = HashedLogisticRegression(**kw, device=DEV).fit(stream)
    cpu = HashedLogisticRegression(**kw, device="cpu").fit(_ctr_stream(ctr_dir, "train.tsv"))
    np.testing.assert_allclose(dev.coef_, cpu.coef_, rtol=1e-8, atol=1e-10)
    assert dev.pass_losses_ == pytest.approx(cpu.pass_losses_, rel=1e-8)
    # partial_fit over the batches of the same stream, pass by pass, is fit
    pf = HashedLogisticRegression(**{**kw, "n_passes": 1}, device=DEV)
    for _ in range(2):
        for batch in _ctr_stream(ctr_dir, "train.tsv"):
            pf.partial_fit(*batch)
    np.testing.assert_allclose(pf.coef_, dev.coef_, rtol=1e-8, atol=1e-10)
    got_dev = evaluate_stream(dev, _ctr_stream(ctr_dir, "test.tsv", sketch_every=0))
    got_cpu = evaluate_stream(cpu, _ctr_stream(ctr_dir, "test.tsv", sketch_every=0))
    assert got_dev["log_loss"] == pytest.approx(got_cpu["log_loss"], rel=1e-8)
    if optimizer == "ftrl":
        assert (dev.coef_ == 0).sum() > 0
        assert_same_zeros(dev.coef_, cpu.coef_, 1e-8)


def test_cuda_hashed_checkpoint_saved_on_device_resumes_on_cpu(ctr_dir, tmp_path):
    from logitkit import HashedLogisticRegression

    kw = dict(n_bits=16, optimizer="ftrl", l1=0.2, l2=1.0, batch_size=256, dtype="float64", shuffle=True)
    batches = list(_ctr_stream(ctr_dir, "train.tsv"))
    full = HashedLogisticRegression(**kw, device="cpu")
    for b in batches:
        full.partial_fit(*b)
    half = HashedLogisticRegression(**kw, device=DEV)
    for b in batches[:2]:
        half.partial_fit(*b)
    half.save_checkpoint(str(tmp_path / "ck"))
    resumed = HashedLogisticRegression.load(str(tmp_path / "ck"), device="cpu")
    assert resumed.w_.device.type == "cpu"
    np.testing.assert_array_equal(resumed.coef_, half.coef_)
    for b in batches[2:]:
        resumed.partial_fit(*b)
    np.testing.assert_allclose(resumed.coef_, full.coef_, rtol=1e-8, atol=1e-10)
    # and the other way: a CPU checkpoint continues on the device
    back = HashedLogisticRegression.load(str(tmp_path / "ck"), device=DEV)
    for b in batches[2:]:
        back.partial_fit(*b)
    np.testing.assert_allclose(back.coef_, full.coef_, rtol=1e-8, atol=1e-10)
    # fit(resume_from=...) on the device equals the uninterrupted run too
    class Stop(Exception):
        pass

    def interrupted():  # the job dies after two batches; a checkpoint was written after the second
        for i, b in enumerate(batches):
            if i == 2:
                raise Stop
            yield b

    with pytest.raises(Stop):
        HashedLogisticRegression(**kw, device=DEV, checkpoint_dir=str(tmp_path / "ck2"), checkpoint_every=2).fit(interrupted())
    cont = HashedLogisticRegression(**kw, device=DEV).fit(batches, resume_from=str(tmp_path / "ck2"))
    np.testing.assert_allclose(cont.coef_, full.coef_, rtol=1e-8, atol=1e-10)


# ----------------------------------------------------------------------------- pipeline (CLI)
def _cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m logitkit ...`` with this checkout importable (the package need not be installed)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "logitkit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _run_dir(out: Path) -> Path:
    dirs = [p for p in out.iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def test_cuda_cli_breast_cancer_run_equals_cpu_run(tmp_path):
    """The device run goes through ``python -m logitkit`` (a subprocess, as a user runs it);
    the CPU reference runs in this process."""
    import pandas as pd

    from logitkit.pipeline.cli import main

    cfg = ROOT / "configs" / "breast_cancer.yaml"
    sets = ["--set", "model.tol=1e-10", "--set", "evaluate.cv.folds=0", "--set", "interpret.plots=false",
            "--set", "interpret.report=false"]
    assert main(["run", str(cfg), "--set", "run.device=cpu", *sets, "--out", str(tmp_path / "ref")]) == 0
    res = _cli("run", str(cfg), "--set", f"run.device={DEV}", *sets, "--out", str(tmp_path / "dev"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    coefs = {}
    for key, dev in (("ref", "cpu"), ("dev", DEV)):
        run = _run_dir(tmp_path / key)
        record = json.loads((run / "record.json").read_text())
        assert record["status"] == "complete"
        assert record["environment"]["device"].startswith(torch.device(dev).type)
        coefs[key] = pd.read_csv(run / "coefficients.csv")
    a, b = coefs["ref"], coefs["dev"]
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    num = [c for c in a.columns if pd.api.types.is_float_dtype(a[c])]
    assert "coef" in num
    np.testing.assert_allclose(b[num].to_numpy(), a[num].to_numpy(), rtol=1e-6, atol=1e-9)


def test_cuda_cli_ctr_run_equals_cpu_run(ctr_dir, tmp_path):
    from logitkit import HashedLogisticRegression
    from logitkit.pipeline.cli import main

    cfg = ROOT / "configs" / "ctr.yaml"
    weights = {}
    for key, dev in (("ref", "cpu"), ("dev", DEV)):
        out = tmp_path / key
        args = ["run", str(cfg), "--set", f"run.device={dev}", "--set", f"data.path={ctr_dir / 'train.tsv'}",
                "--set", f"data.test_path={ctr_dir / 'test.tsv'}", "--set", "data.batch_rows=4000",
                "--set", "prep.hashing.n_bits=16", "--set", "model.dtype=float64",
                "--set", "interpret.plots=false", "--set", "interpret.report=false", "--out", str(out)]
        assert main(args) == 0
        run = _run_dir(out)
        record = json.loads((run / "record.json").read_text())
        assert record["status"] == "complete" and record["environment"]["device"].startswith(torch.device(dev).type)
        model = HashedLogisticRegression.load(str(run / "model"), device="cpu")
        weights[key] = (model.coef_, record["metrics"]["test"])
    np.testing.assert_allclose(weights["dev"][0], weights["ref"][0], rtol=1e-6, atol=1e-9)
    for k, v in weights["ref"][1].items():
        assert weights["dev"][1][k] == pytest.approx(v, rel=1e-6), k


# ----------------------------------------------------------------------------- distributed
@pytest.fixture
def one_rank_group(tmp_path):
    """A process group of one rank in this process: NCCL on a CUDA device, gloo otherwise."""
    import torch.distributed as tdist

    if not tdist.is_available():
        pytest.skip("torch.distributed is not available in this torch build")
    backend = "nccl" if IS_CUDA else "gloo"
    if IS_CUDA:
        torch.cuda.set_device(torch.device(DEV).index or 0)
    tdist.init_process_group(backend, init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1,
                             timeout=datetime.timedelta(seconds=120))
    yield backend
    tdist.destroy_process_group()


@pytest.mark.parametrize("collectives", ["skipped", "forced"])
def test_cuda_distributed_one_rank_newton_equals_logistic_regression(one_rank_group, cancer, iris, monkeypatch,
                                                                    collectives):
    """In a world of one the helpers skip the collectives; "forced" makes them run anyway
    (all-reduce through the backend — NCCL on the GPU), which must change nothing."""
    import torch.distributed as tdist

    from logitkit._util import dist
    from logitkit.evaluate.streaming import StreamingMetrics
    from logitkit.evaluate.streaming import reduce_metrics
    from logitkit.predict.distributed import DistributedLogisticRegression

    if collectives == "forced":
        monkeypatch.setattr(dist, "is_distributed", lambda: tdist.is_initialized())
        assert dist.backend() == one_rank_group
    for X, y in (cancer, iris):
        kw = dict(alpha=0.01, solver="newton", tol=1e-10)
        dd = DistributedLogisticRegression(**kw, device=DEV).fit(X, y)
        ref = LogisticRegression(**kw, device="cpu").fit(X, y)
        np.testing.assert_allclose(dd.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(dd.intercept_, ref.intercept_, rtol=1e-8, atol=1e-10)
    lb = DistributedLogisticRegression(alpha=0.01, penalty="l1", solver="lbfgs", tol=1e-8, device=DEV).fit(*cancer)
    lb_ref = LogisticRegression(alpha=0.01, penalty="l1", solver="lbfgs", tol=1e-8, device="cpu").fit(*cancer)
    assert rel(objective_value(lb, *cancer), objective_value(lb_ref, *cancer)) <= 1e-8
    p = torch.as_tensor(dd.predict_proba(iris[0])[:, 0], device=DEV)  # P(class 0) of the last (iris) fit
    acc = StreamingMetrics(device=DEV).update(torch.as_tensor((iris[1] == 0).astype(float), device=DEV), p)
    total = reduce_metrics(acc)
    for k, v in acc.result().items():
        assert total.result()[k] == pytest.approx(v, rel=1e-12), k


@pytest.mark.parametrize("optimizer", ["ftrl", "adagrad"])
def test_cuda_distributed_hashed_one_rank_forced_sync_equals_plain_model(one_rank_group, monkeypatch, optimizer):
    """The hashed model's synchronisation (an all-reduce of the whole table's change —
    NCCL on the GPU) run in a world of one: θ_sync + Δ must be the plain model's state."""
    import torch.distributed as tdist

    from logitkit import HashedLogisticRegression
    from logitkit._util import dist
    from logitkit.predict.online.distributed import DistributedHashedLogisticRegression

    monkeypatch.setattr(dist, "is_distributed", lambda: tdist.is_initialized())
    idx, y, dense = hashed_data(n=2000)
    batches = [(idx[i : i + 500], y[i : i + 500], dense[i : i + 500]) for i in range(0, 2000, 500)]
    kw = dict(n_bits=N_BITS, optimizer=optimizer, batch_size=100, l1=0.2 if optimizer == "ftrl" else 0.0, l2=0.5,
              dtype="float64")
    dd = DistributedHashedLogisticRegression(**kw, device=DEV, sync_every=3).fit(batches)
    ref = HashedLogisticRegression(**kw, device="cpu").fit(batches)
    assert dd.n_syncs_ > 0 and dd.comm_bytes_ > 0
    np.testing.assert_allclose(dd.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(dd.intercept_, ref.intercept_, rtol=1e-8, atol=1e-10)
    assert dd.pass_losses_ == pytest.approx(ref.pass_losses_, rel=1e-8)


@pytest.mark.parametrize("multiclass", ["softmax", "ovr"])
def test_cuda_newton_with_collinear_features_reaches_the_optimum(mixed, multiclass):
    """An unpenalised fit whose Hessian is singular (a column is the sum of two others):
    the coefficients are not unique but the optimum value is; Newton's fallback solve
    (least squares when Cholesky fails) must reach it on the device too."""
    X, y = mixed
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    kw = dict(penalty=None, solver="newton", multiclass=multiclass, tol=1e-8, max_iter=200)
    with _no_fail():
        cpu = LogisticRegression(**kw, device="cpu").fit(X, y)
        dev = LogisticRegression(**kw, device=DEV).fit(X, y)
    assert np.isfinite(dev.coef_).all()
    assert rel(objective_value(dev, X, y), objective_value(cpu, X, y)) <= 1e-8
    np.testing.assert_allclose(dev.predict_proba(X), cpu.predict_proba(X), atol=1e-6)
