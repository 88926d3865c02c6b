"""Tests of cpkit.screening: cost classes, simple screening (seed 004 5.4.6 a), weighted
ranking of medium/high-cost options (5.4.6 b) and the mandatory extra weight (5.4.6 c),
every total checked by a hand calculation written out here."""

from __future__ import annotations

import pandas as pd
import pytest

from cpkit import screening as scr
from cpkit.screening import ScreeningError


def options() -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "option_id": ["F1", "F2", "F3", "F4", "F5", "F6"],
            "name": ["加强管理", "冷凝水回收", "余热回收", "电镀线改造", "废水回用", "停用旧线"],
            "investment_10k_cny": [0.5, 5.0, 12.0, 80.0, 30.0, 60.0],
            "subsidy_10k_cny": [None, None, None, 40.0, None, None],
            "cost_class": [None, None, None, None, "no_low", None],
            "screening": [None, "feasible", None, "preliminary", None, "infeasible"],
            "mandatory_issue": [None, False, True, False, True, True],
            "status": ["implemented", "planned", "planned", "planned", "planned", "rejected"],
        }
    )
    return df.astype(
        {
            "option_id": "string",
            "name": "string",
            "investment_10k_cny": "Float64",
            "subsidy_10k_cny": "Float64",
            "cost_class": "string",
            "screening": "string",
            "mandatory_issue": "boolean",
            "status": "string",
        }
    )


def test_cost_classes_by_threshold_and_override():
    th = scr.cost_thresholds()  # default set: no/low ≤ 5, medium ≤ 50 (10k CNY)
    assert (th.no_low_max_10k_cny, th.medium_max_10k_cny) == (5.0, 50.0)
    cls = scr.classify_cost(options()).set_index("option_id")
    # the limit itself is still no/low-cost ("上限" is inclusive)
    assert cls.loc["F2", "cost_class"] == "no_low"
    assert cls.loc["F3", "cost_class"] == "medium_high" and cls.loc["F3", "cost_band"] == "medium"
    assert cls.loc["F4", "cost_band"] == "high"  # gross investment 80 > 50
    # explicit class wins; the disagreement with the threshold is reported
    assert cls.loc["F5", "cost_class"] == "no_low" and cls.loc["F5", "cost_class_source"] == "given"
    assert cls.loc["F5", "disagrees"] and "above the no/low-cost limit 5" in cls.loc["F5", "note"]
    # enterprise override no_low_cost_max_10k_cny = 15
    cls15 = scr.classify_cost(options(), scr.cost_thresholds(no_low_cost_max_10k_cny=15)).set_index(
        "option_id"
    )
    assert cls15.loc["F3", "cost_class"] == "no_low"
    assert cls15.attrs["basis"]["no_low_max_10k_cny"] == 15
    # net basis: F4 80 − 40 = 40 → medium
    net = scr.classify_cost(options(), investment_basis="net").set_index("option_id")
    assert net.loc["F4", "investment_10k_cny"] == 40 and net.loc["F4", "cost_band"] == "medium"
    with pytest.raises(ScreeningError, match="unknown cost-class threshold set"):
        scr.cost_thresholds("atlantis")


def test_simple_screening_groups():
    s = scr.simple_screening(options()).set_index("option_id")
    assert s.loc["F1", "group"] == "feasible_no_low"
    assert (
        s.loc["F1", "screening_source"] == "rule" and s.loc["F1", "screening_rule"] == "implemented"
    )
    assert s.loc["F2", "group"] == "feasible_no_low" and s.loc["F2", "screening_source"] == "given"
    assert s.loc["F3", "group"] == "preliminary_medium_high"
    assert s.loc["F3", "screening_source"] == "cost_class_only"
    assert "record the team's result" in s.loc["F3", "note"]
    assert s.loc["F4", "group"] == "preliminary_medium_high"
    assert s.loc["F5", "group"] == "feasible_no_low"  # given class no_low wins
    assert s.loc["F6", "group"] == "infeasible"
    summary = scr.screening_summary(s.reset_index()).set_index("group")
    assert summary.loc["feasible_no_low", "options"] == 3
    assert summary.loc["preliminary_medium_high", "investment_10k_cny"] == 92.0  # 12 + 80
    assert summary.loc["infeasible", "options"] == 1


def test_given_result_wins_over_a_rule_and_the_conflict_is_reported():
    o = options()
    o.loc[o["option_id"] == "F6", "screening"] = "feasible"  # but status rejected
    s = scr.simple_screening(o).set_index("option_id")
    assert s.loc["F6", "screening"] == "feasible" and s.loc["F6", "screening_rule"] == "rejected"
    assert "differs from rule rejected" in s.loc["F6", "note"]


def test_mandatory_option_screened_out_is_flagged():
    s = scr.simple_screening(options(), audit_kind="mandatory").set_index("option_id")
    assert "5.4.6 c" in s.loc["F6", "note"]
    assert "5.4.6 c" not in scr.simple_screening(options()).set_index("option_id").loc["F6", "note"]


def option_scores() -> pd.DataFrame:
    # criteria W: environmental 10, economic 8, technical 8, implementability 6
    r = {"F3": [6, 7, 8, 9], "F4": [9, 6, 7, 5], "F5": [5, 5, 5, 5]}
    crit = [
        "environmental_effect",
        "economic_feasibility",
        "technical_feasibility",
        "implementability",
    ]
    rows = [
        {"option_id": o, "criterion_id": c, "score": float(v)}
        for o, vals in r.items()
        for c, v in zip(crit, vals, strict=True)
    ]
    return pd.DataFrame(rows)


def test_weighted_ranking_voluntary():
    res = scr.rank_options(options(), option_scores())
    # hand: F3 = 60 + 56 + 64 + 54 = 234; F4 = 90 + 48 + 56 + 30 = 224
    tab = res.ranking.set_index("option_id")
    assert tab["total_score"].to_dict() == {"F3": 234, "F4": 224}
    assert tab.loc["F3", "rank"] == 1 and tab.loc["F3", "adjustment"] == 0
    assert res.rule is None and "voluntary" in res.basis["mandatory_rule"]
    # F5 was scored but is no/low-cost: listed as excluded, not silently ranked
    assert res.excluded["option_id"].tolist() == ["F5"]
    assert "feasible_no_low" in res.excluded.loc[0, "reason"]


def test_mandatory_added_criterion_changes_the_order():
    res = scr.rank_options(options(), option_scores(), audit_kind="mandatory")
    assert res.rule is not None and res.rule.method == "added_criterion"
    tab = res.ranking.set_index("option_id")
    # default rule: criterion W = 10, R = 10 when mandatory_issue else 0.
    # F3 (mandatory_issue) = 234 + 100 = 334; F4 = 224 + 0 = 224
    assert tab.loc["F3", "total_score"] == 334 and tab.loc["F3", "adjustment"] == 100
    assert tab.loc["F4", "total_score"] == 224
    # the added criterion is a row of the report matrix
    m = res.scoring.matrix.set_index("criterion_id")
    assert m.loc["mandatory_issue", "weight"] == 10 and m.loc["mandatory_issue", "F3_rw"] == 100
    assert "added criterion" in res.basis["mandatory_rule"]


def test_mandatory_rule_flips_a_ranking_and_multiplier_method():
    # make F4 the mandatory one: voluntary order F3 (234) > F4 (224); with the rule
    # F4 = 224 + 100 = 324 > F3 = 234
    o = options()
    o["mandatory_issue"] = pd.array([None, False, False, True, True, True], dtype="boolean")
    res = scr.rank_options(o, option_scores(), audit_kind="mandatory")
    tab = res.ranking.set_index("option_id")
    assert tab.loc["F4", "rank"] == 1 and tab.loc["F4", "rank_without_rule"] == 2
    mult = scr.rank_options(
        o,
        option_scores(),
        audit_kind="mandatory",
        rule=scr.mandatory_rule(method="multiplier", multiplier=1.5),
    )
    t2 = mult.ranking.set_index("option_id")
    # hand: F4 = 224 × 1.5 = 336 > F3 = 234
    assert t2.loc["F4", "total_score"] == pytest.approx(336)
    assert t2.loc["F4", "adjustment"] == pytest.approx(112)
    assert "mandatory_issue" not in set(mult.scoring.matrix["criterion_id"])
    none = scr.rank_options(
        o, option_scores(), audit_kind="mandatory", rule=scr.mandatory_rule(method="none")
    )
    assert none.ranking.set_index("option_id").loc["F3", "rank"] == 1


def test_mandatory_issue_empty_is_reported():
    o = options()
    o.loc[o["option_id"] == "F4", "mandatory_issue"] = pd.NA
    res = scr.rank_options(o, option_scores(), audit_kind="mandatory")
    assert any("mandatory_issue empty for F4" in w for w in res.warnings)


def test_errors():
    with pytest.raises(ScreeningError, match="no preliminarily feasible"):
        scr.rank_options(options(), option_scores()[option_scores()["option_id"] == "F5"])
    with pytest.raises(ScreeningError, match="cost_class must be"):
        scr.classify_cost(options().assign(cost_class=["cheap"] * 6))
    with pytest.raises(ScreeningError, match="neither investment_10k_cny nor cost_class"):
        scr.classify_cost(
            options().assign(investment_10k_cny=pd.array([None] * 6, dtype="Float64"))
        )
    with pytest.raises(ScreeningError, match="method"):
        scr.mandatory_rule(method="double")


def test_inputs_not_modified():
    o, s = options(), option_scores()
    o0, s0 = o.copy(), s.copy()
    scr.rank_options(o, s, audit_kind="mandatory")
    pd.testing.assert_frame_equal(o, o0)
    pd.testing.assert_frame_equal(s, s0)


def test_reference_files_are_catalogued():
    from cpkit import reference

    for rel in (
        "screening/cost_class_thresholds.csv",
        "screening/screening_rules.yaml",
        "screening/mandatory_weight.yaml",
    ):
        assert reference.meta(rel)["source"]
    assert scr.mandatory_rule().describe().startswith("added criterion")


def test_an_empty_option_register_gives_empty_tables_not_a_crash():
    empty = options().iloc[0:0]
    classes = scr.classify_cost(empty, scr.cost_thresholds())
    assert classes.empty and "cost_class" in classes.columns
    screened = scr.simple_screening(empty, scr.cost_thresholds())
    assert screened.empty and "option_id" in screened.columns
