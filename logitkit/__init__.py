"""logitkit: reproducible classification pipelines built around logistic regression on PyTorch."""
from logitkit._util.errors import UserError
from logitkit.predict import LogisticHead, LogisticRegression

__version__ = "0.1.0"
__all__ = ["LogisticRegression", "LogisticHead", "UserError", "__version__"]
