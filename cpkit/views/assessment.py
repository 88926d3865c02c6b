"""What notebook 03 shows: report chapter 4, the assessment of the audit focus (评估,
seed 004 clauses 5.3.1-5.3.8; report outline Appendix B, chapter 4).

Two layers:

* preparation functions (pandas in, pandas out, no display, no catalogue): the audit
  focus's balances with the unknown flows solved (:func:`closure_table`), the display unit
  of a balance (:func:`flow_unit`), the output structure and the material utilisation
  (:func:`output_structure`), the loss streams (:func:`loss_streams`), the steam raised
  in the water balance (:func:`steam_supplied_t_d`), consumers of the electricity
  balance (:func:`electricity_consumers`), aspect coverage and Pareto tables of the
  waste-cause findings (:func:`aspect_coverage`, :func:`quantity_groups`,
  :func:`pareto`), the no/low-cost options of the phase (:func:`phase_options`);
* section functions ``f(ctx, A)`` that display the chapter's outputs (headings, text from
  the message catalogue ``cpkit/messages/p3.yaml``, tables, figures, maths, widgets,
  teaching material) and return None, so a notebook cell is one call.

``ctx`` is the notebook context of :func:`cpkit.notebook.open_phase`; ``A`` the
:class:`Assessment` computed once by :func:`assess`. Every number comes from
cpkit.balances, cpkit.reconciliation, cpkit.water, cpkit.energy and cpkit.screening.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cpkit import balances, i18n, reference
from cpkit.charts import balances as bc
from cpkit.errors import BalanceError, CpkitError

BOUNDARY = balances.BOUNDARY
TOTAL = balances.TOTAL

#: Stream kinds leaving the audit focus that are losses or wastes (seed 004 clause
#: 5.3.4: 物料流失 and 废弃物产生), in the order the analysis lists them.
LOSS_KINDS = ("wastewater", "waste_gas", "solid_waste", "loss", "by_product")
#: Every stream kind of the schema (streams.kind), in display order.
STREAM_KINDS = (
    "raw_material",
    "auxiliary",
    "water",
    "recycle",
    "intermediate",
    "product",
    "by_product",
    "wastewater",
    "waste_gas",
    "solid_waste",
    "loss",
)


# =========================================================================== helpers
def _t(lang: str, key: str, **fmt: Any) -> str:
    return i18n.t(f"p3.{key}", lang, **fmt)


def _label(lang: str, group: str, key: Any) -> str:
    """Translated label of an enum value ``p3.<group>.<key>``, else the value itself."""
    if key is None or key is pd.NA or (isinstance(key, float) and math.isnan(key)):
        return i18n.missing(lang)
    k = f"p3.{group}.{key}"
    return i18n.t(k, lang) if i18n.has(k) else str(key)


def _na(v: Any) -> bool:
    return i18n.is_missing(v)


def _f(v: Any) -> float | None:
    return None if _na(v) else float(v)


def component_label(component: str, lang: str) -> str:
    """Display name of a balance component (``total`` = bulk mass; pollutant ids such as
    ``nickel`` from the catalogue ``p3.component.<id>``; other ids as written)."""
    return _label(lang, "component", component)


def unit_label(unit_id: str, names: Mapping[str, str], lang: str) -> str:
    """``U1 name`` for a unit, the translated boundary for ENV."""
    if unit_id == BOUNDARY:
        return _t(lang, "boundary")
    name = names.get(unit_id)
    return f"{unit_id} {name}" if name and name != unit_id else str(unit_id)


def fmt_sig(value: Any, lang: str, sig: int = 3) -> str:
    """A number with about ``sig`` significant digits (at most 3 decimals), thousands
    separators; used for flows in diagrams and sentences (``12.6``, ``240``, ``0.07``)."""
    if _na(value):
        return i18n.missing(lang)
    x = float(value)
    if x == 0:
        return "0"
    digits = max(0, min(3, sig - 1 - math.floor(math.log10(abs(x)))))
    return i18n.fmt_number(x, lang, digits)


def fmt_plain(value: Any, lang: str, max_digits: int = 4) -> str:
    """A number as it would be written by hand: no trailing zeros, at most
    ``max_digits`` decimals, thousands separators (``310``, ``64.08``, ``4,265``)."""
    if _na(value):
        return i18n.missing(lang)
    x = float(value)
    text = f"{x:.{max_digits}f}".rstrip("0").rstrip(".")
    digits = len(text.split(".")[1]) if "." in text else 0
    return i18n.fmt_number(x, lang, digits)


def flow_text(value_kg_d: Any, lang: str) -> str:
    """A mass flow in the unit that reads best: t/d from 1 t/d up, g/d below 1 kg/d,
    kg/d between (values are kept in kg/d everywhere else)."""
    if _na(value_kg_d):
        return "?"
    v = float(value_kg_d)
    if abs(v) >= 1000:
        return f"{fmt_sig(v / 1000, lang)} t/d"
    if 0 < abs(v) < 1:
        return f"{fmt_sig(v * 1000, lang)} g/d"
    return f"{fmt_sig(v, lang)} kg/d"


@dataclass(frozen=True)
class FlowUnit:
    """Display unit of a balance table: ``value_in_unit = value_kg_d × factor``."""

    unit: str
    factor: float


def flow_unit(values_kg_d: Iterable[Any]) -> FlowUnit:
    """t/d when the largest flow of a balance reaches 100 t/d (numbers in kg/d would run
    to seven digits), else kg/d."""
    vals = [abs(float(v)) for v in values_kg_d if not _na(v)]
    if vals and max(vals) >= 100_000:
        return FlowUnit("t/d", 1e-3)
    return FlowUnit("kg/d", 1.0)


def _scaled(df: pd.DataFrame, cols: Sequence[str], fu: FlowUnit) -> pd.DataFrame:
    out = df.copy()
    for c in cols:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("Float64") * fu.factor
    return out


def ordered_units(units: pd.DataFrame) -> pd.DataFrame:
    """The units table in flow order: ``order`` ascending (empty last), then table order."""
    u = units.reset_index(drop=True).copy()
    if "order" in u.columns:
        key = pd.to_numeric(u["order"], errors="coerce").astype("Float64")
        u["_k"] = key.fillna(np.inf).astype(float)
    else:
        u["_k"] = 0.0
    u["_pos"] = range(len(u))
    return u.sort_values(["_k", "_pos"], kind="stable").drop(columns=["_k", "_pos"])


# =========================================================================== preparation
@dataclass(frozen=True, eq=False)
class FilledFlows:
    """The test data with every determinable unknown flow filled in.

    ``streams`` / ``stock_changes``: copies of the dataset tables (values in kg/d);
    ``flows``: one row per flow of every component (streams and stock terms) with
    ``component, flow_id, from_unit, to_unit, status`` (as tested), ``value_kg_d`` (the
    given value, or the filled one), ``method`` (``balance``: solved from the balance
    equations, ``reconciliation``: computed from the reconciled data, empty: given) and
    ``determinable`` (unknown flows)."""

    streams: pd.DataFrame
    stock_changes: pd.DataFrame | None
    flows: pd.DataFrame


def fill_unknowns(solution: balances.BalanceSolution, reconciliation: Any = None) -> FilledFlows:
    """Fill the unknown flows that the balances determine (seed 004 clause 5.3.3).

    Without a reconciliation the values are those of :func:`cpkit.balances.solve_balances`.
    With one (:func:`cpkit.reconciliation.reconcile`), an unknown flow takes the value the
    reconciled data give it: where the measured data disagree, the balance solution is an
    unweighted compromise between the balances that contain the flow, while the
    reconciled value weighs every measurement by its uncertainty (calculation reference
    §7.2). Measured values are never changed here."""
    streams = solution.streams.copy()
    stocks = None if solution.stock_changes is None else solution.stock_changes.copy()
    fl = solution.flows
    unknown = fl["status"] == "unknown"
    det = fl["determinable"].fillna(False).astype(bool)
    value = fl["value_kg_d"].astype("Float64").copy()
    value[unknown & det] = fl.loc[unknown & det, "solved_kg_d"]
    method = pd.Series(pd.NA, index=fl.index, dtype="string")
    method[unknown & det] = "balance"
    if reconciliation is not None:
        rf = reconciliation.flows
        calc = rf[rf["measured_kg_d"].isna() & rf["reconciled_kg_d"].notna()]
        rec_value = {
            (str(c), str(f)): float(v)
            for c, f, v in zip(
                calc["component"], calc["flow_id"], calc["reconciled_kg_d"], strict=True
            )
        }
        for i in fl.index[unknown]:
            key = (str(fl.at[i, "component"]), str(fl.at[i, "flow_id"]))
            if key in rec_value:
                value[i] = rec_value[key]
                method[i] = "reconciliation"
    # write the filled values into the table copies
    vals = streams["value"].astype("Float64").copy()
    ids = streams["stream_id"].astype("string")
    for i in fl.index[method.notna()]:
        fid, comp = str(fl.at[i, "flow_id"]), str(fl.at[i, "component"])
        if fid.startswith("stock:") and stocks is not None:
            mask = (stocks["unit_id"].astype("string") == fid[6:]) & (
                stocks["component"].astype("string") == comp
            )
            sv = stocks["value"].astype("Float64").copy()
            sv[mask.to_numpy(dtype=bool, na_value=False)] = value[i]
            stocks["value"] = sv
        else:
            vals[(ids == fid).to_numpy(dtype=bool, na_value=False)] = value[i]
    streams["value"] = vals
    flows = fl[["component", "flow_id", "from_unit", "to_unit", "status", "determinable"]].copy()
    flows["value_kg_d"] = value
    flows["method"] = method
    return FilledFlows(streams, stocks, flows.reset_index(drop=True))


def closure_table(
    filled: FilledFlows,
    units: pd.DataFrame,
    *,
    tolerance: float | None = None,
) -> pd.DataFrame:
    """Closure of every unit and of the whole focus, the determinable unknown flows filled
    in (:func:`cpkit.balances.check_closure` on ``filled.streams``; calculation reference
    §7.1, seed 004 clause 5.3.4).

    Adds ``solved_flows``: the ids of the filled flows of that balance (a unit whose only
    unknown was solved from its own balance closes by construction, the column says so).
    Columns otherwise as check_closure (``closure_pct`` in %)."""
    cl = balances.check_closure(filled.streams, units, filled.stock_changes, tolerance=tolerance)
    fl = filled.flows
    where: dict[tuple[str, str], list[str]] = {}
    for r in fl[fl["method"].notna()].itertuples():
        for u in {r.from_unit, r.to_unit}:  # a stock term runs from its unit to ENV
            where.setdefault((r.component, u), []).append(r.flow_id)
    out = cl.copy()
    out["solved_flows"] = pd.array(
        [
            ", ".join(sorted(set(where.get((c, u), []))))
            for c, u in zip(cl["component"], cl["unit_id"], strict=True)
        ],
        dtype="string",
    )
    out.attrs = dict(cl.attrs)
    return out


def output_structure(io: pd.DataFrame) -> pd.DataFrame:
    """Where each component goes when it leaves the audit focus (seed 004 clause 5.3.4:
    material utilisation, waste generation rate, losses).

    ``io`` is :func:`cpkit.balances.io_table` (of the solved streams). For every
    component: ``imports_kg_d`` = Σ streams from ENV; per stream kind of the exports
    ``value_kg_d`` and ``share_pct = value / imports × 100``; a ``stock`` row for the
    stock changes and an ``unaccounted`` row for imports − exports − stock (the overall
    imbalance). The ``product`` share is the utilisation rate of the component
    (产品中的量 / 输入量 × 100)."""
    rows = []
    boundary = io[io["unit_id"] == BOUNDARY]
    for comp, g in boundary.groupby("component", sort=False):
        imports = float(g.loc[g["direction"] == "input", "value_kg_d"].astype(float).sum())
        exports = g[g["direction"] == "output"]
        stock = float(g.loc[g["direction"] == "stock", "value_kg_d"].astype(float).sum())
        sums = exports.groupby("kind", sort=False)["value_kg_d"].sum()
        kinds = [k for k in STREAM_KINDS if k in sums.index] + [
            k for k in sums.index if k not in STREAM_KINDS
        ]
        total_out = 0.0
        for k in kinds:
            v = float(sums[k])
            total_out += v
            rows.append((comp, k, v, imports))
        if (g["direction"] == "stock").any():
            rows.append((comp, "stock", stock, imports))
        rows.append((comp, "unaccounted", imports - total_out - stock, imports))
    df = pd.DataFrame(rows, columns=["component", "kind", "value_kg_d", "imports_kg_d"])
    df["share_pct"] = [
        v / i * 100 if i > 0 else np.nan
        for v, i in zip(df["value_kg_d"], df["imports_kg_d"], strict=True)
    ]
    return df.astype({"value_kg_d": "Float64", "imports_kg_d": "Float64", "share_pct": "Float64"})


def utilisation_components(io: pd.DataFrame) -> list[str]:
    """Components whose utilisation rate is meaningful: not the bulk mass, and entering
    the audit focus at least partly as a raw material (a metal fed as anodes and salts is
    meant to end in the product; an auxiliary such as a salt used for dyeing is not)."""
    b = io[(io["unit_id"] == BOUNDARY) & (io["direction"] == "input")]
    raw = b[b["kind"].astype("string") == "raw_material"]
    return [c for c in dict.fromkeys(io["component"]) if c != TOTAL and c in set(raw["component"])]


def loss_streams(io: pd.DataFrame, kinds: Sequence[str] = LOSS_KINDS) -> pd.DataFrame:
    """Streams leaving the audit focus as losses or wastes (kinds ``kinds``), with the
    unit they leave from and their share of the component's imports (%), largest share
    first within each component (seed 004 clause 5.3.4: 流失的部位、种类、数量)."""
    b = io[io["unit_id"] == BOUNDARY]
    imports = b[b["direction"] == "input"].groupby("component")["value_kg_d"].sum().astype(float)
    ex = b[(b["direction"] == "output") & b["kind"].isin(list(kinds))].copy()
    ex = ex.rename(columns={"counterpart": "from_unit"})
    ex["imports_kg_d"] = ex["component"].map(imports).astype("Float64")
    ex["share_pct"] = ex["value_kg_d"] / ex["imports_kg_d"] * 100
    comp_order = {c: i for i, c in enumerate(dict.fromkeys(io["component"]))}
    ex["_c"] = ex["component"].map(comp_order)
    ex["_s"] = -ex["share_pct"].astype(float).fillna(-np.inf)
    ex = ex.sort_values(["_c", "_s", "stream_id"], kind="stable")
    return ex[
        ["component", "stream_id", "material", "kind", "from_unit", "value_kg_d", "share_pct"]
    ].reset_index(drop=True)


def steam_supplied_t_d(water_units: pd.DataFrame, water_flows: pd.DataFrame) -> float | None:
    """Steam raised during the water-balance test, in t/d: the water the units of
    purpose ``boiler`` pass on to other units (series flows: steam to the users), times
    the condensate density of data/reference/energy/defaults.yaml (GB/T 12452 r_b needs
    the steam raised D; the test's own figure is used so that numerator and denominator
    cover the same days). None when no boiler unit passes water on."""
    if water_units is None or water_flows is None or not len(water_flows):
        return None
    boilers = set(water_units.loc[water_units["purpose"] == "boiler", "unit_id"].astype(str))
    if not boilers:
        return None
    f = water_flows
    sel = (
        f["from_unit"].astype(str).isin(boilers)
        & (f["kind"].astype(str) == "series")
        & ~f["to_unit"].astype(str).isin(boilers | {BOUNDARY})
    )
    m3 = float(pd.to_numeric(f.loc[sel, "value"], errors="coerce").sum())
    if m3 <= 0:
        return None
    rho = float(
        reference.load_yaml("energy/defaults.yaml")["steam_condensate_density_t_m3"]["value"]
    )
    return m3 * rho


def electricity_consumers(meters: pd.DataFrame) -> pd.DataFrame:
    """Consumers of an electricity balance for a chart (GB/T 3485 approach, seed 004
    clause 5.3.6): every meter without sub-meters under a supply meter, plus the
    unmetered remainder under each meter that has sub-meters (children scaled to the
    parent's period, as :func:`cpkit.energy.electricity_balance` computes them).

    ``meters`` is ``ElectricityBalance.meters``. Columns: ``name``, ``system``,
    ``kwh_d`` (kWh per day of the metering period), ``share_pct`` (of the supply),
    ``unmetered`` (bool), ``parent`` (meter id); largest first within each system, the
    unmetered rows last."""
    m = meters
    supply = float(m.loc[m["parent_id"].isna(), "kwh_d"].astype(float).sum())
    rows = []
    for r in m.itertuples():
        if int(r.children) == 0 and not _na(r.parent_id):
            rows.append((str(r.name), r.system, float(r.kwh_d), False, str(r.parent_id)))
        elif int(r.children) > 0 and not _na(r.unmetered_kwh):
            per_day = float(r.unmetered_kwh) / float(r.period_days)
            if per_day > 0:
                rows.append((str(r.name), r.system, per_day, True, str(r.meter_id)))
    df = pd.DataFrame(rows, columns=["name", "system", "kwh_d", "unmetered", "parent"])
    df["share_pct"] = df["kwh_d"] / supply * 100 if supply > 0 else np.nan
    df["_u"] = df["unmetered"].astype(int)
    df["_sys"] = df["system"].astype("string").fillna("~")
    df = df.sort_values(["_u", "_sys", "kwh_d"], ascending=[True, True, False], kind="stable")
    return df.drop(columns=["_u", "_sys"]).reset_index(drop=True)


def aspect_coverage(causes: pd.DataFrame) -> pd.DataFrame:
    """The eight aspects of seed 004 clause 5.3.8 (data/reference/aspects.csv) with the
    number of waste-cause findings in each (``findings``) and their ids (``cause_ids``);
    aspects without findings have 0, so a gap in the analysis is visible."""
    asp = reference.table("aspects.csv").sort_values("order", kind="stable")
    rows = []
    for a in asp["aspect_id"]:
        sel = causes[causes["aspect"].astype(str) == a] if len(causes) else causes
        rows.append((a, len(sel), ", ".join(sel["cause_id"].astype(str)) if len(sel) else ""))
    unknown = (
        sorted(set(causes["aspect"].astype(str)) - set(asp["aspect_id"])) if len(causes) else []
    )
    for a in unknown:
        sel = causes[causes["aspect"].astype(str) == a]
        rows.append((a, len(sel), ", ".join(sel["cause_id"].astype(str))))
    return pd.DataFrame(rows, columns=["aspect", "findings", "cause_ids"]).astype(
        {"findings": "Int64"}
    )


def quantity_groups(causes: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The waste-cause findings that carry a quantity, grouped by their unit as entered
    (``kg/d``, ``t/a``, ``m3``...), so that a Pareto chart only compares quantities the
    auditor recorded alike: converting between time bases (kg/d and t/a differ by the
    working days) or between materials measured in the same unit is not attempted.

    Returns ``[(unit, frame)]`` with ``frame`` columns ``cause_id, location, waste,
    aspect, value``; larger groups first, then in order of first appearance."""
    if causes is None or not len(causes):
        return []
    q = causes[causes["quantity"].notna() & causes["quantity_unit"].notna()]
    groups: dict[str, list[tuple]] = {}
    for r in q.itertuples():
        unit = "".join(str(r.quantity_unit).split())
        groups.setdefault(unit, []).append(
            (str(r.cause_id), r.location, r.waste, r.aspect, float(r.quantity))
        )
    cols = ["cause_id", "location", "waste", "aspect", "value"]
    out = [(u, pd.DataFrame(rows, columns=cols)) for u, rows in groups.items()]
    out.sort(key=lambda g: -len(g[1]))  # stable: ties keep the order of first appearance
    return out


def pareto(frame: pd.DataFrame, value: str = "value") -> pd.DataFrame:
    """Rows sorted by ``value`` (largest first) with ``share_pct`` of the total and the
    running ``cumulative_pct`` (a Pareto table)."""
    d = frame.copy()
    d["_v"] = d[value].astype(float)
    d = d.sort_values("_v", ascending=False, kind="stable").drop(columns="_v")
    total = float(d[value].astype(float).sum())
    d["share_pct"] = d[value].astype(float) / total * 100 if total > 0 else np.nan
    d["cumulative_pct"] = d["share_pct"].cumsum()
    return d.reset_index(drop=True)


def phase_options(options: pd.DataFrame, parameters: Any, phase: int = 3) -> pd.DataFrame:
    """Options proposed in ``phase`` (``options.phase_proposed``) with their cost class
    (given, else by the thresholds of the enterprise's set, seed 004 clause 5.4.6 a via
    :func:`cpkit.screening.classify_cost`) and ``annual_benefit_10k_cny`` = annual revenue
    increase + annual cost saving (10k CNY/a; empty parts count as 0, both empty stays
    empty)."""
    from cpkit import screening

    if options is None or not len(options):
        return pd.DataFrame(
            columns=[
                "option_id",
                "name",
                "aspect",
                "cost_class",
                "investment_10k_cny",
                "annual_benefit_10k_cny",
                "status",
            ]
        )
    sel = options[pd.to_numeric(options["phase_proposed"], errors="coerce") == phase]
    if not len(sel):
        return sel.assign(cost_class=pd.Series(dtype="string"), annual_benefit_10k_cny=0.0)
    th = screening.cost_thresholds(
        getattr(parameters, "cost_class_thresholds", None),
        no_low_cost_max_10k_cny=getattr(parameters, "no_low_cost_max_10k_cny", None),
    )
    cls = screening.classify_cost(sel, th)
    out = sel.drop(columns=["cost_class"], errors="ignore").reset_index(drop=True)
    out["cost_class"] = pd.array(list(cls["cost_class"]), dtype="string")
    rev = pd.to_numeric(out.get("annual_revenue_increase_10k_cny"), errors="coerce")
    sav = pd.to_numeric(out.get("annual_cost_saving_10k_cny"), errors="coerce")
    both_na = rev.isna() & sav.isna()
    benefit = rev.fillna(0).astype(float) + sav.fillna(0).astype(float)
    out["annual_benefit_10k_cny"] = pd.array(
        [None if n else b for b, n in zip(benefit, both_na, strict=True)], dtype="Float64"
    )
    return out


def example_units(closure: pd.DataFrame, component: str = TOTAL) -> list[str]:
    """Units whose closure is computed from given data only (no solved flow, some
    input): the candidates for a worked example and an exercise, in flow order."""
    c = closure[
        (closure["component"] == component)
        & (closure["scope"] == "unit")
        & closure["closure_pct"].notna()
        & (closure["solved_flows"].fillna("") == "")
        & (closure["verdict"] != "zero_input")
    ]
    return list(c["unit_id"])


# =========================================================================== assessment
@dataclass(frozen=True, eq=False)
class Assessment:
    """Everything chapter 4 shows, computed once per notebook run by :func:`assess`.

    ``tolerance`` / ``warning_tolerance`` are fractions (closure limit and warning band),
    ``alpha`` the significance level of the reconciliation tests (None when nothing was
    reconciled and no level was given). ``reconciliation`` is
    None when no measurement is redundant or the data do not allow it
    (``reconciliation_error`` then says why); ``water``/``electricity``/``heat`` are None
    when the dataset has no such test data."""

    tolerance: float
    warning_tolerance: float
    alpha: float | None
    units: pd.DataFrame
    names: dict[str, str]
    streams: pd.DataFrame
    stock_changes: pd.DataFrame | None
    solution: balances.BalanceSolution
    filled: FilledFlows
    closure: pd.DataFrame
    io: pd.DataFrame
    reconciliation: Any
    reconciliation_error: str | None
    gross_errors: Any
    water_units: pd.DataFrame
    water_flows: pd.DataFrame
    water_balance: pd.DataFrame | None
    water_indicators: pd.DataFrame | None
    steam_t_d: float | None
    electricity: Any
    heat: Any
    heat_table: pd.DataFrame
    equipment: pd.DataFrame
    causes: pd.DataFrame
    options: pd.DataFrame

    @property
    def components(self) -> list[str]:
        """Balance components in the order of the balances (``total`` first)."""
        return list(dict.fromkeys(self.closure["component"]))


def _check_alpha(alpha: float | None) -> float | None:
    if alpha is None:
        return None
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise CpkitError(
            f"parameter alpha must be a number between 0 and 1 (e.g. 0.05), got {alpha!r}"
        ) from None
    if not 0 < a < 1:
        raise CpkitError(f"parameter alpha must lie between 0 and 1 (e.g. 0.05), got {alpha!r}")
    return a


def assess(ctx: Any, *, alpha: float | None = None) -> Assessment:
    """Compute the balances of chapter 4 for the notebook context ``ctx``.

    The closure tolerance is the dataset parameter ``closure_tolerance`` (with the
    notebook's override applied by open_phase); ``alpha`` (None: the reference default,
    0.05) is the significance of the χ² global test and of the measurement tests.
    Material balances: :func:`cpkit.balances.solve_balances` and
    :func:`cpkit.reconciliation.reconcile` / ``find_gross_errors``; water balance
    :func:`cpkit.water.balance` and ``indicators``; electricity and heat balances
    :func:`cpkit.energy.electricity_balance` and ``heat_balance``."""
    from cpkit import energy, reconciliation, water

    alpha = _check_alpha(alpha)
    ds = ctx.ds
    T = ds.tables
    tol = float(ds.parameters.closure_tolerance)
    if not 0 < tol < 1:
        raise CpkitError(
            "parameter closure_tolerance must be a fraction between 0 and 1 "
            f"(0.05 = 5 %), got {ds.parameters.closure_tolerance!r}"
        )
    units = ordered_units(T["units"])
    names = {str(u): str(n) for u, n in zip(units["unit_id"], units["name"], strict=True)}
    streams = T["streams"]
    stocks = T["stock_changes"] if len(T["stock_changes"]) else None
    sol = balances.solve_balances(streams, units, stocks)

    rec = gross = None
    rec_error = None
    if int(sol.layers["redundancy"].sum()) == 0:
        rec_error = "no_redundancy"
    else:
        try:
            rec = reconciliation.reconcile(streams, units, stocks, alpha=alpha)
            if not rec.tolerable:
                gross = reconciliation.find_gross_errors(streams, units, stocks, alpha=alpha)
        except BalanceError as exc:
            rec_error = str(exc)
    used_alpha = rec.alpha if rec is not None else alpha
    filled = fill_unknowns(sol, rec)
    closure = closure_table(filled, units, tolerance=tol)
    warn = float(closure.attrs["basis"]["warning_tolerance"])
    io = balances.io_table(filled.streams, units, filled.stock_changes)

    wu, wf = T["water_units"], T["water_flows"]
    wbal = wind = steam = None
    if len(wu) and len(wf):
        wbal = water.balance(wu, wf, tolerance=tol)
        steam = steam_supplied_t_d(wu, wf)
        wind = water.indicators(wu, wf, steam_t_d=steam, tolerance=tol)
    eq = T["equipment"]
    elec = energy.electricity_balance(T["meters"], eq, tolerance=tol) if len(T["meters"]) else None
    hb_t = T["heat_balance"]
    heat = energy.heat_balance(hb_t, eq, tolerance=tol) if len(hb_t) else None
    opts = phase_options(T["options"], ds.parameters, phase=3)
    return Assessment(
        tolerance=tol,
        warning_tolerance=warn,
        alpha=used_alpha,
        units=units,
        names=names,
        streams=streams,
        stock_changes=stocks,
        solution=sol,
        filled=filled,
        closure=closure,
        io=io,
        reconciliation=rec,
        reconciliation_error=rec_error,
        gross_errors=gross,
        water_units=wu,
        water_flows=wf,
        water_balance=wbal,
        water_indicators=wind,
        steam_t_d=steam,
        electricity=elec,
        heat=heat,
        heat_table=hb_t,
        equipment=eq,
        causes=T["waste_causes"],
        options=opts,
    )


# =========================================================================== display helpers
def _show(*items: Any) -> None:
    """Display each item (None skipped, lists and tuples flattened)."""
    from IPython.display import display

    for it in items:
        if it is None:
            continue
        if isinstance(it, list | tuple):
            _show(*it)
        else:
            display(it)


def _table(
    ctx: Any,
    df: pd.DataFrame,
    cols: Mapping[str, Any],
    *,
    caption: str | None = None,
    total_row: Mapping[str, Any] | None = None,
):
    from cpkit.display import table

    return table(df, cols, lang=ctx.lang, caption=caption, total_row=total_row)


def _col(ctx: Any, key: str, **kw: Any):
    from cpkit.display import Col

    return Col(_t(ctx.lang, f"col.{key}"), **kw)


def _html(html: str):
    from IPython.display import HTML

    return HTML(html)


def _figure(svg: str, caption: str):
    from markupsafe import escape

    return _html(
        f'<figure class="cp-figure">{svg}<figcaption>{escape(caption)}</figcaption></figure>'
    )


def _chart(ctx: Any, ch: Any):
    from cpkit.display import chart

    return chart(ch, interactive=ctx.interactive)


def _yes_no(lang: str) -> Callable[[Any], str]:
    def f(v: Any) -> str:
        if _na(v):
            return ""
        return i18n.t("common.yes" if bool(v) else "common.no", lang)

    return f


def _enum(lang: str, group: str) -> Callable[[Any], str]:
    return lambda v: "" if _na(v) else _label(lang, group, v)


def _materials(A: Assessment) -> dict[str, str]:
    s = A.streams
    return {str(a): str(b) for a, b in zip(s["stream_id"], s["material"], strict=True)}


def _flow_name(A: Assessment, flow_id: str, lang: str) -> str:
    if flow_id.startswith("stock:"):
        return _t(lang, "stock_of", unit=flow_id[6:])
    return _materials(A).get(flow_id, flow_id)


def _flow_ref(flow_id: str) -> str:
    """The id shown for a flow: a stream id as is, a unit's stock term as Δm[unit] (the
    notation of the balance equations), never the internal ``stock:<unit>`` key."""
    return f"Δm[{flow_id[6:]}]" if flow_id.startswith("stock:") else flow_id


def _route(A: Assessment, src: str, dst: str, lang: str) -> str:
    a = _t(lang, "boundary") if src == BOUNDARY else src
    b = _t(lang, "boundary") if dst == BOUNDARY else dst
    return f"{a} → {b}"


def _focus_name(ctx: Any) -> str:
    ds = ctx.ds
    focus = getattr(ds.profile, "audit_focus", None)
    fc = ds.tables["focus_candidates"]
    if focus and len(fc):
        row = fc[fc["candidate_id"].astype(str) == str(focus)]
        if len(row):
            return str(row["name"].iloc[0])
    return _t(ctx.lang, "focus_unnamed")


def _list(lang: str, items: Iterable[Any]) -> str:
    return i18n.fmt_list([str(i) for i in items], lang)


# =========================================================================== 4 / 4.1
def chapter(ctx: Any, A: Assessment) -> None:
    """Chapter heading and the introduction of the assessment (seed 004 clause 5.3.1)."""
    from cpkit.display import heading, paragraph

    lang = ctx.lang
    comps = _list(lang, [component_label(c, lang) for c in A.components])
    _show(
        heading(_t(lang, "chapter"), 1),
        paragraph(
            _t(lang, "intro", focus=_focus_name(ctx), n_units=len(A.units), components=comps)
        ),
    )


def unit_summary(units: pd.DataFrame, io: pd.DataFrame, component: str = TOTAL) -> pd.DataFrame:
    """The unit operations in flow order with the number of input and output streams of
    ``component`` (seed 004 clause 5.3.4, 单元操作物料输入输出数据汇总表)."""
    c = io[(io["component"] == component) & (io["unit_id"] != BOUNDARY)]
    n_in = c[c["direction"] == "input"].groupby("unit_id").size()
    n_out = c[c["direction"] == "output"].groupby("unit_id").size()
    out = ordered_units(units).reset_index(drop=True)
    ids = out["unit_id"].astype(str)
    out["n_inputs"] = pd.array([int(n_in.get(u, 0)) for u in ids], dtype="Int64")
    out["n_outputs"] = pd.array([int(n_out.get(u, 0)) for u in ids], dtype="Int64")
    return out


def focus_detail(ctx: Any, A: Assessment) -> None:
    """4.1: the unit operations of the audit focus and their flow diagrams."""
    from cpkit.display import heading, paragraph

    lang = ctx.lang
    summary = unit_summary(A.units, A.io)
    n_streams = int((A.streams["component"].astype(str) == TOTAL).sum())
    summary["label"] = [
        f"{u} {n}" for u, n in zip(summary["unit_id"], summary["name"], strict=True)
    ]
    cols = {
        "label": _col(ctx, "unit_name"),
        "function": _col(ctx, "function"),
        "n_inputs": _col(ctx, "n_inputs", digits=0),
        "n_outputs": _col(ctx, "n_outputs", digits=0),
    }
    if "function" not in summary.columns:
        cols.pop("function")
    _show(
        heading(_t(lang, "s41.title"), 2),
        paragraph(_t(lang, "s41.text", n_units=len(summary), n_streams=n_streams)),
        _table(ctx, summary, cols, caption=_t(lang, "s41.units_caption")),
        heading(_t(lang, "s41.diagram_title"), 3),
        paragraph(_t(lang, "s41.diagram_text")),
        [
            _figure(
                material_diagram(A, c, lang),
                _t(lang, "s41.diagram_caption", component=component_label(c, lang)),
            )
            for c in A.components
        ],
        heading(_t(lang, "s41.overall_title"), 3),
        _figure(
            material_diagram(
                A,
                TOTAL if TOTAL in A.components else A.components[0],
                lang,
                aggregate=True,
                focus=_focus_name(ctx),
            ),
            _t(lang, "s41.overall_caption"),
        ),
    )


def _diagram_status(status: str, determinable: Any) -> str:
    if status == "unknown":
        return "solved" if (not _na(determinable) and bool(determinable)) else "unknown"
    return status if status in bc.STATUS_STYLES else "measured"


def material_diagram(
    A: Assessment, component: str, lang: str, *, aggregate: bool = False, focus: str = ""
) -> str:
    """The flow diagram of one component as SVG (工艺流程物料平衡图; with ``aggregate``
    the whole focus as one box, 物料平衡总图): streams with their given or solved values,
    stock changes as a line inside the box."""
    fl = A.filled.flows[A.filled.flows["component"] == component]
    mats = _materials(A)
    used_units = set(fl["from_unit"]) | set(fl["to_unit"])
    if aggregate:
        nodes = [bc.DiagramNode("", focus or _t(lang, "focus_unnamed"))]
    else:
        nodes = [bc.DiagramNode(u, A.names[u]) for u in A.names if u in used_units]
    stock_lines: dict[str, list[str]] = {}
    edges: list[bc.DiagramEdge] = []
    for r in fl.itertuples():
        status = _diagram_status(str(r.status), r.determinable)
        value = _f(r.value_kg_d)
        text = flow_text(value, lang)
        if status == "solved":
            text = "≈ " + text
        if str(r.flow_id).startswith("stock:"):
            line = _t(lang, "diagram.stock", value=text)
            key = "" if aggregate else str(r.from_unit)
            stock_lines.setdefault(key, []).append(line)
            continue
        src, dst = str(r.from_unit), str(r.to_unit)
        if aggregate:
            if src != BOUNDARY and dst != BOUNDARY:
                continue
            src = "" if src != BOUNDARY else src
            dst = "" if dst != BOUNDARY else dst
        edges.append(
            bc.DiagramEdge(
                id=str(r.flow_id),
                source=src,
                target=dst,
                label=f"{r.flow_id} {mats.get(str(r.flow_id), '')}".strip(),
                value=text,
                status=status,
                weight=value,
            )
        )
    nodes = [
        bc.DiagramNode(n.id, n.label, tuple(stock_lines.get(n.id, ())), show_id=not aggregate)
        for n in nodes
    ]
    used = list(dict.fromkeys(e.status for e in edges))
    legend = {s: _label(lang, "diagram_status", s) for s in bc.STATUS_STYLES if s in used}
    return bc.flow_diagram_svg(nodes, edges, legend=legend, note=_t(lang, "diagram.note"))


# =========================================================================== 4.2
def status_summary(streams: pd.DataFrame) -> pd.DataFrame:
    """Per component: number of streams measured, estimated and unknown, how many carry
    a standard uncertainty, and the share of the component's given flow (kg/d) that is
    measured (seed 004 clause 5.3.3: measure wherever possible)."""
    s = streams
    rows = []
    for comp in dict.fromkeys(s["component"].astype(str)):
        g = s[s["component"].astype(str) == comp]
        st = g["status"].astype(str)
        val = pd.to_numeric(g["value"], errors="coerce").astype(float)
        given = float(val[st != "unknown"].sum())
        measured = float(val[st == "measured"].sum())
        unc = int(g["uncertainty"].notna().sum()) if "uncertainty" in g.columns else 0
        rows.append(
            (
                comp,
                len(g),
                int((st == "measured").sum()),
                int((st == "estimated").sum()),
                int((st == "unknown").sum()),
                unc,
                measured / given * 100 if given > 0 else np.nan,
            )
        )
    return pd.DataFrame(
        rows,
        columns=[
            "component",
            "n_streams",
            "n_measured",
            "n_estimated",
            "n_unknown",
            "n_uncertainty",
            "measured_share_pct",
        ],
    ).astype({"measured_share_pct": "Float64"})


def stream_table(streams: pd.DataFrame, component: str) -> pd.DataFrame:
    """The streams of one component with the relative standard uncertainty
    ``rel_uncertainty_pct = uncertainty / value × 100`` (empty without a value)."""
    g = streams[streams["component"].astype(str) == component].copy()
    v = pd.to_numeric(g["value"], errors="coerce").astype("Float64")
    u = (
        pd.to_numeric(g["uncertainty"], errors="coerce").astype("Float64")
        if "uncertainty" in g.columns
        else pd.Series(pd.NA, index=g.index, dtype="Float64")
    )
    g["value_kg_d"] = v
    g["uncertainty_kg_d"] = u
    rel = (u / v * 100).where(v > 0)
    g["rel_uncertainty_pct"] = rel.astype("Float64")
    return g.reset_index(drop=True)


def balance_tests(ctx: Any, A: Assessment) -> None:
    """4.2: the test data of the material balance (seed 004 clauses 5.3.2-5.3.3): how
    each flow was obtained, its value and its standard uncertainty."""
    from cpkit.display import heading, paragraph

    lang = ctx.lang
    summ = status_summary(A.streams)
    summ["component_label"] = [component_label(c, lang) for c in summ["component"]]
    out: list[Any] = [
        heading(_t(lang, "s42.title"), 2),
        paragraph(_t(lang, "s42.text")),
        _table(
            ctx,
            summ,
            {
                "component_label": _col(ctx, "component"),
                "n_streams": _col(ctx, "n_streams", digits=0),
                "n_measured": _col(ctx, "n_measured", digits=0),
                "n_estimated": _col(ctx, "n_estimated", digits=0),
                "n_unknown": _col(ctx, "n_unknown", digits=0),
                "n_uncertainty": _col(ctx, "n_uncertainty", digits=0),
                "measured_share_pct": _col(ctx, "measured_share", unit="%", digits=1),
            },
            caption=_t(lang, "s42.summary_caption"),
        ),
    ]
    for comp in A.components:
        g = stream_table(A.streams, comp)
        if not len(g):
            continue
        fu = flow_unit(g["value_kg_d"])
        g = _scaled(g, ["value_kg_d", "uncertainty_kg_d"], fu)
        g["route"] = [
            _route(A, str(a), str(b), lang)
            for a, b in zip(g["from_unit"], g["to_unit"], strict=True)
        ]
        out.append(
            _table(
                ctx,
                g,
                {
                    "stream_id": _col(ctx, "stream_id"),
                    "route": _col(ctx, "route"),
                    "material": _col(ctx, "material"),
                    "value_kg_d": _col(ctx, "value", unit=fu.unit, fmt=_sig(lang), align="right"),
                    "status": _col(ctx, "status", fmt=_enum(lang, "status")),
                    "uncertainty_kg_d": _col(
                        ctx, "sigma", unit=fu.unit, fmt=_sig(lang), align="right"
                    ),
                    "rel_uncertainty_pct": _col(ctx, "rel_sigma", unit="%", digits=1),
                },
                caption=_t(lang, "s42.streams_caption", component=component_label(comp, lang)),
            )
        )
    _show(out)


def _sig(lang: str) -> Callable[[Any], str]:
    return lambda v: "" if _na(v) else fmt_sig(v, lang)


def balance_tests_annex(ctx: Any, A: Assessment) -> None:
    """Annex: where each test figure comes from (the ``note`` of every stream)."""
    from cpkit.display import heading

    lang = ctx.lang
    s = A.streams.copy()
    if "note" not in s.columns:
        s["note"] = pd.NA
    s["component_label"] = [component_label(str(c), lang) for c in s["component"]]
    _show(
        heading(_t(lang, "annex.sources_title"), 2),
        _table(
            ctx,
            s,
            {
                "stream_id": _col(ctx, "stream_id"),
                "component_label": _col(ctx, "component"),
                "material": _col(ctx, "material"),
                "status": _col(ctx, "status", fmt=_enum(lang, "status")),
                "note": _col(ctx, "source_note"),
            },
        ),
    )


# =========================================================================== 4.3 equations
def balance_equations(ctx: Any, A: Assessment) -> None:
    """4.3 (start): the balance equations of every unit, per component, and the overall
    balance of the focus (from :class:`cpkit.balances.BalanceSolution`), as aligned HTML
    equations (:func:`equations_html`): linear sums of stream symbols need no maths
    typesetting, and drawing them with ziamath cost about 0.35 s of the notebook."""
    from cpkit.display import heading, paragraph

    lang = ctx.lang
    sol = A.solution
    out: list[Any] = [
        heading(_t(lang, "s43.title"), 2),
        paragraph(_t(lang, "s43.text")),
        heading(_t(lang, "s43.equations_title"), 3),
        paragraph(_t(lang, "s43.equations_text")),
    ]
    for comp in A.components:
        eq = sol.equations[sol.equations["component"] == comp]
        overall = eq[eq["scope"] == "overall"]
        units_eq = eq[eq["scope"] == "unit"]
        out.append(paragraph(_t(lang, "s43.equations_of", component=component_label(comp, lang))))
        rows = [
            (unit_label(str(u), A.names, lang), str(text))
            for u, text in zip(units_eq["unit_id"], units_eq["text"], strict=True)
        ]
        out.append(_html(equations_html(rows)))
        if len(overall):
            out.append(paragraph(_t(lang, "s43.overall_equation")))
            out.append(_html(equations_html([(_t(lang, "overall"), str(overall["text"].iloc[0]))])))
    _show(out)


_SYMBOL = re.compile(r"([A-Za-z]+)(\d+)")
_STOCK_SYMBOL = re.compile(r"Δm\[(.+)\]")


def symbol_html(symbol: str) -> str:
    """A stream symbol of :func:`cpkit.balances.solve_balances`' plain-text equations as
    HTML maths: ``T01`` → italic T with subscript 01, ``Δm[U1]`` → Δm with subscript U1
    (the stock increase of unit U1); any other id upright. Escaped."""
    from markupsafe import escape

    m = _SYMBOL.fullmatch(symbol)
    if m:
        return f"<i>{escape(m[1])}</i><sub>{escape(m[2])}</sub>"
    m = _STOCK_SYMBOL.fullmatch(symbol)
    if m:
        return f"Δ<i>m</i><sub>{escape(m[1])}</sub>"
    return str(escape(symbol))


def equations_html(rows: Sequence[tuple[str, str]]) -> str:
    """Balance equations as an HTML block aligned on the equals sign: one row per
    (label, equation) with the equation in the plain-text form of
    :func:`cpkit.balances.solve_balances` (``T01 + T02 = T03 + Δm[U1]``); symbols get
    subscripts (:func:`symbol_html`), long sides wrap between terms. Labels escaped."""
    from markupsafe import escape

    def side(text: str) -> str:
        return " + ".join(symbol_html(t.strip()) for t in text.split(" + "))

    cell = "padding:1px 4px;vertical-align:top;border:none;background:none"
    parts = ['<div class="cp-math"><table class="cp-equations" style="margin:0 auto">']
    for label, equation in rows:
        lhs, rhs = str(equation).split(" = ", 1)
        parts.append(
            f'<tr><th scope="row" style="{cell};text-align:left;font-weight:normal">'
            f"{escape(label)}</th>"
            f'<td style="{cell};text-align:right;font-family:serif">{side(lhs)}</td>'
            f'<td style="{cell};font-family:serif">=</td>'
            f'<td style="{cell};text-align:left;font-family:serif">{side(rhs)}</td></tr>'
        )
    parts.append("</table></div>")
    return "".join(parts)


def equation_block(equations: Sequence[str], per_line: int = 7) -> str:
    """Balance equations (LaTeX ``a + b = c + d``) as one ``aligned`` block, aligned on
    the equals sign; a side with more than ``per_line`` terms continues on the next line
    so that a long balance stays readable on a printed page."""
    lines: list[str] = []
    for eq in equations:
        lhs, rhs = str(eq).split(" = ", 1)

        def chunks(side: str) -> list[str]:
            terms = side.split(" + ")
            return [" + ".join(terms[i : i + per_line]) for i in range(0, len(terms), per_line)]

        left, right = chunks(lhs), chunks(rhs)
        for c in left[:-1]:
            lines.append(f"{c} + ")
        lines.append(f"{left[-1]} &= {right[0]}")
        for c in right[1:]:
            lines.append(rf"&\quad + {c}")
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def _reason(A: Assessment, row: Any, lang: str) -> str:
    """Why an unknown flow is or is not determinable, in the report language."""
    if not _na(row.determinable) and bool(row.determinable):
        return _t(lang, "reason.determinable")
    fc = A.solution.free_combinations
    fc = fc[fc["component"] == row.component]
    for c in fc.itertuples():
        flows = [f.strip() for f in str(c.flows).split(",")]
        if row.flow_id in flows:
            key = {"self-loop": "reason.self_loop", "boundary path": "reason.path"}.get(
                str(c.kind), "reason.loop"
            )
            return _t(
                lang, key, flows=_list(lang, flows), units=_list(lang, str(c.units).split(", "))
            )
    return _t(lang, "reason.not_determinable")


def unknown_flows(ctx: Any, A: Assessment) -> None:
    """4.3: the flows that were not measured, which the balances determine and their
    values (seed 004 clause 5.3.3: data that cannot be measured are worked out)."""
    from cpkit.display import heading, note, paragraph

    lang = ctx.lang
    sol = A.solution
    fl = sol.flows[sol.flows["status"] == "unknown"].copy()
    out: list[Any] = [heading(_t(lang, "s43.unknown_title"), 3)]
    lay = sol.layers
    out.append(
        paragraph(
            _t(
                lang,
                "s43.unknown_text",
                n_unknown=int(lay["n_unknown"].sum()),
                n_determinable=int(lay["n_determinable"].sum()),
                dof=int(lay["degrees_of_freedom"].sum()),
            )
        )
    )
    if not len(fl):
        out.append(note(_t(lang, "s43.no_unknown"), "ok"))
        _show(out)
        return
    fl["component_label"] = [component_label(c, lang) for c in fl["component"]]
    fl["material"] = [_flow_name(A, str(f), lang) for f in fl["flow_id"]]
    fl["flow_ref"] = [_flow_ref(str(f)) for f in fl["flow_id"]]
    fl["route"] = [
        _route(A, str(a), str(b), lang) for a, b in zip(fl["from_unit"], fl["to_unit"], strict=True)
    ]
    fl["value_text"] = [
        flow_text(v, lang) if not _na(v) else i18n.missing(lang) for v in fl["solved_kg_d"]
    ]
    rec_text = _reconciled_unknowns(A, lang)
    fl["rec_text"] = [
        rec_text.get((str(c), str(f)), "")
        for c, f in zip(fl["component"], fl["flow_id"], strict=True)
    ]
    fl["why"] = [_reason(A, r, lang) for r in fl.itertuples()]
    cols = {
        "flow_ref": _col(ctx, "stream_id"),
        "material": _col(ctx, "material"),
        "route": _col(ctx, "route"),
        "determinable": _col(ctx, "determinable", fmt=_yes_no(lang)),
        "value_text": _col(ctx, "solved_value", align="right"),
        "rec_text": _col(ctx, "reconciled_value", align="right"),
        "why": _col(ctx, "reason"),
    }
    if not rec_text:
        cols.pop("rec_text")
    out.append(_table(ctx, fl, cols, caption=_t(lang, "s43.unknown_caption")))
    inconsistent = [
        component_label(c, lang)
        for c, ok in zip(sol.layers["component"], sol.layers["consistent"], strict=True)
        if not _na(ok) and not bool(ok) and c in set(fl["component"])
    ]
    negative = [
        _flow_ref(str(f))
        for f, v in zip(fl["flow_id"], fl["solved_kg_d"], strict=True)
        if not _na(v) and float(v) < 0
    ]
    if negative:
        out.append(note(_t(lang, "s43.unknown_negative", flows=_list(lang, negative)), "warning"))
    if inconsistent:
        key = "s43.unknown_inconsistent_rec" if rec_text else "s43.unknown_inconsistent"
        out.append(note(_t(lang, key, components=_list(lang, inconsistent)), "info"))
    if not sol.fully_determined:
        out.append(note(_t(lang, "s43.not_determined"), "warning"))
    _show(out)


def _reconciled_unknowns(A: Assessment, lang: str) -> dict[tuple[str, str], str]:
    """``value ± σ`` of the unknown flows computed from the reconciled data."""
    rec = A.reconciliation
    if rec is None:
        return {}
    rf = rec.flows
    calc = rf[rf["measured_kg_d"].isna() & rf["reconciled_kg_d"].notna()]
    out = {}
    for r in calc.itertuples():
        txt = flow_text(r.reconciled_kg_d, lang)
        if not _na(r.sigma_reconciled_kg_d):
            num, unit = txt.rsplit(" ", 1)
            scale = {"t/d": 1e-3, "g/d": 1e3}.get(unit, 1.0)
            txt = f"{num} ± {fmt_sig(float(r.sigma_reconciled_kg_d) * scale, lang, 2)} {unit}"
        out[(str(r.component), str(r.flow_id))] = txt
    return out


def redundancy(ctx: Any, A: Assessment) -> None:
    """4.3: degrees of freedom and redundancy of each component; the relations that the
    redundant measurements must satisfy, with their residuals (calculation reference
    §7.2: observability and redundancy before reconciliation)."""
    from cpkit.display import heading, paragraph

    lang = ctx.lang
    sol = A.solution
    lay = sol.layers.copy()
    lay["component_label"] = [component_label(c, lang) for c in lay["component"]]
    out: list[Any] = [
        heading(_t(lang, "s43.redundancy_title"), 3),
        paragraph(_t(lang, "s43.redundancy_text")),
        _table(
            ctx,
            lay,
            {
                "component_label": _col(ctx, "component"),
                "n_units": _col(ctx, "n_units", digits=0),
                "n_flows": _col(ctx, "n_flows", digits=0),
                "n_unknown": _col(ctx, "n_unknown", digits=0),
                "n_determinable": _col(ctx, "n_determinable", digits=0),
                "degrees_of_freedom": _col(ctx, "dof", digits=0),
                "redundancy": _col(ctx, "redundancy", digits=0),
                "consistent": _col(ctx, "consistent", fmt=_yes_no(lang)),
            },
            caption=_t(lang, "s43.layers_caption"),
        ),
    ]
    rel = sol.relations.copy()
    if len(rel):
        rel["component_label"] = [component_label(c, lang) for c in rel["component"]]
        out.append(
            _table(
                ctx,
                rel,
                {
                    "component_label": _col(ctx, "component"),
                    "units": _col(ctx, "units"),
                    "text_values": _col(ctx, "relation"),
                    "residual_kg_d": _col(
                        ctx, "residual", unit="kg/d", fmt=_sig(lang), align="right"
                    ),
                    "residual_pct": _col(ctx, "residual_pct", unit="%", digits=2),
                },
                caption=_t(lang, "s43.relations_caption"),
            )
        )
    _show(out)


# =========================================================================== 4.3 closure
_VERDICTS = ("closed", "warning", "failed", "not_computable", "zero_input")


def closure_view(ctx: Any, A: Assessment, tolerance: float) -> tuple[Any, ...]:
    """Closure tables and charts at closure ``tolerance`` (fraction): what the tolerance
    slider redraws (check_closure only, a few ms)."""
    from cpkit.display import note

    lang = ctx.lang
    cl = closure_table(A.filled, A.units, tolerance=tolerance)
    warn = float(cl.attrs["basis"]["warning_tolerance"])
    n_fail = int(cl["verdict"].isin(["failed", "warning"]).sum())
    n_rows = int(cl["closure_pct"].notna().sum())
    head = (
        note(
            _t(lang, "s43.closure_all_ok", n=n_rows, tol=fmt_plain(tolerance * 100, lang, 2)), "ok"
        )
        if n_fail == 0
        else note(
            _t(
                lang,
                "s43.closure_some_fail",
                n_fail=n_fail,
                n=n_rows,
                tol=fmt_plain(tolerance * 100, lang, 2),
                which=_list(
                    lang,
                    [
                        f"{component_label(r.component, lang)} {r.unit_id if r.scope == 'unit' else _t(lang, 'overall')}"
                        for r in cl[cl["verdict"].isin(["failed", "warning"])].itertuples()
                    ],
                ),
            ),
            "warning",
        )
    )
    out: list[Any] = [head]
    for comp in A.components:
        c = cl[cl["component"] == comp].copy()
        cols_v = ["inputs_kg_d", "outputs_kg_d", "stock_change_kg_d", "imbalance_kg_d"]
        fu = flow_unit(pd.concat([c["inputs_kg_d"], c["outputs_kg_d"]]))
        c = _scaled(c, cols_v, fu)
        c["unit_text"] = [
            unit_label(u, A.names, lang) if s == "unit" else _t(lang, "overall")
            for u, s in zip(c["unit_id"], c["scope"], strict=True)
        ]
        cols = {
            "unit_text": _col(ctx, "unit"),
            "inputs_kg_d": _col(ctx, "inputs", unit=fu.unit, digits=2),
            "outputs_kg_d": _col(ctx, "outputs", unit=fu.unit, digits=2),
            "stock_change_kg_d": _col(ctx, "stock_change", unit=fu.unit, digits=2),
            "imbalance_kg_d": _col(ctx, "imbalance", unit=fu.unit, digits=2),
            "closure_pct": _col(ctx, "closure", unit="%", digits=2),
            "verdict": _col(ctx, "verdict", fmt=_enum(lang, "verdict")),
            "solved_flows": _col(ctx, "solved_flows"),
        }
        if not (c["stock_change_kg_d"].fillna(0) != 0).any():
            cols.pop("stock_change_kg_d")
        if not (c["solved_flows"].fillna("") != "").any():
            cols.pop("solved_flows")
        out.append(
            _table(
                ctx,
                c,
                cols,
                caption=_t(
                    lang,
                    "s43.closure_caption",
                    component=component_label(comp, lang),
                    tol=fmt_plain(tolerance * 100, lang, 2),
                    warn=fmt_plain(warn * 100, lang, 2),
                ),
            )
        )
        out.append(_chart(ctx, _closure_bars(ctx, A, c, comp, fu)))
    out.append(_chart(ctx, _closure_band(ctx, A, cl, tolerance, warn)))
    return tuple(out)


def closure_chart_data(closure: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """Long table for :func:`cpkit.charts.balances.balance_bars`: per row of ``closure``
    (one component, values already in the display unit) the inputs and the outputs plus
    the stock change; ``labels`` maps unit_id (and ENV) to the axis label."""
    rows = []
    for r in closure.itertuples():
        if _na(r.inputs_kg_d) or _na(r.outputs_kg_d):
            continue
        lab = labels.get(str(r.unit_id), str(r.unit_id))
        stock = 0.0 if _na(r.stock_change_kg_d) else float(r.stock_change_kg_d)
        text = "" if _na(r.closure_pct) else f"{float(r.closure_pct):+.2f}%"
        rows.append((lab, "inputs", float(r.inputs_kg_d), text))
        rows.append((lab, "outputs", float(r.outputs_kg_d) + stock, text))
    return pd.DataFrame(rows, columns=["unit", "side", "value", "closure"])


def _chart_labels(A: Assessment, lang: str) -> dict[str, str]:
    labels = {u: u for u in A.names}
    labels[BOUNDARY] = _t(lang, "overall")
    return labels


def _closure_bars(ctx: Any, A: Assessment, c: pd.DataFrame, comp: str, fu: FlowUnit):
    lang = ctx.lang
    data = closure_chart_data(c, _chart_labels(A, lang))
    return bc.balance_bars(
        data,
        title=_t(lang, "chart.bars_title", component=component_label(comp, lang)),
        unit_title=_t(lang, "col.unit"),
        x_title=fu.unit,
        side_titles={"inputs": _t(lang, "col.inputs"), "outputs": _t(lang, "chart.outputs_stock")},
    )


def _closure_band(ctx: Any, A: Assessment, cl: pd.DataFrame, tol: float, warn: float):
    lang = ctx.lang
    labels = _chart_labels(A, lang)
    d = cl[cl["closure_pct"].notna()].copy()
    d["unit"] = [labels.get(str(u), str(u)) for u in d["unit_id"]]
    d["group"] = [component_label(c, lang) for c in d["component"]]
    return bc.closure_band(
        d[["unit", "group", "closure_pct", "verdict"]],
        tolerance_pct=tol * 100,
        warning_pct=warn * 100,
        title=_t(lang, "chart.band_title"),
        y_title=_t(lang, "chart.closure_axis"),
        verdict_titles={v: _label(lang, "verdict", v) for v in ("closed", "warning", "failed")},
        band_titles={
            "tolerance": _t(lang, "chart.band_tolerance", tol=fmt_plain(tol * 100, lang, 2)),
            "warning": _t(lang, "chart.band_warning", warn=fmt_plain(warn * 100, lang, 2)),
        },
    )


def closure_section(ctx: Any, A: Assessment) -> None:
    """4.3: closure of every unit and of the focus against the tolerance, with a slider
    (interactive mode) that recomputes the verdicts live."""
    from cpkit.display import explore, heading, paragraph

    lang = ctx.lang
    _show(
        heading(_t(lang, "s43.closure_title"), 3),
        paragraph(
            _t(
                lang,
                "s43.closure_text",
                tol=fmt_plain(A.tolerance * 100, lang, 2),
                warn=fmt_plain(A.warning_tolerance * 100, lang, 2),
            )
        ),
    )
    explore(
        lambda tolerance_pct: closure_view(ctx, A, tolerance_pct / 100),
        {"tolerance_pct": _tolerance_control(ctx, A)},
        interactive=ctx.interactive,
    )


def _tolerance_control(ctx: Any, A: Assessment) -> Any:
    value = round(A.tolerance * 100, 2)
    if not ctx.interactive:
        return value
    import ipywidgets as widgets

    return widgets.FloatSlider(
        value=value,
        min=min(0.5, value),
        max=max(20.0, value * 2),
        step=0.5,
        description=_t(ctx.lang, "slider.tolerance"),
        continuous_update=False,
        readout_format=".1f",
        style={"description_width": "initial"},
    )


# =========================================================================== 4.3 reconciliation
def reconciliation_table(rec: Any, component: str, *, top: int | None = None) -> pd.DataFrame:
    """Reconciled against measured flows of one component: the measured flows ordered by
    their measurement test (largest first; ``top`` keeps the first ``top``), then the
    unknown flows computed from the reconciled data."""
    f = rec.flows[rec.flows["component"] == component].copy()
    meas = f[f["measured_kg_d"].notna()].copy()
    meas["_z"] = meas["test_statistic"].astype(float).fillna(-1.0)
    meas = meas.sort_values(["_z", "flow_id"], ascending=[False, True], kind="stable")
    if top is not None:
        meas = meas.head(top)
    unk = f[f["measured_kg_d"].isna()]
    return pd.concat([meas.drop(columns="_z"), unk]).reset_index(drop=True)


def reconciliation_section(ctx: Any, A: Assessment) -> None:
    """4.3: data reconciliation (weighted least squares), the χ² global test per
    component, the measurement tests and the gross-error search, the non-negativity
    check (calculation reference §7.2; seed 004 clause 5.3.2: data errors within the
    balance test requirements)."""
    from cpkit.display import heading, note, paragraph

    lang = ctx.lang
    out: list[Any] = [heading(_t(lang, "s43.rec_title"), 3), paragraph(_t(lang, "s43.rec_text"))]
    rec = A.reconciliation
    if rec is None:
        if A.reconciliation_error == "no_redundancy":
            out.append(note(_t(lang, "s43.rec_none"), "info"))
        else:
            out.append(note(_t(lang, "s43.rec_failed", reason=A.reconciliation_error), "warning"))
        _show(out)
        return
    lay = rec.layers.copy()
    lay["component_label"] = [component_label(c, lang) for c in lay["component"]]
    out.append(
        _table(
            ctx,
            lay,
            {
                "component_label": _col(ctx, "component"),
                "n_measured": _col(ctx, "n_measured_rec", digits=0),
                "n_redundant": _col(ctx, "n_redundant", digits=0),
                "nu": _col(ctx, "nu", digits=0),
                "gamma": _col(ctx, "gamma", digits=2),
                "critical_value": _col(ctx, "chi2_critical", digits=2),
                "p_value": _col(ctx, "p_value", digits=3),
                "tolerable": _col(ctx, "tolerable", fmt=_yes_no(lang)),
            },
            caption=_t(lang, "s43.rec_global_caption", alpha=fmt_plain(rec.alpha, lang)),
        )
    )
    out.append(_rec_verdict(ctx, A))
    out.append(_gross_error_text(ctx, A))
    for comp in rec.layers["component"]:
        t, fu = _reconciliation_view(A, rec, comp, lang, top=10)
        out.append(
            _table(
                ctx,
                t,
                _rec_cols(ctx, fu),
                caption=_t(
                    lang,
                    "s43.rec_table_caption",
                    component=component_label(comp, lang),
                    zcrit=i18n.fmt_number(rec.measurement_critical_value, lang, 2),
                ),
            )
        )
    neg = rec.flows[rec.flows["negative"].fillna(False)]
    if len(neg):
        out.append(
            note(
                _t(
                    lang,
                    "s43.rec_negative",
                    flows=_list(lang, [_flow_ref(str(f)) for f in neg["flow_id"]]),
                ),
                "warning",
            )
        )
    else:
        out.append(note(_t(lang, "s43.rec_nonnegative"), "ok"))
    _show(out)


def _rec_cols(ctx: Any, fu: FlowUnit, *, full: bool = False) -> dict[str, Any]:
    """Columns of a reconciliation table (``full``: with the uncertainty after
    reconciliation); the test value is marked ⚠ when the measurement is suspect."""
    lang = ctx.lang
    num = {"fmt": _sig(lang), "align": "right"}
    cols = {
        "flow_ref": _col(ctx, "stream_id"),
        "material": _col(ctx, "material"),
        "measured_kg_d": _col(ctx, "measured", unit=fu.unit, **num),
        "sigma_kg_d": _col(ctx, "sigma", unit=fu.unit, **num),
        "reconciled_kg_d": _col(ctx, "reconciled", unit=fu.unit, **num),
        "sigma_reconciled_kg_d": _col(ctx, "sigma_reconciled", unit=fu.unit, **num),
        "adjustment_pct": _col(ctx, "adjustment_pct", unit="%", digits=1),
        "z_text": _col(ctx, "z_test", align="right"),
    }
    if not full:
        cols.pop("sigma_reconciled_kg_d")
    return cols


def _z_text(t: pd.DataFrame, lang: str) -> list[str]:
    return [
        "" if _na(z) else i18n.fmt_number(z, lang, 2) + (" ⚠" if (not _na(s) and bool(s)) else "")
        for z, s in zip(t["test_statistic"], t["suspect"], strict=True)
    ]


def _rec_verdict(ctx: Any, A: Assessment):
    from cpkit.display import note

    lang = ctx.lang
    rec = A.reconciliation
    parts = []
    for r in rec.layers.itertuples():
        if _na(r.nu) or int(r.nu) == 0:
            continue
        key = "s43.rec_layer_ok" if bool(r.tolerable) else "s43.rec_layer_bad"
        parts.append(
            _t(
                lang,
                key,
                component=component_label(r.component, lang),
                gamma=i18n.fmt_number(r.gamma, lang, 2),
                nu=int(r.nu),
                crit=i18n.fmt_number(r.critical_value, lang, 2),
                p=i18n.fmt_number(r.p_value, lang, 3),
            )
        )
    if rec.tolerable:
        return note(" ".join([*parts, _t(lang, "s43.rec_ok")]), "ok")
    z = rec.flows.set_index("flow_id")["test_statistic"]
    if rec.probable_gross_error:
        fid = rec.probable_gross_error
        tail = _t(
            lang,
            "s43.rec_probable",
            flow=fid,
            material=_flow_name(A, fid, lang),
            z=i18n.fmt_number(z[fid], lang, 2),
            zcrit=i18n.fmt_number(rec.measurement_critical_value, lang, 2),
        )
    elif rec.suspects:
        top = max(float(z[s]) for s in rec.suspects)
        tied = [s for s in rec.suspects if float(z[s]) >= top * (1 - 1e-6)]
        tail = _t(
            lang,
            "s43.rec_tied",
            flows=_list(lang, [f"{s} {_flow_name(A, s, lang)}" for s in tied]),
            z=i18n.fmt_number(top, lang, 2),
        )
    else:
        tail = _t(lang, "s43.rec_no_single")
    return note(" ".join([*parts, tail]), "warning")


def _gross_error_text(ctx: Any, A: Assessment):
    """What the serial elimination found (only when the global test failed)."""
    from cpkit.display import paragraph

    g = A.gross_errors
    lang = ctx.lang
    if g is None:
        return None
    steps = g.steps
    removed = steps[steps["removed"].notna()]
    if not len(removed):
        return paragraph(_t(lang, "s43.gross_none"))
    parts = []
    for r in removed.itertuples():
        est = _f(r.estimate_kg_d)
        meas = float(r.removed_measured_kg_d)
        if est is None:
            parts.append(
                _t(
                    lang,
                    "s43.gross_removed_noest",
                    flow=r.removed,
                    material=_flow_name(A, str(r.removed), lang),
                    measured=flow_text(meas, lang),
                )
            )
        else:
            parts.append(
                _t(
                    lang,
                    "s43.gross_removed",
                    flow=r.removed,
                    material=_flow_name(A, str(r.removed), lang),
                    measured=flow_text(meas, lang),
                    estimate=flow_text(est, lang),
                    diff=i18n.fmt_number(
                        (est - meas) / meas * 100 if meas else float("nan"), lang, 1
                    ),
                )
            )
    last = steps.iloc[-1]
    end = (
        _t(
            lang,
            "s43.gross_end_ok",
            gamma=i18n.fmt_number(last["gamma"], lang, 2),
            nu=int(last["nu"]),
            crit=i18n.fmt_number(last["critical_value"], lang, 2),
        )
        if bool(last["tolerable"])
        else _t(lang, "s43.gross_end_bad")
    )
    return paragraph(" ".join([_t(lang, "s43.gross_intro"), *parts, end]))


def reconciliation_annex(ctx: Any, A: Assessment) -> None:
    """Annex: the full reconciled-against-measured table of every component."""
    from cpkit.display import heading

    lang = ctx.lang
    rec = A.reconciliation
    if rec is None:
        return None
    out: list[Any] = [heading(_t(lang, "annex.rec_title"), 2)]
    for comp in rec.layers["component"]:
        t, fu = _reconciliation_view(A, rec, comp, lang)
        cols = _rec_cols(ctx, fu, full=True)
        cols["sigma_source"] = _col(ctx, "sigma_source", fmt=lambda v: _sigma_source(v, lang))
        out.append(_table(ctx, t, cols, caption=component_label(comp, lang)))
    _show(out)
    return None


def _sigma_source(v: Any, lang: str) -> str:
    if _na(v):
        return ""
    s = str(v)
    if s.startswith("default"):
        return _t(lang, "sigma_source.default", pct=s.removeprefix("default").strip())
    return _label(lang, "sigma_source", s.replace(" ", "_"))


# =========================================================================== 4.3 water
#: The GB/T 12452 indicators the water-balance test itself gives (the annual
#: intensities need annual intake and output and belong to chapter 3).
WATER_INDICATORS = (
    "reuse_rate",
    "cooling_circulation_rate",
    "process_reuse_rate",
    "condensate_recovery_rate",
    "treated_reuse_rate",
    "leakage_rate",
    "discharge_rate",
    "consumption_rate",
    "nonconventional_share",
)


def water_diagram(A: Assessment, lang: str) -> str:
    """The water balance diagram (水平衡图, seed 004 clause 5.3.5) as SVG: water-use
    units as boxes in table order, intake from the left, consumption, discharge and
    leakage to the right (flows of the same kind from one unit drawn as one arrow with
    their sum), series and condensate flows between units, circulating water written
    inside its unit."""
    wu, wf = A.water_units, A.water_flows
    inner: dict[str, list[str]] = {}
    merged: dict[tuple[str, str, str, str], list[Any]] = {}
    for r in wf.itertuples():
        kind, src, dst = str(r.kind), str(r.from_unit), str(r.to_unit)
        v = _f(r.value)
        if kind == "circulating" or src == dst:
            inner.setdefault(dst, []).append(
                _t(lang, "diagram.circulating", flow=r.flow_id, value=f"{fmt_sig(v, lang)} m³/d")
            )
            continue
        source = getattr(r, "source", None)
        extra = str(source) if kind == "intake" and not _na(source) else ""
        key = (
            (src, dst, kind, extra) if BOUNDARY in (src, dst) else (src, dst, kind, str(r.flow_id))
        )
        merged.setdefault(key, []).append(r)
    edges: list[bc.DiagramEdge] = []
    for (src, dst, kind, extra), rows in merged.items():
        total = sum(_f(r.value) or 0.0 for r in rows)
        ids = "+".join(str(r.flow_id) for r in rows)
        status = "estimated" if any(str(r.status) == "estimated" for r in rows) else "measured"
        label = f"{ids} {_label(lang, 'water_kind', kind)}"
        if kind == "intake" and extra:
            label += _t(lang, "diagram.source", source=water_source_label(extra, lang))
        edges.append(
            bc.DiagramEdge(ids, src, dst, label, f"{fmt_sig(total, lang)} m³/d", status, total)
        )
    nodes = [
        bc.DiagramNode(str(u), str(n), tuple(inner.get(str(u), ())))
        for u, n in zip(wu["unit_id"], wu["name"], strict=True)
    ]
    used = list(dict.fromkeys(e.status for e in edges))
    legend = {st: _label(lang, "diagram_status", st) for st in bc.STATUS_STYLES if st in used}
    return bc.flow_diagram_svg(
        nodes, edges, legend=legend, note=_t(lang, "diagram.water_note"), compact=True
    )


def water_source_label(source_id: str, lang: str) -> str:
    """Name of a water source id from data/reference/water/sources.csv."""
    src = reference.table("water/sources.csv")
    row = src[src["source_id"] == source_id]
    if not len(row):
        return source_id
    return str(row["name_zh" if lang == "zh" else "name_en"].iloc[0])


def water_section(ctx: Any, A: Assessment) -> None:
    """4.3: water balance per water-use unit, system and site, the GB/T 12452
    indicators of the test, the water balance diagram (seed 004 clause 5.3.5)."""
    from cpkit.display import heading, note, paragraph

    lang = ctx.lang
    out: list[Any] = [heading(_t(lang, "s43.water_title"), 3)]
    bal = A.water_balance
    if bal is None:
        out.append(note(_t(lang, "s43.water_none"), "info"))
        _show(out)
        return
    site = bal[bal["level"] == "site"].iloc[0]
    out.append(
        paragraph(
            _t(
                lang,
                "s43.water_text",
                n_units=int((bal["level"] == "unit").sum()),
                intake=fmt_sig(site["V_i_m3_d"], lang),
                total=fmt_sig(site["V_t_m3_d"], lang),
                reuse=i18n.fmt_number(site["reuse_rate_pct"], lang, 1),
                closure=i18n.fmt_number(site["closure_pct"], lang, 2),
            )
        )
    )
    out.append(_figure(water_diagram(A, lang), _t(lang, "s43.water_diagram_caption")))
    b = bal.copy()
    b["label"] = [
        unit_label(u, {u: n}, lang)
        if lv == "unit"
        else _label(lang, "water_system", u)
        if lv == "system"
        else _t(lang, "site")
        for u, n, lv in zip(b["unit_id"], b["name"], b["level"], strict=True)
    ]
    q = {"unit": "m³/d", "digits": 1}
    out.append(
        _table(
            ctx,
            b,
            {
                "label": _col(ctx, "water_unit"),
                "V_i_m3_d": _col(ctx, "V_i", **q),
                "V_s_m3_d": _col(ctx, "V_s", **q),
                "V_cy_m3_d": _col(ctx, "V_cy", **q),
                "V_t_m3_d": _col(ctx, "V_t", **q),
                "reuse_rate_pct": _col(ctx, "reuse_rate", unit="%", digits=1),
            },
            caption=_t(lang, "s43.water_use_caption"),
        )
    )
    out.append(
        _table(
            ctx,
            b,
            {
                "label": _col(ctx, "water_unit"),
                "V_co_m3_d": _col(ctx, "V_co", **q),
                "V_d_m3_d": _col(ctx, "V_d", **q),
                "V_l_m3_d": _col(ctx, "V_l", **q),
                "V_s_out_m3_d": _col(ctx, "V_s_out", **q),
                "closure_pct": _col(ctx, "closure", unit="%", digits=2),
            },
            caption=_t(lang, "s43.water_out_caption"),
        )
    )
    unclosed = b[(b["level"] == "unit") & ~b["closed"].fillna(True)]
    if len(unclosed):
        out.append(
            note(
                _t(
                    lang,
                    "s43.water_unclosed",
                    units=_list(lang, unclosed["unit_id"]),
                    tol=fmt_plain(A.tolerance * 100, lang, 2),
                ),
                "warning",
            )
        )
    out.append(_water_indicator_table(ctx, A))
    units = b[b["level"] == "unit"]
    rows = []
    for r in units.itertuples():
        lab = f"{r.unit_id} {r.name}"
        rows.append((lab, "intake", float(r.V_i_m3_d)))
        rows.append((lab, "reused", float(r.V_r_m3_d)))
    out.append(
        _chart(
            ctx,
            bc.water_use_chart(
                pd.DataFrame(rows, columns=["unit", "part", "value_m3_d"]),
                title=_t(lang, "chart.water_title"),
                x_title="m³/d",
                part_titles={"intake": _t(lang, "col.V_i"), "reused": _t(lang, "col.V_r")},
            ),
        )
    )
    _show(out)


def _water_indicator_table(ctx: Any, A: Assessment):
    lang = ctx.lang
    ind = A.water_indicators
    d = ind[ind["indicator"].isin(WATER_INDICATORS)].copy()
    d["name"] = d["name_zh"] if lang == "zh" else d["name_en"]
    d["why"] = [_water_note(str(n), lang) if not _na(n) and n else "" for n in d["note"]]
    cols = {
        "name": _col(ctx, "indicator"),
        "symbol": _col(ctx, "symbol"),
        "value": _col(ctx, "value", unit="%", digits=1),
        "formula": _col(ctx, "formula"),
        "why": _col(ctx, "note"),
    }
    if not (d["why"] != "").any():
        cols.pop("why")
    return _table(
        ctx,
        d,
        cols,
        caption=_t(lang, "s43.water_ind_caption"),
    )


def _water_note(note_text: str, lang: str) -> str:
    """Translate the notes of cpkit.water.indicators (English, for developers)."""
    if note_text.startswith("no unit with purpose "):
        purpose = note_text.removeprefix("no unit with purpose ").strip()
        return _t(lang, "water_note.no_purpose", purpose=_label(lang, "water_purpose", purpose))
    if note_text.startswith("give steam_t_d"):
        return _t(lang, "water_note.no_steam")
    if note_text in ("denominator is zero", "inputs missing"):
        return _t(lang, "water_note.zero")
    if note_text.startswith("some intake flows have no source"):
        return _t(lang, "water_note.no_source")
    return note_text


# =========================================================================== 4.3 electricity
def electricity_section(ctx: Any, A: Assessment) -> None:
    """4.3: electricity balance of the meter tree: supply, systems, equipment, the
    unmetered remainder (losses), loads (GB/T 3485 approach, seed 004 clause 5.3.6)."""
    from cpkit.display import heading, note, paragraph

    lang = ctx.lang
    out: list[Any] = [heading(_t(lang, "s43.elec_title"), 3)]
    eb = A.electricity
    if eb is None:
        out.append(note(_t(lang, "s43.elec_none"), "info"))
        _show(out)
        return
    s = eb.summary.iloc[0]
    out.append(
        paragraph(
            _t(
                lang,
                "s43.elec_text",
                supply=i18n.fmt_number(s["supply_kwh_d"], lang, 0),
                metered=i18n.fmt_number(s["metered_kwh_d"], lang, 0),
                unmetered=i18n.fmt_number(s["unmetered_kwh_d"], lang, 0),
                pct=i18n.fmt_number(s["unmetered_pct"], lang, 1),
            )
        )
    )
    sy = eb.systems.copy()
    sy["label"] = [_label(lang, "elec_system", x) for x in sy["system"]]
    out.append(
        _table(
            ctx,
            sy,
            {
                "label": _col(ctx, "elec_system"),
                "kwh_d": _col(ctx, "kwh_d", unit="kWh/d", digits=0),
                "share_pct": _col(ctx, "share_supply", unit="%", digits=1),
            },
            caption=_t(lang, "s43.elec_systems_caption"),
            total_row={
                "label": i18n.t("common.total", lang),
                "kwh_d": float(sy["kwh_d"].astype(float).sum()),
                "share_pct": float(sy["share_pct"].astype(float).sum()),
            },
        )
    )
    m = eb.meters.copy()
    m["label"] = [
        "\u3000" * int(d) + f"{i} {n}"
        for d, i, n in zip(m["depth"], m["meter_id"], m["name"], strict=True)
    ]
    out.append(
        _table(
            ctx,
            m,
            {
                "label": _col(ctx, "meter_name"),
                "level": _col(ctx, "meter_level", fmt=_enum(lang, "meter_level")),
                "kwh_d": _col(ctx, "kwh_d", unit="kWh/d", digits=0),
                "share_of_supply_pct": _col(ctx, "share_supply", unit="%", digits=1),
                "unmetered_pct": _col(ctx, "unmetered", unit="%", digits=1),
                "avg_load_kw": _col(ctx, "avg_load", unit="kW", digits=1),
                "utilisation_pct": _col(ctx, "utilisation", unit="%", digits=1),
            },
            caption=_t(lang, "s43.elec_meters_caption"),
        )
    )
    cons = electricity_consumers(eb.meters)
    cons["group"] = [
        _t(lang, "chart.unmetered") if u else _label(lang, "elec_system", sy_)
        for u, sy_ in zip(cons["unmetered"], cons["system"], strict=True)
    ]
    cons["name"] = [
        _t(lang, "chart.unmetered_under", meter=n) if u else n
        for n, u in zip(cons["name"], cons["unmetered"], strict=True)
    ]
    cons["text"] = [i18n.fmt_percent(p / 100, lang, 1) for p in cons["share_pct"]]
    out.append(
        _chart(
            ctx,
            bc.electricity_bars(
                cons,
                title=_t(lang, "chart.elec_title"),
                x_title="kWh/d",
                group_title=_t(lang, "col.elec_system"),
            ),
        )
    )
    findings = []
    for r in eb.meters.itertuples():
        if not _na(r.children_exceed_parent) and bool(r.children_exceed_parent):
            findings.append(
                _t(
                    lang,
                    "s43.elec_exceed",
                    meter=r.meter_id,
                    name=r.name,
                    pct=i18n.fmt_number(-float(r.unmetered_pct), lang, 1),
                )
            )
        if not _na(r.utilisation_pct) and float(r.utilisation_pct) > 100:
            findings.append(
                _t(
                    lang,
                    "s43.elec_overload",
                    meter=r.meter_id,
                    name=r.name,
                    pct=i18n.fmt_number(r.utilisation_pct, lang, 1),
                )
            )
    if findings:
        out.append(note(" ".join(findings), "warning"))
    _show(out)


# =========================================================================== 4.3 heat
def heat_item_label(item: str, lang: str) -> str:
    """Display name of a heat-balance item id (catalogue ``p3.heat_item.<id>``; other ids
    with underscores shown as spaces)."""
    k = f"p3.heat_item.{item}"
    return i18n.t(k, lang) if i18n.has(k) else str(item).replace("_", " ")


def heat_section(ctx: Any, A: Assessment) -> None:
    """4.3: heat balance of the tested equipment, efficiency by the direct and the
    indirect method, losses (GB/T 3486, GB/T 10180 practice; seed 004 clause 5.3.7)."""
    from cpkit.display import heading, note, paragraph

    lang = ctx.lang
    out: list[Any] = [heading(_t(lang, "s43.heat_title"), 3)]
    hb = A.heat
    if hb is None:
        out.append(note(_t(lang, "s43.heat_none"), "info"))
        _show(out)
        return
    eq = hb.equipment.copy()
    eq["label"] = [
        f"{e} {n}" if not _na(n) else str(e)
        for e, n in zip(eq["equipment_id"], eq["name"], strict=True)
    ]
    out.append(paragraph(_t(lang, "s43.heat_text", n=len(eq))))
    out.append(
        _table(
            ctx,
            eq,
            {
                "label": _col(ctx, "equipment"),
                "input_mj_h": _col(ctx, "heat_input", unit="MJ/h", digits=1),
                "effective_mj_h": _col(ctx, "heat_effective", unit="MJ/h", digits=1),
                "losses_mj_h": _col(ctx, "heat_losses", unit="MJ/h", digits=1),
                "efficiency_direct_pct": _col(ctx, "eff_direct", unit="%", digits=2),
                "efficiency_indirect_pct": _col(ctx, "eff_indirect", unit="%", digits=2),
                "closure_pct": _col(ctx, "closure", unit="%", digits=2),
                "closed": _col(ctx, "within_tolerance", fmt=_yes_no(lang)),
            },
            caption=_t(lang, "s43.heat_caption"),
        )
    )
    items = hb.items
    findings = []
    for e in eq.itertuples():
        it = items[(items["equipment_id"] == e.equipment_id) & (items["category"] != "input")]
        d = it.copy()
        d["item"] = [heat_item_label(x, lang) for x in d["item"]]
        d["share_pct"] = d["share_of_input_pct"].astype(float)
        d = d.sort_values(["category", "share_pct"], ascending=[True, False], kind="stable")
        out.append(
            _chart(
                ctx,
                bc.heat_items_chart(
                    d[["item", "category", "share_pct"]],
                    title=_t(lang, "chart.heat_title", equipment=e.label),
                    x_title=_t(lang, "chart.heat_axis"),
                    category_titles={
                        c: _label(lang, "heat_category", c) for c in ("effective", "loss")
                    },
                ),
            )
        )
        losses = it[it["category"] == "loss"]
        if len(losses):
            top = losses.loc[losses["share_of_input_pct"].astype(float).idxmax()]
            findings.append(
                _t(
                    lang,
                    "s43.heat_top_loss",
                    equipment=e.label,
                    item=heat_item_label(str(top["item"]), lang),
                    value=i18n.fmt_number(top["value_mj_h"], lang, 1),
                    pct=i18n.fmt_number(top["share_of_input_pct"], lang, 1),
                )
            )
        if not bool(e.closed):
            findings.append(
                _t(
                    lang,
                    "s43.heat_unclosed",
                    equipment=e.label,
                    pct=i18n.fmt_number(e.closure_pct, lang, 1),
                )
            )
    if findings:
        from cpkit.display import bullets

        out.append(bullets(findings))
    _show(out)


def heat_annex(ctx: Any, A: Assessment) -> None:
    """Annex: every item of the heat-balance tests with its share and the test note."""
    from cpkit.display import heading

    if A.heat is None:
        return None
    lang = ctx.lang
    it = A.heat.items.copy()
    notes = {}
    if "note" in A.heat_table.columns:
        notes = {
            (str(e), str(i)): n
            for e, i, n in zip(
                A.heat_table["equipment_id"],
                A.heat_table["item"],
                A.heat_table["note"],
                strict=True,
            )
        }
    it["label"] = [heat_item_label(x, lang) for x in it["item"]]
    it["note"] = [
        notes.get((str(e), str(i)), pd.NA)
        for e, i in zip(it["equipment_id"], it["item"], strict=True)
    ]
    _show(
        heading(_t(lang, "annex.heat_title"), 2),
        _table(
            ctx,
            it,
            {
                "equipment_id": _col(ctx, "equipment"),
                "label": _col(ctx, "heat_item"),
                "category": _col(ctx, "heat_category", fmt=_enum(lang, "heat_category")),
                "value_mj_h": _col(ctx, "heat_value", unit="MJ/h", digits=1),
                "share_of_input_pct": _col(ctx, "share_input", unit="%", digits=2),
                "note": _col(ctx, "source_note"),
            },
        ),
    )
    return None


# =========================================================================== 4.4
def balance_analysis(ctx: Any, A: Assessment) -> None:
    """4.4: what the balances show: where each component goes (utilisation, wastes,
    losses), the largest loss streams and the findings of the balance tests (seed 004
    clause 5.3.4)."""
    from cpkit.display import bullets, heading, paragraph

    lang = ctx.lang
    st = output_structure(A.io)
    st["component_label"] = [component_label(c, lang) for c in st["component"]]
    st["kind_label"] = [_label(lang, "out_kind", k) for k in st["kind"]]
    st["value_text"] = [flow_text(v, lang) for v in st["value_kg_d"]]
    out: list[Any] = [
        heading(_t(lang, "s44.title"), 2),
        paragraph(_t(lang, "s44.text")),
        heading(_t(lang, "s44.structure_title"), 3),
        _table(
            ctx,
            st,
            {
                "component_label": _col(ctx, "component"),
                "kind_label": _col(ctx, "destination"),
                "value_text": _col(ctx, "quantity", align="right"),
                "share_pct": _col(ctx, "share_imports", unit="%", digits=2),
            },
            caption=_t(lang, "s44.structure_caption"),
        ),
    ]
    util = []
    for comp in utilisation_components(A.io):
        p = st[(st["component"] == comp) & (st["kind"] == "product")]
        if len(p) and not _na(p["share_pct"].iloc[0]):
            util.append(
                _t(
                    lang,
                    "s44.utilisation",
                    component=component_label(comp, lang),
                    pct=i18n.fmt_number(p["share_pct"].iloc[0], lang, 1),
                )
            )
    if util:
        out.append(paragraph(" ".join(util)))
    ls = loss_streams(A.io)
    if len(ls):
        ls["component_label"] = [component_label(c, lang) for c in ls["component"]]
        ls["kind_label"] = [_label(lang, "kind", k) for k in ls["kind"]]
        ls["from_label"] = [unit_label(u, A.names, lang) for u in ls["from_unit"]]
        ls["value_text"] = [flow_text(v, lang) for v in ls["value_kg_d"]]
        out += [
            heading(_t(lang, "s44.losses_title"), 3),
            _table(
                ctx,
                ls,
                {
                    "component_label": _col(ctx, "component"),
                    "stream_id": _col(ctx, "stream_id"),
                    "material": _col(ctx, "material"),
                    "kind_label": _col(ctx, "kind"),
                    "from_label": _col(ctx, "location"),
                    "value_text": _col(ctx, "quantity", align="right"),
                    "share_pct": _col(ctx, "share_imports", unit="%", digits=2),
                },
                caption=_t(lang, "s44.losses_caption"),
            ),
        ]
    findings = analysis_findings(ctx, A)
    out += [heading(_t(lang, "s44.findings_title"), 3)]
    out.append(bullets(findings) if findings else paragraph(_t(lang, "s44.no_findings")))
    _show(out)


def analysis_findings(ctx: Any, A: Assessment) -> list[str]:
    """The findings of the balance tests as sentences (report language), from the data:
    balances beyond the tolerance, suspected measurements, the largest loss of each
    component, water leakage and discharge, unmetered electricity, the least efficient
    heat equipment."""
    lang = ctx.lang
    out = []
    cl = A.closure
    for r in cl[cl["verdict"].isin(["failed", "warning"])].itertuples():
        where = unit_label(r.unit_id, A.names, lang) if r.scope == "unit" else _t(lang, "overall")
        out.append(
            _t(
                lang,
                "find.unclosed",
                component=component_label(r.component, lang),
                unit=where,
                pct=i18n.fmt_number(r.closure_pct, lang, 2),
                tol=fmt_plain(A.tolerance * 100, lang, 2),
            )
        )
    rec = A.reconciliation
    if rec is not None and not rec.tolerable and rec.suspects:
        z = rec.flows.set_index("flow_id")["test_statistic"]
        top = max(float(z[s]) for s in rec.suspects)
        tied = [s for s in rec.suspects if float(z[s]) >= top * (1 - 1e-6)]
        out.append(
            _t(
                lang,
                "find.suspect",
                flows=_list(lang, [f"{s} {_flow_name(A, s, lang)}" for s in tied]),
            )
        )
    ls = loss_streams(A.io)
    for comp in A.components:
        g = ls[ls["component"] == comp]
        if len(g):
            r = g.iloc[0]
            out.append(
                _t(
                    lang,
                    "find.top_loss",
                    component=component_label(comp, lang),
                    stream=r["stream_id"],
                    material=r["material"],
                    unit=unit_label(str(r["from_unit"]), A.names, lang),
                    value=flow_text(r["value_kg_d"], lang),
                    pct=i18n.fmt_number(r["share_pct"], lang, 1),
                )
            )
    if A.water_indicators is not None:
        ind = A.water_indicators.set_index("indicator")["value"]
        if not _na(ind.get("leakage_rate")):
            out.append(
                _t(
                    lang,
                    "find.water",
                    reuse=i18n.fmt_number(ind.get("reuse_rate"), lang, 1),
                    leak=i18n.fmt_number(ind["leakage_rate"], lang, 2),
                    discharge=i18n.fmt_number(ind.get("discharge_rate"), lang, 1),
                )
            )
    if A.electricity is not None:
        s = A.electricity.summary.iloc[0]
        out.append(_t(lang, "find.electricity", pct=i18n.fmt_number(s["unmetered_pct"], lang, 1)))
    if A.heat is not None and len(A.heat.equipment):
        e = A.heat.equipment
        i = e["efficiency_direct_pct"].astype(float).idxmin()
        r = e.loc[i]
        name = r["name"] if not _na(r["name"]) else r["equipment_id"]
        out.append(
            _t(
                lang,
                "find.heat",
                equipment=f"{r['equipment_id']} {name}",
                eff=i18n.fmt_number(r["efficiency_direct_pct"], lang, 1),
            )
        )
    return out


# =========================================================================== 4.5
def waste_causes(ctx: Any, A: Assessment) -> None:
    """4.5: causes of wastes and losses over the eight aspects (seed 004 clause 5.3.8),
    aspect coverage, and Pareto charts of the quantified losses."""
    from cpkit.display import heading, note, paragraph

    lang = ctx.lang
    causes = A.causes
    out: list[Any] = [heading(_t(lang, "s45.title"), 2), paragraph(_t(lang, "s45.text"))]
    cov = aspect_coverage(causes)
    cov["label"] = [_aspect(a, lang) for a in cov["aspect"]]
    out.append(
        _table(
            ctx,
            cov,
            {
                "label": _col(ctx, "aspect"),
                "findings": _col(ctx, "n_findings", digits=0),
                "cause_ids": _col(ctx, "cause_ids"),
            },
            caption=_t(lang, "s45.coverage_caption"),
            total_row={
                "label": i18n.t("common.total", lang),
                "findings": int(cov["findings"].sum()),
            },
        )
    )
    empty = cov[cov["findings"] == 0]
    if len(empty):
        out.append(note(_t(lang, "s45.gaps", aspects=_list(lang, empty["label"])), "warning"))
    if not len(causes):
        out.append(note(_t(lang, "s45.none"), "warning"))
        _show(out)
        return
    order = {a: i for i, a in enumerate(cov["aspect"])}
    c = causes.copy()
    c["_o"] = c["aspect"].astype(str).map(order)
    c = c.sort_values(["_o", "cause_id"], kind="stable")
    c["aspect_label"] = [_aspect(a, lang) for a in c["aspect"]]
    c["quantity_text"] = [
        "" if _na(q) else f"{fmt_sig(q, lang)} {u if not _na(u) else ''}".strip()
        for q, u in zip(c["quantity"], c["quantity_unit"], strict=True)
    ]
    out.append(
        _table(
            ctx,
            c,
            {
                "cause_id": _col(ctx, "cause_id"),
                "aspect_label": _col(ctx, "aspect"),
                "location": _col(ctx, "location"),
                "waste": _col(ctx, "waste"),
                "cause": _col(ctx, "cause"),
                "quantity_text": _col(ctx, "quantity_lost", align="right"),
            },
            caption=_t(lang, "s45.causes_caption"),
        )
    )
    groups = [(u, g) for u, g in quantity_groups(causes) if len(g) >= 2]
    if groups:
        out.append(heading(_t(lang, "s45.pareto_title"), 3))
        out.append(paragraph(_t(lang, "s45.pareto_text")))
    for unit, g in groups:
        p = pareto(g)
        p["label"] = [
            truncate_label(f"{cid} {loc}", 14)
            for cid, loc in zip(p["cause_id"], p["location"], strict=True)
        ]
        out.append(
            _chart(
                ctx,
                bc.pareto_chart(
                    p[["label", "value", "cumulative_pct"]],
                    title=_t(lang, "chart.pareto_title", unit=unit),
                    y_title=unit,
                    cum_title=_t(lang, "chart.cumulative"),
                ),
            )
        )
    _show(out)


def truncate_label(text: str, n_full_width: int) -> str:
    """``text`` cut to the width of ``n_full_width`` CJK characters (axis labels)."""
    return bc.truncate(text, n_full_width * 10.0, 10.0)


def _aspect(aspect_id: Any, lang: str) -> str:
    k = f"common.aspect.{aspect_id}"
    return i18n.t(k, lang) if i18n.has(k) else str(aspect_id)


# =========================================================================== 4.6
def options_section(ctx: Any, A: Assessment) -> None:
    """4.6: the no/low-cost options proposed and carried out during the assessment
    (options with ``phase_proposed`` 3; seed 004 clause 5.3.8)."""
    from cpkit.display import heading, note, paragraph

    lang = ctx.lang
    o = A.options
    out: list[Any] = [heading(_t(lang, "s46.title"), 2)]
    if not len(o):
        out.append(note(_t(lang, "s46.none"), "info"))
        _show(out)
        return
    low = o[o["cost_class"] == "no_low"].copy()
    high = o[o["cost_class"] != "no_low"]
    inv = float(pd.to_numeric(low["investment_10k_cny"], errors="coerce").fillna(0).sum())
    ben = float(pd.to_numeric(low["annual_benefit_10k_cny"], errors="coerce").fillna(0).sum())
    out.append(
        paragraph(
            _t(
                lang,
                "s46.text",
                n=len(low),
                investment=i18n.fmt_money(inv, lang),
                benefit=i18n.fmt_money(ben, lang),
            )
        )
    )
    if len(low):
        low["aspect_label"] = [_aspect(a, lang) for a in low["aspect"]]
        out.append(
            _table(
                ctx,
                low,
                {
                    "option_id": _col(ctx, "option_id"),
                    "name": _col(ctx, "option_name"),
                    "aspect_label": _col(ctx, "aspect"),
                    "solution": _col(ctx, "solution"),
                    "investment_10k_cny": _col(ctx, "investment", unit=_money_unit(lang), digits=2),
                    "annual_benefit_10k_cny": _col(
                        ctx, "annual_benefit", unit=_money_unit(lang), digits=2
                    ),
                    "status": _col(
                        ctx,
                        "status",
                        fmt=lambda v: "" if _na(v) else i18n.t(f"common.option_status.{v}", lang),
                    ),
                },
                caption=_t(lang, "s46.caption"),
                total_row={
                    "option_id": i18n.t("common.total", lang),
                    "investment_10k_cny": inv,
                    "annual_benefit_10k_cny": ben,
                },
            )
        )
    if len(high):
        out.append(
            note(
                _t(lang, "s46.medium_high", n=len(high), ids=_list(lang, high["option_id"])), "info"
            )
        )
    _show(out)


def _money_unit(lang: str) -> str:
    return i18n.unit_label("10k_CNY", lang)


# =========================================================================== records
def record_figures(ctx: Any, A: Assessment) -> None:
    """Key figures of chapter 4 for the batch index (cpkit.render.record)."""
    from cpkit.render import record

    cl = A.closure
    tot = cl[(cl["component"] == A.components[0]) & (cl["scope"] == "overall")]
    pct = _f(tot["closure_pct"].iloc[0]) if len(tot) else None
    record("balance.overall_closure_pct", pct, unit="%", label=_both("record.overall_closure"))
    n_bad = int(cl["verdict"].isin(["failed", "warning"]).sum())
    record("balance.unclosed_count", n_bad, better="lower", label=_both("record.unclosed_count"))
    rec = A.reconciliation
    record(
        "balance.reconciliation_tolerable",
        None if rec is None else bool(rec.tolerable),
        label=_both("record.reconciliation_tolerable"),
    )
    if A.water_indicators is not None:
        ind = A.water_indicators.set_index("indicator")["value"]
        record(
            "water.reuse_rate_pct",
            _f(ind.get("reuse_rate")),
            unit="%",
            better="higher",
            label=_both("record.water_reuse"),
        )
        record(
            "water.leakage_rate_pct",
            _f(ind.get("leakage_rate")),
            unit="%",
            better="lower",
            label=_both("record.water_leakage"),
        )
    if A.electricity is not None:
        record(
            "electricity.unmetered_pct",
            _f(A.electricity.summary["unmetered_pct"].iloc[0]),
            unit="%",
            label=_both("record.electricity_unmetered"),
        )
    o = A.options
    low = o[o["cost_class"] == "no_low"] if len(o) else o
    record("options.phase3_no_low_count", len(low), label=_both("record.phase3_options"))


def _both(key: str) -> dict[str, str]:
    return {lang: _t(lang, key) for lang in i18n.LANGS}


# =========================================================================== teaching
def closure_formula():
    """The closure δ as a sympy expression with its symbols (calculation reference §7.1):
    ``δ = (ΣI − ΣO − Δm) / ΣI × 100``. Returns (δ, expression, (ΣI, ΣO, Δm))."""
    import sympy as sp

    I_, O_, dm, delta = (sp.Symbol(s) for s in (r"\Sigma I", r"\Sigma O", r"\Delta m", r"\delta"))
    with sp.evaluate(False):
        expr = sp.Mul(
            sp.Mul(sp.Add(I_, sp.Mul(-1, O_), sp.Mul(-1, dm)), sp.Pow(I_, -1)), sp.Integer(100)
        )
    return delta, expr, (I_, O_, dm)


def closure_latex(values: Mapping[str, float] | None = None, lang: str = "zh") -> str:
    """LaTeX of the closure formula; with ``values`` (``inputs``, ``outputs``, ``stock``
    in kg/d) the same formula with the numbers put in (symbols replaced in the printed
    formula, so the reader sees the structure kept)."""
    import sympy as sp

    delta, expr, (I_, O_, dm) = closure_formula()
    latex = sp.latex(sp.Eq(delta, expr, evaluate=False), order="none", mul_symbol="times")
    latex = latex.replace(r"\right) 100", r"\right) \times 100").replace("} 100", r"} \times 100")
    if values is None:
        return latex + r"\ \%"
    body = latex.split("=", 1)[1]
    for sym, key in ((I_, "inputs"), (O_, "outputs"), (dm, "stock")):
        num = i18n.fmt_number(values[key], lang, 2).replace(",", "{,}")
        v = float(values[key])
        body = body.replace(sp.latex(sym), f"\\left({num}\\right)" if v < 0 else num)
    return f"{sp.latex(delta)} = {body}"


def teach_balance(ctx: Any, A: Assessment):
    """Teaching: the balance principle and the closure formula (symbolic)."""
    from cpkit import teaching

    if not ctx.teaching:
        return None
    lang = ctx.lang
    _show(
        teaching.explain(ctx, _t(lang, "teach.balance")),
        teaching.formula(ctx, closure_latex(lang=lang)),
    )
    return None


def _example(A: Assessment) -> tuple[str | None, str | None]:
    """(worked-example unit, exercise unit) of the total-mass balance."""
    comp = TOTAL if TOTAL in A.components else A.components[0]
    cands = example_units(A.closure, comp)
    if not cands:
        return None, None
    return cands[0], (cands[1] if len(cands) > 1 else cands[0])


def _closure_row(A: Assessment, unit_id: str, component: str | None = None) -> Any:
    comp = component or (TOTAL if TOTAL in A.components else A.components[0])
    c = A.closure
    return c[(c["component"] == comp) & (c["unit_id"] == unit_id)].iloc[0]


def teach_example(ctx: Any, A: Assessment):
    """Teaching: one unit's balance equation in symbolic form (sympy), the same with the
    test values, and its closure worked out."""
    if not ctx.teaching:
        return None
    import sympy as sp

    from cpkit import teaching

    lang = ctx.lang
    unit, _ = _example(A)
    if unit is None:
        return None
    comp = TOTAL if TOTAL in A.components else A.components[0]
    sol = A.solution
    eqs = sol.equations[(sol.equations["component"] == comp) & (sol.equations["scope"] == "unit")]
    k = list(eqs["unit_id"]).index(unit)
    sym_eq = sol.sympy_equations(comp)[k]
    row = _closure_row(A, unit, comp)
    vals = {
        "inputs": float(row["inputs_kg_d"]),
        "outputs": float(row["outputs_kg_d"]),
        "stock": float(row["stock_change_kg_d"]),
    }
    _show(
        teaching.explain(ctx, _t(lang, "teach.example", unit=unit_label(unit, A.names, lang))),
        teaching.formula(ctx, sp.latex(sym_eq)),
        teaching.formula(ctx, str(eqs["latex_values"].iloc[k])),
        teaching.formula(
            ctx,
            closure_latex(vals, lang)
            + f" = {i18n.fmt_number(row['closure_pct'], lang, 2)}"
            + r"\ \%",
        ),
    )
    return None


def closure_exercise(ctx: Any, A: Assessment):
    """Teaching exercise: compute one unit's closure % (the answer is
    :func:`cpkit.balances.check_closure`'s). Inactive outside teaching mode."""
    from cpkit import teaching

    lang = ctx.lang
    _, unit = _example(A)
    if unit is None:
        return teaching.exercise(ctx, "p3.closure", _t(lang, "teach.no_exercise"), float("nan"))
    comp = TOTAL if TOTAL in A.components else A.components[0]
    row = _closure_row(A, unit, comp)
    io = A.io[(A.io["component"] == comp) & (A.io["unit_id"] == unit)]
    ins = io[io["direction"] == "input"]
    outs = io[io["direction"] == "output"]

    def terms(d: pd.DataFrame) -> str:
        return " + ".join(f"{r.stream_id} {fmt_plain(r.value_kg_d, lang)}" for r in d.itertuples())

    q = _t(
        lang,
        "teach.exercise_closure",
        unit=unit_label(unit, A.names, lang),
        inputs=terms(ins),
        outputs=terms(outs),
        stock=fmt_plain(row["stock_change_kg_d"], lang),
    )
    return teaching.exercise(
        ctx, "p3.closure", q, float(row["closure_pct"]), unit="%", rel_tol=0.005, abs_tol=0.01
    )


def teach_reconciliation(ctx: Any, A: Assessment):
    """Teaching: data reconciliation by weighted least squares and its formulas."""
    from cpkit import teaching

    if not ctx.teaching:
        return None
    lang = ctx.lang
    _show(
        teaching.explain(ctx, _t(lang, "teach.reconciliation")),
        teaching.formula(
            ctx,
            r"\min_{x}\ \sum_{k} \left(\frac{x_k - y_k}{\sigma_k}\right)^{2}"
            r"\quad \mathrm{s.t.}\quad A\,x = 0",
        ),
        teaching.formula(
            ctx,
            r"\hat{x} = y - V B^{\mathsf{T}} \left(B V B^{\mathsf{T}}\right)^{-1} r,"
            r"\qquad r = B\,y",
        ),
    )
    return None


def teach_chi_square(ctx: Any, A: Assessment):
    """Teaching: the χ² global test and the measurement test, with this dataset's
    numbers (γ, ν, the critical values)."""
    from cpkit import teaching

    if not ctx.teaching or A.reconciliation is None:
        return None
    lang = ctx.lang
    rec = A.reconciliation
    n = i18n.fmt_number
    lay = rec.layers[rec.layers["nu"].fillna(0) > 0]
    lines = [
        r"\gamma = r^{\mathsf{T}} \left(B V B^{\mathsf{T}}\right)^{-1} r \sim \chi^{2}(\nu)",
        r"z_k = \frac{\left|y_k - \hat{x}_k\right|}{\sqrt{W_{kk}}},\qquad "
        r"\alpha_k = 1 - (1 - \alpha)^{1/m}",
    ]
    for r in lay.itertuples():
        sign = r"\le" if bool(r.tolerable) else ">"
        lines.append(
            f"\\gamma_{{\\mathrm{{{r.component}}}}} = {n(r.gamma, lang, 2)} {sign} "
            f"\\chi^{{2}}_{{{n(1 - rec.alpha, lang, 2)}}}({int(r.nu)}) = {n(r.critical_value, lang, 2)}"
        )
    _show(
        teaching.explain(
            ctx,
            _t(
                lang,
                "teach.chi_square",
                alpha=fmt_plain(rec.alpha, lang),
                zcrit=n(rec.measurement_critical_value, lang, 2),
            ),
        ),
        [teaching.formula(ctx, ln) for ln in lines],
    )
    return None


def teach_water(ctx: Any, A: Assessment):
    """Teaching: the GB/T 12452 balance of a water-use unit and the reuse rate."""
    from cpkit import teaching

    if not ctx.teaching or A.water_balance is None:
        return None
    lang = ctx.lang
    _show(
        teaching.explain(ctx, _t(lang, "teach.water")),
        teaching.formula(ctx, r"V_i + V_s + V_{cy} = V_{co} + V_d + V_l + V_{s,out} + V_{cy,out}"),
        teaching.formula(
            ctx, r"R = \frac{V_r}{V_r + V_i} \times 100\ \%,\qquad V_r = V_{cy} + V_s"
        ),
    )
    return None


def reuse_exercise(ctx: Any, A: Assessment):
    """Teaching exercise: the site's water reuse rate R (answer from
    :func:`cpkit.water.indicators`)."""
    from cpkit import teaching

    lang = ctx.lang
    if A.water_balance is None:
        return teaching.exercise(ctx, "p3.reuse", _t(lang, "teach.no_exercise"), float("nan"))
    site = A.water_balance[A.water_balance["level"] == "site"].iloc[0]
    ind = A.water_indicators.set_index("indicator")["value"]
    q = _t(
        lang,
        "teach.exercise_reuse",
        cy=fmt_plain(site["V_cy_m3_d"], lang),
        s=fmt_plain(site["V_s_m3_d"], lang),
        i=fmt_plain(site["V_i_m3_d"], lang),
    )
    return teaching.exercise(
        ctx, "p3.reuse", q, float(ind["reuse_rate"]), unit="%", rel_tol=0.005, abs_tol=0.05
    )


def teach_heat(ctx: Any, A: Assessment):
    """Teaching: direct and indirect heat efficiency (GB/T 10180 practice)."""
    from cpkit import teaching

    if not ctx.teaching or A.heat is None:
        return None
    lang = ctx.lang
    _show(
        teaching.explain(ctx, _t(lang, "teach.heat")),
        teaching.formula(
            ctx,
            r"\eta_{\mathrm{d}} = \frac{Q_1}{Q_r} \times 100\ \%,\qquad "
            r"\eta_{\mathrm{i}} = \left(1 - \frac{\sum Q_{\mathrm{loss}}}{Q_r}\right) \times 100\ \%",
        ),
    )
    return None


def efficiency_exercise(ctx: Any, A: Assessment):
    """Teaching exercise: the indirect efficiency of the first tested equipment (answer
    from :func:`cpkit.energy.heat_balance`)."""
    from cpkit import teaching

    lang = ctx.lang
    if A.heat is None or not len(A.heat.equipment):
        return teaching.exercise(ctx, "p3.heat", _t(lang, "teach.no_exercise"), float("nan"))
    e = A.heat.equipment.iloc[0]
    it = A.heat.items[A.heat.items["equipment_id"] == e["equipment_id"]]
    ins = it[it["category"] == "input"]
    losses = it[it["category"] == "loss"]

    def terms(d: pd.DataFrame) -> str:
        return _list(
            lang,
            [
                f"{heat_item_label(r.item, lang)} {fmt_plain(r.value_mj_h, lang)}"
                for r in d.itertuples()
            ],
        )

    name = e["name"] if not _na(e["name"]) else e["equipment_id"]
    q = _t(
        lang,
        "teach.exercise_heat",
        equipment=f"{e['equipment_id']} {name}",
        inputs=terms(ins),
        losses=terms(losses),
    )
    expected = e["efficiency_indirect_pct"]
    return teaching.exercise(
        ctx,
        "p3.heat",
        q,
        float("nan") if _na(expected) else float(expected),
        unit="%",
        rel_tol=0.005,
        abs_tol=0.05,
    )


def _reconciliation_view(A: Any, rec: Any, comp: str, lang: str, *, top: int | None = None):
    """The reconciliation table of one component ready to show: flows in a readable unit
    (returned with the table), material names, readable flow references and test texts."""
    t = reconciliation_table(rec, comp, top=top)
    fu = flow_unit(t["measured_kg_d"].tolist() + t["reconciled_kg_d"].tolist())
    t = _scaled(
        t,
        [
            "measured_kg_d",
            "sigma_kg_d",
            "reconciled_kg_d",
            "sigma_reconciled_kg_d",
            "adjustment_kg_d",
        ],
        fu,
    )
    t["material"] = [_flow_name(A, str(f), lang) for f in t["flow_id"]]
    t["flow_ref"] = [_flow_ref(str(f)) for f in t["flow_id"]]
    t["z_text"] = _z_text(t, lang)
    return t, fu
