"""Names of a package imported on first use (PEP 562), for the stage packages.

``__getattr__, __dir__ = lazy_names(__name__, {"Name": "module", ...})`` in a package's
``__init__`` makes ``from logitkit.stage import Name`` import ``logitkit.stage.module``
only then, so that importing one module of a stage loads only what that module needs
(a CTR run starts without the readers, SciPy, scikit-learn or matplotlib it does not use).
"""
from __future__ import annotations

import sys
from importlib import import_module


def lazy_names(package: str, where: dict[str, str]):
    """(``__getattr__``, ``__dir__``) of ``package``, whose names in ``where`` live in the
    modules it names (relative to the package)."""

    def __getattr__(name: str):
        if name in where:
            return getattr(import_module(f"{package}.{where[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
