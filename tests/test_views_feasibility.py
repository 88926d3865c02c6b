"""Tests of cpkit.views.feasibility and cpkit.charts.finance (report chapter 6).

Independent references: the published CP-report examples of calculation reference 6.1
(360docs http://www.360docs.net/doc/5b4875868.html: I = 10, P = 1.58, Y = 10, t = 25 %,
i = 6 % gives D = 1.00, T = 0.58, E = 0.44, F = 1.44, N = 6.97, NPV = 0.56, IRR = 7.17 %;
wenku365 https://m.wenku365.com/p-56711376.html: i = 6.12 %, t = 33 %, option 1
I = 1800, P = 746.05 and option 2 I = 3100, P = 1248.6, where NPV prefers option 2 and
NPVR option 1), numpy-financial, and hand calculations written out in the tests.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import numpy_financial as npf
import pandas as pd
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpkit import finance, i18n, risk
from cpkit.charts import finance as charts
from cpkit.errors import CpkitError
from cpkit.notebook import open_phase
from cpkit.views import feasibility as fv

ROOT = Path(__file__).resolve().parent.parent
PLATING = ROOT / "data" / "samples" / "sample-plating"

ANNUITY_6_10 = (1 - 1.06**-10) / 0.06  # 7.360087: present value of 1 a year for 10 years


def _with_options(ctx, rows: list[dict], cashflows: pd.DataFrame | None = None):
    """ctx with its options replaced by ``rows`` (other columns empty), no scores."""
    ds = ctx.ds
    base = ds.tables["options"]
    o = pd.DataFrame([{c: rows[k].get(c, pd.NA) for c in base.columns} for k in range(len(rows))])
    o = o.astype(base.dtypes.to_dict())
    tables = dict(ds.tables)
    tables["options"] = o
    tables["option_scores"] = ds.tables["option_scores"].iloc[0:0]
    tables["option_effects"] = ds.tables["option_effects"].iloc[0:0]
    cf = ds.tables["option_cashflows"].iloc[0:0] if cashflows is None else cashflows
    tables["option_cashflows"] = cf.astype(ds.tables["option_cashflows"].dtypes.to_dict())
    return dataclasses.replace(ctx, ds=dataclasses.replace(ds, tables=tables))


def _row(oid: str, **kw) -> dict:
    base = {
        "option_id": oid,
        "name": f"方案{oid}",
        "aspect": "technology",
        "problem": "p",
        "cause": "c",
        "solution": "s",
        "phase_proposed": 4,
        "cost_class": "medium_high",
        "screening": "preliminary",
        "status": "planned",
        "subsidy_10k_cny": 0.0,
        "annual_revenue_increase_10k_cny": 0.0,
        "lifetime_years": 10,
        "depreciation_years": 10,
        "construction_years": 0,
        "salvage_10k_cny": 0.0,
    }
    base.update(kw)
    return base


@pytest.fixture(scope="module")
def docs360():
    """The 360docs example as a one-option dataset: i = 6 %, t = 25 %, benchmark 10 %, 5 a."""
    ctx = open_phase(
        PLATING,
        phase=5,
        lang="zh",
        interactive=False,
        teaching=True,
        discount_rate=0.06,
        tax_rate=0.25,
        benchmark_irr=0.10,
        benchmark_payback_years=5,
    )
    ctx = _with_options(ctx, [_row("A", investment_10k_cny=10.0, annual_cost_saving_10k_cny=1.58)])
    return fv.prepare(ctx, mc_draws=500, seed=7)


@pytest.fixture(scope="module")
def wenku():
    ctx = open_phase(
        PLATING,
        phase=5,
        lang="en",
        interactive=False,
        discount_rate=0.0612,
        tax_rate=0.33,
        benchmark_irr=0.10,
        benchmark_payback_years=5,
    )
    ctx = _with_options(
        ctx,
        [
            _row("W1", investment_10k_cny=1800.0, annual_cost_saving_10k_cny=746.05),
            _row("W2", investment_10k_cny=3100.0, annual_cost_saving_10k_cny=1248.6),
        ],
    )
    return fv.prepare(ctx, mc_draws=300, seed=3)


@pytest.fixture(scope="module")
def plating():
    ctx = open_phase(PLATING, phase=5, lang="zh", interactive=False, teaching=True)
    return fv.prepare(ctx, mc_draws=400, seed=11)


# --------------------------------------------------------------------------- the form
def test_form_table_reproduces_the_360docs_example(docs360):
    form = fv.form_table(docs360.evaluation, "zh").set_index("symbol")
    assert form.loc["I", "A"] == "10.00"
    assert form.loc["P", "A"] == "1.58"
    assert form.loc["D", "A"] == "1.00"  # 10 / 10
    assert form.loc["T", "A"] == "0.58"  # 1.58 - 1
    assert form.loc["N", "A"] == "6.97"  # 10 / 1.435 = 6.969
    assert form.loc["NPV", "A"] == "0.56"  # 1.435 x 7.3601 - 10 = 0.562
    assert form.loc["IRR", "A"] == "7.17%"
    assert form.loc["NPVR", "A"] == "5.62%"
    assert form.loc["I", "label"] == "总投资费用（扣除补贴） I（万元）"
    ev = docs360.evaluation.iloc[0]
    assert ev["net_profit_10k_cny"] == pytest.approx(0.58 * 0.75)
    assert ev["annual_cash_flow_10k_cny"] == pytest.approx(1.435)
    assert ev["npv_10k_cny"] == pytest.approx(npf.npv(0.06, [-10.0] + [1.435] * 10))
    en = fv.form_table(docs360.evaluation, "en").set_index("symbol")
    assert en.loc["NPV", "label"] == "Net present value NPV (10k CNY)"


def test_form_shows_text_for_missing_irr_and_payback():
    ev = pd.DataFrame(
        [
            {
                "option_id": "X",
                **dict.fromkeys(c for c, _, _, _ in fv.FORM_ROWS),
                "payback_years": math.nan,
                "dynamic_payback_years": math.nan,
                "irr": math.nan,
                "irr_status": "none",
            }
        ]
    )
    form = fv.form_table(ev, "zh").set_index("symbol")
    assert form.loc["IRR", "X"] == "无"
    assert form.loc["N", "X"] == "寿命期内未收回"
    ev.loc[0, "irr_status"] = "multiple"
    assert fv.form_table(ev, "en").set_index("symbol").loc["IRR", "X"].startswith("several")


def test_failed_criteria_of_the_360docs_example(docs360):
    row = docs360.evaluation.iloc[0].to_dict()
    failed = fv.failed_criteria(row, docs360.assumptions, "zh")
    # NPV 0.56 >= 0 passes; IRR 7.17 % < 10 % and N 6.97 >= 5 fail
    assert failed == ["内部收益率 7.17% < 基准 10.00%", "投资偿还期 6.97 年 ≥ 基准 5 年"]
    crit = fv.criteria_table(
        docs360.evaluation, docs360.assumptions, docs360.tables["options"], "zh"
    )
    assert crit.loc[0, "verdict"] == "不可行"
    assert list(crit.loc[0, ["npv_ok", "irr_ok", "payback_ok"]]) == [True, False, False]


def test_wenku365_npv_and_npvr_disagree(wenku):
    ev = wenku.evaluation.set_index("option_id")
    # published: option 1 F = 559.25, NPV = 2292.9, NPVR = 1.274; option 2 F = 938.86,
    # NPV = 3771.0, NPVR = 1.216
    assert ev.loc["W1", "annual_cash_flow_10k_cny"] == pytest.approx(559.25, abs=0.01)
    assert ev.loc["W2", "annual_cash_flow_10k_cny"] == pytest.approx(938.86, abs=0.01)
    assert ev.loc["W1", "npv_10k_cny"] == pytest.approx(2292.9, abs=0.1)
    assert ev.loc["W2", "npv_10k_cny"] == pytest.approx(3771.0, abs=0.1)
    r = wenku.ranking
    assert r.best_by_npv == ("W2",) and r.best_by_npvr == ("W1",) and not r.agree
    assert fv.leading_options(wenku.evaluation, r) == ("W2", "W1")
    assert wenku.risk_ids == ("W2", "W1")


def test_leading_option_when_none_is_feasible(docs360):
    assert docs360.ranking.table.empty
    assert docs360.risk_ids == ("A",)  # the largest NPV


# --------------------------------------------------------------------------- scenarios
def test_scenario_identity_and_inputs_unchanged(plating):
    o, c = plating.tables["options"], plating.tables["option_cashflows"]
    o2, c2 = fv.scenario(o, c)
    pd.testing.assert_frame_equal(o2, o)
    pd.testing.assert_frame_equal(c2, c)
    fv.scenario(o, c, revenue_factor=2, saving_factor=0.5)
    pd.testing.assert_frame_equal(plating.tables["options"], o)  # not modified
    with pytest.raises(CpkitError, match="saving_factor"):
        fv.scenario(o, c, saving_factor=-1)


def test_scenario_saving_factor_by_hand(docs360):
    o, c = fv.scenario(
        docs360.tables["options"], docs360.tables["option_cashflows"], saving_factor=0.8
    )
    ev = finance.evaluate(o, c, assumptions=docs360.assumptions)
    # P = 1.264, D = 1, F = (1.264 - 1) x 0.75 + 1 = 1.198, NPV = 1.198 x 7.360087 - 10
    assert ev.loc[0, "annual_cash_flow_10k_cny"] == pytest.approx(1.198)
    assert ev.loc[0, "npv_10k_cny"] == pytest.approx(1.198 * ANNUITY_6_10 - 10)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.floats(min_value=0.0, max_value=3.0), st.floats(min_value=0.0, max_value=0.3))
def test_scenario_npv_is_the_hand_formula(docs360, factor, rate):
    """With relief in loss years F = (P - D)(1 - t) + D is linear in P, so for the 360docs
    option NPV = ((1.58 f - 1) x 0.75 + 1) x a(i, 10) - 10 for every saving factor f."""
    o, c = fv.scenario(
        docs360.tables["options"], docs360.tables["option_cashflows"], saving_factor=factor
    )
    a = finance.with_assumptions(docs360.assumptions, discount_rate=rate)
    ev = finance.evaluate(o, c, assumptions=a)
    annuity = sum((1 + rate) ** -j for j in range(1, 11))
    expected = ((1.58 * factor - 1) * 0.75 + 1) * annuity - 10
    assert ev.loc[0, "npv_10k_cny"] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_scenario_matches_the_tornado_on_a_schedule(plating):
    """F05 of the sample has a year-by-year schedule: scaling the input tables must give
    the NPV cpkit.risk.tornado finds by scaling inside the cash-flow components."""
    tor = plating.tornados.get("F05")
    if tor is None:
        tor = risk.tornado(
            plating.tables["options"],
            plating.tables["option_cashflows"],
            option_id="F05",
            assumptions=plating.assumptions,
        )
    row = tor.set_index("variable").loc["operating_saving"]
    o, c = fv.scenario(
        plating.tables["options"], plating.tables["option_cashflows"], saving_factor=0.8
    )
    ev = finance.evaluate(o, c, assumptions=plating.assumptions, option_ids=["F05"])
    assert ev.loc[0, "npv_10k_cny"] == pytest.approx(row["npv_low_10k_cny"], rel=1e-12)


def test_scenario_splits_a_schedule_between_revenue_and_saving(docs360):
    """Revenue 10 and saving 30 a year: a quarter of the schedule's P is revenue, so a
    revenue factor of 0.8 scales P by 0.25 x 0.8 + 0.75 = 0.95 (40 -> 38)."""
    ctx = _with_options(
        docs360.ctx,
        [
            _row(
                "S",
                investment_10k_cny=100.0,
                annual_revenue_increase_10k_cny=10.0,
                annual_cost_saving_10k_cny=30.0,
            )
        ],
        cashflows=pd.DataFrame(
            {
                "option_id": ["S"] * 6,
                "year": range(6),
                "investment_10k_cny": [100.0, pd.NA, pd.NA, pd.NA, pd.NA, pd.NA],
                "net_saving_10k_cny": [0.0, 40.0, 40.0, 40.0, 40.0, 40.0],
                "note": [pd.NA] * 6,
            }
        ),
    )
    t = ctx.ds.tables
    o, c = fv.scenario(t["options"], t["option_cashflows"], revenue_factor=0.8)
    assert list(c["net_saving_10k_cny"].astype(float)) == pytest.approx([0, 38, 38, 38, 38, 38])
    a = finance.resolve_assumptions(ctx.ds.parameters)
    tor = risk.tornado(t["options"], t["option_cashflows"], option_id="S", assumptions=a)
    ev = finance.evaluate(o, c, assumptions=a)
    low = tor.set_index("variable").loc["revenue", "npv_low_10k_cny"]
    assert ev.loc[0, "npv_10k_cny"] == pytest.approx(low, rel=1e-12)


# --------------------------------------------------------------------------- risk views
def test_tornado_table_and_bars(docs360):
    tor = docs360.tornados["A"]
    table = fv.tornado_table(tor, "zh").set_index("variable")
    assert table.loc["投资", "base"] == "10.00 万元"
    assert table.loc["贴现率", "base"] == "6.00%"
    # for the discount rate NPV is 0 at the IRR: 7.17 %
    assert table.loc["贴现率", "switch_value"] == "7.17%"
    bars = fv.tornado_bars(tor, "zh")
    # revenue has base 0 (no effect): left out of the chart
    assert "年增收入（价格）" not in set(bars["variable"])
    assert set(bars["side"]) == {"下降 20%", "上升 20%"}
    assert len(bars) == 2 * 3


def test_histogram_bins_hold_every_draw():
    x = np.array([-3.0, -1.0, 0.5, 1.0, 2.0, 2.5, 7.0])
    b = fv.histogram_bins(x)
    assert int(b["draws"].sum()) == len(x)
    assert b["bin_start"].iloc[0] == -3.0 and b["bin_end"].iloc[-1] == 7.0
    assert (b["negative"] == (b["bin_end"] <= 0)).all()
    with pytest.raises(CpkitError):
        fv.histogram_bins(np.array([np.nan]))


def test_monte_carlo_is_reproducible_and_summarised(docs360):
    mc = docs360.monte_carlo["A"]
    again = risk.monte_carlo(
        docs360.tables["options"],
        docs360.tables["option_cashflows"],
        option_id="A",
        assumptions=docs360.assumptions,
        draws=500,
        seed=7,
    )
    assert mc.prob_npv_negative == again.prob_npv_negative
    s = fv.monte_carlo_summary(mc, "zh")
    assert list(s["statistic"][:3]) == ["均值", "标准差", "最小值"]
    assert "5%分位数" in set(s["statistic"])
    # share of draws with NPV < 0, counted by hand from the samples
    assert mc.prob_npv_negative == pytest.approx(float((mc.samples["npv_10k_cny"] < 0).mean()))


# --------------------------------------------------------------------------- recommendations
def test_recommendation_rules():
    ev = pd.DataFrame(
        {
            "option_id": ["a", "b", "c", "d", "e"],
            "verdict": ["feasible", "not_feasible", "not_feasible", "not_feasible", "review"],
            "npv_10k_cny": [1.0, -1.0, -2.0, -3.0, 4.0],
            "irr": [0.2, math.nan, 0.01, 0.02, math.nan],
        }
    )
    o = pd.DataFrame(
        {
            "option_id": ["a", "b", "c", "d", "e"],
            "name": list("ABCDE"),
            "status": ["planned"] * 5,
            "expert_recommended": pd.array([False, True, True, pd.NA, pd.NA], dtype="boolean"),
            "mandatory_issue": pd.array([False, True, False, True, False], dtype="boolean"),
        }
    )
    r = fv.recommendations(ev, o, "en").set_index("option_id")
    assert list(r["recommended"]) == [True, True, True, False, True]
    assert r.loc["a", "reason"] == "Meets the financial criteria"
    assert r.loc["b", "reason"].startswith("Addresses the mandatory-audit issue")
    assert r.loc["c", "reason"] == "Recommended by experts"
    assert r.loc["d", "reason"] == "Fails the financial criteria"
    assert r.loc["e", "reason"].startswith("NPV and payback pass")


def test_plating_recommends_the_compliance_options(plating):
    r = fv.recommendations(plating.evaluation, plating.tables["options"], "zh").set_index(
        "option_id"
    )
    # F06 (nickel compliance) and F17 (trivalent chromium) fail financially but address
    # the mandatory issue and are recommended by the experts (options.csv)
    assert r.loc["F06", "recommended"] and r.loc["F17", "recommended"]
    assert r.loc["F06", "verdict"] == "不可行"
    assert r["recommended"].all()


# --------------------------------------------------------------------------- assumptions
def test_assumptions_table_names_the_sources(plating):
    t = fv.assumptions_table(plating.assumptions, "zh").set_index("parameter")
    assert t.loc["贴现率 i", "value"] == "6.00%"  # enterprise.yaml: 0.06
    assert t.loc["贴现率 i", "source"] == "企业数据集参数"
    assert t.loc["亏损年份所得税", "source"].startswith(
        "默认值（data/reference/finance/defaults.yaml）"
    )


def test_prepare_checks_its_parameters(plating):
    ctx = plating.ctx
    with pytest.raises(CpkitError, match="mc_draws"):
        fv.prepare(ctx, mc_draws=1)
    with pytest.raises(CpkitError, match="mc_draws"):
        fv.prepare(ctx, mc_draws=True)
    with pytest.raises(CpkitError, match="seed"):
        fv.prepare(ctx, seed=-1)
    with pytest.raises(CpkitError, match="risk_options names F01"):
        fv.prepare(ctx, risk_options=["F01"])
    ch = fv.prepare(ctx, risk_options="F04; F07")
    assert ch.risk_ids == ("F04", "F07")


def test_candidates_follow_the_weighted_ranking(plating):
    # chapter 5 ranks F06, F04, F17, F11, F07, F05, F08
    assert plating.candidates == ("F06", "F04", "F17", "F11", "F07", "F05", "F08")
    assert not plating.problems


# --------------------------------------------------------------------------- teaching
def test_formulas_with_the_numbers_give_the_evaluation(docs360):
    row = docs360.evaluation.iloc[0]
    vals = fv.formula_values(row, docs360.assumptions)
    for name, (lhs, rhs) in fv.finance_formulas().items():
        subs = {s: vals[str(s)] for s in sp.sympify(rhs).free_symbols}
        value = float(sp.N(sp.sympify(rhs).subs(subs).doit()))
        if name == "IRR":
            assert value == pytest.approx(0.0, abs=1e-9)  # NPV(IRR) = 0
        else:
            assert value == pytest.approx(vals.get(str(lhs), value), rel=1e-9)
    shown = fv.formula_values(row, docs360.assumptions, shown=True)
    assert (shown["n"], shown["Y"], shown["F"], shown["I"]) == (10, 10, 1.435, 10.0)
    npv_sum = sp.sympify(fv.finance_formulas()["NPV"][1])
    s = {x: vals[str(x)] for x in npv_sum.free_symbols}
    assert float(sp.N(npv_sum.subs(s).doit())) == pytest.approx(1.435 * ANNUITY_6_10 - 10)


def test_teaching_option_needs_textbook_flows(plating, docs360):
    assert fv.teaching_option(docs360.evaluation) == "A"
    # F05 has a schedule, F06 and F17 loss years: the first simple one in rank order
    assert fv.teaching_option(plating.evaluation) == "F04"


def test_exercises_checked_with_cpkit_finance(docs360):
    ex = fv.exercise_payback(docs360)
    assert ex.expected == pytest.approx(10 / 1.435)  # N = I / F = 6.969
    assert ex.check(6.97).correct
    npv_sign = fv.exercise_npv_sign(docs360)
    # at the benchmark 10 %: 1.435 x 6.144567 - 10 = -1.18 < 0 (IRR 7.17 % < 10 %)
    assert npf.npv(0.10, [-10.0] + [1.435] * 10) < 0
    assert npv_sign.expected == 0.0
    assert npv_sign.check(0).correct and not npv_sign.check(1).correct


def test_exercises_are_silent_without_teaching(plating):
    off = dataclasses.replace(plating, ctx=dataclasses.replace(plating.ctx, teaching=False))
    assert fv.exercise_payback(off).check() is None
    assert fv.exercise_npv_sign(off).check(1) is None


# --------------------------------------------------------------------------- charts
def test_finance_charts_build(plating):
    from cpkit.display import chart_svg

    cf = plating.cash_flows.assign(option=plating.cash_flows["option_id"])
    c = charts.cumulative_cash_flow(
        cf[["option", "year", "cumulative_discounted_10k_cny"]],
        year_title="年份",
        value_title="万元",
        option_title="方案",
        title="累计",
    )
    svg = chart_svg(c)
    assert svg.lstrip().startswith("<svg") and "累计" in svg
    tor = plating.tornados[plating.risk_ids[0]]
    t = charts.tornado(
        fv.tornado_bars(tor, "en"),
        variable_title="v",
        npv_title="n",
        side_title="s",
        base_npv_10k_cny=float(tor["npv_base_10k_cny"].iloc[0]),
    )
    assert len(t.to_dict()["layer"]) == 2
    mc = plating.monte_carlo[plating.risk_ids[0]]
    h = charts.npv_histogram(
        fv.histogram_bins(mc.samples["npv_10k_cny"].to_numpy()),
        pd.DataFrame({"value": [0.0], "label": ["0"]}),
        npv_title="n",
        count_title="c",
    )
    assert len(h.to_dict()["layer"]) == 3


# --------------------------------------------------------------------------- catalogue, smoke
def test_every_message_key_used_exists():
    cat = i18n.load_catalogue()
    text = (ROOT / "cpkit" / "views" / "feasibility.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"((?:p4|p5|common)\.[A-Za-z0-9_.]*[A-Za-z0-9_])"', text))
    missing = sorted(
        k for k in used if k not in cat and not any(c.startswith(k + ".") for c in cat)
    )
    assert not missing
    for key in (k for k in cat if k.startswith("p5.")):
        assert set(cat[key]) == {"zh", "en"}
    for v in ("feasible", "not_feasible", "review"):
        assert f"p5.verdict.{v}" in cat


@pytest.mark.parametrize("fixture", ["plating", "wenku", "docs360"])
def test_section_functions_run_outside_a_kernel(fixture, request, capsys):
    ch = request.getfixturevalue(fixture)
    for f in (
        fv.chapter_intro,
        fv.preliminary,
        fv.basic_content,
        fv.technical,
        fv.environmental,
        fv.financial,
        fv.teach_finance,
        fv.cash_flow_section,
        fv.ranking_section,
        fv.risk_section,
        fv.recommended,
        fv.cash_flow_annex,
    ):
        assert f(ch) is None
    assert "HTML" in capsys.readouterr().out


def test_scenario_view_differs_from_base(plating):
    base = fv._scenario_view(plating, plating.assumptions.discount_rate, 1.0, 1.0)
    other = fv._scenario_view(plating, 0.12, 0.8, 0.8)
    assert len(other) == len(base) + 1  # the scenario note first
    assert "情景分析" in other[0].data


def test_a_scenario_keeps_the_chapters_option_order(plating):
    """Moving a slider recomputes the form: the options stay in the chapter's order (the
    ranking), not the options table's."""
    ids = [str(x) for x in plating.evaluation["option_id"]]
    assert ids != sorted(ids)  # the sample's ranking differs from the table order
    outs = fv._scenario_view(plating, plating.assumptions.discount_rate + 0.01, 1.0, 1.0)
    html = "".join(getattr(o, "data", "") or "" for o in outs[1:])
    shown = [oid for oid in ids if oid in html]
    assert sorted(shown, key=html.index) == ids
