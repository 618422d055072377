"""logitkit: reproducible classification pipelines built around logistic regression on PyTorch."""
from logitkit._util.errors import UserError
from logitkit.predict import (
    FirthLogisticRegression,
    HashedLogisticRegression,
    LogisticHead,
    LogisticRegression,
    MLPClassifier,
)

__version__ = "0.1.0"
__all__ = ["LogisticRegression", "LogisticHead", "FirthLogisticRegression", "MLPClassifier",
           "HashedLogisticRegression", "UserError", "__version__"]
