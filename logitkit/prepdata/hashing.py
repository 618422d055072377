"""Feature hashing of ``field=value`` tokens into ``2**n_bits`` buckets.

The hash is fixed and seeded, so the same token lands in the same bucket in every
process, on every machine and whatever ``PYTHONHASHSEED`` says (Python's ``hash`` is
never used). ``H(t, k)`` of bytes ``t`` (length ``n``) under a 64-bit key ``k``:

    mix(z)  = splitmix64 finaliser: z ^= z>>30; z *= 0xbf58476d1ce4e5b9;
                                   z ^= z>>27; z *= 0x94d049bb133111eb; z ^= z>>31
    h0      = mix(k ^ (n * 0x9e3779b97f4a7c15))
    h_{j+1} = mix(h_j ^ w_j)     for the little-endian 64-bit words w_j of t (last one
                                 zero-padded), j = 0 .. ceil(n/8)-1;  H(t, k) = h_last

all arithmetic modulo 2**64. With ``s = mix(seed + 0x9e3779b97f4a7c15)``, the token
``field=value`` hashes to ``H(utf8(value), H(utf8(field + "="), s))`` (a missing value is
the empty value), its bucket is that hash ``& (2**n_bits - 1)``. A cross of tokens a
and b hashes ``mix(mix(h(a) ^ 0x632be59bd9b4e019) ^ h(b))``.

Speed: a plain string column is hashed row by row by one vectorised pass per 8-byte
word (``hash_strings``: aligned uint64 reads when every value starts at a multiple of 8
bytes, as hex ids do), which costs less than finding its distinct values first;
dictionary columns hash their dictionary once and gather; a count column is one lookup
in a per-field table of buckets (each log-bucket code hashed once). No Python loop runs
per row. ``transform(batch, dtype=np.int32)`` halves the output's bytes.
"""
from __future__ import annotations

import threading
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logitkit._util.errors import ConfigError, DataError, did_you_mean
from logitkit.loaddata.tokens import (
    INT_HI, N_CODES, SMALL_MIN, code_of_id, int_code_table, log_bucket_code, log_bucket_ids, log_bucket_ids_int,
)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_CROSS = np.uint64(0x632BE59BD9B4E019)
HASH_NAME = "splitmix64-fieldkey-v1"


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


def _mix_(z: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """``_mix`` in place (``tmp``: scratch of z's shape): 8 passes, no temporaries."""
    np.right_shift(z, np.uint64(30), out=tmp)
    z ^= tmp
    z *= _M1
    np.right_shift(z, np.uint64(27), out=tmp)
    z ^= tmp
    z *= _M2
    np.right_shift(z, np.uint64(31), out=tmp)
    z ^= tmp
    return z


def valid_mask(arr: pa.Array) -> np.ndarray:
    """(n,) bool: True where ``arr`` is not null (its validity bitmap unpacked)."""
    n = len(arr)
    bitmap = arr.buffers()[0]
    if bitmap is None or arr.null_count == 0:
        return np.ones(n, dtype=bool)
    bits = np.unpackbits(np.frombuffer(bitmap, np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + n].view(bool)


def hash_strings(strings: pa.Array, key) -> np.ndarray:
    """``H(t, key)``: 64-bit hashes (uint64, shape (n,)) of the UTF-8 bytes of each string (null = empty).

    ``key``: one uint64 for all strings, or one per string (shape (n,)). Vectorised over
    the strings: word j of every string still that long is read at once, as an unaligned
    little-endian uint64 view of the data buffer at ``offset + 8j`` (bytes past the
    string's end masked off).
    """
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    if pa.types.is_large_string(strings.type) or pa.types.is_large_binary(strings.type):
        off_dtype = np.int64
    else:
        if not (pa.types.is_string(strings.type) or pa.types.is_binary(strings.type)):
            strings = strings.cast(pa.string())
        off_dtype = np.int32
    n = len(strings)
    bufs = strings.buffers()
    offsets = np.frombuffer(bufs[1], dtype=off_dtype)[strings.offset : strings.offset + n + 1] if n else np.zeros(1, off_dtype)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    starts = offsets[:-1].astype(np.int64)
    lens = np.diff(offsets)
    if strings.null_count:
        lens *= valid_mask(strings)
    # the data padded by 8 zero bytes; when every string starts at a multiple of 8 (ids
    # of 8 or 16 characters, say) its words are read as aligned uint64s, else through an
    # unaligned uint64 view at every byte (slower)
    padded = np.zeros((len(data) + 15) // 8 * 8, np.uint8)
    padded[: len(data)] = data
    if n and not (starts & 7).any():
        words, starts = padded.view("<u8"), starts >> 3
        step = 1
    else:
        words = np.ndarray((len(data) + 1,), dtype="<u8", buffer=padded, strides=(1,))
        step = 8
    with np.errstate(over="ignore"):
        h = lens.astype(np.uint64)
        h *= _GOLDEN
        h ^= np.asarray(key, dtype=np.uint64)
        tmp = np.empty_like(h)
        _mix_(h, tmp)
        nwords = (lens + 7) // 8
        byte_starts = offsets[:-1].astype(np.int64)
        live = np.arange(n)
        for j in range(int(nwords.max()) if n else 0):
            everyone = j == 0 and bool(nwords.min() >= 1)
            if not everyone:
                live = live[nwords[live] > j]  # (the strings still this long: fewer at each word)
                if len(live) <= _TAIL and int(nwords[live].max()) - j > _TAIL_WORDS:
                    for i in live:  # a few very long strings: their last words one by one, not one pass each
                        h[i] = _hash_words(int(h[i]), data, int(byte_starts[i]) + 8 * j, int(lens[i]) - 8 * j)
                    break
            w = words.take(starts[live] + step * j)
            rem = lens[live] - 8 * j
            short = np.nonzero(rem < 8)[0]
            if len(short):  # keep the string's own bytes only (little-endian: the low ones)
                sh = (64 - 8 * rem[short]).astype(np.uint64)
                w[short] = (w[short] << sh) >> sh
            if everyone:
                h ^= w
                _mix_(h, tmp)
            else:
                hl = h[live] ^ w
                h[live] = _mix_(hl, np.empty_like(hl))
    return h


_TAIL, _TAIL_WORDS = 4, 64  # at most this many strings left with more than this many words: one by one
_MASK64 = (1 << 64) - 1


def _hash_words(h: int, data: np.ndarray, start: int, length: int) -> np.uint64:
    """``h_{j+1} = mix(h_j ^ w_j)`` over the words of ``data[start : start + length]`` (the
    last zero-padded), in Python integers: for the few strings far longer than the rest."""
    tail = np.zeros((length + 7) // 8 * 8, np.uint8)
    tail[:length] = data[start : start + length]
    m1, m2 = int(_M1), int(_M2)
    for w in tail.view("<u8").tolist():
        z = h ^ w
        z ^= z >> 30
        z = (z * m1) & _MASK64
        z ^= z >> 27
        z = (z * m2) & _MASK64
        h = z ^ (z >> 31)
    return np.uint64(h)


def _hash1(text: str, key: np.uint64) -> np.uint64:
    return hash_strings(pa.array([text], pa.string()), key)[0]


def field_key(field: str, seed: int) -> np.uint64:
    """The key under which a field's values are hashed: ``H(utf8(field + "="), mix(seed + golden))``."""
    return _hash1(field + "=", _seed_key(seed))


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


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
        return _hash1(self.value_text(value), self._key(field))

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
            lut[N_CODES], known[N_CODES] = _hash1("", self._key(field)), True
            self._code_luts[field], self._code_known[field] = lut, known
        lut, known = self._code_luts[field], self._code_known[field]
        if len(ids) and not known.all():
            seen = np.zeros(N_CODES + 1, dtype=bool)
            seen[ids] = True
            new = np.nonzero(seen & ~known)[0]
            if len(new):
                toks = pa.array([code_of_id(int(i)) for i in new], pa.string())
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

    def _resolve_fields(self, names: list[str]) -> None:
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
        self._resolve_fields(list(batch.schema.names))
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
            if t != pa.int64():
                arr = arr.cast(pa.int64())
            v = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset : arr.offset + len(arr)]
            tab = self._int_buckets(f)
            pos = np.clip(v, SMALL_MIN, INT_HI)
            pos -= SMALL_MIN
            valid = valid_mask(arr) if arr.null_count else None
            if valid is not None:
                pos[~valid] = len(tab) - 1
            np.take(tab, pos, out=out)
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
        for j, f in enumerate(self.fields):
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
