"""Every plot writes a decodable PNG; the numbers behind them match scikit-learn."""
import matplotlib.image as mpimg
import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer, load_iris

from logitkit import LogisticRegression
from logitkit._util.errors import DataError
from logitkit.interpret import plots
from logitkit.interpret.diagnostics import calibration_bins


@pytest.fixture(scope="module")
def fitted():
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    X = X[:, :2]
    m = LogisticRegression().fit(X, y)
    return m, X, y


def _png(path):
    assert path.suffix == ".png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    assert img.shape[0] > 100 and img.shape[1] > 100
    return img


def test_every_plot_writes_a_png(tmp_path, fitted):
    m, X, y = fitted
    p = m.predict_proba(X)
    a = np.logspace(-3, 1, 6)
    paths = [
        plots.dot_plot(X[:, 0], y, tmp_path / "dot.png"),
        plots.prevalence_plot(X[:, 0], y, np.linspace(-3, 3, 7), lambda g: 1 / (1 + np.exp(-g)), tmp_path / "prev.png"),
        plots.logit_plot(tmp_path / "logit.png"),
        plots.roc_plot(y, p, tmp_path / "roc.png"),
        plots.pr_plot(y, m.decision_function(X), tmp_path / "pr.png"),
        plots.calibration_plot(y, p, tmp_path / "cal.png"),
        plots.confusion_matrix_plot(y, m.predict(X), tmp_path / "cm.png", normalize="true"),
        plots.odds_ratio_plot([{"term": "intercept", "odds_ratio": 1.0, "odds_ratio_ci_low": 0.5, "odds_ratio_ci_high": 2.0},
                               {"term": "age", "odds_ratio": 1.1, "odds_ratio_ci_low": 1.05, "odds_ratio_ci_high": 1.2}],
                              tmp_path / "or.png"),
        plots.loss_plot(m.loss_curve_, tmp_path / "loss.png", validation_loss=m.loss_curve_, best_iteration=2),
        plots.regularisation_path_plot(a, [LogisticRegression(alpha=v).fit(X, y).coef_ for v in a], tmp_path / "path.png",
                                       feature_names=["x1", "x2"]),
        plots.cv_curve_plot(a, np.linspace(0.8, 0.9, 6), tmp_path / "cv.png", std_score=np.full(6, 0.01), best_alpha=a[2]),
        plots.decision_boundary_plot(m, X, y, tmp_path / "db.png", resolution=60),
    ]
    for path in paths:
        _png(path)


def test_multiclass_curves_and_regions(tmp_path):
    X, y = load_iris(return_X_y=True)
    m = LogisticRegression().fit(X[:, 2:], y)
    _png(plots.roc_plot(y, m.predict_proba(X[:, 2:]), tmp_path / "roc.png"))
    _png(plots.decision_boundary_plot(m, X[:, 2:], y, tmp_path / "db.png", resolution=50))


def test_calibration_bins_match_sklearn(fitted):
    m, X, y = fitted
    p = m.predict_proba(X)[:, 1]
    rows = calibration_bins(y, p, n_bins=8)
    true, pred = calibration_curve(y, p, n_bins=8, strategy="uniform")
    np.testing.assert_allclose([r["observed"] for r in rows], true)
    np.testing.assert_allclose([r["mean_predicted"] for r in rows], pred)


def test_errors_say_what_to_do(tmp_path):
    with pytest.raises(DataError, match="odds_ratio_plot needs rows with columns .*missing \\['odds_ratio_ci_low'"):
        plots.odds_ratio_plot([{"term": "a", "odds_ratio": 1.0}], tmp_path / "x.png")
    with pytest.raises(DataError, match="needs exactly two features, X has shape \\(4, 3\\)"):
        plots.decision_boundary_plot(lambda Z: Z, np.zeros((4, 3)), np.zeros(4), tmp_path / "x.png")
    with pytest.raises(DataError, match="a 1-D score needs two classes in y_true, found 3"):
        plots.roc_plot([0, 1, 2], [0.1, 0.2, 0.3], tmp_path / "x.png")
    with pytest.raises(DataError, match="calibration_plot is for two classes"):
        plots.calibration_plot([0, 1, 2], [0.1, 0.2, 0.3], tmp_path / "x.png")


def test_classifier_plots_picks_what_applies(tmp_path, fitted):
    from logitkit.interpret import classifier_plots

    m, X, y = fitted
    rows = [{"term": "a", "odds_ratio": 2.0, "odds_ratio_ci_low": 1.5, "odds_ratio_ci_high": 2.5}]
    names = {p.name for p in classifier_plots(m, X, y, tmp_path, coefficients=rows)}
    assert names == {"confusion.png", "roc.png", "pr.png", "calibration.png", "loss_curve.png",
                     "odds_ratios.png", "decision_boundary.png"}
    Xi, yi = load_iris(return_X_y=True)
    mi = LogisticRegression(solver="lbfgs").fit(Xi, yi)
    paths = classifier_plots(mi, Xi, yi, tmp_path / "iris", prefix="test_")
    assert {p.name for p in paths} == {"test_confusion.png", "test_roc.png", "test_pr.png", "test_loss_curve.png"}
    for p in paths:
        _png(p)


def test_class_indices_are_accepted_for_labels(tmp_path):
    from logitkit.interpret.diagnostics import as_class_values

    names = np.array(["setosa", "versicolor", "virginica"])
    idx = np.array([0, 2, 1, 1])
    assert list(as_class_values(idx, names)) == ["setosa", "virginica", "versicolor", "versicolor"]
    assert list(as_class_values(names[idx], names)) == list(names[idx])
    P = np.eye(3)[[0, 2, 1, 0]] * 0.8 + 0.2 / 3
    _png(plots.roc_plot(idx, P, tmp_path / "roc.png", classes=names))
    _png(plots.confusion_matrix_plot(idx, P.argmax(1), tmp_path / "cm.png", labels=names))
    with pytest.raises(DataError, match="y_true has values \\['rose'\\] that are not in classes"):
        as_class_values(np.array(["rose"]), names)


def test_prediction_plots_from_labels_and_probabilities(tmp_path):
    """What a run draws from the gathered labels and probabilities: the standard names;
    odds ratios only with intervals; ROC, PR and calibration only with both classes."""
    from logitkit.interpret import prediction_plots

    classes = np.array(["no", "yes"])
    y = np.array(["no", "yes", "yes", "no", "yes"])
    P = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4], [0.1, 0.9]])
    no_ci = [{"term": "a", "odds_ratio": 2.0, "odds_ratio_ci_low": None, "odds_ratio_ci_high": None}]
    paths = prediction_plots(y, P, classes, tmp_path, loss_curve=[0.7, 0.5], coefficients=no_ci, split="test")
    assert {p.name for p in paths} == {"confusion.png", "roc.png", "pr.png", "calibration.png", "loss_curve.png"}
    for p in paths:
        _png(p)
    one = prediction_plots(np.array([1, 1]), P[:2], classes, tmp_path / "one")  # class indices, one class
    assert [p.name for p in one] == ["confusion.png"]
    with pytest.raises(DataError, match=r"y_true has values \['maybe'\] that are not in classes"):
        prediction_plots(np.array(["maybe", "no"]), P[:2], classes, tmp_path / "bad")
