"""CTR with interactions: logitkit's linear, fm, ffm and deep models against Vowpal Wabbit
(-q, --lrq) and FuxiCTR (FM, DeepFM), same generated files, same run (issue 16).

    .venv/bin/python benchmarks/ctr_interactions.py                   # 1,000,000 + 250,000 rows
    .venv/bin/python benchmarks/ctr_interactions.py --rows 100000 --test-rows 25000
    .venv/bin/python benchmarks/ctr_interactions.py --systems linear,fm,vw-lrq
    .venv/bin/python benchmarks/ctr_interactions.py --systems linear,fm,deep --repeat 3   # speed: median of 3

The data: ``make_ctr`` rows (Criteo layout) whose truth has, besides one weight per
token, the pairwise interactions of ``--groups`` (each group a factorisation machine of
rank ``--rank`` over its fields, see ``make_ctr``); the truth's own test log loss is the
floor. Systems, each in its own process (its peak memory is its own):

* ``linear``, ``fm``, ``ffm`` (on the fields of the groups), ``deep`` (DeepFM): logitkit
  as a user runs it: a config (written to the work folder, ``model.options.interactions``
  none, fm, ffm or deep; FTRL on the linear part, Adagrad on the vectors, Adam on deep's
  MLP) run by ``logitkit run`` (one pass, no cache, no token sketch, no report), then
  its test file scored by ``logitkit predict``'s code (``pipeline.scorer``);
* ``vw-q``: VW with ``-q`` on every pair of fields inside a group (the pairs one would
  guess, here known); ``vw-lrq``: VW with ``--lrq`` of rank ``--dim`` on all 741 field
  pairs. VW reads its text format, one namespace per field (written once, not timed);
* ``fuxictr-fm``, ``fuxictr-deepfm``: FuxiCTR's FM and DeepFM (its layers
  ``FeatureEmbedding``, ``FactorizationMachine``, ``MLP_Block`` on its ``BaseModel``, as
  its model zoo builds them) through its own pipeline: vocabulary pass and parquet
  conversion (``build_dataset``, with Ray), training with Adam, a validation file for
  its checkpoint. It reads CSV with a header: a copy of the TSV with one (not timed).

Timed, per system, end to end from its raw file: one training pass (parse + hash or
vocabulary + learn; logitkit's: the run's ``predict`` stage, its record's timing), then
scoring the test file. Printed: one JSON line per system (test log loss and AUC by
scikit-learn from the labels and predictions, training rows/s, peak RSS of the process
and of its process tree, sampled), then a table with the ratios to ``linear`` (with
``--repeat N``: every system N times, alternating; the median speed, and the median of
each round's ratio to the linear run of that round). FuxiCTR comes with the dev extra
(``make install``); where it cannot be imported its rows say so and the rest runs. The
machine may be shared with other jobs: compare the ratios of one run, not absolute
figures across runs.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

DEFAULT_GROUPS = [["C10", "C14", "C12", "C17", "C16", "C20", "I3", "C18"]]
SYSTEMS = ["linear", "fm", "ffm", "deep", "vw-q", "vw-lrq", "fuxictr-fm", "fuxictr-deepfm"]


# ---------------------------------------------------------------------------- memory
def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Ray's workers and servers for FuxiCTR)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


class TreeMemory:
    """Samples the resident memory of this process and its descendants every 0.25 s."""

    def __enter__(self):
        self.peak_kb, self._stop = 0, threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)
        self._th.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in _tree(os.getpid())))
            self._stop.wait(0.25)

    def __exit__(self, *exc):
        self._stop.set()
        self._th.join()


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------- data
def field_namespaces() -> dict[str, str]:
    """One VW namespace per field, each with its own first character: I1..I13 -> a..m, C1..C26 -> A..Z."""
    from logitkit.loaddata.criteo import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS

    ns = {f: chr(ord("a") + i) for i, f in enumerate(NUMERIC_COLUMNS)}
    ns.update({f: chr(ord("A") + i) for i, f in enumerate(CATEGORICAL_COLUMNS)})
    return ns


def prepare(args) -> dict:
    """The generated TSVs, their VW and header-CSV twins (none of it timed), and the truth's loss."""
    from logitkit.loaddata.criteo import CRITEO_COLUMNS, write_criteo
    from logitkit.loaddata.synthetic import log_loss_of, make_ctr
    from logitkit.loaddata.vw import write_vw

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    tag = f"{args.rows}_{args.valid_rows}_{args.test_rows}_s{args.seed}_r{args.rank}_x{args.scale}_" + \
        "-".join("".join(g) for g in args.groups)
    files = {split: work / f"{split}_{tag}.tsv" for split in ("train", "valid", "test")}
    info_file = work / f"truth_{tag}.json"
    if not info_file.exists():
        table, truth = make_ctr(args.rows + args.valid_rows + args.test_rows, seed=args.seed,
                                interactions=[tuple(g) for g in args.groups], interaction_rank=args.rank,
                                interaction_scale=args.scale)
        cuts = {"train": (0, args.rows), "valid": (args.rows, args.valid_rows),
                "test": (args.rows + args.valid_rows, args.test_rows)}
        ns = field_namespaces()
        for split, (start, length) in cuts.items():
            part = table.data.slice(start, length)
            write_criteo(part, files[split])
            write_vw(part, files[split].with_suffix(".vw"), namespaces={c: [f] for f, c in ns.items()},
                     numeric="log_bucket")
            with open(files[split].with_suffix(".csv"), "wb") as out:  # FuxiCTR's reader wants a header
                out.write(("\t".join(CRITEO_COLUMNS) + "\n").encode())
                with open(files[split], "rb") as src:
                    while chunk := src.read(1 << 24):
                        out.write(chunk)
        y = table.data.column("label").to_numpy()
        s = args.rows + args.valid_rows
        info_file.write_text(json.dumps({"truth_test_log_loss": log_loss_of(y[s:], truth.prob[s:]),
                                         "test_ctr": float(y[s:].mean())}))
    return {"files": {k: str(v) for k, v in files.items()}, **json.loads(info_file.read_text())}


# ---------------------------------------------------------------------------- systems
def logitkit_config(args, files: dict, system: str) -> dict:
    """The config of a logitkit system: the same hashing, FTRL and one pass for every one."""
    options = {"optimizer": "ftrl", "l1": args.l1, "l2": args.l2, "n_passes": 1, "cache": False, "sketch_every": 0,
               "sketch_size": 0}
    batch = args.linear_batch_size
    if system != "linear":
        batch = args.batch_size
        options.update(interactions=system, embedding_dim=args.ffm_dim if system == "ffm" else args.dim,
                       embedding_learning_rate=args.emb_lr, embedding_l2=args.emb_l2, init_scale=args.init_scale)
        if system == "ffm":  # the grouped fields, in the hasher's order
            grouped = {f for g in args.groups for f in g}
            options["ffm_fields"] = [f for f in _criteo_fields() if f in grouped]
        if system == "deep":
            options.update(hidden=args.hidden, dense_learning_rate=args.dense_lr)
    return {"run": {"seed": args.seed, "device": "cpu"},
            "data": {"path": files["train"], "test_path": files["test"], "format": "criteo", "label": "label",
                     "batch_rows": args.stream_rows, "split": {"method": "none"}},
            "prep": {"hashing": {"n_bits": args.bits}},
            "model": {"kind": "hashed", "learning_rate": args.alpha, "batch_size": batch, "options": options},
            "evaluate": {"metrics": ["log_loss", "roc_auc"]},
            "interpret": {"plots": False, "report": False, "graph": False}}


def run_logitkit(args, files) -> dict:
    """``logitkit run CONFIG`` then ``logitkit predict RUN_DIR test.tsv``, in this process."""
    import shutil

    import pyarrow.csv as pacsv
    import torch
    import yaml

    from logitkit.pipeline.cli import main as cli
    from logitkit.pipeline.scorer import Scorer, score_criteo_file

    torch.set_num_threads(args.threads)
    work = Path(args.workdir) / "logitkit" / args.system
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / "config.yaml").write_text(yaml.safe_dump(logitkit_config(args, files, args.system), sort_keys=False))
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # (the command's summary; stdout carries this system's JSON)
        if cli(["run", str(work / "config.yaml"), "--out", str(work / "runs")]) != 0:
            raise RuntimeError(f"logitkit run {work / 'config.yaml'} failed")
    run_s = time.perf_counter() - t0
    run_dir = next(p for p in (work / "runs").iterdir() if not p.name.startswith("."))
    record = json.loads((run_dir / "record.json").read_text())
    t0 = time.perf_counter()
    score_criteo_file(Scorer.load(run_dir), Path(files["test"]), work / "scores.csv")
    test_s = time.perf_counter() - t0
    np.save(Path(args.workdir) / f"pred_{args.system}.npy",
            pacsv.read_csv(work / "scores.csv").column("p_1").to_numpy())
    n = args.rows
    return {"train_rows": n, "train_seconds": record["timings"]["predict"], "test_seconds": test_s,
            "run_seconds": run_s, "run_dir": str(run_dir), "record_test_log_loss": record["metrics"]["test"]["log_loss"],
            "model_stats": record.get("model_stats")}


def _criteo_fields() -> list[str]:
    from logitkit.loaddata.criteo import CRITEO_COLUMNS

    return CRITEO_COLUMNS[1:]


def run_vw(args, files) -> dict:
    import vowpalwabbit

    ns = field_namespaces()
    if args.system == "vw-q":
        pairs = [ns[f] + ns[g] for group in args.groups for f, g in combinations(group, 2)]
        inter = " ".join(f"-q {p}" for p in pairs)
    else:
        inter = " ".join(f"--lrq {a}{b}{args.dim}" for a, b in combinations(sorted(ns.values()), 2))
    model = Path(args.workdir) / f"{args.system}.model"
    opts = f"-b {args.bits} --loss_function logistic --quiet {inter} {args.vw_args}".strip()
    t0 = time.perf_counter()
    ws = vowpalwabbit.Workspace(f"-d {Path(files['train']).with_suffix('.vw')} -f {model} {opts}")
    ws.run_parser()
    n = int(ws.get_weighted_examples())
    ws.finish()
    train_s = time.perf_counter() - t0
    preds = Path(args.workdir) / f"{args.system}_preds.txt"
    t0 = time.perf_counter()
    ws = vowpalwabbit.Workspace(f"-t -i {model} -d {Path(files['test']).with_suffix('.vw')} -p {preds} "
                                "--link logistic --quiet")
    ws.run_parser()
    ws.finish()
    test_s = time.perf_counter() - t0
    np.save(Path(args.workdir) / f"pred_{args.system}.npy", np.loadtxt(preds, usecols=0))
    return {"train_rows": n, "train_seconds": train_s, "test_seconds": test_s,
            "options": opts if len(opts) < 300 else opts[:300] + " ..."}


def run_fuxictr(args, files) -> dict:
    """FuxiCTR's own pipeline: vocabulary + parquet (build_dataset), then BaseModel.fit."""
    import logging

    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    from fuxictr.datasets.criteo import CustomizedFeatureProcessor
    from fuxictr.features import FeatureMap
    from fuxictr.preprocess import build_dataset
    from fuxictr.pytorch.dataloaders import RankDataLoader
    from fuxictr.pytorch.layers import FactorizationMachine, FeatureEmbedding, MLP_Block
    from fuxictr.pytorch.models import BaseModel
    from fuxictr.pytorch.torch_utils import seed_everything

    class Model(BaseModel):
        """FM, or DeepFM with ``hidden``: embeddings -> FM (+ MLP over the flat embeddings)."""

        def __init__(self, feature_map, embedding_dim, hidden, learning_rate, **kwargs):
            super().__init__(feature_map, **kwargs)
            self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
            self.fm = FactorizationMachine(feature_map)
            self.mlp = MLP_Block(input_dim=feature_map.sum_emb_out_dim(), output_dim=1, hidden_units=hidden,
                                 hidden_activations="ReLU", output_activation=None) if hidden else None
            self.compile(kwargs["optimizer"], kwargs["loss"], learning_rate)
            self.reset_parameters()
            self.model_to_device()

        def forward(self, inputs):
            X = self.get_inputs(inputs)
            emb = self.embedding_layer(X)
            y = self.fm(X, emb)
            if self.mlp is not None:
                y = y + self.mlp(emb.flatten(start_dim=1))
            return {"y_pred": self.output_activation(y)}

    root = Path(args.workdir) / "fuxictr" / args.system
    dataset = "data"
    if root.exists():
        import shutil

        shutil.rmtree(root)
    (root / "ckpt" / dataset).mkdir(parents=True)
    csv = {k: str(Path(v).with_suffix(".csv")) for k, v in files.items()}
    numeric = [f"I{i}" for i in range(1, 14)]
    categorical = [f"C{i}" for i in range(1, 27)]
    cols = [  # FuxiCTR's Criteo recipe: counts bucketed by floor(log(x)²), categoricals as strings
        {"name": numeric, "active": True, "dtype": "float", "type": "categorical", "preprocess": "convert_to_bucket",
         "fill_na": 0},
        {"name": categorical, "active": True, "dtype": "str", "type": "categorical", "fill_na": ""},
    ]
    t0 = time.perf_counter()
    processor = CustomizedFeatureProcessor(feature_cols=cols, label_col={"name": "label", "dtype": "float"},
                                           dataset_id=dataset, data_root=str(root / "data"))
    train_p, valid_p, test_p = build_dataset(processor, train_data=csv["train"], valid_data=csv["valid"],
                                             test_data=csv["test"], data_format="csv", sep="\t",
                                             min_categr_count=1)
    prep_s = time.perf_counter() - t0
    fmap = FeatureMap(dataset, str(root / "data" / dataset))
    fmap.load(str(root / "data" / dataset / "feature_map.json"), {"embedding_dim": args.dim})
    seed_everything(args.seed)
    hidden = args.hidden if args.system == "fuxictr-deepfm" else None
    model = Model(fmap, args.dim, hidden, args.fuxictr_lr, model_id=args.system, gpu=-1, optimizer="adam",
                  loss="binary_crossentropy", metrics=["logloss", "AUC"], monitor="AUC", monitor_mode="max",
                  model_root=str(root / "ckpt"), verbose=0, embedding_regularizer=args.fuxictr_emb_reg)
    t0 = time.perf_counter()
    train_gen, valid_gen = RankDataLoader(fmap, stage="train", train_data=train_p, valid_data=valid_p,
                                          batch_size=args.fuxictr_batch, shuffle=True, data_format="parquet")
    model.fit(train_gen, validation_data=valid_gen, epochs=args.fuxictr_epochs)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    test_gen = RankDataLoader(fmap, stage="test", test_data=test_p, batch_size=8192, shuffle=False,
                              data_format="parquet")
    ys, ps = [], []
    model.eval()
    with torch.no_grad():
        for batch in test_gen:  # labels and predictions together: no reliance on the row order
            ps.append(model.forward(batch)["y_pred"].view(-1).double().numpy())
            ys.append(model.get_labels(batch).view(-1).double().numpy())
    test_s = time.perf_counter() - t0
    np.save(Path(args.workdir) / f"pred_{args.system}.npy", np.concatenate(ps))
    np.save(Path(args.workdir) / f"y_{args.system}.npy", np.concatenate(ys))
    n = train_gen.num_samples * args.fuxictr_epochs
    return {"train_rows": n, "train_seconds": prep_s + train_s, "prep_seconds": prep_s,
            "learn_seconds": train_s, "learn_rows_per_s": n / train_s, "test_seconds": test_s,
            "epochs": args.fuxictr_epochs}


def run_system(args) -> dict:
    files = json.loads(args.files)
    t = os.times()
    with TreeMemory() as mem:
        if args.system.startswith("vw-"):
            out = run_vw(args, files)
        elif args.system.startswith("fuxictr-"):
            out = run_fuxictr(args, files)
        else:
            out = run_logitkit(args, files)
    t2 = os.times()
    out.update({"system": args.system, "train_rows_per_s": out["train_rows"] / out["train_seconds"],
                "cpu_seconds": t2.user + t2.system - t.user - t.system,  # (this process: not Ray's workers)
                "peak_rss_mb": peak_mb(), "peak_tree_rss_mb": mem.peak_kb / 1024})
    return out


# ---------------------------------------------------------------------------- driver
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--test-rows", type=int, default=250_000)
    ap.add_argument("--valid-rows", type=int, default=50_000, help="FuxiCTR's validation file (its checkpoint)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--groups", type=json.loads, default=DEFAULT_GROUPS, help="interacting field groups (JSON)")
    ap.add_argument("--rank", type=int, default=4, help="rank of the truth's interactions")
    ap.add_argument("--scale", type=float, default=1.5, help="std of each group's interaction term")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, of {SYSTEMS}")
    ap.add_argument("--bits", type=int, default=20)
    ap.add_argument("--dim", type=int, default=8, help="k of fm/deep, VW's lrq rank, FuxiCTR's embedding_dim")
    ap.add_argument("--ffm-dim", type=int, default=4)
    ap.add_argument("--hidden", type=lambda s: [int(x) for x in s.split(",") if x], default=[64, 32])
    ap.add_argument("--alpha", type=float, default=0.1, help="FTRL alpha of the linear column")
    ap.add_argument("--l1", type=float, default=0.1)
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--emb-lr", type=float, default=0.05, help="Adagrad rate of the vectors")
    ap.add_argument("--emb-l2", type=float, default=0.0)
    ap.add_argument("--init-scale", type=float, default=0.01)
    ap.add_argument("--dense-lr", type=float, default=1e-3, help="Adam rate of deep's MLP")
    ap.add_argument("--batch-size", type=int, default=256, help="mini-batch of fm/ffm/deep")
    ap.add_argument("--linear-batch-size", type=int, default=1024)
    ap.add_argument("--stream-rows", type=int, default=16384)
    ap.add_argument("--threads", type=int, default=1, help="torch threads of every system")
    ap.add_argument("--vw-args", default="", help="extra VW options for both VW entries")
    ap.add_argument("--fuxictr-lr", type=float, default=3e-3, help="Adam rate (the best of 1e-3, 3e-3 here)")
    ap.add_argument("--fuxictr-batch", type=int, default=1024)
    ap.add_argument("--fuxictr-epochs", type=int, default=3, help="epochs, early-stopped on the validation file")
    ap.add_argument("--fuxictr-emb-reg", type=float, default=0.0)
    ap.add_argument("--repeat", type=int, default=1, help="rounds of every system, alternating (median speed)")
    ap.add_argument("--workdir", default=os.environ.get("TMPDIR", "/tmp") + "/logitkit_ctr_interactions")
    ap.add_argument("--system", help=argparse.SUPPRESS)
    ap.add_argument("--files", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.system:
        print(json.dumps(run_system(args)))
        return
    unknown = [x for x in args.systems.split(",") if x and x not in SYSTEMS]
    if unknown:
        ap.error(f"--systems: {', '.join(unknown)} not known; choose from {','.join(SYSTEMS)}")
    from sklearn.metrics import log_loss, roc_auc_score

    from logitkit.loaddata.criteo import stream_criteo

    data = prepare(args)
    files = data["files"]
    y = np.concatenate([b.column("label").to_numpy() for b in stream_criteo(files["test"])]).astype(np.float64)
    print(json.dumps({"data": files, "truth_test_log_loss": data["truth_test_log_loss"], "train_rows": args.rows,
                      "test_rows": args.test_rows, "load_average": os.getloadavg()[0]}))
    passthrough, skip = [], False
    for a in sys.argv[1:]:  # every option but --systems goes to the systems' processes
        if skip or a.startswith("--systems"):
            skip = a == "--systems"
            continue
        passthrough.append(a)
    results, rounds = {}, []
    for round_ in range(args.repeat):  # alternating: every system once per round
        rounds.append({})
        for system in [s for s in args.systems.split(",") if s]:
            cmd = [sys.executable, __file__, *passthrough, "--system", system, "--files", json.dumps(files)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode:
                err = proc.stderr.strip().splitlines()
                results[system] = {"system": system, "error": err[-1] if err else f"exit {proc.returncode}"}
                print(json.dumps(results[system]))
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            p = np.clip(np.load(Path(args.workdir) / f"pred_{system}.npy"), 1e-15, 1 - 1e-15)
            yy = np.load(Path(args.workdir) / f"y_{system}.npy") if system.startswith("fuxictr-") else y
            r["test_log_loss"] = log_loss(yy, p, labels=[0, 1])
            r["test_auc"] = roc_auc_score(yy, p)
            r["round"] = round_
            rounds[-1][system] = r["train_rows_per_s"]
            print(json.dumps(r))
            if system not in results or "error" in results[system]:
                results[system] = r
            else:  # the median speed of the rounds (the model is the same bits every round)
                results[system]["train_rows_per_s"] = float(np.median([x[system] for x in rounds if system in x]))
    ratios = {s: [x[s] / x["linear"] for x in rounds if s in x and "linear" in x] for s in results}
    if args.repeat > 1:
        for s, rs in ratios.items():
            print(f"# {s}: rows/s ÷ linear's of the same round: {', '.join(f'{v:.3f}' for v in rs)}")
    print(f"# truth's test log loss {data['truth_test_log_loss']:.4f}; load average {os.getloadavg()[0]:.1f} "
          "(a shared machine: compare ratios)")
    print(f"# {'system':16s} {'log loss':>9s} {'AUC':>7s} {'rows/s':>10s} {'x linear':>9s} {'learn rows/s':>13s} "
          f"{'RSS MB':>8s} {'tree MB':>8s}")
    for system, r in results.items():
        if "error" in r:
            print(f"# {system:16s} failed: {r['error']}")
            continue
        ratio = float(np.median(ratios[system])) if ratios.get(system) else float("nan")
        learn = r.get("learn_rows_per_s", r["train_rows_per_s"])
        print(f"# {system:16s} {r['test_log_loss']:9.4f} {r['test_auc']:7.4f} {r['train_rows_per_s']:10,.0f} "
              f"{ratio:9.3f} {learn:13,.0f} {r['peak_rss_mb']:8.0f} {r['peak_tree_rss_mb']:8.0f}")
    print("# rows/s: the training pass end to end from the raw file (parse + hash or FuxiCTR's vocabulary and "
          "parquet + learn); learn rows/s: FuxiCTR's training loop alone (the others: the same as rows/s)")


if __name__ == "__main__":
    main()
