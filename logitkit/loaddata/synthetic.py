"""Synthetic data with a known logistic ground truth, for tests and benchmarks.

- ``make_logistic``: dense Gaussian features, ``P(y=1|x) = sigmoid(x·coef + intercept)``.
- ``make_ctr``: Criteo-layout rows (``label, I1..I13, C1..C26``): Zipf-distributed
  categoricals, heavy-tailed counts, missing values, and a logistic ground truth that is
  additive over the ``field=value`` tokens (counts enter through their log-bucket code,
  see ``loaddata.tokens``), plus, with ``interactions=``, low-rank pairwise terms within
  chosen groups of fields (what a linear model over single tokens cannot express).

Both are seeded (same seed, same bits) and return the truth, including every row's true
probability, so a test can compute the log loss of the true model.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from logitkit._util.errors import ConfigError, did_you_mean
from logitkit.loaddata.criteo import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS
from logitkit.loaddata.table import Table
from logitkit.loaddata.tokens import N_CODES, log_bucket_ids


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def log_loss_of(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood of 0/1 labels ``y`` under probabilities ``p``."""
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


@dataclass
class LogisticTruth:
    coef: np.ndarray  # (d,)
    intercept: float
    prob: np.ndarray  # (n,) true P(y=1|x)

    def log_loss(self, y: np.ndarray) -> float:
        return log_loss_of(y, self.prob)


def make_logistic(
    n_rows: int = 1000,
    n_features: int = 5,
    seed: int = 0,
    coef: np.ndarray | None = None,
    intercept: float = 0.0,
    missing_rate: float = 0.0,
) -> tuple[Table, LogisticTruth]:
    """Dense data ``x ~ N(0, I)`` with labels from a logistic model with known coefficients.

    Columns ``x0..x{d-1}`` (float64) and ``y`` (int64, 0/1). ``coef`` None draws
    ``N(0, 1)`` coefficients. ``missing_rate`` > 0 blanks that fraction of feature
    values (after labels are drawn).
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features))
    w = rng.standard_normal(n_features) if coef is None else np.asarray(coef, dtype=np.float64)
    p = _sigmoid(X @ w + intercept)
    y = (rng.random(n_rows) < p).astype(np.int64)
    cols = {}
    for j in range(n_features):
        col = X[:, j]
        mask = rng.random(n_rows) < missing_rate if missing_rate > 0 else None
        cols[f"x{j}"] = pa.array(col, mask=mask)
    cols["y"] = pa.array(y)
    fp = {"dataset": "make_logistic", "version": "1", "n_rows": n_rows, "n_features": n_features, "seed": seed}
    return Table(pa.table(cols), "y", "make_logistic", fp), LogisticTruth(w, float(intercept), p)


@dataclass
class CTRTruth:
    """Ground truth of ``make_ctr``: logit = bias + Σ_fields weight(field, value)
    + Σ_groups Σ_{f<g in the group} ⟨U_f[value id of f], U_g[value id of g]⟩.

    ``groups`` maps each group of interacting fields (a tuple, a pair at least) to the
    vectors of its fields' values: {field: U_f of shape (value ids of f, rank)}. A field's
    value id is the value's position in ``vocab[field]`` (missing: ``len(vocab[field])``)
    for a categorical field, its log-bucket code id (``loaddata.tokens.log_bucket_ids``;
    missing: ``N_CODES``) for a count field.
    """

    bias: float
    vocab: dict[str, np.ndarray]  # categorical field -> (K,) value strings
    cat_weights: dict[str, np.ndarray]  # field -> (K,) weight of each value
    cat_missing: dict[str, float]  # field -> weight of the missing token
    num_weights: dict[str, np.ndarray]  # numeric field -> (N_CODES + 1,) weight per log-bucket code id (last = missing)
    prob: np.ndarray  # (n,) true click probability of every row
    extra: dict = field(default_factory=dict)
    groups: dict[tuple[str, ...], dict[str, np.ndarray]] = field(default_factory=dict)

    def log_loss(self, y: np.ndarray) -> float:
        """Log loss of the true model on labels ``y`` (the floor any learner can reach)."""
        return log_loss_of(y, self.prob)


def _hex_vocab(k: int, salt: int) -> np.ndarray:
    ids = (np.arange(k, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(salt)) & np.uint64(0xFFFFFFFF)
    return np.array([f"{int(i):08x}" for i in ids], dtype=object)


def make_ctr(
    n_rows: int,
    seed: int = 0,
    max_cardinality: int = 10_000,
    zipf_a: float = 1.1,
    missing_rate: float = 0.1,
    ctr: float = 0.25,
    weight_scale: float = 0.5,
    interactions: int | list[tuple[str, ...]] | None = None,
    interaction_rank: int = 2,
    interaction_scale: float = 1.0,
) -> tuple[Table, CTRTruth]:
    """Criteo-layout rows with a known logistic truth.

    Field ``Cf`` has ``K_f`` distinct 8-hex-digit values (``K_f`` geometric from 3 to
    ``max_cardinality`` over the 26 fields) drawn with ``P(k) ∝ k^-zipf_a``; counts
    ``I1..I13`` are floor(Pareto) draws (some ``I2`` values negative, as in Criteo);
    each field is missing with a rate spread around ``missing_rate``. Weights are
    ``N(0, weight_scale^2)`` per token; the bias is set so the mean click rate is near ``ctr``.

    ``interactions``: groups of fields such as ``[("C3", "C14"), ("I5", "C20", "C21")]``
    (disjoint), or a number m of disjoint pairs drawn at random from the 39 fields. Every
    value a of a grouped field f has a vector U_f[a] of length ``interaction_rank``
    (missing is a value too), and a group adds to a row's logit the second-order
    factorisation machine of its fields, Σ_{f<g} ⟨U_f[a_f], U_g[a_g]⟩: for a pair, a
    cross weight matrix U_f·U_gᵀ of that rank. The entries are N(0, σ²) with
    σ⁴ = interaction_scale² / (rank · pairs in the group), so each group's term has
    standard deviation ``interaction_scale``. Their draws come from a generator of their
    own (seeded by ``seed``): the feature columns are the same bits with or without
    interactions, only the probabilities and labels change; ``None`` (the default) gives
    exactly the data of earlier versions.
    Returns the ``Table`` (label column ``label``, int8) and the ``CTRTruth``.
    """
    groups = _interaction_groups(interactions, seed)
    if int(interaction_rank) < 1 or not float(interaction_scale) >= 0:
        raise ConfigError(
            f"interaction_rank={interaction_rank!r} must be an integer >= 1 and interaction_scale="
            f"{interaction_scale!r} a number >= 0"
        )
    grouped = {f for group in groups for f in group}
    value_ids: dict[str, np.ndarray] = {}  # the value ids of the grouped fields
    n_ids: dict[str, int] = {}
    rng = np.random.default_rng(seed)
    n = int(n_rows)
    cards = np.round(np.geomspace(3, max(3, max_cardinality), len(CATEGORICAL_COLUMNS))).astype(np.int64)
    logit = np.zeros(n)
    cols: dict[str, pa.Array] = {}
    vocab, cat_w, cat_miss, num_w = {}, {}, {}, {}
    miss_rates = np.clip(rng.uniform(0, 2 * missing_rate, len(NUMERIC_COLUMNS) + len(CATEGORICAL_COLUMNS)), 0, 0.9)
    for j, f in enumerate(NUMERIC_COLUMNS):
        scale = float(np.exp(rng.uniform(0, 5)))
        v = np.floor(rng.pareto(1.2, n) * scale).astype(np.int64)
        if f == "I2":
            v -= 3
        miss = rng.random(n) < miss_rates[j]
        w = rng.normal(0, weight_scale, N_CODES + 1)
        ids = log_bucket_ids(np.where(miss, np.nan, v.astype(np.float64)))
        ids[ids < 0] = N_CODES
        logit += w[ids]
        num_w[f] = w
        if f in grouped:
            value_ids[f], n_ids[f] = ids, N_CODES + 1
        cols[f] = pa.array(v, mask=miss)
    for j, f in enumerate(CATEGORICAL_COLUMNS):
        k = int(cards[j])
        p = 1.0 / np.arange(1, k + 1) ** zipf_a
        ids = np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, k - 1)
        miss = rng.random(n) < miss_rates[len(NUMERIC_COLUMNS) + j]
        voc = _hex_vocab(k, salt=int(rng.integers(0, 2**32)))
        w = rng.normal(0, weight_scale, k)
        wm = float(rng.normal(0, weight_scale))
        logit += np.where(miss, wm, w[ids])
        vocab[f], cat_w[f], cat_miss[f] = voc, w, wm
        if f in grouped:
            value_ids[f], n_ids[f] = np.where(miss, k, ids), k + 1
        dict_arr = pa.DictionaryArray.from_arrays(pa.array(ids.astype(np.int32), mask=miss), pa.array(voc, pa.string()))
        cols[f] = dict_arr.cast(pa.string())
    group_weights = {}
    if groups:
        irng = np.random.default_rng([int(seed), _INTERACTION_STREAM])
        rank = int(interaction_rank)
        for group in groups:
            n_pairs = len(group) * (len(group) - 1) // 2
            sigma = (float(interaction_scale) ** 2 / (rank * n_pairs)) ** 0.25
            vecs = {f: irng.normal(0, sigma, (n_ids[f], rank)) for f in group}
            total = np.zeros((n, rank))
            squares = np.zeros(n)
            for f in group:  # Σ_{f<g} ⟨u_f, u_g⟩ = ½ (‖Σ_f u_f‖² − Σ_f ‖u_f‖²)
                u = vecs[f][value_ids[f]]
                total += u
                squares += np.einsum("nr,nr->n", u, u)
            logit += 0.5 * (np.einsum("nr,nr->n", total, total) - squares)
            group_weights[group] = vecs
    # bias so that the mean probability is near ``ctr`` (a few Newton steps on the mean)
    bias = float(np.log(ctr / (1 - ctr)) - np.median(logit))
    for _ in range(20):
        pr = _sigmoid(logit + bias)
        g = pr.mean() - ctr
        bias -= g / max(float((pr * (1 - pr)).mean()), 1e-6)
    prob = _sigmoid(logit + bias)
    y = (rng.random(n) < prob).astype(np.int8)
    data = pa.table({"label": pa.array(y), **cols})
    fp = {"dataset": "make_ctr", "version": "1", "n_rows": n, "seed": seed}
    if groups:
        fp["interactions"] = {"groups": [list(g) for g in groups], "rank": int(interaction_rank),
                              "scale": float(interaction_scale)}
    truth = CTRTruth(bias, vocab, cat_w, cat_miss, num_w, prob, groups=group_weights)
    return Table(data, "label", "make_ctr", fp), truth


_INTERACTION_STREAM = 0x1F7E  # the interaction weights' own random stream (beside ``seed``'s)


def _interaction_groups(interactions, seed: int) -> list[tuple[str, ...]]:
    """The field groups of ``make_ctr(interactions=...)``, checked."""
    fields = NUMERIC_COLUMNS + CATEGORICAL_COLUMNS
    if interactions is None:
        return []
    if isinstance(interactions, (int, np.integer)) and not isinstance(interactions, bool):
        m = int(interactions)
        if not 0 <= m <= len(fields) // 2:
            raise ConfigError(f"interactions={m} must be a number of disjoint field pairs in [0, {len(fields) // 2}]")
        order = np.random.default_rng([int(seed), _INTERACTION_STREAM, 1]).permutation(len(fields))
        return [(fields[order[2 * i]], fields[order[2 * i + 1]]) for i in range(m)]
    groups: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for group in interactions:
        if isinstance(group, str) or len(group) < 2:
            raise ConfigError(f"interactions: {group!r} is not a group of two or more fields; "
                              "write e.g. [('C3', 'C14'), ('I5', 'C20', 'C21')]")
        names = tuple(str(x) for x in group)
        for name in names:
            if name not in fields:
                raise ConfigError(f"interactions: {name!r} is not a Criteo field (I1..I13, C1..C26).{did_you_mean(name, fields)}")
            if name in seen:
                raise ConfigError(f"interactions: field {name!r} is in two groups (or twice in one); the groups must be disjoint")
            seen.add(name)
        groups.append(names)
    return groups
