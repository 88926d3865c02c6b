"""Tests of cpkit.views.options and cpkit.charts.options (report chapter 5).

Every number is checked against a hand calculation written out here, or against the
sample dataset's own figures recomputed by hand (data/samples/sample-plating).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import i18n, screening
from cpkit.charts import options as charts
from cpkit.dataset import load
from cpkit.errors import CpkitError
from cpkit.notebook import open_phase
from cpkit.views import options as ov

ROOT = Path(__file__).resolve().parent.parent
PLATING = ROOT / "data" / "samples" / "sample-plating"


def opts(**cols) -> pd.DataFrame:
    """A small options table with the dataset's dtypes."""
    n = len(next(iter(cols.values())))
    base = {
        "option_id": [f"O{i + 1}" for i in range(n)],
        "name": [f"option {i + 1}" for i in range(n)],
        "aspect": ["technology"] * n,
        "location": [pd.NA] * n,
        "problem": ["p"] * n,
        "cause": ["c"] * n,
        "solution": ["s"] * n,
        "phase_proposed": [3] * n,
        "status": ["planned"] * n,
        "investment_10k_cny": [1.0] * n,
    }
    base.update(cols)
    df = pd.DataFrame(base)
    return df.astype(
        {
            "option_id": "string",
            "name": "string",
            "aspect": "string",
            "location": "string",
            "problem": "string",
            "cause": "string",
            "solution": "string",
            "phase_proposed": "Int64",
            "status": "string",
            "investment_10k_cny": "Float64",
        }
    )


@pytest.fixture(scope="module")
def plating_ctx():
    return open_phase(PLATING, phase=4, lang="zh", interactive=False, teaching=True)


@pytest.fixture(scope="module")
def plating(plating_ctx):
    return ov.prepare(plating_ctx, cause_link_min_similarity=0.25)


# --------------------------------------------------------------------------- helpers
def test_digits_for_whole_and_fractional():
    assert ov.digits_for([1.0, 2, 3.0]) == 0
    assert ov.digits_for([1.0, 2.5]) == 2
    assert ov.digits_for([pd.NA, 4.0]) == 0


def test_option_label():
    assert ov.option_label("F04", "镍回收") == "F04 镍回收"
    assert ov.option_label("F04", pd.NA) == "F04"


# --------------------------------------------------------------------------- register
def test_register_table_orders_by_the_eight_aspects_and_prefixes_the_location():
    o = opts(
        aspect=["staff", "materials_energy", "waste"],
        location=["全厂", pd.NA, "废水站"],
        problem=["意识弱", "损耗大", "外排多"],
    )
    zh = ov.register_table(o, "zh")
    # aspects.csv order: materials_energy (1) ... waste (6) ... staff (8)
    assert list(zh["option_id"]) == ["O2", "O3", "O1"]
    assert list(zh["aspect"]) == ["原辅材料和能源", "废弃物", "员工"]
    assert list(zh["problem"]) == ["损耗大", "【废水站】外排多", "【全厂】意识弱"]
    assert zh["option"].iloc[0] == "O2 option 2"
    en = ov.register_table(o, "en")
    assert en["aspect"].iloc[0] == "Raw materials and energy"
    assert en["problem"].iloc[1] == "[废水站] 外排多"
    assert list(o["option_id"]) == ["O1", "O2", "O3"]  # input unchanged


def test_aspect_summary_counts_every_aspect_by_hand():
    o = opts(
        aspect=["technology", "technology", "waste", "staff"],
        investment_10k_cny=[2.0, 60.0, 100.0, 0.0],
    )
    screened = screening.simple_screening(o, "default")
    s = ov.aspect_summary(screened, o, "zh")
    assert len(s) == 8  # all eight aspects, even those without options
    tech = s.set_index("aspect_id").loc["technology"]
    # default thresholds: no/low up to 5 (10k CNY): 2 -> no/low, 60 -> medium/high
    assert (tech["no_low"], tech["medium_high"], tech["total"]) == (1, 1, 2)
    assert tech["investment_10k_cny"] == pytest.approx(62.0)
    assert s.set_index("aspect_id").loc["product", "total"] == 0
    assert s.set_index("aspect_id").loc["staff", "no_low"] == 1  # 0 is no/low cost
    assert int(s["total"].sum()) == 4
    assert s["investment_10k_cny"].sum() == pytest.approx(162.0)


def test_aspect_counts_is_the_tidy_form():
    o = opts(aspect=["technology", "waste"], investment_10k_cny=[2.0, 60.0])
    s = ov.aspect_summary(screening.simple_screening(o, "default"), o, "en")
    c = ov.aspect_counts(s, "en")
    assert len(c) == 16  # 8 aspects x 2 classes
    assert c["options"].sum() == 2
    assert set(c["cost_class"]) == {"No/low cost", "Medium/high cost"}


# --------------------------------------------------------------------------- cause links
def causes(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {
        "cause_id": [f"C{i + 1}" for i in range(n)],
        "location": [""] * n,
        "waste": [""] * n,
        "aspect": ["technology"] * n,
        "cause": [""] * n,
    }
    base.update(cols)
    return pd.DataFrame(base).astype("string")


def test_cause_links_hand_calculated_cosines():
    # Options (name only, other text columns empty): O1 "镀镍槽" -> bigrams {镀镍, 镍槽};
    # O2 "漂洗水" -> {漂洗, 洗水}. Each bigram occurs in one option of two, so its IDF
    # weight is ln((1+2)/(1+1)) + 1 for all: the cosine is that of plain counts.
    o = opts(name=["镀镍槽", "漂洗水"], problem=[pd.NA, pd.NA], cause=[pd.NA, pd.NA])
    c = causes(location=["镀镍槽", "镀镍", "车间"])
    links = ov.cause_links(c, o, min_similarity=0.5)
    # C1: same bigrams as O1 -> 1; C2: {镀镍} vs {镀镍, 镍槽} -> 1/sqrt(2) = 0.7071
    # C3: {车间} shares nothing -> 0, a gap
    assert links.loc[0, "best_similarity"] == pytest.approx(1.0)
    assert links.loc[1, "best_similarity"] == pytest.approx(1 / math.sqrt(2))
    assert list(links["best_option"][:2]) == ["O1", "O1"]
    assert list(links["addressed"]) == [True, True, False]
    assert pd.isna(links.loc[2, "options"])
    strict = ov.cause_links(c, o, min_similarity=0.75)
    assert list(strict["addressed"]) == [True, False, False]


def test_cause_links_ignore_rejected_options_and_check_the_threshold():
    o = opts(name=["镀镍槽", "漂洗水"], status=["rejected", "planned"])
    c = causes(location=["镀镍槽"])
    links = ov.cause_links(c, o, min_similarity=0.3)
    assert not links.loc[0, "addressed"]
    with pytest.raises(CpkitError, match="between 0 and 1"):
        ov.cause_links(c, o, min_similarity=1.5)
    with pytest.raises(CpkitError, match="waste_causes lacks"):
        ov.cause_links(c.drop(columns=["cause"]), o, min_similarity=0.3)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="镀镍槽漂洗水回收废气", min_size=1, max_size=8))
def test_cause_link_similarity_is_a_cosine(text):
    o = opts(name=["镀镍槽回收", "漂洗水废气"], problem=[pd.NA] * 2, cause=[pd.NA] * 2)
    links = ov.cause_links(causes(location=[text]), o, min_similarity=0.0)
    assert 0.0 <= float(links.loc[0, "best_similarity"]) <= 1.0 + 1e-12


def test_every_plating_waste_cause_has_its_option(plating):
    links = plating.links
    best = dict(zip(links["cause_id"], links["best_option"], strict=True))
    # the sample's option for each problem, read off the two tables by hand
    assert best["WC01"] == "F12"  # 出槽滴液时间 -> 延长滴液时间
    assert best["WC06"] == "F06"  # 总镍超标 -> 螯合树脂
    assert best["WC10"] == "F08"  # 锅炉排烟 -> 冷凝式余热回收
    assert links["addressed"].all()


# --------------------------------------------------------------------------- lagging
def test_lagging_table_joins_the_coverage():
    lag = pd.DataFrame(
        {
            "indicator_id": ["a", "b"],
            "name_zh": ["甲", "乙"],
            "name_en": ["A", "B"],
            "unit": ["%", pd.NA],
            "value": [1.5, pd.NA],
            "lag_zh": ["未达到II级", "未达到I级"],
            "lag_en": ["below level II", "below level I"],
            "next_benchmark": [2.0, pd.NA],
        }
    )
    cov = pd.DataFrame(
        {
            "indicator_id": ["a", "b"],
            "lag": ["x", "y"],
            "options": ["O1;O2", pd.NA],
            "addressed": [True, False],
        }
    )
    t = ov.lagging_table(lag, cov, "en")
    assert list(t["indicator"]) == ["A", "B"]
    assert list(t["addressed"]) == [True, False]
    assert t.loc[0, "options"] == "O1;O2"
    assert t.loc[1, "level"] == "below level I"


def test_plating_lagging_indicators_without_option(plating):
    _result, lag, problem = plating.grading
    assert problem is None
    cov = plating.coverage
    gaps = set(cov.loc[~cov["addressed"].astype(bool), "indicator_id"])
    # options.indicator_ids of the sample never name these three (checked by hand)
    assert gaps == {"automatic_line_share", "zinc_utilisation", "hard_chrome_utilisation"}
    table = ov.suggestions_table(plating.suggestions, lag, "zh", indicator_ids=sorted(gaps))
    assert set(table["indicator"]) == {
        "自动及半自动生产线产能占比",
        "锌利用率（钝化前）",
        "硬铬铬利用率",
    }


# --------------------------------------------------------------------------- screening
def test_screening_table_bands_by_hand():
    o = opts(investment_10k_cny=[5.0, 5.01, 50.0, 50.5], cost_class=[pd.NA, pd.NA, pd.NA, "no_low"])
    th = screening.cost_thresholds("default")  # 5 / 50
    t = ov.screening_table(screening.simple_screening(o, th), screening.classify_cost(o, th), "zh")
    assert list(t["cost_band"]) == ["无/低费", "中费", "中费", "高费"]
    # O4 is entered as no/low against the threshold: the entered class wins, flagged
    assert list(t["cost_class"]) == ["无/低费", "中/高费", "中/高费", "无/低费"]
    assert list(t["disagrees"]) == [False, False, False, True]
    assert t.loc[3, "class_source"] == "审核小组填写"
    assert list(t["cost"]) == ["无/低费", "中/高费（中费）", "中/高费（中费）", "无/低费（高费）"]


def test_screening_table_refuses_mismatched_frames():
    o = opts(investment_10k_cny=[1.0, 2.0])
    th = screening.cost_thresholds("default")
    with pytest.raises(CpkitError):
        ov.screening_table(
            screening.simple_screening(o, th), screening.classify_cost(o.iloc[::-1], th), "en"
        )


def test_infeasible_table_reason_text_or_rule():
    o = opts(
        status=["rejected", "rejected"],
        technical_assessment=["客户不接受", pd.NA],
        environmental_assessment=[pd.NA, pd.NA],
    )
    t = ov.infeasible_table(screening.simple_screening(o, "default"), o, "zh")
    assert list(t["option_id"]) == ["O1", "O2"]
    assert t.loc[0, "reason"] == "客户不接受"
    # no text: the rule's reason of screening_rules.yaml (rejected by the team)
    assert t.loc[1, "reason"] == "审核小组已否定该方案"


def test_criteria_table_labels_the_default_source():
    from cpkit import scoring

    t = ov.criteria_table(scoring.criteria(kind="option"), "zh")
    assert list(t["weight"]) == [10, 8, 8, 6]
    assert t.loc[0, "usual_range"] == "1–10"
    assert t.loc[0, "source"].startswith("cpkit默认值")


# --------------------------------------------------------------------------- ranking
def test_plating_ranking_totals_by_hand(plating):
    r = ov.ranking_table(plating.ranking).set_index("option_id")
    # F04: R = 8, 8, 7, 7 on W = 10, 8, 8, 6, plus the mandatory criterion W 10 x R 10
    assert r.loc["F04", "base_score"] == 8 * 10 + 8 * 8 + 7 * 8 + 7 * 6 == 242
    assert r.loc["F04", "total_score"] == 242 + 10 * 10
    # F11 does not address the mandatory issue: R = 0 on the added criterion
    assert r.loc["F11", "total_score"] == 6 * 10 + 9 * 8 + 9 * 8 + 9 * 6 == 258
    assert r.loc["F11", "rank_without_rule"] == 1
    assert r.loc["F06", "rank"] == 1  # 9*10 + 4*8 + 9*8 + 9*6 + 100 = 348


def test_totals_parts_add_up_to_the_total(plating):
    parts = ov.totals_parts(plating.ranking, "en")
    sums = parts.groupby("option")["points"].sum()
    r = plating.ranking.ranking
    for oid, name, total in zip(r["option_id"], r["name"], r["total_score"], strict=True):
        assert sums[ov.option_label(oid, name)] == pytest.approx(float(total))


def test_heatmap_cells_carry_weights_and_scores(plating):
    cells = ov.heatmap_cells(plating.ranking, "zh")
    assert len(cells) == 7 * 5  # 7 options x (4 criteria + the mandatory one)
    f04 = cells[cells["option"].str.startswith("F04")].sort_values("criterion_order")
    assert list(f04["score_r"]) == [8, 8, 7, 7, 10]
    assert f04["criterion"].iloc[0] == "环境效果（W=10）"


def test_matrix_tables_split_by_options(plating):
    tables = ov.matrix_tables(plating.ranking, "zh", per_table=3)
    assert len(tables) == math.ceil(7 / 3)
    df, _cols = tables[0]
    assert df["criterion"].iloc[-1] == "合计 ΣR×W"
    first = str(plating.ranking.ranking["option_id"].iloc[0])  # F06
    assert df[f"{first}_rw"].iloc[-1] == 348
    with pytest.raises(CpkitError):
        ov.matrix_tables(plating.ranking, "zh", per_table=0)


def test_rerank_with_other_weights_by_hand(plating):
    # environmental weight 4 instead of 10: F06 loses 6 x 9 = 54 -> 294, F04 loses
    # 6 x 8 = 48 -> 294: a tie at the top (the stability table says: down to 4.00)
    r = plating.rerank({"environmental_effect": 4}, 10).ranking.set_index("option_id")
    assert r.loc["F06", "total_score"] == pytest.approx(294)
    assert r.loc["F04", "total_score"] == pytest.approx(294)
    assert r.loc["F06", "rank"] == r.loc["F04", "rank"] == 1


def test_stability_table_and_ranges(plating):
    table, _raw = ov.stability_table(plating.ranking, "zh")
    env = table.set_index("criterion").loc["环境效果"]
    assert env["down_to"] == pytest.approx(4.0)  # see test_rerank_with_other_weights_by_hand
    assert env["down_challenger"] == "F04"
    ranges = ov.stability_ranges(table)
    assert (ranges["low"] <= ranges["weight"]).all()
    assert (ranges["weight"] <= ranges["high"]).all()
    assert ranges["high"].max() <= 20  # the weight scale of scoring/scales.yaml


def test_weighted_sum_formula_substitutes_to_the_total(plating):
    expr, lhs, subs = ov.weighted_sum_formula(plating.ranking, "F04")
    assert float(sp.sympify(expr).subs(subs)) == pytest.approx(342.0)
    assert str(lhs) == "Score_{F04}"


# --------------------------------------------------------------------------- interim summary
def test_interim_figures_by_hand():
    o = opts(
        investment_10k_cny=[1.0, 2.0, 3.0, 80.0],
        status=["implemented", "implemented", "in_progress", "planned"],
    )
    impl = pd.DataFrame(
        {
            "option_id": ["O1", "O2"],
            "actual_investment_10k_cny": [1.5, pd.NA],
            "actual_annual_benefit_10k_cny": [4.0, pd.NA],
        }
    )
    f = ov.interim_figures(screening.simple_screening(o, "default"), o, impl)
    assert f["options"] == 4
    assert (f["feasible_no_low"], f["preliminary_medium_high"], f["infeasible"]) == (3, 1, 0)
    assert (f["no_low_implemented"], f["no_low_in_progress"]) == (2, 1)
    # O1 actual 1.5 (replaces 1.0), O2 has no actual figure: its planned 2.0
    assert f["no_low_investment_10k_cny"] == pytest.approx(3.5)
    assert f["no_low_benefit_10k_cny"] == pytest.approx(4.0)
    assert f["benefit_missing"] == 1


def test_plating_interim_figures(plating):
    f = ov.interim_figures(plating.screened, plating.options, plating.tables["implementation"])
    assert (f["options"], f["feasible_no_low"], f["preliminary_medium_high"]) == (23, 14, 7)
    assert f["no_low_implemented"] == 13  # F14 is in progress
    # actual benefits of the 13 (implementation.csv): F01 5.6 + F02 2.1 + F03 4.2 + F09 1.7
    # + F10 10.7 + F12 18.9 + F13 15.3 + F18 8.8 + F19 1.1 + F20 0.9 + F21 3.8 + F22 0.2
    # + F23 17.2
    assert f["no_low_benefit_10k_cny"] == pytest.approx(90.5)


def test_effects_summary_converts_units_and_marks_the_basis():
    eff = pd.DataFrame(
        {
            "option_id": ["O1", "O2", "O1", "O3"],
            "item": ["nickel", "nickel", "fresh_water", "nickel"],
            "expected": [1300.0, 2.0, 500.0, 9.0],
            "actual": [1480.0, pd.NA, pd.NA, 1.0],
            "unit": ["kg/a", "t/a", "m3/a", "t/a"],
        }
    )
    tables = {"materials": pd.DataFrame({"material_id": ["nickel"], "name": ["硫酸镍"]})}
    s = ov.effects_summary(eff, ["O1", "O2"], tables, "zh").set_index("item")
    # 1480 kg/a measured + 2 t/a expected = 1480 + 2000 kg/a; O3 is not selected
    assert s.loc["nickel", "amount"] == pytest.approx(3480.0)
    assert s.loc["nickel", "unit"] == "kg/a"
    assert s.loc["nickel", "basis"] == "mixed"
    assert s.loc["nickel", "name"] == "硫酸镍"
    assert s.loc["fresh_water", "name"] == "新鲜水"
    assert s.loc["fresh_water", "basis"] == "expected"
    shown = ov.effects_table(s.reset_index(), "zh")
    assert set(shown["basis"]) == {"实测与预期", "预期"}


def test_implemented_no_low_table(plating):
    t = ov.implemented_no_low_table(
        plating.screened, plating.options, plating.tables["implementation"], "en"
    )
    assert "F14" in set(t["option_id"])  # in progress is listed too
    f01 = t.set_index("option_id").loc["F01"]
    assert f01["investment_10k_cny"] == pytest.approx(0.3)
    assert f01["benefit_10k_cny"] == pytest.approx(5.6)
    assert f01["status"] == "Implemented"


# --------------------------------------------------------------------------- chapter
def test_prepare_checks_the_similarity_parameter(plating_ctx):
    with pytest.raises(CpkitError, match="cause_link_min_similarity"):
        ov.prepare(plating_ctx, cause_link_min_similarity=2)


def test_prepare_without_scores_explains(plating_ctx):
    import dataclasses

    ds = plating_ctx.ds
    tables = dict(ds.tables)
    tables["option_scores"] = tables["option_scores"].iloc[0:0]
    ctx = dataclasses.replace(plating_ctx, ds=dataclasses.replace(ds, tables=tables))
    ch = ov.prepare(ctx)
    assert ch.ranking is None
    assert "option_scores" in ch.ranking_problem


def test_exercise_checks_against_the_ranking(plating):
    ex = ov.exercise_weighted_total(plating)
    # second-ranked option F04: 342 (test_plating_ranking_totals_by_hand)
    assert ex.expected == 342
    assert ex.check(342).correct
    assert not ex.check(242).correct


def test_teaching_off_shows_nothing():
    ctx = open_phase(PLATING, phase=4, lang="en", interactive=False, teaching=False)
    ch = ov.prepare(ctx)
    assert ov.exercise_weighted_total(ch).check() is None
    assert ov.exercise_weighted_total(ch).check(1) is None


def test_voluntary_audit_has_no_rule():
    ds = load(PLATING)
    import dataclasses

    profile = ds.profile.model_copy(update={"audit_kind": "voluntary"})
    ctx = open_phase(PLATING, phase=4, lang="en", interactive=False)
    ctx = dataclasses.replace(ctx, ds=dataclasses.replace(ds, profile=profile))
    ch = ov.prepare(ctx)
    assert ch.ranking.rule is None
    assert ov._rule_text(ch, ch.ranking.rule).startswith("Voluntary audit")
    assert (ov.totals_parts(ch.ranking, "en")["part_order"] == 0).all()


# --------------------------------------------------------------------------- charts
def test_charts_build_and_name_the_cjk_font(plating):
    from cpkit.display import CHART_FONT, chart_svg

    s = ov.aspect_summary(plating.screened, plating.options, "zh")
    c = charts.options_by_aspect(
        ov.aspect_counts(s, "zh"), aspect_title="方面", count_title="数", class_title="类"
    )
    spec = c.to_dict()
    assert spec["config"]["font"] == CHART_FONT
    svg = chart_svg(c)
    assert svg.lstrip().startswith("<svg") and "原辅材料和能源" in svg
    h = charts.score_heatmap(
        ov.heatmap_cells(plating.ranking, "zh"),
        option_title="o",
        criterion_title="c",
        score_title="R",
        score_max=10,
    )
    assert len(h.to_dict()["layer"]) == 2
    t = charts.weighted_totals(
        ov.totals_parts(plating.ranking, "zh"), option_title="o", score_title="s", part_title="p"
    )
    assert t.to_dict()["mark"]["type"] == "bar"
    table, _ = ov.stability_table(plating.ranking, "zh")
    w = charts.weight_ranges(
        ov.stability_ranges(table),
        criterion_title="c",
        weight_title="w",
        range_label="r",
        weight_label="W",
    )
    assert len(w.to_dict()["layer"]) == 2


def test_chart_builders_refuse_missing_columns():
    with pytest.raises(ValueError, match="lacks"):
        charts.options_by_aspect(
            pd.DataFrame({"aspect": []}), aspect_title="", count_title="", class_title=""
        )


# --------------------------------------------------------------------------- catalogue
def _keys_in(path: Path, prefix: str) -> set[str]:
    text = path.read_text(encoding="utf-8")
    return set(re.findall(rf'"({prefix}\.[A-Za-z0-9_.]*[A-Za-z0-9_])"', text))


def test_every_message_key_used_exists_in_both_languages():
    cat = i18n.load_catalogue()
    used = _keys_in(ROOT / "cpkit" / "views" / "options.py", "p4")
    used |= _keys_in(ROOT / "cpkit" / "views" / "options.py", "common")
    missing = sorted(
        k for k in used if k not in cat and not any(c.startswith(k + ".") for c in cat)
    )
    assert not missing
    for key in (k for k in cat if k.startswith("p4.")):
        assert set(cat[key]) == {"zh", "en"}


def test_phase_names_keys():
    cat = i18n.load_catalogue()
    for g in ov.GROUPS:
        assert f"p4.group.{g}" in cat
    for band in ("no_low", "medium", "high"):
        assert f"p4.cost_band.{band}" in cat


def test_section_functions_run_outside_a_kernel(plating, capsys):
    """The section functions display through IPython; outside a kernel they print reprs
    and must not fail (smoke test of every branch the samples reach)."""
    ch = plating
    for f in (
        ov.chapter_intro,
        ov.generation,
        ov.register,
        ov.problem_links,
        ov.library_gaps,
        ov.classification,
        ov.teach_screening,
        ov.screening_section,
        ov.weighted_ranking,
        ov.teach_weighted_sum,
        ov.stability,
        ov.interim_summary,
        ov.library_annex,
        ov.matrix_annex,
    ):
        assert f(ch) is None
    assert "HTML" in capsys.readouterr().out
