"""PDF engines (cpkit.render.pdf, cpkit.render.browser): Chromium and WeasyPrint.

A synthetic report is assembled with the real template (cover, contents over two pages,
ten chapters of text and long tables, annexes) and printed by both engines. The contents
page numbers are checked against an independent reference: the page on which each
heading's text is actually found in the PDF (pypdf text extraction). Browser life cycle:
one browser per process, relaunched after a crash, nothing left running after the
process ends (also when it is killed), nothing fetched from the network.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import ClassVar

import nbformat
import pytest
from pypdf import PdfReader

from cpkit.render import browser as br
from cpkit.render import pdf as pdfmod
from cpkit.render.assembly import assemble_report

ROOT = Path(__file__).resolve().parent.parent


def _chromium_missing() -> str | None:
    if not br.playwright_available():
        return "playwright not installed"
    try:
        br.find_chromium()
    except br.BrowserError as exc:
        return str(exc)
    return None


MISSING = _chromium_missing()
needs_chromium = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
ENGINES = [
    pytest.param("chromium", marks=needs_chromium),
    "weasyprint",
]

CHAPTERS = 10
SECTIONS = 5


# --------------------------------------------------------------------------- the report
def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()

    def add(html: str, tags=()):
        cell = nbformat.v4.new_code_cell("x")
        cell.metadata["tags"] = list(tags)
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": html})]
        nb.cells.append(cell)

    para = "<p>" + "清洁生产审核按筹划与组织、预评估、评估、方案产生和筛选等阶段开展。" * 6 + "</p>"
    for c in range(1, CHAPTERS + 1):
        add(f"<h1>第{c}章 测试章{c}</h1>")
        for s in range(1, SECTIONS + 1):
            add(f"<h2>{c}.{s} 小节{c}-{s}</h2>" + para)
            if s == 2:  # a table long enough to split across pages
                rows = "".join(
                    f'<tr><td>第{r}行</td><td class="cp-right">{r * 12.5:.2f}</td></tr>'
                    for r in range(1, 31 + c * 3)
                )
                add(
                    f"<table><caption>表{c}-{s} 数据</caption><thead><tr><th>项目</th>"
                    f"<th>数值（吨）</th></tr></thead><tbody>{rows}</tbody></table>"
                )
    add("<h2>附表1 登记表</h2><table><tbody><tr><td>企业</td><td>测试</td></tr></tbody></table>",
        tags=("annex",))  # fmt: skip
    return nb


PROFILE = {
    "name": "测试印染有限公司",
    "name_en": "Test Dyeing Co.",
    "industry_name": "印染",
    "industry_code": "1713",
    "audit_round": "first",
    "audit_type": "normal",
    "audit_mode": "entrusted",
    "audit_kind": "mandatory",
    "audit_start": "2026-01-05",
    "audit_end": "2026-10-30",
    "baseline_year": 2025,
    "consultancy": "某咨询公司",
}


@pytest.fixture(scope="module")
def report():
    return assemble_report([_notebook()], profile=PROFILE, lang="zh")


@pytest.fixture(scope="module")
def printed(report, tmp_path_factory):
    """engine -> (PdfInfo, PdfReader), printed once per engine."""
    folder = tmp_path_factory.mktemp("pdf")
    cache: dict[str, tuple] = {}

    def get(engine: str):
        if engine not in cache:
            target = folder / f"{engine}.pdf"
            info = pdfmod.write_pdf(report.html, target, engine=engine)
            cache[engine] = (info, PdfReader(target))
        return cache[engine]

    return get


def _texts(reader: PdfReader) -> list[str]:
    return [p.extract_text() or "" for p in reader.pages]


def _toc_numbers(texts: list[str], titles: list[str]) -> dict[str, int]:
    """Title -> page number as printed in the contents (leader dots removed)."""
    found = {}
    for text in texts[:4]:
        for line in text.splitlines():
            line = re.sub(r"[.\u2026·]{2,}", " ", line).strip()
            m = re.fullmatch(r"(.+?)\s*(\d+)", line)
            if m and m.group(1).strip() in titles:
                found[m.group(1).strip()] = int(m.group(2))
    return found


def _heading_pages(texts: list[str], titles: list[str], after: int) -> dict[str, int]:
    """Title -> first page (1-based) after the contents whose text has the heading as a
    line of its own: the reference the contents numbers are checked against."""
    pages = {}
    for title in titles:
        for i in range(after, len(texts)):
            if title in (line.strip() for line in texts[i].splitlines()):
                pages[title] = i + 1
                break
    return pages


# --------------------------------------------------------------------------- both engines
@pytest.mark.parametrize("engine", ENGINES)
def test_contents_page_numbers_match_where_the_headings_are(engine, report, printed):
    info, reader = printed(engine)
    assert info.engine == engine and info.pages == len(reader.pages) >= 20
    texts = _texts(reader)
    titles = [h.text for h in report.headings if h.level <= 2]
    assert len(titles) == CHAPTERS * (SECTIONS + 1) + 2  # chapters, sections, annex + item
    numbers = _toc_numbers(texts, titles)
    assert set(numbers) == set(titles), set(titles) - set(numbers)
    first_body = min(numbers.values())
    assert first_body >= 4  # cover + contents over two pages
    reference = _heading_pages(texts, titles, after=first_body - 1)
    assert numbers == reference
    assert numbers["第1章 测试章1"] == first_body  # the body starts on a new page


@pytest.mark.parametrize("engine", ENGINES)
def test_a4_footer_fonts_header_and_bookmarks(engine, report, printed):
    _, reader = printed(engine)
    texts = _texts(reader)
    total = len(reader.pages)
    for i, page in enumerate(reader.pages):
        w, h = float(page.mediabox.width), float(page.mediabox.height)
        assert abs(w - 595.3) < 1.5 and abs(h - 841.9) < 1.5  # A4 in points
        if i > 0:  # no footer on the cover
            assert f"第 {i + 1} 页 共 {total} 页" in texts[i]
            assert "测试印染有限公司" in texts[i]  # running header: the enterprise
    assert "第 1 页" not in texts[0]
    fonts = {
        str(f.get_object()["/BaseFont"])
        for p in reader.pages
        for f in (p["/Resources"].get("/Font") or {}).values()
    }
    assert any("WenQuanYi" in f for f in fonts), fonts
    for f in (p["/Resources"].get("/Font") or {} for p in reader.pages):
        for font in f.values():  # embedded: a font file in its descriptor
            font = font.get_object()
            desc = (font.get("/DescendantFonts") or [font])[0].get_object().get("/FontDescriptor")
            if desc is not None:
                desc = desc.get_object()
                assert any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    # running chapter header: each body page names its chapter
    titles = [h.text for h in report.headings if h.level == 1]
    numbers = _toc_numbers(texts, titles)
    starts = sorted((n, t) for t, n in numbers.items())
    for (start, title), (end, _) in zip(starts, [*starts[1:], (total + 1, "")], strict=True):
        for p in range(start, end):
            assert texts[p - 1].count(title) >= 1, (p, title)
        if end - start > 1:  # a continuation page has the title in its header only
            assert title in texts[start]
    # bookmarks: the chapters, with their sections nested
    outline = reader.outline
    top = [o for o in outline if not isinstance(o, list)]
    top_titles = [re.sub(r"\s+", " ", o.title) for o in top]
    for c in (1, 5, CHAPTERS):
        assert f"第{c}章 测试章{c}" in top_titles
    nested = [o for o in outline if isinstance(o, list)]
    assert any("1.1 小节1-1" in re.sub(r"\s+", " ", o.title) for o in nested[0])


@pytest.mark.parametrize("engine", ENGINES)
def test_long_tables_split_with_the_header_repeated(engine, printed):
    _, reader = printed(engine)
    texts = _texts(reader)
    # table 10-2 has 60 rows: it spans pages, each part starting with the header row
    pages = [i for i, t in enumerate(texts) if "第60行" in t or "第1行" in t]
    holding = [i for i, t in enumerate(texts) if re.search(r"第\d+行", t)]
    assert holding and pages
    split = [i for i in holding if "数值（吨）" in texts[i]]
    assert len(split) == len(holding)  # every page with rows has the header
    rows_per_page = [len(re.findall(r"第\d+行", texts[i])) for i in holding]
    assert sum(rows_per_page) == sum(30 + c * 3 for c in range(1, CHAPTERS + 1))


def test_chromium_prints_the_contents_once_more_only(printed):
    if MISSING:
        pytest.skip(MISSING)
    info, reader = printed("chromium")
    assert info.passes == 2  # whole report once, cover + contents again; not twice whole
    # the reprint's font subsets have their own names (one name, one subset)
    by_name: dict[str, set] = {}
    for p in reader.pages:
        for ref in (p["/Resources"].get("/Font") or {}).values():
            by_name.setdefault(str(ref.get_object()["/BaseFont"]), set()).add(ref.idnum)
    assert all(len(ids) == 1 for ids in by_name.values()), by_name
    assert any(name.startswith("/CPTOC") for name in by_name)
    # the contents links still point at the headings (pass 1's annotations kept)
    annots = [a.get_object() for a in reader.pages[1].get("/Annots") or []]
    links = [a for a in annots if a.get("/Subtype") == "/Link"]
    assert len(links) >= 20
    names = set(reader.named_destinations)
    for a in links:
        dest = a.get("/Dest") or (a.get("/A") or {}).get("/D")
        assert str(dest) in names or str(dest).lstrip("/") in {n.lstrip("/") for n in names}


@pytest.mark.parametrize("engine", ENGINES)
def test_charts_stay_vectors(engine, tmp_path):
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="120" viewBox="0 0 300 120">'
        '<rect x="10" y="10" width="80" height="100" fill="#1f5f8b"/>'
        '<path d="M 100 110 L 200 20 L 290 80" stroke="#c44e52" fill="none"/>'
        '<text x="150" y="115" font-family="WenQuanYi Micro Hei">能耗趋势</text></svg>'
    )
    html = f'<html><body><div class="cp-chart">{svg}</div></body></html>'
    pdfmod.write_pdf(html, tmp_path / "c.pdf", engine=engine)
    page = PdfReader(tmp_path / "c.pdf").pages[0]
    xobjects = [x.get_object() for x in (page["/Resources"].get("/XObject") or {}).values()]
    assert not [x for x in xobjects if x.get("/Subtype") == "/Image"]  # no raster
    assert "能耗趋势" in page.extract_text()  # the chart's text is text
    ops = page.get_contents().get_data()
    for xo in xobjects:  # Chromium may draw the SVG inside a form XObject
        ops += xo.get_data()
    assert re.search(rb"\bre\b|\bl\b", ops)  # drawn with path operators


def test_lean_svgs_drops_only_accessibility_attributes_inside_svgs():
    html = (
        '<nav aria-label="目录" role="navigation"><p>x</p></nav>'
        '<div class="cp-chart"><svg class="marks" width="10" height="5">'
        '<g class="mark-rect" role="graphics-object" aria-roledescription="rect mark container">'
        '<path aria-label="单元: 染色机; 水: 120" role="graphics-symbol" d="M0,0h5v5h-5Z" '
        'fill="#1f5f8b"/><text pointer-events="none" aria-hidden="true">染色 role="x"</text>'
        "</g></svg></div>"
    )
    lean = pdfmod.lean_svgs(html)
    assert lean == (
        '<nav aria-label="目录" role="navigation"><p>x</p></nav>'  # outside SVG: kept
        '<div class="cp-chart"><svg class="marks" width="10" height="5">'
        '<g class="mark-rect"><path d="M0,0h5v5h-5Z" fill="#1f5f8b"/><text>染色 role="x"</text>'
        "</g></svg></div>"
    )


@needs_chromium
def test_chromium_prints_all_again_when_the_contents_cannot_be_cut(report, monkeypatch, tmp_path):
    monkeypatch.setattr(pdfmod, "TOC_END", "<!--no-such-marker")
    info = pdfmod.write_pdf(report.html, tmp_path / "r.pdf", engine="chromium")
    assert info.passes == 3
    texts = _texts(PdfReader(tmp_path / "r.pdf"))
    titles = [h.text for h in report.headings if h.level <= 2]
    numbers = _toc_numbers(texts, titles)
    assert set(numbers) == set(titles)
    assert numbers == _heading_pages(texts, titles, after=min(numbers.values()) - 1)


# --------------------------------------------------------------------------- offline
class _Hits(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self):
        _Hits.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hits)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Hits.hits = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("engine", ENGINES)
def test_nothing_is_fetched(engine, server, tmp_path):
    html = (
        f'<html><head><link rel="stylesheet" href="{server}/a.css">'
        f"<style>@import url({server}/b.css); body {{ background: url({server}/c.png) }}"
        f"</style></head><body><p>图像</p><img src='{server}/d.png'>"
        f'<iframe src="{server}/e.html"></iframe><script src="{server}/f.js"></script>'
        f"<svg><image href='{server}/g.png' width='9' height='9'/></svg></body></html>"
    )
    info = pdfmod.write_pdf(html, tmp_path / "x.pdf", engine=engine)
    assert info.pages == 1
    time.sleep(0.3)
    assert _Hits.hits == []
    if engine == "chromium":
        assert any(server in url for url in br.pdf_browser().blocked)


# --------------------------------------------------------------------------- engines
def test_unknown_engine_is_a_clear_error(tmp_path):
    with pytest.raises(pdfmod.PdfError, match="unknown PDF engine 'pdfkit'"):
        pdfmod.write_pdf("<p>x</p>", tmp_path / "x.pdf", engine="pdfkit")


@pytest.fixture
def fresh_resolve():
    pdfmod.resolve_engine.cache_clear()
    yield
    pdfmod.resolve_engine.cache_clear()


def test_auto_falls_back_to_weasyprint_and_says_why(monkeypatch, caplog, fresh_resolve):
    monkeypatch.setattr(br, "playwright_available", lambda: False)
    with caplog.at_level("WARNING", logger="cpkit.render"):
        assert pdfmod.resolve_engine("auto") == "weasyprint"
    assert "playwright is not installed" in caplog.text
    with pytest.raises(pdfmod.PdfError, match="chromium is not available"):
        pdfmod.resolve_engine("chromium")


def test_auto_without_a_browser(monkeypatch, caplog, tmp_path, fresh_resolve):
    monkeypatch.setattr(br, "playwright_available", lambda: True)
    monkeypatch.delenv("CPKIT_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with caplog.at_level("WARNING", logger="cpkit.render"):
        assert pdfmod.resolve_engine("auto") == "weasyprint"
    assert "apt-get install chromium" in caplog.text


def test_find_chromium(monkeypatch, tmp_path):
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CPKIT_CHROMIUM", str(fake))
    assert br.find_chromium() == str(fake)
    assert br.find_chromium(fake) == str(fake)  # explicit first
    monkeypatch.setenv("CPKIT_CHROMIUM", str(tmp_path / "nope"))
    with pytest.raises(br.BrowserError, match="not found or not executable"):
        br.find_chromium()
    monkeypatch.delenv("CPKIT_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "chromium").write_text("#!/bin/sh\n")
    (tmp_path / "chromium").chmod(0o755)
    assert br.find_chromium() == str(tmp_path / "chromium")


def test_a_chromium_that_cannot_start(monkeypatch, tmp_path, fresh_resolve, caplog):
    if not br.playwright_available():
        pytest.skip("playwright not installed")
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CPKIT_CHROMIUM", str(fake))
    br.close_browser()
    try:
        with pytest.raises(pdfmod.PdfError, match="could not be started"):
            pdfmod.write_pdf("<p>x</p>", tmp_path / "x.pdf", engine="chromium")
        with caplog.at_level("WARNING", logger="cpkit.render"):  # auto falls back
            info = pdfmod.write_pdf("<p>x</p>", tmp_path / "y.pdf", engine="auto")
        assert info.engine == "weasyprint" and info.pages == 1
        assert "falling back to WeasyPrint" in caplog.text
    finally:
        br.close_browser()


# --------------------------------------------------------------------------- life cycle
@needs_chromium
def test_one_browser_reused_and_relaunched_after_a_crash(tmp_path):
    import psutil

    br.close_browser()
    b = br.pdf_browser()
    for i in range(3):
        pdfmod.write_pdf(f"<p>第{i}页</p>", tmp_path / f"{i}.pdf", engine="chromium")
    assert b.launches == 1 and br.pdf_browser() is b
    pid = b.pid
    assert pid is not None
    psutil.Process(pid).kill()
    psutil.Process(pid).wait(10)
    info = pdfmod.write_pdf("<p>之后</p>", tmp_path / "after.pdf", engine="chromium")
    assert info.pages == 1 and b.launches == 2
    assert "之后" in PdfReader(tmp_path / "after.pdf").pages[0].extract_text()
    new_pid = b.pid
    from cpkit.render.runner import shutdown_worker

    shutdown_worker()  # the runner's end of a worker closes the browser
    assert not psutil.pid_exists(new_pid) or psutil.Process(new_pid).status() == "zombie"


@needs_chromium
def test_works_inside_a_running_event_loop(tmp_path):
    async def main():  # e.g. a Jupyter cell or a Dask worker
        return pdfmod.write_pdf("<p>循环</p>", tmp_path / "x.pdf", engine="chromium")

    assert asyncio.run(main()).pages == 1


ORPHAN_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from cpkit.render.pdf import write_pdf
    write_pdf("<p>x</p>", sys.argv[1], engine="chromium")
    print("printed", flush=True)
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), 9)
    """
)


def _marked(marker: str) -> list[int]:
    import psutil

    found = []
    for p in psutil.process_iter(["pid", "environ"]):
        try:
            env = p.info["environ"] or {}
            if env.get("CPKIT_TEST_MARK") == marker and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        except psutil.Error:
            continue
    return found


@needs_chromium
@pytest.mark.skipif(sys.platform != "linux", reason="process environments via /proc")
@pytest.mark.parametrize("how", ["exit", "kill"])
def test_no_chromium_process_is_left_behind(tmp_path, how):
    marker = uuid.uuid4().hex
    script = tmp_path / "p.py"
    script.write_text(ORPHAN_SCRIPT)
    env = {**os.environ, "CPKIT_TEST_MARK": marker}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "x.pdf"), how],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "printed" in done.stdout, done.stderr
    deadline = time.monotonic() + 15
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _marked(marker) == []
