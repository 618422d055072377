"""Feature hashing of ``field=value`` tokens into ``2**n_bits`` buckets.

The hash is fixed and seeded, so the same token lands in the same bucket in every
process, on every machine and whatever ``PYTHONHASHSEED`` says (Python's ``hash`` is
never used). For a token's UTF-8 bytes ``t`` (length ``n``) and seed ``s``:

    mix(z)  = splitmix64 finaliser: z ^= z>>30; z *= 0xbf58476d1ce4e5b9;
                                   z ^= z>>27; z *= 0x94d049bb133111eb; z ^= z>>31
    h0      = mix(mix(s + 0x9e3779b97f4a7c15) ^ (n * 0x9e3779b97f4a7c15))
    h_{j+1} = mix(h_j ^ w_j)     for the little-endian 64-bit words w_j of t (last one
                                 zero-padded), j = 0 .. ceil(n/8)-1
    bucket  = h_last & (2**n_bits - 1)

all arithmetic modulo 2**64. A cross of tokens a and b hashes
``mix(mix(h(a) ^ 0x632be59bd9b4e019) ^ h(b))``.

Speed: per column only the *distinct* values are hashed (``dictionary_encode``), then
gathered by the dictionary indices; numeric columns go through a small lookup table of
log-bucket codes. No Python loop runs per row.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logitkit._util.errors import ConfigError, DataError, did_you_mean
from logitkit.loaddata.tokens import N_CODES, code_of_id, log_bucket_code, log_bucket_ids

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_CROSS = np.uint64(0x632BE59BD9B4E019)
HASH_NAME = "splitmix64-words-v1"


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    z = z ^ (z >> np.uint64(30))
    z = z * _M1
    z = z ^ (z >> np.uint64(27))
    z = z * _M2
    return z ^ (z >> np.uint64(31))


def _seed_key(seed: int) -> np.uint64:
    with np.errstate(over="ignore"):
        return _mix(np.array([seed], dtype=np.uint64) + _GOLDEN)[0]


def hash_strings(strings: pa.Array, seed: int = 0) -> np.ndarray:
    """64-bit hashes (uint64, shape (n,)) of the UTF-8 bytes of a string array without nulls."""
    if pa.types.is_large_string(strings.type) or pa.types.is_large_binary(strings.type):
        off_dtype = np.int64
    else:
        strings = strings.cast(pa.string()) if not pa.types.is_string(strings.type) else strings
        off_dtype = np.int32
    n = len(strings)
    bufs = strings.buffers()
    offsets = np.frombuffer(bufs[1], dtype=off_dtype)[strings.offset : strings.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    lens = np.diff(offsets)
    nwords = (lens + 7) // 8
    with np.errstate(over="ignore"):
        h = _mix(np.full(n, _seed_key(seed), dtype=np.uint64) ^ (lens.astype(np.uint64) * _GOLDEN))
        # pad the byte buffer so that every 8-byte read stays inside it
        padded = np.concatenate([data, np.zeros(8, np.uint8)])
        starts = offsets[:-1]
        for j in range(int(nwords.max()) if n else 0):
            live = np.nonzero(nwords > j)[0]
            pos = starts[live] + 8 * j
            idx = pos[:, None] + np.arange(8)
            byts = padded[idx]
            byts[np.arange(8)[None, :] >= (lens[live] - 8 * j)[:, None]] = 0
            w = byts.view("<u8").reshape(-1)
            h[live] = _mix(h[live] ^ w)
    return h


def _token_hash(token: str, seed: int) -> np.uint64:
    return hash_strings(pa.array([token], pa.string()), seed)[0]


def cross_hash(ha: np.ndarray, hb: np.ndarray) -> np.ndarray:
    """64-bit hash of the cross of two tokens from their 64-bit hashes."""
    with np.errstate(over="ignore"):
        return _mix(_mix(ha ^ _CROSS) ^ hb)


class FeatureHasher:
    """Hash each row's fields into ``n_bits``-bit bucket indices: one token per field plus one per cross.

    ``transform(batch)`` takes a ``pyarrow.RecordBatch``/``Table`` (or a ``loaddata.Table``)
    and returns int64 indices of shape ``(n_rows, len(fields) + len(crosses))`` in
    ``[0, 2**n_bits)``. Field ``f`` with value ``v`` is the token ``"f=v"``; a missing
    value (null or empty) is the token ``"f="``, its own bucket. Numeric fields are
    tokenised by their log-bucket code (``numeric="log_bucket"``, see
    ``loaddata.tokens``) or their value as text (``"categorical"``). With
    ``fields=None`` every column except ``label`` is hashed, in the first batch's order.
    """

    def __init__(
        self,
        n_bits: int = 22,
        seed: int = 0,
        fields: list[str] | None = None,
        crosses: list[tuple[str, str]] = [],  # noqa: B006 - never mutated
        numeric: str = "log_bucket",
        label: str | None = "label",
    ) -> None:
        if not 1 <= int(n_bits) <= 62:
            raise ConfigError(f"hashing n_bits={n_bits} must be between 1 and 62")
        if numeric not in ("log_bucket", "categorical"):
            raise ConfigError(f"hashing numeric={numeric!r} must be 'log_bucket' or 'categorical'")
        self.n_bits = int(n_bits)
        self.seed = int(seed)
        self.fields = list(fields) if fields is not None else None
        self.crosses = [tuple(c) for c in crosses]
        self.numeric = numeric
        self.label = label
        self._mask = np.uint64((1 << self.n_bits) - 1)
        self._code_luts: dict[str, np.ndarray] = {}
        self._code_known: dict[str, np.ndarray] = {}

    @property
    def n_buckets(self) -> int:
        return 1 << self.n_bits

    @property
    def n_tokens(self) -> int:
        return len(self.fields or []) + len(self.crosses)

    def token_names(self) -> list[str]:
        """Names of the output columns: the fields, then ``a^b`` for each cross."""
        return list(self.fields or []) + [f"{a}^{b}" for a, b in self.crosses]

    # -- single tokens, for interpretation --------------------------------------------------
    def _token_text(self, field: str, value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return f"{field}="
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            if self.numeric == "log_bucket":
                return f"{field}={log_bucket_code(float(value))}"
            return f"{field}={pa.array([value]).cast(pa.string())[0].as_py()}"
        return f"{field}={value}"

    def token_hash64(self, field: str, value) -> np.uint64:
        return _token_hash(self._token_text(field, value), self.seed)

    def token_of(self, field: str, value) -> int:
        """The bucket of one field's value (None or '' = missing), as ``transform`` computes it."""
        return int(self.token_hash64(field, value) & self._mask)

    def cross_of(self, field_a: str, value_a, field_b: str, value_b) -> int:
        """The bucket of the cross token of two field values."""
        h = cross_hash(
            np.array([self.token_hash64(field_a, value_a)]), np.array([self.token_hash64(field_b, value_b)])
        )
        return int(h[0] & self._mask)

    # -- columns ------------------------------------------------------------------------------
    def _hash_strings_column(self, field: str, arr: pa.Array) -> np.ndarray:
        if pa.types.is_dictionary(arr.type):
            enc = arr
        else:
            if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
                arr = arr.cast(pa.string())
            enc = pc.dictionary_encode(arr)
        dictionary = enc.dictionary
        if not pa.types.is_string(dictionary.type):
            dictionary = dictionary.cast(pa.string())
        prefix = field + "="
        tokens = pc.binary_join_element_wise(prefix, dictionary, "")
        lut = np.empty(len(dictionary) + 1, dtype=np.uint64)
        lut[:-1] = hash_strings(tokens, self.seed)
        lut[-1] = _token_hash(prefix, self.seed)
        codes = enc.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
        return lut[codes]

    def _hash_numeric_column(self, field: str, arr: pa.Array) -> np.ndarray:
        if self.numeric == "categorical":
            return self._hash_strings_column(field, arr.cast(pa.string()))
        v = arr.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        ids = log_bucket_ids(v)
        lut = self._code_luts.get(field)
        if lut is None:
            lut = np.zeros(N_CODES + 1, dtype=np.uint64)
            lut[N_CODES] = _token_hash(f"{field}=", self.seed)
            self._code_luts[field] = lut
            self._code_known[field] = np.zeros(N_CODES + 1, dtype=bool)
            self._code_known[field][N_CODES] = True
        known = self._code_known[field]
        ids[ids < 0] = N_CODES
        present = np.nonzero(np.bincount(ids, minlength=N_CODES + 1))[0]
        new = present[~known[present]]
        if len(new):
            toks = pa.array([f"{field}={code_of_id(int(i))}" for i in new], pa.string())
            lut[new] = hash_strings(toks, self.seed)
            known[new] = True
        return lut[ids]

    def _resolve_fields(self, names: list[str]) -> None:
        if self.fields is None:
            self.fields = [c for c in names if c != self.label]
        missing = [f for f in self.fields + [c for ab in self.crosses for c in ab] if f not in names]
        if missing:
            raise DataError(
                f"feature hashing: column {missing[0]!r} is not in the data; columns are {names}."
                + did_you_mean(missing[0], names)
            )

    def hash64(self, batch) -> np.ndarray:
        """Full 64-bit token hashes (uint64, shape (n_rows, n_tokens)) before bucketing."""
        if hasattr(batch, "data") and isinstance(getattr(batch, "data"), pa.Table):
            batch = batch.data
        if isinstance(batch, pa.Table):
            parts = [self.hash64(b) for b in batch.to_batches()]
            if not parts:
                self._resolve_fields(batch.column_names)
                return np.zeros((0, self.n_tokens), np.uint64)
            return np.concatenate(parts)
        self._resolve_fields(batch.schema.names)
        out = np.empty((batch.num_rows, self.n_tokens), dtype=np.uint64)
        by_field: dict[str, np.ndarray] = {}
        for j, f in enumerate(self.fields):
            arr = batch.column(f)
            t = arr.type
            if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
                h = self._hash_numeric_column(f, arr)
            else:
                h = self._hash_strings_column(f, arr)
            by_field[f] = h
            out[:, j] = h
        for k, (a, b) in enumerate(self.crosses):
            ha = by_field[a] if a in by_field else self._column_hash(batch, a)
            hb = by_field[b] if b in by_field else self._column_hash(batch, b)
            out[:, len(self.fields) + k] = cross_hash(ha, hb)
        return out

    def _column_hash(self, batch: pa.RecordBatch, f: str) -> np.ndarray:
        arr = batch.column(f)
        t = arr.type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
            return self._hash_numeric_column(f, arr)
        return self._hash_strings_column(f, arr)

    def transform(self, batch) -> np.ndarray:
        """Bucket indices, int64 of shape (n_rows, n_tokens), each in [0, 2**n_bits)."""
        return (self.hash64(batch) & self._mask).astype(np.int64)

    def transform_batches(self, batches: Iterable) -> Iterable[np.ndarray]:
        for b in batches:
            yield self.transform(b)

    # -- state --------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "kind": "FeatureHasher",
            "hash": HASH_NAME,
            "n_bits": self.n_bits,
            "seed": self.seed,
            "fields": self.fields,
            "crosses": [list(c) for c in self.crosses],
            "numeric": self.numeric,
            "label": self.label,
        }

    @classmethod
    def from_json(cls, d: dict) -> "FeatureHasher":
        if d.get("kind") != "FeatureHasher" or d.get("hash") != HASH_NAME:
            raise DataError(
                f"saved hasher state is of kind {d.get('kind')!r} / hash {d.get('hash')!r}; "
                f"this logitkit reads FeatureHasher / {HASH_NAME}. Retrain with this version."
            )
        return cls(d["n_bits"], d["seed"], d["fields"], [tuple(c) for c in d["crosses"]], d["numeric"], d["label"])
