"""Lecture 6, "How to Estimate w?" and "Dynamic Computational Graph".

1. The gradient of the mean negative log-likelihood of logistic regression,
       NLL(w) = -1/n sum_i [y_i log pi_i + (1 - y_i) log(1 - pi_i)],  pi_i = sigmoid(x_i . w),
   is X^T (pi - y) / n. Written by hand, then checked against autograd.
2. The same mini-batch SGD loop run twice, with the hand gradient and with
   loss.backward(): the weights agree to rounding.
3. The lecture's dynamic-graph snippet (W_h, W_x, x, prev_h), with the graph autograd
   recorded, printed as DOT and rendered.

    python examples/autograd_by_hand.py [--out DIR]
"""
import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from logitkit.interpret import graph
from logitkit.loaddata import load_dataset


def nll(w, X, y):
    return F.binary_cross_entropy_with_logits(X @ w, y)


def nll_grad_by_hand(w, X, y):
    """d NLL / d w = X^T (sigmoid(X w) - y) / n."""
    return X.T @ (torch.sigmoid(X @ w) - y) / X.shape[0]


def sgd(X, y, by_hand: bool, epochs: int = 100, lr: float = 0.5, batch: int = 8):
    gen = torch.Generator().manual_seed(0)
    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=not by_hand)
    for _ in range(epochs):
        for idx in torch.randperm(X.shape[0], generator=gen).split(batch):
            if by_hand:
                w = w - lr * nll_grad_by_hand(w, X[idx], y[idx])
            else:
                loss = nll(w, X[idx], y[idx])
                loss.backward()
                with torch.no_grad():
                    w -= lr * w.grad
                w.grad = None
    return w.detach()


def main(out: Path) -> None:
    t = load_dataset("cd_age")
    age = torch.tensor(t.column("age").astype(float))
    y = torch.tensor(t.labels().astype(float))
    X = torch.stack([torch.ones_like(age), (age - age.mean()) / age.std()], dim=1)  # [1, standardised age]

    w = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    nll(w, X, y).backward()
    diff = (w.grad - nll_grad_by_hand(w.detach(), X, y)).abs().max().item()
    print(f"max |hand gradient - autograd gradient| = {diff:.3e}")

    w_hand, w_auto = sgd(X, y, by_hand=True), sgd(X, y, by_hand=False)
    print(f"SGD weights (hand)     = {w_hand.tolist()}")
    print(f"SGD weights (autograd) = {w_auto.tolist()}")
    print(f"max |w_hand - w_auto| = {(w_hand - w_auto).abs().max().item():.3e}")

    # the lecture's snippet: the graph is created on the fly
    torch.manual_seed(0)
    W_h = torch.randn(20, 20, requires_grad=True)
    W_x = torch.randn(20, 10, requires_grad=True)
    x = torch.randn(1, 10)
    prev_h = torch.randn(1, 20)
    h2h = torch.mm(W_h, prev_h.t())
    i2h = torch.mm(W_x, x.t())
    next_h = h2h + i2h
    next_h = next_h.tanh()
    loss = next_h.sum()
    out.mkdir(parents=True, exist_ok=True)
    dot = graph(loss, names={"W_h": W_h, "W_x": W_x}, path=out / "dynamic_graph.png")
    (out / "dynamic_graph.dot").write_text(dot)
    print(dot)
    loss.backward()
    print(f"W_h.grad shape = {tuple(W_h.grad.shape)}, W_x.grad shape = {tuple(W_x.grad.shape)}")
    print(f"graph written to {out / 'dynamic_graph.png'}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples_out/autograd_by_hand"))
    main(ap.parse_args().out)
