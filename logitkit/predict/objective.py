"""The objective every solver minimises, with its gradient and exact Hessian.

Parameters are one matrix θ of shape (m, p): row k holds class k's weights w_k
(d entries) followed by its intercept b_k when ``fit_intercept``. m = 1 for a binary
model, m = K for softmax and one-vs-rest. The objective is

    F(θ) = mean_i s_i · nll(y_i, z_i) + alpha · ( l1_ratio·‖w‖₁ + (1 − l1_ratio)/2 · ‖w‖₂² ),
    z_i = W x_i + b,

with s_i the sample weights normalised to mean 1 (so F is a weighted mean), and

    binary   nll = softplus(z) − y z                        (one logit)
    softmax  nll = logsumexp(z) − z_y                       (K logits)
    ovr      nll = Σ_k softplus(z_k) − [y = k] z_k          (K independent sigmoids)

The intercepts are never penalised. ``smooth`` below is F without the L1 term; the
L1 term is handled by the solvers (OWL-QN, proximal steps) so that zeros are exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from logitkit.predict.design import Design

LINKS = ("binary", "softmax", "ovr")


@dataclass
class LogisticObjective:
    """Mean weighted negative log-likelihood plus the elastic-net penalty.

    ``Y`` is (n,) with values in {0, 1} for binary, class indices (n,) for softmax,
    and a (n, K) 0/1 matrix for ovr. ``s`` is (n,) with mean 1.
    """

    X: Design
    Y: torch.Tensor
    s: torch.Tensor
    link: str
    m: int
    fit_intercept: bool = True
    alpha: float = 0.0
    l1_ratio: float = 0.0
    _memo: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.d = self.X.d
        self.p = self.d + int(self.fit_intercept)
        self.n_total = float(self.X.n)
        self.dtype = self.s.dtype
        self.device = self.s.device
        if self.link == "softmax":
            self.y_index = self.Y.long()
            self.Y1 = F.one_hot(self.y_index, self.m).to(self.dtype)
        elif self.link == "ovr":
            self.Y1 = self.Y.to(self.dtype)
        else:
            self.Y1 = self.Y.to(self.dtype)[:, None]
        # all weights 1 (no sample or class weights): the passes skip multiplying by s
        self.unit_weights = bool((self.s == 1).all())
        mask = torch.ones(self.m, self.p, dtype=self.dtype, device=self.device)
        if self.fit_intercept:
            mask[:, -1] = 0
        self.penalty_mask = mask

    # ---- pieces ---------------------------------------------------------------
    @property
    def l2(self) -> float:
        return self.alpha * (1.0 - self.l1_ratio)

    @property
    def l1(self) -> float:
        return self.alpha * self.l1_ratio

    def zeros(self) -> torch.Tensor:
        return torch.zeros(self.m, self.p, dtype=self.dtype, device=self.device)

    def logits(self, theta: torch.Tensor) -> torch.Tensor:
        """z = X Wᵀ + b, shape (n, m).

        The last (θ, z) pair is remembered: the solvers, the Hessian, the convergence
        checks and the inference statistics all ask for z at the same θ, and each miss
        is a pass over X. Callers must not modify the returned tensor in place."""
        if theta.requires_grad:  # autograd needs the graph: no memo
            return self._logits(theta)
        memo = self._memo
        if memo is not None and memo[0].shape == theta.shape and torch.equal(memo[0], theta):
            return memo[1]
        z = self._logits(theta)
        self._memo = (theta.clone(), z)
        return z

    def _logits(self, theta: torch.Tensor) -> torch.Tensor:
        W = theta[:, : self.d]
        # all-zero weights (the usual start): z is the intercept alone, no pass over X
        z = self.X.linear(W) if bool(W.any()) else torch.zeros(self.X.n, self.m, dtype=theta.dtype, device=theta.device)
        if self.fit_intercept:
            z = z + theta[:, -1]
        return z

    def nll_rows(self, z: torch.Tensor) -> torch.Tensor:
        """Per-row negative log-likelihood, shape (n,) (ovr: summed over classes)."""
        if self.link == "softmax":
            return torch.logsumexp(z, dim=1) - (z * self.Y1).sum(1)
        return (F.softplus(z) - self.Y1 * z).sum(1)

    def residual(self, z: torch.Tensor) -> torch.Tensor:
        """∂nll/∂z, shape (n, m): probabilities minus targets."""
        if self.link == "softmax":
            return torch.softmax(z, dim=1) - self.Y1
        return torch.sigmoid(z) - self.Y1

    def subset(self, idx: torch.Tensor) -> "LogisticObjective":
        """The same objective (same class, penalty and weights) on the rows ``idx``:
        the mean over those rows, as the subsampled Newton start uses it."""
        return replace(self, X=self.X.rows(idx), Y=self.Y[idx], s=self.s[idx])

    def _sum(self, t: torch.Tensor) -> torch.Tensor:
        """Sum over rows; the distributed runner overrides it with an all-reduce."""
        return t

    # ---- smooth part: value, gradient, Hessian --------------------------------
    def smooth(self, theta: torch.Tensor, grad: bool = True):
        """(value, gradient) of F without the L1 term; gradient has θ's shape.

        The weighted NLL sum comes from torch's fused loss kernels (one sweep over z)."""
        z = self.logits(theta)
        w = theta * self.penalty_mask
        unit = self.unit_weights
        if self.link == "softmax":
            ce = F.cross_entropy(z, self.y_index, reduction="sum" if unit else "none")
            nll_sum = ce if unit else torch.dot(self.s, ce)
        else:
            nll_sum = F.binary_cross_entropy_with_logits(z, self.Y1, weight=None if unit else self.s[:, None],
                                                         reduction="sum")
        value = self._sum(nll_sum) / self.n_total + 0.5 * self.l2 * (w * w).sum()
        if not grad:
            return value, None
        R = self.residual(z) if unit else self.residual(z).mul_(self.s[:, None])
        g = torch.empty_like(theta)
        g[:, : self.d] = self.X.adjoint(R)
        if self.fit_intercept:
            g[:, -1] = R.sum(0)
        g = self._sum(g).div_(self.n_total).add_(w, alpha=self.l2)
        return value, g

    def value(self, theta: torch.Tensor) -> torch.Tensor:
        """The full objective F(θ), L1 term included."""
        v, _ = self.smooth(theta, grad=False)
        return v + self.l1 * (theta * self.penalty_mask).abs().sum()

    def _gram(self, v: torch.Tensor) -> torch.Tensor:
        """[X 1]ᵀ diag(v) [X 1], shape (p, p); for v of shape (n, k), (k, p, p) from one
        sweep over X."""
        d = self.d
        many = v.dim() == 2
        V = v if many else v[:, None]
        H = torch.empty(V.shape[1], self.p, self.p, dtype=self.dtype, device=self.device)
        if not self.fit_intercept:
            H[:, :d, :d] = self.X.gram(V)
        else:
            H[:, :d, :d], c = self.X.gram(V, sums=True)
            H[:, :d, d] = c
            H[:, d, :d] = c
            H[:, d, d] = V.sum(0)
        return H if many else H[0]

    def hessian(self, theta: torch.Tensor, meat: bool = False):
        """Exact Hessian of the smooth part.

        binary: (p, p); ovr: (K, p, p), one block per class (the classes are
        independent); softmax: (K·p, K·p) with blocks
        H_kl = [X 1]ᵀ diag(s·(p_k δ_kl − p_k p_l)/n) [X 1].

        With ``meat``, also Σ_i g_i g_iᵀ of the per-row scores g_i = s_i (p_i − y_i) ⊗
        [x_i, 1] (the robust covariances' meat), each block's two weighted Gram matrices
        from one sweep over X: (m, p, p) for binary and ovr, (K·p, K·p) for softmax.
        Returns (H, meat) then.
        """
        z = self.logits(theta)
        sn = self.s / self.n_total
        ridge = torch.diag(self.l2 * self.penalty_mask[0])
        R = self.s[:, None] * self.residual(z) if meat else None

        def grams(v: torch.Tensor, k: int, l: int):
            """(Hessian block of weights v, meat block of weights r_k r_l or None)."""
            if R is None:
                return self._sum(self._gram(v)), None
            G = self._sum(self._gram(torch.stack([v, R[:, k] * R[:, l]], 1)))
            return G[0], G[1]

        K, p = self.m, self.p
        if self.link == "softmax":
            P = torch.softmax(z, dim=1)
            H = torch.empty(K, p, K, p, dtype=self.dtype, device=self.device)
            B = torch.empty_like(H) if meat else None
            for k in range(K):
                for l in range(k, K):
                    h, b = grams(sn * P[:, k] * ((1.0 if k == l else 0.0) - P[:, l]), k, l)
                    H[k, :, l, :] = H[l, :, k, :] = h
                    if meat:
                        B[k, :, l, :] = B[l, :, k, :] = b
                H[k, :, k, :] += ridge
            H = H.reshape(K * p, K * p)
            return (H, B.reshape(K * p, K * p)) if meat else H
        P = torch.sigmoid(z)
        V = sn[:, None] * P * (1 - P)
        pairs = [grams(V[:, k], k, k) for k in range(K)]
        H = torch.stack([h + ridge for h, _ in pairs])
        H = H[0] if self.link == "binary" else H
        return (H, torch.stack([b for _, b in pairs])) if meat else H

    def scores(self, theta: torch.Tensor) -> torch.Tensor:
        """Per-row gradients of the (unweighted-by-n) log-likelihood contribution.

        Shape (n, m, p): s_i · (p_i − y_i) ⊗ [x_i, 1]. Used by robust covariances.
        """
        z = self.logits(theta)
        R = self.s[:, None] * self.residual(z)
        Xd = self.X.dense()
        if self.fit_intercept:
            Xd = torch.cat([Xd, torch.ones(Xd.shape[0], 1, dtype=Xd.dtype, device=Xd.device)], 1)
        return R[:, :, None] * Xd[:, None, :]
