"""Benchmark: batch rendering with cpkit.render against the loop a user would write.

    .venv/bin/python benchmarks/bench_render.py [--n 8] [--naive 1] [--large 40] [--workers 2]
        [--pdf-engine auto|chromium|weasyprint] [--chart-engine auto|chromium|vl-convert]
        [--no-compare]

1. cpkit.render on N synthetic enterprises (copies of the samples in data/samples, else
   tests/fixtures/minimal, with varied ids and numbers): HTML + PDF, one language, on
   ``--workers`` workers with warm kernels, PDFs by ``--pdf-engine``. Prints seconds per
   enterprise and the engine that wrote the PDFs; then, on one of those reports, the PDF
   seconds of both engines (Chromium with its browser open, as in a worker) and the ratio.
2. The naive loop, sequential, on ``--naive`` of the same enterprises: per phase notebook
   ``papermill`` CLI, then ``jupyter nbconvert --to html --no-input`` CLI, then the
   ``weasyprint`` CLI for its PDF. Prints seconds per enterprise and the ratio.
3. Memory on a larger batch (``--large`` enterprises, HTML only): peak resident memory of
   the worker processes and their kernels, sampled every 0.2 s, and the peak in each
   quarter of the run (bounded = kernels recycled before they grow without limit).

The phase notebooks are notebooks/ when all seven exist, else the stand-ins of
tests/fixtures/notebooks (``--notebooks DIR`` chooses). Figures depend on the machine
and its load; no asserts.
Output goes to benchmarks/out/ (git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "render"
BIN = Path(sys.executable).parent


NOTEBOOKS: Path | None = None


def notebooks_dir() -> Path:
    if NOTEBOOKS is not None:
        return NOTEBOOKS
    real = ROOT / "notebooks"
    if len(list(real.glob("0[1-7]_*.ipynb"))) == 7:
        return real
    return ROOT / "tests" / "fixtures" / "notebooks"


def templates() -> list[Path]:
    from cpkit.validate import validate

    samples = [
        p
        for p in sorted((ROOT / "data" / "samples").glob("*"))
        if (p / "enterprise.yaml").is_file()
    ]
    good = [p for p in samples if not validate(p)]
    return good or [ROOT / "tests" / "fixtures" / "minimal"]


def synthesize(n: int, folder: Path) -> list[Path]:
    """n copies of the template datasets with their own id and scaled numbers."""
    import pandas as pd

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    bases = templates()
    out = []
    for i in range(n):
        base = bases[i % len(bases)]
        target = folder / f"ent-{i:04d}"
        shutil.copytree(base, target, ignore=shutil.ignore_patterns("README.md"))
        factor = 0.6 + 0.8 * ((i * 37) % 100) / 100
        doc = yaml.safe_load((target / "enterprise.yaml").read_text(encoding="utf-8"))
        doc["id"] = target.name
        prof = doc["profile"]
        prof["output_value_10k_cny"] = round(float(prof["output_value_10k_cny"]) * factor, 1)
        prof["staff"] = max(1, round(int(prof["staff"]) * factor))
        (target / "enterprise.yaml").write_text(
            yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        hist = target / "history.csv"
        if hist.exists():
            df = pd.read_csv(hist, dtype=str, keep_default_na=False)
            q = pd.to_numeric(df["quantity"], errors="coerce")
            df["quantity"] = [
                f"{v * factor:.6g}" if pd.notna(v) else s
                for v, s in zip(q, df["quantity"], strict=True)
            ]
            df.to_csv(hist, index=False)
        out.append(target)
    return out


class RssMonitor:
    """Peak RSS of this process's children (workers and kernels), sampled in a thread."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        t0 = time.perf_counter()
        while not self._stop.is_set():
            total = 0.0
            for p in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.samples.append((time.perf_counter() - t0, total / 1e6))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak(self, start: float = 0.0, end: float = 1.0) -> float:
        if not self.samples:
            return 0.0
        t_end = self.samples[-1][0]
        sel = [mb for t, mb in self.samples if start * t_end <= t <= end * t_end]
        return max(sel or [0.0])


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children, which
    include the worker processes and, through them, their kernels."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


PDF_ENGINE = "auto"
CHART_ENGINE = "auto"


def run_cpkit(datasets: list[Path], out: Path, workers: int, formats: tuple[str, ...], lang: str):
    from cpkit.render import render

    shutil.rmtree(out, ignore_errors=True)
    # a cold chart cache: every timed run draws its charts (a re-render of unchanged
    # enterprises would find them in the cache and be faster than what is printed here)
    shutil.rmtree(OUT / "cache" / "svg", ignore_errors=True)
    t0, c0 = time.perf_counter(), cpu_seconds()
    summary = render(datasets, out, langs=(lang,), formats=formats, workers=workers,
                     notebooks_dir=notebooks_dir(), force=True, progress=False,
                     pdf_engine=PDF_ENGINE, chart_engine=CHART_ENGINE)  # fmt: skip
    summary.cpu = cpu_seconds() - c0
    return time.perf_counter() - t0, summary


def run_naive(datasets: list[Path], out: Path, lang: str) -> tuple[float, int, float]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    nbs = sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    t0, c0 = time.perf_counter(), cpu_seconds()
    failures = 0
    for ds in datasets:
        for nb in nbs:
            executed = out / f"{ds.name}-{nb.name}"
            done = subprocess.run(
                [str(BIN / "papermill"), str(nb), str(executed), "-p", "dataset", str(ds),
                 "-p", "lang", lang, "-p", "interactive", "False", "--no-progress-bar"],
                check=False, capture_output=True, cwd=nb.parent,
            )  # fmt: skip
            if done.returncode != 0:
                failures += 1
                continue
            subprocess.run(
                [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)],
                check=True, capture_output=True,
            )  # fmt: skip
            html = executed.with_suffix(".html")
            subprocess.run(
                [str(BIN / "weasyprint"), str(html), str(html.with_suffix(".pdf"))],
                check=False, capture_output=True, timeout=600,
            )  # fmt: skip
    return time.perf_counter() - t0, failures, cpu_seconds() - c0


def tree_cpu_seconds() -> float:
    """CPU time (user + system) of this process and its live descendants (for Chromium:
    Playwright's driver and the browser's processes), which RUSAGE_CHILDREN misses."""
    total = 0.0
    me = psutil.Process()
    for p in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def compare_engines(html_path: Path, repeat: int = 2) -> None:
    """Per-report PDF seconds of both engines on one report, in this process: Chromium
    warm (browser already open, as in a worker), WeasyPrint warm (font set-up done)."""
    from cpkit.render.pdf import resolve_engine, write_pdf

    html = html_path.read_text(encoding="utf-8")
    target = OUT / "engines"
    target.mkdir(parents=True, exist_ok=True)
    figures = {}
    for engine in ("chromium", "weasyprint"):
        try:
            resolve_engine(engine)
        except Exception as exc:
            print(f"  {engine}: not available ({exc})")
            continue
        write_pdf("<p>warm-up</p>", target / "warm.pdf", engine=engine)
        runs = []
        for _ in range(repeat if engine == "chromium" else 1):
            t0, c0 = time.perf_counter(), tree_cpu_seconds()
            info = write_pdf(html, target / f"{engine}.pdf", engine=engine)
            runs.append((time.perf_counter() - t0, tree_cpu_seconds() - c0, info))
        wall, cpu, info = min(runs, key=lambda r: r[0])
        figures[engine] = wall
        print(f"  {engine}: {wall:.2f} s wall per report ({info.pages} pages, "
              f"{info.passes} print pass(es)); CPU {cpu:.2f} s (with the browser's processes)")  # fmt: skip
    if len(figures) == 2:
        print(f"  ratio weasyprint / chromium: {figures['weasyprint'] / figures['chromium']:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=8, help="enterprises for the cpkit timing")
    ap.add_argument("--naive", type=int, default=1, help="enterprises for the naive loop (slow)")
    ap.add_argument(
        "--large", type=int, default=40, help="enterprises for the memory run (0: skip)"
    )
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--lang", default="zh")
    ap.add_argument("--notebooks", type=Path, default=None, help="phase notebooks folder")
    ap.add_argument(
        "--pdf-engine", choices=("auto", "chromium", "weasyprint"), default="auto",
        help="PDF engine of the cpkit.render runs",
    )  # fmt: skip
    ap.add_argument("--no-compare", action="store_true", help="skip the two-engine PDF timing")
    ap.add_argument(
        "--chart-engine",
        default="auto",
        choices=("auto", "chromium", "vl-convert"),
        help="who draws the charts (cpkit render --chart-engine)",
    )
    args = ap.parse_args()
    # cpkit byte-compiled, as after scripts/setup.sh or a regular pip install (with
    # PYTHONDONTWRITEBYTECODE set, an edited module would otherwise compile in every kernel)
    import compileall

    compileall.compile_dir(str(ROOT / "cpkit"), quiet=1)
    global NOTEBOOKS, PDF_ENGINE, CHART_ENGINE
    # cpkit's caches in a folder of the benchmark's own (workers and kernels inherit it)
    os.environ["CPKIT_CACHE_DIR"] = str(OUT / "cache")
    os.environ.pop("CPKIT_CACHE", None)
    NOTEBOOKS = args.notebooks.resolve() if args.notebooks else None
    PDF_ENGINE = args.pdf_engine
    CHART_ENGINE = args.chart_engine
    from cpkit.render.charts import resolve_chart_engine
    from cpkit.render.pdf import resolve_engine

    print(f"PDF engine: {args.pdf_engine} -> {resolve_engine(args.pdf_engine)}; chart engine: "
          f"{args.chart_engine} -> {resolve_chart_engine(args.chart_engine)}")  # fmt: skip

    from weasyprint.text.ffi import harfbuzz_subset

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; notebooks: "
          f"{notebooks_dir().relative_to(ROOT)}; datasets from: "
          f"{', '.join(p.name for p in templates())}")  # fmt: skip
    print(
        f"HarfBuzz subsetting for PDF fonts: {'yes' if harfbuzz_subset else 'NO (fontTools: slower PDFs; install libharfbuzz-subset0)'}"
    )
    datasets = synthesize(max(args.n, args.naive, args.large), OUT / "datasets")

    # warm-up run so that the figures below exclude first-import and disk-cache effects
    run_cpkit(datasets[:1], OUT / "warmup", 1, ("html",), args.lang)

    seconds, summary = run_cpkit(
        datasets[: args.n], OUT / "cpkit", args.workers, ("html", "pdf"), args.lang
    )
    ok = len(summary.rendered)
    per_ent = seconds / args.n
    print(f"cpkit.render: {args.n} enterprises (HTML+PDF, {args.lang}, {args.workers} workers): "
          f"{seconds:.1f} s total, {per_ent:.2f} s per enterprise ({ok} ok, {len(summary.failed)} failed); "
          f"CPU {summary.cpu / args.n:.2f} s per enterprise (all processes)")  # fmt: skip
    for r in summary.failed:
        print(f"  failed {r.eid}: {r.reason()}")
    parts: dict[str, float] = {}
    for r in summary.rendered:
        for lr in r.langs.values():
            for k, v in lr.timings.items():
                parts[k] = parts.get(k, 0.0) + v
    if parts:
        print("  worker time per enterprise by step: " + ", ".join(
            f"{k} {v / max(1, len(summary.rendered)):.2f} s" for k, v in parts.items()))  # fmt: skip
    used = sorted({lr.pdf_engine for r in summary.rendered for lr in r.langs.values()} - {None})
    print(f"  PDFs written by: {', '.join(used) or '-'}")
    if not args.no_compare and summary.rendered:
        first = summary.rendered[0]
        html = summary.out / first.eid / f"report.{args.lang}.html"
        print(f"PDF engines on one report ({first.eid}, {args.lang}), load average "
              f"{os.getloadavg()[0]:.2f}:")  # fmt: skip
        compare_engines(html)

    if args.naive:
        seconds, failures, cpu = run_naive(datasets[: args.naive], OUT / "naive", args.lang)
        naive = seconds / args.naive
        print(f"naive loop (papermill CLI + nbconvert CLI + weasyprint CLI per notebook, sequential): "
              f"{naive:.1f} s per enterprise" + (f" ({failures} notebook runs failed)" if failures else "")
              + f"; CPU {cpu / args.naive:.1f} s per enterprise")  # fmt: skip
        print(f"ratio naive / cpkit.render: {naive / per_ent:.1f}x wall, "
              f"{(cpu / args.naive) / (summary.cpu / args.n):.1f}x CPU")  # fmt: skip

    if args.large:
        with RssMonitor() as mon:
            seconds, summary = run_cpkit(
                datasets[: args.large], OUT / "large", args.workers, ("html",), args.lang
            )
        print(f"memory run: {args.large} enterprises (HTML) in {seconds:.1f} s "
              f"({seconds / args.large:.2f} s each); RSS of workers+kernels: peak {mon.peak():.0f} MB; "
              f"peak per quarter of the run: "
              + ", ".join(f"{mon.peak(q / 4, (q + 1) / 4):.0f}" for q in range(4))
              + " MB (kernels are recycled every 100 notebooks)")  # fmt: skip


if __name__ == "__main__":
    main()
