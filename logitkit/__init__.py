"""logitkit: reproducible classification pipelines built around logistic regression on PyTorch.

The estimators are imported on first use (``logitkit.LogisticRegression``), so that
``import logitkit.loaddata`` and the command line start without loading torch models.
"""
from logitkit._util.errors import UserError

__version__ = "0.1.0"

_ESTIMATORS = ("LogisticRegression", "LogisticHead", "FirthLogisticRegression", "MLPClassifier",
               "HashedLogisticRegression", "HashedInteractionModel")
__all__ = [*_ESTIMATORS, "UserError", "load", "__version__"]


def load(path):
    """A fitted estimator saved with ``model.save(path)``, or the model of a run directory
    (``runs/<run-id>``) or of a hashed model's checkpoint folder; no pickle is read.

        model = logitkit.LogisticRegression(penalty=None).fit(X, y)
        model.save("my_model")
        model = logitkit.load("my_model")
    """
    from logitkit.predict.persist import load_any

    return load_any(path)


def __getattr__(name: str):
    if name in _ESTIMATORS:
        from logitkit import predict

        return getattr(predict, name)
    raise AttributeError(f"module 'logitkit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ESTIMATORS))
