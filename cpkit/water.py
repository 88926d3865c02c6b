"""Water balance and water-use indicators (GB/T 12452 水平衡测试通则; seed 004 clauses
5.2.8 c and 5.3.5).

Quantities are the test flows of ``water_flows`` in m3/d. Symbols follow GB/T 12452
(2008 symbols; the 2022 edition calls 新水量 取水量):

========  =============================  ==================================================
symbol    name                           here
========  =============================  ==================================================
V_i       取水量 (新水量) intake           ``intake`` flows ENV -> unit
V_cy      循环用水量 circulating          ``circulating`` flows (a loop; counted where it enters)
V_s       串联用水量 series reuse          ``series`` and ``condensate`` flows received from
                                         another unit
V_br      冷凝水回用量 condensate reused   the ``condensate`` part of V_s
V_r       重复利用水量 reused              V_r = V_cy + V_s
V_t       用水量 total use                 V_t = V_r + V_i
V_co      耗水量 consumption               ``consumption`` flows unit -> ENV
V_d       排水量 discharge                 ``discharge`` flows unit -> ENV
V_l       漏失水量 leakage                 ``leakage`` flows unit -> ENV
V_dt      排至处理设施 drained to treatment ``series`` flows into a unit whose purpose is
                                         ``treatment``: wastewater, not reuse
========  =============================  ==================================================

Wastewater sent to an on-site treatment unit is drainage, not reuse (GB/T 12452 counts
only the treated water that is used again, 回用水, as reuse): a ``series`` flow *into* a
``treatment`` unit is booked as V_dt, and the treated water the unit passes on to other
units is series reuse of its receivers.

Node balance of each unit: ``V_i + V_s,in + V_cy,in = V_co + V_d + V_l + V_s,out +
V_cy,out``; for the whole site the internal flows cancel and ``V_i = V_co + V_d + V_l``.

* :func:`balance` -- the quantities, the closure and the reuse rate per unit and for the
  site;
* :func:`indicators` -- the GB/T 12452 indicators of the site (reuse rate, indirect-cooling
  circulating rate, process-water reuse rate, condensate recovery rate, leakage, discharge
  and consumption rates, intake per unit product and per 10^4 CNY of output value).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cpkit import reference
from cpkit.errors import BalanceError
from cpkit.indicators import (
    _is_na,
    _require,
    _to_unit,
    closure_tolerance,
    main_product,
    output_value,
    product_output,
)

__all__ = ["SITE", "balance", "indicators"]

BOUNDARY = "ENV"
SITE = "SITE"  # unit_id of the whole-site row of balance()
KINDS = ("intake", "series", "circulating", "condensate", "consumption", "discharge", "leakage")
SYSTEMS = ("main_production", "auxiliary_production", "ancillary")  # water_units.system order
_FROM_ENV = {"intake"}
_TO_ENV = {"consumption", "discharge", "leakage"}
_INTERNAL = {"series", "circulating", "condensate"}

_Q = [
    "V_i",
    "V_cy",
    "V_s",
    "V_br",
    "V_r",
    "V_t",
    "V_co",
    "V_d",
    "V_l",
    "V_dt",
    "V_s_out",
    "V_cy_out",
]
_COLUMNS = [
    "level",
    "unit_id",
    "name",
    "system",
    "purpose",
    *[f"{q}_m3_d" for q in _Q],
    "inflow_m3_d",
    "outflow_m3_d",
    "closure_m3_d",
    "closure_pct",
    "closed",
    "reuse_rate_pct",
    "note",
]


def _flows(
    water_units: pd.DataFrame, water_flows: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    _require(water_units, ["unit_id", "name"], "water_units", BalanceError)
    _require(
        water_flows,
        ["flow_id", "from_unit", "to_unit", "kind", "value"],
        "water_flows",
        BalanceError,
    )
    units = water_units.copy()
    units["unit_id"] = units["unit_id"].astype(str)
    if units["unit_id"].duplicated().any():
        dup = sorted(set(units.loc[units["unit_id"].duplicated(), "unit_id"]))
        raise BalanceError(f"water_units: duplicate unit_id {', '.join(dup)}")
    reserved = {BOUNDARY, SITE} & set(units["unit_id"])
    if reserved:
        raise BalanceError(
            f"water_units: {', '.join(sorted(reserved))} is reserved (boundary / site row)"
        )
    f = water_flows.copy()
    for c in ("flow_id", "from_unit", "to_unit", "kind"):
        f[c] = f[c].astype("string")
    if f[["from_unit", "to_unit", "kind"]].isna().any().any():
        raise BalanceError("water_flows: every flow needs from_unit, to_unit and kind")
    f["value_m3_d"] = _to_unit(f, "value", "unit", "m3/d", "water_flows", BalanceError)
    if f["value_m3_d"].isna().any():
        raise BalanceError(
            f"water_flows {', '.join(f.loc[f['value_m3_d'].isna(), 'flow_id'])}: no value"
        )
    if (f["value_m3_d"] < 0).any():
        raise BalanceError(
            f"water_flows {', '.join(f.loc[f['value_m3_d'] < 0, 'flow_id'])}: negative flow"
        )
    bad_kind = sorted(set(f["kind"]) - set(KINDS))
    if bad_kind:
        raise BalanceError(
            f"water_flows: unknown kind {', '.join(bad_kind)} (allowed: {', '.join(KINDS)})"
        )
    known = set(units["unit_id"]) | {BOUNDARY}
    unknown = sorted((set(f["from_unit"]) | set(f["to_unit"])) - known)
    if unknown:
        raise BalanceError(
            f"water_flows: unit(s) {', '.join(unknown)} are not in water_units (the boundary is {BOUNDARY})"
        )
    for r in f.itertuples():
        src_env, dst_env = r.from_unit == BOUNDARY, r.to_unit == BOUNDARY
        ok = (
            (src_env and not dst_env)
            if r.kind in _FROM_ENV
            else (dst_env and not src_env)
            if r.kind in _TO_ENV
            else not (src_env or dst_env)
        )
        if not ok:
            expect = (
                f"{BOUNDARY} -> unit"
                if r.kind in _FROM_ENV
                else f"unit -> {BOUNDARY}"
                if r.kind in _TO_ENV
                else "unit -> unit"
            )
            raise BalanceError(
                f"water_flows {r.flow_id}: a {r.kind} flow goes {expect}, not {r.from_unit} -> {r.to_unit}"
            )
        if r.kind in ("series", "condensate") and r.from_unit == r.to_unit:
            raise BalanceError(
                f"water_flows {r.flow_id}: a {r.kind} flow must go to another unit (use circulating for a loop)"
            )
    return units, f


def _closure(rec: dict, tol: float) -> dict:
    inflow = rec["V_i_m3_d"] + rec["V_s_m3_d"] + rec["V_cy_m3_d"] + rec["V_dt_m3_d"]
    outflow = (
        rec["V_co_m3_d"]
        + rec["V_d_m3_d"]
        + rec["V_l_m3_d"]
        + rec["V_s_out_m3_d"]
        + rec["V_cy_out_m3_d"]
    )
    closure = inflow - outflow
    rec.update(inflow_m3_d=inflow, outflow_m3_d=outflow, closure_m3_d=closure)
    if inflow > 0:
        rec["closure_pct"] = closure / inflow * 100
        rec["closed"] = abs(closure) <= tol * inflow
        if not rec["closed"]:
            rec["note"] = (
                f"inflow and outflow differ by {closure / inflow * 100:.1f} % (tolerance {tol * 100:g} %)"
            )
    elif outflow > 0:
        rec["closure_pct"] = pd.NA
        rec["closed"] = False
        rec["note"] = "outflow without any inflow"
    else:
        rec["closure_pct"] = 0.0
        rec["closed"] = True
        rec["note"] = "no flows"
    rec["reuse_rate_pct"] = (
        rec["V_r_m3_d"] / rec["V_t_m3_d"] * 100 if rec["V_t_m3_d"] > 0 else pd.NA
    )
    return rec


def balance(
    water_units: pd.DataFrame, water_flows: pd.DataFrame, *, tolerance: float | None = None
) -> pd.DataFrame:
    """Water balance per water-use unit and for the whole site (GB/T 12452 balance
    equations; seed 004 clause 5.3.5).

    One row per unit (``level = "unit"``), one per water-use system of ``water_units.system``
    (``level = "system"``, ``unit_id`` = the system id: main_production, auxiliary_production,
    ancillary; the sums of its units, seed 004 clause 5.2.8 c) and a last row for the site
    (``level = "site"``, ``unit_id = "SITE"``). Columns: ``V_i_m3_d, V_cy_m3_d, V_s_m3_d, V_br_m3_d, V_r_m3_d,
    V_t_m3_d, V_co_m3_d, V_d_m3_d, V_l_m3_d`` (see the module table), ``V_s_out_m3_d`` and
    ``V_cy_out_m3_d`` (water the unit passes on), ``inflow_m3_d``, ``outflow_m3_d``,
    ``closure_m3_d = inflow - outflow``, ``closure_pct`` (of the inflow), ``closed``
    (``|closure| <= tolerance x inflow``, tolerance a fraction, default the dataset closure
    tolerance), ``reuse_rate_pct = V_r / V_t x 100`` and ``note``.

    Per unit V_s counts water received from other units; for the site V_s counts every
    internal series and condensate flow once, so ``V_t = V_r + V_i`` holds on every row and
    the site's closure is ``V_i - (V_co + V_d + V_l)``. Series flows into ``treatment``
    units are booked as ``V_dt_m3_d`` (drainage to treatment), not as reuse. Flows that reference unknown units,
    go the wrong way across the boundary ``ENV`` or have no value are :class:`BalanceError`.
    """
    tol = closure_tolerance() if tolerance is None else float(tolerance)
    units, f = _flows(water_units, water_flows)
    purpose = dict(
        zip(
            units["unit_id"], units.get("purpose", pd.Series(pd.NA, index=units.index)), strict=True
        )
    )
    zero = dict.fromkeys((f"{q}_m3_d" for q in _Q), 0.0)
    recs = {}
    for r in units.itertuples():
        recs[r.unit_id] = {
            "level": "unit",
            "unit_id": r.unit_id,
            "name": r.name,
            "system": getattr(r, "system", pd.NA),
            "purpose": getattr(r, "purpose", pd.NA),
            **zero,
            "note": "",
        }
    site = {
        "level": "site",
        "unit_id": SITE,
        "name": "全厂 (whole site)",
        "system": pd.NA,
        "purpose": pd.NA,
        **zero,
        "note": "",
    }
    for r in f.itertuples():
        v = float(r.value_m3_d)
        k = r.kind
        if k == "intake":
            recs[r.to_unit]["V_i_m3_d"] += v
            site["V_i_m3_d"] += v
        elif k in _TO_ENV:
            col = {"consumption": "V_co_m3_d", "discharge": "V_d_m3_d", "leakage": "V_l_m3_d"}[k]
            recs[r.from_unit][col] += v
            site[col] += v
        elif k == "circulating":
            recs[r.to_unit]["V_cy_m3_d"] += v
            recs[r.from_unit]["V_cy_out_m3_d"] += v
            site["V_cy_m3_d"] += v
            site["V_cy_out_m3_d"] += v
        elif k == "series" and purpose.get(r.to_unit) == "treatment":
            # wastewater drained to on-site treatment: an inflow of the treatment unit,
            # not reuse; internal to the site, so it cancels in the site balance
            recs[r.to_unit]["V_dt_m3_d"] += v
            recs[r.from_unit]["V_s_out_m3_d"] += v
            site["V_dt_m3_d"] += v
            site["V_s_out_m3_d"] += v
        else:  # series, condensate
            recs[r.to_unit]["V_s_m3_d"] += v
            recs[r.from_unit]["V_s_out_m3_d"] += v
            site["V_s_m3_d"] += v
            site["V_s_out_m3_d"] += v
            if k == "condensate":
                recs[r.to_unit]["V_br_m3_d"] += v
                site["V_br_m3_d"] += v
    systems: dict[str, dict] = {}
    for rec in recs.values():
        if _is_na(rec["system"]):
            continue
        key = str(rec["system"])
        agg = systems.setdefault(
            key,
            {
                "level": "system",
                "unit_id": key,
                "name": key,
                "system": key,
                "purpose": pd.NA,
                **zero,
                "note": "",
            },
        )
        for q in zero:
            agg[q] += rec[q]
    rows = []
    order = {k: i for i, k in enumerate(SYSTEMS)}
    ordered = sorted(
        systems.values(), key=lambda r: (order.get(r["unit_id"], len(order)), r["unit_id"])
    )
    for rec in [*recs.values(), *ordered, site]:
        rec["V_r_m3_d"] = rec["V_cy_m3_d"] + rec["V_s_m3_d"]
        rec["V_t_m3_d"] = rec["V_r_m3_d"] + rec["V_i_m3_d"]
        rows.append(_closure(rec, tol))
    out = pd.DataFrame(rows, columns=_COLUMNS)
    floats = [c for c in _COLUMNS if c.endswith(("_m3_d", "_pct"))]
    out = out.astype({**dict.fromkeys(floats, "Float64"), "closed": "boolean"})
    out.attrs["basis"] = {
        "standard": "GB/T 12452 (水平衡测试通则)",
        "tolerance": tol,
        "unit": "m3/d",
    }
    return out


_IND_COLUMNS = [
    "indicator",
    "symbol",
    "name_zh",
    "name_en",
    "value",
    "unit",
    "numerator",
    "denominator",
    "formula",
    "note",
]


def indicators(
    water_units: pd.DataFrame,
    water_flows: pd.DataFrame,
    *,
    operating_days: float | None = None,
    history: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
    year: int | None = None,
    product_id: str | Sequence[str] | None = None,
    steam_t_d: float | None = None,
    tolerance: float | None = None,
) -> pd.DataFrame:
    """Water-use indicators of the site (GB/T 12452 §3.2 formulas; seed 004 clause 5.2.8 c).

    Rows (``indicator``, GB/T 12452 ``symbol``, ``value``, ``unit``, ``numerator``,
    ``denominator``, ``formula``, ``note``):

    * ``reuse_rate`` R = V_r / (V_r + V_i) x 100 (重复利用率);
    * ``cooling_circulation_rate`` r_c = V_cr / (V_cr + V_cf) x 100: circulating water and
      intake of the units whose purpose is ``indirect_cooling`` (间接冷却水循环率);
    * ``process_reuse_rate`` r_g = V_gr / (V_gr + V_gf) x 100: reused water (V_cy + V_s) and
      intake of the ``process`` units (工艺水回用率);
    * ``condensate_recovery_rate`` r_b = V_br / (D / ρ) x 100: condensate reused over the
      steam raised, both per day; ``steam_t_d`` (t/d during the test) or, failing it, the
      history ``steam`` of ``year`` spread over ``operating_days``; ρ from
      ``energy/defaults.yaml`` (蒸汽冷凝水回用率);
    * ``treated_reuse_rate``: water passed on by ``treatment`` units over their inflow
      (污水处理回用率);
    * ``leakage_rate`` K_l = V_l / V_i, ``discharge_rate`` K_d = V_d / V_i,
      ``consumption_rate`` K_co = V_co / V_i (x 100);
    * ``nonconventional_share``: intake from non-conventional sources
      (``water/sources.csv``) over V_i;
    * ``intake_per_product`` V_ui = V_yi / Q and ``intake_per_output_value`` V_wi = V_yi / Z,
      with the annual intake ``V_yi = V_i x operating_days`` (m3/a), Q the main product's
      output and Z the output value (10^4 CNY) of ``year`` from ``history``.

    An indicator that cannot be formed (no such units, no operating days, no history) has
    ``value = <NA>`` and a note; a zero output or output value is a :class:`BalanceError`.
    """
    bal = balance(water_units, water_flows, tolerance=tolerance)
    units, f = _flows(water_units, water_flows)
    site = bal[bal["level"] == "site"].iloc[0]
    per = bal[bal["level"] == "unit"].set_index("unit_id")
    purpose = (
        units.set_index("unit_id")["purpose"]
        if "purpose" in units.columns
        else pd.Series(dtype="string")
    )
    rows: list[dict] = []

    def add(ind, sym, zh, en, num, den, unit, formula, note="", scale=100.0):
        if not note and (_is_na(num) or _is_na(den)):
            note = "inputs missing"
        if not note and den == 0:
            note = "denominator is zero"
        value = pd.NA if note else float(num) / float(den) * scale
        rows.append(
            {
                "indicator": ind,
                "symbol": sym,
                "name_zh": zh,
                "name_en": en,
                "value": value,
                "unit": unit,
                "numerator": num,
                "denominator": den,
                "formula": formula,
                "note": note,
            }
        )

    def of(p: str, col: str) -> tuple[float, int]:
        ids = [u for u, pp in purpose.items() if pp == p]
        return float(per.loc[ids, col].sum()) if ids else 0.0, len(ids)

    v_i, v_r, v_t = float(site["V_i_m3_d"]), float(site["V_r_m3_d"]), float(site["V_t_m3_d"])
    add("reuse_rate", "R", "重复利用率", "Reuse rate", v_r, v_t, "%", "V_r / (V_r + V_i) x 100")
    cr, n_c = of("indirect_cooling", "V_cy_m3_d")
    cf, _ = of("indirect_cooling", "V_i_m3_d")
    add(
        "cooling_circulation_rate", "r_c", "间接冷却水循环率", "Indirect-cooling circulating rate",
        cr, cr + cf, "%", "V_cr / (V_cr + V_cf) x 100",
        "" if n_c else "no unit with purpose indirect_cooling",
    )  # fmt: skip
    gr, n_g = of("process", "V_r_m3_d")
    gf, _ = of("process", "V_i_m3_d")
    add(
        "process_reuse_rate", "r_g", "工艺水回用率", "Process water reuse rate",
        gr, gr + gf, "%", "V_gr / (V_gr + V_gf) x 100",
        "" if n_g else "no unit with purpose process",
    )  # fmt: skip

    # condensate recovery
    rho = float(
        reference.load_yaml("energy/defaults.yaml")["steam_condensate_density_t_m3"]["value"]
    )
    steam_note, steam_m3_d = "", pd.NA
    if steam_t_d is not None:
        steam_m3_d = float(steam_t_d) / rho
    elif history is not None and year is not None and operating_days:
        st = _annual(history, "energy", "steam", year, "t")
        if _is_na(st):
            steam_note = f"no steam in history {year} and no steam_t_d"
        else:
            steam_m3_d = st / float(operating_days) / rho
    else:
        steam_note = "give steam_t_d, or history, year and operating_days"
    add(
        "condensate_recovery_rate", "r_b", "蒸汽冷凝水回用率", "Condensate recovery rate",
        float(site["V_br_m3_d"]), steam_m3_d, "%", "V_br / (D x h / ρ) x 100", steam_note,
    )  # fmt: skip
    t_ids = [u for u, pp in purpose.items() if pp == "treatment"]
    t_out = float(per.loc[t_ids, "V_s_out_m3_d"].sum()) if t_ids else 0.0
    t_in = float(per.loc[t_ids, "inflow_m3_d"].sum()) if t_ids else 0.0
    add(
        "treated_reuse_rate", "", "污水处理回用率", "Treated wastewater reuse rate",
        t_out, t_in, "%", "water reused from treatment units / their inflow x 100",
        "" if t_ids else "no unit with purpose treatment",
    )  # fmt: skip
    for ind, sym, zh, en, col in (
        ("leakage_rate", "K_l", "漏失率", "Leakage rate", "V_l_m3_d"),
        ("discharge_rate", "K_d", "排水率", "Discharge rate", "V_d_m3_d"),
        ("consumption_rate", "K_co", "耗水率", "Consumption rate", "V_co_m3_d"),
    ):
        add(ind, sym, zh, en, float(site[col]), v_i, "%", f"{col[:-5]} / V_i x 100")
    src = reference.table("water/sources.csv")
    conventional = dict(
        zip(src["source_id"], src["conventional"].astype(str).str.lower() == "true", strict=True)
    )
    intake = f[f["kind"] == "intake"]
    unknown_src = sorted(
        {str(s) for s in intake.get("source", pd.Series(dtype="string")).dropna()}
        - set(conventional)
    )
    if unknown_src:
        raise BalanceError(
            f"water_flows: unknown water source(s) {', '.join(unknown_src)} (see data/reference/water/sources.csv)"
        )
    if "source" in intake.columns:
        no_src = intake["source"].isna()
        mask = [not _is_na(x) and not conventional[str(x)] for x in intake["source"]]
        nonconv = float(intake.loc[mask, "value_m3_d"].sum())
        note = "some intake flows have no source" if no_src.any() else ""
    else:
        nonconv, note = 0.0, "water_flows has no source column"
    add(
        "nonconventional_share",
        "",
        "非常规水源占比",
        "Share of non-conventional sources",
        nonconv,
        v_i,
        "%",
        "non-conventional intake / V_i x 100",
        note,
    )

    # annual intensities
    v_yi = v_i * float(operating_days) if operating_days else pd.NA
    ann_note = (
        "" if operating_days else "operating_days not given: the test intake cannot be annualised"
    )
    if not ann_note and (history is None or year is None):
        ann_note = "history and year needed"
    q, z, unit_p = pd.NA, pd.NA, "m3/unit"
    if not ann_note:
        z = _year_value(output_value(history, error=BalanceError), "output_value_10k_cny", year)
        if products is not None:
            mp = main_product(products, product_id, error=BalanceError)
            unit_p = f"m3/{mp.unit}"
            q = _year_value(
                product_output(history, products, product_id, error=BalanceError),
                "product_output",
                year,
            )
        for what, v in (("main-product output", q), ("output value", z)):
            if not _is_na(v) and v == 0:
                raise BalanceError(
                    f"history: the {what} of {year} is zero; it cannot divide the water intake"
                )
    note_q = ann_note or (
        "products not given"
        if products is None
        else f"no main-product output in {year}"
        if _is_na(q)
        else ""
    )
    note_z = ann_note or (f"no output value in {year}" if _is_na(z) else "")
    add(
        "intake_per_product", "V_ui", "单位产品取水量", "Water intake per unit product",
        v_yi, q, unit_p, "V_yi / Q, V_yi = V_i x operating days", note_q, scale=1.0,
    )  # fmt: skip
    add(
        "intake_per_output_value", "V_wi", "万元产值取水量", "Water intake per 10^4 CNY output value",
        v_yi, z, "m3/10k_CNY", "V_yi / Z, V_yi = V_i x operating days", note_z, scale=1.0,
    )  # fmt: skip
    out = pd.DataFrame(rows, columns=_IND_COLUMNS).astype(
        {"value": "Float64", "numerator": "Float64", "denominator": "Float64"}
    )
    out.attrs["basis"] = {
        "standard": "GB/T 12452 (水平衡测试通则)",
        "operating_days": operating_days,
        "year": year,
        "steam_t_d": steam_t_d,
        "condensate_density_t_m3": rho,
    }
    return out


def _year_value(table: pd.DataFrame, col: str, year: int):
    rows = table[table["year"] == int(year)]
    return pd.NA if rows.empty else float(rows[col].iloc[0])


def _annual(history: pd.DataFrame, category: str, item: str, year: int, unit: str):
    _require(history, ["year", "category", "item", "quantity", "unit"], "history", BalanceError)
    rows = history[(history["category"] == category) & (history["item"] == item)]
    rows = rows[pd.to_numeric(rows["year"], errors="coerce") == int(year)]
    if rows.empty:
        return pd.NA
    return float(
        _to_unit(rows, "quantity", "unit", unit, f"history {category} {item}", BalanceError).sum()
    )
