"""Water balance (GB/T 12452) against a network worked by hand.

The network (m3/d), five units:

    U1 process      intake 100 (tap) + treated water 40 from U4 + steam 50 from U3 = 190 in
                    -> 60 to treatment U4, condensate 25 back to the boiler U3,
                       consumption 95, leakage 10                               = 190 out
    U2 cooling      intake 20 (tap, make-up), loop 500 -> consumption 16, discharge 4
    U3 boiler       intake 30 (groundwater) + condensate 25 -> steam 50 to U1, blowdown 5
    U4 treatment    60 from U1 -> 40 reused in U1, discharge 18, sludge water 2
    U5 domestic     intake 10 (reclaimed water) -> discharge 9, consumption 1

Site by hand:
    V_i  = 100 + 20 + 30 + 10                       = 160
    V_cy = 500
    V_s  = 40 + 50 + 25 (condensate)                = 115, of which V_br = 25
           (the 60 drained from U1 to treatment U4 is wastewater, V_dt, not reuse)
    V_r  = V_cy + V_s = 500 + 115                   = 615
    V_t  = V_r + V_i = 615 + 160                    = 775
    V_co = 95 + 16 + 2 + 1 = 114;  V_d = 4 + 5 + 18 + 9 = 36;  V_l = 10
    V_co + V_d + V_l = 160 = V_i -> closure 0
    R    = 615 / 775                = 79.3548 %
    r_c  = 500 / (500 + 20)         = 96.1538 %
    r_g  = U1 reuse 90 / (90 + 100) = 47.3684 %
    r_b  = 25 / 50 (steam 50 t/d, rho 1 t/m3) = 50 %
    treated reuse = 40 / 60         = 66.6667 %
    K_l = 10/160 = 6.25 %; K_d = 36/160 = 22.5 %; K_co = 114/160 = 71.25 %
    non-conventional (reclaimed) 10 / 160 = 6.25 %
    300 operating days: V_yi = 160 x 300 = 48 000 m3/a;
    output 12 000 t -> 4 m3/t; output value 2 400 x 10^4 CNY -> 20 m3 per 10^4 CNY
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import water
from cpkit.errors import BalanceError


def _units() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit_id": ["U1", "U2", "U3", "U4", "U5"],
            "name": ["Process", "Cooling", "Boiler", "Treatment", "Domestic"],
            "system": [
                "main_production",
                "auxiliary_production",
                "auxiliary_production",
                "auxiliary_production",
                "ancillary",
            ],
            "purpose": ["process", "indirect_cooling", "boiler", "treatment", "domestic"],
        }
    )


_FLOWS = [
    ("F1", "ENV", "U1", "intake", "tap_water", 100),
    ("F2", "ENV", "U2", "intake", "tap_water", 20),
    ("F3", "ENV", "U3", "intake", "groundwater", 30),
    ("F4", "ENV", "U5", "intake", "reclaimed_water", 10),
    ("F5", "U2", "U2", "circulating", None, 500),
    ("F6", "U1", "U4", "series", None, 60),
    ("F7", "U4", "U1", "series", None, 40),
    ("F8", "U1", "U3", "condensate", None, 25),
    ("F9", "U3", "U1", "series", None, 50),
    ("F10", "U1", "ENV", "consumption", None, 95),
    ("F11", "U1", "ENV", "leakage", None, 10),
    ("F12", "U4", "ENV", "discharge", None, 18),
    ("F13", "U4", "ENV", "consumption", None, 2),
    ("F14", "U2", "ENV", "consumption", None, 16),
    ("F15", "U2", "ENV", "discharge", None, 4),
    ("F16", "U3", "ENV", "discharge", None, 5),
    ("F17", "U5", "ENV", "discharge", None, 9),
    ("F18", "U5", "ENV", "consumption", None, 1),
]


def _flows(rows=_FLOWS) -> pd.DataFrame:
    f = pd.DataFrame(rows, columns=["flow_id", "from_unit", "to_unit", "kind", "source", "value"])
    f["value"] = f["value"].astype("Float64")
    f["unit"] = "m3/d"
    f["status"] = "measured"
    return f


def _history() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "year": pd.array([2023, 2023, 2023], dtype="Int64"),
            "category": ["product", "output_value", "energy"],
            "item": ["P1", "total", "steam"],
            "quantity": pd.array([12000, 2400, 15000], dtype="Float64"),
            "unit": ["t", "10k_CNY", "t"],
        }
    )


def _products() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": ["P1"],
            "name": ["Product"],
            "unit": ["t"],
            "main": pd.array([True], dtype="boolean"),
        }
    )


def _row(b: pd.DataFrame, unit_id: str) -> pd.Series:
    return b.set_index("unit_id").loc[unit_id]


def test_site_balance_by_hand():
    b = water.balance(_units(), _flows())
    s = _row(b, water.SITE)
    assert s["V_i_m3_d"] == 160
    assert s["V_cy_m3_d"] == 500
    assert s["V_s_m3_d"] == 115
    assert s["V_dt_m3_d"] == 60
    assert s["V_br_m3_d"] == 25
    assert s["V_r_m3_d"] == 615
    assert s["V_t_m3_d"] == 775
    assert (s["V_co_m3_d"], s["V_d_m3_d"], s["V_l_m3_d"]) == (114, 36, 10)
    assert s["closure_m3_d"] == 0 and bool(s["closed"])
    assert s["reuse_rate_pct"] == pytest.approx(615 / 775 * 100)
    assert b.attrs["basis"]["standard"].startswith("GB/T 12452")


def test_unit_balances_by_hand():
    b = water.balance(_units(), _flows())
    u1 = _row(b, "U1")
    # in: intake 100 + series 40 + 50 = 190; out: 60 + 25 (series, condensate) + 95 + 10
    assert (u1["V_i_m3_d"], u1["V_s_m3_d"], u1["V_s_out_m3_d"]) == (100, 90, 85)
    assert u1["V_t_m3_d"] == 190 and u1["inflow_m3_d"] == 190 and u1["outflow_m3_d"] == 190
    u3 = _row(b, "U3")
    assert (u3["V_s_m3_d"], u3["V_br_m3_d"], u3["V_s_out_m3_d"]) == (25, 25, 50)
    u2 = _row(b, "U2")
    assert (u2["V_cy_m3_d"], u2["V_cy_out_m3_d"], u2["V_r_m3_d"]) == (500, 500, 500)
    assert u2["reuse_rate_pct"] == pytest.approx(500 / 520 * 100)
    assert list(b["level"]) == ["unit"] * 5 + ["system"] * 3 + ["site"]


def test_system_rows_are_the_sums_of_their_units():
    b = water.balance(_units(), _flows())
    aux = _row(b, "auxiliary_production")
    # U2 + U3 + U4: V_i = 20 + 30 + 0 = 50; V_cy = 500; V_s = 0 + 25 + 0 = 25
    # (U4 receives 60 of wastewater to treat: V_dt, not series reuse)
    assert (aux["V_i_m3_d"], aux["V_cy_m3_d"], aux["V_s_m3_d"], aux["V_dt_m3_d"]) == (
        50,
        500,
        25,
        60,
    )
    # V_t = V_r + V_i = (500 + 25) + 50 = 575
    assert aux["V_t_m3_d"] == 575 and aux["level"] == "system"
    assert _row(b, "ancillary")["V_i_m3_d"] == 10


def test_closure_flag_uses_tolerance():
    rows = [r if r[0] != "F17" else ("F17", "U5", "ENV", "discharge", None, 8) for r in _FLOWS]
    b = water.balance(_units(), _flows(rows), tolerance=0.05)
    u5 = _row(b, "U5")
    # in 10, out 8 + 1 = 9 -> closure 1 m3/d = 10 % of the inflow
    assert u5["closure_m3_d"] == 1 and u5["closure_pct"] == pytest.approx(10)
    assert not bool(u5["closed"]) and "10.0 %" in u5["note"]
    assert bool(_row(water.balance(_units(), _flows(rows), tolerance=0.15), "U5")["closed"])
    # site closure by hand: V_i - (V_co + V_d + V_l) = 160 - (114 + 35 + 10) = 1
    s = _row(b, water.SITE)
    assert s["closure_m3_d"] == 1


def test_indicators_by_hand():
    ind = water.indicators(
        _units(),
        _flows(),
        steam_t_d=50,
        operating_days=300,
        history=_history(),
        products=_products(),
        year=2023,
    ).set_index("indicator")
    expect = {
        "reuse_rate": 615 / 775 * 100,
        "cooling_circulation_rate": 500 / 520 * 100,
        "process_reuse_rate": 90 / 190 * 100,
        "condensate_recovery_rate": 50.0,
        "treated_reuse_rate": 40 / 60 * 100,
        "leakage_rate": 6.25,
        "discharge_rate": 22.5,
        "consumption_rate": 71.25,
        "nonconventional_share": 6.25,
        "intake_per_product": 4.0,
        "intake_per_output_value": 20.0,
    }
    for name, value in expect.items():
        assert ind.loc[name, "value"] == pytest.approx(value), name
    assert ind.loc["reuse_rate", "symbol"] == "R"
    assert ind.loc["intake_per_product", "unit"] == "m3/t"
    assert ind.loc["intake_per_product", "numerator"] == 48000


def test_condensate_rate_from_history_steam():
    # 15 000 t of steam a year over 300 days = 50 t/d -> 25 / 50 = 50 %
    ind = water.indicators(
        _units(), _flows(), operating_days=300, history=_history(), year=2023
    ).set_index("indicator")
    assert ind.loc["condensate_recovery_rate", "value"] == pytest.approx(50.0)


def test_missing_inputs_give_na_with_a_note():
    ind = water.indicators(_units(), _flows()).set_index("indicator")
    for name in ("intake_per_product", "intake_per_output_value", "condensate_recovery_rate"):
        assert pd.isna(ind.loc[name, "value"])
        assert ind.loc[name, "note"]
    only = _units().iloc[[0]]
    flows = _flows(
        [("F1", "ENV", "U1", "intake", "tap_water", 10), ("F2", "U1", "ENV", "discharge", None, 10)]
    )
    ind = water.indicators(only, flows).set_index("indicator")
    assert pd.isna(ind.loc["cooling_circulation_rate", "value"])
    assert "indirect_cooling" in ind.loc["cooling_circulation_rate", "note"]


def test_zero_output_is_an_error():
    h = _history()
    h.loc[0, "quantity"] = 0
    with pytest.raises(BalanceError, match="zero"):
        water.indicators(
            _units(), _flows(), operating_days=300, history=h, products=_products(), year=2023
        )


def test_units_are_converted_to_m3_per_day():
    f = _flows()
    f.loc[0, "value"] = 100 / 24  # 100 m3/d given in m3/h
    f.loc[0, "unit"] = "m3/h"
    s = _row(water.balance(_units(), f), water.SITE)
    assert s["V_i_m3_d"] == pytest.approx(160)


@pytest.mark.parametrize(
    "row, message",
    [
        (("X", "ENV", "U9", "intake", "tap_water", 1), "not in water_units"),
        (("X", "U1", "ENV", "intake", "tap_water", 1), "ENV -> unit"),
        (("X", "ENV", "U1", "discharge", None, 1), "unit -> ENV"),
        (("X", "U1", "U1", "series", None, 1), "another unit"),
        (("X", "U1", "U2", "evaporation", None, 1), "unknown kind"),
        (("X", "ENV", "U1", "intake", "river", 1), "unknown water source"),
        (("X", "ENV", "U1", "intake", "tap_water", None), "no value"),
    ],
)
def test_bad_flows_are_clear_errors(row, message):
    with pytest.raises(BalanceError, match=message):
        water.indicators(_units(), _flows([*_FLOWS, row]))


def test_inputs_are_not_modified():
    u, f = _units(), _flows()
    u0, f0 = u.copy(), f.copy()
    water.indicators(u, f, steam_t_d=50)
    pd.testing.assert_frame_equal(u, u0)
    pd.testing.assert_frame_equal(f, f0)


# --------------------------------------------------------------------------- properties

_KINDS = ["intake", "series", "circulating", "condensate", "consumption", "discharge", "leakage"]


@st.composite
def networks(draw):
    n = draw(st.integers(1, 5))
    ids = [f"U{i}" for i in range(n)]
    flows = []
    for k in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(_KINDS))
        value = draw(st.floats(0, 1e5, allow_nan=False, allow_infinity=False))
        a = draw(st.sampled_from(ids))
        if kind == "intake":
            src, dst = "ENV", a
        elif kind in ("consumption", "discharge", "leakage"):
            src, dst = a, "ENV"
        elif kind == "circulating":
            src, dst = a, a
        else:
            others = [u for u in ids if u != a]
            if not others:
                continue
            src, dst = a, draw(st.sampled_from(others))
        flows.append((f"F{k}", src, dst, kind, "tap_water" if kind == "intake" else None, value))
    systems = [draw(st.sampled_from(["main_production", "ancillary"])) for _ in ids]
    units = pd.DataFrame({"unit_id": ids, "name": ids, "system": systems, "purpose": "process"})
    return units, _flows(flows) if flows else _flows(
        [("F0", "ENV", ids[0], "intake", "tap_water", 0.0)]
    )


@settings(max_examples=60, deadline=None)
@given(networks())
def test_balance_identities_hold(net):
    units, flows = net
    b = water.balance(units, flows)
    v = {c: b[c].astype(float) for c in b.columns if c.endswith("_m3_d")}
    # V_r = V_cy + V_s and V_t = V_r + V_i on every row (GB/T 12452)
    assert (v["V_r_m3_d"] - (v["V_cy_m3_d"] + v["V_s_m3_d"])).abs().max() <= 1e-9 * (
        1 + v["V_t_m3_d"].max()
    )
    assert (v["V_t_m3_d"] - (v["V_r_m3_d"] + v["V_i_m3_d"])).abs().max() <= 1e-9 * (
        1 + v["V_t_m3_d"].max()
    )
    units_only = b[b["level"] == "unit"]
    site = b[b["level"] == "site"].iloc[0]
    # internal flows cancel: site totals are the unit sums, site closure = sum of unit closures
    for col in ("V_i_m3_d", "V_co_m3_d", "V_d_m3_d", "V_l_m3_d", "V_s_m3_d", "V_cy_m3_d"):
        assert float(units_only[col].sum()) == pytest.approx(float(site[col]), rel=1e-9, abs=1e-6)
    assert float(units_only["closure_m3_d"].sum()) == pytest.approx(
        float(site["closure_m3_d"]), rel=1e-9, abs=1e-6
    )
    system_rows = b[b["level"] == "system"]
    for col in ("V_i_m3_d", "V_t_m3_d", "closure_m3_d"):
        assert float(system_rows[col].sum()) == pytest.approx(float(site[col]), rel=1e-9, abs=1e-6)
    expect = float(site["V_i_m3_d"]) - float(
        site["V_co_m3_d"] + site["V_d_m3_d"] + site["V_l_m3_d"]
    )
    assert float(site["closure_m3_d"]) == pytest.approx(expect, rel=1e-9, abs=1e-6)
