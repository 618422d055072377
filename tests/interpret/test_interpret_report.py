"""write_report: one self-contained HTML file, checked by parsing it and in headless Chromium."""
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch

from logitkit._util.errors import InputFileError
from logitkit.interpret import graph, plots, write_report

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run"
    x = np.linspace(-3, 3, 40)
    y = (x + np.random.default_rng(0).normal(size=40) > 0).astype(int)
    plots.roc_plot(y, x, d / "plots" / "roc.png")
    plots.logit_plot(d / "plots" / "logit.png")
    w = torch.tensor([0.5], requires_grad=True)
    (d / "graph.dot").write_text(graph((torch.sigmoid(w * 2.0) - 1).pow(2).sum(), names={"w": w}))
    (d / "config.yaml").write_text("data:\n  dataset: cd_age\nmodel:\n  alpha: 0.001\n")
    (d / "coefficients.csv").write_text(
        "term,coef,std_err,z,p_value,ci_low,ci_high,odds_ratio,odds_ratio_ci_low,odds_ratio_ci_high\n"
        "intercept,-5.31,1.13,-4.68,2.9e-06,-7.5,-3.1,0.0049,0.0005,0.045\nage,0.111,0.024,4.61,4e-06,0.064,0.158,1.117,1.066,1.171\n")
    (d / "tables").mkdir()
    (d / "tables" / "prevalence.csv").write_text("group,n,positive,percent\n20-29,5,0,0\n30-39,6,1,16.7\n")
    record = {"run_id": "cd-1234", "created": "2026-11-30T12:00:00+00:00", "seed": 7,
              "environment": {"python": "3.11", "torch": torch.__version__},
              "data": {"fingerprints": {"dataset": "cd_age", "sha256": "ab" * 32}, "summary": {"n_rows": 33}},
              "metrics": {"train": {"auc": 0.8, "logloss": 0.5}, "test": {"auc": 0.75}},
              "timings": {"fit": 0.01}, "warnings": ["<script>alert(1)</script> separation"],
              "model_stats": {"parameters": 2}, "cv": {"best_alpha": 0.01}}
    (d / "record.json").write_text(json.dumps(record))
    return d


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href", "srcset", "data", "action", "poster") and v:
                self.urls.append(v)


def test_report_is_self_contained(run_dir):
    out = write_report(run_dir)
    assert out == run_dir / "report.html"
    html = out.read_text()
    p = _Collect()
    p.feed(html)
    imgs = [u for u in p.urls if u.startswith("data:")]
    assert len(imgs) == 3  # two plots and the graph rendered from graph.dot
    assert all(u.startswith("data:image/") for u in imgs)
    assert all(u.startswith(("data:", "#")) for u in p.urls)  # nothing to fetch
    assert "script" not in p.tags and "link" not in p.tags
    assert "@import" not in html and "url(" not in html
    for text in ("cd-1234", "age", "1.117", "0.75", "best_alpha", "dataset: cd_age", "20-29", "Sigmoid"):
        assert text in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # escaped, not executed


def test_minimal_run_dir(tmp_path):
    (tmp_path / "record.json").write_text(json.dumps({"run_id": "r", "metrics": {}}))
    html = write_report(tmp_path).read_text()
    assert "No metrics recorded" in html and "config.yaml not found" in html


def test_missing_or_broken_record(tmp_path):
    with pytest.raises(InputFileError, match="no such run directory"):
        write_report(tmp_path / "nope")
    with pytest.raises(InputFileError, match="record.json: the run record is missing"):
        write_report(tmp_path)
    (tmp_path / "record.json").write_text('{"run_id": "r",\n  "metrics": }')
    with pytest.raises(InputFileError, match="record.json: line 2, column 14: not valid JSON"):
        write_report(tmp_path)


_PROBE = """<script>
var lkViolations = [];
document.addEventListener("securitypolicyviolation", function (e) { lkViolations.push(e.blockedURI); });
window.addEventListener("load", function () {
  var imgs = Array.from(document.images);
  var out = document.createElement("pre");
  out.id = "lk-probe";
  out.textContent = JSON.stringify({
    images: imgs.length,
    undecoded: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).map(function (i) { return i.alt; }),
    resources: performance.getEntriesByType("resource").map(function (e) { return e.name; }),
    violations: lkViolations,
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    sections: Array.from(document.querySelectorAll("main > section")).map(function (s) {
      return [s.id, s.querySelector("h2").textContent, s.querySelectorAll("table tr").length]; }),
    figures: Array.from(document.querySelectorAll("figcaption")).map(function (f) { return f.textContent; })});
  document.body.appendChild(out);
});
</script>"""


def _in_chromium(html: str, folder: Path, tmp_path: Path, window: str) -> dict:
    """What the page loads and shows in headless Chromium (the probe runs before the
    report's Content-Security-Policy)."""
    probe = folder / "probe.html"
    probe.write_text(html.replace("<head>", "<head>" + _PROBE, 1))
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           f"--window-size={window}", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    start = dom.index('<pre id="lk-probe">') + len('<pre id="lk-probe">')
    return json.loads(dom[start:dom.index("</pre>", start)].replace("&quot;", '"').replace("&amp;", "&")
                      .replace("&lt;", "<").replace("&gt;", ">"))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless check needs /usr/bin/chromium (Debian package 'chromium')")
@pytest.mark.parametrize("window", ["390,844", "1280,900"])  # phone, laptop
def test_report_in_headless_chromium(run_dir, tmp_path, window):
    result = _in_chromium(write_report(run_dir).read_text(), run_dir, tmp_path, window)
    assert result["images"] == 3
    assert result["undecoded"] == []
    assert result["resources"] == [] and result["violations"] == []  # nothing fetched
    assert result["overflow"] <= 0  # no horizontal scrolling of the page
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_plots_follow_the_story_of_a_run(run_dir):
    for name in ("confusion_matrix", "dot_plot", "zzz_extra"):
        (run_dir / "plots" / f"{name}.png").write_bytes((run_dir / "plots" / "roc.png").read_bytes())
    html = write_report(run_dir).read_text()
    import re

    names = re.findall(r"<figcaption>[^<]*\(([^)]*)\)</figcaption>", html)
    assert names == ["dot_plot.png", "logit.png", "roc.png", "confusion_matrix.png", "zzz_extra.png"]
    assert "ROC curve (roc.png)" in html


@pytest.fixture(scope="module")
def ctr_run(ctr_files, ctr_config):
    from logitkit.pipeline.cli import main

    folder = ctr_files(8_000, 2_000, seed=6).folder
    ctr_config(folder, batch_rows=1024, n_bits=16, model="{kind: hashed, batch_size: 256, options: {n_passes: 2}}")
    assert main(["run", str(folder / "ctr.yaml"), "--out", str(folder / "runs"), "-q"]) == 0
    return next((folder / "runs").iterdir())


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless check needs /usr/bin/chromium (Debian package 'chromium')")
@pytest.mark.parametrize("window", ["390,844", "1280,900"])  # phone, laptop
def test_ctr_report_in_headless_chromium(ctr_run, tmp_path, window):
    """A CTR run's report: its click-model section, the four CTR plots drawn (SVG), the config."""
    result = _in_chromium((ctr_run / "report.html").read_text(), tmp_path, tmp_path, window)
    assert result["images"] == 4 and result["undecoded"] == []
    assert result["resources"] == [] and result["violations"] == [] and result["overflow"] <= 0
    sections = {sid: (title, rows) for sid, title, rows in result["sections"]}
    assert list(sections)[:2] == ["metrics", "ctr"] and {"plots", "data", "config", "record"} <= set(sections)
    assert sections["ctr"][0] == "Click model (hashed)" and sections["ctr"][1] > 20 + 3  # top weights, passes, ...
    assert sections["config"][0] == "Configuration"
    assert sorted(f.split(" (")[0] for f in result["figures"]) == [
        "Log loss per pass", "Progressive log loss by rows seen", "ROC curve", "Reliability"]
    html = (ctr_run / "report.html").read_text()
    assert "kind: hashed" in html and "config.yaml not found" not in html

