"""HTML report -> PDF, offline, with Chromium (fast) or WeasyPrint (fallback).

:func:`html_to_pdf` writes a self-contained HTML page as an A4 PDF and returns its page
count; :func:`write_pdf` does the same and also says which engine wrote it. Engines:

``chromium``
    The system Chromium driven by Playwright (:mod:`cpkit.render.browser`): one browser per
    worker process, kept open. A 120-page report prints in ~2 s against ~16 s with
    WeasyPrint. Chromium has no ``target-counter()`` (contents page numbers), so a report
    with a contents list (``span.cp-toc-page[data-target]``) takes a second, small pass:
    the whole report is printed once with the number slots empty; each heading's page is
    read from the PDF's named destinations (Chromium writes one per link target); the
    cover and contents alone (the HTML up to ``<!--cp:toc-end``) are printed again with
    the numbers filled in and the total page count written into the footer; their page
    content replaces that of the first pages of the first pass, whose link annotations
    stay (the layout is the same: the number slots have a fixed width). If the small
    print does not have the same number of pages, the whole report is printed again
    instead. PDF bookmarks (outline) are added from the contents entries with pypdf.
``weasyprint``
    WeasyPrint, with ``target-counter``, ``leader`` and ``string-set`` natively; only
    ``data:`` URLs are fetched. The font configuration is created once per thread.
``auto`` (default)
    Chromium when the ``playwright`` package and a Chromium binary are there
    (``$CPKIT_CHROMIUM`` or the PATH), else WeasyPrint; the choice and its reason are
    logged once per process. A Chromium that fails to start falls back to WeasyPrint too
    (logged as a warning); an explicitly chosen engine never falls back.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cpkit.errors import CpkitError

log = logging.getLogger("cpkit.render")

ENGINES = ("auto", "chromium", "weasyprint")
#: Where the cover and contents end in a report made from templates/report/report.html.j2.
TOC_END = "<!--cp:toc-end"
_TOC_SLOT = re.compile(r'(<span class="cp-toc-page" data-target="#([^"]+)">)(</span>)')
_TOC_ENTRY = re.compile(
    r'<li class="cp-toc-l(\d)"><a href="#([^"]+)"><span class="cp-toc-text">(.*?)</span>', re.S
)


class PdfError(CpkitError):
    """The PDF could not be written."""


@dataclass(frozen=True)
class PdfInfo:
    """What :func:`write_pdf` did: pages, the engine used, print passes, seconds."""

    pages: int
    engine: str  # chromium | weasyprint
    passes: int = 1  # Chromium: 1 (no contents), 2 (contents reprinted), 3 (whole again)
    seconds: float = 0.0


# --------------------------------------------------------------------------- engine choice
def check_engine(engine: str) -> str:
    """``engine`` if it is one of :data:`ENGINES`, else :class:`PdfError`."""
    if engine not in ENGINES:
        raise PdfError(f"unknown PDF engine {engine!r}: choose from {', '.join(ENGINES)}")
    return engine


@functools.cache
def resolve_engine(engine: str = "auto") -> str:
    """The engine ``engine`` stands for on this machine: ``chromium`` or ``weasyprint``.

    ``auto``: Chromium when Playwright and a Chromium binary are available, else
    WeasyPrint (logged once per process, with the reason). ``chromium`` without a browser
    raises :class:`PdfError` saying what to install.
    """
    from cpkit.render.browser import BrowserError, find_chromium, playwright_available

    check_engine(engine)
    if engine == "weasyprint":
        return engine
    problem = None
    if not playwright_available():
        problem = "the Python package playwright is not installed"
    else:
        try:
            path = find_chromium()
        except BrowserError as exc:
            problem = str(exc)
    if problem is None:
        log.info("PDF engine: chromium (%s)", path)
        return "chromium"
    if engine == "chromium":
        raise PdfError(f"PDF engine chromium is not available: {problem}")
    log.warning("PDF engine: weasyprint (slower), because %s", problem)
    return "weasyprint"


# --------------------------------------------------------------------------- entry points
def html_to_pdf(
    html: str,
    target: str | os.PathLike,
    *,
    engine: str = "auto",
    base_url: str | None = None,
) -> int:
    """Write ``html`` as a PDF to ``target`` with ``engine`` (auto | chromium | weasyprint);
    return the number of pages. See :func:`write_pdf`."""
    return write_pdf(html, target, engine=engine, base_url=base_url).pages


def write_pdf(
    html: str,
    target: str | os.PathLike,
    *,
    engine: str = "auto",
    base_url: str | None = None,
) -> PdfInfo:
    """Write ``html`` as a PDF to ``target``; return :class:`PdfInfo` (pages, engine used).

    Raises :class:`PdfError` (unknown or unavailable engine, or the engine failed).
    """
    t0 = time.perf_counter()
    chosen = resolve_engine(check_engine(engine))
    if chosen == "chromium":
        from cpkit.render.browser import BrowserError

        try:
            pages, passes = _chromium_pdf(html, Path(target))
            return PdfInfo(pages, "chromium", passes, round(time.perf_counter() - t0, 3))
        except BrowserError as exc:
            if engine != "auto":
                raise PdfError(str(exc)) from exc
            log.warning("PDF: %s; falling back to WeasyPrint", exc)
        except PdfError:
            raise
        except Exception as exc:
            raise PdfError(
                f"Chromium could not write the PDF: {type(exc).__name__}: {_first_line(exc)}"
            ) from exc
    pages = _weasyprint_pdf(html, Path(target), base_url)
    return PdfInfo(pages, "weasyprint", 1, round(time.perf_counter() - t0, 3))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


# --------------------------------------------------------------------------- Chromium
#: page.pdf options: the CSS @page rules decide size and margins; backgrounds printed.
CHROMIUM_PDF_OPTIONS = {
    "prefer_css_page_size": True,
    "print_background": True,
    "format": "A4",  # only used when the page has no @page size
    "display_header_footer": False,
}


_SVG_BLOCK = re.compile(r"<svg\b.*?</svg>", re.S)
_SVG_A11Y = re.compile(r'\s(?:aria-[a-z]+|role|pointer-events)="[^"]*"')
_TAG = re.compile(r"<[^>]+>")


def lean_svgs(html: str) -> str:
    """``html`` with the accessibility and pointer attributes of its inline SVGs removed
    (Vega gives every mark an ``aria-label`` describing its data: a sixth of a report's
    HTML). A PDF without tags has no use for them, and Chromium prints the leaner page
    faster; the HTML report keeps them for screen readers."""

    def tags(m: re.Match) -> str:  # inside tags only, never in the text of a label
        return _TAG.sub(lambda t: _SVG_A11Y.sub("", t.group(0)), m.group(0))

    return _SVG_BLOCK.sub(tags, html)


def _chromium_pdf(html: str, target: Path) -> tuple[int, int]:
    """Print with Chromium; return (pages, print passes)."""
    from pypdf import PdfReader

    from cpkit.render.browser import pdf_browser

    browser = pdf_browser()
    html = lean_svgs(_mark_engine(html, "chromium"))
    first = browser.print_pdf(html, **CHROMIUM_PDF_OPTIONS)
    slots = _TOC_SLOT.findall(html)
    entries = _toc_entries(html)
    if not slots and not entries:
        target.write_bytes(first)
        return len(PdfReader(io.BytesIO(first)).pages), 1

    reader = PdfReader(io.BytesIO(first))
    total = len(reader.pages)
    pages = _destination_pages(reader)
    if not pages:  # a Chromium that writes no named destinations: no numbers to fill
        log.warning("PDF: Chromium wrote no named destinations; contents without page numbers")
        target.write_bytes(first)
        return total, 1
    filled = _fill_toc(html, pages)
    passes = 2
    toc_pdf = None
    cut = html.find(TOC_END)
    if cut > 0:
        head_end = html.find("</head>")
        small = html[:cut] + "\n</body>\n</html>\n"
        if 0 < head_end < cut:  # the footer's total: this print is not the whole report
            small = small[:head_end].replace("counter(pages)", f'"{total}"') + small[head_end:]
        toc_pdf = browser.print_pdf(_fill_toc(small, pages), **CHROMIUM_PDF_OPTIONS)
        first_body = min((pages[a] for _, a, _ in entries if a in pages), default=None)
        if first_body is None or len(PdfReader(io.BytesIO(toc_pdf)).pages) != first_body - 1:
            log.info("PDF: contents reprint has a different page count; printing all again")
            toc_pdf = None
    if toc_pdf is None:  # no marker, or the small print did not match: print everything
        passes = 3
        second = browser.print_pdf(filled, **CHROMIUM_PDF_OPTIONS)
        reader = PdfReader(io.BytesIO(second))
        if _destination_pages(reader) != pages:
            log.warning("PDF: contents page numbers moved in the second print")
        _write_with_outline(reader, None, entries, target)
    else:
        _write_with_outline(reader, PdfReader(io.BytesIO(toc_pdf)), entries, target)
    return total, passes


def _mark_engine(html: str, engine: str) -> str:
    """``<html data-pdf-engine="...">``: lets the report CSS use what only one engine has."""
    return re.sub(r"<html\b", f'<html data-pdf-engine="{engine}"', html, count=1)


def _toc_entries(html: str) -> list[tuple[int, str, str]]:
    """(level, anchor, plain text) of every contents entry, in order."""
    import html as html_lib

    out = []
    for level, anchor, text in _TOC_ENTRY.findall(html):
        plain = html_lib.unescape(re.sub(r"<[^>]+>", "", text))
        out.append((int(level), html_lib.unescape(anchor), re.sub(r"\s+", " ", plain).strip()))
    return out


def _destination_pages(reader) -> dict[str, int]:
    """Anchor (element id) -> 1-based page number, from the PDF's named destinations."""
    pages = {}
    for name, dest in reader.named_destinations.items():
        try:
            pages[str(name).lstrip("/")] = reader.get_destination_page_number(dest) + 1
        except Exception:  # a destination without a page: leave its number out
            continue
    return pages


def _fill_toc(html: str, pages: dict[str, int]) -> str:
    def number(m: re.Match) -> str:
        page = pages.get(m.group(2))
        return f"{m.group(1)}{page if page is not None else ''}{m.group(3)}"

    return _TOC_SLOT.sub(number, html)


def _write_with_outline(reader, toc_reader, entries, target: Path) -> None:
    """Write ``reader``'s PDF to ``target``, with the page content of ``toc_reader``'s
    pages (the reprinted cover and contents) in place of its first pages and bookmarks
    for the contents ``entries``."""
    from pypdf import PdfWriter
    from pypdf.generic import Fit, NameObject

    writer = PdfWriter(clone_from=reader)
    if toc_reader is not None:
        tags: dict[str, str] = {}
        for i, new in enumerate(toc_reader.pages):
            page = writer.pages[i]
            page[NameObject("/Resources")] = new["/Resources"].clone(writer)
            page.replace_contents(new.get_contents().clone(writer))
            _retag_fonts(page["/Resources"], tags)
    dests = {}
    for name, dest in reader.named_destinations.items():
        try:
            index = reader.get_destination_page_number(dest)
        except Exception:  # a destination without a page: no bookmark
            continue
        top = dest.get("/Top")
        dests[str(name).lstrip("/")] = (index, float(top) if top is not None else None)
    parents: dict[int, object] = {}
    for level, anchor, text in entries:
        where = dests.get(anchor)
        if where is None:
            continue
        page, top = where
        parent = None
        for up in range(level - 1, 0, -1):
            if up in parents:
                parent = parents[up]
                break
        fit = Fit.xyz(left=0, top=top) if top is not None else Fit.fit()
        item = writer.add_outline_item(title=text, page_number=page, parent=parent, fit=fit)
        parents[level] = item
        for deeper in [k for k in parents if k > level]:
            del parents[deeper]
    writer.page_mode = "/UseOutlines" if entries else writer.page_mode
    with open(target, "wb") as fh:
        writer.write(fh)


def _retag_fonts(resources, tags: dict[str, str]) -> None:
    """Give the reprint's font subsets their own subset tags (``CPTOCA+…``): the first
    print's subsets of the same font carry the same tag (``AAAAAA+…``), and two different
    subsets under one name confuse some PDF tools."""
    from pypdf.generic import NameObject

    def retag(obj, key: str) -> None:
        name = str(obj.get(key) or "")
        m = re.fullmatch(r"/([A-Z]{6})\+(.+)", name)
        if not m or m.group(1).startswith("CPTOC"):  # not a subset, or done already
            return
        tag = tags.setdefault(m.group(1), "CPTOC" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[len(tags) % 26])
        if m.group(1) != tag:
            obj[NameObject(key)] = NameObject(f"/{tag}+{m.group(2)}")

    fonts = resources.get("/Font") or {}
    for ref in fonts.values():
        font = ref.get_object()
        retag(font, "/BaseFont")
        for d in font.get("/DescendantFonts") or []:
            d = d.get_object()
            retag(d, "/BaseFont")
            if "/FontDescriptor" in d:
                retag(d["/FontDescriptor"].get_object(), "/FontName")


# --------------------------------------------------------------------------- WeasyPrint
@functools.cache
def _offline_fetcher():
    """A WeasyPrint URL fetcher that serves ``data:`` URLs only."""
    try:
        from weasyprint.urls import URLFetcher  # WeasyPrint >= 68
    except ImportError:  # pragma: no cover - older WeasyPrint: a plain function
        from weasyprint import default_url_fetcher

        def fetch(url, *args, **kwargs):
            if url.startswith("data:"):
                return default_url_fetcher(url, *args, **kwargs)
            raise ValueError(f"reports are self-contained: refusing to fetch {url[:80]}")

        return fetch
    return URLFetcher(allowed_protocols=("data",), fail_on_errors=False)


@functools.cache
def _font_config(thread_id: int):
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def _quiet_weasyprint() -> None:
    # WeasyPrint logs every CSS property it ignores (e.g. from pandas' <style scoped>)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)


def _weasyprint_pdf(html: str, target: Path, base_url: str | None) -> int:
    from weasyprint import HTML

    _quiet_weasyprint()
    try:
        document = HTML(string=html, base_url=base_url, url_fetcher=_offline_fetcher()).render(
            font_config=_font_config(threading.get_ident())
        )
        document.write_pdf(target)
    except PdfError:
        raise
    except Exception as exc:
        raise PdfError(f"WeasyPrint could not write the PDF: {type(exc).__name__}: {exc}") from exc
    return len(document.pages)
