"""What a CTR run loads: neither the dense path's libraries nor TorchDynamo (start-up
time and memory of `logitkit run configs/ctr.yaml`, docs/ctr.md)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["sklearn", "scipy", "matplotlib", "torch._dynamo", "logitkit.embed.basis"]  # (pandas: pyarrow loads it to convert)

PROBE = """
import json, sys
from logitkit.pipeline.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


@pytest.mark.parametrize("interactions", ["none", "fm"])
def test_a_ctr_run_loads_no_dense_path_library(ctr_files, tmp_path, interactions):
    files = ctr_files(3_000, 500, seed=11)
    args = ["run", str(ROOT / "configs" / "ctr.yaml"), "--set", f"data.path={files.train}",
            "--set", f"data.test_path={files.test}", "--set", "prep.hashing.n_bits=16",
            "--set", f"model.options.interactions={interactions}", "--out", str(tmp_path / "runs"), "-q"]
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"code": 0, "loaded": []}
