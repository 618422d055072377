"""Running the ``logitkit`` command in a child process, for the tests that need one: runs
started together, a process stopped at a chosen point, a folder it may not write."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

#: the capabilities that let root write into any folder; dropped to make a read-only folder bite
_DAC = "-dac_override,-dac_read_search"


def command(argv: list[str], unprivileged: bool = False, python: list[str] | None = None) -> list[str]:
    """``python -m logitkit ARGV`` (or ``python PYTHON...``); with ``unprivileged``, root runs it
    without the right to write where a folder's permissions forbid it (``setpriv``), so that
    a read-only folder is one."""
    cmd = [sys.executable, *(python if python is not None else ["-m", "logitkit", *argv])]
    if unprivileged and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: a read-only folder cannot be made")
        cmd = [setpriv, f"--inh-caps={_DAC}", f"--bounding-set={_DAC}", "--", *cmd]
    return cmd


def run(argv: list[str], unprivileged: bool = False, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(command(argv, unprivileged), capture_output=True, text=True, timeout=timeout, **kw)


def python(code: str, *args: str, unprivileged: bool = False, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """``python -c CODE ARGS`` (e.g. logitkit with a write that stops the process), bounded in time."""
    return subprocess.run(command([], unprivileged, ["-c", code, *args]), capture_output=True, text=True,
                          timeout=timeout, **kw)


def one_error_line(stderr: str) -> str:
    """The single ``logitkit: error: ...`` line of a command that failed cleanly."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("logitkit: error: ") and "Traceback" not in stderr, stderr
    return lines[0][len("logitkit: error: "):]
