"""Stopping a batch: SIGTERM, Ctrl-C (SIGINT to the process group) and kill -9 of the
``cpkit render`` process leave no worker, kernel or browser running, and no half-written
report; the same command run again completes the batch."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from test_render import NOTEBOOKS, make_dataset

SLOW_CELL = {
    "cell_type": "code",
    "execution_count": None,
    "id": "slow-down",
    "metadata": {},
    "outputs": [],
    "source": [
        "import os, time\n",
        "if os.environ.get('CPKIT_TEST_SLOW'):\n",
        "    time.sleep(60)",
    ],
}


def slow_notebooks(tmp_path: Path) -> Path:
    """The stand-in phase notebooks, the third of which sleeps when CPKIT_TEST_SLOW is set
    (so a run is surely in progress when the signal comes)."""
    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, folder, ignore=shutil.ignore_patterns("*.py"))
    nb_path = sorted(folder.glob("03_*.ipynb"))[0]
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    nb["cells"].append(SLOW_CELL)
    nb_path.write_text(json.dumps(nb), encoding="utf-8")
    return folder


def cmdline(p: psutil.Process) -> str:
    """A process's command line, or "" when it is gone or a zombie (short-lived helper
    processes come and go while the run starts)."""
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def descendants(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def start(tmp_path: Path, *, new_session: bool = False):
    ds = tmp_path / "ds"
    ds.mkdir()
    make_dataset(ds, "alpha", id="alpha")
    make_dataset(ds, "beta", id="beta")
    out = tmp_path / "out"
    cmd = [str(Path(sys.executable).with_name("cpkit")), "render", str(ds / "*"), "--out",
           str(out), "--format", "html", "--workers", "2", "--quiet",
           "--notebooks", str(slow_notebooks(tmp_path))]  # fmt: skip
    env = dict(__import__("os").environ, CPKIT_TEST_SLOW="1")
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=new_session,
    )  # fmt: skip
    parent = psutil.Process(proc.pid)
    # wait until both workers run a kernel: the run is then surely in progress
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        kernels = [p for p in descendants(parent) if "ipykernel" in cmdline(p)]
        if len(kernels) >= 2:
            break
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the workers did not start their kernels")
    time.sleep(2.0)  # into the slow cell
    return proc, descendants(parent), cmd, out


def assert_all_gone(procs: list[psutil.Process], within: float = 40.0) -> None:
    _, alive = psutil.wait_procs(procs, timeout=within)
    running = []
    for p in alive:  # a zombie has exited; only its parent (init here) has yet to reap it
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                running.append(p)
        except psutil.Error:
            pass
    assert not running, [cmdline(p)[:120] for p in running]


def assert_nothing_half_written_and_rerun_completes(out: Path, cmd: list[str]) -> None:
    for eid in ("alpha", "beta"):
        assert not (out / eid).exists()  # neither got past notebook 3: nothing in place
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "2 rendered" in done.stdout, done.stdout
    for eid in ("alpha", "beta"):
        assert (out / eid / "report.zh.html").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".staging-")]


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_stopped_run_stops_its_workers_and_kernels(tmp_path, how):
    proc, kids, cmd, out = start(tmp_path, new_session=True)
    assert kids
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:  # Ctrl-C in a terminal: SIGINT to the whole foreground process group
        import os

        os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + getattr(signal, how), stderr
    assert "run the same command again" in stderr
    assert_all_gone(kids)
    assert_nothing_half_written_and_rerun_completes(out, cmd)


def test_a_killed_main_process_takes_its_workers_and_kernels_along(tmp_path):
    proc, kids, cmd, out = start(tmp_path)
    proc.kill()  # kill -9: no handler runs in the main process
    proc.communicate(timeout=30)
    assert_all_gone(kids)  # the workers' watchdogs notice and clean up
    assert_nothing_half_written_and_rerun_completes(out, cmd)
