"""The interaction models on an accelerator (``LOGITKIT_TEST_DEVICE``, default "cuda";
skipped when it is not available; ``LOGITKIT_TEST_DEVICE=cpu`` is the dry run): forward
and hand-written backward of ``logitkit.embed`` equal the CPU's in float64 to rounding,
the seeded table is the same bits on every device, the learner
(``predict.HashedInteractionModel``) after a few mini-batches agrees with the CPU's
(float64: 1e-8 relative; only the order of the sums differs, index_add_ on a GPU
accumulating in another order), and on the device a resumed fit ends with the bits of
an uninterrupted one (deterministic kernels)."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from logitkit.embed.interactions import make_interaction
from logitkit.embed.token_table import RowLayout, sum_by_row
from logitkit.predict import HashedInteractionModel
from logitkit.predict.online import load_hashed

DEV = os.environ.get("LOGITKIT_TEST_DEVICE", "cuda")
_OK = torch.device(DEV).type == "cpu" or (torch.device(DEV).type == "cuda" and torch.cuda.is_available())
pytestmark = pytest.mark.skipif(not _OK, reason=f"LOGITKIT_TEST_DEVICE={DEV!r} is not available here "
                                                "(set LOGITKIT_TEST_DEVICE=cpu for a dry run on the CPU)")
D64 = torch.float64


@pytest.mark.parametrize("kind", ["none", "fm", "ffm", "deep"])
def test_forward_backward_match_the_cpu(kind):
    n, t, k, u = 64, 6, 4, 50
    g = torch.Generator().manual_seed(0)
    rows = torch.randn(u, 1 + (3 * k if kind == "ffm" else 0 if kind == "none" else k), generator=g, dtype=D64)
    inv = torch.randint(0, u, (n * t,), generator=g)
    r = torch.randn(n, generator=g, dtype=D64)
    out = {}
    for dev in ("cpu", DEV):
        inter = make_interaction(kind, t, dim=k, fields=[0, 2, 5] if kind == "ffm" else None, hidden=(8,),
                                 seed=3, device=dev, dtype=D64)
        layout = RowLayout(inter.width, 0, 0)
        w = layout.gather_positions(rows.to(dev), inv.to(dev), (n, t))
        z, ctx = inter.forward(w)
        grad = sum_by_row(inter.backward(w, ctx, r.to(dev)), inv.to(dev), u)
        out[dev] = (z.cpu(), grad.cpu())
    torch.testing.assert_close(out[DEV][0], out["cpu"][0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out[DEV][1], out["cpu"][1], rtol=1e-10, atol=1e-12)


def test_seeded_table_is_the_same_bits_on_every_device():
    layout = RowLayout(8, 2, 1)
    assert torch.equal(layout.new_table(100, seed=4, device=DEV).cpu(), layout.new_table(100, seed=4))


def _ctr_batches(n=2048, bits=12):
    from logitkit.loaddata.synthetic import make_ctr
    from logitkit.prepdata.hashing import FeatureHasher

    table, _ = make_ctr(n, seed=2, max_cardinality=50, interactions=2)
    idx = FeatureHasher(n_bits=bits).transform(table.data, dtype=np.int32)
    return idx, table.labels().astype(np.float32)


@pytest.mark.parametrize("kind", ["fm", "ffm", "deep"])
def test_learner_matches_the_cpu(kind):
    idx, y = _ctr_batches()
    kw = dict(n_bits=12, embedding_dim=4, hidden=(8,), batch_size=256, l1=0.1, l2=1.0, dtype="float64",
              ffm_fields=[0, 13, 20, 30] if kind == "ffm" else None, sketch_size=0)
    models = [HashedInteractionModel(kind, **kw, device=dev).partial_fit(idx, y) for dev in ("cpu", DEV)]
    cpu, dev = models[0]._tensors(), models[1]._tensors()
    assert cpu.keys() == dev.keys()
    for key in cpu:
        torch.testing.assert_close(dev[key].cpu().to(cpu[key].dtype), cpu[key], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(models[1].decision_function(idx[:300]), models[0].decision_function(idx[:300]),
                               rtol=1e-8, atol=1e-10)
    assert models[1].progressive_loss_ == pytest.approx(models[0].progressive_loss_, rel=1e-10)


@pytest.mark.parametrize("kind", ["fm", "deep"])
def test_resume_on_the_device_gives_the_bits_of_an_uninterrupted_fit(tmp_path, kind):
    """float32 on the device, deterministic kernels (as ``run.deterministic`` asks): a fit
    interrupted after a checkpoint and resumed ends with the uninterrupted fit's bits."""
    from logitkit._util.seed import seed_everything

    idx, y = _ctr_batches(3000)
    stream = [(idx[i : i + 500], y[i : i + 500]) for i in range(0, 3000, 500)]
    kw = dict(n_bits=12, embedding_dim=4, hidden=(8,), batch_size=128, n_passes=2, shuffle=True, sketch_size=0,
              device=DEV)
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    seed_everything(0, deterministic=True)
    try:
        whole = HashedInteractionModel(kind, **kw).fit(stream)

        class Stop(Exception):
            pass

        class Flaky:  # dies in the middle of the second pass
            calls = 0

            def __iter__(self):
                Flaky.calls += 1
                for i, b in enumerate(stream):
                    if Flaky.calls == 2 and i == 3:
                        raise Stop
                    yield b

        ck = str(tmp_path / "ck")
        with pytest.raises(Stop):
            HashedInteractionModel(kind, **kw, checkpoint_dir=ck, checkpoint_every=2).fit(Flaky())
        part = HashedInteractionModel(kind, **kw, checkpoint_dir=ck, checkpoint_every=2).fit(stream, resume_from=ck)
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    a, b = whole._tensors(), part._tensors()
    assert all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)
    assert whole.pass_losses_ == part.pass_losses_
    loaded = load_hashed(ck, device=DEV)
    np.testing.assert_array_equal(loaded.decision_function(idx[:100]), part.decision_function(idx[:100]))
