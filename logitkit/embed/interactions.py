"""The interaction part of a hashed CTR model, one object per kind, one interface.

``make_interaction(kind, n_tokens, ...)`` gives, for ``kind`` in ``INTERACTIONS``:

* ``"none"``: the linear model, z = Σ_t w_t (width 0);
* ``"fm"``: + Σ_{s<t} ⟨v_s, v_t⟩ (``embed.fm``; width k);
* ``"ffm"``: + Σ_{a<b} ⟨e_{a,b}, e_{b,a}⟩ over a few fields (``embed.ffm``; width F·k);
* ``"deep"``: DeepFM, the FM + an MLP over [v_1, …, v_T] (``embed.deep``; width k).

A learner that holds the token table (``embed.token_table``) calls, per mini-batch of n
rows × T tokens with row plan (rows, inv):

    weights = gather_positions(block, inv, (n, T))     # (1 + width, n, T): [w, v] per position
    z, ctx = inter.forward(weights)                    # (n,): the tokens' part of the logit
    r = sigmoid(z + bias + dense part) − y             # (n,): ∂(summed log loss)/∂z
    grad = inter.backward(weights, ctx, r)             # (1 + width, n, T) per position
    g_rows = sum_by_row(grad, inv, u)                  # (u, 1 + width) per touched row
    inter.step_dense()                                 # the MLP's optimiser step (deep only)

and then updates the block's linear column and interaction columns with its
per-coordinate optimisers (``RowLayout.linear`` / ``vectors``). No autograd: every
gradient is hand-written. ``tensors`` / ``load_tensors`` carry the dense parameters
(the MLP and its optimiser state) for checkpoints; the table carries the rest.

Scoring without learning is ``inter.score(x)`` with x = (n, 1 + width, T), the
weights row by row (contiguous): the same value as ``forward``'s, but every reduction
runs along the last, contiguous axis of a row's own numbers, so that a row's score has
the same bits whatever rows are scored with it (row-stable; with
``_util.rowstable.row_stable`` for the MLP's products). ``forward``'s column-major
layout is the faster one for training, where that does not matter.
"""
from __future__ import annotations

from typing import Sequence

import torch

from logitkit._util.errors import ConfigError, did_you_mean
from logitkit.embed.deep import DeepTower
from logitkit.embed.ffm import ffm_backward, ffm_forward
from logitkit.embed.fm import fm_backward, fm_forward

INTERACTIONS = ("none", "fm", "ffm", "deep")


class Interaction:
    """The linear model (kind "none"): no interaction columns."""

    kind = "none"
    width = 0

    def forward(self, weights: torch.Tensor) -> tuple[torch.Tensor, object]:
        return weights[0].sum(1), None

    def backward(self, weights: torch.Tensor, ctx, r: torch.Tensor) -> torch.Tensor:
        return r.view(1, -1, 1).expand(weights.shape).contiguous()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """(n, 1 + width, T) weights row by row, contiguous -> the tokens' part of the logits (n,)."""
        return x[:, 0, :].sum(1)

    def step_dense(self) -> None:
        """The dense parameters' optimiser step (none here)."""

    def tensors(self) -> dict[str, torch.Tensor]:
        """The dense parameters and their optimiser state by name (none here)."""
        return {}

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        pass


class FM(Interaction):
    kind = "fm"

    def __init__(self, dim: int) -> None:
        self.dim = self.width = int(dim)

    def forward(self, weights):
        return fm_forward(weights)

    def backward(self, weights, ctx, r):
        return fm_backward(weights, ctx, r)

    def score(self, x):
        sums = x.sum(2)  # (n, 1 + k): Σ_t w_t, S
        squares = x[:, 1:].square().sum(2).sum(1)
        return sums[:, 0] + 0.5 * (sums[:, 1:].square().sum(1) - squares)


class FFM(Interaction):
    kind = "ffm"

    def __init__(self, dim: int, fields: Sequence[int], n_tokens: int, device) -> None:
        self.dim = int(dim)
        self.fields = list(fields)
        self.width = len(self.fields) * self.dim
        everything = self.fields == list(range(int(n_tokens)))
        self._index = None if everything else torch.tensor(self.fields, dtype=torch.long, device=device)
        f = len(self.fields)
        self._pairs = torch.tensor([a * f + b for a in range(f) for b in range(a + 1, f)], device=device)

    def forward(self, weights):
        return ffm_forward(weights, self._index, self.dim)

    def backward(self, weights, ctx, r):
        return ffm_backward(weights, ctx, self._index, r)

    def score(self, x):
        n, f, k = x.shape[0], len(self.fields), self.dim
        cols = x[:, 1:] if self._index is None else x[:, 1:].index_select(2, self._index)
        e = cols.reshape(n, f, k, f).permute(0, 3, 1, 2).contiguous()  # [i, a, b, c]: coordinate c of e_{a,b}
        pair = (e * e.transpose(1, 2)).contiguous().sum(3)  # [i, a, b] = ⟨e_{a,b}, e_{b,a}⟩
        return x[:, 0].sum(1) + pair.reshape(n, f * f).index_select(1, self._pairs).sum(1)


class DeepFM(FM):
    kind = "deep"

    def __init__(self, dim: int, n_tokens: int, tower: DeepTower) -> None:
        super().__init__(dim)
        self.n_tokens, self.tower = int(n_tokens), tower

    def forward(self, weights):
        z, sums = fm_forward(weights)
        k, n, t = weights.shape[0] - 1, weights.shape[1], weights.shape[2]
        x = weights[1:].permute(1, 2, 0).reshape(n, t * k)  # [v_1, …, v_T] per row
        o, saved = self.tower.forward(x)
        return z + o, (sums, saved)

    def backward(self, weights, ctx, r):
        sums, saved = ctx
        grad = fm_backward(weights, sums, r)
        k, n, t = weights.shape[0] - 1, weights.shape[1], weights.shape[2]
        dx = self.tower.backward(saved, r)
        grad[1:] += dx.view(n, t, k).permute(2, 0, 1)
        return grad

    def score(self, x):
        n, k, t = x.shape[0], self.dim, x.shape[2]
        return super().score(x) + self.tower.forward(x[:, 1:].transpose(1, 2).reshape(n, t * k))[0]

    def step_dense(self):
        self.tower.step()

    def tensors(self):
        return {f"tower.{name}": v for name, v in self.tower.tensors().items()}

    def load_tensors(self, tensors):
        self.tower.load_tensors({name[6:]: v for name, v in tensors.items() if name.startswith("tower.")})


def make_interaction(kind: str, n_tokens: int, dim: int = 8, fields: Sequence[int] | None = None,
                     hidden: Sequence[int] = (64, 32), dense_optimizer: str = "adam",
                     dense_learning_rate: float = 1e-3, seed: int = 0, device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float32) -> Interaction:
    """The interaction part called ``kind`` for rows of ``n_tokens`` positions.

    ``dim``: k, the length of a token's vector; ``fields``: the positions of an FFM (None:
    all, which is fine for a handful of fields: a row holds F·k floats); ``hidden``,
    ``dense_optimizer`` ("adam" or "adagrad"), ``dense_learning_rate``, ``seed``: the MLP of "deep".
    """
    if kind not in INTERACTIONS:
        raise ConfigError(f"interactions={kind!r} is not one of {list(INTERACTIONS)}.{did_you_mean(str(kind), INTERACTIONS)}")
    if kind == "none":
        return Interaction()
    if not (isinstance(dim, int) and not isinstance(dim, bool) and dim >= 1):
        raise ConfigError(f"embedding_dim={dim!r} must be an integer >= 1 (4 to 16 is usual)")
    if kind == "fm":
        return FM(dim)
    if kind == "ffm":
        chosen = list(range(int(n_tokens))) if fields is None else [int(f) for f in fields]
        if len(chosen) < 2 or len(set(chosen)) != len(chosen) or not all(0 <= f < n_tokens for f in chosen):
            raise ConfigError(
                f"ffm fields={fields!r} must name at least 2 distinct token columns in [0, {n_tokens}); "
                "an FFM row holds one vector per field, so keep them few"
            )
        return FFM(dim, chosen, n_tokens, device)
    tower = DeepTower(int(n_tokens) * dim, hidden, dense_optimizer, dense_learning_rate, seed, device, dtype)
    return DeepFM(dim, n_tokens, tower)
