"""Energy (GB/T 2589), electricity balance and heat balance against published coefficients
and hand calculations.

Independent references:
* GB/T 2589 conversion table (statistical layout, cpkit calculation reference §4.2):
  1 t raw coal = 0.7143 tce, 10^4 kWh = 1.229 tce (equivalent value), 1 t diesel = 1.4571 tce,
  10^4 m3 gas-field natural gas = 12.1430 tce, 1 GJ heat = 0.03412 tce;
* steam by enthalpy: 10 t x 2930.76 kJ/kg / 29 307.6 kJ/kgce = 1 000 kgce = 1 tce.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import energy
from cpkit.energy import EnergyError
from cpkit.errors import BalanceError
from cpkit.indicators import unit_factor


def history(rows) -> pd.DataFrame:
    """rows: (year, category, item, quantity, unit[, cost, enthalpy])."""
    rows = [tuple(r) + (None,) * (7 - len(r)) for r in rows]
    h = pd.DataFrame(
        rows,
        columns=["year", "category", "item", "quantity", "unit", "cost_10k_cny", "enthalpy_kj_kg"],
    )
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
            "product_id": ["P1", "P2"],
            "name": ["Main", "Side"],
            "unit": ["t", "t"],
            "main": pd.array([True, False], dtype="boolean"),
        }
    )


def tce_of(item: str, quantity: float, unit: str, **kw) -> float:
    t = energy.to_tce(history([(2023, "energy", item, quantity, unit)]), **kw)
    return float(t["energy_tce"].iloc[0])


# --------------------------------------------------------------------------- to_tce


@pytest.mark.parametrize(
    "item, quantity, unit, tce",
    [
        ("raw_coal", 1, "t", 0.7143),
        ("electricity", 10_000, "kWh", 1.229),
        ("diesel", 1, "t", 1.4571),
        ("natural_gas", 10_000, "m3", 12.143),
        ("heat", 1, "GJ", 0.03412),
        ("fuel_oil", 1, "t", 1.4286),
        ("lpg", 1, "t", 1.7143),
        ("steam", 10, "t", 1.286),  # no enthalpy: 128.6 kgce/t
    ],
)
def test_gbt2589_coefficients(item, quantity, unit, tce):
    assert tce_of(item, quantity, unit) == pytest.approx(tce, rel=1e-9)


def test_steam_by_enthalpy():
    h = history([(2023, "energy", "steam", 10, "t", None, 2930.76)])
    t = energy.to_tce(h)
    # 10 t x 1000 kg/t x 2930.76 kJ/kg / 29307.6 kJ/kgce / 1000 = 1.0 tce
    assert float(t["energy_tce"].iloc[0]) == pytest.approx(1.0)
    assert t["method"].iloc[0] == "enthalpy"
    assert float(t["coefficient_kgce_per_unit"].iloc[0]) == pytest.approx(100.0)


def test_equal_value_basis():
    # parameter: 10^4 kWh x 0.30 kgce/kWh = 3 tce
    assert tce_of(
        "electricity", 10_000, "kWh", basis="equal_value", equal_value_kgce_per_kwh=0.30
    ) == pytest.approx(3.0)
    # table figure for 2023 is absent -> error naming the parameter
    with pytest.raises(EnergyError, match="equal_value_kgce_per_kwh"):
        tce_of("electricity", 10_000, "kWh", basis="equal_value")
    h = history([(2021, "energy", "electricity", 10_000, "kWh")])
    t = energy.to_tce(h, basis="equal_value")
    assert float(t["energy_tce"].iloc[0]) == pytest.approx(10_000 * 0.3025 / 1000)
    assert t.attrs["basis"]["equal_value"][2021]["figure_id"] == "cec_2021"
    assert energy.equal_value(figure_id="stat_table_0404").kgce_per_kwh == 0.404


def test_basis_is_recorded():
    t = energy.to_tce(history([(2023, "energy", "electricity", 1, "kWh")]))
    b = t.attrs["basis"]
    assert b["electricity_basis"] == "equivalent"
    assert b["electricity_kgce_per_kwh"] == 0.1229
    assert "2589" in b["standard"] and b["edition"]
    assert b["kj_per_kgce"] == 29307.6


def test_units_of_the_same_dimension_are_converted():
    assert tce_of("electricity", 1, "万kWh") == pytest.approx(1.229)
    assert tce_of("electricity", 10, "MWh") == pytest.approx(1.229)


@pytest.mark.parametrize(
    "rows, message",
    [
        ([(2023, "energy", "moonshine", 1, "t")], "unknown energy carrier"),
        ([(2023, "energy", "raw_coal", 1, "t", None, 2800)], "not converted by enthalpy"),
        ([(2023, "energy", "raw_coal", 1, "m3")], "cannot convert 'm3' to 't'"),
        ([(2023, "energy", "raw_coal", None, "t")], "no year or no quantity"),
    ],
)
def test_bad_energy_rows(rows, message):
    with pytest.raises(EnergyError, match=message):
        energy.to_tce(history(rows))


def test_bad_basis():
    with pytest.raises(EnergyError, match="basis"):
        energy.to_tce(history([(2023, "energy", "raw_coal", 1, "t")]), basis="primary")


# --------------------------------------------------------------------------- comprehensive

H = [
    (2022, "energy", "electricity", 2_000_000, "kWh", 140.0),
    (2022, "energy", "raw_coal", 1_000, "t", 90.0),
    (2022, "product", "P1", 5_000, "t"),
    (2022, "product", "P2", 999, "t"),
    (2022, "output_value", "total", 4_000, "10k_CNY"),
    (2023, "energy", "electricity", 1_800_000, "kWh", 126.0),
    (2023, "energy", "natural_gas", 500_000, "m3", 150.0),
    (2023, "product", "P1", 5_500, "t"),
    (2023, "output_value", "total", 5_000, "10k_CNY"),
]


def test_comprehensive_by_hand():
    c = energy.comprehensive(history(H), products()).set_index("year")
    # 2022: 2e6 kWh x 0.1229 / 1000 = 245.8 tce; 1000 t x 0.7143 = 714.3 tce -> 960.1 tce
    assert c.loc[2022, "energy_tce"] == pytest.approx(960.1)
    assert c.loc[2022, "energy_cost_10k_cny"] == pytest.approx(230.0)
    assert c.loc[2022, "energy_tce_per_10k_cny"] == pytest.approx(960.1 / 4000)
    assert c.loc[2022, "energy_tce_per_product"] == pytest.approx(960.1 / 5000)
    assert c.loc[2022, "energy_kgce_per_product"] == pytest.approx(192.02)
    # 2023: 1.8e6 x 0.1229 / 1000 = 221.22; 5e5 m3 x 1.2143 / 1000 = 607.15 -> 828.37 tce
    assert c.loc[2023, "energy_tce"] == pytest.approx(828.37)
    assert c.loc[2023, "energy_tce_per_product"] == pytest.approx(828.37 / 5500)
    assert c.loc[2023, "product_unit"] == "t" and c.loc[2023, "product_id"] == "P1"
    assert c.attrs["basis"]["electricity_basis"] == "equivalent"


def test_saving_by_hand():
    c = energy.comprehensive(history(H), products())
    s = energy.saving(c, 2022, 2023).iloc[0]
    # ΔE = (960.1/5000 - 828.37/5500) x 5500 = 1056.11 - 828.37 = 227.74 tce
    assert s["saving_tce"] == pytest.approx(960.1 / 5000 * 5500 - 828.37)
    # output value: (960.1/4000 - 828.37/5000) x 5000 = 1200.125 - 828.37 = 371.755 tce
    assert s["saving_output_value_tce"] == pytest.approx(371.755)
    with pytest.raises(EnergyError, match="2021"):
        energy.saving(c, 2021, 2023)


def test_missing_and_zero_denominators():
    rows = [r for r in H if not (r[0] == 2023 and r[1] == "output_value")]
    c = energy.comprehensive(history(rows), products()).set_index("year")
    assert pd.isna(c.loc[2023, "energy_tce_per_10k_cny"])
    assert "no output value in 2023" in c.loc[2023, "note"]
    zero = [r if r[:3] != (2023, "product", "P1") else (2023, "product", "P1", 0, "t") for r in H]
    with pytest.raises(EnergyError, match="zero"):
        energy.comprehensive(history(zero), products())


def test_main_product_must_be_unambiguous():
    p = products()
    p["main"] = pd.array([False, False], dtype="boolean")
    with pytest.raises(EnergyError, match="main"):
        energy.comprehensive(history(H), p)
    c = energy.comprehensive(history(H), p, product_id="P2").set_index("year")
    assert c.loc[2022, "product_output"] == 999


def test_structure_by_hand():
    s = energy.structure(history(H))
    y22 = s[s["year"] == 2022].set_index("carrier_id")
    assert y22.loc["raw_coal", "share_pct"] == pytest.approx(714.3 / 960.1 * 100)
    assert y22.loc["electricity", "share_pct"] == pytest.approx(245.8 / 960.1 * 100)
    assert y22["share_pct"].sum() == pytest.approx(100)
    # 140 x 10^4 CNY / 2e6 kWh = 0.70 CNY/kWh; 90 x 10^4 / 1000 t = 900 CNY/t
    assert y22.loc["electricity", "unit_price_cny"] == pytest.approx(0.70)
    assert y22.loc["raw_coal", "unit_price_cny"] == pytest.approx(900)
    assert y22.loc["raw_coal", "cost_share_pct"] == pytest.approx(90 / 230 * 100)


# --------------------------------------------------------------------------- properties


@settings(max_examples=50, deadline=None)
@given(
    item=st.sampled_from(["raw_coal", "electricity", "natural_gas", "diesel", "steam", "heat"]),
    q=st.floats(0, 1e9, allow_nan=False),
    split=st.floats(0, 1),
)
def test_tce_is_linear_and_round_trips(item, q, split):
    unit = energy.carriers().set_index("carrier_id").loc[item, "unit"]
    whole = tce_of(item, q, unit)
    part = tce_of(item, q * split, unit) + tce_of(item, q * (1 - split), unit)
    assert part == pytest.approx(whole, rel=1e-9, abs=1e-9)
    coef = energy.carriers().set_index("carrier_id").loc[item, "coefficient_kgce_per_unit"]
    assert whole * 1000 / coef == pytest.approx(q, rel=1e-9, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(
    pair=st.sampled_from(
        [
            ("kWh", "MWh"),
            ("万kWh", "kWh"),
            ("GJ", "MJ"),
            ("m3/h", "m3/d"),
            ("MJ/h", "GJ/h"),
            ("t", "kg"),
        ]
    ),
    x=st.floats(1e-6, 1e9),
)
def test_unit_conversions_round_trip(pair, x):
    a, b = pair
    assert x * unit_factor(a, b) * unit_factor(b, a) == pytest.approx(x, rel=1e-12)


# --------------------------------------------------------------------------- electricity

METERS = [
    # meter, parent, name, level, system, equipment, kWh, days
    ("S1", None, "Incoming line", "supply", None, None, 100_000, 30),
    ("SYS1", "S1", "Production", "system", "production", None, 60_000, 30),
    ("EQ1", "SYS1", "Pump", "equipment", "production", "E1", 30_000, 30),
    ("EQ2", "SYS1", "Mixer", "equipment", "production", None, 20_000, 30),
    ("SYS2", "S1", "Auxiliary", "system", "auxiliary", None, 25_000, 30),
    ("EQ3", "SYS2", "Compressor", "equipment", "auxiliary", None, 14_000, 15),
    ("SYS3", "S1", "Lighting", "system", "lighting_office", None, 5_000, 30),
]


def meters(rows=METERS) -> pd.DataFrame:
    m = pd.DataFrame(
        rows,
        columns=[
            "meter_id",
            "parent_id",
            "name",
            "level",
            "system",
            "equipment_id",
            "value",
            "period_days",
        ],
    )
    m["unit"] = "kWh"
    return m


def equipment() -> pd.DataFrame:
    return pd.DataFrame(
        {"equipment_id": ["E1"], "name": ["Pump"], "quantity": [1], "rated_power_kw": [75.0]}
    )


def test_meter_tree_by_hand():
    eb = energy.electricity_balance(meters(), equipment())
    m = eb.meters.set_index("meter_id")
    # supply 100 000 kWh, direct children 60 000 + 25 000 + 5 000 = 90 000 -> 10 000 unmetered (10 %)
    assert m.loc["S1", "children_kwh"] == 90_000
    assert m.loc["S1", "unmetered_kwh"] == 10_000 and m.loc["S1", "unmetered_pct"] == pytest.approx(
        10
    )
    # production: 30 000 + 20 000 = 50 000 -> 10 000 unmetered (16.67 %)
    assert m.loc["SYS1", "unmetered_kwh"] == 10_000
    # EQ1: 30 000 kWh / (30 d x 24 h) = 41.667 kW on a 75 kW pump -> 55.56 %
    assert m.loc["EQ1", "avg_load_kw"] == pytest.approx(30_000 / 720)
    assert m.loc["EQ1", "utilisation_pct"] == pytest.approx(30_000 / 720 / 75 * 100)
    assert m.loc["EQ1", "share_of_supply_pct"] == pytest.approx(30)
    # EQ3: 14 000 kWh over 15 d = 28 000 kWh over its parent's 30 d > 25 000 -> flagged
    assert m.loc["SYS2", "children_kwh"] == pytest.approx(28_000)
    assert bool(m.loc["SYS2", "children_exceed_parent"])
    assert not bool(m.loc["S1", "children_exceed_parent"])
    assert any("SYS2" in p for p in eb.problems)
    assert not bool(eb.summary["consistent"].iloc[0])
    s = eb.systems.set_index("system")
    assert s.loc["production", "share_pct"] == pytest.approx(60)
    assert s.loc["auxiliary", "share_pct"] == pytest.approx(25)
    assert s.loc["lighting_office", "share_pct"] == pytest.approx(5)
    assert s.loc["unmetered", "share_pct"] == pytest.approx(10)
    assert s["share_pct"].sum() == pytest.approx(100)


def test_meter_tolerance_and_load_above_rating():
    rows = [
        r
        if r[0] != "EQ3"
        else ("EQ3", "SYS2", "Compressor", "equipment", "auxiliary", None, 12_800, 15)
        for r in METERS
    ]
    # 12 800 over 15 d -> 25 600 over 30 d: 2.4 % above the parent, inside 5 %, outside 2 %
    assert energy.electricity_balance(meters(rows), tolerance=0.05).summary["consistent"].iloc[0]
    assert (
        not energy.electricity_balance(meters(rows), tolerance=0.02).summary["consistent"].iloc[0]
    )
    eq = equipment()
    eq.loc[0, "rated_power_kw"] = 30.0
    eb = energy.electricity_balance(meters(), eq)
    assert any("exceeds the rated" in p for p in eb.problems)


@pytest.mark.parametrize(
    "rows, message",
    [
        ([*METERS, ("X", "NOPE", "x", "equipment", None, None, 1, 30)], "parent_id not found"),
        (
            [
                ("A", "B", "a", "system", None, None, 1, 30),
                ("B", "A", "b", "system", None, None, 1, 30),
            ],
            "loops",
        ),
        ([*METERS, ("S1", None, "dup", "supply", None, None, 1, 30)], "duplicate"),
        ([("A", None, "a", "supply", None, None, 1, 0)], "positive period_days"),
    ],
)
def test_bad_meter_trees(rows, message):
    with pytest.raises(BalanceError, match=message):
        energy.electricity_balance(meters(rows))


# --------------------------------------------------------------------------- heat


def heat_rows() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("B1", "fuel_chemical_heat", "input", 10_000, "MJ/h"),
            ("B1", "sensible_heat", "input", 0.2, "GJ/h"),
            ("B1", "steam", "effective", 8_400, "MJ/h"),
            ("B1", "q2_exhaust", "loss", 1_100, "MJ/h"),
            ("B1", "q3_unburnt_gas", "loss", 50, "MJ/h"),
            ("B1", "q4_unburnt_carbon", "loss", 300, "MJ/h"),
            ("B1", "q5_surface", "loss", 200, "MJ/h"),
            ("B1", "q6_ash", "loss", 50, "MJ/h"),
        ],
        columns=["equipment_id", "item", "category", "value", "unit"],
    )


def test_boiler_heat_balance_by_hand():
    hb = energy.heat_balance(
        heat_rows(), pd.DataFrame({"equipment_id": ["B1"], "name": ["Boiler"]})
    )
    b = hb.equipment.set_index("equipment_id").loc["B1"]
    # input 10 000 + 200 = 10 200; effective 8 400; losses 1100+50+300+200+50 = 1 700 MJ/h
    assert (b["input_mj_h"], b["effective_mj_h"], b["losses_mj_h"]) == (10_200, 8_400, 1_700)
    assert b["efficiency_direct_pct"] == pytest.approx(8_400 / 10_200 * 100)  # 82.35 %
    assert b["efficiency_indirect_pct"] == pytest.approx((1 - 1_700 / 10_200) * 100)  # 83.33 %
    assert b["closure_mj_h"] == pytest.approx(100)  # 10 200 - 8 400 - 1 700
    assert b["closure_pct"] == pytest.approx(100 / 10_200 * 100)
    assert bool(b["closed"]) and b["name"] == "Boiler"
    q2 = hb.items.set_index("item").loc["q2_exhaust", "share_of_input_pct"]
    assert q2 == pytest.approx(1_100 / 10_200 * 100)
    assert not bool(energy.heat_balance(heat_rows(), tolerance=0.005).equipment["closed"].iloc[0])


def test_heat_balance_errors_and_notes():
    rows = heat_rows()
    with pytest.raises(BalanceError, match="no input heat"):
        energy.heat_balance(rows[rows["category"] != "input"])
    no_loss = energy.heat_balance(rows[rows["category"] != "loss"]).equipment.iloc[0]
    assert pd.isna(no_loss["efficiency_indirect_pct"]) and "no loss items" in no_loss["note"]
    bad = rows.copy()
    bad.loc[0, "category"] = "gain"
    with pytest.raises(BalanceError, match="category"):
        energy.heat_balance(bad)


def test_inputs_are_not_modified():
    h = history(H)
    h0 = h.copy()
    energy.comprehensive(h, products())
    energy.structure(h)
    pd.testing.assert_frame_equal(h, h0)
    m = meters()
    m0 = m.copy()
    energy.electricity_balance(m, equipment())
    pd.testing.assert_frame_equal(m, m0)
