"""Charts of a batch drawn by the worker's browser (cpkit.render.charts, cpkit.display).

A kernel started with CPKIT_CHARTS=defer leaves each static chart as its Vega-Lite spec;
draw_charts replaces those outputs with inline SVG drawn by Vega in Chromium (or by
vl-convert as a fallback). The independent reference for what a chart shows is the data
the test puts in: its title and labels must be the texts of the SVG, the same texts
vl-convert writes for the same spec.
"""

from __future__ import annotations

import copy
import re

import altair as alt
import nbformat
import pandas as pd
import pytest

from cpkit import display
from cpkit.render import browser as br
from cpkit.render import charts as rc

# what "auto" finds on this machine (playwright and a Chromium binary, cpkit.render.browser)
MISSING = None if rc.resolve_chart_engine("auto") == "chromium" else "no Chromium or playwright"
needs_chromium = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

LABELS = ["染色机", "定型机", "Boiler <3>", "污水站 & 回用"]


def bar_chart(title: str = "各单元用水量 Water use") -> alt.Chart:
    df = pd.DataFrame({"unit": LABELS, "water_m3": [120.0, 80.5, 33.0, 12.25]})
    return (
        alt.Chart(df, title=title)
        .mark_bar()
        .encode(x=alt.X("water_m3:Q", title="m³"), y=alt.Y("unit:N", title=None, sort=None))
    )


def deferred_output(chart: alt.Chart) -> dict:
    bundle = display.DeferredChart(chart.to_dict(validate=False))._repr_mimebundle_()
    return nbformat.v4.new_output("display_data", data=bundle)


def notebook(*outputs) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show(chart)")
    cell.outputs = list(outputs)
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), cell]
    return nb


def texts(svg: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text[^>]*>.*?</text>", svg)]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CPKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CPKIT_CACHE", raising=False)


@pytest.fixture(scope="module", autouse=True)
def close_browser_after():
    yield
    br.close_browser()


# --------------------------------------------------------------------------- display side
def test_a_batch_kernel_defers_static_charts(monkeypatch):
    chart = bar_chart()
    monkeypatch.setenv(display.DEFER_ENV, "defer")
    out = display.chart(chart, interactive=False)
    assert isinstance(out, display.DeferredChart)
    bundle = out._repr_mimebundle_()
    assert bundle[display.DEFERRED_CHART_MIME]["spec"] == chart.to_dict(validate=False)
    assert "cp-chart-pending" in bundle["text/html"] and "<svg" not in bundle["text/html"]
    assert bundle["text/plain"] == "<chart: 各单元用水量 Water use>"
    # interactive charts are never deferred: JupyterLab draws them
    assert isinstance(display.chart(chart, interactive=True), display.LabChart)
    monkeypatch.delenv(display.DEFER_ENV)
    html = display.chart(chart, interactive=False).data
    assert html.startswith('<div class="cp-chart"><svg')


def test_engine_names_are_checked():
    with pytest.raises(rc.ChartError, match="unknown chart engine 'svgkit'"):
        rc.check_chart_engine("svgkit")
    assert rc.resolve_chart_engine("vl-convert") == "vl-convert"
    assert rc.resolve_chart_engine("auto") in ("chromium", "vl-convert")


def test_cache_keys_name_the_engine():
    spec = bar_chart().to_dict(validate=False)
    assert display.svg_cache_key(spec) == display.svg_cache_key(spec, "vl-convert")
    assert display.svg_cache_key(spec, "chromium 1.0") != display.svg_cache_key(spec)
    assert display.svg_cache_key(spec, "chromium 1.0") != display.svg_cache_key(
        spec, "chromium 2.0"
    )


# --------------------------------------------------------------------------- drawing
@needs_chromium
def test_chromium_draws_each_distinct_chart_once_and_caches_it():
    a, b = bar_chart(), bar_chart("第二张图 Second chart")
    other = nbformat.v4.new_output("display_data", data={"text/html": "<p>table</p>"})
    nb = notebook(deferred_output(a), other, deferred_output(b), deferred_output(a))
    again = copy.deepcopy(nb)
    stats = rc.draw_charts([nb], "chromium")
    assert (stats.charts, stats.browser, stats.cached, stats.vl_convert) == (3, 2, 0, 0)
    assert stats.engine == "chromium" and not stats.warnings
    outs = nb.cells[1].outputs
    assert outs[1]["data"] == {"text/html": "<p>table</p>"}  # not a chart: untouched
    for i, title in ((0, "各单元用水量 Water use"), (2, "第二张图 Second chart"), (3, None)):
        data = outs[i]["data"]
        assert set(data) == {"text/html", "text/plain"}
        assert data["text/html"].startswith('<div class="cp-chart"><svg')
        words = texts(data["text/html"])
        for label in LABELS:  # escaped by Vega's SVG writer, read back unescaped
            assert label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in words
        if title:
            assert title in words
    assert outs[0]["data"] == outs[3]["data"]
    # a second enterprise with the same charts: from the cache, nothing drawn
    stats2 = rc.draw_charts([again], "chromium")
    assert (stats2.cached, stats2.browser) == (2, 0)
    assert again.cells[1].outputs[0]["data"] == outs[0]["data"]
    assert not rc.pending_outputs([nb, again])


@needs_chromium
def test_chromium_and_vl_convert_write_the_same_texts():
    spec = bar_chart().to_dict(validate=False)
    nb_c, nb_v = notebook(deferred_output(bar_chart())), notebook(deferred_output(bar_chart()))
    rc.draw_charts([nb_c], "chromium")
    stats = rc.draw_charts([nb_v], "vl-convert")
    assert stats.vl_convert == 1 and stats.engine == "vl-convert"
    svg_c = nb_c.cells[1].outputs[0]["data"]["text/html"]
    svg_v = nb_v.cells[1].outputs[0]["data"]["text/html"]
    assert sorted(texts(svg_c)) == sorted(texts(svg_v))
    assert svg_v == display.chart_html(display.spec_svg(spec))  # what the kernel would show
    # same number of bars, same axis ticks
    assert svg_c.count('aria-roledescription="bar"') == len(LABELS)
    assert svg_c.count('aria-roledescription="bar"') == svg_v.count('aria-roledescription="bar"')


@needs_chromium
def test_a_chart_the_browser_cannot_draw_falls_back_to_vl_convert(monkeypatch):
    def refuse(self, specs, bundle):
        return [{"error": "simulated Vega error"} for _ in specs]

    monkeypatch.setattr(br.PdfBrowser, "draw_charts", refuse)
    nb = notebook(deferred_output(bar_chart()))
    stats = rc.draw_charts([nb], "chromium")
    assert (stats.browser, stats.vl_convert) == (0, 1)
    assert "simulated Vega error" in stats.warnings[0] and "各单元用水量" in stats.warnings[0]
    assert nb.cells[1].outputs[0]["data"]["text/html"].startswith('<div class="cp-chart"><svg')


def test_no_browser_means_vl_convert(monkeypatch):
    class Broken:
        @property
        def version(self):
            raise br.BrowserError("Chromium (/nowhere) could not be started")

    monkeypatch.setattr(rc, "resolve_chart_engine", lambda engine="auto": "chromium")
    monkeypatch.setattr(br, "pdf_browser", lambda: Broken())
    nb = notebook(deferred_output(bar_chart()))
    stats = rc.draw_charts([nb], "auto")
    assert stats.engine == "vl-convert" and stats.vl_convert == 1
    assert "could not be started" in stats.warnings[0]


def test_a_chart_nobody_can_draw_is_a_chart_error():
    bad = {"title": "坏图 broken", "mark": "no-such-mark", "data": {"values": [{"a": 1}]}}
    out = nbformat.v4.new_output(
        "display_data", data=display.DeferredChart(bad)._repr_mimebundle_()
    )
    with pytest.raises(rc.ChartError, match="坏图 broken"):
        rc.draw_charts([notebook(out)], "vl-convert")


def test_nothing_to_draw_is_quick_and_harmless():
    nb = notebook(nbformat.v4.new_output("stream", name="stdout", text="hello"))
    stats = rc.draw_charts([nb], "vl-convert")
    assert stats.charts == 0 and nb.cells[1].outputs[0]["text"] == "hello"
