"""The BYTES binary decoder against a plain reading of the length-prefixed elements."""
import struct

import numpy as np
import pytest

from logitkit.serve.protocol import ProtocolError, decode_bytes


def _reference(raw: bytes, n: int) -> list[str] | None:
    """The elements read one by one; None where the bytes are not n elements exactly."""
    out, p = [], 0
    for _ in range(n):
        if p + 4 > len(raw):
            return None
        k = struct.unpack_from("<I", raw, p)[0]
        if p + 4 + k > len(raw):
            return None
        out.append(raw[p + 4 : p + 4 + k])
        p += 4 + k
    if p != len(raw):
        return None
    try:
        return [b.decode("utf-8") for b in out]
    except UnicodeDecodeError:
        return None


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 31, 100, 1000])
def test_elements_of_any_lengths_are_read_as_one_by_one(n):
    rng = np.random.default_rng(n)
    words = ["" if rng.random() < 0.3 else "x" * int(rng.integers(1, 40)) + str(i) for i in range(n)]
    raw = b"".join(struct.pack("<I", len(w.encode())) + w.encode() for w in words)
    assert decode_bytes(memoryview(raw), n, "c").to_pylist() == words == _reference(raw, n)


def test_damaged_buffers_are_refused_or_read_exactly():
    rng = np.random.default_rng(0)
    for case in range(400):
        n = int(rng.integers(1, 20))
        words = [bytes(rng.integers(97, 123, int(rng.integers(0, 12))).astype(np.uint8)) for _ in range(n)]
        raw = bytearray(b"".join(struct.pack("<I", len(w)) + w for w in words))
        for _ in range(int(rng.integers(1, 4))):  # flip, cut or add bytes
            what = rng.integers(3)
            if what == 0 and raw:
                raw[int(rng.integers(len(raw)))] = int(rng.integers(256))
            elif what == 1 and raw:
                del raw[int(rng.integers(len(raw))):]
            else:
                raw += bytes(rng.integers(0, 256, int(rng.integers(1, 6))).astype(np.uint8))
        want = _reference(bytes(raw), n)
        if want is None:
            with pytest.raises(ProtocolError, match=r"^input 'c': "):
                decode_bytes(memoryview(bytes(raw)), n, "c")
        else:
            assert decode_bytes(memoryview(bytes(raw)), n, "c").to_pylist() == want, case


def _bytes_tensor(name, words):
    from logitkit.serve.protocol import Tensor

    raw = b"".join(struct.pack("<I", len(w)) + w for w in words)
    return Tensor(name, "BYTES", len(words), memoryview(raw))


def _request(rng, rows):
    from logitkit.serve.protocol import Tensor

    cols = {f"c{k}": _bytes_tensor(f"c{k}", [("é" * int(rng.integers(0, 3)) + str(rng.integers(100))).encode()
                                             if rng.random() > 0.3 else b"" for _ in range(rows)]) for k in range(3)}
    x = rng.normal(size=rows)
    cols["x"] = Tensor("x", "FP64", rows, memoryview(x.astype("<f8").tobytes()))
    return cols


@pytest.mark.parametrize("rows", [[1], [1, 1, 1], [100, 100], [3, 0, 7], [200, 5]])
def test_requests_decoded_together_give_each_inputs_values_in_order(rows):
    from logitkit.serve.protocol import merge, merge_columns

    rng = np.random.default_rng(len(rows))
    requests = [_request(rng, n) for n in rows]
    got = merge_columns(requests)
    for name in requests[0]:
        want = merge([r[name] for r in requests])
        assert (got[name].to_pylist() == want.to_pylist()) if name != "x" else np.array_equal(got[name], want)


def test_a_damaged_request_among_others_is_named_by_its_input():
    from logitkit.serve.protocol import merge_columns

    rng = np.random.default_rng(0)
    requests = [_request(rng, 4) for _ in range(3)]
    requests[1]["c2"] = _bytes_tensor("c2", [b"ab", b"c", b"\xff\xfe", b""])  # not UTF-8
    with pytest.raises(ProtocolError, match=r"^input 'c2': a BYTES element is not UTF-8 text$"):
        merge_columns(requests)
    requests[1]["c2"] = _bytes_tensor("c2", [b"ab", b"c", b"d", b""])
    requests[1]["c2"].raw = memoryview(bytes(requests[1]["c2"].raw)[:-2])  # cut short
    with pytest.raises(ProtocolError, match=r"^input 'c2': the BYTES binary data is not 12 length-prefixed elements"):
        merge_columns(requests)
