"""Tests of cpkit.finance against published CP-report examples, numpy-financial and hand
calculations written out here.

Published examples: calculation reference section 6.1 (sources 360docs
http://www.360docs.net/doc/5b4875868.html, qiqiwenku https://m.qiqiwenku.com/doc/115891.html,
slideserve https://cdn.slideserve.com/errin/2, wenku365 https://m.wenku365.com/p-56711376.html).
"""

from __future__ import annotations

import math

import numpy as np
import numpy_financial as npf
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import finance as fi
from cpkit.errors import FinanceError


def options(**cols) -> pd.DataFrame:
    """An options table with the dataset's nullable dtypes."""
    n = len(next(iter(cols.values())))
    base = {
        "option_id": [f"o{i + 1}" for i in range(n)],
        "name": [f"option {i + 1}" for i in range(n)],
    }
    base.update(cols)
    df = pd.DataFrame(base)
    dtypes = {
        "option_id": "string",
        "name": "string",
        "investment_10k_cny": "Float64",
        "subsidy_10k_cny": "Float64",
        "annual_revenue_increase_10k_cny": "Float64",
        "annual_cost_saving_10k_cny": "Float64",
        "lifetime_years": "Int64",
        "depreciation_years": "Int64",
        "construction_years": "Int64",
        "salvage_10k_cny": "Float64",
    }
    return df.astype({k: v for k, v in dtypes.items() if k in df})


def annuity(i: float, n: int) -> float:
    """Present value of 1 a year for n years at rate i: (1 − (1+i)^−n) / i."""
    return (1 - (1 + i) ** -n) / i


# --------------------------------------------------------------------------- published examples
def test_360docs_example():
    # 360docs: I = 10, P = 1.58, Y = 10, t = 25 % -> D 1.00, T 0.58, E 0.44, F 1.44,
    # N 6.97, NPV 0.56 (at 6 %, implicit in the source), IRR 7.17 %.
    o = options(
        investment_10k_cny=[10.0],
        annual_cost_saving_10k_cny=[1.58],
        depreciation_years=[10],
        lifetime_years=[10],
    )
    a = fi.resolve_assumptions(discount_rate=0.06, tax_rate=0.25)
    r = fi.evaluate(o, assumptions=a).iloc[0]
    assert round(r["depreciation_10k_cny"], 2) == 1.00
    assert round(r["taxable_profit_10k_cny"], 2) == 0.58
    assert round(r["net_profit_10k_cny"], 2) == 0.44
    assert round(r["annual_cash_flow_10k_cny"], 2) == 1.44
    assert round(r["payback_years"], 2) == 6.97
    assert round(r["npv_10k_cny"], 2) == 0.56
    assert round(r["irr"] * 100, 2) == 7.17
    # the default benchmarks (IRR 10 %, payback 5 years) reject it, naming both criteria
    assert r["verdict"] == "not_feasible"
    assert "IRR 7.17% < benchmark 10.00%" in r["failed_criteria"]
    assert "payback 6.97 years" in r["failed_criteria"]
    assert bool(r["npv_ok"]) and not bool(r["irr_ok"]) and not bool(r["payback_ok"])


def test_qiqiwenku_example():
    # qiqiwenku: I = 150, F = 32.5, n = 10, i = 5 % -> N 4.6, NPV 101 with the annuity
    # factor 7.7217; IRR 17.26 % interpolated between 17 % (NPV1 1.4045) and 18 % (NPV2
    # -3.9418). F = P when the tax rate is 0.
    o = options(
        investment_10k_cny=[150.0],
        annual_cost_saving_10k_cny=[32.5],
        depreciation_years=[10],
        lifetime_years=[10],
    )
    a = fi.resolve_assumptions(discount_rate=0.05, tax_rate=0.0)
    r = fi.evaluate(o, assumptions=a, interpolated_irr=True).iloc[0]
    assert r["annual_cash_flow_10k_cny"] == pytest.approx(32.5)
    assert round(r["payback_years"], 1) == 4.6
    assert round(r["npv_10k_cny"]) == 101
    assert round(fi.npv(0.05, [0] + [1] * 10), 4) == 7.7217
    assert round(r["irr_interpolated"] * 100, 2) == 17.26
    interp = fi.irr_interpolated([-150] + [32.5] * 10, step=0.01)
    assert (interp.rate_low, interp.rate_high) == (0.17, 0.18)
    # the source multiplies by 4-decimal annuity-table factors (17 %: 4.6586, 18 %:
    # 4.4941): 32.5 × 4.6586 − 150 = 1.4045 and 32.5 × 4.4941 − 150 = −3.9418; exact
    # factors move the fourth decimal
    assert 32.5 * round(annuity(0.17, 10), 4) - 150 == pytest.approx(1.4045, abs=1e-4)
    assert 32.5 * round(annuity(0.18, 10), 4) - 150 == pytest.approx(-3.9418, abs=1e-4)
    assert interp.npv_low_10k_cny == pytest.approx(1.4045, abs=5e-4)
    assert interp.npv_high_10k_cny == pytest.approx(-3.9418, abs=5e-4)
    # the exact IRR differs from the interpolated one in the third decimal of a percent
    assert round(interp.exact_irr * 100, 3) == 17.257
    assert round(interp.irr * 100, 3) == 17.263


def test_slideserve_example():
    # slideserve "作业讲解2": I = 500, D = 50 (Y = 10), P = 132.17, t = 10.8 % -> F 123.3, N 4.06
    o = options(
        investment_10k_cny=[500.0],
        annual_cost_saving_10k_cny=[132.17],
        depreciation_years=[10],
        lifetime_years=[10],
    )
    r = fi.evaluate(o, assumptions=fi.resolve_assumptions(tax_rate=0.108)).iloc[0]
    assert r["depreciation_10k_cny"] == pytest.approx(50.0)
    assert round(r["annual_cash_flow_10k_cny"], 1) == 123.3
    assert round(r["payback_years"], 2) == 4.06


def wenku365_options() -> pd.DataFrame:
    # wenku365 exam: i = 6.12 %, t = 33 %, Y = 10; option 1 I 1800, P 746.05; option 2
    # I 3100, P 1248.6
    return options(
        investment_10k_cny=[1800.0, 3100.0],
        annual_cost_saving_10k_cny=[746.05, 1248.6],
        depreciation_years=[10, 10],
        lifetime_years=[10, 10],
    )


def test_wenku365_both_options_and_the_npv_npvr_disagreement():
    a = fi.resolve_assumptions(discount_rate=0.0612, tax_rate=0.33)
    ev = fi.evaluate(wenku365_options(), assumptions=a).set_index("option_id")
    # calculation reference 6.1 (recomputed): option 1 F 559.25, N 3.22, NPV 2292.9, NPVR
    # 1.274, IRR 28.5 %; option 2 F 938.86, N 3.30, NPV 3771.0, NPVR 1.216, IRR 27.6 %
    o1, o2 = ev.loc["o1"], ev.loc["o2"]
    assert round(o1["annual_cash_flow_10k_cny"], 2) == 559.25
    assert round(o1["payback_years"], 2) == 3.22
    assert round(o1["npv_10k_cny"], 1) == 2292.9
    assert round(o1["npvr"], 3) == 1.274
    assert round(o1["irr"] * 100, 1) == 28.5
    assert round(o2["annual_cash_flow_10k_cny"], 2) == 938.86
    assert round(o2["payback_years"], 2) == 3.30
    assert round(o2["npv_10k_cny"], 1) == 3771.0
    assert round(o2["npvr"], 3) == 1.216
    assert round(o2["irr"] * 100, 1) == 27.6
    # hand: F = (P − I/10)(1 − 0.33) + I/10
    assert o1["annual_cash_flow_10k_cny"] == pytest.approx((746.05 - 180) * 0.67 + 180)
    ranking = fi.rank(ev.reset_index())
    assert ranking.best_by_npv == ("o2",)
    assert ranking.best_by_npvr == ("o1",)
    assert not ranking.agree
    assert "NPV prefers o2 but NPVR prefers o1" in ranking.message


# --------------------------------------------------------------------------- numpy-financial
def test_npv_agrees_with_numpy_financial_on_random_flows():
    rng = np.random.default_rng(20240601)
    for _ in range(1000):
        n = int(rng.integers(1, 40))
        flows = rng.normal(0, 100, n + 1)
        rate = float(rng.uniform(-0.5, 1.0))
        # numpy_financial.npv discounts the first flow at t = 0, as cpkit does
        assert fi.npv(rate, flows) == pytest.approx(npf.npv(rate, flows), rel=1e-12, abs=1e-9)


def test_irr_agrees_with_numpy_financial_on_random_flows():
    rng = np.random.default_rng(7)
    checked_unique = checked_multiple = 0
    for k in range(1200):
        n = int(rng.integers(2, 30))
        inv = rng.uniform(10, 1000)
        if k % 4 == 3:  # a quarter with mixed-sign flows (some may have several IRRs)
            flows = np.concatenate([[-inv], rng.normal(inv / n, inv / n, n)])
        else:  # conventional: investment, then positive flows
            flows = np.concatenate([[-inv], rng.uniform(0.02, 0.6, n) * inv])
        ref = npf.irr(flows)
        res = fi.irr(flows)
        if math.isnan(ref):
            assert res.status in ("none", "multiple") or res.irr < -0.99
            continue
        if res.status == "unique":
            assert res.irr == pytest.approx(ref, rel=1e-9, abs=1e-12)
            checked_unique += 1
        else:
            # npf returns the root nearest zero; cpkit lists them all
            assert res.status == "multiple"
            assert min(res.roots, key=abs) == pytest.approx(ref, rel=1e-9, abs=1e-12)
            checked_multiple += 1
    assert checked_unique >= 1000


def test_irr_many_agrees_with_scalar_irr_and_numpy_financial():
    rng = np.random.default_rng(11)
    m, n = 2000, 12
    inv = rng.uniform(50, 500, m)
    flows = np.column_stack([-inv, rng.uniform(0.0, 0.4, (m, n)) * inv[:, None]])
    flows[::50, 1:] *= -1  # some never change sign: no IRR
    res = fi.irr_many(flows)
    for k in range(0, m, 7):
        scalar = fi.irr(flows[k])
        assert res.status[k] == scalar.status
        if scalar.irr is not None:
            assert res.values[k] == pytest.approx(scalar.irr, rel=1e-9, abs=1e-12)
            assert res.values[k] == pytest.approx(npf.irr(flows[k]), rel=1e-9, abs=1e-12)
        else:
            assert math.isnan(res.values[k])
    assert (res.status[::50] == "none").all()


# --------------------------------------------------------------------------- no / multiple IRR
def test_no_irr_cases():
    assert fi.irr([-100, -5, -5]).status == "none"  # never changes sign
    assert fi.irr([100, 5, 5]).status == "none"
    # NPV = −1 + 2v − 2v² has no real root (discriminant 4 − 8 < 0) though it changes sign twice
    res = fi.irr([-1, 2, -2])
    assert res.status == "none" and res.irr is None and res.sign_changes == 2
    # an option whose saving never covers the investment's tax effects: verdict names it
    o = options(
        investment_10k_cny=[10.0],
        annual_cost_saving_10k_cny=[-1.0],
        depreciation_years=[5],
        lifetime_years=[5],
    )
    r = fi.evaluate(o, assumptions=fi.resolve_assumptions(loss_tax="cap")).iloc[0]
    assert r["irr_status"] == "none" and math.isnan(r["irr"])
    assert "no IRR" in r["failed_criteria"] and r["verdict"] == "not_feasible"


def test_negative_irr_is_reported_not_hidden():
    # −100, 30, 30, 30 never recovers the investment: a single negative IRR (npf agrees)
    res = fi.irr([-100, 30, 30, 30])
    assert res.status == "unique" and res.irr < 0
    assert res.irr == pytest.approx(npf.irr([-100, 30, 30, 30]), rel=1e-9)


def test_multiple_irrs_are_all_reported():
    # (1 − 1.1v)(1 − 1.2v) → flows 1, −2.3, 1.32 (×100, sign flipped): IRRs 10 % and 20 %
    res = fi.irr([-100, 230, -132])
    assert res.status == "multiple" and res.irr is None
    assert res.roots == pytest.approx((0.10, 0.20), abs=1e-12)
    # three roots 10 %, 20 %, 30 %: coefficients of (1 − 1.1v)(1 − 1.2v)(1 − 1.3v)
    coeffs = np.polynomial.polynomial.polyfromroots([1 / 1.1, 1 / 1.2, 1 / 1.3])
    coeffs = coeffs / coeffs[0]
    res3 = fi.irr(-coeffs)
    assert res3.status == "multiple"
    assert res3.roots == pytest.approx((0.10, 0.20, 0.30), abs=1e-9)
    # a double (tangent) root at 10 %: no sign change of NPV, found by the polynomial check
    tangent = np.polynomial.polynomial.polyfromroots([1 / 1.1, 1 / 1.1, 1 / 1.5])
    res_t = fi.irr(tangent / tangent[0])
    assert any(abs(r - 0.10) < 1e-6 for r in res_t.roots)
    assert any(abs(r - 0.50) < 1e-9 for r in res_t.roots)


def test_multiple_irr_option_gets_review_verdict():
    # a schedule with a large removal cost at the end: flows change sign twice
    o = options(investment_10k_cny=[100.0], depreciation_years=[1], lifetime_years=[2])
    cf = pd.DataFrame(
        {
            "option_id": ["o1"] * 3,
            "year": [0, 1, 2],
            "investment_10k_cny": [100.0, 0.0, 0.0],
            "net_saving_10k_cny": [0.0, 330.0, -132.0],
        }
    )
    # t = 0, Y = 1: F1 = P1 = 330, F2 = −132 → flows −100, 330, −132; hand: the roots of
    # 132v² − 330v + 100 = 0 are v = 2.147 and 0.353, i.e. r = −53.4 % and 183.3 %
    a = fi.resolve_assumptions(tax_rate=0.0, discount_rate=0.5, benchmark_payback_years=5)
    r = fi.evaluate(o, cf, assumptions=a).iloc[0]
    # hand: NPV at 50 % = −100 + 330/1.5 − 132/2.25 = 61.33
    assert r["npv_10k_cny"] == pytest.approx(-100 + 330 / 1.5 - 132 / 2.25)
    assert r["irr_status"] == "multiple" and math.isnan(r["irr"])
    assert len(r["irr_roots"]) == 2
    assert pd.isna(r["irr_ok"]) and r["verdict"] == "review"
    assert "several IRRs" in r["notes"]


# --------------------------------------------------------------------------- timing, tax, salvage
def test_dynamic_payback_by_hand():
    # I = 100 at t = 0, F = 50 for 3 years, i = 10 %, no tax, D irrelevant:
    # discounted 45.4545, 41.3223, 37.5657; cumulative 45.45, 86.78 → year 3:
    # 2 + (100 − 86.7769) / 37.5657
    disc = [50 / 1.1, 50 / 1.1**2, 50 / 1.1**3]
    expected = 2 + (100 - disc[0] - disc[1]) / disc[2]
    assert fi.payback_period([-100, 50, 50, 50], 0.10) == pytest.approx(expected)
    assert fi.payback_period([-100, 50, 50, 50]) == pytest.approx(2.0)
    assert fi.payback_period([-100, 10, 10]) is None
    o = options(
        investment_10k_cny=[100.0],
        annual_cost_saving_10k_cny=[50.0],
        depreciation_years=[3],
        lifetime_years=[3],
    )
    r = fi.evaluate(o, assumptions=fi.resolve_assumptions(tax_rate=0.0, discount_rate=0.10)).iloc[0]
    assert r["dynamic_payback_years"] == pytest.approx(expected)


def test_construction_period_spreads_investment_and_uses_its_present_value():
    # I = 100 over c = 2 years (50 at t = 0 and t = 1), F = 30 in years 3..7, i = 8 %, t = 0
    o = options(
        investment_10k_cny=[100.0],
        annual_cost_saving_10k_cny=[30.0],
        depreciation_years=[5],
        lifetime_years=[5],
        construction_years=[2],
    )
    a = fi.resolve_assumptions(tax_rate=0.0, discount_rate=0.08)
    r = fi.evaluate(o, assumptions=a).iloc[0]
    pv_i = 50 + 50 / 1.08
    pv_f = sum(30 / 1.08**t for t in range(3, 8))
    assert r["pv_investment_10k_cny"] == pytest.approx(pv_i)
    assert r["npv_10k_cny"] == pytest.approx(pv_f - pv_i)
    assert r["npvr"] == pytest.approx((pv_f - pv_i) / pv_i)
    # static payback from the start of operation: I/F
    assert r["payback_years"] == pytest.approx(100 / 30)
    table = fi.cash_flow_table(o, assumptions=a)
    assert (
        table["phase"].tolist() == ["investment", "investment", "construction"] + ["operation"] * 5
    )
    assert table["net_cash_flow_10k_cny"].tolist() == pytest.approx(
        [-50, -50, 0, 30, 30, 30, 30, 30]
    )


def test_loss_years_relief_versus_cap():
    # I = 100, Y = 10, P = 5, t = 25 %: D = 10, T = −5.
    # relief: tax −1.25, E = −3.75, F = 6.25; cap: tax 0, E = −5, F = 5
    o = options(
        investment_10k_cny=[100.0],
        annual_cost_saving_10k_cny=[5.0],
        depreciation_years=[10],
        lifetime_years=[10],
    )
    rel = fi.evaluate(o, assumptions=fi.resolve_assumptions(loss_tax="relief")).iloc[0]
    cap = fi.evaluate(o, assumptions=fi.resolve_assumptions(loss_tax="cap")).iloc[0]
    assert rel["annual_cash_flow_10k_cny"] == pytest.approx(6.25)
    assert rel["net_profit_10k_cny"] == pytest.approx(-3.75)
    assert cap["annual_cash_flow_10k_cny"] == pytest.approx(5.0)
    assert cap["net_profit_10k_cny"] == pytest.approx(-5.0)
    assert rel["loss_years"] == cap["loss_years"] == 10
    assert "negative tax" in rel["notes"] and "capped at zero" in cap["notes"]
    assert rel.name == 0 and fi.evaluate(o).attrs["basis"]["loss_tax"] == "relief"


def test_salvage_and_depreciation_ending_before_life():
    # I = 60, P = 20, Y = 3, n = 5, S = 6, t = 25 %, i = 10 %:
    # years 1-3: D = 20, T = 0, F = 20; years 4-5: D = 0, F = 20 × 0.75 = 15; S at year 5
    o = options(
        investment_10k_cny=[60.0],
        annual_cost_saving_10k_cny=[20.0],
        depreciation_years=[3],
        lifetime_years=[5],
        salvage_10k_cny=[6.0],
    )
    a = fi.resolve_assumptions(tax_rate=0.25, discount_rate=0.10)
    r = fi.evaluate(o, assumptions=a).iloc[0]
    flows = [-60, 20, 20, 20, 15, 15 + 6]
    assert r["npv_10k_cny"] == pytest.approx(sum(c / 1.1**t for t, c in enumerate(flows)))
    assert r["irr"] == pytest.approx(npf.irr(flows), rel=1e-9)
    assert "F falls to 15" in r["notes"]


def test_subsidy_reduces_investment():
    o = options(
        investment_10k_cny=[120.0],
        subsidy_10k_cny=[20.0],
        annual_cost_saving_10k_cny=[25.0],
        depreciation_years=[10],
        lifetime_years=[10],
    )
    r = fi.evaluate(o, assumptions=fi.resolve_assumptions(tax_rate=0.25)).iloc[0]
    assert r["net_investment_10k_cny"] == pytest.approx(100.0)
    # D = I/Y on the net investment: F = (25 − 10)(0.75) + 10
    assert r["annual_cash_flow_10k_cny"] == pytest.approx(21.25)
    assert r["payback_years"] == pytest.approx(100 / 21.25)


def test_schedule_equal_to_constant_flows_gives_the_same_result():
    o = options(
        investment_10k_cny=[10.0],
        annual_cost_saving_10k_cny=[1.58],
        depreciation_years=[10],
        lifetime_years=[10],
    )
    cf = pd.DataFrame(
        {
            "option_id": "o1",
            "year": range(11),
            "investment_10k_cny": [10.0] + [pd.NA] * 10,
            "net_saving_10k_cny": [pd.NA] + [1.58] * 10,
        }
    )
    cf = cf.astype(
        {
            "option_id": "string",
            "year": "Int64",
            "investment_10k_cny": "Float64",
            "net_saving_10k_cny": "Float64",
        }
    )
    a = fi.resolve_assumptions(discount_rate=0.06)
    const = fi.evaluate(o, assumptions=a).iloc[0]
    sched = fi.evaluate(o, cf, assumptions=a).iloc[0]
    assert sched["cash_flow_basis"] == "schedule"
    for col in ("npv_10k_cny", "irr", "payback_years", "dynamic_payback_years", "npvr"):
        assert sched[col] == pytest.approx(const[col], rel=1e-12)


def test_year_by_year_schedule_with_subsidy_by_hand():
    # investment 80 (t0) + 40 (t1), subsidy 30 → net scale 0.75: 60 and 30;
    # savings 0, 0, 40, 50, 60 in years 0..4 → operation starts year 2, construction 1;
    # Y = 3: D = 90/3 = 30 in years 2-4; t = 0 → F = P
    o = options(investment_10k_cny=[120.0], subsidy_10k_cny=[30.0], depreciation_years=[3])
    cf = pd.DataFrame(
        {
            "option_id": "o1",
            "year": [0, 1, 2, 3, 4],
            "investment_10k_cny": [80.0, 40.0, 0.0, 0.0, 0.0],
            "net_saving_10k_cny": [0.0, 0.0, 40.0, 50.0, 60.0],
        }
    )
    a = fi.resolve_assumptions(tax_rate=0.0, discount_rate=0.1)
    r = fi.evaluate(o, cf, assumptions=a).iloc[0]
    flows = [-60, -30, 40, 50, 60]
    assert r["net_investment_10k_cny"] == pytest.approx(90)
    assert r["construction_years"] == 1 and r["lifetime_years"] == 3
    assert r["npv_10k_cny"] == pytest.approx(npf.npv(0.1, flows))
    assert r["npvr"] == pytest.approx(npf.npv(0.1, flows) / (60 + 30 / 1.1))
    assert r["irr"] == pytest.approx(npf.irr(flows), rel=1e-9)
    # static payback: cumulative −90, −50, 0 at year 3 → 3 − construction 1 = 2
    assert r["payback_years"] == pytest.approx(2.0)


def test_verdict_feasible_and_ranking_single():
    o = options(
        investment_10k_cny=[10.0],
        annual_cost_saving_10k_cny=[5.0],
        depreciation_years=[10],
        lifetime_years=[10],
    )
    ev = fi.evaluate(o)
    assert ev.loc[0, "verdict"] == "feasible" and ev.loc[0, "failed_criteria"] == ""
    rk = fi.rank(ev)
    assert rk.agree and rk.best_by_npv == ("o1",)


def test_inputs_are_not_modified():
    o = wenku365_options()
    before = o.copy()
    fi.evaluate(o)
    fi.cash_flow_table(o)
    pd.testing.assert_frame_equal(o, before)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("cols", "match"),
    [
        ({"investment_10k_cny": [10.0]}, "neither annual_revenue_increase"),
        (
            {"investment_10k_cny": [pd.NA], "annual_cost_saving_10k_cny": [1.0]},
            "investment_10k_cny is empty",
        ),
        (
            {
                "investment_10k_cny": [10.0],
                "subsidy_10k_cny": [12.0],
                "annual_cost_saving_10k_cny": [1.0],
            },
            "exceeds",
        ),
    ],
)
def test_bad_options_raise_clear_errors(cols, match):
    with pytest.raises(FinanceError, match=match):
        fi.evaluate(options(**cols))


def test_bad_schedule_and_assumptions_raise():
    o = options(investment_10k_cny=[10.0], annual_cost_saving_10k_cny=[1.0])
    gap = pd.DataFrame(
        {
            "option_id": "o1",
            "year": [0, 2],
            "investment_10k_cny": [10.0, 0.0],
            "net_saving_10k_cny": [0.0, 5.0],
        }
    )
    with pytest.raises(FinanceError, match=r"no row for year\(s\) \[1\]"):
        fi.evaluate(o, gap)
    empty_row = pd.DataFrame(
        {
            "option_id": "o1",
            "year": [0, 1],
            "investment_10k_cny": [10.0, pd.NA],
            "net_saving_10k_cny": [0.0, pd.NA],
        }
    )
    with pytest.raises(FinanceError, match="neither investment nor net saving"):
        fi.evaluate(o, empty_row)
    only_year0 = pd.DataFrame(
        {
            "option_id": ["o1"],
            "year": [0],
            "investment_10k_cny": [10.0],
            "net_saving_10k_cny": [0.0],
        }
    )
    with pytest.raises(FinanceError, match="no operating year"):
        fi.evaluate(o, only_year0)
    with pytest.raises(FinanceError, match=r"option\(s\) \['zz'\] not in the options table"):
        fi.evaluate(o, gap.assign(option_id="zz"))
    with pytest.raises(FinanceError, match="tax rate"):
        fi.resolve_assumptions(tax_rate=1.5)
    with pytest.raises(FinanceError, match="unknown assumption"):
        fi.resolve_assumptions(discount=0.1)
    with pytest.raises(FinanceError, match="loss_tax"):
        fi.resolve_assumptions(loss_tax="maybe")
    with pytest.raises(FinanceError, match="empty or infinite"):
        fi.irr([-1.0, np.nan])


def test_assumptions_from_dataset_parameters():
    a = fi.resolve_assumptions({"discount_rate": 0.05, "tax_rate": None})
    assert a.discount_rate == 0.05 and a.sources["discount_rate"] == "dataset parameters"
    assert a.tax_rate == 0.25  # data/reference default (PRC EIT 25 %)
    assert "defaults.yaml" in a.sources["tax_rate"]


# --------------------------------------------------------------------------- properties
flows_strategy = st.lists(
    st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=False), min_size=2, max_size=25
)


@settings(max_examples=200, deadline=None)
@given(flows_strategy)
def test_every_reported_root_zeroes_npv(flows):
    res = fi.irr(flows)
    for r in res.roots:
        # relative to the size of the discounted terms at that rate, plus the error of
        # storing r itself (|NPV'(r)| · eps · |r|: near r = −1 few digits of 1 + r remain)
        scale = sum(abs(c) * (1 + r) ** -t for t, c in enumerate(flows))
        slope = sum(abs(t * c) * (1 + r) ** (-t - 1) for t, c in enumerate(flows))
        assert abs(fi.npv(r, flows)) <= 1e-9 * scale + 4 * np.finfo(float).eps * slope * max(
            1, abs(r)
        )
    if res.status == "unique":
        assert res.irr == res.roots[0]


@settings(max_examples=200, deadline=None)
@given(
    inv=st.floats(1, 1e4),
    saving=st.floats(0.01, 5e3),
    life=st.integers(1, 30),
    rate=st.floats(0.0, 0.5),
)
def test_conventional_option_properties(inv, saving, life, rate):
    o = options(
        investment_10k_cny=[inv],
        annual_cost_saving_10k_cny=[saving],
        depreciation_years=[life],
        lifetime_years=[life],
    )
    r = fi.evaluate(o, assumptions=fi.resolve_assumptions(discount_rate=rate, tax_rate=0.25)).iloc[
        0
    ]
    # with Y = n and t = 25 %, F = 0.75 P + 0.25 I/n for every year (hand formula)
    f = 0.75 * saving + 0.25 * inv / life
    assert r["annual_cash_flow_10k_cny"] == pytest.approx(f)
    factor = sum((1 + rate) ** -t for t in range(1, life + 1))
    assert r["npv_10k_cny"] == pytest.approx(-inv + f * factor, rel=1e-9, abs=1e-9 * inv)
    assert np.sign(round(r["npvr"], 12)) == np.sign(round(r["npv_10k_cny"] / inv, 12))
    # one sign change → exactly one IRR, and NPV ≥ 0 exactly when IRR ≥ the discount rate
    assert r["irr_status"] == "unique"
    if abs(r["npv_10k_cny"]) > 1e-9 * inv:
        assert (r["npv_10k_cny"] > 0) == (r["irr"] > rate)


def test_fully_subsidised_option():
    # investment 20 fully covered by a subsidy: I = 0, P = 3 a year for 5 years, t = 25 %
    # (D = 0): F = 2.25, NPV at 8 % = 2.25 × 3.99271 = 8.98; NPVR undefined; IRR criterion met
    o = options(
        investment_10k_cny=[20.0],
        subsidy_10k_cny=[20.0],
        annual_cost_saving_10k_cny=[3.0],
        depreciation_years=[5],
        lifetime_years=[5],
    )
    r = fi.evaluate(o, assumptions=fi.resolve_assumptions(discount_rate=0.08)).iloc[0]
    assert r["npv_10k_cny"] == pytest.approx(2.25 * annuity(0.08, 5))
    assert math.isnan(r["npvr"]) and r["irr_status"] == "none"
    assert bool(r["irr_ok"]) and r["verdict"] == "feasible" and r["payback_years"] == 0
    assert "no investment net of subsidy" in r["notes"]


def test_reference_files_are_catalogued():
    from cpkit import reference

    for rel in ("finance/defaults.yaml", "finance/risk.yaml"):
        assert reference.meta(rel)["source"]
    assert fi.resolve_assumptions().loss_tax == "relief"
    assert fi.resolve_assumptions().irr_interpolation_step == 0.01


def test_evaluate_keeps_the_order_of_option_ids():
    o = options(
        investment_10k_cny=[10.0, 20.0, 30.0],
        annual_cost_saving_10k_cny=[3.0, 5.0, 9.0],
        lifetime_years=[10, 10, 10],
    )
    asked = ["o3", "o1", "o2"]
    ev = fi.evaluate(o, assumptions=fi.resolve_assumptions(), option_ids=asked)
    assert list(ev["option_id"]) == asked
    cf = fi.cash_flow_table(o, assumptions=fi.resolve_assumptions(), option_ids=asked)
    assert list(dict.fromkeys(cf["option_id"])) == asked
    # the figures do not depend on the order
    plain = fi.evaluate(o, assumptions=fi.resolve_assumptions()).set_index("option_id")
    pd.testing.assert_frame_equal(ev.set_index("option_id").loc[plain.index], plain)
