"""The one scoring path (``pipeline.scorer.Scorer``) and ``logitkit predict`` for hashed runs."""
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import torch

from logitkit._util.rowstable import row_stable
from logitkit.pipeline.cli import main
from logitkit.pipeline.scorer import Scorer
from logitkit.pipeline.scoring import score_file


def chunks(n, seed):
    rng = np.random.default_rng(seed)
    i = 0
    while i < n:
        k = int(rng.integers(1, 40))
        yield i, min(n, i + k)
        i += k


def test_row_stable_products_and_links_do_not_depend_on_the_other_rows():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2000, 29, generator=g, dtype=torch.float64)
    W = torch.randn(3, 29, generator=g, dtype=torch.float64)
    net = torch.nn.Sequential(torch.nn.Linear(29, 8, dtype=torch.float64), torch.nn.GELU(),
                              torch.nn.Linear(8, 1, dtype=torch.float64), torch.nn.Sigmoid())
    fns = {"mm": lambda A: A @ W.T, "mv": lambda A: A @ W[0], "mlp": net, "cdist": lambda A: torch.cdist(A, W),
           "sigmoid": lambda A: torch.sigmoid(3 * A[:, 0])}
    with row_stable():
        for name, f in fns.items():
            whole = f(X)
            np.testing.assert_allclose(whole.numpy(), f(X).numpy())
            for a, b in chunks(len(X), 1):
                assert torch.equal(f(X[a:b].clone()), whole[a:b]), (name, a, b)
    plain = X @ W.T  # same values as BLAS, up to rounding
    with row_stable():
        np.testing.assert_allclose((X @ W.T).numpy(), plain.numpy(), rtol=1e-12, atol=1e-13)


def test_dense_scorer_gives_each_row_the_same_bits_alone_or_in_any_batch(runs):
    scorer = Scorer.load(runs["dense"])
    assert scorer.kind == "dense" and [(i.name, i.datatype) for i in scorer.inputs] == [
        ("x1", "FP64"), ("x2", "FP64"), ("color", "BYTES")]
    data = pacsv.read_csv(runs["folder"] / "score.csv")
    whole = scorer.proba(data)
    for a, b in chunks(data.num_rows, 2):
        assert np.array_equal(scorer.proba(data.slice(a, b - a)), whole[a:b])
    # the same model as the run's estimator computes it (BLAS), up to rounding
    from logitkit.pipeline.modelio import load_model
    from logitkit.prepdata import Preprocessor
    from logitkit.loaddata import Table

    model, prep, _ = load_model(runs["dense"] / "model")
    X = Preprocessor.from_json(prep).transform(Table(data, label=None))
    np.testing.assert_allclose(whole, model.predict_proba(X), rtol=1e-12)


def test_scorer_inputs_from_requests_are_the_readers_types(runs):
    scorer = Scorer.load(runs["dense"])
    t = scorer.table({"x1": np.array([0.5, 1.0]), "x2": [b"2.5", b""], "color": np.array([b"red", b"purple"], object)})
    assert t.column("x2").to_pylist() == [2.5, None] and t.schema.field("color").type == pa.string()
    p = scorer.proba(t)  # x2 missing -> imputed; 'purple' unseen -> all-zero one-hot (prep.unknown: ignore)
    assert p.shape == (2, 2) and np.isfinite(p).all()
    bad = [({"x1": [1.0], "x2": [1.0]}, r"input 'color' is missing; run \w+ reads \['x1', 'x2', 'color'\]"),
           ({"x1": [1.0], "x2": [1.0], "colour": [b"red"]}, r"'colour' is not an input of run \w+.*Did you mean 'color'\?"),
           ({"x1": [1.0, 2.0], "x2": [1.0], "color": [b"red"]}, r"input 'x2' has 1 rows but 'x1' has 2"),
           ({"x1": [b"1.5", b"abc"], "x2": [1.0, 2.0], "color": [b"red", b"red"]}, r"input 'x1' row 2: 'abc' is not a number")]
    for cols, msg in bad:
        with pytest.raises(Exception, match=msg):
            scorer.table(cols)
    hashed = Scorer.load(runs["hashed"])
    cols = {i.name: [b"1"] if i.kind == "count" else [b"68fd1e64"] for i in hashed.inputs}
    cols["I3"] = np.array([2.5])
    with pytest.raises(Exception, match=r"input 'I3' row 1: 2\.5 is not a whole number; the run reads this Criteo field"):
        hashed.table(cols)
    cols["I3"] = [b"x7"]
    with pytest.raises(Exception, match=r"input 'I3' row 1: 'x7' is not a whole number \(a Criteo count\)"):
        hashed.table(cols)


def _run_test_scoring(run_dir):
    """The p of the run's own test scoring: its test stream, scored as the run scores it
    (``evaluate_stream``, row-stable)."""
    import json
    from pathlib import Path

    import yaml
    from logitkit.evaluate import evaluate_stream
    from logitkit.loaddata import CTRStream
    from logitkit.predict.online import load_hashed
    from logitkit.prepdata.hashing import FeatureHasher

    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    hasher = FeatureHasher.from_json(json.loads((run_dir / "record.json").read_text())["ctr"]["hasher"])
    model = load_hashed(str(run_dir / "model"))
    test_path = Path(json.loads((run_dir / "record.json").read_text())["config_dir"]) / cfg["data"]["test_path"]
    stream = CTRStream(str(test_path), hasher, batch_rows=cfg["data"]["batch_rows"], sketch_every=0,
                       prefetch=False, dense=cfg["model"]["options"].get("dense"))
    got = []

    class Keep:
        def update(self, y, p):
            got.append(p)

    evaluate_stream(model, stream, [Keep()])
    return np.concatenate(got)


@pytest.mark.parametrize("key", ["hashed", "hashed_dense", "hashed_fm", "hashed_deep"])
def test_hashed_predict_gives_the_runs_test_scores_streamed(runs, key, tmp_path, capsys):
    test = runs["folder"] / "ctr_test.tsv"
    out = tmp_path / "scores.csv"
    assert main(["predict", str(runs[key]), str(test), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    scores = pacsv.read_csv(out)
    assert scores.column_names == ["label", "p_0", "p_1", "prediction"] and scores.num_rows == 1000
    p = scores.column("p_1").to_numpy()
    assert np.array_equal(p, _run_test_scoring(runs[key]))  # bit for bit
    np.testing.assert_allclose(scores.column("p_0").to_numpy() + p, 1.0, rtol=1e-15)
    assert np.array_equal(scores.column("prediction").to_numpy(), (p > 0.5).astype(int))


def test_hashed_predict_memory_is_one_batch_and_reports_progress(runs, tmp_path):
    seen = []
    score_file(runs["hashed"], runs["folder"] / "ctr_test.tsv", tmp_path / "s.csv", progress=seen.append)
    assert seen == [300, 600, 900, 1000]  # the run's data.batch_rows at a time


def test_hashed_predict_of_a_file_without_labels(runs, tmp_path):
    lines = (runs["folder"] / "ctr_test.tsv").read_text().splitlines()
    (tmp_path / "nolabel.tsv").write_text("".join(line.split("\t", 1)[1] + "\n" for line in lines))
    assert main(["predict", str(runs["hashed"]), str(tmp_path / "nolabel.tsv"), "-o", str(tmp_path / "a.csv")]) == 0
    assert main(["predict", str(runs["hashed"]), str(runs["folder"] / "ctr_test.tsv"), "-o", str(tmp_path / "b.csv")]) == 0
    a, b = pacsv.read_csv(tmp_path / "a.csv"), pacsv.read_csv(tmp_path / "b.csv")
    assert a.column_names == ["p_0", "p_1", "prediction"] and a.column("p_1").equals(b.column("p_1"))


def test_hashed_predict_errors_are_one_line(runs, tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("1\t2\t3\n")
    assert main(["predict", str(runs["hashed"]), str(bad), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.tsv: line 1 has 3 tab-separated fields; a hashed run scores Criteo-layout" in err
    assert not (tmp_path / "o.csv").exists() and not list(tmp_path.glob(".o.csv*"))
    short = tmp_path / "short.tsv"
    good = (runs["folder"] / "ctr_test.tsv").read_text().splitlines()
    short.write_text("\n".join(good[:5] + ["0\t1\t2"] + good[5:10]) + "\n")
    assert main(["predict", str(runs["hashed"]), str(short), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 6" in err and not (tmp_path / "o.csv").exists()
    (tmp_path / "o.csv").write_text("keep me\n")
    assert main(["predict", str(runs["hashed"]), str(runs["folder"] / "ctr_test.tsv"), "-o", str(tmp_path / "o.csv")]) == 2
    assert "o.csv already exists; pass --force" in capsys.readouterr().err
    assert (tmp_path / "o.csv").read_text() == "keep me\n"


def test_counts_sent_as_floats_are_checked_together_and_named_alone(tmp_path):
    """``scorer._float_count_block``: several count inputs become int64 in one pass, NaN
    is missing; a count that is not whole is named by its own input."""
    import numpy as np
    import pyarrow as pa

    from logitkit.pipeline.scorer import Input, InputError, _float_count_block

    specs = [Input("I1", "FP64", "count"), Input("I2", "FP64", "count"), Input("I3", "FP64", "count")]
    got = _float_count_block(specs, {"I1": np.array([1.0, 2.0]), "I2": np.array([np.nan, 5.0]),
                                     "I3": np.array([0.0, -3.0])}, "req")
    assert got["I1"].equals(pa.array([1, 2], pa.int64())) and got["I2"].to_pylist() == [None, 5]
    assert got["I3"].to_pylist() == [0, -3]
    with pytest.raises(InputError, match=r"^req: input 'I2' row 2: 5\.5 is not a whole number"):
        _float_count_block(specs, {"I1": np.array([1.0, 2.0]), "I2": np.array([np.nan, 5.5]),
                                   "I3": np.array([0.0, 1.0])}, "req")
