"""HTML report -> PDF with WeasyPrint, offline.

WeasyPrint lays out the self-contained report (A4 pages from the CSS ``@page`` rule,
page numbers from counters, contents page numbers from ``target-counter``, vector SVG
charts, embedded fonts). Only ``data:`` URLs are fetched: anything else is refused, so a
PDF never depends on the network. The font configuration is created once per process
(it is the slow part of WeasyPrint's start-up) and reused for every report.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path

from cpkit.errors import CpkitError

log = logging.getLogger("cpkit.render")


class PdfError(CpkitError):
    """The PDF could not be written."""


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


def html_to_pdf(html: str, target: str | os.PathLike, *, base_url: str | None = None) -> int:
    """Write ``html`` as a PDF to ``target``; return the number of pages."""
    from weasyprint import HTML

    _quiet_weasyprint()
    try:
        document = HTML(string=html, base_url=base_url, url_fetcher=_offline_fetcher()).render(
            font_config=_font_config(threading.get_ident())
        )
        document.write_pdf(Path(target))
    except PdfError:
        raise
    except Exception as exc:
        raise PdfError(f"WeasyPrint could not write the PDF: {type(exc).__name__}: {exc}") from exc
    return len(document.pages)
