"""A headless Chromium kept open per worker process, driven by Playwright, for PDFs and
for the charts of a batch.

Starting Chromium costs ~0.7 s; printing a 120-page report on an open page ~2 s; drawing
the ~29 charts of a report with Vega on an open page ~0.3-0.6 s (vl-convert, which
measures text by turning glyphs into paths, takes ~2.5-3 s for the same). So each
process holds at most one browser (:func:`pdf_browser`), launched on first use, reused for
every report, relaunched when it crashed or was closed, and closed by
:func:`close_browser` (the renderer's worker shutdown) or at interpreter exit (atexit).

Playwright's sync API refuses to run in a thread whose asyncio loop is running (Jupyter,
Dask workers), and its objects belong to the thread that created them. So everything
Playwright does runs on one daemon thread of this module, fed through a queue; callers in
any thread just wait for the result.

Offline by construction: the printing context has JavaScript off, both contexts are
``offline=True``, and every request that is not ``data:``/``about:`` is aborted by a
route (reports are self-contained; a stray external URL is logged, never fetched). The
chart context runs JavaScript: only the Vega bundle of vl-convert
(:func:`cpkit.render.charts.chart_bundle`) and specs passed as JSON arguments.

The browser is the system Chromium (Debian package ``chromium``), found by
:func:`find_chromium`; Playwright's own browser download is never used.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from cpkit.errors import CpkitError

log = logging.getLogger("cpkit.render")

#: Executable names tried on the PATH, in order.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Command-line switches: headless, quiet, nothing fetched in the background.
CHROMIUM_ARGS = (
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--mute-audio",
)


class BrowserError(CpkitError):
    """Chromium or Playwright is missing, or the browser could not be started."""


def find_chromium(explicit: str | os.PathLike | None = None) -> str:
    """Path of a Chromium binary: ``explicit``, else ``$CPKIT_CHROMIUM``, else the first of
    :data:`CHROMIUM_NAMES` on the PATH. Raises :class:`BrowserError` when there is none or
    a given path is not an executable file."""
    for cand in (explicit, os.environ.get("CPKIT_CHROMIUM")):
        if cand:
            cand = str(cand)
            if Path(cand).is_file() and os.access(cand, os.X_OK):
                return cand
            found = shutil.which(cand)
            if found:
                return found
            raise BrowserError(f"Chromium not found or not executable: {cand}")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError(
        "no Chromium on this machine: install it (Debian: apt-get install chromium) "
        "or set $CPKIT_CHROMIUM to its path"
    )


def chromium_args() -> list[str]:
    """:data:`CHROMIUM_ARGS`, plus ``--no-sandbox`` when running as root (Chromium refuses
    to start its sandbox as root, e.g. in containers and CI)."""
    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    return args


def playwright_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("playwright") is not None


_STOP = object()


class PdfBrowser:
    """One Chromium on a private Playwright thread: a page for printing and, once charts
    are asked for, a second page (JavaScript on) with Vega loaded.

    ``print_pdf(html, **pdf_options) -> bytes`` loads the HTML into the page and prints
    it; ``draw_charts(specs, bundle)`` draws Vega-Lite specs as SVG; ``close()`` stops the
    browser and the thread. Thread-safe: calls are serialised.
    """

    def __init__(self, executable: str | None = None, *, timeout_s: float = 300.0) -> None:
        self.executable = executable
        self.timeout_ms = timeout_s * 1000
        self.launches = 0  # how many times Chromium was started (relaunch after a crash)
        self.blocked: list[str] = []  # URLs the page tried to load and did not get
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pw: Any = None
        self._browser: Any = None
        self._page: Any = None
        self._chart_page: Any = None
        self._closed = False

    # ------------------------------------------------------------------ public
    def print_pdf(self, html: str, **pdf_options: Any) -> bytes:
        """``html`` printed by Chromium (``page.pdf(**pdf_options)``), as PDF bytes."""
        return self._call(lambda: self._print(html, pdf_options))

    def draw_charts(self, specs: list[Any], bundle: str) -> list[dict[str, str]]:
        """Each Vega-Lite spec drawn as SVG by Vega in the chart page: per spec
        ``{"svg": ...}`` or ``{"error": message}``. ``bundle`` is the JavaScript that
        defines ``window.cpkitDraw`` (loaded once per browser)."""
        return self._call(lambda: self._draw(list(specs), bundle))

    @property
    def version(self) -> str:
        """Chromium's version (launches the browser if needed)."""
        return self._call(self._version)

    def ensure_started(self) -> None:
        """Launch the browser now (else it is launched by the first print)."""
        self._call(self._ensure)

    def warm_up(self) -> Future:
        """Start launching the browser on its thread and return at once (a worker does
        this while its kernel runs the notebooks); a failure here is ignored and met
        again, with its message, by the first print."""
        fut = self._submit(self._ensure)
        fut.add_done_callback(lambda f: f.exception())  # consumed: no "never retrieved"
        return fut

    @property
    def pid(self) -> int | None:
        """Process id of the running Chromium (None when not running)."""
        return self._call(self._pid) if self._thread is not None else None

    def close(self) -> None:
        """Close the browser and stop Playwright and the thread (idempotent)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._closed = True
        if thread is None or not thread.is_alive():
            return
        done: Future = Future()
        self._queue.put((self._shutdown, done))
        self._queue.put((_STOP, None))
        with contextlib.suppress(Exception):
            done.result(timeout=30)
        thread.join(timeout=10)

    # ------------------------------------------------------------------ thread plumbing
    def _call(self, fn: Callable[[], Any]) -> Any:
        return self._submit(fn).result()

    def _submit(self, fn: Callable[[], Any]) -> Future:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._closed = False
                self._thread = threading.Thread(
                    target=self._loop, name="cpkit-chromium", daemon=True
                )
                self._thread.start()
        fut: Future = Future()
        self._queue.put((fn, fut))
        return fut

    def _loop(self) -> None:
        while True:
            fn, fut = self._queue.get()
            if fn is _STOP:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

    # ------------------------------------------------------------------ on the thread
    def _alive(self) -> bool:
        try:
            return (
                self._browser is not None
                and self._browser.is_connected()
                and self._page is not None
                and not self._page.is_closed()
            )
        except Exception:
            return False

    def _ensure(self) -> None:
        if self._alive():
            return
        self._shutdown()
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            raise BrowserError(
                "the Python package playwright is missing: pip install playwright"
            ) from exc
        executable = self.executable or find_chromium()
        try:
            self._pw = sync_playwright().start()
            self._browser = self._pw.chromium.launch(
                executable_path=executable,
                args=chromium_args(),
                headless=True,
                timeout=60_000,
            )
            context = self._browser.new_context(java_script_enabled=False, offline=True)
            context.route("**/*", self._route)
            self._page = context.new_page()
            self._page.set_default_timeout(self.timeout_ms)
        except Exception as exc:
            self._shutdown()
            raise BrowserError(
                f"Chromium ({executable}) could not be started: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc
        self.launches += 1
        if self.launches > 1:
            log.warning("Chromium was relaunched (launch %d)", self.launches)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "about:")):
            route.continue_()
            return
        self.blocked.append(url[:200])
        log.warning("Chromium: blocked a request to %s (reports are self-contained)", url[:120])
        route.abort("blockedbyclient")

    def _version(self) -> str:
        self._ensure()
        return str(self._browser.version)

    def _chart_page_ready(self, bundle: str) -> Any:
        page = self._chart_page
        if page is not None and not page.is_closed():
            return page
        context = self._browser.new_context(java_script_enabled=True, offline=True)
        context.route("**/*", self._route)
        page = context.new_page()
        page.set_default_timeout(self.timeout_ms)
        page.set_content('<!doctype html><html><head><meta charset="utf-8"></head></html>')
        page.add_script_tag(content=bundle)
        if not page.evaluate("typeof window.cpkitDraw === 'function'"):
            raise BrowserError("the chart bundle did not define window.cpkitDraw")
        self._chart_page = page
        return page

    def _draw(self, specs: list[Any], bundle: str) -> list[dict[str, str]]:
        for attempt in (1, 2):
            self._ensure()
            try:
                page = self._chart_page_ready(bundle)
                return page.evaluate("specs => window.cpkitDraw(specs)", specs)
            except Exception:
                if attempt == 2 or self._alive():
                    raise
                log.warning("Chromium died while drawing charts; relaunching and retrying once")
        raise AssertionError("unreachable")  # pragma: no cover

    def _print(self, html: str, options: dict[str, Any]) -> bytes:
        for attempt in (1, 2):
            self._ensure()
            try:
                self._page.set_content(html, wait_until="load")
                return self._page.pdf(**options)
            except Exception:
                if attempt == 2 or self._alive():
                    raise
                log.warning("Chromium died while printing; relaunching and retrying once")
        raise AssertionError("unreachable")  # pragma: no cover

    def _pid(self) -> int | None:
        return _chromium_pid() if self._alive() else None

    def _shutdown(self) -> None:
        browser, pw = self._browser, self._pw
        self._browser = self._page = self._pw = self._chart_page = None
        if browser is not None:
            with contextlib.suppress(Exception):
                browser.close()
        if pw is not None:
            with contextlib.suppress(Exception):
                pw.stop()


def _chromium_pid() -> int | None:
    """The Chromium main process among this process's descendants."""
    try:
        import psutil
    except ImportError:  # pragma: no cover
        return None
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmd = p.cmdline()
            if cmd and "--type=" not in " ".join(cmd) and "chrom" in Path(cmd[0]).name.lower():
                return p.pid
    return None


_BROWSER: PdfBrowser | None = None
_BROWSER_LOCK = threading.Lock()


def pdf_browser() -> PdfBrowser:
    """This process's browser for PDFs and charts (created on first call; launched on
    first use)."""
    global _BROWSER
    with _BROWSER_LOCK:
        if _BROWSER is None:
            _BROWSER = PdfBrowser()
            atexit.register(close_browser)
        return _BROWSER


def close_browser() -> bool:
    """Close this process's PDF browser, if any; return whether there was one."""
    global _BROWSER
    with _BROWSER_LOCK:
        browser, _BROWSER = _BROWSER, None
    if browser is None:
        return False
    browser.close()
    return True
