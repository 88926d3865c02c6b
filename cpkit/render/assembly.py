"""Assemble one audit report (HTML) from the executed phase notebooks of an enterprise.

The report follows seed 004 Appendix B (报告编制章节构成): a cover page (enterprise,
audit round, period, consultancy, date -- from the dataset profile), a table of contents
built from the headings (page numbers in PDF via CSS ``target-counter``), the preface and
chapters 1-9 as the notebooks emit them (notebook 01: preface, chapters 1-2; 02: 3; 03: 4;
04: 5; 05: 6; 06: 7; 07: 8-9), then the annexes.

What goes in: only the *outputs* of code cells, in notebook order (code and Markdown
cells are notebook matter and never reach the report). Outputs of cells tagged
``annex`` move to the annex part, in notebook order; cells tagged ``remove`` (and the
``parameters``/``injected-parameters`` cells) are dropped; stream output (print,
warnings) is left out; record outputs (:mod:`cpkit.render.record`) are collected, not
shown. For each output the richest format is used: HTML, SVG (inline, vector), PNG/JPEG
(embedded), Markdown (rendered with raw HTML escaped), LaTeX (drawn to SVG offline with
ziamath), plain text. Every piece goes through :mod:`cpkit.render.sanitize`, so the page
has no script and nothing that loads from the network; bold text in inline SVG is set in
normal weight (:func:`no_faux_bold`), as the CSS does for HTML text.

The page is rendered with Jinja2 (templates/report/report.html.j2 + report.css, with
autoescaping: every text from the data is escaped). Measured against nbconvert's ``lab``
template (docs/rendering.md): the own template is faster, ~10x smaller, has no
JupyterLab CSS to fight in print, and can hold a cover, a contents page and an annex
across seven notebooks, which a per-notebook nbconvert template cannot.
"""

from __future__ import annotations

import base64
import functools
import itertools
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from cpkit import __version__, i18n
from cpkit.render.record import RECORD_MIME
from cpkit.render.sanitize import Heading, clean

#: Output formats in order of preference.
OUTPUT_PRIORITY = (
    "text/html",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/markdown",
    "text/latex",
    "text/plain",
)
#: Cell tags whose outputs never reach the report.
SKIP_TAGS = frozenset({"remove", "parameters", "injected-parameters"})
ANNEX_TAG = "annex"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def templates_dir() -> Path:
    """The report templates: the repository's templates/report, or the wheel's copy."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (
        here.parent / "templates" / "report",
        here / "_data" / "templates" / "report",
    ):
        if (candidate / "report.html.j2").is_file():
            return candidate
    raise FileNotFoundError("cpkit report templates not found (templates/report/report.html.j2)")


@functools.cache
def _environment(folder: str):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["css_string"] = css_string
    return env


def template(name: str, folder: Path | None = None):
    """A Jinja template of the report folder."""
    return _environment(str(folder or templates_dir())).get_template(name)


def css_string(text: Any) -> Markup:
    """``text`` as a quoted CSS string (safe inside a <style> element)."""
    out = ['"']
    for ch in str(text):
        if ch in '"\\' or ch in "<>&" or ord(ch) < 32:
            out.append(f"\\{ord(ch):X} ")
        else:
            out.append(ch)
    out.append('"')
    return Markup("".join(out))


def css_counter_content(message: str) -> Markup:
    """A message with ``{page}``/``{pages}`` as a CSS ``content`` value."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(message):
        if literal:
            parts.append(str(css_string(literal)))
        if name in ("page", "pages"):
            parts.append(f"counter({name})")
        elif name:
            parts.append(str(css_string("{" + name + "}")))
    return Markup(" ".join(parts) or '""')


@functools.cache
def _markdown():
    import mistune

    return mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


_XML_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.I)
_SVG_BLOCK = re.compile(r"<svg\b.*?</svg>", re.S | re.I)
_BOLD_ATTR = re.compile(r"""font-weight=(["'])(?:bold|bolder|[6-9]00)\1""", re.I)


def no_faux_bold(html: str) -> str:
    """Inline SVG text set in normal weight, as the report CSS does for HTML text.

    The CJK font has no bold face: a bold chart title is printed with a synthesized,
    smeared bold, and the PDF then embeds (subsets) the font a second time. CSS cannot
    reach inline SVG in WeasyPrint, so the attribute is rewritten here.
    """
    if "<svg" not in html or "font-weight" not in html:
        return html
    return _SVG_BLOCK.sub(lambda m: _BOLD_ATTR.sub('font-weight="normal"', m.group(0)), html)


def latex_svg(latex: str) -> str:
    """LaTeX (``$...$`` text or bare maths) drawn as inline SVG with ziamath (offline)."""
    import warnings

    with warnings.catch_warnings():  # ziamath loads its font with a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        import ziamath

        text = latex.strip()
        if "$" not in text:
            return ziamath.Math.fromlatex(text).svg()
        return ziamath.Text(text).svg()


def output_html(output: Mapping[str, Any], warnings: list[str] | None = None) -> str | None:
    """HTML for one notebook output, or None if it has nothing for a report."""
    kind = output.get("output_type")
    if kind not in ("display_data", "execute_result"):
        return None  # stream and error outputs are not report text
    data = output.get("data") or {}
    if RECORD_MIME in data:
        return None
    if WIDGET_MIME in data:
        if warnings is not None:
            warnings.append(
                "an interactive widget output was left out (run with interactive=False)"
            )
        return None
    for mime in OUTPUT_PRIORITY:
        if mime not in data:
            continue
        value = data[mime]
        if mime == "text/html":
            return _text(value)
        if mime == "image/svg+xml":
            return '<div class="cp-figure">' + _XML_PROLOG.sub("", _text(value)) + "</div>"
        if mime in ("image/png", "image/jpeg"):
            b64 = re.sub(r"\s+", "", _text(value))
            base64.b64decode(b64, validate=True)  # refuse something that is not an image
            return f'<div class="cp-figure"><img alt="" src="data:{mime};base64,{b64}"></div>'
        if mime == "text/markdown":
            return _markdown()(_text(value))
        if mime == "text/latex":
            try:
                return '<div class="cp-math">' + latex_svg(_text(value)) + "</div>"
            except Exception as exc:
                if warnings is not None:
                    warnings.append(f"LaTeX not drawn ({exc}); shown as text")
                return f'<pre class="cp-latex">{escape(_text(value))}</pre>'
        if mime == "text/plain":
            text = _text(value)
            return f'<pre class="cp-text">{escape(text)}</pre>' if text.strip() else None
    return None


@dataclass
class Section:
    """A piece of the report body: sanitized HTML and its headings."""

    html: str
    headings: list[Heading] = field(default_factory=list)


@dataclass
class Collected:
    """What :func:`collect` found in a set of executed notebooks."""

    body: list[Section] = field(default_factory=list)
    annex: list[Section] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Ids:
    def __init__(self) -> None:
        self.used: set[str] = set()
        self.counter = itertools.count(1)

    def __call__(self, given: str | None) -> str:
        if given and re.fullmatch(r"[A-Za-z][\w\-:.]*", given) and given not in self.used:
            self.used.add(given)
            return given
        while True:
            candidate = f"sec-{next(self.counter)}"
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate


def collect(notebooks: Sequence[Any], names: Sequence[str] | None = None, ids=None) -> Collected:
    """Report pieces of executed notebooks, in order (see the module docstring)."""
    ids = ids or _Ids()
    found = Collected()
    for i, nb in enumerate(notebooks):
        name = names[i] if names else f"notebook {i + 1}"
        for cell in nb.get("cells", []):
            if cell.get("cell_type") != "code":
                continue
            tags = set(cell.get("metadata", {}).get("tags", []) or [])
            if tags & SKIP_TAGS:
                continue
            target = found.annex if ANNEX_TAG in tags else found.body
            for out in cell.get("outputs", []):
                warnings: list[str] = []
                piece = output_html(out, warnings)
                found.warnings.extend(f"{name}: {w}" for w in warnings)
                if piece is None:
                    continue
                cleaned = clean(no_faux_bold(piece), ids)
                found.warnings.extend(f"{name}: {c}" for c in cleaned.changes)
                target.append(Section(cleaned.html, cleaned.headings))
    return found


def chapters(sections: Sequence[Section]) -> list[tuple[str, str]]:
    """The body cut into chapters: (chapter title, HTML) in order.

    A chapter starts at an output that begins with an ``h1`` (how ``cpkit.display.heading``
    writes one); anything before the first is a chapter without a title. The PDF uses the
    cut for Chromium's running chapter header (a named page per chapter, see
    report.html.j2), which has no ``string-set``.
    """
    out: list[tuple[str, list[str]]] = []
    for sec in sections:
        first = sec.headings[0] if sec.headings else None
        starts = first is not None and first.level == 1 and _STARTS_H1.match(sec.html)
        if starts or not out:
            out.append((first.text if starts else "", []))
        out[-1][1].append(sec.html)
    return [(title, "\n".join(parts)) for title, parts in out]


_STARTS_H1 = re.compile(r"\s*<h1[\s>]", re.I)


# --------------------------------------------------------------------------- cover
def _get(profile: Mapping[str, Any], key: str) -> Any:
    value = profile.get(key)
    return None if i18n.is_missing(value) or value == "" else value


def enterprise_name(profile: Mapping[str, Any], lang: str) -> str:
    """The enterprise's name in ``lang`` (the English name when given, else the name)."""
    if lang == "en" and _get(profile, "name_en"):
        return str(profile["name_en"])
    return str(_get(profile, "name") or "")


def cover_fields(profile: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """(label, value) rows of the cover page, from the dataset profile."""
    t = functools.partial(i18n.t, lang=lang)
    rows: list[tuple[str, str]] = []
    industry = _get(profile, "industry_name")
    if industry:
        code = _get(profile, "industry_code")
        rows.append(
            (
                t("report.cover.industry"),
                f"{industry}（{code}）"
                if code and lang == "zh"
                else f"{industry} ({code})"
                if code
                else str(industry),
            )
        )
    rnd = _get(profile, "audit_round")
    n = _get(profile, "round_number")
    if rnd == "continuous":
        text = (
            t("report.cover.round.continuous", n=n)
            if n
            else t("report.cover.round.continuous_unnumbered")
        )
        rows.append((t("report.cover.audit_round"), text))
    elif rnd == "first":
        text = (
            t("report.cover.round.first_n", n=n)
            if n and int(n) > 1
            else t("report.cover.round.first")
        )
        rows.append((t("report.cover.audit_round"), text))
    for field_name, key in (("audit_type", "type"), ("audit_mode", "mode"), ("audit_kind", "kind")):
        value = _get(profile, field_name)
        msg = f"report.cover.{key}.{value}"
        if value and i18n.has(msg):
            rows.append((t(f"report.cover.{field_name}"), t(msg)))
    start, end = _get(profile, "audit_start"), _get(profile, "audit_end")
    if start and end:
        rows.append((t("report.cover.period"), i18n.fmt_period(start, end, lang)))
    if _get(profile, "baseline_year"):
        rows.append((t("report.cover.baseline_year"), str(profile["baseline_year"])))
    if _get(profile, "consultancy"):
        rows.append((t("report.cover.consultancy"), str(profile["consultancy"])))
    return rows


def report_date(profile: Mapping[str, Any], lang: str) -> str:
    """The date printed on the cover: the end of the audit period (deterministic)."""
    end = _get(profile, "audit_end")
    return i18n.fmt_date(end, lang) if end else ""


# --------------------------------------------------------------------------- report
@dataclass(frozen=True)
class AssembledReport:
    """One report: the HTML page, its headings, and notes on what was left out or fixed."""

    html: str
    headings: tuple[Heading, ...]
    warnings: tuple[str, ...]


def assemble_report(
    notebooks: Sequence[Any],
    *,
    profile: Mapping[str, Any],
    lang: str,
    names: Sequence[str] | None = None,
    toc_depth: int = 2,
    templates: Path | None = None,
) -> AssembledReport:
    """Build the report page from executed notebooks (NotebookNodes, in phase order).

    ``profile``: the dataset's ``profile`` mapping (cover page). ``lang``: zh or en.
    ``toc_depth``: heading levels listed in the contents (1-3).
    """
    i18n.check_lang(lang)
    ids = _Ids()
    found = collect(notebooks, names, ids)
    annex_anchor = ids("annexes")
    headings = [h for s in found.body for h in s.headings]
    annex_headings = [h for s in found.annex for h in s.headings]
    all_headings = [
        *headings,
        Heading(1, i18n.t("report.annex", lang), annex_anchor),
        *annex_headings,
    ]
    toc = [h for h in all_headings if h.level <= toc_depth]
    name = enterprise_name(profile, lang)
    page = template("report.html.j2", templates).render(
        lang=lang,
        html_lang="zh-CN" if lang == "zh" else "en",
        title=i18n.t("report.title", lang),
        enterprise=name,
        cover_rows=cover_fields(profile, lang),
        date=report_date(profile, lang),
        date_label=i18n.t("report.cover.date", lang),
        colon="：" if lang == "zh" else ": ",
        prepared_by_label=i18n.t("report.cover.prepared_by", lang),
        prepared_by=_get(profile, "consultancy") or name,
        toc_title=i18n.t("report.toc", lang),
        toc=toc,
        chapters=[(title, Markup(html)) for title, html in chapters(found.body)],
        annex_title=i18n.t("report.annex", lang),
        annex_anchor=annex_anchor,
        annex=Markup("\n".join(s.html for s in found.annex)),
        empty_annex=i18n.t("report.empty_annex", lang),
        footer=css_counter_content(i18n.raw("report.page_footer", lang)),
        generator=i18n.t("report.generator", lang, version=__version__),
        version=__version__,
    )
    return AssembledReport(page, tuple(all_headings), tuple(found.warnings))
