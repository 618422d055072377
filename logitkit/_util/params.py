"""Estimator parameters, each declared once: default, allowed values, doc.

An estimator's parameters are one table ``{name: Param(default, allowed, doc)}``, in
the spirit of scikit-learn's ``_parameter_constraints``. From the table come

- its ``__init__`` (``estimator_init``): the signature scikit-learn's ``get_params``,
  ``clone`` and ``repr`` read, and that ``help()`` shows;
- its checks at fit time (``check_params``): one ``ConfigError`` format,
  "``Estimator: key=value is invalid; expected ...``";
- the Parameters section of its docstring (``params_doc``);
- a config schema's fields: ``Param.annotation`` is the Python type a config value
  may have (``typing.Literal`` of the options, ``int``, ``float``, ...),
  ``Param.bounds`` its numeric bounds in pydantic's words (``{"ge": 0}``), and
  ``Param.summary`` the first sentence of its doc.

So a new parameter is one entry in one table. ``allowed`` lists the alternatives a
value may match: plain values (``None``, ``"l2"``), an ``Interval`` of numbers or an
``Instance`` of some types; ``None`` for ``allowed`` leaves the check to the estimator
(``text`` then says in words what it takes). The tables live with their estimators
(``predict.logistic.PARAMS``, ...); this module is the machinery and a few entries that
several tables share.
"""
from __future__ import annotations

import inspect
import sys
import textwrap
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Literal, Union

import numpy as np

from logitkit._util.errors import ConfigError


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` (``Real`` or ``Integral``; never a bool) between ``low`` and
    ``high`` (``None``: unbounded); ``closed`` says which ends belong to it."""

    kind: type
    low: float | None = None
    high: float | None = None
    closed: Literal["both", "left", "right", "neither"] = "both"

    def holds(self, v) -> bool:
        if isinstance(v, bool) or not isinstance(v, self.kind):
            return False
        lo_in, hi_in = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and not (v >= self.low if lo_in else v > self.low):
            return False
        return self.high is None or (v <= self.high if hi_in else v < self.high)

    def describe(self) -> str:
        what = "an integer" if self.kind is Integral else "a number"
        lo_in, hi_in = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return f"{what} in {'[' if lo_in else '('}{self.low:g}, {self.high:g}{']' if hi_in else ')'}"
        if self.low is not None:
            return f"{what} {'>=' if lo_in else '>'} {self.low:g}"
        if self.high is not None:
            return f"{what} {'<=' if hi_in else '<'} {self.high:g}"
        return what

    @property
    def annotation(self) -> type:
        return int if self.kind is Integral else float

    @property
    def bounds(self) -> dict:
        lo_in, hi_in = self.closed in ("both", "left"), self.closed in ("both", "right")
        out = {}
        if self.low is not None:
            out["ge" if lo_in else "gt"] = self.low
        if self.high is not None:
            out["le" if hi_in else "lt"] = self.high
        return out


@dataclass(frozen=True)
class Instance:
    """Values of the ``types``; ``text`` names them in messages ("a dict {class: weight}");
    ``annotation`` is the type a config file can give (None: not settable there). A type
    may be named by its dotted path ("torch.dtype"): no value is one of those while its
    module is not loaded, so reading a config's parameters does not import torch."""

    types: tuple
    text: str
    annotation: object = None

    def holds(self, v) -> bool:
        types = [t for t in self.types if not isinstance(t, str)]
        for name in (t for t in self.types if isinstance(t, str)):
            module, _, attr = name.rpartition(".")
            if module in sys.modules:
                types.append(getattr(sys.modules[module], attr))
        return isinstance(v, tuple(types))

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True)
class Param:
    """One parameter: its default, the values it allows, its doc (sentences; the first
    one is the summary), and whether a run config sets it (``config``)."""

    default: object
    allowed: tuple | None
    doc: str
    config: bool = True
    text: str = "see the doc"  # the allowed values in words when ``allowed`` is None

    def holds(self, v) -> bool:
        if self.allowed is None:
            return True
        return any(a.holds(v) if isinstance(a, (Interval, Instance)) else _same(v, a) for a in self.allowed)

    def describe(self) -> str:
        """The allowed values in words: "'softmax' or 'ovr'", "None or a number > 0"."""
        if self.allowed is None:
            return self.text
        words = [a.describe() if isinstance(a, (Interval, Instance)) else repr(a) for a in self.allowed]
        if len(words) > 2 and all(isinstance(a, str) for a in self.allowed):
            return "one of " + ", ".join(words)
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]

    @property
    def summary(self) -> str:
        return self.doc.split(". ")[0].rstrip(".") + "."

    @property
    def annotation(self):
        """The type of the values a config file may give (``Literal`` of the options,
        int, float, ..., ``| None`` when None is allowed)."""
        if self.allowed is None:
            return object
        values = tuple(a for a in self.allowed if not isinstance(a, (Interval, Instance)) and a is not None)
        types = [Literal[values]] if values else []
        types += [a.annotation for a in self.allowed if isinstance(a, (Interval, Instance)) and a.annotation]
        if None in self.allowed:
            types.append(type(None))
        return Union[tuple(types)] if len(types) > 1 else types[0]

    @property
    def bounds(self) -> dict:
        """Numeric bounds as pydantic's ``Field`` takes them (``{"ge": 0}``), if any."""
        intervals = [a for a in self.allowed or () if isinstance(a, Interval)]
        return intervals[0].bounds if len(intervals) == 1 else {}


# ---- shared by several estimators' tables
BOOL = Instance((bool, np.bool_), "True or False", bool)
POSITIVE = Interval(Real, 0, None, "neither")
DTYPE = Param("float64", ("float32", "float64", Instance(("torch.dtype",), "a torch dtype")),
              "float64 matches scikit-learn and statsmodels to many digits; float32 halves memory "
              "traffic for large data.")
DEVICE = Param("auto", (Instance((str, "torch.device"), "a device ('auto', 'cpu', 'cuda', 'cuda:1', ...)", str),),
               "Where the fit runs; 'auto' is CUDA when available.", config=False)
VERBOSE = Param(0, (Interval(Integral, 0), True, False),
                "Log the objective at each iteration (logging at INFO on 'logitkit.predict').", config=False)


def _same(v, option) -> bool:
    """v is the option (None, True) or equal to it (a string) without being a bool."""
    if option is None or isinstance(option, bool):
        return v is option
    return isinstance(v, type(option)) and not isinstance(v, bool) and v == option


def check_params(estimator, params: dict[str, Param]) -> None:
    """Raise a ``ConfigError`` naming the first parameter of ``estimator`` whose value
    the table ``params`` does not allow."""
    for key, p in params.items():
        value = getattr(estimator, key)
        if not p.holds(value):
            raise ConfigError(f"{type(estimator).__name__}: {key}={value!r} is invalid; expected {p.describe()}")


def estimator_init(params: dict[str, Param]):
    """An ``__init__`` that takes the parameters of the table (in its order, each with
    its default) and stores each under its own name, as scikit-learn requires."""
    sig = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=p.default)
           for k, p in params.items()])

    def __init__(self, *args, **kwargs):
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for key, value in list(bound.arguments.items())[1:]:
            setattr(self, key, value)

    __init__.__signature__ = sig
    return __init__


def params_doc(params: dict[str, Param], indent: str = "    ") -> str:
    """The numpydoc "Parameters" section of the table."""
    lines = ["Parameters", "----------"]
    for key, p in params.items():
        lines.append(f"{key} : {p.describe()}, default {p.default!r}")
        lines += textwrap.wrap(p.doc, 84, initial_indent=indent, subsequent_indent=indent)
    return textwrap.indent("\n".join(lines), indent)
