"""Feature hashing of ``field=value`` tokens into ``2**n_bits`` buckets.

The token ``field=value`` hashes to ``H(utf8(value), field_key(field, seed))`` (a
missing value is the empty value; the hash ``H`` and the keys are in ``hash64``), its
bucket is that hash ``& (2**n_bits - 1)``. A cross of tokens a and b hashes
``cross_hash(h(a), h(b))``.

Speed: a plain string column is hashed row by row by one vectorised pass per 8-byte
word (``hash64.hash_strings``), which costs less than finding its distinct values first;
dictionary columns hash their dictionary once and gather; a count column is one lookup
in a per-field table of buckets (each log-bucket code hashed once). No Python loop runs
per row. ``transform(batch, dtype=np.int32)`` halves the output's bytes.

``FeatureHasher`` is what a ``loaddata.CTRStream`` is given as its transform (the
stream's ``TokenTransform``: ``resolve_fields``, ``transform``, ``vocab``, ``to_json``);
loaddata never imports this module.
"""
from __future__ import annotations

import threading
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logitkit._util.errors import ConfigError, DataError, did_you_mean
from logitkit.loaddata.tokens import (
    INT_HI, N_CODES, code_of_id, int_code_table, int_table_positions, log_bucket_code, log_bucket_ids,
    log_bucket_ids_int,
)
from logitkit.prepdata.few_rows import FEW_ROWS, bucket_fields
from logitkit.prepdata.hash64 import (
    HASH_NAME, cross_hash, field_key, hash_strings, hash_text, int64_values, string_array, valid_mask,
)


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


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
        self._keys: dict[str, np.uint64] = {}
        self._int_luts: dict[str, np.ndarray] = {}
        self._tls = threading.local()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_tls", None)  # per-thread scratch: not copied, not pickled
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._tls = threading.local()

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
    def _key(self, field: str) -> np.uint64:
        k = self._keys.get(field)
        if k is None:
            k = self._keys[field] = field_key(field, self.seed)
        return k

    def value_text(self, value) -> str:
        """The text a value is hashed by: '' when missing, its log-bucket code for numbers."""
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            if self.numeric == "log_bucket":
                return log_bucket_code(float(value))
            return pa.array([value]).cast(pa.string())[0].as_py()
        return str(value)

    def token_hash64(self, field: str, value) -> np.uint64:
        return hash_text(self.value_text(value), self._key(field))

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
    @staticmethod
    def _encoded(arr) -> tuple[pa.Array, np.ndarray]:
        """(dictionary, row codes into it) of a column; a null row gets code len(dictionary)."""
        t = arr.type
        if pa.types.is_dictionary(t):
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.unify_dictionaries()
            enc = arr
        else:
            enc = pc.dictionary_encode(arr, null_encoding="encode")
        chunks = enc.chunks if isinstance(enc, pa.ChunkedArray) else [enc]
        if not chunks:
            return pa.array([], t.value_type if pa.types.is_dictionary(t) else t), np.zeros(0, np.int64)
        dictionary = chunks[0].dictionary
        parts = [c.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False) for c in chunks]
        codes = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return dictionary, codes

    def _string_hashes(self, field: str, dictionary: pa.Array) -> np.ndarray:
        """64-bit hashes of every dictionary value, plus a last entry for a null row."""
        t = dictionary.type
        if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)):
            dictionary = dictionary.cast(pa.string())
        key = self._key(field)
        lut = np.empty(len(dictionary) + 1, dtype=np.uint64)
        lut[:-1] = hash_strings(dictionary, key)
        lut[-1] = self._code_hashes(field, np.zeros(0, np.int64))[N_CODES]  # H("", key), cached
        return lut

    def _code_hashes(self, field: str, ids: np.ndarray) -> np.ndarray:
        """64-bit hashes of log-bucket code ids (N_CODES = missing), each code hashed once per field."""
        if field not in self._code_luts:
            lut = np.zeros(N_CODES + 1, dtype=np.uint64)
            known = np.zeros(N_CODES + 1, dtype=bool)
            lut[N_CODES], known[N_CODES] = hash_text("", self._key(field)), True
            self._code_luts[field], self._code_known[field] = lut, known
        lut, known = self._code_luts[field], self._code_known[field]
        if len(ids) and not known.all():
            seen = np.zeros(N_CODES + 1, dtype=bool)
            seen[ids] = True
            new = np.nonzero(seen & ~known)[0]
            if len(new):
                toks = string_array([code_of_id(int(i)) for i in new])
                lut[new] = hash_strings(toks, self._key(field))
                known[new] = True
        return lut

    def _field_hashes(self, batch, f: str) -> tuple[np.ndarray, np.ndarray]:
        """(lut, codes): the field's 64-bit row hashes are ``lut[codes]``."""
        arr = batch.column(f)
        t = arr.type
        if pa.types.is_dictionary(t) and _is_numeric(t.value_type) and self.numeric == "log_bucket":
            arr = arr.cast(t.value_type)
            t = arr.type
        if pa.types.is_integer(t) and self.numeric == "log_bucket":
            arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
            v = np.frombuffer(arr.cast(pa.int64()).buffers()[1], np.int64)[arr.offset : arr.offset + len(arr)]
            missing = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
            ids = log_bucket_ids_int(v, missing)
            return self._code_hashes(f, ids), ids
        if _is_numeric(t) and self.numeric == "log_bucket":
            v = arr.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
            ids = log_bucket_ids(v)
            ids[ids < 0] = N_CODES
            return self._code_hashes(f, ids), ids
        if _is_numeric(t):
            arr = arr.cast(pa.string())
        dictionary, codes = self._encoded(arr)
        return self._string_hashes(f, dictionary), codes

    def _row_hashes(self, batch, f: str) -> np.ndarray:
        """Field ``f``'s 64-bit token hash of every row (uint64, shape (n,)).

        Plain string columns are hashed row by row (one vectorised pass, cheaper than
        finding the distinct values first); dictionary columns through their dictionary;
        counts through their log-bucket codes."""
        arr = batch.column(f)
        t = arr.type
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
            return hash_strings(arr, self._key(f))
        lut, codes = self._field_hashes(batch, f)
        return lut[codes]

    def resolve_fields(self, names: list[str]) -> None:
        """Name the hashed fields from a batch's column ``names`` (with ``fields=None``:
        every column but the label) and check that every field and cross is there."""
        if self.fields is None:
            self.fields = [c for c in names if c != self.label]
        missing = [f for f in self.fields + [c for ab in self.crosses for c in ab] if f not in names]
        if missing:
            raise DataError(
                f"feature hashing: column {missing[0]!r} is not in the data; columns are {names}."
                + did_you_mean(missing[0], names)
            )

    def _columns(self, batch):
        if hasattr(batch, "data") and isinstance(getattr(batch, "data"), pa.Table):
            batch = batch.data
        self.resolve_fields(list(batch.schema.names))
        return batch

    def hash64(self, batch) -> np.ndarray:
        """Full 64-bit token hashes (uint64, shape (n_rows, n_tokens)) before bucketing."""
        batch = self._columns(batch)
        if batch.num_rows == 0:
            return np.zeros((0, self.n_tokens), dtype=np.uint64)
        cols = [self._row_hashes(batch, f) for f in self.fields]
        by_field = dict(zip(self.fields, cols))
        for a, b in self.crosses:
            for f in (a, b):
                if f not in by_field:
                    by_field[f] = self._row_hashes(batch, f)
            cols.append(cross_hash(by_field[a], by_field[b]))
        if not cols:
            return np.zeros((batch.num_rows, 0), np.uint64)
        return np.ascontiguousarray(np.stack(cols).T)

    def _int_buckets(self, field: str) -> np.ndarray:
        """Bucket (int64) of each integer value v in [SMALL_MIN, INT_HI] at [v - SMALL_MIN], then
        the bucket of a missing value: the whole log-bucket path of a count as one lookup."""
        tab = self._int_luts.get(field)
        if tab is None:
            lut = self._code_hashes(field, np.arange(N_CODES + 1))  # every code hashed once
            ids = np.append(int_code_table(), N_CODES)
            tab = self._int_luts[field] = (lut[ids] & self._mask).astype(np.int64)
        return tab

    def _bucket_column(self, batch, f: str, out: np.ndarray) -> None:
        """Write field ``f``'s bucket of every row into ``out`` (shape (n,))."""
        arr = batch.column(f)
        t = arr.type
        if pa.types.is_integer(t) and self.numeric == "log_bucket":
            arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
            v = int64_values(arr)
            valid = valid_mask(arr) if arr.null_count else None
            np.take(self._int_buckets(f), int_table_positions(v, valid), out=out)
            big = np.nonzero(v > INT_HI)[0]
            if len(big) and valid is not None:
                big = big[valid[big]]
            if len(big):
                ids = log_bucket_ids(v[big].astype(np.float64))
                out[big] = self._code_hashes(f, ids)[ids] & self._mask
            return
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
            np.bitwise_and(hash_strings(arr, self._key(f)), self._mask, out=out, casting="unsafe")
            return
        lut, codes = self._field_hashes(batch, f)
        np.take((lut & self._mask).astype(out.dtype), codes, out=out)

    def transform(self, batch, dtype=np.int64) -> np.ndarray:
        """Bucket indices of shape (n_rows, n_tokens), each in [0, 2**n_bits), C-contiguous.

        ``dtype``: int64 (default) or int32 (n_bits <= 31; half the bytes, what
        ``CTRStream`` and its cache use). Per string field only the distinct values are
        hashed; a count field is one lookup in a per-field table of buckets (its
        log-bucket code hashed once per value); rows are gathered into a reused
        (n_tokens, n_rows) block and transposed once.
        """
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.int64), np.dtype(np.int32)):
            raise ConfigError(f"FeatureHasher.transform dtype={dtype} must be np.int64 or np.int32")
        if dtype == np.int32 and self.n_bits > 31:
            raise ConfigError(f"int32 bucket indices need n_bits <= 31; this hasher has n_bits={self.n_bits}: use dtype=np.int64")
        batch = self._columns(batch)
        n = batch.num_rows
        if n == 0:
            return np.zeros((0, self.n_tokens), dtype=dtype)
        out = self._block(n, dtype)
        mask = self._mask
        need64 = {f for ab in self.crosses for f in ab}
        full: dict[str, np.ndarray] = {}
        fields = list(enumerate(self.fields))
        if n <= FEW_ROWS:  # the plain fields of a few rows together: one pass each kind
            fields = bucket_fields(self, batch, [(j, f) for j, f in fields if f not in need64], out) + [
                (j, f) for j, f in fields if f in need64]
        for j, f in fields:
            if f in need64:
                full[f] = self._row_hashes(batch, f)
                np.bitwise_and(full[f], mask, out=out[j], casting="unsafe")
            else:
                self._bucket_column(batch, f, out[j])
        for k, (a, b) in enumerate(self.crosses):
            for f in (a, b):
                if f not in full:
                    full[f] = self._row_hashes(batch, f)
            np.bitwise_and(cross_hash(full[a], full[b]), mask, out=out[len(self.fields) + k], casting="unsafe")
        return out.T.copy()  # a C-ordered copy (never a view of the scratch block)

    def _block(self, n: int, dtype: np.dtype) -> np.ndarray:
        """A (n_tokens, n) scratch block, reused by the calls of one thread (never returned)."""
        key = (n, dtype.str)
        blk = getattr(self._tls, "block", None)
        if blk is None or blk[0] != key:
            blk = (key, np.empty((self.n_tokens, n), dtype=dtype))
            self._tls.block = blk
        return blk[1]

    def transform_vw(self, batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hash a VW batch (``loaddata.load_vw``/``stream_vw`` columns) into variable-length bags.

        Feature ``f`` in namespace ``ns`` is the token ``ns=f`` (so ``|C1 68fd1e64`` hashes
        like field C1 = '68fd1e64' of a table). Returns ``(indices int64 (nnz,), offsets
        int64 (n_rows + 1,), values float32 (nnz,))``: row i's buckets are
        ``indices[offsets[i]:offsets[i+1]]`` with weights ``values[...]`` — the
        ``EmbeddingBag(mode='sum')`` input with ``per_sample_weights``.
        """
        if hasattr(batch, "data") and isinstance(getattr(batch, "data"), pa.Table):
            batch = batch.data
        cols = {}
        for name in ("namespace", "feature", "value"):
            c = batch.column(name)
            cols[name] = c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c
        lengths = pc.list_value_length(cols["feature"]).fill_null(0).to_numpy(zero_copy_only=False)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ns = pc.list_flatten(cols["namespace"])
        ft = pc.list_flatten(cols["feature"])
        val = pc.list_flatten(cols["value"]).cast(pa.float32()).to_numpy(zero_copy_only=False)
        enc = pc.dictionary_encode(pc.binary_join_element_wise(ns, ft, "\x1f"))
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks()
        parts = pc.split_pattern(enc.dictionary, "\x1f", max_splits=1)
        d_ns = pc.dictionary_encode(pc.list_element(parts, 0))
        d_ft = pc.list_element(parts, 1)
        keys = np.array([self._key(x) for x in d_ns.dictionary.to_pylist()] or [0], dtype=np.uint64)
        h = hash_strings(d_ft, keys[d_ns.indices.to_numpy(zero_copy_only=False)]) if len(d_ft) else np.zeros(0, np.uint64)
        buckets = (h & self._mask).astype(np.int64)
        return buckets[enc.indices.to_numpy(zero_copy_only=False)], offsets, val

    def transform_batches(self, batches: Iterable) -> Iterable[np.ndarray]:
        for b in batches:
            yield self.transform(b)

    def vocab(self, batch, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``field=value`` tokens of one batch with their buckets: (tokens, buckets,
        counts), shapes (m,), for a token sketch (``predict.online.sketch``).

        ``idx`` (n, T) is ``transform(batch)``: its first ``len(fields)`` columns are the
        fields' buckets (crosses are not sketched). Counts are named by their log-bucket
        code. Strings are built only for distinct values.
        """
        batch = self._columns(batch)
        toks, bks, cnts = [], [], []
        for j, f in enumerate(self.fields):
            arr = batch.column(f)
            if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
                codes = log_bucket_ids(arr.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False))
                codes[codes < 0] = N_CODES
                k = N_CODES + 1
                counts = np.bincount(codes, minlength=k)
                present = np.nonzero(counts)[0]
                toks.extend(f"{f}={code_of_id(int(c)) if c < N_CODES else ''}" for c in present)
            else:
                enc = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr.cast(pa.string()))
                k = len(enc.dictionary) + 1
                codes = enc.indices.fill_null(k - 1).to_numpy(zero_copy_only=False).astype(np.int64)
                counts = np.bincount(codes, minlength=k)
                present = np.nonzero(counts)[0]
                values = enc.dictionary.cast(pa.string()).take(pa.array(present[present < k - 1]))
                toks.extend(pc.binary_join_element_wise(f"{f}=", values, "").to_pylist())
                if present[-1] == k - 1:
                    toks.append(f"{f}=")
            bucket_of = np.zeros(k, dtype=np.int64)
            bucket_of[codes] = idx[:, j]
            bks.append(bucket_of[present])
            cnts.append(counts[present])
        return np.array(toks, dtype=object), np.concatenate(bks), np.concatenate(cnts)

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
