"""Carbon dioxide from energy use: purchased electricity, fuel combustion and purchased heat
(GB/T 32150-2015 framework; grid factors of the MEE/NBS announcements).

* electricity: ``CO2 (t) = kWh x EF_grid (kgCO2/kWh) / 1000``, the factor chosen by year,
  scope (national / regional / provincial), region and basis from
  ``data/reference/carbon/grid_factors.csv``. A year without a published factor is an error
  unless ``fallback="latest"`` is asked for, and then the factor year actually used and a
  note are recorded on every row -- never a silent stale year;
* fuels: ``CO2 (t) = AD x NCV x CC x OF x 44/12`` (GB/T 32150 / GB/T 32151 sector
  guidelines), parameters from ``carbon/fuels.csv`` in one of its named default sets
  (``ndrc_guidelines`` or ``newer_set``) or a table of the caller's own measured values;
* purchased heat and steam: ``CO2 (t) = GJ x EF_heat (tCO2/GJ)``; steam in tonnes becomes
  heat by its enthalpy ``GJ = t x (h - 83.74) / 1000`` when the history row gives it,
  otherwise by the carrier table's heat content.

Which carrier is which comes from ``energy/carriers.csv: emission_source``; energy-consuming
media (compressed air, new water, ...) are listed with zero CO2 and a note. Biomass and
process emissions are outside this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from cpkit import reference
from cpkit.errors import CpkitError
from cpkit.indicators import _is_na, _num, _require, _to_unit, unit_factor

__all__ = [
    "CarbonError",
    "FuelFactor",
    "GridFactor",
    "HeatFactor",
    "by_year",
    "emissions",
    "fuel_factor",
    "fuels",
    "grid_factor",
    "grid_factors",
    "heat_factor",
]

GRID_FILE = "carbon/grid_factors.csv"
REGIONS_FILE = "carbon/grid_regions.csv"
FUELS_FILE = "carbon/fuels.csv"
HEAT_FILE = "carbon/heat_factors.csv"
DEFAULTS_FILE = "carbon/defaults.yaml"
SCOPES = ("national", "regional", "provincial")
FALLBACKS = ("error", "latest")
CO2_PER_C = 44.0 / 12.0  # molar mass ratio CO2 / C


class CarbonError(CpkitError):
    """A CO2 factor is missing or the activity data cannot be converted."""


def _default(name: str):
    return reference.load_yaml(DEFAULTS_FILE)[name]["value"]


# --------------------------------------------------------------------------- grid


@dataclass(frozen=True)
class GridFactor:
    """A grid electricity CO2 factor and where it comes from.

    ``year`` is the factor's year, ``requested_year`` the year asked for; they differ only
    under an explicit fallback, which ``note`` then states."""

    kgco2_per_kwh: float
    year: int
    requested_year: int
    scope: str
    region_id: str
    region_zh: str
    basis: str
    document: str
    source: str
    status: str
    note: str = ""

    def describe(self) -> str:
        text = f"{self.kgco2_per_kwh} kgCO2/kWh, {self.scope} {self.region_zh} {self.year} ({self.basis}; {self.document})"
        return f"{text}; {self.note}" if self.note else text


def grid_factors() -> pd.DataFrame:
    """The grid-factor table (``year, scope, region_id, region_zh, basis,
    factor_kgco2_per_kwh, document, source, status``)."""
    return reference.table(GRID_FILE)


def _key(s: str) -> str:
    s = str(s).strip().lower()
    s = re.sub(r"(维吾尔|壮族|回族)?自治区$|省$|市$|电网$|区域$|地区$", "", s)
    return s.replace(" ", "_").replace("-", "_")


def _region(region: str | None, scope: str) -> tuple[str, str]:
    """(region_id, note) for a region or province name/id under a scope."""
    if scope == "national":
        return "china", ""
    if region is None or str(region).strip() == "":
        raise CarbonError(f"a {scope} grid factor needs the region (parameter grid_region)")
    k = _key(region)
    table = grid_factors()
    regions = table[table["scope"] == scope]
    for r in regions.drop_duplicates("region_id").itertuples():
        if k in (_key(r.region_id), _key(r.region_zh)):
            return str(r.region_id), ""
    provinces = reference.table(REGIONS_FILE)
    for r in provinces.itertuples():
        if k in (_key(r.province_id), _key(r.name_zh), _key(r.name_en)):
            if scope == "provincial":
                return str(r.province_id), ""
            note = f"province {r.name_zh} mapped to the {r.grid_region_id} grid"
            if not _is_na(r.note):
                note += f" ({r.note})"
            return str(r.grid_region_id), note
    known = ", ".join(sorted(set(regions["region_zh"])))
    raise CarbonError(f"unknown {scope} grid region {region!r}; known: {known}")


def grid_factor(
    year: int,
    scope: str | None = None,
    region: str | None = None,
    *,
    basis: str | None = None,
    fallback: str | None = None,
) -> GridFactor:
    """The grid CO2 factor for ``year`` (MEE/NBS 电力二氧化碳排放因子).

    ``scope`` national (default from ``carbon/defaults.yaml``), regional or provincial;
    ``region`` a regional grid (``华东`` / ``east_china``) or a province (``浙江``), a
    province under the regional scope being mapped to its grid with a note; ``basis``
    ``average`` (default), ``average_excl_market_nonfossil``, ``fossil`` or ``reporting``.
    A missing year is a :class:`CarbonError` unless ``fallback="latest"``, which takes the
    latest earlier year and says so in ``note``.
    """
    scope = scope or _default("grid_factor_scope")
    basis = basis or _default("grid_factor_basis")
    fallback = fallback or _default("grid_factor_fallback")
    if scope not in SCOPES:
        raise CarbonError(f"grid factor scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if fallback not in FALLBACKS:
        raise CarbonError(f"fallback must be one of {', '.join(FALLBACKS)}, got {fallback!r}")
    if year is None or _is_na(year):
        raise CarbonError("grid factor: no year given (parameter grid_factor_year)")
    year = int(year)
    region_id, note = _region(region, scope)
    t = grid_factors()
    rows = t[(t["scope"] == scope) & (t["region_id"] == region_id) & (t["basis"] == basis)]
    if rows.empty:
        bases = sorted(set(t.loc[(t["scope"] == scope) & (t["region_id"] == region_id), "basis"]))
        hint = (
            f"; bases available: {', '.join(bases)}"
            if bases
            else f"; use the regional scope, or add the published row to data/reference/{GRID_FILE}"
            if scope == "provincial"
            else ""
        )
        raise CarbonError(f"no {scope} grid factor for {region_id} on the basis {basis!r}{hint}")
    years = sorted(int(y) for y in rows["year"])
    if year in years:
        used = year
    else:
        earlier = [y for y in years if y < year]
        msg = (
            f"no published {scope} grid factor ({basis}) for {region_id} in {year}; "
            f"years available: {', '.join(map(str, years))}"
        )
        if fallback == "error" or not earlier:
            raise CarbonError(
                msg
                + (
                    "; set grid_factor_year, or allow fallback='latest'"
                    if fallback == "error"
                    else ""
                )
            )
        used = earlier[-1]
        note = "; ".join(filter(None, [note, f"{year} not published: the {used} factor is used"]))
    r = rows[rows["year"].astype(int) == used].iloc[0]
    return GridFactor(
        float(r["factor_kgco2_per_kwh"]),
        used,
        year,
        scope,
        region_id,
        str(r["region_zh"]),
        basis,
        str(r["document"]),
        str(r["source"]),
        str(r["status"]),
        note,
    )


# --------------------------------------------------------------------------- fuels


@dataclass(frozen=True)
class FuelFactor:
    """Combustion parameters of one fuel (GB/T 32150: E = AD x NCV x CC x OF x 44/12)."""

    fuel_id: str
    carrier_id: str | None
    set_id: str
    ad_unit: str
    ad_per_carrier_unit: float
    ncv_gj_per_ad_unit: float
    cc_tc_per_tj: float
    oxidation_rate: float
    source: str
    status: str

    @property
    def tco2_per_ad_unit(self) -> float:
        """t CO2 per activity unit: NCV (GJ) x CC (tC/TJ) / 1000 x OF x 44/12."""
        return (
            self.ncv_gj_per_ad_unit * self.cc_tc_per_tj / 1000.0 * self.oxidation_rate * CO2_PER_C
        )

    @property
    def tco2_per_carrier_unit(self) -> float:
        """t CO2 per unit of the energy carrier (e.g. per m3 of natural gas)."""
        return self.tco2_per_ad_unit * self.ad_per_carrier_unit


def fuels(set_id: str | None = None) -> pd.DataFrame:
    """The fuel-parameter table, all sets or one (``set_id``)."""
    t = reference.table(FUELS_FILE)
    if set_id is not None:
        if set_id not in set(t["set_id"]):
            raise CarbonError(
                f"unknown fuel set {set_id!r}; known: {', '.join(sorted(set(t['set_id'])))}"
            )
        t = t[t["set_id"] == set_id].reset_index(drop=True)
    return t


_FUEL_COLUMNS = [
    "fuel_id",
    "ad_unit",
    "ad_per_carrier_unit",
    "ncv_gj_per_ad_unit",
    "cc_tc_per_tj",
    "oxidation_rate",
]


def _fuel_rows(set_id: str | None, table: pd.DataFrame | None) -> tuple[pd.DataFrame, str]:
    if table is None:
        sid = set_id or _default("fuel_set")
        return fuels(sid), sid
    _require(table, [*_FUEL_COLUMNS, "carrier_id"], "fuel parameters", CarbonError)
    t = table.copy()
    for col in ("set_id", "source", "status"):
        if col not in t.columns:
            t[col] = {"set_id": "caller", "source": "caller's parameters", "status": "measured"}[
                col
            ]
    return t, "caller"


def fuel_factor(
    fuel: str, set_id: str | None = None, *, table: pd.DataFrame | None = None
) -> FuelFactor:
    """Combustion parameters of ``fuel`` (a fuel_id such as ``bituminous`` or an energy
    carrier id such as ``natural_gas``) from the named default set (default from
    ``carbon/defaults.yaml``) or from the caller's ``table`` (same columns as
    ``carbon/fuels.csv``)."""
    t, sid = _fuel_rows(set_id, table)
    return _fuel_factor(t, sid, fuel)


def _fuel_factor(t: pd.DataFrame, sid: str, fuel: str) -> FuelFactor:
    rows = t[(t["fuel_id"].astype(str) == fuel) | (t["carrier_id"].astype("string") == fuel)]
    if rows.empty:
        raise CarbonError(
            f"no combustion parameters for {fuel!r} in the fuel set {sid!r} (data/reference/{FUELS_FILE}); "
            f"it has: {', '.join(t['fuel_id'].astype(str))}. Choose another set or pass your own parameters"
        )
    r = rows.iloc[0]
    vals = {c: _num(pd.Series([r[c]])).iloc[0] for c in _FUEL_COLUMNS[2:]}
    if any(_is_na(v) for v in vals.values()):
        raise CarbonError(f"fuel {fuel!r}: incomplete parameters {vals}")
    return FuelFactor(
        str(r["fuel_id"]),
        None if _is_na(r["carrier_id"]) else str(r["carrier_id"]),
        str(r["set_id"]),
        str(r["ad_unit"]),
        float(vals["ad_per_carrier_unit"]),
        float(vals["ncv_gj_per_ad_unit"]),
        float(vals["cc_tc_per_tj"]),
        float(vals["oxidation_rate"]),
        str(r["source"]),
        str(r["status"]),
    )


# --------------------------------------------------------------------------- heat


@dataclass(frozen=True)
class HeatFactor:
    """CO2 factor of purchased heat, t CO2 per GJ."""

    tco2_per_gj: float
    factor_id: str
    source: str
    status: str


def heat_factor(factor_id: str | float | None = None) -> HeatFactor:
    """The purchased-heat factor ``factor_id`` of ``carbon/heat_factors.csv`` (default from
    ``carbon/defaults.yaml``), or a number given by the caller (t CO2/GJ)."""
    if isinstance(factor_id, int | float):
        return HeatFactor(float(factor_id), "parameter", "caller's factor", "given")
    fid = factor_id or _default("heat_factor")
    t = reference.table(HEAT_FILE)
    rows = t[t["factor_id"] == fid]
    if rows.empty:
        raise CarbonError(f"unknown heat factor {fid!r}; known: {', '.join(t['factor_id'])}")
    r = rows.iloc[0]
    return HeatFactor(
        float(r["factor_tco2_per_gj"]), str(r["factor_id"]), str(r["source"]), str(r["status"])
    )


# --------------------------------------------------------------------------- emissions


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


_EMISSION_COLUMNS = [
    "year", "carrier_id", "name_zh", "source_kind", "quantity", "unit", "activity",
    "activity_unit", "factor", "factor_unit", "co2_t", "factor_year", "factor_source", "note",
]  # fmt: skip


def emissions(
    history: pd.DataFrame,
    *,
    grid_year: int | None = None,
    scope: str | None = None,
    region: str | None = None,
    grid_basis: str | None = None,
    fallback: str | None = None,
    fuel_set: str | None = None,
    fuel_parameters: pd.DataFrame | None = None,
    heat: str | float | None = None,
    carriers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """CO2 per year and energy carrier from the history ``energy`` rows (GB/T 32150-2015).

    Electricity: ``co2_t = kWh x EF / 1000`` with the grid factor of ``grid_year`` for every
    year when given (parameter ``grid_factor_year``), otherwise the factor of each row's own
    year (missing -> :class:`CarbonError`, or the latest earlier year with a note under
    ``fallback="latest"``). Fuels: ``co2_t = AD x NCV x CC/1000 x OF x 44/12`` with
    ``AD = quantity x ad_per_carrier_unit``. Heat: ``co2_t = GJ x EF_heat``; steam (t) is
    turned into GJ by ``t x (h - h_ref) / 1000`` with the row's enthalpy (h_ref from
    ``carbon/defaults.yaml``), else by the carrier's heat content from the carrier table.

    Columns: ``year, carrier_id, name_zh, source_kind`` (electricity / fuel / heat / none),
    ``quantity, unit, activity, activity_unit, factor, factor_unit, co2_t, factor_year,
    factor_source, note``. ``attrs["basis"]`` records the grid scope/region/basis and the
    factor per year, the fuel set and the heat factor.
    """
    from cpkit.energy import carriers as carrier_table

    _require(history, ["year", "category", "item", "quantity", "unit"], "history", CarbonError)
    table = carrier_table() if carriers is None else carriers.copy()
    _require(table, ["carrier_id", "unit", "emission_source"], "carriers", CarbonError)
    tab = table.set_index(table["carrier_id"].astype(str))
    h = history[history["category"] == "energy"].copy()
    h["year"] = pd.to_numeric(h["year"], errors="coerce").astype("Int64")
    h["quantity"] = _num(h["quantity"])
    if h["year"].isna().any() or h["quantity"].isna().any():
        raise CarbonError("history: an energy row has no year or no quantity")
    unknown = sorted(set(h["item"].astype(str)) - set(tab.index))
    if unknown:
        raise CarbonError(
            f"history: unknown energy carrier(s) {', '.join(map(repr, unknown))} "
            "(see data/reference/energy/carriers.csv)"
        )
    fuel_tab, fuel_sid = _fuel_rows(fuel_set, fuel_parameters)
    hf = heat_factor(heat)
    h_ref = float(_default("steam_reference_enthalpy_kj_kg"))
    grid_cache: dict[int, GridFactor] = {}

    def grid(y: int) -> GridFactor:
        want = int(grid_year) if grid_year is not None else y
        if want not in grid_cache:
            grid_cache[want] = grid_factor(want, scope, region, basis=grid_basis, fallback=fallback)
        return grid_cache[want]

    rows = []
    for i, r in h.iterrows():
        cid = str(r["item"])
        c = tab.loc[cid]
        unit = str(c["unit"])
        q = float(
            _to_unit(
                h.loc[[i]], "quantity", "unit", unit, f"history energy {cid}", CarbonError
            ).iloc[0]
        )
        y = int(r["year"])
        kind = str(c["emission_source"])
        rec = {
            "year": y,
            "carrier_id": cid,
            "name_zh": c.get("name_zh", cid),
            "quantity": q,
            "unit": unit,
            "note": "",
        }
        if kind == "grid_electricity":
            g = grid(y)
            kwh = q * unit_factor(unit, "kWh", CarbonError)
            rec.update(
                source_kind="electricity",
                activity=kwh,
                activity_unit="kWh",
                factor=g.kgco2_per_kwh,
                factor_unit="kgCO2/kWh",
                co2_t=kwh * g.kgco2_per_kwh / 1000.0,
                factor_year=g.year,
                factor_source=f"{g.scope} {g.region_zh} {g.basis}: {g.document}",
                note=_join(
                    g.note,
                    f"grid factor year {grid_year} applied to all years"
                    if grid_year is not None and int(grid_year) != y
                    else "",
                ),
            )
        elif kind == "fuel":
            ff = _fuel_factor(fuel_tab, fuel_sid, cid)
            ad = q * ff.ad_per_carrier_unit
            rec.update(
                source_kind="fuel",
                activity=ad,
                activity_unit=ff.ad_unit,
                factor=ff.tco2_per_ad_unit,
                factor_unit=f"tCO2/{ff.ad_unit}",
                co2_t=ad * ff.tco2_per_ad_unit,
                factor_year=pd.NA,
                factor_source=(
                    f"set {ff.set_id}: NCV {ff.ncv_gj_per_ad_unit} GJ/{ff.ad_unit}, "
                    f"CC {ff.cc_tc_per_tj} tC/TJ, OF {ff.oxidation_rate}"
                ),
            )
        elif kind == "purchased_heat":
            enth = _num(pd.Series([r.get("enthalpy_kj_kg", pd.NA)])).iloc[0]
            note = ""
            if _is_na(enth):
                try:
                    gj = q * unit_factor(unit, "GJ", CarbonError)
                except CarbonError:
                    lhv, lhv_unit = c.get("low_heating_value"), c.get("lhv_unit")
                    if _is_na(lhv) or _is_na(lhv_unit):
                        raise CarbonError(
                            f"history {y} {cid}: give enthalpy_kj_kg to turn {unit} into heat"
                        ) from None
                    per_unit = float(lhv) * unit_factor(
                        str(lhv_unit).split("/")[0], "GJ", CarbonError
                    )
                    gj = q * per_unit
                    note = f"no enthalpy: heat content {lhv} {lhv_unit} of the carrier table"
            else:
                if float(enth) <= h_ref:
                    raise CarbonError(
                        f"history {y} {cid}: enthalpy {enth} kJ/kg is not above {h_ref} kJ/kg"
                    )
                gj = q * unit_factor(unit, "t", CarbonError) * (float(enth) - h_ref) / 1000.0
                note = f"heat = t x ({float(enth):g} - {h_ref:g}) kJ/kg / 1000"
            rec.update(
                source_kind="heat",
                activity=gj,
                activity_unit="GJ",
                factor=hf.tco2_per_gj,
                factor_unit="tCO2/GJ",
                co2_t=gj * hf.tco2_per_gj,
                factor_year=pd.NA,
                factor_source=f"heat factor {hf.factor_id}: {hf.source}",
                note=note,
            )
        elif kind == "none":
            rec.update(
                source_kind="none",
                activity=pd.NA,
                activity_unit=pd.NA,
                factor=pd.NA,
                factor_unit=pd.NA,
                co2_t=0.0,
                factor_year=pd.NA,
                factor_source="",
                note="energy-consuming medium: not an emission source under GB/T 32150",
            )
        else:
            raise CarbonError(f"carrier {cid}: emission_source {kind!r} not understood")
        rows.append(rec)
    out = pd.DataFrame(rows, columns=_EMISSION_COLUMNS).astype(
        {
            "year": "Int64",
            "quantity": "Float64",
            "activity": "Float64",
            "factor": "Float64",
            "co2_t": "Float64",
            "factor_year": "Int64",
        }
    )
    out.attrs["basis"] = {
        "standard": "GB/T 32150-2015",
        "grid": {
            "scope": next(iter(grid_cache.values())).scope
            if grid_cache
            else scope or _default("grid_factor_scope"),
            "region": next(iter(grid_cache.values())).region_id if grid_cache else region,
            "basis": grid_basis or _default("grid_factor_basis"),
            "grid_factor_year": grid_year,
            "factors": {y: g.describe() for y, g in sorted(grid_cache.items())},
            "table": f"data/reference/{GRID_FILE}",
        },
        "fuel_set": fuel_sid,
        "heat_factor": {
            "factor_id": hf.factor_id,
            "tco2_per_gj": hf.tco2_per_gj,
            "source": hf.source,
        },
    }
    return out


def by_year(emission_table: pd.DataFrame) -> pd.DataFrame:
    """Annual totals of :func:`emissions`: ``year, co2_electricity_t, co2_fuel_t,
    co2_heat_t, co2_total_t`` (the basis is carried over)."""
    _require(emission_table, ["year", "source_kind", "co2_t"], "emissions table", CarbonError)
    t = emission_table
    p = t.pivot_table(
        index="year", columns="source_kind", values="co2_t", aggfunc="sum", fill_value=0.0
    )
    out = pd.DataFrame({"year": p.index.astype("Int64")})
    for k in ("electricity", "fuel", "heat"):
        out[f"co2_{k}_t"] = p[k].to_numpy(dtype=float) if k in p.columns else 0.0
    out["co2_total_t"] = out[["co2_electricity_t", "co2_fuel_t", "co2_heat_t"]].sum(axis=1)
    out = out.astype({c: "Float64" for c in out.columns if c != "year"}).reset_index(drop=True)
    out.attrs["basis"] = dict(t.attrs.get("basis", {}))
    return out
