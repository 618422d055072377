"""Unpenalised fit plus model-based and HC0 standard errors: logitkit against statsmodels
``Logit`` on the same data, in the same run, with the ratio and the agreement.

    python benchmarks/inference.py            # 1,000,000 x 50
    python benchmarks/inference.py --quick    # 100,000 x 20
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import statsmodels.api as sm

sys.path.insert(0, str(Path(__file__).parent))
from _common import timed  # noqa: E402

import logitkit  # noqa: E402
from logitkit.evaluate import summary  # noqa: E402


def make_data(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.normal(0, 0.5 / np.sqrt(d), d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w - 0.5)))).astype(float)
    return X, y


def run(n: int, d: int) -> dict:
    X, y = make_data(n, d)
    Xc = sm.add_constant(X, prepend=False)
    out = {"case": f"{n}x{d}"}
    for cov in ("nonrobust", "HC0"):
        def ours():
            m = logitkit.LogisticRegression(penalty=None, solver="newton", tol=1e-8).fit(X, y)
            return summary(m, X, y, cov_type=cov)

        def theirs():
            return sm.Logit(y, Xc).fit(disp=0, method="newton", tol=1e-8, cov_type=cov)

        s, t_lk = timed(ours)
        r, t_sm = timed(theirs)
        se_rel = float(np.max(np.abs(s.column("std_err") / np.asarray(r.bse) - 1)))
        coef_rel = float(np.max(np.abs(s.column("coef") - np.asarray(r.params)) / np.abs(np.asarray(r.bse))))
        out[cov] = {"logitkit_s": round(t_lk, 3), "statsmodels_s": round(t_sm, 3),
                    "speedup": round(t_sm / t_lk, 2), "max_rel_diff_std_err": se_rel,
                    "max_coef_diff_in_std_errs": coef_rel}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, d = (100_000, 20) if args.quick else (1_000_000, 50)
    out = run(n, d)
    print(json.dumps(out))
    for cov in ("nonrobust", "HC0"):
        o = out[cov]
        print(f"# {out['case']} {cov}: logitkit {o['logitkit_s']:.2f} s, statsmodels {o['statsmodels_s']:.2f} s, "
              f"speed-up {o['speedup']:.1f}x, max rel. diff of std. errors {o['max_rel_diff_std_err']:.1e}")


if __name__ == "__main__":
    main()
