"""A warm IPython kernel that executes notebook after notebook, the papermill way.

Starting a kernel, importing pandas/Altair/sympy and shutting the kernel down cost about
2.5 s per notebook (docs/rendering.md, "Where the time goes"); the cells of a phase
notebook cost a fraction of that. :class:`WarmKernel` therefore starts one kernel,
imports the heavy modules once, and between notebooks only resets the user namespace
(``InteractiveShell.reset(new_session=True)``: variables and the execution counter go,
imported modules stay, so the next ``import pandas`` is a dictionary look-up).

Each notebook is still run with papermill's own pieces -- ``parameterize_notebook``
(a ``parameters``-tagged cell gets an ``injected-parameters`` cell after it),
``prepare_notebook_metadata``, the ``NotebookExecutionManager`` that writes the
``metadata.papermill`` timings and status of every cell, and ``raise_for_execution_errors``
that adds papermill's error-marker cells -- so an executed notebook looks exactly like one
from ``papermill`` and a failure is a :class:`papermill.PapermillExecutionError`.

Robustness: a kernel start that fails with ZMQ "Address already in use" (ports raced
between processes) is retried on new ports; a kernel that dies during a notebook is
restarted and the notebook retried once; a cell that exceeds the timeout is interrupted,
reported as the failing cell, and the kernel restarted; the kernel is recycled after
``recycle_after`` notebooks or when its memory passes ``max_rss_mb`` (memory stays flat
over hundreds of enterprises).
"""

from __future__ import annotations

import contextlib
import copy
import errno
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbclient.exceptions import CellControlSignal, DeadKernelError
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import Engine, papermill_engines
from papermill.exceptions import PapermillExecutionError
from papermill.execute import (
    prepare_notebook_metadata,
    raise_for_execution_errors,
    remove_error_markers,
)
from papermill.parameterize import parameterize_notebook

from cpkit.errors import CpkitError

log = logging.getLogger("cpkit.render")

ENGINE_NAME = "cpkit-warm"

#: Modules imported once when a kernel starts (what the phase notebooks use).
DEFAULT_PRELOAD = (
    # first: importing it sets the kernel's garbage-collection policy (tune_kernel_gc),
    # which then applies to the imports below too
    "cpkit.notebook",
    "pandas",
    "numpy",
    "altair",
    "sympy",
    "vl_convert",
    "ziamath",
    "markupsafe",
    "IPython.display",
    "cpkit",
    "cpkit.render",
    # the phase notebooks' own modules (with scipy, pint and the report views: ~2.5 s
    # that the first notebook of every kernel paid before)
    "cpkit.display",
    "scipy.special",  # imported lazily by the maths (reconciliation tests, IRR)
    "scipy.optimize",
    "cpkit.views.planning",
    "cpkit.views.pre_assessment",
    "cpkit.views.assessment",
    "cpkit.views.options",
    "cpkit.views.feasibility",
    "cpkit.views.implementation",
    "cpkit.views.continuous",
)

#: Modules kept out of the kernel. ``rfc3987_syntax`` is pulled in by jsonschema's format
#: checkers when JupyterLab is installed and takes ~0.85 s to import; without it Altair
#: validates charts exactly as in an installation without JupyterLab (only the "iri"
#: string format goes unchecked).
DEFAULT_BLOCKED = (
    "rfc3987_syntax",
    "rfc3986_validator",
    "isoduration",
)  # = display.LEAN_IMPORT_BLOCKED

_WARMUP = """\
import sys as _s
for _m in {blocked!r}:
    _s.modules.setdefault(_m, None)
import importlib as _il
for _m in {preload!r}:
    try:
        _il.import_module(_m)
    except Exception:
        pass
try:
    import vl_convert as _v
    _v.vegalite_to_svg({{"mark": "point", "data": {{"values": [{{"a": 1}}]}}, "title": "审核 audit",
                        "encoding": {{"x": {{"field": "a", "type": "quantitative"}}}}}})
except Exception:
    pass
if "cpkit.display" in _s.modules:  # catalogue, pint registry, ziamath's maths font
    try:
        from cpkit import i18n as _i
        _i.catalogue()
        from cpkit import units as _u  # pint's registry: ~0.9 s on first use
        _u.conversion_factor("t/a", "kg/d")
        _s.modules["cpkit.display"].math_svg(r"\\frac{{a}}{{b}}")
    except Exception:
        pass
del _s, _il, _m
"""

_RESET = """\
def _cpkit_reset(cwd):
    # InteractiveShell.reset(new_session=True) ends with a full gc.collect() (~0.1 s with
    # pandas, Altair and sympy loaded); collect the young generations only.
    import gc, os, sys
    full = gc.collect
    gc.collect = lambda generation=2: full(min(generation, 1))
    try:
        get_ipython().reset(new_session=True)
    finally:
        gc.collect = full
    os.chdir(cwd)
    rec = sys.modules.get("cpkit.render.record")
    if rec is not None:
        rec._RECORDS.clear()
_cpkit_reset({cwd!r})
"""


class KernelError(CpkitError):
    """The kernel could not be started or kept running."""


@dataclass
class Failure:
    """Where and why a notebook failed (for failure pages).

    ``cell_index``: 0-based index in the executed notebook as papermill counts it (with
    the injected-parameters cell, before the error-marker cells); ``cell_number``: the
    1-based position of the cell in the notebook as written (what a person counts).
    """

    cell_index: int | None
    cell_number: int | None
    execution_count: int | None
    ename: str
    evalue: str
    traceback: list[str]
    source: str


class _WarmClient(PapermillNotebookClient):
    """papermill's client on a kernel it does not own; remembers the failing cell."""

    failure_exc: Exception | None = None
    failure_index: int | None = None
    timed_out: bool = False

    async def _async_handle_timeout(self, timeout, cell=None):
        self.timed_out = True
        return await super()._async_handle_timeout(timeout, cell)

    def papermill_execute_cells(self):
        # as papermill's, but keeps the exception (its message names the cell)
        from nbclient.exceptions import CellExecutionError

        for index, cell in enumerate(self.nb.cells):
            try:
                self.nb_man.cell_start(cell, index)
                self.execute_cell(cell, index)
            except CellExecutionError as ex:
                self.failure_exc, self.failure_index = ex, index
                self.nb_man.cell_exception(self.nb.cells[index], cell_index=index, exception=ex)
                break
            except CellControlSignal as ex:  # timeouts
                self.failure_exc, self.failure_index = ex, index
                self.nb_man.cell_exception(self.nb.cells[index], cell_index=index, exception=ex)
                raise
            finally:
                self.nb_man.cell_complete(self.nb.cells[index], cell_index=index)


class _WarmEngine(Engine):
    """papermill engine that runs on a :class:`WarmKernel` passed as ``warm_kernel``."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        kernel: WarmKernel = kwargs["warm_kernel"]
        client = _WarmClient(
            nb_man,
            km=kernel.km,
            kernel_name=kernel_name,
            timeout=kwargs.get("execution_timeout"),
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": "CellTimeoutError",
                "evalue": f"the cell did not finish within {kwargs.get('execution_timeout')} s",
                "traceback": [],
            },
            startup_timeout=kernel.startup_timeout,
            log=log,
        )
        client.kc = kernel.kc
        kernel.last_client = client
        return client.execute()


papermill_engines.register(ENGINE_NAME, _WarmEngine)


def _is_address_in_use(exc: BaseException) -> bool:
    return getattr(exc, "errno", None) == errno.EADDRINUSE or "Address already in use" in str(exc)


class WarmKernel:
    """One IPython kernel, started once, reused for many notebooks.

    Use as a context manager or call :meth:`shutdown`. :meth:`execute` runs a notebook
    (papermill semantics) and returns it executed; on a cell error it raises
    :class:`papermill.PapermillExecutionError` with the notebook (error marker cells
    included) attached as ``exc.nb``.
    """

    def __init__(
        self,
        kernel_name: str = "python3",
        *,
        cwd: str | os.PathLike | None = None,
        preload: tuple[str, ...] = DEFAULT_PRELOAD,
        blocked: tuple[str, ...] = DEFAULT_BLOCKED,
        cell_timeout: float | None = 600,
        startup_timeout: float = 60,
        recycle_after: int = 100,
        max_rss_mb: float | None = 2048,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.kernel_name = kernel_name
        self.cwd = str(Path(cwd or os.getcwd()).resolve())
        self.preload = tuple(preload)
        self.blocked = tuple(blocked)
        self.cell_timeout = cell_timeout
        self.startup_timeout = startup_timeout
        self.recycle_after = recycle_after
        self.max_rss_mb = max_rss_mb
        self.env = dict(env or {})
        self.km = None
        self.kc = None
        self._dir: str | None = None
        self._stderr = None
        self._loop = None
        self.last_client = None
        self.notebooks_run = 0  # since the last (re)start
        self.starts = 0
        self.start_seconds = 0.0

    # ------------------------------------------------------------------ event loop
    def _bind(self) -> None:
        """Make this kernel's event loop the one this thread uses.

        The kernel client's sockets belong to one asyncio loop, and nbclient/papermill
        run their coroutines on the loop jupyter_core keeps in a context variable. Under
        Dask, tasks run in thread-pool contexts that may carry another thread's loop;
        binding the kernel's own loop before every use keeps all calls on one loop.
        """
        import asyncio

        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            from jupyter_core import utils

            utils._loop.set(self._loop)
        except (ImportError, AttributeError):  # pragma: no cover - other jupyter_core
            pass

    def _run(self, coro):
        try:
            self._bind()
            return self._loop.run_until_complete(coro)
        except BaseException:
            if hasattr(coro, "close"):
                coro.close()  # never started: no "coroutine was never awaited" warning
            raise

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> WarmKernel:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    @property
    def alive(self) -> bool:
        return self.km is not None and bool(self._run(self._is_alive()))

    async def _is_alive(self) -> bool:
        from jupyter_core.utils import ensure_async

        return await ensure_async(self.km.is_alive())

    def start(self, attempts: int = 5) -> None:
        """Start the kernel (retrying port clashes) and import the preload modules."""
        if self.km is not None:
            return
        t0 = time.perf_counter()
        last: BaseException | None = None
        for attempt in range(attempts):
            try:
                self._start_once()
                break
            except Exception as exc:
                self._discard()
                last = exc
                if _is_address_in_use(exc) or isinstance(exc, RuntimeError | TimeoutError):
                    log.warning("kernel start failed (%s); retrying (%d)", exc, attempt + 1)
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise KernelError(
                    f"the {self.kernel_name!r} kernel could not start: {exc}"
                ) from exc
        else:
            raise KernelError(
                f"the {self.kernel_name!r} kernel could not start after {attempts} attempts: {last}"
            ) from last
        self.starts += 1
        self.notebooks_run = 0
        self.start_seconds += time.perf_counter() - t0

    def _start_once(self) -> None:
        from jupyter_client.manager import AsyncKernelManager

        # IPC sockets in a private folder: no TCP ports to race for, nothing on the network
        self._dir = tempfile.mkdtemp(prefix="cpkit-kernel-")
        km = AsyncKernelManager(
            kernel_name=self.kernel_name, transport="ipc", ip=os.path.join(self._dir, "ipc")
        )
        env = dict(os.environ)
        env.update({"PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "Agg", "CPKIT_BATCH": "1"})
        # Python's own garbage-collection thresholds in a warm kernel: the raised ones of
        # cpkit.notebook.tune_kernel_gc save time in a one-off notebook run, but over a
        # batch they doubled the kernels' memory (2.2 GB instead of 1.1 GB for two
        # workers) at the same speed (benchmarks/bench_render.py). CPKIT_GC in the
        # environment of the render still decides.
        env.setdefault("CPKIT_GC", "default")
        env.update(self.env)
        self.km = km
        self._stderr = open(os.path.join(self._dir, "stderr.log"), "wb")  # noqa: SIM115
        self._run(
            km.start_kernel(
                extra_arguments=["--HistoryManager.enabled=False"],
                cwd=self.cwd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
            )
        )
        kc = km.client()
        kc.start_channels()
        self.kc = kc
        self._run(kc.wait_for_ready(timeout=self.startup_timeout))
        self.run_code(
            _WARMUP.format(preload=self.preload, blocked=self.blocked),
            timeout=max(120.0, self.startup_timeout),
        )

    def stderr_tail(self, chars: int = 2000) -> str:
        """The end of what the kernel process wrote to stderr (for dead-kernel reports)."""
        try:
            with open(os.path.join(self._dir, "stderr.log"), "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - chars))
                return fh.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def _discard(self) -> None:
        km, kc = self.km, self.kc
        self.km = self.kc = None
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()
        if km is not None:
            with contextlib.suppress(Exception):
                self._run(km.shutdown_kernel(now=True))
            with contextlib.suppress(Exception):
                self._run(km.cleanup_resources())
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def shutdown(self) -> None:
        """Stop the kernel (quickly: no graceful wait, the namespace holds nothing to keep)."""
        self._discard()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.close()
        self._loop = None

    def restart(self) -> None:
        """A fresh kernel (after a death, a timeout, or to recycle memory)."""
        self._discard()
        self.start()

    def rss_mb(self) -> float | None:
        """Resident memory of the kernel process in MB (None if unknown)."""
        try:
            import psutil

            pid = self.km.provisioner.process.pid  # type: ignore[union-attr]
            return psutil.Process(pid).memory_info().rss / 1e6
        except Exception:
            return None

    # ------------------------------------------------------------------ running code
    def run_code(self, code: str, timeout: float | None = 60) -> None:
        """Run ``code`` silently in the kernel; raise KernelError if it fails."""
        reply = self._run(
            self.kc._async_execute_interactive(  # type: ignore[union-attr]
                code, silent=True, store_history=False, timeout=timeout, output_hook=lambda m: None
            )
        )
        content = reply.get("content", {})
        if content.get("status") != "ok":
            raise KernelError(
                f"kernel set-up code failed: {content.get('ename')}: {content.get('evalue')}"
            )

    def call_json(self, code: str, timeout: float | None = 120) -> Any:
        """Run ``code`` (which displays one ``application/json`` output) and return it.

        Used to read the dataset inside the kernel before the notebooks run: the dataset
        layer memoises what it loads, so the seven notebooks then reuse it.
        """
        found: list[Any] = []
        errors: list[str] = []

        def hook(msg):
            kind = msg["header"]["msg_type"]
            content = msg.get("content", {})
            if kind in ("display_data", "execute_result"):
                data = content.get("data", {})
                if "application/json" in data:
                    found.append(data["application/json"])
            elif kind == "error":
                errors.append(f"{content.get('ename')}: {content.get('evalue')}")

        if self.km is None:
            self.start()
        reply = self._run(
            self.kc._async_execute_interactive(  # type: ignore[union-attr]
                code, silent=False, store_history=False, timeout=timeout, output_hook=hook
            )
        )
        if reply.get("content", {}).get("status") != "ok" or errors or not found:
            raise KernelError("kernel probe failed: " + ("; ".join(errors) or "no result"))
        return found[-1]

    def _maybe_recycle(self) -> None:
        if self.km is None or not self.alive:
            self.restart()
            return
        if self.recycle_after and self.notebooks_run >= self.recycle_after:
            log.info("recycling kernel after %d notebooks", self.notebooks_run)
            self.restart()
            return
        if self.max_rss_mb:
            rss = self.rss_mb()
            if rss is not None and rss > self.max_rss_mb:
                log.info("recycling kernel at %.0f MB", rss)
                self.restart()

    def execute(
        self,
        notebook: nbformat.NotebookNode,
        parameters: Mapping[str, Any] | None = None,
        *,
        input_path: str | None = None,
        output_path: str | None = None,
        cwd: str | os.PathLike | None = None,
    ) -> nbformat.NotebookNode:
        """Execute a copy of ``notebook`` with ``parameters`` injected, papermill-style.

        Returns the executed notebook. A failing cell raises
        :class:`papermill.PapermillExecutionError` whose ``nb`` attribute is the executed
        notebook (papermill's error marker cells included) and ``failure`` a
        :class:`Failure`.
        """
        if self.km is None:
            self.start()
        for attempt in (1, 2):
            self._maybe_recycle()
            nb = _normalise(copy.deepcopy(notebook))
            if parameters:
                nb = parameterize_notebook(
                    nb, dict(parameters), kernel_name=self.kernel_name, engine_name=ENGINE_NAME
                )
            nb = prepare_notebook_metadata(nb, input_path or "", output_path or "")
            nb = remove_error_markers(nb)
            self.run_code(_RESET.format(cwd=str(Path(cwd or self.cwd).resolve())))
            self.notebooks_run += 1
            self._bind()
            try:
                nb = papermill_engines.execute_notebook_with_engine(
                    ENGINE_NAME,
                    nb,
                    kernel_name=self.kernel_name,
                    progress_bar=False,
                    output_path=None,
                    warm_kernel=self,
                    execution_timeout=self.cell_timeout,
                )
            except DeadKernelError as exc:
                log.warning("kernel died (%s); restarting", exc)
                self._discard()
                if attempt == 2:
                    client = self.last_client
                    raise self._as_failure(
                        client.nb if client else nb,
                        client.failure_index if client else None,
                        "DeadKernelError",
                        "the kernel died while running this cell (twice, on fresh kernels)",
                    ) from exc
                continue
            except CellControlSignal as exc:  # a timeout: the kernel may still be busy
                client = self.last_client
                self._discard()
                raise self._as_failure(
                    client.nb if client else nb,
                    client.failure_index if client else None,
                    "CellTimeoutError",
                    f"the cell did not finish within {self.cell_timeout} s",
                ) from exc
            client = self.last_client
            timed_out = client is not None and client.timed_out
            if timed_out:  # interrupted on timeout: do not trust this kernel any more
                self._discard()
            injected = _injected_index(nb)
            try:
                raise_for_execution_errors(nb, None)
            except PapermillExecutionError as exc:
                if timed_out:
                    exc.ename = "CellTimeoutError"
                    exc.evalue = (
                        f"the cell did not finish within {self.cell_timeout} s (interrupted)"
                    )
                exc.nb = nb
                exc.failure = Failure(
                    cell_index=exc.cell_index,
                    cell_number=_cell_number(exc.cell_index, injected),
                    execution_count=exc.exec_count,
                    ename=exc.ename,
                    evalue=exc.evalue,
                    traceback=list(exc.traceback or []),
                    source=exc.source,
                )
                raise
            return nb
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _as_failure(nb, index, ename, evalue) -> PapermillExecutionError:
        cell = nb.cells[index] if index is not None and index < len(nb.cells) else None
        err = PapermillExecutionError(
            cell_index=index if index is not None else -1,
            exec_count=cell.get("execution_count") if cell is not None else None,
            source=cell.source if cell is not None else "",
            ename=ename,
            evalue=evalue,
            traceback=[],
        )
        err.nb = nb
        err.failure = Failure(
            cell_index=index,
            cell_number=_cell_number(index, _injected_index(nb)),
            execution_count=err.exec_count,
            ename=ename,
            evalue=evalue,
            traceback=[],
            source=err.source,
        )
        return err


def _injected_index(nb) -> int | None:
    for i, cell in enumerate(nb.cells):
        if "injected-parameters" in cell.metadata.get("tags", []):
            return i
    return None


def _cell_number(index: int | None, injected: int | None) -> int | None:
    if index is None or index < 0:
        return None
    return index + 1 - (1 if injected is not None and injected < index else 0)


def _normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What papermill's ``load_notebook_node`` adds: v4 layout, papermill metadata, tags."""
    from papermill import __version__ as papermill_version

    nb = nbformat.v4.upgrade(nb) or nb
    if "papermill" not in nb.metadata:
        nb.metadata["papermill"] = nbformat.from_dict(
            {
                "default_parameters": {},
                "parameters": {},
                "environment_variables": {},
                "version": papermill_version,
            }
        )
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    return nb


def load_notebook(path: str | os.PathLike) -> nbformat.NotebookNode:
    """Read a notebook the way papermill does (v4, papermill metadata, tags present)."""
    from papermill.iorw import load_notebook_node

    return load_notebook_node(str(path))
