"""CO2 from electricity, fuels and heat against the published factors and the worked rows of
the cpkit calculation reference (§8).

Independent references:
* MEE/NBS grid factors: national 2021 0.5568, 2022 0.5366, 2023 0.5306 kgCO2/kWh;
  regional 2022 East China 0.5617; provincial 2022 Hebei 0.7252 (reference §8.1);
* fuel rows of reference §8.2 (NDRC sector-guideline defaults, GB/T 32150 formula):
  natural gas 21.62 t CO2 per 10^4 Nm3, diesel 3.096 t/t, gasoline 2.925, fuel oil 3.171,
  LPG 3.101, anthracite 2.323, bituminous 2.072, raw coal 1.867;
* IPCC 2006 cross-check: diesel 74 100 kgCO2/TJ x 42.652 GJ/t = 3.16 t/t with OF = 1.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import carbon
from cpkit.carbon import CarbonError


def history(rows) -> pd.DataFrame:
    rows = [tuple(r) + (None,) * (6 - len(r)) for r in rows]
    h = pd.DataFrame(
        rows, columns=["year", "category", "item", "quantity", "unit", "enthalpy_kj_kg"]
    )
    return h.astype({"year": "Int64", "quantity": "Float64", "enthalpy_kj_kg": "Float64"})


# --------------------------------------------------------------------------- fuels


@pytest.mark.parametrize(
    "fuel, published",
    [
        ("natural_gas", "21.62"),  # t CO2 per 10^4 Nm3
        ("diesel", "3.096"),
        ("gasoline", "2.925"),
        ("fuel_oil", "3.171"),
        ("lpg", "3.101"),
        ("anthracite", "2.323"),
        ("bituminous", "2.072"),
        ("raw_coal", "1.867"),
    ],
)
def test_reference_fuel_rows(fuel, published):
    f = carbon.fuel_factor(fuel, "ndrc_guidelines")
    # the reference's per-unit figures are its own roundings [C]: agree within one unit of
    # the last published digit (fuel oil: 41.816 x 21.1 / 1000 x 0.98 x 44/12 = 3.17046,
    # printed there as 3.171)
    last_digit = 10.0 ** -len(published.split(".")[1])
    assert f.tco2_per_ad_unit == pytest.approx(float(published), abs=last_digit)


def test_fuel_formula_by_hand():
    f = carbon.fuel_factor("natural_gas")
    # 389.31 GJ/10^4Nm3 x 15.3 tC/TJ / 1000 x 0.99 x 44/12 = 21.6219 t per 10^4 Nm3
    assert f.tco2_per_ad_unit == pytest.approx(389.31 * 15.3 / 1000 * 0.99 * 44 / 12)
    # per m3 of gas: 2.162 kg
    assert f.tco2_per_carrier_unit * 1000 == pytest.approx(2.1622, abs=1e-4)
    # IPCC cross-check for diesel: 74.1 t/TJ x 42.652 GJ/t / 1000 = 3.1605 t/t with OF = 1
    d = carbon.fuel_factor("diesel")
    assert d.tco2_per_ad_unit / d.oxidation_rate == pytest.approx(74.1 * 42.652 / 1000, rel=2e-3)


def test_both_fuel_sets_are_available_by_name():
    newer = carbon.fuel_factor("diesel", "newer_set")
    # 43.33 x 20.2 / 1000 x 0.98 x 44/12 = 3.1450 t/t
    assert newer.tco2_per_ad_unit == pytest.approx(43.33 * 20.2 / 1000 * 0.98 * 44 / 12)
    assert newer.set_id == "newer_set" and newer.status == "M"
    assert set(carbon.fuels()["set_id"]) == {"ndrc_guidelines", "newer_set"}
    with pytest.raises(CarbonError, match="raw_coal"):
        carbon.fuel_factor("raw_coal", "newer_set")
    with pytest.raises(CarbonError, match="unknown fuel set"):
        carbon.fuels("ipcc_2030")


# --------------------------------------------------------------------------- grid


@pytest.mark.parametrize(
    "year, scope, region, value",
    [
        (2021, "national", None, 0.5568),
        (2022, "national", None, 0.5366),
        (2023, "national", None, 0.5306),
        (2022, "regional", "华东", 0.5617),
        (2022, "regional", "east_china", 0.5617),
        (2023, "regional", "华北电网", 0.6361),
        (2022, "provincial", "河北省", 0.7252),
        (2022, "provincial", "Yunnan", 0.1073),
    ],
)
def test_grid_factors(year, scope, region, value):
    g = carbon.grid_factor(year, scope, region)
    assert g.kgco2_per_kwh == value and g.year == year and g.note == ""
    assert g.source and g.document


def test_grid_factor_bases():
    assert carbon.grid_factor(2022, basis="fossil").kgco2_per_kwh == 0.8325
    assert carbon.grid_factor(2022, basis="average_excl_market_nonfossil").kgco2_per_kwh == 0.5856
    with pytest.raises(CarbonError, match="years available: 2022, 2023"):
        carbon.grid_factor(2021, basis="average_excl_market_nonfossil")
    with pytest.raises(CarbonError, match="bases available"):
        carbon.grid_factor(2022, "regional", "华东", basis="fossil")


def test_missing_year_is_an_error_or_an_explicit_fallback():
    with pytest.raises(CarbonError, match="2024"):
        carbon.grid_factor(2024)
    g = carbon.grid_factor(2024, fallback="latest")
    assert (g.year, g.requested_year, g.kgco2_per_kwh) == (2023, 2024, 0.5306)
    assert "2024 not published" in g.note
    with pytest.raises(CarbonError, match="2020"):
        carbon.grid_factor(2020, fallback="latest")  # nothing earlier to fall back on


def test_province_under_regional_scope_is_mapped_with_a_note():
    g = carbon.grid_factor(2022, "regional", "浙江省")
    assert g.region_id == "east_china" and g.kgco2_per_kwh == 0.5617
    assert "浙江" in g.note
    with pytest.raises(CarbonError, match="unknown provincial"):
        carbon.grid_factor(2022, "provincial", "Atlantis")
    with pytest.raises(CarbonError, match="use the regional scope"):
        carbon.grid_factor(2022, "provincial", "浙江")  # not among the published 2022 rows
    with pytest.raises(CarbonError, match="region"):
        carbon.grid_factor(2022, "regional")


# --------------------------------------------------------------------------- emissions

ROWS = [
    (2022, "energy", "electricity", 1_000_000, "kWh"),
    (2022, "energy", "natural_gas", 200_000, "m3"),
    (2022, "energy", "diesel", 10, "t"),
    (2022, "energy", "heat", 1_000, "GJ"),
    (2022, "energy", "compressed_air", 5_000, "m3"),
    (2023, "energy", "electricity", 900_000, "kWh"),
    (2023, "energy", "steam", 100, "t", 2_800.0),
    (2023, "product", "P1", 100, "t"),
]


def test_emissions_by_hand():
    e = carbon.emissions(history(ROWS))
    r = e.set_index(["year", "carrier_id"])
    # 1e6 kWh x 0.5366 kg/kWh / 1000 = 536.6 t
    assert r.loc[(2022, "electricity"), "co2_t"] == pytest.approx(536.6)
    assert r.loc[(2022, "electricity"), "factor_year"] == 2022
    # 2e5 m3 = 20 x 10^4 Nm3 x 21.6219 = 432.44 t
    assert r.loc[(2022, "natural_gas"), "activity"] == pytest.approx(20)
    assert r.loc[(2022, "natural_gas"), "co2_t"] == pytest.approx(
        20 * 389.31 * 15.3 / 1000 * 0.99 * 44 / 12
    )
    # 10 t diesel x 3.0959 = 30.96 t
    assert r.loc[(2022, "diesel"), "co2_t"] == pytest.approx(
        10 * 42.652 * 20.2 / 1000 * 0.98 * 44 / 12
    )
    # 1000 GJ x 0.11 t/GJ = 110 t
    assert r.loc[(2022, "heat"), "co2_t"] == pytest.approx(110)
    # media are not emission sources: zero with a note
    assert r.loc[(2022, "compressed_air"), "co2_t"] == 0
    assert "medium" in r.loc[(2022, "compressed_air"), "note"]
    # 2023: 9e5 kWh x 0.5306 / 1000 = 477.54 t
    assert r.loc[(2023, "electricity"), "co2_t"] == pytest.approx(477.54)
    # steam: 100 t x (2800 - 83.74) kJ/kg / 1000 = 271.626 GJ x 0.11 = 29.879 t
    assert r.loc[(2023, "steam"), "activity"] == pytest.approx(271.626)
    assert r.loc[(2023, "steam"), "co2_t"] == pytest.approx(271.626 * 0.11)
    assert len(e) == 7  # product rows are not energy

    y = carbon.by_year(e).set_index("year")
    assert y.loc[2022, "co2_electricity_t"] == pytest.approx(536.6)
    assert y.loc[2022, "co2_total_t"] == pytest.approx(float(e[e["year"] == 2022]["co2_t"].sum()))
    assert y.loc[2023, "co2_fuel_t"] == 0


def test_emissions_basis_is_recorded():
    e = carbon.emissions(history(ROWS), scope="regional", region="华东")
    b = e.attrs["basis"]
    assert b["grid"]["scope"] == "regional" and b["grid"]["region"] == "east_china"
    assert set(b["grid"]["factors"]) == {2022, 2023}
    assert b["fuel_set"] == "ndrc_guidelines" and b["heat_factor"]["tco2_per_gj"] == 0.11
    r = e.set_index(["year", "carrier_id"])
    assert r.loc[(2023, "electricity"), "factor"] == 0.55


def test_grid_year_parameter_and_fallback():
    rows = [(2024, "energy", "electricity", 1_000, "kWh")]
    with pytest.raises(CarbonError, match="2024"):
        carbon.emissions(history(rows))
    e = carbon.emissions(history(rows), fallback="latest")
    assert e["factor_year"].iloc[0] == 2023 and "2024 not published" in e["note"].iloc[0]
    e = carbon.emissions(history(rows), grid_year=2022)
    assert e["factor"].iloc[0] == 0.5366 and "applied to all years" in e["note"].iloc[0]


def test_steam_without_enthalpy_uses_the_carrier_heat_content():
    e = carbon.emissions(history([(2023, "energy", "steam", 10, "t")]))
    # 10 t x 3763 MJ/t = 37.63 GJ x 0.11 = 4.1393 t
    assert e["activity"].iloc[0] == pytest.approx(37.63)
    assert "no enthalpy" in e["note"].iloc[0]


def test_heat_factor_choice():
    rows = [(2022, "energy", "heat", 100, "GJ")]
    assert carbon.emissions(history(rows), heat="shanghai_2022")["co2_t"].iloc[0] == pytest.approx(
        6.0
    )
    assert carbon.emissions(history(rows), heat=0.09)["co2_t"].iloc[0] == pytest.approx(9.0)
    with pytest.raises(CarbonError, match="unknown heat factor"):
        carbon.emissions(history(rows), heat="mars")


def test_own_fuel_parameters():
    own = pd.DataFrame(
        [("coal_lab", "raw_coal", "t", 1.0, 21.5, 26.0, 0.95)],
        columns=[
            "fuel_id",
            "carrier_id",
            "ad_unit",
            "ad_per_carrier_unit",
            "ncv_gj_per_ad_unit",
            "cc_tc_per_tj",
            "oxidation_rate",
        ],
    )
    e = carbon.emissions(history([(2022, "energy", "raw_coal", 100, "t")]), fuel_parameters=own)
    assert e["co2_t"].iloc[0] == pytest.approx(100 * 21.5 * 26.0 / 1000 * 0.95 * 44 / 12)
    assert e.attrs["basis"]["fuel_set"] == "caller"


@pytest.mark.parametrize(
    "rows, kwargs, message",
    [
        ([(2022, "energy", "unobtainium", 1, "t")], {}, "unknown energy carrier"),
        ([(2022, "energy", "coke", 1, "t")], {}, "no combustion parameters for 'coke'"),
        ([(2022, "energy", "electricity", 1, "kWh")], {"scope": "planetary"}, "scope"),
        ([(2022, "energy", "steam", 1, "t", 50.0)], {}, "not above"),
    ],
)
def test_errors(rows, kwargs, message):
    with pytest.raises(CarbonError, match=message):
        carbon.emissions(history(rows), **kwargs)


@settings(max_examples=40, deadline=None)
@given(
    kwh=st.floats(0, 1e10, allow_nan=False),
    year=st.sampled_from([2021, 2022, 2023]),
)
def test_electricity_co2_is_kwh_times_factor(kwh, year):
    e = carbon.emissions(history([(year, "energy", "electricity", kwh, "kWh")]))
    g = carbon.grid_factor(year)
    assert float(e["co2_t"].iloc[0]) == pytest.approx(
        kwh * g.kgco2_per_kwh / 1000, rel=1e-12, abs=1e-12
    )
