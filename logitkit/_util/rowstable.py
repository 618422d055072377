"""Row-stable scoring: every row's result independent of the rows scored with it.

A model's probabilities for a row should not depend on which other rows are in the
batch, so that a row scored alone (a served request), in a micro-batch of other
requests, or in a file of a million rows gets the same bits. PyTorch on the CPU does
not promise that:

- matrix products (``@``, ``mm``, ``mv``, ``linear``, ``cdist``) go to BLAS, whose
  kernels block the rows, so a row's dot products are summed in an order that depends
  on the number of rows and the row's position (measured: about half of the slices of
  a 5,000-row product differ from the whole product in the last bit);
- composite pointwise kernels (``sigmoid``, ``silu``, ``gelu``, ``softplus``) compute
  the body of a contiguous array with SIMD and its last few elements with a scalar
  formula, which rounds differently.

``row_stable()`` is a ``torch.overrides.TorchFunctionMode`` that replaces those
functions, for CPU tensors, by versions whose result for a row depends on that row
only: a product is an elementwise multiply and a sum along each row (NumPy's
single-threaded pairwise sum, the same order for every row of the same length); a
composite pointwise function runs through torch's scalar loop for every element (a
strided input). Everything else (``exp``, ``cos``, ``tanh``, arithmetic, softmax over
a row, ``embedding_bag``, reductions along a row) is already row-stable and passes
through. The model's own code runs unchanged inside it::

    with row_stable():
        proba = model.predict_proba(X)

The results differ from the plain ones by rounding (last bits), not in value.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

#: elements of one block of the row-wise product (bounds its scratch memory)
_BLOCK = 1 << 16


def _cpu_float(*ts) -> bool:
    return all(isinstance(t, torch.Tensor) and t.device.type == "cpu" and t.is_floating_point()
               and t.layout == torch.strided for t in ts)


def rowwise_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` for a (n, d) and b (d, k) or (d,), each output summed along its row alone."""
    vec = b.ndim == 1
    dtype = torch.promote_types(a.dtype, b.dtype)
    bt = np.ascontiguousarray((b[None, :] if vec else b.T).detach().to(dtype).numpy())  # (k, d)
    an = a.detach().to(dtype).numpy()
    n, (k, d) = an.shape[0], bt.shape
    out = np.empty((n, k), dtype=bt.dtype)
    step = max(1, _BLOCK // max(1, k * d))
    for i in range(0, n, step):
        prod = an[i : i + step, None, :] * bt[None, :, :]
        np.add.reduce(prod, axis=-1, out=out[i : i + step])
    res = torch.from_numpy(out)
    return res[:, 0] if vec else res


def _matmul(a, b, *, out=None):
    if out is not None or not _cpu_float(a, b) or a.ndim != 2 or b.ndim not in (1, 2):
        return NotImplemented
    return rowwise_matmul(a, b)


def _rmatmul(b, a):
    return _matmul(a, b) if isinstance(a, torch.Tensor) else NotImplemented


def _linear(x, weight, bias=None):
    if not _cpu_float(x, weight) or x.ndim != 2:
        return NotImplemented
    z = rowwise_matmul(x, weight.T) if weight.ndim == 2 else rowwise_matmul(x, weight)
    return z if bias is None else z + bias


def _addmm(inp, m1, m2, *, beta=1, alpha=1, out=None):
    if out is not None or not _cpu_float(inp, m1, m2) or m1.ndim != 2:
        return NotImplemented
    z = rowwise_matmul(m1, m2)
    z = z if alpha == 1 else alpha * z
    return inp + z if beta == 1 else beta * inp + z


def _cdist(x1, x2, p=2.0, compute_mode=None):
    if not _cpu_float(x1, x2) or x1.ndim != 2 or x2.ndim != 2 or p != 2:
        return NotImplemented
    a, c = x1.detach().numpy(), x2.detach().numpy()
    out = np.empty((a.shape[0], c.shape[0]), dtype=np.result_type(a, c))
    step = max(1, _BLOCK // max(1, c.size))
    for i in range(0, a.shape[0], step):
        diff = a[i : i + step, None, :] - c[None, :, :]
        np.add.reduce(diff * diff, axis=-1, out=out[i : i + step])
    return torch.from_numpy(np.sqrt(out))


def _scalar_loop(fn):
    """``fn`` evaluated by torch's scalar loop for every element (a strided view as input)."""

    def impl(x, *args, **kwargs):
        if kwargs.get("out") is not None or not _cpu_float(x) or x.numel() == 0:
            return NotImplemented
        buf = torch.empty(x.numel(), 2, dtype=x.dtype)
        buf[:, 0] = x.reshape(-1)
        return fn(buf[:, 0], *args, **kwargs).reshape(x.shape)

    return impl


_IMPLS = {
    torch.matmul: _matmul, torch.Tensor.matmul: _matmul, torch.Tensor.__matmul__: _matmul,
    torch.Tensor.__rmatmul__: _rmatmul, torch.mm: _matmul, torch.Tensor.mm: _matmul,
    torch.mv: _matmul, torch.Tensor.mv: _matmul, torch.addmm: _addmm, F.linear: _linear,
    torch.cdist: _cdist,
}
for _f in (torch.sigmoid, torch.Tensor.sigmoid, torch.special.expit, F.silu, F.gelu, F.softplus):
    _IMPLS[_f] = _scalar_loop(_f)


class _RowStable(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        impl = _IMPLS.get(func)
        if impl is not None:
            out = impl(*args, **kwargs)
            if out is not NotImplemented:
                return out
        return func(*args, **kwargs)


@contextlib.contextmanager
def row_stable():
    """Run torch code (in this thread) with the row-stable versions of the functions above."""
    with torch.no_grad(), _RowStable():
        yield


__all__ = ["row_stable", "rowwise_matmul"]
