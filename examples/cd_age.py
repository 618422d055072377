"""Lecture 6, slides "A Binary Classification Problem" to "Logistic Function".

Table 1 (age and signs of coronary heart disease, 33 patients) -> Table 2 (prevalence
per age group) -> the fitted sigmoid P(CD = 1 | age) and the odds ratio per year.

    python examples/cd_age.py [--out DIR]
"""
import argparse
from pathlib import Path

import numpy as np

from logitkit import LogisticRegression
from logitkit.evaluate import summary
from logitkit.interpret import format_table, grouped_prevalence
from logitkit.interpret.plots import dot_plot, prevalence_plot
from logitkit.loaddata import load_dataset


def main(out: Path) -> None:
    table = load_dataset("cd_age")
    age, cd = table.column("age").astype(float), table.labels().astype(int)
    print(f"Table 1: {table.n_rows} patients, {cd.sum()} with signs of CD, ages {age.min():g}-{age.max():g}")

    rows = grouped_prevalence(age, cd, np.arange(20, 100, 10))
    print("\nTable 2: prevalence (%) of signs of CD by age group")
    print(format_table(rows, [("group", "age group", ""), ("n", "# in group", "d"),
                              ("positive", "# diseased", "d"), ("percent", "%", ".0f")]))

    # maximum likelihood (no penalty): logit(pi) = w0 + w1 * age
    model = LogisticRegression(penalty=None).fit(age[:, None], cd)
    w0, w1 = float(model.intercept_[0]), float(model.coef_[0, 0])
    print(f"\nintercept = {w0:.6f}")
    print(f"coef_age = {w1:.6f}")
    print(f"odds_ratio_per_year = {np.exp(w1):.6f}")
    print(f"odds_ratio_per_decade = {np.exp(10 * w1):.6f}")
    print(f"age_at_p50 = {-w0 / w1:.4f}")
    for a in (30, 50, 70):
        print(f"P(CD | age={a}) = {model.predict_proba([[a]])[0, 1]:.4f}")
    s = summary(model, age[:, None], cd)  # standard errors and CIs come from the evaluate stage
    r = next(r for r in s.rows if r["term"] != "intercept")
    print(f"odds_ratio_95ci = [{r['odds_ratio_ci_low']:.4f}, {r['odds_ratio_ci_high']:.4f}]")

    dot_plot(age, cd, out / "dot_plot.png", xlabel="age", ylabel="CD")
    proba = lambda g: model.predict_proba(np.asarray(g)[:, None])[:, 1]  # noqa: E731
    prevalence_plot(age, cd, np.arange(20, 100, 10), proba, out / "prevalence_sigmoid.png", xlabel="age")
    print(f"\nplots written to {out}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples_out/cd_age"))
    main(ap.parse_args().out)
