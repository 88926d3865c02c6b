"""Report chapter 3 (pre-assessment, 预评估): what notebook 02 shows, built from cpkit results.

Seed 004 clauses 5.2.1-5.2.15 ask the pre-assessment for the three-year status of
production, materials, equipment, energy, water and pollutants, the cleaner production
level, the audit focus, the targets and the options of this phase; Appendix B, chapter 3
is the report outline (sections 3.1-3.9). This module turns the maths of
:mod:`cpkit.indicators`, :mod:`cpkit.energy`, :mod:`cpkit.carbon`, :mod:`cpkit.water`,
:mod:`cpkit.grading`, :mod:`cpkit.scoring` and :mod:`cpkit.screening` into tables, charts
and text in the report language, so that the notebook's cells are calls only.

Two layers:

* plain functions, DataFrames in and out (inputs never modified), each unit-tested:
  :func:`parse_weights`, :func:`production_overview`, :func:`material_overview`,
  :func:`motor_summary`, :func:`equipment_findings`, :func:`intake_by_source`,
  :func:`waste_overview`, :func:`trend_index`, :func:`best_year`,
  :func:`focus_rule_check`, :func:`target_coverage`, :func:`phase_options`,
  :func:`level_conditions`, :func:`significant`;
* :class:`PreAssessment`, built once per notebook from the phase context
  (:func:`cpkit.notebook.open_phase`), whose section methods return :class:`Items` (a tuple of
  display objects that shows itself when it ends a cell). Results are computed once and
  cached on the object; an input problem found by the maths (a :class:`CpkitError`) is
  shown as a warning under the section heading, so the rest of the chapter still renders.

Every text comes from the message catalogue (``cpkit/messages/p2.yaml`` and the shared
``common.yaml``/``report.yaml``); numbers are formatted by :mod:`cpkit.i18n` or
:mod:`cpkit.display`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cpkit import display as cd
from cpkit import i18n, reference
from cpkit.errors import CpkitError

__all__ = [
    "FOCUS_RULES",
    "FocusRule",
    "Items",
    "PreAssessment",
    "best_year",
    "equipment_findings",
    "focus_rule_check",
    "intake_by_source",
    "level_conditions",
    "material_overview",
    "motor_listing_threshold_kw",
    "motor_summary",
    "parse_weights",
    "phase_options",
    "production_overview",
    "readable_scale",
    "significant",
    "target_coverage",
    "trend_index",
    "waste_overview",
]


def motor_listing_threshold_kw() -> float:
    """Rated power above which motors are listed with model, efficiency class and
    efficiency (seed 004 clause 5.2.6): ``motor_listing_threshold_kw`` in
    ``data/reference/energy/defaults.yaml`` (5.5 kW)."""
    return float(reference.load_yaml("energy/defaults.yaml")["motor_listing_threshold_kw"]["value"])


#: Motor efficiency classes (schema enum equipment.motor_efficiency_class), best first;
#: ``below_GB3`` is below the minimum grade of GB 18613-2020.
MOTOR_CLASSES = ("IE5", "IE4", "IE3", "IE2", "IE1", "GB1", "GB2", "GB3", "below_GB3")
NOT_RECORDED = "not_recorded"
#: How many materials the unit-consumption chart draws (the costliest, and toxic ones):
#: a presentation choice, so that the lines stay readable.
CHART_MATERIALS = 6
#: Status metrics screened for rising unit consumption in the site-inspection findings
#: (seed 004 clause 5.2.7 i), and how many are named before "and N more".
RISING_METRICS = (
    "material_per_product",
    "energy_per_product",
    "water_intake_per_product",
    "wastewater_per_product",
    "waste_per_product",
    "emission_per_product",
)
RISING_SHOWN = 8


# =========================================================================== display list
class Items(tuple):
    """Display objects of one section, in order; ``None`` entries are dropped and nested
    Items flattened. Ending a notebook cell with an Items shows every object as its own
    output (IPython calls ``_ipython_display_``)."""

    def __new__(cls, *items: Any) -> Items:
        flat: list[Any] = []
        for item in items:
            if item is None:
                continue
            if isinstance(item, Items):
                flat.extend(item)
            else:
                flat.append(item)
        return super().__new__(cls, flat)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        for item in self:
            display(item)


# =========================================================================== formatting
def significant(value: Any, lang: str, sig: int = 4, *, strip: bool = False) -> str:
    """``value`` with ``sig`` significant digits (GB/T 8170 rounding, thousands separators),
    for tables whose rows differ in magnitude (unit consumptions: 0.0001564 t/m2 next to
    41.0 kg/m2). Whole digits are never dropped: 12,345.6 with sig=4 gives 12,346.
    ``strip`` drops trailing zeros (for figures echoed from the data: 0.78, not 0.7800)."""
    if i18n.is_missing(value):
        return i18n.missing(lang)
    x = float(value)
    if not math.isfinite(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return i18n.fmt_number(0, lang, 0)
    digits = max(0, sig - 1 - math.floor(math.log10(abs(x))))
    text = i18n.fmt_number(x, lang, min(digits, 12))  # 4 digits down to 1e-9
    if strip and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _signed(value: Any, lang: str, digits: int = 1) -> str:
    if i18n.is_missing(value):
        return i18n.missing(lang)
    text = i18n.fmt_number(value, lang, digits)
    return text if text.startswith("-") or float(value) == 0 else "+" + text


def _na(value: Any) -> bool:
    return i18n.is_missing(value)


def _year_col(year: int, prefix: str = "y") -> str:
    return f"{prefix}{int(year)}"


#: Display ladder of smaller units (t -> kg -> g, m3 -> L): tables show 156 g/m2 rather
#: than 0.000156 t/m2. Presentation only; factors come from :mod:`cpkit.units`.
_SMALLER = {"t": "kg", "kg": "g", "m3": "L", "kWh": "Wh"}


def readable_scale(values: Iterable[Any], unit: Any, floor: float = 0.1) -> tuple[float, str]:
    """(factor, unit) to show ``values`` (given in ``unit``, simple or ``num/den``) so that
    the largest magnitude is at least ``floor``: the numerator steps down the ladder
    t -> kg -> g, m3 -> L, kWh -> Wh while the values stay below ``floor``. Missing and zero
    values are ignored; a unit off the ladder is kept (factor 1)."""
    from cpkit import units

    if _na(unit) or not str(unit):
        return 1.0, "" if _na(unit) else str(unit)
    num, sep, den = str(unit).partition("/")
    mags = [abs(float(v)) for v in values if not _na(v) and float(v) != 0]
    if not mags:
        return 1.0, str(unit)
    top, factor, cur = max(mags), 1.0, num
    while top * factor < floor and cur in _SMALLER:
        factor *= round(units.conversion_factor(cur, _SMALLER[cur]), 9)
        cur = _SMALLER[cur]
    return factor, cur + sep + den


# =========================================================================== parameters
def parse_weights(weights: Any) -> dict[str, float] | None:
    """The notebook parameter ``weights`` as ``{criterion_id: W}``.

    Accepts None (no override), a mapping, a JSON object text (``'{"toxicity": 8}'``, what
    ``papermill -p`` passes) or ``"toxicity=8, consumption=7"``. Values must be numbers;
    whether the criterion exists and W is on the scale is checked by :mod:`cpkit.scoring`.
    """
    if weights is None:
        return None
    if isinstance(weights, str):
        text = weights.strip()
        if not text or text.lower() in ("none", "null"):
            return None
        if text.startswith("{"):
            try:
                weights = json.loads(text)
            except json.JSONDecodeError as exc:
                raise CpkitError(
                    f"parameter weights is not valid JSON ({exc.msg}): {text!r}"
                ) from None
        else:
            pairs = {}
            for part in re.split(r"[,;\n]", text):
                if not part.strip():
                    continue
                if "=" not in part and ":" not in part:
                    raise CpkitError(
                        f"parameter weights: {part.strip()!r} is not criterion=weight "
                        '(e.g. weights = "toxicity=8, consumption=7" or a dict)'
                    )
                key, _, value = part.replace(":", "=", 1).partition("=")
                pairs[key.strip()] = value.strip()
            weights = pairs
    if not isinstance(weights, Mapping):
        raise CpkitError(
            f"parameter weights must be a mapping criterion -> weight, got {type(weights).__name__}"
        )
    out: dict[str, float] = {}
    for key, value in weights.items():
        try:
            w = float(value)
        except (TypeError, ValueError):
            raise CpkitError(
                f"parameter weights: the weight of {key!r} is not a number: {value!r}"
            ) from None
        if not math.isfinite(w):
            raise CpkitError(f"parameter weights: the weight of {key!r} is not finite")
        out[str(key)] = w
    return out or None


# =========================================================================== 3.1 tables
def _history_years(history: pd.DataFrame, years: Sequence[int]) -> pd.DataFrame:
    h = history.copy()
    h["year"] = pd.to_numeric(h["year"], errors="coerce").astype("Int64")
    h["quantity"] = pd.to_numeric(h["quantity"], errors="coerce").astype("Float64")
    return h[h["year"].isin([int(y) for y in years])]


def _pivot_years(
    rows: pd.DataFrame, key: str, years: Sequence[int], value: str = "quantity"
) -> pd.DataFrame:
    """Sum ``value`` per ``key`` and year into columns y<year> (NA where no row)."""
    if rows.empty:
        return pd.DataFrame(columns=[key, *[_year_col(y) for y in years]])
    p = rows.pivot_table(index=key, columns="year", values=value, aggfunc="sum", observed=True)
    p = p.reindex(columns=[int(y) for y in years])
    p.columns = [_year_col(y) for y in p.columns]
    return p.reset_index().astype({_year_col(y): "Float64" for y in years})


def _change_pct(first: Any, last: Any) -> Any:
    if _na(first) or _na(last) or float(first) == 0:
        return pd.NA
    return (float(last) - float(first)) / float(first) * 100


def production_overview(
    history: pd.DataFrame, products: pd.DataFrame, years: Sequence[int]
) -> pd.DataFrame:
    """Products and output value over the history years (seed 004 clause 5.2.3).

    One row per product (in the products table's order: ``item_id, name, spec, unit, main``)
    then one row ``output_value`` (unit ``10k_CNY``). Year columns ``y<year>`` hold the
    annual output (product unit) or output value (10^4 CNY); ``change_pct`` is
    (last year - first year) / first year x 100. Columns: ``kind`` (product | output_value),
    ``item_id, name, spec, unit, main, y<year>..., change_pct``.
    """
    h = _history_years(history, years)
    prod = _pivot_years(h[h["category"] == "product"], "item", years)
    rows = []
    by_id = prod.set_index("item") if not prod.empty else pd.DataFrame()
    for p in products.itertuples(index=False):
        pid = str(p.product_id)
        rec = {
            "kind": "product",
            "item_id": pid,
            "name": p.name,
            "spec": getattr(p, "spec", pd.NA),
            "unit": p.unit,
            "main": bool(p.main) if not _na(getattr(p, "main", pd.NA)) else False,
        }
        for y in years:
            col = _year_col(y)
            rec[col] = by_id.at[pid, col] if pid in getattr(by_id, "index", []) else pd.NA
        rows.append(rec)
    val = _pivot_years(h[h["category"] == "output_value"], "category", years)
    rec = {
        "kind": "output_value",
        "item_id": "output_value",
        "name": pd.NA,
        "spec": pd.NA,
        "unit": "10k_CNY",
        "main": False,
    }
    for y in years:
        col = _year_col(y)
        rec[col] = val[col].iloc[0] if not val.empty else pd.NA
    rows.append(rec)
    ycols = [_year_col(y) for y in years]
    out = pd.DataFrame(rows, columns=["kind", "item_id", "name", "spec", "unit", "main", *ycols])
    out["change_pct"] = [_change_pct(r[ycols[0]], r[ycols[-1]]) for _, r in out.iterrows()]
    return out.astype({**dict.fromkeys(ycols, "Float64"), "change_pct": "Float64"})


def material_overview(
    status_table: pd.DataFrame,
    trends_table: pd.DataFrame,
    materials: pd.DataFrame,
    history: pd.DataFrame,
    years: Sequence[int],
) -> pd.DataFrame:
    """Raw and auxiliary materials over the history years (seed 004 clauses 5.2.4, 5.2.8 a).

    One row per material of the materials table: ``material_id, name, kind, composition,
    function, toxic, hazard, unit`` (unit of use), annual use ``use_<year>`` (unit of use),
    annual cost ``cost_<year>`` (10^4 CNY), unit consumption ``uc_<year>`` per unit of the
    main product (from :func:`cpkit.indicators.status`, metric ``material_per_product``),
    ``uc_unit`` (e.g. ``kg/m2``), ``uc_change_pct`` over the period and ``direction``
    (up / down / flat, from :func:`cpkit.indicators.trends`). Toxic materials first.
    """
    st = status_table[status_table["metric"] == "material_per_product"]
    use = _pivot_years(
        st.rename(columns={"item": "material_id"}), "material_id", years, "numerator"
    )
    uc = _pivot_years(st.rename(columns={"item": "material_id"}), "material_id", years, "value")
    h = _history_years(history, years)
    mat_rows = h[h["category"] == "material"].rename(columns={"item": "material_id"})
    if "cost_10k_cny" in mat_rows.columns:
        mat_rows = mat_rows.assign(cost_10k_cny=pd.to_numeric(mat_rows["cost_10k_cny"]))
        cost = _pivot_years(mat_rows, "material_id", years, "cost_10k_cny")
    else:
        cost = pd.DataFrame(columns=["material_id", *[_year_col(y) for y in years]])
    tr = trends_table[trends_table["metric"] == "material_per_product"].set_index("item")
    uc_unit = st.drop_duplicates("item").set_index("item")["unit"] if not st.empty else {}
    use_i = use.set_index("material_id")
    uc_i = uc.set_index("material_id")
    cost_i = cost.set_index("material_id")
    rows = []
    for m in materials.itertuples(index=False):
        mid = str(m.material_id)
        rec = {
            "material_id": mid,
            "name": m.name,
            "kind": m.kind,
            "composition": getattr(m, "composition", pd.NA),
            "function": getattr(m, "function", pd.NA),
            "toxic": bool(m.toxic) if not _na(m.toxic) else False,
            "hazard": getattr(m, "hazard", pd.NA),
            "unit": m.unit,
        }
        for y in years:
            col = _year_col(y)
            rec[f"use_{y}"] = use_i.at[mid, col] if mid in use_i.index else pd.NA
            rec[f"cost_{y}"] = cost_i.at[mid, col] if mid in cost_i.index else pd.NA
            rec[f"uc_{y}"] = uc_i.at[mid, col] if mid in uc_i.index else pd.NA
        rec["uc_unit"] = uc_unit.get(mid, pd.NA) if hasattr(uc_unit, "get") else pd.NA
        if mid in tr.index:
            rec["uc_change_pct"] = tr.at[mid, "period_change_pct"]
            rec["direction"] = tr.at[mid, "direction"]
        else:
            rec["uc_change_pct"] = pd.NA
            rec["direction"] = pd.NA
        rows.append(rec)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    num = [c for c in out.columns if re.match(r"(use|cost|uc)_\d{4}$", c)] + ["uc_change_pct"]
    out = out.astype(dict.fromkeys(num, "Float64"))
    order = out["toxic"].map({True: 0, False: 1})
    return (
        out.assign(_o=order)
        .sort_values("_o", kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def motor_summary(equipment: pd.DataFrame, threshold_kw: float | None = None) -> pd.DataFrame:
    """Motors above ``threshold_kw`` by efficiency class (seed 004 clause 5.2.6; default
    :func:`motor_listing_threshold_kw`, 5.5 kW).

    A motor is an equipment row with a motor model or a motor efficiency class and a rated
    power above the threshold. Columns: ``efficiency_class`` (schema ids in the order of
    :data:`MOTOR_CLASSES`, then ``not_recorded``), ``units`` (sum of quantity),
    ``power_kw`` (sum of rated power x quantity), ``share_pct`` (of the motors' kW),
    ``equipment_ids`` (; separated). Classes without motors are left out.
    """
    cols = ["efficiency_class", "units", "power_kw", "share_pct", "equipment_ids"]
    if threshold_kw is None:
        threshold_kw = motor_listing_threshold_kw()
    if equipment.empty:
        return pd.DataFrame(columns=cols)
    e = equipment
    kw = pd.to_numeric(e["rated_power_kw"], errors="coerce").astype("Float64")
    qty = pd.to_numeric(e["quantity"], errors="coerce").astype("Float64").fillna(1.0)
    has_model = e["motor_model"].notna() if "motor_model" in e else False
    cls = (
        e["motor_efficiency_class"].astype("string")
        if "motor_efficiency_class" in e
        else pd.Series(pd.NA, index=e.index, dtype="string")
    )
    motor = ((has_model | cls.notna()) & (kw > float(threshold_kw)).fillna(False)).to_numpy(
        dtype=bool
    )
    m = pd.DataFrame(
        {
            "equipment_id": e["equipment_id"].astype(str),
            "efficiency_class": cls.fillna(NOT_RECORDED),
            "units": qty,
            "power_kw": kw * qty,
        }
    )[motor]
    if m.empty:
        return pd.DataFrame(columns=cols)
    g = m.groupby("efficiency_class", sort=False).agg(
        units=("units", "sum"),
        power_kw=("power_kw", "sum"),
        equipment_ids=("equipment_id", lambda s: ";".join(s)),
    )
    order = [c for c in (*MOTOR_CLASSES, NOT_RECORDED) if c in g.index]
    order += sorted(set(g.index) - set(order))
    g = g.reindex(order).reset_index()
    total = float(g["power_kw"].sum())
    g["share_pct"] = g["power_kw"] / total * 100 if total > 0 else pd.NA
    return g[cols].astype({"units": "Float64", "power_kw": "Float64", "share_pct": "Float64"})


def equipment_findings(equipment: pd.DataFrame) -> pd.DataFrame:
    """Equipment to flag (seed 004 clauses 5.2.6, 5.2.7 g and 5.2.9): rows listed in an
    elimination catalogue (``obsolete``) and motors below the minimum efficiency grade
    (``below_GB3``). Columns: ``equipment_id, name, location, quantity, rated_power_kw,
    manufacture_year, reason`` (``obsolete`` | ``below_min_efficiency``; a row with both
    appears twice)."""
    cols = [
        "equipment_id",
        "name",
        "location",
        "quantity",
        "rated_power_kw",
        "manufacture_year",
        "reason",
    ]
    rows = []
    for r in equipment.itertuples(index=False):
        reasons = []
        if not _na(getattr(r, "obsolete", pd.NA)) and bool(r.obsolete):
            reasons.append("obsolete")
        if str(getattr(r, "motor_efficiency_class", "")) == "below_GB3":
            reasons.append("below_min_efficiency")
        for reason in reasons:
            rows.append(
                {
                    "equipment_id": r.equipment_id,
                    "name": r.name,
                    "location": getattr(r, "location", pd.NA),
                    "quantity": r.quantity,
                    "rated_power_kw": getattr(r, "rated_power_kw", pd.NA),
                    "manufacture_year": getattr(r, "manufacture_year", pd.NA),
                    "reason": reason,
                }
            )
    return pd.DataFrame(rows, columns=cols)


def intake_by_source(history: pd.DataFrame, years: Sequence[int]) -> pd.DataFrame:
    """Water intake per source and year (seed 004 clause 5.2.8 c; history category
    ``water_intake``, m3). Columns: ``source_id, name_zh, name_en, conventional,
    y<year>...`` (m3/a), ``cost_<year>`` (10^4 CNY), ``share_pct`` (of the last year's
    intake), sources in the order of ``data/reference/water/sources.csv``."""
    h = _history_years(history, years)
    rows = h[h["category"] == "water_intake"].rename(columns={"item": "source_id"})
    q = _pivot_years(rows, "source_id", years)
    if "cost_10k_cny" in rows.columns and not rows.empty:
        rows = rows.assign(cost_10k_cny=pd.to_numeric(rows["cost_10k_cny"]))
        c = _pivot_years(rows, "source_id", years, "cost_10k_cny")
        c.columns = ["source_id", *[f"cost_{y}" for y in years]]
        q = q.merge(c, on="source_id", how="left")
    else:
        for y in years:
            q[f"cost_{y}"] = pd.NA
    src = reference.table("water/sources.csv")
    src["order"] = range(len(src))
    src["conventional"] = src["conventional"].astype(str).str.lower() == "true"
    out = q.merge(src, on="source_id", how="left").sort_values("order", kind="stable")
    out["name_zh"] = out["name_zh"].fillna(out["source_id"])
    out["name_en"] = out["name_en"].fillna(out["source_id"])
    last = _year_col(years[-1])
    total = out[last].sum(min_count=1) if not out.empty else pd.NA
    out["share_pct"] = out[last] / total * 100 if not _na(total) and float(total) > 0 else pd.NA
    cols = [
        "source_id",
        "name_zh",
        "name_en",
        "conventional",
        *[_year_col(y) for y in years],
        *[f"cost_{y}" for y in years],
        "share_pct",
    ]
    return (
        out[cols]
        .reset_index(drop=True)
        .astype({**{f"cost_{y}": "Float64" for y in years}, "share_pct": "Float64"})
    )


def waste_overview(
    history: pd.DataFrame, wastes: pd.DataFrame, years: Sequence[int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Solid wastes per year (seed 004 clause 5.2.8 d): (per waste, per class).

    Per waste: ``waste_id, name, class, hw_code, source, disposal, y<year>...`` (t/a),
    hazardous first. Per class: ``class`` (hazardous, general), ``y<year>...`` (t/a) and
    ``count`` (wastes of the class). A waste without a history row in a year is <NA>.
    """
    h = _history_years(history, years)
    q = _pivot_years(
        h[h["category"] == "waste"].rename(columns={"item": "waste_id"}), "waste_id", years
    )
    w = wastes.copy()
    w["waste_id"] = w["waste_id"].astype(str)
    per = w.merge(q, on="waste_id", how="left")
    per["_o"] = per["class"].map({"hazardous": 0, "general": 1}).fillna(2)
    per = per.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
    ycols = [_year_col(y) for y in years]
    keep = ["waste_id", "name", "class", "hw_code", "source", "disposal", *ycols]
    per = per[[c for c in keep if c in per.columns]]
    classes = []
    for cls in ("hazardous", "general"):
        sub = per[per["class"] == cls]
        rec: dict[str, Any] = {"class": cls, "count": len(sub)}
        for c in ycols:
            rec[c] = sub[c].sum(min_count=1) if len(sub) else pd.NA
        classes.append(rec)
    by_class = pd.DataFrame(classes, columns=["class", *ycols, "count"]).astype(
        dict.fromkeys(ycols, "Float64")
    )
    return per, by_class


def trend_index(status_table: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Each status series as an index of its first year with a value (first year = 100):
    ``index = value / first value x 100`` (seed 004 clause 5.2.8: 单耗变化规律). Series
    whose first value is 0 or missing are left out. Columns: ``metric, item, name, unit,
    year, value, index``."""
    cols = ["metric", "item", "name", "unit", "year", "value", "index"]
    st = status_table[status_table["metric"].isin(list(metrics))]
    rows = []
    for (metric, item), g in st.groupby(["metric", "item"], sort=False):
        g = g.dropna(subset=["value"]).sort_values("year")
        if g.empty or float(g["value"].iloc[0]) == 0:
            continue
        first = float(g["value"].iloc[0])
        for r in g.itertuples(index=False):
            rows.append(
                {
                    "metric": metric,
                    "item": item,
                    "name": r.name,
                    "unit": r.unit,
                    "year": int(r.year),
                    "value": float(r.value),
                    "index": float(r.value) / first * 100,
                }
            )
    return pd.DataFrame(rows, columns=cols)


def best_year(status_table: pd.DataFrame, baseline_year: int) -> pd.DataFrame:
    """Baseline year against the enterprise's best year (seed 004 clause 5.2.10: without an
    indicator system, compare with the enterprise's own best historical level).

    Every status metric is a consumption or generation per unit, so smaller is better.
    One row per ``metric, item``: ``name, unit, baseline`` (value of the baseline year),
    ``best, best_year`` (smallest value and its year), ``gap_pct`` = (baseline - best) /
    best x 100 (0 when the baseline year is the best)."""
    cols = ["metric", "item", "name", "unit", "baseline", "best", "best_year", "gap_pct"]
    rows = []
    for (metric, item), g in status_table.groupby(["metric", "item"], sort=False):
        g = g.dropna(subset=["value"])
        base = g[g["year"] == int(baseline_year)]
        if g.empty or base.empty:
            continue
        b = float(base["value"].iloc[0])
        i = g["value"].astype(float).idxmin()
        best, year = float(g.at[i, "value"]), int(g.at[i, "year"])
        rows.append(
            {
                "metric": metric,
                "item": item,
                "name": g["name"].iloc[0],
                "unit": g["unit"].iloc[0],
                "baseline": b,
                "best": best,
                "best_year": year,
                "gap_pct": (b - best) / best * 100 if best != 0 else pd.NA,
            }
        )
    return pd.DataFrame(rows, columns=cols).astype(
        {"baseline": "Float64", "best": "Float64", "gap_pct": "Float64", "best_year": "Int64"}
    )


# =========================================================================== 3.6 grading
def _level_rank(level: Any, levels: Sequence[str]) -> int:
    if _na(level) or str(level) not in levels:
        return len(levels)
    return list(levels).index(str(level))


def level_conditions(result: Any, system: Any) -> pd.DataFrame:
    """Every condition of every level rule with its actual value and whether it holds
    (seed 004 clause 5.2.9; calculation reference 3.3), in rule order.

    Columns: ``rule`` (index), ``level``, ``kind`` (score | restrictive | non_restrictive),
    ``score`` (e.g. ``Y_II``), ``required`` (minimum score or level id), ``actual``
    (the score, for score conditions), ``below`` (ids of the indicators below the level,
    ; separated, for the other kinds), ``holds``, ``rule_holds``, ``decides`` (the first
    rule that holds). Read from ``result.rules`` of :func:`cpkit.grading.grade`.
    """
    from cpkit import grading

    ind = result.indicators
    levels = tuple(result.levels)
    flags = list(result.rules["holds"]) if len(result.rules) else []
    rows = []
    k = 0
    for idx, rule in enumerate(system.level_rules):
        start = k
        for cond in rule.all_:
            if isinstance(cond, grading.ScoreCondition):
                rec = {
                    "kind": "score",
                    "score": cond.score,
                    "required": float(cond.min_),
                    "actual": result.scores.get(cond.score, pd.NA),
                    "below": "",
                }
            else:
                restrictive = isinstance(cond, grading.RestrictiveCondition)
                lv = cond.restrictive_at_least if restrictive else cond.non_restrictive_at_least
                sel = ind[ind["applicable"].fillna(False) & (ind["restrictive"] == restrictive)]
                below = [
                    str(r.indicator_id)
                    for r in sel.itertuples(index=False)
                    if _level_rank(r.level, levels) > _level_rank(lv, levels)
                ]
                rec = {
                    "kind": "restrictive" if restrictive else "non_restrictive",
                    "score": pd.NA,
                    "required": lv,
                    "actual": pd.NA,
                    "below": ";".join(below),
                }
            rec.update(
                rule=idx, level=rule.level, holds=bool(flags[k]) if k < len(flags) else False
            )
            rows.append(rec)
            k += 1
        holds = all(r["holds"] for r in rows[start:k])
        for r in rows[start:k]:
            r["rule_holds"] = holds
    out = pd.DataFrame(
        rows,
        columns=[
            "rule",
            "level",
            "kind",
            "score",
            "required",
            "actual",
            "below",
            "holds",
            "rule_holds",
        ],
    )
    out["decides"] = out["rule"] == result.rule_index if result.rule_index is not None else False
    return out


# =========================================================================== 3.7 / 3.8 rules
@dataclass(frozen=True)
class FocusRule:
    """One sentence of seed 004 clause 5.2.12 (and its target counterpart in 5.2.14 b-f):
    an enterprise of ``category`` puts ``evidence`` at the centre of the audit."""

    category: str
    evidence: str  # exceeding_pollutants | toxic_items | energy | water | key_pollutants
    target_clause: str


#: Seed 004 clause 5.2.12 (audit focus) and 5.2.14 b-f (targets), one rule per category.
FOCUS_RULES: tuple[FocusRule, ...] = (
    FocusRule("double_exceeding", "exceeding_pollutants", "5.2.14 b"),
    FocusRule("double_toxic", "toxic_items", "5.2.14 c"),
    FocusRule("key_energy_user", "energy", "5.2.14 d"),
    FocusRule("key_water_user", "water", "5.2.14 e"),
    FocusRule("key_pollution_source", "key_pollutants", "5.2.14 f"),
)


def _name_tokens(names: Iterable[Any]) -> list[str]:
    """Search tokens of data names: the name and its parts split at brackets and list
    separators (``镍阳极（电解镍板、镍角）`` -> 镍阳极, 电解镍板, 镍角), at least 2 characters."""
    out: list[str] = []
    for name in names:
        if _na(name):
            continue
        text = str(name).strip()
        parts = [text, *re.split(r"[（）()\[\]【】、，,;；/]+", text)]
        for p in parts:
            p = p.strip()
            if len(p) >= 2 and p not in out:
                out.append(p)
    return out


def _terms(kind: str) -> list[str]:
    """Words that name a subject in either language (catalogue ``p2.terms.<kind>``)."""
    key = f"p2.terms.{kind}"
    if not i18n.has(key):
        return []
    words: list[str] = []
    for lang in i18n.LANGS:
        words += [w.strip() for w in i18n.raw(key, lang).split(";") if w.strip()]
    return words


def _mentions(text: Any, words: Sequence[str]) -> list[str]:
    if _na(text):
        return []
    low = str(text).lower()
    return [w for w in words if w.lower() in low]


def _evidence(
    kind: str,
    compliance_table: pd.DataFrame | None,
    materials: pd.DataFrame,
    pollutants: pd.DataFrame,
    energy_structure: pd.DataFrame | None,
    intake: pd.DataFrame | None,
) -> tuple[list[str], list[str]]:
    """(ids, names) of the data items a 5.2.12 rule points at."""
    ids: list[str] = []
    names: list[str] = []
    if kind == "exceeding_pollutants" and compliance_table is not None:
        c = compliance_table
        bad = c[(c["compliant"] == False) | (c["within_cap"] == False)]  # noqa: E712
        ids, names = list(bad["pollutant_id"].astype(str)), list(bad["name"].astype(str))
    elif kind == "toxic_items":
        tm = materials[materials["toxic"].fillna(False).astype(bool)]
        tp = (
            pollutants[pollutants["toxic"].fillna(False).astype(bool)]
            if "toxic" in pollutants
            else pollutants.iloc[0:0]
        )
        ids = list(tm["material_id"].astype(str)) + list(tp["pollutant_id"].astype(str))
        names = list(tm["name"].astype(str)) + list(tp["name"].astype(str))
    elif kind == "energy" and energy_structure is not None and not energy_structure.empty:
        last = energy_structure[energy_structure["year"] == energy_structure["year"].max()]
        ids = list(last["carrier_id"].astype(str))
        names = list(last["name_zh"].astype(str)) + list(last["name_en"].astype(str))
    elif kind == "water" and intake is not None and not intake.empty:
        ids = list(intake["source_id"].astype(str))
        names = list(intake["name_zh"].astype(str)) + list(intake["name_en"].astype(str))
    elif kind == "key_pollutants":
        p = pollutants
        cap = pd.to_numeric(p["cap_t"], errors="coerce").notna() if "cap_t" in p else False
        first = p["first_class"].fillna(False).astype(bool) if "first_class" in p else False
        key = p[cap | first]
        ids, names = list(key["pollutant_id"].astype(str)), list(key["name"].astype(str))
    return ids, names


def focus_rule_check(
    categories: Sequence[str],
    candidates: pd.DataFrame,
    chosen: str | None,
    *,
    materials: pd.DataFrame,
    pollutants: pd.DataFrame,
    compliance_table: pd.DataFrame | None = None,
    energy_structure: pd.DataFrame | None = None,
    intake: pd.DataFrame | None = None,
    rules: Sequence[FocusRule] = FOCUS_RULES,
) -> pd.DataFrame:
    """Does the chosen audit focus follow seed 004 clause 5.2.12 for the enterprise's
    categories (双超 -> the part where the exceeding pollutant arises; 双有 -> the toxic part
    or substance; key energy user -> the energy system; key water user -> the water
    system; key pollution source -> its key pollutants)?

    For each rule whose category the enterprise has: the data items it points at
    (exceeding pollutants from ``compliance_table``, toxic materials and pollutants, the
    energy carriers and water sources used, pollutants under a total-quantity cap or of
    GB 8978 class one), and the candidates whose name or reasons mention one of those items
    or a subject word of the catalogue (``p2.terms.<evidence>``, both languages).

    Columns: ``category, evidence, items`` (names, ; separated), ``matching`` (candidate
    ids, ; separated), ``chosen``, ``verdict``: ``agrees`` (the chosen focus mentions it),
    ``disagrees`` (other candidates do, the chosen one does not: record why),
    ``unclear`` (no candidate mentions it: the team confirms by hand), ``no_items`` (the
    data show nothing the rule points at, e.g. no exceedance although the enterprise is
    listed as double-exceeding). A text screen, not a proof: the report says so.
    """
    cols = ["category", "evidence", "items", "matching", "chosen", "verdict"]
    rows = []
    for rule in rules:
        if rule.category not in set(categories):
            continue
        ids, names = _evidence(
            rule.evidence, compliance_table, materials, pollutants, energy_structure, intake
        )
        words = _name_tokens(names) + _terms(rule.evidence)
        matching = []
        for c in candidates.itertuples(index=False):
            reasons = getattr(c, "reasons", None)
            text = f"{c.name} {'' if _na(reasons) else reasons}"
            if _mentions(text, words):
                matching.append(str(c.candidate_id))
        if rule.evidence in ("exceeding_pollutants", "toxic_items", "key_pollutants") and not ids:
            verdict = "no_items"
        elif chosen is not None and chosen in matching:
            verdict = "agrees"
        elif matching:
            verdict = "disagrees"
        else:
            verdict = "unclear"
        shown = list(dict.fromkeys(names))[: len(ids) or len(names)]
        rows.append(
            {
                "category": rule.category,
                "evidence": rule.evidence,
                "items": ";".join(shown),
                "matching": ";".join(matching),
                "chosen": chosen if chosen is not None else pd.NA,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def target_coverage(
    targets: pd.DataFrame,
    categories: Sequence[str],
    *,
    lagging: pd.DataFrame | None,
    materials: pd.DataFrame,
    pollutants: pd.DataFrame,
    compliance_table: pd.DataFrame | None = None,
    energy_structure: pd.DataFrame | None = None,
    intake: pd.DataFrame | None = None,
    levels: Sequence[str] = ("I", "II", "III"),
    rules: Sequence[FocusRule] = FOCUS_RULES,
) -> pd.DataFrame:
    """Which of the targets seed 004 clause 5.2.14 requires are set.

    * a) an enterprise below the indicator system's requirement sets targets that reach it:
      every lagging indicator (:func:`cpkit.grading.lagging_indicators`) is checked for a
      target whose ``metric`` is its id or whose text names it; a missing target is
      ``required`` when the indicator is below the lowest level (it blocks any level),
      otherwise ``advised``;
    * b)-f) per category (the :data:`FOCUS_RULES`): a target on the items the rule points
      at (metric = item id, or the target's text names the item or a subject word).

    Columns: ``clause, subject`` (indicator id or category), ``name`` (indicator name zh;
    empty for categories), ``targets`` (ids, ; separated), ``need`` (required | advised),
    ``covered`` (bool).
    """
    cols = ["clause", "subject", "name", "name_en", "targets", "need", "covered"]
    t = targets
    text = (
        t["indicator"].astype(str)
        + " "
        + t.get("metric", pd.Series("", index=t.index)).fillna("").astype(str)
    )
    metric = t["metric"].astype("string") if "metric" in t else pd.Series(pd.NA, index=t.index)
    rows = []
    if lagging is not None:
        lowest = levels[-1]
        for r in lagging.itertuples(index=False):
            hits = [
                str(tid)
                for tid, m, tx in zip(t["target_id"], metric, text, strict=True)
                if (not _na(m) and str(m) == str(r.indicator_id))
                or _mentions(tx, [r.name_zh, r.name_en])
            ]
            rows.append(
                {
                    "clause": "5.2.14 a",
                    "subject": str(r.indicator_id),
                    "name": r.name_zh,
                    "name_en": r.name_en,
                    "targets": ";".join(hits),
                    "need": "required" if r.next_level == lowest else "advised",
                    "covered": bool(hits),
                }
            )
    for rule in rules:
        if rule.category not in set(categories):
            continue
        ids, names = _evidence(
            rule.evidence, compliance_table, materials, pollutants, energy_structure, intake
        )
        words = _name_tokens(names) + _terms(rule.evidence)
        hits = [
            str(tid)
            for tid, m, tx in zip(t["target_id"], metric, text, strict=True)
            if (not _na(m) and str(m) in ids) or _mentions(tx, words)
        ]
        rows.append(
            {
                "clause": rule.target_clause,
                "subject": rule.category,
                "name": pd.NA,
                "name_en": pd.NA,
                "targets": ";".join(hits),
                "need": "required",
                "covered": bool(hits),
            }
        )
    return pd.DataFrame(rows, columns=cols)


# =========================================================================== 3.9 options
def phase_options(
    options: pd.DataFrame,
    implementation: pd.DataFrame,
    phase: int = 2,
    *,
    thresholds: Any = None,
) -> pd.DataFrame:
    """Options proposed in ``phase`` (seed 004 clause 5.2.15: the no/low-cost options the
    pre-assessment finds and carries out at once) with their status and results.

    Columns: ``option_id, name, aspect, cost_class`` (given, else by the investment
    thresholds, :func:`cpkit.screening.classify_cost`), ``investment_10k_cny`` (actual
    when implemented and recorded, else planned), ``benefit_10k_cny`` (annual economic
    benefit: the implementation's actual figure, else the expected cost saving + revenue
    increase), ``benefit_basis`` (actual | expected), ``status, evaluation``.
    """
    from cpkit import screening

    cols = [
        "option_id",
        "name",
        "aspect",
        "cost_class",
        "investment_10k_cny",
        "benefit_10k_cny",
        "benefit_basis",
        "status",
        "evaluation",
    ]
    o = options[pd.to_numeric(options["phase_proposed"], errors="coerce") == int(phase)]
    if o.empty:
        return pd.DataFrame(columns=cols)
    classes = screening.classify_cost(o, thresholds).set_index("option_id")["cost_class"]
    imp = implementation.set_index(implementation["option_id"].astype(str))
    rows = []
    for r in o.itertuples(index=False):
        oid = str(r.option_id)
        inv = r.investment_10k_cny
        benefit, basis, evaluation = pd.NA, "expected", pd.NA
        if oid in imp.index:
            i = imp.loc[oid]
            if not _na(i.get("actual_investment_10k_cny")):
                inv = i["actual_investment_10k_cny"]
            if not _na(i.get("actual_annual_benefit_10k_cny")):
                benefit, basis = i["actual_annual_benefit_10k_cny"], "actual"
            evaluation = i.get("evaluation", pd.NA)
        if basis == "expected":
            parts = [
                getattr(r, "annual_cost_saving_10k_cny", pd.NA),
                getattr(r, "annual_revenue_increase_10k_cny", pd.NA),
            ]
            given = [float(p) for p in parts if not _na(p)]
            benefit = sum(given) if given else pd.NA
        rows.append(
            {
                "option_id": oid,
                "name": r.name,
                "aspect": r.aspect,
                "cost_class": classes.get(oid, pd.NA),
                "investment_10k_cny": inv,
                "benefit_10k_cny": benefit,
                "benefit_basis": basis,
                "status": r.status,
                "evaluation": evaluation,
            }
        )
    return pd.DataFrame(rows, columns=cols).astype(
        {"investment_10k_cny": "Float64", "benefit_10k_cny": "Float64"}
    )


# =========================================================================== the chapter
def _total_row(values: Mapping[str, Any]) -> dict[str, Any]:
    """A table's total row with empty sums as None (shown as the missing mark)."""
    return {k: (None if _na(v) else v) for k, v in values.items()}


def _safe(builder: Callable[[], Items], warn: Callable[[CpkitError], Any]) -> Items:
    try:
        return builder()
    except CpkitError as exc:
        return Items(warn(exc))


class PreAssessment:
    """Chapter 3 of the report for one enterprise: results computed once, sections shown
    on demand. ``ctx`` is the :class:`cpkit.notebook.PhaseContext`; ``weights`` the
    notebook parameter (see :func:`parse_weights`) applied to the audit-focus scoring.

    Section methods return :class:`Items`; teaching methods return nothing unless
    ``ctx.teaching``; :meth:`focus_explorer` shows weight sliders when ``ctx.interactive``.
    """

    def __init__(self, ctx: Any, *, weights: Any = None):
        self.ctx = ctx
        self.ds = ctx.ds
        self.lang = ctx.lang
        self.tables = ctx.ds.tables
        self.profile = ctx.ds.profile
        self.params = ctx.ds.parameters
        self.weights = parse_weights(weights)
        self.years = sorted(int(y) for y in self.profile.history_years)
        self.baseline = int(self.profile.baseline_year)
        if self.baseline not in self.years:
            self.years = sorted({*self.years, self.baseline})
        from cpkit import scoring

        # weights are checked now, so a wrong one is reported at the top of the notebook
        self.criteria = scoring.criteria(self.tables["focus_criteria"], weights=self.weights)
        scale = scoring.score_scale()
        for cid, w in (self.weights or {}).items():
            if not scale.weight_min <= w <= scale.weight_max:
                raise CpkitError(
                    f"parameter weights: W = {w:g} for {cid} is outside the scale "
                    f"{scale.weight_min:g}-{scale.weight_max:g} (data/reference/scoring/scales.yaml)"
                )
        # the electricity basis is a notebook parameter: a basis without a figure for the
        # history years (equal value) is reported here, once, rather than in every section
        self.tce_rows  # noqa: B018

    # ------------------------------------------------------------------ text helpers
    def t(self, key: str, **fmt: Any) -> str:
        """A ``p2.*`` message in the notebook's language."""
        return i18n.t(f"p2.{key}", self.lang, **fmt)

    def c(self, key: str, **fmt: Any) -> str:
        """A shared ``common.*`` message."""
        return i18n.t(f"common.{key}", self.lang, **fmt)

    def pick(self, zh: Any, en: Any) -> str:
        """The language's variant of a zh/en pair from reference data (zh as fallback)."""
        value = en if self.lang == "en" and not _na(en) and str(en) else zh
        return i18n.missing(self.lang) if _na(value) else str(value)

    def num(self, value: Any, digits: int = 2) -> str:
        return i18n.fmt_number(value, self.lang, digits)

    def unit(self, unit: Any) -> str:
        """Display form of a unit, also of compound units such as ``kg/m2``."""
        if _na(unit) or not str(unit):
            return ""
        u = str(unit)
        if i18n.has(f"unit.{u}"):
            return i18n.unit_label(u, self.lang)
        return "/".join(
            i18n.unit_label(p, self.lang)
            if p in ("10k_CNY",)
            else p.replace("m3", "m³").replace("m2", "m²")
            for p in u.split("/")
        )

    def year(self, y: int) -> str:
        return self.t("year_label", year=y)

    def level_label(self, level: Any) -> str:
        if _na(level):
            return i18n.missing(self.lang)
        key = f"level.{level}"
        return i18n.t(key, self.lang) if i18n.has(key) else str(level)

    def warn(self, exc: CpkitError):
        return cd.note(self.t("cannot_compute", reason=str(exc)), "warning")

    def _ycol(self, y: int, digits: int = 2, **kw: Any) -> cd.Col:
        return cd.Col(self.year(y), digits=digits, **kw)

    def _sig_col(
        self, label: str, unit: str | None = None, sig: int = 4, strip: bool = False
    ) -> cd.Col:
        return cd.Col(
            label,
            unit=unit,
            fmt=lambda v: significant(v, self.lang, sig, strip=strip),
            align="right",
        )

    def _text_col(self, label: str, mapping: Callable[[Any], str]) -> cd.Col:
        return cd.Col(label, fmt=lambda v: i18n.missing(self.lang) if _na(v) else mapping(v))

    def _yes_no(self, v: Any) -> str:
        if _na(v):
            return i18n.missing(self.lang)
        return self.c("yes") if bool(v) else self.c("no")

    def _chart(self, chart: Any):
        return cd.chart(chart, interactive=self.ctx.interactive)

    def _readable_uc(self, df: pd.DataFrame) -> pd.DataFrame:
        """Unit consumptions of each row rescaled to a readable unit (``readable_scale``);
        adds ``uc_unit_label``. Returns a new frame."""
        out = df.copy()
        ucols = [f"uc_{y}" for y in self.years]
        labels = []
        for i, r in out.iterrows():
            factor, unit = readable_scale([r[c] for c in ucols], r["uc_unit"])
            for c in ucols:
                out.at[i, c] = r[c] * factor if not _na(r[c]) else r[c]
            labels.append(self.unit(unit))
        out["uc_unit_label"] = labels
        return out

    # ------------------------------------------------------------------ cached results
    @functools.cached_property
    def history(self) -> pd.DataFrame:
        """History rows of the three history years (and the baseline year)."""
        return _history_years(self.tables["history"], self.years)

    @functools.cached_property
    def main_product(self):
        from cpkit import indicators

        return indicators.main_product(self.tables["products"])

    @functools.cached_property
    def status(self) -> pd.DataFrame:
        from cpkit import indicators

        return indicators.status(
            self.history,
            self.tables["products"],
            materials=self.tables["materials"],
            years=self.years,
            basis=self.params.electricity_basis,
            equal_value_kgce_per_kwh=self.params.equal_value_kgce_per_kwh,
        )

    @functools.cached_property
    def trends(self) -> pd.DataFrame:
        from cpkit import indicators

        return indicators.trends(self.status)

    @functools.cached_property
    def energy(self) -> pd.DataFrame:
        from cpkit import energy

        return energy.comprehensive(
            self.history,
            self.tables["products"],
            basis=self.params.electricity_basis,
            equal_value_kgce_per_kwh=self.params.equal_value_kgce_per_kwh,
        )

    @functools.cached_property
    def energy_structure(self) -> pd.DataFrame:
        from cpkit import energy

        return energy.structure(
            self.history,
            basis=self.params.electricity_basis,
            equal_value_kgce_per_kwh=self.params.equal_value_kgce_per_kwh,
        )

    @functools.cached_property
    def tce_rows(self) -> pd.DataFrame:
        from cpkit import energy

        return energy.to_tce(
            self.history,
            basis=self.params.electricity_basis,
            equal_value_kgce_per_kwh=self.params.equal_value_kgce_per_kwh,
        )

    @functools.cached_property
    def emissions(self) -> pd.DataFrame:
        from cpkit import carbon

        return carbon.emissions(
            self.history,
            grid_year=self.params.grid_factor_year,
            scope=self.params.grid_factor_scope,
            region=self.params.grid_region,
        )

    @functools.cached_property
    def co2(self) -> pd.DataFrame:
        from cpkit import carbon

        out = carbon.by_year(self.emissions)
        from cpkit import indicators

        ov = indicators.output_value(self.history)
        val = dict(zip(ov["year"].astype(int), ov["output_value_10k_cny"], strict=True))
        g = [val.get(int(y), pd.NA) for y in out["year"]]
        out["output_value_10k_cny"] = pd.array(g, dtype="Float64")
        out["co2_t_per_10k_cny"] = out["co2_total_t"] / out["output_value_10k_cny"]
        return out

    @functools.cached_property
    def intake(self) -> pd.DataFrame:
        return intake_by_source(self.tables["history"], self.years)

    @functools.cached_property
    def water_rates(self) -> pd.DataFrame:
        from cpkit import water

        return water.indicators(self.tables["water_units"], self.tables["water_flows"])

    @functools.cached_property
    def compliance(self) -> pd.DataFrame:
        from cpkit import indicators

        return indicators.compliance(
            self.tables["pollutants"], history=self.tables["history"], year=self.baseline
        )

    @functools.cached_property
    def system(self):
        from cpkit import grading

        sid = self.profile.indicator_system
        return grading.load_system(sid) if sid else None

    @functools.cached_property
    def grade(self):
        from cpkit import grading

        if self.system is None:
            return None
        return grading.grade(self.system, self.tables["indicator_values"], "before")

    @functools.cached_property
    def lagging(self) -> pd.DataFrame | None:
        from cpkit import grading

        return grading.lagging_indicators(self.grade) if self.grade is not None else None

    def scoring_result(self, weights: Mapping[str, float] | None = None):
        """The weighted-sum scoring of the focus candidates (weights: {criterion: W})."""
        from cpkit import scoring

        crit = (
            self.criteria
            if not weights
            else scoring.criteria(
                self.tables["focus_criteria"], weights={**(self.weights or {}), **weights}
            )
        )
        return scoring.weighted_scores(
            self.tables["focus_scores"], crit, self.tables["focus_candidates"]
        )

    @functools.cached_property
    def scores(self):
        return self.scoring_result()

    @functools.cached_property
    def stability(self) -> pd.DataFrame:
        from cpkit import scoring

        return scoring.rank_stability(self.scores)

    @property
    def chosen_focus(self) -> str | None:
        """The audit focus the team chose (profile.audit_focus), else the top score."""
        if self.profile.audit_focus:
            return str(self.profile.audit_focus)
        return self.scores.top[0] if len(self.scores.top) == 1 else None

    def _safe_table(self, attr: str) -> pd.DataFrame | None:
        try:
            return getattr(self, attr)
        except CpkitError:
            return None

    @functools.cached_property
    def focus_rules(self) -> pd.DataFrame:
        return focus_rule_check(
            self.profile.categories,
            self.tables["focus_candidates"],
            self.chosen_focus,
            materials=self.tables["materials"],
            pollutants=self.tables["pollutants"],
            compliance_table=self._safe_table("compliance"),
            energy_structure=self._safe_table("energy_structure"),
            intake=self.intake,
        )

    @functools.cached_property
    def coverage(self) -> pd.DataFrame:
        lag = None
        try:
            lag = self.lagging
        except CpkitError:
            lag = None
        return target_coverage(
            self.tables["targets"],
            self.profile.categories,
            lagging=lag,
            materials=self.tables["materials"],
            pollutants=self.tables["pollutants"],
            compliance_table=self._safe_table("compliance"),
            energy_structure=self._safe_table("energy_structure"),
            intake=self.intake,
            levels=self.system.levels if self.system is not None else ("I", "II", "III"),
        )

    # ================================================================== chapter start
    def chapter(self) -> Items:
        """Chapter heading and what the chapter covers."""
        p = self.profile
        name = p.name_en if self.lang == "en" and p.name_en else p.name
        return Items(
            cd.heading(self.t("chapter"), 1, anchor="ch3"),
            cd.paragraph(
                self.t(
                    "intro",
                    enterprise=name,
                    first=self.years[0],
                    last=self.years[-1],
                    baseline=self.baseline,
                )
            ),
        )

    # ================================================================== 3.1
    def production(self) -> Items:
        """3.1 heading; products and output value over the three years."""

        def body() -> Items:
            df = production_overview(self.tables["history"], self.tables["products"], self.years)
            df["label"] = [
                self.t("output_value") if k == "output_value" else n
                for k, n in zip(df["kind"], df["name"], strict=True)
            ]
            df["unit_label"] = [self.unit(u) for u in df["unit"]]
            df["main_text"] = [
                ("✓" if m else "") if k == "product" else ""
                for k, m in zip(df["kind"], df["main"], strict=True)
            ]
            cols = {
                "label": cd.Col(self.t("col.product")),
                "spec": cd.Col(self.t("col.spec")),
                "unit_label": cd.Col(self.c("col.unit")),
                "main_text": cd.Col(self.t("col.main"), align="center"),
                **{_year_col(y): self._ycol(y, 0) for y in self.years},
                "change_pct": cd.Col(self.t("col.change_period"), unit="%", digits=1),
            }
            mp = self.main_product
            return Items(
                cd.heading(self.t("h.production"), 3),
                cd.table(df, cols, lang=self.lang, caption=self.t("cap.production")),
                cd.paragraph(
                    self.t(
                        "main_product_note",
                        products=i18n.fmt_list(mp.product_ids, self.lang),
                        unit=self.unit(mp.unit),
                    )
                ),
            )

        return Items(
            cd.heading(self.t("s31"), 2, anchor="s3-1"),
            cd.paragraph(self.t("s31_intro")),
            _safe(body, self.warn),
        )

    def materials(self) -> Items:
        """Raw and auxiliary materials: unit consumption and trend, toxic ones marked."""

        def body() -> Items:
            df = material_overview(
                self.status,
                self.trends,
                self.tables["materials"],
                self.tables["history"],
                self.years,
            )
            if df.empty:
                return Items(cd.heading(self.t("h.materials"), 3), cd.note(self.t("no_materials")))
            mark = self.t("toxic_mark")
            df["label"] = [
                f"{mark}{n}" if tx else str(n)
                for n, tx in zip(df["name"], df["toxic"], strict=True)
            ]
            df["kind_label"] = [self.c(f"material_kind.{k}") for k in df["kind"]]
            df["unit_label"] = [self.unit(u) for u in df["unit"]]
            df = self._readable_uc(df)
            b = self.baseline
            cols = {
                "label": cd.Col(self.t("col.material")),
                "kind_label": cd.Col(self.t("col.kind")),
                "unit_label": cd.Col(self.t("col.unit_of_use")),
                f"use_{b}": self._sig_col(self.t("col.use_year", year=b), sig=5),
                **{f"uc_{y}": self._sig_col(self.t("col.uc_year", year=y)) for y in self.years},
                "uc_unit_label": cd.Col(self.t("col.uc_unit")),
                "uc_change_pct": cd.Col(self.t("col.change_period"), unit="%", digits=1),
            }
            toxic = df[df["toxic"]]
            up = df[(df["direction"] == "up")]
            items = [
                cd.heading(self.t("h.materials"), 3),
                cd.table(df, cols, lang=self.lang, caption=self.t("cap.materials", mark=mark)),
                cd.paragraph(self.t("uc_note", product=self.main_product.name)),
            ]
            if len(toxic):
                items.append(
                    cd.note(
                        self.t(
                            "toxic_note",
                            count=len(toxic),
                            items=i18n.fmt_list(
                                [
                                    f"{n}（{h}）"
                                    if not _na(h) and self.lang == "zh"
                                    else f"{n} ({h})"
                                    if not _na(h)
                                    else str(n)
                                    for n, h in zip(toxic["name"], toxic["hazard"], strict=True)
                                ],
                                self.lang,
                            ),
                        ),
                        "warning",
                    )
                )
            if len(up):
                items.append(
                    cd.paragraph(
                        self.t(
                            "uc_rising",
                            items=i18n.fmt_list(
                                [
                                    self.t("change_item", name=n, change=_signed(v, self.lang))
                                    for n, v in zip(up["name"], up["uc_change_pct"], strict=True)
                                ],
                                self.lang,
                            ),
                        )
                    )
                )
            return Items(*items)

        return _safe(body, self.warn)

    def materials_annex(self) -> Items:
        """Annex: annual use and cost of every material over the three years."""

        def body() -> Items:
            df = material_overview(
                self.status,
                self.trends,
                self.tables["materials"],
                self.tables["history"],
                self.years,
            )
            if df.empty:
                return Items()
            df["unit_label"] = [self.unit(u) for u in df["unit"]]
            df["toxic_label"] = [self._yes_no(v) for v in df["toxic"]]
            cols = {
                "name": cd.Col(self.t("col.material")),
                "composition": cd.Col(self.t("col.composition")),
                "toxic_label": cd.Col(self.t("col.toxic")),
                "unit_label": cd.Col(self.t("col.unit_of_use")),
                **{
                    f"use_{y}": self._sig_col(self.t("col.use_year", year=y), sig=5)
                    for y in self.years
                },
                **{
                    f"cost_{y}": cd.Col(
                        self.t("col.cost_year", year=y), unit=self.unit("10k_CNY"), digits=2
                    )
                    for y in self.years
                },
            }
            return Items(
                cd.heading(self.t("h.annex_materials"), 2),
                cd.table(df, cols, lang=self.lang, caption=self.t("cap.annex_materials")),
            )

        return _safe(body, self.warn)

    def trend_chart(self) -> Items:
        """Chart: unit consumption of the main materials, energy and water as an index."""

        def body() -> Items:
            from cpkit.charts import status as charts

            metrics = ["material_per_product", "energy_per_product", "water_intake_per_product"]
            idx = trend_index(self.status, metrics)
            if idx.empty:
                return Items()
            # the materials with the largest consumption cost plus energy and water
            mats = material_overview(
                self.status,
                self.trends,
                self.tables["materials"],
                self.tables["history"],
                self.years,
            )
            b = f"cost_{self.baseline}"
            keep_n = CHART_MATERIALS
            top = list(
                mats.sort_values(b, ascending=False, na_position="last")["material_id"][:keep_n]
            )
            toxic = list(mats.loc[mats["toxic"], "material_id"])
            keep = set(top) | set(toxic[:keep_n])
            idx = idx[(idx["metric"] != "material_per_product") | idx["item"].isin(keep)].copy()
            idx["label"] = [
                self.t("series.energy")
                if m == "energy_per_product"
                else self.t("series.water")
                if m == "water_intake_per_product"
                else str(n)
                for m, n in zip(idx["metric"], idx["name"], strict=True)
            ]
            idx["value_text"] = [
                f"{significant(v, self.lang)} {self.unit(u)}"
                for v, u in zip(idx["value"], idx["unit"], strict=True)
            ]
            chart = charts.trend_index(
                idx,
                title=self.t("chart.trend_title"),
                x_title=self.t("chart.year"),
                y_title=self.t("chart.index"),
                legend_title=self.t("chart.item"),
                tooltip_title=self.t("chart.unit_consumption"),
            )
            return Items(self._chart(chart), cd.paragraph(self.t("chart.trend_note")))

        return _safe(body, self.warn)

    def equipment(self) -> Items:
        """Equipment summary: list, motors above 5.5 kW by efficiency class, flags."""

        def body() -> Items:
            eq = self.tables["equipment"].copy()
            if eq.empty:
                return Items(cd.heading(self.t("h.equipment"), 3), cd.note(self.t("no_equipment")))
            flags = equipment_findings(eq)
            flagged = set(flags["equipment_id"].astype(str))
            mark = self.t("flag_mark")
            eq["label"] = [
                f"{mark}{n}" if str(i) in flagged else str(n)
                for i, n in zip(eq["equipment_id"], eq["name"], strict=True)
            ]
            eq["energy_label"] = [self._carrier_name(c) for c in eq["energy_type"]]
            eq["class_label"] = [
                self._motor_class(c) if not _na(c) else i18n.missing(self.lang)
                for c in eq["motor_efficiency_class"]
            ]
            cols = {
                "equipment_id": cd.Col(self.c("col.id")),
                "label": cd.Col(self.t("col.equipment")),
                "model": cd.Col(self.t("col.model")),
                "quantity": cd.Col(self.c("col.quantity"), digits=0),
                "location": cd.Col(self.t("col.location")),
                "energy_label": cd.Col(self.t("col.energy_type")),
                "rated_power_kw": cd.Col(self.t("col.rated_power"), unit="kW", digits=1),
                "manufacture_year": cd.Col(
                    self.t("col.year_made"),
                    fmt=lambda v: i18n.missing(self.lang) if _na(v) else str(int(v)),
                ),
                "class_label": cd.Col(self.t("col.motor_class")),
            }
            motors = motor_summary(eq)
            items = [
                cd.heading(self.t("h.equipment"), 3),
                cd.table(eq, cols, lang=self.lang, caption=self.t("cap.equipment", mark=mark)),
            ]
            if len(motors):
                motors["class_label"] = [self._motor_class(c) for c in motors["efficiency_class"]]
                mcols = {
                    "class_label": cd.Col(self.t("col.motor_class")),
                    "units": cd.Col(self.t("col.units"), digits=0),
                    "power_kw": cd.Col(self.t("col.total_power"), unit="kW", digits=1),
                    "share_pct": cd.Col(self.t("col.share"), unit="%", digits=1),
                }
                items.append(
                    cd.table(
                        motors,
                        mcols,
                        lang=self.lang,
                        caption=self.t("cap.motors", kw=self.num(motor_listing_threshold_kw(), 1)),
                        total_row=_total_row(
                            {
                                "class_label": self.c("total"),
                                "units": motors["units"].sum(),
                                "power_kw": motors["power_kw"].sum(),
                                "share_pct": 100.0,
                            }
                        ),
                    )
                )
            if len(flags):
                items.append(cd.note(self._flag_text(flags), "warning"))
            else:
                items.append(cd.note(self.t("no_flags"), "ok"))
            return Items(*items)

        return _safe(body, self.warn)

    def _carrier_name(self, carrier: Any) -> str:
        if _na(carrier):
            return i18n.missing(self.lang)
        table = self._carriers()
        if carrier in table.index:
            return self.pick(table.at[carrier, "name_zh"], table.at[carrier, "name_en"])
        return str(carrier)

    @functools.cache  # noqa: B019 - one PreAssessment per notebook
    def _carriers(self) -> pd.DataFrame:
        from cpkit import energy

        return energy.carriers().set_index("carrier_id")

    def _motor_class(self, cls: Any) -> str:
        key = f"p2.motor_class.{cls}"
        return i18n.t(key, self.lang) if i18n.has(key) else str(cls)

    def _flag_text(self, flags: pd.DataFrame) -> str:
        parts = []
        for reason in ("obsolete", "below_min_efficiency"):
            sub = flags[flags["reason"] == reason]
            if len(sub):
                parts.append(
                    self.t(
                        f"flag.{reason}",
                        count=len(sub),
                        items=i18n.fmt_list(
                            [
                                f"{i} {n}"
                                for i, n in zip(sub["equipment_id"], sub["name"], strict=True)
                            ],
                            self.lang,
                        ),
                    )
                )
        return " ".join(parts)

    # ================================================================== 3.2
    def site_inspection(self) -> Items:
        """3.2: findings the data show, for the team to confirm on site (clause 5.2.7)."""
        findings: list[str] = []

        def add(builder: Callable[[], list[str]]) -> None:
            try:
                findings.extend(builder())
            except CpkitError as exc:
                findings.append(self.t("cannot_compute", reason=str(exc)))

        def materials() -> list[str]:
            m = self.tables["materials"]
            tox = m[m["toxic"].fillna(False).astype(bool)]
            return (
                [
                    self.t(
                        "find.toxic",
                        count=len(tox),
                        total=len(m),
                        items=i18n.fmt_list(list(tox["name"].astype(str)), self.lang),
                    )
                ]
                if len(tox)
                else []
            )

        def rising() -> list[str]:
            tr = self.trends
            tr = tr[(tr["direction"] == "up") & tr["metric"].isin(RISING_METRICS)]
            if tr.empty:
                return [self.t("find.none_rising")]
            tr = tr.sort_values("period_change_pct", ascending=False, na_position="last")
            labels = [
                self.t(
                    "change_item",
                    name=self._metric_label(r.metric, self._item_name(r.metric, r.item)),
                    change=_signed(r.period_change_pct, self.lang),
                )
                for r in tr.head(RISING_SHOWN).itertuples(index=False)
            ]
            if len(tr) > RISING_SHOWN:
                labels.append(self.t("find.more", count=len(tr) - RISING_SHOWN))
            return [self.t("find.rising", count=len(tr), items=i18n.fmt_list(labels, self.lang))]

        def equipment() -> list[str]:
            f = equipment_findings(self.tables["equipment"])
            return [self._flag_text(f)] if len(f) else []

        def pollutants() -> list[str]:
            c = self.compliance
            out = []
            bad = c[c["compliant"] == False]  # noqa: E712
            if len(bad):
                out.append(
                    self.t(
                        "find.exceeding",
                        items=i18n.fmt_list(
                            [
                                self.t("exceed_item", name=n, multiple=self.num(x, 2))
                                for n, x in zip(
                                    bad["name"], bad["exceedance_multiple"], strict=True
                                )
                            ],
                            self.lang,
                        ),
                    )
                )
            over = c[c["within_cap"] == False]  # noqa: E712
            if len(over):
                out.append(
                    self.t(
                        "find.over_cap",
                        items=i18n.fmt_list(
                            [
                                self.t("cap_item", name=n, use=self.num(u, 1))
                                for n, u in zip(over["name"], over["cap_use_pct"], strict=True)
                            ],
                            self.lang,
                        ),
                    )
                )
            if not out:
                out.append(self.t("find.all_compliant"))
            return out

        def water() -> list[str]:
            w = self.water_rates.set_index("indicator")
            r = w.at["reuse_rate", "value"]
            leak = w.at["leakage_rate", "value"]
            return (
                [self.t("find.water", reuse=self.num(r, 1), leakage=self.num(leak, 2))]
                if not _na(r)
                else []
            )

        def wastes() -> list[str]:
            _, by_class = waste_overview(self.tables["history"], self.tables["wastes"], self.years)
            col = _year_col(self.baseline)
            hz = by_class.set_index("class")
            haz, gen = hz.at["hazardous", col], hz.at["general", col]
            if _na(haz) and _na(gen):
                return []
            return [
                self.t(
                    "find.wastes",
                    year=self.baseline,
                    hazardous=self.num(haz, 1),
                    general=self.num(gen, 1),
                    count=int(hz.at["hazardous", "count"]),
                )
            ]

        for builder in (materials, rising, equipment, pollutants, water, wastes):
            add(builder)
        cand = self.tables["focus_candidates"]
        reasons = [
            f"{cid} {n}：{r}" if self.lang == "zh" else f"{cid} {n}: {r}"
            for cid, n, r in zip(cand["candidate_id"], cand["name"], cand["reasons"], strict=True)
            if not _na(r)
        ]
        return Items(
            cd.heading(self.t("s32"), 2, anchor="s3-2"),
            cd.paragraph(self.t("s32_intro")),
            cd.bullets(findings) if findings else cd.note(self.t("find.nothing")),
            cd.heading(self.t("h.key_parts"), 3) if reasons else None,
            cd.paragraph(self.t("key_parts_intro")) if reasons else None,
            cd.bullets(reasons) if reasons else None,
        )

    def _item_name(self, metric: str, item: Any) -> str:
        """Name of a status item: material, waste or pollutant name, else the id."""
        table, key = {
            "material_per_product": ("materials", "material_id"),
            "waste_per_product": ("wastes", "waste_id"),
            "emission_per_product": ("pollutants", "pollutant_id"),
        }.get(metric, (None, None))
        if table is None:
            return str(item)
        t = self.tables[table]
        hit = t.loc[t[key].astype(str) == str(item), "name"]
        return str(hit.iloc[0]) if len(hit) else str(item)

    def _metric_label(self, metric: str, name: Any) -> str:
        key = f"p2.metric.{metric}"
        base = i18n.t(key, self.lang) if i18n.has(key) else metric
        if metric in ("material_per_product", "waste_per_product", "emission_per_product"):
            return f"{name}{base}" if self.lang == "zh" else f"{base} ({name})"
        return base

    # ================================================================== 3.3
    def energy_section(self) -> Items:
        """3.3: comprehensive energy consumption, intensities, basis, structure."""

        def body() -> Items:
            e = self.energy.copy()
            mp_unit = self.main_product.unit
            cols = {
                "year": cd.Col(self.c("col.year"), fmt=str),
                "energy_tce": cd.Col(self.t("col.energy_tce"), unit=self.unit("tce"), digits=2),
                "energy_cost_10k_cny": cd.Col(
                    self.t("col.energy_cost"), unit=self.unit("10k_CNY"), digits=2
                ),
                "output_value_10k_cny": cd.Col(
                    self.t("output_value"), unit=self.unit("10k_CNY"), digits=0
                ),
                "energy_tce_per_10k_cny": cd.Col(
                    self.t("col.energy_per_value"), unit=self.t("unit.tce_per_10k"), digits=4
                ),
                "product_output": cd.Col(
                    self.t("col.main_output"), unit=self.unit(mp_unit), digits=0
                ),
                "energy_kgce_per_product": self._sig_col(
                    self.t("col.energy_per_product"), unit=f"kgce/{self.unit(mp_unit)}"
                ),
            }
            basis = e.attrs.get("basis", {})
            b = e[e["year"] == self.baseline]
            items = [
                cd.table(e, cols, lang=self.lang, caption=self.t("cap.energy")),
                cd.paragraph(self._basis_text(basis)),
            ]
            if len(b):
                r = b.iloc[0]
                items.append(
                    cd.paragraph(
                        self.t(
                            "energy_summary",
                            year=self.baseline,
                            tce=self.num(r["energy_tce"], 1),
                            per_value=self.num(r["energy_tce_per_10k_cny"], 4),
                            per_product=significant(r.get("energy_kgce_per_product"), self.lang),
                            unit=self.unit(mp_unit),
                            change=_signed(
                                _change_pct(
                                    e["energy_tce_per_10k_cny"].iloc[0], r["energy_tce_per_10k_cny"]
                                ),
                                self.lang,
                            ),
                            first=int(e["year"].iloc[0]),
                        )
                    )
                )
            return Items(*items)

        return Items(
            cd.heading(self.t("s33"), 2, anchor="s3-3"),
            cd.paragraph(self.t("s33_intro")),
            _safe(body, self.warn),
        )

    def _basis_text(self, basis: Mapping[str, Any]) -> str:
        if basis.get("electricity_basis") == "equal_value":
            figs = basis.get("equal_value") or {}
            detail = i18n.fmt_list(
                [
                    f"{y}: {v['kgce_per_kwh']} kgce/kWh ({v.get('figure_id')})"
                    for y, v in figs.items()
                ],
                self.lang,
            )
            elec = self.t("basis.equal_value", detail=detail or i18n.missing(self.lang))
        else:
            elec = self.t("basis.equivalent", factor=basis.get("electricity_kgce_per_kwh", ""))
        return self.t(
            "basis.energy",
            electricity=elec,
            table=basis.get("table", ""),
            edition=basis.get("edition") or i18n.missing(self.lang),
        )

    def energy_structure_section(self) -> Items:
        """Energy structure of the baseline year (table) and of every year (chart)."""

        def body() -> Items:
            from cpkit.charts import status as charts

            s = self.energy_structure.copy()
            s["label"] = [self.pick(z, e) for z, e in zip(s["name_zh"], s["name_en"], strict=True)]
            s["unit_label"] = [self.unit(u) for u in s["unit"]]
            b = s[s["year"] == self.baseline]
            cols = {
                "label": cd.Col(self.t("col.carrier")),
                "quantity": self._sig_col(self.c("col.quantity"), sig=6),
                "unit_label": cd.Col(self.c("col.unit")),
                "energy_tce": cd.Col(self.t("col.energy_tce"), unit=self.unit("tce"), digits=2),
                "share_pct": cd.Col(self.t("col.share"), unit="%", digits=1),
                "cost_10k_cny": cd.Col(self.t("col.cost"), unit=self.unit("10k_CNY"), digits=2),
                "cost_share_pct": cd.Col(self.t("col.cost_share"), unit="%", digits=1),
                "unit_price_cny": self._sig_col(
                    self.t("col.unit_price"), unit=self.t("unit.cny_per_unit")
                ),
            }
            chart = charts.energy_structure(
                s,
                title=self.t("chart.structure_title"),
                x_title=self.t("chart.year"),
                y_title=self.t("chart.share"),
                legend_title=self.t("col.carrier"),
                tce_title=self.t("col.energy_tce"),
            )
            total = {
                "label": self.c("total"),
                "energy_tce": b["energy_tce"].sum(),
                "share_pct": 100.0,
                "cost_10k_cny": b["cost_10k_cny"].sum(min_count=1),
            }
            return Items(
                cd.heading(self.t("h.structure"), 3),
                cd.table(
                    b,
                    cols,
                    lang=self.lang,
                    caption=self.t("cap.structure", year=self.baseline),
                    total_row=_total_row(total),
                ),
                self._chart(chart),
            )

        return _safe(body, self.warn)

    def carbon_section(self) -> Items:
        """CO2 emissions by year and the factors used (GB/T 32150; grid factor by year)."""

        def body() -> Items:
            co2 = self.co2
            cols = {
                "year": cd.Col(self.c("col.year"), fmt=str),
                "co2_electricity_t": cd.Col(
                    self.t("col.co2_electricity"), unit=self.unit("tCO2"), digits=1
                ),
                "co2_fuel_t": cd.Col(self.t("col.co2_fuel"), unit=self.unit("tCO2"), digits=1),
                "co2_heat_t": cd.Col(self.t("col.co2_heat"), unit=self.unit("tCO2"), digits=1),
                "co2_total_t": cd.Col(self.t("col.co2_total"), unit=self.unit("tCO2"), digits=1),
                "co2_t_per_10k_cny": cd.Col(
                    self.t("col.co2_per_value"), unit=self.t("unit.tco2_per_10k"), digits=3
                ),
            }
            basis = self.emissions.attrs.get("basis", {})
            factors = i18n.fmt_list(self._grid_factor_texts(), self.lang)
            text = self.t(
                "basis.carbon",
                factors=factors or i18n.missing(self.lang),
                fuel_set=basis.get("fuel_set", ""),
                heat=basis.get("heat_factor", {}).get("tco2_per_gj", ""),
            )
            return Items(
                cd.heading(self.t("h.carbon"), 3),
                cd.table(co2, cols, lang=self.lang, caption=self.t("cap.carbon")),
                cd.paragraph(text),
            )

        return _safe(body, self.warn)

    def _grid_factor_texts(self) -> list[str]:
        """The grid factors the emissions used, one text per factor year."""
        from cpkit import carbon

        grid = self.emissions.attrs.get("basis", {}).get("grid", {})
        out = []
        for year in grid.get("factors") or {}:
            g = carbon.grid_factor(
                int(year), grid.get("scope"), self.params.grid_region, basis=grid.get("basis")
            )
            out.append(
                self.t(
                    "basis.grid",
                    factor=significant(g.kgco2_per_kwh, self.lang, 6, strip=True),
                    year=g.year,
                    scope=self.t(f"grid_scope.{g.scope}"),
                    region=self.pick(g.region_zh, g.region_id),
                    document=g.document,
                )
            )
        return out

    # ================================================================== 3.4
    def water_section(self) -> Items:
        """3.4: intake by source, intensities, rates of the water balance test."""

        def intake() -> Items:
            df = self.intake.copy()
            if df.empty:
                return Items(cd.note(self.t("no_intake")))
            df["label"] = [
                self.pick(z, e) for z, e in zip(df["name_zh"], df["name_en"], strict=True)
            ]
            ycols = {_year_col(y): self._ycol(y, 0, unit=self.unit("m3")) for y in self.years}
            cols = {
                "label": cd.Col(self.t("col.source")),
                **ycols,
                f"cost_{self.baseline}": cd.Col(
                    self.t("col.cost_year", year=self.baseline), unit=self.unit("10k_CNY"), digits=2
                ),
                "share_pct": cd.Col(
                    self.t("col.share_year", year=self.years[-1]), unit="%", digits=1
                ),
            }
            total = {
                "label": self.c("total"),
                **{c: df[c].sum(min_count=1) for c in ycols},
                "share_pct": 100.0,
            }
            return Items(
                cd.heading(self.t("h.intake"), 3),
                cd.table(
                    df,
                    cols,
                    lang=self.lang,
                    caption=self.t("cap.intake"),
                    total_row=_total_row(total),
                ),
            )

        def intensity() -> Items:
            st = self.status
            metrics = [
                "water_intake_per_product",
                "water_intake_per_output_value",
                "wastewater_per_product",
            ]
            rows = []
            for m in metrics:
                sub = st[st["metric"] == m]
                if sub.empty:
                    continue
                rec = {"label": self._metric_label(m, ""), "unit": self.unit(sub["unit"].iloc[0])}
                for r in sub.itertuples(index=False):
                    rec[_year_col(r.year)] = r.value
                rows.append(rec)
            df = pd.DataFrame(rows)
            if df.empty:
                return Items()
            for y in self.years:
                if _year_col(y) not in df:
                    df[_year_col(y)] = pd.NA
            cols = {
                "label": cd.Col(self.t("col.indicator")),
                "unit": cd.Col(self.c("col.unit")),
                **{
                    _year_col(y): cd.Col(
                        self.year(y), fmt=lambda v: significant(v, self.lang), align="right"
                    )
                    for y in self.years
                },
            }
            return Items(
                cd.heading(self.t("h.water_intensity"), 3),
                cd.table(df, cols, lang=self.lang, caption=self.t("cap.water_intensity")),
            )

        def rates() -> Items:
            w = self.water_rates
            ok = w[w["value"].notna() & (w["unit"] == "%")].copy()
            ok["label"] = [
                self.pick(z, e) for z, e in zip(ok["name_zh"], ok["name_en"], strict=True)
            ]
            ok["symbol_label"] = ok["symbol"].replace("", i18n.missing(self.lang))
            ok["formula"] = [
                self.t(f"water_formula.{k}") if i18n.has(f"p2.water_formula.{k}") else f
                for k, f in zip(ok["indicator"], ok["formula"], strict=True)
            ]
            cols = {
                "label": cd.Col(self.t("col.indicator")),
                "symbol_label": cd.Col(self.t("col.symbol")),
                "value": cd.Col(self.t("col.value"), unit="%", digits=2),
                "formula": cd.Col(self.t("col.formula")),
            }
            skipped = w[w["value"].isna() & (w["unit"] == "%")]
            items = [
                cd.heading(self.t("h.water_rates"), 3),
                cd.table(ok, cols, lang=self.lang, caption=self.t("cap.water_rates")),
            ]
            if len(skipped):
                items.append(
                    cd.paragraph(
                        self.t(
                            "water_skipped",
                            items=i18n.fmt_list(
                                [
                                    self.pick(z, e)
                                    for z, e in zip(
                                        skipped["name_zh"], skipped["name_en"], strict=True
                                    )
                                ],
                                self.lang,
                            ),
                        )
                    )
                )
            return Items(*items)

        return Items(
            cd.heading(self.t("s34"), 2, anchor="s3-4"),
            cd.paragraph(self.t("s34_intro")),
            _safe(intake, self.warn),
            _safe(intensity, self.warn),
            _safe(rates, self.warn),
        )

    # ================================================================== 3.5
    def pollutants_section(self) -> Items:
        """3.5: each pollutant against its limit and cap; chart of C/C0."""

        def body() -> Items:
            from cpkit.charts import status as charts

            c = self.compliance.copy()
            c["medium_label"] = [
                self.c(f"medium.{m}") if i18n.has(f"common.medium.{m}") else str(m)
                for m in c["medium"]
            ]
            c["result"] = [self._compliance_label(v) for v in c["compliant"]]
            c["unit_label"] = c["concentration_unit"].fillna("")
            ok, bad = self.t("compliant"), self.t("exceeding")
            cols = {
                "name": cd.Col(self.t("col.pollutant")),
                "medium_label": cd.Col(self.t("col.medium")),
                "outlet": cd.Col(self.t("col.outlet")),
                "concentration": self._sig_col(self.t("col.concentration"), strip=True),
                "limit": self._sig_col(self.t("col.limit"), strip=True),
                "unit_label": cd.Col(self.c("col.unit")),
                "result": cd.Col(self.t("col.result")),
                "exceedance_multiple": cd.Col(self.t("col.exceedance"), digits=2),
            }
            capped = c[c["cap_t"].notna()].copy()
            capped["within_label"] = [self._cap_label(v) for v in capped["within_cap"]]
            scales = [
                readable_scale([a, b], "t")
                for a, b in zip(capped["annual_t"], capped["cap_t"], strict=True)
            ]
            capped["annual_shown"] = [
                a if _na(a) else a * f for a, (f, _) in zip(capped["annual_t"], scales, strict=True)
            ]
            capped["cap_shown"] = [b * f for b, (f, _) in zip(capped["cap_t"], scales, strict=True)]
            capped["cap_unit"] = [self.unit(u) for _, u in scales]
            capcols = {
                "name": cd.Col(self.t("col.pollutant")),
                "annual_shown": self._sig_col(self.t("col.annual", year=self.baseline)),
                "cap_shown": self._sig_col(self.t("col.cap"), strip=True),
                "cap_unit": cd.Col(self.c("col.unit")),
                "cap_use_pct": cd.Col(self.t("col.cap_use"), unit="%", digits=1),
                "within_label": cd.Col(self.t("col.result")),
            }
            chart_df = c.assign(
                label=c["name"],
                ratio=c["ratio_to_limit"],
                exceeds=[(not _na(v)) and not bool(v) for v in c["compliant"]],
                detail=[
                    f"{significant(x, self.lang, strip=True)} / {significant(lim, self.lang, strip=True)} {u}"
                    for x, lim, u in zip(
                        c["concentration"], c["limit"], c["unit_label"], strict=True
                    )
                ],
            )
            chart = charts.pollutant_limits(
                chart_df,
                title=self.t("chart.limits_title"),
                x_title=self.t("chart.ratio"),
                y_title=self.t("col.pollutant"),
                status_title=self.t("col.result"),
                status_labels=(ok, bad),
            )
            items = [
                cd.heading(self.t("h.compliance"), 3),
                cd.table(c, cols, lang=self.lang, caption=self.t("cap.compliance")),
                self._chart(chart),
            ]
            nb = c[c["compliant"] == False]  # noqa: E712
            if len(nb):
                items.append(
                    cd.note(
                        self.t(
                            "exceeding_note",
                            items=i18n.fmt_list(
                                [
                                    self.t("exceed_item", name=n, multiple=self.num(x, 2))
                                    for n, x in zip(
                                        nb["name"], nb["exceedance_multiple"], strict=True
                                    )
                                ],
                                self.lang,
                            ),
                        ),
                        "warning",
                    )
                )
            if len(capped):
                items += [
                    cd.heading(self.t("h.caps"), 3),
                    cd.table(capped, capcols, lang=self.lang, caption=self.t("cap.caps")),
                    cd.paragraph(self.t("caps_basis")),
                ]
                over = capped[capped["within_cap"] == False]  # noqa: E712
                if len(over):
                    items.append(
                        cd.note(
                            self.t(
                                "find.over_cap",
                                items=i18n.fmt_list(
                                    [
                                        self.t("cap_item", name=n, use=self.num(u, 1))
                                        for n, u in zip(
                                            over["name"], over["cap_use_pct"], strict=True
                                        )
                                    ],
                                    self.lang,
                                ),
                            ),
                            "warning",
                        )
                    )
            return Items(*items)

        def wastes() -> Items:
            per, by_class = waste_overview(
                self.tables["history"], self.tables["wastes"], self.years
            )
            if per.empty:
                return Items()
            per["class_label"] = [self.c(f"waste_class.{k}") for k in per["class"]]
            ycols = {
                _year_col(y): self._sig_col(self.year(y), unit=self.unit("t")) for y in self.years
            }
            cols = {
                "name": cd.Col(self.t("col.waste")),
                "class_label": cd.Col(self.t("col.class")),
                "hw_code": cd.Col(self.t("col.hw_code")),
                **ycols,
                "disposal": cd.Col(self.t("col.disposal")),
            }
            by_class["class_label"] = [self.c(f"waste_class.{k}") for k in by_class["class"]]
            ccols = {
                "class_label": cd.Col(self.t("col.class")),
                "count": cd.Col(self.t("col.kinds"), digits=0),
                **ycols,
            }
            return Items(
                cd.heading(self.t("h.wastes"), 3),
                cd.table(per, cols, lang=self.lang, caption=self.t("cap.wastes")),
                cd.table(by_class, ccols, lang=self.lang, caption=self.t("cap.waste_classes")),
            )

        return Items(
            cd.heading(self.t("s35"), 2, anchor="s3-5"),
            cd.paragraph(self.t("s35_intro", year=self.baseline)),
            _safe(body, self.warn),
            _safe(wastes, self.warn),
        )

    def _compliance_label(self, v: Any) -> str:
        if _na(v):
            return self.t("not_assessed")
        return self.t("compliant") if bool(v) else self.t("exceeding")

    def _cap_label(self, v: Any) -> str:
        if _na(v):
            return self.t("not_assessed")
        return self.t("within_cap") if bool(v) else self.t("over_cap")

    # ================================================================== 3.6
    def level_section(self) -> Items:
        """3.6: grading with the enterprise's indicator system (or its best year)."""

        def body() -> Items:
            if self.system is None:
                return self._best_year_items()
            g, s = self.grade, self.system
            ind = g.indicators.copy()
            groups = {grp.id: self.pick(grp.name.zh, grp.name.en) for grp in s.groups}
            mark = self.t("restrictive_mark")
            ind["group_label"] = [groups.get(x, x) for x in ind["group_id"]]
            ind["label"] = [
                f"{mark}{self.pick(z, e)}" if bool(rs) else self.pick(z, e)
                for z, e, rs in zip(ind["name_zh"], ind["name_en"], ind["restrictive"], strict=True)
            ]
            ind["value_text"] = [
                self.t("qualitative") if d == "qualitative" else significant(v, self.lang)
                for d, v in zip(ind["direction"], ind["value"], strict=True)
            ]
            ind["level_text"] = [
                self.t("not_applicable_short") if not bool(a) else self.level_label(lv)
                for a, lv in zip(ind["applicable"].fillna(True), ind["level"], strict=True)
            ]
            ind["direction_text"] = [self.t(f"direction.{d}") for d in ind["direction"]]
            ind["gap_text"] = [
                significant(v, self.lang) if not _na(v) else i18n.missing(self.lang)
                for v in ind["gap"]
            ]
            cols = {
                "group_label": cd.Col(self.t("col.group")),
                "label": cd.Col(self.t("col.indicator")),
                "unit": cd.Col(self.c("col.unit")),
                "direction_text": cd.Col(self.t("col.direction")),
                **{
                    f"benchmark_{lv}": self._sig_col(
                        self.t("col.benchmark", level=self.level_label(lv))
                    )
                    for lv in g.levels
                },
                "value_text": cd.Col(self.t("col.value_before"), align="right"),
                "level_text": cd.Col(self.t("col.level_reached")),
                "gap_text": cd.Col(self.t("col.gap_next"), align="right"),
            }
            items = [
                cd.paragraph(
                    self.t("system_intro", system=self.pick(s.name.zh, s.name.en), source=s.source)
                ),
                cd.note(self.t("system_illustrative"), "warning") if s.status == "I" else None,
                cd.heading(self.t("h.indicators"), 3),
                cd.table(ind, cols, lang=self.lang, caption=self.t("cap.indicators", mark=mark)),
                *self._score_items(),
            ]
            return Items(*items)

        return Items(
            cd.heading(self.t("s36"), 2, anchor="s3-6"),
            cd.paragraph(self.t("s36_intro")),
            _safe(body, self.warn),
        )

    def _score_items(self) -> list[Any]:
        from cpkit.charts import status as charts

        g, s = self.grade, self.system
        cond = level_conditions(g, s)
        score_cond = cond[cond["kind"] == "score"].drop_duplicates("score").set_index("score")
        rows = []
        for lv in g.levels:
            key = f"Y_{lv}"
            thr = score_cond["required"].get(key, pd.NA)
            val = g.scores[key]
            rows.append(
                {
                    "score": key,
                    "value": val,
                    "threshold": thr,
                    "reached": bool(_na(thr) or val >= float(thr)),
                }
            )
        sc = pd.DataFrame(rows)
        sc["threshold"] = pd.array(sc["threshold"], dtype="Float64")
        scols = {
            "score": cd.Col(self.t("col.index")),
            "value": cd.Col(self.t("col.score"), digits=2),
            "threshold": cd.Col(self.t("col.threshold"), digits=0),
        }
        cond["level_text"] = [self.level_label(lv) for lv in cond["level"]]
        cond["condition"] = [self._condition_text(r) for r in cond.itertuples(index=False)]
        cond["holds_text"] = [self.t("holds") if h else self.t("fails") for h in cond["holds"]]
        ccols = {
            "level_text": cd.Col(self.t("col.level")),
            "condition": cd.Col(self.t("col.condition")),
            "holds_text": cd.Col(self.t("col.result")),
        }
        chart = charts.level_scores(
            sc,
            title=self.t("chart.level_title"),
            x_title=self.t("col.index"),
            y_title=self.t("col.score"),
            threshold_title=self.t("col.threshold"),
            status_title=self.t("col.result"),
            status_labels=(self.t("holds"), self.t("fails")),
        )
        level_name = self.pick(g.level_name.get("zh"), g.level_name.get("en"))
        if g.rule_index is None:
            conclusion = self.t("level_none", name=level_name)
            kind = "warning"
        else:
            conclusion = self.t(
                "level_result",
                level=self.level_label(g.level),
                name=level_name,
                rule=self._rule_text(cond[cond["rule"] == g.rule_index]),
            )
            kind = "ok"
        items: list[Any] = [
            cd.heading(self.t("h.level"), 3),
            cd.table(sc, scols, lang=self.lang, caption=self.t("cap.scores")),
            self._chart(chart),
            cd.table(cond, ccols, lang=self.lang, caption=self.t("cap.rules")),
            cd.note(conclusion, kind),
        ]
        if g.notes:
            items.append(cd.paragraph(self.t("grading_notes", notes="; ".join(g.notes))))
        items += self._lagging_items()
        return items

    def _condition_text(self, r: Any) -> str:
        if r.kind == "score":
            return self.t(
                "cond.score",
                score=r.score,
                min=self.num(r.required, 0),
                actual=self.num(r.actual, 2),
            )
        names = self._indicator_names(r.below.split(";")) if r.below else []
        text = self.t(f"cond.{r.kind}", level=self.level_label(r.required))
        if names:
            text += self.t("cond.below", items=i18n.fmt_list(names, self.lang))
        return text

    def _rule_text(self, rows: pd.DataFrame) -> str:
        return self.t("cond.joiner").join(
            self._condition_text(r) for r in rows.itertuples(index=False)
        )

    def _indicator_names(self, ids: Iterable[str]) -> list[str]:
        s = self.system
        out = []
        for i in ids:
            try:
                ind = s.indicator(i)
                out.append(self.pick(ind.name.zh, ind.name.en))
            except CpkitError:
                out.append(i)
        return out

    def _lagging_items(self) -> list[Any]:
        lag = self.lagging
        if lag is None or lag.empty:
            return [cd.heading(self.t("h.lagging"), 3), cd.note(self.t("no_lagging"), "ok")]
        lag = lag.copy()
        lag["label"] = [
            self.pick(z, e) for z, e in zip(lag["name_zh"], lag["name_en"], strict=True)
        ]
        lag["level_text"] = [self.level_label(v) for v in lag["level"]]
        lag["next_text"] = [self.level_label(v) for v in lag["next_level"]]
        lag["requirement"] = [
            significant(b, self.lang)
            if not _na(b)
            else (self.pick(z, e) if not _na(z) else i18n.missing(self.lang))
            for b, z, e in zip(
                lag["next_benchmark"],
                lag["next_requirement_zh"],
                lag["next_requirement_en"],
                strict=True,
            )
        ]
        cols = {
            "label": cd.Col(self.t("col.indicator")),
            "unit": cd.Col(self.c("col.unit")),
            "level_text": cd.Col(self.t("col.level_reached")),
            "next_text": cd.Col(self.t("col.next_level")),
            "requirement": cd.Col(self.t("col.requirement")),
            "gap": self._sig_col(self.t("col.gap_next")),
            "gap_pct": cd.Col(self.t("col.gap_pct"), unit="%", digits=1),
            "y_gain_next": cd.Col(self.t("col.points"), digits=2),
        }
        return [
            cd.heading(self.t("h.lagging"), 3),
            cd.paragraph(self.t("lagging_intro", count=len(lag))),
            cd.table(lag, cols, lang=self.lang, caption=self.t("cap.lagging")),
        ]

    def _best_year_items(self) -> Items:
        df = best_year(self.status, self.baseline)
        df = df[
            df["metric"].isin(
                [
                    "material_per_product",
                    "energy_per_product",
                    "energy_per_output_value",
                    "water_intake_per_product",
                    "water_intake_per_output_value",
                    "wastewater_per_product",
                ]
            )
        ].copy()
        df["label"] = [
            self._metric_label(m, n) for m, n in zip(df["metric"], df["name"], strict=True)
        ]
        df["unit_label"] = [self.unit(u) for u in df["unit"]]
        cols = {
            "label": cd.Col(self.t("col.indicator")),
            "unit_label": cd.Col(self.c("col.unit")),
            "baseline": self._sig_col(self.t("col.value_year", year=self.baseline)),
            "best": self._sig_col(self.t("col.best")),
            "best_year": cd.Col(
                self.t("col.best_year"),
                fmt=lambda v: i18n.missing(self.lang) if _na(v) else str(int(v)),
            ),
            "gap_pct": cd.Col(self.t("col.gap_best"), unit="%", digits=1),
        }
        return Items(
            cd.note(self.t("no_system"), "warning"),
            cd.table(df, cols, lang=self.lang, caption=self.t("cap.best_year")),
        )

    # ================================================================== 3.7
    def focus_section(self) -> Items:
        """3.7 (first part): candidates, criteria and weights, the scoring matrix."""

        def body() -> Items:
            res = self.scores
            cand = self.tables["focus_candidates"]
            ccols = {
                "candidate_id": cd.Col(self.c("col.id")),
                "name": cd.Col(self.t("col.candidate")),
                "reasons": cd.Col(self.t("col.reasons")),
            }
            crit = res.criteria.copy()
            crit["label"] = [
                self.pick(z, e) for z, e in zip(crit["name_zh"], crit["name_en"], strict=True)
            ]
            crit["range"] = [
                i18n.missing(self.lang)
                if _na(lo) or _na(hi)
                else (self.num(lo, 0) if lo == hi else f"{self.num(lo, 0)}–{self.num(hi, 0)}")
                for lo, hi in zip(crit["weight_min"], crit["weight_max"], strict=True)
            ]
            crit["source_text"] = [self._weight_source(s) for s in crit["source"]]
            wcols = {
                "label": cd.Col(self.t("col.criterion")),
                "weight": cd.Col(self.t("col.weight"), digits=1),
                "range": cd.Col(self.t("col.usual_range")),
                "source_text": cd.Col(self.t("col.weight_source")),
            }
            m = res.matrix.copy()
            m["label"] = [self.pick(z, e) for z, e in zip(m["name_zh"], m["name_en"], strict=True)]
            mcols: dict[str, cd.Col] = {
                "label": cd.Col(self.t("col.criterion")),
                "weight": cd.Col("W", digits=1),
            }
            for cid in m.attrs["candidates"]:
                mcols[f"{cid}_r"] = cd.Col(f"{cid} R", digits=1)
                mcols[f"{cid}_rw"] = cd.Col(f"{cid} R×W", digits=1)
            items = [
                cd.paragraph(self.t("s37_method")),
                cd.heading(self.t("h.candidates"), 3),
                cd.table(cand, ccols, lang=self.lang, caption=self.t("cap.candidates")),
                cd.heading(self.t("h.criteria"), 3),
                cd.table(crit, wcols, lang=self.lang, caption=self.t("cap.criteria")),
            ]
            outside = [
                f"{lab} W = {self.num(w, 1)}"
                for lab, w, lo, hi in zip(
                    crit["label"],
                    crit["weight"],
                    crit["weight_min"],
                    crit["weight_max"],
                    strict=True,
                )
                if not (_na(lo) or _na(hi)) and not float(lo) <= float(w) <= float(hi)
            ]
            if outside:
                detail = i18n.fmt_list(outside, self.lang)
                items.append(cd.note(self.t("weight_outside", detail=detail), "warning"))
            items += [
                cd.heading(self.t("h.matrix"), 3),
                cd.table(m, mcols, lang=self.lang, caption=self.t("cap.matrix")),
                cd.heading(self.t("h.ranking"), 3),
            ]
            return Items(*items)

        return Items(
            cd.heading(self.t("s37"), 2, anchor="s3-7"),
            _safe(body, self.warn),
        )

    def _weight_source(self, source: Any) -> str:
        s = str(source)
        if s == "dataset":
            return self.t("weight_source.dataset")
        if s == "set by the user":
            return self.t("weight_source.user")
        return self.t("weight_source.default")

    def ranking_items(self, weights: Mapping[str, float] | None = None) -> Items:
        """Ranking table and heatmap for the given weights (the explorer's output)."""
        from cpkit.charts import status as charts

        res = self.scoring_result(weights)
        r = res.ranking.copy()
        r["tie_text"] = [self.t("tied") if t else "" for t in r["tied"]]
        cols = {
            "rank": cd.Col(self.t("col.rank"), digits=0),
            "candidate_id": cd.Col(self.c("col.id")),
            "name": cd.Col(self.t("col.candidate")),
            "total_score": cd.Col(self.t("col.total_score"), digits=1),
            "tie_text": cd.Col(self.t("col.tie")),
        }
        names = {
            c: self.pick(z, e)
            for c, z, e in zip(
                res.criteria["criterion_id"],
                res.criteria["name_zh"],
                res.criteria["name_en"],
                strict=True,
            )
        }
        cells = res.cells.copy()
        cells["candidate"] = cells["candidate_id"].astype(str)
        cells["criterion"] = [names[c] for c in cells["criterion_id"]]
        cells["text"] = [
            f"{self.num(rr, _places(rr))}×{self.num(w, _places(w))}={self.num(rw, _places(rw))}"
            for rr, w, rw in zip(cells["score_r"], cells["weight"], cells["score_rw"], strict=True)
        ]
        chart = charts.scoring_heatmap(
            cells,
            title=self.t("chart.heatmap_title"),
            x_title=self.t("col.candidate"),
            y_title=self.t("col.criterion"),
            colour_title="R×W",
            candidate_order=list(r["candidate_id"]),
            criterion_order=[names[c] for c in res.criteria["criterion_id"]],
        )
        top = i18n.fmt_list(res.top, self.lang)
        note = (
            cd.note(self.t("tie_top", ids=top), "warning")
            if len(res.top) > 1
            else cd.paragraph(
                self.t("ranking_result", top=top, score=self.num(r["total_score"].iloc[0], 1))
            )
        )
        return Items(
            cd.table(r, cols, lang=self.lang, caption=self.t("cap.ranking")),
            note,
            self._chart(chart),
        )

    def focus_explorer(self) -> None:
        """Ranking and heatmap; with ``interactive`` one slider per criterion re-ranks live
        (ipywidgets through :func:`cpkit.display.explore`), otherwise shown once."""
        from cpkit import scoring

        try:
            crit = self.scores.criteria
        except CpkitError as exc:
            from IPython.display import display

            display(self.warn(exc))
            return None
        ids = [str(c) for c in crit["criterion_id"]]
        keys = {f"w{i}": cid for i, cid in enumerate(ids)}
        defaults = dict(zip(keys, crit["weight"].astype(float), strict=True))

        def show(**values: float) -> Items:
            return self.ranking_items({keys[k]: float(v) for k, v in values.items()})

        if self.ctx.interactive:
            import ipywidgets as widgets

            scale = scoring.score_scale()
            names = [self.pick(z, e) for z, e in zip(crit["name_zh"], crit["name_en"], strict=True)]
            controls = {
                k: widgets.FloatSlider(
                    value=defaults[k],
                    min=scale.weight_min,
                    max=scale.weight_max,
                    step=0.5,
                    description=name,
                    continuous_update=False,
                    style={"description_width": "initial"},
                )
                for k, name in zip(keys, names, strict=True)
            }
        else:
            controls = defaults
        cd.explore(show, controls, interactive=self.ctx.interactive)
        return None

    def stability_section(self) -> Items:
        """Rank stability: how far each weight can move before the top choice changes."""

        def body() -> Items:
            st = self.stability.copy()
            names = {
                c: self.pick(z, e)
                for c, z, e in zip(
                    self.scores.criteria["criterion_id"],
                    self.scores.criteria["name_zh"],
                    self.scores.criteria["name_en"],
                    strict=True,
                )
            }
            st["label"] = [names[c] for c in st["criterion_id"]]
            from cpkit import scoring

            scale = scoring.score_scale()
            st["down_text"] = [
                self._bound_text(v, k)
                for v, k in zip(st["down_to_weight"], st["down_challenger"], strict=True)
            ]
            st["up_text"] = [
                self._bound_text(v, k, scale.weight_max)
                for v, k in zip(st["up_to_weight"], st["up_challenger"], strict=True)
            ]
            st["within_text"] = [
                i18n.missing(self.lang) if _na(v) else self._yes_no(v)
                for v in st["change_within_range"]
            ]
            cols = {
                "label": cd.Col(self.t("col.criterion")),
                "weight": cd.Col("W", digits=1),
                "down_text": cd.Col(self.t("col.down_to")),
                "up_text": cd.Col(self.t("col.up_to")),
                "within_text": cd.Col(self.t("col.change_in_range")),
            }
            risky = st[st["change_within_range"].fillna(False).astype(bool)]
            top = i18n.fmt_list(self.scores.top, self.lang)
            summary = (
                cd.note(
                    self.t(
                        "stability_risky",
                        top=top,
                        items=i18n.fmt_list(list(risky["label"]), self.lang),
                    ),
                    "warning",
                )
                if len(risky)
                else cd.note(self.t("stability_ok", top=top), "ok")
            )
            return Items(
                cd.heading(self.t("h.stability"), 3),
                cd.paragraph(
                    self.t(
                        "stability_intro",
                        min=self.num(scale.weight_min, 0),
                        max=self.num(scale.weight_max, 0),
                    )
                ),
                cd.table(st, cols, lang=self.lang, caption=self.t("cap.stability")),
                summary,
            )

        return _safe(body, self.warn)

    def _bound_text(self, value: Any, challenger: Any, scale_max: float | None = None) -> str:
        if _na(value):
            return self.t("bound_none")
        text = self.t("bound", weight=self.num(value, 2), challenger=challenger)
        if scale_max is not None and float(value) > scale_max:
            text += self.t("bound_unreachable", max=self.num(scale_max, 0))
        return text

    def agreement_section(self) -> Items:
        """Chosen focus against the ranking and against the rules of clause 5.2.12."""

        def body() -> Items:
            res = self.scores
            chosen = self.profile.audit_focus
            names = dict(
                zip(
                    self.tables["focus_candidates"]["candidate_id"].astype(str),
                    self.tables["focus_candidates"]["name"].astype(str),
                    strict=True,
                )
            )
            items: list[Any] = [cd.heading(self.t("h.agreement"), 3)]
            if not chosen:
                items.append(
                    cd.note(
                        self.t("focus_not_set", top=i18n.fmt_list(res.top, self.lang)), "warning"
                    )
                )
            elif str(chosen) in res.top:
                items.append(
                    cd.note(
                        self.t("focus_agrees", focus=chosen, name=names.get(str(chosen), "")), "ok"
                    )
                )
            else:
                items.append(
                    cd.note(
                        self.t(
                            "focus_differs",
                            focus=chosen,
                            name=names.get(str(chosen), ""),
                            top=i18n.fmt_list(res.top, self.lang),
                        ),
                        "warning",
                    )
                )
            fr = self.focus_rules.copy()
            if fr.empty:
                items.append(cd.paragraph(self.t("rules_none")))
                return Items(*items)
            fr["category_text"] = [self.c(f"category.{c}") for c in fr["category"]]
            fr["requirement"] = [self.t(f"rule.{e}") for e in fr["evidence"]]
            fr["items_text"] = [self._list_or_dash(v) for v in fr["items"]]
            fr["matching_text"] = [self._list_or_dash(v) for v in fr["matching"]]
            fr["verdict_text"] = [self.t(f"verdict.{v}") for v in fr["verdict"]]
            cols = {
                "category_text": cd.Col(self.t("col.category")),
                "requirement": cd.Col(self.t("col.requirement")),
                "items_text": cd.Col(self.t("col.items")),
                "matching_text": cd.Col(self.t("col.matching")),
                "verdict_text": cd.Col(self.t("col.verdict")),
            }
            items += [
                cd.paragraph(self.t("rules_intro")),
                cd.table(fr, cols, lang=self.lang, caption=self.t("cap.rules_check")),
            ]
            bad = fr[fr["verdict"] == "disagrees"]
            if len(bad):
                items.append(
                    cd.note(
                        self.t(
                            "rules_disagree",
                            items=i18n.fmt_list(list(bad["category_text"]), self.lang),
                        ),
                        "warning",
                    )
                )
            return Items(*items)

        return _safe(body, self.warn)

    def _list_or_dash(self, value: Any) -> str:
        if _na(value) or not str(value):
            return i18n.missing(self.lang)
        return i18n.fmt_list(str(value).split(";"), self.lang)

    # ================================================================== 3.8
    def targets_section(self) -> Items:
        """3.8: near- and mid-term targets with deadlines and basis; 5.2.14 coverage."""

        def body() -> Items:
            from cpkit import indicators

            t = self.tables["targets"]
            if t.empty:
                return Items(cd.note(self.t("no_targets"), "warning"))
            a = indicators.attainment(t)
            a["basis"] = list(t["basis"]) if "basis" in t else pd.NA
            for term in ("near", "mid"):
                a[f"{term}_text"] = [
                    self._target_text(v, p)
                    for v, p in zip(a[f"{term}_term"], a[f"planned_change_{term}_pct"], strict=True)
                ]

            def iso(v: Any) -> str:
                return i18n.missing(self.lang) if _na(v) else pd.Timestamp(v).strftime("%Y-%m-%d")

            cols = {
                "target_id": cd.Col(self.c("col.id")),
                "indicator": cd.Col(self.t("col.indicator")),
                "unit": cd.Col(self.c("col.unit")),
                "baseline": self._sig_col(self.t("col.baseline_value"), strip=True),
                "near_text": cd.Col(self.t("col.near"), align="right"),
                "near_term_deadline": cd.Col(self.t("col.deadline"), fmt=iso),
                "mid_text": cd.Col(self.t("col.mid"), align="right"),
                "mid_term_deadline": cd.Col(self.t("col.deadline"), fmt=iso),
                "basis": cd.Col(self.t("col.basis")),
            }
            items = [
                cd.table(a, cols, lang=self.lang, caption=self.t("cap.targets")),
                cd.paragraph(self.t("targets_note")),
            ]
            cov = self.coverage.copy()
            if len(cov):
                cov["subject_text"] = [
                    self.pick(z, e) if c == "5.2.14 a" else self.c(f"category.{s}")
                    for c, s, z, e in zip(
                        cov["clause"], cov["subject"], cov["name"], cov["name_en"], strict=True
                    )
                ]
                cov["targets_text"] = [self._list_or_dash(v) for v in cov["targets"]]
                cov["need_text"] = [self.t(f"need.{n}") for n in cov["need"]]
                cov["covered_text"] = [
                    self.t("covered") if v else self.t("not_covered") for v in cov["covered"]
                ]
                shown = cov[cov["need"] == "required"]
                advised = cov[cov["need"] == "advised"]
                ccols = {
                    "clause": cd.Col(self.t("col.clause")),
                    "subject_text": cd.Col(self.t("col.subject")),
                    "targets_text": cd.Col(self.t("col.targets")),
                    "covered_text": cd.Col(self.t("col.result")),
                }
                missing = shown[~shown["covered"].astype(bool)]
                items += [
                    cd.heading(self.t("h.coverage"), 3),
                    cd.paragraph(self.t("coverage_intro")),
                    cd.table(shown, ccols, lang=self.lang, caption=self.t("cap.coverage"))
                    if len(shown)
                    else None,
                    cd.note(
                        self.t(
                            "coverage_missing",
                            items=i18n.fmt_list(list(missing["subject_text"]), self.lang),
                        ),
                        "warning",
                    )
                    if len(missing)
                    else cd.note(self.t("coverage_ok"), "ok"),
                    cd.paragraph(
                        self.t(
                            "coverage_advised",
                            count=len(advised),
                            covered=int(advised["covered"].astype(bool).sum()),
                        )
                    )
                    if len(advised)
                    else None,
                ]
            return Items(*items)

        return Items(
            cd.heading(self.t("s38"), 2, anchor="s3-8"),
            cd.paragraph(self.t("s38_intro")),
            _safe(body, self.warn),
        )

    def _target_text(self, value: Any, change_pct: Any) -> str:
        if _na(value):
            return i18n.missing(self.lang)
        text = significant(value, self.lang, strip=True)
        if _na(change_pct):
            return text
        change = _signed(change_pct, self.lang)
        return f"{text}（{change}%）" if self.lang == "zh" else f"{text} ({change}%)"

    # ================================================================== 3.9
    def options_section(self) -> Items:
        """3.9: the options of this phase (phase_proposed = 2), status and results."""

        def body() -> Items:
            from cpkit import screening

            th = screening.cost_thresholds(
                self.params.cost_class_thresholds,
                no_low_cost_max_10k_cny=self.params.no_low_cost_max_10k_cny,
            )
            o = phase_options(
                self.tables["options"], self.tables["implementation"], 2, thresholds=th
            )
            if o.empty:
                return Items(cd.note(self.t("no_options")))
            o["aspect_text"] = [self.c(f"aspect.{a}") for a in o["aspect"]]
            o["class_text"] = [
                self.c(f"cost_class.{c}") if not _na(c) else i18n.missing(self.lang)
                for c in o["cost_class"]
            ]
            o["status_text"] = [self.c(f"option_status.{s}") for s in o["status"]]
            o["basis_text"] = [self.t(f"benefit.{b}") for b in o["benefit_basis"]]
            cols = {
                "option_id": cd.Col(self.c("col.id")),
                "name": cd.Col(self.t("col.option")),
                "aspect_text": cd.Col(self.t("col.aspect")),
                "class_text": cd.Col(self.t("col.cost_class")),
                "investment_10k_cny": cd.Col(
                    self.c("col.investment"), unit=self.unit("10k_CNY"), digits=2
                ),
                "benefit_10k_cny": cd.Col(
                    self.c("col.annual_benefit"), unit=self.unit("10k_CNY"), digits=2
                ),
                "basis_text": cd.Col(self.t("col.benefit_basis"), align="center"),
                "status_text": cd.Col(self.c("col.status"), align="center"),
                "evaluation": cd.Col(self.t("col.evaluation")),
            }
            done = o[o["status"] == "implemented"]
            total = {
                "option_id": self.c("total"),
                "investment_10k_cny": o["investment_10k_cny"].sum(min_count=1),
                "benefit_10k_cny": o["benefit_10k_cny"].sum(min_count=1),
            }
            return Items(
                cd.table(
                    o,
                    cols,
                    lang=self.lang,
                    caption=self.t("cap.options"),
                    total_row=_total_row(total),
                ),
                cd.paragraph(
                    self.t(
                        "options_summary",
                        count=len(o),
                        done=len(done),
                        investment=i18n.fmt_money(o["investment_10k_cny"].sum(), self.lang),
                        benefit=i18n.fmt_money(o["benefit_10k_cny"].sum(), self.lang),
                    )
                ),
            )

        return Items(
            cd.heading(self.t("s39"), 2, anchor="s3-9"),
            cd.paragraph(self.t("s39_intro")),
            _safe(body, self.warn),
        )

    # ================================================================== teaching
    def teach_materials(self) -> Items:
        """Teaching: unit consumption and its trend."""
        from cpkit import teaching

        return Items(teaching.explain(self.ctx, self.t("teach.materials")))

    def teach_tce(self) -> Items:
        """Teaching: conversion to tonnes of standard coal, formula applied to the data."""
        from cpkit import teaching

        if not self.ctx.teaching:
            return Items()
        import sympy

        q, k = sympy.symbols("q_i k_i")
        i, n = sympy.symbols("i n", integer=True)
        general = sympy.Sum(sympy.Indexed("q", i) * sympy.Indexed("k", i), (i, 1, n)) / 1000
        rows = self.tce_rows[self.tce_rows["year"] == self.baseline]
        example = rows[rows["carrier_id"] != "electricity"]
        example = example if len(example) else rows
        items = [
            teaching.explain(
                self.ctx,
                self.t("teach.tce", kj=self.num(self.tce_rows.attrs["basis"]["kj_per_kgce"], 1)),
            ),
            teaching.formula(self.ctx, general, lhs="E_{tce}"),
        ]
        if len(example):
            r = example.iloc[0]
            name = self.pick(r["name_zh"], r["name_en"])
            items.append(
                teaching.explain(
                    self.ctx, self.t("teach.tce_example", carrier=name, unit=self.unit(r["unit"]))
                )
            )
            items.append(
                teaching.formula(
                    self.ctx,
                    q * k / 1000,
                    lhs="E_{tce}",
                    substitutions={
                        q: _exact(r["quantity"]),
                        k: _exact(r["coefficient_kgce_per_unit"]),
                    },
                )
            )
        return Items(*items)

    def exercise_tce(self):
        """Exercise: this year's electricity in tce (answer from :func:`cpkit.energy.to_tce`)."""
        from cpkit import teaching

        rows = self.tce_rows[(self.tce_rows["year"] == self.baseline)]
        elec = rows[rows["carrier_id"] == "electricity"]
        r = (elec if len(elec) else rows).iloc[0]
        name = self.pick(r["name_zh"], r["name_en"])
        return teaching.exercise(
            self.ctx,
            "p2.tce",
            self.t(
                "exercise.tce",
                year=self.baseline,
                carrier=name,
                quantity=self.num(r["quantity"], 0),
                unit=self.unit(r["unit"]),
                coefficient=significant(r["coefficient_kgce_per_unit"], self.lang, 6, strip=True),
            ),
            float(r["energy_tce"]),
            unit="tce",
        )

    def teach_scoring(self) -> Items:
        """Teaching: the weighted sum Σ W_i R_ij, applied to the top candidate."""
        from cpkit import teaching

        if not self.ctx.teaching:
            return Items()
        import sympy

        i, n = sympy.symbols("i n", integer=True)
        j = sympy.Symbol("j")
        general = sympy.Sum(sympy.Indexed("W", i) * sympy.Indexed("R", i, j), (i, 1, n))
        res = self.scores
        top = res.ranking.iloc[0]
        cells = res.cells[res.cells[res.id_column] == top[res.id_column]]
        w_syms = sympy.symbols(f"W_1:{len(cells) + 1}")
        r_syms = sympy.symbols(f"R_1:{len(cells) + 1}")
        expr = sympy.Add(*[a * b for a, b in zip(w_syms, r_syms, strict=True)])
        subs = {
            **dict(zip(w_syms, map(_exact, cells["weight"]), strict=True)),
            **dict(zip(r_syms, map(_exact, cells["score_r"]), strict=True)),
        }
        return Items(
            teaching.explain(self.ctx, self.t("teach.scoring")),
            teaching.formula(self.ctx, general, lhs="S_j"),
            teaching.explain(
                self.ctx, self.t("teach.scoring_example", candidate=top[res.id_column])
            ),
            teaching.formula(self.ctx, expr, lhs=f"S_{{{top[res.id_column]}}}", substitutions=subs),
        )

    def exercise_scoring(self):
        """Exercise: the total score of the second candidate (answer from cpkit.scoring)."""
        from cpkit import teaching

        r = self.scores.ranking
        row = r.iloc[1] if len(r) > 1 else r.iloc[0]
        cid = row[self.scores.id_column]
        return teaching.exercise(
            self.ctx,
            "p2.scoring",
            self.t("exercise.scoring", candidate=cid, name=row["name"]),
            float(row["total_score"]),
            unit="",
        )

    def teach_grading(self) -> Items:
        """Teaching: the comprehensive index Y_gk and its computation from group scores."""
        from cpkit import teaching

        if not self.ctx.teaching or self._safe_table("grade") is None:
            return Items()
        import sympy

        i, j, m = sympy.symbols("i j m", integer=True)
        ni = sympy.Symbol("n_i", integer=True)
        ygk = sympy.Function("Y_{g_k}")
        general = sympy.Sum(
            sympy.Indexed("w", i)
            * sympy.Sum(sympy.Indexed("omega", i, j) * ygk(sympy.Indexed("x", i, j)), (j, 1, ni)),
            (i, 1, m),
        )
        g = self.grade
        lv = g.levels[1] if len(g.levels) > 1 else g.levels[0]
        groups = g.groups
        w_syms = sympy.symbols(f"w_1:{len(groups) + 1}")
        s_syms = sympy.symbols(f"s_1:{len(groups) + 1}")
        expr = sympy.Add(*[a * b for a, b in zip(w_syms, s_syms, strict=True)])
        subs = {
            **dict(zip(w_syms, map(_exact, groups["weight_effective"]), strict=True)),
            **dict(zip(s_syms, map(_exact, groups[f"score_{lv}"]), strict=True)),
        }
        return Items(
            teaching.explain(self.ctx, self.t("teach.grading")),
            teaching.formula(self.ctx, general, lhs="Y_{g_k}"),
            teaching.explain(self.ctx, self.t("teach.grading_example", level=lv)),
            teaching.formula(self.ctx, expr, lhs=f"Y_{{{lv}}}", substitutions=subs),
        )

    def exercise_grading(self):
        """Exercise: Y of the second level from the group scores (answer from cpkit.grading)."""
        from cpkit import teaching

        g = self._safe_table("grade")
        if g is None:
            return _Inactive()
        lv = g.levels[1] if len(g.levels) > 1 else g.levels[0]
        return teaching.exercise(
            self.ctx,
            "p2.grading",
            self.t("exercise.grading", level=lv),
            float(g.scores[f"Y_{lv}"]),
            unit="",
        )

    def teach_water(self) -> Items:
        """Teaching: the reuse rate of GB/T 12452 with the test figures."""
        from cpkit import teaching

        if not self.ctx.teaching:
            return Items()
        import sympy

        vr, vi = sympy.symbols("V_r V_i")
        w = self._safe_table("water_rates")
        subs = None
        if w is not None:
            r = w.set_index("indicator").loc["reuse_rate"]
            if not _na(r["value"]):
                v_t, v_r = float(r["denominator"]), float(r["numerator"])
                subs = {vr: _exact(round(v_r, 2)), vi: _exact(round(v_t - v_r, 2))}
        # with the test figures the formula is shown once symbolic, once filled in
        return Items(
            teaching.explain(self.ctx, self.t("teach.water")),
            teaching.formula(self.ctx, vr / (vr + vi) * 100, lhs="R", substitutions=subs),
        )

    def teach_pollutants(self) -> Items:
        """Teaching: ratio to the limit and exceedance multiple."""
        from cpkit import teaching

        if not self.ctx.teaching:
            return Items()
        import sympy

        c, c0 = sympy.symbols("C C_0")
        items = [
            teaching.explain(self.ctx, self.t("teach.pollutants")),
            teaching.formula(self.ctx, (c - c0) / c0, lhs="n"),
        ]
        comp = self._safe_table("compliance")
        if comp is not None:
            worst = comp.dropna(subset=["ratio_to_limit"]).sort_values(
                "ratio_to_limit", ascending=False, kind="stable"
            )
            if len(worst) and float(worst["ratio_to_limit"].iloc[0]) > 1:
                r = worst.iloc[0]
                items += [
                    teaching.explain(self.ctx, self.t("teach.pollutants_example", name=r["name"])),
                    teaching.formula(
                        self.ctx,
                        (c - c0) / c0,
                        lhs="n",
                        substitutions={c: _exact(r["concentration"]), c0: _exact(r["limit"])},
                    ),
                ]
        return Items(*items)

    # ================================================================== records
    def record_figures(self) -> None:
        """Hand the chapter's key figures to the batch index (cpkit.render.record):
        baseline-year energy (tce) and its output-value intensity, water intake (m3) and
        its intensity, CO2 (t), the CP level before the audit."""
        from cpkit.render import record

        b = self.baseline
        label = lambda key: {lang: i18n.t(f"p2.figure.{key}", lang) for lang in i18n.LANGS}  # noqa: E731
        e = self._safe_table("energy")
        if e is not None and (e["year"] == b).any():
            r = e[e["year"] == b].iloc[0]
            record("energy_tce", float(r["energy_tce"]), unit="tce")
            if not _na(r["energy_tce_per_10k_cny"]):
                record(
                    "energy_tce_per_10k_cny",
                    float(r["energy_tce_per_10k_cny"]),
                    unit="tce/10k_CNY",
                    better="lower",
                    label=label("energy_tce_per_10k_cny"),
                )
        st = self._safe_table("status")
        if st is not None:
            w = st[(st["metric"] == "water_intake_per_output_value") & (st["year"] == b)]
            if len(w) and not _na(w["numerator"].iloc[0]):
                record("water_intake_m3", float(w["numerator"].iloc[0]), unit="m3")
                if not _na(w["value"].iloc[0]):
                    record(
                        "water_m3_per_10k_cny",
                        float(w["value"].iloc[0]),
                        unit="m3/10k_CNY",
                        better="lower",
                        label=label("water_m3_per_10k_cny"),
                    )
        co2 = self._safe_table("co2")
        if co2 is not None and (co2["year"] == b).any():
            record(
                "co2_t",
                float(co2.loc[co2["year"] == b, "co2_total_t"].iloc[0]),
                unit="tCO2",
                label=label("co2_t"),
            )
        g = self._safe_table("grade")
        if g is not None:
            record("cp_level", g.level)
            record("cp_level_before", g.level, label=label("cp_level_before"))
        return None


class _Inactive:
    """An exercise stand-in that shows nothing (no grading to ask about)."""

    def check(self, answer: Any = None) -> None:
        return None


def _exact(value: Any) -> Any:
    """A number for a sympy substitution: integers stay integers (``8``, not ``8.0``)."""
    import sympy

    x = float(value)
    if x.is_integer() and abs(x) < 1e15:
        return sympy.Integer(int(x))
    return sympy.Float(repr(x))


def _places(x: float) -> int:
    """Decimals to show a weight or score without hiding a fraction (10 -> 0, 10.5 -> 1)."""
    return 0 if float(x).is_integer() else 1
