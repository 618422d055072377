"""Plots degrade gracefully with absurd labels and values: long texts are cut, many terms
or classes give a bounded figure, and a plot that cannot be drawn is skipped with a
PlotSkippedWarning naming it (returning None) instead of raising."""
import warnings

import numpy as np
import pytest
from PIL import Image

from logitkit._util.errors import DataError
from logitkit.interpret import plots
from logitkit.interpret._figure import MAX_LABEL, PlotSkippedWarning, short

BIG = "z" * 2_000_000


def _size(path):
    with Image.open(path) as im:
        return im.size


def test_short():
    assert short("abc") == "abc"
    assert short(BIG) == "z" * (MAX_LABEL - 1) + "…"
    assert len(short("a\nb " * 100)) == MAX_LABEL


def test_odds_ratio_plot_with_a_two_megabyte_term(tmp_path):
    """It used to fail: 'Image size of 18000593x439 pixels is too large'."""
    rows = [{"term": BIG, "odds_ratio": 2.0, "odds_ratio_ci_low": 1.5, "odds_ratio_ci_high": 3.0},
            {"term": "b", "odds_ratio": 0.5, "odds_ratio_ci_low": 0.3, "odds_ratio_ci_high": 0.9}]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlotSkippedWarning)
        p = plots.odds_ratio_plot(rows, tmp_path / "or.png")
    assert max(_size(p)) < 1200


def test_odds_ratio_plot_of_many_terms_keeps_the_largest(tmp_path, monkeypatch):
    import logitkit.interpret.model_plots as mp

    rows = [{"term": f"t{i}", "odds_ratio": float(np.exp(i / 1000)), "odds_ratio_ci_low": 0.5,
             "odds_ratio_ci_high": 999.0} for i in range(5000)]
    seen = {}
    real = mp.save

    def spy(fig, path):
        ax = fig.axes[0]
        seen["terms"] = [t.get_text() for t in ax.get_yticklabels()]
        seen["title"] = ax.get_title()
        return real(fig, path)

    monkeypatch.setattr(mp, "save", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlotSkippedWarning)
        p = plots.odds_ratio_plot(rows, tmp_path / "or.png")
    assert max(_size(p)) < 2000
    assert seen["terms"] == [f"t{i}" for i in range(4999, 4959, -1)]  # the 40 largest |log OR|, first on top
    assert seen["title"] == "Odds ratios (40 of 5000 terms: the largest |log odds ratio|)"


def test_confusion_matrix_and_roc_with_long_class_names(tmp_path):
    y = np.array([0, 1, 2, 0, 1, 2])
    names = [BIG, "b", "c"]
    assert max(_size(plots.confusion_matrix_plot(y, y, tmp_path / "cm.png", labels=names))) < 1200
    P = np.random.default_rng(0).dirichlet(np.ones(3), 6)
    assert max(_size(plots.roc_plot(y, P, tmp_path / "roc.png", classes=names))) < 1200
    assert max(_size(plots.dot_plot([1, 2], [0, 1], tmp_path / "dot.png", xlabel=BIG, ylabel=BIG))) < 1200


def test_confusion_matrix_of_300_classes_is_bounded(tmp_path):
    y = np.arange(300).repeat(2)
    assert max(_size(plots.confusion_matrix_plot(y, y, tmp_path / "cm.png"))) < 2000


def test_plot_that_cannot_be_drawn_is_skipped(tmp_path):
    with pytest.warns(PlotSkippedWarning, match=r"^dot\.png skipped: ValueError: "):
        out = plots.dot_plot([1e308, -1e308, np.inf], [0, 1, 1], tmp_path / "dot.png")
    assert out is None and not (tmp_path / "dot.png").exists()
    from logitkit.interpret._figure import plt

    assert plt.get_fignums() == []  # the half-drawn figure was closed


def test_misuse_is_still_an_error(tmp_path):
    with pytest.raises(DataError, match="calibration_plot is for two classes"):
        plots.calibration_plot([0, 1, 2], [0.1, 0.2, 0.3], tmp_path / "c.png")
