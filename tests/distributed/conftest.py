"""The 2-rank gloo job of ``_worker.py``, spawned once for the test files that read its results."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _spawn import torchrun  # noqa: E402


@pytest.fixture(scope="session")
def ranks(tmp_path_factory):
    """Each rank's results (``rank0.json``, ``rank1.json``) of one ``_worker.py`` job."""
    out = tmp_path_factory.mktemp("dist")
    res = torchrun([str(Path(__file__).parent / "_worker.py"), str(out)], cwd=out)
    assert res.returncode == 0, res.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
