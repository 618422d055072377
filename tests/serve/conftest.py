"""Runs and a real server for the serve tests: two dense runs (a categorical column, a
missing value imputed), four small hashed runs (linear, with dense features, fm, deep),
and ``logitkit serve`` on a free loopback port."""
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from logitkit.loaddata.criteo import write_criteo
from logitkit.loaddata.synthetic import make_ctr
from logitkit.pipeline.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_dense_csv(path, n, seed):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n) * 3 + 1
    color = rng.choice(["red", "green", "blue"], size=n)
    z = 0.8 * x1 - 0.3 * x2 + np.where(color == "red", 1.0, np.where(color == "green", -0.5, 0.0))
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    with open(path, "w") as f:
        f.write("x1,x2,color,y\n")
        for i in range(n):
            x2s = "" if i % 17 == 5 else repr(float(x2[i]))
            f.write(f"{float(x1[i])!r},{x2s},{color[i]},{y[i]}\n")


def one_run(out):
    runs = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1
    return runs[0]


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve")
    write_dense_csv(d / "train.csv", 400, 1)
    write_dense_csv(d / "score.csv", 150, 2)
    out = {}
    for key, alpha in (("dense", 0.01), ("dense_b", 1.0)):
        cfg = d / f"{key}.yaml"
        cfg.write_text(f"data: {{path: train.csv, label: y, split: {{method: stratified, test_size: 0.25}}}}\n"
                       f"prep: {{standardize: true, impute: mean, one_hot: [color]}}\nmodel: {{penalty: l2, alpha: {alpha}}}\n"
                       "evaluate: {metrics: [log_loss]}\ninterpret: {plots: false, report: false, graph: false}\n")
        assert main(["run", str(cfg), "--out", str(d / key)]) == 0
        out[key] = one_run(d / key)
    table, _ = make_ctr(5_000, seed=3)
    write_criteo(table.data.slice(0, 4_000), d / "ctr_train.tsv")
    write_criteo(table.data.slice(4_000), d / "ctr_test.tsv")
    for key, extra in (("hashed", ""), ("hashed_dense", ", dense: [I1, I2]"),
                       ("hashed_fm", ", interactions: fm, embedding_dim: 4"),
                       ("hashed_deep", ", interactions: deep, embedding_dim: 4, hidden: [8], dense: [I1]")):
        cross = ", crosses: [[C1, C2]]" if extra else ""
        cfg = d / f"{key}.yaml"
        cfg.write_text("data: {path: ctr_train.tsv, test_path: ctr_test.tsv, format: criteo, label: label, batch_rows: 300,"
                       " split: {method: none}}\n"
                       f"prep: {{hashing: {{n_bits: 16, seed: 0{cross}}}}}\n"
                       f"model: {{kind: hashed, learning_rate: 0.2, batch_size: 128, options: {{prefetch: false{extra}}}}}\n"
                       "evaluate: {metrics: [log_loss, roc_auc], inference: false}\n"
                       "interpret: {plots: false, report: false, graph: false}\n")
        assert main(["run", str(cfg), "--out", str(d / key)]) == 0
        out[key] = one_run(d / key)
    out["folder"] = d
    return out


class Server:
    """``logitkit serve`` in a child process; ``url`` once it answers ``/v2/health/ready``."""

    def __init__(self, *args, timeout=60):
        cmd = [sys.executable, "-m", "logitkit", "serve", "--port", "0", *map(str, args)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line
        self.host = line[len("http://"):]
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/v2/health/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.time() > deadline:
                    self.proc.kill()
                    raise
                time.sleep(0.05)

    def stop(self, timeout=30):
        """SIGTERM, then the exit status and the stderr."""
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout=30):
        """The exit status and the stderr (a second SIGTERM would stop it at once: not sent)."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return code, self.proc.stderr.read()


@pytest.fixture(scope="session")
def server(runs):
    s = Server(runs["dense"], runs["hashed"], "--name", f"demo={runs['dense']}", "--name", f"ctr={runs['hashed']}",
               "--name", f"swap={runs['dense']}", "--name", f"ctrd={runs['hashed_dense']}",
               "--name", f"ctrfm={runs['hashed_fm']}", "--name", f"ctrdeep={runs['hashed_deep']}",
               "--repository", runs["dense_b"].parent, "--max-request-mb", "1")
    yield s
    code, err = s.stop()
    assert code == 0, err
    assert "Traceback" not in err, err


def request(server, method, path, body=None, headers=None):
    """(status, headers, raw body) of one plain HTTP request."""
    import http.client

    conn = http.client.HTTPConnection(server.host, timeout=30)
    try:
        if isinstance(body, (dict, list)):
            import json

            body = json.dumps(body).encode()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()
