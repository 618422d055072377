"""The design matrix X as the solvers see it: dense or sparse, on one device.

Every solver touches X only through three products, so dense and sparse data (and,
in the distributed runner, a shard of the rows) share the same solver code:

    linear(W)   = X Wᵀ                      shape (n, m)
    adjoint(R)  = Rᵀ X                      shape (m, d)
    gram(v)     = Xᵀ diag(v) X              shape (d, d)
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch


BLOCK_ROWS = 65536


class Design:
    """Holds X (n, d) as a dense tensor or a sparse CSR tensor plus its transpose."""

    def __init__(self, X: torch.Tensor, Xt: torch.Tensor | None = None, csr: sp.csr_matrix | None = None):
        self.X = X
        self.csr = csr
        self.sparse = X.layout == torch.sparse_csr
        self.Xt = Xt if self.sparse else None
        self.n, self.d = X.shape

    @classmethod
    def from_array(cls, X, dtype: torch.dtype, device: torch.device) -> "Design":
        if sp.issparse(X):
            X = sp.csr_matrix(X, dtype=np.float64 if dtype == torch.float64 else np.float32)
            Xt = X.T.tocsr()
            return cls(_csr_tensor(X, dtype, device), _csr_tensor(Xt, dtype, device), X)
        if isinstance(X, torch.Tensor):
            return cls(X.to(device=device, dtype=dtype))
        X = np.asarray(X)
        if not X.flags.writeable:
            X = X.copy()
        return cls(torch.as_tensor(X, dtype=dtype, device=device))

    def linear(self, W: torch.Tensor) -> torch.Tensor:
        return self.X @ W.T

    def adjoint(self, R: torch.Tensor) -> torch.Tensor:
        if self.sparse:
            return (self.Xt @ R).T
        return R.T @ self.X

    def gram(self, v: torch.Tensor, sums: bool = False):
        """Xᵀ diag(v) X (d, d); with ``sums`` also vᵀ X (d,) from the same sweep (the
        intercept row of the Hessian), so the block is read once while it is in cache."""
        if self.sparse:
            Xd = self.X.to_dense()
            G = Xd.T @ (v[:, None] * Xd)
            return (G, self.column_sums(v)) if sums else G
        G = c = None
        for sl, part in self.blocks():
            vX = v[sl, None] * part.X
            Gb = part.X.T @ vX
            G = Gb if G is None else G.add_(Gb)
            if sums:  # a matrix-vector product on the cached block (Tensor.sum(0) is ~10x slower)
                cb = torch.mv(part.X.T, v[sl])
                c = cb if c is None else c.add_(cb)
        return (G, c) if sums else G

    def blocks(self, rows: int = BLOCK_ROWS):
        """(row slice, Design view) pairs covering X in blocks of ``rows`` rows; sparse or
        small X comes back whole. ``gram`` sums block products so that it never holds a
        scaled copy of all of X. (Blocking the value-and-gradient pass as well was measured
        slower: torch's matrix-vector kernels lose more on small blocks than cache reuse wins.)"""
        if self.sparse or self.n <= 2 * rows:
            return [(slice(None), self)]
        return [(slice(i, i + rows), Design(self.X[i : i + rows])) for i in range(0, self.n, rows)]

    def column_sums(self, v: torch.Tensor) -> torch.Tensor:
        """vᵀ X, shape (d,)."""
        return self.adjoint(v[:, None])[0]

    def rows(self, idx: torch.Tensor) -> "Design":
        if self.sparse:
            return Design.from_array(self.csr[idx.cpu().numpy()], self.X.dtype, self.X.device)
        return Design(self.X[idx])

    def dense(self) -> torch.Tensor:
        return self.X.to_dense() if self.sparse else self.X


def _csr_tensor(X: sp.csr_matrix, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            torch.as_tensor(X.indptr, dtype=torch.int64),
            torch.as_tensor(X.indices, dtype=torch.int64),
            torch.as_tensor(X.data, dtype=dtype),
            size=X.shape,
            device=device,
            check_invariants=False,
        )
