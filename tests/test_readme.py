"""The README's self-contained Python examples run as written."""
import re
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks():
    text = README.read_text()
    blocks = [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)^\s*```", text, flags=re.S | re.M)]
    return [b for b in blocks if "load_dataset(" in b]  # (the others sketch calls on your own X, y)


def test_the_readme_has_a_self_contained_example():
    assert _blocks()


@pytest.mark.parametrize("code", _blocks())
def test_a_readme_example_runs(code, capsys):
    exec(compile(code, str(README), "exec"), {})
    assert "Marginal effects" in capsys.readouterr().out
