"""serve and predict load a hashed (CTR) run only as it was written: the record's digest of
its checkpoint manifest, the manifest's digests of its parts (docs/reliability.md)."""
import json
import shutil

import pytest

from logitkit._util.errors import InputFileError
from logitkit.pipeline.cli import main
from logitkit.pipeline.scorer import Scorer
from logitkit.serve.protocol import ProtocolError
from logitkit.serve.repository import Repository


@pytest.fixture
def hashed(runs, tmp_path):
    return shutil.copytree(runs["hashed"], tmp_path / runs["hashed"].name)


def part(run, key):
    manifest = json.loads((run / "model" / "checkpoint.json").read_text())
    return run / "model" / manifest["parts"][key]["file"]


def test_a_damaged_checkpoint_part_is_named(hashed, runs, tmp_path, capsys):
    p = part(hashed, "tensors")
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    p.write_bytes(bytes(raw))
    with pytest.raises(ProtocolError, match=rf"loading model 'm' from {hashed} failed: {p}: its sha256 "
                                            r"\([0-9a-f]{12}...\) differs from the one checkpoint.json names"):
        Repository().load("m", run_dir=str(hashed))
    out = tmp_path / "s.csv"
    assert main(["predict", str(hashed), str(runs["folder"] / "ctr_test.tsv"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"logitkit: error: {p}: its sha256") and len(err.splitlines()) == 1
    assert not out.exists()


def test_an_edited_manifest_or_hasher_is_named(hashed, runs):
    m = hashed / "model" / "checkpoint.json"
    m.write_text(m.read_text().replace('"generation"', '"generation" ', 1))
    with pytest.raises(InputFileError, match=rf"^{m}: its sha256 \(.*\) differs from the one record.json lists"):
        Scorer.load(hashed)
    shutil.copy2(runs["hashed"] / "model" / "checkpoint.json", m)
    Scorer.load(hashed)
    record = json.loads((hashed / "record.json").read_text())
    record["ctr"]["hasher"]["seed"] = 1  # would hash every token elsewhere
    (hashed / "record.json").write_text(json.dumps(record))
    with pytest.raises(InputFileError, match=rf"^{hashed}/record.json: its contents do not match its own digest"):
        Scorer.load(hashed)
