"""Relative objective gap and time of logitkit's stochastic solvers (issue 3).

For scikit-learn's breast_cancer, iris, wine and digits (standardised), C in {0.1, 1},
alpha = 1/(C·n): gap = (F(fit) − F*)/F* with F* from logitkit's Newton (L2) or OWL-QN
(L1) at tol=1e-10, F recomputed from predict_proba with scikit-learn's log_loss. Peer:
scikit-learn's SGDClassifier(loss="log_loss") on the binary set (same objective).

    .venv/bin/python benchmarks/stochastic_gap.py [--quick] [--penalty l1] [--epochs 1000]
"""
import argparse
import time
import warnings

import numpy as np
import torch
from sklearn import datasets
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from logitkit import LogisticRegression

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true", help="breast_cancer and iris only")
ap.add_argument("--penalty", default="l2", choices=["l2", "l1"])
ap.add_argument("--epochs", type=int, default=100, help="max_iter (the solvers get 10x this many epochs)")
ap.add_argument("--seed", type=int, default=0)
args = ap.parse_args()
torch.set_num_threads(1)
warnings.simplefilter("ignore")


def objective(W, proba, y, classes, alpha):
    pen = 0.5 * (W * W).sum() if args.penalty == "l2" else np.abs(W).sum()
    return log_loss(y, proba, labels=classes) + alpha * pen


Xw, yw = datasets.load_iris(return_X_y=True)
LogisticRegression(solver="adam", max_iter=1).fit(Xw, yw)  # warm-up: torch.optim's first use imports ~1.5 s
names = ["breast_cancer", "iris"] if args.quick else ["breast_cancer", "iris", "wine", "digits"]
print(f"penalty={args.penalty} max_iter={args.epochs} seed={args.seed} (1 thread)")
print(f"{'data':14s} {'C':>4s} {'solver':8s} {'gap':>9s} {'wall s':>7s} {'cpu s':>6s} {'epochs':>6s}")
worst = 0.0
for name in names:
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for C in (0.1, 1.0):
        alpha = 1 / (C * len(y))
        ref = "newton" if args.penalty == "l2" else "lbfgs"
        opt = LogisticRegression(solver=ref, penalty=args.penalty, alpha=alpha, tol=1e-10, max_iter=1000).fit(X, y)
        fstar = objective(opt.coef_, opt.predict_proba(X), y, opt.classes_, alpha)
        for solver in ("sgd", "adam", "adagrad"):
            t, c = time.perf_counter(), time.process_time()
            m = LogisticRegression(solver=solver, penalty=args.penalty, alpha=alpha, max_iter=args.epochs,
                                   random_state=args.seed).fit(X, y)
            dt, dc = time.perf_counter() - t, time.process_time() - c
            gap = (objective(m.coef_, m.predict_proba(X), y, m.classes_, alpha) - fstar) / fstar
            worst = max(worst, gap)
            zeros = f"  zeros {int((m.coef_ == 0).sum())}/{int((opt.coef_ == 0).sum())}" if args.penalty == "l1" else ""
            print(f"{name:14s} {C:4.1f} {solver:8s} {gap:9.1e} {dt:7.2f} {dc:6.2f} {m.n_iter_[0]:6d}{zeros}", flush=True)
        if len(np.unique(y)) == 2:
            t, c = time.perf_counter(), time.process_time()
            sk = SGDClassifier(loss="log_loss", penalty=args.penalty, alpha=alpha, max_iter=args.epochs, tol=1e-6,
                               random_state=args.seed).fit(X, y)
            dt, dc = time.perf_counter() - t, time.process_time() - c
            gap = (objective(sk.coef_, sk.predict_proba(X), y, sk.classes_, alpha) - fstar) / fstar
            print(f"{name:14s} {C:4.1f} {'sk-SGD':8s} {gap:9.1e} {dt:7.2f} {dc:6.2f} {sk.n_iter_:6d}  (peer)", flush=True)
print(f"worst gap {worst:.1e}")
