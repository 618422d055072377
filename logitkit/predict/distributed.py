"""Fitting over several ranks (``torch.distributed``): same answers as one process.

Full batch (``DistributedLogisticRegression``): every rank holds a shard of the rows.
It is ``LogisticRegression`` handed the job's collective (``_util.collective``), so the
objective

    F(θ) = (1/n) Σ_r Σ_{i∈shard r} s_i · nll(y_i, z_i) + penalty(θ),   n = Σ_r n_r,

sums every row-sum over the ranks (the loss value, the gradient (m, p), each Hessian
block (p, p)) and counts n over all of them; the sample weights are normalised by their
global mean and the classes are the union over ranks. Every rank then sees the same F,
∇F and ∇²F, takes the same solver steps and ends at the global optimum. A Newton step
sends m·p + m·p² numbers per rank, an L-BFGS step (1 + m·p) per function evaluation —
independent of n. The stochastic solvers (sgd, adam, adagrad) are the one-process
solver with its sums all-reduced: synchronous data-parallel mini-batches (see
``predict.solvers.stochastic``), m·p numbers per step.

The hashed/online learner over ranks, ``DistributedHashedLogisticRegression``, is in
``predict.online.distributed``; the round-robin stream helpers are in
``loaddata.roundrobin``, ``reduce_metrics`` in ``evaluate.streaming``.
"""
from __future__ import annotations

from logitkit._util import collective
from logitkit._util.collective import Collective
from logitkit.predict.logistic import LogisticRegression


class DistributedLogisticRegression(LogisticRegression):
    """``LogisticRegression`` fitted on the union of the ranks' shards.

    Same parameters and attributes; call ``fit(X_shard, y_shard)`` on every rank of an
    initialised process group (``logitkit._util.dist.init_from_env``). Outside one it
    is a plain ``LogisticRegression``. ``evaluate.summary(model, X_shard, y_shard)`` on
    every rank gives the whole data's standard errors (nonrobust, HC0, HC1). newton and
    lbfgs reach the same optimum as one process; the stochastic solvers run synchronous
    data-parallel mini-batches with the gradient all-reduced every step.
    """

    def _collective(self) -> Collective:
        return collective.current()
