"""Hot reload under load (zero failed requests), unload and the repository index."""
import json
import threading
import time

import numpy as np
import pyarrow.csv as pacsv
import tritonclient.http as th

from logitkit.pipeline.scorer import Scorer

from .conftest import request


def test_hot_reload_under_concurrent_load_fails_no_request(server, runs):
    table = pacsv.read_csv(runs["folder"] / "score.csv").slice(0, 10).drop_null()
    cols = {"x1": table.column("x1").to_numpy(), "x2": table.column("x2").to_numpy(),
            "color": table.column("color").to_pylist()}
    want = {Scorer.load(runs[k]).run_id: Scorer.load(runs[k]).proba(table)[:, 1] for k in ("dense", "dense_b")}
    body = {"inputs": [{"name": "x1", "shape": [len(cols["x1"])], "datatype": "FP64", "data": cols["x1"].tolist()},
                       {"name": "x2", "shape": [len(cols["x2"])], "datatype": "FP64", "data": cols["x2"].tolist()},
                       {"name": "color", "shape": [len(cols["color"])], "datatype": "BYTES", "data": cols["color"]}]}
    stop, seen, failures, lock = threading.Event(), [], [], threading.Lock()

    def load_generator(k):
        for i in range(400):  # bounded: at most 400 requests per client
            if stop.is_set():
                break
            status, _, raw = request(server, "POST", "/v2/models/swap/infer", body)
            with lock:
                if status != 200:
                    failures.append((status, raw))
                else:
                    doc = json.loads(raw)
                    p1 = np.array(doc["outputs"][1]["data"])
                    seen.append((time.monotonic(), doc["model_version"], np.array_equal(p1, want[doc["model_version"]])))

    clients = [threading.Thread(target=load_generator, args=(k,)) for k in range(4)]
    for t in clients:
        t.start()
    c = th.InferenceServerClient(server.host)
    swaps = []
    try:
        for target in ("dense_b", "dense", "dense_b"):
            time.sleep(0.3)
            c.load_model("swap", config=json.dumps({"run_dir": str(runs[target])}))  # tritonclient's load
            swaps.append((time.monotonic(), runs[target].name))
        time.sleep(0.3)
    finally:
        stop.set()
        for t in clients:
            t.join(60)
    assert not failures, failures[:3]
    assert len(seen) > 40 and all(ok for _, _, ok in seen)  # every answer: bit for bit one run's
    versions = {v for _, v, _ in seen}
    assert versions == {runs["dense"].name, runs["dense_b"].name}
    last_swap = swaps[-1][0]
    assert all(v == runs["dense_b"].name for t, v, _ in seen if t > last_swap + 0.05)
    assert c.get_model_metadata("swap")["versions"] == [runs["dense_b"].name]


def test_load_by_run_id_from_the_repository_then_unload(server, runs):
    rid = runs["dense_b"].name
    status, _, raw = request(server, "POST", f"/v2/repository/models/{rid}/load")
    assert status == 200 and json.loads(raw)["version"] == rid
    c = th.InferenceServerClient(server.host)
    assert c.is_model_ready(rid)
    # reload in place (no parameters): the same run directory read again
    status, _, raw = request(server, "POST", "/v2/repository/models/demo/load", b"")
    assert status == 200 and json.loads(raw)["version"] == runs["dense"].name
    status, _, raw = request(server, "POST", f"/v2/repository/models/{rid}/unload")
    assert status == 200
    assert not c.is_model_ready(rid)
    index = {m["name"]: m for m in c.get_model_repository_index()}
    assert index[rid] == {"name": rid, "state": "UNAVAILABLE", "reason": "unloaded"}
    status, _, raw = request(server, "POST", f"/v2/models/{rid}/infer", {"inputs": []})
    assert status == 404 and f"unknown model '{rid}'" in json.loads(raw)["error"]
    status, _, raw = request(server, "POST", f"/v2/repository/models/{rid}/unload")
    assert status == 404 and json.loads(raw)["error"] == f"unknown model '{rid}'; nothing to unload"
