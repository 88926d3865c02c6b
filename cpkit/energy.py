"""Energy: standard-coal conversion and consumption indicators (GB/T 2589), electricity
balance (GB/T 3485 approach) and heat balance (GB/T 3486, boiler test practice).

Seed 004 clause 5.2.8 b asks the pre-assessment for comprehensive energy consumption,
physical and economic efficiency indicators, the energy structure and cost; clauses 5.3.6
and 5.3.7 ask the assessment phase for electricity and heat balances.

* :func:`to_tce` -- every history energy row in tonnes of standard coal (tce);
* :func:`comprehensive` -- per year: comprehensive energy consumption, cost, unit-product
  and output-value intensities;
* :func:`structure` -- per year and carrier: tce, share, cost, cost share, unit price;
* :func:`saving` -- energy-saving amount between two years;
* :func:`electricity_balance` -- meter tree: supply vs metered consumers vs unmetered
  remainder, shares per system and per meter, average load and utilisation;
* :func:`heat_balance` -- input, effective, losses; efficiency by the direct and the
  indirect method; closure.

Coefficients come from ``data/reference/energy/carriers.csv`` (edition recorded in
``attrs["basis"]``), published equal-value figures from ``energy/equal_value.csv`` and the
defaults (electricity basis, kJ per kgce) from ``energy/defaults.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from cpkit import reference
from cpkit.errors import BalanceError, CpkitError
from cpkit.indicators import (
    _is_na,
    _num,
    _require,
    _to_unit,
    closure_tolerance,
    main_product,
    output_value,
    product_output,
)

__all__ = [
    "ElectricityBalance",
    "EnergyError",
    "EqualValue",
    "HeatBalance",
    "carriers",
    "comprehensive",
    "electricity_balance",
    "equal_value",
    "heat_balance",
    "saving",
    "structure",
    "to_tce",
]

CARRIERS_FILE = "energy/carriers.csv"
EQUAL_VALUE_FILE = "energy/equal_value.csv"
DEFAULTS_FILE = "energy/defaults.yaml"
ELECTRICITY = "electricity"  # the shared carrier id of grid electricity
BASES = ("equivalent", "equal_value")


class EnergyError(CpkitError):
    """Energy data cannot be converted or an energy indicator cannot be computed."""


def _default(name: str):
    return reference.load_yaml(DEFAULTS_FILE)[name]["value"]


def carriers() -> pd.DataFrame:
    """The energy-carrier reference table (``carrier_id, name_zh, name_en, unit, kind,
    coefficient_kgce_per_unit, ..., by_enthalpy``) with ``by_enthalpy`` as booleans."""
    table = reference.table(CARRIERS_FILE)
    table["by_enthalpy"] = _bool(table.get("by_enthalpy", pd.Series(False, index=table.index)))
    return table


def _bool(s: pd.Series) -> pd.Series:
    return (
        s.astype("string")
        .str.strip()
        .str.lower()
        .isin(["true", "1", "yes", "y", "是"])
        .astype(bool)
    )


@dataclass(frozen=True)
class EqualValue:
    """A published equal-value figure (等价值) of electricity, kgce/kWh."""

    kgce_per_kwh: float
    figure_id: str
    year: int | None
    source: str
    status: str


def equal_value(year: int | None = None, figure_id: str | None = None) -> EqualValue:
    """A published equal-value figure of electricity from ``energy/equal_value.csv``, by
    ``figure_id`` or by ``year`` (the figure published for that year). The equal value
    (GB/T 2589 等价值) is year-specific: a year without a figure is an error, never a
    silent neighbour."""
    table = reference.table(EQUAL_VALUE_FILE)
    if figure_id is not None:
        rows = table[table["figure_id"] == figure_id]
        if rows.empty:
            raise EnergyError(
                f"no equal-value figure {figure_id!r}; known: {', '.join(table['figure_id'])}"
            )
    elif year is not None:
        rows = table[pd.to_numeric(table["year"], errors="coerce") == int(year)]
        if rows.empty:
            raise EnergyError(
                f"no published equal-value figure of electricity for {year} in "
                f"data/reference/{EQUAL_VALUE_FILE} ({_figures(table)}); set the parameter "
                "equal_value_kgce_per_kwh to the figure you use and cite it"
            )
    else:
        raise EnergyError("equal_value: give a year or a figure_id")
    r = rows.iloc[0]
    return EqualValue(
        float(r["kgce_per_kwh"]),
        str(r["figure_id"]),
        None if _is_na(r["year"]) else int(r["year"]),
        str(r["source"]),
        str(r["status"]),
    )


def _figures(table: pd.DataFrame) -> str:
    return "; ".join(
        f"{r.figure_id}: {r.kgce_per_kwh} kgce/kWh ({'undated' if _is_na(r.year) else int(r.year)})"
        for r in table.itertuples()
    )


def _basis(basis: str | None) -> str:
    basis = basis or _default("electricity_basis")
    if basis not in BASES:
        raise EnergyError(f"electricity basis must be one of {', '.join(BASES)}, got {basis!r}")
    return basis


def to_tce(
    history: pd.DataFrame,
    carriers: pd.DataFrame | None = None,
    *,
    basis: str | None = None,
    equal_value_kgce_per_kwh: float | None = None,
) -> pd.DataFrame:
    """Convert every history ``energy`` row to tonnes of standard coal (GB/T 2589-2020 §4,
    折标准煤; coefficients of its Annex A/B as tabulated in ``energy/carriers.csv``).

    ``tce = quantity x coefficient_kgce_per_unit / 1000``. Electricity uses the equivalent
    value 0.1229 kgce/kWh (``basis="equivalent"``, the default) or an equal value
    (``basis="equal_value"``): ``equal_value_kgce_per_kwh`` when given, otherwise the figure
    published for the row's year in ``energy/equal_value.csv`` (an error if none). A carrier
    flagged ``by_enthalpy`` (steam) whose row gives ``enthalpy_kj_kg`` is converted by its
    enthalpy: ``tce = t x h / 29 307.6`` (kJ/kg over kJ/kgce); otherwise by its coefficient.

    Columns: ``year, carrier_id, name_zh, name_en, kind, quantity, unit, method``
    (coefficient / enthalpy / equal_value), ``coefficient_kgce_per_unit`` (the effective
    one), ``enthalpy_kj_kg, energy_tce, cost_10k_cny``. ``attrs["basis"]`` names the table,
    its edition, the electricity basis and figure(s) and kJ per kgce.
    Unknown carriers and units differing from the carrier's are :class:`EnergyError`.
    """
    basis = _basis(basis)
    table = _carriers() if carriers is None else carriers.copy()
    _require(
        table, ["carrier_id", "unit", "kind", "coefficient_kgce_per_unit"], "carriers", EnergyError
    )
    if "by_enthalpy" not in table.columns:
        table["by_enthalpy"] = False
    elif table["by_enthalpy"].dtype != bool:
        table["by_enthalpy"] = _bool(table["by_enthalpy"])
    _require(history, ["year", "category", "item", "quantity", "unit"], "history", EnergyError)
    h = history[history["category"] == "energy"].copy()
    h["year"] = pd.to_numeric(h["year"], errors="coerce").astype("Int64")
    h["quantity"] = _num(h["quantity"])
    if h["year"].isna().any() or h["quantity"].isna().any():
        raise EnergyError("history: an energy row has no year or no quantity")
    known = set(table["carrier_id"].astype(str))
    unknown = sorted(set(h["item"].astype(str)) - known)
    if unknown:
        raise EnergyError(
            f"history: unknown energy carrier(s) {', '.join(map(repr, unknown))}; the carriers are "
            f"listed in data/reference/{CARRIERS_FILE} ({', '.join(sorted(known))})"
        )
    kj_per_kgce = float(_default("kj_per_kgce"))
    tab = table.set_index(table["carrier_id"].astype(str))
    enthalpy = (
        _num(h["enthalpy_kj_kg"])
        if "enthalpy_kj_kg" in h.columns
        else pd.Series(pd.NA, index=h.index, dtype="Float64")
    )
    rows = []
    figures: dict[int, EqualValue | float] = {}
    for i, r in h.iterrows():
        cid = str(r["item"])
        c = tab.loc[cid]
        unit = str(c["unit"])
        q = float(r["quantity"])
        if str(r["unit"]).strip() != unit:
            # tolerate other spellings/magnitudes of the same unit (e.g. 万kWh, MWh)
            q = float(
                _to_unit(
                    h.loc[[i]], "quantity", "unit", unit, f"history energy {cid}", EnergyError
                ).iloc[0]
            )
        h_kj = enthalpy.loc[i]
        year = int(r["year"])
        if not _is_na(h_kj):
            if not bool(c["by_enthalpy"]):
                raise EnergyError(
                    f"history {year} {cid}: enthalpy_kj_kg is given but {cid} is not converted by "
                    "enthalpy (only carriers flagged by_enthalpy, e.g. steam)"
                )
            if unit != "t":
                raise EnergyError(
                    f"carrier {cid}: conversion by enthalpy needs the unit t, not {unit}"
                )
            coef = float(h_kj) * 1000.0 / kj_per_kgce  # kgce per t
            method = "enthalpy"
        elif cid == ELECTRICITY and basis == "equal_value":
            if equal_value_kgce_per_kwh is not None:
                coef = float(equal_value_kgce_per_kwh)
                figures[year] = coef
            else:
                ev = equal_value(year=year)
                coef = ev.kgce_per_kwh
                figures[year] = ev
            method = "equal_value"
        else:
            coef = float(c["coefficient_kgce_per_unit"])
            method = "coefficient"
        cost = r.get("cost_10k_cny", pd.NA)
        rows.append(
            {
                "year": year,
                "carrier_id": cid,
                "name_zh": c.get("name_zh", cid),
                "name_en": c.get("name_en", cid),
                "kind": c["kind"],
                "quantity": q,
                "unit": unit,
                "method": method,
                "coefficient_kgce_per_unit": coef,
                "enthalpy_kj_kg": h_kj,
                "energy_tce": q * coef / 1000.0,
                "cost_10k_cny": cost,
            }
        )
    cols = [
        "year", "carrier_id", "name_zh", "name_en", "kind", "quantity", "unit", "method",
        "coefficient_kgce_per_unit", "enthalpy_kj_kg", "energy_tce", "cost_10k_cny",
    ]  # fmt: skip
    out = pd.DataFrame(rows, columns=cols).astype(
        {
            "year": "Int64",
            "quantity": "Float64",
            "coefficient_kgce_per_unit": "Float64",
            "enthalpy_kj_kg": "Float64",
            "energy_tce": "Float64",
            "cost_10k_cny": "Float64",
        }
    )
    elec = tab["coefficient_kgce_per_unit"].get(ELECTRICITY, pd.NA)
    out.attrs["basis"] = _tce_basis(basis, figures, kj_per_kgce, carriers is None, elec)
    return out


def _carriers() -> pd.DataFrame:
    return carriers()


def _tce_basis(
    basis: str, figures: dict, kj_per_kgce: float, reference_table: bool, electricity
) -> dict:
    meta = reference.meta(CARRIERS_FILE) if reference_table else {}
    elec = {
        "electricity_basis": basis,
        "electricity_kgce_per_kwh": (
            float(electricity) if basis == "equivalent" and not _is_na(electricity) else None
        ),
    }
    if basis == "equal_value":
        elec["equal_value"] = {
            y: (
                {"kgce_per_kwh": f.kgce_per_kwh, "figure_id": f.figure_id, "source": f.source}
                if isinstance(f, EqualValue)
                else {
                    "kgce_per_kwh": f,
                    "figure_id": "parameter",
                    "source": "equal_value_kgce_per_kwh",
                }
            )
            for y, f in sorted(figures.items())
        }
    return {
        "standard": "GB/T 2589 (综合能耗计算通则)",
        "table": f"data/reference/{CARRIERS_FILE}"
        if reference_table
        else "caller's carriers table",
        "edition": meta.get("edition"),
        "table_version": meta.get("version"),
        **elec,
        "kj_per_kgce": kj_per_kgce,
    }


def comprehensive(
    history: pd.DataFrame,
    products: pd.DataFrame | None = None,
    *,
    product_id: str | None = None,
    carriers: pd.DataFrame | None = None,
    basis: str | None = None,
    equal_value_kgce_per_kwh: float | None = None,
) -> pd.DataFrame:
    """Comprehensive energy consumption per year and its intensities (GB/T 2589 §4:
    ``E = Σ E_i k_i``; ``e = E / P`` unit-product; ``e_g = E / G`` per output value;
    seed 004 clause 5.2.8 b).

    Columns: ``year, energy_tce, energy_cost_10k_cny, output_value_10k_cny,
    energy_tce_per_10k_cny, product_id, product_output, product_unit,
    energy_tce_per_product, energy_kgce_per_product, note``. The product columns are
    present only when ``products`` is given (main product, see
    :func:`cpkit.indicators.main_product`). A year without output or output value gives
    ``<NA>`` and a note; a zero denominator is an :class:`EnergyError`. Energy supplied
    across the boundary is not netted (history has no export rows). ``attrs["basis"]`` as
    :func:`to_tce`.
    """
    tce = to_tce(history, carriers, basis=basis, equal_value_kgce_per_kwh=equal_value_kgce_per_kwh)
    years = sorted({int(y) for y in tce["year"]})
    by_year = tce.groupby(tce["year"].astype(int))
    energy = by_year["energy_tce"].sum()
    cost = by_year["cost_10k_cny"].sum(min_count=1)
    cost_missing = by_year["cost_10k_cny"].apply(lambda s: s.isna().any())
    val = output_value(history, error=EnergyError)
    val = dict(zip(val["year"].astype(int), val["output_value_10k_cny"], strict=True))
    prod = None
    if products is not None:
        mp = main_product(products, product_id, error=EnergyError)
        p = product_output(history, products, product_id, error=EnergyError)
        prod = dict(zip(p["year"].astype(int), p["product_output"], strict=True))
    rows = []
    for y in years:
        notes = []
        e = float(energy[y])
        if bool(cost_missing[y]):
            notes.append(
                "cost missing for some carriers" if not _is_na(cost[y]) else "no energy cost given"
            )
        g = val.get(y, pd.NA)
        if _is_na(g):
            notes.append(f"no output value in {y}")
            eg = pd.NA
        elif g == 0:
            raise EnergyError(
                f"history: the output value of {y} is zero; it cannot divide the energy use"
            )
        else:
            eg = e / float(g)
        rec = {
            "year": y,
            "energy_tce": e,
            "energy_cost_10k_cny": cost[y],
            "output_value_10k_cny": g,
            "energy_tce_per_10k_cny": eg,
        }
        if prod is not None:
            pq = prod.get(y, pd.NA)
            if _is_na(pq):
                notes.append(f"no output of {mp.label} in {y}")
                ep = pd.NA
            elif pq == 0:
                raise EnergyError(
                    f"history: the output of {mp.label} in {y} is zero; it cannot divide the energy use"
                )
            else:
                ep = e / float(pq)
            rec.update(
                product_id=mp.label,
                product_output=pq,
                product_unit=mp.unit,
                energy_tce_per_product=ep,
                energy_kgce_per_product=ep * 1000 if not _is_na(ep) else pd.NA,
            )
        rec["note"] = "; ".join(notes)
        rows.append(rec)
    cols = [
        "year",
        "energy_tce",
        "energy_cost_10k_cny",
        "output_value_10k_cny",
        "energy_tce_per_10k_cny",
    ]
    if prod is not None:
        cols += [
            "product_id",
            "product_output",
            "product_unit",
            "energy_tce_per_product",
            "energy_kgce_per_product",
        ]
    out = pd.DataFrame(rows, columns=[*cols, "note"])
    out = out.astype(
        {c: "Float64" for c in cols if c not in ("year", "product_id", "product_unit")}
    )
    out["year"] = out["year"].astype("Int64")
    out.attrs["basis"] = dict(tce.attrs["basis"])
    if prod is not None:
        out.attrs["basis"]["main_product"] = mp.label
    return out


def structure(
    history: pd.DataFrame,
    carriers: pd.DataFrame | None = None,
    *,
    basis: str | None = None,
    equal_value_kgce_per_kwh: float | None = None,
) -> pd.DataFrame:
    """Energy structure and cost per year (seed 004 clause 5.2.8 b: 能源消费结构及成本).

    One row per year and carrier: ``quantity, unit, energy_tce, share_pct`` (of the year's
    tce), ``cost_10k_cny, cost_share_pct`` (of the year's energy cost),
    ``unit_price_cny`` (CNY per physical unit = cost x 10^4 / quantity) and
    ``cost_cny_per_tce``. Shares are on the tce basis recorded in ``attrs["basis"]``.
    """
    tce = to_tce(history, carriers, basis=basis, equal_value_kgce_per_kwh=equal_value_kgce_per_kwh)
    keys = ["year", "carrier_id", "name_zh", "name_en", "kind", "unit"]
    g = tce.groupby(keys, as_index=False, sort=True).agg(
        quantity=("quantity", "sum"),
        energy_tce=("energy_tce", "sum"),
        cost_10k_cny=("cost_10k_cny", lambda s: s.sum(min_count=1)),
    )
    year_tce = g.groupby("year")["energy_tce"].transform("sum")
    year_cost = g.groupby("year")["cost_10k_cny"].transform(lambda s: s.sum(min_count=1))
    g["share_pct"] = (g["energy_tce"] / year_tce * 100).where(year_tce != 0)
    g["cost_share_pct"] = (g["cost_10k_cny"] / year_cost * 100).where(year_cost != 0)
    g["unit_price_cny"] = (g["cost_10k_cny"] * 1e4 / g["quantity"]).where(g["quantity"] != 0)
    g["cost_cny_per_tce"] = (g["cost_10k_cny"] * 1e4 / g["energy_tce"]).where(g["energy_tce"] != 0)
    cols = [
        *keys[:5], "quantity", "unit", "energy_tce", "share_pct", "cost_10k_cny",
        "cost_share_pct", "unit_price_cny", "cost_cny_per_tce",
    ]  # fmt: skip
    out = (
        g[cols]
        .astype({c: "Float64" for c in cols if c not in keys})
        .sort_values(["year", "energy_tce"], ascending=[True, False], ignore_index=True)
    )
    out.attrs["basis"] = dict(tce.attrs["basis"])
    return out


def saving(comprehensive_table: pd.DataFrame, base_year: int, report_year: int) -> pd.DataFrame:
    """Energy-saving amount between two years (GB/T 2589 / GB/T 13234 practice):
    ``ΔE = (e_base - e_report) x P_report`` on the unit-product intensity and
    ``ΔE_g = (e_g,base - e_g,report) x G_report`` on the output-value intensity (tce; positive
    is a saving). Takes the output of :func:`comprehensive`."""
    t = comprehensive_table
    _require(
        t,
        ["year", "energy_tce_per_10k_cny", "output_value_10k_cny"],
        "comprehensive table",
        EnergyError,
    )
    years = {int(y) for y in t["year"].dropna()}
    for y in (base_year, report_year):
        if int(y) not in years:
            raise EnergyError(
                f"saving: no year {y} in the table (years: {', '.join(map(str, sorted(years)))})"
            )
    b = t[t["year"] == int(base_year)].iloc[0]
    r = t[t["year"] == int(report_year)].iloc[0]

    def diff(col, qty):
        if col not in t.columns or _is_na(b[col]) or _is_na(r[col]) or _is_na(r[qty]):
            return pd.NA
        return (float(b[col]) - float(r[col])) * float(r[qty])

    out = pd.DataFrame(
        [
            {
                "base_year": int(base_year),
                "report_year": int(report_year),
                "e_base_tce_per_product": b.get("energy_tce_per_product", pd.NA),
                "e_report_tce_per_product": r.get("energy_tce_per_product", pd.NA),
                "product_output_report": r.get("product_output", pd.NA),
                "saving_tce": diff("energy_tce_per_product", "product_output"),
                "e_base_tce_per_10k_cny": b["energy_tce_per_10k_cny"],
                "e_report_tce_per_10k_cny": r["energy_tce_per_10k_cny"],
                "output_value_report_10k_cny": r["output_value_10k_cny"],
                "saving_output_value_tce": diff("energy_tce_per_10k_cny", "output_value_10k_cny"),
            }
        ]
    )
    out = out.astype({c: "Float64" for c in out.columns if c not in ("base_year", "report_year")})
    out.attrs["basis"] = dict(t.attrs.get("basis", {}))
    return out


# --------------------------------------------------------------------------- electricity


@dataclass(frozen=True)
class ElectricityBalance:
    """Result of :func:`electricity_balance`.

    ``meters``: one row per meter (tree order) with its balance; ``systems``: energy per
    system and the unmetered remainder, with shares of the supply; ``summary``: one row,
    supply vs metered vs unmetered; ``problems``: readable findings (inconsistent tree,
    children exceeding the parent, load above rating)."""

    meters: pd.DataFrame
    systems: pd.DataFrame
    summary: pd.DataFrame
    problems: tuple[str, ...] = field(default_factory=tuple)


_LEVEL_RANK = {"supply": 0, "system": 1, "equipment": 2}


def electricity_balance(
    meters: pd.DataFrame,
    equipment: pd.DataFrame | None = None,
    *,
    tolerance: float | None = None,
) -> ElectricityBalance:
    """Electricity balance of a meter tree (GB/T 3485 合理用电 approach; seed 004 clause 5.3.6).

    Each meter's children are scaled to the parent's metering period
    (``child kWh x parent period_days / child period_days``) and compared with it:
    ``children_kwh``, ``unmetered_kwh = value - children`` (losses and unmetered use),
    ``unmetered_pct``. Children exceeding the parent by more than ``tolerance`` (fraction;
    default the dataset closure tolerance) are flagged ``children_exceed_parent`` and listed
    in ``problems``. Shares: ``share_of_supply_pct`` (daily average over the total of the
    supply meters) and ``share_of_parent_pct``. ``avg_load_kw = kWh / (24 x period_days)``;
    where the meter names an equipment with ``rated_power_kw``, ``rated_kw = rated_power_kw x
    quantity`` and ``utilisation_pct = avg_load_kw / rated_kw x 100``.

    ``systems``: the consumers directly under the supply meters grouped by their ``system``
    (``unassigned`` if empty), plus ``unmetered`` = supply - those consumers, in kWh/d and
    as % of the supply. Unknown parents, duplicate ids and cycles are :class:`BalanceError`.
    """
    tol = closure_tolerance() if tolerance is None else float(tolerance)
    _require(
        meters,
        ["meter_id", "parent_id", "name", "level", "value", "period_days"],
        "meters",
        BalanceError,
    )
    m = meters.copy()
    m["meter_id"] = m["meter_id"].astype(str)
    m["parent_id"] = m["parent_id"].astype("string")
    if m["meter_id"].duplicated().any():
        dup = sorted(set(m.loc[m["meter_id"].duplicated(), "meter_id"]))
        raise BalanceError(f"meters: duplicate meter_id {', '.join(dup)}")
    if m.empty:
        raise BalanceError("meters: the table is empty")
    m["value_kwh"] = _to_unit(m, "value", "unit", "kWh", "meters", BalanceError)
    m["period_days"] = _num(m["period_days"])
    bad = m["value_kwh"].isna() | m["period_days"].isna() | (m["period_days"] <= 0).fillna(True)
    if bad.any():
        raise BalanceError(
            f"meters {', '.join(m.loc[bad, 'meter_id'])}: need a value and a positive period_days"
        )
    ids = set(m["meter_id"])
    orphans = m[m["parent_id"].notna() & ~m["parent_id"].isin(ids)]
    if not orphans.empty:
        raise BalanceError(
            "meters: parent_id not found: "
            + ", ".join(f"{r.meter_id} -> {r.parent_id}" for r in orphans.itertuples())
        )
    parent = {
        r.meter_id: (None if _is_na(r.parent_id) else str(r.parent_id)) for r in m.itertuples()
    }
    depth: dict[str, int] = {}
    for mid in parent:
        seen, cur = [], mid
        while cur is not None:
            if cur in seen:
                raise BalanceError(
                    f"meters: the parent chain of {mid} loops ({' -> '.join([*seen, cur])})"
                )
            seen.append(cur)
            cur = parent[cur]
        depth[mid] = len(seen) - 1
    m = m.set_index("meter_id", drop=False)
    m["kwh_d"] = m["value_kwh"] / m["period_days"]
    problems: list[str] = []

    roots = [i for i in m.index if parent[i] is None]
    supply_roots = [i for i in roots if m.at[i, "level"] == "supply"] or roots
    for i in roots:
        if m.at[i, "level"] != "supply":
            problems.append(
                f"meter {i} ({m.at[i, 'name']}) has no parent but is not a supply meter"
            )
    for i in m.index:
        p = parent[i]
        if p is not None and _LEVEL_RANK.get(str(m.at[i, "level"]), 9) <= _LEVEL_RANK.get(
            str(m.at[p, "level"]), 9
        ):
            problems.append(
                f"meter {i} (level {m.at[i, 'level']}) hangs under {p} (level {m.at[p, 'level']})"
            )
    total_supply_d = float(m.loc[supply_roots, "kwh_d"].sum())

    children: dict[str, list[str]] = {i: [] for i in m.index}
    for i, p in parent.items():
        if p is not None:
            children[p].append(i)

    rated = {}
    if equipment is not None and {"equipment_id", "rated_power_kw"} <= set(equipment.columns):
        qty = (
            _num(equipment["quantity"])
            if "quantity" in equipment.columns
            else pd.Series(1.0, index=equipment.index)
        )
        for eid, kw, n in zip(
            equipment["equipment_id"].astype(str),
            _num(equipment["rated_power_kw"]),
            qty,
            strict=True,
        ):
            if not _is_na(kw):
                rated[eid] = float(kw) * (1.0 if _is_na(n) else float(n))
    elif equipment is not None:
        _require(equipment, ["equipment_id", "rated_power_kw"], "equipment", BalanceError)

    rows = []
    order = sorted(m.index, key=lambda i: (_path(i, parent), i))
    for i in order:
        r = m.loc[i]
        kids = children[i]
        rec = {
            "meter_id": i,
            "parent_id": parent[i] if parent[i] is not None else pd.NA,
            "name": r["name"],
            "level": r["level"],
            "system": r.get("system", pd.NA),
            "equipment_id": r.get("equipment_id", pd.NA),
            "depth": depth[i],
            "value_kwh": float(r["value_kwh"]),
            "period_days": float(r["period_days"]),
            "kwh_d": float(r["kwh_d"]),
            "children": len(kids),
        }
        if kids:
            ch = float(
                sum(
                    m.at[k, "value_kwh"] * (r["period_days"] / m.at[k, "period_days"]) for k in kids
                )
            )
            un = float(r["value_kwh"]) - ch
            rec["children_kwh"] = ch
            rec["unmetered_kwh"] = un
            rec["unmetered_pct"] = un / float(r["value_kwh"]) * 100 if r["value_kwh"] > 0 else pd.NA
            exceed = un < -tol * float(r["value_kwh"])
            rec["children_exceed_parent"] = bool(exceed)
            if exceed:
                problems.append(
                    f"meter {i} ({r['name']}): its sub-meters read {ch:,.1f} kWh over its "
                    f"period, {-un:,.1f} kWh more than the meter itself"
                )
        else:
            rec["children_kwh"] = pd.NA
            rec["unmetered_kwh"] = pd.NA
            rec["unmetered_pct"] = pd.NA
            rec["children_exceed_parent"] = pd.NA
        rec["share_of_supply_pct"] = (
            float(r["kwh_d"]) / total_supply_d * 100 if total_supply_d > 0 else pd.NA
        )
        if parent[i] is not None:
            pk = m.at[parent[i], "kwh_d"]
            rec["share_of_parent_pct"] = float(r["kwh_d"]) / float(pk) * 100 if pk > 0 else pd.NA
        else:
            rec["share_of_parent_pct"] = pd.NA
        load = float(r["kwh_d"]) / 24.0
        rec["avg_load_kw"] = load
        eid = rec["equipment_id"]
        kw = rated.get(str(eid)) if not _is_na(eid) else None
        rec["rated_kw"] = kw if kw is not None else pd.NA
        if kw:
            rec["utilisation_pct"] = load / kw * 100
            if load > kw:
                problems.append(
                    f"meter {i} ({r['name']}): average load {load:,.1f} kW exceeds the rated {kw:,.1f} kW"
                )
        else:
            rec["utilisation_pct"] = pd.NA
        rows.append(rec)
    mcols = [
        "meter_id", "parent_id", "name", "level", "system", "equipment_id", "depth",
        "value_kwh", "period_days", "kwh_d", "children", "children_kwh", "unmetered_kwh",
        "unmetered_pct", "children_exceed_parent", "share_of_supply_pct", "share_of_parent_pct",
        "avg_load_kw", "rated_kw", "utilisation_pct",
    ]  # fmt: skip
    mt = pd.DataFrame(rows, columns=mcols)
    floats = [
        "value_kwh", "period_days", "kwh_d", "children_kwh", "unmetered_kwh", "unmetered_pct",
        "share_of_supply_pct", "share_of_parent_pct", "avg_load_kw", "rated_kw", "utilisation_pct",
    ]  # fmt: skip
    mt = mt.astype(
        {
            **dict.fromkeys(floats, "Float64"),
            "children_exceed_parent": "boolean",
            "depth": "Int64",
            "children": "Int64",
        }
    )

    # systems: first layer under the supply meters
    first = [k for s in supply_roots for k in children[s]]
    sysrows: dict[str, float] = {}
    for k in first:
        sysname = m.at[k, "system"] if "system" in m.columns else pd.NA
        key = "unassigned" if _is_na(sysname) else str(sysname)
        sysrows[key] = sysrows.get(key, 0.0) + float(m.at[k, "kwh_d"])
    metered_d = sum(sysrows.values())
    srows = [
        {
            "system": k,
            "kwh_d": v,
            "share_pct": v / total_supply_d * 100 if total_supply_d else pd.NA,
        }
        for k, v in sorted(sysrows.items(), key=lambda kv: -kv[1])
    ]
    srows.append(
        {
            "system": "unmetered",
            "kwh_d": total_supply_d - metered_d,
            "share_pct": (total_supply_d - metered_d) / total_supply_d * 100
            if total_supply_d
            else pd.NA,
        }
    )
    systems = pd.DataFrame(srows, columns=["system", "kwh_d", "share_pct"]).astype(
        {"kwh_d": "Float64", "share_pct": "Float64"}
    )
    summary = pd.DataFrame(
        [
            {
                "supply_meters": ";".join(supply_roots),
                "supply_kwh_d": total_supply_d,
                "metered_kwh_d": metered_d,
                "unmetered_kwh_d": total_supply_d - metered_d,
                "unmetered_pct": (total_supply_d - metered_d) / total_supply_d * 100
                if total_supply_d
                else pd.NA,
                "tolerance_pct": tol * 100,
                "consistent": not bool(mt["children_exceed_parent"].fillna(False).any()),
            }
        ]
    ).astype({"unmetered_pct": "Float64"})
    summary.attrs["basis"] = {"approach": "GB/T 3485 electricity balance", "tolerance": tol}
    return ElectricityBalance(mt, systems, summary, tuple(problems))


def _path(i: str, parent: dict[str, str | None]) -> tuple[str, ...]:
    chain = [i]
    while parent[chain[-1]] is not None:
        chain.append(parent[chain[-1]])
    return tuple(reversed(chain))


# --------------------------------------------------------------------------- heat


@dataclass(frozen=True)
class HeatBalance:
    """Result of :func:`heat_balance`: ``equipment`` (one row per tested equipment) and
    ``items`` (every item with its share of the input heat)."""

    equipment: pd.DataFrame
    items: pd.DataFrame


def heat_balance(
    heat_balance: pd.DataFrame,
    equipment: pd.DataFrame | None = None,
    *,
    tolerance: float | None = None,
) -> HeatBalance:
    """Heat balance of boilers, furnaces and dryers (GB/T 3486 合理用热; boiler test
    practice GB/T 10180; seed 004 clause 5.3.7).

    Per equipment: ``input_mj_h`` (Q_r, sum of the input items), ``effective_mj_h`` (Q_1),
    ``losses_mj_h`` (Σ Q_2..Q_n); efficiency by the direct method
    ``η_direct = Q_1 / Q_r x 100`` and by the indirect method
    ``η_indirect = (1 - Σ losses / Q_r) x 100``; closure ``Q_r - Q_1 - Σ losses`` in MJ/h and
    as % of the input, ``closed`` when within ``tolerance`` (fraction; default the dataset
    closure tolerance). ``items`` gives each item's ``share_of_input_pct`` (for losses the
    heat-loss rate q_i). No input heat is a :class:`BalanceError`; no loss items gives an
    ``<NA>`` indirect efficiency with a note.
    """
    tol = closure_tolerance() if tolerance is None else float(tolerance)
    hb = heat_balance
    _require(hb, ["equipment_id", "item", "category", "value"], "heat_balance", BalanceError)
    t = hb.copy()
    t["equipment_id"] = t["equipment_id"].astype(str)
    t["value_mj_h"] = _to_unit(t, "value", "unit", "MJ/h", "heat_balance", BalanceError)
    if t["value_mj_h"].isna().any():
        raise BalanceError("heat_balance: a row has no value")
    bad = sorted(set(t["category"].astype(str)) - {"input", "effective", "loss"})
    if bad:
        raise BalanceError(
            f"heat_balance: category must be input, effective or loss, got {', '.join(bad)}"
        )
    names = {}
    if equipment is not None and {"equipment_id", "name"} <= set(equipment.columns):
        names = dict(zip(equipment["equipment_id"].astype(str), equipment["name"], strict=True))
    eq_rows, item_rows = [], []
    for eid, g in t.groupby("equipment_id", sort=True):
        q_in = float(g.loc[g["category"] == "input", "value_mj_h"].sum())
        q_eff = float(g.loc[g["category"] == "effective", "value_mj_h"].sum())
        q_loss = float(g.loc[g["category"] == "loss", "value_mj_h"].sum())
        has_loss = bool((g["category"] == "loss").any())
        if q_in <= 0:
            raise BalanceError(
                f"heat_balance {eid}: no input heat, so no efficiency can be computed"
            )
        closure = q_in - q_eff - q_loss
        notes = []
        if not has_loss:
            notes.append("no loss items: indirect efficiency not computed")
        if not (g["category"] == "effective").any():
            notes.append("no effective heat item")
        closed = abs(closure) <= tol * q_in
        if not closed:
            notes.append(f"input differs from effective + losses by {closure / q_in * 100:.1f} %")
        eq_rows.append(
            {
                "equipment_id": eid,
                "name": names.get(eid, pd.NA),
                "input_mj_h": q_in,
                "effective_mj_h": q_eff,
                "losses_mj_h": q_loss,
                "efficiency_direct_pct": q_eff / q_in * 100,
                "efficiency_indirect_pct": (1 - q_loss / q_in) * 100 if has_loss else pd.NA,
                "closure_mj_h": closure,
                "closure_pct": closure / q_in * 100,
                "closed": closed,
                "note": "; ".join(notes),
            }
        )
        for r in g.itertuples():
            item_rows.append(
                {
                    "equipment_id": eid,
                    "item": r.item,
                    "category": r.category,
                    "value_mj_h": float(r.value_mj_h),
                    "share_of_input_pct": float(r.value_mj_h) / q_in * 100,
                }
            )
    eq = pd.DataFrame(eq_rows)
    eq = eq.astype(
        {c: "Float64" for c in eq.columns if c.endswith(("_mj_h", "_pct"))} | {"closed": "boolean"}
    )
    items = pd.DataFrame(
        item_rows, columns=["equipment_id", "item", "category", "value_mj_h", "share_of_input_pct"]
    ).astype({"value_mj_h": "Float64", "share_of_input_pct": "Float64"})
    eq.attrs["basis"] = {
        "standard": "GB/T 3486; GB/T 10180 direct and indirect methods",
        "tolerance": tol,
    }
    return HeatBalance(eq, items)
