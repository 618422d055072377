"""``logit`` / ``mnlogit``: a ``LogisticRegression`` fitted from a formula and a data frame.

    m = logitkit.formula.logit("y ~ x + C(region) + np.log(z) + x:w", data)
    m.feature_names_in_          # ['x', 'C(region)[T.b]', ..., 'np.log(z)', 'x:w']
    m.predict_proba(new_data)    # new rows go through the same design
    logitkit.evaluate.summary(m, data, data["y"])   # or m.summary(data)

The estimator is ``FormulaLogisticRegression``, a ``LogisticRegression`` that keeps the
fitted ``FormulaDesign`` (``design_``) and sends every X it is given through it. Its
default is ``penalty=None`` (the maximum-likelihood fit statsmodels' ``logit`` gives).
"""
from __future__ import annotations

import numpy as np

from logitkit._util.errors import DataError
from logitkit.formula.design import FormulaDesign
from logitkit.predict.logistic import LogisticRegression


class FormulaLogisticRegression(LogisticRegression):
    """``LogisticRegression`` on the design a formula builds from a data frame.

    ``fit(data)`` takes the outcome from the formula's left-hand side (or ``y=``);
    ``predict``, ``predict_proba``, ``decision_function`` and ``summary`` take data
    frames with the formula's columns. Every other parameter is ``LogisticRegression``'s.
    Attributes besides those of ``LogisticRegression``: ``design_`` (the fitted
    ``FormulaDesign``), ``formula_`` (the formula's text).
    """

    def __init__(self, formula: str | None = None, penalty: str | None = None, alpha: float = 1e-4,
                 l1_ratio: float = 0.5, multiclass: str = "softmax", solver: str = "auto",
                 class_weight=None, max_iter: int = 100, tol: float = 1e-8, warm_start: bool = False,
                 batch_size: int = 256, learning_rate: float | None = None, dtype: str = "float64",
                 device: str = "auto", random_state: int | None = 0, verbose: int = 0):
        # fit_intercept is not a parameter: the formula decides ('- 1' or '0 +' drops it)
        super().__init__(penalty=penalty, alpha=alpha, l1_ratio=l1_ratio, multiclass=multiclass, solver=solver,
                         fit_intercept=True, class_weight=class_weight, max_iter=max_iter, tol=tol,
                         warm_start=warm_start, batch_size=batch_size, learning_rate=learning_rate, dtype=dtype,
                         device=device, random_state=random_state, verbose=verbose)
        self.formula = formula

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

    def summary(self, X, y=None, sample_weight=None, **kwargs):
        """``logitkit.evaluate.summary(self, X, y, ...)``, the outcome taken from the
        formula's left-hand side when ``y`` is not given."""
        from logitkit.evaluate.inference import summary  # later stage, imported on use

        return summary(self, X, self.design_.labels(X) if y is None else y, sample_weight=sample_weight, **kwargs)


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
