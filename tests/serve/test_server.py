"""``logitkit serve`` driven by tritonclient.http (an unmodified third-party client) and plain HTTP."""
import gzip
import json
import re
import struct
import threading

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import tritonclient.http as th
from tritonclient.utils import InferenceServerException

from logitkit.loaddata import stream_criteo
from logitkit.pipeline.cli import main

from .conftest import request


def run_id(path):
    return path.name


def test_health_metadata_and_index_through_tritonclient(server, runs):
    c = th.InferenceServerClient(server.host)
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("demo")
    assert not c.is_model_ready("nope")
    meta = c.get_server_metadata()
    assert meta["name"] == "logitkit" and set(meta["extensions"]) >= {"binary_tensor_data", "model_repository"}
    md = c.get_model_metadata("demo")
    assert md["versions"] == [run_id(runs["dense"])] and md["platform"] == "logitkit_dense"
    assert md["inputs"] == [{"name": "x1", "datatype": "FP64", "shape": [-1]}, {"name": "x2", "datatype": "FP64", "shape": [-1]},
                            {"name": "color", "datatype": "BYTES", "shape": [-1]}]
    assert [o["name"] for o in md["outputs"]] == ["p_0", "p_1", "prediction"]
    assert c.get_model_metadata("demo", model_version=run_id(runs["dense"]))["name"] == "demo"
    ctr = c.get_model_metadata("ctr")
    assert [i["name"] for i in ctr["inputs"]][:2] == ["I1", "I2"] and len(ctr["inputs"]) == 39
    assert {i["datatype"] for i in ctr["inputs"]} == {"INT64", "BYTES"}
    index = {m["name"]: m for m in c.get_model_repository_index()}
    assert index["demo"]["state"] == "READY" and index["ctr"]["version"] == run_id(runs["hashed"])
    assert index[run_id(runs["dense_b"])]["state"] in ("UNAVAILABLE", "READY")  # in --repository; loaded by other tests


def dense_inputs(table, binary):
    """The CSV's rows as a request: numbers as FP64 (binary: NaN for a missing one), or in JSON
    the column with missing values as BYTES text ("" = missing), as a file's field."""
    ins = []
    for name in ("x1", "x2", "color"):
        col = table.column(name)
        if name == "color":
            x = th.InferInput(name, [table.num_rows], "BYTES")
            x.set_data_from_numpy(np.array(col.to_pylist(), dtype=object), binary_data=binary)
        elif binary or col.null_count == 0:
            x = th.InferInput(name, [table.num_rows], "FP64")
            x.set_data_from_numpy(col.to_numpy(zero_copy_only=False).astype(np.float64), binary_data=binary)
        else:
            x = th.InferInput(name, [table.num_rows, 1], "BYTES")
            text = ["" if v is None else repr(v) for v in col.to_pylist()]
            x.set_data_from_numpy(np.array(text, dtype=object).reshape(-1, 1), binary_data=False)
        ins.append(x)
    return ins


def serve_all(server, model, table, make_inputs, n_threads=4, seed=0):
    """Every row of ``table``, sent in requests of 1..25 rows by concurrent clients; the
    responses' p_1 and prediction put back in row order."""
    rng = np.random.default_rng(seed)
    cuts, i = [], 0
    while i < table.num_rows:
        k = int(rng.integers(1, 26))
        cuts.append((i, min(table.num_rows, i + k), bool(rng.integers(0, 2))))
        i += k
    p1 = np.full(table.num_rows, np.nan)
    pred = np.zeros(table.num_rows, dtype=np.int64)
    errors = []

    def work(part):
        c = th.InferenceServerClient(server.host)
        try:
            for a, b, binary in part:
                outs = [th.InferRequestedOutput("p_1", binary_data=binary), th.InferRequestedOutput("prediction")]
                r = c.infer(model, make_inputs(table.slice(a, b - a), binary), outputs=outs, request_id=f"{a}")
                assert r.get_response()["id"] == f"{a}"
                p1[a:b], pred[a:b] = r.as_numpy("p_1"), r.as_numpy("prediction")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(cuts[k::n_threads],)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return p1, pred


def test_dense_served_probabilities_equal_predict_bit_for_bit(server, runs, tmp_path):
    src = runs["folder"] / "score.csv"
    assert main(["predict", str(runs["dense"]), str(src), "-o", str(tmp_path / "p.csv")]) == 0
    want = pacsv.read_csv(tmp_path / "p.csv")
    p1, pred = serve_all(server, "demo", pacsv.read_csv(src), dense_inputs)
    assert np.array_equal(p1, want.column("p_1").to_numpy())
    assert np.array_equal(pred, want.column("prediction").to_numpy())


def hashed_inputs(names):
    def make(table, binary):
        ins = []
        for name in names:
            col = table.column(name)
            if name.startswith("I") and binary:  # counts: FP64, NaN = missing
                x = th.InferInput(name, [table.num_rows], "FP64")
                x.set_data_from_numpy(col.cast(pa.float64()).to_numpy(zero_copy_only=False), binary_data=True)
            else:  # text as in the file: "" = missing
                x = th.InferInput(name, [table.num_rows], "BYTES")
                x.set_data_from_numpy(np.array(["" if v is None else str(v) for v in col.to_pylist()], dtype=object),
                                      binary_data=binary)
            ins.append(x)
        return ins

    return make


@pytest.mark.parametrize("model,key", [("ctr", "hashed"), ("ctrd", "hashed_dense"), ("ctrfm", "hashed_fm"),
                                       ("ctrdeep", "hashed_deep")])
def test_hashed_served_probabilities_equal_predict_bit_for_bit(server, runs, tmp_path, model, key):
    src = runs["folder"] / "ctr_test.tsv"
    assert main(["predict", str(runs[key]), str(src), "-o", str(tmp_path / "p.csv")]) == 0
    want = pacsv.read_csv(tmp_path / "p.csv")
    table = pa.Table.from_batches(list(stream_criteo(src, 10_000))).slice(0, 400)
    names = [i["name"] for i in th.InferenceServerClient(server.host).get_model_metadata(model)["inputs"]]
    p1, pred = serve_all(server, model, table, hashed_inputs(names), seed=1)
    assert np.array_equal(p1, want.column("p_1").to_numpy()[:400])
    assert np.array_equal(pred, want.column("prediction").to_numpy()[:400])


def test_a_curl_style_json_request_and_a_gzip_body(server):
    body = {"id": "a", "inputs": [{"name": "x1", "shape": [2], "datatype": "FP64", "data": [0.5, -1.0]},
                                  {"name": "x2", "shape": [2, 1], "datatype": "FP64", "data": [[1.0], [2.0]]},
                                  {"name": "color", "shape": [2], "datatype": "BYTES", "data": ["red", "blue"]}]}
    status, headers, raw = request(server, "POST", "/v2/models/demo/infer", body)
    assert status == 200 and headers["content-type"] == "application/json"
    doc = json.loads(raw)
    assert doc["id"] == "a" and doc["model_name"] == "demo" and [o["name"] for o in doc["outputs"]] == ["p_0", "p_1", "prediction"]
    p0, p1 = doc["outputs"][0]["data"], doc["outputs"][1]["data"]
    assert all(abs(a + b - 1) < 1e-15 for a, b in zip(p0, p1))
    zipped = gzip.compress(json.dumps(body).encode())
    status, _, raw2 = request(server, "POST", "/v2/models/demo/infer", zipped, {"Content-Encoding": "gzip"})
    assert status == 200 and json.loads(raw2)["outputs"] == doc["outputs"]


def _bytes_tensor(values):
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


ONE = [{"name": "x1", "shape": [1], "datatype": "FP64", "data": [0.5]},
       {"name": "x2", "shape": [1], "datatype": "FP64", "data": [1.0]},
       {"name": "color", "shape": [1], "datatype": "BYTES", "data": ["red"]}]

BAD = [
    ("/v2/models/nope/infer", {"inputs": ONE}, {}, 404, r"unknown model 'nope'; this server has \["),
    ("/v2/models/demo/infer", b'{"inputs": [', {}, 400, r"malformed JSON in the request body: Expecting value at line 1, column 13"),
    ("/v2/models/demo/infer", {"inputs": ONE[:2]}, {}, 400, r"model 'demo': input 'color' is missing; run \w+ reads \['x1', 'x2', 'color'\]"),
    ("/v2/models/demo/infer", {"inputs": [*ONE[:2], {**ONE[2], "name": "colour"}]}, {}, 400,
     r"'colour' is not an input of run \w+; its inputs are \['x1', 'x2', 'color'\]\. Did you mean 'color'\?"),
    ("/v2/models/demo/infer", {"inputs": [{**ONE[0], "data": ["a"]}, *ONE[1:]]}, {}, 400,
     r"input 'x1' is FP64 but holds 'a'; send JSON numbers"),
    ("/v2/models/demo/infer", {"inputs": [{**ONE[0], "datatype": "FLOAT"}, *ONE[1:]]}, {}, 400,
     r"input 'x1': datatype 'FLOAT' is not a protocol datatype; use one of \['BOOL', 'BYTES'"),
    ("/v2/models/demo/infer", {"inputs": [{**ONE[0], "shape": [1, 3], "data": [1.0, 2.0, 3.0]}, *ONE[1:]]}, {}, 400,
     r"input 'x1': shape \[1, 3\] is not one column; give \[rows\] or \[rows, 1\]"),
    ("/v2/models/demo/infer", {"inputs": [{**ONE[0], "shape": [2]}, *ONE[1:]]}, {}, 400,
     r"input 'x1': \"data\" has 1 values for shape \[2\]"),
    ("/v2/models/demo/infer", {"inputs": [{**ONE[0], "shape": [2], "data": [1.0, 2.0]}, *ONE[1:]]}, {}, 400,
     r"input 'x2' has 1 rows but 'x1' has 2; every input needs one value per row"),
    ("/v2/models/demo/infer", {"inputs": [{**ONE[2], "data": [3]}, *ONE[:2]]}, {}, 400,
     r"input 'color' is BYTES but holds 3; send text values as JSON strings"),
    ("/v2/models/demo/infer", {"inputs": ONE, "outputs": [{"name": "p_9"}]}, {}, 400,
     r"unknown output 'p_9'; model 'demo' has outputs \['p_0', 'p_1', 'prediction'\]"),
    ("/v2/models/demo/infer", {"inputs": []}, {}, 400, r"the request has no \"inputs\""),
    ("/v2/models/demo/infer", {"inputs": [{**t, "shape": [0], "data": []} for t in ONE]}, {}, 400, r"the request has 0 rows"),
    ("/v2/models/demo/versions/abc/infer", {"inputs": ONE}, {}, 404, r"model 'demo' has version '\w+' \(its run id\), not 'abc'"),
    ("/v2/models/demo/infer", b"x" * ((1 << 20) + 1), {}, 413, r"the request body is larger than 1048576 bytes"),
    ("/v2/models/demo/infer", b"{}", {"Content-Encoding": "br"}, 415, r"Content-Encoding 'br' is not supported"),
    ("/v2/models/demo/infer", json.dumps({"inputs": [*ONE[:2], {"name": "color", "shape": [1], "datatype": "BYTES",
                                                                  "parameters": {"binary_data_size": 9}}]}).encode()
     + _bytes_tensor([b"red"]) + b"xx", "HEADER", 400,
     r"input 'color': the BYTES binary data is not 1 length-prefixed elements \(9 bytes\)"),
    ("/v2/models/demo/infer", json.dumps({"inputs": [{"name": "x1", "shape": [1], "datatype": "FP64",
                                                      "parameters": {"binary_data_size": 4}}, *ONE[1:]]}).encode()
     + b"\0" * 4, "HEADER", 400, r"input 'x1': 4 bytes of binary data for shape \[1\] of FP64 \(8 expected\)"),
    ("/v2/models/demo/infer", {"inputs": [{**ONE[0], "data": [1.0]}, *ONE[1:]]}, {"Inference-Header-Content-Length": "9999"},
     400, r"Inference-Header-Content-Length is 9999 but the body has \d+ bytes"),
    ("/v2/repository/models/zzz/load", {}, {}, 404, r"model 'zzz' was never loaded nor a run directory .*zzz"),
    ("/v2/repository/models/zzz/load", {"parameters": {"run_dir": "/no/such/run"}}, {}, 400,
     r"loading model 'zzz' from /no/such/run failed: /no/such/run: no such run directory"),
    ("/v2/repository/models/zzz/load", {"parameters": {"config": "{\"run\": 1}"}}, {}, 400,
     r"the \"config\" parameter has no \"run_dir\""),
]


@pytest.mark.parametrize("path,body,headers,status,message", BAD, ids=[m[:40] for *_, m in BAD])
def test_bad_requests_get_the_protocols_json_error_naming_the_input(server, path, body, headers, status, message):
    if headers == "HEADER":  # binary tensors: the JSON header's length
        headers = {"Inference-Header-Content-Length": str(body.index(b"}]}") + 3)}
    got, hdrs, raw = request(server, "POST", path, body, headers)
    assert got == status, raw
    doc = json.loads(raw)
    assert set(doc) == {"error"} and re.search(message, doc["error"]), doc["error"]
    assert "Traceback" not in doc["error"]


def test_unknown_paths_and_methods_are_json_errors_too(server):
    status, _, raw = request(server, "GET", "/v2/nothing")
    assert status == 404 and json.loads(raw)["error"].startswith("no endpoint /v2/nothing")
    status, _, raw = request(server, "GET", "/v2/models/demo/infer")
    assert status == 405 and json.loads(raw)["error"] == "GET is not allowed on /v2/models/demo/infer"
    with pytest.raises(InferenceServerException, match="unknown model 'nope'"):
        th.InferenceServerClient(server.host).get_model_metadata("nope")


def test_metrics_count_requests_latency_and_batches(server):
    request(server, "POST", "/v2/models/demo/infer", {"inputs": ONE})
    status, headers, raw = request(server, "GET", "/metrics")
    text = raw.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain")
    for name in ('logitkit_inference_requests_total{model="demo",outcome="ok"}', "logitkit_inference_rows_total",
                 "logitkit_inference_request_duration_seconds_bucket", "logitkit_batch_rows_bucket",
                 "logitkit_batch_requests_count", 'logitkit_http_responses_total{code="200"}', "logitkit_models_loaded"):
        assert name in text, name
    value = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+) (\S+)$", text, re.M)}
    assert value['logitkit_inference_requests_total{model="demo",outcome="ok"}'] >= 1
    # the concurrent clients of the other tests were micro-batched: some batch held several requests
    assert value['logitkit_batch_requests_bucket{le="1.0"}'] < value["logitkit_batch_requests_count"]
