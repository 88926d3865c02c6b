"""The warm kernel: papermill semantics on a kernel reused across notebooks, and the
ways it recovers (errors, timeouts, a dying kernel, recycling, a port clash at start)."""

from __future__ import annotations

import errno
import sys

import nbformat
import pytest
import zmq
from papermill.exceptions import PapermillExecutionError

from cpkit.render.kernel import KernelError, WarmKernel


def make_nb(*sources: str, parameters: str = 'dataset = "x"\nlang = "zh"\ninteractive = True\n'):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    p = nbformat.v4.new_code_cell(parameters)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("notes"),
        p,
        *(nbformat.v4.new_code_cell(s) for s in sources),
    ]
    return nb


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    k = WarmKernel(cwd=tmp_path_factory.mktemp("cwd"), preload=("json",), cell_timeout=60)
    k.start()
    yield k
    k.shutdown()


def texts(nb):
    return ["".join(o.get("text", "")) for c in nb.cells for o in c.get("outputs", [])]


def test_parameters_are_injected_the_papermill_way(kernel):
    nb = make_nb("print(dataset, lang, interactive)")
    out = kernel.execute(
        nb, {"dataset": "/data/ds", "lang": "en", "interactive": False}, input_path="in.ipynb"
    )
    tags = [c.metadata.get("tags", []) for c in out.cells]
    assert tags[1] == ["parameters"] and tags[2] == ["injected-parameters"]
    assert "interactive = False" in out.cells[2].source
    assert texts(out) == ["/data/ds en False\n"]
    assert out.metadata.papermill["parameters"] == {
        "dataset": "/data/ds",
        "lang": "en",
        "interactive": False,
    }
    assert out.metadata.papermill["input_path"] == "in.ipynb"
    assert all(
        c.metadata.papermill["status"] == "completed" for c in out.cells if c.cell_type == "code"
    )
    assert nb.cells[2].source == "print(dataset, lang, interactive)"  # the input is not modified
    assert len(nb.cells) == 3


def test_namespace_is_reset_but_modules_stay(kernel):
    first = make_nb("secret = 42\nimport json\njson._cpkit_marker = 'kept'")
    second = make_nb(
        "print('secret' in dir())\nimport json, sys\nprint(getattr(json, '_cpkit_marker', None))"
    )
    kernel.execute(first, {})
    out = kernel.execute(second, {})
    assert texts(out) == ["False\nkept\n"]
    # execution counts start again at 1 in every notebook, as with a fresh kernel
    counts = [c.execution_count for c in out.cells if c.cell_type == "code"]
    assert counts == [1, 2]


def test_a_failing_cell_raises_with_the_notebook_and_where(kernel):
    nb = make_nb("x = 1", "1 / 0", "print('not reached')")
    with pytest.raises(PapermillExecutionError) as info:
        kernel.execute(nb, {"lang": "en"})
    exc = info.value
    assert exc.ename == "ZeroDivisionError"
    assert exc.failure.cell_index == exc.cell_index
    # cells as written: markdown, parameters, "x = 1", "1 / 0" -> the 4th
    assert exc.failure.cell_number == 4
    # papermill puts a message at the top and an anchor just before the failing cell
    failed_cell = exc.nb.cells[exc.cell_index + 2]
    assert failed_cell.source == "1 / 0"
    assert exc.nb.cells[0].metadata["tags"] == ["papermill-error-cell-tag"]
    # the kernel is still usable
    assert texts(kernel.execute(make_nb("print('ok')"), {})) == ["ok\n"]


def test_batch_kernels_keep_pythons_own_gc_policy(kernel):
    """cpkit.notebook raises the GC thresholds in one-off notebook runs; a warm batch kernel
    keeps Python's (the raised ones doubled the batch's memory at the same speed)."""
    code = "import gc, os, cpkit.notebook as n\nprint(os.environ['CPKIT_GC'], n.tune_kernel_gc())"
    assert texts(kernel.execute(make_nb(code), {})) == ["default False\n"]


def test_timeout_fails_the_cell_and_the_kernel_is_replaced(kernel):
    starts = kernel.starts
    kernel.cell_timeout = 2
    try:
        with pytest.raises(PapermillExecutionError) as info:
            kernel.execute(make_nb("import time\ntime.sleep(30)"), {})
    finally:
        kernel.cell_timeout = 60
    assert "CellTimeoutError" in info.value.ename or "did not finish" in str(info.value.evalue)
    assert texts(kernel.execute(make_nb("print('after')"), {})) == ["after\n"]
    assert kernel.starts == starts + 1


def test_a_dying_kernel_is_restarted_and_the_notebook_reported(kernel):
    starts = kernel.starts
    with pytest.raises(PapermillExecutionError) as info:
        kernel.execute(make_nb("import os\nos._exit(3)"), {})
    assert info.value.ename == "DeadKernelError"
    assert texts(kernel.execute(make_nb("print('alive')"), {})) == ["alive\n"]
    assert kernel.starts >= starts + 2  # retried once on a fresh kernel, then a fresh one again


def test_kernel_is_recycled_after_n_notebooks(tmp_path):
    with WarmKernel(cwd=tmp_path, preload=(), recycle_after=2) as k:
        for _ in range(3):
            k.execute(make_nb("pass"), {})
        assert k.starts == 2
        assert k.rss_mb() is None or k.rss_mb() > 10


def test_port_clash_at_start_is_retried(monkeypatch, tmp_path):
    k = WarmKernel(cwd=tmp_path)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise zmq.ZMQError(errno.EADDRINUSE, "Address already in use")
        k.km = object()  # pretend started

    monkeypatch.setattr(k, "_start_once", flaky)
    monkeypatch.setattr(k, "_discard", lambda: None)
    k.start()
    assert len(calls) == 2 and k.starts == 1


def test_other_start_failures_are_reported(monkeypatch, tmp_path):
    k = WarmKernel(kernel_name="no-such-kernel-xyz", cwd=tmp_path)
    with pytest.raises(KernelError, match="could not start"):
        k.start(attempts=2)


@pytest.mark.skipif(sys.platform != "linux", reason="process listing via /proc")
def test_no_kernel_process_is_left_behind(tmp_path):
    import psutil

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with WarmKernel(cwd=tmp_path, preload=()) as k:
        k.execute(make_nb("pass"), {})
        pid = k.km.provisioner.process.pid
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after <= before
