"""Benchmark of cpkit's material balances and data reconciliation.

Prints (no asserts; the machines are shared and noisy, read the figures as orders of
magnitude):

1. a typical enterprise sample (10-40 streams): closure + reconciliation, the path the
   phase-3 notebook takes for every enterprise of a batch (goal: well under 50 ms);
2. a synthetic plant of 1,000 units and 2,000 streams with redundancy and ~10 % unmeasured
   flows: reconciliation (goal: under 1 s on a 2-core machine), closure, numeric solving;
3. how the exact path of ``solve_balances`` (integer rref, sympy fallback) scales against the numeric one
   (10 ... 1,000 flows), and where ``SYMBOLIC_MAX_STREAMS`` hands over.

Run:  .venv/bin/python benchmarks/bench_reconciliation.py [--quick]

Dense LAPACK calls dominate the big case. OpenBLAS threads help on an idle machine but
cost milliseconds per small call when the cores are busy; set OPENBLAS_NUM_THREADS=1 in
batch workers that run many enterprises in parallel.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pandas as pd

from cpkit import balances, reconciliation


def plant(n_units: int, n_streams: int, seed: int = 0, unknown: float = 0.1, noise: float = 1.0):
    """A consistent synthetic plant: units in process order, each fed by the previous one,
    extra feeds from ENV, exits to ENV and forward by-passes. A fraction ``unknown`` of
    the flows is unmeasured, ~20 % are estimated (20 % uncertainty, as cpkit's default), the
    rest measured with a stated 2 % uncertainty; values get normal noise of that size."""
    rng = np.random.default_rng(seed)
    edges: list[tuple] = [(u, u + 1) for u in range(n_units - 1)]
    edges += [(n_units - 1, "ENV"), ("ENV", 0)]
    for k in rng.choice(3, size=max(n_streams - len(edges), 0), p=[0.2, 0.5, 0.3]):
        u = int(rng.integers(n_units))
        if k == 0:
            edges.append(("ENV", u))
        elif k == 1 or u >= n_units - 2:
            edges.append((u, "ENV"))
        else:
            edges.append((u, int(rng.integers(u + 2, min(n_units, u + 6)))))
    val = np.zeros(len(edges))
    inflow = np.zeros(n_units)
    outs: list[list[int]] = [[] for _ in range(n_units)]
    for i, (a, b) in enumerate(edges):
        if a == "ENV":
            val[i] = rng.uniform(50, 500)
            inflow[b] += val[i]
        else:
            outs[a].append(i)
    for u in range(n_units):
        main, others = outs[u][0], outs[u][1:]
        for i in others:
            val[i] = inflow[u] * rng.uniform(0.01, 0.6 / len(others))
        val[main] = inflow[u] - val[others].sum()
        for i in outs[u]:
            if edges[i][1] != "ENV":
                inflow[edges[i][1]] += val[i]
    r = rng.random(len(edges))
    status = np.where(r < unknown, "unknown", np.where(r < unknown + 0.2, "estimated", "measured"))
    sigma = np.where(status == "estimated", 0.2, 0.02) * val  # the defaults cpkit will use
    meas = np.abs(val + noise * sigma * rng.standard_normal(len(edges)))
    s = pd.DataFrame(
        {
            "stream_id": [f"S{i + 1}" for i in range(len(edges))],
            "from_unit": [a if a == "ENV" else f"U{a + 1}" for a, _ in edges],
            "to_unit": [b if b == "ENV" else f"U{b + 1}" for _, b in edges],
            "material": "material",
            "component": "total",
            "kind": "intermediate",
            "value": np.where(status == "unknown", np.nan, meas),
            "unit": "kg/d",
            "status": status,
            "uncertainty": np.where(status == "unknown", np.nan, sigma),
        }
    )
    s = s.astype({c: "string" for c in s.columns if c not in ("value", "uncertainty")})
    s = s.astype({"value": "Float64", "uncertainty": "Float64"})
    units = pd.DataFrame({"unit_id": [f"U{i + 1}" for i in range(n_units)], "name": "unit"}).astype(
        "string"
    )
    return s, units


def timed(repeat: int, fn, *args, **kwargs) -> float:
    """Median wall time of ``fn(*args, **kwargs)`` after one warm-up call."""
    fn(*args, **kwargs)  # warm-up (imports, caches)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    args = ap.parse_args()
    rep = 2 if args.quick else 5
    print(
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
        f"cores={os.cpu_count()}"
    )

    print("\n1. typical enterprise sample (median of", rep, "runs)")
    print(f"{'streams':>8} {'units':>6} {'closure ms':>11} {'reconcile ms':>13} {'sum ms':>8}")
    for n_units, n_streams in ((5, 10), (10, 25), (15, 40)):
        s, u = plant(n_units, n_streams, seed=1)
        t1 = timed(rep, balances.check_closure, s, u)
        t2 = timed(rep, reconciliation.reconcile, s, u)
        print(
            f"{n_streams:>8} {n_units:>6} {t1 * 1e3:>11.1f} {t2 * 1e3:>13.1f} "
            f"{(t1 + t2) * 1e3:>8.1f}"
        )

    print("\n2. synthetic plant, 1,000 units / 2,000 streams (median of", min(rep, 3), "runs)")
    s, u = plant(1000, 2000, seed=0)
    rec = reconciliation.reconcile(s, u)
    t_rec = timed(min(rep, 3), reconciliation.reconcile, s, u)
    t_clo = timed(min(rep, 3), balances.check_closure, s, u)
    t_sol = timed(min(rep, 3), balances.solve_balances, s, u, method="numeric")
    lay = rec.layers.iloc[0]
    print(
        f"   measured {lay.n_measured}, unknown {lay.n_unknown} "
        f"({lay.n_determinable} determinable), redundancy ν = {rec.nu}, "
        f"γ = {rec.gamma:.1f} (p = {rec.p_value:.2f})"
    )
    print(f"   reconcile      {t_rec:7.3f} s   (goal < 1 s; ratio to goal {t_rec / 1.0:.2f})")
    print(f"   check_closure  {t_clo:7.3f} s")
    print(f"   solve (numeric){t_sol:7.3f} s")

    print("\n3. solve_balances: exact path (integer rref, sympy fallback) against the numeric path")
    print(
        f"   default hand-over: SYMBOLIC_MAX_STREAMS = {balances.SYMBOLIC_MAX_STREAMS} flows "
        "per component (parameter symbolic_max_streams)"
    )
    print(
        f"{'flows':>8} {'units':>6} {'unknown':>8} {'symbolic s':>11} {'numeric s':>10} "
        f"{'ratio':>7}"
    )
    sizes = (10, 50, 200) if args.quick else (10, 50, 100, 200, 500, 1000)
    for n in sizes:
        s, u = plant(max(n // 2, 2), n, seed=2, unknown=0.2)
        r = 1 if n >= 500 else min(rep, 3)
        ts = timed(r, balances.solve_balances, s, u, method="symbolic")
        tn = timed(r, balances.solve_balances, s, u, method="numeric")
        n_unknown = int(s["status"].eq("unknown").sum())
        print(f"{n:>8} {max(n // 2, 2):>6} {n_unknown:>8} {ts:>11.3f} {tn:>10.3f} {ts / tn:>7.1f}")
    print(
        "\n   Both paths give the same determinability, redundancy and values "
        "(tests/test_balances.py); the exact path uses integer (else sympy rational) arithmetic and "
        "is kept for the small systems trainees look at."
    )


if __name__ == "__main__":
    main()
