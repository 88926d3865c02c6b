"""Sensitivity (tornado) and Monte Carlo risk analysis of an option's NPV and IRR.

Opt-in extras to the CP-report evaluation of :mod:`cpkit.finance` in the manner of
RETScreen's sensitivity and risk analysis (calculation reference 6.3): the CP report's
criteria (seed 004 clause 5.5.6 c) are judged on the deterministic values; these show how
far they can be trusted.

Variables (``data/reference/finance/risk.yaml``) act on the cash flows of
:func:`cpkit.finance.cash_flow_table`:

* ``revenue``: annual revenue increase (price and sales effects);
* ``operating_saving``: annual operating-cost saving;
* ``investment``: investment net of subsidy (depreciation follows it);
* ``discount_rate``: the discount rate.

Money in 10k CNY (万元); rates and IRRs as fractions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cpkit import reference
from cpkit.errors import FinanceError
from cpkit.finance import (
    Assumptions,
    _bracketed_root,
    _components,
    _Plan,
    _plans,
    irr,
    irr_many,
    npv,
    resolve_assumptions,
)

VARIABLES = ("revenue", "operating_saving", "investment", "discount_rate")
DISTRIBUTIONS = ("normal", "triangular", "uniform")


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation ρ of two samples: Pearson's r of their average ranks
    (ties share the mean rank), computed as ``scipy.stats.spearmanr(x, y).statistic``
    does -- average ranks, then ``np.corrcoef`` -- with pandas' ranking, so that a
    notebook does not import scipy.stats (about 0.4 s) for this one statistic. NaN when
    either sample holds a NaN."""
    rx = pd.Series(x, dtype="float64").rank(method="average").to_numpy()
    ry = pd.Series(y, dtype="float64").rank(method="average").to_numpy()
    if np.isnan(rx).any() or np.isnan(ry).any():
        return float("nan")
    return float(np.corrcoef(np.column_stack((rx, ry)), rowvar=False)[1, 0])


def _doc() -> dict[str, Any]:
    return reference.load_yaml("finance/risk.yaml")


def _one_plan(
    options: pd.DataFrame,
    cashflows: pd.DataFrame | None,
    option_id: str | None,
    a: Assumptions,
) -> _Plan:
    if option_id is None:
        if len(options) != 1:
            raise FinanceError("several options given: name the one to analyse with option_id")
        option_id = str(options["option_id"].iloc[0])
    return _plans(options, cashflows, a, [option_id])[0]


def _evaluate(
    plan: _Plan,
    a: Assumptions,
    inv: np.ndarray | float = 1.0,
    rev: np.ndarray | float = 1.0,
    sav: np.ndarray | float = 1.0,
    rate: np.ndarray | float | None = None,
    *,
    with_irr: bool = True,
    guess: float = 0.1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NPV, IRR and IRR status for arrays of multipliers (all broadcast to one length)."""
    rate = a.discount_rate if rate is None else rate
    inv, rev, sav, rate = np.broadcast_arrays(
        np.atleast_1d(np.asarray(inv, float)),
        np.atleast_1d(np.asarray(rev, float)),
        np.atleast_1d(np.asarray(sav, float)),
        np.atleast_1d(np.asarray(rate, float)),
    )
    k = _components(plan, a.tax_rate, a.loss_tax, inv[:, None], rev[:, None], sav[:, None])
    flows = k["net"]
    values = npv(rate, flows)
    if not with_irr:
        return values, np.full(len(values), np.nan), np.full(len(values), "", dtype=str)
    ir = irr_many(flows, guess=guess)
    return values, ir.values, ir.status


def _base_values(plan: _Plan, a: Assumptions) -> dict[str, tuple[float, str]]:
    op = slice(plan.construction_years + 1, None)
    return {
        "revenue": (float(plan.revenue[op].mean()), "10k CNY/a"),
        "operating_saving": (float(plan.saving[op].mean()), "10k CNY/a"),
        "investment": (float(plan.investment.sum()), "10k CNY"),
        "discount_rate": (a.discount_rate, "fraction"),
    }


def _multipliers(var: str, m: np.ndarray) -> dict[str, np.ndarray]:
    key = {"revenue": "rev", "operating_saving": "sav", "investment": "inv"}[var]
    return {key: m}


# --------------------------------------------------------------------------- tornado
def tornado(
    options: pd.DataFrame,
    cashflows: pd.DataFrame | None = None,
    *,
    option_id: str | None = None,
    assumptions: Assumptions | None = None,
    swing: float | Mapping[str, float] | None = None,
    variables: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One-at-a-time sensitivity of NPV and IRR (tornado; calculation reference 6.3,
    RETScreen sensitivity analysis): each variable moved by ± ``swing`` (a fraction of
    its base value, default ±20 % from ``risk.yaml``; a mapping gives one per variable)
    while the others stay at base.

    Columns, sorted by npv_swing_10k_cny descending: variable, name_zh, name_en, unit,
    base_value, low_value, high_value, npv_base_10k_cny, npv_low_10k_cny,
    npv_high_10k_cny, npv_swing_10k_cny, irr_base, irr_low, irr_high, switch_change
    (relative change of the variable at which NPV reaches zero, nearest to base; for the
    discount rate the IRR; empty if none within −100 %…+1,000 %), switch_value, note.
    """
    a = assumptions or resolve_assumptions()
    doc = _doc()
    plan = _one_plan(options, cashflows, option_id, a)
    variables = list(variables or doc["tornado"]["variables"])
    unknown = sorted(set(variables) - set(VARIABLES))
    if unknown:
        raise FinanceError(
            f"unknown sensitivity variable(s) {unknown}; known: {', '.join(VARIABLES)}"
        )
    default = float(doc["tornado"]["swing"])
    if isinstance(swing, Mapping):
        bad = sorted(set(swing) - set(variables))
        if bad:
            raise FinanceError(f"swing given for variable(s) {bad} not analysed")
        swings = {v: float(swing.get(v, default)) for v in variables}
    else:
        swings = dict.fromkeys(variables, default if swing is None else float(swing))
    for v, s in swings.items():
        if not 0 < s < 1 and v in ("investment", "discount_rate"):
            raise FinanceError(f"swing of {v} must be a fraction in (0, 1), got {s:g}")
        if s <= 0:
            raise FinanceError(f"swing of {v} must be positive, got {s:g}")
    base = _base_values(plan, a)
    npv0, irr0, _ = _evaluate(plan, a)
    rows = []
    grid = np.linspace(0.0, 11.0, 1101)  # multipliers 0…11 (change −100 % … +1,000 %)
    for v in variables:
        s = swings[v]
        b, unit = base[v]
        lo, hi = 1.0 - s, 1.0 + s
        note = ""
        if v == "discount_rate":
            res_npv, res_irr, _ = _evaluate(plan, a, rate=np.array([b * lo, b * hi]))
            r0 = irr(_components(plan, a.tax_rate, a.loss_tax)["net"])
            sw_val = r0.irr if r0.irr is not None else np.nan
            sw_chg = sw_val / b - 1.0 if r0.irr is not None and b != 0 else np.nan
            if b == 0:
                note = "base discount rate is 0: a relative swing does not move it"
        else:
            mult = np.array([lo, hi])
            res_npv, res_irr, _ = _evaluate(plan, a, **_multipliers(v, mult))
            if b == 0:
                note = "base value is 0: no effect"
            gn, _, _ = _evaluate(plan, a, **_multipliers(v, grid), with_irr=False)
            sw_chg, sw_val = np.nan, np.nan
            sgn = np.sign(gn)
            cross = np.flatnonzero(sgn[:-1] * sgn[1:] <= 0)
            cross = cross[(sgn[cross] != 0) | (sgn[cross + 1] != 0)]
            if cross.size:
                i = int(cross[np.argmin(np.abs(grid[cross] - 1.0))])

                def f(x: float, v: str = v) -> float:
                    return float(
                        _evaluate(plan, a, **_multipliers(v, np.array([x])), with_irr=False)[0][0]
                    )

                x0 = (
                    grid[i]
                    if sgn[i] == 0
                    else (
                        grid[i + 1]
                        if sgn[i + 1] == 0
                        else _bracketed_root(f, grid[i], grid[i + 1], derivative=False, xtol=1e-12)
                    )
                )
                sw_chg, sw_val = x0 - 1.0, x0 * b
        rows.append(
            {
                "variable": v,
                "name_zh": doc["variables"][v]["zh"],
                "name_en": doc["variables"][v]["en"],
                "unit": unit,
                "base_value": b,
                "low_value": b * lo,
                "high_value": b * hi,
                "npv_base_10k_cny": float(npv0[0]),
                "npv_low_10k_cny": float(res_npv[0]),
                "npv_high_10k_cny": float(res_npv[1]),
                "npv_swing_10k_cny": abs(float(res_npv[1] - res_npv[0])),
                "irr_base": float(irr0[0]),
                "irr_low": float(res_irr[0]),
                "irr_high": float(res_irr[1]),
                "switch_change": sw_chg,
                "switch_value": sw_val,
                "note": note,
            }
        )
    out = (
        pd.DataFrame(rows)
        .sort_values("npv_swing_10k_cny", ascending=False, kind="stable")
        .reset_index(drop=True)
        .astype(
            {
                "variable": "string",
                "name_zh": "string",
                "name_en": "string",
                "unit": "string",
                "note": "string",
            }
        )
    )
    out.attrs["basis"] = {**a.as_dict(), "option_id": plan.option_id, "swing": swings}
    return out


# --------------------------------------------------------------------------- Monte Carlo
def default_distributions() -> pd.DataFrame:
    """The default input distributions of ``risk.yaml`` (illustrative: replace them).

    Columns: variable, distribution (normal | triangular | uniform), scale (relative: the
    draw multiplies the base value; absolute: the draw replaces it), low, mode, high, mean,
    sd (the parameters each distribution uses; others empty).
    """
    rows = _doc()["monte_carlo"]["distributions"]
    return _check_distributions(pd.DataFrame(rows))


def _check_distributions(d: pd.DataFrame) -> pd.DataFrame:
    cols = ["variable", "distribution", "scale", "low", "mode", "high", "mean", "sd"]
    if "variable" not in d or "distribution" not in d:
        raise FinanceError("distributions need the columns variable and distribution")
    d = d.reindex(columns=cols).copy()
    d["scale"] = d["scale"].astype(object).where(d["scale"].notna(), "relative")
    problems = []
    if d["variable"].duplicated().any():
        problems.append(
            f"variable(s) {d['variable'][d['variable'].duplicated()].tolist()} given twice"
        )
    for r in d.itertuples(index=False):
        where = f"{r.variable}"
        if r.variable not in VARIABLES:
            problems.append(f"{where}: unknown variable (known: {', '.join(VARIABLES)})")
        if r.distribution not in DISTRIBUTIONS:
            problems.append(f"{where}: distribution must be one of {', '.join(DISTRIBUTIONS)}")
        if r.scale not in ("relative", "absolute"):
            problems.append(f"{where}: scale must be relative or absolute")
        if r.distribution == "normal":
            if pd.isna(r.mean) or pd.isna(r.sd) or r.sd < 0:
                problems.append(f"{where}: normal needs mean and sd ≥ 0")
        elif r.distribution == "triangular":
            if (
                pd.isna(r.low)
                or pd.isna(r.mode)
                or pd.isna(r.high)
                or not r.low <= r.mode <= r.high
            ):
                problems.append(f"{where}: triangular needs low ≤ mode ≤ high")
        elif r.distribution == "uniform" and (
            pd.isna(r.low) or pd.isna(r.high) or not r.low <= r.high
        ):
            problems.append(f"{where}: uniform needs low ≤ high")
    if problems:
        raise FinanceError("invalid distributions:\n" + "\n".join(problems))
    out = d.astype(
        {"variable": "string", "distribution": "string", "scale": "string"}
        | dict.fromkeys(["low", "mode", "high", "mean", "sd"], "Float64")
    )
    return out.reset_index(drop=True)


def _draw(rng: np.random.Generator, r: Any, n: int) -> np.ndarray:
    if r.distribution == "normal":
        return rng.normal(float(r.mean), float(r.sd), n)
    if r.distribution == "triangular":
        lo, mo, hi = float(r.low), float(r.mode), float(r.high)
        return np.full(n, lo) if lo == hi else rng.triangular(lo, mo, hi, n)
    return rng.uniform(float(r.low), float(r.high), n)


@dataclass(frozen=True)
class MonteCarloResult:
    """Outcome of a Monte Carlo risk analysis of one option.

    samples        one row per draw: the drawn inputs (relative multipliers, or the rate),
                   npv_10k_cny, irr, irr_status
    summary        statistic (mean, std, min, p5…, max) × npv_10k_cny, irr (IRR over
                   draws with a single IRR)
    prob_npv_negative         share of draws with NPV < 0
    prob_irr_below_benchmark  share of draws whose IRR is below the benchmark, among draws
                   with a single IRR or none (no IRR with a net loss counts as below)
    irr_undefined_draws       draws with several IRRs or none
    impact         variable, spearman_npv (rank correlation of the input with NPV),
                   share (of the sum of squared correlations): RETScreen's impact graph
    clipped        draws clipped to a physical bound per variable (investment ≥ 0,
                   discount rate > −1)
    seed           the seed that reproduces the run
    """

    option_id: str
    draws: int
    seed: int
    samples: pd.DataFrame
    summary: pd.DataFrame
    prob_npv_negative: float
    prob_irr_below_benchmark: float
    irr_undefined_draws: int
    impact: pd.DataFrame
    distributions: pd.DataFrame
    clipped: Mapping[str, int]
    basis: dict[str, Any] = field(default_factory=dict)


def monte_carlo(
    options: pd.DataFrame,
    cashflows: pd.DataFrame | None = None,
    *,
    option_id: str | None = None,
    assumptions: Assumptions | None = None,
    distributions: pd.DataFrame | None = None,
    draws: int | None = None,
    seed: int | None = None,
    percentiles: Sequence[float] | None = None,
) -> MonteCarloResult:
    """Monte Carlo risk analysis of an option's NPV and IRR (calculation reference 6.3,
    RETScreen risk analysis): inputs drawn independently from ``distributions`` (default
    :func:`default_distributions`), ``draws`` (default 10,000) evaluated at once — NPV
    vectorised over draws, IRR by Newton on all draws with a bracketed fallback
    (:func:`cpkit.finance.irr_many`). The same ``seed`` gives the same draws; without one
    a fresh seed is drawn and recorded in the result.
    """
    a = assumptions or resolve_assumptions()
    doc = _doc()["monte_carlo"]
    plan = _one_plan(options, cashflows, option_id, a)
    dist = default_distributions() if distributions is None else _check_distributions(distributions)
    n = int(doc["draws"] if draws is None else draws)
    if n < 2:
        raise FinanceError(f"at least 2 draws are needed, got {n}")
    pct = [float(p) for p in (doc["percentiles"] if percentiles is None else percentiles)]
    if any(not 0 <= p <= 100 for p in pct):
        raise FinanceError("percentiles must lie between 0 and 100")
    seed_used = int(np.random.SeedSequence().entropy) if seed is None else int(seed)
    rng = np.random.default_rng(seed_used)
    base = _base_values(plan, a)
    mult = {"inv": np.ones(n), "rev": np.ones(n), "sav": np.ones(n)}
    rate = np.full(n, a.discount_rate)
    drawn: dict[str, np.ndarray] = {}
    clipped: dict[str, int] = {}
    for r in dist.itertuples(index=False):
        x = _draw(rng, r, n)
        v = str(r.variable)
        if v == "discount_rate":
            val = x if r.scale == "absolute" else x * a.discount_rate
            bad = val <= -1
            clipped[v] = int(bad.sum())
            rate = np.where(bad, -0.999, val)
            drawn[v] = rate
            continue
        if r.scale == "absolute":
            b = base[v][0]
            if b == 0:
                raise FinanceError(f"{v}: absolute draws need a non-zero base value; use relative")
            x = x / b
        if v == "investment":
            clipped[v] = int((x < 0).sum())
            x = np.maximum(x, 0.0)
        mult[{"revenue": "rev", "operating_saving": "sav", "investment": "inv"}[v]] = x
        drawn[v] = x
    base_irr = irr(_components(plan, a.tax_rate, a.loss_tax)["net"]).irr
    npvs, irrs, status = _evaluate(
        plan,
        a,
        mult["inv"],
        mult["rev"],
        mult["sav"],
        rate,
        guess=base_irr if base_irr is not None else 0.1,
    )
    samples = pd.DataFrame(
        {"draw": np.arange(n), **drawn, "npv_10k_cny": npvs, "irr": irrs, "irr_status": status}
    )
    samples = samples.astype({"irr_status": "string"})
    ok = status == "unique"
    stats = ["mean", "std", "min", *[f"p{p:g}" for p in pct], "max"]

    def describe(x: np.ndarray) -> list[float]:
        if x.size == 0:
            return [np.nan] * len(stats)
        return [
            float(x.mean()),
            float(x.std(ddof=1)) if x.size > 1 else np.nan,
            float(x.min()),
            *[float(q) for q in np.percentile(x, pct)],
            float(x.max()),
        ]

    summary = pd.DataFrame(
        {"statistic": stats, "npv_10k_cny": describe(npvs), "irr": describe(irrs[ok])}
    )
    summary = summary.astype({"statistic": "string"})
    none_loss = (status == "none") & (npvs < 0)
    judged = ok | (status == "none")
    below = (ok & (irrs < a.benchmark_irr)) | none_loss
    p_below = float(below.sum() / judged.sum()) if judged.any() else np.nan
    imp = []
    for v, x in drawn.items():
        if np.ptp(x) == 0 or np.ptp(npvs) == 0:
            rho = 0.0
        else:
            rho = _spearman(x, npvs)
        imp.append({"variable": v, "spearman_npv": rho})
    impact = pd.DataFrame(imp, columns=["variable", "spearman_npv"])
    tot = float((impact["spearman_npv"] ** 2).sum())
    impact["share"] = impact["spearman_npv"] ** 2 / tot if tot > 0 else 0.0
    impact = impact.sort_values("share", ascending=False, kind="stable").reset_index(drop=True)
    impact = impact.astype({"variable": "string"})
    basis = {
        **a.as_dict(),
        "option_id": plan.option_id,
        "draws": n,
        "seed": seed_used,
        "distributions": "data/reference/finance/risk.yaml" if distributions is None else "given",
    }
    for df in (samples, summary, impact):
        df.attrs["basis"] = basis
    return MonteCarloResult(
        option_id=plan.option_id,
        draws=n,
        seed=seed_used,
        samples=samples,
        summary=summary,
        prob_npv_negative=float((npvs < 0).mean()),
        prob_irr_below_benchmark=p_below,
        irr_undefined_draws=int((~ok).sum()),
        impact=impact,
        distributions=dist,
        clipped=clipped,
        basis=basis,
    )
