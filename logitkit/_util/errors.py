"""User-facing errors.

A ``UserError`` is a mistake the user can fix: its message names the file, line,
column or key at fault and says what to do. The CLI prints it as one line on
stderr and exits with status 2. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import difflib
from contextlib import contextmanager
from typing import Iterable


class UserError(Exception):
    """Base class for every error caused by the user's input or config."""


class ConfigError(UserError, ValueError):
    """A config key or value is wrong."""


class DataError(UserError, ValueError):
    """The data cannot be used as given (NaN, one class, wrong shape, ...)."""


class InputFileError(UserError, ValueError):
    """A file is missing, empty or malformed at a given line."""


class StoppedError(Exception):
    """This process stopped because another one failed (a rank of the same ``torchrun``
    job); the message is that failure's. The CLI prints it as one line and exits 2, like a
    ``UserError``: the failure's own traceback, if it had one, is printed where it happened."""


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most similar to ``word``, or None when nothing is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' Did you mean 'x'?' or '' — to append to an error message."""
    best = closest(word, choices)
    return f" Did you mean '{best}'?" if best else ""


def shown(value, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for a value quoted in a one-line message
    (a NumPy scalar as the Python value it holds)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 12]}...' ({len(str(value)):,} chars)"


def shown_list(values, limit: int = 10) -> str:
    """A list quoted in a one-line message: its first ``limit`` items, each ``shown``."""
    values = list(values)
    items = ", ".join(shown(v) for v in values[:limit])
    return f"[{items}]" if len(values) <= limit else f"[{items}, ... ({len(values):,} in all)]"


@contextmanager
def prefixed(where: str):
    """A ``DataError`` raised inside gets ``where: `` in front: the file (and rows) a
    statistic was computed on, which the statistics themselves do not know."""
    try:
        yield
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
