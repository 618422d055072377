"""Interaction models of the hashed CTR path (embed.fm, ffm, deep, token_table): the FM and
FFM terms against their explicit O(T²) sums, every hand-written gradient against finite
differences (torch.autograd.gradcheck, float64) and the MLP against autograd."""
import itertools

import pytest
import torch
import torch.nn.functional as F

from logitkit._util.errors import ConfigError
from logitkit.embed.deep import DeepTower
from logitkit.embed.ffm import ffm_forward
from logitkit.embed.fm import fm_forward
from logitkit.embed.interactions import INTERACTIONS, make_interaction
from logitkit.embed.token_table import RowLayout, sum_by_row
from logitkit.predict.online.optimizers import FTRL, Adagrad

D64 = torch.float64


def _explicit_fm(w):
    """Σ_t w_t + Σ_{s<t} ⟨v_s, v_t⟩ pair by pair, from w (n, T, 1 + k) row-major."""
    n, t, _ = w.shape
    out = w[..., 0].sum(1).clone()
    for s, u in itertools.combinations(range(t), 2):
        out += (w[:, s, 1:] * w[:, u, 1:]).sum(1)
    return out


def _explicit_ffm(w, fields, k):
    """Σ_t w_t + Σ_{a<b} ⟨e_{a,b}, e_{b,a}⟩ over the FFM's fields, pair by pair (w row-major)."""
    out = w[..., 0].sum(1).clone()
    for a, b in itertools.combinations(range(len(fields)), 2):
        e_ab = w[:, fields[a], 1 + b * k : 1 + (b + 1) * k]
        e_ba = w[:, fields[b], 1 + a * k : 1 + (a + 1) * k]
        out += (e_ab * e_ba).sum(1)
    return out


def _cols(w):
    """The column-major layout the functions take: (1 + D, n, T)."""
    return w.permute(2, 0, 1).contiguous()


def test_fm_term_is_the_sum_over_pairs():
    torch.manual_seed(0)
    w = torch.randn(6, 9, 1 + 4, dtype=D64)
    z, sums = fm_forward(_cols(w))
    torch.testing.assert_close(z, _explicit_fm(w))
    torch.testing.assert_close(sums, w.sum(1).T)


def test_ffm_term_is_the_sum_over_pairs():
    torch.manual_seed(1)
    k, fields = 3, [0, 2, 5, 6]
    w = torch.randn(5, 7, 1 + len(fields) * k, dtype=D64)
    z, _ = ffm_forward(_cols(w), torch.tensor(fields), k)
    torch.testing.assert_close(z, _explicit_ffm(w, fields, k))
    w_all = torch.randn(5, 4, 1 + 4 * k, dtype=D64)  # every position a field
    torch.testing.assert_close(ffm_forward(_cols(w_all), None, k)[0], _explicit_ffm(w_all, [0, 1, 2, 3], k))


class _SummedLoss(torch.autograd.Function):
    """Summed log loss of a mini-batch as a function of its distinct table rows, with the
    hand-written backward of ``embed`` (per position, then summed by row)."""

    @staticmethod
    def forward(ctx, rows, inv, shape, y, inter):
        weights = RowLayout(inter.width, 0, 0).gather_positions(rows, inv, shape)
        z, state = inter.forward(weights)
        ctx.saved = (weights, state, torch.sigmoid(z) - y, inv, inter, rows.shape[0])
        return F.binary_cross_entropy_with_logits(z, y, reduction="sum")

    @staticmethod
    def backward(ctx, grad_out):
        weights, state, r, inv, inter, u = ctx.saved
        return grad_out * sum_by_row(inter.backward(weights, state, r), inv, u), None, None, None, None


def _batch(n, t, u, width, seed):
    g = torch.Generator().manual_seed(seed)
    rows = (0.5 * torch.randn(u, 1 + width, generator=g, dtype=D64)).requires_grad_()
    inv = torch.randint(0, u, (n * t,), generator=g)
    inv[: u] = torch.arange(u)  # every row used at least once; some several times (collisions)
    y = torch.randint(0, 2, (n,), generator=g).to(D64)
    return rows, inv, y


@pytest.mark.parametrize("kind", ["none", "fm", "ffm", "deep"])
def test_hand_written_gradients_of_the_rows(kind):
    n, t, k, u = 5, 4, 3, 9
    inter = make_interaction(kind, t, dim=k, fields=[0, 1, 3] if kind == "ffm" else None, hidden=(5, 4), dtype=D64)
    rows, inv, y = _batch(n, t, u, inter.width, seed=2)
    assert torch.autograd.gradcheck(lambda r: _SummedLoss.apply(r, inv, (n, t), y, inter), (rows,))


def test_deep_tower_gradients_match_autograd():
    tower = DeepTower(6, hidden=(5, 3), seed=4, dtype=D64)
    x = torch.randn(7, 6, dtype=D64)
    r = torch.randn(7, dtype=D64)
    o, saved = tower.forward(x)
    dx = tower.backward(saved, r)
    mine = [p.grad.clone() for p in tower.params]
    params = [p.detach().clone().requires_grad_() for p in tower.params]
    xa = x.clone().requires_grad_()
    h = xa
    for i in range(0, len(params), 2):
        h = h @ params[i].T + params[i + 1]
        if i < len(params) - 2:
            h = torch.relu(h)
    torch.testing.assert_close(h.view(-1), o)
    (h.view(-1) * r).sum().backward()
    torch.testing.assert_close(dx, xa.grad)
    for a, b in zip(mine, params):
        torch.testing.assert_close(a, b.grad)


def test_deep_tower_without_hidden_layers_and_its_step():
    tower = DeepTower(4, hidden=(), seed=0, dtype=D64)
    x, r = torch.randn(3, 4, dtype=D64), torch.randn(3, dtype=D64)
    o, saved = tower.forward(x)
    torch.testing.assert_close(o, x @ tower.weights[0][0] + tower.biases[0][0])
    torch.testing.assert_close(tower.backward(saved, r), r[:, None] * tower.weights[0])
    before = tower.weights[0].clone()
    tower.step()
    assert not torch.equal(before, tower.weights[0])
    saved = {k: v.clone() for k, v in tower.tensors().items()}  # parameters and Adam's state after one step
    assert set(saved) == {"W0", "b0", "opt.0.step", "opt.0.exp_avg", "opt.0.exp_avg_sq", "opt.1.step",
                          "opt.1.exp_avg", "opt.1.exp_avg_sq"}
    tower.step()
    once_more = [p.clone() for p in tower.params]
    tower.load_tensors(saved)
    torch.testing.assert_close(tower.weights[0], saved["W0"])
    tower.step()  # from the restored moments: the same bits as before
    assert all(torch.equal(a, b) for a, b in zip(tower.params, once_more))
    saved["opt.0.exp_avg"].zero_()
    assert not torch.equal(tower.opt.state[tower.weights[0]]["exp_avg"], saved["opt.0.exp_avg"])  # copied in


@pytest.mark.parametrize("kind", ["none", "fm", "ffm", "deep"])
def test_row_by_row_score_is_the_training_forward(kind):
    n, t, k = 7, 5, 3
    inter = make_interaction(kind, t, dim=k, fields=[0, 1, 4] if kind == "ffm" else None, hidden=(4,), dtype=D64)
    w = torch.randn(n, t, 1 + inter.width, dtype=D64)
    torch.testing.assert_close(inter.score(w.transpose(1, 2).contiguous()), inter.forward(_cols(w))[0])


def test_table_layout_init_and_optimiser_views():
    layout = RowLayout(width=4, linear_slots=2, vector_slots=1)  # FTRL (w, z, n) | Adagrad (v, n)
    assert layout.columns == 3 + 2 * 4 and layout.v0 == 3
    t1 = layout.new_table(50, init_scale=0.1, seed=7)
    assert t1.shape == (50, 11) and torch.equal(t1, layout.new_table(50, init_scale=0.1, seed=7))
    assert not torch.equal(t1, layout.new_table(50, init_scale=0.1, seed=8))
    assert torch.count_nonzero(t1[:, :3]) == 0 and torch.count_nonzero(t1[:, 7:]) == 0
    assert 0.07 < float(t1[:, 3:7].std()) < 0.13
    assert RowLayout(0, 2, 1).new_table(10).shape == (10, 3)  # D = 0: the linear learner's row
    block = t1[:6].clone()
    g = torch.randn(6, 5)
    lin, vec = layout.linear(block), layout.vectors(block)
    assert lin.shape == (6, 3) and vec.shape == (6, 2, 4)
    expect_v = block[:, 3:7] - 0.5 * g[:, 1:] / (g[:, 1:].abs() + 1e-8)
    FTRL(alpha=0.1).step_(lin, g[:, 0], 0.0, 0.0)
    Adagrad(0.5).step_(vec, g[:, 1:], 0.0, 0.0)
    torch.testing.assert_close(block[:, 3:7], expect_v)  # updated in place, through the views
    torch.testing.assert_close(block[:, 7:], g[:, 1:] ** 2)  # Adagrad's n
    torch.testing.assert_close(block[:, 2], g[:, 0] ** 2)  # FTRL's n
    torch.testing.assert_close(layout.weights(block), torch.cat([block[:, :1], block[:, 3:7]], 1).T)


def test_gather_positions_and_tokens_read_each_positions_row():
    layout = RowLayout(width=2, linear_slots=1, vector_slots=1)
    table = torch.arange(7 * layout.columns, dtype=D64).view(7, -1)
    idx = torch.tensor([[6, 1, 1], [0, 2, 6]])
    rows, inv = torch.tensor([6, 1, 0, 2]), torch.tensor([0, 1, 1, 2, 3, 0])
    by_plan = layout.gather_positions(table[rows], inv, (2, 3))
    direct = layout.gather_tokens(table, idx)
    assert by_plan.shape == (3, 2, 3)
    torch.testing.assert_close(by_plan, direct)
    for p, bucket in enumerate(idx.reshape(-1).tolist()):
        torch.testing.assert_close(direct[:, p // 3, p % 3], table[bucket, [0, 2, 3]])


def test_sum_by_row_adds_collisions():
    grad = _cols(torch.arange(12.0).view(2, 3, 2))  # positions 0..5 hold [2p, 2p + 1]
    inv = torch.tensor([0, 2, 2, 1, 0, 2])
    torch.testing.assert_close(sum_by_row(grad, inv, 3),
                               torch.tensor([[0 + 8.0, 1 + 9], [6, 7], [2 + 4 + 10.0, 3 + 5 + 11]]))


def test_bad_settings():
    assert INTERACTIONS == ("none", "fm", "ffm", "deep")
    with pytest.raises(ConfigError, match="interactions='fn' is not one of .* Did you mean 'fm'"):
        make_interaction("fn", 5)
    with pytest.raises(ConfigError, match="embedding_dim=0 must be an integer >= 1"):
        make_interaction("fm", 5, dim=0)
    with pytest.raises(ConfigError, match="ffm fields=\\[1, 1\\] must name at least 2 distinct token columns in \\[0, 5\\)"):
        make_interaction("ffm", 5, fields=[1, 1])
    with pytest.raises(ConfigError, match="ffm fields=\\[0, 7\\]"):
        make_interaction("ffm", 5, fields=[0, 7])
    with pytest.raises(ConfigError, match="dense optimizer='sgd' is not one of"):
        make_interaction("deep", 5, dense_optimizer="sgd")
    with pytest.raises(ConfigError, match="hidden sizes \\[0\\] are invalid"):
        make_interaction("deep", 5, hidden=[0])
