"""HashedInteractionModel (fm, ffm, deep in the streamed learner): its updates against
autograd of the explicit O(T²) models with the optimisers' rules written out, the same
bits whatever makes the row plans (inline, a helper thread, a stream's cache), resume ==
uninterrupted, early stopping, save/load/predict, row-stable scoring, errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone

from logitkit._util.errors import ConfigError, DataError, InputFileError
from logitkit._util.rowstable import row_stable
from logitkit.predict import HashedInteractionModel, HashedLogisticRegression
from logitkit.predict.online import load_hashed

pytestmark = pytest.mark.usefixtures("one_thread")
D64 = torch.float64


def make_data(n=400, t=5, bits=6, seed=0):
    """Rows of t tokens over a small table (collisions and repeated tokens in a row)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 1 << bits, (n, t))
    z = np.sin(idx).sum(1) + 0.5 * np.cos(idx[:, 0] * idx[:, 1])
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float32)
    return idx.astype(np.int64), y


# ------------------------------------------------------------------ the oracle: autograd + the rules
def explicit_logits(kind, w, v, idx, k, fields, tower):
    """Σ_t w + the interaction part written pair by pair (and the MLP layer by layer) + b."""
    n, t = idx.shape
    out = w[idx].sum(1) + w[-1]
    if kind in ("fm", "deep"):
        for s, u in itertools.combinations(range(t), 2):
            out = out + (v[idx[:, s]] * v[idx[:, u]]).sum(1)
    if kind == "ffm":
        for a, b in itertools.combinations(range(len(fields)), 2):
            e_ab = v[idx[:, fields[a]], b * k : (b + 1) * k]
            e_ba = v[idx[:, fields[b]], a * k : (a + 1) * k]
            out = out + (e_ab * e_ba).sum(1)
    if kind == "deep":
        h = v[idx].reshape(n, t * k)
        for layer, (W, c) in enumerate(tower):
            h = h @ W.T + c
            if layer < len(tower) - 1:
                h = torch.relu(h)
        out = out + h.view(-1)
    return out


def reference_run(kind, idx, y, kw):
    """The learner's training written out: the table as separate tensors, the gradient of
    each mini-batch's summed log loss by autograd, FTRL-Proximal on w (the intercept
    unpenalised), Adagrad with the proximal L2 step on the touched rows' v, Adam on the MLP."""
    m, k, bs = 1 << kw["n_bits"], kw["embedding_dim"], kw["batch_size"]
    t = idx.shape[1]
    fields = kw.get("ffm_fields")
    width = len(fields) * k if kind == "ffm" else k
    alpha, beta, l1, l2 = kw["learning_rate"], kw["beta"], kw["l1"], kw["l2"]
    lr_v, l2_v = kw["embedding_learning_rate"], kw["embedding_l2"]
    gen = torch.Generator().manual_seed(kw["random_state"])
    v = torch.randn(m + 1, width, generator=gen, dtype=D64) * kw["init_scale"]
    v[m] = 0.0
    w, z, nn_ = (torch.zeros(m + 1, dtype=D64) for _ in range(3))
    nv = torch.zeros(m + 1, width, dtype=D64)
    gen = torch.Generator().manual_seed(kw["random_state"] + 1)
    tower, fan_in = [], t * k
    for out in (*kw["hidden"], 1):
        tower.append([torch.randn(out, fan_in, generator=gen, dtype=D64) * (2.0 / fan_in) ** 0.5,
                      torch.zeros(out, dtype=D64)])
        fan_in = out
    params = [p.requires_grad_() for layer in tower for p in layer]
    adam = torch.optim.Adam(params, lr=kw["dense_learning_rate"])
    pen = torch.ones(m + 1, dtype=D64)
    pen[m] = 0.0
    progressive = 0.0
    for s in range(0, len(y), bs):
        ib, yb = torch.from_numpy(idx[s : s + bs]), torch.from_numpy(y[s : s + bs]).double()
        wt, vt = w.clone().requires_grad_(), v.clone().requires_grad_()
        adam.zero_grad()
        loss = F.binary_cross_entropy_with_logits(explicit_logits(kind, wt, vt, ib, k, fields, tower), yb,
                                                  reduction="sum")
        loss.backward()
        progressive += float(loss.detach())
        g, gv = wt.grad, vt.grad
        sigma = ((nn_ + g * g).sqrt() - nn_.sqrt()) / alpha  # FTRL-Proximal (no-op where g = 0)
        z = z + g - sigma * w
        nn_ = nn_ + g * g
        live = z.abs() > l1 * pen
        w = torch.where(live, -(z - z.sign() * l1 * pen) / ((beta + nn_.sqrt()) / alpha + l2 * pen),
                        torch.zeros_like(z))
        touched = torch.zeros(m + 1, dtype=torch.bool)
        touched[ib.reshape(-1)] = True
        touched[m] = True
        nv[touched] += gv[touched] ** 2  # Adagrad + proximal L2, touched rows only
        d = nv[touched].sqrt() + 1e-8
        v[touched] = (v[touched] - lr_v * gv[touched] / d) / (1 + lr_v * l2_v / d)
        if kind == "deep":
            adam.step()
    return w, v, [p.detach() for p in params], progressive / len(y)


KW = dict(n_bits=6, embedding_dim=3, batch_size=40, learning_rate=0.3, beta=1.0, l1=0.05, l2=0.5,
          embedding_learning_rate=0.1, embedding_l2=0.2, init_scale=0.3, hidden=(4, 3), dense_learning_rate=0.01,
          random_state=3, dtype="float64", sketch_size=0)


@pytest.mark.parametrize("kind", ["fm", "ffm", "deep"])
def test_updates_match_autograd_of_the_explicit_model_and_the_rules(kind):
    idx, y = make_data()
    kw = dict(KW, ffm_fields=[0, 2, 3] if kind == "ffm" else None)
    model = HashedInteractionModel(kind, **kw).partial_fit(idx, y)
    w, v, tower, progressive = reference_run(kind, idx, y, kw)
    torch.testing.assert_close(model._table.w, w, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(model._table.v, v, rtol=1e-9, atol=1e-12)
    assert model.progressive_loss_ == pytest.approx(progressive, rel=1e-10)
    if kind == "deep":
        mine = model._inter.tower.params
        for a, b in zip(mine, tower):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    # scoring (the row-stable layout) is the explicit model at the learned state
    new, _ = make_data(50, seed=1)
    tw = [(tower[i], tower[i + 1]) for i in range(0, len(tower), 2)]
    want = explicit_logits(kind, w, v, torch.from_numpy(new), 3, kw["ffm_fields"], tw).detach()
    torch.testing.assert_close(model.logits(new), want, rtol=1e-10, atol=1e-12)


def test_ftrl_on_the_vectors_starts_from_the_drawn_vectors():
    idx, y = make_data()
    model = HashedInteractionModel("fm", **{**KW, "embedding_optimizer": "ftrl", "embedding_l2": 0.0})
    model.partial_fit(idx[:1], y[:1])
    drawn = torch.randn(65, 3, generator=torch.Generator().manual_seed(3), dtype=D64) * 0.3
    untouched = torch.ones(64, dtype=torch.bool)
    untouched[idx[0]] = False
    assert torch.equal(model.v_[untouched], drawn[:64][untouched])  # the rows the step did not touch
    assert not torch.equal(model.v_[idx[0]], drawn[idx[0]])


# ------------------------------------------------------------------ streaming: plans, passes, resume
def batches(idx, y, size):
    return [(idx[i : i + size], y[i : i + size]) for i in range(0, len(y), size)]


@pytest.mark.parametrize("kind", ["fm", "deep"])
def test_helper_thread_plans_and_fit_give_the_bits_of_inline_partial_fit(kind):
    idx, y = make_data(900, t=6, bits=8)
    kw = dict(n_bits=8, batch_size=32, hidden=(6,), embedding_dim=4, sketch_size=0)
    ref = HashedInteractionModel(kind, **kw)
    ref._plan_ahead = False
    for b in batches(idx, y, 300):
        ref.partial_fit(*b)
    ahead = HashedInteractionModel(kind, **kw)
    ahead._plan_ahead = True
    ahead.fit(batches(idx, y, 300))
    for a, b in ((ref._tensors(), ahead._tensors()),):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert ref.pass_losses_ == [] and ahead.pass_losses_ == [pytest.approx(ref.progressive_loss_, rel=1e-12)]


def test_cached_row_plans_give_the_bits_of_the_text_pass(ctr_files, tmp_path):
    from logitkit.loaddata import CTRStream
    from logitkit.prepdata import FeatureHasher

    files = ctr_files(3000, 10, seed=4)
    kw = dict(n_bits=14, batch_size=128, n_passes=3, sketch_size=0, embedding_dim=4)
    cached = CTRStream(files.train, FeatureHasher(n_bits=14), batch_rows=1000, cache=tmp_path / "c", prefetch=False)
    a = HashedInteractionModel("fm", **kw).fit(cached)
    assert cached.passes_from_cache == 2 and cached.cache_meta()["extras"]["key"]["batch_size"] == 128
    b = HashedInteractionModel("fm", **kw).fit(CTRStream(files.train, FeatureHasher(n_bits=14), batch_rows=1000,
                                                         prefetch=False))
    ta, tb = a._tensors(), b._tensors()
    assert all(torch.equal(ta[k], tb[k]) for k in ta) and a.pass_losses_ == b.pass_losses_
    assert torch.equal(a.touched_, b.touched_)


class Flaky:
    """A re-iterable stream that dies once, at batch ``at`` of its second pass."""

    class Died(Exception):
        pass

    def __init__(self, stream, at):
        self.stream, self.at, self.passes = stream, at, 0

    def __iter__(self):
        self.passes += 1
        for i, b in enumerate(self.stream):
            if self.passes == 2 and i == self.at:
                raise Flaky.Died
            yield b


@pytest.mark.parametrize("kind", ["fm", "ffm", "deep"])
def test_resume_from_checkpoint_equals_uninterrupted(tmp_path, kind):
    idx, y = make_data(2400, t=6, bits=9)
    stream, holdout = batches(idx[:2000], y[:2000], 250), batches(idx[2000:], y[2000:], 200)
    kw = dict(n_bits=9, batch_size=48, shuffle=True, n_passes=3, patience=5, sketch_size=10, embedding_dim=4,
              hidden=(5,), ffm_fields=[0, 2, 5] if kind == "ffm" else None)
    whole = HashedInteractionModel(kind, **kw).fit(stream, holdout=holdout)
    ck = tmp_path / "ck"
    with pytest.raises(Flaky.Died):
        HashedInteractionModel(kind, **kw, checkpoint_dir=str(ck), checkpoint_every=3).fit(Flaky(stream, 5),
                                                                                          holdout=holdout)
    resumed = HashedInteractionModel(kind, **kw, checkpoint_dir=str(ck), checkpoint_every=3)
    resumed.fit(stream, holdout=holdout, resume_from=str(ck))
    a, b = whole._tensors(), resumed._tensors()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # table, slots, MLP and Adam state
    assert whole.pass_losses_ == resumed.pass_losses_ and whole.holdout_losses_ == resumed.holdout_losses_
    loaded = load_hashed(str(ck))
    assert type(loaded) is HashedInteractionModel and loaded.n_tokens_in_ == 6
    np.testing.assert_array_equal(loaded.decision_function(idx[:50]), resumed.decision_function(idx[:50]))


def test_early_stopping_keeps_the_best_pass_with_its_mlp():
    idx, y = make_data(2000, t=6, bits=9)
    hold = batches(*make_data(600, t=6, bits=9, seed=7), 300)
    model = HashedInteractionModel("deep", n_bits=9, batch_size=20, n_passes=8, patience=2, tol=0.0, hidden=(8,),
                                   embedding_learning_rate=0.5, dense_learning_rate=0.05, sketch_size=0)
    model.fit(batches(idx, y, 500), holdout=hold)
    from logitkit.evaluate.streaming import evaluate_stream

    assert len(model.holdout_losses_) < 8  # it overfits, so it stopped
    assert evaluate_stream(model, hold)["log_loss"] == pytest.approx(min(model.holdout_losses_), rel=1e-5)


# ------------------------------------------------------------------ saving, loading, scoring
def test_save_load_predict_and_the_linear_loader_names_the_right_one(tmp_path):
    idx, y = make_data(600)
    model = HashedInteractionModel("ffm", n_bits=6, embedding_dim=2, ffm_fields=[1, 3], sketch_size=5)
    model.partial_fit(idx[:500], y[:500])
    model.save_checkpoint(str(tmp_path / "m"))
    loaded = HashedInteractionModel.load(str(tmp_path / "m"))
    assert loaded.get_params() == {**model.get_params(), "hidden": [64, 32]}  # (JSON: lists)
    np.testing.assert_array_equal(loaded.predict_proba(idx[500:]), model.predict_proba(idx[500:]))
    with pytest.raises(InputFileError, match=r"a logitkit.HashedInteractionModel/1 checkpoint, not "
                                             r"logitkit.HashedLogisticRegression/1; load it with .*load_hashed"):
        HashedLogisticRegression.load(str(tmp_path / "m"))
    linear = HashedLogisticRegression(n_bits=6).partial_fit(idx, y)
    linear.save_checkpoint(str(tmp_path / "lin"))
    assert type(load_hashed(str(tmp_path / "lin"))) is HashedLogisticRegression


@pytest.mark.parametrize("kind", ["fm", "deep"])
def test_logitkit_load_gives_the_interaction_model_from_save_and_from_a_checkpoint(tmp_path, kind):
    import logitkit

    idx, y = make_data(600)
    model = HashedInteractionModel(kind, n_bits=6, embedding_dim=2, hidden=(8,), sketch_size=5)
    model.partial_fit(idx[:500], y[:500])
    model.save(str(tmp_path / "saved"))
    model.save_checkpoint(str(tmp_path / "ckpt"))
    for folder in ("saved", "ckpt"):
        loaded = logitkit.load(str(tmp_path / folder))
        assert type(loaded) is HashedInteractionModel
        np.testing.assert_array_equal(loaded.predict_proba(idx[500:]), model.predict_proba(idx[500:]))


@pytest.mark.parametrize("kind", ["fm", "ffm", "deep"])
def test_a_rows_score_does_not_depend_on_the_rows_scored_with_it(kind):
    torch.set_num_threads(2)
    try:
        idx, y = make_data(3000, t=8, bits=10)
        model = HashedInteractionModel(kind, n_bits=10, hidden=(16, 8), ffm_fields=[0, 3, 7], sketch_size=0)
        model.partial_fit(idx, y)
        with row_stable():
            whole = model.decision_function(idx)  # several scoring chunks
            alone = np.array([model.decision_function(idx[i : i + 1])[0] for i in range(0, 3000, 97)])
            some = model.decision_function(idx[13:1013])
        assert np.array_equal(whole[::97], alone) and np.array_equal(whole[13:1013], some)
    finally:
        torch.set_num_threads(1)


def test_sklearn_clone_and_shapes():
    idx, y = make_data(300)
    model = HashedInteractionModel("deep", n_bits=6, hidden=[4], embedding_dim=2)
    assert clone(model).get_params() == model.get_params()
    model.partial_fit(idx, y, classes=[0, 1])
    assert model.predict_proba(idx).shape == (300, 2) and model.v_.shape == (64, 2)
    stats = model.interaction_stats()
    assert stats["row_columns"] == 3 + 2 * 2 and stats["mlp_parameters"] == 5 * 2 * 4 + 4 + 4 + 1


def test_errors_name_the_fix(tmp_path):
    idx, y = make_data(200)
    data = batches(idx, y, 100)
    with pytest.raises(ConfigError, match=r"^HashedInteractionModel: interactions='none' is the linear model, "
                                          r"HashedLogisticRegression$"):
        HashedInteractionModel("none", n_bits=6).fit(data)
    with pytest.raises(ConfigError, match=r"interactions='fn' is invalid; expected one of 'fm', 'ffm', 'deep'"):
        HashedInteractionModel("fn", n_bits=6).fit(data)
    with pytest.raises(ConfigError, match=r"optimizer='sgd' \(VW's normalised update\) is the linear model's"):
        HashedInteractionModel(n_bits=6, optimizer="sgd").fit(data)
    with pytest.raises(ConfigError, match=r"^HashedInteractionModel: embedding_optimizer='adam' is invalid; "
                                          r"expected 'adagrad' or 'ftrl'$"):
        HashedInteractionModel(n_bits=6, embedding_optimizer="adam").fit(data)
    with pytest.raises(ConfigError, match=r"init_scale=0 is invalid; expected a number > 0"):
        HashedInteractionModel(n_bits=6, init_scale=0).fit(data)
    with pytest.raises(ConfigError, match=r"embedding_dim=2.5 is invalid; expected an integer >= 1"):
        HashedInteractionModel(n_bits=6, embedding_dim=2.5).fit(data)
    with pytest.raises(ConfigError, match=r"ffm fields=\[0, 9\] must name at least 2 distinct token columns in \[0, 5\)"):
        HashedInteractionModel("ffm", n_bits=6, ffm_fields=[0, 9]).fit(data)
    with pytest.raises(DataError, match=r"idx must be a 2-D integer array"):
        HashedInteractionModel(n_bits=6).partial_fit(idx[:, 0], y)
    model = HashedInteractionModel("deep", n_bits=6, hidden=[4]).fit(data)
    with pytest.raises(DataError, match=r"idx has 4 tokens per row; the model was trained with 5"):
        model.predict(idx[:, :4])
    model.save_checkpoint(str(tmp_path / "ck"))
    with pytest.raises(ConfigError, match=r"checkpoint has hidden=\[4\] but this model has hidden=\[8\]"):
        HashedInteractionModel("deep", n_bits=6, hidden=[8]).fit(data, resume_from=str(tmp_path / "ck"))
    with pytest.raises(ConfigError, match=r"checkpoint has interactions='deep' but this model has interactions='fm'"):
        HashedInteractionModel("fm", n_bits=6, hidden=[4]).fit(data, resume_from=str(tmp_path / "ck"))
