"""Run directories that cannot lie: one writer per run id, --force that replaces atomically,
a directory complete iff its record says so and every file it lists has its sha256, and
output folders that cannot be written refused before any work (docs/reliability.md)."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from logitkit.pipeline import rundir
from logitkit.pipeline.cli import main
from logitkit.pipeline.config_load import load_config
from logitkit.pipeline.integrity import RunFiles
from logitkit.pipeline.runner import execute

sys.path.insert(0, str(Path(__file__).parent))
import _cli  # noqa: E402

CONFIG = "data: {dataset: iris}\nevaluate: {inference: false}\ninterpret: {plots: false, graph: false, report: false}\n"


@pytest.fixture
def cfg(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(CONFIG)
    return p


def err_line(capsys) -> str:
    return _cli.one_error_line(capsys.readouterr().err)


def the_run(out: Path) -> Path:
    runs = [p for p in out.iterdir()]
    assert len(runs) == 1, runs  # no partial, lock or moved-aside directory left behind
    return runs[0]


def test_a_run_lists_every_file_with_its_sha256(cfg, tmp_path):
    run = execute(load_config(cfg), out=tmp_path / "runs").run_dir
    record = json.loads((run / "record.json").read_text())
    on_disk = sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file())
    assert sorted(record["files"]) == [n for n in on_disk if n != "record.json"]
    assert {"config.yaml", "model/model.json", "model/model.safetensors", "model/prep.json"} <= set(record["files"])
    RunFiles(run).verify()  # complete: the record says so and every file has its digest
    assert the_run(tmp_path / "runs") == run


def test_a_second_writer_of_the_same_run_stops_at_once(cfg, tmp_path, capsys):
    out = tmp_path / "runs"
    rid = execute(load_config(cfg), out=tmp_path / "probe").run_dir.name
    with rundir.locked(out, rid, "--out"):  # another process writing this run now
        assert main(["run", str(cfg), "--out", str(out)]) == 2
        msg = err_line(capsys)
    assert msg == (f"{out / rid}: another logitkit process (pid {os.getpid()} on {socket.gethostname()}) is writing "
                   "this run (same config and data) now; wait for it to finish (the run will then be there), or pass "
                   "--out DIR to write elsewhere")
    assert not (out / rid).exists() and not list(out.glob(f".{rid}*"))  # the lock is gone with its holder
    assert main(["run", str(cfg), "--out", str(out)]) == 0


def test_two_runs_of_one_config_started_together_give_one_run_and_one_error(cfg, tmp_path):
    out = tmp_path / "runs"
    procs = [subprocess.Popen(_cli.command(["run", str(cfg), "--out", str(out)]), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert sorted(rc for rc, _, _ in results) == [0, 2], results
    (_, won, _), = [r for r in results if r[0] == 0]
    (_, _, lost), = [r for r in results if r[0] == 2]
    msg = _cli.one_error_line(lost)
    assert ("is writing this run (same config and data) now" in msg
            or "already exists (a run of this same config and data); pass --force" in msg), msg
    run = the_run(out)
    assert won.strip().endswith(str(run))
    RunFiles(run).verify()


def test_an_existing_run_that_is_not_complete_says_so(cfg, tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    run = the_run(out)
    (run / "model" / "prep.json").unlink()
    capsys.readouterr()
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    assert err_line(capsys) == (
        f"{run} already exists (a run of this same config and data), but it is not a complete run ({run}/model/"
        "prep.json is missing (record.json lists it), so the run directory is incomplete; restore it, or run its "
        "config again (logitkit run CONFIG --force) to rebuild the run); pass --force to replace it, or --out DIR "
        "to write elsewhere")
    assert main(["run", str(cfg), "--out", str(out), "--force"]) == 0
    RunFiles(the_run(out)).verify()


def test_force_replaces_and_a_kill_in_between_loses_nothing(cfg, tmp_path, capsys):
    """--force moves the old run aside, renames the new one in, then removes the old one;
    a process killed between the two renames leaves the old run aside, and the next run
    of that id puts it back (a plain run then says it exists, as it did before)."""
    out = tmp_path / "runs"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    run = the_run(out)
    before = (run / "record.json").read_bytes()
    code = ("import os, sys\n"
            "from logitkit.pipeline.cli import main\n"
            "real, n = os.rename, [0]\n"
            "def rename(a, b):\n"
            "    real(a, b)\n"
            "    n[0] += 1\n"
            "    if str(b).endswith('.replaced'):\n"
            "        os._exit(9)  # killed: the old run is aside, the new one not yet in place\n"
            "os.rename = rename\n"
            f"main(['run', {str(cfg)!r}, '--out', {str(out)!r}, '--force'])\n")
    res = _cli.python(code)
    assert res.returncode == 9, res.stderr
    assert not run.exists() and (out / f".{run.name}.replaced").is_dir()
    capsys.readouterr()
    assert main(["run", str(cfg), "--out", str(out)]) == 2  # the old run put back, then found
    assert "already exists (a run of this same config and data); pass --force" in err_line(capsys)
    assert the_run(out) == run and (run / "record.json").read_bytes() == before
    RunFiles(run).verify()
    assert main(["run", str(cfg), "--out", str(out), "--force"]) == 0
    assert the_run(out) == run and (run / "record.json").read_bytes() != before  # (a new "created" time)
    RunFiles(run).verify()


def test_put_in_place_stopped_after_the_new_run_is_in(tmp_path):
    final, work = tmp_path / "abc", tmp_path / ".abc.partial"
    final.mkdir()
    (final / "old").write_text("old")
    work.mkdir()
    (work / "new").write_text("new")
    real = os.rename

    class Killed(BaseException):
        pass

    def rename(a, b):
        real(a, b)
        if Path(b) == final:
            raise Killed  # nothing after the second rename runs, as with a kill

    os.rename = rename
    try:
        with pytest.raises(Killed):
            rundir.put_in_place(work, final)
    finally:
        os.rename = real
    assert (final / "new").is_file() and (tmp_path / ".abc.replaced" / "old").is_file()
    rundir.recover(final)  # what the next run of this id does first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc"] and (final / "new").is_file()


def test_a_linked_run_directory_is_not_replaced_through_the_link(cfg, tmp_path, capsys):
    out, elsewhere = tmp_path / "runs", tmp_path / "elsewhere"
    assert main(["run", str(cfg), "--out", str(elsewhere)]) == 0
    target = the_run(elsewhere)
    out.mkdir()
    (out / target.name).symlink_to(target)
    capsys.readouterr()
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    assert "already exists (a run of this same config and data); pass --force" in err_line(capsys)
    assert main(["run", str(cfg), "--out", str(out), "--force"]) == 2
    assert err_line(capsys) == (f"{out / target.name}: is a symbolic link (to {target}); --force does not replace a "
                                "link or what it points to: remove the link yourself, or pass --out DIR to write "
                                "elsewhere")
    RunFiles(target).verify()  # untouched
    assert (out / target.name).is_symlink()
    inp, scored = tmp_path / "x.csv", tmp_path / "s.csv"
    inp.write_text("sepal_length_(cm),sepal_width_(cm),petal_length_(cm),petal_width_(cm)\n5.1,3.5,1.4,0.2\n")
    capsys.readouterr()
    assert main(["predict", str(out / target.name), str(inp), "-o", str(scored)]) == 0  # read through the link


@pytest.mark.parametrize("where,message", [
    ("file", "--out {out}: is a file, not a folder; pass a folder for the output (a missing one is created)"),
    ("under_file", "--out {out}: {base} is a file, so the folder cannot be created there; pass another folder"),
])
def test_out_that_is_a_file_is_one_line(cfg, tmp_path, capsys, where, message):
    base = tmp_path / "f"
    base.write_text("x")
    out = base if where == "file" else base / "runs"
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    assert err_line(capsys) == message.format(out=out, base=base)
    assert base.read_text() == "x"


def test_run_out_from_the_config_is_named_as_such(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG + f"run: {{out: {tmp_path / 'f'}}}\n")
    assert main(["run", str(cfg)]) == 2
    assert err_line(capsys).startswith(f"run.out {tmp_path / 'f'}: is a file, not a folder")


def test_read_only_out_is_one_line_before_any_work(cfg, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    code = ("import sys\nfrom logitkit.pipeline.cli import main\n"
            "for out in sys.argv[2:]:\n    print(main(['run', sys.argv[1], '--out', out]))\n")
    try:
        res = _cli.python(code, str(cfg), str(ro), str(ro / "runs"), unprivileged=True)
    finally:
        ro.chmod(0o755)
    assert res.stdout.split() == ["2", "2"], res.stderr
    assert res.stderr.strip().splitlines() == [
        f"logitkit: error: --out {ro}: no permission to write in {ro}; pass a folder you can write to",
        f"logitkit: error: --out {ro / 'runs'}: no permission to write in {ro} (to create {ro / 'runs'} in it); "
        "pass a folder you can write to"]
    assert list(ro.iterdir()) == []
