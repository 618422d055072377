"""Lecture 6, "Multiclass Classification": one-vs-rest vs softmax.

One-vs-rest fits one sigmoid per class and picks the largest; softmax (multinomial
logistic regression) fits all classes as one model. Both on iris and wine (standardised,
stratified 70/30 split), then the decision regions of each on iris' two petal features.

    python examples/multiclass.py [--out DIR]
"""
import argparse
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from logitkit import LogisticRegression
from logitkit.interpret.plots import decision_boundary_plot
from logitkit.loaddata import load_dataset

ALPHA = 1e-2  # light L2 penalty; scikit-learn's C = 1 / (alpha * n_train)


def split(name: str):
    t = load_dataset(name)
    X = np.column_stack([t.column(c).astype(float) for c in t.feature_names])
    return train_test_split(X, t.labels(), test_size=0.3, random_state=0, stratify=t.labels())


def main(out: Path) -> None:
    for name in ("iris", "wine"):
        Xtr, Xte, ytr, yte = split(name)
        scale = StandardScaler().fit(Xtr)
        Xtr, Xte = scale.transform(Xtr), scale.transform(Xte)
        for mc in ("ovr", "softmax"):
            m = LogisticRegression(alpha=ALPHA, multiclass=mc).fit(Xtr, ytr)
            p = m.predict_proba(Xte)
            logloss = -np.mean(np.log(p[np.arange(len(yte)), np.searchsorted(m.classes_, yte)]))
            print(f"{name} {mc}: test accuracy = {m.score(Xte, yte):.4f}, test log loss = {logloss:.4f}")
    t = load_dataset("iris")
    X = np.column_stack([t.column("petal_length_(cm)"), t.column("petal_width_(cm)")]).astype(float)
    y = t.labels()
    for mc in ("ovr", "softmax"):
        m = LogisticRegression(alpha=ALPHA, multiclass=mc).fit(X, y)
        path = decision_boundary_plot(m, X, y, out / f"iris_regions_{mc}.png",
                                      feature_names=("petal length (cm)", "petal width (cm)"),
                                      title=f"iris, {mc}")
        print(f"iris petals {mc}: training accuracy = {m.score(X, y):.4f}; regions in {path}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples_out/multiclass"))
    main(ap.parse_args().out)
