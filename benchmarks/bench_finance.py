"""Benchmark of cpkit.finance and cpkit.risk: prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_finance.py [--draws 10000] [--naive-draws 2000] [--options 1000]

1. Monte Carlo: ``risk.monte_carlo`` with 10,000 draws (NPV and IRR, vectorised), against
   a naive per-draw Python loop doing the same work (build the flows, NPV by a Python
   sum, IRR by the bracketed scalar ``finance.irr``), measured in the same run;
2. deterministic evaluation of 1,000 options (``finance.evaluate``: CP-report form,
   NPV, NPVR, IRR, paybacks, criteria), against numpy-financial per option for scale.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import numpy_financial as npf
import pandas as pd

from cpkit import finance, risk


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def example_option() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "option_id": ["o1"],
            "name": ["waste-heat recovery"],
            "investment_10k_cny": [180.0],
            "annual_revenue_increase_10k_cny": [8.0],
            "annual_cost_saving_10k_cny": [30.0],
            "depreciation_years": [10],
            "lifetime_years": [12],
            "construction_years": [1],
            "salvage_10k_cny": [9.0],
        }
    )


def naive_monte_carlo(opt: pd.DataFrame, a: finance.Assumptions, n: int, seed: int) -> np.ndarray:
    """The same model, one draw at a time in plain Python."""
    r = opt.iloc[0]
    rng = np.random.default_rng(seed)
    out = np.empty((n, 2))
    life, y, c = int(r.lifetime_years), int(r.depreciation_years), int(r.construction_years)
    for k in range(n):
        m_inv = rng.triangular(0.9, 1.0, 1.3)
        m_rev = rng.triangular(0.7, 1.0, 1.1)
        m_sav = rng.triangular(0.7, 1.0, 1.1)
        inv = r.investment_10k_cny * m_inv
        p = r.annual_revenue_increase_10k_cny * m_rev + r.annual_cost_saving_10k_cny * m_sav
        flows = [0.0] * (c + life + 1)
        for t in range(c):
            flows[t] -= inv / c
        for j in range(1, life + 1):
            d = inv / y if j <= y else 0.0
            flows[c + j] += (p - d) * (1 - a.tax_rate) + d
        flows[-1] += r.salvage_10k_cny
        npv = sum(f / (1 + a.discount_rate) ** t for t, f in enumerate(flows))
        res = finance.irr(flows)
        out[k] = npv, (res.irr if res.irr is not None else np.nan)
    return out


def random_options(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    inv = rng.uniform(10, 2000, n)
    return pd.DataFrame(
        {
            "option_id": [f"o{i}" for i in range(n)],
            "name": [f"option {i}" for i in range(n)],
            "investment_10k_cny": inv,
            "subsidy_10k_cny": inv * rng.uniform(0, 0.3, n),
            "annual_revenue_increase_10k_cny": inv * rng.uniform(0, 0.2, n),
            "annual_cost_saving_10k_cny": inv * rng.uniform(-0.05, 0.3, n),
            "lifetime_years": rng.integers(3, 21, n),
            "depreciation_years": rng.integers(3, 16, n),
            "construction_years": rng.integers(0, 3, n),
            "salvage_10k_cny": inv * rng.uniform(0, 0.1, n),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--naive-draws", type=int, default=2_000)
    ap.add_argument("--options", type=int, default=1_000)
    args = ap.parse_args()

    a = finance.resolve_assumptions()
    opt = example_option()
    risk.monte_carlo(opt, assumptions=a, draws=100, seed=0)  # warm-up (imports, caches)

    t_vec = best_of(lambda: risk.monte_carlo(opt, assumptions=a, draws=args.draws, seed=1))
    mc = risk.monte_carlo(opt, assumptions=a, draws=args.draws, seed=1)
    t0 = time.perf_counter()
    naive_monte_carlo(opt, a, args.naive_draws, seed=1)
    t_naive = time.perf_counter() - t0
    per_vec = t_vec / args.draws
    per_naive = t_naive / args.naive_draws
    print("Monte Carlo (NPV and IRR per draw)")
    print(
        f"  vectorised   {args.draws:>7,} draws  {t_vec * 1e3:9.1f} ms   {per_vec * 1e6:8.2f} µs/draw"
    )
    print(
        f"  naive loop   {args.naive_draws:>7,} draws  {t_naive * 1e3:9.1f} ms   {per_naive * 1e6:8.2f} µs/draw"
    )
    print(f"  speed-up (per draw): {per_naive / per_vec:,.0f}x")
    print(
        f"  P(NPV < 0) = {mc.prob_npv_negative:.3f}, IRR p50 = "
        f"{mc.summary.set_index('statistic').loc['p50', 'irr']:.4f}, undefined IRR draws = "
        f"{mc.irr_undefined_draws}"
    )

    opts = random_options(args.options)
    finance.evaluate(opts.head(10), assumptions=a)  # warm-up
    t_eval = best_of(lambda: finance.evaluate(opts, assumptions=a), repeat=2)
    ev = finance.evaluate(opts, assumptions=a)
    table = finance.cash_flow_table(opts, assumptions=a)
    flows = [
        g["net_cash_flow_10k_cny"].to_numpy() for _, g in table.groupby("option_id", sort=False)
    ]
    t0 = time.perf_counter()
    for f in flows:
        npf.npv(a.discount_rate, f)
        npf.irr(f)
    t_npf = time.perf_counter() - t0
    print(f"\nDeterministic evaluation of {args.options:,} options (CP form, criteria, paybacks)")
    print(
        f"  finance.evaluate       {t_eval * 1e3:9.1f} ms   {t_eval / args.options * 1e6:8.1f} µs/option"
    )
    print(
        f"  numpy_financial npv+irr only {t_npf * 1e3:5.1f} ms   (reference: no criteria, no roots check)"
    )
    counts = ev["irr_status"].value_counts().to_dict()
    print(f"  IRR status counts: {counts}; verdicts: {ev['verdict'].value_counts().to_dict()}")


if __name__ == "__main__":
    main()
