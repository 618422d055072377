"""``logitkit predict -o``: a path that cannot or must not be written is one line, exit 2,
and nothing the user had is touched; a missing folder is created; the file is written
whole or not at all."""
import sys
from pathlib import Path

import pytest

from logitkit.pipeline.cli import main

sys.path.insert(0, str(Path(__file__).parent))
import _cli  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("predict_paths")
    (d / "c.yaml").write_text("data: {dataset: cd_age}\nevaluate: {inference: false}\n"
                              "interpret: {plots: false, graph: false, report: false}\n")
    assert main(["run", str(d / "c.yaml"), "--out", str(d / "runs")]) == 0
    return next((d / "runs").iterdir())


@pytest.fixture
def ages(tmp_path):
    p = tmp_path / "ages.csv"
    p.write_text("age\n30\n50\n")
    return p


def error(capsys) -> str:
    return _cli.one_error_line(capsys.readouterr().err)


def test_a_missing_folder_is_created_and_the_file_written_whole(run, ages, tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "scored.csv"
    assert main(["predict", str(run), str(ages), "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0] == '"age","p_0","p_1","prediction"'
    assert sorted(p.name for p in out.parent.iterdir()) == ["scored.csv"]  # no partial file left


def test_output_is_a_folder(run, ages, tmp_path, capsys):
    assert main(["predict", str(run), str(ages), "-o", str(tmp_path)]) == 2
    assert error(capsys) == (f"-o {tmp_path}: is a folder; give a file name for the scores "
                             f"(e.g. {tmp_path / 'scores.csv'})")


def test_output_is_the_input_even_with_force(run, ages, capsys):
    before = ages.read_bytes()
    assert main(["predict", str(run), str(ages), "-o", str(ages), "--force"]) == 2
    assert error(capsys) == f"-o {ages}: is the input file; choose another path (predict never overwrites its input)"
    link = ages.with_name("link.csv")
    link.symlink_to(ages)
    assert main(["predict", str(run), str(ages), "-o", str(link), "--force"]) == 2
    assert "is the input file" in error(capsys)
    assert ages.read_bytes() == before


def test_output_under_a_file(run, ages, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["predict", str(run), str(ages), "-o", str(tmp_path / "f" / "s.csv")]) == 2
    assert error(capsys) == (f"-o {tmp_path / 'f'}: is a file, not a folder; pass a folder for the output (a missing "
                             "one is created)")


def test_input_is_a_folder(run, tmp_path, capsys):
    assert main(["predict", str(run), str(tmp_path), "-o", str(tmp_path / "s.csv")]) == 2
    assert error(capsys) == f"{tmp_path}: is a folder; pass the CSV file to score"


def test_output_in_a_read_only_folder(run, ages, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        res = _cli.run(["predict", str(run), str(ages), "-o", str(ro / "sub" / "s.csv")], unprivileged=True)
    finally:
        ro.chmod(0o755)
    assert res.returncode == 2
    assert _cli.one_error_line(res.stderr) == (f"-o {ro / 'sub'}: no permission to write in {ro} (to create "
                                               f"{ro / 'sub'} in it); pass a folder you can write to")
    assert list(ro.iterdir()) == []
