"""Unit tests of cpkit.views.planning, cpkit.views.continuous, cpkit.charts.planning and
their teaching checkers.

Independent references: hand calculations written out below (calendar and working days
counted day by day, person-hours summed by hand, GB/T 2589 conversions with the published
coefficients, target progress by the formula of seed 004 clause 5.2.13-5.2.14), on small
frames built here and on the stable fixture tests/fixtures/minimal (never edited).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import i18n
from cpkit.dataset import load
from cpkit.notebook import open_phase
from cpkit.views import continuous as cv
from cpkit.views import planning as pv

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "tests" / "fixtures" / "minimal"


def ctx(lang: str = "zh", teaching: bool = False, interactive: bool = False):
    return open_phase(MINIMAL, phase=1, lang=lang, interactive=interactive, teaching=teaching)


def weekdays_by_hand(a: dt.date, b: dt.date) -> int:
    """Monday-Friday between a and b, both included, counted day by day."""
    n, d = 0, a
    while d <= b:
        n += d.weekday() < 5
        d += dt.timedelta(days=1)
    return n


# --------------------------------------------------------------------------- work plan
def plan() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task_id": ["T3", "T1", "T2", "T4"],
            "phase": pd.array([3, 1, 1, 7], dtype="Int64"),
            "task": ["平衡测试", "成立小组", "制定计划", "编写报告"],
            "owner": ["李", "王", "王", "张"],
            "departments": ["生产部", "总经办", "安环部", pd.NA],
            "start": pd.to_datetime(["2024-03-04", "2024-03-01", "2024-03-02", "2024-11-20"]),
            "end": pd.to_datetime(["2024-03-08", "2024-03-05", "2024-03-10", "2024-12-05"]),
            "expected_output": ["平衡表", "文件", "计划", "报告"],
            "reviewer": ["王", "王", pd.NA, "王"],
        }
    )


def test_weekdays_between_hand_counts():
    # 2026-01-05 is a Monday: Mon-Thu = 4 working days; Mon-Sun = 5
    assert pv.weekdays_between("2026-01-05", "2026-01-08") == 4
    assert pv.weekdays_between("2026-01-05", "2026-01-11") == 5
    # a Saturday alone has none, a single Monday one
    assert pv.weekdays_between("2026-01-10", "2026-01-10") == 0
    assert pv.weekdays_between("2026-01-12", "2026-01-12") == 1
    with pytest.raises(pv.PlanningError):
        pv.weekdays_between("2026-01-12", "2026-01-11")


@settings(max_examples=60, deadline=None)
@given(st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)), st.integers(0, 400))
def test_weekdays_between_matches_day_by_day_count(a, span):
    b = a + dt.timedelta(days=span)
    assert pv.weekdays_between(a, b) == weekdays_by_hand(a, b)


def test_plan_schedule_order_and_durations():
    wp = plan()
    before = wp.copy()
    s = pv.plan_schedule(wp)
    pd.testing.assert_frame_equal(wp, before)  # input not modified
    assert list(s["task_id"]) == ["T1", "T2", "T3", "T4"]  # phase, then start
    # T1 1-5 March = 5 days; T2 2-10 March = 9 days; T4 20 Nov - 5 Dec = 11 + 5 = 16 days
    assert list(s["duration_days"]) == [5, 9, 5, 16]
    # 2024-03-01 is a Friday: T1 Fri..Tue = Fri, Mon, Tue = 3 working days
    assert s.loc[0, "weekdays"] == 3
    assert s.loc[3, "weekdays"] == weekdays_by_hand(dt.date(2024, 11, 20), dt.date(2024, 12, 5))


def test_plan_schedule_rejects_reversed_dates():
    wp = plan()
    wp.loc[0, "end"] = pd.Timestamp("2024-03-01")
    with pytest.raises(pv.PlanningError, match="T3"):
        pv.plan_schedule(wp)


def test_phase_windows_and_span():
    w = pv.phase_windows(plan()).set_index("phase")
    assert w.loc[1, "tasks"] == 2
    assert w.loc[1, "start"] == pd.Timestamp("2024-03-01")
    assert w.loc[1, "end"] == pd.Timestamp("2024-03-10")
    assert w.loc[1, "duration_days"] == 10
    span = pv.plan_span(plan())
    # 1 March to 5 December 2024: 31+30+31+30+31+31+30+31+30 (Mar-Nov) + 5 = 280 days
    assert (span.start, span.end, span.calendar_days) == (
        dt.date(2024, 3, 1),
        dt.date(2024, 12, 5),
        280,
    )
    assert span.weekdays == weekdays_by_hand(span.start, span.end)
    assert span.phases == (1, 3, 7) and span.missing_phases == (2, 4, 5, 6)


def test_plan_findings():
    f = pv.plan_findings(plan(), "2024-03-01", "2024-11-30")
    missing = f[f["code"] == "phase_missing"]
    assert list(missing["phase"]) == [2, 4, 5, 6]
    assert list(f.loc[f["code"] == "after_audit", "task_id"]) == ["T4"]
    assert list(f.loc[f["code"] == "no_reviewer", "task_id"]) == ["T2"]
    assert f[f["code"] == "before_audit"].empty


# --------------------------------------------------------------------------- team
def team() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "member_id": ["M3", "M1", "M2", "M4"],
            "name": ["周", "王", "李", "赵"],
            "role": ["member", "leader", "external_expert", "deputy_leader"],
            "department": ["生产部", "总经办", "某咨询公司", "生产部"],
            "duties": ["测试", "领导", "指导", "协调"],
            "full_time": pd.array([True, False, pd.NA, False], dtype="boolean"),
        }
    )


def test_team_roster_and_summary():
    r = pv.team_roster(team())
    assert list(r["role"]) == ["leader", "deputy_leader", "member", "external_expert"]
    s = pv.team_summary(team())
    assert s.members == 4 and s.full_time == 1
    assert s.by_role == {"leader": 1, "deputy_leader": 1, "member": 1, "external_expert": 1}
    assert s.departments == ("生产部", "总经办")  # distinct, experts excluded
    assert s.expert_organisations == ("某咨询公司",)
    assert s.leaders == ("王",) and s.experts == ("李",)


# --------------------------------------------------------------------------- training, barriers
def training() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "training_id": ["A", "B", "C", "D"],
            "date": pd.to_datetime(["2024-03-08", "2024-04-01", "2024-09-01", "2024-10-01"]),
            "topic": ["基础", "平衡", "方案", "持续"],
            "participants": pd.array([35, 12, pd.NA, 40], dtype="Int64"),
            "hours": pd.array([2.0, 3.5, 2.0, 1.5], dtype="Float64"),
            "status": ["done", "done", "planned", "planned"],
        }
    )


def test_training_totals_by_hand():
    tot = pv.training_totals(training()).set_index("status")
    # done: 35 x 2 + 12 x 3.5 = 70 + 42 = 112 person-hours; 47 participants; 5.5 hours
    assert tot.loc["done", "sessions"] == 2
    assert tot.loc["done", "participants"] == 47
    assert tot.loc["done", "hours"] == pytest.approx(5.5)
    assert tot.loc["done", "person_hours"] == pytest.approx(112.0)
    # planned: C lacks participants (left out, flagged); D 40 x 1.5 = 60
    assert tot.loc["planned", "person_hours"] == pytest.approx(60.0)
    assert tot.loc["planned", "incomplete"] == 1
    assert tot.loc["total", "person_hours"] == pytest.approx(172.0)
    assert tot.loc["total", "sessions"] == 4


def test_barrier_summary_and_log():
    b = pd.DataFrame(
        {
            "barrier_id": ["B1", "B2", "B3"],
            "category": ["technical", "awareness", "technical"],
            "description": ["x", "y", "z"],
            "respondents": pd.array([4, 9, 6], dtype="Int64"),
            "countermeasure": ["a", "b", "c"],
            "resolved": pd.array([True, False, pd.NA], dtype="boolean"),
        }
    )
    s = pv.barrier_summary(b).set_index("category")
    assert list(s.index) == ["awareness", "technical"]  # schema order
    assert s.loc["technical", "barriers"] == 2
    assert s.loc["technical", "respondents"] == 10
    assert s.loc["technical", "resolved"] == 1 and s.loc["technical", "open"] == 1
    assert list(pv.barrier_log(b)["barrier_id"]) == ["B2", "B3", "B1"]


# --------------------------------------------------------------------------- registration form
def test_registration_form_minimal_by_hand():
    ds = load(MINIMAL)
    form = pv.registration_form(ds)
    assert form.years == (2021, 2022, 2023) and form.year == 2023
    row = form.three_year.set_index("year").loc[2023]
    # output value 12,000,000 CNY = 1,200 x 10k CNY; output 52,000 m2 = 5.2 x 10^4 m2
    assert row["output_value_10k_cny"] == pytest.approx(1200)
    assert row["product_output"] == pytest.approx(5.2)
    # GB/T 2589: electricity 1,200,000 kWh x 0.1229 kgce/kWh = 147.48 tce (equivalent value);
    # steam 800 t at 2,760 kJ/kg: 800 x 2760 / 29,307.6 = 75.339 tce
    electricity = 1_200_000 * 0.1229 / 1000
    steam = 800 * 2760 / 29307.6
    assert row["energy_tce"] == pytest.approx(electricity + steam, rel=1e-9)
    assert row["energy_tce_per_10k_cny"] == pytest.approx((electricity + steam) / 1200)
    assert row["energy_tce_per_product"] == pytest.approx((electricity + steam) / 5.2)
    # 30,000 m3 of tap water = 30,000 t; per 10^4 m2: 30000 / 5.2; per 10k CNY: 25
    assert row["fresh_water_t"] == pytest.approx(30000)
    assert row["water_t_per_product"] == pytest.approx(30000 / 5.2)
    assert row["water_t_per_10k_cny"] == pytest.approx(25)
    # 2021 has only its output value
    y21 = form.three_year.set_index("year").loc[2021]
    assert y21["output_value_10k_cny"] == pytest.approx(1000) and pd.isna(y21["energy_tce"])
    # electricity in the form's unit: 120 x 10^4 kWh
    use = form.energy_use.set_index("carrier_id")
    assert use.loc["electricity", "quantity"] == pytest.approx(120)
    assert use.loc["electricity", "unit"] == "万千瓦时"
    # toxic material: hydrochloric acid, 0 t used in 2023; toxic pollutant: zinc, no total
    assert list(form.toxic_materials["material_id"]) == ["hcl"]
    assert form.toxic_materials["quantity"].iloc[0] == 0
    assert list(form.toxic_pollutants["pollutant_id"]) == ["zn"]
    d = form.discharges.set_index("item")
    assert d.loc["wastewater", "quantity"] == pytest.approx(2.4)  # 24,000 m3 = 2.4 x 10^4 t
    assert d.loc["hazardous", "quantity"] == pytest.approx(35)
    assert pd.isna(d.loc["general", "quantity"])
    p = form.pollutants.set_index("pollutant_id")
    assert "noise" not in p.index
    assert p.loc["cod", "total_kg"] == pytest.approx(1200)  # 1.2 t


def test_three_year_rows_order():
    form = pv.registration_form(load(MINIMAL))
    rows = pv.three_year_rows(form)
    assert list(rows["item"][:7]) == [
        "output_value",
        "product_output",
        "energy",
        "energy_per_product",
        "energy_per_value",
        "water_per_product",
        "water_per_value",
    ]
    assert rows["item"].iloc[-1] == "fresh_water"
    assert {"carrier:electricity", "carrier:steam"} <= set(rows["item"])


def test_mandatory_grounds_minimal():
    g = pv.mandatory_grounds(load(MINIMAL))
    # COD 45 mg/L <= 80 and 1.2 t <= 2.0 t cap; zinc 0.8 <= 1.5: nothing exceeds
    assert g["exceeding"].empty
    assert list(g["toxic_materials"]["material_id"]) == ["hcl"]


# --------------------------------------------------------------------------- formatting helpers
def test_unwrap_and_short_number():
    assert pv.unwrap("公司位于\n工业园区。\n\n第二段") == "公司位于工业园区。\n\n第二段"
    assert pv.unwrap("A fictitious\nplater.") == "A fictitious plater."
    assert pv.short_number(0.78, "zh") == "0.78"
    assert pv.short_number(0.00419, "zh") == "0.00419"
    assert pv.short_number(1253.551, "en") == "1,254"
    assert pv.short_number(None, "en") == "—"


def test_clause_text():
    assert cv.clause_text("seed 004 5.1.4", "zh") == "浙江技术要求 5.1.4"
    assert cv.clause_text("seed 003 article 21(2)", "zh") == "海南指南 第21条(2)"
    assert cv.clause_text("seed 003 attached table 1", "en") == "Hainan guideline attached table 1"


# --------------------------------------------------------------------------- chart
def test_gantt_chart_spec():
    from cpkit.charts.planning import LABEL_CHARS, GanttLabels, _cut, gantt

    labels = GanttLabels("T", "task", "phase", "start", "end", "days", "owner", "date")
    s = pv.plan_schedule(plan())
    names = {n: f"P{n}" for n in range(1, 8)}
    spec = gantt(s, labels, names, highlight_phase=3).to_dict()
    bars = spec["layer"][0]
    assert bars["encoding"]["color"]["scale"]["domain"] == ["P1", "P3", "P7"]
    assert "condition" in bars["encoding"]["opacity"]
    assert spec["config"]["font"]  # the CJK font is named
    data = spec["datasets"][next(iter(spec["datasets"]))]
    first = data[0]
    # a bar covers its last day: T1 ends 2024-03-05, so the bar ends on 6 March
    assert (first["start"], first["bar_end"]) == ("2024-03-01", "2024-03-06")
    # long names are cut before drawing (a Chinese character counts two)
    long = "清" * 30
    cut = _cut(long)
    assert cut.endswith("…") and 2 * (len(cut) - 1) <= LABEL_CHARS


def test_gantt_svg_renders_offline():
    nb = ctx("en")
    html = pv.gantt_chart(nb).data
    assert "<svg" in html
    assert 'href="http' not in html and "<script" not in html  # nothing loads from outside


# --------------------------------------------------------------------------- teaching
def test_plan_exercise_checks_working_days():
    nb = ctx(teaching=True)
    ex = pv.plan_exercise(nb)
    # minimal plan: 2024-03-01 (Fri) to 2024-05-31 (Fri)
    want = weekdays_by_hand(dt.date(2024, 3, 1), dt.date(2024, 5, 31))
    assert want == 66  # March 21 + April 22 + May 23
    assert ex.check(66).correct
    assert not ex.check(65).correct
    assert ex.check() is not None  # shows the question


def test_training_exercise_checks_person_hours():
    nb = ctx(teaching=True)
    ex = pv.training_exercise(nb)
    # minimal: one session done, 35 participants x 2 hours = 70 person-hours
    assert ex.expected == pytest.approx(70)
    assert ex.check(70).correct and not ex.check(35).correct


def test_teaching_off_returns_nothing():
    nb = ctx(teaching=False)
    assert pv.teach_plan(nb) is None and pv.teach_training(nb) is None
    assert pv.teach_phases(nb) is None and pv.teach_team(nb) is None
    assert pv.plan_exercise(nb).check() is None
    assert cv.teach_targets(nb) is None and cv.targets_exercise(nb).check(1) is None


def test_target_exercise_by_formula():
    nb = ctx(teaching=True)
    ex = cv.targets_exercise(nb)
    # minimal target G1: baseline 0.46, near-term 0.35, achieved 0.30 (m3/m2, decrease):
    # (0.30 - 0.46) / (0.35 - 0.46) x 100 = 0.16 / 0.11 x 100 = 145.45 %
    assert ex.expected == pytest.approx(0.16 / 0.11 * 100)
    assert ex.check(145.5).correct
    assert not ex.check(100).correct
    html = cv.teach_targets(nb).data
    assert "<svg" in html


# --------------------------------------------------------------------------- continuous
def test_pending_options_minimal():
    ds = load(MINIMAL)
    p = cv.pending_options(ds)
    # O2 is planned, medium/high cost, investment 60, cost saving 18 (no revenue given),
    # and has no row in the implementation table, so no schedule
    assert list(p["option_id"]) == ["O2"]
    r = p.iloc[0]
    assert r["cost_class"] == "medium_high"
    assert r["investment_10k_cny"] == 60 and r["expected_benefit_10k_cny"] == 18
    assert not r["scheduled"]


def test_pending_options_order_and_schedule():
    ds = load(MINIMAL)
    opts = ds.tables["options"].copy()
    extra = opts.iloc[[0]].copy()
    extra["option_id"] = "O0"
    extra["status"] = "in_progress"
    opts = pd.concat([opts, extra], ignore_index=True)
    imp = ds.tables["implementation"].copy()
    row = imp.iloc[[0]].copy()
    row["option_id"] = "O2"
    imp = pd.concat([imp, row], ignore_index=True)
    tables = dict(ds.tables)
    tables["options"], tables["implementation"] = opts, imp
    import dataclasses

    ds2 = dataclasses.replace(ds, tables=tables)
    p = cv.pending_options(ds2)
    assert list(p["option_id"]) == ["O2", "O0"]  # medium/high-cost first
    # O2 now has a department, an owner and dates; the new O0 has no implementation row
    assert list(p["scheduled"]) == [True, False]


def test_status_and_targets_minimal():
    ds = load(MINIMAL)
    s = cv.status_summary(ds).set_index("key")
    assert s.attrs["years"] == (2023, 2024)
    electricity = 1_200_000 * 0.1229 / 1000
    steam = 800 * 2760 / 29307.6
    assert s.loc["energy_tce", "before"] == pytest.approx(electricity + steam)
    assert pd.isna(s.loc["energy_tce", "after"])  # no 2024 energy in the fixture
    assert s.loc["water_m3", "before"] == pytest.approx(30000)
    att = cv.targets_summary(ds)
    assert bool(att.loc[0, "attained_near"]) and bool(att.loc[0, "attained_mid"])


def test_status_change_pct_by_hand():
    ds = load(ROOT / "data" / "samples" / "sample-plating")
    s = cv.status_summary(ds).set_index("key")
    base, after = s.attrs["years"]
    h = ds.tables["history"]
    w = h[(h["category"] == "water_intake")].groupby("year")["quantity"].sum()
    assert s.loc["water_m3", "before"] == pytest.approx(float(w[base]))
    assert s.loc["water_m3", "after"] == pytest.approx(float(w[after]))
    # water intake per product: (after/out_a - before/out_b) / (before/out_b) x 100
    prod = h[h["category"] == "product"].groupby("year")["quantity"].sum()
    b, a = float(w[base]) / float(prod[base]), float(w[after]) / float(prod[after])
    assert s.loc["water_per_product", "change_pct"] == pytest.approx((a - b) / b * 100)


def test_compliance_summary_uses_targets():
    ds = load(MINIMAL)
    c = cv.compliance_summary(ds).set_index("pollutant_id")
    assert bool(c.loc["cod", "compliant"]) and bool(c.loc["cod", "within_cap"])
    tables = dict(ds.tables)
    pol = tables["pollutants"].copy()
    pol.loc[pol["pollutant_id"] == "zn", "concentration"] = 2.0  # over the 1.5 limit
    tg = tables["targets"].copy()
    tg.loc[0, ["target_id", "metric", "unit", "achieved"]] = ["G2", "zn", "mg/L", 1.1]
    tables["pollutants"], tables["targets"] = pol, tg
    import dataclasses

    c2 = cv.compliance_summary(dataclasses.replace(ds, tables=tables)).set_index("pollutant_id")
    assert not bool(c2.loc["zn", "compliant"])
    assert c2.loc["zn", "target_id"] == "G2"
    assert bool(c2.loc["zn", "compliant_after"])  # 1.1 <= 1.5


def test_level_summary_without_system():
    ds = load(MINIMAL)
    import dataclasses

    prof = ds.profile.model_copy(update={"indicator_system": None})
    lv = cv.level_summary(dataclasses.replace(ds, profile=prof))
    assert lv.error == "no_system"


def test_key_figures_minimal():
    kf = cv.key_figures(load(MINIMAL))
    assert kf["options_count"]["value"] == 2
    # implemented O1: actual investment 1.8, actual annual benefit 3.6 (implementation table)
    assert kf["investment_10k_cny"]["value"] == pytest.approx(1.8)
    assert kf["benefit_10k_cny"]["value"] == pytest.approx(3.6)
    assert kf["planned_investment_10k_cny"]["value"] == pytest.approx(60)
    assert kf["targets_attained"]["value"] == 1 and kf["targets_total"]["value"] == 1
    for f in kf.values():
        v = f["value"]
        assert v is None or isinstance(v, str) or math.isfinite(v)
        if isinstance(f["label"], dict):
            assert set(f["label"]) == set(i18n.LANGS)


def test_recommendations_minimal():
    rec = cv.recommendations(load(MINIMAL))
    kinds = list(rec["kind"])
    assert kinds[0] == "pending_options" and rec.iloc[0]["ref"] == "O2"
    # G1 reached both its targets: no target recommendation
    assert "target_near" not in kinds and "target_mid" not in kinds


# --------------------------------------------------------------------------- display smoke
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sections_render_escaped(lang):
    nb = ctx(lang)
    parts = [
        pv.preface(nb),
        pv.basis(nb),
        pv.profile_table(nb),
        pv.team_table(nb),
        pv.plan_table(nb),
        pv.training_table(nb),
        pv.barrier_table(nb),
        *pv.registration(nb),
        cv.plan_table(nb),
        cv.status_table(nb),
        cv.targets_table(nb),
        cv.selfcheck_table(nb),
        cv.recommendations_view(nb),
    ]
    html = "".join(p.data for p in parts if p is not None)
    assert "<script" not in html
    assert ">nan<" not in html and "NaN" not in html and "&lt;NA&gt;" not in html
    assert "示例电镀有限公司" in html or "Example Plating" in html


def test_data_text_is_escaped():
    ds = load(MINIMAL)
    import dataclasses

    tables = dict(ds.tables)
    t = tables["team"].copy()
    t.loc[0, "name"] = "<script>alert(1)</script>"
    tables["team"] = t
    nb = ctx()
    nb2 = dataclasses.replace(nb, ds=dataclasses.replace(ds, tables=tables))
    html = pv.team_table(nb2).data + pv.leadership(nb2).data
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "empty", ["work_plan", "team", "training", "barriers", "targets", "options", "implementation"]
)
def test_sections_survive_an_empty_table(empty):
    """An empty table gives a note or an empty section, never an exception."""
    import dataclasses

    nb = ctx("en", teaching=True)
    tables = dict(nb.ds.tables)
    tables[empty] = tables[empty].iloc[0:0]
    nb = dataclasses.replace(nb, ds=dataclasses.replace(nb.ds, tables=tables))
    parts = [
        pv.preface(nb),
        pv.leadership(nb),
        pv.team_text(nb),
        pv.team_table(nb),
        pv.plan_text(nb),
        pv.phase_table(nb),
        pv.plan_table(nb),
        pv.gantt_chart(nb),
        pv.teach_plan(nb),
        pv.plan_exercise(nb).check(),
        pv.training_text(nb),
        pv.training_totals_table(nb),
        pv.training_exercise(nb).check(),
        pv.barrier_text(nb),
        pv.barrier_table(nb),
        *pv.registration(nb),
        cv.plan_text(nb),
        cv.plan_table(nb),
        cv.training_plan_text(nb),
        cv.status_text(nb),
        cv.targets_text(nb),
        cv.targets_table(nb),
        cv.targets_exercise(nb).check(),
        cv.results_text(nb),
        cv.results_table(nb),
        cv.selfcheck_table(nb),
        cv.recommendations_view(nb),
    ]
    assert any(p is not None for p in parts)
    cv.key_figures(nb.ds)
