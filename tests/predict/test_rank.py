"""Rank deficiency of a design (``predict.rank``): which columns are aliased, as R's
lm/glm name them, and an unpenalised fit that leaves them out (R's NA coefficients)."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import torch

import logitkit
from logitkit.predict.design import Design
from logitkit.predict.rank import AliasedColumnsWarning, aliased_columns, aliasing


def _design(X):
    return Design.from_array(np.asarray(X, dtype=float), torch.float64, torch.device("cpu"))


def _X(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3))


def test_duplicate_constant_and_combination_columns_are_named_in_order():
    X = _X()
    D = np.column_stack([X, X[:, 1], np.full(len(X), 7.0), X[:, 0] - 2 * X[:, 2] + 3, np.zeros(len(X))])
    assert aliased_columns(_design(D), True).tolist() == [False, False, False, True, True, True, True]
    # without an intercept the constant column is a column like any other, and x0 - 2 x2 + 3 a combination of it
    assert aliased_columns(_design(D), False).tolist() == [False, False, False, True, False, True, True]


def test_full_one_hot_next_to_the_intercept_aliases_the_last_level_and_involves_the_intercept():
    levels = np.random.default_rng(1).integers(0, 4, 200)
    H = np.eye(4)[levels]
    al = aliasing(_design(np.column_stack([_X(200)[:, 0], H])), True)
    assert al.aliased.tolist() == [False, False, False, False, True]
    assert al.involved.tolist() == [False, True, True, True, False] and al.intercept
    assert not aliased_columns(_design(H), False).any()  # no intercept: every level is identified


def test_the_test_ignores_shift_and_scale_and_keeps_nearly_collinear_columns():
    X = _X()
    near = X[:, 0] + 1e-4 * np.random.default_rng(2).standard_normal(len(X))
    D = np.column_stack([1e6 + X[:, 0], 1e-8 * X[:, 1], near])
    assert not aliased_columns(_design(D), True).any()
    assert aliased_columns(_design(np.column_stack([D, 5e3 * X[:, 1] + 2])), True).tolist() == [False] * 3 + [True]


def test_unpenalised_fit_leaves_aliased_columns_out_like_r():
    X = _X(500)
    y = (np.random.default_rng(3).random(500) < 1 / (1 + np.exp(-X @ [1.0, -0.5, 0.3]))).astype(int)
    df = pd.DataFrame(np.column_stack([X, X[:, 1]]), columns=["a", "b", "c", "b_copy"])
    with pytest.warns(AliasedColumnsWarning, match=r"1 column \('b_copy'\) is a linear combination of the intercept "
                                                   r"and earlier columns \(aliased, tolerance 1e-7\)"):
        m = logitkit.LogisticRegression(penalty=None, tol=1e-10).fit(df, y)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    assert m.aliased_.tolist() == [False, False, False, True] and m.coef_[0, 3] == 0
    np.testing.assert_allclose(m.coef_[0, :3], ref.params[1:], atol=1e-7)
    np.testing.assert_allclose(m.intercept_[0], ref.params[0], atol=1e-7)
    # a penalised fit keeps every column (the penalty makes its solution unique)
    ridge = logitkit.LogisticRegression(penalty="l2", alpha=1e-2).fit(df, y)
    assert not ridge.aliased_.any() and ridge.coef_[0, 3] != 0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_the_grams_shortcut_decides_as_the_qr_test_or_leaves_it_to_it(seed, fit_intercept, monkeypatch):
    """``_clearly_identified`` (one Gram sweep) only ever says "no aliased column" where
    the QR test says so too; near-collinear, constant and badly centred designs go to QR."""
    import logitkit.predict.rank as rank

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((500, 6)) * rng.uniform(0.1, 10, 6) + rng.uniform(-3, 3, 6)
    cases = {
        "well posed": X,
        "duplicate": np.column_stack([X, X[:, 2]]),
        "near (1e-9)": np.column_stack([X, X[:, 0] + X[:, 1] + 1e-9 * rng.standard_normal(500)]),
        "near (1e-6)": np.column_stack([X, X[:, 0] - X[:, 3] + 1e-6 * rng.standard_normal(500)]),
        "one-hot": np.column_stack([X, np.eye(3)[rng.integers(0, 3, 500)]]),
        "large mean": np.column_stack([X, 1e6 + rng.standard_normal(500)]),
        "constant": np.column_stack([X, np.full(500, 2.5)]),
    }
    decided = {}
    for name, D in cases.items():
        design = _design(D)
        decided[name] = rank._clearly_identified(design, fit_intercept, rank.LOCAL, None)
        fast = aliasing(design, fit_intercept)
        with monkeypatch.context() as m:
            m.setattr(rank, "_clearly_identified", lambda *a: False)
            exact = aliasing(design, fit_intercept)
        assert fast.aliased.tolist() == exact.aliased.tolist(), name
        assert fast.involved.tolist() == exact.involved.tolist() and fast.intercept == exact.intercept, name
        if decided[name]:
            assert not exact.aliased.any(), name
    assert decided["well posed"]  # (the shortcut is taken where it can be)
    assert not decided["near (1e-9)"] and not decided["near (1e-6)"] and not decided["duplicate"]
    assert not decided["large mean"] or not fit_intercept
