"""HashedLogisticRegression on generated index tensors: updates vs autograd + reference
optimisers, determinism, partial_fit == fit, resume == uninterrupted, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import log_loss, roc_auc_score

from logitkit._util.errors import ConfigError, DataError, InputFileError
from logitkit.evaluate.streaming import evaluate_stream
from logitkit.predict import HashedLogisticRegression

N_BITS = 12


pytestmark = pytest.mark.usefixtures("one_thread")


def make_data(n=4000, t=8, seed=0, n_dense=0):
    """Rows of t tokens (Zipf-ish per field) with a logistic truth; duplicates across rows."""
    rng = np.random.default_rng(seed)
    m = 1 << N_BITS
    card = rng.integers(3, 200, t)
    ranks = np.minimum(rng.zipf(1.3, (n, t)), card) - 1
    idx = (ranks * 7919 + np.arange(t) * 104729) % m
    w_true = rng.normal(0, 0.7, m)
    z = w_true[idx].sum(1) - 0.5
    dense = None
    if n_dense:
        dense = rng.normal(0, 1, (n, n_dense)) * np.array([1.0, 10.0, 0.1][:n_dense])
        z = z + dense @ rng.normal(0, 0.5, n_dense)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float32)
    return idx.astype(np.int64), y, None if dense is None else dense.astype(np.float32)


def batches(idx, y, size, dense=None):
    return [(idx[i : i + size], y[i : i + size], None if dense is None else dense[i : i + size]) for i in range(0, len(y), size)]


def reference_run(idx, y, batch_size, rule, dense=None):
    """Dense reference: autograd gradient of the summed loss over the whole table, then
    the optimiser rule written out coordinate-wise in NumPy (float64)."""
    m = 1 << N_BITS
    d = 0 if dense is None else dense.shape[1]
    w = np.zeros(m + d + 1)
    state = {"z": np.zeros(m + d + 1), "n": np.zeros(m + d + 1)}
    for s in range(0, len(y), batch_size):
        wt = torch.tensor(w, requires_grad=True)
        ib = torch.from_numpy(idx[s : s + batch_size])
        logit = torch.nn.functional.embedding_bag(ib, wt[:m].unsqueeze(1), mode="sum").squeeze(1) + wt[-1]
        if d:
            logit = logit + torch.from_numpy(dense[s : s + batch_size]).double() @ wt[m : m + d]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.from_numpy(y[s : s + batch_size]).double(), reduction="sum")
        loss.backward()
        g = wt.grad.numpy()
        w = rule(w, state, g)
    return w


def ftrl_rule(alpha, beta, l1, l2, m):
    pen = np.ones(m + 1)
    pen[-1] = 0.0  # intercept

    def rule(w, st, g):
        sigma = (np.sqrt(st["n"] + g * g) - np.sqrt(st["n"])) / alpha
        st["z"] += g - sigma * w
        st["n"] += g * g
        zz = st["z"]
        out = np.zeros_like(w)
        live = np.abs(zz) > l1 * pen
        out[live] = -(zz[live] - np.sign(zz[live]) * l1 * pen[live]) / ((beta + np.sqrt(st["n"][live])) / alpha + l2 * pen[live])
        return out

    return rule


def test_ftrl_matches_reference_with_duplicates_and_penalties():
    idx, y, _ = make_data(n=1500)
    idx[:, 1] = idx[:, 0]  # a bucket twice in a row
    model = HashedLogisticRegression(n_bits=N_BITS, optimizer="ftrl", learning_rate=0.3, beta=0.5, l1=0.2, l2=0.7, batch_size=64, dtype="float64")
    model.partial_fit(idx, y)
    ref = reference_run(idx, y, 64, ftrl_rule(0.3, 0.5, 0.2, 0.7, 1 << N_BITS))
    np.testing.assert_allclose(model.w_.numpy(), ref[:-1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.intercept_, ref[-1:], rtol=1e-9, atol=1e-12)


def test_adagrad_matches_torch_optim_adagrad():
    idx, y, dense = make_data(n=1200, n_dense=2)
    model = HashedLogisticRegression(n_bits=N_BITS, optimizer="adagrad", learning_rate=0.2, batch_size=100, dtype="float64")
    model.partial_fit(idx, y, dense)
    m = 1 << N_BITS
    table = torch.zeros(m, dtype=torch.float64, requires_grad=True)
    dw = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adagrad([table, dw], lr=0.2, eps=1e-8)
    for ib, yb, db in batches(idx, y, 100, dense):
        opt.zero_grad()
        z = torch.nn.functional.embedding_bag(torch.from_numpy(ib), table.unsqueeze(1), mode="sum").squeeze(1)
        z = z + torch.from_numpy(db).double() @ dw[:2] + dw[2]
        torch.nn.functional.binary_cross_entropy_with_logits(z, torch.from_numpy(yb).double(), reduction="sum").backward()
        opt.step()
    np.testing.assert_allclose(model.w_.numpy(), table.detach().numpy(), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(np.r_[model.dense_w_.numpy(), model.intercept_], dw.detach().numpy(), rtol=1e-7, atol=1e-10)


def test_l1_gives_exact_zeros_and_more_with_larger_l1():
    idx, y, _ = make_data(n=3000)
    zeros = []
    for l1 in (0.0, 1.0, 5.0):
        m = HashedLogisticRegression(n_bits=N_BITS, l1=l1, batch_size=128).partial_fit(idx, y)
        touched = m.slots_["n"] > 0
        zeros.append(int((m.w_[touched] == 0).sum()))
    assert zeros[0] == 0 and 0 < zeros[1] < zeros[2]


def test_sgd_update_is_invariant_to_feature_scale():
    idx, y, dense = make_data(n=1000, n_dense=3)
    scale = np.array([100.0, 0.01, 3.0], dtype=np.float32)
    a = HashedLogisticRegression(n_bits=N_BITS, optimizer="sgd", batch_size=50, dtype="float64").partial_fit(idx, y, dense)
    b = HashedLogisticRegression(n_bits=N_BITS, optimizer="sgd", batch_size=50, dtype="float64").partial_fit(idx, y, dense * scale)
    np.testing.assert_allclose(a.decision_function(idx, dense), b.decision_function(idx, dense * scale), rtol=1e-5, atol=1e-6)


def test_progressive_loss_scores_each_batch_before_learning():
    idx, y, _ = make_data(n=2000)
    model = HashedLogisticRegression(n_bits=N_BITS, batch_size=250).fit(batches(idx, y, 250))
    shadow = HashedLogisticRegression(n_bits=N_BITS, batch_size=250)
    probs = []
    for ib, yb, _ in batches(idx, y, 250):
        probs.append(shadow.predict_proba(ib)[:, 1] if hasattr(shadow, "w_") else np.full(len(yb), 0.5))
        shadow.partial_fit(ib, yb)
    assert model.progressive_loss_ == pytest.approx(log_loss(y, np.concatenate(probs)), rel=1e-6)


def test_partial_fit_over_batches_equals_fit_over_stream():
    idx, y, dense = make_data(n=3000, n_dense=2)
    stream = batches(idx, y, 700, dense)
    fitted = HashedLogisticRegression(n_bits=N_BITS, batch_size=100, shuffle=True, l1=0.5).fit(stream)
    manual = HashedLogisticRegression(n_bits=N_BITS, batch_size=100, shuffle=True, l1=0.5)
    for b in stream:
        manual.partial_fit(*b)
    assert torch.equal(fitted.w_, manual.w_) and torch.equal(fitted.dense_w_, manual.dense_w_)


@pytest.mark.parametrize("optimizer", ["ftrl", "sgd"])
def test_helper_thread_plans_give_the_bits_of_inline_plans(optimizer):
    # the distinct rows of the next mini-batch found a mini-batch ahead in a helper thread
    # (partial_fit's choice when a core is free) or inline: the same weights, slots, loss
    idx, y, dense = make_data(n=3000, n_dense=2)
    runs = []
    for ahead in (True, False, "auto"):
        model = HashedLogisticRegression(n_bits=N_BITS, optimizer=optimizer, batch_size=100, shuffle=True, l1=0.5, l2=1.0)
        model._plan_ahead = ahead
        for b in batches(idx, y, 700, dense):
            model.partial_fit(*b)
        runs.append(model)
    ref = runs[0]._tensors()
    for other in runs[1:]:
        assert all(torch.equal(v, other._tensors()[k]) for k, v in ref.items())
        assert other.progressive_loss_ == runs[0].progressive_loss_


def test_same_seed_same_bits_other_seed_differs():
    idx, y, _ = make_data(n=2000)
    runs = [
        HashedLogisticRegression(n_bits=N_BITS, shuffle=True, random_state=s, batch_size=64).fit(batches(idx, y, 500)).w_
        for s in (7, 7, 8)
    ]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


class Interrupt(Exception):
    pass


def interrupted(stream, after):
    for k, b in enumerate(stream):
        if k == after:
            raise Interrupt
        yield b


@pytest.mark.parametrize("optimizer", ["ftrl", "adagrad", "sgd"])
def test_resume_from_checkpoint_equals_uninterrupted(tmp_path, optimizer):
    idx, y, dense = make_data(n=3000, n_dense=1)
    stream = batches(idx, y, 300, dense)
    holdout = batches(*make_data(n=600, seed=5, n_dense=1)[:2], 300, make_data(n=600, seed=5, n_dense=1)[2])
    kw = dict(n_bits=N_BITS, optimizer=optimizer, batch_size=64, shuffle=True, n_passes=3, patience=5, sketch_size=10)
    whole = HashedLogisticRegression(**kw).fit(stream, holdout=holdout)

    class Flaky:  # a re-iterable stream that dies once, in the middle of the second pass
        calls = 0

        def __iter__(self):
            Flaky.calls += 1
            return interrupted(stream, 4) if Flaky.calls == 2 else iter(stream)

    ck = tmp_path / "ck"
    with pytest.raises(Interrupt):
        HashedLogisticRegression(**kw, checkpoint_dir=str(ck), checkpoint_every=3).fit(Flaky(), holdout=holdout)
    resumed = HashedLogisticRegression(**kw, checkpoint_dir=str(ck), checkpoint_every=3).fit(stream, holdout=holdout, resume_from=str(ck))
    assert torch.equal(whole.w_, resumed.w_) and torch.equal(whole.dense_w_, resumed.dense_w_)
    assert whole.pass_losses_ == resumed.pass_losses_ and whole.holdout_losses_ == resumed.holdout_losses_
    loaded = HashedLogisticRegression.load(str(ck))
    np.testing.assert_array_equal(loaded.decision_function(idx[:50], dense[:50]), resumed.decision_function(idx[:50], dense[:50]))


def test_early_stopping_keeps_the_best_pass():
    idx, y, _ = make_data(n=1500)
    hold = batches(*make_data(n=1500, seed=9)[:2], 500)
    model = HashedLogisticRegression(n_bits=N_BITS, learning_rate=2.0, n_passes=12, patience=2, tol=0.0, batch_size=50)
    model.fit(batches(idx, y, 500), holdout=hold)
    assert len(model.holdout_losses_) == len(model.pass_losses_) <= 12
    final = evaluate_stream(model, hold)["log_loss"]
    assert final == pytest.approx(min(model.holdout_losses_), rel=1e-6)
    if len(model.holdout_losses_) < 12:
        assert len(model.holdout_losses_) - 1 - model.best_pass_ == 2


def test_evaluate_stream_matches_sklearn_and_feeds_accumulators():
    idx, y, _ = make_data(n=3000)
    model = HashedLogisticRegression(n_bits=N_BITS).partial_fit(idx[:2000], y[:2000])

    class Collect:
        ys, ps = [], []

        def update(self, yt, p):
            self.ys.append(yt)
            self.ps.append(p)

    acc = Collect()
    out = evaluate_stream(model, batches(idx[2000:], y[2000:], 300), [acc])
    p = model.predict_proba(idx[2000:])[:, 1]
    assert out["log_loss"] == pytest.approx(log_loss(y[2000:], p), rel=1e-6)
    assert roc_auc_score(np.concatenate(acc.ys), np.concatenate(acc.ps)) == pytest.approx(roc_auc_score(y[2000:], p))
    assert out["n_rows"] == 1000


def test_sklearn_clone_and_predict_shapes():
    idx, y, _ = make_data(n=500)
    model = HashedLogisticRegression(n_bits=N_BITS, l2=0.5)
    assert clone(model).get_params() == model.get_params()
    model.partial_fit(idx, y, classes=[0, 1])
    with pytest.raises(TypeError, match="pass classes= by keyword"):
        model.partial_fit(idx, y, None, None, [0, 1])
    assert model.predict_proba(idx).shape == (500, 2) and set(np.unique(model.predict(idx))) <= {0, 1}
    assert model.coef_.shape == (1, 1 << N_BITS) and model.intercept_.shape == (1,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    idx, y, dense = make_data(n=3000, n_dense=2)
    kw = dict(n_bits=N_BITS, batch_size=128, l1=0.3, dtype="float64")
    cpu = HashedLogisticRegression(**kw).partial_fit(idx, y, dense)
    gpu = HashedLogisticRegression(**kw, device="cuda").partial_fit(idx, y, dense)
    np.testing.assert_allclose(gpu.w_.cpu().numpy(), cpu.w_.numpy(), rtol=1e-8, atol=1e-10)


def test_errors_name_the_fix(tmp_path):
    idx, y, dense = make_data(n=100, n_dense=2)
    with pytest.raises(DataError, match=r"idx holds bucket 4096, outside \[0, 2\^12\); hash with n_bits=12"):
        HashedLogisticRegression(n_bits=N_BITS).partial_fit(np.full((3, 2), 4096), [0, 1, 0])
    with pytest.raises(DataError, match=r"labels must be 0 or 1; found -1. Map -1/\+1"):
        HashedLogisticRegression(n_bits=N_BITS).partial_fit(idx[:3], [1, -1, 1])
    with pytest.raises(DataError, match=r"idx must be a 2-D integer array"):
        HashedLogisticRegression(n_bits=N_BITS).partial_fit(idx[:, 0], y)
    model = HashedLogisticRegression(n_bits=N_BITS).partial_fit(idx, y, dense)
    with pytest.raises(DataError, match=r"dense has shape \(100, 1\); expected \(100, 2\)"):
        model.partial_fit(idx, y, dense[:, :1])
    with pytest.raises(DataError, match=r"trained with 2 dense features"):
        model.predict(idx)
    with pytest.raises(ConfigError, match=r"n_passes=2 needs a re-iterable stream"):
        HashedLogisticRegression(n_bits=N_BITS, n_passes=2).fit(iter(batches(idx, y, 50)))
    with pytest.raises(ConfigError, match=r"optimizer='adam' is not one of"):
        HashedLogisticRegression(optimizer="adam").fit(batches(idx, y, 50))
    with pytest.raises(ConfigError, match=r"n_bits=40 must be an integer in \[1, 31\]"):
        HashedLogisticRegression(n_bits=40).fit(batches(idx, y, 50))
    with pytest.raises(InputFileError, match=r"not a logitkit checkpoint \(checkpoint.json missing\)"):
        HashedLogisticRegression(n_bits=N_BITS).fit(batches(idx, y, 50), resume_from=str(tmp_path))
    model.save_checkpoint(str(tmp_path / "ck"))
    with pytest.raises(ConfigError, match=r"checkpoint has l1=0.0 but this model has l1=1.0"):
        HashedLogisticRegression(n_bits=N_BITS, l1=1.0).fit(batches(idx, y, 50), resume_from=str(tmp_path / "ck"))
    with pytest.raises(DataError, match=r"the training stream yielded no rows"):
        HashedLogisticRegression(n_bits=N_BITS).fit([])
