"""Status indicators, trends, compliance, before/after and target attainment, each checked
against a hand calculation written out next to the assertion.

The three-year history used throughout (main product P1 in t):

    year                 2021       2022        2023
    P1 output (t)        1 000      1 100       1 250
    output value (10^4)  2 000      2 300       2 600
    material M1 (kg)     50 000     52 800      56 250    -> 50, 48, 45 kg/t
    electricity (kWh)    1 000 000  1 100 000   1 000 000 -> 122.9, 135.19, 122.9 tce
    water intake (m3)    20 000     22 000      15 000 tap + 5 000 ground = 20 000
    wastewater (m3)      16 000     16 500      15 000
    waste W1 (t)         10         11          10
    COD emitted (t)      8          8.8         7.5
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import indicators
from cpkit.indicators import IndicatorError

ROWS = [
    (2021, "product", "P1", 1_000, "t"),
    (2022, "product", "P1", 1_100, "t"),
    (2023, "product", "P1", 1_250, "t"),
    (2021, "output_value", "total", 2_000, "10k_CNY"),
    (2022, "output_value", "total", 2_300, "10k_CNY"),
    (2023, "output_value", "total", 2_600, "10k_CNY"),
    (2021, "material", "M1", 50_000, "kg"),
    (2022, "material", "M1", 52_800, "kg"),
    (2023, "material", "M1", 56_250, "kg"),
    (2021, "energy", "electricity", 1_000_000, "kWh"),
    (2022, "energy", "electricity", 1_100_000, "kWh"),
    (2023, "energy", "electricity", 1_000_000, "kWh"),
    (2021, "water_intake", "tap_water", 20_000, "m3"),
    (2022, "water_intake", "tap_water", 22_000, "m3"),
    (2023, "water_intake", "tap_water", 15_000, "m3"),
    (2023, "water_intake", "groundwater", 5_000, "m3"),
    (2021, "wastewater", "discharge", 16_000, "m3"),
    (2022, "wastewater", "discharge", 16_500, "m3"),
    (2023, "wastewater", "discharge", 15_000, "m3"),
    (2021, "waste", "W1", 10, "t"),
    (2022, "waste", "W1", 11, "t"),
    (2023, "waste", "W1", 10, "t"),
    (2021, "emission", "COD", 8, "t"),
    (2022, "emission", "COD", 8.8, "t"),
    (2023, "emission", "COD", 7.5, "t"),
]


def history(rows=ROWS) -> pd.DataFrame:
    h = pd.DataFrame(rows, columns=["year", "category", "item", "quantity", "unit"])
    h["cost_10k_cny"] = pd.NA
    h["enthalpy_kj_kg"] = pd.NA
    return h.astype(
        {
            "year": "Int64",
            "quantity": "Float64",
            "cost_10k_cny": "Float64",
            "enthalpy_kj_kg": "Float64",
        }
    )


def products() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": ["P1"],
            "name": ["Cloth"],
            "unit": ["t"],
            "main": pd.array([True], dtype="boolean"),
        }
    )


def materials() -> pd.DataFrame:
    return pd.DataFrame({"material_id": ["M1"], "name": ["Dye"], "unit": ["kg"]})


def value(table, metric, item, year):
    t = table[(table["metric"] == metric) & (table["item"] == item) & (table["year"] == year)]
    assert len(t) == 1, (metric, item, year)
    return t.iloc[0]


# --------------------------------------------------------------------------- status


def test_status_by_hand():
    s = indicators.status(history(), products(), materials=materials())
    m = value(s, "material_per_product", "M1", 2022)
    assert m["value"] == pytest.approx(48.0)  # 52 800 kg / 1 100 t
    assert m["unit"] == "kg/t" and m["name"] == "Dye"
    assert m["change"] == pytest.approx(-2.0)  # 48 - 50
    assert m["change_pct"] == pytest.approx(-4.0)  # -2 / 50
    assert value(s, "material_per_product", "M1", 2023)["change_pct"] == pytest.approx(-6.25)
    e = value(s, "energy_per_product", "total", 2022)
    assert e["numerator"] == pytest.approx(135.19)  # 1.1e6 kWh x 0.1229 / 1000
    assert e["value"] == pytest.approx(135.19 / 1100) and e["unit"] == "tce/t"
    assert value(s, "energy_per_output_value", "total", 2021)["value"] == pytest.approx(
        122.9 / 2000
    )
    w = value(s, "water_intake_per_product", "total", 2023)
    assert w["numerator"] == 20_000 and w["value"] == pytest.approx(16.0)  # both sources
    assert value(s, "water_intake_per_output_value", "total", 2023)["unit"] == "m3/10k_CNY"
    assert value(s, "wastewater_per_product", "total", 2023)["value"] == pytest.approx(12.0)
    assert value(s, "waste_per_product", "W1", 2023)["value"] == pytest.approx(0.008)
    assert value(s, "emission_per_product", "COD", 2022)["value"] == pytest.approx(0.008)
    assert pd.isna(value(s, "material_per_product", "M1", 2021)["change"])  # first year
    assert s.attrs["basis"]["energy"]["electricity_basis"] == "equivalent"


def test_status_missing_denominator_and_zero_output():
    rows = [r for r in ROWS if r[:2] != (2022, "output_value")]
    s = indicators.status(history(rows), products())
    e = value(s, "energy_per_output_value", "total", 2022)
    assert pd.isna(e["value"]) and "no output value in 2022" in e["note"]
    zero = [
        r if r[:3] != (2022, "product", "P1") else (2022, "product", "P1", 0, "t") for r in ROWS
    ]
    with pytest.raises(IndicatorError, match="zero"):
        indicators.status(history(zero), products())
    with pytest.raises(IndicatorError, match="2019"):
        indicators.status(history(), products(), years=[2019, 2023])


def test_status_years_subset():
    s = indicators.status(history(), products(), years=[2022, 2023])
    assert sorted(set(s["year"])) == [2022, 2023]


# --------------------------------------------------------------------------- trends


def test_trends_by_hand():
    s = indicators.status(history(), products())
    t = indicators.trends(s).set_index(["metric", "item"])
    m = t.loc[("material_per_product", "M1")]
    # values 50, 48, 45: slope = [(-1)(50 - 47.667) + (1)(45 - 47.667)] / 2 = -2.5 kg/t per year
    assert m["slope_per_year"] == pytest.approx(-2.5)
    assert m["period_change"] == pytest.approx(-5.0)
    assert m["period_change_pct"] == pytest.approx(-10.0)
    # (45 / 50)^(1/2) - 1 = -5.1317 %
    assert m["mean_annual_change_pct"] == pytest.approx(((45 / 50) ** 0.5 - 1) * 100)
    assert m["direction"] == "down" and m["years"] == 3
    e = t.loc[("energy_per_product", "total")]
    assert e["first_value"] == pytest.approx(0.1229) and e["last_value"] == pytest.approx(
        122.9 / 1250
    )


def test_trends_need_two_years():
    s = indicators.status(history(), products(), years=[2023])
    t = indicators.trends(s)
    assert t["slope_per_year"].isna().all() and (t["note"] != "").all()


@settings(max_examples=40, deadline=None)
@given(
    a=st.floats(-1e3, 1e3, allow_nan=False),
    b=st.floats(-1e3, 1e3, allow_nan=False),
    n=st.integers(2, 6),
)
def test_trend_slope_of_a_straight_line(a, b, n):
    years = list(range(2018, 2018 + n))
    table = pd.DataFrame(
        {
            "metric": "m",
            "item": "i",
            "unit": "u",
            "year": years,
            "value": [a + b * (y - 2018) for y in years],
        }
    )
    t = indicators.trends(table).iloc[0]
    assert t["slope_per_year"] == pytest.approx(b, abs=1e-6 * (1 + abs(a) + abs(b)))
    assert t["period_change"] == pytest.approx(b * (n - 1), abs=1e-6 * (1 + abs(a) + abs(b) * n))


# --------------------------------------------------------------------------- compliance


def pollutants() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pollutant_id": ["COD", "NH3N", "SO2"],
            "name": ["COD", "Ammonia nitrogen", "SO2"],
            "medium": ["water", "water", "air"],
            "concentration": pd.array([80, 30, None], dtype="Float64"),
            "concentration_unit": ["mg/L", "mg/L", "mg/m3"],
            "limit": pd.array([100, 25, 200], dtype="Float64"),
            "limit_standard": ["GB 4287-2012", "GB 4287-2012", "GB 13271-2014"],
            "cap_t": pd.array([10, None, 5], dtype="Float64"),
            "generated_t": pd.array([20, 2, 4], dtype="Float64"),
        }
    )


def test_compliance_by_hand():
    c = indicators.compliance(pollutants(), history=history(), year=2023).set_index("pollutant_id")
    # COD 80 <= 100: compliant, ratio 0.8, no exceedance; 7.5 t emitted vs cap 10 t = 75 %
    assert bool(c.loc["COD", "compliant"]) and c.loc["COD", "ratio_to_limit"] == pytest.approx(0.8)
    assert c.loc["COD", "exceedance_multiple"] == 0
    assert c.loc["COD", "annual_t"] == 7.5 and c.loc["COD", "cap_use_pct"] == pytest.approx(75)
    assert (
        bool(c.loc["COD", "within_cap"]) and c.loc["COD", "annual_basis"] == "history emission 2023"
    )
    # NH3-N 30 > 25: not compliant, 超标倍数 (30 - 25) / 25 = 0.2; no cap
    assert not bool(c.loc["NH3N", "compliant"])
    assert c.loc["NH3N", "exceedance_multiple"] == pytest.approx(0.2)
    assert pd.isna(c.loc["NH3N", "within_cap"]) and "cap" in c.loc["NH3N", "note"]
    # SO2: no measured concentration -> <NA> with a note; generated 4 t vs cap 5 t = 80 %
    assert pd.isna(c.loc["SO2", "compliant"]) and "concentration" in c.loc["SO2", "note"]
    assert (
        c.loc["SO2", "cap_use_pct"] == pytest.approx(80)
        and "generated" in c.loc["SO2", "annual_basis"]
    )


def test_compliance_without_history_uses_generation():
    c = indicators.compliance(pollutants()).set_index("pollutant_id")
    # 20 t generated against a 10 t cap -> 200 %, not within the cap
    assert c.loc["COD", "cap_use_pct"] == pytest.approx(200) and not bool(
        c.loc["COD", "within_cap"]
    )
    with pytest.raises(IndicatorError, match="year"):
        indicators.compliance(pollutants(), history=history())


# --------------------------------------------------------------------------- before / after


def test_before_after_on_history_by_hand():
    b = indicators.before_after(history(), 2021, 2023).set_index(["category", "item"])
    m = b.loc[("material", "M1")]
    # 50 000 -> 56 250 kg: reduction -6 250, rate -12.5 % (an increase)
    assert (m["before"], m["after"], m["reduction"]) == (50_000, 56_250, -6_250)
    assert m["reduction_rate_pct"] == pytest.approx(-12.5)
    cod = b.loc[("emission", "COD")]
    # 8 -> 7.5 t: (8 - 7.5) / 8 = 6.25 %
    assert cod["reduction_rate_pct"] == pytest.approx(6.25) and cod["unit"] == "t"
    gw = b.loc[("water_intake", "groundwater")]
    assert pd.isna(gw["reduction_rate_pct"]) and "2021" in gw["note"]
    with pytest.raises(IndicatorError, match="2020"):
        indicators.before_after(history(), 2020, 2023)


def test_before_after_on_status_by_hand():
    s = indicators.status(history(), products())
    b = indicators.before_after(s, 2021, 2023).set_index(["metric", "item"])
    # material per product 50 -> 45 kg/t: (50 - 45) / 50 = 10 %
    assert b.loc[("material_per_product", "M1"), "reduction_rate_pct"] == pytest.approx(10.0)
    # water 20 -> 16 m3/t: 20 %
    assert b.loc[("water_intake_per_product", "total"), "reduction_rate_pct"] == pytest.approx(20.0)


def test_before_zero_gives_a_note():
    rows = [*ROWS, (2021, "waste", "W2", 0, "t"), (2023, "waste", "W2", 1, "t")]
    b = indicators.before_after(history(rows), 2021, 2023).set_index(["category", "item"])
    assert pd.isna(b.loc[("waste", "W2"), "reduction_rate_pct"])
    assert "zero" in b.loc[("waste", "W2"), "note"]


# --------------------------------------------------------------------------- attainment


def targets() -> pd.DataFrame:
    return pd.DataFrame(
        [
            (
                "T1",
                "Energy per product",
                "energy_tce_per_product",
                "tce/t",
                "decrease",
                0.50,
                0.45,
                0.40,
                0.46,
            ),
            ("T2", "Water reuse rate", "reuse_rate", "%", "increase", 80, 85, None, 86),
            (
                "T3",
                "Energy per product (computed)",
                "energy_tce_per_product",
                "tce/t",
                "decrease",
                0.50,
                0.45,
                None,
                None,
            ),
            ("T4", "COD", None, "t/a", "decrease", 10, 8, None, None),
        ],
        columns=[
            "target_id",
            "indicator",
            "metric",
            "unit",
            "direction",
            "baseline",
            "near_term",
            "mid_term",
            "achieved",
        ],
    ).astype(
        {
            "baseline": "Float64",
            "near_term": "Float64",
            "mid_term": "Float64",
            "achieved": "Float64",
        }
    )


def test_attainment_by_hand():
    a = indicators.attainment(targets(), metrics={"energy_tce_per_product": 0.44}).set_index(
        "target_id"
    )
    t1 = a.loc["T1"]
    # planned 0.45 - 0.50 = -0.05 (-10 %); achieved 0.46 - 0.50 = -0.04 -> 80 % of the plan, not attained
    assert t1["planned_change_near"] == pytest.approx(-0.05)
    assert t1["planned_change_near_pct"] == pytest.approx(-10)
    assert t1["progress_near_pct"] == pytest.approx(80) and not bool(t1["attained_near"])
    # mid-term 0.40: -0.04 / -0.10 = 40 %
    assert t1["progress_mid_pct"] == pytest.approx(40) and not bool(t1["attained_mid"])
    t2 = a.loc["T2"]
    # increase 80 -> 85 planned, 86 achieved: 6 / 5 = 120 %, attained
    assert bool(t2["attained_near"]) and t2["progress_near_pct"] == pytest.approx(120)
    assert pd.isna(t2["attained_mid"])
    t3 = a.loc["T3"]
    # achieved from the computed metric 0.44: (0.44 - 0.50) / (0.45 - 0.50) = 120 %
    assert (
        t3["achieved"] == pytest.approx(0.44)
        and t3["achieved_source"] == "metric energy_tce_per_product"
    )
    assert bool(t3["attained_near"]) and t3["progress_near_pct"] == pytest.approx(120)
    t4 = a.loc["T4"]
    assert pd.isna(t4["attained_near"]) and "no achieved value" in t4["note"]


def test_target_pointing_the_wrong_way_is_an_error():
    t = targets()
    t.loc[0, "near_term"] = 0.55  # a decrease target above its baseline
    with pytest.raises(IndicatorError, match="T1"):
        indicators.attainment(t)


@settings(max_examples=60, deadline=None)
@given(
    base=st.floats(1, 1e4),
    cut=st.floats(0.01, 0.9),
    share=st.floats(0, 2),
)
def test_progress_is_share_of_planned_improvement(base, cut, share):
    near = base * (1 - cut)
    achieved = base - share * (base - near)
    t = pd.DataFrame(
        [("T", "x", None, "u", "decrease", base, near, None, achieved)],
        columns=[
            "target_id",
            "indicator",
            "metric",
            "unit",
            "direction",
            "baseline",
            "near_term",
            "mid_term",
            "achieved",
        ],
    )
    r = indicators.attainment(t).iloc[0]
    assert r["progress_near_pct"] == pytest.approx(share * 100, abs=1e-6)
    assert bool(r["attained_near"]) == (achieved <= near)


# --------------------------------------------------------------------------- helpers


def test_main_product_rules():
    p = pd.DataFrame(
        {
            "product_id": ["A", "B", "C"],
            "name": ["a", "b", "c"],
            "unit": ["t", "t", "m2"],
            "main": pd.array([True, True, False], dtype="boolean"),
        }
    )
    mp = indicators.main_product(p)
    assert mp.product_ids == ("A", "B") and mp.unit == "t"
    with pytest.raises(IndicatorError, match="different units"):
        indicators.main_product(p, ["A", "C"])
    with pytest.raises(IndicatorError, match="no product"):
        indicators.main_product(p, "Z")


def test_inputs_are_not_modified():
    h, p, t = history(), products(), targets()
    h0, p0, t0 = h.copy(), p.copy(), t.copy()
    indicators.status(h, p)
    indicators.before_after(h, 2021, 2023)
    indicators.attainment(t)
    pd.testing.assert_frame_equal(h, h0)
    pd.testing.assert_frame_equal(p, p0)
    pd.testing.assert_frame_equal(t, t0)
