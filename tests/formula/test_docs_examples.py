"""The formula examples of docs/evaluate.md run as written."""
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "evaluate.md"
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S) if "logitkit.formula" in b]


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_block_runs(i, capsys):
    exec(compile(BLOCKS[i], f"{DOC.name} block {i}", "exec"), {})
    assert capsys.readouterr().out


def test_blocks_found():
    assert len(BLOCKS) == 2
