"""Benchmark of cpkit.load: fresh process (cold / warm disk cache), in-process uncached and
memoised calls, per sample dataset. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_dataset.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(os.environ.get("CPKIT_ROOT") or Path(__file__).resolve().parents[1])
DATASETS = [
    ROOT / "tests" / "fixtures" / "minimal",
    *sorted((ROOT / "data" / "samples").glob("*/")),
]
CHILD = (
    "import time, sys; t=time.perf_counter(); import pandas; t1=time.perf_counter(); "
    "import cpkit; cpkit.load(sys.argv[1]); print(t1-t, time.perf_counter()-t1)"
)


def fresh(path: Path, cache_dir: str, runs: int = 3) -> float:
    env = {**os.environ, "CPKIT_CACHE_DIR": cache_dir}
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        times.append(float(out[1]))
    return statistics.median(times)


def main() -> None:
    import cpkit
    from cpkit import dataset

    print(
        f"{'dataset':<22}{'rows':>6}{'cold proc':>11}{'warm proc':>11}{'uncached':>10}{'memo':>9}"
    )
    for path in DATASETS:
        if cpkit.validate(path):
            print(f"{path.name:<22} (not valid yet: skipped)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            off = {**os.environ, "CPKIT_CACHE": "0"}
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)],
                env=off,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            cold = float(out[1])
            fresh(path, tmp, 1)  # fill the disk cache
            warm = fresh(path, tmp)
        ds = cpkit.load(path, cache=False)
        t = time.perf_counter()
        for _ in range(5):
            cpkit.load(path, cache=False)
        uncached = (time.perf_counter() - t) / 5
        dataset.clear_cache()
        cpkit.load(path)
        t = time.perf_counter()
        for _ in range(50):
            cpkit.load(path)
        memo = (time.perf_counter() - t) / 50
        rows = sum(len(f) for f in ds.tables.values())
        print(
            f"{path.name:<22}{rows:>6}{cold:>10.3f}s{warm:>10.3f}s{uncached:>9.3f}s"
            f"{memo * 1000:>7.2f}ms"
        )
    print(
        "cold/warm proc: cpkit import + first load in a new process (after pandas), "
        "without and with the disk cache; uncached: read+validate+convert in a warm "
        "process; memo: memoised call."
    )


if __name__ == "__main__":
    main()
