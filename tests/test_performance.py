"""Tests of cpkit.performance: the Hainan performance table (seed 003 attached table 4).

The expected figures are a hand calculation, written out next to each assertion.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cpkit import performance as P
from cpkit import reference

NA = pd.NA


def tables():
    options = pd.DataFrame(
        {
            "option_id": ["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"],
            "name": ["A", "B", "C", "D", "E", "F", "G", "H"],
            "aspect": "management",
            "solution": ["sa", "sb", "sc", "sd", "se", "sf", "sg", "sh"],
            "cost_class": ["no_low", NA, "medium_high", NA, NA, NA, NA, NA],
            "screening": ["feasible", NA, "preliminary", NA, NA, NA, NA, "infeasible"],
            # default threshold: no/low-cost up to 5 (10k CNY)
            "investment_10k_cny": [2, 0.5, 80, 120, 60, 1, 200, 3],
            "annual_revenue_increase_10k_cny": [NA, 0, NA, 5, NA, NA, NA, NA],
            "annual_cost_saving_10k_cny": [NA, 1.2, NA, 25, 10, NA, NA, NA],
            "status": [
                "implemented",
                "implemented",
                "implemented",
                "planned",
                "in_progress",
                "planned",
                "rejected",
                "planned",
            ],
            "expert_recommended": [NA, NA, NA, True, False, NA, NA, NA],
        }
    ).astype(
        {
            "cost_class": "string",
            "screening": "string",
            "investment_10k_cny": "Float64",
            "annual_revenue_increase_10k_cny": "Float64",
            "annual_cost_saving_10k_cny": "Float64",
            "expert_recommended": "boolean",
            "status": "string",
        }
    )
    implementation = pd.DataFrame(
        {
            "option_id": ["o1", "o2", "o3"],
            "actual_investment_10k_cny": [1.5, NA, 85],
            "actual_annual_benefit_10k_cny": [3.0, NA, 30],
        }
    ).astype({"actual_investment_10k_cny": "Float64", "actual_annual_benefit_10k_cny": "Float64"})
    pollutants = pd.DataFrame(
        {
            "pollutant_id": ["cod_ww", "cr6", "ni"],
            "name": ["化学需氧量(COD)", "六价铬", "总镍"],
            "first_class": [False, True, NA],  # nickel: class one by name (note [4])
        }
    ).astype({"first_class": "boolean"})
    wastes = pd.DataFrame({"waste_id": ["hw_sludge"], "name": ["电镀污泥"], "class": ["hazardous"]})
    materials = pd.DataFrame({"material_id": ["m_lube"], "name": ["润滑油"]})
    effects = pd.DataFrame(
        [
            ("o1", "cod_ww", 1.0, 0.8, "t/a"),
            ("o1", "electricity", NA, 12000, "kWh"),
            ("o1", "wastewater", NA, 300, "t"),
            ("o1", "m_lube", NA, 200, "L"),
            ("o2", "fresh_water", NA, 500, "m3"),
            ("o2", "hw_sludge", 2000, NA, "kg"),
            ("o3", "cr6", NA, 15, "kg"),
            ("o3", "ni", NA, 0.01, "t"),
            ("o3", "natural_gas", NA, 30000, "m3"),
            ("o3", "co2", NA, 65, "t"),
            ("o3", "diesel", NA, 4, "t/a"),
            ("o3", "wastewater", NA, 1200, "m3"),
            ("o4", "cod_ww", 2, NA, "t/a"),
            ("o4", "electricity", 350000, NA, "kWh"),
            ("o6", "steam", 100, NA, "t"),
        ],
        columns=["option_id", "item", "expected", "actual", "unit"],
    ).astype({"expected": "Float64", "actual": "Float64"})
    return options, effects, implementation, pollutants, wastes, materials


@pytest.fixture(scope="module")
def table():
    return P.performance_table(*tables())


def test_option_counts(table):
    c = table.counts.set_index("row_id")["count"]
    assert c["generated"] == 8  # all options
    # o7 rejected, o8 screened infeasible -> 6 feasible
    assert c["feasible"] == 6
    # no/low: o1 (given), o2 (0.5 <= 5), o6 (1 <= 5)
    assert c["feasible_no_low"] == 3
    assert c["implemented_no_low"] == 2  # o1, o2
    assert c["planned_no_low"] == 1  # o6
    # medium/high: o3 (given), o4 (120 > 5), o5 (60 > 5)
    assert c["feasible_medium_high"] == 3
    assert c["implemented_medium_high"] == 1  # o3
    assert c["planned_medium_high"] == 2  # o4 planned, o5 in progress
    assert c["feasible"] == c["feasible_no_low"] + c["feasible_medium_high"]


def test_money(table):
    m = table.money.set_index("row_id")
    v = m["value_10k_cny"]
    # o1 actual 1.5 + o2 (no actual: planned 0.5) = 2.0
    assert v["invest_implemented_no_low"] == pytest.approx(2.0)
    assert "o2" in m.at["invest_implemented_no_low", "note"]
    assert v["invest_implemented_medium_high"] == pytest.approx(85.0)  # o3 actual
    assert v["invest_implemented"] == pytest.approx(87.0)  # 2 + 85
    # o1 actual 3.0 + o2 expected (0 revenue + 1.2 saving) = 4.2
    assert v["benefit_implemented_no_low"] == pytest.approx(4.2)
    assert v["benefit_implemented_medium_high"] == pytest.approx(30.0)
    assert v["invest_planned_medium_high"] == pytest.approx(180.0)  # 120 + 60
    assert v["benefit_planned_medium_high"] == pytest.approx(40.0)  # (5 + 25) + 10


def test_reductions(table):
    r = table.reductions.set_index("row_id")
    # wastewater: o1 300 t (no/low) and o3 1200 m3 = 1200 t at 1 t/m3 (medium/high)
    assert r.loc["wastewater", ["no_low", "medium_high", "total"]].tolist() == [300, 1200, 1500]
    assert r.at["cod", "no_low"] == pytest.approx(0.8)  # actual, not the expected 1.0
    # class one: Cr(VI) 15 kg = 0.015 t + total nickel 0.01 t = 0.025 t, listed one by one
    assert r.at["class_one", "medium_high"] == pytest.approx(0.025)
    assert r.at["class_one:cr6", "medium_high"] == pytest.approx(0.015)
    assert r.at["class_one:ni", "medium_high"] == pytest.approx(0.01)
    assert r.at["class_one:ni", "name_zh"] == "总镍"
    # hazardous waste: 2000 kg expected (no actual) = 2 t
    assert r.at["hazardous_waste", "no_low"] == pytest.approx(2.0)
    assert r.at["co2", "medium_high"] == pytest.approx(65.0)
    assert r.at["voc", "total"] == 0
    assert r.at["waste_gas", "unit"] == "Nm3"
    assert any("o2/hw_sludge" in n for n in table.notes)


def test_savings(table):
    s = table.savings.set_index("row_id")
    assert s.at["fresh_water", "no_low"] == pytest.approx(500.0)  # 500 m3 -> 500 t
    assert s.at["electricity", "no_low"] == pytest.approx(1.2)  # 12 000 kWh = 1.2 万kWh
    assert s.at["electricity", "unit"] == "万kWh"
    assert s.at["electricity", "unit_en"] == "10^4 kWh"
    assert s.at["natural_gas", "medium_high"] == pytest.approx(3.0)  # 30 000 m3 = 3 万m3
    assert s.at["oil", "no_low"] == pytest.approx(200.0)  # lubricating oil, L
    # steam of o6 is planned, not implemented: not in the implemented performance
    assert s.at["steam", "total"] == 0
    # diesel under others, in its own unit, named from energy/carriers.csv
    assert s.at["other_saving:diesel", "medium_high"] == pytest.approx(4.0)
    assert s.at["other_saving:diesel", "name_zh"] == "柴油"
    assert s.at["other_saving:diesel", "unit"] == "t"


def test_planned_medium_high_options(table):
    p = table.planned.set_index("option_id")
    assert list(p.index) == ["o4", "o5"]
    assert p.at["o4", "expected_investment_10k_cny"] == 120
    assert p.at["o4", "economic_benefit_10k_cny"] == 30
    assert p.at["o4", "content"] == "sd"
    assert bool(p.at["o4", "expert_recommended"]) is True
    # 350 000 kWh = 35 万kWh
    assert p.at["o4", "environmental_benefit_zh"] == "削减COD 2 t/年；节约电 35 万kWh/年"
    assert (
        p.at["o4", "environmental_benefit_en"]
        == "cuts COD by 2 t/a; saves electricity by 35 10^4 kWh/a"
    )
    assert pd.isna(p.at["o5", "environmental_benefit_zh"])
    assert any("o5" in n and "in progress" in n for n in table.notes)


def test_threshold_parameter_changes_classes():
    t = P.performance_table(*tables(), no_low_cost_max_10k_cny=100)
    c = t.counts.set_index("row_id")["count"]
    # o4 (120) stays medium/high; o5 (60) becomes no/low; o3 keeps its given class
    assert c["feasible_medium_high"] == 2
    assert c["planned_no_low"] == 2


def test_inputs_not_modified():
    args = tables()
    copies = [a.copy(deep=True) for a in args]
    P.performance_table(*args)
    for a, b in zip(args, copies, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_errors():
    options, effects, implementation, pollutants, wastes, materials = tables()
    bad = effects.copy()
    bad.loc[bad["item"] == "electricity", "unit"] = "t"
    with pytest.raises(P.PerformanceError, match="cannot express 't'"):
        P.performance_table(options, bad, implementation, pollutants, wastes, materials)
    rate = effects.copy()
    rate.loc[rate["item"] == "fresh_water", "unit"] = "m3/h"
    with pytest.raises(P.PerformanceError, match="'m3/h' is a rate"):
        P.performance_table(options, rate, implementation, pollutants, wastes, materials)
    unknown = pd.concat([effects, effects.iloc[:1].assign(option_id="o99")], ignore_index=True)
    with pytest.raises(P.PerformanceError, match="unknown option"):
        P.performance_table(options, unknown, implementation, pollutants, wastes, materials)
    with pytest.raises(P.PerformanceError, match="lacks column"):
        P.performance_table(
            options.drop(columns=["status"]), effects, implementation, pollutants, wastes
        )


def test_mapping_is_data():
    rows = reference.table("performance/table4_rows.csv")
    assert set(rows["section"]) == {"count", "money", "reduction", "saving"}
    # the form's 15 pollutant rows and 7 resource rows
    assert (rows["section"] == "reduction").sum() == 15
    assert (rows["section"] == "saving").sum() == 7
    mapping = reference.table("performance/table4_map.csv")
    assert set(mapping["row_id"]) <= set(rows["row_id"])
    for f in ("table4_rows.csv", "table4_map.csv"):
        assert reference.meta(f"performance/{f}")["status"]
    eff = P.effect_rows(*[tables()[i] for i in (1, 3, 4, 5)])
    assert (
        eff.set_index(["option_id", "item"]).at[("o3", "ni"), "rule"].startswith("pollutant_name")
    )
