"""Check, in a real browser, that the phase notebooks' widgets work in JupyterLab.

What it does, for every notebook asked for (default: all of notebooks/*.ipynb):

1. copies the notebooks to a temporary folder (the committed ones stay without outputs)
   and starts ``jupyter lab`` from this environment on 127.0.0.1 with a random token, no
   browser, and its own empty settings, workspaces and runtime folders;
2. opens the notebook in headless Chromium (Playwright driving the system browser; no
   browser download), waits for its kernel, and runs it the way a user does:
   menu Run > Run All Cells, then waits until no cell is queued and the kernel is idle;
3. saves it and reads the saved file: every code cell must have run, no cell may hold an
   error output, and every widget output (``application/vnd.jupyter.widget-view+json``)
   must be drawn in the page as a widget (not "Error displaying widget" or plain text);
4. for every control box made by :func:`cpkit.display.explore` (controls above an Output
   widget) changes each control like a user (arrow key on a slider's handle, another
   option in a dropdown, a click on a checkbox), waits for the output below to be
   replaced and to settle, and checks that it differs from before (table text, or the
   chart) and holds no traceback; the latency is the time from the key press or change
   event to the last change of the output, measured in the page;
5. takes PNG screenshots of each box before and after its first change, lists the
   interactive charts and whether they drew, the browser's failed requests and errors,
   writes ``report.json`` to the output folder and prints a summary.

Exit status 0 when every widget check passed and every interactive chart drew, 1
otherwise (``report.json`` says which: ``ok`` for the widgets, ``charts_ok`` for the
charts), 2 when it could not run (no Chromium, no Playwright, JupyterLab did not start).

Usage::

    python scripts/check_lab_widgets.py                   # all notebooks
    python scripts/check_lab_widgets.py 02 03 05 --out build/lab-widgets
    python scripts/check_lab_widgets.py 03 --json         # the report as JSON on stdout
    python scripts/check_lab_widgets.py 02 --max-controls 2   # a quick run

Needs the ``ui`` extra (JupyterLab and Playwright) and a Chromium: ``--chromium PATH``,
else ``$CPKIT_CHROMIUM``, else ``chromium`` / ``chromium-browser`` / ``google-chrome`` on
the PATH (on Debian: ``apt-get install chromium``). Playwright's own browser download
(``playwright install``) is not needed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cpkit.render.browser import BrowserError
from cpkit.render.browser import find_chromium as _find_chromium

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: JupyterLab settings for a quiet, reproducible session: no news or update checks
#: (they would fetch from the internet and pop a toast over the notebook).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
#: Classes of the ipywidgets controls the check knows how to change.
CONTROL_SELECTOR = (
    ".widget-slider, .widget-dropdown, .widget-checkbox, .widget-toggle-buttons, .widget-select"
)


class CheckError(RuntimeError):
    """The check could not run (missing browser, server did not start...)."""


# =========================================================================== results
@dataclass
class Change:
    """One user action on one control and what the output did."""

    box: int
    control: str
    kind: str
    before: str
    after: str
    output_changed: bool
    text_changed: bool
    latency_ms: float | None
    first_change_ms: float | None
    error_in_output: str | None = None
    problem: str | None = None
    #: the output's text before and after (first 3,000 characters)
    text_before: str = ""
    text_after: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class NotebookResult:
    """Everything checked in one notebook."""

    name: str
    code_cells: int = 0
    cells_run: int = 0
    run_s: float | None = None
    error_outputs: list[str] = field(default_factory=list)
    stderr_outputs: list[str] = field(default_factory=list)
    widget_views: int = 0
    widget_views_drawn: int = 0
    widget_view_problems: list[str] = field(default_factory=list)
    boxes: int = 0
    changes: list[Change] = field(default_factory=list)
    charts: int = 0
    charts_drawn: int = 0
    chart_errors: list[str] = field(default_factory=list)
    screenshots: list[str] = field(default_factory=list)
    kernel_dialog: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def widgets_ok(self) -> bool:
        return not self.problems and all(c.ok for c in self.changes)


# =========================================================================== server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_chromium(explicit: str | None = None) -> str:
    """Path of a Chromium binary (:func:`cpkit.render.browser.find_chromium`: ``explicit``,
    ``$CPKIT_CHROMIUM`` or one on the PATH); a missing one is a :class:`CheckError`."""
    try:
        return _find_chromium(explicit)
    except BrowserError as exc:
        raise CheckError(str(exc)) from None


class LabServer:
    """``jupyter lab`` on 127.0.0.1 serving a temporary copy of the notebooks.

    Use as a context manager; on exit every kernel is shut down, the server stopped
    (its whole process group) and the temporary folder removed.
    """

    def __init__(self, notebooks: list[Path], *, start_timeout: float = 90.0) -> None:
        self.notebooks = notebooks
        self.start_timeout = start_timeout
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.tmp: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def root(self) -> Path:
        assert self.tmp is not None
        return self.tmp / "notebooks"

    def __enter__(self) -> LabServer:
        self.tmp = Path(tempfile.mkdtemp(prefix="cpkit-lab-"))
        self.root.mkdir()
        for nb in self.notebooks:
            shutil.copy2(nb, self.root / nb.name)
        settings = self.tmp / "settings"
        for rel, value in LAB_SETTINGS.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value), encoding="utf-8")
        for sub in ("config", "runtime", "workspaces"):
            (self.tmp / sub).mkdir()
        jupyter = Path(sys.executable).with_name("jupyter")
        if not jupyter.exists():
            raise CheckError(f"no jupyter next to {sys.executable}: install the 'ui' extra")
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.tmp / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.tmp / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        cmd = [
            str(jupyter),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.tmp / 'workspaces'}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log_path = self.tmp / "server.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def api(self, path: str, method: str = "GET") -> Any:
        """Call the server's REST API; returns the decoded JSON (None for no content)."""
        req = urllib.request.Request(
            f"{self.base}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise CheckError(f"jupyter lab exited at start:\n{self.log_tail()}")
            with contextlib.suppress(OSError, ValueError):
                self.api("/api/status")
                return
            time.sleep(0.25)
        raise CheckError(
            f"jupyter lab did not answer in {self.start_timeout:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def url(self, notebook: str) -> str:
        # ?reset: a clean workspace, so no notebook of an earlier run is reopened
        return f"{self.base}/lab/tree/{notebook}?reset&token={self.token}"

    def session(self, notebook: str) -> dict[str, Any] | None:
        for s in self.api("/api/sessions"):
            if s.get("path") == notebook:
                return s
        return None

    def close_sessions(self) -> None:
        """Shut down every session (and its kernel)."""
        with contextlib.suppress(OSError, ValueError):
            for s in self.api("/api/sessions"):
                with contextlib.suppress(OSError, ValueError):
                    self.api(f"/api/sessions/{s['id']}", method="DELETE")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.close_sessions()
            with contextlib.suppress(OSError, ValueError):
                self.api("/api/shutdown", method="POST")
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
        # kernels are started in their own process groups; the server shuts them down
        # above, so only the temporary folder is left
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


# =========================================================================== page helpers
_JS_FINGERPRINT = r"""(el) => {
  // the text a reader sees (without script and style elements: Altair's HTML output
  // carries its chart spec in a script) and the HTML without the ids that change on
  // every render (Altair's div ids), which also catches a chart that changed
  const copy = el.cloneNode(true);
  copy.querySelectorAll("script, style").forEach((n) => n.remove());
  copy.querySelectorAll("td, th, p, li, caption, div, h1, h2, h3, h4").forEach(
    (n) => n.append(" "));
  const text = copy.textContent.replace(/\s+/g, " ").trim();
  const html = el.innerHTML.replace(/altair-viz-[0-9a-f]+/g, "altair-viz");
  return {text: text, html: html};
}"""

_JS_WATCH = r"""(out) => {
  // t0: the user's key press / change event; first/last: changes of the output
  const w = {t0: null, first: null, last: null};
  const mark = (e) => { if (w.t0 === null) w.t0 = performance.now(); };
  for (const ev of ["keydown", "change", "click"]) {
    document.addEventListener(ev, mark, {capture: true, once: true});
  }
  const obs = new MutationObserver(() => {
    const t = performance.now();
    if (w.first === null) w.first = t;
    w.last = t;
  });
  obs.observe(out, {childList: true, subtree: true, characterData: true});
  w.stop = () => obs.disconnect();
  window.__cpWatch = w;
}"""

_JS_SETTLED = r"""([quietMs]) => {
  const w = window.__cpWatch;
  return w && w.last !== null && performance.now() - w.last > quietMs;
}"""

_JS_TIMES = r"""() => {
  const w = window.__cpWatch;
  w.stop();
  return {t0: w.t0, first: w.first, last: w.last};
}"""

_JS_CHARTS = r"""() => {
  // interactive charts: Altair's HTML output (<div id="altair-viz-..."> that vega-embed
  // fills with a canvas or svg once the Vega libraries load, else "Error loading
  // script"), JupyterLab's own Vega-Lite renderer (a vegalite mimetype output), and a
  // chart whose mimetype JupyterLab cannot draw (only its text, "<VegaLite 6 object>");
  // charts inside an Output widget count too (they are redrawn on every change)
  const panel = ".jp-NotebookPanel:not(.lm-mod-hidden) ";
  const html = [...document.querySelectorAll(panel + '[id^="altair-viz"]')];
  const mime = [...document.querySelectorAll(panel + '[class*="jp-RenderedVega"]')];
  const text = [...document.querySelectorAll(panel + '[data-mime-type="text/plain"]')]
    .filter((el) => /^<(VegaLite|Vega) \d+ object>/.test(el.textContent.trim()));
  return [...html, ...mime, ...text].map((el) => ({
    drawn: !!el.querySelector("canvas, svg"),
    text: el.textContent.trim().slice(0, 200),
  }));
}"""


_JS_WIDGET_VIEWS = r"""() => {
  // top-level outputs of the cells (not those inside an Output widget); JupyterLab puts
  // a drawn widget view straight into the output element, while a missing widget
  // manager leaves the model's text (e.g. "VBox(children=...") or an error message
  const outs = [...document.querySelectorAll(
      ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output")];
  const drawn = outs.filter((el) => !!el.querySelector(":scope > .jupyter-widgets"));
  const failed = outs.filter((el) => !el.querySelector(":scope > .jupyter-widgets") &&
      /Error displaying widget|Loading widget|^\w+\((children|value)=/m.test(el.textContent));
  return {drawn: drawn.length, failed: failed.map((el) => el.textContent.slice(0, 200))};
}"""


def _wait(predicate, timeout: float, what: str, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def _open_notebook(page, server: LabServer, name: str, timeout: float) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is connected and idle."""
    page.goto(server.url(name), wait_until="domcontentloaded", timeout=timeout * 1000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout * 1000)

    def kernel_ready() -> bool:
        s = server.session(name)
        if not s or (s.get("kernel") or {}).get("execution_state") != "idle":
            return False
        return bool(
            page.evaluate(
                """() => {
                  const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
                  const ind = p && p.querySelector('.jp-Notebook-ExecutionIndicator');
                  return !!ind && ind.getAttribute('data-status') === 'idle';
                }"""
            )
        )

    _wait(kernel_ready, timeout, f"the kernel of {name}")


def _dismiss_kernel_dialog(page) -> bool:
    dialog = page.locator(".jp-Dialog")
    if dialog.count() and "kernel" in (dialog.first.text_content() or "").lower():
        dialog.locator(".jp-mod-accept").first.click()
        return True
    return False


def _run_all(page, server: LabServer, name: str, timeout: float) -> tuple[float, bool]:
    """Menu Run > Run All Cells; wait until nothing is queued and the kernel is idle."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    t0 = time.monotonic()
    dialog = False

    def done() -> bool:
        nonlocal dialog
        dialog = _dismiss_kernel_dialog(page) or dialog
        prompts = page.eval_on_selector_all(
            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt",
            "els => els.map(e => e.textContent.trim())",
        )
        if any("*" in p for p in prompts) or not any(re.search(r"\d", p) for p in prompts):
            return False
        s = server.session(name)
        return bool(s) and (s.get("kernel") or {}).get("execution_state") == "idle"

    _wait(done, timeout, f"Run All Cells in {name}")
    return time.monotonic() - t0, dialog


def _save(page, path: Path, timeout: float) -> dict[str, Any]:
    """Save the notebook (Ctrl+S) and return the saved JSON."""
    before = path.stat().st_mtime_ns
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.click(
        position={"x": 5, "y": 5}
    )
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    _wait(lambda: path.stat().st_mtime_ns != before, timeout, f"saving {path.name}")
    time.sleep(0.3)
    return json.loads(path.read_text(encoding="utf-8"))


def _stable_count(page, selector: str, quiet: float = 1.0, timeout: float = 30.0) -> int:
    """Number of ``selector`` matches once it has not changed for ``quiet`` seconds."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = page.locator(selector).count()
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.1)
    return last


def _describe(control) -> tuple[str, str]:
    """(label, kind) of an ipywidgets control element."""
    cls = control.get_attribute("class") or ""
    kind = next(
        (
            k
            for k in ("slider", "dropdown", "checkbox", "toggle-buttons", "select")
            if f"widget-{k}" in cls
        ),
        "other",
    )
    label = control.locator(".widget-label").first
    text = (label.text_content() or "").strip() if label.count() else ""
    return text or kind, kind


def _value(control, kind: str) -> str:
    if kind == "slider":
        readout = control.locator(".widget-readout")
        if readout.count():
            return (readout.first.text_content() or "").strip()
        return control.locator(".noUi-handle").first.get_attribute("aria-valuenow") or ""
    if kind in ("dropdown", "select"):
        return control.locator("select").first.evaluate(
            "s => s.selectedIndex >= 0 ? s.options[s.selectedIndex].text : ''"
        )
    if kind == "checkbox":
        return str(control.locator("input[type=checkbox]").first.is_checked())
    if kind == "toggle-buttons":
        active = control.locator("button.mod-active")
        return (active.first.text_content() or "").strip() if active.count() else ""
    return ""


def _act(page, control, kind: str) -> bool:
    """Change the control like a user; False when it has no other value to take."""
    if kind == "slider":
        handle = control.locator(".noUi-handle").first
        now = float(handle.get_attribute("aria-valuenow") or 0)
        top = float(handle.get_attribute("aria-valuemax") or 0)
        handle.focus()
        page.keyboard.press("ArrowLeft" if now >= top else "ArrowRight")
        return True
    if kind in ("dropdown", "select"):
        select = control.locator("select").first
        n = select.evaluate("s => s.options.length")
        if n < 2:
            return False
        cur = select.evaluate("s => s.selectedIndex")
        select.select_option(index=(cur + 1) % n)
        return True
    if kind == "checkbox":
        control.locator("input[type=checkbox]").first.click()
        return True
    if kind == "toggle-buttons":
        buttons = control.locator("button:not(.mod-active)")
        if not buttons.count():
            return False
        buttons.first.click()
        return True
    return False


def _shoot(page, box, path: Path, shots: list[str]) -> None:
    """PNG of the whole box: the viewport is made tall enough for it, then restored
    (JupyterLab scrolls the notebook inside the page, so a box taller than the viewport
    would be cut)."""
    size = page.viewport_size or {"width": 1280, "height": 1400}
    height = int(box.evaluate("e => e.getBoundingClientRect().height"))
    tall = height + 300 > size["height"]
    if tall:
        page.set_viewport_size({"width": size["width"], "height": min(height + 300, 8000)})
    try:
        box.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        box.screenshot(path=str(path))
        shots.append(str(path))
    finally:
        if tall:
            page.set_viewport_size(size)
            box.scroll_into_view_if_needed()


def _exercise_box(
    page,
    box,
    index: int,
    nb: str,
    out_dir: Path,
    timeout: float,
    shots: list[str],
    max_controls: int | None = None,
) -> list[Change]:
    """Change every control of one explore box in turn (the first ``max_controls`` when
    given) and check the output below."""
    changes: list[Change] = []
    shot = False
    output = box.locator(".widget-output").first
    controls = box.locator(CONTROL_SELECTOR)
    stem = Path(nb).stem
    for k in range(controls.count()):
        control = controls.nth(k)
        if control.evaluate("(e) => !!e.closest('.widget-output')"):
            continue  # a widget shown inside the output, not one of the box's controls
        if max_controls is not None and len(changes) >= max_controls:
            break
        if not shot:
            _shoot(page, box, out_dir / f"{stem}_box{index}_before.png", shots)
        control.scroll_into_view_if_needed()
        label, kind = _describe(control)
        before_val = _value(control, kind)
        before = output.evaluate(_JS_FINGERPRINT)
        output.evaluate(_JS_WATCH)
        if not _act(page, control, kind):
            changes.append(
                Change(index, label, kind, before_val, before_val, False, False, None, None,
                       problem=f"could not change a {kind} control")
            )  # fmt: skip
            continue
        problem = None
        try:
            page.wait_for_function(_JS_SETTLED, arg=[400], timeout=timeout * 1000, polling=50)
        except Exception:  # playwright TimeoutError
            problem = f"no new output within {timeout:.0f} s"
        times = page.evaluate(_JS_TIMES)
        after = output.evaluate(_JS_FINGERPRINT)
        after_val = _value(control, kind)
        t0 = times.get("t0")
        latency = round(times["last"] - t0, 1) if t0 is not None and times.get("last") else None
        first = round(times["first"] - t0, 1) if t0 is not None and times.get("first") else None
        stderr = output.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
        err = (stderr.first.text_content() or "")[:500] if stderr.count() else None
        changed = after != before
        if problem is None and after_val == before_val:
            problem = "the control kept its value"
        if problem is None and not changed:
            problem = "the output did not change"
        if problem is None and err:
            problem = "the output shows an error"
        changes.append(
            Change(
                box=index,
                control=label,
                kind=kind,
                before=before_val,
                after=after_val,
                output_changed=changed,
                text_changed=after["text"] != before["text"],
                latency_ms=latency,
                first_change_ms=first,
                error_in_output=err,
                problem=problem,
                text_before=before["text"][:3000],
                text_after=after["text"][:3000],
            )
        )
        if not shot:
            _shoot(page, box, out_dir / f"{stem}_box{index}_after.png", shots)
            shot = True
    return changes


def check_notebook(
    page,
    server: LabServer,
    name: str,
    out_dir: Path,
    timeout: float,
    max_controls: int | None = None,
) -> NotebookResult:
    """Open, run and exercise one notebook; see the module docstring."""
    res = NotebookResult(name=name)
    server.close_sessions()  # a fresh kernel for every notebook
    _open_notebook(page, server, name, timeout)
    res.run_s, res.kernel_dialog = _run_all(page, server, name, timeout)
    saved = _save(page, server.root / name, timeout)
    code = [c for c in saved["cells"] if c.get("cell_type") == "code"]
    res.code_cells = len(code)
    res.cells_run = sum(c.get("execution_count") is not None for c in code)
    for i, cell in enumerate(saved["cells"]):
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                res.error_outputs.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}"[:300])
            elif kind == "stream" and out.get("name") == "stderr":
                res.stderr_outputs.append(f"cell {i}: {''.join(out.get('text', ''))}"[:300])
            elif WIDGET_MIME in out.get("data", {}):
                res.widget_views += 1
    if res.cells_run < res.code_cells:
        res.problems.append(f"only {res.cells_run} of {res.code_cells} code cells ran")
    if res.error_outputs:
        res.problems.append(f"{len(res.error_outputs)} error output(s)")

    _stable_count(page, ".jupyter-widgets")
    views = page.evaluate(_JS_WIDGET_VIEWS)
    res.widget_views_drawn = views["drawn"]
    res.widget_view_problems = views["failed"]
    if res.widget_view_problems or res.widget_views_drawn < res.widget_views:
        res.problems.append(
            f"{res.widget_views - res.widget_views_drawn} of {res.widget_views} widget outputs not drawn"
        )

    boxes = page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell-outputArea > .jp-OutputArea-child"
        " > .jp-OutputArea-output > .widget-vbox:has(.widget-output)"
    )
    res.boxes = boxes.count()
    for b in range(res.boxes):
        res.changes += _exercise_box(
            page, boxes.nth(b), b + 1, name, out_dir, timeout, res.screenshots, max_controls
        )
    if res.widget_views and not res.boxes:
        res.problems.append("widget outputs found but no control box with an output")

    charts = page.evaluate(_JS_CHARTS)
    res.charts = len(charts)
    res.charts_drawn = sum(c["drawn"] for c in charts)
    res.chart_errors = sorted({c["text"] for c in charts if not c["drawn"] and c["text"]})
    server.close_sessions()
    return res


# =========================================================================== driver
def _select(names: list[str], folder: Path = NOTEBOOKS) -> list[Path]:
    """The phase notebooks (``NN_name.ipynb``) of ``folder`` matching ``names`` (a number
    such as ``02``, a stem or a file name); all of them when ``names`` is empty."""
    all_nbs = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return all_nbs
    chosen = []
    for n in names:
        hits = [p for p in all_nbs if p.name == n or p.stem == n or p.name.startswith(f"{n}_")]
        if not hits:
            raise CheckError(f"no notebook matches {n!r} in {folder}")
        chosen += [h for h in hits if h not in chosen]
    return chosen


def run_check(
    names: list[str],
    out_dir: Path,
    *,
    chromium: str | None = None,
    timeout: float = 240.0,
    max_controls: int | None = None,
    folder: Path = NOTEBOOKS,
    log=print,
) -> dict[str, Any]:
    """Run the whole check; returns the report (also written to ``out_dir/report.json``)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise CheckError("Playwright is not installed: pip install 'cpkit[ui]'") from exc
    browser_path = find_chromium(chromium)
    notebooks = _select(names, folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[NotebookResult] = []
    failed_requests: set[str] = set()
    page_errors: dict[str, int] = {}
    console: dict[str, int] = {}
    t_start = time.monotonic()
    with LabServer(notebooks) as server, sync_playwright() as pw:
        log(f"jupyter lab on {server.base}, serving a copy of {len(notebooks)} notebook(s)")
        browser = pw.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.on(
                "requestfailed",
                lambda r: failed_requests.add(re.sub(r"^(https?://[^/]+).*$", r"\1", r.url)),
            )

            def on_page_error(exc: object) -> None:
                key = str(exc)[:300]
                page_errors[key] = page_errors.get(key, 0) + 1

            page.on("pageerror", on_page_error)

            def on_console(msg: Any) -> None:
                if msg.type in ("error", "warning"):
                    key = f"{msg.type}: {msg.text[:240]}"
                    console[key] = console.get(key, 0) + 1

            page.on("console", on_console)
            for nb in notebooks:
                log(f"{nb.name}: open, Run All Cells ...")
                try:
                    res = check_notebook(page, server, nb.name, out_dir, timeout, max_controls)
                except Exception as exc:  # report and go on with the next notebook
                    res = NotebookResult(name=nb.name, problems=[f"check failed: {exc}"])
                    with contextlib.suppress(Exception):
                        path = out_dir / f"{nb.stem}_failure.png"
                        page.screenshot(path=str(path))
                        res.screenshots.append(str(path))
                results.append(res)
                log(_summary_line(res))
        finally:
            browser.close()
    report = {
        "jupyterlab": _version("jupyterlab"),
        "ipywidgets": _version("ipywidgets"),
        "jupyterlab_widgets": _version("jupyterlab_widgets"),
        "chromium": browser_path,
        "total_s": round(time.monotonic() - t_start, 1),
        "notebooks": [
            {**asdict(r), "widgets_ok": r.widgets_ok, "changes": [asdict(c) for c in r.changes]}
            for r in results
        ],
        "latency_ms": _latency_stats(results),
        "failed_request_hosts": sorted(failed_requests),
        "page_errors": page_errors,
        "console_messages": console,
        "ok": all(r.widgets_ok for r in results),
        "charts_ok": all(r.charts_drawn == r.charts for r in results),
    }
    (out_dir / "report.json").write_text(
        json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    return report


def _version(pkg: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def _latency_stats(results: list[NotebookResult]) -> dict[str, Any]:
    """Median and maximum, in ms, of the time to the output's first change (the kernel
    answered and the new output was put in) and to its last change (charts drawn)."""
    stats: dict[str, Any] = {}
    for key, attr in (("settled", "latency_ms"), ("first_change", "first_change_ms")):
        values = [getattr(c, attr) for r in results for c in r.changes]
        values = [v for v in values if v is not None]
        stats[key] = {
            "n": len(values),
            "median": round(statistics.median(values), 1) if values else None,
            "max": max(values) if values else None,
        }
    return stats


def _summary_line(r: NotebookResult) -> str:
    ok = sum(c.ok for c in r.changes)
    lat = [c.latency_ms for c in r.changes if c.latency_ms is not None]
    lat_txt = f", latency {min(lat):.0f}-{max(lat):.0f} ms" if lat else ""
    run = f"{r.run_s:.1f} s" if r.run_s is not None else "-"
    return (
        f"  {'OK  ' if r.widgets_ok else 'FAIL'} {r.name}: {r.cells_run}/{r.code_cells} cells in {run}, "
        f"{len(r.error_outputs)} errors, widgets drawn {r.widget_views_drawn}/{r.widget_views}, "
        f"{r.boxes} box(es), changes ok {ok}/{len(r.changes)}{lat_txt}, "
        f"charts drawn {r.charts_drawn}/{r.charts}"
        + ("".join(f"\n       - {p}" for p in r.problems))
    )


def print_report(report: dict[str, Any]) -> None:
    """Human-readable detail of every change and the findings."""
    for nb in report["notebooks"]:
        print(f"\n{nb['name']}")
        for c in nb["changes"]:
            lat = f"{c['latency_ms']:.0f} ms" if c["latency_ms"] is not None else "-"
            state = "ok" if c["problem"] is None else c["problem"]
            what = (
                "text" if c["text_changed"] else ("chart/html" if c["output_changed"] else "none")
            )
            print(
                f"  box {c['box']} {c['kind']:<8} {c['control'][:28]:<28} "
                f"{c['before']} -> {c['after']}: output changed ({what}) in {lat}: {state}"
            )
        for e in nb["error_outputs"] + nb["widget_view_problems"]:
            print(f"  ! {e}")
        for e in nb["stderr_outputs"]:
            print(f"  stderr: {e[:160]}")
        if nb["kernel_dialog"]:
            print("  JupyterLab asked for a kernel (answered with the default)")
        for e in nb["chart_errors"]:
            print(f"  chart not drawn: {e[:160]}")
        for s in nb["screenshots"]:
            print(f"  screenshot {s}")
    for key, what in (("first_change", "to the new output"), ("settled", "until it settled")):
        lat = report["latency_ms"][key]
        print(
            f"latency {what}, {lat['n']} change(s): median {lat['median']} ms, max {lat['max']} ms"
        )
    if report["failed_request_hosts"]:
        hosts = ", ".join(report["failed_request_hosts"])
        print(f"requests the browser could not complete: {hosts}")
    charts = sum(nb["charts"] for nb in report["notebooks"])
    drawn = sum(nb["charts_drawn"] for nb in report["notebooks"])
    print(
        f"total {report['total_s']} s; widgets {'OK' if report['ok'] else 'FAILED'}; "
        f"interactive charts drawn {drawn}/{charts} ({'OK' if report['charts_ok'] else 'FAILED'})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", help="e.g. 02 03 or 02_pre_assessment.ipynb (default: all)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "build" / "lab-widgets",
        help="screenshots and report.json",
    )
    parser.add_argument("--chromium", help="path of the Chromium binary")
    parser.add_argument(
        "--timeout", type=float, default=240.0, help="seconds per step (default 240)"
    )
    parser.add_argument(
        "--max-controls", type=int, help="change at most this many controls per box"
    )
    parser.add_argument(
        "--from",
        dest="folder",
        type=Path,
        default=NOTEBOOKS,
        help="folder of the notebooks (default: notebooks/)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    try:
        report = run_check(
            args.notebooks,
            args.out,
            chromium=args.chromium,
            timeout=args.timeout,
            max_controls=args.max_controls,
            folder=args.folder,
            log=log,
        )
    except CheckError as exc:
        print(f"check_lab_widgets: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
    else:
        print_report(report)
    return 0 if report["ok"] and report["charts_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
