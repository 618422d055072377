"""The bases pass scikit-learn's estimator checks (clone, pickling, fit/transform contract, input errors)."""
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from logitkit.embed import IdentityBasis, PolynomialBasis, RandomFourierFeatures, RBFBasis


@parametrize_with_checks([IdentityBasis(), PolynomialBasis(), RBFBasis(n_centres=3), RandomFourierFeatures(10)])
@pytest.mark.filterwarnings("ignore")
def test_sklearn_compatible(estimator, check):
    check(estimator)
