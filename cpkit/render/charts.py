"""The static charts of a batch, drawn after each enterprise's notebooks ran, in one go.

In a notebook run by hand (papermill, JupyterLab with ``interactive=False``) every chart
is drawn as SVG by vl-convert inside the kernel (:func:`cpkit.display.chart`). vl-convert
measures each piece of text by building an SVG and turning its glyphs into paths, which
for Chinese labels costs milliseconds a label: the ~29 charts of a report took 2.5-3 s of
the ~5.6 s its seven notebooks took in a warm batch kernel. The batch renderer therefore
starts its kernels with ``CPKIT_CHARTS=defer``: a chart becomes a
:class:`cpkit.display.DeferredChart` output (the Vega-Lite spec and a placeholder), and
:func:`draw_charts` draws every chart of the enterprise at once with the same Vega and
Vega-Lite (vl-convert's own JavaScript bundle) in the worker's Chromium -- the browser
that prints the PDF, already open -- where text is measured by the font engine
(~0.3-0.6 s for the 29 charts). The placeholders are replaced by the SVG before the
executed notebooks are saved and the report is assembled, so the notebooks, the HTML and
the PDF look as if the kernel had drawn them.

Drawn SVGs go to the chart cache (:func:`cpkit.display.spec_svg`'s folder) under a key
that names the engine and Chromium's version. A chart the browser cannot draw, or a batch
without Chromium (``chart_engine="vl-convert"``, or no browser on a Dask worker), is
drawn by vl-convert in the worker instead, with a warning.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cpkit.errors import CpkitError

log = logging.getLogger("cpkit.render")

#: Chart engines of a batch: ``auto`` (Chromium when there is one, else vl-convert).
CHART_ENGINES = ("auto", "chromium", "vl-convert")

#: JavaScript appended to vl-convert's bundle of Vega, Vega-Lite and Vega-Embed: draws a
#: list of specs one after the other (no renderer: ``toSVG`` writes the SVG string) and
#: reports an error per spec instead of stopping.
DRAW_SNIPPET = """
window.cpkitDraw = async function (specs) {
  const out = [];
  const el = document.createElement("div");
  for (const spec of specs) {
    try {
      const res = await vegaEmbed(el, spec, {renderer: "none", actions: false});
      out.push({svg: await res.view.toSVG()});
      res.finalize();
    } catch (e) {
      out.push({error: String((e && e.message) || e)});
    }
  }
  return out;
};
"""


class ChartError(CpkitError):
    """A chart of the batch could not be drawn by any engine."""


def check_chart_engine(engine: str) -> None:
    if engine not in CHART_ENGINES:
        raise ChartError(f"unknown chart engine {engine!r}: choose {', '.join(CHART_ENGINES)}")


def resolve_chart_engine(engine: str = "auto") -> str:
    """``chromium`` or ``vl-convert``: what ``engine`` stands for on this machine.
    ``auto`` is Chromium when Playwright and a Chromium binary are there."""
    check_chart_engine(engine)
    if engine != "auto":
        return engine
    from cpkit.render.browser import BrowserError, find_chromium, playwright_available

    if not playwright_available():
        return "vl-convert"
    try:
        find_chromium()
    except BrowserError:
        return "vl-convert"
    return "chromium"


@functools.cache
def chart_bundle() -> str:
    """vl-convert's JavaScript bundle (Vega, Vega-Lite, Vega-Embed: the versions
    vl-convert draws with) plus :data:`DRAW_SNIPPET`, read from the cache folder
    (``js/`` under :func:`cpkit.dataset.cache_dir`) when it was built before: building
    takes vl-convert about 1.5 s."""
    import vl_convert as vlc

    from cpkit.dataset import cache_dir

    digest = hashlib.sha256(f"{vlc.__version__}\n{DRAW_SNIPPET}".encode()).hexdigest()[:24]
    base = cache_dir()
    path = None if base is None else base / "js" / f"vega-draw-{digest}.js"
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            if "cpkitDraw" in text:
                return text
        except (OSError, UnicodeDecodeError):
            pass
    text = vlc.javascript_bundle(DRAW_SNIPPET)
    if path is not None:
        import tempfile

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except OSError:  # a cache that cannot be written is not an error
            pass
    return text


@dataclass
class ChartStats:
    """What :func:`draw_charts` did: charts found, taken from the cache, drawn by the
    browser, drawn by vl-convert (fallback or engine), the engine and the seconds."""

    charts: int = 0
    cached: int = 0
    browser: int = 0
    vl_convert: int = 0
    engine: str = ""
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def pending_outputs(notebooks: Iterable[Any]) -> list[Any]:
    """The outputs of ``notebooks`` (nbformat nodes) that are deferred charts."""
    from cpkit.display import DEFERRED_CHART_MIME

    found = []
    for nb in notebooks:
        for cell in nb.cells:
            if cell.get("cell_type") != "code":
                continue
            for out in cell.get("outputs", []):
                if DEFERRED_CHART_MIME in out.get("data", {}):
                    found.append(out)
    return found


def _spec_text(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def draw_charts(notebooks: Iterable[Any], engine: str = "auto") -> ChartStats:
    """Draw every deferred chart of ``notebooks`` (modified in place: each placeholder
    output becomes the chart's inline SVG, :func:`cpkit.display.chart_html`).

    ``engine``: ``chromium`` (the worker's browser, :func:`cpkit.render.browser.pdf_browser`),
    ``vl-convert``, or ``auto``. Equal specs are drawn once. Raises :class:`ChartError`
    when a chart cannot be drawn at all (an invalid spec).
    """
    from cpkit.display import (
        DEFERRED_CHART_MIME,
        chart_html,
        spec_svg,
        svg_cache_dir,
        svg_cache_get,
        svg_cache_key,
        svg_cache_put,
    )

    t0 = time.perf_counter()
    stats = ChartStats()
    outputs = pending_outputs(notebooks)
    stats.charts = len(outputs)
    if not outputs:
        stats.engine = resolve_chart_engine(engine) if engine != "auto" else ""
        return stats
    specs: dict[str, Mapping[str, Any]] = {}
    for out in outputs:
        spec = out["data"][DEFERRED_CHART_MIME]["spec"]
        specs.setdefault(_spec_text(spec), spec)
    resolved = resolve_chart_engine(engine)
    browser = None
    engine_id = "vl-convert"
    if resolved == "chromium":
        from cpkit.render.browser import BrowserError, pdf_browser

        try:
            browser = pdf_browser()
            engine_id = f"chromium {browser.version}"
        except BrowserError as exc:
            msg = f"charts drawn by vl-convert: the browser could not be started ({exc})"
            log.warning("%s", msg)
            stats.warnings.append(msg)
            browser = None
    stats.engine = engine_id.split(" ")[0]
    folder = svg_cache_dir()
    svgs: dict[str, str] = {}
    keys: dict[str, str | None] = {}
    for text, spec in specs.items():
        key = svg_cache_key(spec, engine_id) if folder is not None else None
        keys[text] = key
        hit = svg_cache_get(folder, key) if key is not None else None
        if hit is not None:
            svgs[text] = hit
            stats.cached += 1
    missing = [t for t in specs if t not in svgs]
    if missing and browser is not None:
        from cpkit.render.browser import BrowserError

        try:
            drawn = browser.draw_charts([specs[t] for t in missing], chart_bundle())
        except Exception as exc:  # the browser failed: vl-convert draws them all
            msg = f"charts drawn by vl-convert: the browser failed ({type(exc).__name__}: {exc})"
            if not isinstance(exc, BrowserError):
                msg = msg.splitlines()[0]
            log.warning("%s", msg)
            stats.warnings.append(msg)
            drawn = []
        for text, res in zip(missing, drawn, strict=False):
            svg = res.get("svg") if isinstance(res, Mapping) else None
            if isinstance(svg, str) and svg.startswith("<svg"):
                svgs[text] = svg
                stats.browser += 1
                if keys[text] is not None:
                    svg_cache_put(folder, keys[text], svg)
            else:
                err = res.get("error") if isinstance(res, Mapping) else res
                title = specs[text].get("title", "")
                msg = f"chart {str(title)[:60]!r} drawn by vl-convert: the browser said {err}"
                log.warning("%s", msg)
                stats.warnings.append(msg)
    for text in specs:
        if text in svgs:
            continue
        try:
            svgs[text] = spec_svg(specs[text])
        except Exception as exc:
            title = specs[text].get("title", "")
            raise ChartError(
                f"chart {str(title)[:60]!r} could not be drawn: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc
        stats.vl_convert += 1
    for out in outputs:
        data = out["data"]
        text = _spec_text(data[DEFERRED_CHART_MIME]["spec"])
        plain = data.get("text/plain", "<chart>")
        out["data"] = {"text/html": chart_html(svgs[text]), "text/plain": plain}
    stats.seconds = round(time.perf_counter() - t0, 3)
    return stats
