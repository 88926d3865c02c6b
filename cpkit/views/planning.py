"""Phase 1 of the audit in the report: the preface, chapter 1 (basic situation) and
chapter 2 (planning and organisation), and the registration form of the annex.

Seed 004 clauses 5.1.1-5.1.6 (planning and organisation: leadership, the audit team, the
work plan, training, the barrier survey), clause 7.2 (the preface: background,
requirements, scope, process, period, legal and standard basis) and Appendix B chapters
1-2; seed 003 attached table 1 (the registration form of a mandatory audit).

Two layers:

* figures -- plain functions, pandas in, pandas out, inputs never modified:
  :func:`team_roster`, :func:`team_summary`, :func:`plan_schedule`,
  :func:`phase_windows`, :func:`plan_span`, :func:`weekdays_between`,
  :func:`plan_findings`, :func:`training_log`, :func:`training_totals`,
  :func:`barrier_log`, :func:`barrier_summary`, :func:`mandatory_grounds`,
  :func:`registration_form`;
* what a reader sees -- functions taking the notebook context (``nb`` from
  :func:`cpkit.notebook.open_phase`) and returning display objects built with
  :mod:`cpkit.display` and texts of the message catalogue (``p1.*``, ``common.*``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cpkit import i18n
from cpkit.errors import CpkitError

__all__ = [
    "PlanSpan",
    "PlanningError",
    "RegistrationForm",
    "TeamSummary",
    "barrier_log",
    "barrier_summary",
    "mandatory_grounds",
    "phase_windows",
    "plan_findings",
    "plan_schedule",
    "plan_span",
    "registration_form",
    "team_roster",
    "team_summary",
    "training_log",
    "training_totals",
    "weekdays_between",
]

#: Team roles in the order a report lists them (schema enum order).
ROLE_ORDER = ("leader", "deputy_leader", "member", "external_expert")
#: Barrier categories in the order a report lists them (schema enum order).
BARRIER_ORDER = ("awareness", "technical", "economic", "management", "policy")
PHASES = tuple(range(1, 8))


class PlanningError(CpkitError):
    """A planning table (team, work plan, training, barriers) cannot be used as given."""


# =========================================================================== figures
def _need(df: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise PlanningError(f"{table}: missing column(s) {', '.join(missing)}")


def _blank(value: Any) -> bool:
    return i18n.is_missing(value) or (isinstance(value, str) and not value.strip())


def _day(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


# --------------------------------------------------------------------------- team
def team_roster(team: pd.DataFrame) -> pd.DataFrame:
    """The audit team in report order: leader, deputy leaders, members, external experts
    (each group in table order). Seed 004 clauses 5.1.2-5.1.3. Same columns as ``team``."""
    _need(team, "team", ["member_id", "name", "role", "department", "duties"])
    rank = {r: i for i, r in enumerate(ROLE_ORDER)}
    order = team["role"].astype("string").map(lambda r: rank.get(r, len(ROLE_ORDER)))
    keys = pd.DataFrame({"rank": order.astype(int), "pos": range(len(team))}, index=team.index)
    return team.loc[keys.sort_values(["rank", "pos"]).index].reset_index(drop=True)


@dataclass(frozen=True)
class TeamSummary:
    """Make-up of the audit team (seed 004 clauses 5.1.2-5.1.3).

    ``by_role``: role id -> number of members; ``departments``: the enterprise's own
    departments represented (distinct, in table order, external experts excluded);
    ``expert_organisations``: where the external experts come from.
    """

    members: int
    by_role: dict[str, int]
    full_time: int
    leaders: tuple[str, ...]
    deputies: tuple[str, ...]
    experts: tuple[str, ...]
    departments: tuple[str, ...]
    expert_organisations: tuple[str, ...]


def team_summary(team: pd.DataFrame) -> TeamSummary:
    """Counts of the audit team by role, full-time members and departments represented."""
    _need(team, "team", ["name", "role", "department"])
    role = team["role"].astype("string")
    by_role = {r: int((role == r).sum()) for r in ROLE_ORDER}
    full = (
        int(team["full_time"].astype("boolean").fillna(False).sum())
        if "full_time" in team.columns
        else 0
    )
    expert = (role == "external_expert").fillna(False).to_numpy(dtype=bool)
    depts = [str(d) for d in team.loc[~expert, "department"].dropna()]
    orgs = [str(d) for d in team.loc[expert, "department"].dropna()]

    def names(r: str) -> tuple[str, ...]:
        return tuple(str(n) for n in team.loc[(role == r).fillna(False), "name"])

    return TeamSummary(
        members=len(team),
        by_role=by_role,
        full_time=full,
        leaders=names("leader"),
        deputies=names("deputy_leader"),
        experts=names("external_expert"),
        departments=tuple(dict.fromkeys(depts)),
        expert_organisations=tuple(dict.fromkeys(orgs)),
    )


# --------------------------------------------------------------------------- work plan
def weekdays_between(start: Any, end: Any) -> int:
    """Working days (Monday to Friday) from ``start`` to ``end``, both days included.

    Public holidays are not deducted (they are set by the State Council year by year);
    ``numpy.busday_count`` does the counting. ``end`` before ``start`` is an error.
    """
    a, b = _day(start), _day(end)
    if b < a:
        raise PlanningError(f"the end date {b} is before the start date {a}")
    return int(np.busday_count(a, b + dt.timedelta(days=1)))


def plan_schedule(work_plan: pd.DataFrame) -> pd.DataFrame:
    """The work plan in plan order (phase, start date, task id) with durations.

    Seed 004 clause 5.1.4: each task's content, dates, responsible department and person,
    reviewer and expected output. Adds ``duration_days`` (calendar days, both ends
    included: end - start + 1) and ``weekdays`` (Monday-Friday, :func:`weekdays_between`).
    A task without dates or ending before it starts is a :class:`PlanningError`.
    """
    _need(work_plan, "work_plan", ["task_id", "phase", "task", "owner", "start", "end"])
    wp = work_plan.copy()
    bad = wp["start"].isna() | wp["end"].isna()
    if bad.any():
        ids = ", ".join(wp.loc[bad, "task_id"].astype(str))
        raise PlanningError(f"work_plan: task(s) {ids} have no start or end date")
    start = pd.to_datetime(wp["start"])
    end = pd.to_datetime(wp["end"])
    back = end < start
    if back.any():
        ids = ", ".join(wp.loc[back, "task_id"].astype(str))
        raise PlanningError(f"work_plan: task(s) {ids} end before they start")
    wp["start"], wp["end"] = start, end
    wp["duration_days"] = ((end - start).dt.days + 1).astype("Int64")
    wp["weekdays"] = pd.array(
        [weekdays_between(a, b) for a, b in zip(start, end, strict=True)], dtype="Int64"
    )
    wp["phase"] = wp["phase"].astype("Int64")
    return wp.sort_values(["phase", "start", "task_id"], kind="stable", ignore_index=True)


def phase_windows(work_plan: pd.DataFrame) -> pd.DataFrame:
    """One row per phase with tasks: ``phase, tasks, start`` (earliest start), ``end``
    (latest end), ``duration_days`` and ``weekdays`` of that window (both ends included)."""
    s = plan_schedule(work_plan)
    g = s.groupby("phase", sort=True).agg(
        tasks=("task_id", "size"), start=("start", "min"), end=("end", "max")
    )
    out = g.reset_index()
    out["duration_days"] = ((out["end"] - out["start"]).dt.days + 1).astype("Int64")
    out["weekdays"] = pd.array(
        [weekdays_between(a, b) for a, b in zip(out["start"], out["end"], strict=True)],
        dtype="Int64",
    )
    out["tasks"] = out["tasks"].astype("Int64")
    return out


@dataclass(frozen=True)
class PlanSpan:
    """The whole work plan: first start, last end, calendar days and working days (both
    ends included), number of tasks, phases with tasks and phases without."""

    start: dt.date
    end: dt.date
    calendar_days: int
    weekdays: int
    tasks: int
    phases: tuple[int, ...]
    missing_phases: tuple[int, ...]


def plan_span(work_plan: pd.DataFrame) -> PlanSpan:
    """Span of the work plan (first task start to last task end)."""
    s = plan_schedule(work_plan)
    if s.empty:
        raise PlanningError("work_plan: the plan has no task")
    a, b = _day(s["start"].min()), _day(s["end"].max())
    have = tuple(sorted({int(p) for p in s["phase"].dropna()}))
    return PlanSpan(
        start=a,
        end=b,
        calendar_days=(b - a).days + 1,
        weekdays=weekdays_between(a, b),
        tasks=len(s),
        phases=have,
        missing_phases=tuple(p for p in PHASES if p not in have),
    )


def plan_findings(work_plan: pd.DataFrame, audit_start: Any, audit_end: Any) -> pd.DataFrame:
    """What a reviewer would flag in the work plan (seed 004 clause 5.1.4).

    One row per finding: ``code`` (``phase_missing``: a phase without a task;
    ``before_audit``: a task starting before the audit period; ``after_audit``: a task
    ending after it; ``no_reviewer``: no reviewing department or person), ``task_id``,
    ``phase``, ``date`` (the date outside the period). Empty when nothing is found.
    """
    s = plan_schedule(work_plan)
    a, b = pd.Timestamp(audit_start), pd.Timestamp(audit_end)
    rows: list[dict[str, Any]] = []
    have = {int(p) for p in s["phase"].dropna()}
    for p in PHASES:
        if p not in have:
            rows.append({"code": "phase_missing", "task_id": pd.NA, "phase": p, "date": pd.NaT})
    for r in s.to_dict("records"):
        if r["start"] < a:
            rows.append(
                {
                    "code": "before_audit",
                    "task_id": r["task_id"],
                    "phase": r["phase"],
                    "date": r["start"],
                }
            )
        if r["end"] > b:
            rows.append(
                {
                    "code": "after_audit",
                    "task_id": r["task_id"],
                    "phase": r["phase"],
                    "date": r["end"],
                }
            )
        if "reviewer" in s.columns and _blank(r.get("reviewer")):
            rows.append(
                {
                    "code": "no_reviewer",
                    "task_id": r["task_id"],
                    "phase": r["phase"],
                    "date": pd.NaT,
                }
            )
    out = pd.DataFrame(rows, columns=["code", "task_id", "phase", "date"])
    out["phase"] = out["phase"].astype("Int64")
    out["task_id"] = out["task_id"].astype("string")
    out["code"] = out["code"].astype("string")
    out["date"] = pd.to_datetime(out["date"])
    return out


# --------------------------------------------------------------------------- training
def training_log(training: pd.DataFrame) -> pd.DataFrame:
    """Training sessions by date with ``person_hours = participants x hours`` (人·学时;
    ``<NA>`` where either is missing). Seed 004 clause 5.1.5 (training records)."""
    _need(training, "training", ["training_id", "date", "topic", "status"])
    tr = training.copy()
    n = pd.to_numeric(tr.get("participants"), errors="coerce").astype("Float64")
    h = pd.to_numeric(tr.get("hours"), errors="coerce").astype("Float64")
    tr["person_hours"] = n * h
    tr["date"] = pd.to_datetime(tr["date"])
    return tr.sort_values(["date", "training_id"], kind="stable", ignore_index=True)


def training_totals(training: pd.DataFrame) -> pd.DataFrame:
    """Totals of the training records: one row each for ``done``, ``planned`` and
    ``total``: ``sessions``, ``participants`` (人次, person-times), ``hours`` (学时 of the
    sessions), ``person_hours`` (Σ participants x hours) and ``incomplete`` (sessions
    lacking the participants or the hours, left out of the sums they need)."""
    log = training_log(training)
    rows = []
    for key in ("done", "planned", "total"):
        part = log if key == "total" else log[log["status"].astype("string") == key]
        n = pd.to_numeric(part.get("participants"), errors="coerce").astype("Float64")
        h = pd.to_numeric(part.get("hours"), errors="coerce").astype("Float64")
        rows.append(
            {
                "status": key,
                "sessions": len(part),
                "participants": float(n.sum()),
                "hours": float(h.sum()),
                "person_hours": float(part["person_hours"].sum()),
                "incomplete": int((n.isna() | h.isna()).sum()),
            }
        )
    out = pd.DataFrame(rows)
    return out.astype(
        {
            "status": "string",
            "sessions": "Int64",
            "participants": "Float64",
            "hours": "Float64",
            "person_hours": "Float64",
            "incomplete": "Int64",
        }
    )


# --------------------------------------------------------------------------- barriers
def barrier_log(barriers: pd.DataFrame) -> pd.DataFrame:
    """Barriers with the most-named first (respondents descending, then table order).
    Seed 004 clause 5.1.6 (barrier survey, countermeasures, resolution)."""
    _need(barriers, "barriers", ["barrier_id", "category", "description", "countermeasure"])
    b = barriers.copy()
    resp = pd.to_numeric(b.get("respondents"), errors="coerce").astype("Float64")
    keys = pd.DataFrame({"r": resp.fillna(-1).to_numpy(), "pos": range(len(b))}, index=b.index)
    order = keys.sort_values(["r", "pos"], ascending=[False, True]).index
    return b.loc[order].reset_index(drop=True)


def barrier_summary(barriers: pd.DataFrame) -> pd.DataFrame:
    """Barriers per category (schema order, categories present only): ``barriers``,
    ``respondents`` (sum), ``resolved``, ``open`` (not marked resolved)."""
    _need(barriers, "barriers", ["barrier_id", "category"])
    cat = barriers["category"].astype("string")
    res = (
        barriers["resolved"].astype("boolean").fillna(False)
        if "resolved" in barriers.columns
        else pd.Series(False, index=barriers.index, dtype="boolean")
    )
    resp = pd.to_numeric(barriers.get("respondents"), errors="coerce").astype("Float64")
    present = [c for c in BARRIER_ORDER if (cat == c).any()]
    present += sorted(set(cat.dropna()) - set(BARRIER_ORDER))
    rows = []
    for c in present:
        m = (cat == c).fillna(False).to_numpy(dtype=bool)
        rows.append(
            {
                "category": c,
                "barriers": int(m.sum()),
                "respondents": float(resp[m].sum()),
                "resolved": int(res[m].sum()),
                "open": int((~res[m]).sum()),
            }
        )
    out = pd.DataFrame(rows, columns=["category", "barriers", "respondents", "resolved", "open"])
    return out.astype(
        {
            "category": "string",
            "barriers": "Int64",
            "respondents": "Float64",
            "resolved": "Int64",
            "open": "Int64",
        }
    )


# --------------------------------------------------------------------------- preface
def mandatory_grounds(ds: Any) -> dict[str, pd.DataFrame]:
    """Why the audit is mandatory, from the data (Cleaner Production Promotion Law
    article 27; seed 003 article 4): ``exceeding`` -- pollutants over their limit
    (concentration) or over their total-quantity cap in the baseline year
    (:func:`cpkit.indicators.compliance`); ``toxic_materials`` -- materials flagged toxic;
    ``toxic_pollutants`` -- pollutants flagged toxic."""
    t = ds.tables
    comp = _compliance(ds)
    if comp is None or comp.empty:
        exceeding = pd.DataFrame(columns=["pollutant_id", "name"])
    else:
        over = (comp["compliant"] == False).fillna(False) | (  # noqa: E712
            comp["within_cap"] == False  # noqa: E712
        ).fillna(False)
        exceeding = comp[over.to_numpy(dtype=bool)].reset_index(drop=True)
    mats = t["materials"]
    tox_m = mats[mats["toxic"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    pol = t["pollutants"]
    tox_p = pol[pol["toxic"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    return {
        "exceeding": exceeding,
        "toxic_materials": tox_m.reset_index(drop=True),
        "toxic_pollutants": tox_p.reset_index(drop=True),
    }


def _compliance(ds: Any) -> pd.DataFrame | None:
    """Pollutant compliance in the baseline year (history emissions when present)."""
    from cpkit import indicators

    t = ds.tables
    if t["pollutants"].empty:
        return None
    year = int(ds.profile.baseline_year)
    hist = t["history"]
    has_year = not hist.empty and (pd.to_numeric(hist["year"], errors="coerce") == year).any()
    try:
        if has_year:
            return indicators.compliance(t["pollutants"], history=hist, year=year)
        return indicators.compliance(t["pollutants"])
    except CpkitError:
        return indicators.compliance(t["pollutants"])


# --------------------------------------------------------------------------- registration
@dataclass(frozen=True)
class RegistrationForm:
    """The registration form of a mandatory audit (seed 003 attached table 1) as figures.

    ``three_year``: one row per history year: ``year, output_value_10k_cny,
    product_output, energy_tce, energy_tce_per_product, energy_tce_per_10k_cny,
    water_t_per_product, water_t_per_10k_cny, fresh_water_t``; ``energy_use``: one row
    per year and carrier in the form's unit (10^4 kWh, 10^4 m3, t): ``year, carrier_id,
    name_zh, name_en, quantity, unit``; ``toxic_materials``: materials flagged toxic with
    the baseline-year use; ``toxic_pollutants``: pollutants flagged toxic with the
    baseline-year amount (``annual_t``, ``annual_basis``); ``discharges``: wastewater
    (10^4 t/a), general and hazardous solid waste (t/a) of the baseline year with their
    destinations; ``pollutants``: every measured pollutant but noise with concentration,
    unit, total (kg/a) and outlet. ``product_unit`` and ``product_name`` describe the
    main product; ``basis`` names the energy basis and the baseline year; ``notes`` says
    what could not be filled, as ``(code, values)`` pairs (``no_toxic_use``: toxic
    materials without a baseline-year use; values ``year``, ``items``).
    """

    year: int
    years: tuple[int, ...]
    product_name: str
    product_unit: str
    three_year: pd.DataFrame
    energy_use: pd.DataFrame
    toxic_materials: pd.DataFrame
    toxic_pollutants: pd.DataFrame
    discharges: pd.DataFrame
    pollutants: pd.DataFrame
    basis: dict[str, Any] = field(default_factory=dict)
    notes: tuple[tuple[str, dict[str, Any]], ...] = ()


#: Form units for carriers whose physical unit the form writes in ten-thousands
#: (attached table 1: 电（万千瓦时）, 天然气（万立方米）); other units are kept.
_FORM_UNIT = {"kWh": "万千瓦时", "m3": "万立方米"}


def registration_form(ds: Any) -> RegistrationForm:
    """Fill the figures of seed 003 attached table 1 from a dataset.

    Comprehensive energy and its intensities by :func:`cpkit.energy.comprehensive`
    (GB/T 2589, the dataset's electricity basis), water intake per product and per 10^4
    CNY of output value by :func:`cpkit.indicators.status` (m3 of fresh water written as
    tonnes with the water density of data/reference/units), physical energy use by
    :func:`cpkit.energy.structure`, the baseline-year totals from the history table and
    pollutant totals by :func:`cpkit.indicators.compliance`.
    """
    from cpkit import energy, indicators, units

    t = ds.tables
    hist, products = t["history"], t["products"]
    years = tuple(int(y) for y in ds.profile.history_years)
    year = int(ds.profile.baseline_year)
    params = ds.parameters
    ev = getattr(params, "equal_value_kgce_per_kwh", None)
    basis = getattr(params, "electricity_basis", None)
    notes: list[tuple[str, dict[str, Any]]] = []
    mp = indicators.main_product(products)
    comp = energy.comprehensive(hist, products, basis=basis, equal_value_kgce_per_kwh=ev)
    comp = comp[comp["year"].isin(years)]
    st = indicators.status(
        hist, products, materials=t["materials"], years=years, basis=basis,
        equal_value_kgce_per_kwh=ev,
    )  # fmt: skip
    rho = units.water_density_t_m3()

    def metric(name: str) -> dict[int, Any]:
        rows = st[st["metric"] == name]
        return {int(y): v for y, v in zip(rows["year"], rows["value"], strict=True)}

    w_prod, w_val = metric("water_intake_per_product"), metric("water_intake_per_output_value")
    intake = st[st["metric"] == "water_intake_per_product"]
    fresh = {int(y): v for y, v in zip(intake["year"], intake["numerator"], strict=True)}
    value = indicators.output_value(hist)
    value = dict(zip(value["year"].astype(int), value["output_value_10k_cny"], strict=True))
    out_p = indicators.product_output(hist, products)
    out_p = dict(zip(out_p["year"].astype(int), out_p["product_output"], strict=True))
    rows = []
    by_year = {int(r["year"]): r for r in comp.to_dict("records")}
    for y in years:
        c = by_year.get(y, {})
        rows.append(
            {
                "year": y,
                "output_value_10k_cny": value.get(y, pd.NA),
                "product_output": out_p.get(y, pd.NA),
                "energy_tce": c.get("energy_tce", pd.NA),
                "energy_tce_per_product": c.get("energy_tce_per_product", pd.NA),
                "energy_tce_per_10k_cny": c.get("energy_tce_per_10k_cny", pd.NA),
                "water_t_per_product": _times(w_prod.get(y), rho),
                "water_t_per_10k_cny": _times(w_val.get(y), rho),
                "fresh_water_t": _times(fresh.get(y), rho),
            }
        )
    three = pd.DataFrame(rows)
    three = three.astype({c: "Float64" for c in three.columns if c != "year"})
    three["year"] = three["year"].astype("Int64")

    struct = energy.structure(hist, basis=basis, equal_value_kgce_per_kwh=ev)
    struct = struct[struct["year"].isin(years)]
    use_rows = []
    for r in struct.to_dict("records"):
        unit = str(r["unit"])
        form_unit = _FORM_UNIT.get(unit, unit)
        q = float(r["quantity"]) * (
            units.conversion_factor(unit, form_unit) if form_unit != unit else 1.0
        )
        use_rows.append(
            {
                "year": int(r["year"]),
                "carrier_id": r["carrier_id"],
                "name_zh": r["name_zh"],
                "name_en": r["name_en"],
                "quantity": q,
                "unit": form_unit,
            }
        )
    use = pd.DataFrame(
        use_rows, columns=["year", "carrier_id", "name_zh", "name_en", "quantity", "unit"]
    )
    use = use.astype({"year": "Int64", "quantity": "Float64"})

    h = hist[pd.to_numeric(hist["year"], errors="coerce") == year]
    mats = t["materials"]
    tox = mats[mats["toxic"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    used = h[h["category"] == "material"].groupby("item")["quantity"].sum()
    tox_m = pd.DataFrame(
        {
            "material_id": tox["material_id"].astype("string").to_numpy(),
            "name": tox["name"].astype("string").to_numpy(),
            "hazard": tox["hazard"].astype("string").to_numpy() if "hazard" in tox else pd.NA,
            "quantity": [used.get(str(m), pd.NA) for m in tox["material_id"]],
            "unit": tox["unit"].astype("string").to_numpy(),
        }
    ).astype({"quantity": "Float64"})
    if tox_m["quantity"].isna().any():
        lacking = tuple(tox_m.loc[tox_m["quantity"].isna(), "name"].astype(str))
        notes.append(("no_toxic_use", {"year": year, "items": lacking}))

    comp_p = _compliance(ds)
    pol = t["pollutants"]
    if comp_p is None:
        comp_p = pd.DataFrame(
            columns=["pollutant_id", "name", "medium", "outlet", "concentration",
                     "concentration_unit", "annual_t", "annual_basis"]
        )  # fmt: skip
    toxic_ids = set(
        pol.loc[
            pol["toxic"].astype("boolean").fillna(False).to_numpy(dtype=bool), "pollutant_id"
        ].astype(str)
    )
    tp = comp_p[comp_p["pollutant_id"].astype(str).isin(toxic_ids)]
    tox_p = tp[["pollutant_id", "name", "medium", "annual_t", "annual_basis"]].reset_index(
        drop=True
    )
    measured = comp_p[comp_p["medium"].astype(str) != "noise"]
    pols = pd.DataFrame(
        {
            "pollutant_id": measured["pollutant_id"].astype("string").to_numpy(),
            "name": measured["name"].astype("string").to_numpy(),
            "medium": measured["medium"].astype("string").to_numpy(),
            "concentration": measured["concentration"].astype("Float64").to_numpy(),
            "concentration_unit": measured["concentration_unit"].astype("string").to_numpy(),
            "total_kg": (measured["annual_t"].astype("Float64") * 1000).to_numpy(),
            "annual_basis": measured["annual_basis"].astype("string").to_numpy(),
            "outlet": measured["outlet"].astype("string").to_numpy(),
        }
    )

    ww = h[h["category"] == "wastewater"]
    ww_t = float(ww["quantity"].sum()) * rho if not ww.empty else None
    wastes = t["wastes"]
    wq = h[h["category"] == "waste"].groupby("item")["quantity"].sum()
    disc_rows = [
        {
            "item": "wastewater",
            "quantity": ww_t / 10000 if ww_t is not None else pd.NA,
            "unit": "万吨/年",
            "destination": _join_unique(
                pol.loc[pol["medium"].astype("string") == "water", "outlet"]
            ),
        }
    ]
    for cls in ("general", "hazardous"):
        mine = wastes[wastes["class"].astype("string") == cls]
        ids = [str(w) for w in mine["waste_id"]]
        have = [w for w in ids if w in wq.index]
        disc_rows.append(
            {
                "item": cls,
                "quantity": float(sum(wq[w] for w in have)) if have else pd.NA,
                "unit": "吨/年",
                "destination": _join_unique(mine.get("disposal", [])),
            }
        )
    disc = pd.DataFrame(disc_rows).astype({"quantity": "Float64", "item": "string"})
    return RegistrationForm(
        year=year,
        years=years,
        product_name=mp.name,
        product_unit=mp.unit,
        three_year=three,
        energy_use=use,
        toxic_materials=tox_m,
        toxic_pollutants=tox_p,
        discharges=disc,
        pollutants=pols,
        basis={
            "energy": comp.attrs.get("basis"),
            "baseline_year": year,
            "water_density_t_m3": rho,
            "form": "seed 003 attached table 1 (强制性清洁生产审核登记表)",
        },
        notes=tuple(notes),
    )


def _times(value: Any, factor: float) -> Any:
    if value is None or i18n.is_missing(value):
        return pd.NA
    return float(value) * factor


def _join_unique(values: Any, sep: str = "；") -> str | None:
    items = [str(v).strip() for v in values if not _blank(v)]
    items = list(dict.fromkeys(items))
    return sep.join(items) if items else None


# =========================================================================== what a reader sees
def _html(*parts: Any):
    """One HTML output from several display objects / strings (None skipped)."""
    from IPython.display import HTML

    out = []
    for p in parts:
        if p is None:
            continue
        out.append(p.data if hasattr(p, "data") else str(p))
    return HTML("".join(out)) if out else None


def _t(nb: Any, key: str, **fmt: Any) -> str:
    return i18n.t(key, nb.lang, **fmt)


def _label(nb: Any, group: str, value: Any) -> str:
    """The catalogue label of an enum value (``common.<group>.<value>``); unknown values
    (data that is not an enum id) are shown as they are."""
    if i18n.is_missing(value):
        return i18n.missing(nb.lang)
    key = f"common.{group}.{value}"
    return i18n.t(key, nb.lang) if i18n.has(key) else str(value)


def _num(nb: Any, value: Any, digits: int = 0) -> str:
    return i18n.fmt_number(value, nb.lang, digits)


def unwrap(text: Any) -> str:
    """Long data text as a reader should see it: lines broken only for the source file
    are joined (no space between Chinese characters, one space between words), blank
    lines still separate paragraphs."""
    if _blank(text):
        return ""
    paras = []
    for para in str(text).replace("\r\n", "\n").split("\n\n"):
        lines = [ln.strip() for ln in para.split("\n") if ln.strip()]
        out = ""
        for ln in lines:
            word_break = out[-1:].isascii() and (out[-1:].isalnum() or out[-1:] in ".,;:!?)")
            if out and word_break and ln[0].isascii():
                out += " "
            out += ln
        if out:
            paras.append(out)
    return "\n\n".join(paras)


def _text_of(nb: Any, zh: Any, en: Any = None) -> str:
    """Data text for the report language: the English field when writing English and it
    is filled, otherwise the Chinese one (marked as such in an English report)."""
    if nb.lang == "en" and not _blank(en):
        return unwrap(en)
    if _blank(zh):
        return ""
    if nb.lang == "en":
        return f"{unwrap(zh)} {_t(nb, 'common.original_in_chinese')}"
    return unwrap(zh)


def short_number(value: Any, lang: str, significant: int = 4) -> str:
    """A measured value as written, at most ``significant`` significant digits
    (0.78 -> "0.78", 0.004190 -> "0.00419", 1,253.551 -> "1,254"); "—" when empty."""
    if i18n.is_missing(value):
        return i18n.missing(lang)
    written = max(0, -i18n.to_decimal(value).normalize().as_tuple().exponent)
    return i18n.fmt_number(value, lang, min(written, _digits_for([value], significant)))


def _profile(nb: Any, name: str) -> Any:
    return getattr(nb.ds.profile, name, None)


def _digits_for(values: Any, significant: int = 4, most: int = 6) -> int:
    """Decimals that show ``significant`` digits of the typical (median) magnitude."""
    arr = [abs(float(v)) for v in values if not i18n.is_missing(v) and float(v) != 0]
    if not arr:
        return 2
    m = float(np.median(arr))
    return int(min(most, max(0, significant - 1 - math.floor(math.log10(m)))))


def _note(text: str, kind: str = "info"):
    from cpkit.display import note

    return note(text, kind)


def _error_note(nb: Any, key: str, exc: Exception):
    return _note(_t(nb, key, error=str(exc)), "warning")


# --------------------------------------------------------------------------- preface
def _categories_text(nb: Any) -> str:
    cats = _profile(nb, "categories") or ()
    return i18n.fmt_list([_label(nb, "category", c) for c in cats], nb.lang)


def _exceeding_items(nb: Any, exceeding: pd.DataFrame) -> list[str]:
    out = []
    for r in exceeding.to_dict("records"):
        unit = "" if _blank(r.get("concentration_unit")) else str(r["concentration_unit"])
        if r.get("compliant") is False or (
            not i18n.is_missing(r.get("compliant")) and not bool(r["compliant"])
        ):
            out.append(
                _t(
                    nb,
                    "p1.preface.exceed_conc",
                    name=r["name"],
                    value=short_number(r["concentration"], nb.lang),
                    limit=short_number(r["limit"], nb.lang),
                    unit=unit,
                    times=_num(nb, r["exceedance_multiple"], 2),
                    percent=i18n.fmt_percent(r["exceedance_multiple"], nb.lang, 0),
                    standard=r.get("limit_standard") or "",
                )
            )
        if not i18n.is_missing(r.get("within_cap")) and not bool(r["within_cap"]):
            out.append(
                _t(
                    nb,
                    "p1.preface.exceed_cap",
                    name=r["name"],
                    value=short_number(r["annual_t"], nb.lang),
                    cap=short_number(r["cap_t"], nb.lang),
                )
            )
    return out


def preface(nb: Any):
    """The preface (seed 004 clause 7.2): background, requirements, scope, process,
    period; the legal and standard basis follows in :func:`basis`."""
    from cpkit.display import paragraph

    p = nb.ds.profile
    lang = nb.lang
    name = _text_of(nb, p.name, getattr(p, "name_en", None))
    parts = []
    common = {"name": name, "industry": p.industry_name, "code": p.industry_code}
    if p.audit_kind == "mandatory":
        cats = _categories_text(nb)
        key = "p1.preface.background_mandatory" if cats else "p1.preface.background_mandatory_nocat"
        parts.append(_t(nb, key, categories=cats, **common))
        grounds = mandatory_grounds(nb.ds)
        items = _exceeding_items(nb, grounds["exceeding"])
        if items:
            parts.append(
                _t(
                    nb,
                    "p1.preface.exceeding",
                    year=p.baseline_year,
                    items=_t(nb, "p1.preface.item_separator").join(items),
                )
            )
        if not grounds["toxic_materials"].empty:
            parts.append(
                _t(
                    nb,
                    "p1.preface.toxic",
                    items=i18n.fmt_list(grounds["toxic_materials"]["name"].astype(str), lang),
                )
            )
    else:
        parts.append(_t(nb, "p1.preface.background_voluntary", **common))
    consult = (
        _t(nb, "p1.preface.consultancy", consultancy=p.consultancy)
        if p.audit_mode == "entrusted" and not _blank(p.consultancy)
        else ""
    )
    parts.append(
        _t(
            nb,
            "p1.preface.requirements",
            round=_round_text(nb),
            type=_in_sentence(nb, _label(nb, "audit_type", p.audit_type)),
            mode=_t(nb, f"p1.preface.mode.{p.audit_mode}"),
            consultancy=consult,
        )
    )
    address = p.production_address if not _blank(p.production_address) else p.registered_address
    focus = _focus_name(nb)
    parts.append(
        _t(nb, "p1.preface.scope", address=address)
        + (_t(nb, "p1.preface.focus", focus=focus) if focus else "")
    )
    try:
        span = plan_span(nb.ds.tables["work_plan"])
        parts.append(_t(nb, "p1.preface.process", tasks=span.tasks))
    except CpkitError:
        parts.append(_t(nb, "p1.preface.process_noplan"))
    parts.append(
        _t(
            nb,
            "p1.preface.period",
            period=i18n.fmt_period(p.audit_start, p.audit_end, lang),
            baseline=p.baseline_year,
            years=i18n.fmt_list([str(y) for y in p.history_years], lang),
        )
    )
    return paragraph("\n\n".join(parts))


def _in_sentence(nb: Any, label: str) -> str:
    """A label used inside an English sentence: first letter in lower case ("Routine
    audit" -> "routine audit"), acronyms kept ("CP level"). Chinese is unchanged."""
    if nb.lang != "en" or len(label) < 2 or not label[1].islower():
        return label
    return label[0].lower() + label[1:]


def _round_text(nb: Any) -> str:
    p = nb.ds.profile
    n = getattr(p, "round_number", None)
    if p.audit_round == "first":
        return _t(nb, "p1.round.first", n=n or 1)
    if n:
        return _t(nb, "p1.round.continuous", n=n)
    return _label(nb, "audit_round", "continuous")


def _focus_name(nb: Any) -> str | None:
    fid = _profile(nb, "audit_focus")
    if _blank(fid):
        return None
    fc = nb.ds.tables["focus_candidates"]
    hit = fc[fc["candidate_id"].astype(str) == str(fid)]
    return str(hit["name"].iloc[0]) if not hit.empty else str(fid)


def basis(nb: Any):
    """The legal and standard basis of the audit (seed 004 clause 7.2 c): the national
    law, measures and guide, the technical requirements the kit follows, the calculation
    standards, the sector indicator system (from its file) and the emission standards
    named in the pollutants table."""
    from cpkit.display import bullets, paragraph

    lang = nb.lang
    items = [_t(nb, f"p1.basis.{k}") for k in ("law", "measures", "guide", "zhejiang")]
    if nb.ds.profile.audit_kind == "mandatory":
        items.append(_t(nb, "p1.basis.hainan"))
    items += [_t(nb, "p1.basis.gb2589"), _t(nb, "p1.basis.gb12452")]
    sys_id = _profile(nb, "indicator_system")
    if not _blank(sys_id):
        try:
            from cpkit import grading

            system = grading.load_system(str(sys_id))
            items.append(
                _t(nb, "p1.basis.indicator_system", name=i18n.pick(system.name.model_dump(), lang))
            )
        except CpkitError:
            items.append(_t(nb, "p1.basis.indicator_system", name=str(sys_id)))
    pol = nb.ds.tables["pollutants"]
    if "limit_standard" in pol.columns:
        stds = [s for s in dict.fromkeys(pol["limit_standard"].dropna().astype(str)) if s.strip()]
        items += stds
    return _html(paragraph(_t(nb, "p1.basis.intro")), bullets(items))


# --------------------------------------------------------------------------- chapter 1
def profile_table(nb: Any):
    """Section 1.1: the enterprise's registration data (seed 003 attached table 1, basic
    block) as a two-column table."""
    from cpkit.display import key_values

    p = nb.ds.profile
    lang = nb.lang
    rows = [
        (_t(nb, "p1.profile.name"), p.name),
        (_t(nb, "p1.profile.name_en"), getattr(p, "name_en", None)),
        (_t(nb, "p1.profile.legal_representative"), p.legal_representative),
        (_t(nb, "p1.profile.credit_code"), getattr(p, "credit_code", None)),
        (_t(nb, "p1.profile.ownership"), getattr(p, "ownership", None)),
        (_t(nb, "p1.profile.industry"), f"{p.industry_name}（{p.industry_code}）"),
        (_t(nb, "p1.profile.scale"), _label(nb, "scale", p.scale)),
        (_t(nb, "p1.profile.staff"), _t(nb, "p1.profile.persons", n=_num(nb, p.staff))),
        (_t(nb, "p1.profile.output_value"), i18n.fmt_money(p.output_value_10k_cny, lang)),
        (
            _t(nb, "p1.profile.total_assets"),
            i18n.fmt_money(getattr(p, "total_assets_10k_cny", None), lang),
        ),
        (_t(nb, "p1.profile.categories"), _categories_text(nb) or i18n.missing(lang)),
        (_t(nb, "p1.profile.contact"), _join_unique([p.contact_person, p.contact_phone], " ")),
    ]
    rows = [(k, v if not _blank(v) else i18n.missing(lang)) for k, v in rows]
    return key_values(rows, lang=lang, caption=_t(nb, "p1.profile.caption"))


def description(nb: Any):
    """Section 1.1: the enterprise's own description (English field in an English report
    when given)."""
    from cpkit.display import paragraph

    p = nb.ds.profile
    text = _text_of(nb, getattr(p, "description", None), getattr(p, "description_en", None))
    if not text:
        return _note(_t(nb, "p1.profile.no_description"), "warning")
    return paragraph(text)


def organisation(nb: Any):
    """Section 1.2: ownership, legal representative and the departments taking part in
    the audit (the audit team's departments)."""
    from cpkit.display import paragraph

    p = nb.ds.profile
    summary = team_summary(nb.ds.tables["team"])
    depts = list(summary.departments)
    text = _t(
        nb,
        "p1.org.text",
        ownership=p.ownership
        if not _blank(getattr(p, "ownership", None))
        else i18n.missing(nb.lang),
        legal=p.legal_representative,
        n=len(depts),
        departments=i18n.fmt_list(depts, nb.lang) or i18n.missing(nb.lang),
    )
    return _html(paragraph(text), _note(_t(nb, "p1.org.chart_note")))


def location(nb: Any):
    """Section 1.3: where the enterprise is (the site plan is an annex the enterprise
    supplies; the dataset holds no drawings)."""
    from cpkit.display import key_values

    p = nb.ds.profile
    rows = [
        (_t(nb, "p1.location.province"), p.province),
        (_t(nb, "p1.location.city"), p.city_county),
        (_t(nb, "p1.location.registered"), p.registered_address),
        (_t(nb, "p1.location.production"), getattr(p, "production_address", None)),
    ]
    rows = [(k, v if not _blank(v) else i18n.missing(nb.lang)) for k, v in rows]
    return _html(key_values(rows, lang=nb.lang), _note(_t(nb, "p1.location.plan_note")))


def staff_shifts(nb: Any):
    """Section 1.4: staff and shifts."""
    from cpkit.display import paragraph

    p = nb.ds.profile
    shifts = getattr(p, "shifts", None)
    text = _t(nb, "p1.staff.text", staff=_num(nb, p.staff))
    text += (
        _t(nb, "p1.staff.shifts", shifts=shifts)
        if not _blank(shifts)
        else _t(nb, "p1.staff.no_shifts")
    )
    return paragraph(text)


def cp_history(nb: Any):
    """Section 1.5: the enterprise's cleaner-production background: which round this is,
    and for a continuous round what the review of the previous round must cover (seed 004
    clause 6.1)."""
    from cpkit.display import bullets, paragraph

    p = nb.ds.profile
    parts = [
        paragraph(
            _t(
                nb,
                "p1.history.round",
                round=_round_text(nb),
                kind=_in_sentence(nb, _label(nb, "audit_kind", p.audit_kind)),
                type=_in_sentence(nb, _label(nb, "audit_type", p.audit_type)),
            )
        )
    ]
    if p.audit_round == "first":
        parts.append(paragraph(_t(nb, "p1.history.first")))
    else:
        parts.append(paragraph(_t(nb, "p1.history.continuous")))
        parts.append(bullets([_t(nb, f"p1.history.review.{k}") for k in "abcde"]))
        parts.append(_note(_t(nb, "p1.history.review_note"), "warning"))
    return _html(*parts)


# --------------------------------------------------------------------------- chapter 2
def leadership(nb: Any):
    """Section 2.1: leadership support: who leads the audit and what the leadership
    committed to (team duties), and when the audit was launched (first phase-1 task)."""
    from cpkit.display import paragraph

    team = team_roster(nb.ds.tables["team"])
    parts = []
    for role in ("leader", "deputy_leader"):
        rows = team[team["role"].astype("string") == role]
        for r in rows.to_dict("records"):
            title = "" if _blank(r.get("title")) else str(r["title"])
            parts.append(
                _t(
                    nb,
                    f"p1.lead.{role}",
                    name=r["name"],
                    title=title or r["department"],
                    duties=unwrap(r["duties"]),
                )
            )
    out = []
    if not parts:
        out.append(_note(_t(nb, "p1.lead.no_leader"), "warning"))
    try:
        s = plan_schedule(nb.ds.tables["work_plan"])
        first = s[s["phase"] == 1]
        if not first.empty:
            r = first.sort_values("start").iloc[0]
            parts.append(
                _t(nb, "p1.lead.launch", date=i18n.fmt_date(r["start"], nb.lang), task=r["task"])
            )
    except CpkitError:
        pass
    if parts:
        out.insert(0, paragraph("\n\n".join(parts)))
    return _html(*out)


def team_text(nb: Any):
    """Section 2.2: the team in one paragraph (counts by role, full-time members,
    departments) and the checks of clauses 5.1.1 and 5.1.3 as notes."""
    from cpkit.display import paragraph

    s = team_summary(nb.ds.tables["team"])
    lang = nb.lang
    text = _t(
        nb,
        "p1.team.text",
        n=s.members,
        leaders=s.by_role["leader"],
        deputies=s.by_role["deputy_leader"],
        members=s.by_role["member"],
        experts=s.by_role["external_expert"],
        full_time=s.full_time,
        departments=len(s.departments),
        names=i18n.fmt_list(s.departments, lang) or i18n.missing(lang),
    )
    notes = []
    if not s.leaders:
        notes.append(_note(_t(nb, "p1.team.no_leader"), "warning"))
    p = nb.ds.profile
    if not s.experts and p.audit_mode == "entrusted":
        notes.append(_note(_t(nb, "p1.team.no_expert_entrusted"), "warning"))
    elif s.experts:
        orgs = i18n.fmt_list(s.expert_organisations, lang) or i18n.missing(lang)
        notes.append(
            _note(_t(nb, "p1.team.experts", names=i18n.fmt_list(s.experts, lang), orgs=orgs), "ok")
        )
    return _html(paragraph(text), *notes)


def team_table(nb: Any):
    """Section 2.2: the audit team table (name, role, department, title and expertise,
    duties, full time)."""
    from cpkit.display import Col, table

    r = team_roster(nb.ds.tables["team"])
    df = r.assign(
        role_label=[_label(nb, "role", x) for x in r["role"]],
        title_expertise=[
            _t(nb, "p1.team.title_expertise", title=a, expertise=b)
            if not _blank(a) and not _blank(b)
            else (str(a) if not _blank(a) else (str(b) if not _blank(b) else ""))
            for a, b in zip(
                r.get("title", [None] * len(r)), r.get("expertise", [None] * len(r)), strict=True
            )
        ],
        duties_text=[unwrap(x) for x in r["duties"]],
        full=[_yes_no(nb, x) for x in r.get("full_time", pd.Series(pd.NA, index=r.index))],
    )
    cols = {
        "name": Col(_t(nb, "p1.team.col.name")),
        "role_label": Col(_t(nb, "p1.team.col.role")),
        "department": Col(_t(nb, "common.col.department")),
        "title_expertise": Col(_t(nb, "p1.team.col.title_expertise")),
        "duties_text": Col(_t(nb, "p1.team.col.duties")),
        "full": Col(_t(nb, "p1.team.col.full_time")),
    }
    return table(df, cols, lang=nb.lang, caption=_t(nb, "p1.team.caption"))


def _yes_no(nb: Any, value: Any) -> str:
    if i18n.is_missing(value):
        return i18n.missing(nb.lang)
    return _t(nb, "common.yes" if bool(value) else "common.no")


def plan_text(nb: Any):
    """Section 2.3: the work plan in one paragraph (tasks, span, working days) and the
    findings of :func:`plan_findings` as notes."""
    from cpkit.display import paragraph

    wp = nb.ds.tables["work_plan"]
    try:
        span = plan_span(wp)
    except CpkitError as exc:
        return _error_note(nb, "p1.plan.error", exc)
    p = nb.ds.profile
    text = _t(
        nb,
        "p1.plan.text",
        tasks=span.tasks,
        period=i18n.fmt_period(span.start, span.end, nb.lang),
        days=_num(nb, span.calendar_days),
        weekdays=_num(nb, span.weekdays),
        phases=len(span.phases),
    )
    notes = []
    f = plan_findings(wp, p.audit_start, p.audit_end)
    for code in ("phase_missing", "before_audit", "after_audit", "no_reviewer"):
        part = f[f["code"] == code]
        if part.empty:
            continue
        if code == "phase_missing":
            what = i18n.fmt_list(
                [_t(nb, "common.phase_n", n=int(x)) for x in part["phase"]], nb.lang
            )
        else:
            what = i18n.fmt_list(part["task_id"].astype(str), nb.lang)
        notes.append(_note(_t(nb, f"p1.plan.finding.{code}", items=what), "warning"))
    if not notes:
        notes.append(_note(_t(nb, "p1.plan.finding.none"), "ok"))
    return _html(paragraph(text), *notes)


def phase_table(nb: Any):
    """Section 2.3: one row per phase: its name, tasks, first start, last end, days."""
    from cpkit.display import Col, table

    if nb.ds.tables["work_plan"].empty:
        return None
    w = phase_windows(nb.ds.tables["work_plan"])
    df = w.assign(name=[_phase_name(nb, p) for p in w["phase"]])
    total = plan_span(nb.ds.tables["work_plan"])
    cols = {
        "name": Col(_t(nb, "common.col.phase")),
        "tasks": Col(_t(nb, "p1.plan.col.tasks"), digits=0),
        "start": Col(_t(nb, "common.col.start")),
        "end": Col(_t(nb, "common.col.end")),
        "duration_days": Col(_t(nb, "p1.plan.col.days"), digits=0),
        "weekdays": Col(_t(nb, "p1.plan.col.weekdays"), digits=0),
    }
    return table(
        df,
        cols,
        lang=nb.lang,
        caption=_t(nb, "p1.plan.phase_caption"),
        total_row={
            "name": _t(nb, "common.total"),
            "tasks": total.tasks,
            "start": pd.Timestamp(total.start),
            "end": pd.Timestamp(total.end),
            "duration_days": total.calendar_days,
            "weekdays": total.weekdays,
        },
    )


def _phase_name(nb: Any, p: Any) -> str:
    return _t(nb, "common.phase_full", n=int(p), name=_t(nb, f"common.phase.{int(p)}"))


def plan_table(nb: Any):
    """Section 2.3: the work plan table (seed 004 clause 5.1.4: content, dates,
    responsible department and person, expected output, reviewer)."""
    from cpkit.display import Col, table

    s = plan_schedule(nb.ds.tables["work_plan"])
    deps = s["departments"] if "departments" in s.columns else pd.Series(pd.NA, index=s.index)
    df = s.assign(
        responsible=[
            f"{d} {o}" if not _blank(d) else str(o) for d, o in zip(deps, s["owner"], strict=True)
        ],
        dates=[
            _t(nb, "p1.plan.dates", start=f"{a:%Y-%m-%d}", end=f"{b:%Y-%m-%d}")
            for a, b in zip(s["start"], s["end"], strict=True)
        ],
    )
    cols = {
        "task_id": Col(_t(nb, "common.col.id")),
        "phase": Col(_t(nb, "common.col.phase"), digits=0),
        "task": Col(_t(nb, "p1.plan.col.task")),
        "responsible": Col(_t(nb, "p1.plan.col.responsible")),
        "dates": Col(_t(nb, "p1.plan.col.dates")),
        "expected_output": Col(_t(nb, "p1.plan.col.output")),
        "reviewer": Col(_t(nb, "p1.plan.col.reviewer")),
    }
    cols = {k: v for k, v in cols.items() if k in df.columns}
    return table(df, cols, lang=nb.lang, caption=_t(nb, "p1.plan.caption"))


def gantt_chart(nb: Any, phase: int = 0):
    """The Gantt chart of the work plan (display object), ``phase`` highlighted (0: none).
    Audit start and end are marked."""
    from cpkit.charts.planning import GanttLabels, gantt
    from cpkit.display import chart

    s = plan_schedule(nb.ds.tables["work_plan"])
    if s.empty:
        return None
    p = nb.ds.profile
    labels = GanttLabels(
        title=_t(nb, "p1.gantt.title"),
        task=_t(nb, "p1.plan.col.task"),
        phase=_t(nb, "common.col.phase"),
        start=_t(nb, "common.col.start"),
        end=_t(nb, "common.col.end"),
        days=_t(nb, "p1.plan.col.days"),
        owner=_t(nb, "common.col.owner"),
        date_axis=_t(nb, "p1.gantt.date_axis"),
    )
    names = {n: _phase_name(nb, n) for n in PHASES}
    markers = pd.DataFrame(
        {
            "date": [p.audit_start, p.audit_end],
            "label": [_t(nb, "p1.gantt.audit_start"), _t(nb, "p1.gantt.audit_end")],
        }
    )
    c = gantt(s, labels, names, highlight_phase=phase or None, markers=markers)
    return chart(c, interactive=nb.interactive)


def gantt_controls(nb: Any) -> dict[str, Any]:
    """Controls of :func:`gantt_chart` for :func:`cpkit.display.explore`: a phase picker
    (a widget when interactive, the default value 0 = all phases otherwise)."""
    if not nb.interactive:
        return {"phase": 0}
    import ipywidgets as widgets

    s = plan_schedule(nb.ds.tables["work_plan"])
    present = sorted({int(x) for x in s["phase"]})
    options = [(_t(nb, "common.all"), 0)] + [(_phase_name(nb, n), n) for n in present]
    return {
        "phase": widgets.Dropdown(options=options, value=0, description=_t(nb, "common.col.phase"))
    }


def gantt_view(nb: Any):
    """The function :func:`cpkit.display.explore` calls with the control values."""

    def view(phase: int = 0):
        return gantt_chart(nb, phase)

    return view


def training_text(nb: Any):
    """Section 2.4: training done and planned in one paragraph."""
    from cpkit.display import paragraph

    tot = training_totals(nb.ds.tables["training"]).set_index("status")

    def f(key: str, col: str, digits: int = 0) -> str:
        return _num(nb, tot.at[key, col], digits)

    text = _t(
        nb,
        "p1.training.text",
        done=f("done", "sessions"),
        done_people=f("done", "participants"),
        done_ph=f("done", "person_hours", 1),
        planned=f("planned", "sessions"),
        planned_people=f("planned", "participants"),
    )
    notes = []
    inc = int(tot.at["total", "incomplete"])
    if inc:
        notes.append(_note(_t(nb, "p1.training.incomplete", n=inc), "warning"))
    if int(tot.at["done", "sessions"]) == 0:
        notes.append(_note(_t(nb, "p1.training.none_done"), "warning"))
    return _html(paragraph(text), *notes)


def training_totals_table(nb: Any):
    """Section 2.4: totals of the training records (done, planned, all)."""
    from cpkit.display import Col, table

    tot = training_totals(nb.ds.tables["training"])
    df = tot.assign(
        label=[
            _t(nb, "common.total") if s == "total" else _label(nb, "training_status", s)
            for s in tot["status"]
        ]
    )
    cols = {
        "label": Col(_t(nb, "common.col.status")),
        "sessions": Col(_t(nb, "p1.training.col.sessions"), digits=0),
        "participants": Col(_t(nb, "p1.training.col.participants"), digits=0),
        "hours": Col(_t(nb, "p1.training.col.hours"), digits=1),
        "person_hours": Col(_t(nb, "p1.training.col.person_hours"), digits=1),
    }
    return table(df, cols, lang=nb.lang, caption=_t(nb, "p1.training.totals_caption"))


def training_table(nb: Any, status: str | None = None, caption_key: str = "p1.training.caption"):
    """Training records (``status`` ``done`` or ``planned`` to keep only those) by date."""
    from cpkit.display import Col, table

    log = training_log(nb.ds.tables["training"])
    if status is not None:
        log = log[log["status"].astype("string") == status].reset_index(drop=True)
    df = log.assign(status_label=[_label(nb, "training_status", s) for s in log["status"]])
    cols = {
        "date": Col(_t(nb, "common.col.date")),
        "topic": Col(_t(nb, "p1.training.col.topic")),
        "trainer": Col(_t(nb, "p1.training.col.trainer")),
        "audience": Col(_t(nb, "p1.training.col.audience")),
        "participants": Col(_t(nb, "p1.training.col.participants"), digits=0),
        "hours": Col(_t(nb, "p1.training.col.hours"), digits=1),
        "person_hours": Col(_t(nb, "p1.training.col.person_hours"), digits=1),
        "status_label": Col(_t(nb, "common.col.status")),
    }
    if status is not None:
        cols.pop("status_label")
    return table(df, cols, lang=nb.lang, caption=_t(nb, caption_key))


def barrier_text(nb: Any):
    """Section 2.5: the barrier survey in one paragraph, open barriers as a note."""
    from cpkit.display import paragraph

    b = nb.ds.tables["barriers"]
    if b.empty:
        return _note(_t(nb, "p1.barrier.none"), "warning")
    s = barrier_summary(b)
    resolved, open_ = int(s["resolved"].sum()), int(s["open"].sum())
    text = _t(nb, "p1.barrier.text", n=len(b), resolved=resolved, open=open_)
    notes = []
    if open_:
        log = barrier_log(b)
        res = log["resolved"].astype("boolean").fillna(False) if "resolved" in log else None
        ids = (
            log.loc[~res.to_numpy(dtype=bool), "barrier_id"].astype(str) if res is not None else []
        )
        notes.append(_note(_t(nb, "p1.barrier.open", items=i18n.fmt_list(ids, nb.lang)), "warning"))
    else:
        notes.append(_note(_t(nb, "p1.barrier.all_resolved"), "ok"))
    return _html(paragraph(text), *notes)


def barrier_summary_table(nb: Any):
    """Section 2.5: barriers per category."""
    from cpkit.display import Col, table

    s = barrier_summary(nb.ds.tables["barriers"])
    df = s.assign(label=[_label(nb, "barrier_category", c) for c in s["category"]])
    cols = {
        "label": Col(_t(nb, "p1.barrier.col.category")),
        "barriers": Col(_t(nb, "p1.barrier.col.count"), digits=0),
        "respondents": Col(_t(nb, "p1.barrier.col.respondents"), digits=0),
        "resolved": Col(_t(nb, "p1.barrier.col.resolved_n"), digits=0),
        "open": Col(_t(nb, "p1.barrier.col.open_n"), digits=0),
    }
    return table(
        df,
        cols,
        lang=nb.lang,
        caption=_t(nb, "p1.barrier.summary_caption"),
        total_row={
            "label": _t(nb, "common.total"),
            "barriers": int(s["barriers"].sum()),
            "respondents": float(s["respondents"].sum()),
            "resolved": int(s["resolved"].sum()),
            "open": int(s["open"].sum()),
        },
    )


def barrier_table(nb: Any):
    """Section 2.5: the barrier survey with countermeasures and resolution."""
    from cpkit.display import Col, table

    log = barrier_log(nb.ds.tables["barriers"])
    df = log.assign(
        label=[_label(nb, "barrier_category", c) for c in log["category"]],
        res=[_yes_no(nb, x) for x in log.get("resolved", pd.Series(pd.NA, index=log.index))],
    )
    cols = {
        "barrier_id": Col(_t(nb, "common.col.id")),
        "label": Col(_t(nb, "p1.barrier.col.category")),
        "description": Col(_t(nb, "p1.barrier.col.description")),
        "respondents": Col(_t(nb, "p1.barrier.col.respondents"), digits=0),
        "countermeasure": Col(_t(nb, "p1.barrier.col.countermeasure")),
        "res": Col(_t(nb, "p1.barrier.col.resolved")),
    }
    return table(df, cols, lang=nb.lang, caption=_t(nb, "p1.barrier.caption"))


# --------------------------------------------------------------------------- annex
def _boxes(nb: Any, group: str, options: Sequence[str], chosen: Any) -> str:
    """A row of check boxes as on the paper form: ☑ chosen, ☐ the others."""
    return "  ".join(("☑ " if o == chosen else "☐ ") + _label(nb, group, o) for o in options)


def registration_title(nb: Any) -> str:
    """Title of the registration form (mandatory audit or, for a voluntary audit, the
    same form used as the enterprise's registration record)."""
    kind = "mandatory" if nb.ds.profile.audit_kind == "mandatory" else "voluntary"
    return _t(nb, f"p1.form.title_{kind}")


def registration(nb: Any) -> tuple[Any, ...]:
    """The registration form (seed 003 attached table 1) filled from the dataset, as
    display objects for the annex: basic block, three-year block, toxic substances,
    discharges and main pollutants."""
    from cpkit.display import Col, heading, key_values, paragraph, table

    p = nb.ds.profile
    lang = nb.lang
    out: list[Any] = []
    try:
        span = plan_span(nb.ds.tables["work_plan"])
        windows = phase_windows(nb.ds.tables["work_plan"])
    except CpkitError:
        span, windows = None, None
    team = team_summary(nb.ds.tables["team"])
    try:
        form = registration_form(nb.ds)
    except CpkitError as exc:
        form = None
        out.append(_error_note(nb, "p1.form.error", exc))
    products = None
    if form is not None:
        products = _products_text(nb, form)
    schedule = (
        "；".join(
            f"{_t(nb, 'common.phase_n', n=int(r['phase']))} {r['start']:%Y-%m-%d}~{r['end']:%Y-%m-%d}"
            for r in windows.to_dict("records")
        )
        if windows is not None
        else None
    )
    basic = [
        (_t(nb, "p1.profile.name"), p.name),
        (_t(nb, "p1.profile.legal_representative"), p.legal_representative),
        (_t(nb, "p1.location.registered"), p.registered_address),
        (_t(nb, "p1.location.city"), p.city_county),
        (_t(nb, "p1.location.production"), getattr(p, "production_address", None)),
        (_t(nb, "p1.profile.contact_person"), getattr(p, "contact_person", None)),
        (_t(nb, "p1.profile.contact_phone"), getattr(p, "contact_phone", None)),
        (_t(nb, "p1.profile.ownership"), getattr(p, "ownership", None)),
        (_t(nb, "p1.profile.credit_code"), getattr(p, "credit_code", None)),
        (_t(nb, "p1.profile.industry"), p.industry_name),
        (_t(nb, "p1.profile.industry_code"), p.industry_code),
        (_t(nb, "p1.profile.staff"), _num(nb, p.staff)),
        (_t(nb, "p1.form.output_value"), _num(nb, p.output_value_10k_cny, 2)),
        (_t(nb, "p1.form.total_assets"), _num(nb, getattr(p, "total_assets_10k_cny", None), 2)),
        (
            _t(nb, "p1.profile.scale"),
            _boxes(nb, "scale", ("large", "medium", "small", "non_enterprise"), p.scale),
        ),
        (_t(nb, "p1.form.products"), products),
        (
            _t(nb, "p1.form.audit_type"),
            _boxes(nb, "audit_type", ("routine", "rapid"), p.audit_type),
        ),
        (
            _t(nb, "p1.form.audit_mode"),
            _boxes(nb, "audit_mode", ("self", "entrusted"), p.audit_mode),
        ),
        (_t(nb, "p1.form.consultancy"), getattr(p, "consultancy", None)),
        (_t(nb, "p1.form.consultancy_contact"), getattr(p, "consultancy_contact", None)),
        (
            _t(nb, "p1.form.effort"),
            _t(nb, "p1.form.effort_value", people=team.members, days=_num(nb, span.weekdays))
            if span
            else None,
        ),
        (_t(nb, "p1.form.scope"), _scope_text(nb)),
        (_t(nb, "p1.form.schedule"), schedule),
        (_t(nb, "p1.form.acceptance"), i18n.fmt_date(p.audit_end, lang)),
    ]
    basic = [(k, v if not _blank(v) else i18n.missing(lang)) for k, v in basic]
    out.append(heading(_t(nb, "p1.form.basic"), 3))
    out.append(key_values(basic, lang=lang))
    if form is None:
        return tuple(out)

    out.append(heading(_t(nb, "p1.form.three_year"), 3))
    out.append(three_year_table(nb, form))
    eb = form.basis.get("energy") or {}
    out.append(_note(_t(nb, "p1.form.energy_basis", basis=_energy_basis_text(nb, eb))))

    out.append(heading(_t(nb, "p1.form.toxic"), 3))
    tm = form.toxic_materials
    if tm.empty:
        out.append(paragraph(_t(nb, "p1.form.no_toxic_materials")))
    else:
        out.append(
            table(
                tm,
                {
                    "name": Col(_t(nb, "p1.form.col.material")),
                    "hazard": Col(_t(nb, "p1.form.col.hazard")),
                    "quantity": Col(
                        _t(nb, "p1.form.col.annual_use", year=form.year),
                        digits=_digits_for(tm["quantity"], 4, 2),
                    ),
                    "unit": Col(_t(nb, "common.col.unit")),
                },
                lang=lang,
                caption=_t(nb, "p1.form.toxic_materials_caption"),
            )
        )
    tp = form.toxic_pollutants
    if tp.empty:
        out.append(paragraph(_t(nb, "p1.form.no_toxic_pollutants")))
    else:
        tpd = tp.assign(
            kg=tp["annual_t"].astype("Float64") * 1000,
            medium_label=[_label(nb, "medium", m) for m in tp["medium"]],
            src=[_basis_label(nb, b) for b in tp["annual_basis"]],
        )
        out.append(
            table(
                tpd,
                {
                    "name": Col(_t(nb, "p1.form.col.substance")),
                    "medium_label": Col(_t(nb, "p1.form.col.medium")),
                    "kg": Col(
                        _t(nb, "p1.form.col.annual_amount", year=form.year),
                        unit=i18n.unit_label("kg", lang),
                        digits=_digits_for(tpd["kg"], 4, 2),
                    ),
                    "src": Col(_t(nb, "p1.form.col.amount_basis")),
                },
                lang=lang,
                caption=_t(nb, "p1.form.toxic_pollutants_caption"),
            )
        )

    out.append(heading(_t(nb, "p1.form.discharges"), 3))
    d = form.discharges
    d = d.assign(
        label=[_t(nb, f"p1.form.discharge.{i}") for i in d["item"]],
        amount=[
            _t(
                nb,
                "p1.form.amount_unit",
                value=i18n.fmt_number(q, lang, 2),
                unit=_t(nb, "p1.form.unit.10k_t_a" if i == "wastewater" else "p1.form.unit.t_a"),
            )
            if not i18n.is_missing(q)
            else i18n.missing(lang)
            for i, q in zip(d["item"], d["quantity"], strict=True)
        ],
    )
    out.append(
        table(
            d,
            {
                "label": Col(_t(nb, "p1.form.col.item")),
                "amount": Col(_t(nb, "p1.form.col.quantity_year", year=form.year), align="right"),
                "destination": Col(_t(nb, "p1.form.col.destination")),
            },
            lang=lang,
        )
    )
    pol = form.pollutants
    if not pol.empty:
        out.append(heading(_t(nb, "p1.form.pollutants"), 3))
        pd_ = pol.assign(
            label=[
                f"{n}（{_label(nb, 'medium', m)}）"
                if lang == "zh"
                else f"{n} ({_label(nb, 'medium', m)})"
                for n, m in zip(pol["name"], pol["medium"], strict=True)
            ],
            conc=[
                f"{short_number(c, lang)} {u}" if not i18n.is_missing(c) else i18n.missing(lang)
                for c, u in zip(pol["concentration"], pol["concentration_unit"], strict=True)
            ],
            src=[_basis_label(nb, b) for b in pol["annual_basis"]],
        )
        out.append(
            table(
                pd_,
                {
                    "label": Col(_t(nb, "p1.form.col.pollutant")),
                    "conc": Col(_t(nb, "p1.form.col.concentration"), align="right"),
                    "total_kg": Col(
                        _t(nb, "p1.form.col.total_kg"),
                        unit=i18n.unit_label("kg", lang),
                        digits=_digits_for(pol["total_kg"], 4, 2),
                    ),
                    "src": Col(_t(nb, "p1.form.col.amount_basis")),
                    "outlet": Col(_t(nb, "p1.form.col.destination")),
                },
                lang=lang,
            )
        )
    for code, values in form.notes:
        shown = {
            k: i18n.fmt_list(v, lang) if isinstance(v, tuple) else v for k, v in values.items()
        }
        out.append(_note(_t(nb, f"p1.form.note.{code}", **shown), "warning"))
    return tuple(out)


def three_year_rows(form: RegistrationForm) -> pd.DataFrame:
    """The three-year block of the form in the paper form's order, one row per item and
    one column per year: ``item`` (output_value, product_output, energy, energy_per_product,
    energy_per_value, water_per_product, water_per_value, ``carrier:<id>`` for each energy
    carrier used, fresh_water), ``unit`` (unit id or text), then the years."""
    three = form.three_year.set_index("year")
    years = [int(y) for y in form.years]
    pu = form.product_unit
    spec = [
        ("output_value", "output_value_10k_cny", "10k_CNY"),
        ("product_output", "product_output", pu),
        ("energy", "energy_tce", "tce"),
        ("energy_per_product", "energy_tce_per_product", f"tce/{pu}"),
        ("energy_per_value", "energy_tce_per_10k_cny", "tce/10k_CNY"),
        ("water_per_product", "water_t_per_product", f"t/{pu}"),
        ("water_per_value", "water_t_per_10k_cny", "t/10k_CNY"),
    ]
    rows = []
    for item, col, unit in spec:
        rows.append({"item": item, "unit": unit, **{y: _at(three, y, col) for y in years}})
    use = form.energy_use
    for (cid, unit), grp in use.groupby(["carrier_id", "unit"], sort=False):
        vals = dict(zip(grp["year"].astype(int), grp["quantity"], strict=True))
        rows.append(
            {"item": f"carrier:{cid}", "unit": unit, **{y: vals.get(y, pd.NA) for y in years}}
        )
    rows.append(
        {"item": "fresh_water", "unit": "t", **{y: _at(three, y, "fresh_water_t") for y in years}}
    )
    out = pd.DataFrame(rows, columns=["item", "unit", *years])
    return out.astype({y: "Float64" for y in years})


def _at(frame: pd.DataFrame, year: int, col: str) -> Any:
    return frame.at[year, col] if year in frame.index else pd.NA


def three_year_table(nb: Any, form: RegistrationForm):
    """The three-year block (items down, years across), each row with its own decimals."""
    from cpkit.display import Col, table

    lang = nb.lang
    rows = three_year_rows(form)
    years = [int(y) for y in form.years]
    names = {
        str(c): (z, e)
        for c, z, e in form.energy_use[["carrier_id", "name_zh", "name_en"]]
        .drop_duplicates()
        .itertuples(index=False)
    }
    labels, unit_texts, cells = [], [], {y: [] for y in years}
    for r in rows.to_dict("records"):
        item = r["item"]
        if item.startswith("carrier:"):
            z, e = names.get(item.split(":", 1)[1], (item, item))
            labels.append(z if lang == "zh" else e)
        else:
            labels.append(_t(nb, f"p1.form.col.{item}"))
        unit_texts.append(_unit_text(nb, r["unit"], form.product_unit))
        fixed = {"output_value": 2, "energy": 2, "fresh_water": 0}.get(item)
        digits = fixed if fixed is not None else _digits_for([r[y] for y in years], 4, 6)
        for y in years:
            cells[y].append(i18n.fmt_number(r[y], lang, digits))
    df = pd.DataFrame({"label": labels, "unit": unit_texts, **{str(y): cells[y] for y in years}})
    cols = {"label": Col(_t(nb, "p1.form.col.item")), "unit": Col(_t(nb, "common.col.unit"))}
    cols.update({str(y): Col(str(y), align="right") for y in years})
    return table(
        df, cols, lang=lang, caption=_t(nb, "p1.form.three_year_caption", product=form.product_name)
    )


def _unit_text(nb: Any, unit: str, product_unit: str) -> str:
    pu = product_unit
    special = {
        "10k_CNY": i18n.unit_label("10k_CNY", nb.lang),
        "tce": i18n.unit_label("tce", nb.lang),
        f"tce/{pu}": _t(nb, "p1.form.unit.tce_per", unit=pu),
        "tce/10k_CNY": _t(nb, "p1.form.unit.tce_per_10k"),
        f"t/{pu}": _t(nb, "p1.form.unit.t_per", unit=pu),
        "t/10k_CNY": _t(nb, "p1.form.unit.t_per_10k"),
        "t": i18n.unit_label("t", nb.lang),
        "万千瓦时": _t(nb, "p1.form.unit.10k_kwh"),
        "万立方米": _t(nb, "p1.form.unit.10k_m3"),
    }
    return special.get(unit, i18n.unit_label(unit, nb.lang))


def _basis_label(nb: Any, basis_text: Any) -> str:
    text = "" if _blank(basis_text) else str(basis_text)
    if text.startswith("history"):
        return _t(nb, "p1.form.basis_history")
    if text.startswith("generated"):
        return _t(nb, "p1.form.basis_generated")
    return i18n.missing(nb.lang)


def _energy_basis_text(nb: Any, eb: dict[str, Any]) -> str:
    basis = (
        eb.get("electricity_basis")
        or eb.get("basis")
        or getattr(nb.ds.parameters, "electricity_basis", None)
    )
    key = f"p1.form.electricity_basis.{basis}"
    return _t(nb, key) if i18n.has(key) else str(basis)


def _products_text(nb: Any, form: RegistrationForm) -> str:
    """Main products with their baseline-year output (history), e.g. 'A 360,000 m2'."""
    t = nb.ds.tables
    prod = t["products"]
    h = t["history"]
    h = h[(h["category"] == "product") & (pd.to_numeric(h["year"], errors="coerce") == form.year)]
    q = h.groupby("item")["quantity"].sum()
    items = []
    for r in prod.to_dict("records"):
        v = q.get(str(r["product_id"]))
        amount = _num(nb, v, _digits_for([v], 4, 2)) if v is not None else i18n.missing(nb.lang)
        items.append(f"{r['name']} {amount} {r['unit']}")
    return _t(nb, "p1.form.products_value", year=form.year, items="；".join(items))


def _scope_text(nb: Any) -> str:
    p = nb.ds.profile
    address = (
        p.production_address
        if not _blank(getattr(p, "production_address", None))
        else p.registered_address
    )
    focus = _focus_name(nb)
    return _t(nb, "p1.preface.scope", address=address) + (
        _t(nb, "p1.preface.focus", focus=focus) if focus else ""
    )


# --------------------------------------------------------------------------- teaching
def teach_phases(nb: Any):
    """Teaching: the seven phases of an audit round and what phase 1 delivers, with this
    plan's phase windows beside them (seed 004 chapter 4 and clause 5.1.1)."""
    from cpkit import teaching

    return teaching.explain(nb, _t(nb, "p1.teach.phases"))


def teach_team(nb: Any):
    """Teaching: who belongs in the team (seed 004 clauses 5.1.2-5.1.3)."""
    from cpkit import teaching

    return teaching.explain(nb, _t(nb, "p1.teach.team"))


def teach_plan(nb: Any):
    """Teaching: what a work plan states (clause 5.1.4) and how its length is counted,
    with the formula applied to this plan."""
    from cpkit import teaching

    if not nb.teaching or nb.ds.tables["work_plan"].empty:
        return teaching.explain(nb, _t(nb, "p1.teach.plan"))
    import sympy as sp

    span = plan_span(nb.ds.tables["work_plan"])
    t_s, t_e, d = sp.symbols("t_{start} t_{end} D")
    expr = sp.Add(t_e, -t_s, 1, evaluate=False)  # kept in reading order
    return _html(
        teaching.explain(nb, _t(nb, "p1.teach.plan")),
        teaching.formula(nb, expr, lhs=d),
        _note(
            _t(
                nb,
                "p1.teach.plan_applied",
                start=i18n.fmt_date(span.start, nb.lang),
                end=i18n.fmt_date(span.end, nb.lang),
                days=span.calendar_days,
            )
        ),
    )


def plan_exercise(nb: Any):
    """Exercise: the working days (Monday-Friday) of the work plan, checked against
    :func:`weekdays_between`. Shows nothing outside teaching mode."""
    from cpkit import teaching

    if nb.ds.tables["work_plan"].empty:
        return teaching.exercise(nb, "p1.plan_weekdays", _t(nb, "p1.teach.no_plan"), 0.0)
    span = plan_span(nb.ds.tables["work_plan"])
    return teaching.exercise(
        nb,
        "p1.plan_weekdays",
        _t(
            nb,
            "p1.teach.plan_question",
            start=i18n.fmt_date(span.start, nb.lang),
            end=i18n.fmt_date(span.end, nb.lang),
        ),
        span.weekdays,
        unit=_t(nb, "common.units.weekdays"),
        rel_tol=0.0,
        abs_tol=0.5,
    )


def teach_training(nb: Any):
    """Teaching: what training covers (clause 5.1.5) and the person-hours formula."""
    from cpkit import teaching

    if not nb.teaching:
        return None
    import sympy as sp

    # p_i participants and h_i hours of session i, N sessions
    i, n = sp.symbols("i N", integer=True)
    people = sp.IndexedBase("p")
    hours = sp.IndexedBase("h")
    h_total = sp.Symbol("H")
    expr = sp.Sum(people[i] * hours[i], (i, 1, n))
    return _html(
        teaching.explain(nb, _t(nb, "p1.teach.training")),
        teaching.formula(nb, expr, lhs=h_total),
    )


def training_exercise(nb: Any):
    """Exercise: person-hours of the training done, checked against
    :func:`training_totals`."""
    from cpkit import teaching

    tot = training_totals(nb.ds.tables["training"]).set_index("status")
    return teaching.exercise(
        nb,
        "p1.training_person_hours",
        _t(nb, "p1.teach.training_question", n=int(tot.at["done", "sessions"])),
        float(tot.at["done", "person_hours"]),
        unit=_t(nb, "common.units.person_hours"),
    )


def teach_barriers(nb: Any):
    """Teaching: the barrier survey (clause 5.1.6)."""
    from cpkit import teaching

    return teaching.explain(nb, _t(nb, "p1.teach.barriers"))
