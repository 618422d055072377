"""The 64-bit hash under ``prepdata.hashing``: fixed, seeded, vectorised over strings.

The hash is fixed and seeded, so the same token lands in the same bucket in every
process, on every machine and whatever ``PYTHONHASHSEED`` says (Python's ``hash`` is
never used). ``H(t, k)`` of bytes ``t`` (length ``n``) under a 64-bit key ``k``:

    mix(z)  = splitmix64 finaliser: z ^= z>>30; z *= 0xbf58476d1ce4e5b9;
                                   z ^= z>>27; z *= 0x94d049bb133111eb; z ^= z>>31
    h0      = mix(k ^ (n * 0x9e3779b97f4a7c15))
    h_{j+1} = mix(h_j ^ w_j)     for the little-endian 64-bit words w_j of t (last one
                                 zero-padded), j = 0 .. ceil(n/8)-1;  H(t, k) = h_last

all arithmetic modulo 2**64. With ``s = mix(seed + 0x9e3779b97f4a7c15)``, a field's key
is ``field_key(field, seed) = H(utf8(field + "="), s)``; a cross of two tokens' hashes
a and b is ``mix(mix(a ^ 0x632be59bd9b4e019) ^ b)`` (``cross_hash``).

``hash_strings`` hashes a whole string column at once: one vectorised pass per 8-byte
word (aligned uint64 reads when every value starts at a multiple of 8 bytes, as hex ids
do). No Python loop runs per row, except for a few values far longer than the rest (at
most 4 left with more than 64 words to go): their last words are hashed one by one, so a
megabyte-long value costs one pass over its bytes, not one pass over the batch per word.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

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


def int64_values(arr) -> np.ndarray:
    """An integer column (Array or ChunkedArray) as an int64 NumPy view of its values
    (a cast first where it is narrower); missing entries hold whatever the buffer holds."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    if arr.type != pa.int64():
        arr = arr.cast(pa.int64())
    return np.frombuffer(arr.buffers()[1], np.int64)[arr.offset : arr.offset + len(arr)]


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


def string_array(texts: list[str]) -> pa.Array:
    """Python strings as a pyarrow string array, built from its buffers (``pa.array`` of
    a list asks whether pandas is there, importing it: 0.3 s and 30 MB for nothing)."""
    data = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(data) + 1, np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def hash_text(text: str, key: np.uint64) -> np.uint64:
    """``H(utf8(text), key)`` of one string."""
    return hash_strings(string_array([text]), key)[0]


def field_key(field: str, seed: int) -> np.uint64:
    """The key under which a field's values are hashed: ``H(utf8(field + "="), mix(seed + golden))``."""
    return hash_text(field + "=", _seed_key(seed))


def cross_hash(ha: np.ndarray, hb: np.ndarray) -> np.ndarray:
    """64-bit hash of the cross of two tokens from their 64-bit hashes."""
    with np.errstate(over="ignore"):
        return _mix(_mix(ha ^ _CROSS) ^ hb)
