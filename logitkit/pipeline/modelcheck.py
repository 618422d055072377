"""Model files parsed defensively: whatever bytes a file holds, a model is either built
whole, with finite parameters, or refused with one ``InputFileError`` naming the file.

Used by ``modelio.load_model`` (and so by ``predict``, ``serve`` and ``repro``): the
file's digest is checked before (``integrity``); these checks catch what a digest
cannot (a model directory without a record, a state this logitkit cannot build) and
refuse NaN or infinite parameters, which would predict NaN or a constant class.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors

from logitkit._util.errors import InputFileError

_AGAIN = "restore it, or run the config again (logitkit run CONFIG --force)"


def json_state(path: Path, raw: bytes) -> dict:
    """A JSON object from ``raw`` (the bytes of ``path``)."""
    try:
        state = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}); "
                             f"{_AGAIN}") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not UTF-8 text, so not a JSON model file; {_AGAIN}") from None
    if not isinstance(state, dict):
        raise InputFileError(f"{path}: holds a JSON {type(state).__name__}, not the object logitkit writes; {_AGAIN}")
    bad = _non_finite(state)
    if bad is not None:
        raise InputFileError(f"{path}: {bad} is NaN, which no fitted state holds; {_AGAIN}")
    return state


def _non_finite(value, where: str = "") -> str | None:
    """The key path of the first NaN in a JSON value (infinities are bucket edges, allowed)."""
    if isinstance(value, float) and value != value:
        return f"key '{where or '(top)'}'"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        found = _non_finite(v, f"{where}.{k}" if where else str(k))
        if found is not None:
            return found
    return None


def tensors_state(path: Path, raw: bytes) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file's bytes; every floating tensor must be finite."""
    try:
        tensors = load_tensors(raw)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as exc:
        raise InputFileError(f"{path}: not a readable safetensors file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                             f"{_AGAIN}") from None
    check_finite(path, tensors)
    return tensors


def check_finite(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """An ``InputFileError`` naming the first floating tensor holding NaN or infinity."""
    for key, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            n = int((~torch.isfinite(t)).sum())
            raise InputFileError(f"{path}: tensor '{key}' holds {n} NaN or infinite value(s); a model with such "
                                 f"parameters predicts nothing sound, so it is refused; {_AGAIN}")


def build(cls, tensors: dict, meta: dict, meta_path: Path):
    """``cls.from_state(tensors, meta)``, then one row of zeros scored as a check: a state
    whose parts do not fit together (shapes, classes, names) is refused here, not when
    the first request comes."""
    try:
        model = cls.from_state(tensors, meta)
        n = getattr(model, "n_features_in_", None)
        if n is not None:
            names = getattr(model, "feature_names_in_", None)
            if names is not None:
                import pyarrow as pa

                X = pa.table({str(c): pa.array(np.zeros(1)) for c in names})
            else:
                X = np.zeros((1, int(n)))
            P = np.asarray(model.predict_proba(X))
            if P.shape != (1, len(model.classes_)) or len(model.classes_) < 2:
                raise ValueError(f"a row gets {P.shape[-1]} probabilities for {len(model.classes_)} classes")
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raise InputFileError(f"{meta_path}: not a {cls.__name__} this logitkit can load ({what}); {_AGAIN}") from None
    return model


__all__ = ["build", "check_finite", "json_state", "tensors_state"]
