"""Helpers shared by every stage: errors, seeding, device and array conversion."""
from logitkit._util.errors import (
    ConfigError,
    DataError,
    InputFileError,
    UserError,
    closest,
)
from logitkit._util.seed import seed_everything
from logitkit._util.device import resolve_device, resolve_dtype

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
