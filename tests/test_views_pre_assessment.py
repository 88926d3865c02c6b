"""Tests of cpkit.views.pre_assessment and cpkit.charts.status (report chapter 3).

Every expected number is worked out by hand in the test from the sample data
(data/samples/sample-plating, sample-dyeing, whose README gives the same hand
calculations) or from the calculation reference (section 2.3 weighted sum, section 3.4
grading worked example), not taken from the code under test.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import grading, i18n, screening
from cpkit.charts import status as charts
from cpkit.dataset import load
from cpkit.display import chart_svg
from cpkit.errors import CpkitError
from cpkit.notebook import open_phase
from cpkit.views import pre_assessment as pa

ROOT = Path(__file__).resolve().parent.parent
PLATING = ROOT / "data" / "samples" / "sample-plating"
DYEING = ROOT / "data" / "samples" / "sample-dyeing"
MINIMAL = ROOT / "tests" / "fixtures" / "minimal"
WORKED = ROOT / "tests" / "fixtures" / "indicator_systems" / "worked_example.yaml"
YEARS = [2023, 2024, 2025]


@pytest.fixture(scope="module")
def plating():
    return load(PLATING)


@pytest.fixture(scope="module")
def view_zh():
    return pa.PreAssessment(open_phase(PLATING, phase=2, lang="zh", interactive=False))


@pytest.fixture(scope="module")
def view_en_teach():
    return pa.PreAssessment(
        open_phase(PLATING, phase=2, lang="en", interactive=False, teaching=True)
    )


def html_of(items) -> str:
    return "".join(getattr(i, "data", "") or "" for i in items)


# ----------------------------------------------------------------------------- helpers
def test_parse_weights_forms():
    assert pa.parse_weights(None) is None
    assert pa.parse_weights("") is None
    assert pa.parse_weights("None") is None
    assert pa.parse_weights({"toxicity": 8}) == {"toxicity": 8.0}
    assert pa.parse_weights('{"toxicity": 8, "consumption": 7.5}') == {
        "toxicity": 8.0,
        "consumption": 7.5,
    }
    assert pa.parse_weights("toxicity=8, consumption: 7") == {"toxicity": 8.0, "consumption": 7.0}


@pytest.mark.parametrize(
    "bad, words",
    [
        ("{not json", "not valid JSON"),
        ("toxicity", "criterion=weight"),
        ({"toxicity": "high"}, "not a number"),
        ([8, 9], "must be a mapping"),
        ({"toxicity": float("inf")}, "not finite"),
    ],
)
def test_parse_weights_errors(bad, words):
    with pytest.raises(CpkitError, match=words):
        pa.parse_weights(bad)


def test_significant_digits():
    # 142 t / 908 000 m2 = 0.000156387... t/m2 -> four significant digits
    assert pa.significant(142 / 908000, "zh") == "0.0001564"
    assert pa.significant(12345.6, "en") == "12,346"  # whole digits kept
    assert pa.significant(0.78, "zh", strip=True) == "0.78"
    assert pa.significant(0.78, "zh") == "0.7800"
    assert pa.significant(0, "en") == "0"
    assert pa.significant(pd.NA, "en") == "—"
    assert pa.significant(None, "zh") == "—"


@given(st.floats(min_value=1e-9, max_value=1e9, allow_nan=False, allow_infinity=False))
@settings(max_examples=200, deadline=None)
def test_significant_keeps_four_digits(x):
    text = pa.significant(x, "en", 4).replace(",", "")
    assert math.isclose(float(text), x, rel_tol=5e-4)


def test_readable_scale():
    # 0.000156 t/m2 -> 0.156 kg/m2 (one step: 0.156 >= 0.1)
    assert pa.readable_scale([0.000156, 0.000150], "t/m2") == (1000.0, "kg/m2")
    # 0.04 kg/m2 -> 40 g/m2
    assert pa.readable_scale([0.0402], "kg/m2") == (1000.0, "g/m2")
    # two steps t -> kg -> g
    assert pa.readable_scale([0.00004], "t/m2") == (1_000_000.0, "g/m2")
    assert pa.readable_scale([5.0], "kg/m2") == (1.0, "kg/m2")
    assert pa.readable_scale([pd.NA, 0.0], "t") == (1.0, "t")
    assert pa.readable_scale([0.001], "tce/t") == (1.0, "tce/t")  # off the ladder
    assert pa.readable_scale([0.004], "t") == (1000.0, "kg")


def test_items_flatten_and_display(capsys):
    from IPython.display import HTML

    a, b = HTML("<p>a</p>"), HTML("<p>b</p>")
    items = pa.Items(a, None, pa.Items(b, None))
    assert tuple(items) == (a, b)
    assert pa.Items() == ()


# ----------------------------------------------------------------------------- 3.1 tables
def test_production_overview_plating(plating):
    t = plating.tables
    df = pa.production_overview(t["history"], t["products"], YEARS).set_index("item_id")
    # history: P01 318 000 m2 in 2023, 360 000 m2 in 2025
    assert df.at["P01", "y2023"] == 318000
    assert df.at["P01", "y2025"] == 360000
    assert df.at["P01", "change_pct"] == pytest.approx((360000 - 318000) / 318000 * 100)
    assert df.at["output_value", "y2025"] == 6580
    assert df.at["output_value", "change_pct"] == pytest.approx((6580 - 6020) / 6020 * 100)
    assert df.at["output_value", "unit"] == "10k_CNY"
    assert list(df["kind"]) == ["product"] * 3 + ["output_value"]
    assert "y2026" not in df.columns  # only the history years


def test_material_overview_plating(plating, view_zh):
    t = plating.tables
    df = pa.material_overview(view_zh.status, view_zh.trends, t["materials"], t["history"], YEARS)
    m = df.set_index("material_id")
    # main products P01+P02+P03: 2023 318 000+25 500+498 000 = 841 500 m2; 2025 908 000 m2
    assert m.at["M02", "use_2025"] == 19200
    assert m.at["M02", "uc_2025"] == pytest.approx(19200 / 908000)
    assert m.at["M02", "uc_2023"] == pytest.approx(17100 / 841500)
    expected = (19200 / 908000 - 17100 / 841500) / (17100 / 841500) * 100
    assert m.at["M02", "uc_change_pct"] == pytest.approx(expected)
    assert m.at["M02", "direction"] == "up"
    assert m.at["M02", "uc_unit"] == "kg/m2"
    assert m.at["M02", "cost_2025"] == pytest.approx(61.44)
    # toxic materials first: M01-M04, M06, M08, M09, M15 are toxic in the sample
    n_toxic = int(df["toxic"].sum())
    assert n_toxic == 8
    assert bool(df["toxic"].iloc[:n_toxic].all())
    assert not bool(df["toxic"].iloc[n_toxic:].any())


def test_motor_summary_hand_example():
    eq = pd.DataFrame(
        {
            "equipment_id": ["A", "B", "C", "D", "E"],
            "quantity": [2, 1, 4, 1, 3],
            "rated_power_kw": [22.0, 5.5, 11.0, 30.0, 75.0],
            "motor_model": ["Y180", "Y132", "YE2", pd.NA, pd.NA],
            "motor_efficiency_class": ["below_GB3", "GB3", "below_GB3", "GB2", pd.NA],
        }
    )
    out = pa.motor_summary(eq).set_index("efficiency_class")
    # B (5.5 kW, not above 5.5) and E (no model, no class: a line, not a motor) excluded
    assert list(out.index) == ["GB2", "below_GB3"]
    assert out.at["below_GB3", "units"] == 6  # A 2 + C 4
    assert out.at["below_GB3", "power_kw"] == pytest.approx(2 * 22 + 4 * 11)  # 88 kW
    assert out.at["GB2", "power_kw"] == pytest.approx(30)
    assert out.at["below_GB3", "share_pct"] == pytest.approx(88 / 118 * 100)
    assert out.at["below_GB3", "equipment_ids"] == "A;C"
    # the threshold is reference data (seed 004 clause 5.2.6) and can be given explicitly
    assert pa.motor_listing_threshold_kw() == 5.5
    assert "B" in pa.motor_summary(eq, threshold_kw=5.0).at[1, "equipment_ids"]


def test_motor_summary_plating(plating):
    out = pa.motor_summary(plating.tables["equipment"]).set_index("efficiency_class")
    # E10 2 x 22 + E12 4 x 11 below grade 3; E11 18.5 + E13 22 + E15 11 grade 3; E18 18 grade 2;
    # E14 45 kW has a model text but no class
    assert out.at["below_GB3", "power_kw"] == pytest.approx(88.0)
    assert out.at["GB3", "power_kw"] == pytest.approx(51.5)
    assert out.at["GB2", "power_kw"] == pytest.approx(18.0)
    assert out.at["not_recorded", "power_kw"] == pytest.approx(45.0)
    assert out["units"].sum() == 11


def test_equipment_findings(plating):
    f = pa.equipment_findings(plating.tables["equipment"])
    pairs = set(zip(f["equipment_id"], f["reason"], strict=True))
    assert pairs == {
        ("E10", "obsolete"),
        ("E10", "below_min_efficiency"),
        ("E12", "below_min_efficiency"),
    }


def test_intake_by_source_dyeing():
    ds = load(DYEING)
    df = pa.intake_by_source(ds.tables["history"], YEARS).set_index("source_id")
    assert df.at["tap_water", "y2025"] == 867240
    assert df.at["surface_water", "y2025"] == 330000
    assert df.at["tap_water", "share_pct"] == pytest.approx(867240 / (867240 + 330000) * 100)
    assert df.at["tap_water", "cost_2025"] == pytest.approx(355.6)
    assert list(df.index) == ["tap_water", "surface_water"]  # order of water/sources.csv


def test_waste_overview_plating(plating):
    per, by_class = pa.waste_overview(plating.tables["history"], plating.tables["wastes"], YEARS)
    c = by_class.set_index("class")
    # 2025 hazardous: S01 60.5 + S02 85.3 + S03 290 + S04 4.2 + S05 6.8 + S06 3.1 + S08 0.6
    assert c.at["hazardous", "y2025"] == pytest.approx(450.5)
    assert c.at["general", "y2025"] == pytest.approx(30 + 12)
    assert c.at["hazardous", "count"] == 8  # S07 (resin, from 2026) is listed without history
    assert per["class"].iloc[0] == "hazardous"
    s07 = per.set_index("waste_id").loc["S07"]
    assert pd.isna(s07["y2025"])


def _status(values: dict[int, float | None], metric="m", item="x") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "metric": metric,
            "item": item,
            "name": "X",
            "unit": "kg/t",
            "year": list(values),
            "value": pd.array(list(values.values()), dtype="Float64"),
        }
    )


def test_trend_index_hand():
    st_ = pd.concat(
        [_status({2023: 2.0, 2024: 3.0, 2025: 4.0}), _status({2023: 0.0, 2024: 1.0}, item="z")]
    )
    out = pa.trend_index(st_, ["m"])
    assert list(out["index"]) == [100.0, 150.0, 200.0]  # 3/2, 4/2
    assert set(out["item"]) == {"x"}  # first value 0: no index


def test_best_year_hand():
    out = pa.best_year(_status({2023: 5.0, 2024: 4.0, 2025: 4.5}), 2025).iloc[0]
    assert out["best"] == 4.0
    assert out["best_year"] == 2024
    assert out["gap_pct"] == pytest.approx((4.5 - 4.0) / 4.0 * 100)  # 12.5 %


# ----------------------------------------------------------------------------- 3.6 grading
def test_level_conditions_worked_example():
    system = grading.load_system_file(WORKED)
    vals = pd.DataFrame(
        {
            "indicator_id": [
                "unit_energy",
                "unit_water_intake",
                "unit_cod",
                "unit_hazardous_waste",
                "env_law_compliance",
                "cp_audit",
                "energy_metering",
            ],
            "stage": "before",
            "value": pd.array([110, 0.1, 0.5, 4.0, None, 75, None], dtype="Float64"),
            "level": pd.array([None, None, None, None, "I", None, None], dtype="string"),
            "applicable": pd.array([True] * 6 + [False], dtype="boolean"),
        }
    )
    result = grading.grade(system, vals)
    cond = pa.level_conditions(result, system)
    # calculation reference 3.4: Y_I = 58 < 85, energy (restrictive) only at II -> rule I fails;
    # Y_II = 88 >= 85 and every restrictive indicator at II or better -> level II (rule 1)
    r0 = cond[cond["rule"] == 0]
    assert list(r0["kind"]) == ["score", "restrictive"]
    assert list(r0["holds"]) == [False, False]
    assert r0["actual"].iloc[0] == pytest.approx(58.0)
    assert r0["below"].iloc[1] == "unit_energy"
    r1 = cond[cond["rule"] == 1]
    assert r1["actual"].iloc[0] == pytest.approx(88.0)
    assert bool(r1["rule_holds"].all())
    assert list(cond.loc[cond["decides"], "rule"].unique()) == [1]
    assert list(cond["required"].iloc[[0, 2, 4]]) == [85.0, 85.0, 100.0]


# ----------------------------------------------------------------------------- 3.7 rules
def test_focus_rules_plating(plating, view_zh):
    t = plating.tables
    fr = pa.focus_rule_check(
        plating.profile.categories,
        t["focus_candidates"],
        "C1",
        materials=t["materials"],
        pollutants=t["pollutants"],
        compliance_table=view_zh.compliance,
        energy_structure=view_zh.energy_structure,
        intake=view_zh.intake,
    ).set_index("category")
    # categories: double_toxic, double_exceeding, key_pollution_source (enterprise.yaml)
    assert set(fr.index) == {"double_toxic", "double_exceeding", "key_pollution_source"}
    # total nickel exceeds its limit (0.78 > 0.5 mg/L) and its cap: C1's reasons name 总镍
    assert fr.at["double_exceeding", "items"] == "总镍"
    assert "C1" in fr.at["double_exceeding", "matching"].split(";")
    assert set(fr["verdict"]) == {"agrees"}


def _candidates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "candidate_id": ["C1", "C2", "C3"],
            "name": ["镀镍线", "镀锌线", "锅炉房"],
            "reasons": ["总镍超标", "盐酸消耗大", pd.NA],
        }
    )


def _materials(toxic=False) -> pd.DataFrame:
    return pd.DataFrame(
        {"material_id": ["M1"], "name": ["硫酸镍（六水）"], "toxic": pd.array([toxic], "boolean")}
    )


def _pollutants() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pollutant_id": ["P1", "P2"],
            "name": ["总镍", "化学需氧量（COD）"],
            "toxic": pd.array([True, False], "boolean"),
            "cap_t": pd.array([None, 10.0], "Float64"),
            "first_class": pd.array([True, False], "boolean"),
        }
    )


def _compliance(exceeds: bool) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pollutant_id": ["P1", "P2"],
            "name": ["总镍", "化学需氧量（COD）"],
            "compliant": pd.array([not exceeds, True], "boolean"),
            "within_cap": pd.array([None, True], "boolean"),
        }
    )


@pytest.mark.parametrize(
    "chosen, exceeds, verdict",
    [
        ("C1", True, "agrees"),
        ("C2", True, "disagrees"),  # only C1 mentions 总镍 / 超标
        ("C1", False, "no_items"),  # nothing exceeds in the data
    ],
)
def test_focus_rule_verdicts(chosen, exceeds, verdict):
    fr = pa.focus_rule_check(
        ["double_exceeding"],
        _candidates(),
        chosen,
        materials=_materials(),
        pollutants=_pollutants(),
        compliance_table=_compliance(exceeds),
    )
    assert list(fr["verdict"]) == [verdict]


def test_focus_rule_unclear_and_token_split():
    cand = pd.DataFrame({"candidate_id": ["A"], "name": ["前处理"], "reasons": ["酸洗"]})
    fr = pa.focus_rule_check(
        ["double_toxic"], cand, "A", materials=_materials(toxic=True), pollutants=_pollutants()
    )
    assert fr["verdict"].iloc[0] == "unclear"
    # the bracketed part of a name is a token of its own: 六水 matches
    cand2 = pd.DataFrame({"candidate_id": ["A"], "name": ["六水物料区"], "reasons": [pd.NA]})
    fr2 = pa.focus_rule_check(
        ["double_toxic"], cand2, "A", materials=_materials(toxic=True), pollutants=_pollutants()
    )
    assert fr2["verdict"].iloc[0] == "agrees"
    # categories the enterprise does not have give no row
    assert pa.focus_rule_check(
        [], cand, "A", materials=_materials(), pollutants=_pollutants()
    ).empty


def test_target_coverage_hand():
    targets = pd.DataFrame(
        {
            "target_id": ["T1", "T2"],
            "indicator": ["含镍废水总镍浓度", "单位产品取水量"],
            "metric": pd.array(["P1", pd.NA], dtype="string"),
        }
    )
    lagging = pd.DataFrame(
        {
            "indicator_id": ["water", "energy"],
            "name_zh": ["单位产品取水量", "单位产品综合能耗"],
            "name_en": ["Water intake per product", "Energy per product"],
            "next_level": ["III", "II"],
        }
    )
    cov = pa.target_coverage(
        targets,
        ["double_exceeding", "key_energy_user"],
        lagging=lagging,
        materials=_materials(),
        pollutants=_pollutants(),
        compliance_table=_compliance(True),
    ).set_index("subject")
    assert cov.at["water", "targets"] == "T2"  # named in the target text
    assert cov.at["water", "need"] == "required"  # below III, the lowest level
    assert not cov.at["energy", "covered"]
    assert cov.at["energy", "need"] == "advised"
    assert cov.at["double_exceeding", "targets"] == "T1"  # metric = exceeding pollutant P1
    assert cov.at["double_exceeding", "clause"] == "5.2.14 b"
    assert not cov.at["key_energy_user", "covered"]  # no energy target


# ----------------------------------------------------------------------------- 3.9 options
def test_phase_options_plating(plating):
    t = plating.tables
    o = pa.phase_options(
        t["options"], t["implementation"], 2, thresholds=screening.cost_thresholds("zhejiang")
    ).set_index("option_id")
    assert list(o.index) == ["F01", "F06", "F07", "F09", "F19", "F20", "F21", "F22"]
    # F06 has no class and 18 > 5 (10k CNY, Zhejiang set) -> medium/high; F20 4.2 -> no/low
    assert o.at["F06", "cost_class"] == "medium_high"
    assert o.at["F20", "cost_class"] == "no_low"
    # implemented: the actual figures of implementation.csv
    assert o.at["F06", "investment_10k_cny"] == pytest.approx(18.6)
    assert o.at["F06", "benefit_10k_cny"] == pytest.approx(-1.5)
    assert o.at["F06", "benefit_basis"] == "actual"
    total_inv = 0.3 + 18.6 + 41.5 + 4.6 + 0.5 + 4.3 + 0.6 + 1.0
    total_ben = 5.6 - 1.5 + 15.1 + 1.7 + 1.1 + 0.9 + 3.8 + 0.2
    assert o["investment_10k_cny"].sum() == pytest.approx(total_inv)
    assert o["benefit_10k_cny"].sum() == pytest.approx(total_ben)


def test_phase_options_expected_benefit():
    opts = pd.DataFrame(
        {
            "option_id": ["X"],
            "name": ["x"],
            "aspect": ["staff"],
            "phase_proposed": [2],
            "cost_class": pd.array([pd.NA], dtype="string"),
            "investment_10k_cny": [2.0],
            "annual_cost_saving_10k_cny": [1.5],
            "annual_revenue_increase_10k_cny": [0.5],
            "status": ["planned"],
        }
    )
    imp = pd.DataFrame({"option_id": pd.Series([], dtype="string")})
    o = pa.phase_options(opts, imp, 2).iloc[0]
    assert o["benefit_10k_cny"] == pytest.approx(2.0)  # 1.5 saving + 0.5 revenue
    assert o["benefit_basis"] == "expected"
    assert o["cost_class"] == "no_low"  # 2 <= 5 (default set)
    assert pa.phase_options(opts, imp, 3).empty


# ----------------------------------------------------------------------------- the view
def test_view_weights_checked_at_start():
    ctx = open_phase(PLATING, phase=2, lang="zh", interactive=False)
    with pytest.raises(CpkitError, match="unknown criteria"):
        pa.PreAssessment(ctx, weights={"beauty": 3})
    with pytest.raises(CpkitError, match="outside the scale"):
        pa.PreAssessment(ctx, weights="toxicity=25")


def test_view_scoring_matches_reference(view_zh):
    r = view_zh.scores.ranking.set_index("candidate_id")
    # R of C2 (focus_scores.csv) x default W 10, 9, 9, 8, 6, 5 (scoring/focus_criteria.csv)
    assert r.at["C2", "total_score"] == 7 * 10 + 10 * 9 + 7 * 9 + 8 * 8 + 7 * 6 + 6 * 5  # 359
    assert r.at["C1", "total_score"] == 8 * 10 + 9 * 9 + 9 * 9 + 9 * 8 + 9 * 6 + 8 * 5  # 408
    # the explorer's re-ranking with toxicity W = 20
    again = view_zh.scoring_result({"toxicity": 20}).ranking.set_index("candidate_id")
    assert again.at["C2", "total_score"] == 70 + 200 + 63 + 64 + 42 + 30
    assert again.at["C1", "total_score"] == 80 + 180 + 81 + 72 + 54 + 40


def test_view_weights_parameter_applies():
    ctx = open_phase(PLATING, phase=2, lang="en", interactive=False)
    v = pa.PreAssessment(ctx, weights='{"cooperation": 1}')
    r = v.scores.ranking.set_index("candidate_id")
    assert r.at["C1", "total_score"] == 408 - 8 * 5 + 8 * 1
    crit = v.scores.criteria.set_index("criterion_id")
    assert crit.at["cooperation", "source"] == "set by the user"
    # W 1 is inside the usual range 1-5 of cooperation; 0.5 is not and is flagged
    assert "W = 1.0" not in html_of(v.focus_section())
    v2 = pa.PreAssessment(ctx, weights={"cooperation": 0.5})
    assert "Workshop cooperation W = 0.5" in html_of(v2.focus_section())


def test_sections_have_catalogue_headings(view_zh):
    t = lambda k: i18n.t(f"p2.{k}", "zh")  # noqa: E731
    assert t("chapter") in html_of(view_zh.chapter())
    for method, key in [
        ("production", "s31"),
        ("site_inspection", "s32"),
        ("energy_section", "s33"),
        ("water_section", "s34"),
        ("pollutants_section", "s35"),
        ("level_section", "s36"),
        ("focus_section", "s37"),
        ("targets_section", "s38"),
        ("options_section", "s39"),
    ]:
        html = html_of(getattr(view_zh, method)())
        assert "<h2" in html and t(key) in html, method
        assert "cannot be computed" not in html and "本节无法计算" not in html, method


def test_energy_and_water_figures(view_zh):
    e = view_zh.energy.set_index("year")
    # README: 6 050 000 kWh x 0.1229 + 420 000 m3 x 1.2143 = 743.545 + 510.006 = 1 253.551 tce
    assert e.at[2025, "energy_tce"] == pytest.approx(743.545 + 510.006)
    assert e.at[2025, "energy_kgce_per_product"] == pytest.approx(1253551 / 908000)
    assert e.at[2025, "energy_tce_per_10k_cny"] == pytest.approx(1253.551 / 6580)
    html = html_of(view_zh.energy_section())
    assert "1,253.55" in html and "0.1229" in html  # the basis is stated


def test_carbon_text_names_the_grid_factor(view_zh):
    html = html_of(view_zh.carbon_section())
    # 2023 East China grid factor 0.55 kgCO2/kWh applied to 6 050 000 kWh: 3 327.5 t
    assert "0.55 kgCO2/kWh" in html
    assert "3,327.5" in html
    assert "华东" in html


def test_level_section_plating(view_zh):
    html = html_of(view_zh.level_section())
    # README: before the audit no level (Y_III 94: the restrictive compliance indicator fails)
    assert view_zh.grade.level == "none"
    assert view_zh.grade.scores["Y_III"] == pytest.approx(94.0)
    assert "94.00" in html
    assert "未达到清洁生产一般水平" in html  # grading/defaults.yaml none_level_name


def test_minimal_dataset_degrades_to_a_warning():
    v = pa.PreAssessment(open_phase(MINIMAL, phase=2, lang="en", interactive=False))
    html = html_of(v.level_section())
    assert "This part cannot be computed" in html
    assert "no value for applicable indicator" in html
    assert i18n.t("p2.s36", "en") in html  # the heading stays


def test_no_indicator_system_compares_with_best_year(plating):
    import dataclasses

    ctx = open_phase(PLATING, phase=2, lang="en", interactive=False)
    profile = ctx.ds.profile.model_copy(update={"indicator_system": None})
    ds = dataclasses.replace(ctx.ds, profile=profile)
    v = pa.PreAssessment(dataclasses.replace(ctx, ds=ds))
    html = html_of(v.level_section())
    assert "clause 5.2.10" in html
    assert v.system is None


# ----------------------------------------------------------------------------- teaching
def test_teaching_off_shows_nothing(view_zh):
    for name in (
        "teach_materials",
        "teach_tce",
        "teach_scoring",
        "teach_grading",
        "teach_water",
        "teach_pollutants",
    ):
        assert getattr(view_zh, name)() == ()
    assert view_zh.exercise_tce().check() is None
    assert view_zh.exercise_scoring().check(359) is None


def test_exercise_tce(view_en_teach):
    ex = view_en_teach.exercise_tce()
    # 6 050 000 kWh x 0.1229 kgce/kWh / 1000 = 743.545 tce
    assert ex.expected == pytest.approx(6050000 * 0.1229 / 1000)
    assert ex.check(743.5).correct
    assert not ex.check(7435).correct
    assert "6,050,000" in ex.question and "0.1229" in ex.question


def test_exercise_scoring(view_en_teach):
    ex = view_en_teach.exercise_scoring()
    assert ex.expected == 359  # the second candidate C2, hand sum above
    assert ex.check(359).correct
    assert "C2" in ex.question


def test_exercise_grading(view_en_teach):
    g = view_en_teach.grade
    ex = view_en_teach.exercise_grading()
    # Y_II = sum of effective group weight x group score (the formula the trainee applies)
    groups = g.groups
    by_hand = sum(
        w * s for w, s in zip(groups["weight_effective"], groups["score_II"], strict=True)
    )
    assert ex.expected == pytest.approx(by_hand)
    # groups of electroplating.yaml: 0.2 x 50 + 0.2 x 0 + 0.3 x 40 + 0.15 x 65 + 0.05 x 100 + 0
    assert ex.expected == pytest.approx(10 + 12 + 9.75 + 5)


def test_teaching_on_shows_formulas(view_en_teach):
    for name in ("teach_tce", "teach_scoring", "teach_grading", "teach_water", "teach_pollutants"):
        html = html_of(getattr(view_en_teach, name)())
        assert "cp-teach" in html and "<svg" in html, name
    # GB/T 2589: 1 kgce = 29 307.6 kJ (energy/defaults.yaml), stated in the explanation
    assert "29,307.6 kJ" in html_of(view_en_teach.teach_tce())
    # the applied weighted sum of the top candidate ends with its total, 408
    assert "408" in html_of(view_en_teach.teach_scoring())


# ----------------------------------------------------------------------------- records
def test_record_figures(view_zh):
    from cpkit.render import recorded

    view_zh.record_figures()
    rec = recorded()
    assert rec["energy_tce"]["value"] == pytest.approx(1253.551)
    assert rec["water_intake_m3"]["value"] == pytest.approx(166800)  # tap water 2025
    assert rec["water_m3_per_10k_cny"]["value"] == pytest.approx(166800 / 6580)
    assert rec["energy_tce_per_10k_cny"]["better"] == "lower"
    assert rec["cp_level"]["value"] == "none"
    # CO2 2025: 6 050 000 kWh x 0.55 / 1000 = 3 327.5 t from electricity plus the gas
    assert rec["co2_t"]["value"] > 3327.5


# ----------------------------------------------------------------------------- charts
def test_trend_index_chart():
    df = pd.DataFrame(
        {
            "year": [2023, 2024],
            "label": ["镍", "镍"],
            "index": [100.0, 104.0],
            "value_text": ["a", "b"],
        }
    )
    ch = charts.trend_index(
        df, title="T", x_title="x", y_title="y", legend_title="l", tooltip_title="v"
    )
    spec = ch.to_dict()
    assert spec["config"]["font"] == "WenQuanYi Micro Hei"
    assert "<svg" in chart_svg(ch)


def test_pollutant_chart_colours_exceedances():
    df = pd.DataFrame(
        {
            "label": ["总镍", "总铬", "噪声"],
            "ratio": pd.array([1.56, 0.32, None], dtype="Float64"),
            "exceeds": [True, False, False],
            "detail": ["0.78 / 0.5", "0.32 / 1", "—"],
        }
    )
    ch = charts.pollutant_limits(
        df, title="T", x_title="C/C0", y_title="p", status_title="s", status_labels=("ok", "bad")
    )
    spec = ch.to_dict()
    values = next(iter(spec["datasets"].values()))
    assert [v["label"] for v in values] == ["总镍", "总铬"]  # no ratio: left out
    assert [v["status"] for v in values] == ["bad", "ok"]
    assert "<svg" in chart_svg(ch)


def test_other_charts_build():
    heat = pd.DataFrame(
        {
            "candidate": ["C1", "C2"],
            "criterion": ["a", "a"],
            "score_rw": [80.0, 70.0],
            "text": ["8×10=80", "7×10=70"],
        }
    )
    structure = pd.DataFrame(
        {
            "year": [2025, 2025],
            "label": ["电力", "天然气"],
            "share_pct": [59.3, 40.7],
            "energy_tce": [743.5, 510.0],
        }
    )
    levels = pd.DataFrame(
        {
            "score": ["Y_I", "Y_II", "Y_III"],
            "value": [9.0, 36.75, 94.0],
            "threshold": pd.array([85, 85, 100], dtype="Float64"),
            "reached": [False, False, False],
        }
    )
    built = [
        charts.scoring_heatmap(heat, title="t", x_title="x", y_title="y", colour_title="R×W"),
        charts.energy_structure(
            structure, title="t", x_title="x", y_title="y", legend_title="l", tce_title="tce"
        ),
        charts.level_scores(
            levels,
            title="t",
            x_title="x",
            y_title="y",
            threshold_title="th",
            status_title="s",
            status_labels=("yes", "no"),
        ),
    ]
    for ch in built:
        assert "<svg" in chart_svg(ch)


def test_chart_input_errors():
    with pytest.raises(CpkitError, match="lacks column"):
        charts.trend_index(
            pd.DataFrame({"year": [1]}),
            title="t",
            x_title="x",
            y_title="y",
            legend_title="l",
            tooltip_title="v",
        )
