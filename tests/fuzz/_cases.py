"""Fuzz cases: a small valid file of each format, mutated by a seeded generator.

Case ``i`` of seed ``s`` draws everything from ``random.Random(f"{s}:{i}")``, so one case
is rebuilt exactly from its two numbers (``python tests/fuzz/fuzz.py --seed s --case i``).
A case is a file (one of csv, tsv, svmlight, parquet, criteo, vw), the mutations applied to
it (1 to 3, named) and a door: ``read`` (``load_file`` + ``stream_file``) or ``cli``
(``logitkit run`` on a config that names the file).
"""
from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = ["csv", "tsv", "svmlight", "parquet", "criteo", "vw"]
SUFFIX = {"csv": ".csv", "tsv": ".tsv", "svmlight": ".svm", "parquet": ".parquet", "criteo": ".tsv", "vw": ".vw"}
#: formats the pipeline runs (VW is refused by `logitkit run` with a config error; it is read only)
CLI_FORMATS = ["csv", "tsv", "svmlight", "parquet", "criteo"]

HUGE = ["1e308", "-1e308", "1e309", "-1e309", "99999999999999999999999", "9223372036854775807",
        "9223372036854775808", "-9223372036854775809", "4.9e-324", "1e-400", "123456789012345678901234567890e10"]
INF_NAN = ["inf", "-inf", "nan", "NaN", "Infinity", "-Infinity", "INF", "+inf", "NA", "null", "1e500"]
BAD_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80", b"\xe2\x82"]
SPARSE_INDICES = ["0", "1000000", "1000000000", str(2**31), str(2**32), str(2**53), str(2**62), str(2**63 - 1),
                  str(2**63), str(2**64), "99999999999999999999999", "-1", "00000000000000000000001", "1e3"]


@dataclass
class Case:
    seed: int
    index: int
    fmt: str
    door: str
    cli_share: float = 0.25
    mutations: list[str] = field(default_factory=list)
    data: bytes = b""
    options: dict = field(default_factory=dict)  # config extras (cli) / reader options (read)

    @property
    def name(self) -> str:
        return f"case{self.index}{SUFFIX[self.fmt]}"

    @property
    def key(self) -> str:
        return f"seed {self.seed} case {self.index} ({self.fmt}, {self.door}: {'+'.join(self.mutations) or 'none'})"

    @property
    def rerun(self) -> str:
        return f"python tests/fuzz/fuzz.py --seed {self.seed} --cli-share {self.cli_share:g} --case {self.index}"


# ------------------------------------------------------------------------- valid base files
def _rows(rng: random.Random, n: int, k: int) -> tuple[list[list[float]], list[int]]:
    X = [[round(rng.gauss(0, 1), 4) for _ in range(k)] for _ in range(n)]
    y = [int(rng.random() < 1 / (1 + math.exp(-(r[0] - 0.5 * r[-1])))) for r in X]
    if len(set(y)) < 2:
        y[0], y[1] = 0, 1
    return X, y


def base_table(rng: random.Random) -> pa.Table:
    """A small numeric + categorical table with a binary label ``y`` (last column)."""
    n, k = rng.randint(30, 120), rng.randint(1, 4)
    X, y = _rows(rng, n, k)
    cols = {f"x{j}": pa.array([r[j] for r in X]) for j in range(k)}
    if rng.random() < 0.5:
        cols["colour"] = pa.array([rng.choice(["red", "green", "blue"]) for _ in range(n)])
    labels = rng.choice([("0", "1"), ("no", "yes"), ("-1", "1")])
    cols["y"] = pa.array([labels[v] for v in y]) if labels[0] == "no" else pa.array([int(labels[v]) for v in y])
    return pa.table(cols)


def _delimited(t: pa.Table, sep: str) -> bytes:
    out = [sep.join(t.column_names)]
    cols = [t.column(c).to_pylist() for c in t.column_names]
    for i in range(t.num_rows):
        out.append(sep.join(str(c[i]) for c in cols))
    return ("\n".join(out) + "\n").encode()


def _svmlight(rng: random.Random) -> bytes:
    n, k = rng.randint(30, 120), rng.randint(2, 6)
    X, y = _rows(rng, n, k)
    lines = []
    for r, v in zip(X, y):
        feats = " ".join(f"{j + 1}:{x}" for j, x in enumerate(r) if rng.random() < 0.8)
        qid = f" qid:{rng.randint(1, 3)}" if rng.random() < 0.05 else ""
        note = " # a comment" if rng.random() < 0.05 else ""
        lines.append(f"{v if rng.random() < 0.5 else 2 * v - 1}{qid} {feats}{note}".rstrip())
    return ("\n".join(lines) + "\n").encode()


def _criteo(rng: random.Random) -> bytes:
    n = rng.randint(40, 120)
    lines = []
    for _ in range(n):
        lab = str(int(rng.random() < 0.3))
        ints = ["" if rng.random() < 0.1 else str(int(rng.paretovariate(1.2) * 3) - rng.randint(0, 2)) for _ in range(13)]
        cats = ["" if rng.random() < 0.1 else f"{rng.randrange(16 ** 3):08x}" for _ in range(26)]
        lines.append("\t".join([lab, *ints, *cats]))
    return ("\n".join(lines) + "\n").encode()


def _vw(rng: random.Random) -> bytes:
    n = rng.randint(20, 80)
    lines = []
    for _ in range(n):
        lab = rng.choice(["1", "-1", "0", "1 2.0", "-1 0.5 'tag7"])
        ns = []
        for name in rng.sample(["a", "b", "c", ""], rng.randint(1, 3)):
            feats = " ".join(rng.choice([f"f{rng.randint(0, 9)}", f"f{rng.randint(0, 9)}:{round(rng.gauss(0, 2), 3)}"])
                             for _ in range(rng.randint(1, 4)))
            scale = f":{rng.choice(['0.5', '2'])}" if name and rng.random() < 0.1 else ""
            ns.append(f"|{name}{scale} {feats}")
        lines.append(f"{lab} {' '.join(ns)}")
    return ("\n".join(lines) + "\n").encode()


def _parquet(t: pa.Table, rng: random.Random) -> bytes:
    buf = io.BytesIO()
    pq.write_table(t, buf, row_group_size=rng.choice([16, 64, 1000]),
                   compression=rng.choice(["snappy", "zstd", "none", "gzip"]))
    return buf.getvalue()


def base_file(fmt: str, rng: random.Random) -> bytes:
    if fmt in ("csv", "tsv"):
        return _delimited(base_table(rng), "," if fmt == "csv" else "\t")
    if fmt == "parquet":
        return _parquet(base_table(rng), rng)
    if fmt == "svmlight":
        return _svmlight(rng)
    if fmt == "criteo":
        return _criteo(rng)
    return _vw(rng)


# ------------------------------------------------------------------------- mutations of bytes
def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _pick_line(rng: random.Random, lines: list[bytes], header: bool) -> int:
    lo = 1 if header and len(lines) > 1 else 0
    hi = max(lo, len(lines) - 2)
    return rng.randint(lo, hi)


def _sep(fmt: str) -> bytes:
    return {"csv": b",", "tsv": b"\t", "criteo": b"\t", "svmlight": b" ", "vw": b" "}.get(fmt, b",")


def _replace_field(rng, data: bytes, fmt: str, value: bytes, header: bool) -> bytes:
    lines = _lines(data)
    i = _pick_line(rng, lines, header)
    fields = lines[i].split(_sep(fmt))
    j = rng.randrange(len(fields))
    if fmt == "svmlight" and j > 0 and b":" in fields[j]:
        fields[j] = fields[j].split(b":")[0] + b":" + value
    elif fmt == "vw" and j > 0 and not fields[j].startswith(b"|"):
        fields[j] = fields[j].split(b":")[0] + b":" + value
    else:
        fields[j] = value
    lines[i] = _sep(fmt).join(fields)
    return b"\n".join(lines)


def m_flip(rng, data, fmt, header):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    return bytes(b)


def m_bytes(rng, data, fmt, header):
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def m_truncate(rng, data, fmt, header):
    return data[: rng.randint(0, max(0, len(data) - 1))]


def m_nul(rng, data, fmt, header):
    at = rng.randrange(len(data) + 1)
    return data[:at] + b"\x00" * rng.choice([1, 1, 3, 100]) + data[at:]


def m_bad_utf8(rng, data, fmt, header):
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice(BAD_UTF8) + data[at:]


def m_quote(rng, data, fmt, header):
    lines = _lines(data)
    i = _pick_line(rng, lines, header)
    kind = rng.randrange(4)
    if kind == 0:
        lines[i] = b'"' + lines[i]
    elif kind == 1:
        lines[i] = lines[i] + b'"'
    elif kind == 2:
        lines[i] = lines[i].replace(_sep(fmt), b'"' + _sep(fmt) + b'"', 1)
    else:
        lines[i] = b'"a' + _sep(fmt) + b'\nb"' + _sep(fmt) + lines[i]
    return b"\n".join(lines)


def m_delimiter(rng, data, fmt, header):
    lines = _lines(data)
    i = _pick_line(rng, lines, header)
    kind = rng.randrange(4)
    if kind == 0:
        lines[i] += _sep(fmt) * rng.randint(1, 3)
    elif kind == 1:
        lines[i] = lines[i].replace(_sep(fmt), b"", 1)
    elif kind == 2:
        lines[i] = lines[i].replace(_sep(fmt), rng.choice([b",", b";", b"\t", b"|", b":", b" "]))
    else:
        lines.insert(i, rng.choice([b"", b" ", _sep(fmt), b"\r", b"#"]))
    return b"\n".join(lines)


def m_huge(rng, data, fmt, header):
    return _replace_field(rng, data, fmt, rng.choice(HUGE).encode(), header)


def m_inf_nan(rng, data, fmt, header):
    return _replace_field(rng, data, fmt, rng.choice(INF_NAN).encode(), header)


def m_long_line(rng, data, fmt, header):
    lines = _lines(data)
    i = _pick_line(rng, lines, header)
    n = rng.choice([10_000, 300_000, 2_000_000])
    if rng.random() < 0.5:
        lines[i] = lines[i] + _sep(fmt) + (b"1" + _sep(fmt)) * (n // 2)  # many fields
    else:
        lines[i] = lines[i] + b"9" * n  # one long number
    return b"\n".join(lines)


def m_long_value(rng, data, fmt, header):
    n = rng.choice([1000, 100_000, 2_000_000])
    return _replace_field(rng, data, fmt, rng.choice([b"z", b"\xc3\xa9", b"ab "]) * (n // 2), header)


def m_label(rng, data, fmt, header):
    """An odd label: huge, fractional, infinite, text, empty."""
    lines = _lines(data)
    i = _pick_line(rng, lines, header)
    value = rng.choice(["99999999999999999999999", "0.5", "inf", "nan", "", "2", "yes", "1e300", "-0", "1.0"]).encode()
    sep = _sep(fmt)
    fields = lines[i].split(sep)
    if fmt in ("svmlight", "vw", "criteo"):
        fields[0] = value
    else:
        fields[-1] = value
    lines[i] = sep.join(fields)
    return b"\n".join(lines)


def m_dup_header(rng, data, fmt, header):
    lines = _lines(data)
    names = lines[0].split(_sep(fmt))
    if len(names) > 1:
        a, b = rng.sample(range(len(names)), 2)
        names[b] = names[a]
    lines[0] = _sep(fmt).join(names)
    return b"\n".join(lines)


def m_empty_header(rng, data, fmt, header):
    lines = _lines(data)
    names = lines[0].split(_sep(fmt))
    names[rng.randrange(len(names))] = rng.choice([b"", b" ", b'""'])
    lines[0] = _sep(fmt).join(names)
    return b"\n".join(lines)


def m_sparse_index(rng, data, fmt, header):
    lines = _lines(data)
    i = _pick_line(rng, lines, False)
    idx = rng.choice(SPARSE_INDICES).encode()
    lines[i] = lines[i] + b" " + idx + b":" + rng.choice([b"1", b"0.5", b"inf", b"-3"])
    return b"\n".join(lines)


def m_crlf(rng, data, fmt, header):
    return data.replace(b"\n", b"\r\n") if rng.random() < 0.7 else b"\xef\xbb\xbf" + data


def m_random(rng, data, fmt, header):
    return bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 100, 5000])))


def m_one_class(rng, data, fmt, header):
    lines = _lines(data)
    keep = lines[:1] if header else []
    return b"\n".join(keep + lines[1 if header else 0 : 1 + (1 if header else 0)] * 20)


def m_vw_syntax(rng, data, fmt, header):
    lines = _lines(data)
    i = _pick_line(rng, lines, False)
    bit = rng.choice([b"|", b"||", b"|:", b"|a:x f", b"|a f:", b"|a f:1:2", b" |a:inf f", b"'", b"|a :3"])
    lines[i] = lines[i] + b" " + bit
    return b"\n".join(lines)


# Parquet: the byte mutations above hit pages and footer at random; these aim at each
PAR1 = b"PAR1"


def m_parquet_footer(rng, data, fmt, header):
    b = bytearray(data)
    if len(b) < 16:  # (already cut short by an earlier mutation)
        return m_flip(rng, data, fmt, header)
    kind = rng.randrange(4)
    if kind == 0:  # the magic
        b[-rng.randint(1, 4)] ^= 0xFF
    elif kind == 1:  # the footer length
        b[-8 + rng.randrange(4)] = rng.randrange(256)
    elif kind == 2:  # inside the footer's metadata
        flen = int.from_bytes(bytes(b[-8:-4]), "little")
        lo = max(4, len(b) - 8 - flen)
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(lo, len(b) - 8)] = rng.randrange(256)
    else:  # cut inside the footer
        return bytes(b[: len(b) - rng.randint(1, 40)])
    return bytes(b)


def m_parquet_page(rng, data, fmt, header):
    b = bytearray(data)
    if len(b) < 16:
        return m_flip(rng, data, fmt, header)
    flen = int.from_bytes(bytes(b[-8:-4]), "little") if len(b) > 12 else 0
    hi = max(5, len(b) - 8 - flen)
    for _ in range(rng.randint(1, 10)):
        b[rng.randrange(4, hi)] = rng.randrange(256)
    return bytes(b)


def parquet_structure(rng: random.Random) -> tuple[bytes, str]:
    """A well-formed Parquet file with an awkward schema."""
    t = base_table(rng)
    kind = rng.randrange(8)
    n = t.num_rows
    if kind == 0:
        t = pa.table(t.columns + [t.column(0)], names=t.column_names + [t.column_names[0]])
        name = "parquet_dup_column"
    elif kind == 1:
        t = t.rename_columns(["" if j == 0 else c for j, c in enumerate(t.column_names)])
        name = "parquet_empty_name"
    elif kind == 2:
        t = t.add_column(0, "blob", pa.array([bytes([rng.randrange(256)]) * 3 for _ in range(n)], pa.binary()))
        name = "parquet_binary"
    elif kind == 3:
        t = t.add_column(0, "nothing", pa.nulls(n))
        name = "parquet_null_column"
    elif kind == 4:
        t = t.add_column(0, "items", pa.array([[1, 2]] * n))
        name = "parquet_list_column"
    elif kind == 5:
        t = t.add_column(0, "big", pa.array([float(v) for v in rng.choices([1e308, -1e308, math.inf, math.nan, 0.0], k=n)]))
        name = "parquet_inf_nan"
    elif kind == 6:
        t = t.set_column(t.num_columns - 1, "y", pa.nulls(n, pa.int64()))
        name = "parquet_null_label"
    else:
        t = pa.table({"y": pa.array([], pa.int64())})
        name = "parquet_empty"
    buf = io.BytesIO()
    pq.write_table(t, buf)
    return buf.getvalue(), name


MUTATIONS = {
    "flip": m_flip, "bytes": m_bytes, "truncate": m_truncate, "nul": m_nul, "bad_utf8": m_bad_utf8,
    "quote": m_quote, "delimiter": m_delimiter, "huge_number": m_huge, "inf_nan": m_inf_nan,
    "long_line": m_long_line, "long_value": m_long_value, "label": m_label, "dup_header": m_dup_header,
    "empty_header": m_empty_header, "sparse_index": m_sparse_index, "crlf_bom": m_crlf, "random_bytes": m_random,
    "one_class": m_one_class, "vw_syntax": m_vw_syntax, "parquet_footer": m_parquet_footer,
    "parquet_page": m_parquet_page,
}
_TEXT = ["flip", "bytes", "truncate", "nul", "bad_utf8", "quote", "delimiter", "huge_number", "inf_nan",
         "long_line", "long_value", "label", "crlf_bom", "random_bytes", "one_class"]
APPLIES = {
    "csv": _TEXT + ["dup_header", "empty_header"],
    "tsv": _TEXT + ["dup_header", "empty_header"],
    "svmlight": _TEXT + ["sparse_index", "sparse_index"],
    "criteo": _TEXT,
    "vw": _TEXT + ["vw_syntax", "vw_syntax"],
    "parquet": ["flip", "bytes", "truncate", "parquet_footer", "parquet_page", "parquet_page", "random_bytes",
                "structure", "structure"],
}


#: mutations that often leave a file readable, so that a run goes on to prepare, fit and plot odd values
VALUE_LEVEL = {"huge_number", "inf_nan", "long_value", "label", "one_class", "crlf_bom", "nul", "sparse_index",
               "structure", "dup_header", "empty_header"}


def make_case(seed: int, index: int, cli_share: float = 0.25) -> Case:
    """Case ``index`` of ``seed``: format by turns, door, mutations, file bytes and options.

    A case run through the CLI takes, two times in three, one mutation of values (which
    leaves most files readable) so that the later stages see odd values too."""
    rng = random.Random(f"{seed}:{index}")
    fmt = FORMATS[index % len(FORMATS)]
    door = "cli" if fmt in CLI_FORMATS and rng.random() < cli_share else "read"
    case = Case(seed, index, fmt, door, cli_share)
    header = fmt in ("csv", "tsv")
    data = base_file(fmt, rng)
    values = door == "cli" and rng.random() < 2 / 3
    for _ in range(1 if values else rng.choice([1, 1, 1, 2, 2, 3])):
        choices = [m for m in APPLIES[fmt] if m in VALUE_LEVEL] if values else APPLIES[fmt]
        name = rng.choice(choices)
        if name == "structure":
            data, name = parquet_structure(rng)
        else:
            data = MUTATIONS[name](rng, data, fmt, header)
        case.mutations.append(name)
    case.data = data
    if door == "cli":
        case.options = {
            "plots": rng.random() < 0.5, "standardize": rng.random() < 0.5,
            "split": rng.choice(["random", "stratified", "none"]), "impute": rng.random() < 0.3,
        }
    return case


def write_case(case: Case, folder: Path) -> dict:
    """Write the case's file (and config) under ``folder``; the zygote request for it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / case.name
    path.write_bytes(case.data)
    fmt = case.fmt
    if case.door == "read":
        opts = {}
        return {"door": "read", "argv": [str(path), fmt, opts], "dir": str(folder)}
    o = case.options
    if fmt == "criteo":
        cfg = (f"data: {{path: {case.name}, format: criteo, split: {{method: none}}}}\n"
               "prep: {hashing: {n_bits: 12}}\n"
               "model: {kind: hashed, options: {n_passes: 1}}\n"
               "evaluate: {metrics: [log_loss, roc_auc], inference: false}\n"
               f"interpret: {{plots: {str(o['plots']).lower()}, report: false, graph: false}}\n")
    else:
        split = o["split"]
        cfg = (f"data: {{path: {case.name}, format: {fmt}, split: {{method: {split}, test_size: 0.3}}}}\n"
               f"prep: {{standardize: {str(o['standardize']).lower()}"
               + (", impute: median" if o["impute"] else "") + "}\n"
               "model: {max_iter: 50}\n"
               f"interpret: {{plots: {str(o['plots']).lower()}, report: false, graph: false}}\n")
    (folder / "config.yaml").write_text(cfg)
    return {"door": "cli", "argv": ["run", "config.yaml", "--out", "runs"], "dir": str(folder)}
