"""What the phase notebooks show: headings, text, tables, charts, maths and widgets.

Everything a notebook displays goes through this module so that

* text that comes from the data is always HTML-escaped (an enterprise called
  ``<script>`` shows as text);
* tables are readable by a manager: formatted numbers with units, no raw index;
* charts are static inline SVG in batch runs (no CDN) and interactive in JupyterLab;
* maths renders offline (LaTeX to SVG with ziamath, no MathJax);
* one helper, :func:`explore`, switches between ipywidgets and a static call.

Functions return IPython display objects (``HTML``, ``SVG``) and do not print, so a
notebook cell that ends with a call shows its result, and the batch renderer sees plain
``text/html`` / ``image/svg+xml`` outputs.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cpkit.notebook import tune_kernel_gc

tune_kernel_gc()  # first: the kernel's GC policy, before pandas loads (see cpkit.notebook)

import pandas as pd  # noqa: E402
from markupsafe import Markup, escape  # noqa: E402

from cpkit import i18n  # noqa: E402

#: Fonts named explicitly so Chinese renders in charts and PDFs (scripts/setup.sh
#: installs WenQuanYi Micro Hei); later names are fallbacks.
FONT_FAMILY = "WenQuanYi Micro Hei, Noto Sans CJK SC, Microsoft YaHei, DejaVu Sans, sans-serif"
CHART_FONT = "WenQuanYi Micro Hei"


# --------------------------------------------------------------------------- numbers
def format_number(value: Any, digits: int = 2, lang: str = "zh", percent: bool = False) -> str:
    """Format a number for a reader: thousands separators, fixed decimals, '—' for empty.

    ``percent=True`` multiplies a fraction by 100 and appends ``%``. Both languages use
    the same digits and separators (Chinese official documents use ``1,234.5`` too); the
    ``lang`` argument is kept so a locale-specific rule can be added in one place.
    Rounding is GB/T 8170 half-to-even on the number's shortest decimal form, exactly as
    :func:`cpkit.i18n.fmt_number` rounds the numbers in the text, so a table and the
    sentence quoting it never differ in the last digit.
    """
    if value is None or value is pd.NA:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if percent:
        return i18n.fmt_number(i18n.to_decimal(x) * 100, lang, digits) + "%"
    return i18n.fmt_number(x, lang, digits)


@dataclass(frozen=True)
class Col:
    """How to show one column of a table.

    ``label`` is the header text (already translated), ``unit`` is appended to the header
    in brackets, ``digits`` sets decimals for numbers, ``percent`` shows fractions as %.
    ``fmt`` overrides everything with a function value -> str (the result is escaped).
    ``align``: ``right``/``center``/``left`` (a centred column stays on one line);
    ``width``: the column's share of the table width in percent (e.g. ``22``), for tables
    where one long text column would otherwise squeeze the others.
    """

    label: str
    unit: str | None = None
    digits: int = 2
    percent: bool = False
    fmt: Callable[[Any], str] | None = None
    align: str | None = None
    width: float | None = None


@dataclass(frozen=True)
class TableSpec:
    """Column specs keyed by DataFrame column; columns not listed are not shown."""

    columns: Mapping[str, Col] = field(default_factory=dict)


def _cell_text(value: Any, col: Col, lang: str) -> tuple[str, bool]:
    """(text, is_number) of one cell."""
    if col.fmt is not None:
        return col.fmt(value), False
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—", False
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d"), False
    if isinstance(value, bool):
        return format_number(value), False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value, col.digits, lang, col.percent), True
    try:
        import numpy as np

        if isinstance(value, np.integer | np.floating):
            return format_number(value, col.digits, lang, col.percent), True
        if isinstance(value, np.bool_):
            return format_number(bool(value)), False
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return str(value), False


def table_html(
    df: pd.DataFrame,
    columns: Mapping[str, Col] | None = None,
    *,
    lang: str = "zh",
    caption: str | None = None,
    css_class: str = "cp-table",
    total_row: Mapping[str, Any] | None = None,
) -> str:
    """Render ``df`` as an HTML table string: escaped text, formatted numbers, no index.

    ``columns`` maps DataFrame columns to :class:`Col`; when omitted every column is
    shown with its name as header. Headers go in ``<thead>`` so a PDF repeats them on
    every page a long table spans. ``total_row`` adds a bold last row (values keyed by
    column; missing ones left blank).
    """
    if columns is None:
        columns = {c: Col(str(c)) for c in df.columns}
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"table_html: columns not in the DataFrame: {missing}")
    parts = [f'<table class="{escape(css_class)}">']
    if caption:
        parts.append(f"<caption>{escape(caption)}</caption>")
    parts.append("<thead><tr>")
    for col in columns.values():
        head = escape(col.label)
        if col.unit:
            unit = f"（{col.unit}）" if lang == "zh" else f" ({col.unit})"
            head += Markup(f'<span class="cp-unit">{escape(unit)}</span>')
        # a centred column holds short codes (phase, status): its header stays on one line
        th_attr = ' class="cp-center"' if col.align == "center" else ""
        if col.width is not None:
            th_attr += f' style="width:{float(col.width):g}%"'
        parts.append(f"<th{th_attr}>{head}</th>")
    parts.append("</tr></thead><tbody>")
    rows = df[list(columns)].itertuples(index=False, name=None)
    specs = list(columns.values())
    # a number column keeps its right alignment where a value is missing ("—")
    numeric_cols = [
        pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
        for c in columns
    ]
    for row in rows:
        parts.append("<tr>")
        for value, col, num_col in zip(row, specs, numeric_cols, strict=True):
            text, numeric = _cell_text(value, col, lang)
            align = col.align or ("right" if numeric or (num_col and text == "—") else None)
            attr = f' class="cp-{align}"' if align else ""
            parts.append(f"<td{attr}>{escape(text)}</td>")
        parts.append("</tr>")
    if total_row:
        parts.append('<tr class="cp-total">')
        for key, col in columns.items():
            value = total_row.get(key)
            blank = value is None or (isinstance(value, str) and value == "")
            text, numeric = ("", False) if blank else _cell_text(value, col, lang)
            align = col.align or ("right" if numeric else None)
            attr = f' class="cp-{align}"' if align and text else ""
            parts.append(f"<td{attr}>{escape(text)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def table(
    df: pd.DataFrame,
    columns: Mapping[str, Col] | None = None,
    *,
    lang: str = "zh",
    caption: str | None = None,
    total_row: Mapping[str, Any] | None = None,
):
    """Display-ready table (an ``IPython.display.HTML``); see :func:`table_html`."""
    from IPython.display import HTML

    return HTML(table_html(df, columns, lang=lang, caption=caption, total_row=total_row))


def key_values(pairs: Sequence[tuple[str, Any]], *, lang: str = "zh", caption: str | None = None):
    """A two-column table of label/value pairs (e.g. a registration form)."""
    df = pd.DataFrame(pairs, columns=["label", "value"])
    cols = {"label": Col(""), "value": Col("", fmt=lambda v: _plain(v, lang))}
    from IPython.display import HTML

    return HTML(
        table_html(df, cols, lang=lang, caption=caption, css_class="cp-table cp-form").replace(
            "<thead><tr><th></th><th></th></tr></thead>", ""
        )
    )


def _plain(value: Any, lang: str) -> str:
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value) if lang == "zh" else ", ".join(map(str, value))
    text, _ = _cell_text(value, Col(""), lang)
    return text


# --------------------------------------------------------------------------- text
def heading(text: str, level: int = 2, *, anchor: str | None = None):
    """A heading (h1 = chapter, h2 = section, h3 = subsection), text escaped."""
    from IPython.display import HTML

    if not 1 <= level <= 4:
        raise ValueError("heading level must be 1..4")
    ident = f' id="{escape(anchor)}"' if anchor else ""
    return HTML(f"<h{level}{ident}>{escape(text)}</h{level}>")


def paragraph(text: str, *, css_class: str | None = None):
    """A paragraph of plain text (escaped; blank lines start new paragraphs)."""
    from IPython.display import HTML

    cls = f' class="{escape(css_class)}"' if css_class else ""
    paras = [p.strip() for p in str(text).split("\n\n") if p.strip()]
    html = "".join(f"<p{cls}>{escape(p)}</p>".replace("\n", "<br>") for p in paras)
    return HTML(html)


def bullets(items: Sequence[str]):
    """A bulleted list of plain-text items (escaped)."""
    from IPython.display import HTML

    return HTML("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")


def note(text: str, kind: str = "info"):
    """A highlighted box: kind is 'info', 'warning' (a finding to act on) or 'ok'."""
    from IPython.display import HTML

    if kind not in {"info", "warning", "ok"}:
        raise ValueError("note kind must be info, warning or ok")
    return HTML(f'<div class="cp-note cp-{kind}">{escape(text)}</div>')


# --------------------------------------------------------------------------- maths
@functools.lru_cache(maxsize=512)
def math_svg(latex: str, size: float = 18) -> str:
    """LaTeX maths rendered to an inline SVG string with ziamath (offline, no MathJax).

    Memoised: the same formula (e.g. a teaching formula, or an equation of a network
    shared by many enterprises) is drawn once per kernel."""
    import ziamath

    return ziamath.Math.fromlatex(latex, size=size).svg()


def formula(latex: str, *, size: float = 18):
    """Display a formula as vector graphics (works offline, in HTML and in PDF)."""
    from IPython.display import HTML

    return HTML(f'<div class="cp-math">{math_svg(latex, size)}</div>')


# --------------------------------------------------------------------------- charts
#: Optional packages jsonschema's format checker imports when they are installed
#: (JupyterLab's jupyter-events pulls them in) for string formats Altair never checks:
#: IRI (``rfc3987_syntax``: ~1 s to build its grammar), URI (``rfc3986_validator``,
#: ~25 ms) and ISO 8601 durations (``isoduration`` with ``arrow``, ~12 ms).
LEAN_IMPORT_BLOCKED = ("rfc3987_syntax", "rfc3986_validator", "isoduration")


def lean_altair_import() -> None:
    """Make ``import altair`` cheap in a kernel (about 1 s less).

    Altair imports jsonschema, whose format checker imports the optional packages of
    :data:`LEAN_IMPORT_BLOCKED` when they are installed. Before jsonschema is first
    imported, mark them as unavailable so jsonschema skips them (their formats go
    unchecked, as in an installation without them). Does nothing once jsonschema is
    loaded (a process that already validates with it keeps its full format checker).
    """
    if "jsonschema" not in sys.modules:
        for name in LEAN_IMPORT_BLOCKED:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def setup_charts(interactive: bool) -> None:
    """Prepare this kernel for charts without importing Altair (a notebook without charts
    never pays for it): make the later import lean. Charts are shown through
    :func:`chart`, which gives inline SVG in batch (vl-convert, no CDN) and the chart
    itself, with Altair's default renderer, in JupyterLab; the row limit is lifted and
    the CJK font named by :func:`cpkit.charts.style`."""
    lean_altair_import()
    if interactive and "altair" in sys.modules:
        sys.modules["altair"].renderers.enable("default")


def chart_svg(chart) -> str:
    """An Altair chart as an SVG string (vl-convert; fonts as configured in the chart),
    through the on-disk SVG cache (:func:`spec_svg`)."""
    # the spec is built by cpkit's own chart builders (validated in their tests); skipping
    # jsonschema validation here saves about 0.1 s a chart in batch runs
    return spec_svg(chart.to_dict(validate=False))


#: Format of the SVG cache entries; bump to invalidate every cached chart.
SVG_CACHE_FORMAT = 1
#: At most this many SVG files are kept; the least recently used go first.
SVG_CACHE_MAX_FILES = 4000
#: Folders where vl-convert looks for fonts (its font database scans the system folders);
#: a change of the installed fonts changes text widths, so it is part of the cache key.
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts")


def svg_cache_dir():
    """Folder of the chart SVG cache (``svg`` under :func:`cpkit.dataset.cache_dir`), or
    None when ``CPKIT_CACHE=0`` switches the caches off."""
    from cpkit.dataset import cache_dir

    base = cache_dir()
    return None if base is None else base / "svg"


@functools.cache
def _svg_key_prefix(engine: str = "vl-convert") -> str:
    """What besides the spec decides the SVG: the cache format, the drawing engine
    (``vl-convert``, or e.g. ``chromium 156.0...`` for charts a batch draws in its
    browser: text is measured differently), vl-convert's version (it carries Vega and
    Vega-Lite, also for the browser's bundle), the chart font and the installed font
    files."""
    import os

    import vl_convert as vlc

    fonts = []
    for top in _FONT_DIRS:
        root = os.path.expanduser(top)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                fonts.append((os.path.join(dirpath, name), st.st_size, st.st_mtime_ns))
    key = (SVG_CACHE_FORMAT, vlc.__version__, CHART_FONT, FONT_FAMILY, fonts)
    return repr(key if engine == "vl-convert" else (*key, engine))


def svg_cache_key(spec: Mapping[str, Any], engine: str = "vl-convert") -> str | None:
    """Content address of the SVG of a Vega-Lite ``spec`` drawn by ``engine``: SHA-256 of
    the spec's canonical JSON and :func:`_svg_key_prefix`; None if the spec is not plain
    JSON."""
    import hashlib
    import json

    try:
        text = json.dumps(spec, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(f"{_svg_key_prefix(engine)}\n{text}".encode()).hexdigest()


def spec_svg(spec: Mapping[str, Any]) -> str:
    """A Vega-Lite spec drawn as SVG by vl-convert, read from the on-disk cache when the
    same spec was drawn before with the same vl-convert and fonts.

    vl-convert costs about 0.4 s for its first chart in a process and 0.06-0.09 s for each
    further one; a cached chart is a file read. Entries are written atomically (a temporary
    file renamed into place), so kernels running side by side never read half a file; a
    cache that cannot be read or written is skipped, never an error. ``CPKIT_CACHE=0``
    switches it off, ``CPKIT_CACHE_DIR`` moves it (:func:`svg_cache_dir`).
    """
    folder = svg_cache_dir()
    key = svg_cache_key(spec) if folder is not None else None
    if key is not None:
        hit = svg_cache_get(folder, key)
        if hit is not None:
            return hit
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(dict(spec))
    if key is not None:
        svg_cache_put(folder, key, svg)
    return svg


def svg_cache_get(folder, key: str) -> str | None:
    import contextlib
    import os

    path = folder / f"{key}.svg"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("<svg") or not text.rstrip().endswith("</svg>"):
        return None  # damaged: draw again (the write replaces it)
    with contextlib.suppress(OSError):
        os.utime(path)  # most recently used
    return text


#: SVG files written by this process, per cache folder (pruning runs on the first write
#: and then every ``_PRUNE_EVERY`` writes, so a long batch stays within the limit).
_writes: dict[str, int] = {}
_PRUNE_EVERY = 200


def svg_cache_put(folder, key: str, svg: str) -> None:
    import contextlib
    import os
    import tempfile

    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(svg)
        os.replace(tmp, folder / f"{key}.svg")
        tmp = None
        n = _writes.get(str(folder), 0)
        _writes[str(folder)] = n + 1
        if n % _PRUNE_EVERY == 0:
            _svg_cache_prune(folder)
    except OSError:  # a cache that cannot be written is not an error
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _svg_cache_prune(folder, max_files: int | None = None) -> None:
    """Delete the least recently used SVG files beyond ``max_files``."""
    import contextlib

    limit = SVG_CACHE_MAX_FILES if max_files is None else max_files
    files = []
    for p in folder.glob("*.svg"):
        with contextlib.suppress(OSError):
            files.append((p.stat().st_mtime_ns, p))
    if len(files) <= limit:
        return
    files.sort()
    for _, p in files[: len(files) - limit]:
        with contextlib.suppress(OSError):
            p.unlink()


#: Vega-Lite major version JupyterLab draws with its built-in, offline renderer.
LAB_VEGALITE_MIME = "application/vnd.vegalite.v5+json"


@dataclass(frozen=True)
class LabChart:
    """A chart for JupyterLab's own Vega-Lite renderer (bundled with JupyterLab, so it
    draws offline; Altair's default renderer would load Vega from a CDN)."""

    spec: Mapping[str, Any]

    def _repr_mimebundle_(self, include=None, exclude=None):
        title = self.spec.get("title", "chart") if isinstance(self.spec, Mapping) else "chart"
        return {LAB_VEGALITE_MIME: dict(self.spec), "text/plain": f"<chart: {title}>"}


#: Output type of a chart whose SVG the batch renderer draws after the notebook ran.
DEFERRED_CHART_MIME = "application/vnd.cpkit.chart+json"
#: ``CPKIT_CHARTS=defer`` in a kernel's environment: static charts are left to the
#: renderer (:mod:`cpkit.render.charts` draws them all at once in its browser).
DEFER_ENV = "CPKIT_CHARTS"


def chart_html(svg: str) -> str:
    """The HTML of a static chart in a notebook output and a report."""
    return f'<div class="cp-chart">{svg}</div>'


@dataclass(frozen=True)
class DeferredChart:
    """A static chart to be drawn by the batch renderer: the Vega-Lite spec under
    :data:`DEFERRED_CHART_MIME` and a placeholder ``text/html`` that
    :func:`cpkit.render.charts.draw_charts` replaces with :func:`chart_html` of the SVG
    before the executed notebook is saved."""

    spec: Mapping[str, Any]

    def _repr_mimebundle_(self, include=None, exclude=None):
        title = self.spec.get("title", "chart") if isinstance(self.spec, Mapping) else "chart"
        if isinstance(title, Mapping):
            title = title.get("text", "chart")
        return {
            DEFERRED_CHART_MIME: {"spec": dict(self.spec)},
            "text/html": '<div class="cp-chart cp-chart-pending"></div>',
            "text/plain": f"<chart: {title}>",
        }


def chart(chart, *, interactive: bool = False):
    """Display an Altair chart: for JupyterLab's built-in offline renderer when
    interactive (tooltips, zoom), as inline SVG otherwise (batch reports; drawn by
    vl-convert here, or by the renderer's browser when the kernel runs with
    ``CPKIT_CHARTS=defer``: :class:`DeferredChart`)."""
    if interactive:
        spec = chart.to_dict(validate=False)
        spec["$schema"] = "https://vega.github.io/schema/vega-lite/v5.json"
        return LabChart(spec)
    import os

    if os.environ.get(DEFER_ENV) == "defer":
        return DeferredChart(chart.to_dict(validate=False))
    from IPython.display import HTML

    return HTML(chart_html(chart_svg(chart)))


def show(*items: Any) -> None:
    """Display each item in order, skipping ``None`` (e.g. a teaching box when teaching
    mode is off), so one cell can show a heading, text, a table and an optional
    explanation without an ``if``. ``IPython.display.display(None)`` would print "None"."""
    from IPython.display import display

    for item in items:
        if item is not None:
            display(item)


# --------------------------------------------------------------------------- widgets
def explore(func: Callable[..., Any], controls: Mapping[str, Any], *, interactive: bool):
    """Show ``func(**values)``: with ipywidgets controls when ``interactive``, else once
    with each control's default value (the batch path: static output, nothing from a CDN).

    ``controls`` maps keyword names to ipywidgets widgets (``FloatSlider`` etc.) whose
    ``value`` is the default. ``func`` returns something displayable (or a tuple of them).
    """
    from IPython.display import display

    def show(**values):
        result = func(**values)
        for item in result if isinstance(result, tuple) else (result,):
            if item is not None:
                display(item)

    if interactive:
        _explore_widgets(func, controls)
        return None
    show(**{k: getattr(w, "value", w) for k, w in controls.items()})
    return None


def _explore_widgets(func: Callable[..., Any], controls: Mapping[str, Any]) -> None:
    """The interactive path of :func:`explore`: the controls above an Output widget whose
    ``outputs`` are set from the kernel on every change.

    Not ``ipywidgets.interactive``: that captures display calls with ``with output:``,
    and a headless client (nbclient/papermill) then mirrors every captured output back to
    the kernel on the shell channel, which can stall the cell until the execution
    timeout (jupyter/nbclient#312). Setting ``outputs`` directly gives the same view in
    JupyterLab and nothing for nbclient to mirror. An error in the first call fails the
    cell; an error after a change is shown in the output area.
    """
    import traceback

    import ipywidgets as widgets
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display

    out = widgets.Output()
    formatter = InteractiveShell.instance().display_formatter

    def update(change: Any = None) -> None:
        values = {k: getattr(w, "value", w) for k, w in controls.items()}
        try:
            result = func(**values)
            items = result if isinstance(result, tuple) else (result,)
            outputs = []
            for item in items:
                if item is None:
                    continue
                data, metadata = formatter.format(item)
                outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})
        except Exception:
            if change is None:
                raise
            text = traceback.format_exc(limit=3)
            outputs = [{"output_type": "stream", "name": "stderr", "text": text}]
        out.outputs = tuple(outputs)

    for w in controls.values():
        if isinstance(w, widgets.ValueWidget):
            w.observe(update, names="value")
    update()
    display(widgets.VBox([*(w for w in controls.values() if isinstance(w, widgets.Widget)), out]))
