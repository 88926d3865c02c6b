"""cpkit.views.implementation and cpkit.charts.implementation (report chapter 7).

Independent references: hand calculations written out below from the sample datasets'
CSV files (data/samples/sample-plating, sample-dyeing), the sample READMEs' arithmetic,
and numpy-financial for NPV/IRR.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import numpy_financial as npf
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import i18n
from cpkit.charts import implementation as charts
from cpkit.dataset import load
from cpkit.display import table_html
from cpkit.notebook import PhaseContext
from cpkit.views import implementation as impl

ROOT = Path(__file__).resolve().parent.parent
PLATING = ROOT / "data" / "samples" / "sample-plating"
DYEING = ROOT / "data" / "samples" / "sample-dyeing"
MINIMAL = ROOT / "tests" / "fixtures" / "minimal"


@pytest.fixture(scope="module")
def plating():
    return load(PLATING)


@pytest.fixture(scope="module")
def dyeing():
    return load(DYEING)


@pytest.fixture(scope="module")
def ch(plating):
    return impl.chapter(plating)


@pytest.fixture(scope="module")
def ch_dyeing(dyeing):
    return impl.chapter(dyeing)


def html_of(obj) -> str:
    """The HTML of a display object (or list/tuple of them)."""
    if obj is None:
        return ""
    if isinstance(obj, list | tuple):
        return "".join(html_of(o) for o in obj)
    return getattr(obj, "data", "") or ""


def ctx(ds, lang="zh", teaching=True):
    return PhaseContext(
        ds=ds, phase=6, lang=lang, interactive=False, teaching=teaching, overrides={}
    )


# --------------------------------------------------------------------------- 7.1 the plan
def test_plan_keeps_implemented_in_progress_planned_in_order(ch):
    p = ch.plan
    # options.csv: 18 implemented, 1 in progress (F14), 2 planned (F04, F17), 2 rejected
    assert len(p) == 21
    assert set(p["option_id"]) >= {"F14", "F04", "F17"}
    assert not set(p["option_id"]) & {"F15", "F16"}  # rejected
    order = list(p["status"])
    assert order == ["implemented"] * 18 + ["in_progress"] + ["planned"] * 2
    done = p[p["status"] == "implemented"]
    assert list(done["start"]) == sorted(done["start"])


def test_plan_duration_counts_both_days(ch):
    # F01: 2026-03-16 .. 2026-03-31 -> 16 days; F13: 2026-03-16 .. 2026-03-20 -> 5 days
    p = ch.plan.set_index("option_id")
    assert p.at["F01", "duration_days"] == 16
    assert p.at["F13", "duration_days"] == 5


def test_plan_cost_class_by_threshold_when_empty(ch):
    # F02 has no cost class and invests 1.2 (10k CNY) <= 5 (Zhejiang no/low limit);
    # F11 has none and invests 6.5 > 5 -> medium/high
    p = ch.plan.set_index("option_id")
    assert p.at["F02", "cost_class"] == "no_low"
    assert p.at["F11", "cost_class"] == "medium_high"


def test_plan_summary_money_by_hand(ch):
    s = ch.summary
    assert s.counts == {"implemented": 18, "in_progress": 1, "planned": 2}
    assert s.by_class[("implemented", "no_low")] == 13
    assert s.by_class[("implemented", "medium_high")] == 5
    assert s.first_start == dt.date(2026, 2, 27)  # F21
    assert s.last_end == dt.date(2026, 9, 10)  # F05
    # still to spend: F14 2.0 expected - 0.8 spent + F04 68 + F17 55 = 124.2
    assert s.investment_remaining_10k_cny == pytest.approx(124.2)
    assert "安环部" in s.departments and "电镀车间" in s.departments


def _plan_frame(**over):
    base = {
        "option_id": "X1",
        "name": "试验方案",
        "aspect": "management",
        "cost_class": "no_low",
        "status": "implemented",
        "department": "生产部",
        "owner": "张三",
        "start": pd.Timestamp("2026-03-01"),
        "end": pd.Timestamp("2026-03-10"),
        "duration_days": 10,
        "investment_expected_10k_cny": 1.0,
        "subsidy_10k_cny": None,
        "investment_actual_10k_cny": 1.1,
        "benefit_expected_10k_cny": 2.0,
        "benefit_actual_10k_cny": 2.2,
        "evaluation": "ok",
        "technical_assessment": None,
        "environmental_assessment": None,
        "mandatory_issue": None,
        "depreciation_years": None,
        "has_record": True,
    }
    base.update(over)
    return base


def test_plan_issues_lists_what_a_reviewer_sends_back():
    rows = [
        _plan_frame(option_id="A"),
        _plan_frame(option_id="B", owner=None),
        _plan_frame(option_id="C", start=pd.NaT),
        _plan_frame(option_id="D", end=pd.Timestamp("2026-12-20")),
        _plan_frame(option_id="E", investment_actual_10k_cny=None, benefit_actual_10k_cny=None),
        _plan_frame(option_id="F", has_record=False, department=None, owner=None, start=pd.NaT),
        _plan_frame(option_id="G", end=pd.Timestamp("2026-02-01")),
        _plan_frame(option_id="H", status="planned", has_record=False, owner=None, start=pd.NaT),
    ]
    issues = impl.plan_issues(pd.DataFrame(rows), dt.date(2026, 10, 30))
    got = {(r.option_id, r.issue) for r in issues.itertuples()}
    assert ("B", "no_owner") in got
    assert ("C", "no_dates") in got
    assert ("D", "not_finished_by_audit_end") in got
    assert ("E", "no_actual_investment") in got and ("E", "no_actual_benefit") in got
    assert ("F", "no_record") in got
    assert ("G", "end_before_start") in got
    assert not any(o == "A" for o, _ in got)
    assert not any(o == "H" for o, _ in got)  # a planned option without a record is fine
    order = list(issues["issue"])
    assert order == sorted(order, key=impl.PLAN_ISSUES.index)


def test_samples_plan_has_no_issue(ch, ch_dyeing):
    assert ch.issues.empty
    assert ch_dyeing.issues.empty


# --------------------------------------------------------------------------- 7.2 economics
def test_economic_totals_by_hand(ch):
    # implementation.csv, implemented options (cost class: options.csv or the 5 threshold)
    inv_low = 0.3 + 1.2 + 1.8 + 4.6 + 2.9 + 3.5 + 0 + 4.5 + 0.5 + 4.3 + 0.6 + 1.0 + 3.8
    inv_high = 271 + 18.6 + 41.5 + 12.4 + 6.8  # F05 F06 F07 F08 F11
    ben_low = 5.6 + 2.1 + 4.2 + 1.7 + 10.7 + 18.9 + 15.3 + 8.8 + 1.1 + 0.9 + 3.8 + 0.2 + 17.2
    ben_high = 70.8 - 1.5 + 15.1 + 8.0 + 19.2
    t = ch.benefit_totals.set_index("cost_class")
    assert t.at["no_low", "options"] == 13 and t.at["medium_high", "options"] == 5
    assert t.at["no_low", "investment_10k_cny"] == pytest.approx(inv_low)
    assert t.at["medium_high", "investment_10k_cny"] == pytest.approx(inv_high)
    assert t.at["total", "investment_10k_cny"] == pytest.approx(inv_low + inv_high)
    assert t.at["no_low", "benefit_10k_cny"] == pytest.approx(ben_low)
    assert t.at["medium_high", "benefit_10k_cny"] == pytest.approx(ben_high)
    assert not t["estimated"].any()


def test_economic_totals_agree_with_the_performance_table(ch):
    money = ch.performance.money.set_index("row_id")["value_10k_cny"]
    t = ch.benefit_totals.set_index("cost_class")
    assert money["invest_implemented"] == pytest.approx(t.at["total", "investment_10k_cny"])
    assert money["benefit_implemented_no_low"] == pytest.approx(t.at["no_low", "benefit_10k_cny"])


def test_missing_actual_figures_fall_back_and_are_flagged():
    plan = pd.DataFrame(
        [
            _plan_frame(option_id="A", investment_actual_10k_cny=None),
            _plan_frame(option_id="B", cost_class="medium_high", benefit_actual_10k_cny=None),
        ]
    )
    b = impl.economic_benefits(plan).set_index("option_id")
    assert b.at["A", "investment_10k_cny"] == 1.0 and b.at["A", "investment_estimated"]
    assert b.at["B", "benefit_10k_cny"] == 2.0 and b.at["B", "benefit_estimated"]
    # benefit achieved = 2.2 / 2.0 = 110 %
    assert b.at["A", "benefit_achieved_pct"] == pytest.approx(110.0)
    t = impl.economic_totals(impl.economic_benefits(plan)).set_index("cost_class")
    assert t.at["total", "investment_10k_cny"] == pytest.approx(1.0 + 1.1)
    assert t.at["total", "estimated"]


# --------------------------------------------------------------------------- 7.2 effects
def test_fresh_water_saved_matches_the_readme(ch):
    # README: water 52 740 m3/a = F05 36 000 + F11 8 400 + F23 7 500 + F12 840
    tot = ch.effect_totals.set_index("item")
    assert tot.at["fresh_water", "total"] == pytest.approx(36000 + 8400 + 7500 + 840)
    assert tot.at["fresh_water", "medium_high"] == pytest.approx(36000 + 8400)
    # README: electricity 255 000 kWh/a saved (F07 210 000, F09 24 000, F10 6 000, F20
    # 12 000, F22 3 000), natural gas 44 400 m3/a (F08 19 400 + F10 25 000)
    assert tot.at["electricity", "total"] == pytest.approx(255000)
    assert tot.at["natural_gas", "total"] == pytest.approx(19400 + 25000)
    assert tot.at["fresh_water", "kind"] == "water"
    assert tot.at["PW01", "section"] == "reduction" and tot.at["M02", "section"] == "saving"


def test_effect_totals_convert_units_of_one_item():
    effects = pd.DataFrame(
        {
            "option_id": ["A", "B", "C", "D"],
            "option_name": ["a", "b", "c", "d"],
            "status": ["implemented"] * 4,
            "cost_class": ["no_low", "no_low", "medium_high", "medium_high"],
            "item": ["M1", "M1", "M1", "fresh_water"],
            "name_zh": ["料", "料", "料", "新鲜水"],
            "name_en": ["mat", "mat", "mat", "Fresh water"],
            "section": ["saving"] * 4,
            "kind": ["material", "material", "material", "water"],
            "unit": ["kg", "t", "kg", "t"],
            "expected": [400.0, 1.0, 100.0, 20.0],
            "actual": [500.0, 1.5, None, 25.0],
            "achieved_pct": [None] * 4,
        }
    )
    t = impl.effect_totals(effects).set_index("item")
    # kg is the most frequent unit: 500 kg + 1.5 t = 2000 kg (no/low); 100 kg expected
    # (no actual) on medium/high, flagged as estimated
    assert t.at["M1", "unit"] == "kg"
    assert t.at["M1", "no_low"] == pytest.approx(2000.0)
    assert t.at["M1", "medium_high"] == pytest.approx(100.0)
    assert t.at["M1", "total"] == pytest.approx(2100.0)
    assert t.at["M1", "estimated"]
    # water is listed before materials
    assert list(t.index) == ["fresh_water", "M1"]


def test_annual_unit_drops_the_per_year():
    assert impl.annual_unit("kg/a") == "kg"
    assert impl.annual_unit("t/年") == "t"
    assert impl.annual_unit("m3") == "m3"


def test_effect_entered_per_year_is_not_written_twice(plating):
    # the quirk reported for cpkit.performance: "kg/a" must not become "kg/a/年"
    t = plating.tables
    eff = t["option_effects"].copy()
    eff.loc[eff.index[0], "unit"] = "kg/a"
    plan = impl.implementation_plan(t["options"], t["implementation"], thresholds="zhejiang")
    e = impl.option_effects(eff, plan, t["pollutants"], t["wastes"], t["materials"])
    assert e.loc[0, "unit"] == "kg"
    ch2 = impl.Chapter(**{**impl.chapter(plating).__dict__, "effects": e})
    html = html_of(impl.effects_table(ch2, "zh"))
    assert "kg/a/年" not in html and "kg/年" in html


# --------------------------------------------------------------------------- 7.3 economics
def test_payback_achieved_by_hand_and_numpy_financial(ch):
    # F07: actual I = 41.5, actual P = 15.1, Y = 10, life 10, tax 25 %, rate 6 %
    r = ch.evaluation.set_index("option_id").loc["F07"]
    d = 41.5 / 10
    f = (15.1 - d) * (1 - 0.25) + d  # 12.3625
    assert r["payback_achieved_years"] == pytest.approx(41.5 / f)  # 3.3569
    flows = [-41.5] + [f] * 10
    assert r["npv_achieved_10k_cny"] == pytest.approx(npf.npv(0.06, flows))
    assert r["irr_achieved"] == pytest.approx(npf.irr(flows), rel=1e-6)
    assert r["verdict_achieved"] == "feasible" and r["basis"] == "constant"
    # expected: I = 42, P = 15.8
    d0 = 42 / 10
    f0 = (15.8 - d0) * 0.75 + d0
    assert r["payback_expected_years"] == pytest.approx(42 / f0)


def test_schedule_is_scaled_to_the_actual_figures(ch):
    # F05: schedule of option_cashflows.csv (265 in year 0, savings 52..71), expected P
    # 73.9 and salvage 10 (untaxed, last year) in options.csv; actual investment 271,
    # actual benefit 70.8
    r = ch.evaluation.set_index("option_id").loc["F05"]
    assert r["basis"] == "schedule_scaled"
    savings = [52, 68, 71, 71, 56, 71, 70, 70, 58, 68]
    k = 70.8 / 73.9
    inv = 271.0
    d = inv / 10
    flows = [-inv] + [(p * k - d) * 0.75 + d for p in savings]
    flows[-1] += 10
    assert r["npv_achieved_10k_cny"] == pytest.approx(npf.npv(0.06, flows))
    cum = np.cumsum(flows)
    n = int(np.argmax(cum >= 0))
    payback = (n - 1) + (-cum[n - 1]) / flows[n]
    assert r["payback_achieved_years"] == pytest.approx(payback)
    # 5.15 years against the benchmark 5: no longer feasible on actual figures
    assert r["verdict_expected"] == "feasible" and r["verdict_achieved"] == "not_feasible"


def test_an_option_finance_cannot_evaluate_keeps_its_row(plating):
    t = plating.tables
    opts = t["options"].copy()
    f08 = opts["option_id"] == "F08"
    opts.loc[f08, ["annual_cost_saving_10k_cny", "annual_revenue_increase_10k_cny"]] = pd.NA
    plan = impl.implementation_plan(opts, t["implementation"], thresholds="zhejiang")
    ev = impl.achieved_economics(opts, t["option_cashflows"], plan).set_index("option_id")
    assert "neither" in ev.at["F08", "error"]
    assert ev["error"].drop("F08").isna().all()
    assert ev.at["F07", "payback_achieved_years"] > 0


def test_prospects_are_the_planned_medium_high_options(ch, ch_dyeing):
    assert list(ch.prospects["option_id"]) == ["F04", "F17"]
    f04 = ch.prospects.set_index("option_id").loc["F04"]
    d = 68 / 10
    f = (24.5 - d) * 0.75 + d
    assert f04["payback_years"] == pytest.approx(68 / f)
    assert ch.prospects.set_index("option_id").at["F17", "verdict"] == "not_feasible"
    assert set(ch_dyeing.prospects["option_id"]) == {"F09", "F10", "F11", "F21"}


# --------------------------------------------------------------------------- 7.4 before/after
def test_after_year_resolution(plating):
    h = plating.tables["history"]
    assert impl.resolve_after_year(h, 2025, dt.date(2026, 10, 30)) == 2026
    assert impl.resolve_after_year(h, 2025, None) == 2026
    assert impl.resolve_after_year(h, 2026, None) is None
    assert impl.resolve_after_year(h, 2024, dt.date(2026, 10, 30), after_year=2025) == 2025
    with pytest.raises(impl.ImplementationError, match="no rows for 2030"):
        impl.resolve_after_year(h, 2025, None, after_year=2030)
    with pytest.raises(impl.ImplementationError, match="after the baseline year"):
        impl.resolve_after_year(h, 2025, None, after_year=2024)
    with pytest.raises(impl.ImplementationError, match="must be a year"):
        impl.resolve_after_year(h, 2025, None, after_year="next")


def test_totals_energy_by_hand(ch):
    t = ch.totals.set_index(["group", "item"])
    # GB/T 2589 equivalent value: 0.1229 kgce/kWh, natural gas 1.2143 kgce/m3
    before = (6_050_000 * 0.1229 + 420_000 * 1.2143) / 1000  # 1253.551 tce (README 1253.5)
    after = (6_011_000 * 0.1229 + 386_200 * 1.2143) / 1000
    row = t.loc[("energy", "total_tce")]
    assert row["before"] == pytest.approx(before)
    assert row["after"] == pytest.approx(after)
    assert row["reduction_rate_pct"] == pytest.approx((before - after) / before * 100)
    # total nickel emitted 4.19 kg -> 1.48 kg (history in t, shown in kg)
    ni = t.loc[("emission", "PW01")]
    assert ni["unit"] == "kg"
    assert ni["before"] == pytest.approx(4.19) and ni["after"] == pytest.approx(1.48)
    assert ni["reduction_rate_pct"] == pytest.approx((4.19 - 1.48) / 4.19 * 100)
    # output grows: a negative "reduction"
    assert t.loc[("product", "P01"), "reduction_rate_pct"] == pytest.approx(-12000 / 360000 * 100)


def test_intensities_by_hand(ch):
    it = ch.intensities.set_index(["metric", "item"])
    e = it.loc[("energy_per_product", "total")]
    # README: 1.381 kgce/m2 (2025) and 1.297 (2026); 908 000 and 931 000 m2
    b = (6_050_000 * 0.1229 + 420_000 * 1.2143) / 908_000
    a = (6_011_000 * 0.1229 + 386_200 * 1.2143) / 931_000
    assert e["unit"] == "kgce/m2"
    assert e["before"] == pytest.approx(b) and round(e["before"], 3) == 1.381
    assert e["after"] == pytest.approx(a) and round(e["after"], 3) == 1.297
    assert e["reduction_rate_pct"] == pytest.approx((b - a) / b * 100)
    w = it.loc[("water_intake_per_product", "total")]
    assert w["unit"] == "L/m2"
    assert w["before"] == pytest.approx(166_800 / 908_000 * 1000)
    # metrics in the chapter's order
    metrics = list(dict.fromkeys(ch.intensities["metric"]))
    assert metrics == [m for m in impl.METRIC_ORDER if m in metrics]


def test_new_materials_have_no_rate(ch_dyeing):
    it = ch_dyeing.intensities.set_index(["metric", "item"])
    # M17 (APEO-free scouring agent) replaces M08 in 2026: no before value
    assert pd.isna(it.loc[("material_per_product", "M17"), "before"])
    assert pd.isna(it.loc[("material_per_product", "M17"), "reduction_rate_pct"])
    assert it.loc[("material_per_product", "M08"), "reduction_rate_pct"] == pytest.approx(100)
    html = html_of(impl.before_after(ch_dyeing, "zh"))
    assert i18n.t("p6.s74.new_item", "zh") in html


@pytest.mark.parametrize(
    ("unit", "magnitude", "expected"),
    [
        ("tce/m2", 0.00138, ("kgce/m2", 1000.0)),
        ("t/m2", 4.6e-9, ("mg/m2", 1e9)),
        ("m3/m2", 0.18, ("L/m2", 1000.0)),
        ("m3/t", 82.6, ("m3/t", 1.0)),
        ("kWh", 5.0, ("kWh", 1.0)),
        ("t", 0.0, ("t", 1.0)),
    ],
)
def test_display_unit(unit, magnitude, expected):
    u, k = impl._display_unit(unit, magnitude)
    assert u == expected[0]
    assert k == pytest.approx(expected[1])


# --------------------------------------------------------------------------- 7.5 targets
def test_attainment_by_hand(ch):
    tg = ch.targets.set_index("target_id")
    # T02 nickel utilisation: baseline 88.9, near 92.0, achieved 94.1 (increase)
    assert tg.at["T02", "progress_near_pct"] == pytest.approx((94.1 - 88.9) / (92.0 - 88.9) * 100)
    assert tg.at["T02", "near_status"] == "attained"
    # mid-term 95.0 by 2028-12-31, after the audit's end: not yet due
    assert tg.at["T02", "mid_status"] == "pending"
    assert tg.at["T02", "progress_mid_pct"] == pytest.approx(5.2 / 6.1 * 100)
    # T01 total nickel: decrease 0.78 -> 0.32, near 0.5
    assert tg.at["T01", "progress_near_pct"] == pytest.approx((0.32 - 0.78) / (0.5 - 0.78) * 100)


def test_deadline_passed_means_missed():
    targets = pd.DataFrame(
        {
            "target_id": ["A", "B"],
            "indicator": ["x", "y"],
            "metric": [pd.NA, pd.NA],
            "unit": ["t", "t"],
            "direction": ["decrease", "decrease"],
            "baseline": [10.0, 10.0],
            "near_term": [8.0, 8.0],
            "near_term_deadline": [pd.Timestamp("2026-06-30"), pd.Timestamp("2027-06-30")],
            "mid_term": [pd.NA, 5.0],
            "mid_term_deadline": [pd.NaT, pd.Timestamp("2025-12-31")],
            "achieved": [9.0, 9.0],
        }
    )
    tg = impl.target_attainment(targets, reference_date="2026-10-30").set_index("target_id")
    assert tg.at["A", "near_status"] == "missed"
    assert tg.at["B", "near_status"] == "pending"
    assert tg.at["A", "mid_status"] == "no_target"
    assert tg.at["B", "mid_status"] == "missed"
    assert tg.at["A", "progress_near_pct"] == pytest.approx(50.0)


# --------------------------------------------------------------------------- 7.6 level
def test_grading_before_after_matches_the_readmes(ch, ch_dyeing):
    g = ch.grading
    # plating README: before no level (Y_III 94), after level II (Y_II 100, Y_I 18.25)
    assert g.before.level == "none" and g.after.level == "II"
    assert g.before.scores["Y_III"] == pytest.approx(94)
    assert g.after.scores["Y_II"] == pytest.approx(100)
    assert g.after.scores["Y_I"] == pytest.approx(18.25)
    assert g.comparison.level_improved
    assert impl.level_score(g.after) == ("Y_II", pytest.approx(100))
    assert impl.level_score(g.before) == ("Y_III", pytest.approx(94))
    # dyeing README: before not graded, after level II with Y_II = 88
    assert ch_dyeing.grading.before.level == "none"
    assert ch_dyeing.grading.after.level == "II"
    assert ch_dyeing.grading.after.scores["Y_II"] == pytest.approx(88)


def test_indicators_not_measured_again_keep_their_before_value(plating):
    iv = plating.tables["indicator_values"]
    dropped = iv[~((iv["stage"] == "after") & (iv["indicator_id"] == "automatic_line_share"))]
    out, carried = impl.complete_after_stage(dropped)
    assert carried == ("automatic_line_share",)
    row = out[(out["stage"] == "after") & (out["indicator_id"] == "automatic_line_share")]
    assert float(row["value"].iloc[0]) == 72.0
    g = impl.grade_before_after("electroplating", dropped)
    assert g.carried == ("automatic_line_share",)
    # 72 before and after: the grading is the same as with the full table
    assert g.after.scores == impl.grade_before_after("electroplating", iv).after.scores
    html = html_of(
        impl.level_view(impl.Chapter(**{**impl.chapter(plating).__dict__, "grading": g}), "en")
    )
    assert "not measured again" in html


def test_a_stage_that_cannot_be_graded_is_reported(plating):
    iv = plating.tables["indicator_values"]
    before_only = iv[iv["stage"] == "before"]
    g = impl.grade_before_after("electroplating", before_only)
    assert g.after is None and not g.graded
    assert "after" in g.errors
    assert impl.grade_before_after(None, iv).system is None


# --------------------------------------------------------------------------- formatting
def test_digit_rules():
    assert impl.sig_digits(1.38056) == 3
    assert impl.sig_digits(190.51) == 1
    assert impl.sig_digits(6_050_000) == 0
    assert impl.sig_digits(0.0046) == 6  # 0.004600
    assert impl.data_digits([0.78, 0.5, 0.32]) == 2
    assert impl.data_digits([88.9, 92]) == 1
    assert impl.data_digits([0.00419 * 1000]) == 2  # float noise 4.1899999... counts as 4.19
    assert impl.shown_digits([1253.551, 1207.71456]) == 0
    assert impl.shown_digits([6.672, 5.574]) == 3


@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value="0.0001", max_value="99999", places=4, allow_nan=False))
def test_data_digits_shows_an_entered_value_exactly(d):
    v = float(d)
    k = impl.data_digits([v])
    assert float(i18n.fmt_number(v, "en", k, grouping=False)) == pytest.approx(v, abs=1e-12)


def test_unit_text():
    assert impl.unit_text("m3/m2", "zh") == "m³/m²"
    assert impl.unit_text("kgce/10k_CNY", "zh") == "kgce/万元"
    assert impl.unit_text("Nm3", "en") == "Nm³"
    assert impl.unit_text(None, "en") == ""


# --------------------------------------------------------------------------- display
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sections_render_in_both_languages(ch, lang):
    parts = [
        impl.title("chapter", lang, 1),
        impl.intro(ch, lang),
        impl.plan_text(ch, lang),
        impl.plan_table(ch, lang),
        impl.funding(ch, lang),
        impl.economic(ch, lang),
        impl.environmental(ch, lang),
        impl.effects_table(ch, lang),
        impl.evaluation(ch, lang),
        impl.evaluation_details(ch, lang),
        impl.prospects_view(ch, lang),
        impl.before_after(ch, lang),
        impl.targets_view(ch, lang),
        impl.level_view(ch, lang),
        impl.conclusion(ch, lang),
        impl.performance_annex(ch, lang),
    ]
    html = html_of(parts)
    assert i18n.t("p6.chapter", lang) in html
    assert i18n.t("p6.s71.plan_caption", lang) in html
    assert i18n.t("p6.s74.intensities_caption", lang) in html
    # no raw column names, no NaN, no Python reprs
    for raw in ("investment_10k_cny", "reduction_rate_pct", "<NA>", "None"):
        assert raw not in html
    assert not re.search(r"\bnan\b|\bNaN\b", html)
    # the numbers a reader sees are formatted: 1,253.55 tce -> "1,254" in table 7-9
    assert "1,254" in html


def test_money_in_text_follows_the_language(ch):
    zh = html_of(impl.economic(ch, "zh"))
    en = html_of(impl.economic(ch, "en"))
    assert "379.30 万元" in zh  # 29.0 + 350.3
    assert "CNY 3.79 million" in en


def test_data_text_is_escaped(plating):
    t = plating.tables
    opts = t["options"].copy()
    opts.loc[0, "name"] = "<script>alert(1)</script>"
    plan = impl.implementation_plan(opts, t["implementation"], thresholds="zhejiang")
    ch2 = impl.Chapter(**{**impl.chapter(plating).__dict__, "plan": plan})
    html = html_of(impl.plan_table(ch2, "en"))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_conclusion_names_level_and_targets(ch):
    html = html_of(impl.conclusion(ch, "en"))
    assert "Level II" in html and "6 of the 6" in html
    assert "Fresh water 52,740 m³" in html


def test_annex_blank_rows_and_notes(ch):
    html = html_of(impl.performance_annex(ch, "zh"))
    assert i18n.t("p6.annex.title", "zh") in html
    assert "F14" in html  # in progress counted as planned (note)
    assert "52,740" in html


def test_minimal_dataset_degrades_gracefully():
    ds = load(MINIMAL)
    h = ds.tables["history"]
    tables = {**ds.tables, "history": h[h["year"] <= 2023].reset_index(drop=True)}
    ch = impl.chapter(dataclasses.replace(ds, tables=tables))
    assert ch.after_year is None and ch.totals is None
    html = html_of(impl.before_after(ch, "en"))
    assert "no year after 2023" in html
    lv = html_of(impl.level_view(ch, "en"))
    assert "cannot be graded" in lv  # the electroplating system needs more indicators
    assert impl.reduction_chart(ch, "en") is None
    assert impl.score_chart(ch, "en") is None
    assert impl.reduction_exercise(ctx(ds), ch).question == ""
    html_all = html_of(
        [impl.conclusion(ch, "zh"), impl.evaluation(ch, "zh"), impl.prospects_view(ch, "zh")]
    )
    assert i18n.t("p6.s73.none", "zh") in html_all


# --------------------------------------------------------------------------- charts
def test_charts_are_svg_in_batch(ch):
    for make in (
        impl.timeline,
        impl.benefit_chart,
        impl.reduction_chart,
        impl.progress_chart,
        impl.score_chart,
    ):
        out = make(ch, "zh", False)
        assert '<div class="cp-chart"><svg' in out.data
        assert "WenQuanYi Micro Hei" in out.data or "font-family" in out.data


def test_chart_builders_check_their_data():
    with pytest.raises(Exception, match="lacks column"):
        charts.timeline(
            pd.DataFrame({"label": []}), status_title="", date_title="", status_order=[]
        )
    empty = pd.DataFrame({"label": [], "group": [], "rate": [], "order": []})
    with pytest.raises(Exception, match="no indicator"):
        charts.reduction_bars(empty, rate_title="", outcome_titles=("a", "b"))
    data = pd.DataFrame(
        {"label": ["a", "b"], "group": ["g", "g"], "rate": [10.0, -5.0], "order": [0, 1]}
    )
    spec = charts.reduction_bars(data, rate_title="r", outcome_titles=("down", "up")).to_dict()
    values = next(iter(spec["datasets"].values()))
    assert [v["outcome"] for v in values] == ["down", "up"]


def test_reduction_chart_filter(ch):
    full = impl.reduction_data(ch, "en")
    energy = impl.reduction_data(ch, "en", "energy_per_product")
    assert len(energy) == 1 and len(full) == len(ch.intensities)
    assert energy["rate"].iloc[0] == pytest.approx(
        ch.intensities.set_index("metric").at["energy_per_product", "reduction_rate_pct"]
    )


# --------------------------------------------------------------------------- teaching
def test_teaching_off_shows_nothing(plating, ch):
    c = ctx(plating, teaching=False)
    assert impl.teach_reduction(c, ch) == ()
    assert impl.teach_attainment(c, ch) == ()
    assert impl.teach_payback(c, ch) == ()
    for ex in (
        impl.reduction_exercise(c, ch),
        impl.attainment_exercise(c, ch),
        impl.payback_exercise(c, ch),
    ):
        assert ex.check() is None and ex.check(1.0) is None


def test_reduction_exercise_answer_by_hand(plating, ch):
    c = ctx(plating, "en")
    ex = impl.reduction_exercise(c, ch)
    # the second worked row is water intake per product: 183.7 -> 127.1 L/m2 as shown
    assert "183.7" in ex.question and "127.1" in ex.question
    expected = (183.7 - 127.1) / 183.7 * 100
    assert ex.expected == pytest.approx(expected)
    assert ex.check(round(expected, 1)).correct
    assert not ex.check(expected * 1.1).correct
    shown = impl.teach_reduction(c, ch)
    assert any("cp-math" in html_of(s) for s in shown)


def test_attainment_exercise_answer_by_hand(plating, ch):
    ex = impl.attainment_exercise(ctx(plating, "zh"), ch)
    # last target with a mid-term target: T06, 18.86 -> 16.26, mid-term 8.0
    expected = (16.26 - 18.86) / (8.0 - 18.86) * 100
    assert "18.86" in ex.question and "16.26" in ex.question
    assert ex.expected == pytest.approx(expected)
    assert ex.check(23.9).correct


def test_payback_exercise_answer_by_hand(plating, ch):
    ex = impl.payback_exercise(ctx(plating, "en"), ch)
    # first implemented medium/high option on constant flows: F06, I = 18.6, P = -1.5?
    # -> never recovered, so the exercise takes the first one with a payback: F11
    assert "F11" in ex.question
    d = 6.8 / 8
    f = (19.2 - d) * 0.75 + d
    assert ex.expected == pytest.approx(6.8 / f)
    assert ex.check(round(6.8 / f, 2)).correct


# --------------------------------------------------------------------------- records
def test_record_figures(ch):
    from cpkit.render import recorded

    impl.record_figures(ch)
    rec = recorded()
    assert rec["cp_level"]["value"] == "II"
    assert rec["cp_score"]["value"] == pytest.approx(100)
    assert rec["cp_level_before"]["value"] == "none"
    assert rec["investment_10k_cny"]["value"] == pytest.approx(379.3)
    assert rec["benefit_10k_cny"]["value"] == pytest.approx(202.1)
    assert rec["options_implemented"]["value"] == 18
    assert rec["targets_near_attained_pct"]["value"] == pytest.approx(100)
    e = rec["reduction_pct.energy_per_product"]["value"]
    assert e == pytest.approx(
        ch.intensities.set_index("metric").at["energy_per_product", "reduction_rate_pct"]
    )
    assert rec["co2_reduction_t"]["value"] == pytest.approx(234.5)
    assert math.isfinite(e)
    assert rec["cp_score"]["label"]["en"] == "CP score Y_II"
    # indicator values after the audit, within the system, ranked by direction
    ni = rec["indicator.electroplating.nickel_utilisation"]
    assert ni["value"] == pytest.approx(94.06) and ni["better"] == "higher"
    rinse = rec["indicator.electroplating.rinse_water_per_m2"]
    assert rinse["value"] == pytest.approx(16.14) and rinse["better"] == "lower"
    assert "indicator.electroplating.env_compliance" not in rec  # qualitative


def test_every_html_table_has_a_header(ch):
    # tables built through cpkit.display: <thead> present, no index column
    html = table_html(ch.plan.head(2), {"option_id": impl._col("ID")})
    assert "<thead>" in html
