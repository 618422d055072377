"""Lecture 6, "Logit Function -> Logistic Function", exercise: verify the odds.

With pi = 1 / (1 + exp(-w.x)), the odds pi / (1 - pi) equal exp(w.x), so the logit
log(pi / (1 - pi)) gives back w.x: logistic regression is linear regression on the logit.
Checked numerically on random w, x, and on the fitted CD/age model (the odds ratio for
one more year is exp(w_age) at every age). Plots the logistic and the logit functions.

    python examples/odds_and_logit.py [--out DIR]
"""
import argparse
from pathlib import Path

import numpy as np
import torch

from logitkit import LogisticRegression
from logitkit.interpret.plots import logit_plot
from logitkit.loaddata import load_dataset


def main(out: Path) -> None:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(1000, 5, generator=gen, dtype=torch.float64)
    w = torch.randn(5, generator=gen, dtype=torch.float64)
    z = X @ w  # w.x, values within about +-8
    pi = 1 / (1 + torch.exp(-z))
    odds = pi / (1 - pi)
    rel = ((odds - torch.exp(z)).abs() / torch.exp(z)).max().item()
    back = (torch.log(odds) - z).abs().max().item()
    print(f"max relative error |odds - exp(w.x)| / exp(w.x) = {rel:.3e}")
    print(f"max |logit(pi) - w.x| = {back:.3e}")

    t = load_dataset("cd_age")
    age, cd = t.column("age").astype(float), t.labels().astype(int)
    m = LogisticRegression(penalty=None).fit(age[:, None], cd)
    ages = np.arange(25, 80, 5, dtype=float)
    p = m.predict_proba(ages[:, None])[:, 1]
    p1 = m.predict_proba(ages[:, None] + 1)[:, 1]
    ratio = (p1 / (1 - p1)) / (p / (1 - p))
    print(f"exp(w_age) = {np.exp(m.coef_[0, 0]):.6f}")
    print(f"odds(age+1)/odds(age), min over ages = {ratio.min():.6f}")
    print(f"odds(age+1)/odds(age), max over ages = {ratio.max():.6f}")
    logit_plot(out / "logit_and_logistic.png")
    print(f"plot written to {out / 'logit_and_logistic.png'}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples_out/odds_and_logit"))
    main(ap.parse_args().out)
