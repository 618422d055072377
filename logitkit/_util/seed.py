"""One seed for every random number generator."""
from __future__ import annotations

import os
import random
import sys

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) and ask torch for deterministic kernels.

    ``deterministic`` requests ``torch.use_deterministic_algorithms(True, warn_only=True)``
    so that the same seed and data give the same bits on the same machine. (That function
    also sets ``torch._inductor.config.deterministic``, importing TorchDynamo and Inductor:
    about a second and 70 MB that logitkit, which compiles nothing, does not use. The
    same two settings are made here without the import: the kernel flag directly, and
    Inductor's through its ``TORCHINDUCTOR_DETERMINISTIC`` variable, or on its config
    when something loaded it already.)
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch._C._set_deterministic_algorithms(True, warn_only=True)
        inductor = sys.modules.get("torch._inductor.config")
        if inductor is not None:
            inductor.deterministic = True
        else:
            os.environ.setdefault("TORCHINDUCTOR_DETERMINISTIC", "1")
        torch.backends.cudnn.benchmark = False
