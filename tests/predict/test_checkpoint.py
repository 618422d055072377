"""Checkpoints of the streamed CTR learner are atomic: a process killed after any one of the
writes a fit's checkpoints make leaves a checkpoint that resumes to the very model an
uninterrupted fit gives; a damaged or edited checkpoint is one error naming the file."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from logitkit._util.errors import ConfigError, InputFileError
from logitkit.predict import HashedLogisticRegression
from logitkit.predict.online.checkpoint import MANIFEST, load_checkpoint, read_manifest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _checkpoint_kills import KW, stream  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def whole():
    return HashedLogisticRegression(**KW).fit(stream())


def test_a_kill_after_any_write_resumes_to_the_uninterrupted_model(tmp_path, whole):
    res = subprocess.run([sys.executable, str(HERE / "_checkpoint_kills.py"), str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    total = int(res.stdout)
    assert total >= 20  # four checkpoints (two in each pass, one at its end), each a few writes
    resumed_from = set()
    for k in range(1, total + 1):
        d = tmp_path / f"k{k}"
        if not (d / MANIFEST).is_file():  # killed inside the very first save: there is no checkpoint yet
            assert k <= 3, k
            with pytest.raises(InputFileError, match=r"not a logitkit checkpoint \(checkpoint.json missing\)"):
                load_checkpoint(d)
            continue
        _, meta = load_checkpoint(d)  # whole: the manifest names complete parts with their digests
        resumed_from.add((meta["counters"]["pass"], meta["counters"]["batches_in_pass"]))
        model = HashedLogisticRegression(**KW, checkpoint_dir=str(d)).fit(stream(), resume_from=str(d))
        assert torch.equal(model.w_, whole.w_), k
        assert model.pass_losses_ == whole.pass_losses_, (k, model.pass_losses_)
        assert torch.equal(HashedLogisticRegression.load(str(d)).w_, whole.w_)  # its last checkpoint, too
    assert len(resumed_from) >= 4  # every checkpoint of the fit was a resume point


def saved(tmp_path, whole) -> Path:
    d = tmp_path / "ck"
    whole.save_checkpoint(str(d))
    whole.save_checkpoint(str(d))  # a second generation: the first one's parts are gone
    assert read_manifest(d)["generation"] == 2 and len(list(d.iterdir())) == 3
    return d


def redigest(d: Path) -> None:
    """Rewrite the manifest's digests after an edit (a state no digest can catch)."""
    from logitkit.predict.online.checkpoint import _sha256

    m = read_manifest(d)
    for part in m["parts"].values():
        part["sha256"] = _sha256(d / part["file"])
    (d / MANIFEST).write_text(json.dumps(m))


def test_a_damaged_part_is_named(tmp_path, whole):
    d = saved(tmp_path, whole)
    part = d / read_manifest(d)["parts"]["tensors"]["file"]
    raw = bytearray(part.read_bytes())
    raw[-5] ^= 1
    part.write_bytes(bytes(raw))
    with pytest.raises(InputFileError, match=rf"^{part}: its sha256 \([0-9a-f]{{12}}...\) differs from the one "
                                             r"checkpoint.json names \([0-9a-f]{12}...\): the checkpoint was damaged or "
                                             r"edited; resume from another checkpoint, or start the fit again$"):
        HashedLogisticRegression(**KW).fit(stream(), resume_from=str(d))
    part.unlink()
    with pytest.raises(InputFileError, match=rf"^{part} is missing \(.*checkpoint.json names it\), so the checkpoint "
                                             "is incomplete"):
        HashedLogisticRegression.load(str(d))


def test_a_damaged_manifest_is_named(tmp_path, whole):
    d = saved(tmp_path, whole)
    (d / MANIFEST).write_text('{"format": ')
    with pytest.raises(InputFileError, match=rf"^{d / MANIFEST}: line 1, column 12: not valid JSON, so the "
                                             "checkpoint is damaged"):
        HashedLogisticRegression.load(str(d))
    (d / MANIFEST).write_text('{"format": "logitkit.checkpoint/2", "parts": {"tensors": {"file": "../x", "sha256": ""},'
                              ' "meta": {"file": "m", "sha256": ""}}}')
    with pytest.raises(InputFileError, match=r"checkpoint.json: names '../x', which is not a file of the checkpoint"):
        HashedLogisticRegression.load(str(d))
    (d / MANIFEST).unlink()
    (d / "state.json").write_text("{}")
    with pytest.raises(InputFileError, match=r"not a logitkit checkpoint \(checkpoint.json missing \(it holds "
                                             r"state.json: a checkpoint of an older logitkit\)\)"):
        HashedLogisticRegression.load(str(d))


def test_nan_weights_and_a_state_that_does_not_fit_are_refused(tmp_path, whole):
    d = saved(tmp_path, whole)
    m = read_manifest(d)
    part = d / m["parts"]["tensors"]["file"]
    t = load_file(str(part))
    t["w"][3] = float("inf")
    save_file(t, str(part))
    redigest(d)
    with pytest.raises(InputFileError, match=rf"^{part}: tensor 'w' holds NaN or infinite values"):
        HashedLogisticRegression.load(str(d))
    d = saved(tmp_path / "b", whole)
    meta_part = d / read_manifest(d)["parts"]["meta"]["file"]
    meta = json.loads(meta_part.read_text())
    del meta["counters"]
    meta_part.write_text(json.dumps(meta))
    redigest(d)
    with pytest.raises(InputFileError, match=rf"^{d}: the checkpoint's state does not fit the model \(missing key "
                                             r"'counters'\); resume from another checkpoint"):
        HashedLogisticRegression.load(str(d))
    d = saved(tmp_path / "c", whole)
    with pytest.raises(ConfigError, match=r"checkpoint has n_bits=10 but this model has n_bits=11"):
        HashedLogisticRegression(**{**KW, "n_bits": 11}).fit(stream(), resume_from=str(d))
