"""The CP audit performance table of Hainan (强制性清洁生产审核绩效表, seed 003 attached table 4).

Seed 003 articles 16 and 21 ask for this table with the audit report (after evaluation,
revised per the experts' opinions) and at acceptance. It has:

* section 一 (options and economic benefits): options generated; feasible, split no/low
  and medium/high cost, each implemented and planned; investment of the implemented
  options (no/low, medium/high); economic benefit of the implemented options; expected
  investment and benefit of the planned medium/high-cost options;
* section 二(一) (performance of implemented options): reduction of each pollutant and
  saving of each resource, no/low vs medium/high with the total, in the form's units;
* section 二(二): the planned medium/high-cost options (name, content, expected investment,
  environmental benefit, economic benefit, recommended by the experts).

Form notes: [2] economic benefit = benefit of saving energy and materials + benefit of cutting
pollutants (cpkit takes the implementation table's ``actual_annual_benefit_10k_cny``, else the
option's expected annual revenue increase + cost saving, flagged); [3] performance = the
amount before the audit minus the amount after, i.e. the reductions and savings of the
option_effects table (``actual`` for implemented options, else ``expected``, flagged); for
solid wastes, the generated amount; [4] class-one pollutants of GB 8978-1996, also listed
one by one; [5] other items, one row each with their own unit.

Which form row an effect item fills is data (``data/reference/performance/table4_map.csv``),
so are the rows and units (``table4_rows.csv``); units are converted with cpkit.units.
Cost classes and feasibility come from cpkit.screening (the team's result first, then the
thresholds and rules stored as data). Status ``in_progress`` counts as planned (拟实施): the
form has no third state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd

from cpkit import reference, screening, units
from cpkit.errors import CpkitError

__all__ = ["PerformanceError", "PerformanceTable", "effect_rows", "performance_table"]

_FOLDER = "performance"


class PerformanceError(CpkitError):
    """The performance table cannot be built from the given tables."""


@cache
def _rows() -> pd.DataFrame:
    df = reference.table(f"{_FOLDER}/table4_rows.csv")
    df["unit"] = df["unit"].astype("string")
    return df


@cache
def _map() -> pd.DataFrame:
    return reference.table(f"{_FOLDER}/table4_map.csv").sort_values("order", kind="stable")


@cache
def _carriers() -> frozenset[str]:
    return frozenset(reference.table("energy/carriers.csv")["carrier_id"].astype(str))


def _s(x: Any) -> str | None:
    return None if x is None or (not isinstance(x, str) and pd.isna(x)) else str(x)


def _f(x: Any) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def _need(df: pd.DataFrame, name: str, cols: list[str]) -> None:
    miss = [c for c in cols if c not in df.columns]
    if miss:
        raise PerformanceError(
            f"{name} table lacks column(s) {', '.join(miss)} (see cpkit/dataset_schema.yaml)"
        )


@cache
def _carrier_names() -> dict[str, tuple[str, str]]:
    tab = reference.table("energy/carriers.csv")
    return {
        str(r["carrier_id"]): (str(r["name_zh"]), str(r["name_en"])) for r in tab.to_dict("records")
    }


def _classify(
    item: str,
    pollutants: dict[str, dict[str, Any]],
    wastes: dict[str, dict[str, Any]],
    materials: dict[str, dict[str, Any]],
) -> tuple[str, str, str]:
    """(row_id, rule, item label) of an effect item, by the first matching rule."""
    if item in pollutants:
        kind = "pollutant"
        p = pollutants[item]
        label = _s(p.get("name")) or item
        texts = {"pollutant_name": f"{label} {item}"}
        fc = p.get("first_class")
        flags = {"pollutant_first_class": "true" if fc is True or fc == "true" else "false"}
    elif item in wastes:
        kind = "waste"
        w = wastes[item]
        label = _s(w.get("name")) or item
        texts = {"waste_class": _s(w.get("class")) or "", "waste_name": label}
        flags = {}
    elif item in _carriers():
        zh, en = _carrier_names()[item]
        kind, label, texts, flags = "carrier", f"{zh} / {en}", {"carrier": item}, {}
    elif item in materials:
        kind = "material"
        label = _s(materials[item].get("name")) or item
        texts, flags = {"material_name": f"{label} {item}"}, {}
    else:
        kind, label, texts, flags = "item", item, {}, {}
    for rec in _map().to_dict("records"):
        k, pat = str(rec["kind"]), str(rec["pattern"])
        if k == "item":
            hit = kind in ("item", "carrier") and re.search(pat, item, re.IGNORECASE)
        elif k in flags:
            hit = flags[k] == pat
        elif k in texts:
            hit = re.search(pat, texts[k], re.IGNORECASE)
        else:
            hit = False
        if hit:
            return str(rec["row_id"]), f"{k} {pat}", label
    raise PerformanceError(f"no row of attached table 4 for effect item {item!r} ({kind})")


_PER_YEAR = re.compile(r"\s*/\s*(a|yr|year|年)\s*$", re.IGNORECASE)


def _to_form_unit(value: float, src: str, row: dict[str, Any], where: str) -> float:
    """Convert an annual amount to the row's unit (t, Nm3, 万kWh, L, 万m3).

    The amount is per year: a trailing ``/a`` (``/年``, ``/yr``) is dropped; any other time
    basis (``m3/h``, ``kg/d``) is refused rather than scaled by an assumed operating time.
    A row with ``density_t_per_m3`` (water) also takes volumes.
    """
    amount = _PER_YEAR.sub("", src)
    dst = _s(row["unit"])
    if dst is None:
        return value
    if units.is_compatible(amount, dst):
        return value * units.conversion_factor(amount, dst)
    dens = _f(row.get("density_t_per_m3"))
    if dens is not None and units.is_compatible(amount, "m3"):
        return (
            value * units.conversion_factor(amount, "m3") * dens * units.conversion_factor("t", dst)
        )
    if units.is_compatible(amount, f"{dst}/s") or (
        dens is not None and units.is_compatible(amount, "m3/s")
    ):
        raise PerformanceError(
            f"{where}: {src!r} is a rate; give the annual reduction or saving (e.g. t or t/a)"
        )
    raise PerformanceError(
        f"{where}: cannot express {src!r} in the form's unit {dst!r} for row "
        f"{row['name_en']} ({row['name_zh']}); enter the effect in a unit of the same kind"
    )


def effect_rows(
    option_effects: pd.DataFrame,
    pollutants: pd.DataFrame,
    wastes: pd.DataFrame,
    materials: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each option effect placed on its row of attached table 4, in the form's unit.

    Columns: option_id, item, item_name, row_id, section (reduction | saving), rule (which
    line of table4_map.csv matched), unit (the form's, or the effect's own for "others"),
    unit_en, expected, actual (converted; <NA> stays <NA>).
    """
    _need(option_effects, "option_effects", ["option_id", "item", "expected", "actual", "unit"])
    _need(pollutants, "pollutants", ["pollutant_id", "name"])
    _need(wastes, "wastes", ["waste_id", "name", "class"])
    pol = {str(r["pollutant_id"]): r for r in pollutants.to_dict("records")}
    was = {str(r["waste_id"]): r for r in wastes.to_dict("records")}
    mat = (
        {str(r["material_id"]): r for r in materials.to_dict("records")}
        if materials is not None and "material_id" in materials.columns
        else {}
    )
    rows_meta = {r["row_id"]: r for r in _rows().to_dict("records")}
    out = []
    for rec in option_effects.to_dict("records"):
        item = str(rec["item"])
        row_id, rule, label = _classify(item, pol, was, mat)
        meta = rows_meta[row_id]
        src = _s(rec["unit"])
        own = _PER_YEAR.sub("", src) if src else None
        where = f"option_effects {rec['option_id']} / {item}"
        vals = {}
        for col in ("expected", "actual"):
            v = _f(rec[col])
            if v is not None and src is None:
                raise PerformanceError(f"{where}: {col} has no unit")
            vals[col] = None if v is None else _to_form_unit(v, src or "", meta, where)
        out.append(
            {
                "option_id": str(rec["option_id"]),
                "item": item,
                "item_name": label,
                "row_id": row_id,
                "section": meta["section"],
                "rule": rule,
                "unit": _s(meta["unit"]) or own,
                "unit_en": _s(meta["unit_en"]) or own,
                **vals,
            }
        )
    cols = [
        "option_id",
        "item",
        "item_name",
        "row_id",
        "section",
        "rule",
        "unit",
        "unit_en",
        "expected",
        "actual",
    ]
    df = pd.DataFrame(out, columns=cols)
    for c in cols[:8]:
        df[c] = df[c].astype("string")
    for c in ("expected", "actual"):
        df[c] = df[c].astype("Float64")
    return df


@dataclass(frozen=True)
class PerformanceTable:
    """Attached table 4 of seed 003, section by section.

    ``counts`` (row_id, name_zh, name_en, count); ``money`` (row_id, name_zh, name_en,
    value_10k_cny, note); ``reductions`` and ``savings`` (row_id, name_zh, name_en, unit
    (the form's, Chinese), unit_en, no_low, medium_high, total, note; detail rows of
    class-one pollutants and others have
    row_id "<row>:<item>"); ``planned`` (option_id, name, content,
    expected_investment_10k_cny, environmental_benefit_zh, environmental_benefit_en,
    economic_benefit_10k_cny, expert_recommended); ``options``: each option's cost class,
    screening group and status as used; ``notes``: what was estimated or assumed.
    """

    counts: pd.DataFrame
    money: pd.DataFrame
    reductions: pd.DataFrame
    savings: pd.DataFrame
    planned: pd.DataFrame
    options: pd.DataFrame
    notes: tuple[str, ...]
    basis: dict[str, Any]


def _label(name: str, lang: int) -> str:
    parts = str(name).split(" / ")
    return parts[lang] if len(parts) == 2 else str(name)


def _fmt(x: float) -> str:
    """Four significant digits, never in scientific notation (15000, 0.0123, 2.5)."""
    r = float(f"{x:.4g}")
    return str(int(r)) if r == int(r) else format(r, "f").rstrip("0").rstrip(".")


def performance_table(
    options: pd.DataFrame,
    option_effects: pd.DataFrame,
    implementation: pd.DataFrame,
    pollutants: pd.DataFrame,
    wastes: pd.DataFrame,
    materials: pd.DataFrame | None = None,
    *,
    thresholds: screening.CostThresholds | str | None = None,
    no_low_cost_max_10k_cny: float | None = None,
) -> PerformanceTable:
    """Build the Hainan performance table (seed 003 attached table 4, articles 16 and 21).

    Inputs are the dataset tables of the same names (money in 10k CNY; option effects as
    annual amounts in any unit cpkit.units understands). ``thresholds`` /
    ``no_low_cost_max_10k_cny``: the cost-class limit (``ds.parameters``), used for options
    whose ``cost_class`` is empty (cpkit.screening.classify_cost).

    Counting rules: generated = every option; feasible = not screened out (screening
    ``infeasible`` or status ``rejected``); implemented = status implemented; planned =
    planned or in_progress. Sums over no options are 0 (an empty form cell), over options
    without the needed figure <NA> with a note.
    """
    _need(options, "options", ["option_id", "name", "status", "investment_10k_cny", "solution"])
    _need(implementation, "implementation", ["option_id"])
    screened = screening.simple_screening(
        options,
        thresholds
        if isinstance(thresholds, screening.CostThresholds)
        else screening.cost_thresholds(thresholds, no_low_cost_max_10k_cny=no_low_cost_max_10k_cny),
    )
    notes: list[str] = []
    opt = options.reset_index(drop=True).copy()
    opt["option_id"] = opt["option_id"].astype("string")
    opt["cost_class_used"] = screened["cost_class"].to_numpy()
    opt["group"] = screened["group"].to_numpy()
    status = opt["status"].astype("string")
    feasible = (opt["group"] != "infeasible") & (status != "rejected")
    implemented = feasible & (status == "implemented")
    planned = feasible & status.isin(["planned", "in_progress"])
    nolow = opt["cost_class_used"] == "no_low"
    medhigh = opt["cost_class_used"] == "medium_high"
    if (status == "in_progress").any():
        ids = ", ".join(opt.loc[status == "in_progress", "option_id"])
        notes.append(f"options in progress counted as planned: {ids}")

    counts_v = {
        "generated": len(opt),
        "feasible": int(feasible.sum()),
        "feasible_no_low": int((feasible & nolow).sum()),
        "implemented_no_low": int((implemented & nolow).sum()),
        "planned_no_low": int((planned & nolow).sum()),
        "feasible_medium_high": int((feasible & medhigh).sum()),
        "implemented_medium_high": int((implemented & medhigh).sum()),
        "planned_medium_high": int((planned & medhigh).sum()),
    }
    rows = _rows()

    def labelled(section: str) -> list[dict[str, Any]]:
        return rows[rows["section"] == section].sort_values("order").to_dict("records")

    counts = pd.DataFrame(
        [
            {
                "row_id": r["row_id"],
                "name_zh": r["name_zh"],
                "name_en": r["name_en"],
                "count": counts_v[r["row_id"]],
            }
            for r in labelled("count")
        ]
    )

    # money
    imp = implementation.copy()
    imp["option_id"] = imp["option_id"].astype("string")
    imp_by = {str(r["option_id"]): r for r in imp.to_dict("records")}
    opt_by = {str(r["option_id"]): r for r in opt.to_dict("records")}

    def expected_benefit(o: dict[str, Any]) -> float | None:
        parts = [
            _f(o.get("annual_revenue_increase_10k_cny")),
            _f(o.get("annual_cost_saving_10k_cny")),
        ]
        return None if all(p is None for p in parts) else sum(p or 0.0 for p in parts)

    def total(mask: pd.Series, what: str) -> tuple[float | None, str]:
        ids = list(opt.loc[mask, "option_id"])
        s, fallback, lacking = 0.0, [], []
        for oid in ids:
            o, i = opt_by[oid], imp_by.get(oid, {})
            if what == "invest_actual":
                v = _f(i.get("actual_investment_10k_cny"))
                if v is None:
                    v = _f(o.get("investment_10k_cny"))
                    fallback.append(oid)
            elif what == "benefit_actual":
                v = _f(i.get("actual_annual_benefit_10k_cny"))
                if v is None:
                    v = expected_benefit(o)
                    fallback.append(oid)
            elif what == "invest_expected":
                v = _f(o.get("investment_10k_cny"))
            else:
                v = expected_benefit(o)
            if v is None:
                lacking.append(oid)
            else:
                s += v
        note = []
        if fallback:
            note.append(
                (
                    "planned figure used (no actual figure in implementation): "
                    if what.endswith("actual")
                    else ""
                )
                + ", ".join(fallback)
            )
        if lacking:
            note.append("no figure for: " + ", ".join(lacking))
        return (None if lacking else s), "; ".join(note)

    money_v = {
        "invest_implemented_no_low": total(implemented & nolow, "invest_actual"),
        "invest_implemented_medium_high": total(implemented & medhigh, "invest_actual"),
        "benefit_implemented_no_low": total(implemented & nolow, "benefit_actual"),
        "benefit_implemented_medium_high": total(implemented & medhigh, "benefit_actual"),
        "invest_planned_medium_high": total(planned & medhigh, "invest_expected"),
        "benefit_planned_medium_high": total(planned & medhigh, "benefit_expected"),
    }
    a, b = money_v["invest_implemented_no_low"], money_v["invest_implemented_medium_high"]
    money_v["invest_implemented"] = (
        None if a[0] is None or b[0] is None else a[0] + b[0],
        "; ".join(x for x in (a[1], b[1]) if x),
    )
    money = pd.DataFrame(
        [
            {
                "row_id": r["row_id"],
                "name_zh": r["name_zh"],
                "name_en": r["name_en"],
                "value_10k_cny": money_v[r["row_id"]][0],
                "note": money_v[r["row_id"]][1] or None,
            }
            for r in labelled("money")
        ]
    )
    money["value_10k_cny"] = money["value_10k_cny"].astype("Float64")
    money["note"] = money["note"].astype("string")

    # effects
    eff = effect_rows(option_effects, pollutants, wastes, materials)
    unknown = sorted(set(eff["option_id"]) - set(opt["option_id"]))
    if unknown:
        raise PerformanceError(f"option_effects names unknown option(s): {', '.join(unknown)}")
    eff["cost_class"] = [opt_by[o]["cost_class_used"] for o in eff["option_id"]]
    eff_imp = eff[eff["option_id"].isin(set(opt.loc[implemented, "option_id"]))].copy()
    est = eff_imp["actual"].isna() & eff_imp["expected"].notna()
    if est.any():
        notes.append(
            "implemented options without an actual effect, expected figure used: "
            + ", ".join(
                sorted(
                    {
                        f"{o}/{i}"
                        for o, i in eff_imp.loc[est, ["option_id", "item"]].itertuples(index=False)
                    }
                )
            )
        )
    eff_imp["amount"] = eff_imp["actual"].fillna(eff_imp["expected"])
    lacking = eff_imp["amount"].isna()
    if lacking.any():
        notes.append(
            "implemented options with neither an actual nor an expected effect (left out): "
            + ", ".join(
                f"{o}/{i}"
                for o, i in eff_imp.loc[lacking, ["option_id", "item"]].itertuples(index=False)
            )
        )

    def section(sec: str) -> pd.DataFrame:
        out = []
        sub = eff_imp[eff_imp["section"] == sec]
        for r in labelled(sec):
            rid = r["row_id"]
            here = sub[sub["row_id"] == rid]
            detail = rid == "class_one" or rid.startswith("other_")
            line = {
                "row_id": rid,
                "name_zh": r["name_zh"],
                "name_en": r["name_en"],
                "unit": _s(r["unit"]),
                "unit_en": _s(r["unit_en"]),
                "no_low": float(here.loc[here["cost_class"] == "no_low", "amount"].sum()),
                "medium_high": float(here.loc[here["cost_class"] == "medium_high", "amount"].sum()),
                "note": None,
            }
            items = list(dict.fromkeys(here["item"]))
            if detail and rid.startswith("other_"):
                # others: one row per item, each in its own unit; no header total
                line.update({"no_low": None, "medium_high": None})
                if items:
                    line["note"] = "see the rows below"
            out.append(line)
            if detail:
                for it in items:
                    part = here[here["item"] == it]
                    unit_set = list(dict.fromkeys(part["unit"].dropna()))
                    amounts = part["amount"].to_numpy(dtype=float, na_value=float("nan"))
                    if len(unit_set) > 1:
                        amounts = [
                            a * units.conversion_factor(u, unit_set[0]) if u != unit_set[0] else a
                            for a, u in zip(amounts, part["unit"], strict=True)
                        ]
                    part = part.assign(amount=amounts)
                    out.append(
                        {
                            "row_id": f"{rid}:{it}",
                            "name_zh": _label(part["item_name"].iloc[0], 0),
                            "name_en": _label(part["item_name"].iloc[0], 1),
                            "unit": unit_set[0] if unit_set else None,
                            "unit_en": unit_set[0] if unit_set else None,
                            "no_low": float(
                                part.loc[part["cost_class"] == "no_low", "amount"].sum()
                            ),
                            "medium_high": float(
                                part.loc[part["cost_class"] == "medium_high", "amount"].sum()
                            ),
                            "note": None,
                        }
                    )
        df = pd.DataFrame(out)
        for c in ("no_low", "medium_high"):
            df[c] = df[c].astype("Float64")
        df["total"] = df["no_low"] + df["medium_high"]
        df = df[
            [
                "row_id",
                "name_zh",
                "name_en",
                "unit",
                "unit_en",
                "no_low",
                "medium_high",
                "total",
                "note",
            ]
        ]
        for c in ("row_id", "name_zh", "name_en", "unit", "unit_en", "note"):
            df[c] = df[c].astype("string")
        return df

    reductions, savings = section("reduction"), section("saving")

    # planned medium/high options
    rows_meta = {r["row_id"]: r for r in rows.to_dict("records")}
    plan_rows = []
    for oid in opt.loc[planned & medhigh, "option_id"]:
        o = opt_by[oid]
        mine = eff[eff["option_id"] == oid]
        zh, en = [], []
        for e in mine.to_dict("records"):
            if pd.isna(e["expected"]):
                continue
            meta = rows_meta[e["row_id"]]
            name_zh, name_en = meta["name_zh"], meta["name_en"]
            if e["row_id"] == "class_one" or e["row_id"].startswith("other_"):
                name_zh, name_en = _label(e["item_name"], 0), _label(e["item_name"], 1)
            verb_zh = "节约" if e["section"] == "saving" else "削减"
            verb_en = "saves" if e["section"] == "saving" else "cuts"
            if name_en[1:2].islower():
                name_en = name_en[0].lower() + name_en[1:]
            zh.append(f"{verb_zh}{name_zh} {_fmt(e['expected'])} {e['unit']}/年")
            en.append(f"{verb_en} {name_en} by {_fmt(e['expected'])} {e['unit_en']}/a")
        benefit = expected_benefit(o)
        rec = o.get("expert_recommended")
        plan_rows.append(
            {
                "option_id": oid,
                "name": o["name"],
                "content": _s(o.get("solution")),
                "expected_investment_10k_cny": _f(o.get("investment_10k_cny")),
                "environmental_benefit_zh": "；".join(zh) or None,
                "environmental_benefit_en": "; ".join(en) or None,
                "economic_benefit_10k_cny": benefit,
                "expert_recommended": None if rec is None or pd.isna(rec) else bool(rec),
            }
        )
    plan_cols = [
        "option_id", "name", "content", "expected_investment_10k_cny", "environmental_benefit_zh",
        "environmental_benefit_en", "economic_benefit_10k_cny", "expert_recommended",
    ]  # fmt: skip
    planned_df = pd.DataFrame(plan_rows, columns=plan_cols)
    for c in (
        "option_id",
        "name",
        "content",
        "environmental_benefit_zh",
        "environmental_benefit_en",
    ):
        planned_df[c] = planned_df[c].astype("string")
    for c in ("expected_investment_10k_cny", "economic_benefit_10k_cny"):
        planned_df[c] = planned_df[c].astype("Float64")
    planned_df["expert_recommended"] = planned_df["expert_recommended"].astype("boolean")

    used = pd.DataFrame(
        {
            "option_id": opt["option_id"],
            "name": opt["name"].astype("string"),
            "status": status,
            "cost_class": opt["cost_class_used"].astype("string"),
            "group": opt["group"].astype("string"),
            "feasible": feasible.astype("boolean"),
            "implemented": implemented.astype("boolean"),
            "planned": planned.astype("boolean"),
        }
    )
    basis = {
        "form": "seed 003 attached table 4 (强制性清洁生产审核绩效表)",
        "rows": f"data/reference/{_FOLDER}/table4_rows.csv",
        "mapping": f"data/reference/{_FOLDER}/table4_map.csv",
        "cost_classes": screened.attrs.get("basis", {}),
    }
    for df in (counts, money, reductions, savings, planned_df, used):
        df.attrs["basis"] = basis
    return PerformanceTable(
        counts=counts,
        money=money,
        reductions=reductions,
        savings=savings,
        planned=planned_df,
        options=used,
        notes=tuple(notes),
        basis=basis,
    )
