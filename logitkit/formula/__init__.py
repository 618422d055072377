"""formula: models from Wilkinson formulas (``"y ~ x + C(region) + np.log(z) + x:w"``) on
data frames, through formulaic; the fitted design re-applied to new rows."""
from logitkit.formula.design import FormulaDesign, as_frame
from logitkit.formula.model import FormulaLogisticRegression, logit, mnlogit, model_matrix

__all__ = ["FormulaDesign", "FormulaLogisticRegression", "logit", "mnlogit", "model_matrix", "as_frame"]
