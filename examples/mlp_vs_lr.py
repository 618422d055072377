"""Lecture 6, "Multilayer Perceptron (NN) vs LR" and "We have to go deeper".

1. The lecture's question: how many parameters has the 3-4-2 network? 20 weights,
   6 biases, 26 learnable parameters, 6 neurons.
2. Two concentric circles: no straight line separates them, so logistic regression is
   at chance; an MLP whose last layer is the same logistic regression ("fancy feature
   extraction + logistic regression") separates them. Decision boundaries plotted.

    python examples/mlp_vs_lr.py [--out DIR]
"""
import argparse
from pathlib import Path

from sklearn.datasets import make_circles
from sklearn.model_selection import train_test_split

from logitkit import LogisticRegression
from logitkit.interpret import parameter_count
from logitkit.interpret.params import lecture_network
from logitkit.interpret.plots import decision_boundary_plot, loss_plot
from logitkit.predict.mlp import MLPClassifier


def main(out: Path) -> None:
    count = parameter_count(lecture_network())
    print(count)
    print(f"weights = {count.weights}, biases = {count.biases}, parameters = {count.parameters}, neurons = {count.neurons}")

    X, y = make_circles(400, noise=0.08, factor=0.45, random_state=0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    lr = LogisticRegression().fit(Xtr, ytr)
    mlp = MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", alpha=1e-3, max_iter=300).fit(Xtr, ytr)
    print(f"logistic regression: test accuracy = {lr.score(Xte, yte):.4f}")
    print(f"MLP (2-8-1) + logistic head: test accuracy = {mlp.score(Xte, yte):.4f}")
    print(f"MLP parameters = {parameter_count(mlp).parameters}")
    decision_boundary_plot(lr, X, y, out / "circles_lr.png", title="logistic regression")
    decision_boundary_plot(mlp, X, y, out / "circles_mlp.png", title="MLP + logistic head")
    loss_plot(mlp.loss_curve_, out / "mlp_loss.png", xlabel="L-BFGS iteration")
    print(f"plots written to {out}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples_out/mlp_vs_lr"))
    main(ap.parse_args().out)
