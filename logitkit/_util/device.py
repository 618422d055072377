"""Device and dtype names as users write them, resolved to torch objects."""
from __future__ import annotations

import torch

from logitkit._util.errors import ConfigError

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' picks CUDA when available, else CPU; other names go to ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"device={device!r} is not a device torch knows; use 'auto', 'cpu' or 'cuda[:N]'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device={device!r} asks for CUDA but torch sees no GPU here; use device='auto' or 'cpu'"
        )
    return dev


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """'float32' or 'float64' (or a torch dtype of either) to a torch dtype."""
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ConfigError(f"dtype={dtype!r} is not supported; use 'float32' or 'float64'")
