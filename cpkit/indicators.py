"""Status indicators of the pre-assessment and the before/after results of an audit.

What seed 004 clause 5.2.8 a)-d) asks the pre-assessment to compute from the last three
years, and what the implementation phase compares afterwards:

* :func:`status` -- unit consumption of every material, energy (tce), water and wastewater
  per unit of the main product and per 10^4 CNY of output value, year by year, with the
  change on the previous year;
* :func:`trends` -- change per year (least-squares slope) and over the period of every
  status metric;
* :func:`compliance` -- measured concentration against the limit (compliant flag, 超标倍数)
  and the annual total against the total-quantity cap (seed 004 clause 5.2.8 d);
* :func:`before_after` -- any history metric in the baseline year against the audit year,
  reduction rate (before - after) / before (Hainan performance table, note 3);
* :func:`attainment` -- targets table: achieved value against the near- and mid-term targets,
  with direction, attainment flags and the share of the planned improvement achieved
  (seed 004 clauses 5.2.13-5.2.14).

The helpers :func:`main_product`, :func:`product_output` and :func:`output_value` give the
denominators every intensity of cpkit uses (energy, water, materials).

All functions take the dataset's tables (``ds.tables[...]``) and return new DataFrames;
their inputs are never modified. Missing denominators give ``<NA>`` together with a ``note``
saying why; a zero denominator or a requested year that is absent is an error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cpkit import reference
from cpkit.errors import CpkitError

__all__ = [
    "IndicatorError",
    "MainProduct",
    "attainment",
    "before_after",
    "closure_tolerance",
    "compliance",
    "main_product",
    "output_value",
    "product_output",
    "status",
    "trends",
]


class IndicatorError(CpkitError):
    """An indicator cannot be computed from the given tables (bad or missing input)."""


# --------------------------------------------------------------------------- shared helpers


def closure_tolerance() -> float:
    """Default relative closure tolerance of the balances (fraction, e.g. 0.05).

    From ``data/reference/finance/defaults.yaml: closure_tolerance`` (the dataset's
    ``parameters.closure_tolerance`` resolves to the same default).
    """
    return float(reference.load_yaml("finance/defaults.yaml")["closure_tolerance"]["value"])


def _require(df: pd.DataFrame, columns: Iterable[str], table: str, error: type[CpkitError]):
    if not isinstance(df, pd.DataFrame):
        raise error(f"{table}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise error(f"{table}: missing column(s) {', '.join(missing)}")


def _num(series: pd.Series) -> pd.Series:
    """A numeric column as nullable Float64 (empty stays <NA>)."""
    return pd.to_numeric(series, errors="coerce").astype("Float64")


def _is_na(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _flag(value) -> bool | None:
    """A nullable boolean cell as True/False/None."""
    if _is_na(value):
        return None
    return bool(value)


def unit_factor(unit: str, target: str, error: type[CpkitError] = IndicatorError) -> float:
    """Factor converting a quantity in ``unit`` to ``target`` (:mod:`cpkit.units`: pint with
    the project's Chinese spellings, ``m3``, ``万``, ``10k_CNY``); a unit that cannot be read
    or converted raises ``error``."""
    from cpkit import units

    if _is_na(unit) or str(unit).strip() == "":
        raise error(f"a quantity has no unit (expected something convertible to {target})")
    try:
        return units.conversion_factor(str(unit).strip(), target)
    except units.UnitError as exc:
        raise error(f"unit {unit!r} cannot be converted to {target!r} ({exc})") from exc


def _to_unit(df: pd.DataFrame, value: str, unit: str, target: str, table: str, error) -> pd.Series:
    """``df[value]`` converted to ``target`` row by row with the unit column ``df[unit]``
    (:func:`cpkit.units.convert_column`); a missing or unconvertible unit raises ``error``."""
    from cpkit import units

    if unit not in df.columns:
        return _num(df[value])
    if df[unit].isna().any():
        rows = list(df.index[df[unit].isna()][:5])
        raise error(f"{table}: rows {rows} have no {unit}")
    try:
        return units.convert_column(_num(df[value]), df[unit].astype(str).str.strip(), target)
    except units.UnitError as exc:
        raise error(f"{table}: {exc} (expected a unit convertible to {target})") from exc


@dataclass(frozen=True)
class MainProduct:
    """The product(s) whose output is the denominator of unit-product indicators.

    Several products flagged ``main`` are added up when they share a unit (e.g. product
    grades counted in the same tonnes)."""

    product_ids: tuple[str, ...]
    unit: str
    name: str

    @property
    def label(self) -> str:
        return ";".join(self.product_ids)


def main_product(
    products: pd.DataFrame,
    product_id: str | Sequence[str] | None = None,
    *,
    error: type[CpkitError] = IndicatorError,
) -> MainProduct:
    """The main product (seed 004 clause 5.2.3; the denominator of unit consumption).

    ``product_id`` (one id or several) chooses explicitly; otherwise the products flagged
    ``main``; otherwise the only product. Products added together must share one unit.
    """
    _require(products, ["product_id", "name", "unit"], "products", error)
    ids = products["product_id"].astype("string")
    if product_id is not None:
        wanted = [product_id] if isinstance(product_id, str) else list(product_id)
        unknown = [p for p in wanted if p not in set(ids.dropna())]
        if unknown:
            raise error(
                f"products: no product {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(ids.dropna())}"
            )
        rows = products[ids.isin(wanted)]
    else:
        flag = (
            products["main"].astype("boolean").fillna(False)
            if "main" in products.columns
            else pd.Series(False, index=products.index)
        )
        rows = products[flag.to_numpy(dtype=bool)]
        if rows.empty:
            if len(products) == 1:
                rows = products
            elif products.empty:
                raise error("products: the table is empty, so there is no main product")
            else:
                raise error(
                    "products: no product is flagged main and there are several; set main=true "
                    "on the product that is the denominator of unit consumption, or pass product_id"
                )
    units = sorted({str(u).strip() for u in rows["unit"].dropna()})
    if len(units) != 1:
        raise error(
            "products: the main products "
            f"{', '.join(rows['product_id'].astype(str))} have different units ({', '.join(units) or 'none'}); "
            "flag one, or pass product_id"
        )
    return MainProduct(
        tuple(rows["product_id"].astype(str)), units[0], "、".join(rows["name"].astype(str))
    )


def _history(history: pd.DataFrame, error: type[CpkitError]) -> pd.DataFrame:
    _require(history, ["year", "category", "item", "quantity", "unit"], "history", error)
    h = history.copy()
    h["year"] = pd.to_numeric(h["year"], errors="coerce").astype("Int64")
    h["quantity"] = _num(h["quantity"])
    bad = h["year"].isna() | h["quantity"].isna()
    if bad.any():
        rows = list(h.index[bad][:5])
        raise error(f"history: rows {rows} have no year or no quantity")
    return h


def product_output(
    history: pd.DataFrame,
    products: pd.DataFrame,
    product_id: str | Sequence[str] | None = None,
    *,
    error: type[CpkitError] = IndicatorError,
) -> pd.DataFrame:
    """Annual output of the main product: columns ``year, product_id, product_output,
    product_unit`` (the unit is the products table's)."""
    mp = main_product(products, product_id, error=error)
    h = _history(history, error)
    rows = h[(h["category"] == "product") & h["item"].isin(mp.product_ids)].copy()
    rows["q"] = _to_unit(rows, "quantity", "unit", mp.unit, "history (product rows)", error)
    out = rows.groupby("year", as_index=False)["q"].sum()
    out = out.rename(columns={"q": "product_output"})
    out.insert(1, "product_id", mp.label)
    out["product_unit"] = mp.unit
    return out.sort_values("year", ignore_index=True)


def output_value(
    history: pd.DataFrame, *, error: type[CpkitError] = IndicatorError
) -> pd.DataFrame:
    """Annual output value: columns ``year, output_value_10k_cny`` (history category
    ``output_value``, 10^4 CNY; other money units such as 元 are converted)."""
    h = _history(history, error)
    rows = h[h["category"] == "output_value"].copy()
    rows["q"] = _to_unit(rows, "quantity", "unit", "10k_CNY", "history (output_value rows)", error)
    out = rows.groupby("year", as_index=False)["q"].sum()
    return out.rename(columns={"q": "output_value_10k_cny"}).sort_values("year", ignore_index=True)


def _years_present(data: pd.DataFrame, years: Iterable[int], table: str, error) -> None:
    have = sorted({int(y) for y in data["year"].dropna()})
    missing = [int(y) for y in years if int(y) not in have]
    if missing:
        raise error(
            f"{table}: no data for year(s) {', '.join(map(str, missing))}; "
            f"years present: {', '.join(map(str, have)) or 'none'}"
        )


# --------------------------------------------------------------------------- status


_STATUS_COLUMNS = [
    "metric",
    "item",
    "name",
    "unit",
    "year",
    "numerator",
    "numerator_unit",
    "denominator",
    "denominator_unit",
    "value",
    "change",
    "change_pct",
    "note",
]


def status(
    history: pd.DataFrame,
    products: pd.DataFrame,
    *,
    materials: pd.DataFrame | None = None,
    product_id: str | Sequence[str] | None = None,
    years: Sequence[int] | None = None,
    carriers: pd.DataFrame | None = None,
    basis: str | None = None,
    equal_value_kgce_per_kwh: float | None = None,
) -> pd.DataFrame:
    """Three-year status indicators (seed 004 clause 5.2.8 a-c; Hainan attached table 1).

    One row per metric, item and year (long form), with the value and its change on the
    previous year:

    * ``material_per_product``: material used / main-product output (one row per material);
    * ``energy_per_product``: comprehensive energy (tce, GB/T 2589) / output;
    * ``energy_per_output_value``: comprehensive energy (tce) / output value (10^4 CNY);
    * ``water_intake_per_product``: water intake (m3, all sources) / output;
    * ``water_intake_per_output_value``: water intake (m3) / output value (10^4 CNY);
    * ``wastewater_per_product``: wastewater (m3) / output;
    * ``waste_per_product``: solid waste generated (t) / output (one row per waste);
    * ``emission_per_product``: pollutant emitted (t) / output (one row per pollutant).

    Columns: ``metric, item, name, unit, year, numerator, numerator_unit, denominator,
    denominator_unit, value, change, change_pct, note``. ``unit`` is the unit of ``value``
    (e.g. ``tce/t``); ``change = value - value of the previous year``, ``change_pct =
    change / previous value x 100``. Energy is converted by :func:`cpkit.energy.to_tce`
    (``basis``: electricity equivalent or equal value) and ``attrs["basis"]`` records it.

    A year without the denominator gives ``<NA>`` with a note; a zero output or zero output
    value is an :class:`IndicatorError`.
    """
    from cpkit import energy  # local: energy uses this module's helpers

    h = _history(history, IndicatorError)
    all_years = sorted({int(y) for y in h["year"]})
    if years is None:
        years = all_years
    else:
        years = sorted(int(y) for y in years)
        _years_present(h, years, "history", IndicatorError)
    h = h[h["year"].isin(years)]

    prod = product_output(h, products, product_id)
    mp = main_product(products, product_id)
    val = output_value(h)
    denominators = {
        "product": (dict(zip(prod["year"], prod["product_output"], strict=True)), mp.unit),
        "output_value": (
            dict(zip(val["year"], val["output_value_10k_cny"], strict=True)),
            "10k_CNY",
        ),
    }
    for kind, (values, _unit) in denominators.items():
        zero = [int(y) for y, v in values.items() if not _is_na(v) and v == 0]
        if zero:
            what = f"output of {mp.label}" if kind == "product" else "output value"
            raise IndicatorError(
                f"history: the {what} is zero in {', '.join(map(str, zero))}, "
                "so it cannot be the denominator of an intensity"
            )

    names: dict[str, str] = {}
    if materials is not None and {"material_id", "name"} <= set(materials.columns):
        names.update(
            zip(materials["material_id"].astype(str), materials["name"].astype(str), strict=True)
        )

    # numerators: (metric stem, item, name, unit, {year: value})
    numerators: list[tuple[str, str, str, str, dict[int, float]]] = []

    def per_item(category: str, stem: str, unit: str | None) -> None:
        rows = h[h["category"] == category]
        for item, grp in rows.groupby("item", sort=True):
            units = sorted({str(u).strip() for u in grp["unit"].dropna()})
            target = unit or (units[0] if units else "")
            if unit is None and len(units) > 1:
                raise IndicatorError(
                    f"history: {category} {item!r} is given in several units ({', '.join(units)})"
                )
            q = _to_unit(
                grp, "quantity", "unit", target, f"history ({category} {item})", IndicatorError
            )
            numerators.append(
                (
                    stem,
                    str(item),
                    names.get(str(item), str(item)),
                    target,
                    dict(zip(grp["year"].astype(int), q, strict=True)),
                )
            )

    def total(category: str, stem: str, unit: str, item: str) -> None:
        rows = h[h["category"] == category]
        if rows.empty:
            return
        q = _to_unit(rows, "quantity", "unit", unit, f"history ({category})", IndicatorError)
        sums = q.groupby(rows["year"].astype(int)).sum()
        numerators.append((stem, item, item, unit, {int(y): float(v) for y, v in sums.items()}))

    per_item("material", "material", None)
    tce_basis = None
    if (h["category"] == "energy").any():
        tce = energy.to_tce(
            h, carriers, basis=basis, equal_value_kgce_per_kwh=equal_value_kgce_per_kwh
        )
        tce_basis = tce.attrs.get("basis")
        sums = tce.groupby(tce["year"].astype(int))["energy_tce"].sum()
        numerators.append(
            ("energy", "total", "综合能耗", "tce", {int(y): float(v) for y, v in sums.items()})
        )
    total("water_intake", "water_intake", "m3", "total")
    total("wastewater", "wastewater", "m3", "total")
    per_item("waste", "waste", "t")
    per_item("emission", "emission", "t")

    per_value = {"energy", "water_intake"}
    rows_out = []
    for stem, item, name, unit, values in numerators:
        kinds = ["product", "output_value"] if stem in per_value else ["product"]
        for kind in kinds:
            den_values, den_unit = denominators[kind]
            metric = f"{stem}_per_{kind}"
            for y in years:
                num = values.get(y, pd.NA)
                den = den_values.get(y, pd.NA)
                note = ""
                if _is_na(num):
                    note = f"no history row for {stem} {item} in {y}"
                elif _is_na(den):
                    note = (
                        f"no output of {mp.label} in {y}"
                        if kind == "product"
                        else f"no output value in {y}"
                    )
                value = pd.NA if note else float(num) / float(den)
                rows_out.append(
                    {
                        "metric": metric,
                        "item": item,
                        "name": name,
                        "unit": f"{unit}/{den_unit}",
                        "year": y,
                        "numerator": num,
                        "numerator_unit": unit,
                        "denominator": den,
                        "denominator_unit": den_unit,
                        "value": value,
                        "note": note,
                    }
                )
    out = pd.DataFrame(
        rows_out, columns=[c for c in _STATUS_COLUMNS if c not in ("change", "change_pct")]
    )
    out = _with_changes(out)
    out = out.astype(
        {
            "year": "Int64",
            "numerator": "Float64",
            "denominator": "Float64",
            "value": "Float64",
            "change": "Float64",
            "change_pct": "Float64",
        }
    )
    out.attrs["basis"] = {
        "main_product": mp.label,
        "product_unit": mp.unit,
        "years": list(years),
        "energy": tce_basis,
        "clause": "seed 004 clause 5.2.8 a-c",
    }
    return out[_STATUS_COLUMNS]


def _with_changes(out: pd.DataFrame) -> pd.DataFrame:
    out = out.sort_values(["metric", "item", "year"], kind="stable", ignore_index=True)
    value = _num(out["value"])
    prev = value.groupby([out["metric"], out["item"]]).shift(1)
    change = value - prev
    pct = (change / prev * 100).where(prev != 0)
    out["change"] = change
    out["change_pct"] = pct
    return out


# --------------------------------------------------------------------------- trends


def trends(status_table: pd.DataFrame) -> pd.DataFrame:
    """Trend of every status metric over the period (seed 004 clause 5.2.8: 变化规律).

    One row per ``metric, item``: ``first_year, last_year, first_value, last_value,
    period_change`` (last - first), ``period_change_pct`` ((last - first) / first x 100),
    ``slope_per_year`` (least-squares slope of value on year, numpy.polyfit, in the
    metric's unit per year), ``mean_annual_change_pct`` (geometric mean rate
    ``(last/first)^(1/(last_year-first_year)) - 1``), ``direction`` (``down``, ``up``,
    ``flat``) and ``years`` (number of years with a value). Fewer than two years give
    ``<NA>`` and a note.
    """
    _require(
        status_table, ["metric", "item", "unit", "year", "value"], "status table", IndicatorError
    )
    rows = []
    for (metric, item, unit), grp in status_table.groupby(["metric", "item", "unit"], sort=True):
        g = grp[["year", "value"]].copy()
        g["value"] = _num(g["value"])
        g = g.dropna().sort_values("year")
        rec = {"metric": metric, "item": item, "unit": unit, "years": len(g)}
        if len(g) < 2:
            rec["note"] = "fewer than two years with a value"
            rows.append(rec)
            continue
        x = g["year"].astype(float).to_numpy()
        y = g["value"].astype(float).to_numpy()
        first, last = float(y[0]), float(y[-1])
        span = float(x[-1] - x[0])
        slope = float(np.polyfit(x - x[0], y, 1)[0])
        rec.update(
            first_year=int(x[0]),
            last_year=int(x[-1]),
            first_value=first,
            last_value=last,
            period_change=last - first,
            period_change_pct=_relative_change(first, last),
            slope_per_year=slope,
            mean_annual_change_pct=_annual_rate(first, last, span),
            direction="down" if last < first else "up" if last > first else "flat",
            note="" if first != 0 else "first value is zero: relative changes undefined",
        )
        rows.append(rec)
    cols = [
        "metric", "item", "unit", "years", "first_year", "last_year", "first_value",
        "last_value", "period_change", "period_change_pct", "slope_per_year",
        "mean_annual_change_pct", "direction", "note",
    ]  # fmt: skip
    out = pd.DataFrame(rows, columns=cols)
    out["note"] = out["note"].fillna("")
    out.attrs["basis"] = dict(status_table.attrs.get("basis", {}))
    return out.astype(
        {
            "years": "Int64",
            "first_year": "Int64",
            "last_year": "Int64",
            "first_value": "Float64",
            "last_value": "Float64",
            "period_change": "Float64",
            "period_change_pct": "Float64",
            "slope_per_year": "Float64",
            "mean_annual_change_pct": "Float64",
        }
    )


# --------------------------------------------------------------------------- compliance


def compliance(
    pollutants: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    year: int | None = None,
) -> pd.DataFrame:
    """Pollutant compliance (seed 004 clause 5.2.8 d: 达标及总量控制).

    Concentration against the limit of the applicable standard: ``ratio_to_limit = C/C0``,
    ``compliant = C <= C0``, ``exceedance_multiple`` (超标倍数) ``= (C - C0)/C0`` when
    ``C > C0``, else 0. Annual total against the total-quantity cap: ``annual_t`` is the
    history ``emission`` row of the pollutant for ``year`` when ``history`` and ``year`` are
    given, otherwise the pollutants table's ``generated_t`` (generation, an upper bound of
    the emission; ``annual_basis`` says which); ``cap_use_pct = annual_t / cap_t x 100``,
    ``within_cap = annual_t <= cap_t``. Where a figure is missing the flag is ``<NA>`` and
    ``note`` says why.
    """
    _require(pollutants, ["pollutant_id", "name", "medium"], "pollutants", IndicatorError)
    p = pollutants.copy()
    for col in ("concentration", "limit", "cap_t", "generated_t"):
        p[col] = (
            _num(p[col]) if col in p.columns else pd.Series(pd.NA, index=p.index, dtype="Float64")
        )
    emitted: dict[str, float] = {}
    if history is not None:
        if year is None:
            raise IndicatorError("compliance: pass the year of the history emissions to compare")
        h = _history(history, IndicatorError)
        _years_present(h, [year], "history", IndicatorError)
        rows = h[(h["category"] == "emission") & (h["year"] == int(year))].copy()
        if not rows.empty:
            rows["t"] = _to_unit(
                rows, "quantity", "unit", "t", "history (emission rows)", IndicatorError
            )
            emitted = rows.groupby("item")["t"].sum().to_dict()
    out_rows = []
    for _, r in p.iterrows():
        c, c0 = r["concentration"], r["limit"]
        notes = []
        if _is_na(c) or _is_na(c0):
            ratio = compliant = excess = pd.NA
            notes.append("no measured concentration" if _is_na(c) else "no limit")
        elif c0 == 0:
            ratio = pd.NA
            compliant = bool(c == 0)
            excess = pd.NA if c > 0 else 0.0
            notes.append("limit is zero (not detectable): compliant only if C = 0")
        else:
            ratio = c / c0
            compliant = bool(c <= c0)
            excess = max(0.0, (c - c0) / c0)
        pid = str(r["pollutant_id"])
        if pid in emitted:
            annual, basis = float(emitted[pid]), f"history emission {int(year)}"
        elif not _is_na(r["generated_t"]):
            annual, basis = float(r["generated_t"]), "generated_t (baseline-year generation)"
        else:
            annual, basis = pd.NA, ""
        cap = r["cap_t"]
        if _is_na(cap):
            use = within = pd.NA
            notes.append("no total-quantity cap")
        elif _is_na(annual):
            use = within = pd.NA
            notes.append("no annual total")
        else:
            use = annual / cap * 100 if cap > 0 else pd.NA
            within = bool(annual <= cap)
        out_rows.append(
            {
                "pollutant_id": pid,
                "name": r["name"],
                "medium": r["medium"],
                "outlet": r.get("outlet", pd.NA),
                "concentration": c,
                "limit": c0,
                "concentration_unit": r.get("concentration_unit", pd.NA),
                "limit_standard": r.get("limit_standard", pd.NA),
                "ratio_to_limit": ratio,
                "compliant": compliant,
                "exceedance_multiple": excess,
                "annual_t": annual,
                "annual_basis": basis,
                "cap_t": cap,
                "cap_use_pct": use,
                "within_cap": within,
                "note": "; ".join(notes),
            }
        )
    cols = [
        "pollutant_id", "name", "medium", "outlet", "concentration", "limit",
        "concentration_unit", "limit_standard", "ratio_to_limit", "compliant",
        "exceedance_multiple", "annual_t", "annual_basis", "cap_t", "cap_use_pct",
        "within_cap", "note",
    ]  # fmt: skip
    out = pd.DataFrame(out_rows, columns=cols)
    return out.astype(
        {
            "concentration": "Float64",
            "limit": "Float64",
            "ratio_to_limit": "Float64",
            "compliant": "boolean",
            "exceedance_multiple": "Float64",
            "annual_t": "Float64",
            "cap_t": "Float64",
            "cap_use_pct": "Float64",
            "within_cap": "boolean",
        }
    )


# --------------------------------------------------------------------------- before / after


def before_after(
    data: pd.DataFrame,
    before_year: int,
    after_year: int,
    *,
    keys: Sequence[str] | None = None,
    value: str | None = None,
) -> pd.DataFrame:
    """Before/after comparison of every metric between two years (e.g. the baseline year and
    the audit year), with the reduction rate ``(before - after) / before x 100``
    (Hainan performance table, note 3: 审核前 minus 审核后).

    ``data`` is the history table (keys ``category, item``, value ``quantity``), the
    :func:`status` table (keys ``metric, item``, value ``value``) or any long table with a
    ``year`` column given ``keys`` and ``value``. Columns: the keys, ``unit``, ``before``,
    ``after``, ``reduction`` (before - after), ``reduction_rate_pct``, ``note``. A negative
    reduction is an increase. A year absent from ``data`` is an :class:`IndicatorError`; a
    metric missing in one year or zero before gives ``<NA>`` with a note.
    """
    if keys is None or value is None:
        if {"category", "item", "quantity"} <= set(data.columns):
            keys, value = keys or ["category", "item"], value or "quantity"
        elif {"metric", "item", "value"} <= set(data.columns):
            keys, value = keys or ["metric", "item"], value or "value"
        else:
            raise IndicatorError(
                "before_after: pass keys and value (the table is neither history nor status)"
            )
    keys = list(keys)
    _require(data, [*keys, "year", value], "before_after data", IndicatorError)
    d = data.copy()
    d["year"] = pd.to_numeric(d["year"], errors="coerce").astype("Int64")
    d[value] = _num(d[value])
    _years_present(d, [before_year, after_year], "before_after data", IndicatorError)
    d = d[d["year"].isin([int(before_year), int(after_year)])]
    has_unit = "unit" in d.columns
    rows = []
    for key, grp in d.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        units = sorted({str(u) for u in grp["unit"].dropna()}) if has_unit else []
        if len(units) > 1:
            raise IndicatorError(
                f"before_after: {'/'.join(map(str, key))} has different units in the two years "
                f"({', '.join(units)})"
            )
        b = grp.loc[grp["year"] == int(before_year), value].sum(min_count=1)
        a = grp.loc[grp["year"] == int(after_year), value].sum(min_count=1)
        note = ""
        if _is_na(b) or _is_na(a):
            red = rate = pd.NA
            note = f"not reported in {before_year if _is_na(b) else after_year}"
        else:
            red = float(b) - float(a)
            if b == 0:
                rate = pd.NA
                note = "before is zero: reduction rate undefined"
            else:
                rate = red / float(b) * 100
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "unit": units[0] if units else pd.NA,
                "before": b,
                "after": a,
                "reduction": red,
                "reduction_rate_pct": rate,
                "note": note,
            }
        )
    out = pd.DataFrame(
        rows, columns=[*keys, "unit", "before", "after", "reduction", "reduction_rate_pct", "note"]
    )
    out = out.astype(
        {
            "before": "Float64",
            "after": "Float64",
            "reduction": "Float64",
            "reduction_rate_pct": "Float64",
        }
    )
    out.attrs["basis"] = {"before_year": int(before_year), "after_year": int(after_year)}
    return out


# --------------------------------------------------------------------------- targets


def attainment(
    targets: pd.DataFrame, *, metrics: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Target attainment (seed 004 clauses 5.2.13-5.2.14; report chapter on implementation).

    For each target: ``planned_change_near = near_term - baseline`` and its percentage of the
    baseline, ``achieved_change = achieved - baseline``; ``attained_near`` is
    ``achieved <= near_term`` for a ``decrease`` target and ``achieved >= near_term`` for an
    ``increase`` target; ``progress_near_pct = achieved_change / planned_change_near x 100``
    (the share of the planned improvement achieved; over 100 when exceeded). The same for the
    mid-term target when set.

    ``achieved`` comes from the targets table; where it is empty and the row names a
    ``metric`` found in ``metrics`` (e.g. ``{"energy_tce_per_product": 0.42}``), that value
    is used and ``achieved_source`` says so. A target that points the wrong way (a decrease
    target above its baseline) is an :class:`IndicatorError`.
    """
    _require(
        targets,
        ["target_id", "indicator", "unit", "direction", "baseline", "near_term"],
        "targets",
        IndicatorError,
    )
    metrics = dict(metrics or {})
    out_rows = []
    for _, r in targets.iterrows():
        tid = str(r["target_id"])
        direction = str(r["direction"])
        if direction not in ("decrease", "increase"):
            raise IndicatorError(
                f"targets {tid}: direction must be decrease or increase, got {direction!r}"
            )
        sign = -1.0 if direction == "decrease" else 1.0
        base = _float(r["baseline"])
        if base is None:
            raise IndicatorError(f"targets {tid}: no baseline value")
        notes = []
        achieved = _float(r.get("achieved"))
        source = "targets table" if achieved is not None else ""
        metric = r.get("metric")
        if achieved is None and not _is_na(metric) and str(metric) in metrics:
            achieved = _float(metrics[str(metric)])
            source = f"metric {metric}"
        if achieved is None:
            notes.append("no achieved value yet")
        rec = {
            "target_id": tid,
            "indicator": r["indicator"],
            "metric": metric if not _is_na(metric) else pd.NA,
            "unit": r["unit"],
            "direction": direction,
            "baseline": base,
            "achieved": achieved if achieved is not None else pd.NA,
            "achieved_source": source,
            "achieved_change": (achieved - base) if achieved is not None else pd.NA,
            "achieved_change_pct": (
                (achieved - base) / base * 100 if achieved is not None and base != 0 else pd.NA
            ),
        }
        for term in ("near_term", "mid_term"):
            target = _float(r.get(term))
            short = term.split("_")[0]
            rec[term] = target if target is not None else pd.NA
            rec[f"{term}_deadline"] = r.get(f"{term}_deadline", pd.NA)
            planned = pd.NA
            planned_pct = pd.NA
            attained = pd.NA
            progress = pd.NA
            if target is None:
                if term == "near_term":
                    raise IndicatorError(f"targets {tid}: no near-term target")
            else:
                planned = target - base
                if sign * planned < 0:
                    raise IndicatorError(
                        f"targets {tid}: the {term.replace('_', '-')} target {target:g} is not a "
                        f"{direction} from the baseline {base:g}"
                    )
                planned_pct = planned / base * 100 if base != 0 else pd.NA
                if achieved is not None:
                    attained = bool(sign * (achieved - target) >= 0)
                    if planned == 0:
                        notes.append(f"{short}-term target equals the baseline: no progress rate")
                    else:
                        progress = (achieved - base) / planned * 100
            rec[f"planned_change_{short}"] = planned
            rec[f"planned_change_{short}_pct"] = planned_pct
            rec[f"attained_{short}"] = attained
            rec[f"progress_{short}_pct"] = progress
        rec["note"] = "; ".join(notes)
        out_rows.append(rec)
    cols = [
        "target_id", "indicator", "metric", "unit", "direction", "baseline",
        "near_term", "near_term_deadline", "mid_term", "mid_term_deadline",
        "achieved", "achieved_source", "achieved_change", "achieved_change_pct",
        "planned_change_near", "planned_change_near_pct", "attained_near", "progress_near_pct",
        "planned_change_mid", "planned_change_mid_pct", "attained_mid", "progress_mid_pct",
        "note",
    ]  # fmt: skip
    out = pd.DataFrame(out_rows, columns=cols)
    floats = [
        "baseline", "near_term", "mid_term", "achieved", "achieved_change",
        "achieved_change_pct", "planned_change_near", "planned_change_near_pct",
        "progress_near_pct", "planned_change_mid", "planned_change_mid_pct", "progress_mid_pct",
    ]  # fmt: skip
    return out.astype(
        {**dict.fromkeys(floats, "Float64"), "attained_near": "boolean", "attained_mid": "boolean"}
    )


def _relative_change(first: float, last: float):
    """(last - first) / first x 100, or <NA> when undefined or not finite."""
    if first == 0:
        return pd.NA
    try:
        v = (last - first) / first * 100
    except OverflowError:
        return pd.NA
    return v if math.isfinite(v) else pd.NA


def _annual_rate(first: float, last: float, span: float):
    """Geometric mean annual change ((last/first)^(1/span) - 1) x 100, or <NA>."""
    if first <= 0 or last < 0 or span <= 0:
        return pd.NA
    try:
        v = ((last / first) ** (1 / span) - 1) * 100
    except OverflowError:
        return pd.NA
    return v if math.isfinite(v) else pd.NA


def _float(v) -> float | None:
    if _is_na(v):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None
