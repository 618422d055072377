"""The hashed learner over several ranks (``torch.distributed``): ``DistributedHashedLogisticRegression``.

Each rank learns from its own stream with its own optimiser, and every ``sync_every``
mini-batches (and at the end of each pass) the ranks all-reduce the *change* of their
state since the last synchronisation — the weight table (2^b weights and 2^b values per
optimiser slot) and the dense weights — and all restart from  θ_sync + Σ_r Δ_r.  Where
ranks touch different buckets (most of a sparse table) this is exactly the sequential
update; on shared coordinates (intercept, frequent tokens) it adds both ranks' steps,
and the optimisers' accumulators (FTRL's n, Adagrad's Σg²) are summed the same way, so
their per-coordinate rates shrink as if one process had seen both shards. (Plain
averaging, VW's allreduce mode, halves every bucket only one rank touched and loses most
of the benefit on sparse data.) FTRL's weights are not summed but derived from the
summed accumulators (w is a function of z and n). A dense exchange of the whole table
costs 2^b·(1 + slots) numbers (in the model's dtype) per synchronisation, so
``sync_every`` trades staleness for traffic. Ranks with fewer batches keep joining the
synchronisations (with no change) until every rank has finished the pass, so uneven
shards never deadlock. The progressive loss of a pass is summed over ranks.

The CTR path's ``torch.distributed`` calls (``logitkit._util.dist``) are here and nowhere
else; in one process every synchronisation is skipped and this is the plain learner.
"""
from __future__ import annotations

import numpy as np
import torch

from logitkit._util import dist
from logitkit._util.errors import ConfigError
from logitkit.predict.online.learner import HashedLogisticRegression
from logitkit.predict.online.optimizers import FTRL

_F64 = torch.float64


class DistributedHashedLogisticRegression(HashedLogisticRegression):
    """``HashedLogisticRegression`` whose ranks add up their state changes every
    ``sync_every`` mini-batches and at the end of each pass (see the module docstring).

    Extra attributes: ``n_syncs_`` (synchronisations done), ``comm_bytes_`` (payload bytes this
    rank all-reduced; a ring all-reduce moves ≈ 2·(W − 1)/W times that per rank).
    """

    def __init__(self, n_bits: int = 22, optimizer: str = "ftrl", learning_rate: float | None = None,
                 beta: float = 1.0, l1: float = 0.0, l2: float = 0.0, batch_size: int = 1024,
                 n_passes: int = 1, shuffle: bool = False, patience: int = 1, tol: float = 1e-4,
                 checkpoint_dir: str | None = None, checkpoint_every: int = 0, sketch_size: int = 100_000,
                 device: str = "cpu", dtype: str = "float32", random_state: int = 0, verbose: int = 0,
                 sync_every: int = 64) -> None:
        super().__init__(n_bits, optimizer, learning_rate, beta, l1, l2, batch_size, n_passes, shuffle,
                         patience, tol, checkpoint_dir, checkpoint_every, sketch_size, device, dtype,
                         random_state, verbose)
        self.sync_every = sync_every

    def _check_params(self) -> None:
        super()._check_params()
        if int(self.sync_every) < 1:
            raise ConfigError(f"sync_every={self.sync_every!r} must be an integer >= 1 (mini-batches between synchronisations)")

    def _init_state(self, n_dense: int) -> None:
        super()._init_state(n_dense)
        self._synced = None
        self._since_sync = 0
        self.n_syncs_ = 0
        self.comm_bytes_ = 0

    def _flat_state(self) -> tuple[list[str], list[torch.Size], torch.Tensor]:
        """What a checkpoint holds (``_tensors``: the table's weights and optimiser slots,
        intercept included, and the dense weights and slots) as one flat tensor."""
        state = self._tensors()
        keys = sorted(state)
        flat = torch.cat([state[k].reshape(-1).to(self._dtype) for k in keys])
        return keys, [state[k].shape for k in keys], flat

    def _learn(self, idx, y, dense) -> None:
        if self._synced is None:  # every rank starts from the same state (zeros or a checkpoint)
            self._synced = self._flat_state()[2].clone()
        super()._learn(idx, y, dense)
        self._since_sync += 1
        if self._since_sync >= int(self.sync_every):
            self._synchronise(include=True, running=True)

    def _synchronise(self, include: bool, running: bool) -> int:
        """One synchronisation; returns how many ranks are still in their pass.

        Every rank adds the change of its state since the last synchronisation, so all
        ranks restart from  θ_sync + Σ_r Δ_r  (``include=False``: this rank has no change).
        The traffic is in the model's own dtype.
        """
        self._since_sync = 0
        if not dist.is_distributed():
            return 0
        keys, shapes, now = self._flat_state()
        if self._synced is None:
            self._synced = now.clone()
        flags = torch.tensor([float(running)], dtype=now.dtype, device=now.device)
        total = dist.all_reduce_sum(torch.cat([flags, (now - self._synced) * float(include)]))
        parts = (self._synced + total[1:]).split([int(np.prod(sh)) for sh in shapes])
        state = {k: v.reshape(sh) for k, v, sh in zip(keys, parts, shapes)}
        self._load_tensors(self._ftrl_weights(state))
        self._synced = self._flat_state()[2].clone()
        self.n_syncs_ += 1
        self.comm_bytes_ += total.numel() * total.element_size()
        return int(round(float(total[0])))

    def _ftrl_weights(self, state: dict) -> dict:
        """FTRL's weights are a function of its accumulators, w = −(z − sign(z)·l1)⁺ /
        ((β + √n)/α + l2) (intercept: l1 = l2 = 0), not a running sum: once the ranks'
        changes of z and n are added up, the weights are derived from them (a coordinate
        one rank alone touched gets exactly that rank's weight; adding the ranks' weight
        changes instead double-counts every shared coordinate's step, which on dense
        CTR data ran the predictions far off). Other optimisers: w is their state; as is."""
        opt = self._opt
        if not isinstance(opt, FTRL):
            return state
        l1, l2 = float(self.l1), float(self.l2)

        def weights(z: torch.Tensor, n: torch.Tensor, pen: torch.Tensor | float) -> torch.Tensor:
            shrunk = (z.abs() - l1 * pen).clamp_min(0.0)
            return (torch.copysign(shrunk, -z) / ((n.sqrt() + opt.beta) / opt.alpha + l2 * pen)).add_(0.0)

        pen = torch.ones_like(state["w"])
        pen[-1] = 0.0  # the intercept (the table's last row) is not penalised
        state = dict(state)
        state["w"] = weights(state["slot.z"], state["slot.n"], pen)
        if state["dense_w"].numel():
            state["dense_w"] = weights(state["dense_slot.z"], state["dense_slot.n"], 1.0)
        return state

    def sync_pass(self) -> None:
        """Synchronise once more, then keep joining (with no change) until every rank is done."""
        if not dist.is_distributed():
            return
        running = self._synchronise(include=True, running=False)
        while running > 0:
            running = self._synchronise(include=False, running=False)

    def _end_pass(self, holdout, seconds: float) -> bool:
        self.sync_pass()
        loss = self._pass_loss.to(_F64).reshape(())
        tot = dist.all_reduce_sum(torch.stack([loss, torch.tensor(float(self._pass_rows), dtype=_F64, device=loss.device)]))
        self._pass_loss.fill_(float(tot[0]))
        self._pass_rows = int(round(float(tot[1])))
        return super()._end_pass(holdout, seconds)
