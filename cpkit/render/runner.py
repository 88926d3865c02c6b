"""Batch rendering: every dataset -> executed phase notebooks -> report HTML and PDF.

:func:`render` is the entry point (``cpkit render`` calls it). The work unit is one
enterprise: read and validate its dataset, run the phase notebooks once per language on
the worker's warm kernel (:class:`cpkit.render.kernel.WarmKernel`), assemble one report
per language, write HTML and PDF, and swap the finished folder into place atomically.
Units run on a pool of worker processes (``executor="local"``), each holding one warm
kernel, or on a Dask cluster through its concurrent.futures executor
(``executor="dask"``); with one worker everything runs in this process.

Output layout (docs/rendering.md)::

    DIR/index.html                       every enterprise, key figures, rankings
    DIR/summary.csv                      one row per enterprise and language
    DIR/<id>/report.<lang>.html|pdf      the reports (zh, en)
    DIR/<id>/notebooks/<lang>/NN_*.ipynb executed notebooks, papermill-style
    DIR/<id>/failed.html                 only when something failed: what and where
    DIR/<id>/.render.json                fingerprint, status, records of the last render
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpkit import __version__, i18n
from cpkit.errors import CpkitError
from cpkit.render import atomic
from cpkit.render.inputs import (
    Source,
    assign_ids,
    environment_digest,
    expand_paths,
    find_notebooks,
    fingerprint,
    input_digest,
)

log = logging.getLogger("cpkit.render")

FORMATS = ("html", "pdf")
STATE_FILE = ".render.json"
FAILED_PAGE = "failed.html"
LOCK_FILE = ".cpkit-render.lock"


class RenderError(CpkitError):
    """The render run itself cannot go on (bad options, output folder in use)."""


# --------------------------------------------------------------------------- results
@dataclass
class LangResult:
    """How one language of one enterprise went."""

    lang: str
    status: str  # ok | failed | skipped
    seconds: float = 0.0
    stage: str | None = None  # validation | kernel | notebook | assembly | pdf | internal
    error: str | None = None  # one line
    html: str | None = None  # path relative to the enterprise folder
    pdf: str | None = None
    pages: int | None = None
    pdf_engine: str | None = None  # chromium | weasyprint: the engine that wrote the PDF
    chart_engine: str | None = None  # chromium | vl-convert: what drew the charts (batch)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # notebooks, assembly, pdf (s)


@dataclass
class EnterpriseResult:
    """How one enterprise went, with what the index needs."""

    eid: str
    source: str
    dataset_id: str | None
    status: str  # ok | failed | skipped (up to date) ; failed if any language failed
    langs: dict[str, LangResult] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    fingerprint: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")

    def reason(self) -> str:
        """One line saying why it failed (empty when it did not)."""
        for r in self.langs.values():
            if r.status == "failed":
                return f"[{r.lang}] {r.stage}: {r.error}"
        return ""

    def to_state(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["cpkit_version"] = __version__
        return data

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> EnterpriseResult:
        langs = {k: LangResult(**v) for k, v in data.get("langs", {}).items()}
        fields_ = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in fields_ and k != "langs"}
        return cls(langs=langs, **kwargs)


@dataclass
class RenderSummary:
    """What a render run did."""

    out: Path
    results: list[EnterpriseResult]
    seconds: float
    executor: str
    workers: int
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[EnterpriseResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def rendered(self) -> list[EnterpriseResult]:
        return [r for r in self.results if r.status == "ok"]

    @property
    def skipped(self) -> list[EnterpriseResult]:
        return [r for r in self.results if r.status == "skipped"]

    @property
    def exit_code(self) -> int:
        """0 when every enterprise has its reports, 1 when any failed."""
        return 1 if self.failed else 0

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    @property
    def summary_csv(self) -> Path:
        return self.out / "summary.csv"


# --------------------------------------------------------------------------- the task
@dataclass(frozen=True)
class Task:
    """Everything a worker needs to render one enterprise (picklable)."""

    source: str
    eid: str
    dataset_id: str | None
    out: str
    langs: tuple[str, ...]
    formats: tuple[str, ...]
    notebooks: tuple[str, ...]
    parameters: dict[str, Any]
    notebook_parameters: dict[str, dict[str, Any]]
    fingerprint: str
    kernel: dict[str, Any]
    toc_depth: int = 2
    pdf_engine: str = "auto"
    chart_engine: str = "auto"


_KERNELS: dict[int, Any] = {}
_KERNELS_LOCK = threading.Lock()
_NOTEBOOKS: dict[tuple[str, float], Any] = {}


def _kernel(options: Mapping[str, Any]):
    """This thread's warm kernel (one per worker process, or per Dask worker thread)."""
    from cpkit.render.kernel import WarmKernel

    key = threading.get_ident()
    with _KERNELS_LOCK:
        kernel = _KERNELS.get(key)
        if kernel is None:
            kernel = WarmKernel(**options)
            _KERNELS[key] = kernel
            if len(_KERNELS) == 1:
                import atexit

                atexit.register(shutdown_kernels)
    return kernel


def shutdown_kernels() -> int:
    """Stop the warm kernels of this process; return how many were stopped.

    Runs the shutdowns on a helper thread: the caller may be an event-loop thread (Dask
    calls this from its worker loop), where a kernel's own loop cannot be driven.
    """
    with _KERNELS_LOCK:
        kernels = list(_KERNELS.values())
        _KERNELS.clear()

    def stop() -> None:
        for k in kernels:
            with contextlib.suppress(Exception):
                k.shutdown()

    if kernels:
        helper = threading.Thread(target=stop, name="cpkit-kernel-shutdown")
        helper.start()
        helper.join(timeout=60)
    return len(kernels)


def shutdown_worker() -> int:
    """Stop this process's warm kernels and close its PDF browser (the end of a worker:
    the runner calls it when a run ends, atexit does in worker processes); return how
    many kernels were stopped."""
    n = shutdown_kernels()
    from cpkit.render.browser import close_browser

    with contextlib.suppress(Exception):
        close_browser()
    return n


class RenderInterrupted(KeyboardInterrupt):
    """The run was stopped by SIGTERM or Ctrl-C. Finished enterprises are in place;
    the others were not written (their staging folders are dropped); running the same
    command again completes the batch."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def _stop_on_signals():
    """In the main thread of the main process: turn SIGTERM into :class:`RenderInterrupted`
    (like Ctrl-C), so the run ends through its clean-up paths (workers, kernels and
    browsers stopped, lock released) instead of dying with its children left running."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise RenderInterrupted(signum)

    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except RenderInterrupted:
        raise
    except KeyboardInterrupt as exc:
        raise RenderInterrupted(signal.SIGINT) from exc
    finally:
        signal.signal(signal.SIGTERM, old)


_STOPPING = threading.Event()


def _worker_init() -> None:
    """Initializer of the local worker processes.

    - SIGTERM (sent by the main process when the run is stopped): stop this worker's
      kernels and browser, then exit at once.
    - SIGINT is ignored: on Ctrl-C the terminal signals the whole process group, and the
      main process decides (it sends SIGTERM to the workers).
    - If the main process dies without a word (kill -9), a watchdog thread notices that
      the parent changed and cleans up the same way, so no worker, kernel or browser is
      left running behind.
    """
    import signal

    def bye(signum=None, frame=None, code: int = 143) -> None:
        _STOPPING.set()  # no enterprise is put in place from now on
        with contextlib.suppress(BaseException):
            shutdown_worker()
        os._exit(code)

    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                bye(code=1)

    threading.Thread(target=watch, name="cpkit-parent-watch", daemon=True).start()


def _stop_pool(pool: ProcessPoolExecutor, grace: float = 20.0) -> None:
    """Stop a pool's workers now: cancel queued work, SIGTERM each worker (its handler
    stops its kernels and browser), wait up to ``grace`` seconds, then SIGKILL."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def _notebook(path: str):
    from cpkit.render.kernel import load_notebook

    key = (path, os.path.getmtime(path))
    nb = _NOTEBOOKS.get(key)
    if nb is None:
        nb = load_notebook(path)
        _NOTEBOOKS[key] = nb
    return nb


_PROBE = """\
def _cpkit_probe(path):
    import datetime, math
    from IPython.display import display
    from cpkit.errors import CpkitError, DatasetError
    try:
        from cpkit.dataset import load
        ds = load(path)
    except DatasetError as exc:
        out = {{"problems": [dict(file=p.file, sheet=p.sheet, row=p.row, column=p.column,
                                 message=p.message) for p in exc.problems]}}
    except CpkitError as exc:
        out = {{"problems": [dict(file=str(path), sheet=None, row=None, column=None,
                                 message=str(exc))]}}
    except Exception as exc:
        out = {{"problems": [dict(file=str(path), sheet=None, row=None, column=None,
                                 message=f"unexpected {{type(exc).__name__}}: {{exc}}")]}}
    else:
        def plain(v):
            if isinstance(v, (datetime.date, datetime.datetime)):
                return v.isoformat()
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            if isinstance(v, float) and math.isnan(v):
                return None
            return v
        out = {{"profile": {{k: plain(v) for k, v in ds.profile.model_dump().items()}},
               "id": ds.id}}
    display({{"application/json": out}}, raw=True)
_cpkit_probe({path!r})
"""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _one_line(text: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", _ANSI.sub("", str(text))).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _LangFailed(Exception):
    def __init__(self, stage: str, error: str, detail: dict[str, Any]):
        super().__init__(error)
        self.stage, self.error, self.detail = stage, error, detail


def _write_notebook(nb, path: Path, final_path: Path) -> None:
    import nbformat

    nb.metadata.setdefault("papermill", {})["output_path"] = str(final_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        nbformat.write(nb, fh)


def run_task(task: Task) -> EnterpriseResult:
    """Render one enterprise (runs in a worker). Never raises: a failure becomes a
    failed result with a failure page in the enterprise folder."""
    started = time.perf_counter()
    out = Path(task.out)
    target = out / task.eid
    result = EnterpriseResult(
        eid=task.eid,
        source=task.source,
        dataset_id=task.dataset_id,
        status="ok",
        fingerprint=task.fingerprint,
    )
    staging = None
    try:
        staging = atomic.new_staging(out, task.eid)
        _render_into(task, staging, target, result)
        result.status = (
            "failed" if any(r.status == "failed" for r in result.langs.values()) else "ok"
        )
        result.seconds = round(time.perf_counter() - started, 3)
        _finish(task, staging, result)
        if _STOPPING.is_set():  # the worker is being stopped: an error now is ours
            return result
        atomic.commit(staging, target)
        staging = None
    except Exception as exc:
        log.exception("internal error rendering %s", task.eid)
        result.status = "failed"
        message = f"{type(exc).__name__}: {exc}"
        for lang in task.langs:
            r = result.langs.get(lang)
            if r is None or r.status != "failed":
                result.langs[lang] = LangResult(
                    lang, "failed", stage="internal", error=_one_line(message)
                )
        result.failures.append({"stage": "internal", "lang": None, "error": message})
        result.seconds = round(time.perf_counter() - started, 3)
        with contextlib.suppress(Exception):
            if staging is not None:
                import shutil

                shutil.rmtree(staging, ignore_errors=True)
            staging = atomic.new_staging(out, task.eid)
            _finish(task, staging, result)
            if not _STOPPING.is_set():
                atomic.commit(staging, target)
                staging = None
    finally:
        if staging is not None:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
    return result


def _finish(task: Task, staging: Path, result: EnterpriseResult) -> None:
    from cpkit.render.failure import failure_page

    # plain writes: the staging folder is flushed to disk as a whole by atomic.commit
    if result.status == "failed":
        lang = task.langs[0]
        (staging / FAILED_PAGE).write_text(failure_page(result, lang), encoding="utf-8")
    state = result.to_state()
    state["rendered_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    state["formats"] = list(task.formats)
    (staging / STATE_FILE).write_text(
        json.dumps(state, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )


def _render_into(task: Task, staging: Path, target: Path, result: EnterpriseResult) -> None:
    from papermill.exceptions import PapermillExecutionError

    from cpkit.render.assembly import assemble_report, enterprise_name
    from cpkit.render.charts import ChartError, draw_charts
    from cpkit.render.kernel import KernelError
    from cpkit.render.record import collect

    kernel = _kernel(task.kernel)
    try:
        kernel.start()  # once per worker; not counted as this enterprise's time
        t0 = time.perf_counter()
        probe = kernel.call_json(_PROBE.format(path=task.source))
    except KernelError as exc:
        error = _one_line(str(exc))
        for lang in task.langs:
            result.langs[lang] = LangResult(lang, "failed", 0.0, "kernel", error)
        result.failures.append({"stage": "kernel", "lang": None, "error": str(exc)})
        return
    read_seconds = time.perf_counter() - t0
    if "problems" in probe:
        problems = probe["problems"]
        first = problems[0] if problems else {"message": "invalid dataset"}
        error = _one_line(
            f"{len(problems)} problem(s) in the dataset; first: {_problem_text(first)}"
        )
        for lang in task.langs:
            result.langs[lang] = LangResult(
                lang, "failed", round(read_seconds, 3), "validation", error
            )
        result.failures.append({"stage": "validation", "lang": None, "problems": problems})
        return
    profile = probe["profile"]
    result.names = {lang: enterprise_name(profile, lang) for lang in i18n.LANGS}
    _warm_browser(task)  # launches while the notebooks run
    names = [Path(p).stem for p in task.notebooks]
    cwd = str(Path(task.notebooks[0]).parent)
    for n, lang in enumerate(task.langs):
        t = time.perf_counter()
        lr = LangResult(lang, "ok")
        executed: list[Any] = []
        written: list[Path] = []
        try:
            for path, name in zip(task.notebooks, names, strict=True):
                params = {
                    "dataset": task.source,
                    "lang": lang,
                    "interactive": False,
                    "teaching": False,
                    **task.parameters,
                    **task.notebook_parameters.get(name, {}),
                }
                rel = Path("notebooks") / lang / f"{name}.ipynb"
                try:
                    nb = kernel.execute(
                        _notebook(path),
                        params,
                        input_path=path,
                        output_path=str(target / rel),
                        cwd=cwd,
                    )
                except PapermillExecutionError as exc:
                    _save_notebooks(task, [*executed, exc.nb], [*written, rel], staging, target)
                    f = exc.failure
                    raise _LangFailed(
                        "notebook",
                        _one_line(f"{name}.ipynb, cell {f.cell_number}: {f.ename}: {f.evalue}"),
                        {
                            "notebook": f"{name}.ipynb",
                            "path": rel.as_posix(),
                            **dataclasses.asdict(f),
                        },
                    ) from exc
                except KernelError as exc:
                    _save_notebooks(task, executed, written, staging, target)
                    raise _LangFailed(
                        "notebook",
                        _one_line(f"{name}.ipynb: {exc}"),
                        {
                            "notebook": f"{name}.ipynb",
                            "ename": "KernelError",
                            "evalue": str(exc),
                            "traceback": [kernel.stderr_tail()],
                        },
                    ) from exc
                executed.append(nb)
                written.append(rel)
            lr.timings["notebooks"] = round(time.perf_counter() - t, 3)
            t_charts = time.perf_counter()
            try:
                charts = draw_charts(executed, task.chart_engine)
            except ChartError as exc:
                _save_notebooks(task, executed, written, staging, target, draw=False)
                raise _LangFailed(
                    "charts", _one_line(str(exc)), {"ename": "ChartError", "evalue": str(exc)}
                ) from exc
            if charts.charts:
                lr.chart_engine = charts.engine
                lr.timings["charts"] = round(time.perf_counter() - t_charts, 3)
            _save_notebooks(task, executed, written, staging, target, draw=False)
            if n == 0:
                result.records = collect(executed)
            t_asm = time.perf_counter()
            try:
                report = assemble_report(
                    executed, profile=profile, lang=lang, names=names, toc_depth=task.toc_depth
                )
            except Exception as exc:
                raise _LangFailed(
                    "assembly",
                    _one_line(f"{type(exc).__name__}: {exc}"),
                    {"ename": type(exc).__name__, "evalue": str(exc)},
                ) from exc
            lr.warnings = list(charts.warnings) + list(report.warnings)
            if "html" in task.formats:
                lr.html = f"report.{lang}.html"
                (staging / lr.html).write_text(report.html, encoding="utf-8")
            lr.timings["assembly"] = round(time.perf_counter() - t_asm, 3)
            if "pdf" in task.formats:
                from cpkit.render.pdf import write_pdf

                lr.pdf = f"report.{lang}.pdf"
                t_pdf = time.perf_counter()
                try:
                    info = write_pdf(report.html, staging / lr.pdf, engine=task.pdf_engine)
                    lr.pages, lr.pdf_engine = info.pages, info.engine
                    lr.timings["pdf"] = round(time.perf_counter() - t_pdf, 3)
                except Exception as exc:
                    lr.pdf = None
                    raise _LangFailed(
                        "pdf",
                        _one_line(f"{type(exc).__name__}: {exc}"),
                        {"ename": type(exc).__name__, "evalue": str(exc)},
                    ) from exc
        except _LangFailed as fail:
            lr.status, lr.stage, lr.error = "failed", fail.stage, fail.error
            lr.html = lr.pdf = None
            for name_ in (f"report.{lang}.html", f"report.{lang}.pdf"):
                (staging / name_).unlink(missing_ok=True)
            result.failures.append({"stage": fail.stage, "lang": lang, **fail.detail})
        if n == 0:
            lr.timings["dataset"] = round(read_seconds, 3)
        lr.seconds = round(time.perf_counter() - t + (read_seconds if n == 0 else 0.0), 3)
        result.langs[lang] = lr


def _warm_browser(task: Task) -> None:
    """Start this worker's Chromium in the background if it will draw the charts or
    write the PDFs."""
    from cpkit.render.charts import resolve_chart_engine
    from cpkit.render.pdf import PdfError, resolve_engine

    try:
        wanted = resolve_chart_engine(task.chart_engine) == "chromium" or (
            "pdf" in task.formats and resolve_engine(task.pdf_engine) == "chromium"
        )
    except PdfError:
        wanted = False  # the PDF step reports it
    if wanted:
        from cpkit.render.browser import pdf_browser

        pdf_browser().warm_up()


def _save_notebooks(
    task: Task, notebooks: list[Any], rels: list[Path], staging: Path, target: Path, *, draw=True
) -> None:
    """Write the executed notebooks into the staging folder; with ``draw``, first draw
    their deferred charts (best effort: this is the path of a failed language)."""
    if draw:
        from cpkit.render.charts import draw_charts

        with contextlib.suppress(Exception):
            draw_charts(notebooks, task.chart_engine)
    for nb, rel in zip(notebooks, rels, strict=True):
        _write_notebook(nb, staging / rel, target / rel)


def _problem_text(p: Mapping[str, Any]) -> str:
    where = [str(p.get("file") or "")]
    if p.get("sheet"):
        where.append(f"sheet {p['sheet']}")
    if p.get("row") is not None:
        where.append(f"row {p['row']}")
    if p.get("column"):
        where.append(f"column {p['column']}")
    return f"{', '.join(w for w in where if w)}: {p.get('message')}"


# --------------------------------------------------------------------------- executors
def _run_local(tasks: Sequence[Task], workers: int, on_done) -> None:
    if workers <= 1 or len(tasks) <= 1:
        try:
            for task in tasks:
                on_done(run_task(task))
        finally:
            shutdown_worker()
        return
    import multiprocessing

    pending = list(tasks)
    for attempt in (1, 2):
        ctx = multiprocessing.get_context("spawn")
        done = 0
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(pending)), mp_context=ctx, initializer=_worker_init
        )
        try:
            futures: dict[Future, Task] = {pool.submit(run_task, t): t for t in pending}
            pending = []
            for fut in as_completed(futures):
                try:
                    on_done(fut.result())
                    done += 1
                except BrokenProcessPool:
                    pending.append(futures[fut])
                except Exception as exc:  # run_task does not raise; pickling might
                    on_done(_crashed(futures[fut], exc))
                    done += 1
        except BaseException:
            _stop_pool(pool)
            raise
        else:
            pool.shutdown(wait=True)
        if not pending:
            return
        if attempt == 1 and done == 0:
            raise RenderError(
                "the worker processes could not start. If you call cpkit.render.render() from a "
                'script, put the call under `if __name__ == "__main__":` (worker processes '
                "import your script again); or use workers=1."
            )
        log.warning("a worker process died; retrying %d enterprise(s) on a new pool", len(pending))
        if attempt == 2:
            for task in pending:
                on_done(_crashed(task, RuntimeError("the worker process died (twice)")))


def _crashed(task: Task, exc: BaseException) -> EnterpriseResult:
    message = _one_line(f"{type(exc).__name__}: {exc}")
    result = EnterpriseResult(
        task.eid, task.source, task.dataset_id, "failed", fingerprint=task.fingerprint
    )
    for lang in task.langs:
        result.langs[lang] = LangResult(lang, "failed", stage="internal", error=message)
    result.failures.append({"stage": "internal", "lang": None, "error": message})
    with contextlib.suppress(Exception):
        staging = atomic.new_staging(Path(task.out), task.eid)
        _finish(task, staging, result)
        atomic.commit(staging, Path(task.out) / task.eid)
    return result


def _run_dask(tasks: Sequence[Task], workers: int, scheduler: Any, on_done) -> None:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is an optional extra
        raise RenderError(
            "executor='dask' needs dask.distributed: pip install cpkit[dask]"
        ) from exc
    own_client = own_cluster = None
    if scheduler is None:
        own_cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = own_client = Client(own_cluster)
    elif isinstance(scheduler, str):
        client = own_client = Client(scheduler)
    else:
        client = scheduler  # a distributed.Client given by the caller
    try:
        executor = client.get_executor(pure=False)
        futures = {executor.submit(run_task, t): t for t in tasks}
        for fut in as_completed(futures):
            try:
                on_done(fut.result())
            except Exception as exc:
                on_done(_crashed(futures[fut], exc))
    finally:
        with contextlib.suppress(Exception):
            client.run(shutdown_worker)
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


# --------------------------------------------------------------------------- the run
@contextlib.contextmanager
def _locked(out: Path):
    path = out / LOCK_FILE
    fh = open(path, "a+")  # noqa: SIM115
    try:
        try:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            pass
        except OSError as exc:
            raise RenderError(
                f"another cpkit render is writing to {out}; wait for it or use another --out"
            ) from exc
        yield
    finally:
        fh.close()


def _previous(out: Path, eid: str) -> EnterpriseResult | None:
    try:
        data = json.loads((out / eid / STATE_FILE).read_text(encoding="utf-8"))
        return EnterpriseResult.from_state(data)
    except (OSError, ValueError, TypeError):
        return None


def _up_to_date(prev: EnterpriseResult | None, fp: str, out: Path) -> bool:
    if prev is None or prev.status != "ok" or prev.fingerprint != fp:
        return False
    for r in prev.langs.values():
        for rel in (r.html, r.pdf):
            if rel and not (out / prev.eid / rel).is_file():
                return False
    return True


def _normalise(
    values: str | Iterable[str], allowed: Sequence[str] | None, what: str
) -> tuple[str, ...]:
    items = values.split(",") if isinstance(values, str) else list(values)
    items = [str(v).strip() for v in items if str(v).strip()]
    if not items:
        raise RenderError(f"no {what} given")
    if allowed is not None:
        bad = [v for v in items if v not in allowed]
        if bad:
            raise RenderError(f"unknown {what} {', '.join(bad)}: choose from {', '.join(allowed)}")
    return tuple(dict.fromkeys(items))


def render(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    out: str | os.PathLike,
    langs: str | Sequence[str] = ("zh",),
    formats: str | Sequence[str] = ("html", "pdf"),
    workers: int | None = None,
    executor: str = "local",
    scheduler: Any = None,
    notebooks_dir: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
    *,
    parameters: Mapping[str, Any] | None = None,
    notebook_parameters: Mapping[str, Mapping[str, Any]] | None = None,
    cell_timeout: float | None = 600,
    recycle_after: int = 100,
    kernel_name: str = "python3",
    toc_depth: int = 2,
    pdf_engine: str = "auto",
    chart_engine: str = "auto",
) -> RenderSummary:
    """Render the audit reports of every dataset in ``paths`` into ``out``.

    ``paths``: dataset folders or .xlsx workbooks (globs expanded; a folder of datasets
    stands for its datasets). ``langs``: report languages (``zh``, ``en``). ``formats``:
    ``html`` and/or ``pdf``. ``workers``: parallel workers (default: CPU count, at most one
    per enterprise). ``executor``: ``local`` (worker processes, each with one warm kernel)
    or ``dask`` (``scheduler``: a scheduler address, a ``distributed.Client``, or None for
    a LocalCluster). ``notebooks_dir``: the phase notebooks (default: the repository's
    notebooks/). ``force``: render even enterprises whose last render is up to date.
    ``parameters``: extra notebook parameters for every notebook;
    ``notebook_parameters``: per notebook, by stem (``{"05_feasibility": {...}}``).
    ``cell_timeout``: seconds a cell may run; ``recycle_after``: notebooks per kernel
    before it is restarted. ``pdf_engine``: ``auto`` (Chromium when there is one, else
    WeasyPrint), ``chromium`` or ``weasyprint`` (:mod:`cpkit.render.pdf`); the engine that
    wrote each PDF is in ``summary.csv`` and ``.render.json``. ``chart_engine``: ``auto``
    (Chromium when there is one, else vl-convert), ``chromium`` (the charts of each
    enterprise drawn at once by Vega in the worker's browser, :mod:`cpkit.render.charts`)
    or ``vl-convert`` (drawn in the kernel, as in a notebook run by hand). Returns a :class:`RenderSummary`; ``exit_code`` is 1 if any
    enterprise failed. Raises :class:`RenderError`/:class:`InputError` for unusable
    arguments (nothing rendered).
    """
    started = time.perf_counter()
    main = sys.modules.get("__main__")
    if getattr(main, "__name__", "") == "__mp_main__":
        raise RenderError(
            "cpkit.render.render() was called while a worker process was importing your "
            'script: put the call under `if __name__ == "__main__":`'
        )
    langs = _normalise(langs, i18n.LANGS, "language")
    formats = _normalise(formats, FORMATS, "format")
    if executor not in ("local", "dask"):
        raise RenderError(f"unknown executor {executor!r}: choose local or dask")
    from cpkit.render.charts import resolve_chart_engine
    from cpkit.render.pdf import check_engine, resolve_engine

    try:
        check_engine(pdf_engine)
        if "pdf" in formats and pdf_engine == "chromium":
            resolve_engine(pdf_engine)  # say now, not once per enterprise, if it is missing
        charts_by = resolve_chart_engine(chart_engine)
        if chart_engine == "chromium":
            from cpkit.render.browser import find_chromium

            find_chromium()
    except CpkitError as exc:  # PdfError, ChartError, BrowserError
        raise RenderError(str(exc)) from None
    if workers is not None and workers < 1:
        raise RenderError("workers must be at least 1")
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    datasets, notes = expand_paths(paths)
    notebooks = find_notebooks(notebooks_dir)
    unknown = sorted(set(notebook_parameters or {}) - {p.stem for p in notebooks})
    if unknown:
        raise RenderError(
            f"parameters for unknown notebook(s) {', '.join(unknown)}; the notebooks are "
            f"{', '.join(p.stem for p in notebooks)}"
        )
    from cpkit.render.assembly import templates_dir

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out), _stop_on_signals():
        for line in atomic.recover(out):
            log.info("%s", line)
        sources = assign_ids(datasets)
        env = environment_digest(notebooks, templates_dir())
        settings = {
            "langs": list(langs),
            "formats": list(formats),
            "parameters": dict(parameters or {}),
            "notebook_parameters": {k: dict(v) for k, v in (notebook_parameters or {}).items()},
            "kernel": kernel_name,
            "toc_depth": toc_depth,
        }
        if pdf_engine != "auto" and "pdf" in formats:  # a changed engine renders again
            settings["pdf_engine"] = pdf_engine
        if chart_engine != "auto":
            settings["chart_engine"] = chart_engine
        kernel_options = {
            "kernel_name": kernel_name,
            "cwd": str(notebooks[0].parent),
            "cell_timeout": cell_timeout,
            "recycle_after": recycle_after,
        }
        if charts_by == "chromium":  # the kernels leave the charts to the worker's browser
            from cpkit.display import DEFER_ENV
            from cpkit.render.charts import chart_bundle

            kernel_options["env"] = {DEFER_ENV: "defer"}
            chart_bundle()  # built once (~1.5 s) into the cache, where the workers find it
        results: dict[str, EnterpriseResult] = {}
        tasks: list[Task] = []
        for src in sources:
            fp = fingerprint(input_digest(src.path), env, settings)
            prev = _previous(out, src.eid)
            if not force and _up_to_date(prev, fp, out):
                prev.status, prev.seconds = "skipped", 0.0
                for r in prev.langs.values():
                    r.status, r.seconds = "skipped", 0.0
                results[src.eid] = prev
                continue
            tasks.append(_task(src, out, langs, formats, notebooks, settings, fp, kernel_options))
        n_workers = max(1, min(workers or os.cpu_count() or 1, max(1, len(tasks))))
        bar = _progress(len(sources), progress)
        bar.update(len(results))

        def on_done(res: EnterpriseResult) -> None:
            results[res.eid] = res
            bar.update(1)
            if res.status == "failed" and progress:
                bar.write(f"failed: {res.eid}: {res.reason()}")

        try:
            if tasks:
                if executor == "dask":
                    _run_dask(tasks, n_workers, scheduler, on_done)
                else:
                    _run_local(tasks, n_workers, on_done)
        finally:
            bar.close()
        ordered = [results[s.eid] for s in sources if s.eid in results]
        from cpkit.render.index import write_index, write_summary

        summary = RenderSummary(
            out=out,
            results=ordered,
            seconds=round(time.perf_counter() - started, 3),
            executor=executor,
            workers=n_workers,
            notes=notes,
        )
        write_summary(summary, langs)
        write_index(summary, langs)
    return summary


def _task(src: Source, out: Path, langs, formats, notebooks, settings, fp, kernel_options) -> Task:
    return Task(
        source=str(src.path),
        eid=src.eid,
        dataset_id=src.dataset_id,
        out=str(out),
        langs=tuple(langs),
        formats=tuple(formats),
        notebooks=tuple(str(p) for p in notebooks),
        parameters=dict(settings["parameters"]),
        notebook_parameters=dict(settings["notebook_parameters"]),
        fingerprint=fp,
        kernel=dict(kernel_options),
        toc_depth=settings["toc_depth"],
        pdf_engine=settings.get("pdf_engine", "auto"),
        chart_engine=settings.get("chart_engine", "auto"),
    )


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total, disable=not enabled, unit="enterprise", desc="cpkit render", leave=True
    )
