"""The parameters of ``LogisticRegression``, declared once (``logitkit._util.params``).

From this table come the estimator's signature, checks and docstring
(``predict.logistic``), ``LogisticRegressionCV``'s shared parameters
(``evaluate.selection``), the formula estimator's (``formula.model``) and the fields of
the run config's ``model`` section (``pipeline.config``). It imports nothing heavy, so a
config can be read without loading the estimators.
"""
from __future__ import annotations

from numbers import Integral, Real

from logitkit._util.params import BOOL, DEVICE, DTYPE, POSITIVE, VERBOSE, Instance, Interval, Param

STOCHASTIC = ("sgd", "adam", "adagrad")

PARAMS = {
    "penalty": Param("l2", (None, "l2", "l1", "elasticnet"),
                     "None fits the maximum-likelihood estimate (needed for classical inference)."),
    "alpha": Param(1e-4, (Interval(Real, 0),),
                   "Penalty strength (scikit-learn's C is 1/(alpha*n)). The default is a light ridge "
                   "that keeps the MLE finite under separation while barely moving well-posed fits; set "
                   "penalty=None for the MLE."),
    "l1_ratio": Param(0.5, (Interval(Real, 0, 1),),
                      "Share of L1 in 'elasticnet' (ignored otherwise: 'l1' means 1, 'l2' means 0)."),
    "multiclass": Param("softmax", ("softmax", "ovr"),
                        "Several classes: one multinomial model, or K sigmoids fitted together as one "
                        "batched problem. Two classes always use one logit."),
    "solver": Param("auto", ("auto", "newton", "lbfgs") + STOCHASTIC,
                    "Which solver. 'newton': exact Hessian + Cholesky (proximal Newton with L1), "
                    "quadratic convergence, O(n·p²) per step. 'lbfgs': L-BFGS (OWL-QN with L1), O(n·p) "
                    "per step. 'sgd', 'adam', 'adagrad' use mini-batches in a seeded order. 'auto' picks "
                    "newton while the (classes × features) problem has at most 1,500 parameters (its "
                    "Hessian is cheap then), else lbfgs."),
    "fit_intercept": Param(True, (BOOL,), "Fit an intercept per logit (never penalised)."),
    "class_weight": Param(None, (None, "balanced", Instance((dict,), "a dict {class: weight}", dict[str, float])),
                          "Multiplies each row's weight by its class's weight. 'balanced' gives class k the "
                          "weight total / (K · total_k), totals of sample_weight (row counts without it), as "
                          "scikit-learn does."),
    "max_iter": Param(100, (Interval(Integral, 1),),
                      "Iterations (Newton). L-BFGS and the stochastic solvers (epochs) get 10 × this budget "
                      "since their steps are cheap; all stop early once converged."),
    "tol": Param(1e-6, (POSITIVE,),
                 "Stop when the largest entry of the gradient (the minimum-norm subgradient with L1) is at "
                 "most tol. With standardised features this puts the objective within ~1e-8 relative of "
                 "the optimum, so tol rarely needs tuning. Stochastic solvers: stop after 20 full-batch "
                 "epochs in a row whose relative improvement is below tol."),
    "warm_start": Param(False, (BOOL,), "Start from the previous solution when refitting.", config=False),
    "batch_size": Param(256, (Interval(Integral, 1),),
                        "Stochastic solvers: the starting batch, doubled when progress stalls, up to n."),
    "learning_rate": Param(None, (None, POSITIVE),
                           "Stochastic solvers' step size. None means sgd 3/L (L the gradient's Lipschitz "
                           "constant), Adam 0.1, Adagrad 1.0."),
    "dtype": DTYPE,
    "device": DEVICE,
    "random_state": Param(0, (None, Interval(Integral)), "Seeds the stochastic solvers' shuffling.", config=False),
    "verbose": VERBOSE,
}
