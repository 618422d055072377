"""logitkit: reproducible classification pipelines built around logistic regression on PyTorch.

The estimators are imported on first use (``logitkit.LogisticRegression``), so that
``import logitkit.loaddata`` and the command line start without loading torch models.
"""
from logitkit._util.errors import UserError

__version__ = "0.1.0"

_ESTIMATORS = ("LogisticRegression", "LogisticHead", "FirthLogisticRegression", "MLPClassifier",
               "HashedLogisticRegression", "HashedInteractionModel")
__all__ = [*_ESTIMATORS, "UserError", "__version__"]


def __getattr__(name: str):
    if name in _ESTIMATORS:
        from logitkit import predict

        return getattr(predict, name)
    raise AttributeError(f"module 'logitkit' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_ESTIMATORS))
