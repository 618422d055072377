"""Helpers shared by every stage: errors, seeding, device and array conversion.

``seed_everything``, ``resolve_device`` and ``resolve_dtype`` need torch and are imported
on first use, so that importing ``logitkit._util.errors`` (every stage does) does not
load torch: a command that needs none (``--help``, reading a config) starts without it.
"""
from logitkit._util.lazy import lazy_names

from logitkit._util.errors import (
    ConfigError,
    DataError,
    InputFileError,
    UserError,
    closest,
)

_WHERE = {"seed_everything": "seed", "resolve_device": "device", "resolve_dtype": "device"}

__all__ = [
    "UserError",
    "ConfigError",
    "DataError",
    "InputFileError",
    "closest",
    "seed_everything",
    "resolve_device",
    "resolve_dtype",
]


__getattr__, __dir__ = lazy_names(__name__, _WHERE)
