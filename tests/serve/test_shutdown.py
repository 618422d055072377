"""SIGTERM: the server stops taking connections, finishes the requests in flight, exits 0."""
import json
import signal
import socket
import threading
import time

import numpy as np
import pyarrow as pa
import pytest

from logitkit.loaddata import stream_criteo
from logitkit.pipeline.cli import main
from logitkit.pipeline.scorer import Scorer

from .conftest import Server


def test_sigterm_finishes_requests_in_flight_then_exits_0(runs):
    s = Server(runs["hashed"])
    host, port = s.host.split(":")
    rid = runs["hashed"].name
    table = pa.Table.from_batches(list(stream_criteo(runs["folder"] / "ctr_test.tsv", 10_000)))
    scorer = Scorer.load(runs["hashed"])
    inputs = [{"name": i.name, "shape": [table.num_rows], "datatype": "BYTES",  # text as in the file, "" = missing
               "data": ["" if v is None else str(v) for v in table.column(i.name).to_pylist()]} for i in scorer.inputs]
    payload = json.dumps({"inputs": inputs, "outputs": [{"name": "p_1"}]}).encode()
    head = (f"POST /v2/models/{rid}/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode()
    sent, go, results = threading.Barrier(4), threading.Event(), {}

    def client(k):
        with socket.create_connection((host, int(port)), timeout=60) as sock:
            sock.sendall(head + payload[:-50])  # in flight: the server has the request, not all of its body
            sent.wait(30)
            go.wait(30)
            sock.sendall(payload[-50:])
            data = b""
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
            hdr, rest = data.split(b"\r\n\r\n", 1)
            results[k] = (hdr.split(b" ")[1], json.loads(rest))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    sent.wait(30)
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # shutting down, waiting for the three requests
    assert s.proc.poll() is None
    go.set()
    for t in threads:
        t.join(60)
    code, err = s.wait(timeout=60)
    assert code == 0 and "logitkit serve: stopped" in err and "Traceback" not in err, err
    assert sorted(results) == [0, 1, 2]
    want = scorer.proba(table)[:, 1]
    for status, doc in results.values():
        assert status == b"200" and np.array_equal(np.array(doc["outputs"][0]["data"]), want)
    with pytest.raises(OSError):  # and then nobody listens
        socket.create_connection((host, int(port)), timeout=2)


def _length(data: bytes) -> int:
    hdr = data.split(b"\r\n\r\n", 1)[0]
    return int(next(h for h in hdr.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1])


def test_serve_command_errors_are_one_line(runs, tmp_path, capsys):
    assert main(["serve"]) == 2
    assert capsys.readouterr().err.strip() == ("logitkit: error: logitkit serve needs a run: give RUN_DIR, "
                                               "--name ALIAS=RUN_DIR or --repository DIR")
    assert main(["serve", str(tmp_path / "nope")]) == 2
    assert "nope: no such run directory; pass a folder written by `logitkit run`" in capsys.readouterr().err
    assert main(["serve", "--name", "ctr", str(runs["dense"])]) == 2
    assert "--name 'ctr': give ALIAS=RUN_DIR" in capsys.readouterr().err
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        assert main(["serve", str(runs["dense"]), "--port", str(busy.getsockname()[1])]) == 2
        assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err
    finally:
        busy.close()
