"""Report chapter 6, feasibility analysis of the medium/high-cost options (seed 004 clauses
5.5.1-5.5.7; Appendix B chapter 6), as the phase notebook ``notebooks/05_feasibility.ipynb``
shows it.

The maths lives in :mod:`cpkit.finance` (the CP-report form I, P, D, T, E, F, N, NPV, NPVR,
IRR and the criteria of clause 5.5.6 c) and :mod:`cpkit.risk` (tornado and Monte Carlo);
the options that enter come from :mod:`cpkit.screening` through
:mod:`cpkit.views.options`. As there, *table functions* are plain DataFrame functions,
*section functions* display one section and return None, and *teaching functions* show
nothing when teaching is off. Texts come from ``cpkit/messages/p5.yaml``. Money in 10k CNY
(万元), rates and IRR as fractions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from cpkit import finance, i18n, reference, risk
from cpkit.display import Col
from cpkit.errors import CpkitError, FinanceError
from cpkit.views import options as ov
from cpkit.views.options import (
    flag_col,
    int_col,
    num_col,
    option_label,
    pct_col,
    show,
    text_col,
    tr,
)

__all__ = [
    "FeasibilityChapter",
    "assumptions_table",
    "basic_content",
    "cash_flow_annex",
    "cash_flow_schedule",
    "chapter_intro",
    "criteria_table",
    "effects_by_option",
    "environmental",
    "exercise_npv_sign",
    "exercise_payback",
    "failed_criteria",
    "finance_formulas",
    "financial",
    "form_table",
    "histogram_bins",
    "leading_options",
    "monte_carlo_summary",
    "prepare",
    "ranking_section",
    "ranking_table",
    "recommendations",
    "recommended",
    "risk_section",
    "scenario",
    "teach_finance",
    "technical",
    "tornado_bars",
    "tornado_table",
]

#: rows of the CP-report form: (evaluation column, symbol, message key, unit kind)
FORM_ROWS = (
    ("net_investment_10k_cny", "I", "p5.form.I", "money"),
    ("annual_saving_10k_cny", "P", "p5.form.P", "money_a"),
    ("depreciation_10k_cny", "D", "p5.form.D", "money_a"),
    ("taxable_profit_10k_cny", "T", "p5.form.T", "money_a"),
    ("net_profit_10k_cny", "E", "p5.form.E", "money_a"),
    ("annual_cash_flow_10k_cny", "F", "p5.form.F", "money_a"),
    ("payback_years", "N", "p5.form.N", "years"),
    ("npv_10k_cny", "NPV", "p5.form.NPV", "money"),
    ("npvr", "NPVR", "p5.form.NPVR", "percent"),
    ("irr", "IRR", "p5.form.IRR", "percent"),
    ("dynamic_payback_years", "", "p5.form.dynamic_payback", "years"),
)


# =========================================================================== chapter data
@dataclass(frozen=True)
class FeasibilityChapter:
    """Everything chapter 6 shows, computed from one phase context.

    ``candidates``: the preliminarily feasible medium/high-cost options (chapter 5), in
    the order of the weighted ranking where there is one; ``evaluation``: the CP-report
    form of each (cpkit.finance.evaluate), ``problems``: options that could not be
    evaluated and why; ``cash_flows``: year-by-year flows; ``ranking``: by NPV and NPVR.
    """

    ctx: Any
    lang: str
    options_chapter: ov.OptionsChapter
    candidates: tuple[str, ...]
    assumptions: finance.Assumptions
    evaluation: pd.DataFrame
    cash_flows: pd.DataFrame
    ranking: finance.FinanceRanking | None
    problems: tuple[tuple[str, str], ...]
    mc_draws: int | None
    seed: int | None
    risk_ids: tuple[str, ...]

    @property
    def ds(self) -> Any:
        return self.ctx.ds

    @property
    def tables(self) -> Mapping[str, pd.DataFrame]:
        return self.ctx.ds.tables

    def t(self, key: str, **fmt: Any) -> str:
        return tr(self.lang, key, **fmt)

    @cached_property
    def tornados(self) -> dict[str, pd.DataFrame]:
        """cpkit.risk.tornado of each leading option."""
        return {
            oid: risk.tornado(
                self.tables["options"],
                self.tables["option_cashflows"],
                option_id=oid,
                assumptions=self.assumptions,
            )
            for oid in self.risk_ids
        }

    @cached_property
    def monte_carlo(self) -> dict[str, risk.MonteCarloResult]:
        """cpkit.risk.monte_carlo of each leading option (draws and seed as given)."""
        return {
            oid: risk.monte_carlo(
                self.tables["options"],
                self.tables["option_cashflows"],
                option_id=oid,
                assumptions=self.assumptions,
                draws=self.mc_draws,
                seed=self.seed,
            )
            for oid in self.risk_ids
        }


def _check_int(name: str, value: Any, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise CpkitError(f"parameter {name} must be a whole number ≥ {minimum}, got {value!r}")
    return int(value)


def prepare(
    ctx: Any,
    *,
    mc_draws: int | None = None,
    seed: int | None = None,
    risk_options: Sequence[str] | str | None = None,
) -> FeasibilityChapter:
    """Evaluate the medium/high-cost candidates of ``ctx.ds`` (a PhaseContext whose
    dataset parameters already carry the notebook's discount_rate, benchmark_irr,
    benchmark_payback_years and tax_rate).

    ``mc_draws`` (None: ``finance/risk.yaml``) and ``seed`` set the Monte Carlo run;
    ``risk_options`` names the options analysed for risk (None: the leading ones, best by
    NPV and best by NPVR).
    """
    draws = _check_int("mc_draws", mc_draws, 2)
    seed = _check_int("seed", seed, 0)
    och = ov.prepare(ctx)
    options = ctx.ds.tables["options"]
    cfs = ctx.ds.tables["option_cashflows"]
    eligible = [
        str(o)
        for o in och.screened.loc[och.screened["group"] == "preliminary_medium_high", "option_id"]
    ]
    if och.ranking is not None:
        ranked = [str(o) for o in och.ranking.ranking["option_id"]]
        eligible = ranked + [o for o in eligible if o not in ranked]
    a = finance.resolve_assumptions(ctx.ds.parameters)
    frames, flows, problems = [], [], []
    for oid in eligible:
        try:
            frames.append(
                finance.evaluate(
                    options, cfs, assumptions=a, option_ids=[oid], interpolated_irr=True
                )
            )
            flows.append(finance.cash_flow_table(options, cfs, assumptions=a, option_ids=[oid]))
        except FinanceError as exc:
            problems.append((oid, str(exc)))
    ev = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    cf = pd.concat(flows, ignore_index=True) if flows else pd.DataFrame()
    if frames:
        ev.attrs["basis"] = a.as_dict()
    ranking = finance.rank(ev) if frames else None
    ids = [str(o) for o in ev["option_id"]] if frames else []
    if isinstance(risk_options, str):
        risk_options = [x.strip() for x in risk_options.replace(";", ",").split(",") if x.strip()]
    if risk_options is not None:
        unknown = sorted(set(map(str, risk_options)) - set(ids))
        if unknown:
            raise CpkitError(
                f"parameter risk_options names {', '.join(unknown)}, which are not evaluated "
                f"medium/high-cost options (evaluated: {', '.join(ids) or 'none'})"
            )
        risk_ids = tuple(str(o) for o in risk_options)
    else:
        risk_ids = leading_options(ev, ranking) if frames else ()
    return FeasibilityChapter(
        ctx=ctx,
        lang=ctx.lang,
        options_chapter=och,
        candidates=tuple(eligible),
        assumptions=a,
        evaluation=ev,
        cash_flows=cf,
        ranking=ranking,
        problems=tuple(problems),
        mc_draws=draws,
        seed=seed,
        risk_ids=risk_ids,
    )


def leading_options(
    evaluation: pd.DataFrame, ranking: finance.FinanceRanking | None
) -> tuple[str, ...]:
    """The options the risk analysis looks at: the best by NPV and the best by NPVR among
    those meeting the criteria (one option when both agree); when none meets them, the
    option with the largest NPV."""
    if ranking is not None and (ranking.best_by_npv or ranking.best_by_npvr):
        out: list[str] = []
        for oid in (*ranking.best_by_npv, *ranking.best_by_npvr):
            if oid not in out:
                out.append(oid)
        return tuple(out)
    if evaluation.empty:
        return ()
    k = int(np.argmax(evaluation["npv_10k_cny"].astype(float).to_numpy()))
    return (str(evaluation["option_id"].iloc[k]),)


# =========================================================================== table functions
def _source_text(source: str, lang: str) -> str:
    if source == "dataset parameters":
        return tr(lang, "p5.source.dataset")
    if source == "set in the call":
        return tr(lang, "p5.source.call")
    if source.startswith("data/reference/"):
        return tr(lang, "p5.source.reference", path=source.partition(": ")[0])
    return source


def assumptions_table(a: finance.Assumptions, lang: str) -> pd.DataFrame:
    """The assumptions of the evaluation with their sources: parameter (label), value
    (formatted), source (label)."""
    rows = [
        ("discount_rate", i18n.fmt_percent(a.discount_rate, lang, 2)),
        ("tax_rate", i18n.fmt_percent(a.tax_rate, lang, 2)),
        ("benchmark_irr", i18n.fmt_percent(a.benchmark_irr, lang, 2)),
        (
            "benchmark_payback_years",
            i18n.fmt_quantity(
                a.benchmark_payback_years, "year", lang, ov.digits_for([a.benchmark_payback_years])
            ),
        ),
        ("depreciation_years", i18n.fmt_quantity(a.depreciation_years, "year", lang, 0)),
        ("loss_tax", tr(lang, f"p5.loss_tax.{a.loss_tax}")),
    ]
    return pd.DataFrame(
        {
            "parameter": [tr(lang, f"p5.param.{k}") for k, _ in rows],
            "value": [v for _, v in rows],
            "source": [_source_text(str(a.sources.get(k, "")), lang) for k, _ in rows],
        }
    )


def _fmt_form(value: Any, kind: str, lang: str, status: str | None = None) -> str:
    if kind == "percent" and status in ("multiple", "none"):
        return tr(lang, f"p5.irr_status.{status}")
    if i18n.is_missing(value) or (isinstance(value, float) and math.isnan(value)):
        return tr(lang, "p5.form.not_reached") if kind == "years" else i18n.missing(lang)
    if kind == "percent":
        return i18n.fmt_percent(value, lang, 2)
    return i18n.fmt_number(value, lang, 2)


def form_table(evaluation: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The CP-report form (calculation reference 6.1): one row per indicator (I, P, D, T,
    E, F, N, NPV, NPVR, IRR, dynamic payback), one column per option (its id), values
    formatted for the language; columns symbol, indicator, unit, label (indicator, symbol
    and unit in one text), then the option ids.
    An IRR with several roots or none shows as text; a payback not reached within the
    life shows as such."""
    units = {
        "money": i18n.unit_label("10k_CNY", lang),
        "money_a": tr(lang, "p4.unit.money_a"),
        "years": i18n.unit_label("year", lang),
        "percent": "%",
    }
    out = pd.DataFrame(
        {
            "symbol": [s for _, s, _, _ in FORM_ROWS],
            "indicator": [tr(lang, k) for _, _, k, _ in FORM_ROWS],
            "unit": [units[u] for _, _, _, u in FORM_ROWS],
            "label": [
                tr(
                    lang,
                    "p5.form.row" if sym else "p5.form.row_nosym",
                    name=tr(lang, k),
                    symbol=sym,
                    unit=units[u],
                )
                for _, sym, k, u in FORM_ROWS
            ],
        }
    )
    for rec in evaluation.to_dict("records"):
        out[str(rec["option_id"])] = [
            _fmt_form(rec[col], kind, lang, rec["irr_status"] if col == "irr" else None)
            for col, _, _, kind in FORM_ROWS
        ]
    return out


def failed_criteria(row: Mapping[str, Any], a: finance.Assumptions, lang: str) -> list[str]:
    """The criteria of seed 004 clause 5.5.6 c an evaluated option fails, in words."""
    out = []
    if not bool(row["npv_ok"]):
        out.append(tr(lang, "p5.fail.npv", npv=i18n.fmt_number(row["npv_10k_cny"], lang, 2)))
    if i18n.is_missing(row["irr_ok"]):
        out.append(tr(lang, "p5.fail.irr_multiple"))
    elif not bool(row["irr_ok"]):
        if row["irr_status"] == "none":
            out.append(tr(lang, "p5.fail.irr_none"))
        else:
            out.append(
                tr(
                    lang,
                    "p5.fail.irr",
                    irr=i18n.fmt_percent(row["irr"], lang, 2),
                    benchmark=i18n.fmt_percent(a.benchmark_irr, lang, 2),
                )
            )
    if not bool(row["payback_ok"]):
        if i18n.is_missing(row["payback_years"]) or math.isnan(float(row["payback_years"])):
            out.append(tr(lang, "p5.fail.payback_never"))
        else:
            out.append(
                tr(
                    lang,
                    "p5.fail.payback",
                    years=i18n.fmt_number(row["payback_years"], lang, 2),
                    benchmark=i18n.fmt_number(
                        a.benchmark_payback_years,
                        lang,
                        ov.digits_for([a.benchmark_payback_years]),
                    ),
                )
            )
    return out


def criteria_table(
    evaluation: pd.DataFrame, a: finance.Assumptions, options: pd.DataFrame, lang: str
) -> pd.DataFrame:
    """The criteria of seed 004 clause 5.5.6 c per option: option (label), npv_ok, irr_ok,
    payback_ok, verdict (label), failed (text)."""
    names = dict(zip(options["option_id"].astype(str), options["name"], strict=True))
    rows = []
    for rec in evaluation.to_dict("records"):
        oid = str(rec["option_id"])
        rows.append(
            {
                "option": option_label(oid, names.get(oid)),
                "npv_ok": rec["npv_ok"],
                "irr_ok": rec["irr_ok"],
                "payback_ok": rec["payback_ok"],
                "verdict": tr(lang, f"p5.verdict.{rec['verdict']}"),
                "failed": i18n.fmt_list(failed_criteria(rec, a, lang), lang) or None,
            }
        )
    return pd.DataFrame(
        rows, columns=["option", "npv_ok", "irr_ok", "payback_ok", "verdict", "failed"]
    )


def cash_flow_schedule(cash_flows: pd.DataFrame, option_id: str, lang: str) -> pd.DataFrame:
    """One option's year-by-year cash flows for the report (cpkit.finance.cash_flow_table):
    year, phase (label), then the money columns unchanged."""
    cf = cash_flows[cash_flows["option_id"].astype(str) == str(option_id)]
    out = cf.drop(columns=["option_id"]).reset_index(drop=True)
    out["phase"] = [tr(lang, f"p5.phase.{p}") for p in out["phase"]]
    return out


def ranking_table(ranking: finance.FinanceRanking) -> pd.DataFrame:
    """Ranking by NPV and NPVR (cpkit.finance.rank) with an option label column."""
    t = ranking.table.copy()
    t["option"] = [option_label(o, n) for o, n in zip(t["option_id"], t["name"], strict=True)]
    return t


def effects_by_option(
    option_effects: pd.DataFrame, option_id: str, tables: Mapping[str, pd.DataFrame], lang: str
) -> pd.DataFrame:
    """Expected annual reductions and savings of one option (option_effects): item (label),
    expected, unit (label)."""
    eff = option_effects[option_effects["option_id"].astype(str) == str(option_id)]
    names = ov._item_names(tables, lang)
    return pd.DataFrame(
        {
            "item": [names.get(str(i), str(i)) for i in eff["item"]],
            "expected": eff["expected"].to_numpy(),
            "unit": [i18n.unit_label(str(u), lang) for u in eff["unit"]],
        }
    )


def scenario(
    options: pd.DataFrame,
    cashflows: pd.DataFrame,
    *,
    revenue_factor: float = 1.0,
    saving_factor: float = 1.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Copies of the options and option_cashflows tables with the annual revenue increase
    (price and sales effects) multiplied by ``revenue_factor`` and the operating-cost
    saving by ``saving_factor`` -- the same change as the revenue and operating_saving
    variables of cpkit.risk. A year-by-year schedule's net saving P is split between
    revenue and saving in the proportion of the options table, as cpkit.finance does
    (all saving when that proportion is undefined)."""
    for name, f in (("revenue_factor", revenue_factor), ("saving_factor", saving_factor)):
        if not math.isfinite(float(f)) or float(f) < 0:
            raise CpkitError(f"{name} must be a number ≥ 0, got {f!r}")
    o = options.copy()
    for col, f in (
        ("annual_revenue_increase_10k_cny", revenue_factor),
        ("annual_cost_saving_10k_cny", saving_factor),
    ):
        if col in o:
            o[col] = pd.to_numeric(o[col]).astype("Float64") * float(f)
    c = cashflows.copy()
    if len(c) and "net_saving_10k_cny" in c:
        share = {}
        for rec in options.to_dict("records"):
            rev = rec.get("annual_revenue_increase_10k_cny")
            cs = rec.get("annual_cost_saving_10k_cny")
            ok = not i18n.is_missing(rev) and not i18n.is_missing(cs)
            s = 0.0
            if ok and float(rev) >= 0 and float(cs) >= 0 and float(rev) + float(cs) > 0:
                s = float(rev) / (float(rev) + float(cs))
            share[str(rec["option_id"])] = s
        blend = [
            share.get(str(oid), 0.0) * revenue_factor
            + (1 - share.get(str(oid), 0.0)) * saving_factor
            for oid in c["option_id"]
        ]
        c["net_saving_10k_cny"] = pd.to_numeric(c["net_saving_10k_cny"]).astype(
            "Float64"
        ) * pd.array(blend, dtype="Float64")
    return o, c


def _variable_value(value: Any, unit_text: str, lang: str) -> str:
    if i18n.is_missing(value) or (isinstance(value, float) and math.isnan(value)):
        return i18n.missing(lang)
    if unit_text == "fraction":
        return i18n.fmt_percent(value, lang, 2)
    if unit_text == "10k CNY/a":
        return f"{i18n.fmt_number(value, lang, 2)} {tr(lang, 'p4.unit.money_a')}"
    if unit_text == "10k CNY":
        return f"{i18n.fmt_number(value, lang, 2)} {i18n.unit_label('10k_CNY', lang)}"
    return f"{i18n.fmt_number(value, lang, 2)} {unit_text}"


def tornado_table(tornado: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The tornado (cpkit.risk.tornado) for the report: variable (label), base, low, high
    (values with units, text), npv_low_10k_cny, npv_high_10k_cny, npv_swing_10k_cny,
    switch_change (relative change of the variable at which NPV is 0), switch_value
    (that value, text; for the discount rate it is the IRR)."""
    return pd.DataFrame(
        {
            "variable": tornado[f"name_{lang}"].astype(str).to_numpy(),
            "base": [
                _variable_value(v, u, lang)
                for v, u in zip(tornado["base_value"], tornado["unit"], strict=True)
            ],
            "npv_low_10k_cny": tornado["npv_low_10k_cny"].to_numpy(),
            "npv_high_10k_cny": tornado["npv_high_10k_cny"].to_numpy(),
            "npv_swing_10k_cny": tornado["npv_swing_10k_cny"].to_numpy(),
            "switch_change": tornado["switch_change"].to_numpy(),
            "switch_value": [
                _variable_value(v, u, lang)
                for v, u in zip(tornado["switch_value"], tornado["unit"], strict=True)
            ],
        }
    )


def tornado_bars(tornado: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The tornado frame (cpkit.risk.tornado) reshaped for the chart: variable (label),
    variable_order, side (label with the swing), npv_10k_cny, base_10k_cny; variables with
    no effect (base value 0) left out."""
    swing = tornado.attrs.get("basis", {}).get("swing", {})
    rows = []
    k = 0
    for rec in tornado.to_dict("records"):
        if rec["low_value"] == rec["high_value"]:
            continue
        s = float(swing.get(rec["variable"], 0.0)) if isinstance(swing, Mapping) else 0.0
        for side, col in (("low", "npv_low_10k_cny"), ("high", "npv_high_10k_cny")):
            rows.append(
                {
                    "variable": str(rec[f"name_{lang}"]),
                    "variable_order": k,
                    "side": tr(lang, f"p5.tornado.{side}", swing=i18n.fmt_percent(s, lang, 0)),
                    "npv_10k_cny": float(rec[col]),
                    "base_10k_cny": float(rec["npv_base_10k_cny"]),
                }
            )
        k += 1
    return pd.DataFrame(
        rows, columns=["variable", "variable_order", "side", "npv_10k_cny", "base_10k_cny"]
    )


def histogram_bins(npv: np.ndarray) -> pd.DataFrame:
    """Monte Carlo NPVs binned for the chart (numpy's 'auto' bin rule): bin_start,
    bin_end, draws, negative (the bin lies below zero)."""
    x = np.asarray(npv, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise CpkitError("no finite NPV among the Monte Carlo draws")
    counts, edges = np.histogram(x, bins="auto")
    return pd.DataFrame(
        {
            "bin_start": edges[:-1],
            "bin_end": edges[1:],
            "draws": counts,
            "negative": edges[1:] <= 0,
        }
    )


def monte_carlo_summary(result: risk.MonteCarloResult, lang: str) -> pd.DataFrame:
    """The Monte Carlo statistics for the report: statistic (label), npv_10k_cny, irr."""
    s = result.summary
    labels = []
    for stat in s["statistic"]:
        st = str(stat)
        if st.startswith("p"):
            labels.append(tr(lang, "p5.mc.percentile", p=st[1:]))
        else:
            labels.append(tr(lang, f"p5.mc.{st}"))
    return pd.DataFrame({"statistic": labels, "npv_10k_cny": s["npv_10k_cny"], "irr": s["irr"]})


def recommendations(evaluation: pd.DataFrame, options: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The options recommended for implementation (seed 004 clause 5.5.7).

    An option is recommended when it meets the financial criteria (verdict feasible, or
    review when only the IRR criterion cannot be applied) or when the experts recommend
    it (options table ``expert_recommended``) -- typically a compliance or toxic-substance
    option that does not pay for itself; the reason says which.

    Columns: option_id, option (label), verdict (label), npv_10k_cny, irr, mandatory_issue,
    expert_recommended, recommended, reason (label), status (label)."""
    opts = options.set_index(options["option_id"].astype(str))
    rows = []
    for rec in evaluation.to_dict("records"):
        oid = str(rec["option_id"])
        o = opts.loc[oid]
        expert = o.get("expert_recommended", pd.NA)
        mand = o.get("mandatory_issue", pd.NA)
        fin_ok = rec["verdict"] in ("feasible", "review")
        expert_yes = not i18n.is_missing(expert) and bool(expert)
        mand_yes = not i18n.is_missing(mand) and bool(mand)
        if fin_ok:
            reason = "criteria" if rec["verdict"] == "feasible" else "review"
        elif expert_yes and mand_yes:
            reason = "compliance"
        elif expert_yes:
            reason = "experts"
        else:
            reason = "fails"
        rows.append(
            {
                "option_id": oid,
                "option": option_label(oid, o["name"]),
                "verdict": tr(lang, f"p5.verdict.{rec['verdict']}"),
                "npv_10k_cny": float(rec["npv_10k_cny"]),
                "irr": rec["irr"],
                "mandatory_issue": mand,
                "expert_recommended": expert,
                "recommended": fin_ok or expert_yes,
                "reason": tr(lang, f"p5.reason.{reason}"),
                "status": ov._label(lang, "common.option_status", o.get("status")),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "option_id",
            "option",
            "verdict",
            "npv_10k_cny",
            "irr",
            "mandatory_issue",
            "expert_recommended",
            "recommended",
            "reason",
            "status",
        ],
    )


# =========================================================================== sections
def _names(ch: FeasibilityChapter) -> dict[str, Any]:
    o = ch.tables["options"]
    return dict(zip(o["option_id"].astype(str), o["name"], strict=True))


def _label_of(ch: FeasibilityChapter, oid: str) -> str:
    return option_label(oid, _names(ch).get(oid))


def chapter_intro(ch: FeasibilityChapter) -> None:
    """Chapter heading and which options enter the analysis."""
    lang = ch.lang
    ids = list(ch.candidates)
    items: list[Any] = [ov._heading(ch.t("p5.title"), 1)]
    if not ids:
        items.append(ov._para(ch.t("p5.intro_none")))
    else:
        items.append(
            ov._para(ch.t("p5.intro", n=i18n.fmt_int(len(ids), lang), ids=i18n.fmt_list(ids, lang)))
        )
    if ch.problems:
        items.append(
            ov._note(
                ch.t(
                    "p5.problems",
                    details="; ".join(f"{oid}: {msg}" for oid, msg in ch.problems),
                ),
                "warning",
            )
        )
    show(*items)


def candidates_table(ch: FeasibilityChapter) -> pd.DataFrame:
    """6.1: the candidates with aspect, investment, weighted rank (chapter 5) and status."""
    lang = ch.lang
    o = ch.tables["options"].set_index(ch.tables["options"]["option_id"].astype(str))
    labels, _ = ov._aspect_maps(lang)
    rk = {}
    if ch.options_chapter.ranking is not None:
        r = ch.options_chapter.ranking.ranking
        rk = dict(zip(r["option_id"].astype(str), r["rank"], strict=True))
    return pd.DataFrame(
        {
            "option": [option_label(i, o.loc[i, "name"]) for i in ch.candidates],
            "aspect": [labels.get(str(o.loc[i, "aspect"]), "") for i in ch.candidates],
            "investment_10k_cny": [o.loc[i, "investment_10k_cny"] for i in ch.candidates],
            "rank": [rk.get(i) for i in ch.candidates],
            "status": [
                ov._label(lang, "common.option_status", o.loc[i, "status"]) for i in ch.candidates
            ],
        }
    )


def preliminary(ch: FeasibilityChapter) -> None:
    """6.1: preliminary research of the options (clause 5.5.2)."""
    lang = ch.lang
    items: list[Any] = [ov._heading(ch.t("p5.s61"), 2), ov._para(ch.t("p5.s61_text"))]
    if ch.candidates:
        items.append(
            ov._table(
                candidates_table(ch),
                {
                    "option": Col(ch.t("p4.col.name")),
                    "aspect": Col(ch.t("p4.col.aspect")),
                    "investment_10k_cny": num_col(
                        ch.t("p4.col.investment"), lang, unit_id="10k_CNY"
                    ),
                    "rank": int_col(ch.t("p5.col.weighted_rank"), lang),
                    "status": Col(ch.t("p4.col.status")),
                },
                lang,
                caption=ch.t("p5.caption.candidates"),
            )
        )
    show(*items)


def basic_content(ch: FeasibilityChapter) -> None:
    """6.2: the basic content of each option (clause 5.5.3): what it is, where, how, the
    investment, life and construction period, and its expected effects."""
    from cpkit.display import key_values

    lang = ch.lang
    o = ch.tables["options"].set_index(ch.tables["options"]["option_id"].astype(str))
    labels, _ = ov._aspect_maps(lang)
    items: list[Any] = [ov._heading(ch.t("p5.s62"), 2), ov._para(ch.t("p5.s62_text"))]
    miss = i18n.missing(lang)
    for oid in ch.candidates:
        r = o.loc[oid]
        eff = effects_by_option(ch.tables["option_effects"], oid, ch.tables, lang)
        eff_text = (
            i18n.fmt_list(
                [
                    f"{i} {i18n.fmt_number(v, lang, ov.digits_for([v]))} {u}"
                    for i, v, u in zip(eff["item"], eff["expected"], eff["unit"], strict=True)
                    if not i18n.is_missing(v)
                ],
                lang,
            )
            or miss
        )

        def years(col: str, r: Any = r) -> str:
            v = r.get(col, pd.NA)
            return miss if i18n.is_missing(v) else i18n.fmt_quantity(v, "year", lang, 0)

        pairs = [
            (ch.t("p4.col.aspect"), labels.get(str(r["aspect"]), str(r["aspect"]))),
            (ch.t("p4.col.location"), ov._str(r.get("location")) or miss),
            (ch.t("p5.content.problem"), str(r["problem"])),
            (ch.t("p5.content.solution"), str(r["solution"])),
            (ch.t("p5.content.investment"), ov._money(r["investment_10k_cny"], lang)),
            (ch.t("p5.content.subsidy"), ov._money(r.get("subsidy_10k_cny"), lang)),
            (ch.t("p5.content.construction"), years("construction_years")),
            (ch.t("p5.content.lifetime"), years("lifetime_years")),
            (ch.t("p5.content.effects"), eff_text),
            (ch.t("p4.col.status"), ov._label(lang, "common.option_status", r["status"])),
        ]
        items += [
            ov._heading(_label_of(ch, oid), 3),
            key_values(pairs, lang=lang),
        ]
    show(*items)


def technical(ch: FeasibilityChapter) -> None:
    """6.3: technical assessment of each option (clause 5.5.4), from the options table."""
    _assessment(ch, "technical_assessment", "p5.s63", "p5.s63_text", "p5.caption.technical")


def environmental(ch: FeasibilityChapter) -> None:
    """6.4: environmental assessment (clause 5.5.5): the options' assessment and their
    expected annual reductions and savings (option_effects)."""
    lang = ch.lang
    _assessment(ch, "environmental_assessment", "p5.s64", "p5.s64_text", "p5.caption.environmental")
    if not ch.candidates:
        return
    frames = []
    for oid in ch.candidates:
        e = effects_by_option(ch.tables["option_effects"], oid, ch.tables, lang)
        frames.append(e.assign(option=_label_of(ch, oid)))
    per = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    items: list[Any] = []
    if len(per):
        items.append(
            ov._table(
                per,
                {
                    "option": Col(ch.t("p4.col.name")),
                    "item": Col(ch.t("p4.col.item")),
                    "expected": num_col(ch.t("p5.col.expected"), lang, digits=2),
                    "unit": Col(ch.t("p4.col.unit")),
                },
                lang,
                caption=ch.t("p5.caption.effects"),
            )
        )
    else:
        items.append(ov._note(ch.t("p5.no_effects"), "warning"))
    show(*items)


def _assessment(ch: FeasibilityChapter, column: str, head: str, text: str, caption: str) -> None:
    lang = ch.lang
    o = ch.tables["options"].set_index(ch.tables["options"]["option_id"].astype(str))
    items: list[Any] = [ov._heading(ch.t(head), 2), ov._para(ch.t(text))]
    if not ch.candidates:
        show(*items)
        return
    df = pd.DataFrame(
        {
            "option": [_label_of(ch, i) for i in ch.candidates],
            "text": [
                ov._str(o.loc[i, column]) if column in o.columns else None for i in ch.candidates
            ],
        }
    )
    missing = [i for i, t in zip(ch.candidates, df["text"], strict=True) if t is None]
    items.append(
        ov._table(
            df,
            {"option": Col(ch.t("p4.col.name")), "text": text_col(ch.t(f"{head}_col"), lang)},
            lang,
            caption=ch.t(caption),
        )
    )
    if missing:
        items.append(ov._note(ch.t("p5.assessment_missing", ids=ov._ids(missing, lang)), "warning"))
    show(*items)


def _form_outputs(
    ch: FeasibilityChapter,
    evaluation: pd.DataFrame,
    cash_flows: pd.DataFrame,
    a: finance.Assumptions,
    per_table: int = 4,
) -> tuple[Any, ...]:
    from cpkit.charts.finance import cumulative_cash_flow

    lang = ch.lang
    form = form_table(evaluation, lang)
    ids = [str(o) for o in evaluation["option_id"]]
    out: list[Any] = []
    for start in range(0, len(ids), per_table):
        chunk = ids[start : start + per_table]
        cols = {"label": Col(ch.t("p5.col.indicator"))}
        cols |= {oid: Col(_label_of(ch, oid), align="right") for oid in chunk}
        out.append(
            ov._table(
                form,
                cols,
                lang,
                caption=ch.t("p5.caption.form") if start == 0 else None,
            )
        )
    crit = criteria_table(evaluation, a, ch.tables["options"], lang)
    out.append(
        ov._table(
            crit,
            {
                "option": Col(ch.t("p4.col.name")),
                "npv_ok": flag_col(ch.t("p5.col.npv_ok"), lang),
                "irr_ok": flag_col(
                    ch.t("p5.col.irr_ok", benchmark=i18n.fmt_percent(a.benchmark_irr, lang, 1)),
                    lang,
                ),
                "payback_ok": flag_col(
                    ch.t(
                        "p5.col.payback_ok",
                        benchmark=i18n.fmt_number(
                            a.benchmark_payback_years,
                            lang,
                            ov.digits_for([a.benchmark_payback_years]),
                        ),
                    ),
                    lang,
                ),
                "verdict": Col(ch.t("p5.col.verdict")),
                "failed": text_col(ch.t("p5.col.failed"), lang),
            },
            lang,
            caption=ch.t("p5.caption.criteria"),
        )
    )
    flows = cash_flows.assign(option=[_label_of(ch, str(o)) for o in cash_flows["option_id"]])[
        ["option", "year", "cumulative_discounted_10k_cny"]
    ]
    out.append(
        ov._chart(
            cumulative_cash_flow(
                flows,
                year_title=ch.t("p5.col.year"),
                value_title=ch.t("p5.chart.cumulative_axis"),
                option_title=ch.t("p4.col.option"),
                title=ch.t("p5.chart.cumulative", rate=i18n.fmt_percent(a.discount_rate, lang, 1)),
            ),
            ch.ctx,
        )
    )
    return tuple(out)


def _scenario_view(
    ch: FeasibilityChapter, discount_rate: float, revenue_factor: float, saving_factor: float
) -> tuple[Any, ...]:
    """The form, criteria and cumulative chart for a scenario (the widget callback)."""
    base = (
        math.isclose(discount_rate, ch.assumptions.discount_rate)
        and revenue_factor == 1.0
        and saving_factor == 1.0
    )
    if base:
        return _form_outputs(ch, ch.evaluation, ch.cash_flows, ch.assumptions)
    a = finance.with_assumptions(ch.assumptions, discount_rate=float(discount_rate))
    o, c = scenario(
        ch.tables["options"],
        ch.tables["option_cashflows"],
        revenue_factor=revenue_factor,
        saving_factor=saving_factor,
    )
    ids = [str(x) for x in ch.evaluation["option_id"]]
    ev = finance.evaluate(o, c, assumptions=a, option_ids=ids, interpolated_irr=True)
    cf = finance.cash_flow_table(o, c, assumptions=a, option_ids=ids)
    note = ov._note(
        ch.t(
            "p5.scenario.note",
            rate=i18n.fmt_percent(discount_rate, ch.lang, 1),
            revenue=i18n.fmt_percent(revenue_factor, ch.lang, 0),
            saving=i18n.fmt_percent(saving_factor, ch.lang, 0),
        ),
        "warning",
    )
    return (note, *_form_outputs(ch, ev, cf, a))


def _scenario_controls(ch: FeasibilityChapter) -> dict[str, Any]:
    a = ch.assumptions
    swing = float(reference.load_yaml("finance/risk.yaml")["tornado"]["swing"])
    defaults = {"discount_rate": a.discount_rate, "revenue_factor": 1.0, "saving_factor": 1.0}
    if not ch.ctx.interactive:
        return defaults
    import ipywidgets as widgets

    top = 2 * max(a.discount_rate, a.benchmark_irr)
    style = {"description_width": "initial"}
    layout = widgets.Layout(width="460px")
    return {
        "discount_rate": widgets.FloatSlider(
            value=a.discount_rate,
            min=0.0,
            max=top,
            step=top / 40,
            readout_format=".1%",
            description=ch.t("p5.param.discount_rate"),
            continuous_update=False,
            style=style,
            layout=layout,
        ),
        "revenue_factor": widgets.FloatSlider(
            value=1.0,
            min=max(0.0, 1 - 2 * swing),
            max=1 + 2 * swing,
            step=swing / 10,
            readout_format=".0%",
            description=ch.t("p5.scenario.revenue"),
            continuous_update=False,
            style=style,
            layout=layout,
        ),
        "saving_factor": widgets.FloatSlider(
            value=1.0,
            min=max(0.0, 1 - 2 * swing),
            max=1 + 2 * swing,
            step=swing / 10,
            readout_format=".0%",
            description=ch.t("p5.scenario.saving"),
            continuous_update=False,
            style=style,
            layout=layout,
        ),
    }


def financial(ch: FeasibilityChapter) -> None:
    """6.5: the financial assessment (clause 5.5.6): assumptions, the CP-report form, the
    criteria with the verdict, the cumulative discounted cash flow; with sliders for the
    discount rate, the revenue (price) and the savings when interactive."""
    from cpkit.display import explore

    lang = ch.lang
    items: list[Any] = [
        ov._heading(ch.t("p5.s65"), 2),
        ov._para(ch.t("p5.s65_text")),
        ov._table(
            assumptions_table(ch.assumptions, lang),
            {
                "parameter": Col(ch.t("p5.col.parameter")),
                "value": Col(ch.t("p5.col.value")),
                "source": Col(ch.t("p4.col.source")),
            },
            lang,
            caption=ch.t("p5.caption.assumptions"),
        ),
    ]
    if ch.evaluation.empty:
        items.append(ov._note(ch.t("p5.nothing_to_evaluate"), "warning"))
        show(*items)
        return
    items += _basis_notes(ch)
    show(*items)
    explore(
        lambda discount_rate, revenue_factor, saving_factor: _scenario_view(
            ch, float(discount_rate), float(revenue_factor), float(saving_factor)
        ),
        _scenario_controls(ch),
        interactive=bool(ch.ctx.interactive),
    )


def _basis_notes(ch: FeasibilityChapter) -> list[Any]:
    ev = ch.evaluation
    lang = ch.lang
    out = []
    sched = list(ev.loc[ev["cash_flow_basis"] == "schedule", "option_id"].astype(str))
    if sched:
        out.append(ov._note(ch.t("p5.note.schedule", ids=ov._ids(sched, lang))))
    cons = list(ev.loc[ev["construction_years"].astype(int) > 0, "option_id"].astype(str))
    if cons:
        out.append(ov._note(ch.t("p5.note.construction", ids=ov._ids(cons, lang))))
    loss = list(ev.loc[ev["loss_years"].astype(int) > 0, "option_id"].astype(str))
    if loss:
        out.append(
            ov._note(
                ch.t(
                    "p5.note.loss",
                    ids=ov._ids(loss, lang),
                    rule=ch.t(f"p5.loss_tax.{ch.assumptions.loss_tax}"),
                )
            )
        )
    short = list(
        ev.loc[
            ev["depreciation_years"].astype(int) > ev["lifetime_years"].astype(int), "option_id"
        ].astype(str)
    )
    if short:
        out.append(ov._note(ch.t("p5.note.depreciation", ids=ov._ids(short, lang)), "warning"))
    return out


def cash_flow_section(ch: FeasibilityChapter) -> None:
    """6.5: the year-by-year cash-flow table of the leading option(s)."""
    for oid in ch.risk_ids:
        show(_schedule_table(ch, oid, caption=True))


def _schedule_table(ch: FeasibilityChapter, oid: str, caption: bool) -> Any:
    lang = ch.lang
    df = cash_flow_schedule(ch.cash_flows, oid, lang)
    money = [
        ("investment_10k_cny", "p5.cf.investment"),
        ("net_saving_10k_cny", "p5.cf.P"),
        ("depreciation_10k_cny", "p5.cf.D"),
        ("income_tax_10k_cny", "p5.cf.tax"),
        ("operating_cash_flow_10k_cny", "p5.cf.F"),
        ("salvage_10k_cny", "p5.cf.salvage"),
        ("net_cash_flow_10k_cny", "p5.cf.net"),
        ("discounted_cash_flow_10k_cny", "p5.cf.discounted"),
        ("cumulative_discounted_10k_cny", "p5.cf.cumulative"),
    ]
    if not (df["salvage_10k_cny"] != 0).any():
        money = [m for m in money if m[0] != "salvage_10k_cny"]
    cols: dict[str, Col] = {"year": int_col(ch.t("p5.col.year"), lang)}
    cols |= {c: num_col(ch.t(k), lang, digits=2) for c, k in money}
    cols["discount_factor"] = num_col(ch.t("p5.cf.factor"), lang, digits=4)
    order = [
        "year",
        *[c for c, _ in money[:-2]],
        "discount_factor",
        *[c for c, _ in money[-2:]],
    ]
    cols = {k: cols[k] for k in order}
    return ov._table(
        df,
        cols,
        lang,
        caption=ch.t("p5.caption.cash_flows", option=_label_of(ch, oid)) if caption else None,
    )


def cash_flow_annex(ch: FeasibilityChapter) -> None:
    """Annex: the cash-flow tables of every evaluated option."""
    if ch.evaluation.empty:
        return
    items: list[Any] = [ov._heading(ch.t("p5.annex.cash_flows"), 2)]
    for oid in ch.evaluation["option_id"].astype(str):
        items += [ov._heading(_label_of(ch, oid), 3), _schedule_table(ch, oid, caption=False)]
    show(*items)


def ranking_section(ch: FeasibilityChapter) -> None:
    """6.5: ranking of the feasible options by NPV and by NPVR (clause 5.5.6 c), with the
    disagreement between the two reported."""
    lang = ch.lang
    if ch.ranking is None:
        return
    items: list[Any] = [ov._heading(ch.t("p5.h.ranking"), 3)]
    r = ch.ranking
    if r.table.empty:
        items.append(ov._note(ch.t("p5.ranking.none"), "warning"))
        show(*items)
        return
    df = ranking_table(r)
    items.append(
        ov._table(
            df,
            {
                "option": Col(ch.t("p4.col.name")),
                "npv_10k_cny": num_col(ch.t("p5.form.NPV"), lang, unit_id="10k_CNY"),
                "npvr": pct_col(ch.t("p5.form.NPVR"), lang, 2),
                "rank_npv": int_col(ch.t("p5.col.rank_npv"), lang),
                "rank_npvr": int_col(ch.t("p5.col.rank_npvr"), lang),
            },
            lang,
            caption=ch.t("p5.caption.ranking"),
        )
    )
    if len(df) == 1:
        items.append(ov._note(ch.t("p5.ranking.one", option=_label_of(ch, r.best_by_npv[0]))))
    elif r.agree:
        items.append(ov._note(ch.t("p5.ranking.agree", ids=ov._ids(r.best_by_npv, lang)), "ok"))
    else:
        items.append(
            ov._note(
                ch.t(
                    "p5.ranking.disagree",
                    npv=ov._ids(r.best_by_npv, lang),
                    npvr=ov._ids(r.best_by_npvr, lang),
                ),
                "warning",
            )
        )
    show(*items)


def risk_section(ch: FeasibilityChapter) -> None:
    """6.5: sensitivity (tornado) and Monte Carlo risk of the leading option(s)
    (calculation reference 6.3, RETScreen-style extras); when interactive, the discount
    rate, revenue and savings sliders recompute them with cpkit.risk."""
    from cpkit.display import explore

    lang = ch.lang
    if not ch.risk_ids:
        return
    show(
        ov._heading(ch.t("p5.h.risk"), 3),
        ov._para(ch.t("p5.risk.text", ids=ov._ids(ch.risk_ids, lang))),
    )
    explore(
        lambda discount_rate, revenue_factor, saving_factor: _risk_view(
            ch, float(discount_rate), float(revenue_factor), float(saving_factor)
        ),
        _scenario_controls(ch),
        interactive=bool(ch.ctx.interactive),
    )


def _risk_view(
    ch: FeasibilityChapter, discount_rate: float, revenue_factor: float, saving_factor: float
) -> tuple[Any, ...]:
    """Tornado and Monte Carlo of every leading option for a scenario (the base case gives
    the chapter's cached results)."""
    base = (
        math.isclose(discount_rate, ch.assumptions.discount_rate)
        and revenue_factor == 1.0
        and saving_factor == 1.0
    )
    out: list[Any] = []
    if base:
        for oid in ch.risk_ids:
            out += _risk_outputs(ch, oid, ch.tornados[oid], ch.monte_carlo[oid])
        return tuple(out)
    a = finance.with_assumptions(ch.assumptions, discount_rate=float(discount_rate))
    o, c = scenario(
        ch.tables["options"],
        ch.tables["option_cashflows"],
        revenue_factor=revenue_factor,
        saving_factor=saving_factor,
    )
    out.append(
        ov._note(
            ch.t(
                "p5.scenario.note",
                rate=i18n.fmt_percent(discount_rate, ch.lang, 1),
                revenue=i18n.fmt_percent(revenue_factor, ch.lang, 0),
                saving=i18n.fmt_percent(saving_factor, ch.lang, 0),
            ),
            "warning",
        )
    )
    for oid in ch.risk_ids:
        tor = risk.tornado(o, c, option_id=oid, assumptions=a)
        mc = risk.monte_carlo(o, c, option_id=oid, assumptions=a, draws=ch.mc_draws, seed=ch.seed)
        out += _risk_outputs(ch, oid, tor, mc)
    return tuple(out)


def _risk_outputs(
    ch: FeasibilityChapter, oid: str, tor: pd.DataFrame, mc: risk.MonteCarloResult
) -> list[Any]:
    from cpkit.charts.finance import npv_histogram, tornado

    lang = ch.lang
    label = _label_of(ch, oid)
    swing = tor.attrs.get("basis", {}).get("swing", {})
    sw = max(swing.values()) if isinstance(swing, Mapping) and swing else 0.0
    tcols = {
        "variable": Col(ch.t("p5.col.variable")),
        "base": Col(ch.t("p5.col.base_value"), align="right"),
        "npv_low_10k_cny": num_col(
            ch.t("p5.col.npv_low", swing=i18n.fmt_percent(sw, lang, 0)),
            lang,
            unit_id="10k_CNY",
        ),
        "npv_high_10k_cny": num_col(
            ch.t("p5.col.npv_high", swing=i18n.fmt_percent(sw, lang, 0)),
            lang,
            unit_id="10k_CNY",
        ),
        "npv_swing_10k_cny": num_col(ch.t("p5.col.npv_swing"), lang, unit_id="10k_CNY"),
        "switch_change": pct_col(ch.t("p5.col.switch_change"), lang, 1),
        "switch_value": Col(ch.t("p5.col.switch_value"), align="right"),
    }
    bars = tornado_bars(tor, lang)
    summ = monte_carlo_summary(mc, lang)
    pct = [s for s in mc.summary["statistic"].astype(str) if s.startswith("p")]
    marks = [pct[0], pct[len(pct) // 2], pct[-1]] if pct else []
    sidx = mc.summary.set_index(mc.summary["statistic"].astype(str))
    markers = pd.DataFrame(
        {
            "value": [float(sidx.loc[m, "npv_10k_cny"]) for m in marks],
            "label": [m.upper() for m in marks],
        }
    )
    npvs = mc.samples["npv_10k_cny"].to_numpy(dtype=float)
    if npvs.min() < 0 < npvs.max():
        markers = pd.concat(
            [markers, pd.DataFrame({"value": [0.0], "label": ["NPV = 0"]})],
            ignore_index=True,
        )
    return [
        ov._heading(ch.t("p5.h.risk_option", option=label), 4),
        ov._table(
            tornado_table(tor, lang),
            tcols,
            lang,
            caption=ch.t("p5.caption.tornado", option=label),
        ),
        ov._chart(
            tornado(
                bars,
                variable_title=ch.t("p5.col.variable"),
                npv_title=ch.t("p5.chart.npv_axis"),
                side_title=ch.t("p5.chart.side"),
                base_npv_10k_cny=float(tor["npv_base_10k_cny"].iloc[0]),
                title=ch.t("p5.chart.tornado", option=oid),
            ),
            ch.ctx,
        )
        if len(bars)
        else None,
        ov._para(
            ch.t(
                "p5.mc.text",
                draws=i18n.fmt_int(mc.draws, lang),
                seed=mc.seed,
                distributions=_distribution_text(mc.distributions, lang),
            )
        ),
        ov._table(
            summ,
            {
                "statistic": Col(ch.t("p5.col.statistic")),
                "npv_10k_cny": num_col(ch.t("p5.form.NPV"), lang, unit_id="10k_CNY"),
                "irr": pct_col(ch.t("p5.form.IRR"), lang, 2),
            },
            lang,
            caption=ch.t("p5.caption.mc", option=label),
        ),
        ov._note(
            ch.t(
                "p5.mc.probabilities",
                p_npv=i18n.fmt_percent(mc.prob_npv_negative, lang, 2),
                p_irr=i18n.fmt_percent(mc.prob_irr_below_benchmark, lang, 2),
                benchmark=i18n.fmt_percent(ch.assumptions.benchmark_irr, lang, 1),
            ),
            "warning" if mc.prob_npv_negative > 0 else "ok",
        ),
        ov._chart(
            npv_histogram(
                histogram_bins(npvs),
                markers,
                npv_title=ch.t("p5.chart.npv_axis"),
                count_title=ch.t("p5.chart.draws"),
                title=ch.t("p5.chart.histogram", option=oid),
            ),
            ch.ctx,
        ),
        ov._para(_impact_text(ch, mc)),
    ]


def _distribution_text(dist: pd.DataFrame, lang: str) -> str:
    parts = []
    names = reference.load_yaml("finance/risk.yaml")["variables"]
    for r in dist.to_dict("records"):
        name = names.get(str(r["variable"]), {}).get(lang, str(r["variable"]))
        kind = str(r["distribution"])
        vals = {k: r[k] for k in ("low", "mode", "high", "mean", "sd")}
        fmt = {
            k: ("" if i18n.is_missing(v) else i18n.fmt_number(v, lang, 2)) for k, v in vals.items()
        }
        parts.append(tr(lang, f"p5.mc.dist.{kind}", name=name, **fmt))
    return i18n.fmt_list(parts, lang)


def _impact_text(ch: FeasibilityChapter, mc: risk.MonteCarloResult) -> str:
    lang = ch.lang
    names = reference.load_yaml("finance/risk.yaml")["variables"]
    parts = [
        tr(
            lang,
            "p5.mc.impact_item",
            name=names.get(str(r["variable"]), {}).get(lang, str(r["variable"])),
            share=i18n.fmt_percent(r["share"], lang, 0),
        )
        for r in mc.impact.to_dict("records")
        if round(float(r["share"]), 2) > 0
    ]
    return tr(lang, "p5.mc.impact", items=i18n.fmt_list(parts, lang))


def recommended(ch: FeasibilityChapter) -> None:
    """6.6: the options recommended for implementation (clause 5.5.7) and the key figures
    recorded for the batch index."""
    from cpkit.render import record

    lang = ch.lang
    items: list[Any] = [ov._heading(ch.t("p5.s66"), 2)]
    if ch.evaluation.empty:
        items.append(ov._para(ch.t("p5.recommend.none_evaluated")))
        show(*items)
        record("feasibility.recommended", 0, label=_rec_label("recommended"))
        return
    rec = recommendations(ch.evaluation, ch.tables["options"], lang)
    chosen = rec[rec["recommended"]]
    ev = ch.evaluation.set_index(ch.evaluation["option_id"].astype(str))
    inv = float(ev.loc[list(chosen["option_id"]), "net_investment_10k_cny"].sum())
    npv = float(chosen["npv_10k_cny"].sum())
    saving = float(ev.loc[list(chosen["option_id"]), "annual_saving_10k_cny"].sum())
    items += [
        ov._para(
            ch.t(
                "p5.recommend.text",
                n=i18n.fmt_int(len(chosen), lang),
                total=i18n.fmt_int(len(rec), lang),
                investment=ov._money(inv, lang),
                saving=ov._money(saving, lang),
                npv=ov._money(npv, lang),
            )
        ),
        ov._table(
            rec,
            {
                "option": Col(ch.t("p4.col.name")),
                "verdict": Col(ch.t("p5.col.verdict")),
                "npv_10k_cny": num_col(ch.t("p5.form.NPV"), lang, unit_id="10k_CNY"),
                "recommended": flag_col(ch.t("p5.col.recommended"), lang),
                "reason": Col(ch.t("p5.col.reason")),
                "status": Col(ch.t("p4.col.status")),
            },
            lang,
            caption=ch.t("p5.caption.recommended"),
        ),
    ]
    against = list(
        rec.loc[
            rec["recommended"]
            & ~rec["verdict"].isin(
                [tr(lang, "p5.verdict.feasible"), tr(lang, "p5.verdict.review")]
            ),
            "option_id",
        ]
    )
    if against:
        items.append(ov._note(ch.t("p5.recommend.against_finance", ids=ov._ids(against, lang))))
    show(*items)
    record("feasibility.candidates", len(ch.candidates), label=_rec_label("candidates"))
    record(
        "feasibility.feasible",
        int(ch.evaluation["verdict"].isin(["feasible", "review"]).sum()),
        label=_rec_label("feasible"),
    )
    record("feasibility.recommended", len(chosen), label=_rec_label("recommended"))
    record(
        "feasibility.recommended_investment_10k_cny",
        inv,
        unit="10k_CNY",
        label=_rec_label("investment"),
    )
    record(
        "feasibility.recommended_npv_10k_cny",
        npv,
        unit="10k_CNY",
        label=_rec_label("npv"),
    )


def _rec_label(key: str) -> dict[str, str]:
    return {lang: tr(lang, f"p5.record.{key}") for lang in i18n.LANGS}


# =========================================================================== teaching
def teaching_option(evaluation: pd.DataFrame) -> str | None:
    """An option whose numbers fit the textbook formulas exactly (constant flows, no
    construction period, no salvage, depreciation over the whole life, no loss year), or
    None."""
    if evaluation.empty:
        return None
    ok = (
        (evaluation["cash_flow_basis"] == "constant")
        & (evaluation["construction_years"].astype(int) == 0)
        & (evaluation["salvage_10k_cny"].astype(float) == 0)
        & (evaluation["depreciation_years"].astype(int) == evaluation["lifetime_years"].astype(int))
        & (evaluation["loss_years"].astype(int) == 0)
        & (evaluation["irr_status"] == "unique")
    )
    hits = evaluation.loc[ok.to_numpy(dtype=bool), "option_id"]
    return str(hits.iloc[0]) if len(hits) else None


def finance_formulas() -> dict[str, tuple[Any, Any]]:
    """The CP-report formulas as sympy (calculation reference 6.1): name -> (lhs, rhs).

    I = I_0 − S, D = I/Y, T = P − D, E = T(1 − t), F = E + D, N = I/F,
    NPV = Σ_{j=1..n} F/(1+i)^j − I, NPVR = NPV/I, and NPV(IRR) = 0."""
    import sympy as sp

    i0, s, i, p, d, y, t_, tax, e, f, n, j, r = sp.symbols("I_0 S I P D Y T t E F n j IRR")
    rate = sp.Symbol("i")
    npv = sp.Symbol("NPV")
    return {
        "I": (i, i0 - s),
        "D": (d, i / y),
        "T": (t_, p - d),
        "E": (e, t_ * (1 - tax)),
        "F": (f, e + d),
        "N": (sp.Symbol("N"), i / f),
        "NPV": (npv, sp.Sum(f / (1 + rate) ** j, (j, 1, n)) - i),
        "NPVR": (sp.Symbol("NPVR"), npv / i),
        "IRR": (sp.Symbol("NPV(IRR)"), sp.Sum(f / (1 + r) ** j, (j, 1, n)) - i),
    }


def formula_values(
    row: Mapping[str, Any], a: finance.Assumptions, *, shown: bool = False
) -> dict[str, float]:
    """The numbers of one evaluated option for the formulas' symbols (10k CNY, years,
    fractions). ``shown=True`` rounds them as a trainee would write them: years whole,
    money and rates to 4 decimals (the results then differ from cpkit's in the last
    digits only)."""
    money = {
        "I_0": "investment_10k_cny",
        "S": "subsidy_10k_cny",
        "I": "net_investment_10k_cny",
        "P": "annual_saving_10k_cny",
        "D": "depreciation_10k_cny",
        "T": "taxable_profit_10k_cny",
        "E": "net_profit_10k_cny",
        "F": "annual_cash_flow_10k_cny",
        "NPV": "npv_10k_cny",
    }
    vals: dict[str, Any] = {k: float(row[c]) for k, c in money.items()}
    vals |= {
        "Y": float(row["depreciation_years"]),
        "n": float(row["lifetime_years"]),
        "t": a.tax_rate,
        "i": a.discount_rate,
        "IRR": float(row["irr"]),
    }
    if shown:
        vals = {k: int(v) if k in ("Y", "n") else round(v, 4) for k, v in vals.items()}
    return vals


def teach_finance(ch: FeasibilityChapter) -> None:
    """Teaching: each CP-report formula in symbolic form and with the numbers of one
    option put in (nothing when teaching is off)."""
    from cpkit import teaching

    if not ch.ctx.teaching or ch.evaluation.empty:
        return
    import sympy as sp

    oid = teaching_option(ch.evaluation)
    items: list[Any] = [teaching.explain(ch.ctx, ch.t("p5.teach.method"))]
    forms = finance_formulas()
    if oid is None:
        items.append(teaching.explain(ch.ctx, ch.t("p5.teach.no_simple_option")))
        items += [teaching.formula(ch.ctx, rhs, lhs=lhs) for lhs, rhs in forms.values()]
        show(*items)
        return
    row = ch.evaluation.set_index(ch.evaluation["option_id"].astype(str)).loc[oid]
    vals = formula_values(row, ch.assumptions, shown=True)
    items.append(teaching.explain(ch.ctx, ch.t("p5.teach.applied", option=_label_of(ch, oid))))
    for lhs, rhs in forms.values():
        subs = {sym: vals[str(sym)] for sym in sp.sympify(rhs).free_symbols if str(sym) in vals}
        items.append(teaching.formula(ch.ctx, rhs, lhs=lhs, substitutions=subs))
    show(*items)


def exercise_payback(ch: FeasibilityChapter) -> Any:
    """Exercise: the static payback N = I/F of the teaching option (answer: cpkit.finance)."""
    from cpkit import teaching

    oid = teaching_option(ch.evaluation)
    if oid is None:
        return teaching.exercise(ov._off(ch.ctx), "payback", "", 0.0)
    row = ch.evaluation.set_index(ch.evaluation["option_id"].astype(str)).loc[oid]
    return teaching.exercise(
        ch.ctx,
        "payback",
        ch.t(
            "p5.teach.exercise_payback",
            option=_label_of(ch, oid),
            investment=i18n.fmt_number(row["net_investment_10k_cny"], lang=ch.lang, digits=2),
            saving=i18n.fmt_number(row["annual_saving_10k_cny"], lang=ch.lang, digits=2),
            years=int(row["depreciation_years"]),
            tax=i18n.fmt_percent(ch.assumptions.tax_rate, ch.lang, 0),
        ),
        float(row["payback_years"]),
        unit=i18n.unit_label("year", ch.lang),
        rel_tol=0.01,
    )


def npv_at(ch: FeasibilityChapter, option_id: str, rate: float) -> float:
    """NPV (10k CNY) of one option at another discount rate (cpkit.finance.evaluate)."""
    a = finance.with_assumptions(ch.assumptions, discount_rate=float(rate))
    ev = finance.evaluate(
        ch.tables["options"], ch.tables["option_cashflows"], assumptions=a, option_ids=[option_id]
    )
    return float(ev["npv_10k_cny"].iloc[0])


def exercise_npv_sign(ch: FeasibilityChapter) -> Any:
    """Exercise: is the NPV of the teaching option ≥ 0 at the benchmark rate? (1 = yes,
    0 = no; answer: cpkit.finance at that rate)."""
    from cpkit import teaching

    oid = teaching_option(ch.evaluation)
    if oid is None:
        return teaching.exercise(ov._off(ch.ctx), "npv_sign", "", 0.0)
    rate = ch.assumptions.benchmark_irr
    value = npv_at(ch, oid, rate)
    return teaching.exercise(
        ch.ctx,
        "npv_sign",
        ch.t(
            "p5.teach.exercise_npv",
            option=_label_of(ch, oid),
            rate=i18n.fmt_percent(rate, ch.lang, 1),
        ),
        1.0 if value >= 0 else 0.0,
        rel_tol=0.0,
        abs_tol=1e-9,
    )
