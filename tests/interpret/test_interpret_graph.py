"""graph(): the DOT text names the operations autograd recorded; rendering works without Graphviz."""
import re

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris

from logitkit import LogisticRegression
from logitkit._util.errors import DataError
from logitkit.interpret import graph, render_graph
from logitkit.predict.mlp import MLPClassifier


def _labels(dot):
    return re.findall(r'label="([^"\\]*)', dot)


def _count_nodes(fn, seen=None):
    """Independent walk of grad_fn.next_functions: number of distinct nodes."""
    seen = set() if seen is None else seen
    if fn is None or id(fn) in seen:
        return seen
    seen.add(id(fn))
    for child, _ in fn.next_functions:
        _count_nodes(child, seen)
    return seen


def test_lecture_dynamic_graph_snippet(tmp_path):
    W_h = torch.randn(20, 20, requires_grad=True)
    W_x = torch.randn(20, 10, requires_grad=True)
    x = torch.randn(1, 10)
    prev_h = torch.randn(1, 20)
    h2h = torch.mm(W_h, prev_h.t())
    i2h = torch.mm(W_x, x.t())
    loss = (h2h + i2h).tanh().sum()
    dot = graph(loss, names={"W_h": W_h, "W_x": W_x}, path=tmp_path / "g.png")
    labels = _labels(dot)
    assert sorted(labels) == sorted(["Sum", "Tanh", "Add", "Mm", "Mm", "W_h", "W_x"])
    assert len(labels) == len(_count_nodes(loss.grad_fn))
    assert dot.count("->") == 6 and dot.startswith("digraph")
    assert mpimg.imread(tmp_path / "g.png").shape[0] > 50


def test_logistic_regression_graph_has_the_softmax_nll():
    X, y = load_iris(return_X_y=True)
    dot = graph(LogisticRegression().fit(X, y), X, y)
    labels = _labels(dot)
    for op in ("Addmm", "LogSoftmax", "NllLoss", "W", "b", "Pow"):  # Pow: the L2 penalty
        assert op in labels


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mlp_graph_shows_every_layer(tmp_path):
    X, y = load_iris(return_X_y=True)
    m = MLPClassifier((5,), activation="tanh", max_iter=3).fit(X, y)
    dot = graph(m, X, y)
    labels = _labels(dot)
    assert labels.count("Addmm") == 2 and "Tanh" in labels
    leaves = [lab for lab in labels if "weight" in lab or "bias" in lab]
    assert len(leaves) == len(list(m.network_.parameters()))
    out = render_graph(dot, tmp_path / "g.svg")
    assert out.read_text().lstrip().startswith(("<?xml", "<svg"))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_errors():
    with pytest.raises(DataError, match="no autograd graph \\(grad_fn is None\\)"):
        graph(torch.ones(3).sum())
    m = MLPClassifier((2,), max_iter=1).fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(DataError, match="pass X \\(and y\\)"):
        graph(m)
