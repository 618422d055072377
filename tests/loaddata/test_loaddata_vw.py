"""Vowpal Wabbit text format against a small line-by-line parser written here, and VW itself."""
import numpy as np
import pytest

from logitkit._util.errors import InputFileError
from logitkit.loaddata import load_vw, make_ctr, stream_vw, write_vw
from logitkit.loaddata.tokens import log_bucket_code


def parse_vw_line(line: str) -> dict:
    """Reference parser (plain Python, one line at a time)."""
    head, *segs = line.rstrip("\n").split("|")
    h = head.split()
    label = float(h[0]) if h else None
    weight, tag = 1.0, None
    rest = h[1:]
    if rest and not rest[0].startswith("'"):
        weight = float(rest.pop(0))
    if rest:
        tag = rest[0].lstrip("'")
    ns_l, f_l, v_l = [], [], []
    for seg in segs:
        if seg[:1].isspace() or seg == "":
            ns, scale, toks = " ", 1.0, seg.split()
        else:
            first, *toks = seg.split()
            ns, _, sc = first.partition(":")
            scale = float(sc) if sc else 1.0
        for t in toks:
            name, _, val = t.partition(":")
            ns_l.append(ns)
            f_l.append(name)
            v_l.append((float(val) if val else 1.0) * scale)
    return {"label": label, "weight": weight, "tag": tag, "namespace": ns_l, "feature": f_l, "value": v_l}


LINES = [
    "1 2.5 'first|a x:2 y |b:0.5 z:4",
    "-1 |  q r:-1.5e2",
    "0 'only| w",
    "| unlabelled",
    "1 |a x:1 |c c1=68fd1e64 c2=",
]


def test_handwritten_lines_match_reference(tmp_path):
    p = tmp_path / "h.vw"
    p.write_text("\n".join(LINES[:2]) + "\n\n" + "\n".join(LINES[2:]) + "\n")
    got = load_vw(p).data.to_pylist()
    assert got == [parse_vw_line(x) for x in LINES]


@pytest.mark.parametrize("grouped", [False, True])
def test_written_ctr_rows_match_reference(tmp_path, grouped):
    table, _ = make_ctr(400, seed=2, max_cardinality=50)
    ns = {"n": [f"I{i}" for i in range(1, 14)], "c": [f"C{i}" for i in range(1, 27)]} if grouped else None
    p = write_vw(table, tmp_path / "c.vw", namespaces=ns, numeric="log_bucket" if grouped else "value")
    text = p.read_text().splitlines()
    assert len(text) == 400
    ref = [parse_vw_line(x) for x in text]
    got = load_vw(p).data.to_pylist()
    assert got == ref
    rows = table.data.to_pylist()
    y = table.labels()
    np.testing.assert_array_equal([r["label"] for r in got], np.where(y > 0, 1.0, -1.0))
    r0, g0 = rows[0], got[0]
    if grouped:  # every field present, missing as 'f=', counts as their log-bucket code
        assert len(g0["feature"]) == 39
        assert g0["feature"][0] == f"I1={log_bucket_code(r0['I1'])}"
        assert g0["feature"][13] == f"C1={r0['C1'] or ''}"
    else:  # missing values omitted, counts as name:value
        present = [c for c in table.feature_names if r0[c] is not None]
        assert g0["namespace"] == present
    streamed = [r for b in stream_vw(p, batch_rows=64) for r in b.to_pylist()]
    assert streamed == got


def test_vw_itself_reads_written_file(tmp_path):
    vw = pytest.importorskip("vowpalwabbit")
    table, _ = make_ctr(200, seed=4, max_cardinality=30)
    p = write_vw(table, tmp_path / "c.vw", namespaces={"c": [f"C{i}" for i in range(1, 27)], "n": [f"I{i}" for i in range(1, 14)]}, numeric="log_bucket")
    ws = vw.Workspace("--loss_function logistic --quiet")
    for line in p.read_text().splitlines():
        ex = ws.parse(line)
        assert ex.get_label(vw.LabelType.SIMPLE).label in (-1.0, 1.0)
        ws.learn(ex)
        ws.finish_example(ex)
    ws.finish()


def test_bad_label_names_line(tmp_path):
    p = tmp_path / "bad.vw"
    p.write_text("1 |a x\nyes |a x\n")
    with pytest.raises(InputFileError, match=r"bad\.vw: line 2: label 'yes' is not a number"):
        load_vw(p)
    p.write_text("1 |a x\n\n1 a x\n")
    with pytest.raises(InputFileError, match=r"bad\.vw: line 3 has no '\|'"):
        load_vw(p)
    p.write_text("1 |a x:1\n-1 |a x:big\n")
    with pytest.raises(InputFileError, match=r"bad\.vw: line 2: feature value 'big' is not a number"):
        list(stream_vw(p, batch_rows=1))


def test_separators_inside_values_are_escaped(tmp_path):
    import pyarrow as pa

    t = pa.table({"label": [1, 0], "city": ["new york", "a:b|c"]})
    p = write_vw(t, tmp_path / "s.vw")
    assert p.read_text().splitlines() == ["1 |city new_york", "-1 |city a_b_c"]
    assert [r["feature"] for r in load_vw(p).data.to_pylist()] == [["new_york"], ["a_b_c"]]
