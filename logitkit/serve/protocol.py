"""The Open Inference Protocol's (KServe V2) REST payloads: decode requests, encode responses.

Requests are JSON (``"data"``: a flat or nested list) or use the binary tensor data
extension (Triton's, as ``tritonclient.http`` sends by default): the JSON header,
``Inference-Header-Content-Length`` bytes long, followed by each input's raw bytes in
the order of the inputs (little-endian, row-major; a BYTES element is a 4-byte length
and the bytes). A request body may be gzip- or deflate-compressed (``Content-Encoding``).

Every problem is a ``ProtocolError`` (an HTTP status and a message naming the input,
output or field), answered as ``{"error": message}``.
"""
from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from logitkit._util.errors import UserError

#: protocol datatype -> NumPy dtype of its binary form (BYTES is length-prefixed)
DTYPES = {
    "BOOL": np.dtype("?"), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"), "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
}
DATATYPES = sorted([*DTYPES, "BYTES"])


class ProtocolError(UserError):
    """A request the protocol (or the model) cannot take: HTTP ``status`` and a message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Tensor:
    """One input of a request: checked (name, datatype, shape, size), its values not yet
    decoded when binary (``raw``); JSON data is decoded and checked at once (``array``)."""

    name: str
    datatype: str
    n: int
    raw: memoryview | None = None
    array: object = None

    def key(self) -> tuple:
        return (self.name, self.datatype, self.raw is not None)

    def decode(self):
        if self.raw is None:
            return self.array
        if self.datatype == "BYTES":
            return decode_bytes(self.raw, self.n, self.name)
        return np.frombuffer(self.raw, dtype=DTYPES[self.datatype])


def merge(parts: list[Tensor]):
    """The values of one input over several requests with the same ``key()``, decoded once:
    binary data is joined and decoded as one tensor."""
    if len(parts) == 1:
        return parts[0].decode()
    first = parts[0]
    if first.raw is not None:
        return Tensor(first.name, first.datatype, sum(p.n for p in parts), memoryview(b"".join(p.raw for p in parts))).decode()
    if isinstance(first.array, pa.Array):
        return pa.concat_arrays([p.array for p in parts])
    return np.concatenate([p.array for p in parts])


#: at most this many rows in each request: their BYTES inputs walked together (``merge_columns``)
LOCKSTEP_ROWS = 128


def merge_columns(requests: list[dict]) -> dict:
    """Each input's values over several requests with the same key (``{name: Tensor}``
    each), decoded once. Binary BYTES inputs of requests of at most ``LOCKSTEP_ROWS``
    rows are read together: every (request, input) is a run of length-prefixed elements,
    and all runs are walked in lockstep, one vectorised step per row (a batch of 16
    requests of 100 rows and 26 text inputs: 100 steps over 416 runs, instead of 26
    walks over the joined buffers). Any input that does not decode so is decoded by
    ``merge``, which names it."""
    names = list(requests[0])
    text = [n for n in names if requests[0][n].raw is not None and requests[0][n].datatype == "BYTES"]
    out = {}
    if len(text) * len(requests) > 1 and max(r[text[0]].n for r in requests) <= LOCKSTEP_ROWS:
        out = _lockstep([[r[n] for r in requests] for n in text])
    for n in names:
        if n not in out:
            out[n] = merge([r[n] for r in requests])
    return out


def _lockstep(columns: list[list[Tensor]]) -> dict:
    """{name: string array} of BYTES inputs (each a list of one Tensor per request), or
    {} when any run is not its elements exactly or any text is not UTF-8."""
    runs = [t for col in columns for t in col]
    buf = np.frombuffer(b"".join(t.raw for t in runs), dtype=np.uint8)
    sizes = np.array([len(t.raw) for t in runs], dtype=np.int64)
    counts = np.array([t.n for t in runs], dtype=np.int64)
    ends = np.cumsum(sizes)
    cur = ends - sizes
    if len(buf) < 4 or (sizes < 4 * counts).any():
        return {}
    u32 = np.ndarray((len(buf) - 3,), dtype="<u4", buffer=buf, strides=(1,))
    steps = int(counts.max())
    pos = np.zeros((steps, len(runs)), dtype=np.int64)
    lens = np.zeros((steps, len(runs)), dtype=np.int64)
    live = np.arange(steps)[:, None] < counts[None, :]
    for s in range(steps):
        on = live[s]
        c = cur if on.all() else cur[on]
        end = ends if on.all() else ends[on]
        if (c + 4 > end).any():
            return {}
        k = u32[c].astype(np.int64)
        nxt = c + 4 + k
        if (nxt > end).any():
            return {}
        pos[s, on], lens[s, on] = c, k
        cur[on] = nxt
    if (cur != ends).any():
        return {}
    every = _texts(buf, pos.T[live.T], lens.T[live.T])  # run by run, each run's elements in order
    if every is None:
        return {}
    try:
        every.validate(full=True)
    except pa.ArrowInvalid:
        return {}
    out, start = {}, 0
    for col in columns:
        n = sum(t.n for t in col)
        out[col[0].name] = every.slice(start, n)
        start += n
    return out


@dataclass
class InferRequest:
    """A checked inference request: its inputs (``Tensor`` by name, in request order), the
    rows, the outputs asked for (None: all) and how."""

    id: str | None
    columns: dict
    n_rows: int
    outputs: list[tuple[str, bool]] | None = None  # (name, binary)
    binary_output: bool = False

    def key(self) -> tuple:
        """Requests with the same key can be decoded together."""
        return tuple(t.key() for t in self.columns.values())


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body without its ``Content-Encoding`` (gzip or deflate), at most ``limit`` bytes."""
    if not encoding or encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise ProtocolError(f"Content-Encoding {encoding!r} is not supported; send gzip, deflate or none", 415)
    d = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ProtocolError(f"the request body is not valid {encoding} data ({exc})") from None
    if len(out) > limit:
        raise ProtocolError(f"the request body is larger than {limit} bytes once decompressed; send smaller "
                            "batches (or start the server with a larger --max-request-mb)", 413)
    return out


def parse_json(raw: bytes, what: str = "request body"):
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"the {what} is not UTF-8 JSON ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON in the {what}: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None


def decode_infer(body: bytes, header_length: str | None) -> InferRequest:
    """Decode an inference request (JSON, or JSON + binary tensors)."""
    binary = b""
    if header_length is not None:
        try:
            n = int(header_length)
        except ValueError:
            raise ProtocolError(f"Inference-Header-Content-Length {header_length!r} is not a number of bytes") from None
        if not 0 < n <= len(body):
            raise ProtocolError(f"Inference-Header-Content-Length is {n} but the body has {len(body)} bytes")
        body, binary = body[:n], memoryview(body)[n:]
    req = parse_json(body)
    if not isinstance(req, dict):
        raise ProtocolError("the request body must be a JSON object with an \"inputs\" list")
    inputs = req.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ProtocolError("the request has no \"inputs\": give a list with one tensor per input column")
    rid = req.get("id")
    if rid is not None and not isinstance(rid, str):
        raise ProtocolError("\"id\" must be a string")
    columns, offset, rows = {}, 0, None
    for k, t in enumerate(inputs):
        tensor, offset = _decode_input(k, t, binary, offset)
        name = tensor.name
        if name in columns:
            raise ProtocolError(f"input {name!r} is given twice")
        columns[name] = tensor
        if rows is None:
            rows = tensor.n
        elif tensor.n != rows:
            raise ProtocolError(f"input {name!r} has {tensor.n} rows but {next(iter(columns))!r} has {rows}; "
                                "every input needs one value per row")
    if offset != len(binary):
        raise ProtocolError(f"the body has {len(binary) - offset} bytes after the inputs' binary data; "
                            "check the inputs' binary_data_size")
    params = req.get("parameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError("\"parameters\" must be a JSON object")
    outputs = req.get("outputs")
    asked = None
    default_binary = params.get("binary_data_output") is True
    if outputs is not None:
        if not isinstance(outputs, list):
            raise ProtocolError("\"outputs\" must be a list of {\"name\": ...} objects")
        asked = []
        for o in outputs:
            if not isinstance(o, dict) or not isinstance(o.get("name"), str):
                raise ProtocolError("each entry of \"outputs\" must be an object with a \"name\"")
            p = o.get("parameters") or {}
            asked.append((o["name"], bool(p.get("binary_data", default_binary))))
    return InferRequest(rid, columns, rows or 0, asked, default_binary)


def _decode_input(k: int, t, binary: memoryview, offset: int):
    if not isinstance(t, dict) or not isinstance(t.get("name"), str):
        raise ProtocolError(f"inputs[{k}] must be an object with a \"name\", \"shape\", \"datatype\" and \"data\"")
    name = t["name"]
    dt = t.get("datatype")
    if dt not in DATATYPES:
        raise ProtocolError(f"input {name!r}: datatype {dt!r} is not a protocol datatype; use one of {DATATYPES}")
    shape = t.get("shape")
    if (not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
            or len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1)):
        raise ProtocolError(f"input {name!r}: shape {shape!r} is not one column; give [rows] or [rows, 1]")
    n = shape[0]
    params = t.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    if size is not None:
        if not isinstance(size, int) or size < 0:
            raise ProtocolError(f"input {name!r}: binary_data_size {size!r} must be a number of bytes")
        if offset + size > len(binary):
            raise ProtocolError(f"input {name!r}: binary_data_size {size} runs past the end of the body "
                                f"({len(binary) - offset} bytes left)")
        raw = binary[offset : offset + size]
        if dt == "BYTES":
            if size < 4 * n:
                raise ProtocolError(f"input {name!r}: {size} bytes of BYTES data cannot hold {n} elements "
                                    "(each is a 4-byte length, then the bytes)")
        elif size != n * DTYPES[dt].itemsize:
            raise ProtocolError(f"input {name!r}: {size} bytes of binary data for shape [{n}] of {dt} "
                                f"({n * DTYPES[dt].itemsize} expected)")
        return Tensor(name, dt, n, raw=raw), offset + size
    if "data" not in t:
        raise ProtocolError(f"input {name!r} has no \"data\" (nor a binary_data_size parameter)")
    return Tensor(name, dt, n, array=_from_json(t["data"], dt, n, name)), offset


def _flat(data, name: str) -> list:
    if not isinstance(data, list):
        raise ProtocolError(f"input {name!r}: \"data\" must be a list of values")
    if data and isinstance(data[0], list):
        out = []
        for row in data:
            if not isinstance(row, list):
                raise ProtocolError(f"input {name!r}: \"data\" mixes lists and values")
            out.extend(row)
        return out
    return data


def _from_json(data, dt: str, n: int, name: str):
    values = _flat(data, name)
    if len(values) != n:
        raise ProtocolError(f"input {name!r}: \"data\" has {len(values)} values for shape [{n}]")
    if dt == "BYTES":
        if not all(isinstance(v, str) for v in values):
            bad = next(v for v in values if not isinstance(v, str))
            raise ProtocolError(f"input {name!r} is BYTES but holds {bad!r}; send text values as JSON strings")
        return pa.array(values, pa.string())
    want = bool if dt == "BOOL" else (int, float) if dt.startswith("FP") else int
    for v in values:
        if isinstance(v, bool) != (dt == "BOOL") or not isinstance(v, want):
            raise ProtocolError(f"input {name!r} is {dt} but holds {v!r}; send JSON "
                                + ("true/false" if dt == "BOOL" else "numbers" if dt.startswith("FP") else "integers"))
    try:
        return np.asarray(values, dtype=DTYPES[dt].newbyteorder("="))
    except OverflowError:
        raise ProtocolError(f"input {name!r}: a value does not fit {dt}") from None


def decode_bytes(raw: memoryview, n: int, name: str) -> pa.Array:
    """A BYTES tensor's binary form (n elements, each a little-endian uint32 length then
    the bytes) as a pyarrow string array, without a Python loop over the elements: the
    elements' start offsets are found by jumps over the buffer (``_walk``)."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    size = len(buf)
    if n == 0:
        if size:
            raise ProtocolError(f"input {name!r}: {size} bytes of binary data for shape [0]")
        return pa.array([], pa.string())
    bad = ProtocolError(f"input {name!r}: the BYTES binary data is not {n} length-prefixed elements "
                        f"({size} bytes); each element is a 4-byte little-endian length, then the bytes")
    if size < 4 * n:
        raise bad
    first = int(np.frombuffer(raw[:4], "<u4")[0])
    if size == n * (4 + first):  # every element the same length (fixed-width ids): one strided view
        pos = np.arange(n, dtype=np.int64) * (4 + first)
        lens = np.ndarray((n,), dtype="<u4", buffer=buf, strides=(4 + first,)).astype(np.int64)
        if not (lens == first).all():
            pos, lens = _walk(buf, n, bad)
    else:
        pos, lens = _walk(buf, n, bad)
    arr = _texts(buf, pos, lens)
    if arr is None:
        raise ProtocolError(f"input {name!r}: more than 2 GiB of text in one input", 413)
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        raise ProtocolError(f"input {name!r}: a BYTES element is not UTF-8 text") from None
    return arr


def _texts(buf: np.ndarray, pos: np.ndarray, lens: np.ndarray) -> pa.StringArray | None:
    """The elements at ``pos`` (each a 4-byte length ``lens``, then its bytes) as one string
    array, not yet checked for UTF-8; None beyond 2 GiB of text (an arrow string array's limit)."""
    offsets = np.zeros(len(pos) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    if offsets[-1] >= 2**31:
        return None
    values = buf[np.arange(int(offsets[-1]), dtype=np.int64) + np.repeat(pos + 4 - offsets[:-1], lens)]
    return pa.StringArray.from_buffers(len(pos), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(values))


def _walk(buf: np.ndarray, n: int, bad: ProtocolError, hop: int = 8):
    """(starts, lengths) of ``n`` length-prefixed elements filling ``buf`` exactly.

    ``nxt[p]``: where an element starting at byte p would end; the starts are the orbit
    of 0 under ``nxt``. ``nxt`` composed with itself gives the jump of ``hop`` elements
    from every byte (log2(hop) passes over the buffer); a scalar walk by those jumps
    finds every ``hop``-th start (n / hop steps), and ``hop - 1`` vectorised steps of
    ``nxt`` the starts between them."""
    size = len(buf)
    lens_at = np.zeros(size + 2, dtype=np.int64)
    if size >= 4:
        lens_at[: size - 3] = np.ndarray((size - 3,), dtype="<u4", buffer=buf, strides=(1,))
    nxt = np.arange(size + 2, dtype=np.int64)
    nxt += 4
    nxt += lens_at
    np.minimum(nxt, size + 1, out=nxt)  # (size + 1: past the end, which stays there)
    step, far = 1, nxt
    while step * 2 <= min(hop, n):
        far, step = far[far], step * 2
    rows = (n + step - 1) // step
    anchors, p = [], 0
    for _ in range(rows):
        anchors.append(p)
        p = int(far[p])
    grid = np.empty((rows, step), dtype=np.int64)
    grid[:, 0] = anchors
    for r in range(1, step):
        grid[:, r] = nxt[grid[:, r - 1]]
    pos = grid.reshape(-1)[:n]
    if (pos > size - 4).any():
        raise bad
    lens = lens_at[pos]
    if int(pos[-1] + 4 + lens[-1]) != size:
        raise bad
    return pos, lens


def encode_infer(model_name: str, version: str, rid: str | None, tensors: list[tuple[str, str, np.ndarray, bool]]):
    """(body, headers) of an inference response; ``tensors``: (name, datatype, values, binary)."""
    outputs, chunks = [], []
    for name, dt, values, binary in tensors:
        out = {"name": name, "datatype": dt, "shape": [int(len(values))]}
        if binary:
            raw = _binary(values, dt)
            out["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            out["data"] = _jsonable(values, dt)
        outputs.append(out)
    doc = {"model_name": model_name, "model_version": version, "outputs": outputs}
    if rid is not None:
        doc["id"] = rid
    head = json.dumps(doc, separators=(",", ":")).encode()
    if not chunks:
        return head, {"content-type": "application/json"}
    return b"".join([head, *chunks]), {"content-type": "application/octet-stream",
                                        "inference-header-content-length": str(len(head))}


def _binary(values: np.ndarray, dt: str) -> bytes:
    if dt != "BYTES":
        return np.ascontiguousarray(values, dtype=DTYPES[dt]).tobytes()
    parts = []
    for v in values.tolist():
        b = str(v).encode()
        parts.append(len(b).to_bytes(4, "little") + b)
    return b"".join(parts)


def _jsonable(values: np.ndarray, dt: str) -> list:
    if dt == "BYTES":
        return [str(v) for v in values.tolist()]
    out = values.tolist()
    if dt.startswith("FP") and not all(math.isfinite(v) for v in out):
        raise ProtocolError("a score is not finite; this is a bug, please report it", 500)
    return out


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()
