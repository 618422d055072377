"""Linear hypotheses R β = q about the coefficients: Wald (χ²) and per-row z ("t") tests.

Hypotheses are written with the summary's term names, ``"x1 = x2, x3 = 0"``,
``"2*x1 - x2 = 1"``, ``"(a + b)/2 = c"``; a constraint without '=' means '= 0'. Names
that are not plain identifiers are matched as they are (``C(region)[T.b]``, ``x:w``,
``np.log(z)``, softmax rows ``"2: age"``) or written in backticks. The intercept is
``intercept`` (``Intercept`` is accepted too). Or pass the matrix R (and q), or (R, q).

    Wald    W = (Rβ̂ − q)ᵀ (R V Rᵀ)⁻¹ (Rβ̂ − q) ~ χ²(rank R)
    z test  (Rβ̂ − q)_i / √(R V Rᵀ)_ii ~ N(0, 1), each row on its own

with V the summary's covariance (its ``cov_type``), as statsmodels' ``wald_test`` and
``t_test`` for discrete models (large-sample, normal reference).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import stats

from logitkit._util.errors import ConfigError, DataError, did_you_mean
from logitkit.evaluate.fitted import Fitted

_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_WORD = re.compile(r"[A-Za-z0-9_.]")


@dataclass
class WaldTest:
    """``statistic`` ~ χ²(``df``) under the hypothesis; ``p_value``."""

    statistic: float
    df: int
    p_value: float
    R: np.ndarray = field(repr=False)
    q: np.ndarray = field(repr=False)
    hypothesis: str | None = None

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "df": self.df, "p_value": self.p_value,
                "distribution": "chi2", "hypothesis": self.hypothesis}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([{"statistic": self.statistic, "df": self.df, "p_value": self.p_value}])

    def __str__(self) -> str:
        what = f" of {self.hypothesis!r}" if self.hypothesis else ""
        return f"Wald test{what}: chi2({self.df}) = {self.statistic:.6g}, p = {self.p_value:.4g}"


@dataclass
class TTest:
    """One row per constraint: ``effect`` (Rβ̂), ``std_err``, ``statistic`` (z = (Rβ̂ −
    q)/std_err), ``p_value``, ``ci_low``, ``ci_high`` (for Rβ); the reference is N(0, 1)
    (``df`` None), as statsmodels' ``t_test`` for discrete models."""

    effect: np.ndarray
    std_err: np.ndarray
    value: np.ndarray
    labels: list[str]
    level: float
    df: None = None

    @property
    def statistic(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.std_err > 0, (self.effect - self.value) / self.std_err, np.nan)

    @property
    def p_value(self) -> np.ndarray:
        return 2 * stats.norm.sf(np.abs(self.statistic))

    def to_frame(self):
        import pandas as pd

        q = float(stats.norm.ppf(0.5 + self.level / 2))
        return pd.DataFrame({"effect": self.effect, "std_err": self.std_err, "statistic": self.statistic,
                             "p_value": self.p_value, "ci_low": self.effect - q * self.std_err,
                             "ci_high": self.effect + q * self.std_err},
                            index=pd.Index(self.labels, name="constraint"))

    def to_dict(self) -> dict:
        return {"level": self.level, "distribution": "normal",
                "tests": self.to_frame().reset_index().to_dict(orient="records")}

    def __str__(self) -> str:
        return "Linear hypotheses (z tests)\n" + self.to_frame().to_string(float_format=lambda v: f"{v:.6g}")


def wald_test(fit: Fitted, hypothesis, value=None) -> WaldTest:
    """The joint Wald test of R β = q (see the module docstring)."""
    R, q, labels = _constraints(fit, hypothesis, value)
    diff, C = _contrast(fit, R, q)
    rank = int(np.linalg.matrix_rank(C))
    if rank < C.shape[0]:
        raise DataError(f"the {C.shape[0]} constraints are not independent (rank {rank}, or a constraint has "
                        "zero variance); drop the redundant ones")
    stat = float(diff @ np.linalg.solve(C, diff))
    return WaldTest(stat, rank, float(stats.chi2.sf(stat, rank)), R, q,
                    hypothesis if isinstance(hypothesis, str) else None)


def t_test(fit: Fitted, hypothesis, value=None) -> TTest:
    """Each constraint of R β = q on its own: estimate, standard error, z, p, CI."""
    R, q, labels = _constraints(fit, hypothesis, value)
    diff, C = _contrast(fit, R, q)
    return TTest(diff + q, np.sqrt(np.clip(np.diag(C), 0, None)), q, labels, fit.level)


def _contrast(fit: Fitted, R: np.ndarray, q: np.ndarray):
    fit.check_link("linear hypotheses")
    fit.check_identified(R, "the hypothesis")
    Rt = torch.as_tensor(R, dtype=torch.float64, device=fit.device)
    diff = (Rt @ fit.beta).cpu().numpy() - q
    C = (Rt @ fit.V @ Rt.T).cpu().numpy()
    return diff, C


def _constraints(fit: Fitted, hypothesis, value):
    k = len(fit.terms)
    if isinstance(hypothesis, str):
        if value is not None:
            raise ConfigError("value= is for a matrix hypothesis; in a string write it after '=' ('x1 = 2')")
        return parse(hypothesis, fit.terms)
    if isinstance(hypothesis, tuple) and len(hypothesis) == 2 and value is None:
        hypothesis, value = hypothesis
    R = np.atleast_2d(np.asarray(hypothesis, dtype=np.float64))
    if R.ndim != 2 or R.shape[1] != k:
        raise ConfigError(f"the hypothesis matrix has shape {np.asarray(hypothesis).shape}; it needs {k} columns, "
                          f"one per coefficient in the summary's order ({fit.terms[:6]}{' ...' if k > 6 else ''})")
    q = np.zeros(R.shape[0]) if value is None else np.broadcast_to(np.asarray(value, dtype=np.float64), (R.shape[0],))
    return R, np.array(q), [f"c{i}" for i in range(R.shape[0])]


# ------------------------------------------------------------------------ the parser
def parse(text: str, names: list[str]):
    """(R, q, labels) of the constraints in ``text`` over the coefficients ``names``."""
    toks = _tokens(text, names)
    groups, cur = [], []
    for t in toks + [(",", ",", len(text), len(text))]:
        if t[0] != ",":
            cur.append(t)
            continue
        if not cur:
            raise ConfigError(f"hypothesis {text!r} has an empty constraint; separate constraints by single commas")
        groups.append(cur)
        cur = []
    R, q, labels = [], [], []
    for g in groups:
        label = text[g[0][2] : g[-1][3]]
        sides = [[]]
        for t in g:
            if t[0] == "=":
                sides.append([])
            else:
                sides[-1].append(t)
        if len(sides) > 2 or any(not side for side in sides):
            raise ConfigError(f"hypothesis {text!r}: {label!r} must read 'expression = expression' "
                              "(or an expression, meaning '= 0')")
        lv, lc = _Expr(sides[0], len(names), text).parse()
        rv, rc = _Expr(sides[1], len(names), text).parse() if len(sides) == 2 else (np.zeros(len(names)), 0.0)
        row = lv - rv
        if not row.any():
            raise ConfigError(f"hypothesis {text!r}: {label!r} names no coefficient (or they cancel)")
        R.append(row)
        q.append(rc - lc)
        labels.append(label.strip())
    return np.array(R), np.array(q), labels


class _Expr:
    """Recursive descent over + - * / and parentheses; every value is linear,
    (coefficients, constant), and a product needs one constant side."""

    def __init__(self, toks, k: int, text: str):
        self.toks, self.i, self.k, self.text = toks, 0, k, text

    def parse(self):
        v = self.sum()
        if self.i < len(self.toks):
            raise ConfigError(f"hypothesis {self.text!r}: unexpected {self.toks[self.i][1]!r}")
        return v

    def peek(self):
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def sum(self):
        vec, c = self.product()
        while self.peek() in ("+", "-"):
            sign = 1.0 if self.toks[self.i][0] == "+" else -1.0
            self.i += 1
            v2, c2 = self.product()
            vec, c = vec + sign * v2, c + sign * c2
        return vec, c

    def product(self):
        vec, c = self.unary()
        while self.peek() in ("*", "/"):
            op = self.toks[self.i][0]
            self.i += 1
            v2, c2 = self.unary()
            if op == "/":
                if v2.any() or c2 == 0:
                    raise ConfigError(f"hypothesis {self.text!r}: divide only by a non-zero number")
                vec, c = vec / c2, c / c2
            elif vec.any() and v2.any():
                raise ConfigError(f"hypothesis {self.text!r}: a product of two coefficients is not linear")
            else:
                vec, c = (vec * c2 + v2 * c), c * c2
        return vec, c

    def unary(self):
        kind = self.peek()
        if kind in ("+", "-"):
            self.i += 1
            vec, c = self.unary()
            return (vec, c) if kind == "+" else (-vec, -c)
        if kind is None:
            raise ConfigError(f"hypothesis {self.text!r} ends early; a term is missing")
        tok = self.toks[self.i]
        self.i += 1
        if kind == "num":
            return np.zeros(self.k), tok[1]
        if kind == "name":
            vec = np.zeros(self.k)
            vec[tok[1]] = 1.0
            return vec, 0.0
        if kind == "(":
            v = self.sum()
            if self.peek() != ")":
                raise ConfigError(f"hypothesis {self.text!r}: a '(' is not closed")
            self.i += 1
            return v
        raise ConfigError(f"hypothesis {self.text!r}: unexpected {tok[1]!r}")


def _tokens(text: str, names: list[str]):
    """(kind, value, start, end) tokens: 'name' (its index), 'num', and + - * / ( ) = ,"""
    aliases = {n: i for i, n in enumerate(names)}
    if "intercept" in aliases and "Intercept" not in aliases:
        aliases["Intercept"] = aliases["intercept"]
    by_length = sorted(aliases, key=len, reverse=True)
    i, out = 0, []
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise ConfigError(f"hypothesis {text!r}: the backtick at position {i} is not closed")
            name = text[i + 1 : end]
            if name not in aliases:
                raise ConfigError(_unknown(text, name, names))
            out.append(("name", aliases[name], i, end + 1))
            i = end + 1
            continue
        hit = next((n for n in by_length if text.startswith(n, i) and not (
            _WORD.match(n[-1]) and i + len(n) < len(text) and _WORD.match(text[i + len(n)]))), None)
        if hit is not None:
            out.append(("name", aliases[hit], i, i + len(hit)))
            i += len(hit)
            continue
        m = _NUMBER.match(text, i)
        if m and not (m.end() < len(text) and re.match(r"[A-Za-z_]", text[m.end()])):
            out.append(("num", float(m.group(0)), i, m.end()))
            i = m.end()
            continue
        if ch in "+-*/()=,":
            out.append((ch, ch, i, i + 1))
            i += 1
            continue
        word = re.match(r"[^\s+\-*/=,]+", text[i:]).group(0)
        raise ConfigError(_unknown(text, word, names))
    return out


def _unknown(text: str, word: str, names: list[str]) -> str:
    shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
    return (f"hypothesis {text!r}: {word!r} is not a coefficient of the model." + did_you_mean(word, names)
            + f" The coefficients are: {shown}")
