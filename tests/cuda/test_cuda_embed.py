"""The interaction models of ``logitkit.embed`` on an accelerator (``LOGITKIT_TEST_DEVICE``,
default "cuda"; skipped when it is not available): forward and hand-written backward
equal the CPU's in float64 to rounding, the seeded table is the same bits on every
device, and the prototype trainer's tables after a few mini-batches agree with the CPU's
(float64: 1e-8 relative; only the order of the sums differs, index_add_ on a GPU
accumulating in another order)."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from logitkit.embed.interactions import make_interaction
from logitkit.embed.token_table import RowLayout, sum_by_row

ROOT = Path(__file__).resolve().parents[2]
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


def test_prototype_learner_matches_the_cpu():
    spec = importlib.util.spec_from_file_location("_interaction_proto", ROOT / "benchmarks" / "_interaction_proto.py")
    proto = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(proto)
    from logitkit.loaddata.synthetic import make_ctr
    from logitkit.prepdata.hashing import FeatureHasher

    table, _ = make_ctr(2048, seed=2, max_cardinality=50, interactions=2)
    idx = FeatureHasher(n_bits=12).transform(table.data, dtype=np.int32)
    y = table.labels().astype(np.float32)
    for kind in ("fm", "deep"):
        models = [proto.InteractionLearner(kind, n_bits=12, n_tokens=39, dim=4, hidden=(8,), batch_size=256,
                                           l1=0.1, l2=1.0, device=dev, dtype=D64).partial_fit(idx, y)
                  for dev in ("cpu", DEV)]
        torch.testing.assert_close(models[1].table.cpu(), models[0].table, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(models[1].decision_function(idx[:100]), models[0].decision_function(idx[:100]),
                                   rtol=1e-8, atol=1e-10)
