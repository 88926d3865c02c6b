"""Report chapter 7 (方案实施, seed 004 clauses 5.6.1-5.6.7; Hainan attached table 4).

The figures of the implementation phase, computed once from the dataset by
:func:`chapter` (pandas in, pandas out; nothing here modifies its inputs), and the
display objects notebook ``06_implementation`` shows, section by section:

* 7.1 organising implementation (5.6.2): :func:`implementation_plan` -- who does what
  and when, with the funding; :func:`plan_issues` -- what a reviewer would send back;
* 7.2 benefits of the implemented options (5.6.3): :func:`economic_benefits`,
  :func:`economic_totals` (investment and annual benefit, actual against expected) and
  :func:`option_effects` / :func:`effect_totals` (reductions and savings per option and
  in total, no/low vs medium/high cost);
* 7.3 evaluation of the implemented medium/high-cost options (5.6.4):
  :func:`achieved_economics` -- payback, NPV and IRR expected at the feasibility stage
  against those achieved with the actual investment and benefit (cpkit.finance), and
  :func:`prospects` -- the expected performance of the options not implemented yet;
* 7.4 before/after comparison of the main indicators (5.6.5): :func:`before_after_totals`
  and :func:`before_after_intensities` (cpkit.indicators.before_after between the
  baseline year and the audit year, reduction rate (before - after) / before);
* 7.5 target attainment (5.6.6): :func:`target_attainment` (cpkit.indicators.attainment
  with the deadline status of each term);
* 7.6 the CP level after the audit (5.6.6): :func:`grade_before_after` (cpkit.grading);
* annex: the Hainan performance table (cpkit.performance.performance_table).

Display functions take the :class:`Chapter` and the language and return IPython display
objects built with :mod:`cpkit.display` and the message catalogue (``cpkit/messages/
p6.yaml``); they never print.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cpkit import finance, indicators, performance, reference, screening, units
from cpkit.errors import CpkitError, FinanceError, GradingError

__all__ = [
    "Chapter",
    "GradingOutcome",
    "ImplementationError",
    "PlanSummary",
    "achieved_economics",
    "attainment_exercise",
    "before_after",
    "before_after_intensities",
    "before_after_totals",
    "benefit_chart",
    "chapter",
    "complete_after_stage",
    "conclusion",
    "economic",
    "economic_benefits",
    "economic_totals",
    "effect_totals",
    "effects_table",
    "environmental",
    "evaluation",
    "evaluation_details",
    "explore_effects",
    "explore_evaluation",
    "explore_reductions",
    "funding",
    "grade_before_after",
    "implementation_plan",
    "intro",
    "issues_note",
    "item_names",
    "level_score",
    "level_view",
    "option_effects",
    "payback_exercise",
    "performance_annex",
    "plan_issues",
    "plan_summary",
    "plan_table",
    "plan_text",
    "progress_chart",
    "prospects",
    "prospects_view",
    "record_figures",
    "reduction_chart",
    "reduction_exercise",
    "resolve_after_year",
    "score_chart",
    "subtitle",
    "target_attainment",
    "targets_view",
    "teach_attainment",
    "teach_payback",
    "teach_reduction",
    "timeline",
    "title",
]

#: Statuses shown in the implementation plan, in the order the chapter lists them.
STATUS_ORDER = ("implemented", "in_progress", "planned")
#: Cost classes in the order of the Hainan form (no/low first).
COST_CLASSES = ("no_low", "medium_high")
#: Effect items that are water (1 t = 1 m3 by the units convention).
_WATER_ITEMS = frozenset({"fresh_water", "wastewater", "new_water"})


class ImplementationError(CpkitError):
    """The implementation chapter cannot be built from the dataset (what and how to fix)."""


# --------------------------------------------------------------------------- small helpers
def _na(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _f(v: Any) -> float | None:
    return None if _na(v) else float(v)


def _s(v: Any) -> str | None:
    return None if _na(v) or str(v).strip() == "" else str(v)


def _date(v: Any) -> _dt.date | None:
    if _na(v):
        return None
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    if hasattr(v, "to_pydatetime"):
        return v.to_pydatetime().date()
    return _dt.date.fromisoformat(str(v)[:10])


def _need(df: pd.DataFrame, table: str, cols: Sequence[str]) -> None:
    miss = [c for c in cols if c not in df.columns]
    if miss:
        raise ImplementationError(
            f"{table} table lacks column(s) {', '.join(miss)} (see cpkit/dataset_schema.yaml)"
        )


def expected_benefit(row: Mapping[str, Any]) -> float | None:
    """Expected annual economic benefit of an option (10k CNY): annual revenue increase +
    annual operating-cost saving, the P of the CP-report form (calculation reference 6.1)
    and the economic benefit of Hainan attached table 4 note [2]. None when neither is
    given."""
    parts = [
        _f(row.get("annual_revenue_increase_10k_cny")),
        _f(row.get("annual_cost_saving_10k_cny")),
    ]
    return None if all(p is None for p in parts) else sum(p or 0.0 for p in parts)


# --------------------------------------------------------------------------- 7.1 the plan
_PLAN_COLUMNS = [
    "option_id", "name", "aspect", "cost_class", "status", "department", "owner", "start",
    "end", "duration_days", "investment_expected_10k_cny", "subsidy_10k_cny",
    "investment_actual_10k_cny", "benefit_expected_10k_cny", "benefit_actual_10k_cny",
    "evaluation", "technical_assessment", "environmental_assessment", "mandatory_issue",
    "depreciation_years", "has_record",
]  # fmt: skip


def implementation_plan(
    options: pd.DataFrame,
    implementation: pd.DataFrame,
    *,
    thresholds: screening.CostThresholds | str | None = None,
) -> pd.DataFrame:
    """The implementation plan of seed 004 clause 5.6.2 (进度、承担部门、人员分工、资金):
    one row per option that is implemented, in progress or planned (rejected options are
    left out), with its implementation record.

    Columns: option_id, name, aspect, cost_class (the team's, else by the investment
    thresholds, :func:`cpkit.screening.simple_screening` as in the performance table),
    status, department, owner, start, end (dates), duration_days (end - start + 1, both days
    counted), investment_expected_10k_cny, subsidy_10k_cny, investment_actual_10k_cny,
    benefit_expected_10k_cny (revenue increase + cost saving), benefit_actual_10k_cny,
    evaluation, technical_assessment, environmental_assessment, mandatory_issue,
    depreciation_years, has_record (the option has a row in the implementation table).
    Sorted by status (implemented, in progress, planned), then start.
    """
    _need(options, "options", ["option_id", "name", "status", "investment_10k_cny"])
    _need(implementation, "implementation", ["option_id"])
    screened = screening.simple_screening(options, thresholds)
    cost = dict(zip(screened["option_id"].astype(str), screened["cost_class"], strict=True))
    imp = {str(r["option_id"]): r for r in implementation.to_dict("records")}
    rows = []
    for o in options.to_dict("records"):
        status = _s(o.get("status"))
        if status not in STATUS_ORDER:
            continue
        oid = str(o["option_id"])
        i = imp.get(oid, {})
        start, end = _date(i.get("start")), _date(i.get("end"))
        rows.append(
            {
                "option_id": oid,
                "name": _s(o.get("name")) or oid,
                "aspect": _s(o.get("aspect")),
                "cost_class": cost.get(oid),
                "status": status,
                "department": _s(i.get("department")),
                "owner": _s(i.get("owner")),
                "start": start,
                "end": end,
                "duration_days": (end - start).days + 1 if start and end and end >= start else None,
                "investment_expected_10k_cny": _f(o.get("investment_10k_cny")),
                "subsidy_10k_cny": _f(o.get("subsidy_10k_cny")),
                "investment_actual_10k_cny": _f(i.get("actual_investment_10k_cny")),
                "benefit_expected_10k_cny": expected_benefit(o),
                "benefit_actual_10k_cny": _f(i.get("actual_annual_benefit_10k_cny")),
                "evaluation": _s(i.get("evaluation")),
                "technical_assessment": _s(o.get("technical_assessment")),
                "environmental_assessment": _s(o.get("environmental_assessment")),
                "mandatory_issue": None
                if _na(o.get("mandatory_issue"))
                else bool(o["mandatory_issue"]),
                "depreciation_years": _f(o.get("depreciation_years")),
                "has_record": oid in imp,
            }
        )
    df = pd.DataFrame(rows, columns=_PLAN_COLUMNS)
    if not df.empty:
        df["_s"] = df["status"].map({s: k for k, s in enumerate(STATUS_ORDER)})
        df["_d"] = pd.to_datetime(df["start"])
        df = df.sort_values(["_s", "_d", "option_id"], kind="stable", na_position="last")
        df = df.drop(columns=["_s", "_d"]).reset_index(drop=True)
    for c in ("start", "end"):
        df[c] = pd.to_datetime(df[c])
    for c in _PLAN_COLUMNS[9:15]:
        df[c] = df[c].astype("Float64")
    df["duration_days"] = df["duration_days"].astype("Int64")
    df["depreciation_years"] = df["depreciation_years"].astype("Int64")
    for c in ("option_id", "name", "aspect", "cost_class", "status", "department", "owner"):
        df[c] = df[c].astype("string")
    df["has_record"] = df["has_record"].astype("boolean")
    df["mandatory_issue"] = df["mandatory_issue"].astype("boolean")
    df.attrs["basis"] = {
        "clause": "seed 004 clause 5.6.2",
        "cost_classes": screened.attrs.get("basis", {}),
    }
    return df


#: Issues :func:`plan_issues` reports, in the order they are listed.
PLAN_ISSUES = (
    "no_record",
    "no_owner",
    "no_dates",
    "end_before_start",
    "not_finished_by_audit_end",
    "no_actual_investment",
    "no_actual_benefit",
)


def plan_issues(plan: pd.DataFrame, audit_end: Any = None) -> pd.DataFrame:
    """What a reviewer would send back about the implementation plan (seed 004 clauses 5.6.2
    and 5.6.3: schedule, responsible department and person, funding; benefits from
    records). One row per option and issue, columns ``option_id, issue``:

    * ``no_record`` -- implemented or in progress but no row in the implementation table;
    * ``no_owner`` -- no department or no responsible person;
    * ``no_dates`` -- no start or no end date;
    * ``end_before_start`` -- the end date is before the start date;
    * ``not_finished_by_audit_end`` -- status implemented but the end date is after the
      end of the audit;
    * ``no_actual_investment`` / ``no_actual_benefit`` -- implemented without the actual
      figure (the expected one is used and flagged wherever it is summed).
    """
    end_audit = _date(audit_end)
    out = []
    for r in plan.to_dict("records"):
        oid, status = str(r["option_id"]), str(r["status"])
        found = []
        if status in ("implemented", "in_progress") and not r["has_record"]:
            found.append("no_record")
        if r["has_record"] or status != "planned":
            if _na(r["department"]) or _na(r["owner"]):
                found.append("no_owner")
            if _na(r["start"]) or _na(r["end"]):
                found.append("no_dates")
            elif r["end"] < r["start"]:
                found.append("end_before_start")
        if status == "implemented":
            if end_audit and not _na(r["end"]) and _date(r["end"]) > end_audit:
                found.append("not_finished_by_audit_end")
            if _na(r["investment_actual_10k_cny"]):
                found.append("no_actual_investment")
            if _na(r["benefit_actual_10k_cny"]):
                found.append("no_actual_benefit")
        out.extend({"option_id": oid, "issue": i} for i in found)
    df = pd.DataFrame(out, columns=["option_id", "issue"]).astype("string")
    if not df.empty:
        order = {k: n for n, k in enumerate(PLAN_ISSUES)}
        df = df.sort_values("issue", key=lambda s: s.map(order), kind="stable", ignore_index=True)
    return df


@dataclass(frozen=True)
class PlanSummary:
    """Counts and dates of the implementation plan (for the chapter's narrative).

    ``counts``: status -> number of options; ``by_class``: (status, cost class) -> number;
    ``first_start`` / ``last_end``: dates of the implemented options; ``departments``: the
    departments named, in plan order (split on ；;、,); money in 10k CNY.
    """

    counts: Mapping[str, int]
    by_class: Mapping[tuple[str, str], int]
    first_start: _dt.date | None
    last_end: _dt.date | None
    departments: tuple[str, ...]
    investment_actual_10k_cny: float
    investment_remaining_10k_cny: float
    subsidy_10k_cny: float

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _split_names(text: str) -> list[str]:
    import re

    return [p.strip() for p in re.split(r"[；;、,，/]", text) if p.strip()]


def plan_summary(plan: pd.DataFrame) -> PlanSummary:
    """Counts by status and cost class, the implementation period, the departments and the
    money of the plan. Investment actually spent: actual figure of implemented options
    (expected where missing); still to spend: expected investment of the options in progress
    or planned, less what in-progress options already spent; subsidies: all plan options."""
    counts = {s: int((plan["status"] == s).sum()) for s in STATUS_ORDER}
    by_class = {
        (s, c): int(((plan["status"] == s) & (plan["cost_class"] == c)).sum())
        for s in STATUS_ORDER
        for c in COST_CLASSES
    }
    done = plan[plan["status"] == "implemented"]
    starts = [d for d in done["start"] if not _na(d)]
    ends = [d for d in done["end"] if not _na(d)]
    deps: list[str] = []
    for d in plan["department"].dropna():
        for name in _split_names(str(d)):
            if name not in deps:
                deps.append(name)
    actual = done["investment_actual_10k_cny"].fillna(done["investment_expected_10k_cny"])
    pending = plan[plan["status"].isin(["in_progress", "planned"])]
    remaining = 0.0
    for r in pending.to_dict("records"):
        exp = _f(r["investment_expected_10k_cny"]) or 0.0
        spent = _f(r["investment_actual_10k_cny"]) or 0.0
        remaining += max(exp - spent, 0.0)
    return PlanSummary(
        counts=counts,
        by_class=by_class,
        first_start=_date(min(starts)) if starts else None,
        last_end=_date(max(ends)) if ends else None,
        departments=tuple(deps),
        investment_actual_10k_cny=float(actual.fillna(0).sum()),
        investment_remaining_10k_cny=remaining,
        subsidy_10k_cny=float(plan["subsidy_10k_cny"].fillna(0).sum()),
    )


# --------------------------------------------------------------------------- 7.2 economic
def economic_benefits(plan: pd.DataFrame) -> pd.DataFrame:
    """Investment and annual economic benefit of each implemented option (seed 004 clause
    5.6.3; Hainan attached table 4 section 一(三), note [2]), 10k CNY.

    ``investment_10k_cny`` / ``benefit_10k_cny`` are the actual figures of the
    implementation table, else the expected ones with ``investment_estimated`` /
    ``benefit_estimated`` set (the same rule as :func:`cpkit.performance.performance_table`).
    ``benefit_achieved_pct = actual benefit / expected benefit x 100`` where both exist and
    the expected benefit is positive.
    """
    done = plan[plan["status"] == "implemented"].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "option_id": done["option_id"],
            "name": done["name"],
            "cost_class": done["cost_class"],
            "investment_expected_10k_cny": done["investment_expected_10k_cny"],
            "investment_actual_10k_cny": done["investment_actual_10k_cny"],
            "investment_10k_cny": done["investment_actual_10k_cny"].fillna(
                done["investment_expected_10k_cny"]
            ),
            "investment_estimated": done["investment_actual_10k_cny"].isna(),
            "benefit_expected_10k_cny": done["benefit_expected_10k_cny"],
            "benefit_actual_10k_cny": done["benefit_actual_10k_cny"],
            "benefit_10k_cny": done["benefit_actual_10k_cny"].fillna(
                done["benefit_expected_10k_cny"]
            ),
            "benefit_estimated": done["benefit_actual_10k_cny"].isna(),
        }
    )
    exp, act = out["benefit_expected_10k_cny"], out["benefit_actual_10k_cny"]
    out["benefit_achieved_pct"] = (act / exp * 100).where(exp > 0).astype("Float64")
    for c in ("investment_estimated", "benefit_estimated"):
        out[c] = out[c].astype("boolean")
    out.attrs["basis"] = {"clause": "seed 004 clause 5.6.3; seed 003 attached table 4 note [2]"}
    return out


def economic_totals(benefits: pd.DataFrame) -> pd.DataFrame:
    """Totals of :func:`economic_benefits` by cost class: rows ``no_low``, ``medium_high``,
    ``total``; columns ``cost_class, options, investment_expected_10k_cny,
    investment_10k_cny, benefit_expected_10k_cny, benefit_10k_cny, estimated`` (some figure
    is an expected one). A sum over an option without any figure is ``<NA>``."""
    rows = []
    for key in (*COST_CLASSES, "total"):
        part = benefits if key == "total" else benefits[benefits["cost_class"] == key]
        rec: dict[str, Any] = {"cost_class": key, "options": len(part)}
        for col in (
            "investment_expected_10k_cny",
            "investment_10k_cny",
            "benefit_expected_10k_cny",
            "benefit_10k_cny",
        ):
            s = part[col]
            rec[col] = pd.NA if s.isna().any() else float(s.sum())
        rec["estimated"] = bool(
            part["investment_estimated"].fillna(False).any()
            or part["benefit_estimated"].fillna(False).any()
        )
        rows.append(rec)
    df = pd.DataFrame(rows)
    for c in df.columns[2:6]:
        df[c] = df[c].astype("Float64")
    df["cost_class"] = df["cost_class"].astype("string")
    return df


# --------------------------------------------------------------------------- 7.2 effects
def _carriers() -> dict[str, tuple[str, str]]:
    tab = reference.table("energy/carriers.csv")
    return {
        str(r["carrier_id"]): (str(r["name_zh"]), str(r["name_en"])) for r in tab.to_dict("records")
    }


#: Effect items that are not rows of a dataset table (names: catalogue p6.item.<id>).
_GENERIC_ITEMS = ("fresh_water", "wastewater", "co2")


def _both(key: str) -> tuple[str, str]:
    """(zh, en) of the catalogue message ``p6.<key>`` (names kept in data frames)."""
    from cpkit import i18n

    return i18n.t(f"p6.{key}", "zh"), i18n.t(f"p6.{key}", "en")


def item_names(
    items: Sequence[str],
    *,
    pollutants: pd.DataFrame | None = None,
    wastes: pd.DataFrame | None = None,
    materials: pd.DataFrame | None = None,
) -> dict[str, tuple[str, str]]:
    """(zh, en) display name of each effect item: the name in the pollutants, wastes or
    materials table (data text, the same in both languages), the energy carrier's name
    (data/reference/energy/carriers.csv), or the generic items fresh water, wastewater, CO2;
    otherwise the id itself."""
    names: dict[str, tuple[str, str]] = {}
    tables = (
        (pollutants, "pollutant_id"),
        (wastes, "waste_id"),
        (materials, "material_id"),
    )
    lookup: dict[str, str] = {}
    for df, key in tables:
        if df is not None and key in df.columns and "name" in df.columns:
            for k, n in zip(df[key].astype(str), df["name"], strict=True):
                lookup.setdefault(k, str(n))
    carriers = _carriers()
    for item in items:
        item = str(item)
        if item in lookup:
            names[item] = (lookup[item], lookup[item])
        elif item in carriers:
            names[item] = carriers[item]
        elif item in _GENERIC_ITEMS:
            names[item] = _both(f"item.{item}")
        else:
            names[item] = (item, item)
    return names


#: Kinds of effect item, in the order summaries list them (water and energy first).
ITEM_KINDS = ("water", "carrier", "co2", "pollutant", "waste", "material", "other")


def _item_kinds(
    pollutants: pd.DataFrame | None, wastes: pd.DataFrame | None, materials: pd.DataFrame | None
):
    """A function item -> kind (:data:`ITEM_KINDS`)."""
    ids = {}
    for df, key, kind in (
        (materials, "material_id", "material"),
        (wastes, "waste_id", "waste"),
        (pollutants, "pollutant_id", "pollutant"),
    ):
        if df is not None and key in df.columns:
            ids.update(dict.fromkeys(df[key].astype(str), kind))
    carriers = set(_carriers())

    def kind(item: str) -> str:
        if item in _WATER_ITEMS:
            return "water"
        if item == "co2":
            return "co2"
        if item in ids:
            return ids[item]
        return "carrier" if item in carriers else "other"

    return kind


def annual_unit(unit: str | None) -> str | None:
    """An effect's unit without a trailing per-year (``kg/a`` -> ``kg``): effects are
    annual amounts, so the per-year is said once, in the column header."""
    if unit is None:
        return None
    return performance._PER_YEAR.sub("", str(unit)).strip() or str(unit)


def option_effects(
    option_effects: pd.DataFrame,
    plan: pd.DataFrame,
    pollutants: pd.DataFrame,
    wastes: pd.DataFrame,
    materials: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Reductions and savings of each option of the plan (seed 004 clause 5.6.3; Hainan
    attached table 4 note [3]: the amount before the audit minus the amount after).

    Columns: option_id, option_name, status, cost_class, item, name_zh, name_en, section
    (``reduction`` of a pollutant or waste, ``saving`` of a resource -- the row kind of
    attached table 4, :func:`cpkit.performance.effect_rows`), kind (:data:`ITEM_KINDS`),
    unit (as entered, per year),
    expected, actual, achieved_pct (actual / expected x 100). Effects of rejected options
    are left out.
    """
    _need(option_effects, "option_effects", ["option_id", "item", "expected", "actual", "unit"])
    placed = performance.effect_rows(option_effects, pollutants, wastes, materials)
    meta = {str(r["option_id"]): r for r in plan.to_dict("records")}
    names = item_names(
        list(option_effects["item"].astype(str)),
        pollutants=pollutants,
        wastes=wastes,
        materials=materials,
    )
    kinds = _item_kinds(pollutants, wastes, materials)
    rows = []
    for rec, sec in zip(option_effects.to_dict("records"), placed["section"], strict=True):
        oid = str(rec["option_id"])
        if oid not in meta:
            continue
        item = str(rec["item"])
        exp, act = _f(rec["expected"]), _f(rec["actual"])
        rows.append(
            {
                "option_id": oid,
                "option_name": meta[oid]["name"],
                "status": meta[oid]["status"],
                "cost_class": meta[oid]["cost_class"],
                "item": item,
                "name_zh": names[item][0],
                "name_en": names[item][1],
                "section": str(sec),
                "kind": kinds(item),
                "unit": annual_unit(_s(rec["unit"])),
                "expected": exp,
                "actual": act,
                "achieved_pct": act / exp * 100 if act is not None and exp else None,
            }
        )
    cols = [
        "option_id", "option_name", "status", "cost_class", "item", "name_zh", "name_en",
        "section", "kind", "unit", "expected", "actual", "achieved_pct",
    ]  # fmt: skip
    df = pd.DataFrame(rows, columns=cols)
    order = {o: n for n, o in enumerate(plan["option_id"])}
    df = df.sort_values(["option_id"], key=lambda s: s.map(order), kind="stable", ignore_index=True)
    for c in cols[:10]:
        df[c] = df[c].astype("string")
    for c in ("expected", "actual", "achieved_pct"):
        df[c] = df[c].astype("Float64")
    df.attrs["basis"] = {"clause": "seed 004 clause 5.6.3; seed 003 attached table 4 note [3]"}
    return df


def effect_totals(effects: pd.DataFrame, *, status: str = "implemented") -> pd.DataFrame:
    """Total reduction or saving of each item over the options with ``status``, split no/low
    vs medium/high cost (Hainan attached table 4 section 二(一), in the enterprise's units).

    For implemented options the actual amount is used, else the expected one
    (``estimated`` says so); for other statuses the expected amount. An item entered in
    several units is converted to its most frequent unit with :mod:`cpkit.units` (water
    1 t = 1 m3). Columns: item, name_zh, name_en, section, kind, unit, no_low, medium_high,
    total, options (how many options contribute), estimated. Reductions first, then
    savings; within each, by kind (:data:`ITEM_KINDS`: water, energy, CO2, pollutants,
    wastes, materials), then in order of first appearance.
    """
    part = effects[effects["status"] == status].copy()
    if status == "implemented":
        part["amount"] = part["actual"].fillna(part["expected"])
        part["estimated"] = part["actual"].isna() & part["expected"].notna()
    else:
        part["amount"] = part["expected"]
        part["estimated"] = False
    rows = []
    density = units.water_density_t_m3()
    rank = {k: n for n, k in enumerate(ITEM_KINDS)}
    for section in ("reduction", "saving"):
        sec = part[part["section"] == section]
        first = list(dict.fromkeys(sec["item"]))
        kind_of = dict(zip(sec["item"], sec["kind"], strict=True))
        for item in sorted(first, key=lambda i: (rank.get(kind_of[i], len(rank)), first.index(i))):
            grp = sec[sec["item"] == item]
            known = grp["unit"].dropna()
            target = known.value_counts().index[0] if len(known) else None
            amounts = []
            for amount, unit in zip(grp["amount"], grp["unit"], strict=True):
                if _na(amount):
                    amounts.append(float("nan"))
                    continue
                factor = 1.0
                if target and unit and unit != target:
                    factor = units.conversion_factor(
                        unit, target, density_t_m3=density if item in _WATER_ITEMS else None
                    )
                amounts.append(float(amount) * factor)
            g = grp.assign(amount=amounts)
            first_row = g.iloc[0]
            rec = {
                "item": item,
                "name_zh": first_row["name_zh"],
                "name_en": first_row["name_en"],
                "section": section,
                "kind": first_row["kind"],
                "unit": target,
                "options": int(g["amount"].notna().sum()),
                "estimated": bool(g["estimated"].any()),
            }
            for cls in COST_CLASSES:
                rec[cls] = float(g.loc[g["cost_class"] == cls, "amount"].sum())
            rec["total"] = float(g["amount"].sum())
            rows.append(rec)
    cols = [
        "item", "name_zh", "name_en", "section", "kind", "unit", "no_low", "medium_high",
        "total", "options", "estimated",
    ]  # fmt: skip
    df = pd.DataFrame(rows, columns=cols)
    for c in cols[:6]:
        df[c] = df[c].astype("string")
    for c in ("no_low", "medium_high", "total"):
        df[c] = df[c].astype("Float64")
    df["options"] = df["options"].astype("Int64")
    df["estimated"] = df["estimated"].astype("boolean")
    return df


# --------------------------------------------------------------------------- 7.3 evaluation
def _evaluate_many(
    options: pd.DataFrame,
    cashflows: pd.DataFrame | None,
    ids: Sequence[str],
    a: finance.Assumptions,
) -> dict[str, tuple[dict[str, Any] | None, str | None]]:
    """option id -> (evaluation row, error message): one :func:`cpkit.finance.evaluate`
    call for all, and option by option only when that call fails (so one option with
    unusable inputs does not hide the others)."""
    ids = [str(i) for i in ids]
    if not ids:
        return {}
    try:
        ev = finance.evaluate(options, cashflows, assumptions=a, option_ids=ids)
        return {str(r["option_id"]): (r, None) for r in ev.to_dict("records")}
    except FinanceError:
        pass
    out: dict[str, tuple[dict[str, Any] | None, str | None]] = {}
    for oid in ids:
        try:
            ev = finance.evaluate(options, cashflows, assumptions=a, option_ids=[oid])
            out[oid] = (ev.iloc[0].to_dict(), None)
        except FinanceError as exc:
            out[oid] = (None, str(exc))
    return out


def _achieved_inputs(
    options: pd.DataFrame,
    cashflows: pd.DataFrame | None,
    oid: str,
    investment: float,
    benefit: float,
) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    """The option's finance inputs with the actual investment and annual benefit.

    Constant flows: investment and P replaced (P = actual benefit, all as cost saving).
    Year-by-year schedule: its investments scaled by actual / scheduled investment and its
    net savings by actual benefit / expected annual benefit, so the profile (start-up
    years, replacements) is kept."""
    row = options[options["option_id"].astype(str) == oid].copy()
    sched = None
    if cashflows is not None and len(cashflows):
        s = cashflows[cashflows["option_id"].astype(str) == oid]
        sched = s.copy() if len(s) else None
    if sched is None:
        row["investment_10k_cny"] = investment
        row["annual_revenue_increase_10k_cny"] = 0.0
        row["annual_cost_saving_10k_cny"] = benefit
        return row, None, "constant"
    inv_s = pd.to_numeric(sched["investment_10k_cny"]).astype("Float64")
    p_s = pd.to_numeric(sched["net_saving_10k_cny"]).astype("Float64")
    total = float(inv_s.fillna(0).sum())
    ref = expected_benefit(row.iloc[0].to_dict())
    if ref is None or ref <= 0:
        operating = p_s[sched["year"].astype(int) > 0].dropna()
        ref = float(operating.mean()) if len(operating) else 0.0
    k_inv = investment / total if total > 0 else 1.0
    k_p = benefit / ref if ref else 1.0
    sched["investment_10k_cny"] = inv_s * k_inv
    sched["net_saving_10k_cny"] = p_s * k_p
    row["investment_10k_cny"] = investment
    return row, sched, "schedule_scaled"


_ECON_COLUMNS = [
    "option_id", "name", "investment_expected_10k_cny", "investment_actual_10k_cny",
    "benefit_expected_10k_cny", "benefit_actual_10k_cny", "payback_expected_years",
    "payback_achieved_years", "npv_expected_10k_cny", "npv_achieved_10k_cny",
    "irr_expected", "irr_achieved", "verdict_expected", "verdict_achieved", "basis",
    "estimated", "error",
]  # fmt: skip


def achieved_economics(
    options: pd.DataFrame,
    cashflows: pd.DataFrame | None,
    plan: pd.DataFrame,
    *,
    assumptions: finance.Assumptions | None = None,
    option_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Economic evaluation of the implemented medium/high-cost options, expected against
    achieved (seed 004 clause 5.6.4: the economic part of the evaluation).

    *Expected*: :func:`cpkit.finance.evaluate` on the feasibility-stage inputs (options and
    year-by-year cash flows). *Achieved*: the same evaluation with the actual investment and
    the actual annual benefit of the implementation table (:func:`_achieved_inputs`:
    constant flows replaced; a schedule scaled, ``basis = schedule_scaled``), so payback
    ``N = I / F`` with ``F = E + D`` (calculation reference 6.1), NPV and IRR are those the
    option is now on course for. Missing actual figures fall back to the expected ones
    (``estimated``). An option finance cannot evaluate keeps its row with ``error``.

    ``option_ids``: which options (default: implemented and medium/high cost in ``plan``).
    Columns: see ``_ECON_COLUMNS`` (money in 10k CNY, IRR as a fraction, payback in years
    from the start of operation).
    """
    a = assumptions or finance.resolve_assumptions()
    if option_ids is None:
        sel = plan[(plan["status"] == "implemented") & (plan["cost_class"] == "medium_high")]
        option_ids = list(sel["option_id"].astype(str))
    meta = {str(r["option_id"]): r for r in plan.to_dict("records")}
    option_ids = [str(o) for o in option_ids]
    unknown = [o for o in option_ids if o not in meta]
    if unknown:
        raise ImplementationError(f"option(s) {', '.join(unknown)} not in the implementation plan")
    expected = _evaluate_many(options, cashflows, option_ids, a)
    used: dict[str, tuple[float | None, float | None]] = {}
    rows_in, scheds, bases = [], [], {}
    for oid in option_ids:
        m = meta[oid]
        inv_act, ben_act = _f(m["investment_actual_10k_cny"]), _f(m["benefit_actual_10k_cny"])
        inv_used = inv_act if inv_act is not None else _f(m["investment_expected_10k_cny"])
        ben_used = ben_act if ben_act is not None else _f(m["benefit_expected_10k_cny"])
        used[oid] = (inv_act, ben_act)
        if inv_used is not None and ben_used is not None:
            row, sched, bases[oid] = _achieved_inputs(options, cashflows, oid, inv_used, ben_used)
            rows_in.append(row)
            if sched is not None:
                scheds.append(sched)
    achieved = (
        _evaluate_many(
            pd.concat(rows_in, ignore_index=True),
            pd.concat(scheds, ignore_index=True) if scheds else None,
            list(bases),
            a,
        )
        if rows_in
        else {}
    )
    rows = []
    for oid in option_ids:
        m = meta[oid]
        inv_act, ben_act = used[oid]
        exp, err = expected.get(oid, (None, None))
        ach, err2 = achieved.get(oid, (None, None))
        rec = {
            "option_id": oid,
            "name": m["name"],
            "investment_expected_10k_cny": _f(m["investment_expected_10k_cny"]),
            "investment_actual_10k_cny": inv_act,
            "benefit_expected_10k_cny": _f(m["benefit_expected_10k_cny"]),
            "benefit_actual_10k_cny": ben_act,
            "basis": bases.get(oid),
            "estimated": inv_act is None or ben_act is None,
            "error": err or err2,
        }
        for tag, ev in (("expected", exp), ("achieved", ach)):
            ev = ev or {}
            rec[f"payback_{tag}_years"] = _f(ev.get("payback_years"))
            rec[f"npv_{tag}_10k_cny"] = _f(ev.get("npv_10k_cny"))
            rec[f"irr_{tag}"] = _f(ev.get("irr"))
            rec[f"verdict_{tag}"] = _s(ev.get("verdict"))
        rows.append(rec)
    df = pd.DataFrame(rows, columns=_ECON_COLUMNS)
    for c in _ECON_COLUMNS[2:12]:
        df[c] = df[c].astype("Float64")
    for c in ("option_id", "name", "verdict_expected", "verdict_achieved", "basis", "error"):
        df[c] = df[c].astype("string")
    df["estimated"] = df["estimated"].astype("boolean")
    df.attrs["basis"] = a.as_dict() | {"clause": "seed 004 clause 5.6.4"}
    return df


def prospects(
    options: pd.DataFrame,
    cashflows: pd.DataFrame | None,
    plan: pd.DataFrame,
    *,
    assumptions: finance.Assumptions | None = None,
) -> pd.DataFrame:
    """Expected performance of the medium/high-cost options not implemented yet (in
    progress or planned; seed 004 clause 5.6.4 asks for their expected performance).

    Columns: option_id, name, status, start, end, investment_10k_cny (expected),
    benefit_10k_cny (expected annual), payback_years, npv_10k_cny, irr, verdict (from
    :func:`cpkit.finance.evaluate` on the feasibility inputs), error.
    """
    a = assumptions or finance.resolve_assumptions()
    sel = plan[
        plan["status"].isin(["in_progress", "planned"]) & (plan["cost_class"] == "medium_high")
    ]
    evaluated = _evaluate_many(options, cashflows, list(sel["option_id"].astype(str)), a)
    rows = []
    for r in sel.to_dict("records"):
        oid = str(r["option_id"])
        ev, err = evaluated[oid]
        ev = ev or {}
        rows.append(
            {
                "option_id": oid,
                "name": r["name"],
                "status": r["status"],
                "start": r["start"],
                "end": r["end"],
                "investment_10k_cny": _f(r["investment_expected_10k_cny"]),
                "benefit_10k_cny": _f(r["benefit_expected_10k_cny"]),
                "payback_years": _f(ev.get("payback_years")),
                "npv_10k_cny": _f(ev.get("npv_10k_cny")),
                "irr": _f(ev.get("irr")),
                "verdict": _s(ev.get("verdict")),
                "error": err,
            }
        )
    cols = [
        "option_id", "name", "status", "start", "end", "investment_10k_cny", "benefit_10k_cny",
        "payback_years", "npv_10k_cny", "irr", "verdict", "error",
    ]  # fmt: skip
    df = pd.DataFrame(rows, columns=cols)
    for c in ("start", "end"):
        df[c] = pd.to_datetime(df[c])
    for c in cols[5:10]:
        df[c] = df[c].astype("Float64")
    for c in ("option_id", "name", "status", "verdict", "error"):
        df[c] = df[c].astype("string")
    df.attrs["basis"] = a.as_dict() | {"clause": "seed 004 clause 5.6.4"}
    return df


# --------------------------------------------------------------------------- 7.4 before/after
def resolve_after_year(
    history: pd.DataFrame, baseline_year: int, audit_end: Any = None, after_year: Any = None
) -> int | None:
    """The year compared with the baseline year (seed 004 clause 5.6.5: 审核后).

    ``after_year`` when given (it must be in the history and after the baseline year);
    otherwise the year the audit ends, if the history has it; otherwise the latest history
    year after the baseline year; None when the history has no year after the baseline.
    """
    years = sorted({int(y) for y in pd.to_numeric(history["year"], errors="coerce").dropna()})
    base = int(baseline_year)
    if after_year is not None:
        try:
            y = int(after_year)
        except (TypeError, ValueError):
            raise ImplementationError(
                f"parameter after_year must be a year such as {base + 1}, got {after_year!r}"
            ) from None
        if y <= base:
            raise ImplementationError(
                f"after_year {y} must be after the baseline year {base} (the 'before' of the "
                "comparison)"
            )
        if y not in years:
            raise ImplementationError(
                f"after_year {y}: the history table has no rows for {y} (years present: "
                f"{', '.join(map(str, years)) or 'none'}); add the after-implementation "
                "figures of that year to history"
            )
        return y
    end = _date(audit_end)
    if end is not None and end.year in years and end.year > base:
        return end.year
    later = [y for y in years if y > base]
    return later[-1] if later else None


#: Smaller display units tried in turn for a numerator unit (the first that gives a value
#: of at least 1 is used), so that intensities read like 1.38 kgce/m² rather than 0.00138.
_LADDERS = {
    "tce": ("tce", "kgce"),
    "t": ("t", "kg", "g", "mg"),
    "kg": ("kg", "g", "mg"),
    "m3": ("m3", "L"),
}


def _display_unit(unit: str, magnitude: float) -> tuple[str, float]:
    """(unit, factor) that shows a value of ``magnitude`` (in ``unit``) as at least 1, by
    stepping down the numerator ladder; the unit as it is when nothing applies."""
    if not unit or _na(magnitude) or magnitude == 0:
        return unit, 1.0
    num, sep, den = str(unit).partition("/")
    ladder = _LADDERS.get(num.strip())
    if not ladder:
        return unit, 1.0
    choice, factor = num, 1.0
    for step in ladder:
        factor = units.conversion_factor(num.strip(), step)
        choice = step
        if abs(magnitude) * factor >= 1:
            break
    return (f"{choice}{sep}{den}" if sep else choice), factor


def _scaled(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of a before/after table put in their display unit (``unit`` replaced, before,
    after and reduction multiplied; the rate is unchanged)."""
    out = df.copy()
    new_units, factors = [], []
    for u, b, a in zip(out["unit"], out["before"], out["after"], strict=True):
        mag = max(abs(_f(b) or 0.0), abs(_f(a) or 0.0))
        nu, k = _display_unit(_s(u) or "", mag)
        new_units.append(nu or pd.NA)
        factors.append(k)
    k = pd.Series(factors, index=out.index, dtype="Float64")
    for c in ("before", "after", "reduction"):
        out[c] = out[c] * k
    out["unit"] = pd.Series(new_units, index=out.index, dtype="string")
    return out


_TOTAL_GROUPS = (
    "product",
    "output_value",
    "energy",
    "water_intake",
    "wastewater",
    "waste",
    "emission",
)


def before_after_totals(
    history: pd.DataFrame,
    products: pd.DataFrame,
    *,
    before_year: int,
    after_year: int,
    pollutants: pd.DataFrame | None = None,
    wastes: pd.DataFrame | None = None,
    electricity_basis: str | None = None,
    equal_value_kgce_per_kwh: float | None = None,
) -> pd.DataFrame:
    """Annual amounts before (baseline year) and after (audit year) the audit: output of
    each product and output value, energy by carrier and in total (tce, GB/T 2589 via
    :func:`cpkit.energy.to_tce`), water intake by source and in total, wastewater, each
    solid waste generated and each pollutant emitted (seed 004 clause 5.6.5; Hainan
    attached table 4 note [3]: before minus after).

    :func:`cpkit.indicators.before_after` gives ``reduction = before - after`` and
    ``reduction_rate_pct = (before - after) / before x 100``; a negative reduction is an
    increase (for output it is growth). Columns: group, item, name_zh, name_en, unit
    (display unit: small amounts in t are shown in kg or g), before, after, reduction,
    reduction_rate_pct, note.
    """
    from cpkit import energy

    _need(history, "history", ["year", "category", "item", "quantity", "unit"])
    h = history[pd.to_numeric(history["year"]).isin([int(before_year), int(after_year)])]
    prod_names = (
        dict(zip(products["product_id"].astype(str), products["name"].astype(str), strict=True))
        if "product_id" in products.columns
        else {}
    )
    names = item_names(list(h["item"].astype(str).unique()), pollutants=pollutants, wastes=wastes)
    sources = reference.table("water/sources.csv")
    src_names = {
        str(r["source_id"]): (str(r["name_zh"]), str(r["name_en"]))
        for r in sources.to_dict("records")
    }
    long = []

    def add(group: str, item: str, zh: str, en: str, unit: str, year: int, value: float):
        long.append(
            {
                "order": len(long),
                "group": group,
                "item": item,
                "name_zh": zh,
                "name_en": en,
                "unit": unit,
                "year": int(year),
                "value": value,
            }
        )

    for r in h.to_dict("records"):
        cat, item = str(r["category"]), str(r["item"])
        if cat not in _TOTAL_GROUPS or cat == "energy":
            continue
        if cat == "product":
            zh = en = prod_names.get(item, item)
        elif cat == "output_value":
            zh, en = _both("item.output_value")
        elif cat == "water_intake":
            zh, en = src_names.get(item, (item, item))
        elif cat == "wastewater":
            zh, en = _both("item.discharge") if item == "discharge" else (item, item)
        else:
            zh, en = names.get(item, (item, item))
        add(cat, item, zh, en, str(r["unit"]), int(r["year"]), float(r["quantity"]))
    if (h["category"] == "energy").any():
        tce = energy.to_tce(
            h, basis=electricity_basis, equal_value_kgce_per_kwh=equal_value_kgce_per_kwh
        )
        for r in tce.to_dict("records"):
            add(
                "energy",
                str(r["carrier_id"]),
                str(r["name_zh"]),
                str(r["name_en"]),
                str(r["unit"]),
                int(r["year"]),
                float(r["quantity"]),
            )
        for y, v in tce.groupby(tce["year"].astype(int))["energy_tce"].sum().items():
            add("energy", "total_tce", *_both("item.total_tce"), "tce", int(y), float(v))
    water = h[h["category"] == "water_intake"]
    if water["item"].nunique() > 1:
        for y, v in water.groupby(water["year"].astype(int))["quantity"].sum().items():
            add("water_intake", "total", *_both("item.water_total"), "m3", int(y), float(v))
    if not long:
        raise ImplementationError(
            f"history has no rows for {before_year} and {after_year} to compare"
        )
    data = pd.DataFrame(long)
    rank = {g: n for n, g in enumerate(_TOTAL_GROUPS)}
    first = data.groupby(["group", "item"], sort=False)["order"].min()
    key_order = {k: (rank[k[0]], o) for k, o in first.items()}
    data["key"] = [key_order[(g, i)] for g, i in zip(data["group"], data["item"], strict=True)]
    ba = indicators.before_after(
        data[["key", "group", "item", "unit", "year", "value"]],
        int(before_year),
        int(after_year),
        keys=["key", "group", "item"],
        value="value",
    )
    labels = {
        (g, i): (z, e)
        for g, i, z, e in data[["group", "item", "name_zh", "name_en"]].itertuples(index=False)
    }
    ba.insert(
        3, "name_zh", [labels[(g, i)][0] for g, i in zip(ba["group"], ba["item"], strict=True)]
    )
    ba.insert(
        4, "name_en", [labels[(g, i)][1] for g, i in zip(ba["group"], ba["item"], strict=True)]
    )
    ba = ba.drop(columns=["key"]).reset_index(drop=True)
    out = _scaled(ba)
    for c in ("group", "item", "name_zh", "name_en", "note"):
        out[c] = out[c].astype("string")
    out.attrs["basis"] = dict(ba.attrs.get("basis", {})) | {"clause": "seed 004 clause 5.6.5"}
    return out


#: Status metrics of :func:`cpkit.indicators.status` in the order of the comparison table.
METRIC_ORDER = (
    "material_per_product",
    "energy_per_product",
    "energy_per_output_value",
    "water_intake_per_product",
    "water_intake_per_output_value",
    "wastewater_per_product",
    "waste_per_product",
    "emission_per_product",
)


def before_after_intensities(
    history: pd.DataFrame,
    products: pd.DataFrame,
    *,
    before_year: int,
    after_year: int,
    materials: pd.DataFrame | None = None,
    pollutants: pd.DataFrame | None = None,
    wastes: pd.DataFrame | None = None,
    electricity_basis: str | None = None,
    equal_value_kgce_per_kwh: float | None = None,
) -> pd.DataFrame:
    """Unit consumption and generation indicators before and after the audit (seed 004
    clause 5.6.5: unit consumption and pollution indicators after the audit, with the
    reduction rate against the before values).

    :func:`cpkit.indicators.status` for the two years (every material, comprehensive energy
    in tce (GB/T 2589) and water intake per unit of the main product and per 10^4 CNY of
    output value, wastewater, each waste and each emission per unit of product), then
    :func:`cpkit.indicators.before_after`: ``reduction_rate_pct = (before - after) / before
    x 100``; every one of these indicators is better smaller, so a positive rate is an
    improvement. Columns: metric, item, name_zh, name_en, unit (display unit: kgce, kg, g or
    L where the canonical figure is below 1), before, after, reduction,
    reduction_rate_pct, note. ``attrs["basis"]`` carries the energy basis and main product.
    """
    st = indicators.status(
        history,
        products,
        materials=materials,
        years=[int(before_year), int(after_year)],
        basis=electricity_basis,
        equal_value_kgce_per_kwh=equal_value_kgce_per_kwh,
    )
    ba = indicators.before_after(st, int(before_year), int(after_year))
    names = item_names(
        list(ba["item"].astype(str)), pollutants=pollutants, wastes=wastes, materials=materials
    )
    rank = {m: n for n, m in enumerate(METRIC_ORDER)}
    ba["_r"] = ba["metric"].map(lambda m: rank.get(str(m), len(rank)))
    ba = ba.sort_values(["_r"], kind="stable").drop(columns=["_r"]).reset_index(drop=True)
    zh, en = [], []
    for m, i in zip(ba["metric"], ba["item"], strict=True):
        if str(m).startswith(("material", "waste_per", "emission")):
            z, e = names[str(i)]
        else:
            z, e = "", ""
        zh.append(z)
        en.append(e)
    ba.insert(2, "name_zh", pd.array(zh, dtype="string"))
    ba.insert(3, "name_en", pd.array(en, dtype="string"))
    out = _scaled(ba)
    out["metric"] = out["metric"].astype("string")
    out["item"] = out["item"].astype("string")
    out["note"] = out["note"].astype("string")
    out.attrs["basis"] = dict(st.attrs.get("basis", {})) | {
        "before_year": int(before_year),
        "after_year": int(after_year),
        "clause": "seed 004 clause 5.6.5",
    }
    return out


# --------------------------------------------------------------------------- 7.5 targets
def _term_status(attained: Any, deadline: Any, target: Any, achieved: Any, ref: _dt.date | None):
    if _na(target):
        return "no_target"
    if _na(achieved):
        return "no_value"
    if bool(attained):
        return "attained"
    d = _date(deadline)
    if d is not None and ref is not None and d > ref:
        return "pending"
    return "missed"


def target_attainment(
    targets: pd.DataFrame,
    *,
    metrics: Mapping[str, float] | None = None,
    reference_date: Any = None,
) -> pd.DataFrame:
    """Target attainment (seed 004 clause 5.6.6 and 5.2.13-5.2.14): the columns of
    :func:`cpkit.indicators.attainment` (achieved against the near- and mid-term targets,
    ``progress_*_pct = (achieved - baseline) / (target - baseline) x 100``) plus
    ``near_status`` and ``mid_status``: ``attained``; ``pending`` (not attained yet but
    the deadline is after ``reference_date``, normally the end of the audit); ``missed``
    (deadline passed); ``no_value`` (no achieved value); ``no_target`` (no mid-term target).

    ``metrics``: values for targets whose ``achieved`` is empty, by their ``metric`` (e.g.
    the after-stage indicator values).
    """
    att = indicators.attainment(targets, metrics=metrics)
    ref = _date(reference_date)
    for term, short in (("near_term", "near"), ("mid_term", "mid")):
        att[f"{short}_status"] = pd.array(
            [
                _term_status(a, d, t, v, ref)
                for a, d, t, v in zip(
                    att[f"attained_{short}"],
                    att[f"{term}_deadline"],
                    att[term],
                    att["achieved"],
                    strict=True,
                )
            ],
            dtype="string",
        )
    att.attrs["basis"] = {"reference_date": str(ref) if ref else None}
    return att


# --------------------------------------------------------------------------- 7.6 level
@dataclass(frozen=True)
class GradingOutcome:
    """The CP level before and after the audit (seed 004 clause 5.6.6).

    ``system``: the indicator system (None when the profile names none); ``before`` /
    ``after``: :class:`cpkit.grading.GradeResult` or None; ``comparison``:
    :class:`cpkit.grading.StageComparison` when both stages are graded; ``carried``:
    indicators with no after-stage row whose before value was kept (not re-measured);
    ``errors``: stage -> the grading's message when a stage could not be graded.
    """

    system: Any
    before: Any
    after: Any
    comparison: Any
    carried: tuple[str, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def graded(self) -> bool:
        return self.comparison is not None


def complete_after_stage(indicator_values: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The indicator values with an after-stage row added for every indicator that has a
    before row but none after (the before value and level kept: not re-measured, assumed
    unchanged). Returns (table, ids carried over). Nothing is added when there is no
    after-stage row at all."""
    iv = indicator_values
    stages = iv["stage"].astype("string")
    after_ids = set(iv.loc[stages == "after", "indicator_id"].astype(str))
    if not after_ids:
        return iv, ()
    before = iv[(stages == "before") & ~iv["indicator_id"].astype(str).isin(after_ids)]
    if before.empty:
        return iv, ()
    extra = before.copy()
    extra["stage"] = "after"
    out = pd.concat([iv, extra], ignore_index=True)
    return out, tuple(extra["indicator_id"].astype(str))


def grade_before_after(system_id: str | None, indicator_values: pd.DataFrame) -> GradingOutcome:
    """Grade the enterprise before and after the audit with its indicator system
    (:func:`cpkit.grading.grade`, 2013 通则 index method; seed 004 clauses 5.2.9 and 5.6.6)
    and compare the stages (:func:`cpkit.grading.compare_stages`).

    An indicator not re-measured after the audit keeps its before value
    (:func:`complete_after_stage`, listed in ``carried``). A stage that cannot be graded
    (no rows, an applicable indicator without a value) is reported in ``errors`` with the
    grading's message instead of stopping the chapter.
    """
    from cpkit import grading

    if not system_id:
        return GradingOutcome(None, None, None, None)
    system = grading.load_system(system_id)
    iv, carried = complete_after_stage(indicator_values)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for stage in ("before", "after"):
        try:
            results[stage] = grading.grade(system, iv, stage)
        except GradingError as exc:
            results[stage] = None
            errors[stage] = str(exc)
    comparison = None
    if results["before"] is not None and results["after"] is not None:
        comparison = grading.compare_stages(results["before"], results["after"])
    return GradingOutcome(system, results["before"], results["after"], comparison, carried, errors)


def level_score(result: Any) -> tuple[str, float] | None:
    """(score name, value) that goes with a grading's level: Y of the level reached, or Y
    of the lowest level when none is reached (how far the enterprise is from level III)."""
    if result is None:
        return None
    key = f"Y_{result.level}" if result.level in result.levels else f"Y_{result.levels[-1]}"
    return key, float(result.scores[key])


# --------------------------------------------------------------------------- the chapter
@dataclass(frozen=True)
class Chapter:
    """Every figure of report chapter 7 for one dataset (computed by :func:`chapter`).

    Frames as returned by the functions of this module; ``after_year`` is None when the
    history has no year after the baseline (7.4 then says so); ``performance`` is the
    Hainan attached table 4 (:class:`cpkit.performance.PerformanceTable`).
    """

    name: str
    name_en: str | None
    categories: tuple[str, ...]
    audit_round: str | None
    before_year: int
    after_year: int | None
    audit_end: _dt.date | None
    funding: str | None
    plan: pd.DataFrame
    issues: pd.DataFrame
    summary: PlanSummary
    benefits: pd.DataFrame
    benefit_totals: pd.DataFrame
    effects: pd.DataFrame
    effect_totals: pd.DataFrame
    evaluation: pd.DataFrame
    prospects: pd.DataFrame
    totals: pd.DataFrame | None
    intensities: pd.DataFrame | None
    targets: pd.DataFrame
    grading: GradingOutcome
    performance: Any
    assumptions: finance.Assumptions
    notes: tuple[str, ...] = ()


def _after_metrics(indicator_values: pd.DataFrame) -> dict[str, float]:
    iv = indicator_values
    rows = iv[(iv["stage"].astype("string") == "after") & iv["value"].notna()]
    return {str(k): float(v) for k, v in zip(rows["indicator_id"], rows["value"], strict=True)}


def chapter(
    ds: Any, *, after_year: Any = None, assumptions: finance.Assumptions | None = None
) -> Chapter:
    """Compute chapter 7 for a dataset (:class:`cpkit.dataset.Dataset`, parameters already
    overridden by the notebook): the implementation plan and its issues, the benefits, the
    evaluation of the medium/high-cost options, the before/after comparison between the
    baseline year and ``after_year`` (:func:`resolve_after_year`), target attainment,
    the grading before and after and the Hainan performance table."""
    t = ds.tables
    p, prof = ds.parameters, ds.profile
    thresholds = screening.cost_thresholds(
        getattr(p, "cost_class_thresholds", None),
        no_low_cost_max_10k_cny=getattr(p, "no_low_cost_max_10k_cny", None),
    )
    a = assumptions or finance.resolve_assumptions(p)
    plan = implementation_plan(t["options"], t["implementation"], thresholds=thresholds)
    cashflows = t.get("option_cashflows")
    effects = option_effects(
        t["option_effects"], plan, t["pollutants"], t["wastes"], t.get("materials")
    )
    benefits = economic_benefits(plan)
    base = int(prof.baseline_year)
    audit_end = _date(getattr(prof, "audit_end", None))
    year = resolve_after_year(t["history"], base, audit_end, after_year)
    notes: list[str] = []
    totals = intens = None
    basis = getattr(p, "electricity_basis", None)
    ev = getattr(p, "equal_value_kgce_per_kwh", None)
    if year is not None:
        totals = before_after_totals(
            t["history"],
            t["products"],
            before_year=base,
            after_year=year,
            pollutants=t["pollutants"],
            wastes=t["wastes"],
            electricity_basis=basis,
            equal_value_kgce_per_kwh=ev,
        )
        intens = before_after_intensities(
            t["history"],
            t["products"],
            before_year=base,
            after_year=year,
            materials=t.get("materials"),
            pollutants=t["pollutants"],
            wastes=t["wastes"],
            electricity_basis=basis,
            equal_value_kgce_per_kwh=ev,
        )
    perf = performance.performance_table(
        t["options"],
        t["option_effects"],
        t["implementation"],
        t["pollutants"],
        t["wastes"],
        t.get("materials"),
        thresholds=thresholds,
    )
    cont = getattr(ds, "continuous", None)
    return Chapter(
        name=str(prof.name),
        name_en=getattr(prof, "name_en", None),
        categories=tuple(getattr(prof, "categories", None) or ()),
        audit_round=getattr(prof, "audit_round", None),
        before_year=base,
        after_year=year,
        audit_end=audit_end,
        funding=_s(getattr(cont, "funding", None)) if cont is not None else None,
        plan=plan,
        issues=plan_issues(plan, audit_end),
        summary=plan_summary(plan),
        benefits=benefits,
        benefit_totals=economic_totals(benefits),
        effects=effects,
        effect_totals=effect_totals(effects),
        evaluation=achieved_economics(t["options"], cashflows, plan, assumptions=a),
        prospects=prospects(t["options"], cashflows, plan, assumptions=a),
        totals=totals,
        intensities=intens,
        targets=target_attainment(
            t["targets"],
            metrics=_after_metrics(t["indicator_values"]),
            reference_date=audit_end,
        ),
        grading=grade_before_after(getattr(prof, "indicator_system", None), t["indicator_values"]),
        performance=perf,
        assumptions=a,
        notes=tuple(notes),
    )


# =========================================================================== display
# Everything below turns a Chapter into what the notebook shows: text from the message
# catalogue (cpkit/messages/p6.yaml), tables through cpkit.display (escaped, formatted,
# no index), charts through cpkit.charts.implementation and cpkit.display.chart.


def _t(key: str, lang: str, **fmt: Any) -> str:
    from cpkit import i18n

    return i18n.t(f"p6.{key}", lang, **fmt)


def _c(key: str, lang: str, **fmt: Any) -> str:
    from cpkit import i18n

    return i18n.t(f"common.{key}", lang, **fmt)


def _num(value: Any, lang: str, digits: int = 2) -> str:
    from cpkit import i18n

    return i18n.fmt_number(value, lang, digits)


def _pct(value: Any, lang: str, digits: int = 1) -> str:
    """A value already in percent (12.3 -> "12.3%")."""
    from cpkit import i18n

    if _na(value):
        return i18n.missing(lang)
    return i18n.t("format.percent", lang, value=i18n.fmt_number(value, lang, digits))


def _money(value: Any, lang: str) -> str:
    from cpkit import i18n

    return i18n.fmt_money(value, lang)


def _list(items: Sequence[str], lang: str) -> str:
    from cpkit import i18n

    return i18n.fmt_list(items, lang)


def _paren(text: str, note: str, lang: str) -> str:
    """'text（note）' / 'text (note)'."""
    return _t("fmt.paren", lang, text=text, note=note)


def sig_digits(magnitude: float | None, sig: int = 4, most: int = 6) -> int:
    """Decimals that show ``sig`` significant digits of a number of this magnitude (at
    least 0, at most ``most``): 1.3806 -> 3, 190.51 -> 1, 6,050,000 -> 0, 0.0046 -> 6."""
    if magnitude is None or _na(magnitude) or magnitude == 0:
        return 2
    return max(0, min(most, sig - 1 - math.floor(math.log10(abs(float(magnitude))))))


def data_digits(values: Sequence[Any], most: int = 4) -> int:
    """Decimals that show every value as it was entered (its shortest form, read to ten
    significant digits so float noise such as 4.1899999 counts as 4.19), at most
    ``most``: [0.78, 0.5, 0.32] -> 2, [88.9, 92] -> 1, [60.5, 35.4] -> 1."""
    best = 0
    for v in values:
        if _na(v):
            continue
        text = f"{abs(float(v)):.10g}"
        if "e" in text:
            mant, _, exp = text.partition("e")
            dec = len(mant.partition(".")[2]) - int(exp)
        else:
            dec = len(text.partition(".")[2])
        best = max(best, dec)
    return max(0, min(most, best))


def shown_digits(values: Sequence[Any], sig: int = 4) -> int:
    """Decimals for a row of entered figures: as many as the data carry
    (:func:`data_digits`) but no more than ``sig`` significant digits of the largest."""
    mags = [abs(float(v)) for v in values if not _na(v)]
    if not mags:
        return 0
    return min(data_digits(mags), sig_digits(max(mags), sig))


def unit_text(unit: Any, lang: str) -> str:
    """A unit as a reader sees it: 10k_CNY as 万元 / 10k CNY, m2 and m3 with superscripts."""
    import re

    from cpkit import i18n

    if _na(unit) or str(unit) == "":
        return ""
    u = str(unit).replace("10k_CNY", i18n.unit_label("10k_CNY", lang))
    return re.sub(r"m([23])(?![0-9])", lambda m: "m" + ("²" if m.group(1) == "2" else "³"), u)


def _col(label: str, unit: str | None = None, *, right: bool = False):
    from cpkit.display import Col

    return Col(
        label,
        unit=unit or None,
        fmt=lambda v: "" if _na(v) else str(v),
        align="right" if right else None,
    )


def _money_col(label: str, lang: str):
    from cpkit import i18n
    from cpkit.display import Col

    return Col(
        label,
        unit=i18n.unit_label("10k_CNY", lang),
        fmt=lambda v: _num(v, lang, 2),
        align="right",
    )


def _number_col(label: str, lang: str, digits: int = 2, unit: str | None = None):
    from cpkit.display import Col

    return Col(label, unit=unit, fmt=lambda v: _num(v, lang, digits), align="right")


def _pct_col(label: str, lang: str, digits: int = 1):
    from cpkit.display import Col

    return Col(label, unit="%", fmt=lambda v: _num(v, lang, digits), align="right")


def _table(df: pd.DataFrame, cols: Mapping[str, Any], lang: str, caption: str, total=None):
    from cpkit.display import table

    return table(df, cols, lang=lang, caption=caption, total_row=total)


def _status(s: Any, lang: str) -> str:
    return _c(f"option_status.{s}", lang) if not _na(s) else ""


def _cost(c: Any, lang: str) -> str:
    return _c(f"cost_class.{c}", lang) if not _na(c) else ""


def _label(oid: Any, name: Any, limit: int = 24) -> str:
    text = f"{oid} {name}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _name(row: Mapping[str, Any], lang: str) -> str:
    return str(row["name_zh"] if lang == "zh" else row["name_en"])


def _years(value: Any, lang: str, missing_key: str = "s73.not_recovered") -> str:
    if _na(value):
        return _t(missing_key, lang)
    return _t("s73.years", lang, value=_num(value, lang, 2))


def _verdict(v: Any, lang: str) -> str:
    from cpkit import i18n

    return _t(f"s73.verdict.{v}", lang) if not _na(v) else i18n.missing(lang)


def _level_mark(system: Any, level: Any, lang: str) -> str:
    """'Ⅱ级' / 'Level II' (tables); below level III for none."""
    from cpkit import i18n

    if _na(level) or system is None:
        return i18n.missing(lang)
    if level not in system.levels:
        return _t("s76.level_none", lang)
    return i18n.t(f"level.{level}", lang) if i18n.has(f"level.{level}") else str(level)


def _level_text(system: Any, level: str | None, lang: str) -> str:
    """'Ⅱ级（国内清洁生产先进水平）' / 'Level II (Domestic advanced level)'; below III for none."""
    from cpkit import i18n

    if level is None or system is None:
        return i18n.missing(lang)
    if level not in system.levels:
        return _t("s76.level_none", lang)
    mark = i18n.t(f"level.{level}", lang) if i18n.has(f"level.{level}") else str(level)
    name = getattr(system.level_names[level], lang)
    return _paren(mark, name, lang)


# --------------------------------------------------------------------------- headings
def title(key: str, lang: str, level: int = 2):
    """The heading of a section of the chapter: ``title("s71", lang)`` -> '7.1 ...'."""
    from cpkit.display import heading

    return heading(_t(f"{key}.title" if key != "chapter" else "chapter", lang), level)


def subtitle(key: str, lang: str):
    """An h3 heading from the catalogue key ``p6.<key>`` (e.g. ``s72.economic_title``)."""
    from cpkit.display import heading

    return heading(_t(key, lang), 3)


def intro(ch: Chapter, lang: str):
    """The chapter's opening paragraph."""
    from cpkit.display import paragraph

    name = ch.name if lang == "zh" or not ch.name_en else ch.name_en
    after = ch.after_year if ch.after_year is not None else _t("no_after_year", lang)
    return paragraph(_t("intro", lang, name=name, before_year=ch.before_year, after_year=after))


# --------------------------------------------------------------------------- 7.1
def plan_text(ch: Chapter, lang: str):
    """Counts of the plan by status and class, and when and by whom it was carried out."""
    from cpkit import i18n
    from cpkit.display import paragraph

    s = ch.summary
    text = _t(
        "s71.summary",
        lang,
        total=s.total,
        implemented=s.counts["implemented"],
        impl_low=s.by_class[("implemented", "no_low")],
        impl_high=s.by_class[("implemented", "medium_high")],
        in_progress=s.counts["in_progress"],
        planned=s.counts["planned"],
    )
    if s.first_start and s.last_end:
        text += _t(
            "s71.period",
            lang,
            period=i18n.fmt_period(s.first_start, s.last_end, lang),
            departments=_list(s.departments, lang) or i18n.missing(lang),
        )
    return paragraph(text)


def plan_table(ch: Chapter, lang: str):
    """Table 7-1: each option of the plan with its department, owner, dates and duration."""
    p = ch.plan
    df = pd.DataFrame(
        {
            "option_id": p["option_id"],
            "name": p["name"],
            "cost_class": [_cost(c, lang) for c in p["cost_class"]],
            "status": [_status(s, lang) for s in p["status"]],
            "responsible": [
                _responsible(d, o, lang) for d, o in zip(p["department"], p["owner"], strict=True)
            ],
            "start": p["start"],
            "end": p["end"],
            "days": [_num(d, lang, 0) if not _na(d) else "" for d in p["duration_days"]],
        }
    )
    from cpkit.display import Col

    cols = {
        "option_id": Col(_c("col.id", lang)),
        "name": Col(_c("col.name", lang)),
        "cost_class": Col(_t("s71.col_cost_class", lang)),
        "status": Col(_c("col.status", lang)),
        "responsible": Col(_t("s71.col_responsible", lang)),
        "start": Col(_c("col.start", lang)),
        "end": Col(_c("col.end", lang)),
        "days": _col(_t("s71.col_days", lang), _t("s71.col_days_unit", lang), right=True),
    }
    return _table(df, cols, lang, _t("s71.plan_caption", lang))


def _responsible(department: Any, owner: Any, lang: str) -> str:
    d, o = _s(department), _s(owner)
    if d and o:
        return _paren(d, o, lang)
    return d or o or ""


def timeline_data(ch: Chapter, lang: str) -> pd.DataFrame:
    """The rows of the timeline chart: label, status (translated), start, end, order."""
    p = ch.plan
    return pd.DataFrame(
        {
            "label": [_label(o, n) for o, n in zip(p["option_id"], p["name"], strict=True)],
            "status": [_status(s, lang) for s in p["status"]],
            "start": p["start"],
            "end": p["end"],
            "order": range(len(p)),
        }
    )


def timeline(ch: Chapter, lang: str, interactive: bool = False):
    """Figure 7-1: the implementation timeline (None when no option has dates)."""
    from cpkit.charts import implementation as charts
    from cpkit.display import chart

    data = timeline_data(ch, lang)
    if data.dropna(subset=["start", "end"]).empty:
        return None
    markers = None
    if ch.audit_end is not None:
        markers = pd.DataFrame(
            {"date": [ch.audit_end], "label": [_t("s71.audit_end_marker", lang)]}
        )
    c = charts.timeline(
        data,
        status_title=_c("col.status", lang),
        date_title=_t("s71.timeline_axis", lang),
        status_order=[_status(s, lang) for s in STATUS_ORDER],
        markers=markers,
        title=_t("s71.timeline_title", lang),
    )
    return chart(c, interactive=interactive)


def issues_note(ch: Chapter, lang: str):
    """A warning listing what the plan lacks (None when nothing)."""
    from cpkit.display import note

    if ch.issues.empty:
        return None
    sep = _t("fmt.clause_sep", lang)
    parts = []
    for issue, grp in ch.issues.groupby("issue", sort=False):
        ids = _list(list(dict.fromkeys(grp["option_id"])), lang)
        parts.append(_t(f"s71.issue.{issue}", lang, ids=ids))
    return note(_t("s71.issues_lead", lang) + " " + sep.join(parts), "warning")


def funding(ch: Chapter, lang: str) -> list[Any]:
    """The funding of the options: the dataset's text, the amounts, table 7-2."""
    from cpkit import i18n
    from cpkit.display import Col, paragraph

    s = ch.summary
    out: list[Any] = [
        subtitle("s71.funding_title", lang),
        paragraph(ch.funding) if ch.funding else paragraph(_t("s71.funding_missing", lang)),
        paragraph(
            _t(
                "s71.funding_summary",
                lang,
                actual=_money(s.investment_actual_10k_cny, lang),
                remaining=_money(s.investment_remaining_10k_cny, lang),
            )
            + (
                _t("s71.funding_subsidy", lang, subsidy=_money(s.subsidy_10k_cny, lang))
                if s.subsidy_10k_cny > 0
                else ""
            )
        ),
    ]
    rows = []
    p = ch.plan
    for st in STATUS_ORDER:
        for cls in COST_CLASSES:
            part = p[(p["status"] == st) & (p["cost_class"] == cls)]
            if part.empty:
                continue
            rows.append(
                {
                    "group": _t(
                        "s71.group_row", lang, status=_status(st, lang), cost_class=_cost(cls, lang)
                    ),
                    "options": len(part),
                    "expected": float(part["investment_expected_10k_cny"].fillna(0).sum()),
                    "actual": part["investment_actual_10k_cny"].sum(min_count=1),
                    "subsidy": part["subsidy_10k_cny"].sum(min_count=1),
                }
            )
    if rows:
        df = pd.DataFrame(rows)
        cols = {
            "group": Col(_t("s71.col_group", lang)),
            "options": _number_col(_t("s71.col_options", lang), lang, 0),
            "expected": _money_col(_t("s71.col_invest_expected", lang), lang),
            "actual": _money_col(_t("s71.col_invest_actual", lang), lang),
            "subsidy": _money_col(_t("s71.col_subsidy", lang), lang),
        }
        if not (df["subsidy"].fillna(0) > 0).any():
            del cols["subsidy"]
        total = {
            "group": _c("total", lang),
            "options": int(df["options"].sum()),
            "expected": float(df["expected"].sum()),
            "actual": df["actual"].sum(min_count=1),
            "subsidy": df["subsidy"].sum(min_count=1),
        }
        total = {k: (i18n.missing(lang) if _na(v) else v) for k, v in total.items()}
        out.append(_table(df, cols, lang, _t("s71.funding_caption", lang), total))
    return out


# --------------------------------------------------------------------------- 7.2
def economic(ch: Chapter, lang: str) -> list[Any]:
    """7.2 economic benefits: summary, table 7-3 (each option), table 7-4 (by class)."""
    from cpkit.display import Col, note, paragraph

    b, tot = ch.benefits, ch.benefit_totals.set_index("cost_class")
    out: list[Any] = [subtitle("s72.economic_title", lang)]
    if b.empty:
        return [*out, paragraph(_t("s72.economic_none", lang))]
    exp = tot.at["total", "benefit_expected_10k_cny"]
    ratio = (
        _pct(tot.at["total", "benefit_10k_cny"] / exp * 100, lang, 0)
        if not _na(exp) and exp > 0 and not _na(tot.at["total", "benefit_10k_cny"])
        else _t("no_after_year", lang)
    )
    out.append(
        paragraph(
            _t(
                "s72.economic_summary",
                lang,
                count=len(b),
                investment=_money(tot.at["total", "investment_10k_cny"], lang),
                benefit=_money(tot.at["total", "benefit_10k_cny"], lang),
                benefit_low=_money(tot.at["no_low", "benefit_10k_cny"], lang),
                benefit_high=_money(tot.at["medium_high", "benefit_10k_cny"], lang),
                ratio=ratio,
            )
        )
    )
    rank = {c: n for n, c in enumerate(COST_CLASSES)}
    df = b.assign(_r=b["cost_class"].map(lambda c: rank.get(c, len(rank))))
    df = df.sort_values("_r", kind="stable").reset_index(drop=True)
    df["cost_label"] = [_cost(c, lang) for c in df["cost_class"]]
    df["cost_label"] = df["cost_label"].where(df["cost_label"] != df["cost_label"].shift(), "")
    cols = {
        "option_id": Col(_c("col.id", lang)),
        "name": Col(_c("col.name", lang)),
        "cost_label": Col(_t("s71.col_cost_class", lang)),
        "investment_expected_10k_cny": _money_col(_t("s71.col_invest_expected", lang), lang),
        "investment_actual_10k_cny": _money_col(_t("s71.col_invest_actual", lang), lang),
        "benefit_expected_10k_cny": _money_col(_t("s72.col_benefit_expected", lang), lang),
        "benefit_actual_10k_cny": _money_col(_t("s72.col_benefit_actual", lang), lang),
        "benefit_achieved_pct": _pct_col(_t("s72.col_achieved", lang), lang, 0),
    }
    out.append(_table(df, cols, lang, _t("s72.economic_caption", lang)))

    def star(v: Any, flag: bool) -> str:
        return _num(v, lang, 2) + ("*" if flag and not _na(v) else "")

    t2 = ch.benefit_totals
    df2 = pd.DataFrame(
        {
            "cls": [
                _cost(c, lang) if c != "total" else _c("total", lang) for c in t2["cost_class"]
            ],
            "options": t2["options"],
            "inv_exp": [_num(v, lang) for v in t2["investment_expected_10k_cny"]],
            "inv": [
                star(v, f) for v, f in zip(t2["investment_10k_cny"], t2["estimated"], strict=True)
            ],
            "ben_exp": [_num(v, lang) for v in t2["benefit_expected_10k_cny"]],
            "ben": [
                star(v, f) for v, f in zip(t2["benefit_10k_cny"], t2["estimated"], strict=True)
            ],
        }
    )
    from cpkit import i18n

    money = i18n.unit_label("10k_CNY", lang)
    cols2 = {
        "cls": Col(_t("s71.col_cost_class", lang)),
        "options": _number_col(_t("s71.col_options", lang), lang, 0),
        "inv_exp": _col(_t("s71.col_invest_expected", lang), money, right=True),
        "inv": _col(_t("s71.col_invest_actual", lang), money, right=True),
        "ben_exp": _col(_t("s72.col_benefit_expected", lang), money, right=True),
        "ben": _col(_t("s72.col_benefit_actual", lang), money, right=True),
    }
    out.append(_table(df2, cols2, lang, _t("s72.totals_caption", lang)))
    out.append(note(_t("s72.benefit_note", lang), "info"))
    if bool(t2["estimated"].any()):
        out.append(note(_t("s72.estimated_note", lang), "warning"))
    return out


def benefit_chart(ch: Chapter, lang: str, interactive: bool = False):
    """Figure 7-2: actual and expected annual benefit of each implemented option."""
    from cpkit import i18n
    from cpkit.charts import implementation as charts
    from cpkit.display import chart

    b = ch.benefits
    if b.empty or (
        b["benefit_actual_10k_cny"].isna().all() and b["benefit_expected_10k_cny"].isna().all()
    ):
        return None
    b = b.sort_values("benefit_10k_cny", ascending=False, kind="stable", na_position="last")
    data = pd.DataFrame(
        {
            "label": [_label(o, n) for o, n in zip(b["option_id"], b["name"], strict=True)],
            "actual": b["benefit_actual_10k_cny"].to_numpy(),
            "expected": b["benefit_expected_10k_cny"].to_numpy(),
            "order": range(len(b)),
        }
    )
    money = i18n.unit_label("10k_CNY", lang)
    c = charts.benefit_bars(
        data,
        value_title=_paren(_t("s72.col_benefit_actual", lang), money, lang),
        series_titles=(_t("s72.series_actual", lang), _t("s72.series_expected", lang)),
        title=_t("s72.benefit_chart_title", lang),
    )
    return chart(c, interactive=interactive)


def _effect_items_text(totals: pd.DataFrame, lang: str, limit: int = 10) -> str:
    rank = {k: n for n, k in enumerate(ITEM_KINDS)}
    ordered = sorted(
        totals.to_dict("records"), key=lambda r: rank.get(r["kind"], len(rank))
    )  # stable: water and energy first, then CO2, pollutants, wastes, materials
    parts = []
    for r in ordered[:limit]:
        v = r["total"]
        parts.append(
            f"{_name(r, lang)} {_num(v, lang, shown_digits([v]))} {unit_text(r['unit'], lang)}".strip()
        )
    text = _list(parts, lang)
    if len(totals) > limit:
        text += _t("s72.more_items", lang)
    return text


def environmental(ch: Chapter, lang: str) -> list[Any]:
    """7.2 environmental benefits: summary and table 7-5 (totals per item and class)."""
    from cpkit.display import Col, note, paragraph

    tot = ch.effect_totals
    out: list[Any] = [subtitle("s72.environmental_title", lang)]
    if tot.empty:
        return [*out, paragraph(_t("s72.environmental_none", lang))]
    out.append(
        paragraph(_t("s72.environmental_summary", lang, items=_effect_items_text(tot, lang)))
    )
    rows = []
    for r in tot.to_dict("records"):
        k = shown_digits([r["total"], r["no_low"], r["medium_high"]])
        rows.append(
            {
                "section": _t(f"s72.section.{r['section']}", lang),
                "item": _name(r, lang),
                "unit": _t("s72.col_annual_unit", lang, unit=unit_text(r["unit"], lang)),
                "no_low": _num(r["no_low"], lang, k),
                "medium_high": _num(r["medium_high"], lang, k),
                "total": _num(r["total"], lang, k) + ("*" if r["estimated"] else ""),
            }
        )
    df = pd.DataFrame(rows)
    df["section"] = df["section"].where(df["section"] != df["section"].shift(), "")
    cols = {
        "section": Col(_t("s72.col_kind", lang)),
        "item": Col(_t("s72.col_item", lang)),
        "unit": Col(_c("col.unit", lang)),
        "no_low": _col(_cost("no_low", lang), right=True),
        "medium_high": _col(_cost("medium_high", lang), right=True),
        "total": _col(_c("total", lang), right=True),
    }
    out.append(_table(df, cols, lang, _t("s72.effect_totals_caption", lang)))
    if bool(tot["estimated"].any()):
        out.append(note(_t("s72.estimated_note", lang), "warning"))
    return out


def effects_table(ch: Chapter, lang: str, option: str = "all"):
    """Table 7-6: expected and actual effect of each implemented option (one option or
    all)."""
    from cpkit.display import Col

    e = ch.effects[ch.effects["status"] == "implemented"]
    if option != "all":
        e = e[e["option_id"] == option]
    if e.empty:
        return None
    rows = []
    for r in e.to_dict("records"):
        k = shown_digits([r["expected"], r["actual"]])
        rows.append(
            {
                "option": r["option_id"],
                "item": _name(r, lang),
                "kind": _t(f"s72.section.{r['section']}", lang),
                "unit": _t("s72.col_annual_unit", lang, unit=unit_text(r["unit"], lang)),
                "expected": _num(r["expected"], lang, k),
                "actual": _num(r["actual"], lang, k),
                "achieved": r["achieved_pct"],
            }
        )
    df = pd.DataFrame(rows)
    df["option"] = df["option"].where(df["option"] != df["option"].shift(), "")
    cols = {
        "option": Col(_c("col.option", lang)),
        "item": Col(_t("s72.col_item", lang)),
        "kind": Col(_t("s72.col_kind", lang)),
        "unit": Col(_c("col.unit", lang)),
        "expected": _col(_t("s72.col_expected", lang), right=True),
        "actual": _col(_t("s72.col_actual", lang), right=True),
        "achieved": _pct_col(_t("s72.col_effect_achieved", lang), lang, 0),
    }
    return _table(df, cols, lang, _t("s72.effects_caption", lang))


def _dropdown(label: str, choices: list[tuple[str, str]], interactive: bool):
    """An ipywidgets Dropdown (interactive) or the plain default value (batch)."""
    if not interactive:
        return choices[0][1]
    import ipywidgets as widgets

    return widgets.Dropdown(options=choices, value=choices[0][1], description=label)


def explore_effects(ch: Chapter, lang: str, interactive: bool = False) -> None:
    """Table 7-6 with an option selector in JupyterLab (all options in batch)."""
    from cpkit.display import explore

    e = ch.effects[ch.effects["status"] == "implemented"]
    ids = list(dict.fromkeys(e["option_id"]))
    names = dict(zip(e["option_id"], e["option_name"], strict=True))
    choices = [(_t("s72.all_options", lang), "all")] + [(_label(i, names[i], 30), i) for i in ids]
    explore(
        lambda option: effects_table(ch, lang, option),
        {"option": _dropdown(_t("s72.filter_option", lang), choices, interactive)},
        interactive=interactive,
    )


# --------------------------------------------------------------------------- 7.3
def evaluation(ch: Chapter, lang: str) -> list[Any]:
    """7.3: the summary, the method note and table 7-7 (expected vs achieved economics)."""
    from cpkit.display import Col, note, paragraph

    ev = ch.evaluation
    if ev.empty:
        return [paragraph(_t("s73.none", lang))]
    a = ch.assumptions
    out: list[Any] = [
        paragraph(
            _t(
                "s73.summary",
                lang,
                count=len(ev),
                rate=_pct(a.discount_rate * 100, lang, 1),
                tax=_pct(a.tax_rate * 100, lang, 0),
                payback=_num(a.benchmark_payback_years, lang, 0),
            )
        ),
        note(_t("s73.method_note", lang), "info"),
    ]
    df = pd.DataFrame(
        {
            "option": [_label(o, n, 30) for o, n in zip(ev["option_id"], ev["name"], strict=True)],
            "pb_e": [_years(v, lang) for v in ev["payback_expected_years"]],
            "pb_a": [_years(v, lang) for v in ev["payback_achieved_years"]],
            "npv_e": ev["npv_expected_10k_cny"],
            "npv_a": ev["npv_achieved_10k_cny"],
            "irr_e": ev["irr_expected"] * 100,
            "irr_a": ev["irr_achieved"] * 100,
            "v_e": [_verdict(v, lang) for v in ev["verdict_expected"]],
            "v_a": [_verdict(v, lang) for v in ev["verdict_achieved"]],
        }
    )
    cols = {
        "option": Col(_c("col.option", lang)),
        "pb_e": _col(_t("s73.col_payback_expected", lang), right=True),
        "pb_a": _col(_t("s73.col_payback_achieved", lang), right=True),
        "npv_e": _money_col(_t("s73.col_npv_expected", lang), lang),
        "npv_a": _money_col(_t("s73.col_npv_achieved", lang), lang),
        "irr_e": _pct_col(_t("s73.col_irr_expected", lang), lang, 1),
        "irr_a": _pct_col(_t("s73.col_irr_achieved", lang), lang, 1),
        "v_e": Col(_t("s73.col_verdict_expected", lang)),
        "v_a": Col(_t("s73.col_verdict_achieved", lang)),
    }
    out.append(_table(df, cols, lang, _t("s73.evaluation_caption", lang)))
    return out


def _conclusion_key(r: Mapping[str, Any], mandatory: bool) -> str:
    if not _na(r["error"]):
        return "s73.conclusion_error"
    if r["verdict_achieved"] in ("feasible", "review"):
        return "s73.conclusion_feasible"
    if r["verdict_expected"] == "not_feasible" and mandatory:
        return "s73.conclusion_mandatory"
    return "s73.conclusion_shortfall"


def _lead(label: str, text: str, lang: str) -> str:
    """'label：text' / 'label: text'."""
    return _t("fmt.lead", lang, label=label, text=text)


def _effects_small_table(e: pd.DataFrame, lang: str, caption: str | None = None):
    from cpkit.display import Col, table

    rows = []
    for r in e.to_dict("records"):
        k = shown_digits([r["expected"], r["actual"]])
        rows.append(
            {
                "item": _name(r, lang),
                "unit": _t("s72.col_annual_unit", lang, unit=unit_text(r["unit"], lang)),
                "expected": _num(r["expected"], lang, k),
                "actual": _num(r["actual"], lang, k),
                "achieved": r["achieved_pct"],
            }
        )
    cols = {
        "item": Col(_t("s72.col_item", lang)),
        "unit": Col(_c("col.unit", lang)),
        "expected": _col(_t("s72.col_expected", lang), right=True),
        "actual": _col(_t("s72.col_actual", lang), right=True),
        "achieved": _pct_col(_t("s72.col_effect_achieved", lang), lang, 0),
    }
    return table(pd.DataFrame(rows), cols, lang=lang, caption=caption)


def evaluation_details(ch: Chapter, lang: str, option: str = "all") -> list[Any]:
    """The technical, environmental and economic evaluation of each implemented
    medium/high-cost option (seed 004 clause 5.6.4), one block per option."""
    from cpkit import i18n
    from cpkit.display import heading, key_values, paragraph

    ev = ch.evaluation
    if option != "all":
        ev = ev[ev["option_id"] == option]
    plan = {str(r["option_id"]): r for r in ch.plan.to_dict("records")}
    out: list[Any] = []
    for r in ev.to_dict("records"):
        oid = str(r["option_id"])
        p = plan[oid]
        out.append(heading(_t("s73.details_title", lang, id=oid, name=r["name"]), 3))
        pairs = [
            (_t("s73.technical_expected", lang), p["technical_assessment"] or i18n.missing(lang)),
            (_t("s73.technical_actual", lang), p["evaluation"] or i18n.missing(lang)),
        ]
        out.append(key_values(pairs, lang=lang, caption=_t("s73.technical", lang)))
        env = p.get("environmental_assessment")
        if env:
            out.append(paragraph(_lead(_t("s73.environmental", lang), env, lang)))
        e = ch.effects[ch.effects["option_id"] == oid]
        out.append(
            _effects_small_table(e, lang, _t("s73.effects_caption", lang))
            if len(e)
            else paragraph(_t("s73.environmental_none", lang))
        )
        pb_a, pb_e = r["payback_achieved_years"], r["payback_expected_years"]
        payback = (
            _t("s73.payback_none", lang)
            if _na(pb_a) and _na(pb_e)
            else _t(
                "s73.payback_line",
                lang,
                actual=_years(pb_a, lang),
                expected=_years(pb_e, lang),
            )
        )
        line = _t(
            "s73.economic_line",
            lang,
            inv_actual=_money(r["investment_actual_10k_cny"], lang),
            inv_expected=_money(r["investment_expected_10k_cny"], lang),
            ben_actual=_money(r["benefit_actual_10k_cny"], lang),
            ben_expected=_money(r["benefit_expected_10k_cny"], lang),
            payback=payback,
            npv_actual=_money(r["npv_achieved_10k_cny"], lang),
            npv_expected=_money(r["npv_expected_10k_cny"], lang),
            verdict=_verdict(r["verdict_achieved"], lang).lower()
            if lang == "en"
            else _verdict(r["verdict_achieved"], lang),
            basis=_t("s73.basis_scaled", lang) if r["basis"] == "schedule_scaled" else "",
        )
        out.append(paragraph(_lead(_t("s73.economic", lang), line, lang)))
        key = _conclusion_key(r, bool(p.get("mandatory_issue")))
        msg = _t(key, lang, message=str(r["error"])) if key.endswith("error") else _t(key, lang)
        out.append(paragraph(msg))
    return out


def explore_evaluation(ch: Chapter, lang: str, interactive: bool = False) -> None:
    """The evaluation blocks with an option selector in JupyterLab (all in batch)."""
    from cpkit.display import explore

    ev = ch.evaluation
    if ev.empty:
        return None
    choices = [(_t("s72.all_options", lang), "all")] + [
        (_label(o, n, 30), str(o)) for o, n in zip(ev["option_id"], ev["name"], strict=True)
    ]
    explore(
        lambda option: tuple(evaluation_details(ch, lang, option)),
        {"option": _dropdown(_t("s72.filter_option", lang), choices, interactive)},
        interactive=interactive,
    )
    return None


def _effect_phrases(e: pd.DataFrame, lang: str) -> str:
    parts = []
    for r in e.to_dict("records"):
        if _na(r["expected"]):
            continue
        v = r["expected"]
        name = _name(r, lang)
        if lang == "en" and name[1:2].islower():
            name = name[0].lower() + name[1:]
        parts.append(
            _t(
                "s73.effect_phrase",
                lang,
                verb=_t(f"s73.verb.{r['section']}", lang),
                name=name,
                value=_num(v, lang, shown_digits([v])),
                unit=unit_text(r["unit"], lang),
            )
        )
    return _t("fmt.clause_sep", lang).join(parts)


def _month(d: Any) -> str:
    """A date shown to the month (plans): 2027-03."""
    return _date(d).strftime("%Y-%m")


def prospects_view(ch: Chapter, lang: str) -> list[Any]:
    """The expected performance of the medium/high-cost options not yet implemented
    (table 7-8)."""
    from cpkit import i18n
    from cpkit.display import Col, paragraph

    pr = ch.prospects
    out: list[Any] = [subtitle("s73.prospects_title", lang)]
    if pr.empty:
        return [*out, paragraph(_t("s73.prospects_none", lang))]
    out.append(
        paragraph(
            _t(
                "s73.prospects_summary",
                lang,
                count=len(pr),
                investment=_money(pr["investment_10k_cny"].sum(min_count=1), lang),
                benefit=_money(pr["benefit_10k_cny"].sum(min_count=1), lang),
            )
        )
    )
    sched = [
        f"{_month(s)}～{_month(e)}" if not _na(s) and not _na(e) else i18n.missing(lang)
        for s, e in zip(pr["start"], pr["end"], strict=True)
    ]
    df = pd.DataFrame(
        {
            "option": [_label(o, n, 30) for o, n in zip(pr["option_id"], pr["name"], strict=True)],
            "schedule": sched,
            "investment": pr["investment_10k_cny"],
            "benefit": pr["benefit_10k_cny"],
            "payback": [_years(v, lang) for v in pr["payback_years"]],
            "npv": pr["npv_10k_cny"],
            "verdict": [_verdict(v, lang) for v in pr["verdict"]],
            "env": [
                _effect_phrases(ch.effects[ch.effects["option_id"] == o], lang)
                for o in pr["option_id"]
            ],
        }
    )
    cols = {
        "option": Col(_c("col.option", lang)),
        "schedule": Col(_t("s73.col_schedule", lang)),
        "investment": _money_col(_t("s71.col_invest_expected", lang), lang),
        "benefit": _money_col(_t("s72.col_benefit_expected", lang), lang),
        "payback": _col(_t("s73.col_payback_expected", lang), right=True),
        "npv": _money_col(_t("s73.col_npv_expected", lang), lang),
        "verdict": Col(_t("s73.col_verdict", lang)),
        "env": Col(_t("s73.col_env_benefit", lang)),
    }
    out.append(_table(df, cols, lang, _t("s73.prospects_caption", lang)))
    return out


# --------------------------------------------------------------------------- 7.4
def _rate_of(ch: Chapter, metric: str) -> float | None:
    if ch.intensities is None:
        return None
    rows = ch.intensities[ch.intensities["metric"] == metric]
    return None if rows.empty else _f(rows["reduction_rate_pct"].iloc[0])


def _change_phrase(ch: Chapter, metric: str, lang: str, *, lower: bool = False) -> str:
    """'单位产品综合能耗下降6.0%' / 'energy per unit of product fell by 6.0%' (rose when the
    reduction rate is negative)."""
    name = _t(f"s74.metric.{metric}", lang)
    if lower and lang == "en":
        name = name[0].lower() + name[1:]
    rate = _rate_of(ch, metric)
    if rate is None:
        return _t("s74.change_none", lang, name=name)
    key = "s74.change_down" if rate >= 0 else "s74.change_up"
    return _t(key, lang, name=name, value=_pct(abs(rate), lang))


def before_after(ch: Chapter, lang: str) -> list[Any]:
    """7.4: method and highlights, table 7-9 (totals) and table 7-10 (unit indicators)."""
    from cpkit.display import Col, note, paragraph

    if ch.after_year is None or ch.totals is None or ch.intensities is None:
        return [paragraph(_t("s74.no_after", lang, before_year=ch.before_year))]
    it = ch.intensities
    rates = it["reduction_rate_pct"].dropna()
    out: list[Any] = [
        paragraph(_t("s74.summary", lang, before_year=ch.before_year, after_year=ch.after_year)),
        paragraph(
            _t(
                "s74.highlights",
                lang,
                energy=_change_phrase(ch, "energy_per_product", lang),
                water=_change_phrase(ch, "water_intake_per_product", lang, lower=True),
                improved=int((rates > 0).sum()),
                worse=int((rates < 0).sum()),
            )
        ),
    ]
    before_h = _t("s74.col_before", lang, year=ch.before_year)
    after_h = _t("s74.col_after", lang, year=ch.after_year)

    def rows_of(df: pd.DataFrame, group_of, name_of, entered: bool) -> pd.DataFrame:
        recs = []
        for r in df.to_dict("records"):
            pair = [r["before"], r["after"]]
            k = shown_digits(pair) if entered else sig_digits(max(abs(_f(v) or 0) for v in pair))
            note_text = ""
            if _na(r["before"]) and not _na(r["after"]):
                note_text = _t("s74.new_item", lang)
            elif _na(r["after"]) and not _na(r["before"]):
                note_text = _t("s74.dropped_item", lang)
            recs.append(
                {
                    "group": group_of(r),
                    "name": name_of(r),
                    "unit": unit_text(r["unit"], lang),
                    "before": _num(r["before"], lang, k),
                    "after": _num(r["after"], lang, k),
                    "reduction": _num(r["reduction"], lang, k),
                    "rate": r["reduction_rate_pct"],
                    "note": note_text,
                }
            )
        out_df = pd.DataFrame(recs)
        out_df["group"] = out_df["group"].where(out_df["group"] != out_df["group"].shift(), "")
        return out_df

    def cols_for(df: pd.DataFrame, with_reduction: bool) -> dict[str, Any]:
        cols = {
            "group": Col(_t("s74.col_group", lang)),
            "name": Col(_t("s74.col_indicator", lang)),
            "unit": Col(_c("col.unit", lang)),
            "before": _col(before_h, right=True),
            "after": _col(after_h, right=True),
        }
        if with_reduction:
            cols["reduction"] = _col(_t("s74.col_reduction", lang), right=True)
        cols["rate"] = _pct_col(_t("s74.col_rate", lang), lang, 1)
        if (df["note"] != "").any():
            cols["note"] = Col(_c("col.note", lang))
        return cols

    tot = rows_of(
        ch.totals,
        lambda r: _t(f"s74.group.{r['group']}", lang),
        lambda r: _name(r, lang),
        True,
    )
    out.append(_table(tot, cols_for(tot, True), lang, _t("s74.totals_caption", lang)))
    inten = rows_of(
        it,
        lambda r: _t(f"s74.metric.{r['metric']}", lang),
        lambda r: _name(r, lang) if _name(r, lang) else "",
        False,
    )
    out.append(_table(inten, cols_for(inten, False), lang, _t("s74.intensities_caption", lang)))
    worse = it[it["reduction_rate_pct"].fillna(0) < 0]
    if len(worse):
        items = [
            (_name(r, lang) or _t(f"s74.metric.{r['metric']}", lang))
            + f" {_pct(-r['reduction_rate_pct'], lang)}".replace(" ", " +", 1)
            for r in worse.to_dict("records")
        ]
        out.append(note(_t("s74.worse_note", lang, items=_list(items, lang)), "warning"))
    if "double_exceeding" in ch.categories and ch.audit_round in (None, "first"):
        out.append(note(_t("s74.double_exceeding_note", lang), "info"))
    return out


def reduction_data(ch: Chapter, lang: str, group: str = "all") -> pd.DataFrame:
    """Rows of figure 7-3: label, group (translated metric), rate, order."""
    it = ch.intensities
    if it is None:
        return pd.DataFrame(columns=["label", "group", "rate", "order"])
    if group != "all":
        it = it[it["metric"] == group]
    labels = []
    for r in it.to_dict("records"):
        metric = _t(f"s74.metric.{r['metric']}", lang)
        name = _name(r, lang)
        labels.append(_t("fmt.lead", lang, label=metric, text=name) if name else metric)
    return pd.DataFrame(
        {
            "label": labels,
            "group": [_t(f"s74.metric.{m}", lang) for m in it["metric"]],
            "rate": it["reduction_rate_pct"].to_numpy(),
            "order": range(len(it)),
        }
    )


def reduction_chart(ch: Chapter, lang: str, interactive: bool = False, group: str = "all"):
    """Figure 7-3: reduction rate of the unit indicators (one category or all)."""
    from cpkit.charts import implementation as charts
    from cpkit.display import chart

    data = reduction_data(ch, lang, group)
    if data["rate"].dropna().empty:
        return None
    c = charts.reduction_bars(
        data,
        rate_title=_t("s74.chart_rate", lang),
        outcome_titles=(_t("s74.outcome.better", lang), _t("s74.outcome.worse", lang)),
        title=_t("s74.chart_title", lang),
    )
    return chart(c, interactive=interactive)


def explore_reductions(ch: Chapter, lang: str, interactive: bool = False) -> None:
    """Figure 7-3 with a category selector in JupyterLab (all categories in batch)."""
    from cpkit.display import explore

    if ch.intensities is None:
        return None
    metrics = list(dict.fromkeys(ch.intensities["metric"]))
    choices = [(_t("s74.all_groups", lang), "all")] + [
        (_t(f"s74.metric.{m}", lang), str(m)) for m in metrics
    ]
    explore(
        lambda group: reduction_chart(ch, lang, interactive, group),
        {"group": _dropdown(_t("s74.filter_group", lang), choices, interactive)},
        interactive=interactive,
    )
    return None


# --------------------------------------------------------------------------- 7.5
def targets_view(ch: Chapter, lang: str) -> list[Any]:
    """7.5: the attainment summary, missed targets and table 7-11."""
    from cpkit.display import Col, note, paragraph

    tg = ch.targets
    if tg.empty:
        return [paragraph(_t("s75.no_targets", lang))]
    mid_total = int((tg["mid_status"] != "no_target").sum())
    out: list[Any] = [
        paragraph(
            _t(
                "s75.summary",
                lang,
                total=len(tg),
                near=int((tg["near_status"] == "attained").sum()),
                mid_total=mid_total,
                mid=int((tg["mid_status"] == "attained").sum()),
                pending=int((tg["mid_status"] == "pending").sum()),
            )
        )
    ]
    missed = [
        f"{r['target_id']} {r['indicator']}"
        for r in tg.to_dict("records")
        if r["near_status"] == "missed" or r["mid_status"] == "missed"
    ]
    if missed:
        out.append(note(_t("s75.missed_note", lang, items=_list(missed, lang)), "warning"))

    def status_text(st: str, progress: Any) -> str:
        text = _t(f"s75.status.{st}", lang)
        if st in ("attained", "pending", "missed") and not _na(progress):
            return _paren(text, _pct(progress, lang, 0), lang)
        return text

    rows = []
    for r in tg.to_dict("records"):
        k = data_digits([r["baseline"], r["near_term"], r["mid_term"], r["achieved"]])
        rows.append(
            {
                "target": f"{r['target_id']} {r['indicator']}",
                "unit": unit_text(r["unit"], lang),
                "baseline": _num(r["baseline"], lang, k),
                "achieved": _num(r["achieved"], lang, k),
                "near": _num(r["near_term"], lang, k),
                "near_deadline": r["near_term_deadline"],
                "near_status": status_text(r["near_status"], r["progress_near_pct"]),
                "mid": _num(r["mid_term"], lang, k),
                "mid_deadline": r["mid_term_deadline"],
                "mid_status": status_text(r["mid_status"], r["progress_mid_pct"]),
            }
        )
    df = pd.DataFrame(rows)
    for c in ("near_deadline", "mid_deadline"):
        df[c] = pd.to_datetime(df[c])
    cols = {
        "target": Col(_t("s75.col_target", lang)),
        "unit": Col(_c("col.unit", lang)),
        "baseline": _col(_t("s75.col_baseline", lang), right=True),
        "achieved": _col(_t("s75.col_achieved", lang), right=True),
        "near": _col(_t("s75.col_near", lang), right=True),
        "near_deadline": Col(_t("s75.col_deadline", lang)),
        "near_status": Col(_t("s75.col_status", lang)),
        "mid": _col(_t("s75.col_mid", lang), right=True),
        "mid_deadline": Col(_t("s75.col_deadline", lang)),
        "mid_status": Col(_t("s75.col_status", lang)),
    }
    out.append(_table(df, cols, lang, _t("s75.caption", lang)))
    return out


def progress_chart(ch: Chapter, lang: str, interactive: bool = False):
    """Figure 7-4: progress towards the near- and mid-term targets."""
    from cpkit.charts import implementation as charts
    from cpkit.display import chart

    tg = ch.targets
    recs = []
    for n, r in enumerate(tg.to_dict("records")):
        for short in ("near", "mid"):
            v = r[f"progress_{short}_pct"]
            if not _na(v):
                recs.append(
                    {
                        "label": _label(r["target_id"], r["indicator"], 22),
                        "term": _t(f"s75.term.{short}", lang),
                        "progress": float(v),
                        "order": n,
                    }
                )
    if not recs:
        return None
    c = charts.progress_bars(
        pd.DataFrame(recs),
        progress_title=_t("s75.chart_progress", lang),
        term_title=_t("s75.chart_term", lang),
        term_order=[_t("s75.term.near", lang), _t("s75.term.mid", lang)],
        title=_t("s75.chart_title", lang),
    )
    return chart(c, interactive=interactive)


# --------------------------------------------------------------------------- 7.6
def _system_name(system: Any, lang: str) -> str:
    return getattr(system.name, lang) if system is not None else ""


def level_view(ch: Chapter, lang: str) -> list[Any]:
    """7.6: levels before and after, tables 7-12 (scores) and 7-13 (indicators that
    changed), notes on carried-over values and stages that could not be graded."""
    from cpkit.display import Col, note, paragraph

    g = ch.grading
    if g.system is None:
        return [paragraph(_t("s76.no_system", lang))]
    out: list[Any] = []
    for stage, msg in g.errors.items():
        out.append(
            note(
                _t("s76.not_graded", lang, stage=_c(f"stage.{stage}", lang), message=msg), "warning"
            )
        )
    if not g.graded:
        return out
    sb, sa = level_score(g.before), level_score(g.after)
    text = _t(
        "s76.summary",
        lang,
        system=_system_name(g.system, lang),
        before=_level_text(g.system, g.before.level, lang),
        after=_level_text(g.system, g.after.level, lang),
        score_before_name=sb[0],
        score_before=_num(sb[1], lang, 2),
        score_after_name=sa[0],
        score_after=_num(sa[1], lang, 2),
    )
    text += _t("s76.improved" if g.comparison.level_improved else "s76.unchanged", lang)
    out.append(paragraph(text))
    if g.carried:
        names = _indicator_names(g, lang)
        out.append(
            note(
                _t(
                    "s76.carried_note",
                    lang,
                    items=_list([names.get(i, i) for i in g.carried], lang),
                ),
                "info",
            )
        )
    sc = g.comparison.scores
    df = pd.DataFrame(
        {
            "score": [*sc["score"], _t("s76.level_row", lang)],
            "before": [_num(v, lang, 2) for v in sc["before"]]
            + [_level_text(g.system, g.before.level, lang)],
            "after": [_num(v, lang, 2) for v in sc["after"]]
            + [_level_text(g.system, g.after.level, lang)],
            "change": [_num(v, lang, 2) for v in sc["change_points"]] + [""],
        }
    )
    cols = {
        "score": Col(_t("s76.col_score", lang)),
        "before": _col(_c("stage.before", lang), right=True),
        "after": _col(_c("stage.after", lang), right=True),
        "change": _col(_t("s76.col_change", lang), right=True),
    }
    out.append(_table(df, cols, lang, _t("s76.scores_caption", lang)))
    ind = g.comparison.indicators
    moved = ind[
        (ind["level_before"].fillna("") != ind["level_after"].fillna(""))
        | (ind["change"].fillna(0) != 0)
    ]
    if len(moved):
        rows = []
        for r in moved.to_dict("records"):
            k = shown_digits([r["value_before"], r["value_after"]])
            qual = _na(r["value_before"]) and _na(r["value_after"])
            rows.append(
                {
                    "name": _name(r, lang),
                    "unit": _t("s76.qualitative", lang) if qual else unit_text(r["unit"], lang),
                    "v_b": "" if qual else _num(r["value_before"], lang, k),
                    "l_b": _level_mark(g.system, r["level_before"], lang),
                    "v_a": "" if qual else _num(r["value_after"], lang, k),
                    "l_a": _level_mark(g.system, r["level_after"], lang),
                }
            )
        cols2 = {
            "name": Col(_t("s74.col_indicator", lang)),
            "unit": Col(_c("col.unit", lang)),
            "v_b": _col(_t("s76.col_value_before", lang), right=True),
            "l_b": Col(_t("s76.col_level_before", lang)),
            "v_a": _col(_t("s76.col_value_after", lang), right=True),
            "l_a": Col(_t("s76.col_level_after", lang)),
        }
        out.append(_table(pd.DataFrame(rows), cols2, lang, _t("s76.moved_caption", lang)))
    return out


def _indicator_names(g: GradingOutcome, lang: str) -> dict[str, str]:
    return {ind.id: getattr(ind.name, lang) for ind in g.system.indicators}


def score_chart(ch: Chapter, lang: str, interactive: bool = False):
    """Figure 7-5: Y of each level before and after, with the score each level needs."""
    from cpkit.charts import implementation as charts
    from cpkit.display import chart

    g = ch.grading
    if not g.graded:
        return None
    sc = g.comparison.scores
    before, after = _c("stage.before", lang), _c("stage.after", lang)
    data = pd.concat(
        [
            pd.DataFrame({"score": sc["score"], "stage": before, "value": sc["before"]}),
            pd.DataFrame({"score": sc["score"], "stage": after, "value": sc["after"]}),
        ],
        ignore_index=True,
    )
    mins: dict[str, float] = {}
    for rule in g.system.level_rules:
        for cond in rule.all_:
            score = getattr(cond, "score", None)
            if score is not None:
                mins.setdefault(score, float(cond.min_))
    thresholds = pd.DataFrame({"score": list(mins), "min": list(mins.values())})
    c = charts.score_bars(
        data,
        value_title=_t("s76.chart_value", lang),
        stage_title=_t("s76.chart_stage", lang),
        stage_order=[before, after],
        thresholds=thresholds,
        title=_t("s76.chart_title", lang),
    )
    return chart(c, interactive=interactive)


def conclusion(ch: Chapter, lang: str) -> list[Any]:
    """The chapter's conclusion (seed 004 clause 5.6.6 and report 7.6), as bullet points."""
    from cpkit.display import bullets

    tot = ch.benefit_totals.set_index("cost_class")
    items = []
    if len(ch.benefits):
        items.append(
            _t(
                "s76.conclusion.options",
                lang,
                count=len(ch.benefits),
                investment=_money(tot.at["total", "investment_10k_cny"], lang),
                benefit=_money(tot.at["total", "benefit_10k_cny"], lang),
            )
        )
    if len(ch.effect_totals):
        items.append(
            _t("s76.conclusion.effects", lang, items=_effect_items_text(ch.effect_totals, lang, 6))
        )
    if ch.intensities is not None:
        items.append(
            _t(
                "s76.conclusion.indicators",
                lang,
                before_year=ch.before_year,
                energy=_change_phrase(ch, "energy_per_product", lang, lower=True),
                water=_change_phrase(ch, "water_intake_per_product", lang, lower=True),
            )
        )
    if len(ch.targets):
        items.append(
            _t(
                "s76.conclusion.targets",
                lang,
                total=len(ch.targets),
                near=int((ch.targets["near_status"] == "attained").sum()),
            )
        )
    g = ch.grading
    if g.graded:
        key = "s76.conclusion.level" if g.comparison.level_improved else "s76.conclusion.level_same"
        items.append(
            _t(
                key,
                lang,
                before=_level_text(g.system, g.before.level, lang),
                after=_level_text(g.system, g.after.level, lang),
            )
        )
    pending = ch.summary.counts["in_progress"] + ch.summary.counts["planned"]
    if pending:
        items.append(_t("s76.conclusion.pending", lang, count=pending))
    return [subtitle("s76.conclusion_title", lang), bullets(items)]


# --------------------------------------------------------------------------- annex
def _perf_note(text: str, lang: str) -> str:
    """The performance table's notes (English from cpkit.performance) in the language."""
    for prefix, key in (
        ("options in progress counted as planned: ", "in_progress"),
        ("implemented options without an actual effect, expected figure used: ", "expected_effect"),
        (
            "implemented options with neither an actual nor an expected effect (left out): ",
            "no_effect",
        ),
    ):
        if text.startswith(prefix):
            return _t(f"annex.note.{key}", lang, ids=text[len(prefix) :])
    return text


def performance_annex(ch: Chapter, lang: str) -> list[Any]:
    """The Hainan performance table (seed 003 attached table 4) in the form's layout."""
    from cpkit import i18n
    from cpkit.display import Col, bullets, heading, note, paragraph

    pt = ch.performance
    li = 0 if lang == "zh" else 1
    out: list[Any] = [heading(_t("annex.title", lang), 2), paragraph(_t("annex.intro", lang))]
    out.append(heading(_t("annex.section1", lang), 3))
    counts = pt.counts.assign(label=pt.counts["name_zh"] if li == 0 else pt.counts["name_en"])
    out.append(
        _table(
            counts,
            {
                "label": Col(_t("annex.col_project", lang)),
                "count": _number_col(_t("annex.col_count", lang), lang, 0),
            },
            lang,
            "",
        )
    )
    money = pt.money.assign(label=pt.money["name_zh"] if li == 0 else pt.money["name_en"])
    out.append(
        _table(
            money,
            {
                "label": Col(_t("annex.col_project", lang)),
                "value_10k_cny": _money_col(_t("annex.col_amount", lang), lang),
            },
            lang,
            "",
        )
    )
    out.append(heading(_t("annex.section2", lang), 3))
    for frame, cap in (
        (pt.reductions, "annex.reductions_caption"),
        (pt.savings, "annex.savings_caption"),
    ):
        rows = []
        for r in frame.to_dict("records"):
            vals = [v for v in (r["no_low"], r["medium_high"], r["total"]) if not _na(v)]
            if not any(vals):
                vals = []  # no option contributes: an empty cell of the form
            k = shown_digits(vals)
            detail = ":" in str(r["row_id"])
            name = r["name_zh"] if li == 0 else r["name_en"]
            rows.append(
                {
                    "label": ("　" if detail else "") + str(name),
                    "unit": unit_text(r["unit"] if li == 0 else r["unit_en"], lang),
                    "no_low": _num(r["no_low"], lang, k) if vals else "",
                    "medium_high": _num(r["medium_high"], lang, k) if vals else "",
                    "total": _num(r["total"], lang, k) if vals else "",
                }
            )
        out.append(
            _table(
                pd.DataFrame(rows),
                {
                    "label": Col(_t("annex.col_project", lang)),
                    "unit": Col(_c("col.unit", lang)),
                    "no_low": _col(_t("annex.col_no_low", lang), right=True),
                    "medium_high": _col(_t("annex.col_medium_high", lang), right=True),
                    "total": _col(_c("total", lang), right=True),
                },
                lang,
                _t(cap, lang),
            )
        )
    pl = pt.planned
    if pl.empty:
        out.append(paragraph(_t("annex.planned_none", lang)))
    else:
        df = pd.DataFrame(
            {
                "name": [f"{o} {n}" for o, n in zip(pl["option_id"], pl["name"], strict=True)],
                "content": pl["content"],
                "investment": pl["expected_investment_10k_cny"],
                "env": pl["environmental_benefit_zh"]
                if li == 0
                else pl["environmental_benefit_en"],
                "econ": pl["economic_benefit_10k_cny"],
                "expert": [
                    i18n.missing(lang) if _na(v) else _c("yes" if v else "no", lang)
                    for v in pl["expert_recommended"]
                ],
            }
        )
        out.append(
            _table(
                df,
                {
                    "name": Col(_c("col.option", lang)),
                    "content": Col(_t("annex.col_content", lang)),
                    "investment": _money_col(_t("s71.col_invest_expected", lang), lang),
                    "env": Col(_t("annex.col_env", lang)),
                    "econ": _money_col(_t("annex.col_econ", lang), lang),
                    "expert": Col(_t("annex.col_expert", lang)),
                },
                lang,
                _t("annex.planned_caption", lang),
            )
        )
    notes = [_perf_note(n, lang) for n in pt.notes]
    for r in pt.money.to_dict("records"):
        if not _na(r["note"]):
            notes.append(
                _t(
                    "annex.note.money_fallback",
                    lang,
                    row=r["name_zh"] if li == 0 else r["name_en"],
                    text=str(r["note"]),
                )
            )
    if notes:
        out.append(note(_t("annex.notes", lang), "info"))
        out.append(bullets(notes))
    return out


# --------------------------------------------------------------------------- records
def _labels(key: str, **fmt: Any) -> dict[str, str]:
    """{zh, en} label of a recorded figure (catalogue ``p6.record.<key>``)."""
    from cpkit import i18n

    return {lang: i18n.t(f"p6.record.{key}", lang, **fmt) for lang in i18n.LANGS}


def record_figures(ch: Chapter) -> None:
    """Hand the chapter's key figures to the batch index (:func:`cpkit.render.record`):
    ``cp_level`` and ``cp_score`` after the audit (Y of the level reached, see
    :func:`level_score`), ``cp_level_before``, the actual investment and annual benefit of
    the implemented options (``investment_10k_cny``, ``benefit_10k_cny``),
    ``options_implemented``, ``targets_near_attained_pct``, the reduction rates of energy
    and water per unit of product, the CO2 cut per year, and every quantitative indicator
    value after the audit as ``indicator.<system>.<indicator>`` (ranked within the system
    by its direction; docs/rendering.md)."""
    from cpkit.render import record

    tot = ch.benefit_totals.set_index("cost_class")
    g = ch.grading
    if g.graded:
        record("cp_level", g.after.level)
        name, score = level_score(g.after)
        record("cp_score", round(score, 6), better="higher", label=_labels("cp_score", name=name))
        record("cp_level_before", g.before.level, label=_labels("cp_level_before"))
    if g.after is not None:
        # indicator values after the audit, compared only within the same system
        better = {"smaller": "lower", "larger": "higher"}
        for r in g.after.indicators.to_dict("records"):
            if r["direction"] not in better or _na(r["value"]) or not r["applicable"]:
                continue
            record(
                f"indicator.{g.after.system_id}.{r['indicator_id']}",
                float(r["value"]),
                unit=str(r["unit"]),
                better=better[r["direction"]],
                label={"zh": str(r["name_zh"]), "en": str(r["name_en"])},
            )
    record("investment_10k_cny", _f(tot.at["total", "investment_10k_cny"]), unit="10k_CNY")
    record("benefit_10k_cny", _f(tot.at["total", "benefit_10k_cny"]), unit="10k_CNY")
    record(
        "options_implemented",
        int(ch.summary.counts["implemented"]),
        label=_labels("options_implemented"),
    )
    if len(ch.targets):
        record(
            "targets_near_attained_pct",
            float((ch.targets["near_status"] == "attained").mean() * 100),
            unit="%",
            better="higher",
            label=_labels("targets_near_attained_pct"),
        )
    for metric in ("energy_per_product", "water_intake_per_product"):
        rate = _rate_of(ch, metric)
        if rate is not None:
            record(f"reduction_pct.{metric}", rate, unit="%", label=_labels(metric))
    co2 = ch.effect_totals[ch.effect_totals["item"] == "co2"]
    if len(co2):
        record(
            "co2_reduction_t",
            float(co2["total"].iloc[0]),
            unit="t",
            label=_labels("co2_reduction_t"),
        )
    return None


# --------------------------------------------------------------------------- teaching
def _shown(value: float, sig: int = 4) -> float:
    """``value`` rounded as the exercise text shows it (``sig`` significant digits)."""
    from cpkit import i18n

    return float(i18n.round_half_even(value, sig_digits(value, sig)))


def _reduction_rows(ch: Chapter) -> list[dict[str, Any]]:
    """Intensity rows usable as worked examples (both years, before not zero), energy and
    water per product first."""
    if ch.intensities is None:
        return []
    it = ch.intensities.dropna(subset=["before", "after", "reduction_rate_pct"])
    it = it[it["before"] != 0]
    first = ["energy_per_product", "water_intake_per_product"]
    rows = [r for m in first for r in it[it["metric"] == m].to_dict("records")]
    rows += [r for r in it.to_dict("records") if r["metric"] not in first]
    return rows


def _indicator_label(r: Mapping[str, Any], lang: str) -> str:
    name = _name(r, lang)
    metric = _t(f"s74.metric.{r['metric']}", lang)
    return _paren(metric, name, lang) if name else metric


def teach_reduction(ctx: Any, ch: Chapter) -> tuple[Any, ...]:
    """Teaching mode: what the reduction rate is, its formula, and the formula applied to
    the energy use per unit of product (nothing when teaching is off)."""
    from cpkit import teaching
    from cpkit.display import paragraph

    if not getattr(ctx, "teaching", False):
        return ()
    import sympy

    lang = ctx.lang
    xb, xa = sympy.symbols("X_b X_a", positive=True)
    expr = (xb - xa) / xb * 100
    out: list[Any] = [teaching.explain(ctx, _t("teach.reduction.explain", lang))]
    rows = _reduction_rows(ch)
    if not rows:
        return (*out, teaching.formula(ctx, expr, lhs=r"R\ (\%)"))
    r = rows[0]
    b, a = _shown(float(r["before"])), _shown(float(r["after"]))
    out.append(
        paragraph(
            _t(
                "teach.reduction.example",
                lang,
                name=_indicator_label(r, lang),
                before=_num(b, lang, sig_digits(b)),
                after=_num(a, lang, sig_digits(a)),
                unit=unit_text(r["unit"], lang),
            )
        )
    )
    out.append(teaching.formula(ctx, expr, lhs=r"R\ (\%)", substitutions={xb: b, xa: a}))
    return tuple(out)


def reduction_exercise(ctx: Any, ch: Chapter):
    """Teaching mode: compute the reduction rate of one indicator (the second worked row,
    so the answer is not the example's). The expected answer comes from
    :func:`cpkit.indicators.before_after` on the values as the question shows them."""
    from cpkit import teaching

    rows = _reduction_rows(ch)
    if not rows or not getattr(ctx, "teaching", False):
        return teaching.exercise(ctx, "p6.reduction", "", 0.0)
    r = rows[1] if len(rows) > 1 else rows[0]
    b, a = _shown(float(r["before"])), _shown(float(r["after"]))
    frame = pd.DataFrame({"item": ["x", "x"], "year": [1, 2], "value": [b, a]})
    expected = indicators.before_after(frame, 1, 2, keys=["item"], value="value")
    lang = ctx.lang
    question = _t(
        "teach.reduction.exercise",
        lang,
        name=_indicator_label(r, lang),
        before=_num(b, lang, sig_digits(b)),
        after=_num(a, lang, sig_digits(a)),
        unit=unit_text(r["unit"], lang),
    )
    return teaching.exercise(
        ctx, "p6.reduction", question, float(expected["reduction_rate_pct"].iloc[0]), unit="%"
    )


def _target_rows(ch: Chapter, term: str) -> list[dict[str, Any]]:
    tg = ch.targets
    if tg.empty:
        return []
    ok = tg.dropna(subset=["achieved", term])
    ok = ok[ok[term] != ok["baseline"]]
    return ok.to_dict("records")


def _one_target(r: Mapping[str, Any], term: str) -> pd.DataFrame:
    """A one-row targets table with the values as shown (for the expected answer)."""
    return pd.DataFrame(
        {
            "target_id": [str(r["target_id"])],
            "indicator": [str(r["indicator"])],
            "unit": [str(r["unit"])],
            "direction": [str(r["direction"])],
            "baseline": [_shown(float(r["baseline"]))],
            "near_term": [_shown(float(r[term]))],
            "achieved": [_shown(float(r["achieved"]))],
        }
    )


def teach_attainment(ctx: Any, ch: Chapter) -> tuple[Any, ...]:
    """Teaching mode: how target attainment is judged and the progress formula applied to
    the first target's near-term target."""
    from cpkit import teaching
    from cpkit.display import paragraph

    if not getattr(ctx, "teaching", False):
        return ()
    import sympy

    lang = ctx.lang
    a_, b_, t_ = sympy.symbols("A B T", real=True)
    expr = (a_ - b_) / (t_ - b_) * 100
    out: list[Any] = [teaching.explain(ctx, _t("teach.attainment.explain", lang))]
    rows = _target_rows(ch, "near_term")
    if not rows:
        return (*out, teaching.formula(ctx, expr, lhs=r"P\ (\%)"))
    r = rows[0]
    b, t, a = (_shown(float(r[k])) for k in ("baseline", "near_term", "achieved"))
    out.append(
        paragraph(
            _t(
                "teach.attainment.example",
                lang,
                name=str(r["indicator"]),
                baseline=_num(b, lang, data_digits([b])),
                target=_num(t, lang, data_digits([t])),
                achieved=_num(a, lang, data_digits([a])),
                unit=unit_text(r["unit"], lang),
            )
        )
    )
    out.append(teaching.formula(ctx, expr, lhs=r"P\ (\%)", substitutions={a_: a, b_: b, t_: t}))
    return tuple(out)


def attainment_exercise(ctx: Any, ch: Chapter):
    """Teaching mode: the progress towards a mid-term target (the expected answer from
    :func:`cpkit.indicators.attainment` on the values as shown)."""
    from cpkit import teaching

    rows = _target_rows(ch, "mid_term")
    if not rows or not getattr(ctx, "teaching", False):
        return teaching.exercise(ctx, "p6.attainment", "", 0.0)
    r = rows[-1]
    att = indicators.attainment(_one_target(r, "mid_term"))
    lang = ctx.lang
    b, t, a = (_shown(float(r[k])) for k in ("baseline", "mid_term", "achieved"))
    question = _t(
        "teach.attainment.exercise",
        lang,
        name=str(r["indicator"]),
        baseline=_num(b, lang, data_digits([b])),
        target=_num(t, lang, data_digits([t])),
        achieved=_num(a, lang, data_digits([a])),
        unit=unit_text(r["unit"], lang),
    )
    return teaching.exercise(
        ctx, "p6.attainment", question, float(att["progress_near_pct"].iloc[0]), unit="%"
    )


def teach_payback(ctx: Any, ch: Chapter) -> tuple[Any, ...]:
    """Teaching mode: how the payback achieved is recomputed, with the symbolic formula
    ``N = I / ((P - I/Y)(1 - t) + I/Y)``."""
    from cpkit import teaching

    if not getattr(ctx, "teaching", False) or ch.evaluation.empty:
        return ()
    import sympy

    i, p, y, t = sympy.symbols("I P Y t", positive=True)
    d = i / y
    expr = i / ((p - d) * (1 - t) + d)
    return (
        teaching.explain(ctx, _t("teach.payback.explain", ctx.lang)),
        teaching.formula(ctx, expr, lhs="N"),
    )


def payback_exercise(ctx: Any, ch: Chapter):
    """Teaching mode: the payback achieved by an implemented medium/high-cost option with
    constant cash flows; the expected answer from :func:`cpkit.finance.evaluate` on the
    figures the question gives."""
    from cpkit import teaching

    ev = ch.evaluation
    ok = ev[(ev["basis"] == "constant") & ev["payback_achieved_years"].notna()]
    if ok.empty or not getattr(ctx, "teaching", False):
        return teaching.exercise(ctx, "p6.payback", "", 0.0)
    r = ok.iloc[0].to_dict()
    p = ch.plan.set_index("option_id").loc[r["option_id"]]
    inv = _f(r["investment_actual_10k_cny"]) or _f(r["investment_expected_10k_cny"]) or 0.0
    ben = _f(r["benefit_actual_10k_cny"]) or _f(r["benefit_expected_10k_cny"]) or 0.0
    sub = _f(p["subsidy_10k_cny"]) or 0.0
    years = int(_f(p["depreciation_years"]) or ch.assumptions.depreciation_years)
    one = pd.DataFrame(
        {
            "option_id": [str(r["option_id"])],
            "name": [str(r["name"])],
            "investment_10k_cny": [inv],
            "subsidy_10k_cny": [sub],
            "annual_revenue_increase_10k_cny": [0.0],
            "annual_cost_saving_10k_cny": [ben],
            "depreciation_years": [years],
            "lifetime_years": [max(years, 1)],
        }
    )
    expected = finance.evaluate(one, assumptions=ch.assumptions)["payback_years"].iloc[0]
    lang = ctx.lang
    question = _t(
        "teach.payback.exercise",
        lang,
        name=f"{r['option_id']} {r['name']}",
        investment=_num(inv, lang, 2),
        subsidy=_num(sub, lang, 2),
        benefit=_num(ben, lang, 2),
        years=years,
        tax=_pct(ch.assumptions.tax_rate * 100, lang, 0),
    )
    from cpkit import i18n

    unit = i18n.unit_label("year", lang)
    return teaching.exercise(ctx, "p6.payback", question, float(expected), unit=unit)
