"""The hashed model's state: one interleaved table of weights and optimiser slots.

    table (2^b + 1, 1 + slots)   row i: bucket i's weight, then its optimiser slots
                                 (FTRL: z_i, n_i); row 2^b: the intercept
    dense (d, 1 + slots)         the same for the d dense features

Interleaved, an update reads and writes each touched row once (one ``index_select``, one
``index_copy_``) instead of once per slot. The intercept is one more table row, so it
is updated with the touched rows (it is never penalised: ``row_penalties``).

The model is

    logit_r = Σ_t w[idx_rt] + Σ_j v_j·x_rj + b

looked up as an ``EmbeddingBag`` (mode "sum") over whole interleaved rows, column 0
kept (``logits``: as fast as a contiguous weight column).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from logitkit._util.errors import DataError


def _tensor(a, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
    return t.to(device=device, dtype=dtype) if dtype is not None else t.to(device)


class HashedTable:
    """The interleaved ``table`` and ``dense`` blocks (see the module docstring) with their views:
    ``w`` (every row's weight, the intercept last), ``slots`` ({name: column}),
    ``token_w`` / ``token_slots`` (the 2^b bucket rows), ``dense_w`` / ``dense_slots``."""

    def __init__(self, table: torch.Tensor, dense: torch.Tensor, slot_names: tuple[str, ...]) -> None:
        self.table, self.dense, self.slot_names = table, dense, tuple(slot_names)
        m = table.shape[0] - 1
        self.w = table[:, 0]
        self.slots = {k: table[:, j + 1] for j, k in enumerate(self.slot_names)}
        self.token_w = self.w[:m]
        self.token_slots = {k: v[:m] for k, v in self.slots.items()}
        self.dense_w = dense[:, 0]
        self.dense_slots = {k: dense[:, j + 1] for j, k in enumerate(self.slot_names)}

    @classmethod
    def zeros(cls, n_buckets: int, n_dense: int, slot_names: tuple[str, ...], device, dtype) -> "HashedTable":
        width = 1 + len(slot_names)
        return cls(torch.zeros(n_buckets + 1, width, device=device, dtype=dtype),
                   torch.zeros(n_dense, width, device=device, dtype=dtype), slot_names)

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor], slot_names: tuple[str, ...], device, dtype) -> "HashedTable":
        """The table of ``tensors()`` (a checkpoint's names), on ``device`` in ``dtype``."""
        table = torch.stack([t["w"], *(t[f"slot.{k}"] for k in slot_names)], 1)
        dense = torch.stack([t["dense_w"], *(t[f"dense_slot.{k}"] for k in slot_names)], 1)
        return cls(table.to(device, dtype), dense.to(device, dtype), slot_names)

    @property
    def n_buckets(self) -> int:
        return self.table.shape[0] - 1

    def tensors(self) -> dict[str, torch.Tensor]:
        """Views by name: ``w`` (the 2^b token rows, then the intercept), ``slot.<k>``,
        ``dense_w``, ``dense_slot.<k>``."""
        t = {"w": self.w, "dense_w": self.dense_w}
        t.update({f"slot.{k}": v for k, v in self.slots.items()})
        t.update({f"dense_slot.{k}": v for k, v in self.dense_slots.items()})
        return t

    def logits(self, idx: torch.Tensor, dense: torch.Tensor | None) -> torch.Tensor:
        """(n, T) indices, (n, d) dense -> (n,) logits."""
        out = F.embedding_bag(idx, self.table[:-1], mode="sum")[:, 0]
        out = out + self.w[-1]
        if dense is not None and dense.shape[1]:
            out = out + dense @ self.dense_w
        return out

    def mean_log_loss(self, batches, n_bits: int, n_dense: int) -> float:
        """Mean log loss of the logits over a stream of (idx, y[, dense, ...]) batches,
        summed in float64 (a holdout's: the log loss of ``evaluate.evaluate_stream``)."""
        loss, n = 0.0, 0
        with torch.no_grad():
            for batch in batches:
                idx_t, y_t, dense_t = self.check_batch(batch[0], batch[1], batch[2] if len(batch) > 2 else None,
                                                       n_bits, n_dense)
                loss += float(F.binary_cross_entropy_with_logits(self.logits(idx_t, dense_t), y_t,
                                                                 reduction="sum").double())
                n += y_t.shape[0]
        if n == 0:
            raise DataError("the holdout stream yielded no rows; check the holdout file")
        return loss / n

    def check_batch(self, idx, y, dense, n_bits: int, n_dense: int):
        """(idx, y, dense) as tensors on the table's device: int indices inside the table
        (int32 kept as it is, the cache's: no copy), 0/1 labels in the table's dtype
        (``y`` may be None), finite dense features of the width ``n_dense`` seen first."""
        dev, dtype = self.table.device, self.table.dtype
        idx_t = _tensor(idx, dev)
        if idx_t.ndim != 2 or idx_t.dtype not in (torch.int32, torch.int64):
            raise DataError(
                f"idx must be a 2-D integer array (rows, tokens) of bucket indices; got shape "
                f"{tuple(idx_t.shape)} and dtype {idx_t.dtype}"
            )
        n = idx_t.shape[0]
        if n and idx_t.numel():
            lo, hi = torch.aminmax(idx_t)
            if int(lo) < 0 or int(hi) >= self.n_buckets:
                bad = int(lo) if int(lo) < 0 else int(hi)
                raise DataError(
                    f"idx holds bucket {bad}, outside [0, 2^{n_bits}); hash with n_bits="
                    f"{n_bits} or set the model's n_bits to the hasher's"
                )
        if idx_t.dtype != torch.int32:
            idx_t = idx_t.long()
        dense_t = _check_dense(dense, n, n_dense, dev, dtype)
        return idx_t, (None if y is None else check_labels(y, n, dev, dtype)), dense_t


def _check_dense(dense, n: int, n_dense: int, dev, dtype) -> torch.Tensor | None:
    if dense is None:
        if n_dense:
            raise DataError(f"the model was trained with {n_dense} dense features; pass dense=(n, {n_dense})")
        return None
    dense_t = _tensor(dense, dev, dtype)
    if dense_t.ndim != 2 or dense_t.shape != (n, n_dense):
        raise DataError(
            f"dense has shape {tuple(dense_t.shape)}; expected ({n}, {n_dense}): one row per "
            "row of idx and the same dense columns as the first batch"
        )
    if not bool(torch.isfinite(dense_t).all()):
        raise DataError("dense holds NaN or infinite values; impute them before training")
    return dense_t


def check_labels(y, n: int, device, dtype) -> torch.Tensor:
    """(n,) labels in {0, 1} as a tensor of ``dtype`` on ``device``; a clear error otherwise."""
    y_t = _tensor(y, device, dtype).reshape(-1)
    if y_t.shape[0] != n:
        raise DataError(f"y has {y_t.shape[0]} labels for {n} rows of idx")
    if not bool(((y_t == 0) | (y_t == 1)).all()):
        bad = y_t[(y_t != 0) & (y_t != 1)][0].item()
        raise DataError(f"labels must be 0 or 1; found {bad:g}. Map -1/+1 (VW) labels to 0/1 first")
    return y_t


def row_penalties(cache: dict, u: int, l1: float, l2: float, device, dtype):
    """l1, l2 for ``u`` touched rows whose first is the intercept (slot 0 of a row plan):
    views of vectors (kept in ``cache``) that start with 0; floats 0 without penalty."""
    if l1 == 0 and l2 == 0:
        return 0.0, 0.0
    if cache.get("n", 0) < u or cache.get("for") != (l1, l2):
        pen = torch.ones(2 * u, device=device, dtype=dtype)
        pen[0] = 0.0
        cache.update({"l1": l1 * pen, "l2": l2 * pen, "for": (l1, l2), "n": 2 * u})
    return cache["l1"][:u], cache["l2"][:u]
