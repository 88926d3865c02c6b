"""The renderer's parts that need no kernel: sanitizing, assembly, ids, atomic files,
fingerprints, records and rankings. Expected values are worked out by hand."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpkit.render import RECORD_MIME, atomic, record, recorded
from cpkit.render.assembly import (
    assemble_report,
    collect,
    css_counter_content,
    css_string,
    output_html,
)
from cpkit.render.index import format_figure, overall_ranking, rank_values, rankings
from cpkit.render.inputs import (
    InputError,
    assign_ids,
    expand_paths,
    find_notebooks,
    fingerprint,
    input_digest,
    sanitize_id,
)
from cpkit.render.record import RecordError
from cpkit.render.record import collect as collect_records
from cpkit.render.runner import EnterpriseResult, LangResult
from cpkit.render.sanitize import clean

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "tests" / "fixtures" / "minimal"


def ids():
    from cpkit.render.assembly import _Ids

    return _Ids()


# --------------------------------------------------------------------------- sanitize
def test_script_from_data_is_shown_as_text():
    html = '<p>企业：<script>alert("x<b>")</script>！</p>'
    out = clean(html, ids()).html
    assert "<script" not in out.lower()
    assert "&lt;script&gt;alert(&quot;x&lt;b&gt;&quot;)&lt;/script&gt;" in out


def test_unterminated_script_and_other_active_tags():
    for tag in (
        "<script>alert(1)",
        '<iframe src="http://x"></iframe>',
        '<link rel="x" href="//c">',
        '<object data="x.swf"></object>',
        '<meta http-equiv="refresh" content="0">',
    ):
        out = clean(tag, ids()).html
        assert not re.search(r"<(script|iframe|link|object|meta)\b", out, re.I), out


def test_event_handlers_and_external_resources_are_removed_links_stay():
    html = (
        '<img src="https://cdn.example/a.png" onerror="x()"><div onClick="y()">k</div>'
        '<a href="https://www.mee.gov.cn/">std</a><a href="javascript:alert(1)">j</a>'
        '<svg viewBox="0 0 2 2"><image href="http://x/y.png"/><use xlink:href="//x#a"/></svg>'
        '<div style="background:url(http://x/y.png)">s</div>'
        "<style>@import url(https://fonts.example/f.css); td{background:url('//x/y.png')}</style>"
    )
    res = clean(html, ids())
    out = res.html
    assert "cdn.example" not in out and "onerror" not in out and "onclick" not in out.lower()
    assert 'href="https://www.mee.gov.cn/"' in out  # a link the reader clicks is kept
    assert "javascript:" not in out
    assert "http://x" not in out and "//x" not in out and "fonts.example" not in out
    assert 'viewBox="0 0 2 2"' in out  # untouched parts keep their case
    assert res.changes


def test_headings_get_unique_ids_and_text():
    html = '<h1>第1章 基本情况</h1><h2 id="keep">1.1 <b>单位</b>简介</h2><h2 id="keep">again</h2><h4>x</h4>'
    res = clean(html, ids())
    assert [(h.level, h.text) for h in res.headings] == [
        (1, "第1章 基本情况"),
        (2, "1.1 单位简介"),
        (2, "again"),
    ]
    assert len({h.anchor for h in res.headings}) == 3
    for h in res.headings:
        assert f'id="{h.anchor}"' in res.html


def test_large_svg_passes_unchanged():
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        + "<path d='M0 0L1 1'/>" * 5000
        + "</svg>"
    )
    assert clean(svg, ids()).html == svg


# --------------------------------------------------------------------------- assembly
def out_(data, kind="display_data"):
    return nbformat.v4.new_output(
        kind, data=data, **({"execution_count": 1} if kind == "execute_result" else {})
    )


def test_output_html_picks_the_richest_format():
    assert output_html(out_({"text/html": "<p>x</p>", "text/plain": "x"})) == "<p>x</p>"
    svg = output_html(
        out_({"image/svg+xml": '<?xml version="1.0"?>\n<svg></svg>', "text/plain": "c"})
    )
    assert svg == '<div class="cp-figure"><svg></svg></div>'
    png = output_html(out_({"image/png": "iVBORw0KGgo=", "text/plain": "img"}))
    assert png.startswith('<div class="cp-figure"><img alt="" src="data:image/png;base64,iVBOR')
    md = output_html(out_({"text/markdown": "## 标题\n\n<script>x</script>\n\n**粗**"}))
    assert "<h2>标题</h2>" in md and "&lt;script&gt;" in md and "<strong>粗</strong>" in md
    latex = output_html(
        out_({"text/latex": "$\\displaystyle x^{2} + 1$", "text/plain": "x**2 + 1"})
    )
    assert latex.startswith('<div class="cp-math"><svg')
    assert output_html(out_({"text/plain": "<b>"})) == '<pre class="cp-text">&lt;b&gt;</pre>'
    assert output_html(nbformat.v4.new_output("stream", name="stdout", text="hi")) is None
    assert output_html(out_({RECORD_MIME: {"key": "k", "value": 1}, "text/plain": ""})) is None
    warnings: list[str] = []
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "w"}
    assert output_html(out_(widget), warnings) is None and warnings


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    for tags, html in cells:
        c = nbformat.v4.new_code_cell("x")
        c.metadata["tags"] = list(tags)
        c.outputs = [out_({"text/html": html})]
        nb.cells.append(c)
    return nb


def test_collect_moves_annex_and_drops_removed_cells():
    nb1 = notebook(
        ((), "<h1>前言</h1>"),
        (("annex",), "<h2>附表1</h2>"),
        (("remove",), "<p>NO</p>"),
        (("parameters",), "<p>NO</p>"),
        ((), "<h1>第1章</h1>"),
    )
    nb2 = notebook(((), "<h1>第3章</h1>"), (("annex",), "<h2>附表4</h2>"))
    found = collect([nb1, nb2])
    body = "".join(s.html for s in found.body)
    annex = "".join(s.html for s in found.annex)
    assert "NO" not in body + annex
    assert body.index("前言") < body.index("第1章") < body.index("第3章")
    assert annex.index("附表1") < annex.index("附表4")


def test_assembled_report_has_cover_toc_body_annex_and_escapes_data():
    profile = {
        "name": "<script>alert(1)</script>测试&公司",
        "name_en": "Test Co.",
        "industry_name": "电镀",
        "industry_code": "3360",
        "audit_round": "continuous",
        "round_number": 2,
        "audit_type": "rapid",
        "audit_mode": "entrusted",
        "audit_kind": "mandatory",
        "audit_start": "2026-01-05",
        "audit_end": "2026-10-30",
        "baseline_year": 2025,
        "consultancy": "某咨询公司",
    }
    nb = notebook(
        ((), "<h1>前言</h1><h2>背景</h2>"),
        (("annex",), "<h2>附表1 登记表</h2>"),
        ((), "<h1>第1章</h1>"),
    )
    rep = assemble_report([nb], profile=profile, lang="zh")
    html = rep.html
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;测试&amp;公司" in html
    assert "第2轮（持续清洁生产审核）" in html and "快速审核" in html and "委托审核" in html
    assert "2026年1月5日至2026年10月30日" in html and "编制日期：2026年10月30日" in html
    # contents: h1 and h2, in document order, annex after the chapters, links resolve
    texts = [h.text for h in rep.headings]
    assert texts == ["前言", "背景", "第1章", "附　件", "附表1 登记表"]
    for h in rep.headings:
        assert f'href="#{h.anchor}"' in html and f'id="{h.anchor}"' in html
    assert html.index('class="cp-cover"') < html.index('class="cp-toc"') < html.index("第1章</h1>")
    assert html.index("第1章</h1>") < html.index("附表1 登记表</h2>")
    # the running header holds the name as a CSS string: escaped for CSS, not for HTML
    assert '"\\3C script\\3E alert(1)\\3C /script\\3E 测试\\26 公司"' in html
    en = assemble_report([nb], profile=profile, lang="en").html
    assert "Test Co." in en and "Round 2 (continuous audit)" in en and "Date: 30 October 2026" in en


def test_svg_text_is_set_in_normal_weight():
    from cpkit.render.assembly import no_faux_bold

    html = '<h1 style="font-weight:bold">t</h1><svg><text font-weight="bold">标题</text><text font-weight="700">x</text></svg>'
    out = no_faux_bold(html)
    assert out.count('font-weight="normal"') == 2 and "font-weight:bold" in out  # HTML: CSS does it


def test_css_strings():
    assert css_string('a"b\\c</style>') == '"a\\22 b\\5C c\\3C /style\\3E "'
    assert (
        css_counter_content("第 {page} 页 共 {pages} 页")
        == '"第 " counter(page) " 页 共 " counter(pages) " 页"'
    )


# --------------------------------------------------------------------------- ids and inputs
@pytest.mark.parametrize(
    ("given_id", "expected"),
    [("sample-plating", "sample-plating"), ("A_1.v2", "A_1.v2")],
)
def test_safe_ids_are_kept(given_id, expected):
    assert sanitize_id(given_id) == expected


@pytest.mark.parametrize(
    "bad", ["../../etc", "..", ".", "/abs/path", "a b", "企业一", "CON", "", "a/../b"]
)
def test_unsafe_ids_become_safe_and_distinct(bad, tmp_path):
    eid = sanitize_id(bad)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", eid), eid
    assert (tmp_path / eid).resolve().parent == tmp_path.resolve()
    assert eid != bad


@given(st.text(max_size=40))
def test_sanitized_ids_never_leave_the_output_folder(text):
    eid = sanitize_id(text)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}", eid)
    assert ".." not in eid.split("/") and "/" not in eid and "\\" not in eid
    assert sanitize_id(text) == eid  # deterministic


def test_assign_ids_uses_dataset_ids_and_disambiguates(tmp_path):
    for name, dsid in (("a", "same"), ("b", "same"), ("c", None)):
        d = tmp_path / name
        d.mkdir()
        (d / "enterprise.yaml").write_text(
            f"id: {dsid}\n" if dsid else "profile: {}\n", encoding="utf-8"
        )
    srcs = assign_ids(sorted(tmp_path.iterdir()))
    assert [s.eid for s in srcs] == ["same", "same-2", "c"]
    assert [s.dataset_id for s in srcs] == ["same", "same", None]


def test_dataset_id_of_a_workbook(tmp_path):
    from cpkit.excel import export_xlsx
    from cpkit.render.inputs import read_dataset_id

    book = export_xlsx(MINIMAL, tmp_path / "book.xlsx")
    assert read_dataset_id(book) == "minimal"
    assert read_dataset_id(MINIMAL) == "minimal"
    (tmp_path / "junk.xlsx").write_bytes(b"not a workbook")
    assert read_dataset_id(tmp_path / "junk.xlsx") is None
    assert [s.eid for s in assign_ids([tmp_path / "junk.xlsx"])] == ["junk"]


def test_expand_paths(tmp_path):
    (tmp_path / "ds1").mkdir()
    (tmp_path / "ds1" / "enterprise.yaml").write_text("id: ds1\n")
    (tmp_path / "README.md").write_text("x")
    (tmp_path / "book.xlsx").write_bytes(b"")
    found, notes = expand_paths([str(tmp_path / "*")])
    assert [p.name for p in found] == ["book.xlsx", "ds1"]
    assert any("README.md" in n for n in notes)
    found, _ = expand_paths([tmp_path])  # a folder of datasets stands for its datasets
    assert [p.name for p in found] == ["book.xlsx", "ds1"]
    with pytest.raises(InputError, match="not found"):
        expand_paths([tmp_path / "missing"])
    with pytest.raises(InputError, match="no file or folder matches"):
        expand_paths([str(tmp_path / "nothing*")])


def test_find_notebooks(tmp_path):
    with pytest.raises(InputError, match="no phase notebooks"):
        find_notebooks(tmp_path)
    for n in ("02_b.ipynb", "01_a.ipynb", "notes.ipynb"):
        (tmp_path / n).write_text("{}")
    assert [p.name for p in find_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]


def test_fingerprint_follows_the_inputs(tmp_path):
    d = tmp_path / "ds"
    d.mkdir()
    (d / "enterprise.yaml").write_text("id: x\n")
    first = input_digest(d)
    (d / ".~lock").write_text("editor lock files do not count")
    assert input_digest(d) == first
    (d / "team.csv").write_text("member_id\n1\n")
    second = input_digest(d)
    assert second != first
    assert fingerprint(second, "env", {"langs": ["zh"]}) != fingerprint(
        second, "env", {"langs": ["en"]}
    )
    assert fingerprint(second, "env", {"langs": ["zh"]}) == fingerprint(
        second, "env", {"langs": ["zh"]}
    )


# --------------------------------------------------------------------------- atomic files
def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path):
    p = tmp_path / "index.html"
    atomic.write_text(p, "old")
    atomic.write_text(p, "new")
    assert p.read_text() == "new"
    assert [f.name for f in tmp_path.iterdir()] == ["index.html"]


def test_commit_swaps_folders_and_recover_repairs_an_interrupted_swap(tmp_path):
    target = tmp_path / "ent"
    target.mkdir()
    (target / "report.zh.html").write_text("v1")
    staging = atomic.new_staging(tmp_path, "ent")
    (staging / "report.zh.html").write_text("v2")
    atomic.commit(staging, target)
    assert (target / "report.zh.html").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ent"]
    # a run killed between the two renames of a swap: previous version under .old-
    os.replace(target, tmp_path / ".old-ent-1234abcd")
    (tmp_path / ".staging-ent-5678").mkdir()
    (tmp_path / ".staging-ent-5678" / "report.zh.pdf").write_bytes(b"%PDF-half")
    (tmp_path / ".summary.csv.1234.tmp").write_text("half")
    done = atomic.recover(tmp_path)
    assert len(done) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ent"]
    assert (target / "report.zh.html").read_text() == "v2"


# --------------------------------------------------------------------------- records
def test_record_checks_and_converts():
    import numpy as np

    record("energy_tce", np.float64(12.5), unit="tce")
    record("options_count", np.int64(14))
    record("cp_level", "II")
    record(
        "indicator.electroplating.water_per_m2",
        0.1,
        better="lower",
        label={"zh": "单位取水", "en": "Water"},
    )
    got = recorded()
    assert got["energy_tce"] == {"key": "energy_tce", "value": 12.5, "unit": "tce"}
    assert got["options_count"]["value"] == 14 and type(got["options_count"]["value"]) is int
    json.dumps(got)  # plain JSON
    with pytest.raises(RecordError, match=r"(?i)nan"):
        record("x", float("nan"))
    with pytest.raises(RecordError, match="dotted id"):
        record("bad key", 1)
    with pytest.raises(RecordError, match="better"):
        record("x", 1, better="best")
    with pytest.raises(RecordError, match="number, text"):
        record("x", [1, 2])


def test_records_are_collected_from_outputs_last_wins():
    nb = nbformat.v4.new_notebook()
    c = nbformat.v4.new_code_cell("x")
    c.outputs = [
        out_({RECORD_MIME: {"key": "a", "value": 1}}),
        out_({RECORD_MIME: {"key": "a", "value": 2}}),
    ]
    nb.cells = [c]
    assert collect_records([nb]) == {"a": {"key": "a", "value": 2}}


# --------------------------------------------------------------------------- rankings
def result(eid, **values):
    recs = {k: {"key": k, "value": v} for k, v in values.items()}
    return EnterpriseResult(eid, "/x", eid, "ok", {"zh": LangResult("zh", "ok")}, {"zh": eid}, recs)


def test_rank_values_competition_ranking():
    # lower is better: a=1.0 best; b and c tie at 2.0 and share rank 2; d is 4th
    t = rank_values({"d": 5.0, "b": 2.0, "a": 1.0, "c": 2.0}, "lower")
    assert list(t["enterprise"]) == ["a", "b", "c", "d"]
    assert list(t["rank"]) == [1, 2, 2, 4]
    # percentile (rank-1)/(n-1) with n = 4: 0, 1/3, 1/3, 1
    assert list(t["percentile"]) == pytest.approx([0, 1 / 3, 1 / 3, 1])
    h = rank_values({"a": 1.0, "b": 3.0}, "higher")
    assert list(h["enterprise"]) == ["b", "a"] and list(h["rank"]) == [1, 2]


def test_overall_ranking_by_hand():
    results = [
        result("a", cp_score=90, energy_tce_per_10k_cny=0.30),
        result("b", cp_score=80, energy_tce_per_10k_cny=0.10),
        result("c", cp_score=85, energy_tce_per_10k_cny=0.20, water_m3_per_10k_cny=3.0),
    ]
    tables = rankings(
        results,
        {
            "rank": {
                "cp_score": "higher",
                "energy_tce_per_10k_cny": "lower",
                "water_m3_per_10k_cny": "lower",
            }
        },
    )
    # cp_score (higher): a 1, c 2, b 3 -> percentiles a 0, c 0.5, b 1
    # energy (lower):    b 1, c 2, a 3 -> percentiles b 0, c 0.5, a 1
    # water: only c -> not in the overall ranking (needs >= 2 enterprises)
    overall = overall_ranking(tables)
    scores = dict(zip(overall["enterprise"], overall["score"], strict=True))
    assert scores == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.5})
    assert list(overall["rank"]) == [1, 1, 1]
    assert list(overall["indicators"]) == [2, 2, 2]
    tables2 = rankings(results[:2], {"rank": {"cp_score": "higher"}})
    o2 = overall_ranking(tables2)
    assert list(o2["enterprise"]) == ["a", "b"] and list(o2["score"]) == [0.0, 1.0]


def test_failed_enterprises_are_not_ranked():
    bad = result("z", cp_score=100)
    bad.status = "failed"
    tables = rankings([result("a", cp_score=50), bad], {"rank": {"cp_score": "higher"}})
    assert list(tables["cp_score"]["enterprise"]) == ["a"]


def test_format_figure():
    assert format_figure("II", {"format": "level"}, "zh") == "Ⅱ级"
    # 1,234.5 万元 = 12.345 million yuan; half to even on the kept digit 4 -> 12.34
    assert format_figure(1234.5, {"format": "money"}, "en") == "CNY 12.34 million"
    assert (
        format_figure(12345.67, {"format": "number", "digits": 1, "unit": "tce"}, "zh")
        == "12,345.7 吨标准煤"
    )
    assert format_figure(None, {}, "en") == "—"


# --------------------------------------------------------------------------- pdf
def _engines():
    from cpkit.render.browser import BrowserError, find_chromium, playwright_available

    try:
        ok = playwright_available() and bool(find_chromium())
    except BrowserError:
        ok = False
    return [pytest.param("chromium", marks=pytest.mark.skipif(not ok, reason="no Chromium")),
            "weasyprint"]  # fmt: skip


@pytest.mark.parametrize("engine", _engines())
def test_pdf_embeds_data_images_and_fetches_nothing_else(tmp_path, engine):
    import base64
    import io

    from PIL import Image
    from pypdf import PdfReader

    from cpkit.render.pdf import html_to_pdf

    buf = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(buf, format="PNG")
    png = base64.b64encode(buf.getvalue()).decode()
    html = (
        "<html><head><style>@page { size: A4 }</style></head><body><p>图像</p>"
        f'<img src="data:image/png;base64,{png}">'
        '<img src="http://127.0.0.1:9/never.png"><img src="file:///etc/hostname"></body></html>'
    )
    pages = html_to_pdf(html, tmp_path / "x.pdf", engine=engine)
    assert pages == 1
    page = PdfReader(tmp_path / "x.pdf").pages[0]
    images = [x.get_object() for x in (page["/Resources"].get("/XObject") or {}).values()]
    sizes = sorted((int(x["/Width"]), int(x["/Height"])) for x in images)
    # the data: image only; Chromium draws its small "missing image" icon for the others
    # (nothing fetched: tests/test_pdf.py checks that with a server that counts requests)
    assert (40, 20) in sizes and all(s == (40, 20) or max(s) <= 16 for s in sizes)
    assert len(sizes) == 1 or engine == "chromium"
