"""Benchmark: the seven phase notebooks on one sample, cold (papermill CLI) and warm.

    .venv/bin/python benchmarks/bench_notebooks.py [--sample sample-plating] [--lang zh]
        [--skip-cli] [--repeat 2] [--profile]

(a) ``papermill`` CLI per notebook (a new kernel each time, what a user runs by hand):
    wall time, and the sum of the cell durations papermill writes into the executed
    notebook's ``metadata.papermill`` (the rest is kernel start, imports of the first
    cell excluded, and shutdown).
(b) one warm kernel (:class:`cpkit.render.kernel.WarmKernel`, as ``cpkit render`` uses):
    the kernel start with its preloads once, then the seven notebooks ``--repeat`` times
    (the first pass still pays what the preloads do not cover; later passes are what each
    further enterprise costs).

For each notebook it prints the time of its ``open_phase`` cell and of its slowest cells,
against the 3 s target per notebook. ``--profile`` runs the seven notebooks' code once
more in this process under cProfile and prints the top functions (where the time goes).
Figures depend on the machine and its load; no asserts. Output: benchmarks/out/notebooks.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "benchmarks" / "out" / "notebooks"
BIN = Path(sys.executable).parent
TARGET_S = 3.0


def cell_times(nb) -> list[tuple[float, int, str]]:
    """(seconds, position, first line) of every executed code cell, from papermill's metadata."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        duration = (cell.metadata.get("papermill") or {}).get("duration")
        if duration is None:
            continue
        first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
        out.append((float(duration), i, first[:60]))
    return out


def open_phase_seconds(cells: list[tuple[float, int, str]], nb) -> float:
    return sum(d for d, i, _ in cells if "open_phase(" in nb.cells[i].source)


def summarise(label: str, rows: list[tuple[str, float, float, float, list]]) -> None:
    print(f"\n{label}")
    print(f"  {'notebook':<26}{'wall s':>8}{'cells s':>9}{'open_phase':>11}  target {TARGET_S:.0f} s;"
          " slowest cells")  # fmt: skip
    for name, wall, cells_s, op, top in rows:
        flag = "ok" if wall <= TARGET_S else "over"
        tops = "; ".join(f"{d:.2f} s #{i} {src}" for d, i, src in top)
        print(f"  {name:<26}{wall:>8.2f}{cells_s:>9.2f}{op:>11.2f}  {flag:<5}{tops}")
    print(f"  {'total':<26}{sum(r[1] for r in rows):>8.2f}{sum(r[2] for r in rows):>9.2f}")


def run_cli(paths: list[Path], dataset: Path, lang: str) -> list:
    rows = []
    for path in paths:
        target = OUT / "cli" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(BIN / "papermill"), str(path), str(target), "--cwd", str(NOTEBOOKS),
             "-p", "dataset", str(dataset), "-p", "lang", lang, "-p", "interactive", "False",
             "--no-progress-bar", "--log-level", "ERROR"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        if proc.returncode:
            print(f"  {path.name}: papermill failed: {proc.stderr.strip().splitlines()[-1:]}")
        nb = nbformat.read(target, as_version=4)
        cells = cell_times(nb)
        rows.append(
            (path.name, wall, sum(c[0] for c in cells), open_phase_seconds(cells, nb),
             sorted(cells, reverse=True)[:2])
        )  # fmt: skip
    return rows


def run_warm(paths: list[Path], dataset: Path, lang: str, repeat: int) -> None:
    from cpkit.render.kernel import WarmKernel, load_notebook

    t0 = time.perf_counter()
    kernel = WarmKernel(cwd=NOTEBOOKS)
    kernel.start()
    print(
        f"\n(b) warm kernel: start with preloads {time.perf_counter() - t0:.2f} s (once per worker)"
    )
    try:
        for r in range(repeat):
            rows = []
            for path in paths:
                nb = load_notebook(path)
                t = time.perf_counter()
                done = kernel.execute(
                    nb,
                    {
                        "dataset": str(dataset),
                        "lang": lang,
                        "interactive": False,
                        "teaching": False,
                    },
                    input_path=str(path),
                    cwd=NOTEBOOKS,
                )
                wall = time.perf_counter() - t
                cells = cell_times(done)
                rows.append(
                    (path.name, wall, sum(c[0] for c in cells), open_phase_seconds(cells, done),
                     sorted(cells, reverse=True)[:2])
                )  # fmt: skip
            summarise(f"(b) warm kernel, pass {r + 1}" + (" (first enterprise)" if r == 0 else ""),
                      rows)  # fmt: skip
    finally:
        kernel.shutdown()


def profile_in_process(paths: list[Path], dataset: Path, lang: str, top: int = 25) -> None:
    """The notebooks' code in this process (one warm-up pass, one profiled pass)."""
    from IPython.core.interactiveshell import InteractiveShell

    sys.modules.setdefault("rfc3987_syntax", None)  # as the warm kernel does
    os.environ.setdefault("CPKIT_BATCH", "1")
    shell = InteractiveShell.instance()
    cwd = os.getcwd()
    os.chdir(NOTEBOOKS)
    prof = cProfile.Profile()
    try:
        for profiled in (False, True):
            for path in paths:
                nb = nbformat.read(path, as_version=4)
                for cell in nb.cells:
                    if cell.cell_type != "code":
                        continue
                    src = cell.source
                    if "parameters" in cell.metadata.get("tags", []):
                        src += (f"\ndataset = {str(dataset)!r}\nlang = {lang!r}\n"
                                "interactive = False\nteaching = False\n")  # fmt: skip
                    if profiled:
                        prof.enable()
                    res = shell.run_cell(src, silent=True)
                    if profiled:
                        prof.disable()
                    if res.error_in_exec is not None:
                        print(f"  {path.name}: {res.error_in_exec!r}")
                        break
                shell.reset(new_session=True)
    finally:
        os.chdir(cwd)
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(top)
        lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
        print(f"\ncProfile of the seven notebooks (second pass, in process), by {key}:")
        print("\n".join(ln[:160] for ln in lines[2:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", default="sample-plating", help="folder under data/samples")
    ap.add_argument("--lang", default="zh")
    ap.add_argument("--repeat", type=int, default=2, help="warm-kernel passes")
    ap.add_argument("--skip-cli", action="store_true", help="skip the papermill CLI runs")
    ap.add_argument("--profile", action="store_true", help="cProfile the notebooks in process")
    args = ap.parse_args()
    dataset = (ROOT / "data" / "samples" / args.sample).resolve()
    paths = sorted(NOTEBOOKS.glob("0[1-7]_*.ipynb"))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"sample {args.sample}, lang {args.lang}, {len(paths)} notebooks")  # fmt: skip
    if not args.skip_cli:
        rows = run_cli(paths, dataset, args.lang)
        summarise("(a) papermill CLI, one new kernel per notebook (wall includes kernel start, "
                  "imports and shutdown)", rows)  # fmt: skip
    run_warm(paths, dataset, args.lang, args.repeat)
    if args.profile:
        profile_in_process(paths, dataset, args.lang)


if __name__ == "__main__":
    main()
