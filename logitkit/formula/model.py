"""``logit`` / ``mnlogit``: a ``LogisticRegression`` fitted from a formula and a data frame.

    m = logitkit.formula.logit("y ~ x + C(region) + np.log(z) + x:w", data)
    m.feature_names_in_          # ['x', 'C(region)[T.b]', ..., 'np.log(z)', 'x:w']
    m.predict_proba(new_data)    # new rows go through the same design
    logitkit.evaluate.summary(m, data)   # the outcome from the formula's left-hand side

The estimator is ``FormulaLogisticRegression``, a ``LogisticRegression`` that keeps the
fitted ``FormulaDesign`` (``design_``) and sends every X it is given through it. Its
default is ``penalty=None`` (the maximum-likelihood fit statsmodels' ``logit`` gives).
"""
from __future__ import annotations

import numpy as np

from dataclasses import replace

from logitkit._util.errors import DataError
from logitkit._util.params import Instance, Param, estimator_init, params_doc
from logitkit.formula.design import FormulaDesign
from logitkit.predict.logistic_params import PARAMS as LOGISTIC_PARAMS
from logitkit.predict.logistic import LogisticRegression

#: ``LogisticRegression``'s parameters, but ``formula`` first, the maximum-likelihood fit
#: (``penalty=None``) and a tighter ``tol`` by default, and no ``fit_intercept``: the
#: formula decides (``- 1`` or ``0 +`` drops the intercept).
PARAMS = {
    "formula": Param(None, (None, Instance((str,), "a formula such as 'y ~ x + C(region)'")),
                     "The model, as 'outcome ~ terms' (formulaic's grammar: C(x), np.log(z), x:w, ...)."),
    "penalty": replace(LOGISTIC_PARAMS["penalty"], default=None),
    "tol": replace(LOGISTIC_PARAMS["tol"], default=1e-8),
    **{k: p for k, p in LOGISTIC_PARAMS.items() if k not in ("penalty", "tol", "fit_intercept")},
}


class FormulaLogisticRegression(LogisticRegression):
    __doc__ = f"""``LogisticRegression`` on the design a formula builds from a data frame.

    ``fit(data)`` takes the outcome from the formula's left-hand side (or ``y=``);
    ``predict``, ``predict_proba`` and ``decision_function`` (and ``evaluate.summary``) take data
    frames with the formula's columns. Every other parameter is ``LogisticRegression``'s.
    Attributes besides those of ``LogisticRegression``: ``design_`` (the fitted
    ``FormulaDesign``), ``formula_`` (the formula's text).

    Parameters
    ----------
{params_doc(PARAMS)}
    """

    __init__ = estimator_init(PARAMS)

    def fit(self, X, y=None, sample_weight=None) -> "FormulaLogisticRegression":
        """Fit on ``X``, a DataFrame (or dict of columns, pyarrow Table) holding the
        formula's columns; the outcome is the formula's left-hand side unless ``y`` is
        given."""
        if self.formula is None:
            raise DataError("FormulaLogisticRegression needs formula=, e.g. 'y ~ x + C(region)'")
        design = FormulaDesign(self.formula).fit(X)
        labels = design.labels(X) if y is None else y
        M = design.matrix(X)
        self.fit_intercept = design.fit_intercept
        self.design_ = design
        self.formula_ = self.formula
        return super().fit(M, labels, sample_weight)

    def to_state(self) -> tuple[dict, dict]:
        """``LogisticRegression.to_state`` plus the fitted design (formula, levels,
        transform states), so a loaded model takes data frames as this one does."""
        tensors, meta = super().to_state()
        return tensors, {**meta, "design": self.design_.to_json()}

    @classmethod
    def from_state(cls, tensors: dict, meta: dict) -> "FormulaLogisticRegression":
        model = super().from_state(tensors, meta)
        model.design_ = FormulaDesign.from_json(meta["design"])
        model.formula_ = model.formula
        model.fit_intercept = model.design_.fit_intercept
        return model

    def design_matrix(self, X):
        """The model's design for the rows of ``X`` (a DataFrame with the formula's
        columns): a float DataFrame with columns ``feature_names_in_``."""
        if not hasattr(self, "design_"):
            raise DataError("this FormulaLogisticRegression is not fitted; call fit(data) first")
        return self.design_.matrix(X)

    def decision_function(self, X):
        return super().decision_function(self.design_matrix(X))

    def predict_proba(self, X):
        return super().predict_proba(self.design_matrix(X))

    def predict_log_proba(self, X):
        return super().predict_log_proba(self.design_matrix(X))

    def predict(self, X):
        return super().predict(self.design_matrix(X))


def model_matrix(model, X):
    """X as ``model`` takes it: its formula design of X for a formula model, X itself
    for any other model."""
    design = getattr(model, "design_matrix", None)
    return design(X) if callable(design) and hasattr(model, "design_") else X


def logit(formula: str, data, sample_weight=None, **params) -> FormulaLogisticRegression:
    """Fit a binary logistic regression from a formula: ``logit("y ~ x + C(g)", df)``.

    The outcome must have two values; the second in sorted order is the positive class
    (``classes_[1]``). ``params`` go to ``FormulaLogisticRegression`` (default
    ``penalty=None``: the maximum-likelihood estimate).
    """
    model = FormulaLogisticRegression(formula, **params)
    design = FormulaDesign(formula)
    y = design.labels(data)
    classes = np.unique(y)
    if len(classes) > 2:
        shown = classes[:6].tolist()
        raise DataError(f"logit is for two classes, but {design.outcome!r} has {len(classes)} values "
                        f"({shown}{' ...' if len(classes) > 6 else ''}); use logitkit.formula.mnlogit for several")
    return model.fit(data, y, sample_weight)


def mnlogit(formula: str, data, sample_weight=None, **params) -> FormulaLogisticRegression:
    """Fit a multinomial (softmax) logistic regression from a formula; the reference
    class is the first in sorted order (``classes_[0]``), as in statsmodels' ``MNLogit``."""
    params.setdefault("multiclass", "softmax")
    return FormulaLogisticRegression(formula, **params).fit(data, None, sample_weight)
