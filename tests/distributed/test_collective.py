"""The ``Collective`` stages are handed: identities in one process; the same calls as
``torch.distributed`` collectives on 2 gloo ranks (run by ``_worker.py``, shared with
``test_distributed_fit``)."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from logitkit._util import collective  # noqa: E402
from logitkit._util.collective import LOCAL, Local, TorchCollective  # noqa: E402


def test_one_process_is_the_identity():
    coll = collective.current()
    assert coll is LOCAL and isinstance(coll, Local) and (coll.rank, coll.world_size, coll.is_main) == (0, 1, True)
    x = np.array([1.5, -2.0])
    np.testing.assert_array_equal(coll.sum(x), x)
    np.testing.assert_array_equal(coll.max(x), x)
    np.testing.assert_array_equal(coll.min(x), x)
    t = torch.tensor([1, 2], dtype=torch.int32)
    assert coll.sum(t) is t  # a tensor in, the tensor out
    assert coll.all_gather("o") == ["o"] and coll.gather("o") == ["o"] and coll.broadcast("o") == "o"
    assert coll.broadcast_call(lambda a: a + 1, 1) == 2
    np.testing.assert_array_equal(coll.union(["b", "a", "b"]), ["a", "b"])
    np.testing.assert_array_equal(coll.concat([3, 1]), [3, 1])
    rows = np.array([2, 0, 1])
    got = coll.in_row_order(rows, np.array([20, 0, 10]), np.array([[2], [0], [1]]), dst=0)
    np.testing.assert_array_equal(got[0], [0, 10, 20])
    np.testing.assert_array_equal(got[1], [[0], [1], [2]])


def test_a_torch_collective_needs_a_process_group():
    with pytest.raises(RuntimeError, match="needs an initialised process group of more than one rank"):
        TorchCollective()


def test_two_ranks(ranks):
    c0, c1 = (r["collective"] for r in ranks)
    assert [c["type"] for c in (c0, c1)] == ["TorchCollective"] * 2
    assert (c0["rank"], c1["rank"], c0["world_size"], c0["is_main"], c1["is_main"]) == (0, 1, 2, True, False)
    for c in (c0, c1):
        assert c["sum"] == [2.0, 1.0] and c["sum_tensor"] == [[4.0, 1.0], "torch.float32"]
        assert c["max"] == [1.0, 0.0] and c["min"] == [0.0, -1.0]
        assert c["all_gather"] == [{"rank": 0}, {"rank": 1}]
        assert c["broadcast"] == "from 0" and c["broadcast_src1"] == "from 1"
        assert c["broadcast_call"] == "computed on 0"
        assert c["union"] == ["a", "b", "c"] and c["concat"] == [0, 0, 1, 1]
        assert c["in_row_order"] == [[0, 10, 20, 30, 40], [[0, 0], [1, -1], [2, -2], [3, -3], [4, -4]]]
    assert c0["gather"] == [0, 1] and c1["gather"] is None
    assert c0["in_row_order_dst"] == [0, 10, 20, 30, 40] and c1["in_row_order_dst"] is None


@pytest.mark.parametrize("method", ["stratified", "random", "group"])
def test_ranks_in_threads_read_split_and_prepare_as_one_process(tmp_path, thread_ranks, method):
    """The stages' general code on 2 simulated ranks (threads sharing memory): each rank
    reads its byte range, the split is that of the whole file, and the transforms fitted
    from reduced statistics are one process's."""
    from logitkit.loaddata import load_from_config, load_shard
    from logitkit.pipeline.config import DataSection, PrepSection
    from logitkit.prepdata import Preprocessor, input_rows, split_table

    rng = np.random.default_rng(3)
    n = 301
    lines = ["x,k,c,g,y"] + [f"{rng.normal():.6f},{'' if i % 17 == 0 else rng.integers(0, 40)},"
                             f"{rng.choice(['a', 'b', 'c'])},{i % 13},{int(rng.random() < 0.4)}" for i in range(n)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    split = {"method": method, "test_size": 0.3, **({"group_column": "g"} if method == "group" else {})}
    data = DataSection(path=str(tmp_path / "d.csv"), label="y", split=split)
    prep = PrepSection(impute="median", standardize=True, quantile_bucket=["x"], n_quantiles=4)

    def stages(coll):
        table, _, _ = load_shard(data, tmp_path, coll)
        train, test = split_table(table, data.split, 7, coll)
        p = Preprocessor(prep).fit(train, coll=coll)
        return p.to_json(), input_rows(train, coll), p.transform(train), input_rows(test, coll)

    whole, _ = load_from_config(data, tmp_path)
    train, test = split_table(whole, data.split, 7)
    one = Preprocessor(prep).fit(train)
    ranks = thread_ranks(stages)
    assert ranks[0][0] == ranks[1][0]  # every rank holds the same transforms
    state, ref = ranks[0][0], one.to_json()
    assert state["feature_names"] == ref["feature_names"] and state["encoders"] == ref["encoders"]
    np.testing.assert_allclose(state["scaler"]["mean"], ref["scaler"]["mean"], rtol=1e-12)
    np.testing.assert_allclose(state["imputer"]["fill"], ref["imputer"]["fill"], rtol=1e-12)
    rows = np.concatenate([r[1] for r in ranks])
    np.testing.assert_array_equal(rows, train.source_rows)  # the same training rows, in order
    np.testing.assert_array_equal(np.concatenate([r[3] for r in ranks]), test.source_rows)
    np.testing.assert_allclose(np.concatenate([r[2] for r in ranks]), one.transform(train), rtol=1e-12, atol=1e-12)
