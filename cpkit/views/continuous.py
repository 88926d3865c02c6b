"""Phase 7 of the audit in the report: chapter 8 (continuous cleaner production) and
chapter 9 (the summary of the audit round).

Seed 004 clause 5.7 (organisation, management and incentives, funding, the plan for the
options not yet implemented, the next round, research, training) and clause 7.4 (the
summary: resource, energy and pollution status and its compliance, the CP level before
and after, targets attained, results of the implemented options, recommendations for the
next round); Appendix B chapters 8-9. The summary also shows the reviewer's self-check
(:func:`cpkit.selfcheck.self_check`) and hands the round's key figures to the batch index
(:func:`cpkit.render.record`).

Figures (pandas in, pandas out): :func:`pending_options`, :func:`status_summary`,
:func:`compliance_summary`, :func:`level_summary`, :func:`targets_summary`,
:func:`results_summary`, :func:`recommendations`, :func:`key_figures`. What a reader sees:
functions taking the notebook context and returning display objects.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cpkit import i18n
from cpkit.errors import CpkitError
from cpkit.views.planning import (
    _blank,
    _digits_for,
    _html,
    _label,
    _note,
    _num,
    _t,
    _text_of,
    _yes_no,
    short_number,
    training_log,
    unwrap,
)

__all__ = [
    "LevelSummary",
    "compliance_summary",
    "key_figures",
    "level_summary",
    "pending_options",
    "recommendations",
    "results_summary",
    "status_summary",
    "targets_summary",
]

#: How many lagging indicators the recommendations name (worst first).
LAGGING_SHOWN = 5

_CACHE: OrderedDict[tuple[int, str], tuple[Any, Any]] = OrderedDict()
_CACHE_SIZE = 64


def _memo(ds: Any, key: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per dataset object and key: the chapter's sections share the
    performance table, the grading and the self-check instead of recomputing them.
    Datasets are immutable, so a result stays valid while the same object is used."""
    k = (id(ds), key)
    hit = _CACHE.get(k)
    if hit is not None and hit[0] is ds:
        _CACHE.move_to_end(k)
        return hit[1]
    value = compute()
    _CACHE[k] = (ds, value)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


# =========================================================================== figures
def check_parameters(nb: Any) -> None:
    """Check the cost-class parameters of this notebook (threshold set, no/low-cost limit)
    at set-up, so a bad value fails in the first cell with the screening module's message
    rather than halfway through the chapter."""
    from cpkit import screening

    p = nb.ds.parameters
    screening.cost_thresholds(
        getattr(p, "cost_class_thresholds", None),
        no_low_cost_max_10k_cny=getattr(p, "no_low_cost_max_10k_cny", None),
    )


def performance(ds: Any):
    """The Hainan performance table (seed 003 attached table 4) of the dataset, with the
    dataset's cost-class thresholds (:func:`cpkit.performance.performance_table`)."""
    return _memo(ds, "performance", lambda: _performance(ds))


def _performance(ds: Any):
    from cpkit import performance as perf

    t = ds.tables
    if t["options"].empty:
        raise CpkitError("the options table is empty: no option to sum up")
    p = ds.parameters
    return perf.performance_table(
        t["options"],
        t["option_effects"],
        t["implementation"],
        t["pollutants"],
        t["wastes"],
        t["materials"],
        thresholds=getattr(p, "cost_class_thresholds", None),
        no_low_cost_max_10k_cny=getattr(p, "no_low_cost_max_10k_cny", None),
    )


_PENDING_COLUMNS = [
    "option_id", "name", "status", "cost_class", "solution", "investment_10k_cny",
    "expected_benefit_10k_cny", "environmental_benefit_zh", "environmental_benefit_en",
    "expert_recommended", "department", "owner", "start", "end", "scheduled",
]  # fmt: skip


def pending_options(ds: Any) -> pd.DataFrame:
    """Feasible options not yet implemented (status ``planned`` or ``in_progress``), the
    plan of seed 004 clause 5.7.4 a: medium/high-cost options first.

    Columns: ``option_id, name, status, cost_class`` (as classified by
    :mod:`cpkit.screening` with the dataset's thresholds), ``solution``,
    ``investment_10k_cny``, ``expected_benefit_10k_cny`` (annual: revenue increase + cost
    saving of the options table, seed 003 attached table 4 note 2),
    ``environmental_benefit_zh/_en`` (expected reductions and savings, medium/high-cost
    options), ``expert_recommended``, the schedule from the implementation table
    (``department, owner, start, end``) and ``scheduled`` (department or owner, start and
    end all given).
    """
    return _memo(ds, "pending", lambda: _pending_options(ds))


def _pending_options(ds: Any) -> pd.DataFrame:
    if ds.tables["options"].empty:
        return pd.DataFrame(columns=_PENDING_COLUMNS)
    pt = performance(ds)
    used = pt.options
    todo = used[used["planned"].fillna(False).to_numpy(dtype=bool)]
    opts = ds.tables["options"].set_index(ds.tables["options"]["option_id"].astype(str))
    imp = ds.tables["implementation"]
    imp_by = {str(r["option_id"]): r for r in imp.to_dict("records")}
    env = pt.planned.set_index(pt.planned["option_id"].astype(str))
    rows = []
    for r in todo.to_dict("records"):
        oid = str(r["option_id"])
        o = opts.loc[oid]
        rev = o.get("annual_revenue_increase_10k_cny")
        sav = o.get("annual_cost_saving_10k_cny")
        parts = [float(x) for x in (rev, sav) if not i18n.is_missing(x)]
        sched = imp_by.get(oid, {})
        dep, own = sched.get("department"), sched.get("owner")
        start, end = sched.get("start"), sched.get("end")
        rows.append(
            {
                "option_id": oid,
                "name": r["name"],
                "status": r["status"],
                "cost_class": r["cost_class"],
                "solution": o.get("solution"),
                "investment_10k_cny": o.get("investment_10k_cny"),
                "expected_benefit_10k_cny": sum(parts) if parts else pd.NA,
                "environmental_benefit_zh": env.at[oid, "environmental_benefit_zh"]
                if oid in env.index
                else pd.NA,
                "environmental_benefit_en": env.at[oid, "environmental_benefit_en"]
                if oid in env.index
                else pd.NA,
                "expert_recommended": o.get("expert_recommended"),
                "department": dep,
                "owner": own,
                "start": start,
                "end": end,
                "scheduled": not (_blank(dep) and _blank(own))
                and not _blank(start)
                and not _blank(end),
            }
        )
    out = pd.DataFrame(rows, columns=_PENDING_COLUMNS)
    out = out.astype(
        {
            "investment_10k_cny": "Float64",
            "expected_benefit_10k_cny": "Float64",
            "expert_recommended": "boolean",
            "scheduled": "boolean",
        }
    )
    for c in ("start", "end"):
        out[c] = pd.to_datetime(out[c])
    rank = out["cost_class"].map({"medium_high": 0, "no_low": 1}).fillna(2)
    order = pd.DataFrame({"r": rank.to_numpy(), "i": out["option_id"].to_numpy()})
    return out.loc[order.sort_values(["r", "i"]).index].reset_index(drop=True)


def _after_year(ds: Any) -> int | None:
    """The audit year compared with the baseline: the year of the audit end when the
    history has it, else the latest history year after the baseline, else None."""
    hist = ds.tables["history"]
    years = sorted({int(y) for y in pd.to_numeric(hist["year"], errors="coerce").dropna()})
    base = int(ds.profile.baseline_year)
    end_year = int(pd.Timestamp(ds.profile.audit_end).year)
    if end_year in years and end_year > base:
        return end_year
    later = [y for y in years if y > base]
    return later[-1] if later else None


#: Metrics of the status summary: (key, status metric, column of that metric, unit stem).
_STATUS_ROWS = (
    ("energy_tce", "energy_per_product", "numerator", None),
    ("energy_per_product", "energy_per_product", "value", None),
    ("energy_per_output_value", "energy_per_output_value", "value", None),
    ("water_m3", "water_intake_per_product", "numerator", None),
    ("water_per_product", "water_intake_per_product", "value", None),
    ("water_per_output_value", "water_intake_per_output_value", "value", None),
    ("wastewater_m3", "wastewater_per_product", "numerator", None),
    ("wastewater_per_product", "wastewater_per_product", "value", None),
)


def status_summary(ds: Any) -> pd.DataFrame:
    """Resource, energy and wastewater status of the baseline year against the audit year
    (seed 004 clause 7.4 a): comprehensive energy (tce, GB/T 2589) and its intensities,
    water intake and wastewater with their unit-product values, from
    :func:`cpkit.indicators.status`; ``change_pct = (after - before) / before x 100``
    (negative = a reduction). Columns: ``key, unit, before, after, change_pct``;
    ``attrs["years"] = (baseline, after or None)``.
    """
    return _memo(ds, "status", lambda: _status_summary(ds))


def _status_summary(ds: Any) -> pd.DataFrame:
    from cpkit import indicators

    t = ds.tables
    base = int(ds.profile.baseline_year)
    after = _after_year(ds)
    years = [base] + ([after] if after else [])
    p = ds.parameters
    st = indicators.status(
        t["history"],
        t["products"],
        years=years,
        basis=getattr(p, "electricity_basis", None),
        equal_value_kgce_per_kwh=getattr(p, "equal_value_kgce_per_kwh", None),
    )
    st = st[st["item"] == "total"]
    rows = []
    for key, metric, col, _ in _STATUS_ROWS:
        part = st[st["metric"] == metric]
        if part.empty:
            continue
        unit = part["numerator_unit"].iloc[0] if col == "numerator" else part["unit"].iloc[0]
        vals = {int(y): v for y, v in zip(part["year"], part[col], strict=True)}
        b = vals.get(base, pd.NA)
        a = vals.get(after, pd.NA) if after else pd.NA
        change = (
            (float(a) - float(b)) / float(b) * 100
            if not i18n.is_missing(a) and not i18n.is_missing(b) and float(b) != 0
            else pd.NA
        )
        rows.append({"key": key, "unit": unit, "before": b, "after": a, "change_pct": change})
    out = pd.DataFrame(rows, columns=["key", "unit", "before", "after", "change_pct"])
    out = out.astype({"before": "Float64", "after": "Float64", "change_pct": "Float64"})
    out.attrs["years"] = (base, after)
    out.attrs["basis"] = st.attrs.get("basis")
    return out


def compliance_summary(ds: Any) -> pd.DataFrame:
    """Pollutant compliance before the audit (:func:`cpkit.indicators.compliance`, the
    baseline year) and, for each pollutant with a target in the targets table (the
    target's ``metric`` is the pollutant id and its unit the concentration unit), the value
    achieved after the audit against the limit (``compliant_after``).

    Columns: those of :func:`cpkit.indicators.compliance` plus ``target_id``,
    ``achieved``, ``compliant_after``.
    """
    return _memo(ds, "compliance", lambda: _compliance_summary(ds))


def _compliance_summary(ds: Any) -> pd.DataFrame:
    from cpkit.views.planning import _compliance

    comp = _compliance(ds)
    if comp is None:
        return pd.DataFrame(
            columns=["pollutant_id", "name", "medium", "compliant", "within_cap", "target_id",
                     "achieved", "compliant_after"]
        )  # fmt: skip
    targets = ds.tables["targets"]
    by_metric = {}
    if "metric" in targets.columns:
        for r in targets.to_dict("records"):
            if not _blank(r.get("metric")):
                by_metric[str(r["metric"])] = r
    tid, ach, ok_after = [], [], []
    for r in comp.to_dict("records"):
        tr = by_metric.get(str(r["pollutant_id"]))
        same_unit = (
            tr is not None
            and not _blank(r.get("concentration_unit"))
            and str(tr.get("unit")).strip() == str(r["concentration_unit"]).strip()
        )
        if tr is None or not same_unit or i18n.is_missing(tr.get("achieved")):
            tid.append(tr["target_id"] if tr is not None else pd.NA)
            ach.append(pd.NA)
            ok_after.append(pd.NA)
            continue
        tid.append(tr["target_id"])
        ach.append(float(tr["achieved"]))
        lim = r.get("limit")
        ok_after.append(
            bool(float(tr["achieved"]) <= float(lim)) if not i18n.is_missing(lim) else pd.NA
        )
    out = comp.assign(target_id=tid, achieved=ach, compliant_after=ok_after)
    return out.astype({"target_id": "string", "achieved": "Float64", "compliant_after": "boolean"})


@dataclass(frozen=True)
class LevelSummary:
    """CP level before and after the audit (seed 004 clauses 5.2.9, 5.6.6, 7.4 b).

    ``before``/``after``: :class:`cpkit.grading.GradeResult` (``after`` None when the
    dataset grades only one stage); ``comparison``: :class:`cpkit.grading.StageComparison`
    or None; ``system_name``: {zh, en}; ``system_status``: V/M/C/I of the system file;
    ``error``: why grading was impossible (then the rest is None).
    """

    before: Any = None
    after: Any = None
    comparison: Any = None
    system_name: dict[str, str] | None = None
    system_status: str | None = None
    level_names: dict[str, dict[str, str]] | None = None
    error: str | None = None


def level_summary(ds: Any) -> LevelSummary:
    """Grade the stages of ``indicator_values`` with the profile's indicator system
    (:func:`cpkit.grading.grade_stages`) and compare them. A dataset without a system, or
    whose values cannot be graded, gives ``error`` instead of raising."""
    return _memo(ds, "level", lambda: _level_summary(ds))


def _level_summary(ds: Any) -> LevelSummary:
    from cpkit import grading

    sys_id = getattr(ds.profile, "indicator_system", None)
    if _blank(sys_id):
        return LevelSummary(error="no_system")
    try:
        system = grading.load_system(str(sys_id))
        stages = grading.grade_stages(system, ds.tables["indicator_values"])
    except CpkitError as exc:
        return LevelSummary(error=str(exc))
    before, after = stages.get("before"), stages.get("after")
    comp = grading.compare_stages(before, after) if before and after else None
    return LevelSummary(
        before=before,
        after=after,
        comparison=comp,
        system_name=system.name.model_dump(),
        system_status=system.status,
        level_names={k: v.model_dump() for k, v in system.level_names.items()},
    )


def targets_summary(ds: Any) -> pd.DataFrame:
    """Target attainment (:func:`cpkit.indicators.attainment`; seed 004 clause 7.4 c)."""
    from cpkit import indicators

    return _memo(ds, "targets", lambda: indicators.attainment(ds.tables["targets"]))


def self_check(ds: Any) -> pd.DataFrame:
    """The reviewer's checklist (:func:`cpkit.selfcheck.self_check`), once per dataset."""
    from cpkit import selfcheck

    return _memo(ds, "selfcheck", lambda: selfcheck.self_check(ds))


def results_summary(ds: Any) -> dict[str, pd.DataFrame]:
    """Results of the options (seed 004 clause 7.4 d; seed 003 attached table 4):
    ``counts`` and ``money`` rows of the performance table, and the ``reductions`` and
    ``savings`` rows with a non-zero total."""
    pt = performance(ds)

    def nonzero(df: pd.DataFrame) -> pd.DataFrame:
        tot = pd.to_numeric(df["total"], errors="coerce").fillna(0)
        return df[(tot != 0).to_numpy(dtype=bool)].reset_index(drop=True)

    return {
        "counts": pt.counts,
        "money": pt.money,
        "reductions": nonzero(pt.reductions),
        "savings": nonzero(pt.savings),
    }


def recommendations(ds: Any, *, lagging_shown: int = LAGGING_SHOWN) -> pd.DataFrame:
    """What the next round should take up (seed 004 clauses 5.7.4 and 7.4 e), one row per
    point: ``kind`` (``pending_options``: feasible options still to implement;
    ``target_near``: near-term targets missed; ``target_mid``: mid-term targets still
    open; ``lagging``: indicators below the best level after the audit, worst first, at
    most ``lagging_shown``; ``selfcheck``: checklist items missing), ``ref`` (ids) and the
    figures the text needs (``value``, ``target``, ``unit``, ``name``, ``level``,
    ``next_level``, ``gap``).
    """
    rows: list[dict[str, Any]] = []
    pend = pending_options(ds)
    if not pend.empty:
        rows.append({"kind": "pending_options", "ref": ", ".join(pend["option_id"])})
    try:
        att = targets_summary(ds)
    except CpkitError:
        att = pd.DataFrame()
    for r in att.to_dict("records"):
        if r.get("attained_near") is False:
            rows.append(
                {
                    "kind": "target_near",
                    "ref": r["target_id"],
                    "name": r["indicator"],
                    "value": r["achieved"],
                    "target": r["near_term"],
                    "unit": r["unit"],
                }
            )
        elif r.get("attained_mid") is False:
            rows.append(
                {
                    "kind": "target_mid",
                    "ref": r["target_id"],
                    "name": r["indicator"],
                    "value": r["achieved"],
                    "target": r["mid_term"],
                    "unit": r["unit"],
                    "deadline": r.get("mid_term_deadline"),
                }
            )
    lv = level_summary(ds)
    graded = lv.after or lv.before
    if graded is not None:
        from cpkit import grading

        lag = grading.lagging_indicators(graded)
        lag = lag.sort_values("y_gain_next", ascending=False, kind="stable").head(lagging_shown)
        for r in lag.to_dict("records"):
            rows.append(
                {
                    "kind": "lagging",
                    "ref": r["indicator_id"],
                    "name": {"zh": r["name_zh"], "en": r["name_en"]},
                    "level": r["level"],
                    "next_level": r["next_level"],
                    "gap": r["gap"],
                    "unit": r["unit"],
                }
            )
    try:
        sc = self_check(ds)
        miss = sc[sc["status"] == "missing"]
        for r in miss.to_dict("records"):
            rows.append(
                {"kind": "selfcheck", "ref": r["item_id"], "name": {"zh": r["zh"], "en": r["en"]}}
            )
    except CpkitError:
        pass
    cols = [
        "kind",
        "ref",
        "name",
        "value",
        "target",
        "unit",
        "deadline",
        "level",
        "next_level",
        "gap",
    ]
    return pd.DataFrame(rows, columns=cols)


def key_figures(ds: Any) -> dict[str, dict[str, Any]]:
    """The round's key figures for the batch index (:func:`cpkit.render.record`):
    ``options_count``, ``investment_10k_cny`` and ``benefit_10k_cny`` (implemented
    options, seed 003 attached table 4), ``planned_investment_10k_cny``, ``cp_level`` and
    ``cp_level_before`` (grading), ``targets_attained`` and ``targets_total`` (near term),
    ``selfcheck_missing``. Each value is ``{"value", "unit", "better", "label"}``; figures
    that cannot be formed are None."""
    out: dict[str, dict[str, Any]] = {}

    def put(key, value, unit=None, better=None, label=None):
        out[key] = {"value": value, "unit": unit, "better": better, "label": label}

    try:
        res = results_summary(ds)
        counts = dict(zip(res["counts"]["row_id"], res["counts"]["count"], strict=True))
        money = dict(zip(res["money"]["row_id"], res["money"]["value_10k_cny"], strict=True))
        put("options_count", int(counts.get("generated", 0)))
        put("investment_10k_cny", _plain(money.get("invest_implemented")), "10k_CNY")
        benefits = [
            money.get("benefit_implemented_no_low"),
            money.get("benefit_implemented_medium_high"),
        ]
        known = [float(b) for b in benefits if not i18n.is_missing(b)]
        put("benefit_10k_cny", sum(known) if known else None, "10k_CNY", "higher")
        put(
            "planned_investment_10k_cny",
            _plain(money.get("invest_planned_medium_high")),
            "10k_CNY",
            None,
            _both("p7.figure.planned_investment"),
        )
    except CpkitError:
        pass
    lv = level_summary(ds)
    if lv.error is None:
        put("cp_level", (lv.after or lv.before).level)
        if lv.before is not None:
            put(
                "cp_level_before",
                lv.before.level,
                label=_both("p7.figure.cp_level_before"),
            )
    try:
        att = targets_summary(ds)
        put(
            "targets_attained",
            int(att["attained_near"].fillna(False).sum()),
            better="higher",
            label=_both("p7.figure.targets_attained"),
        )
        put(
            "targets_total",
            len(att),
            label=_both("p7.figure.targets_total"),
        )
    except CpkitError:
        pass
    try:
        sc = self_check(ds)
        put(
            "selfcheck_missing",
            int(sc.attrs["counts"]["missing"]),
            better="lower",
            label=_both("p7.figure.selfcheck_missing"),
        )
    except CpkitError:
        pass
    return out


def _both(key: str) -> dict[str, str]:
    """A catalogue message in every report language (labels of recorded figures)."""
    return {lang: i18n.t(key, lang) for lang in i18n.LANGS}


def _plain(value: Any) -> float | None:
    return None if i18n.is_missing(value) else float(value)


# =========================================================================== what a reader sees
def _continuous(nb: Any, name: str) -> Any:
    return getattr(nb.ds.continuous, name, None)


def _missing_fields_note(nb: Any, fields: tuple[str, ...], clause: str):
    lost = [f for f in fields if _blank(_continuous(nb, f))]
    if not lost:
        return None
    names = i18n.fmt_list([_t(nb, f"p7.field.{f}") for f in lost], nb.lang)
    return _note(_t(nb, "p7.missing_fields", fields=names, clause=clause), "warning")


# --------------------------------------------------------------------------- chapter 8
def organisation(nb: Any):
    """Section 8.1 (seed 004 clause 5.7.2): the standing CP organisation, its department
    and the person responsible."""
    from cpkit.display import key_values, paragraph

    text = _text_of(nb, _continuous(nb, "organisation"))
    rows = [
        (_t(nb, "p7.field.responsible_department"), _continuous(nb, "responsible_department")),
        (_t(nb, "p7.field.responsible_person"), _continuous(nb, "responsible_person")),
    ]
    rows = [(k, v if not _blank(v) else _t(nb, "common.not_filled")) for k, v in rows]
    return _html(
        paragraph(text) if text else None,
        key_values(rows, lang=nb.lang),
        _missing_fields_note(
            nb, ("organisation", "responsible_department", "responsible_person"), "5.7.2"
        ),
    )


def management(nb: Any):
    """Section 8.2 (seed 004 clause 5.7.3): management rules, incentives and funding."""
    from cpkit.display import bullets, heading, paragraph

    measures = [unwrap(m) for m in (_continuous(nb, "management_measures") or ()) if not _blank(m)]
    parts: list[Any] = []
    if measures:
        parts.append(paragraph(_t(nb, "p7.mgmt.measures", n=len(measures))))
        parts.append(bullets(measures))
    for f in ("incentives", "funding"):
        text = _text_of(nb, _continuous(nb, f))
        if text:
            parts.append(heading(_t(nb, f"p7.field.{f}"), 3))
            parts.append(paragraph(text))
    parts.append(
        _missing_fields_note(nb, ("management_measures", "incentives", "funding"), "5.7.3")
    )
    return _html(*parts)


def plan_text(nb: Any):
    """Section 8.3 (seed 004 clause 5.7.4 a): options still to implement in one
    paragraph, with a note for those without a concrete schedule."""
    from cpkit.display import paragraph

    pend = pending_options(nb.ds)
    if pend.empty:
        return paragraph(_t(nb, "p7.plan.none"))
    mh = pend[pend["cost_class"] == "medium_high"]
    inv = float(mh["investment_10k_cny"].sum()) if not mh.empty else 0.0
    ben = float(mh["expected_benefit_10k_cny"].sum()) if not mh.empty else 0.0
    text = _t(
        nb,
        "p7.plan.text",
        n=len(pend),
        mh=len(mh),
        nl=len(pend) - len(mh),
        investment=i18n.fmt_money(inv, nb.lang),
        benefit=i18n.fmt_money(ben, nb.lang),
    )
    notes = []
    lacking = pend[~pend["scheduled"].fillna(False).to_numpy(dtype=bool)]
    if not lacking.empty:
        notes.append(
            _note(
                _t(nb, "p7.plan.unscheduled", items=i18n.fmt_list(lacking["option_id"], nb.lang)),
                "warning",
            )
        )
    return _html(paragraph(text), *notes)


def plan_table(nb: Any):
    """Section 8.3: the options still to implement with cost class, investment, expected
    benefit and schedule (medium/high-cost first), with totals."""
    from cpkit.display import Col, table

    pend = pending_options(nb.ds)
    if pend.empty:
        return None
    lang = nb.lang
    sep = "，" if lang == "zh" else ", "
    df = pend.assign(
        kind=[
            _label(nb, "cost_class", c) + sep + _label(nb, "option_status", st)
            for c, st in zip(pend["cost_class"], pend["status"], strict=True)
        ],
        env=[
            (e if lang == "en" else z) if not _blank(e if lang == "en" else z) else ""
            for z, e in zip(
                pend["environmental_benefit_zh"], pend["environmental_benefit_en"], strict=True
            )
        ],
        schedule=[
            _schedule_text(nb, d, o, a, b)
            for d, o, a, b in zip(
                pend["department"], pend["owner"], pend["start"], pend["end"], strict=True
            )
        ],
    )
    money = i18n.unit_label("10k_CNY", lang)
    cols = {
        "option_id": Col(_t(nb, "common.col.id")),
        "name": Col(_t(nb, "p7.plan.col.name")),
        "kind": Col(_t(nb, "p7.plan.col.kind")),
        "investment_10k_cny": Col(_t(nb, "common.col.investment"), unit=money, digits=2),
        "expected_benefit_10k_cny": Col(_t(nb, "p7.plan.col.benefit"), unit=money, digits=2),
        "env": Col(_t(nb, "p7.plan.col.environment")),
        "schedule": Col(_t(nb, "p7.plan.col.schedule")),
    }
    return table(
        df,
        cols,
        lang=lang,
        caption=_t(nb, "p7.plan.caption"),
        total_row={
            "name": _t(nb, "common.total"),
            "investment_10k_cny": float(pend["investment_10k_cny"].sum()),
            "expected_benefit_10k_cny": float(pend["expected_benefit_10k_cny"].sum()),
        },
    )


def _schedule_text(nb: Any, dep: Any, owner: Any, start: Any, end: Any) -> str:
    who = " ".join(str(x) for x in (dep, owner) if not _blank(x))
    if _blank(start) and _blank(end):
        when = ""
    else:
        a = "" if _blank(start) else f"{pd.Timestamp(start):%Y-%m-%d}"
        b = "" if _blank(end) else f"{pd.Timestamp(end):%Y-%m-%d}"
        when = _t(nb, "p1.plan.dates", start=a or "?", end=b or "?")
    text = (
        "；".join(x for x in (who, when) if x)
        if nb.lang == "zh"
        else "; ".join(x for x in (who, when) if x)
    )
    return text or _t(nb, "p7.plan.no_schedule")


def next_round(nb: Any):
    """Section 8.3 (seed 004 clause 5.7.4 b-c): direction and focus of the next round and
    the R&D plan, as the enterprise wrote them."""
    from cpkit.display import heading, paragraph

    parts = []
    for f in ("next_round_focus", "research_plan"):
        text = _text_of(nb, _continuous(nb, f))
        parts.append(heading(_t(nb, f"p7.field.{f}"), 3))
        parts.append(paragraph(text) if text else _note(_t(nb, "p7.not_given"), "warning"))
    return _html(*parts)


def training_plan_text(nb: Any):
    """Section 8.4 (seed 004 clause 5.7.4 d): the planned training in one paragraph."""
    from cpkit.display import paragraph

    log = training_log(nb.ds.tables["training"])
    planned = log[log["status"].astype("string") == "planned"]
    if planned.empty:
        return _note(_t(nb, "p7.training.none"), "warning")
    people = float(pd.to_numeric(planned["participants"], errors="coerce").sum())
    return paragraph(
        _t(
            nb,
            "p7.training.text",
            n=len(planned),
            people=_num(nb, people),
            ph=_num(nb, float(planned["person_hours"].sum()), 1),
            period=i18n.fmt_period(planned["date"].min(), planned["date"].max(), nb.lang),
        )
    )


def training_plan_table(nb: Any):
    """Section 8.4: the planned training sessions."""
    from cpkit.views.planning import training_table

    log = training_log(nb.ds.tables["training"])
    if not (log["status"].astype("string") == "planned").any():
        return None
    return training_table(nb, status="planned", caption_key="p7.training.caption")


# --------------------------------------------------------------------------- chapter 9
def status_text(nb: Any):
    """Section 9.1 (seed 004 clause 7.4 a): energy and water status, and the compliance
    conclusion."""
    from cpkit.display import paragraph

    parts = []
    try:
        st = status_summary(nb.ds)
    except CpkitError as exc:
        return _note(_t(nb, "p7.status.error", error=str(exc)), "warning")
    base, after = st.attrs["years"]
    by = st.set_index("key")
    if "energy_tce" in by.index:
        if after:
            parts.append(
                _t(
                    nb,
                    "p7.status.energy_after",
                    base=base,
                    after=after,
                    before_v=_num(nb, by.at["energy_tce", "before"], 1),
                    after_v=_num(nb, by.at["energy_tce", "after"], 1),
                    change=_signed_pct(nb, by.at["energy_per_product", "change_pct"]),
                )
            )
        else:
            parts.append(
                _t(
                    nb,
                    "p7.status.energy",
                    base=base,
                    value=_num(nb, by.at["energy_tce", "before"], 1),
                )
            )
    if "water_m3" in by.index and after:
        parts.append(
            _t(
                nb,
                "p7.status.water_after",
                before_v=_num(nb, by.at["water_m3", "before"]),
                after_v=_num(nb, by.at["water_m3", "after"]),
                change=_signed_pct(nb, by.at["water_per_product", "change_pct"]),
            )
        )
    comp = compliance_summary(nb.ds)
    parts.append(_compliance_conclusion(nb, comp))
    return paragraph("\n\n".join(p for p in parts if p))


def _signed_pct(nb: Any, value: Any) -> str:
    if i18n.is_missing(value):
        return i18n.missing(nb.lang)
    v = float(value)
    sign = "+" if v > 0 else ""
    return sign + i18n.fmt_percent(v / 100, nb.lang, 1)


def _compliance_conclusion(nb: Any, comp: pd.DataFrame) -> str:
    if comp.empty:
        return _t(nb, "p7.compliance.no_data")
    judged = comp[comp["compliant"].notna().to_numpy(dtype=bool)]
    over = judged[(judged["compliant"] == False).fillna(False).to_numpy(dtype=bool)]  # noqa: E712
    cap_over = comp[(comp["within_cap"] == False).fillna(False).to_numpy(dtype=bool)]  # noqa: E712
    lang = nb.lang
    text = _t(
        nb,
        "p7.compliance.before",
        n=len(judged),
        ok=len(judged) - len(over),
        over=len(over),
        cap_over=len(cap_over),
    )
    problems = pd.concat([over, cap_over]).drop_duplicates("pollutant_id")
    if problems.empty:
        return text + _t(nb, "p7.compliance.all_ok")
    names = i18n.fmt_list(problems["name"].astype(str), lang)
    text += _t(nb, "p7.compliance.exceeding", names=names)
    fixed = problems[(problems["compliant_after"] == True).fillna(False).to_numpy(dtype=bool)]  # noqa: E712
    for r in fixed.to_dict("records"):
        text += _t(
            nb,
            "p7.compliance.fixed",
            name=r["name"],
            target=r["target_id"],
            value=short_number(r["achieved"], lang),
            limit=short_number(r["limit"], lang),
            unit=r.get("concentration_unit") or "",
        )
    open_ = problems[~(problems["compliant_after"] == True).fillna(False).to_numpy(dtype=bool)]  # noqa: E712
    if not open_.empty:
        text += _t(
            nb, "p7.compliance.unresolved", names=i18n.fmt_list(open_["name"].astype(str), lang)
        )
    return text


def status_table(nb: Any):
    """Section 9.1: key status metrics, baseline year against the audit year."""
    from cpkit.display import Col, table

    try:
        st = status_summary(nb.ds)
    except CpkitError:
        return None
    base, after = st.attrs["years"]
    lang = nb.lang
    df = st.assign(
        label=[_t(nb, f"p7.status.metric.{k}") for k in st["key"]],
        unit_text=[_status_unit(nb, u) for u in st["unit"]],
        b=[
            short_number(v, lang, 4) if not i18n.is_missing(v) else i18n.missing(lang)
            for v in st["before"]
        ],
        a=[
            short_number(v, lang, 4) if not i18n.is_missing(v) else i18n.missing(lang)
            for v in st["after"]
        ],
        ch=[_signed_pct(nb, v) for v in st["change_pct"]],
    )
    cols = {
        "label": Col(_t(nb, "p7.status.col.metric")),
        "unit_text": Col(_t(nb, "common.col.unit")),
        "b": Col(_t(nb, "p7.status.col.year", year=base), align="right"),
    }
    if after:
        cols["a"] = Col(_t(nb, "p7.status.col.year", year=after), align="right")
        cols["ch"] = Col(_t(nb, "p7.status.col.change"), align="right")
    return table(df, cols, lang=lang, caption=_t(nb, "p7.status.caption"))


#: Decimals of the totals of the status table (intensities show 4 significant digits).
_TOTAL_DIGITS = {"energy_tce": 1, "water_m3": 0, "wastewater_m3": 0}


def _status_value(nb: Any, key: str, value: Any) -> str:
    if i18n.is_missing(value):
        return i18n.missing(nb.lang)
    if key in _TOTAL_DIGITS:
        return i18n.fmt_number(value, nb.lang, _TOTAL_DIGITS[key])
    return i18n.fmt_number(value, nb.lang, _digits_for([value], 4))


def _status_unit(nb: Any, unit: Any) -> str:
    text = str(unit)
    if "/" in text:
        num, den = text.split("/", 1)
        return f"{i18n.unit_label(num, nb.lang)}/{i18n.unit_label(den, nb.lang)}"
    return i18n.unit_label(text, nb.lang)


def compliance_table(nb: Any):
    """Section 9.1: measured concentration against the limit and annual amount against
    the cap for every pollutant with a limit, with the state after the audit where a
    target tracks it."""
    from cpkit.display import Col, table

    comp = compliance_summary(nb.ds)
    if comp.empty:
        return None
    lang = nb.lang
    comp = comp[comp["limit"].notna().to_numpy(dtype=bool)].reset_index(drop=True)
    df = comp.assign(
        conc=[
            _with_unit(nb, c, u)
            for c, u in zip(comp["concentration"], comp["concentration_unit"], strict=True)
        ],
        lim=[
            _with_unit(nb, c, u)
            for c, u in zip(comp["limit"], comp["concentration_unit"], strict=True)
        ],
        ok=[_yes_no(nb, x) for x in comp["compliant"]],
        cap=[
            i18n.fmt_percent(v / 100, lang, 1) if not i18n.is_missing(v) else i18n.missing(lang)
            for v in comp["cap_use_pct"]
        ],
        after=[
            _with_unit(nb, a, u) if not i18n.is_missing(a) else i18n.missing(lang)
            for a, u in zip(comp["achieved"], comp["concentration_unit"], strict=True)
        ],
    )
    cols = {
        "name": Col(_t(nb, "p7.compliance.col.pollutant")),
        "conc": Col(_t(nb, "p7.compliance.col.concentration"), align="right"),
        "lim": Col(_t(nb, "p7.compliance.col.limit"), align="right"),
        "ok": Col(_t(nb, "p7.compliance.col.compliant")),
        "cap": Col(_t(nb, "p7.compliance.col.cap_use"), align="right"),
        "after": Col(_t(nb, "p7.compliance.col.after"), align="right"),
    }
    return table(df, cols, lang=lang, caption=_t(nb, "p7.compliance.caption"))


def _with_unit(nb: Any, value: Any, unit: Any) -> str:
    if i18n.is_missing(value):
        return i18n.missing(nb.lang)
    u = "" if _blank(unit) else f" {unit}"
    return f"{short_number(value, nb.lang)}{u}"


def level_text(nb: Any):
    """Section 9.2 (seed 004 clause 7.4 b): CP level before and after the audit."""
    from cpkit.display import paragraph

    lv = level_summary(nb.ds)
    if lv.error == "no_system":
        return _note(_t(nb, "p7.level.no_system"), "warning")
    if lv.error:
        return _note(_t(nb, "p7.level.error", error=lv.error), "warning")
    lang = nb.lang
    system = i18n.pick(lv.system_name, lang)
    parts = []
    if lv.after is not None:
        key = "p7.level.improved" if lv.comparison.level_improved else "p7.level.same"
        parts.append(
            _t(
                nb,
                key,
                system=system,
                before=_level_label(nb, lv.before),
                after=_level_label(nb, lv.after),
            )
        )
    else:
        parts.append(
            _t(nb, "p7.level.before_only", system=system, before=_level_label(nb, lv.before))
        )
    notes = []
    if lv.system_status == "I":
        notes.append(_note(_t(nb, "p7.level.illustrative"), "warning"))
    return _html(paragraph(" ".join(parts) if lang == "en" else "".join(parts)), *notes)


def _level_label(nb: Any, result: Any) -> str:
    if result.level == "none":
        return _t(nb, "level.none")
    name = i18n.pick(result.level_name, nb.lang) if result.level_name else ""
    lvl = _t(nb, f"level.{result.level}") if i18n.has(f"level.{result.level}") else result.level
    return f"{lvl}（{name}）" if nb.lang == "zh" and name else (f"{lvl} ({name})" if name else lvl)


def level_table(nb: Any):
    """Section 9.2: comprehensive indices Y before and after the audit."""
    from cpkit.display import Col, table

    lv = level_summary(nb.ds)
    if lv.error or lv.comparison is None:
        return None
    sc = lv.comparison.scores
    names = lv.level_names or {}
    df = sc.assign(
        label=[
            _t(
                nb,
                "p7.level.score_label",
                score=s,
                name=i18n.pick(names[s[2:]], nb.lang) if s[2:] in names else s[2:],
            )
            for s in sc["score"]
        ]
    )
    cols = {
        "label": Col(_t(nb, "p7.level.col.score")),
        "before": Col(_t(nb, "common.stage.before"), digits=2),
        "after": Col(_t(nb, "common.stage.after"), digits=2),
        "change_points": Col(_t(nb, "p7.level.col.change"), digits=2),
    }
    return table(df, cols, lang=nb.lang, caption=_t(nb, "p7.level.caption"))


def targets_text(nb: Any):
    """Section 9.3 (seed 004 clause 7.4 c): how many targets were attained."""
    from cpkit.display import paragraph

    try:
        att = targets_summary(nb.ds)
    except CpkitError as exc:
        return _note(_t(nb, "p7.targets.error", error=str(exc)), "warning")
    if att.empty:
        return _note(_t(nb, "p7.targets.none"), "warning")
    near = att["attained_near"]
    with_mid = att[att["mid_term"].notna().to_numpy(dtype=bool)]
    text = _t(
        nb,
        "p7.targets.text",
        n=len(att),
        near=int(near.fillna(False).sum()),
        pending=int(near.isna().sum()),
        mid=len(with_mid),
        mid_done=int(with_mid["attained_mid"].fillna(False).sum()),
    )
    missed = att[(near == False).fillna(False).to_numpy(dtype=bool)]  # noqa: E712
    notes = []
    if not missed.empty:
        notes.append(
            _note(
                _t(
                    nb,
                    "p7.targets.missed",
                    items=i18n.fmt_list(missed["indicator"].astype(str), nb.lang),
                ),
                "warning",
            )
        )
    return _html(paragraph(text), *notes)


def targets_table(nb: Any):
    """Section 9.3: each target with its baseline, near-term target, achieved value,
    share of the planned improvement achieved and the mid-term target."""
    from cpkit.display import Col, table

    try:
        att = targets_summary(nb.ds)
    except CpkitError:
        return None
    if att.empty:
        return None
    lang = nb.lang
    df = att.assign(
        b=[short_number(v, lang) for v in att["baseline"]],
        n=[short_number(v, lang) for v in att["near_term"]],
        a=[short_number(v, lang) for v in att["achieved"]],
        m=[short_number(v, lang) for v in att["mid_term"]],
        prog=[
            i18n.fmt_percent(v / 100, lang, 1) if not i18n.is_missing(v) else i18n.missing(lang)
            for v in att["progress_near_pct"]
        ],
        ok=[_yes_no(nb, x) for x in att["attained_near"]],
    )
    cols = {
        "indicator": Col(_t(nb, "p7.targets.col.indicator")),
        "unit": Col(_t(nb, "common.col.unit")),
        "b": Col(_t(nb, "p7.targets.col.baseline"), align="right"),
        "n": Col(_t(nb, "p7.targets.col.near"), align="right"),
        "a": Col(_t(nb, "p7.targets.col.achieved"), align="right"),
        "prog": Col(_t(nb, "p7.targets.col.progress"), align="right"),
        "ok": Col(_t(nb, "p7.targets.col.attained")),
        "m": Col(_t(nb, "p7.targets.col.mid"), align="right"),
    }
    return table(df, cols, lang=lang, caption=_t(nb, "p7.targets.caption"))


def results_text(nb: Any):
    """Section 9.4 (seed 004 clause 7.4 d): options implemented, investment, benefit."""
    from cpkit.display import paragraph

    try:
        res = results_summary(nb.ds)
    except CpkitError as exc:
        return _note(_t(nb, "p7.results.error", error=str(exc)), "warning")
    c = dict(zip(res["counts"]["row_id"], res["counts"]["count"], strict=True))
    m = dict(zip(res["money"]["row_id"], res["money"]["value_10k_cny"], strict=True))
    ben = [m.get("benefit_implemented_no_low"), m.get("benefit_implemented_medium_high")]
    ben_total = sum(float(b) for b in ben if not i18n.is_missing(b))
    lang = nb.lang
    return paragraph(
        _t(
            nb,
            "p7.results.text",
            generated=c.get("generated", 0),
            feasible=c.get("feasible", 0),
            impl_nl=c.get("implemented_no_low", 0),
            impl_mh=c.get("implemented_medium_high", 0),
            investment=i18n.fmt_money(m.get("invest_implemented"), lang),
            benefit=i18n.fmt_money(ben_total, lang),
        )
    )


def results_table(nb: Any):
    """Section 9.4: reductions and savings of the implemented options (non-zero rows of
    the performance table), no/low-cost and medium/high-cost with the total."""
    from cpkit.display import Col, table

    try:
        res = results_summary(nb.ds)
    except CpkitError:
        return None
    rows = pd.concat([res["reductions"], res["savings"]], ignore_index=True)
    rows = rows[~rows["row_id"].isin(["class_one"])].reset_index(drop=True)
    if rows.empty:
        return _note(_t(nb, "p7.results.no_effects"), "warning")
    lang = nb.lang
    cells: dict[str, list[str]] = {"no_low": [], "medium_high": [], "total": []}
    for r in rows.to_dict("records"):
        d = _digits_for([r["no_low"], r["medium_high"], r["total"]], 3, 4)
        for c in cells:
            cells[c].append(i18n.fmt_number(r[c], lang, d))
    df = pd.DataFrame(
        {
            "label": (rows["name_zh"] if lang == "zh" else rows["name_en"]).to_numpy(),
            "unit_text": (rows["unit"] if lang == "zh" else rows["unit_en"]).to_numpy(),
            **cells,
        }
    )
    cols = {
        "label": Col(_t(nb, "p7.results.col.item")),
        "unit_text": Col(_t(nb, "common.col.unit")),
        "no_low": Col(_label(nb, "cost_class", "no_low"), align="right"),
        "medium_high": Col(_label(nb, "cost_class", "medium_high"), align="right"),
        "total": Col(_t(nb, "common.total"), align="right"),
    }
    return table(df, cols, lang=lang, caption=_t(nb, "p7.results.caption"))


def selfcheck_text(nb: Any):
    """Section 9.5: the self-check counts (seed 003 articles 15 and 21)."""
    from cpkit.display import paragraph

    sc = self_check(nb.ds)
    c = sc.attrs["counts"]
    text = _t(
        nb,
        "p7.selfcheck.text",
        n=len(sc),
        passed=c["passed"],
        missing=c["missing"],
        na=c["not_applicable"],
    )
    kind = "warning" if c["missing"] else "ok"
    key = "p7.selfcheck.missing" if c["missing"] else "p7.selfcheck.complete"
    return _html(paragraph(text), _note(_t(nb, key, n=c["missing"]), kind))


def selfcheck_table(nb: Any, status: str = "all"):
    """Section 9.5: the checklist (item, clause, result, evidence); ``status`` keeps only
    the items with that result (``all`` keeps every item)."""
    from cpkit.display import Col, table

    sc = self_check(nb.ds)
    if status != "all":
        sc = sc[sc["status"] == status].reset_index(drop=True)
    lang = nb.lang
    df = sc.assign(
        item=sc["zh"] if lang == "zh" else sc["en"],
        result=[_label(nb, "check_status", s) for s in sc["status"]],
        evidence=sc["evidence_zh"] if lang == "zh" else sc["evidence_en"],
        phase_label=[str(int(p)) if int(p) else "—" for p in sc["phase"]],
        clause_text=[clause_text(c, lang) for c in sc["clause"]],
    )
    cols = {
        "phase_label": Col(_t(nb, "p7.selfcheck.col.phase"), align="center"),
        "item": Col(_t(nb, "p7.selfcheck.col.item"), width=24),
        "clause_text": Col(_t(nb, "p7.selfcheck.col.clause"), width=18),
        "result": Col(_t(nb, "p7.selfcheck.col.result"), align="center"),
        "evidence": Col(_t(nb, "p7.selfcheck.col.evidence")),
    }
    if df.empty:
        return _note(_t(nb, "p7.selfcheck.filter_empty"))
    return table(df, cols, lang=lang, caption=_t(nb, "p7.selfcheck.caption"))


_SOURCES = (
    (re.compile(r"seed 004"), "p7.source.seed004"),
    (re.compile(r"seed 003"), "p7.source.seed003"),
    (re.compile(r"seed 002"), "p7.source.seed002"),
    (re.compile(r"Beijing acceptance sheet veto item"), "p7.source.beijing_veto"),
    (re.compile(r"Beijing acceptance sheet"), "p7.source.beijing"),
)


def clause_text(clause: Any, lang: str) -> str:
    """A checklist clause for a reader: the project's source ids (``seed 004`` = the
    Zhejiang technical requirements, ``seed 003`` = the Hainan guideline, ``seed 002`` = the
    Chongqing platform, the Beijing acceptance score sheet) written out,
    ``article 21(2)`` / ``attached table 1`` in the report language."""
    if _blank(clause):
        return i18n.missing(lang)
    text = str(clause)
    for pattern, key in _SOURCES:
        text = pattern.sub(i18n.t(key, lang), text)
    if lang == "zh":
        text = re.sub(
            r"article (\d+)(\(\d+\))?", lambda m: f"第{m.group(1)}条{m.group(2) or ''}", text
        )
        text = re.sub(r"attached table (\d+)", r"附表\1", text)
    return text


def selfcheck_controls(nb: Any) -> dict[str, Any]:
    """Controls of :func:`selfcheck_table` for :func:`cpkit.display.explore`: a result
    filter (a widget when interactive, "all" otherwise)."""
    if not nb.interactive:
        return {"status": "all"}
    import ipywidgets as widgets

    options = [(_t(nb, "common.all"), "all")] + [
        (_label(nb, "check_status", s), s) for s in ("missing", "passed", "not_applicable")
    ]
    return {
        "status": widgets.Dropdown(
            options=options, value="all", description=_t(nb, "p7.selfcheck.col.result")
        )
    }


def selfcheck_view(nb: Any):
    """The function :func:`cpkit.display.explore` calls with the control values."""

    def view(status: str = "all"):
        return selfcheck_table(nb, status)

    return view


def recommendations_view(nb: Any):
    """Section 9.6 (seed 004 clause 7.4 e): recommendations for the next round, from the
    data (options still to do, targets, lagging indicators, self-check gaps) and the
    enterprise's own plan for the next round."""
    from cpkit.display import bullets, paragraph

    rec = recommendations(nb.ds)
    lang = nb.lang
    items = []
    for r in rec.to_dict("records"):
        kind = r["kind"]
        name = r["name"]
        if isinstance(name, dict):
            name = i18n.pick(name, lang)
        if kind == "pending_options":
            items.append(_t(nb, "p7.rec.pending_options", ids=r["ref"]))
        elif kind in ("target_near", "target_mid"):
            items.append(
                _t(
                    nb,
                    f"p7.rec.{kind}",
                    name=name,
                    value=short_number(r["value"], lang),
                    target=short_number(r["target"], lang),
                    unit=r["unit"],
                    deadline=i18n.fmt_date(r["deadline"], lang)
                    if kind == "target_mid" and not _blank(r.get("deadline"))
                    else i18n.missing(lang),
                )
            )
        elif kind == "lagging":
            lvl = r["level"]
            nxt = r["next_level"]
            level = _t(nb, f"level.{lvl}") if i18n.has(f"level.{lvl}") else str(lvl)
            nxt_t = _t(nb, f"level.{nxt}") if i18n.has(f"level.{nxt}") else str(nxt)
            if not i18n.is_missing(r["gap"]):
                items.append(
                    _t(
                        nb,
                        "p7.rec.lagging",
                        name=name,
                        level=level,
                        next=nxt_t,
                        gap=short_number(abs(float(r["gap"])), lang),
                        unit=r["unit"] or "",
                    )
                )
            else:
                items.append(
                    _t(nb, "p7.rec.lagging_qualitative", name=name, level=level, next=nxt_t)
                )
        elif kind == "selfcheck":
            items.append(_t(nb, "p7.rec.selfcheck", name=name))
    parts = [paragraph(_t(nb, "p7.rec.intro"))]
    parts.append(bullets(items) if items else paragraph(_t(nb, "p7.rec.nothing")))
    focus = _text_of(nb, _continuous(nb, "next_round_focus"))
    if focus:
        parts.append(paragraph(_t(nb, "p7.rec.focus", focus=focus)))
    return _html(*parts)


def record_key_figures(nb: Any) -> None:
    """Hand the round's key figures (:func:`key_figures`) to the batch index with
    :func:`cpkit.render.record`; shows nothing."""
    from cpkit.render import record

    for key, f in key_figures(nb.ds).items():
        record(key, f["value"], unit=f["unit"], better=f["better"], label=f["label"])


# --------------------------------------------------------------------------- teaching
def teach_continuous(nb: Any):
    """Teaching: what phase 7 makes permanent (seed 004 clause 5.7)."""
    from cpkit import teaching

    return teaching.explain(nb, _t(nb, "p7.teach.continuous"))


def teach_summary(nb: Any):
    """Teaching: what the summary must conclude (seed 004 clause 7.4)."""
    from cpkit import teaching

    return teaching.explain(nb, _t(nb, "p7.teach.summary"))


def _exercise_target(nb: Any) -> dict[str, Any] | None:
    """The first target with an achieved value and a non-zero planned change."""
    try:
        att = targets_summary(nb.ds)
    except CpkitError:
        return None
    ok = att[att["progress_near_pct"].notna().to_numpy(dtype=bool)]
    return ok.iloc[0].to_dict() if not ok.empty else None


def teach_targets(nb: Any):
    """Teaching: target attainment, the share of the planned improvement achieved,
    with the formula applied to the first target."""
    from cpkit import teaching

    if not nb.teaching:
        return None
    import sympy as sp

    # y achieved, y_0 baseline, y* target: named so that sympy prints y - y_0 and y* - y_0
    y, y0, ys, p = sp.Symbol("y"), sp.Symbol("y_0"), sp.Symbol("y^{*}"), sp.Symbol("P")
    expr = (y - y0) / (ys - y0) * 100
    r = _exercise_target(nb)
    subs = None
    if r is not None:
        subs = {y0: float(r["baseline"]), ys: float(r["near_term"]), y: float(r["achieved"])}
    return _html(
        teaching.explain(nb, _t(nb, "p7.teach.targets")),
        teaching.formula(nb, expr, lhs=p, substitutions=subs),
        _note(_t(nb, "p7.teach.targets_applied", name=r["indicator"])) if r is not None else None,
    )


def targets_exercise(nb: Any):
    """Exercise: share of the planned improvement achieved for one target (not the one
    worked in :func:`teach_targets` when there is another), checked against
    :func:`cpkit.indicators.attainment`."""
    from cpkit import teaching

    try:
        att = targets_summary(nb.ds)
    except CpkitError:
        att = pd.DataFrame()
    ok = att[att["progress_near_pct"].notna().to_numpy(dtype=bool)] if not att.empty else att
    if ok.empty:
        return teaching.exercise(nb, "p7.target_progress", _t(nb, "p7.teach.no_target"), 0.0)
    r = ok.iloc[1 if len(ok) > 1 else 0]
    lang = nb.lang
    return teaching.exercise(
        nb,
        "p7.target_progress",
        _t(
            nb,
            "p7.teach.question",
            name=r["indicator"],
            unit=r["unit"],
            baseline=short_number(r["baseline"], lang),
            target=short_number(r["near_term"], lang),
            achieved=short_number(r["achieved"], lang),
        ),
        float(r["progress_near_pct"]),
        unit="%",
        rel_tol=0.005,
    )
