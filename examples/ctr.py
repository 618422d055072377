"""Lecture 6, "To click or not to click": click-through-rate prediction.

A generated file in Criteo's layout (label, 13 counts I1..I13, 26 hashed categories
C1..C26, tab-separated, with a known logistic truth) goes through the CTR path: the file
is streamed in batches, every field=value is hashed into 2^18 buckets, and a
HashedLogisticRegression (FTRL-Proximal) learns in one pass. Its held-out log loss is
compared with that of the true click probabilities (the floor) and of the base rate.

    python examples/ctr.py [--out DIR] [--rows N]
"""
import argparse
from pathlib import Path

import numpy as np

# the CTR path, stage by stage: read (loaddata), hash (prepdata), learn (predict), score (evaluate)
from logitkit.evaluate import AUC, evaluate_stream
from logitkit.loaddata import CTRStream, make_ctr, write_criteo
from logitkit.loaddata.synthetic import log_loss_of
from logitkit.predict import HashedLogisticRegression
from logitkit.prepdata import FeatureHasher


def main(out: Path, rows: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    n_test = rows // 5
    table, truth = make_ctr(rows + n_test, seed=7, max_cardinality=500, weight_scale=0.4)
    train = write_criteo(table.data.slice(0, rows), out / "train.tsv")
    test = write_criteo(table.data.slice(rows), out / "test.tsv")
    print(f"wrote {rows} training and {n_test} test rows in Criteo layout to {out}")
    print("first line:", train.read_text().split("\n", 1)[0][:100], "...")

    hasher = FeatureHasher(n_bits=18)
    model = HashedLogisticRegression(n_bits=18, learning_rate=0.1, l1=0.1, l2=1.0, batch_size=512)
    model.fit(CTRStream(train, hasher, batch_rows=10_000))
    auc = AUC()  # streaming ROC-AUC, one batch in memory
    got = evaluate_stream(model, CTRStream(test, hasher, sketch_every=0), [auc])
    y = table.data.column("label").to_numpy()[rows:].astype(float)
    floor = log_loss_of(y, truth.prob[rows:])
    base = log_loss_of(y, np.full_like(y, y.mean()))
    print(f"test click rate = {got['mean_y']:.4f}, mean predicted = {got['mean_p']:.4f}")
    print(f"test log loss: hashed model = {got['log_loss']:.4f}, true probabilities = {floor:.4f}, "
          f"base rate = {base:.4f}")
    print(f"test AUC = {auc.result():.4f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("examples_out/ctr"))
    ap.add_argument("--rows", type=int, default=40_000)
    args = ap.parse_args()
    main(args.out, args.rows)
