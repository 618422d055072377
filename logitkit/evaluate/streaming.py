"""Streaming metric accumulators for binary predictions over data larger than memory.

Each accumulator keeps a small state of *sums*, so that

* ``update(y_true, p)`` adds one batch (``p`` = probability of the positive class, or
  logits with ``logits=True``; ``sample_weight`` optional);
* ``merge(other)`` combines shards (files, workers, ranks) — the states just add;
* ``state()`` returns the sums as one float64 tensor and ``from_state(t)`` rebuilds the
  accumulator, so a distributed runner can ``torch.distributed.all_reduce(t)`` (SUM)
  and read the global metric on every rank;
* ``result()`` returns the metric as a float.

``AUC`` is a histogram approximation: scores are binned into ``n_bins`` equal-width
bins of the logit, z in [−``limit``, ``limit``] (scores beyond fall in the end bins).
Pairs in different bins are ranked exactly; every positive–negative pair that shares a
bin is counted as a tie (½). So the error against the exact AUC is at most

    bound = ½ · Σ_b pos_b · neg_b / (P · N)

which ``error_bound()`` returns from the state (it is 0 when no bin holds both
classes). With the default 2¹⁶ bins over [−16, 16] (bin width 4.9e-4 in logit, i.e. a
relative width of at most 1.2e-4 in p) the bound on real data is typically below 1e-4.

``evaluate_stream(model, batches, accumulators)`` scores a stream of hashed batches
with the model's public ``logits`` and feeds the accumulators; ``reduce_metrics(acc)``
sums an accumulator over the ranks of a job (``_util.collective``).
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from logitkit._util.rowstable import row_stable
from logitkit._util.collective import Collective, current
from logitkit._util.errors import ConfigError, DataError

_F64 = torch.float64
_EPS = 2.220446049250313e-16


def _batch(y_true, p, sample_weight, logits: bool, device: torch.device):
    """(y, w, z or p) as float64 tensors on ``device``."""
    y = torch.as_tensor(y_true).detach().to(device=device, dtype=_F64).reshape(-1)
    s = torch.as_tensor(p).detach().to(device=device, dtype=_F64).reshape(-1)
    if y.shape != s.shape:
        raise DataError(f"y_true has {y.shape[0]} rows but p has {s.shape[0]}; pass one score per label")
    if bool(((y != 0) & (y != 1)).any()):
        raise DataError("streaming metrics take binary labels y_true in {0, 1}")
    if not logits and bool(((s < 0) | (s > 1)).any()):
        raise DataError("p has values outside [0, 1]; pass probabilities, or logits with logits=True")
    if sample_weight is None:
        w = torch.ones_like(y)
    else:
        w = torch.as_tensor(sample_weight).detach().to(device=device, dtype=_F64).reshape(-1)
        if w.shape != y.shape:
            raise DataError(f"sample_weight has {w.shape[0]} values but y_true has {y.shape[0]}")
    return y, w, s


def _nll(y: torch.Tensor, s: torch.Tensor, logits: bool) -> torch.Tensor:
    """Per-row −log p(y): softplus(z) − y·z from logits, else from clipped probabilities."""
    if logits:
        return F.softplus(s) - y * s
    p = s.clamp(_EPS, 1 - _EPS)
    return -(y * torch.log(p) + (1 - y) * torch.log1p(-p))


def _prob(s: torch.Tensor, logits: bool) -> torch.Tensor:
    return torch.sigmoid(s) if logits else s


class Accumulator:
    """Base class: ``_state`` is a 1-D float64 tensor of sums."""

    size = 0

    def __init__(self, device: str | torch.device = "cpu"):
        self._state = torch.zeros(self.size, dtype=_F64, device=device)

    @property
    def device(self) -> torch.device:
        return self._state.device

    def update(self, y_true, p, sample_weight=None, *, logits: bool = False) -> "Accumulator":
        y, w, s = _batch(y_true, p, sample_weight, logits, self.device)
        self._state += self._sums(y, w, s, logits)
        return self

    def _sums(self, y, w, s, logits) -> torch.Tensor:
        raise NotImplementedError

    def _config(self) -> dict:
        return {}

    def merge(self, other: "Accumulator") -> "Accumulator":
        """Add ``other``'s sums into this one (same kind and settings); returns self."""
        if type(other) is not type(self) or other._config() != self._config():
            raise ConfigError(
                f"cannot merge {type(other).__name__}{other._config()} into "
                f"{type(self).__name__}{self._config()}; merge accumulators of the same kind and settings"
            )
        self._state += other._state.to(self.device)
        return self

    def state(self) -> torch.Tensor:
        """The sums as one float64 tensor (a copy), e.g. to all-reduce with SUM."""
        return self._state.clone()

    @classmethod
    def from_state(cls, state: torch.Tensor, **config) -> "Accumulator":
        """Rebuild from ``state()`` (possibly summed over ranks); ``config`` as in ``__init__``."""
        acc = cls(device=state.device, **config)
        if state.shape != acc._state.shape:
            raise DataError(f"{cls.__name__} state must have shape {tuple(acc._state.shape)}, got {tuple(state.shape)}")
        acc._state = state.detach().to(_F64).clone()
        return acc

    def _weight(self, k: int = -1) -> float:
        w = float(self._state[k])
        if w <= 0:
            raise DataError(f"{type(self).__name__} has seen no rows; call update() with data first")
        return w

    def result(self) -> float:
        raise NotImplementedError


class LogLoss(Accumulator):
    """mean −log p(y). State: [Σ w·nll, Σ w]."""

    size = 2

    def _sums(self, y, w, s, logits):
        return torch.stack([(w * _nll(y, s, logits)).sum(), w.sum()])

    def result(self) -> float:
        return float(self._state[0]) / self._weight()


class NormalizedEntropy(Accumulator):
    """Log loss / entropy of the base rate ȳ. State: [Σ w·nll, Σ w·y, Σ w]."""

    size = 3

    def _sums(self, y, w, s, logits):
        return torch.stack([(w * _nll(y, s, logits)).sum(), (w * y).sum(), w.sum()])

    def result(self) -> float:
        W = self._weight()
        rate = float(self._state[1]) / W
        if not 0 < rate < 1:
            raise DataError("normalized entropy needs both classes among the rows seen (the base-rate entropy is 0)")
        h = -(rate * math.log(rate) + (1 - rate) * math.log1p(-rate))
        return float(self._state[0]) / W / h


class CalibrationRatio(Accumulator):
    """Observed / predicted positive rate, Σ w·y / Σ w·p. State: [Σ w·y, Σ w·p]."""

    size = 2

    def _sums(self, y, w, s, logits):
        return torch.stack([(w * y).sum(), (w * _prob(s, logits)).sum()])

    def result(self) -> float:
        return float(self._state[0]) / self._weight()


class AUC(Accumulator):
    """ROC-AUC from per-bin weights of positives and negatives (see the module docstring).

    State: [pos_0 … pos_{B−1}, neg_0 … neg_{B−1}] with B = ``n_bins``.
    """

    def __init__(self, n_bins: int = 65536, limit: float = 16.0, device: str | torch.device = "cpu"):
        if not isinstance(n_bins, int) or n_bins < 2:
            raise ConfigError(f"AUC: n_bins={n_bins!r} is invalid; expected an integer >= 2")
        if not limit > 0:
            raise ConfigError(f"AUC: limit={limit!r} is invalid; expected a number > 0")
        self.n_bins, self.limit = n_bins, float(limit)
        self.size = 2 * n_bins
        super().__init__(device)

    def _config(self) -> dict:
        return {"n_bins": self.n_bins, "limit": self.limit}

    def _sums(self, y, w, s, logits):
        z = s if logits else torch.logit(s.clamp(_EPS, 1 - _EPS))
        b = ((z + self.limit) / (2 * self.limit) * self.n_bins).floor().clamp(0, self.n_bins - 1).long()
        b = b + self.n_bins * (1 - y).long()  # negatives in the second half
        return torch.bincount(b, weights=w, minlength=self.size)

    def _hist(self):
        return self._state[: self.n_bins], self._state[self.n_bins :]

    def result(self) -> float:
        pos, neg = self._hist()
        P, N = float(pos.sum()), float(neg.sum())
        if P <= 0 or N <= 0:
            raise DataError("only one class among the rows seen; AUC is not defined then")
        neg_below = torch.cumsum(neg, 0) - neg  # negatives in strictly lower bins
        return float((pos * (neg_below + 0.5 * neg)).sum()) / (P * N)

    def error_bound(self) -> float:
        """Largest possible |histogram AUC − exact AUC| for the rows seen."""
        pos, neg = self._hist()
        return 0.5 * float((pos * neg).sum()) / (float(pos.sum()) * float(neg.sum()))

    def roc_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(fpr, tpr), float64, from (0, 0) to (1, 1): the ROC curve with a threshold at
        every occupied bin's lower edge, highest first (``sklearn.metrics.roc_curve``'s
        points, to within a bin)."""
        pos, neg = (h.flip(0).cpu().double().numpy() for h in self._hist())
        keep = (pos + neg) > 0
        tp, fp = np.cumsum(pos[keep]), np.cumsum(neg[keep])
        if not (tp.size and tp[-1] > 0 and fp[-1] > 0):
            raise DataError("only one class among the rows seen; the ROC curve is not defined then")
        return np.concatenate([[0.0], fp / fp[-1]]), np.concatenate([[0.0], tp / tp[-1]])

    def calibration_curve(self, n_bins: int = 10, strategy: str = "quantile") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(observed rate, mean predicted probability, weight) per probability bin, as
        ``sklearn.calibration.calibration_curve`` with ``n_bins`` and ``strategy``
        ("uniform": equal widths of p; "quantile": about equal weight in each), empty
        bins left out. A histogram bin's rows count at the probability of its centre
        (the bins are 2·limit / n_bins wide in logit)."""
        if strategy not in ("uniform", "quantile"):
            raise ConfigError(f"calibration_curve: strategy={strategy!r} is invalid; expected 'uniform' or 'quantile'")
        pos, neg = (h.cpu().double().numpy() for h in self._hist())
        w = pos + neg
        if w.sum() <= 0:
            raise DataError("AUC has seen no rows; call update() with data first")
        z = -self.limit + (np.arange(self.n_bins) + 0.5) * (2 * self.limit / self.n_bins)
        p = 1.0 / (1.0 + np.exp(-z))
        if strategy == "uniform":
            group = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
        else:  # by the cumulative weight below each histogram bin's middle
            group = np.minimum(((np.cumsum(w) - w / 2) / w.sum() * n_bins).astype(np.int64), n_bins - 1)
        weight = np.bincount(group, w, n_bins)
        full = weight > 0
        observed = np.bincount(group, pos, n_bins)[full] / weight[full]
        predicted = np.bincount(group, w * p, n_bins)[full] / weight[full]
        return observed, predicted, weight[full]


_KINDS = {"log_loss": LogLoss, "ne": NormalizedEntropy, "calibration_ratio": CalibrationRatio, "auc": AUC}


class StreamingMetrics:
    """The CTR bundle: log loss, normalized entropy, calibration ratio and AUC in one pass.

    ``update`` feeds every accumulator; ``state()`` concatenates their states in the
    order of ``names`` so one all-reduce covers them all.
    """

    def __init__(self, names: tuple[str, ...] = ("log_loss", "ne", "calibration_ratio", "auc"),
                 auc_bins: int = 65536, device: str | torch.device = "cpu"):
        unknown = [n for n in names if n not in _KINDS]
        if unknown:
            raise ConfigError(f"unknown streaming metric(s) {unknown}; choose from {list(_KINDS)}")
        self.names, self.auc_bins = tuple(names), auc_bins
        self.accumulators = {n: (AUC(auc_bins, device=device) if n == "auc" else _KINDS[n](device=device)) for n in names}

    def update(self, y_true, p, sample_weight=None, *, logits: bool = False) -> "StreamingMetrics":
        device = next(iter(self.accumulators.values())).device
        y, w, s = _batch(y_true, p, sample_weight, logits, device)  # checked and moved once
        for acc in self.accumulators.values():
            acc._state += acc._sums(y, w, s, logits)
        return self

    def merge(self, other: "StreamingMetrics") -> "StreamingMetrics":
        if other.names != self.names:
            raise ConfigError(f"cannot merge StreamingMetrics{other.names} into StreamingMetrics{self.names}")
        for n in self.names:
            self.accumulators[n].merge(other.accumulators[n])
        return self

    def state(self) -> torch.Tensor:
        return torch.cat([self.accumulators[n].state() for n in self.names])

    @classmethod
    def from_state(cls, state: torch.Tensor, names=("log_loss", "ne", "calibration_ratio", "auc"),
                   auc_bins: int = 65536) -> "StreamingMetrics":
        out = cls(names, auc_bins, device=state.device)
        if state.shape[0] != sum(a.size for a in out.accumulators.values()):
            raise DataError(f"StreamingMetrics state has {state.shape[0]} entries; expected "
                            f"{sum(a.size for a in out.accumulators.values())} for names={names}, auc_bins={auc_bins}")
        at = 0
        for n in out.names:
            acc = out.accumulators[n]
            acc._state = state[at : at + acc.size].detach().to(_F64).clone()
            at += acc.size
        return out

    def result(self) -> dict[str, float]:
        return {n: acc.result() for n, acc in self.accumulators.items()}


# ---------------------------------------------------------------- whole streams and ranks
def evaluate_stream(model, batches: Iterable, accumulators: Iterable = ()) -> dict[str, float]:
    """Score a stream with ``model.logits(idx, dense)`` (a hashed model's public scores)
    without learning; memory is one batch.

    ``batches`` yields (idx, y[, dense, ...]) as a ``loaddata.CTRStream`` does. Returns
    {"log_loss", "n_rows", "mean_p", "mean_y"} computed here (the log loss in the
    model's dtype, summed in float64), and hands each batch's (y, p) (NumPy float64,
    shape (n,)) to every ``accumulator.update(y, p)`` (e.g. ``StreamingMetrics``).
    """
    accs = list(accumulators)
    loss, n, sp, sy = 0.0, 0, 0.0, 0.0
    for batch in batches:
        with row_stable():  # a row's bits whatever the batch: the same as `logitkit predict` and serve
            z = model.logits(batch[0], batch[2] if len(batch) > 2 else None)
            p = torch.sigmoid(z.double())
        y = torch.as_tensor(np.asarray(batch[1])).to(device=z.device, dtype=z.dtype).reshape(-1)
        if y.shape != z.shape:
            raise DataError(f"a batch has {y.shape[0]} labels for {z.shape[0]} rows of idx")
        if not bool(((y == 0) | (y == 1)).all()):
            raise DataError("evaluate_stream takes labels 0 or 1; map -1/+1 (VW) labels to 0/1 first")
        loss += float(F.binary_cross_entropy_with_logits(z, y, reduction="sum").double())
        n += y.shape[0]
        sp += float(p.sum())
        sy += float(y.sum())
        if accs:
            yn, pn = y.double().cpu().numpy(), p.cpu().numpy()
            for acc in accs:
                acc.update(yn, pn)
    if n == 0:
        raise DataError("the evaluation stream yielded no rows; check the test file")
    return {"log_loss": loss / n, "n_rows": n, "mean_p": sp / n, "mean_y": sy / n}


def reduce_metrics(acc, coll: Collective | None = None):
    """A streaming accumulator (or ``StreamingMetrics``) summed over the ranks of ``coll``
    (default ``collective.current()``): a new object whose ``result()`` is the metric
    over every shard's rows (in one process, a copy of ``acc``)."""
    state = (coll or current()).sum(acc.state())
    if isinstance(acc, StreamingMetrics):
        return StreamingMetrics.from_state(state, acc.names, acc.auc_bins)
    return type(acc).from_state(state, **acc._config())
