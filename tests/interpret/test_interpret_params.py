"""parameter_count: the lecture's 3-4-2 network, and sum(p.numel()) as the oracle."""
import numpy as np
import pytest
from torch import nn

from logitkit import LogisticRegression
from logitkit.embed import MLPEncoder
from logitkit.interpret import parameter_count
from logitkit.interpret.params import lecture_network
from logitkit.predict.head import LogisticHead
from logitkit.predict.mlp import MLPClassifier


def test_lecture_3_4_2_network():
    c = parameter_count(lecture_network())
    assert (c.weights, c.biases, c.parameters, c.neurons) == (20, 6, 26, 6)
    assert [(r.weights, r.biases, r.neurons) for r in c.layers] == [(12, 4, 4), (8, 2, 2)]
    assert "26" in str(c) and c.as_rows()[-1]["parameters"] == 26


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_matches_numel_for_encoders_heads_and_estimators():
    net = nn.Sequential(MLPEncoder(7, (5, 3), batch_norm=True, dropout=0.1), LogisticHead(3, 4))
    c = parameter_count(net)
    assert c.parameters == sum(p.numel() for p in net.parameters())
    assert c.neurons == 5 + 3 + 4
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 2
    m = MLPClassifier((4,), max_iter=3).fit(X, y)
    assert parameter_count(m).parameters == sum(p.numel() for p in m.network_.parameters()) == 3 * 4 + 4 + 4 + 1
    lr = LogisticRegression().fit(X, y)
    assert parameter_count(lr).parameters == lr.coef_.size + lr.intercept_.size


def test_frozen_parameters_do_not_count():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    net[0].weight.requires_grad_(False)
    assert parameter_count(net).parameters == sum(p.numel() for p in net.parameters() if p.requires_grad) == 9
