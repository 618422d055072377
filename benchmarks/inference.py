"""Unpenalised fit plus model-based and HC0 standard errors, and average marginal effects
with delta-method standard errors: logitkit against statsmodels ``Logit`` on the same
data, in the same run, with the ratio and the agreement.

    python benchmarks/inference.py            # 1,000,000 x 50
    python benchmarks/inference.py --quick    # 100,000 x 20

Both are first run once on small data (imports, thread pools, first-call set-up), then
each measurement is the best of ``--repeats`` runs (default 2) of the whole job: fit,
covariance, the coefficient table and the model statistics.

Average marginal effects (``Summary.marginal_effects()`` against ``get_margeff()``, each
on its own fitted model, fit not timed): statsmodels differentiates the n × k row
effects by complex step, holding k·n·k complex numbers (41 GB at 1,000,000 × 50), so it
runs on the first ``--margins-peer-rows`` rows (default 100,000: 4 GB), logitkit on the
same rows for the ratio, and logitkit alone on all n rows.
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


def best_of(fn, repeats: int):
    best = None
    for _ in range(repeats):
        out, seconds = timed(fn)
        best = (out, seconds) if best is None or seconds < best[1] else best
    return best


def run(n: int, d: int, repeats: int = 2) -> dict:
    Xw, yw = make_data(2000, 5, seed=1)  # warm-up: first-call costs are not what is compared
    summary(logitkit.LogisticRegression(penalty=None, solver="newton").fit(Xw, yw), Xw, yw)
    sm.Logit(yw, sm.add_constant(Xw)).fit(disp=0, method="newton")
    X, y = make_data(n, d)
    Xc = sm.add_constant(X, prepend=False)
    out = {"case": f"{n}x{d}"}
    for cov in ("nonrobust", "HC0"):
        def ours():
            m = logitkit.LogisticRegression(penalty=None, solver="newton", tol=1e-8).fit(X, y)
            return summary(m, X, y, cov_type=cov)

        def theirs():
            return sm.Logit(y, Xc).fit(disp=0, method="newton", tol=1e-8, cov_type=cov)

        s, t_lk = best_of(ours, repeats)
        r, t_sm = best_of(theirs, repeats)
        se_rel = float(np.max(np.abs(s.column("std_err") / np.asarray(r.bse) - 1)))
        coef_rel = float(np.max(np.abs(s.column("coef") - np.asarray(r.params)) / np.abs(np.asarray(r.bse))))
        out[cov] = {"logitkit_s": round(t_lk, 3), "statsmodels_s": round(t_sm, 3),
                    "speedup": round(t_sm / t_lk, 2), "max_rel_diff_std_err": se_rel,
                    "max_coef_diff_in_std_errs": coef_rel}
    return out


def run_margins(n: int, d: int, n_peer: int, repeats: int = 2) -> dict:
    """Average marginal effects (dydx) with delta-method standard errors."""
    X, y = make_data(n, d)
    n_peer = min(n, n_peer)

    def fitted(rows):
        m = logitkit.LogisticRegression(penalty=None, solver="newton", tol=1e-8).fit(X[:rows], y[:rows])
        return summary(m, X[:rows], y[:rows])

    Xw, yw = make_data(2000, 5, seed=1)  # warm-up
    fitted(2000).marginal_effects()
    sm.Logit(yw, sm.add_constant(Xw)).fit(disp=0).get_margeff()
    s_all = fitted(n)
    _, t_all = best_of(s_all.marginal_effects, repeats)
    s_peer = fitted(n_peer)
    ours, t_lk = best_of(s_peer.marginal_effects, repeats)
    r = sm.Logit(y[:n_peer], sm.add_constant(X[:n_peer], prepend=False)).fit(disp=0, method="newton", tol=1e-8)
    theirs, t_sm = best_of(r.get_margeff, 1)  # once: it takes minutes
    return {"case": f"{n}x{d}", "logitkit_all_rows_s": round(t_all, 3), "peer_rows": n_peer,
            "logitkit_s": round(t_lk, 3), "statsmodels_s": round(t_sm, 3), "speedup": round(t_sm / t_lk, 1),
            "max_abs_diff_effect": float(np.max(np.abs(ours.effect[0] - theirs.margeff))),
            "max_rel_diff_std_err": float(np.max(np.abs(ours.std_err[0] / theirs.margeff_se - 1)))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=2, help="best of this many runs for each side")
    ap.add_argument("--margins-peer-rows", type=int, default=100_000,
                    help="rows statsmodels' get_margeff runs on (its memory grows as rows x (d + 1)^2)")
    ap.add_argument("--only", choices=["fit", "margins"], help="run one of the two comparisons")
    args = ap.parse_args()
    n, d = (100_000, 20) if args.quick else (1_000_000, 50)
    if args.only != "fit":
        me = run_margins(n, d, args.margins_peer_rows, args.repeats)
        print(json.dumps({"margins": me}))
        print(f"# average marginal effects with SEs: logitkit {me['logitkit_all_rows_s']:.2f} s on {me['case']}; "
              f"on the first {me['peer_rows']:,} rows logitkit {me['logitkit_s']:.3f} s, statsmodels get_margeff "
              f"{me['statsmodels_s']:.1f} s, speed-up {me['speedup']:.0f}x, max rel. diff of std. errors "
              f"{me['max_rel_diff_std_err']:.1e}")
        if args.only == "margins":
            return
    out = run(n, d, args.repeats)
    print(json.dumps(out))
    for cov in ("nonrobust", "HC0"):
        o = out[cov]
        print(f"# {out['case']} {cov}: logitkit {o['logitkit_s']:.2f} s, statsmodels {o['statsmodels_s']:.2f} s, "
              f"speed-up {o['speedup']:.1f}x, max rel. diff of std. errors {o['max_rel_diff_std_err']:.1e}")


if __name__ == "__main__":
    main()
