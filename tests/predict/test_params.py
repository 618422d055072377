"""Parameters declared once (``_util.params``): each estimator's signature, checks,
docstring and the run config's fields come from its table."""
import inspect

import numpy as np
import pydantic
import pytest
from sklearn.datasets import load_breast_cancer, load_iris

from logitkit import UserError
from logitkit.evaluate.selection import PARAMS as CV_PARAMS
from logitkit.evaluate.selection import SEARCHED, LogisticRegressionCV
from logitkit.predict import FirthLogisticRegression, LogisticRegression, MLPClassifier
from logitkit.predict.firth import PARAMS as FIRTH_PARAMS
from logitkit.predict.logistic_params import PARAMS as LOGISTIC_PARAMS
from logitkit.predict.mlp import PARAMS as MLP_PARAMS

TABLES = [(LogisticRegression, LOGISTIC_PARAMS), (LogisticRegressionCV, CV_PARAMS),
          (FirthLogisticRegression, FIRTH_PARAMS), (MLPClassifier, MLP_PARAMS)]


@pytest.mark.parametrize("cls,table", TABLES)
def test_the_signature_and_docstring_are_the_table(cls, table):
    sig = inspect.signature(cls)
    assert list(sig.parameters) == list(table)
    assert {k: p.default for k, p in sig.parameters.items()} == {k: p.default for k, p in table.items()}
    assert cls().get_params() == {k: p.default for k, p in table.items()}
    for key, p in table.items():
        assert f"    {key} : {p.describe()}, default {p.default!r}\n" in cls.__doc__
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        cls(nope=1)


def test_positional_arguments_follow_the_table():
    assert MLPClassifier((4,), "tanh").get_params()["activation"] == "tanh"
    assert LogisticRegression(None, 0.5).alpha == 0.5


@pytest.mark.parametrize("est,message", [
    (LogisticRegression(tol=0), "LogisticRegression: tol=0 is invalid; expected a number > 0"),
    (LogisticRegression(max_iter=2.5), "max_iter=2.5 is invalid; expected an integer >= 1"),
    (LogisticRegression(batch_size=True), "batch_size=True is invalid; expected an integer >= 1"),
    (LogisticRegression(learning_rate=-1), r"learning_rate=-1 is invalid; expected None or a number > 0"),
    (LogisticRegression(fit_intercept="yes"), "fit_intercept='yes' is invalid; expected True or False"),
    (LogisticRegression(dtype="float16"), r"dtype='float16' is invalid; expected 'float32', 'float64' or a torch dtype"),
    (LogisticRegression(class_weight="even"), r"class_weight='even' is invalid; expected None, 'balanced' or a dict"),
    (LogisticRegressionCV(penalty=None), "LogisticRegressionCV: penalty=None is invalid; expected one of 'l2', 'l1', "
                                         "'elasticnet'"),
    (LogisticRegressionCV(alphas=0), "alphas=0 is invalid; expected an integer >= 1 or an array of alphas >= 0"),
    (LogisticRegressionCV(batch_size=0), "LogisticRegressionCV: batch_size=0 is invalid; expected an integer >= 1"),
    (FirthLogisticRegression(max_step=0.0), r"FirthLogisticRegression: max_step=0.0 is invalid; expected a number > 0"),
    (MLPClassifier(validation_fraction=1.0), r"validation_fraction=1.0 is invalid; expected a number in \(0, 1\)"),
])
def test_bad_values_are_named_with_what_the_table_allows(est, message):
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.raises(UserError, match=message):
        est.fit(X[:40, :3], y[:40])


def test_the_cv_estimator_passes_every_other_parameter_on():
    assert set(LOGISTIC_PARAMS) - set(CV_PARAMS) == set(SEARCHED)
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    mine = dict(multiclass="ovr", solver="lbfgs", fit_intercept=False, class_weight="balanced", max_iter=50,
                tol=1e-5, batch_size=32, learning_rate=0.5, dtype="float32", device="cpu", random_state=3)
    cv = LogisticRegressionCV(alphas=[1e-2, 1e-3], cv=3, **mine).fit(X, y)
    got = cv.estimator_.get_params()
    for key in CV_PARAMS:
        if key in LOGISTIC_PARAMS:
            assert got[key] == cv.get_params()[key], key
    assert got["alpha"] == cv.alpha_ and cv.coef_.dtype == np.float64


def test_a_config_schema_derives_from_the_table():
    """What ``pipeline.config.ModelSection`` can build its logistic fields from."""
    fields = {k: (p.annotation, pydantic.Field(p.default, description=p.summary, **p.bounds))
              for k, p in LOGISTIC_PARAMS.items() if p.config}
    Model = pydantic.create_model("Model", __config__=pydantic.ConfigDict(extra="forbid"), **fields)
    assert Model().model_dump() == {k: p.default for k, p in LOGISTIC_PARAMS.items() if p.config}
    ok = Model(penalty=None, class_weight={"a": 2.0}, learning_rate=0.1, solver="adam", dtype="float32")
    assert ok.class_weight == {"a": 2.0} and ok.penalty is None
    for bad in ({"alpha": -1}, {"penalty": "l3"}, {"learning_rate": 0}, {"l1_ratio": 2}, {"max_iter": 0},
                {"device": "cpu"}):
        with pytest.raises(pydantic.ValidationError):
            Model(**bad)
    from logitkit.pipeline.config import ModelSection  # today's schema: the same keys, types, bounds, defaults

    for key in fields:
        ours, theirs = Model.model_fields[key], ModelSection.model_fields[key]
        assert (ours.annotation, ours.metadata, ours.default) == (theirs.annotation, theirs.metadata, theirs.default), key
