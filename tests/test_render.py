"""Batch rendering end to end: ``cpkit render`` on good and broken datasets.

One batch (module fixture) renders, with the stand-in phase notebooks of
tests/fixtures/notebooks, two valid enterprises (copies of tests/fixtures/minimal, one
whose name is ``<script>…``), a dataset that does not validate, one whose data makes a
notebook raise, and one whose id tries to leave the output folder; in two languages,
HTML and PDF, on two workers. The tests then read what it wrote. The sample datasets of
data/samples are rendered in a test of their own.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cpkit.render.command import render as render_command

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
MINIMAL = ROOT / "tests" / "fixtures" / "minimal"
SAMPLES = sorted(
    p for p in (ROOT / "data" / "samples").glob("*") if (p / "enterprise.yaml").is_file()
)


def _pdf_engine() -> str:
    import cpkit.render.pdf as pdf

    return pdf.resolve_engine("auto")


PDF_ENGINE = _pdf_engine()  # what "auto" means on this machine (chromium when available)


def make_dataset(folder: Path, name: str, **changes) -> Path:
    """A copy of the minimal dataset with changes: id=..., profile={...}, drop=[keys]."""
    target = folder / name
    shutil.copytree(MINIMAL, target)
    path = target / "enterprise.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if "id" in changes:
        doc["id"] = changes["id"]
    doc["profile"].update(changes.get("profile", {}))
    for key in changes.get("drop", []):
        doc["profile"].pop(key)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def sample_is_valid(path: Path) -> bool:
    from cpkit.validate import validate

    return not validate(path)


class Resources(HTMLParser):
    """Every URL a page would load: script src, link href, img src, CSS url()."""

    def __init__(self):
        super().__init__()
        self.loads: list[str] = []
        self.scripts = 0
        self._style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
            self.loads.append(a.get("src") or "")
        if tag == "link":
            self.loads.append(a.get("href") or "")
        if tag in ("img", "image", "iframe", "embed", "source", "video", "audio"):
            self.loads.append(a.get("src") or a.get("href") or a.get("xlink:href") or "")
        if a.get("style"):
            self.loads += re.findall(r"url\(([^)]*)\)", a["style"])
        self._style = tag == "style"

    def handle_data(self, data):
        if self._style:
            self.loads += re.findall(r"url\(([^)]*)\)", data)
            self.loads += re.findall(r"@import\s+([^;]+)", data)


def external(urls):
    return [u for u in urls if re.match(r"\s*['\"]?\s*(https?:|ftp:|//)", u)]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("render")
    ds = base / "datasets"
    ds.mkdir()
    make_dataset(ds, "alpha", id="alpha")
    make_dataset(
        ds,
        "beta",
        id="beta",
        profile={
            "name": "<script>alert(1)</script>贝塔&化工",
            "staff": 30,
            "output_value_10k_cny": 2400,
        },
    )
    make_dataset(ds, "bad", id="bad", drop=["name"])
    make_dataset(ds, "boom", id="boom", profile={"staff": 0})  # 03 divides by staff
    make_dataset(ds, "evil", id="../../etc")
    hashes = {p.name: tree_hash(p) for p in ds.iterdir()}
    out = base / "out"
    t0 = time.perf_counter()
    res = CliRunner().invoke(
        render_command,
        [
            str(ds / "*"),
            "--out",
            str(out),
            "--lang",
            "zh,en",
            "--format",
            "html,pdf",
            "--notebooks",
            str(NOTEBOOKS),
            "--workers",
            "2",
            "--quiet",
        ],
    )
    return {
        "out": out,
        "ds": ds,
        "result": res,
        "seconds": time.perf_counter() - t0,
        "hashes": hashes,
    }


def summary_rows(out: Path):
    with open(out / "summary.csv", encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def state(out: Path, eid: str):
    return json.loads((out / eid / ".render.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the run
def test_exit_code_and_summary(batch):
    res, out = batch["result"], batch["out"]
    assert res.exit_code == 1, res.output  # some enterprises failed
    assert "FAILED bad" in res.output and "FAILED boom" in res.output
    rows = summary_rows(out)
    by = {(r["enterprise_id"], r["lang"]): r for r in rows}
    for eid in ("alpha", "beta"):
        for lang in ("zh", "en"):
            r = by[(eid, lang)]
            assert r["status"] == "ok" and r["html"] == f"{eid}/report.{lang}.html"
            assert r["pdf"] == f"{eid}/report.{lang}.pdf" and int(r["pages"]) >= 10
            assert float(r["seconds"]) > 0
            assert r["pdf_engine"] == PDF_ENGINE  # the engine that wrote it is recorded
            assert state(out, eid)["langs"][lang]["pdf_engine"] == PDF_ENGINE
    assert by[("bad", "zh")]["status"] == "failed" and by[("bad", "zh")]["stage"] == "validation"
    assert "profile.name" in by[("bad", "zh")]["error"]
    assert by[("boom", "en")]["stage"] == "notebook"
    assert "03_assessment.ipynb" in by[("boom", "en")]["error"]
    assert "ZeroDivisionError" in by[("boom", "en")]["error"]
    assert by[("boom", "en")]["error"].startswith("03_assessment.ipynb, cell 5:")
    assert len(rows) == 2 * 5


def test_inputs_are_not_modified(batch):
    for p in batch["ds"].iterdir():
        assert tree_hash(p) == batch["hashes"][p.name], p.name


def test_unsafe_id_stays_inside_the_output_folder(batch):
    out = batch["out"]
    evil = [p for p in out.iterdir() if p.name.startswith("etc-")]
    assert len(evil) == 1 and evil[0].is_dir()
    assert not (out.parent.parent / "etc").exists()
    for p in out.rglob("*"):
        assert p.resolve().is_relative_to(out.resolve())
    assert state(out, evil[0].name)["dataset_id"] == "../../etc"


def test_layout_and_executed_notebooks(batch):
    out = batch["out"]
    folder = out / "alpha"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        ".render.json",
        "notebooks",
        "report.en.html",
        "report.en.pdf",
        "report.zh.html",
        "report.zh.pdf",
    ]
    executed = sorted(p.name for p in (folder / "notebooks" / "en").iterdir())
    assert executed == sorted(p.name for p in NOTEBOOKS.glob("0*.ipynb"))
    nb = json.loads((folder / "notebooks" / "en" / "02_pre_assessment.ipynb").read_text())
    tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
    injected = tags.index(["injected-parameters"])
    assert tags[injected - 1] == ["parameters"]
    params = nb["metadata"]["papermill"]["parameters"]
    assert params["lang"] == "en" and params["interactive"] is False and params["teaching"] is False
    assert params["dataset"] == str(batch["ds"] / "alpha")
    assert nb["metadata"]["papermill"]["output_path"] == str(
        folder / "notebooks" / "en" / "02_pre_assessment.ipynb"
    )
    assert all(
        c["metadata"]["papermill"]["status"] == "completed"
        for c in nb["cells"]
        if c["cell_type"] == "code"
    )
    assert not list(out.glob(".staging-*")) and not list(out.glob(".old-*"))


def test_charts_are_drawn_before_the_notebooks_are_saved(batch):
    """The kernels leave static charts to the worker's browser (CPKIT_CHARTS=defer); the
    saved notebooks and the reports hold the SVG, never the placeholder, also for the
    notebooks of a language that failed later (boom fails in 03)."""
    out = batch["out"]
    engine = "chromium" if PDF_ENGINE == "chromium" else "vl-convert"
    for eid in ("alpha", "beta", "boom"):
        for path in (out / eid / "notebooks").rglob("*.ipynb"):
            text = path.read_text(encoding="utf-8")
            assert "application/vnd.cpkit.chart+json" not in text, path
            assert "cp-chart-pending" not in text, path
    nb = json.loads((out / "boom" / "notebooks" / "zh" / "02_pre_assessment.ipynb").read_text())
    html = [
        "".join(o["data"]["text/html"])
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if "text/html" in o.get("data", {})
    ]
    assert any(h.startswith('<div class="cp-chart"><svg') for h in html)
    for eid in ("alpha", "beta"):
        for lang in ("zh", "en"):
            lr = state(out, eid)["langs"][lang]
            assert lr["chart_engine"] == engine and lr["timings"]["charts"] >= 0
            report = (out / eid / f"report.{lang}.html").read_text(encoding="utf-8")
            assert report.count('<div class="cp-chart"><svg') >= 2
            assert "cp-chart-pending" not in report


# --------------------------------------------------------------------------- reports
def test_reports_are_self_contained_and_escape_data(batch):
    out = batch["out"]
    for page in out.glob("*/report.*.html"):
        html = page.read_text(encoding="utf-8")
        parser = Resources()
        parser.feed(html)
        assert parser.scripts == 0, page
        assert external(parser.loads) == [], page
        for word in ("require.js", "mathjax", "mermaid", "cdn.jsdelivr", "unpkg.com"):
            assert word not in html.lower(), (page, word)
    beta = (out / "beta" / "report.zh.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;贝塔&amp;化工" in beta
    assert "<script" not in beta.lower()


def test_report_structure_follows_appendix_b(batch):
    html = (out := batch["out"] / "alpha" / "report.zh.html").read_text(encoding="utf-8")
    assert out.exists()
    h1 = re.findall(r'<h1 id="([^"]+)">([^<]+)</h1>', html)
    titles = [t for _, t in h1]
    assert titles == [
        "前言",
        "第1章 基本情况",
        "第2章 筹划与组织",
        "第3章 预评估",
        "第4章 评估",
        "第5章 方案产生和筛选",
        "第6章 方案可行性分析",
        "第7章 方案实施",
        "第8章 持续清洁生产",
        "第9章 本轮清洁生产审核总结",
        "附　件",
    ]
    # contents: every h1 and h2, each linking to an anchor that exists
    toc = re.search(r'<nav class="cp-toc".*?</nav>', html, re.S).group(0)
    links = re.findall(r'href="#([^"]+)"', toc)
    assert len(links) >= len(h1) + 10
    for anchor in links:
        assert f'id="{anchor}"' in html
    # annex material in notebook order, after chapter 9
    annex = html[html.index("附　件</h1>") :]
    assert annex.index("附表1 强制性清洁生产审核登记表") < annex.index("附表4 清洁生产审核绩效表")
    assert "附表1" not in html[: html.index("附　件</h1>")].split("</nav>", 1)[1]
    # cover from the profile; removed cells, streams and code stay out
    assert (
        "示例电镀有限公司" in html and "委托审核" in html and "2024年3月1日至2024年11月30日" in html
    )
    for absent in ("SHOULD-NOT-APPEAR", "stream text", "display(cd.heading", "injected-parameters"):
        assert absent not in html
    # a chart as inline vector SVG and the maths drawn offline
    assert html.count("<svg") >= 3 and "cp-math" in html


def test_pdf_is_a4_with_page_numbers_and_chinese_text(batch):
    from pypdf import PdfReader

    reader = PdfReader(batch["out"] / "alpha" / "report.zh.pdf")
    assert len(reader.pages) >= 10
    for page in reader.pages:
        w, h = float(page.mediabox.width), float(page.mediabox.height)
        assert abs(w - 595.3) < 1.5 and abs(h - 841.9) < 1.5  # A4 in points
    contents = reader.pages[1].extract_text()
    assert "目" in contents and "第3章 预评估" in contents  # contents page, real CJK glyphs
    assert re.search(r"第 2 页 共 \d+ 页", contents)
    fonts = {
        str(f["/BaseFont"])
        for p in reader.pages
        for f in (p["/Resources"].get("/Font") or {}).values()
        for f in [f.get_object()]
    }
    assert any("WenQuanYi" in f for f in fonts), fonts
    en = PdfReader(batch["out"] / "alpha" / "report.en.pdf")
    assert "Page 2 of" in en.pages[1].extract_text()


# --------------------------------------------------------------------------- index
def test_index_lists_everyone_with_figures_rankings_and_failures(batch):
    out = batch["out"]
    html = (out / "index.html").read_text(encoding="utf-8")
    parser = Resources()
    parser.feed(html)
    assert parser.scripts == 0 and external(parser.loads) == []
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;贝塔&amp;化工" in html
        and "<script" not in html.lower()
    )
    for eid in ("alpha", "beta", "bad", "boom"):
        assert f"<code>{eid}</code>" in html
    assert 'href="alpha/report.zh.html"' in html and 'href="alpha/report.en.pdf"' in html
    assert 'href="bad/failed.html"' in html and 'href="boom/failed.html"' in html
    assert "ZeroDivisionError" in html
    # figures recorded by the notebooks: alpha options 15, investment 1,200 x 0.012 = 14.40 万元
    row = re.search(r"<tr class=\"cp-row-ok\">.*?<code>alpha</code>.*?</tr>", html, re.S).group(0)
    assert ">15<" in row and "14.40 万元" in row
    # energy per output value (lower is better), by hand from stand-in 02: the last year's
    # 12 months of round(output * 0.0021 * (1 + 0.01 k), 2) with k = 7i mod 11, i = 24..35,
    # i.e. k = 3, 10, 6, 2, 9, 5, 1, 8, 4, 0, 7, 3.
    # alpha (output 1,200): 2.60 2.77 2.67 2.57 2.75 2.65 2.55 2.72 2.62 2.52 2.70 2.60 = 31.72
    # beta  (output 2,400): 5.19 5.54 5.34 5.14 5.49 5.29 5.09 5.44 5.24 5.04 5.39 5.19 = 63.38
    rec_a = state(out, "alpha")["records"]
    rec_b = state(out, "beta")["records"]
    assert rec_a["energy_tce"]["value"] == pytest.approx(31.72)
    assert rec_b["energy_tce"]["value"] == pytest.approx(63.38)
    assert rec_a["energy_tce_per_10k_cny"]["value"] == pytest.approx(31.72 / 1200)  # 0.026433
    assert rec_b["energy_tce_per_10k_cny"]["value"] == pytest.approx(63.38 / 2400)  # 0.026408
    block = html[html.index("万元产值综合能耗 <span") :]
    block = block[: block.index("</table>")]
    assert block.index("贝塔") < block.index("示例电镀有限公司")  # beta ranks first
    assert "综合排名" in html and "万元产值综合能耗" in html
    # cp_score = 80 + staff mod 17: alpha staff 40 -> 86, beta staff 30 -> 93; higher is better
    assert state(out, "alpha")["records"]["cp_score"]["value"] == 86
    assert state(out, "beta")["records"]["cp_score"]["value"] == 93
    block = html[html.index("综合评价指数 <span") :]
    block = block[: block.index("</table>")]
    assert block.index("贝塔") < block.index("示例电镀有限公司")


def test_failure_pages_say_what_and_where(batch):
    out = batch["out"]
    bad = (out / "bad" / "failed.html").read_text(encoding="utf-8")
    assert "数据集校验" in bad and "enterprise.yaml" in bad and "profile.name" in bad
    assert sorted(p.name for p in (out / "bad").iterdir()) == [".render.json", "failed.html"]
    boom = (out / "boom" / "failed.html").read_text(encoding="utf-8")
    assert "03_assessment.ipynb" in boom and "ZeroDivisionError" in boom
    assert "执行序号" in boom and "per_staff = output / staff" in boom
    assert 'href="notebooks/zh/03_assessment.ipynb"' in boom
    executed = json.loads((out / "boom" / "notebooks" / "zh" / "03_assessment.ipynb").read_text())
    assert executed["cells"][0]["metadata"]["tags"] == ["papermill-error-cell-tag"]
    assert not (out / "boom" / "report.zh.html").exists()
    assert "\x1b[" not in boom  # no terminal colour codes


# --------------------------------------------------------------------------- incremental
def test_second_run_skips_what_is_up_to_date(tmp_path, monkeypatch):
    # The environment part of the fingerprint (messages, reference data, templates,
    # notebooks) is pinned: other people editing the catalogue during the test must not
    # count as a change here.
    import cpkit.render.runner as runner

    monkeypatch.setattr(runner, "environment_digest", lambda notebooks, templates: "pinned")
    ds = make_dataset(tmp_path, "alpha", id="alpha")
    out = tmp_path / "out"
    args = [
        str(ds),
        "--out",
        str(out),
        "--lang",
        "zh",
        "--format",
        "html",
        "--notebooks",
        str(NOTEBOOKS),
        "--quiet",
        "--workers",
        "1",
    ]
    res = CliRunner().invoke(render_command, args)
    assert res.exit_code == 0 and "1 rendered" in res.output, res.output
    before = (out / "alpha" / "report.zh.html").stat().st_mtime_ns
    res = CliRunner().invoke(render_command, args)
    assert res.exit_code == 0, res.output
    assert "0 rendered, 1 up to date" in res.output
    assert (out / "alpha" / "report.zh.html").stat().st_mtime_ns == before
    assert {r["status"] for r in summary_rows(out)} == {"skipped"}
    assert "<code>alpha</code>" in (out / "index.html").read_text(encoding="utf-8")
    # a changed input, or --force, renders again
    res = CliRunner().invoke(render_command, [*args, "--force"])
    assert "1 rendered" in res.output
    (ds / "team.csv").write_text(
        (ds / "team.csv").read_text(encoding="utf-8") + "\n", encoding="utf-8"
    )
    res = CliRunner().invoke(render_command, args)
    assert "1 rendered" in res.output, res.output


def test_pdf_engine_option(tmp_path):
    ds = make_dataset(tmp_path, "alpha", id="alpha")
    out = tmp_path / "out"
    args = [str(ds), "--out", str(out), "--lang", "zh", "--notebooks", str(NOTEBOOKS),
            "--quiet", "--workers", "1"]  # fmt: skip
    res = CliRunner().invoke(render_command, [*args, "--pdf-engine", "pdfkit"])
    assert res.exit_code == 2 and "pdfkit" in res.output
    res = CliRunner().invoke(render_command, [*args, "--pdf-engine", "weasyprint"])
    assert res.exit_code == 0 and "1 rendered" in res.output, res.output
    assert "(PDF: weasyprint)" in res.output
    assert summary_rows(out)[0]["pdf_engine"] == "weasyprint"
    if PDF_ENGINE != "chromium":
        return
    # another engine is another rendering: not "up to date"
    res = CliRunner().invoke(render_command, [*args, "--pdf-engine", "chromium"])
    assert res.exit_code == 0 and "1 rendered" in res.output, res.output
    row = summary_rows(out)[0]
    assert row["pdf_engine"] == "chromium" and int(row["pages"]) >= 10
    from pypdf import PdfReader

    contents = PdfReader(out / "alpha" / "report.zh.pdf").pages[1].extract_text()
    assert re.search(r"第3章 预评估\s*\d+", contents), contents  # page numbers filled in


def test_chart_engine_option(tmp_path):
    ds = make_dataset(tmp_path, "alpha", id="alpha")
    out = tmp_path / "out"
    args = [str(ds), "--out", str(out), "--lang", "en", "--format", "html",
            "--notebooks", str(NOTEBOOKS), "--quiet", "--workers", "1"]  # fmt: skip
    res = CliRunner().invoke(render_command, [*args, "--chart-engine", "svgkit"])
    assert res.exit_code == 2 and "svgkit" in res.output
    res = CliRunner().invoke(render_command, [*args, "--chart-engine", "vl-convert"])
    assert res.exit_code == 0 and "1 rendered" in res.output, res.output
    lr = state(out, "alpha")["langs"]["en"]
    assert lr["chart_engine"] is None  # drawn in the kernel: nothing left to the worker
    assert "charts" not in lr["timings"]
    report = (out / "alpha" / "report.en.html").read_text(encoding="utf-8")
    assert report.count('<div class="cp-chart"><svg') >= 2
    if PDF_ENGINE != "chromium":
        return
    # another chart engine is another rendering: not "up to date"
    res = CliRunner().invoke(render_command, [*args, "--chart-engine", "chromium"])
    assert res.exit_code == 0 and "1 rendered" in res.output, res.output
    assert state(out, "alpha")["langs"]["en"]["chart_engine"] == "chromium"
    again = (out / "alpha" / "report.en.html").read_text(encoding="utf-8")
    assert again.count('<div class="cp-chart"><svg') == report.count('<div class="cp-chart"><svg')


@pytest.mark.skipif(not SAMPLES, reason="no sample datasets in data/samples")
def test_sample_datasets_render(tmp_path):
    from cpkit.render import render

    before = {s.name: tree_hash(s) for s in SAMPLES}
    summary = render(SAMPLES, tmp_path / "out", langs=("zh",), formats=("html",),
                     notebooks_dir=NOTEBOOKS, progress=False, workers=2)  # fmt: skip
    for r in summary.results:
        sample = Path(r.source)
        expected = "ok" if sample_is_valid(sample) else "failed"
        assert r.status == expected, (r.eid, r.reason())
        if expected == "ok":
            html = (tmp_path / "out" / r.eid / "report.zh.html").read_text(encoding="utf-8")
            assert r.names["zh"] and r.names["zh"] in html
    assert {s.name: tree_hash(s) for s in SAMPLES} == before


def test_bad_usage_is_a_usage_error(tmp_path):
    res = CliRunner().invoke(render_command, [str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "dataset not found" in res.output
    res = CliRunner().invoke(
        render_command, [str(MINIMAL), "--out", str(tmp_path / "o"), "--lang", "fr"]
    )
    assert res.exit_code == 2 and "unknown language fr" in res.output
    res = CliRunner().invoke(
        render_command, [str(MINIMAL), "--out", str(tmp_path / "o"), "--notebooks", str(tmp_path)]
    )
    assert res.exit_code == 2 and "no phase notebooks" in res.output
    res = CliRunner().invoke(
        render_command,
        [str(MINIMAL), "--out", str(tmp_path / "o"), "--notebooks", str(NOTEBOOKS),
         "-p", "99_nothing:x", "1"],
    )  # fmt: skip
    assert res.exit_code == 2 and "unknown notebook(s) 99_nothing" in res.output


# --------------------------------------------------------------------------- crashes
CRASH_SCRIPT = """
import os, sys
from pathlib import Path
import cpkit.render.atomic as atomic
import cpkit.render.pdf as pdf
from cpkit.render.runner import render

mode = sys.argv[3]
if mode == "pdf":  # die while the PDF is half written
    def dying(html, target, **kw):
        Path(target).write_bytes(b"%PDF-1.7 half")
        os._exit(9)
    pdf.write_pdf = dying
elif mode == "swap":  # die between the two renames of the folder swap
    real = os.replace
    def dying_replace(src, dst):
        real(src, dst)
        if Path(str(src)).name == "alpha":
            os._exit(9)
    atomic.os.replace = dying_replace
formats = ("html", "pdf") if mode in ("pdf", "none-pdf") else ("html",)
render([sys.argv[1]], sys.argv[2], langs=("zh",), formats=formats, workers=1,
       notebooks_dir=sys.argv[4], progress=False)
"""


@pytest.mark.parametrize("mode", ["pdf", "swap"])
def test_a_killed_run_leaves_no_half_file_and_the_next_run_completes(tmp_path, mode):
    ds = make_dataset(tmp_path, "alpha", id="alpha")
    out = tmp_path / "out"
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT)
    if mode == "swap":  # a previous complete render exists: the swap replaces it
        first = subprocess.run(
            [sys.executable, str(script), str(ds), str(out), "none", str(NOTEBOOKS)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert first.returncode == 0, first.stderr
        old_html = (out / "alpha" / "report.zh.html").read_bytes()
        (ds / "enterprise.yaml").write_text((ds / "enterprise.yaml").read_text() + "\n# changed\n")
    proc = subprocess.run(
        [sys.executable, str(script), str(ds), str(out), mode, str(NOTEBOOKS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 9, proc.stderr
    # no half-written file where a reader looks
    if mode == "pdf":
        assert not (out / "alpha").exists()
    else:  # killed between the renames: the previous complete folder is kept aside
        assert not (out / "alpha").exists()
        olds = list(out.glob(".old-alpha-*"))
        assert len(olds) == 1 and (olds[0] / "report.zh.html").read_bytes() == old_html
    for p in out.rglob("*"):
        if p.name.startswith("report.") and p.suffix == ".pdf" and ".staging-" not in str(p):
            assert p.read_bytes().startswith(b"%PDF") and b"half" not in p.read_bytes()
    # the next run cleans up and completes
    proc = subprocess.run(
        [sys.executable, str(script), str(ds), str(out), "none-pdf", str(NOTEBOOKS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".cpkit")) == [
        "alpha",
        "index.html",
        "summary.csv",
    ]
    assert (out / "alpha" / "report.zh.pdf").read_bytes().startswith(b"%PDF")
    assert os.path.getsize(out / "alpha" / "report.zh.pdf") > 10_000
