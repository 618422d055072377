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

The gradient is written once (``_gradient``): the full one of ``smooth`` and the
mini-batch one of ``Batches.gradient`` (the stochastic solvers) are the same sum over
rows with another row set and divisor. Every sum over rows goes through the
objective's ``collective``: the identity in one process; under torchrun an all-reduce,
so that the rows of every rank make one objective (``predict.distributed``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from logitkit._util.collective import LOCAL, Collective
from logitkit.predict.design import Design

LINKS = ("binary", "softmax", "ovr")


@dataclass
class LogisticObjective:
    """Mean weighted negative log-likelihood plus the elastic-net penalty.

    ``Y`` is (n,) with values in {0, 1} for binary, class indices (n,) for softmax,
    and a (n, K) 0/1 matrix for ovr. ``s`` is (n,) with mean 1 (over every rank's rows).
    ``collective`` sums over the ranks whose rows make the objective (see the module
    docstring); ``n_total`` is the number of rows over all of them.
    """

    X: Design
    Y: torch.Tensor
    s: torch.Tensor
    link: str
    m: int
    fit_intercept: bool = True
    alpha: float = 0.0
    l1_ratio: float = 0.0
    collective: Collective = field(default=LOCAL, repr=False, compare=False)
    _memo: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.d = self.X.d
        self.p = self.d + int(self.fit_intercept)
        self.n_total = float(self.collective.sum(torch.tensor(float(self.X.n), dtype=torch.float64)))
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

    def probabilities(self, z: torch.Tensor, small: bool = False) -> torch.Tensor:
        """p = σ(z) (binary, ovr) or softmax(z), shape of z. ``small``: softmax by hand,
        which is faster than torch.softmax on the small float64 inputs of a mini-batch."""
        if self.link != "softmax":
            return torch.sigmoid(z)
        if not small:
            return torch.softmax(z, dim=1)
        e = torch.exp(z - z.max(1, keepdim=True).values)
        return e / e.sum(1, keepdim=True)

    def residual(self, z: torch.Tensor) -> torch.Tensor:
        """∂nll/∂z, shape (n, m): probabilities minus targets."""
        return self.probabilities(z) - self.Y1

    def subset(self, idx: torch.Tensor) -> "LogisticObjective":
        """The same objective (same class, penalty and weights) on the rows ``idx``:
        the mean over those rows, as the subsampled Newton start uses it."""
        return replace(self, X=self.X.rows(idx), Y=self.Y[idx], s=self.s[idx])

    def batches(self, perm: torch.Tensor) -> "Batches":
        """This rank's rows in the order ``perm``, for mini-batch gradients (one epoch)."""
        return Batches(self, perm)

    def l1_term(self, theta: torch.Tensor) -> float:
        """l1 · ‖mask ⊙ θ‖₁, the part of F that ``smooth`` leaves out."""
        return self.l1 * float((self.penalty_mask * theta).abs().sum())

    def value_and_gradient(self, theta: torch.Tensor) -> tuple[float, torch.Tensor]:
        """(F(θ) with the L1 term, gradient of the smooth part), one pass over X."""
        f, g = self.smooth(theta)
        return float(f) + self.l1_term(theta), g

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
        value = self.collective.sum(nll_sum) / self.n_total + 0.5 * self.l2 * (w * w).sum()
        if not grad:
            return value, None
        return value, self._gradient(theta, self.X, self.residual(z), None if unit else self.s, self.n_total)

    def _gradient(self, theta: torch.Tensor, X: Design, R: torch.Tensor, s: torch.Tensor | None,
                  count: float) -> torch.Tensor:
        """(1/count) Σ_i s_i r_i ⊗ [x_i, 1] + l2 · mask ⊙ θ, shape of θ: the gradient of the
        smooth part on the rows of X (every rank's, through the collective), with
        r_i = p_i − y_i their residuals (R, (rows, m)) and s their weights (None: all 1)."""
        if s is not None:
            R = R.mul_(s[:, None])
        g = torch.empty_like(theta)
        g[:, : self.d] = X.adjoint(R)
        if self.fit_intercept:
            g[:, -1] = R.sum(0)
        return self.collective.sum(g).div_(count).add_(theta * self.penalty_mask, alpha=self.l2)

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
                return self.collective.sum(self._gram(v)), None
            G = self.collective.sum(self._gram(torch.stack([v, R[:, k] * R[:, l]], 1)))
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


class Batches:
    """One epoch of mini-batches: an objective's rows (this rank's) in the order ``perm``;
    the batch is the rows start:stop of that order. Dense X is copied once in that order,
    so every batch is a view; sparse rows are taken per batch."""

    def __init__(self, obj: LogisticObjective, perm: torch.Tensor):
        self.obj, self.perm, self.n = obj, perm, perm.shape[0]
        self.X = None if obj.X.sparse else obj.X.X[perm]
        self.Y1, self.s = obj.Y1[perm], obj.s[perm]

    def gradient(self, theta: torch.Tensor, start: int, stop: int, count: int | None = None) -> torch.Tensor:
        """g_B(θ) = (1/|B|) Σ_{i∈B} s_i (p_i − y_i) ⊗ [x_i, 1] + l2 · mask ⊙ θ, shape of θ.

        B is the rows start:stop here and, under torchrun, the batches the other ranks
        take in the same step (the sums go through the objective's collective); ``count``
        is |B| over all ranks (default stop − start). A rank out of rows passes an empty
        range and adds nothing."""
        obj = self.obj
        start, stop = min(start, self.n), min(stop, self.n)
        if self.X is None and stop > start:
            X = obj.X.rows(self.perm[start:stop])
        else:  # dense, or no rows left on this rank
            X = Design(self.X[start:stop] if self.X is not None else
                       torch.zeros(0, obj.d, dtype=obj.dtype, device=obj.device))
        z = X.linear(theta[:, : obj.d])
        if obj.fit_intercept:
            z = z + theta[:, -1]
        R = obj.probabilities(z, small=True) - self.Y1[start:stop]
        return obj._gradient(theta, X, R, self.s[start:stop], stop - start if count is None else count)
