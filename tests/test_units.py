"""cpkit.units: parsing (pint + Chinese aliases), compatibility and conversion.

Every expected factor is a hand calculation written out next to the assertion.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import reference, units
from cpkit.errors import CpkitError


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("吨", "t"),
        ("千克", "kg"),
        ("公斤", "kg"),
        ("立方米", "m**3"),
        ("方", "m**3"),
        ("m3", "m**3"),
        ("m³", "m**3"),
        ("ｍ３", "m**3"),  # full-width letters and digits
        ("千瓦时", "kWh"),
        ("度", "kWh"),
        ("kW·h", "kWh"),
        ("元", "CNY"),
        ("吨标准煤", "tce"),
        ("mg/Nm3", "mg/m**3"),
        ("天", "day"),
        ("日", "day"),
        ("年", "year"),
        ("小时", "hour"),
        ("立方米/天", "m**3/day"),
        ("元/吨", "CNY/t"),
        ("辆", "vehicle"),
        ("件", "piece"),
        ("套", "unit_set"),
        ("套", "set"),
        ("双", "pair"),
        ("箱", "box"),
    ],
)
def test_aliases_mean_the_same_unit(text: str, same_as: str) -> None:
    assert units.conversion_factor(text, same_as) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize(
    ("src", "dst", "factor"),
    [
        ("万千瓦时", "kWh", 10_000.0),  # 万 = 10^4
        ("万元", "元", 10_000.0),
        ("10k_CNY", "CNY", 10_000.0),
        ("元", "10k_CNY", 1e-4),
        ("万立方米", "m3", 10_000.0),
        ("万m2", "m2", 10_000.0),  # 万 in front of any unit name
        ("万件", "件", 10_000.0),
        ("t", "kg", 1000.0),
        ("t/d", "kg/d", 1000.0),
        ("m3/h", "m3/d", 24.0),  # 24 h a day
        ("MWh", "kWh", 1000.0),
        ("GJ/h", "MJ/h", 1000.0),
        # GB/T 2589: 1 kgce = 29 307.6 kJ, so 1 tce = 29.3076 GJ
        ("tce", "GJ", 29.3076),
        ("kgce", "kJ", 29307.6),
        # physical equivalent of electricity: 3600 kJ / 29 307.6 kJ per kgce = 0.122835...
        ("kWh", "kgce", 3600 / 29307.6),
        # pint's year (a) is 365.25 d: 1 t/a = 1000 kg / 365.25 d
        ("t/a", "kg/d", 1000 / 365.25),
        ("kg/万元", "kg/元", 1e-4),
        ("mg/L", "g/m3", 1.0),  # 1 mg/L = 1 g/m3
    ],
)
def test_conversion_factors(src: str, dst: str, factor: float) -> None:
    assert units.conversion_factor(src, dst) == pytest.approx(factor, rel=1e-12)


def test_kgce_comes_from_the_energy_defaults() -> None:
    kj = reference.load_yaml("energy/defaults.yaml")["kj_per_kgce"]["value"]
    assert units.conversion_factor("kgce", "kJ") == pytest.approx(kj, rel=1e-12)


def test_identical_spelling_is_exactly_one() -> None:
    assert units.conversion_factor("万m2", "万m2") == 1.0
    assert units.conversion_factor(" kg/d ", "kg/d") == 1.0


def test_water_density_converts_mass_and_volume_only_when_asked() -> None:
    rho = units.water_density_t_m3()
    assert rho == reference.load_yaml("units/conventions.yaml")["water_density_t_per_m3"]["value"]
    assert not units.is_compatible("t", "m3")
    assert units.is_compatible("t", "m3", density_t_m3=rho)
    # 30 000 t of water at 1 t/m3 is 30 000 m3; 5 t/h is 5 * 24 = 120 m3/d
    assert units.conversion_factor("t", "m3", density_t_m3=rho) == pytest.approx(1.0 / rho)
    assert units.conversion_factor("t/h", "m3/d", density_t_m3=1.0) == pytest.approx(24.0)
    with pytest.raises(units.UnitError):
        units.conversion_factor("t", "m3")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo", "unknown unit 'foo': foo is not a known unit"),
        ("kg/xyz", "xyz is not a known unit"),
        ("", "empty unit"),
        ("1000", "is a number, not a unit"),
        ("kg/", "not a valid unit expression"),
    ],
)
def test_bad_units_have_clear_messages(text: str, message: str) -> None:
    with pytest.raises(units.UnitError, match=message.replace("(", r"\(")) as info:
        units.parse_unit(text)
    assert isinstance(info.value, CpkitError)


def test_incompatible_units() -> None:
    assert not units.is_compatible("辆", "件")  # vehicles never become pieces
    assert not units.is_compatible("kWh", "m3/d")
    with pytest.raises(units.UnitError, match=r"cannot convert 'kWh' to 'm3/d'"):
        units.conversion_factor("kWh", "m3/d")
    with pytest.raises(units.UnitError, match="unknown unit"):
        units.is_compatible("kg", "nonsense")


def test_offset_units_convert_through_pint_but_have_no_factor() -> None:
    with pytest.raises(units.UnitError, match="offset"):
        units.conversion_factor("degC", "K")
    # 0 °C = 273.15 K, 100 °C = 373.15 K
    assert units.convert([0.0, 100.0], "℃", "K") == pytest.approx([273.15, 373.15])
    assert units.is_compatible("摄氏度", "K")


def test_convert_keeps_the_kind_of_input() -> None:
    assert units.convert(2.0, "t", "kg") == 2000.0
    assert units.convert([1.0, None], "t", "kg") == [1000.0, None]
    arr = units.convert(np.array([1.0, 2.5]), "万元", "元")
    assert isinstance(arr, np.ndarray)
    assert arr.tolist() == [10_000.0, 25_000.0]
    s = pd.Series(pd.array([1.5, None], dtype="Float64"), name="x")
    out = units.convert(s, "t/d", "kg/d")
    assert out.dtype == "Float64"
    assert out.iloc[0] == 1500.0
    assert out.isna().iloc[1]
    assert s.iloc[0] == 1.5  # input unchanged


def test_convert_column_with_a_unit_per_row() -> None:
    values = pd.Series([1.0, 2.0, None, 500.0])
    row_units = pd.Series(["t/d", "kg/h", "t/d", "kg/d"])
    out = units.convert_column(values, row_units, "kg/d")
    # 1 t/d = 1000 kg/d; 2 kg/h = 48 kg/d; missing stays missing; kg/d unchanged
    assert out.iloc[0] == pytest.approx(1000.0)
    assert out.iloc[1] == pytest.approx(48.0)
    assert pd.isna(out.iloc[2])
    assert out.iloc[3] == 500.0
    targets = pd.Series(["kWh", "t", "m3", "t"])
    out = units.convert_column(
        pd.Series([1.2, 60000.0, 5.0, 7.0]), pd.Series(["万千瓦时", "kg", "m3", "t"]), targets
    )
    assert out.tolist() == pytest.approx([12000.0, 60.0, 5.0, 7.0])


def test_every_alias_of_the_table_parses() -> None:
    with open(reference.path("units/aliases.csv"), encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 40
    for row in rows:
        q = units.parse_unit(row["alias"])
        assert q.magnitude > 0, row
        assert units.is_compatible(row["alias"], row["definition"]), row


def test_unit_files_are_catalogued() -> None:
    for name in ("definitions.txt", "aliases.csv", "conventions.yaml"):
        meta = reference.meta(f"units/{name}")
        assert meta["title"] and meta["source"] and meta["status"]


def test_dimensionality_text() -> None:
    assert units.dimensionality("t/a") == "[mass] / [time]"
    assert units.dimensionality("无量纲") == "dimensionless"


def test_importing_units_does_not_import_pint() -> None:
    code = "import sys, cpkit.units; print('pint' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


MASS_FLOWS = ["kg/d", "t/d", "t/a", "kg/h", "g/s", "万吨/年", "吨/天", "公斤/小时"]
ENERGIES = ["kWh", "万千瓦时", "MJ", "GJ", "kgce", "tce", "吨标准煤", "度"]
MONEY = ["元", "万元", "10k_CNY", "亿元"]
GROUPS = [MASS_FLOWS, ENERGIES, MONEY]


@settings(max_examples=60, deadline=None)
@given(
    group=st.sampled_from(GROUPS),
    data=st.data(),
    x=st.floats(min_value=0, max_value=1e9, allow_nan=False),
)
def test_round_trip_and_composition(group: list[str], data: st.DataObject, x: float) -> None:
    a, b, c = (data.draw(st.sampled_from(group)) for _ in range(3))
    back = units.convert(units.convert(x, a, b), b, a)
    assert back == pytest.approx(x, rel=1e-9, abs=1e-12)
    fab, fbc, fac = (
        units.conversion_factor(a, b),
        units.conversion_factor(b, c),
        units.conversion_factor(a, c),
    )
    assert math.isclose(fab * fbc, fac, rel_tol=1e-9)
