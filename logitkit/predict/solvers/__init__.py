"""Solvers for ``LogisticObjective``: Newton (+ proximal Newton for L1), L-BFGS / OWL-QN,
and mini-batch stochastic methods. Each returns a ``SolverResult``."""
from logitkit.predict.solvers.common import SolverResult, pseudo_gradient
from logitkit.predict.solvers.newton import newton
from logitkit.predict.solvers.quasi_newton import lbfgs
from logitkit.predict.solvers.stochastic import stochastic

__all__ = ["SolverResult", "pseudo_gradient", "newton", "lbfgs", "stochastic"]
