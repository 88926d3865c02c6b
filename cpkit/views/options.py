"""Report chapter 5, option generation and screening (seed 004 clauses 5.4.1-5.4.6, Appendix A;
Appendix B chapter 5), as the phase notebook ``notebooks/04_options.ipynb`` shows it.

The maths lives in :mod:`cpkit.screening`, :mod:`cpkit.scoring`, :mod:`cpkit.grading` and
:mod:`cpkit.library`; this module turns their results into what a manager reads:

* *table functions* (``register_table``, ``screening_table``, ...) are plain functions,
  DataFrames in, DataFrames out (labels translated, money in 10k CNY, inputs unchanged),
  tested on their own;
* *section functions* (``generation(ch)``, ``screening_section(ch)``, ...) display one
  section of the chapter -- headings, text from the message catalogue
  (``cpkit/messages/p4.yaml``), tables, charts, widgets -- and return None, so a notebook
  cell is one call;
* *teaching functions* show the method beside the data, the formula with the data put in
  and short exercises checked by cpkit; they show nothing when teaching is off.

:func:`prepare` computes the chapter once (screening, ranking) from a
:class:`cpkit.notebook.PhaseContext`; the rest is derived lazily and cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from cpkit import i18n, library, reference, screening
from cpkit.display import Col
from cpkit.errors import CpkitError

__all__ = [
    "OptionsChapter",
    "aspect_counts",
    "aspect_summary",
    "cause_links",
    "chapter_intro",
    "classification",
    "criteria_table",
    "effects_summary",
    "effects_table",
    "exercise_weighted_total",
    "generation",
    "heatmap_cells",
    "implemented_no_low_table",
    "infeasible_table",
    "interim_figures",
    "interim_summary",
    "lagging_table",
    "library_annex",
    "matrix_annex",
    "matrix_tables",
    "prepare",
    "problem_links",
    "ranking_table",
    "register",
    "register_table",
    "screening_table",
    "show",
    "stability",
    "stability_ranges",
    "stability_table",
    "suggestions_table",
    "teach_screening",
    "teach_weighted_sum",
    "totals_parts",
    "weighted_ranking",
]

GROUPS = screening.GROUPS
COST_CLASSES = ("no_low", "medium_high")
PHASE_NAMES = {2: "pre_assessment", 3: "assessment", 4: "options"}


# =========================================================================== helpers
def show(*items: Any) -> None:
    """Display each item in order (None skipped, lists and tuples flattened)."""
    from IPython.display import display

    for item in items:
        if item is None:
            continue
        if isinstance(item, list | tuple):
            show(*item)
        else:
            display(item)


def tr(lang: str, key: str, **fmt: Any) -> str:
    """The catalogue message ``key`` in ``lang``."""
    return i18n.t(key, lang, **fmt)


def unit(unit_id: str | None, lang: str) -> str | None:
    """Display form of a unit id (``10k_CNY`` -> 万元 / 10k CNY)."""
    return None if unit_id is None else i18n.unit_label(unit_id, lang)


def num_col(
    label: str, lang: str, *, unit_id: str | None = None, digits: int = 2, unit_text=None
) -> Col:
    """A right-aligned number column, rounded by GB/T 8170 (cpkit.i18n)."""
    return Col(
        label,
        unit=unit_text if unit_text is not None else unit(unit_id, lang),
        fmt=lambda v: i18n.fmt_number(v, lang, digits),
        align="right",
    )


def int_col(label: str, lang: str, *, unit_id: str | None = None) -> Col:
    """A right-aligned count column."""
    return Col(label, unit=unit(unit_id, lang), fmt=lambda v: i18n.fmt_int(v, lang), align="right")


def pct_col(label: str, lang: str, digits: int = 1) -> Col:
    """A fraction shown as a percentage."""
    return Col(label, fmt=lambda v: i18n.fmt_percent(v, lang, digits), align="right")


def flag_col(label: str, lang: str) -> Col:
    """True / False / empty as ✓ / ✗ / —."""

    def fmt(v: Any) -> str:
        if i18n.is_missing(v):
            return i18n.missing(lang)
        return "✓" if bool(v) else "✗"

    return Col(label, fmt=fmt, align="center")


def text_col(label: str, lang: str) -> Col:
    """Text from the data (escaped by cpkit.display), '—' when empty."""
    return Col(label, fmt=lambda v: i18n.missing(lang) if i18n.is_missing(v) else str(v))


def digits_for(values: Iterable[Any], most: int = 2) -> int:
    """0 decimals when every value is whole, else ``most`` (scores, weights)."""
    vals = [float(v) for v in values if not i18n.is_missing(v)]
    return 0 if all(abs(v - round(v)) < 1e-9 for v in vals) else most


def option_label(option_id: Any, name: Any) -> str:
    """``F04 镍漂洗水反渗透浓缩回收系统``: the id and the name as the charts show them."""
    return f"{option_id} {name}" if not i18n.is_missing(name) else str(option_id)


def aspects(lang: str) -> pd.DataFrame:
    """The eight aspects in their order (``data/reference/aspects.csv``):
    aspect_id, order, label."""
    tab = reference.table("aspects.csv")
    return pd.DataFrame(
        {
            "aspect_id": tab["aspect_id"].astype(str),
            "order": tab["order"].astype(int),
            "label": tab[f"name_{lang}"].astype(str),
        }
    ).sort_values("order", ignore_index=True)


def _aspect_maps(lang: str) -> tuple[dict[str, str], dict[str, int]]:
    a = aspects(lang)
    return dict(zip(a["aspect_id"], a["label"], strict=True)), dict(
        zip(a["aspect_id"], a["order"], strict=True)
    )


def _label(lang: str, prefix: str, value: Any) -> str:
    """Catalogue label ``prefix.value``; empty shows the missing mark."""
    if i18n.is_missing(value):
        return i18n.missing(lang)
    key = f"{prefix}.{value}"
    return tr(lang, key) if i18n.has(key) else str(value)


def _str(v: Any) -> str | None:
    return None if i18n.is_missing(v) else str(v)


def _money(v: Any, lang: str) -> str:
    return i18n.fmt_money(v, lang)


# =========================================================================== chapter data
@dataclass(frozen=True)
class OptionsChapter:
    """Everything chapter 5 shows, computed from one phase context.

    ``thresholds``: the cost-class threshold set used; ``screened``: the simple screening
    of every option (cpkit.screening.simple_screening); ``criteria``: the option criteria
    with their weights; ``ranking``: the weighted ranking of the preliminarily feasible
    medium/high-cost options, or None with ``ranking_problem`` saying why.
    """

    ctx: Any
    lang: str
    audit_kind: str
    options: pd.DataFrame
    thresholds: screening.CostThresholds
    threshold_names: Mapping[str, str]
    classified: pd.DataFrame
    screened: pd.DataFrame
    criteria: pd.DataFrame
    ranking: screening.OptionRanking | None
    ranking_problem: str | None
    unscored: tuple[str, ...]
    cause_link_min_similarity: float | None = None

    @property
    def ds(self) -> Any:
        return self.ctx.ds

    @property
    def tables(self) -> Mapping[str, pd.DataFrame]:
        return self.ctx.ds.tables

    def t(self, key: str, **fmt: Any) -> str:
        """The catalogue message ``key`` in the chapter's language."""
        return tr(self.lang, key, **fmt)

    # ------------------------------------------------------------------ lazily derived
    @cached_property
    def grading(self) -> tuple[Any, pd.DataFrame | None, str | None]:
        """(grade result, lagging indicators, problem) of the baseline (stage before)."""
        return _grade_before(self.ds)

    @cached_property
    def coverage(self) -> pd.DataFrame | None:
        """cpkit.library.lagging_coverage of the lagging indicators by the options."""
        _, lag, _ = self.grading
        if lag is None:
            return None
        from cpkit import library

        return library.lagging_coverage(lag, self.options)

    @cached_property
    def suggestions(self) -> pd.DataFrame | None:
        """cpkit.library.suggest_options for every lagging indicator (or None)."""
        result, lag, _ = self.grading
        if lag is None or lag.empty:
            return None
        from cpkit import library

        return library.suggest_options(lag, result.system_id)

    @cached_property
    def links(self) -> pd.DataFrame | None:
        """Waste causes and the options that address them (text match), or None."""
        if self.cause_link_min_similarity is None:
            return None
        return cause_links(
            self.tables["waste_causes"],
            self.options,
            min_similarity=self.cause_link_min_similarity,
        )

    def rerank(
        self, weights: Mapping[str, float] | None = None, mandatory_weight: float | None = None
    ) -> screening.OptionRanking:
        """The weighted ranking with other weights (criterion id -> W) and, for mandatory
        audits with an added criterion, another weight of that criterion."""
        from cpkit import scoring

        crit = scoring.criteria(kind="option", weights=weights)
        rule = None
        if self.audit_kind == "mandatory" and mandatory_weight is not None:
            rule = screening.mandatory_rule(weight=float(mandatory_weight))
        return screening.rank_options(
            self.options,
            self.tables["option_scores"],
            criteria_table=crit,
            screened=self.screened,
            audit_kind=self.audit_kind,
            rule=rule,
        )


def _grade_before(ds: Any) -> tuple[Any, pd.DataFrame | None, str | None]:
    system = ds.profile.indicator_system
    if not system:
        return None, None, "no_system"
    from cpkit import grading

    try:
        result = grading.grade(system, ds.tables["indicator_values"], "before", missing="none")
    except CpkitError as exc:
        return None, None, str(exc)
    return result, grading.lagging_indicators(result), None


def prepare(ctx: Any, *, cause_link_min_similarity: float | None = None) -> OptionsChapter:
    """Screen and rank the options of ``ctx.ds`` (a :class:`cpkit.notebook.PhaseContext`).

    Cost classes use the dataset's threshold set (parameter ``cost_class_thresholds``) and
    its ``no_low_cost_max_10k_cny``; the ranking uses the default option criteria and, for
    mandatory audits, the rule of ``screening/mandatory_weight.yaml`` (seed 004 5.4.6 b, c).
    ``cause_link_min_similarity`` (0-1) switches on the matching of waste causes to options.
    """
    from cpkit import scoring

    ds = ctx.ds
    lang = ctx.lang
    p = ds.parameters
    options = ds.tables["options"]
    th = screening.cost_thresholds(
        getattr(p, "cost_class_thresholds", None),
        no_low_cost_max_10k_cny=getattr(p, "no_low_cost_max_10k_cny", None),
    )
    ref = reference.table("screening/cost_class_thresholds.csv")
    row = ref[ref["set_id"] == th.set_id].iloc[0]
    names = {"zh": str(row["name_zh"]), "en": str(row["name_en"])}
    kind = str(ds.profile.audit_kind)
    if options.empty:
        raise CpkitError("the options table is empty: chapter 5 needs the options generated")
    classified = screening.classify_cost(options, th)
    screened = screening.simple_screening(options, th, audit_kind=kind)
    crit = scoring.criteria(kind="option")
    eligible = list(
        screened.loc[screened["group"] == "preliminary_medium_high", "option_id"].astype(str)
    )
    scores = ds.tables["option_scores"]
    scored = set(scores["option_id"].dropna().astype(str)) if len(scores) else set()
    unscored = tuple(o for o in eligible if o not in scored)
    ranking, problem = None, None
    if not eligible:
        problem = tr(lang, "p4.ranking.no_candidates")
    elif not scored & set(eligible):
        problem = tr(lang, "p4.ranking.no_scores")
    else:
        try:
            ranking = screening.rank_options(
                options, scores, criteria_table=crit, screened=screened, audit_kind=kind
            )
        except CpkitError as exc:
            problem = tr(lang, "p4.ranking.failed", detail=str(exc))
    if cause_link_min_similarity is not None and not 0 <= cause_link_min_similarity <= 1:
        raise CpkitError(
            "parameter cause_link_min_similarity must lie between 0 and 1, got "
            f"{cause_link_min_similarity!r}"
        )
    return OptionsChapter(
        ctx=ctx,
        lang=lang,
        audit_kind=kind,
        options=options,
        thresholds=th,
        threshold_names=names,
        classified=classified,
        screened=screened,
        criteria=crit,
        ranking=ranking,
        ranking_problem=problem,
        unscored=unscored,
        cause_link_min_similarity=cause_link_min_similarity,
    )


# =========================================================================== table functions
def register_table(options: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The option register in the form of seed 004 Appendix A table A.1 (aspect, name,
    what problem where, its cause, how it is solved), grouped by the eight aspects in
    their order. Columns: aspect, option_id, name, option (id and name), problem
    (location prefixed), cause, solution."""
    labels, order = _aspect_maps(lang)
    loc = options["location"] if "location" in options else pd.Series(pd.NA, index=options.index)
    problem = [
        f"{tr(lang, 'p4.register.at', location=lo)}{pr}" if _str(lo) else str(pr)
        for lo, pr in zip(loc, options["problem"], strict=True)
    ]
    out = pd.DataFrame(
        {
            "aspect": [labels.get(str(a), str(a)) for a in options["aspect"]],
            "_order": [order.get(str(a), 99) for a in options["aspect"]],
            "option_id": options["option_id"].astype(str).to_numpy(),
            "name": options["name"].astype(str).to_numpy(),
            "option": [
                option_label(o, n)
                for o, n in zip(options["option_id"], options["name"], strict=True)
            ],
            "problem": problem,
            "cause": options["cause"].astype("string").to_numpy(),
            "solution": options["solution"].astype("string").to_numpy(),
        }
    )
    return out.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def aspect_summary(screened: pd.DataFrame, options: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Options per aspect of the eight (all eight listed, in order): counts by cost class,
    total, investment (10k CNY, as entered). Columns: aspect_id, aspect, no_low,
    medium_high, total, investment_10k_cny."""
    a = aspects(lang)
    df = pd.DataFrame(
        {
            "aspect_id": options["aspect"].astype(str).to_numpy(),
            "cost_class": screened["cost_class"].astype(str).to_numpy(),
            "investment": pd.to_numeric(options["investment_10k_cny"])
            .astype("Float64")
            .fillna(0.0)
            .to_numpy(dtype=float),
        }
    )
    rows = []
    for aid, label in zip(a["aspect_id"], a["label"], strict=True):
        sub = df[df["aspect_id"] == aid]
        rows.append(
            {
                "aspect_id": aid,
                "aspect": label,
                "no_low": int((sub["cost_class"] == "no_low").sum()),
                "medium_high": int((sub["cost_class"] == "medium_high").sum()),
                "total": len(sub),
                "investment_10k_cny": float(sub["investment"].sum()),
            }
        )
    return pd.DataFrame(rows)


def aspect_counts(summary: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The tidy form of :func:`aspect_summary` for the chart: aspect, aspect_order,
    cost_class (label), class_order, options."""
    rows = []
    for k, rec in enumerate(summary.to_dict("records")):
        for j, cls in enumerate(COST_CLASSES):
            rows.append(
                {
                    "aspect": rec["aspect"],
                    "aspect_order": k,
                    "cost_class": tr(lang, f"common.cost_class.{cls}"),
                    "class_order": j,
                    "options": rec[cls],
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ problems and options
def _join(parts: Iterable[Any]) -> str:
    return " ".join(str(p) for p in parts if not i18n.is_missing(p))


def cause_links(
    waste_causes: pd.DataFrame, options: pd.DataFrame, *, min_similarity: float
) -> pd.DataFrame:
    """Which option answers each problem found (seed 004 clause 5.4.2: every problem of the
    pre-assessment and assessment must have a corresponding option).

    The dataset does not link waste causes to options explicitly, so they are matched by
    text: the cosine similarity (0-1) of IDF-weighted character bigrams (words for Latin
    text) between a cause (location, waste, cause) and an option (name, location, problem,
    cause). An option with similarity ≥ ``min_similarity`` addresses the cause (rejected
    options do not count); a cause without one is a gap for the team to check.

    Columns: cause_id, location, waste, aspect, options (;-separated ids, best first),
    best_option, best_similarity, addressed.
    """
    if not 0 <= min_similarity <= 1:
        raise CpkitError(f"min_similarity must lie between 0 and 1, got {min_similarity!r}")
    cols = ["cause_id", "location", "waste", "aspect", "cause"]
    missing = [c for c in cols if c not in waste_causes.columns]
    if missing:
        raise CpkitError(f"waste_causes lacks column(s) {missing}")
    live = options
    if "status" in options:
        live = options[options["status"].astype("string").fillna("") != "rejected"]
    texts = [
        _join(r)
        for r in live.reindex(columns=["name", "location", "problem", "cause"]).itertuples(
            index=False
        )
    ]
    ovecs, vec_of = library.tfidf(texts)
    ids = [str(x) for x in live["option_id"]]
    rows = []
    for rec in waste_causes.to_dict("records"):
        q = vec_of(_join([rec["location"], rec["waste"], rec["cause"]]))
        sims = np.array([library.cosine(q, v) for v in ovecs]) if ovecs else np.array([])
        order = np.argsort(-sims, kind="stable")
        hits = [ids[k] for k in order if sims[k] >= min_similarity and sims[k] > 0]
        best = int(order[0]) if len(order) else None
        rows.append(
            {
                "cause_id": str(rec["cause_id"]),
                "location": _str(rec["location"]),
                "waste": _str(rec["waste"]),
                "aspect": _str(rec["aspect"]),
                "options": ";".join(hits) or None,
                "best_option": ids[best] if best is not None else None,
                "best_similarity": float(sims[best]) if best is not None else 0.0,
                "addressed": bool(hits),
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "cause_id",
            "location",
            "waste",
            "aspect",
            "options",
            "best_option",
            "best_similarity",
            "addressed",
        ],
    )
    out = out.astype(
        {
            "cause_id": "string",
            "location": "string",
            "waste": "string",
            "aspect": "string",
            "options": "string",
            "best_option": "string",
            "best_similarity": "Float64",
            "addressed": "boolean",
        }
    )
    out.attrs["basis"] = {
        "method": "IDF-weighted character-bigram cosine similarity, seed 004 clause 5.4.2",
        "min_similarity": min_similarity,
    }
    return out


def lagging_table(lagging: pd.DataFrame, coverage: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Lagging indicators of the baseline grading with the options that address them.

    Columns: indicator, value, unit, level (the lag, e.g. 未达到II级), next_benchmark,
    options (;-separated ids), addressed."""
    cov = coverage.set_index("indicator_id")
    rows = []
    for rec in lagging.to_dict("records"):
        iid = str(rec["indicator_id"])
        c = cov.loc[iid] if iid in cov.index else None
        rows.append(
            {
                "indicator": str(rec[f"name_{lang}"]),
                "value": rec["value"],
                "unit": _str(rec.get("unit")),
                "level": str(rec[f"lag_{lang}"]),
                "next_benchmark": rec.get("next_benchmark"),
                "options": None if c is None else _str(c["options"]),
                "addressed": False if c is None else bool(c["addressed"]),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "indicator",
            "value",
            "unit",
            "level",
            "next_benchmark",
            "options",
            "addressed",
        ],
    )


def suggestions_table(
    suggestions: pd.DataFrame,
    lagging: pd.DataFrame,
    lang: str,
    *,
    indicator_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Library suggestions (cpkit.library.suggest_options) for the given lagging
    indicators (all when None), best first. Columns: indicator, rank, entry_id, name,
    entry (id and name), aspect, solution, cost_class, match."""
    labels, _ = _aspect_maps(lang)
    names = dict(zip(lagging["indicator_id"].astype(str), lagging[f"name_{lang}"], strict=True))
    s = suggestions
    if indicator_ids is not None:
        s = s[s["indicator_id"].astype(str).isin([str(i) for i in indicator_ids])]
    rows = []
    for rec in s.to_dict("records"):
        none = rec["match"] == "none"
        rows.append(
            {
                "indicator": str(names.get(str(rec["indicator_id"]), rec["indicator_id"])),
                "rank": None if none else rec["rank"],
                "entry_id": None if none else _str(rec["entry_id"]),
                "name": tr(lang, "p4.library.none") if none else _str(rec[f"name_{lang}"]),
                "entry": tr(lang, "p4.library.none")
                if none
                else option_label(rec["entry_id"], rec[f"name_{lang}"]),
                "aspect": None if none else labels.get(str(rec["aspect"]), _str(rec["aspect"])),
                "solution": None if none else _str(rec[f"solution_{lang}"]),
                "cost_class": None
                if none or i18n.is_missing(rec["cost_class"])
                else tr(lang, f"common.cost_class.{rec['cost_class']}"),
                "match": _label(lang, "p4.library.match", rec["match"]),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "indicator",
            "rank",
            "entry_id",
            "name",
            "entry",
            "aspect",
            "solution",
            "cost_class",
            "match",
        ],
    )


# ------------------------------------------------------------------ screening
def screening_table(screened: pd.DataFrame, classified: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Cost class and simple-screening result of every option (seed 004 5.4.6 a).

    ``screened``: cpkit.screening.simple_screening; ``classified``:
    cpkit.screening.classify_cost with the same thresholds (same row order).
    Columns: option_id, name, option, investment_10k_cny, cost (the class used with the
    threshold band, e.g. 中/高费（高费）), cost_band (label: no/low, medium, high by the
    thresholds), cost_class (label of the class used), class_source (label), disagrees,
    group (label), result_source (label), mandatory_issue."""
    if list(classified["option_id"].astype(str)) != list(screened["option_id"].astype(str)):
        raise CpkitError("screening_table: screened and classified list different options")
    return pd.DataFrame(
        {
            "option_id": screened["option_id"].astype(str).to_numpy(),
            "name": screened["name"].astype(str).to_numpy(),
            "option": [
                option_label(o, n)
                for o, n in zip(screened["option_id"], screened["name"], strict=True)
            ],
            "investment_10k_cny": screened["investment_10k_cny"].to_numpy(),
            "cost": [
                _cost_text(c, b, lang)
                for c, b in zip(screened["cost_class"], classified["cost_band"], strict=True)
            ],
            "cost_band": [_label(lang, "p4.cost_band", v) for v in classified["cost_band"]],
            "cost_class": [_label(lang, "common.cost_class", v) for v in screened["cost_class"]],
            "class_source": [
                _label(lang, "p4.class_source", v) for v in screened["cost_class_source"]
            ],
            "disagrees": screened["cost_disagrees"].to_numpy(),
            "group": [_label(lang, "p4.group", v) for v in screened["group"]],
            "result_source": [
                _label(lang, "p4.result_source", v) for v in screened["screening_source"]
            ],
            "mandatory_issue": screened["mandatory_issue"].to_numpy(),
        }
    )


def _cost_text(cost_class: Any, band: Any, lang: str) -> str:
    cls = _label(lang, "common.cost_class", cost_class)
    if i18n.is_missing(band) or band == cost_class:
        return cls
    return tr(lang, "p4.cost_with_band", cost_class=cls, band=_label(lang, "p4.cost_band", band))


def infeasible_table(screened: pd.DataFrame, options: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Options screened out, with the reason: the team's assessment text (technical, else
    environmental) or the reason of the screening rule that decided.

    Columns: option_id, name, option (id and name), reason, mandatory_issue."""
    rules = {
        r["id"]: r.get("reason", {}).get(lang)
        for r in reference.load_yaml("screening/screening_rules.yaml")["rules"]
    }
    opts = options.set_index(options["option_id"].astype(str))
    rows = []
    for rec in screened[screened["group"] == "infeasible"].to_dict("records"):
        oid = str(rec["option_id"])
        o = opts.loc[oid]
        reason = None
        for col in ("technical_assessment", "environmental_assessment"):
            if col in opts.columns and _str(o[col]):
                reason = str(o[col])
                break
        if reason is None and _str(rec["screening_rule"]):
            reason = rules.get(str(rec["screening_rule"]))
        rows.append(
            {
                "option_id": oid,
                "name": str(rec["name"]),
                "option": option_label(oid, rec["name"]),
                "reason": reason,
                "mandatory_issue": rec["mandatory_issue"],
            }
        )
    return pd.DataFrame(rows, columns=["option_id", "name", "option", "reason", "mandatory_issue"])


# ------------------------------------------------------------------ weighted ranking
def criteria_table(criteria: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The option criteria and weights: criterion, weight, usual_range (text), source
    (label: the dataset, set by the user, or cpkit's default)."""
    miss = i18n.missing(lang)
    rng = [
        miss
        if i18n.is_missing(lo) or i18n.is_missing(hi)
        else f"{i18n.fmt_number(lo, lang, digits_for([lo]))}–{i18n.fmt_number(hi, lang, digits_for([hi]))}"
        for lo, hi in zip(criteria["weight_min"], criteria["weight_max"], strict=True)
    ]
    return pd.DataFrame(
        {
            "criterion": criteria[f"name_{lang}"].astype(str).to_numpy(),
            "weight": criteria["weight"].astype(float).to_numpy(),
            "usual_range": rng,
            "source": [_criterion_source(x, lang) for x in criteria["source"]],
        }
    )


def _criterion_source(source: Any, lang: str) -> str:
    """Where a weight came from, for the reader (cpkit.scoring.criteria's source column)."""
    if source == "dataset":
        return tr(lang, "p4.criteria_source.dataset")
    if source == "set by the user":
        return tr(lang, "p4.criteria_source.user")
    return tr(lang, "p4.criteria_source.default", path="data/reference/scoring/option_criteria.csv")


def ranking_table(ranking: screening.OptionRanking) -> pd.DataFrame:
    """The weighted ranking: rank, option_id, name, option, mandatory_issue, base_score,
    adjustment, total_score, rank_without_rule, tied (from cpkit.screening.rank_options)."""
    r = ranking.ranking
    return pd.DataFrame(
        {
            "rank": r["rank"].to_numpy(),
            "option_id": r["option_id"].astype(str).to_numpy(),
            "name": r["name"].astype(str).to_numpy(),
            "option": [option_label(o, n) for o, n in zip(r["option_id"], r["name"], strict=True)],
            "mandatory_issue": r["mandatory_issue"].to_numpy(),
            "base_score": r["base_score"].astype(float).to_numpy(),
            "adjustment": r["adjustment"].astype(float).to_numpy(),
            "total_score": r["total_score"].astype(float).to_numpy(),
            "rank_without_rule": r["rank_without_rule"].to_numpy(),
            "tied": r["tied"].to_numpy(),
        }
    )


def _criterion_names(scoring_result: Any, lang: str) -> dict[str, str]:
    c = scoring_result.criteria
    return dict(zip(c["criterion_id"].astype(str), c[f"name_{lang}"].astype(str), strict=True))


def heatmap_cells(ranking: screening.OptionRanking, lang: str) -> pd.DataFrame:
    """Scores R for the heatmap: option (label), option_order (rank order), criterion
    (label with its weight), criterion_order, score_r."""
    sc = ranking.scoring
    names = _criterion_names(sc, lang)
    crit = sc.criteria.reset_index(drop=True)
    w = dict(zip(crit["criterion_id"].astype(str), crit["weight"].astype(float), strict=True))
    corder = {cid: k for k, cid in enumerate(crit["criterion_id"].astype(str))}
    r = ranking.ranking
    labels = {str(o): option_label(o, n) for o, n in zip(r["option_id"], r["name"], strict=True)}
    oorder = {str(o): k for k, o in enumerate(r["option_id"])}
    cells = sc.cells
    idc = sc.id_column
    wd = digits_for(w.values())
    return pd.DataFrame(
        {
            "option": [labels[str(o)] for o in cells[idc]],
            "option_order": [oorder[str(o)] for o in cells[idc]],
            "criterion": [
                tr(
                    lang,
                    "p4.ranking.criterion_with_weight",
                    name=names[str(c)],
                    weight=i18n.fmt_number(w[str(c)], lang, wd),
                )
                for c in cells["criterion_id"]
            ],
            "criterion_order": [corder[str(c)] for c in cells["criterion_id"]],
            "score_r": cells["score_r"].astype(float).to_numpy(),
        }
    )


def totals_parts(ranking: screening.OptionRanking, lang: str) -> pd.DataFrame:
    """Weighted totals split for the chart: option (label), rank, part (ordinary criteria
    | mandatory-audit addition), part_order, points."""
    r = ranking.ranking
    rows = []
    for rec in r.to_dict("records"):
        lab = option_label(rec["option_id"], rec["name"])
        rows.append(
            {
                "option": lab,
                "rank": int(rec["rank"]),
                "part": tr(lang, "p4.ranking.part_base"),
                "part_order": 0,
                "points": float(rec["base_score"]),
            }
        )
        if ranking.rule is not None and ranking.rule.method != "none":
            rows.append(
                {
                    "option": lab,
                    "rank": int(rec["rank"]),
                    "part": tr(lang, "p4.ranking.part_mandatory"),
                    "part_order": 1,
                    "points": float(rec["adjustment"]),
                }
            )
    return pd.DataFrame(rows, columns=["option", "rank", "part", "part_order", "points"])


def matrix_tables(
    ranking: screening.OptionRanking, lang: str, *, per_table: int
) -> list[tuple[pd.DataFrame, dict[str, Col]]]:
    """The report's scoring matrix (criteria x options, R and R×W, total ΣR×W), split into
    tables of at most ``per_table`` options so that each fits the page width.
    Returns (DataFrame, column specs) pairs for cpkit.display.table."""
    if per_table < 1:
        raise CpkitError(f"per_table must be at least 1, got {per_table}")
    m = ranking.scoring.matrix
    ids = [str(x) for x in ranking.ranking["option_id"]]
    names = m.attrs.get("candidates", {})
    wd = digits_for(m["weight"])
    sd = digits_for(pd.concat([m[f"{i}_rw"] for i in ids]))
    out = []
    for start in range(0, len(ids), per_table):
        chunk = ids[start : start + per_table]
        df = pd.DataFrame(
            {
                "criterion": [
                    tr(lang, "p4.ranking.total") if c == "total" else n
                    for c, n in zip(m["criterion_id"], m[f"name_{lang}"], strict=True)
                ],
                "weight": m["weight"].to_numpy(),
            }
        )
        cols = {
            "criterion": Col(tr(lang, "p4.col.criterion")),
            "weight": num_col(tr(lang, "p4.col.weight"), lang, digits=wd),
        }
        for oid in chunk:
            df[f"{oid}_r"] = m[f"{oid}_r"].to_numpy()
            df[f"{oid}_rw"] = m[f"{oid}_rw"].to_numpy()
            head = option_label(oid, names.get(oid))
            cols[f"{oid}_r"] = num_col(f"{head} R", lang, digits=digits_for(m[f"{oid}_r"]))
            cols[f"{oid}_rw"] = num_col(f"{head} R×W", lang, digits=sd)
        out.append((df, cols))
    return out


# ------------------------------------------------------------------ rank stability
def stability_table(
    ranking: screening.OptionRanking, lang: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How robust the top of the ranking is to the weights (cpkit.scoring.rank_stability
    and the ±1 perturbation, calculation reference 2.4).

    Returns (table, raw): table columns criterion, weight, down_to (weight at which the top
    changes going down, empty = never within the scale), down_challenger, up_to,
    up_challenger, within_range (the change happens inside the usual weight range),
    top_changes_step (the top changes when W moves by the perturbation step); raw is
    rank_stability's own frame."""
    from cpkit import scoring

    sc = ranking.scoring
    raw = scoring.rank_stability(sc)
    pert = scoring.perturbation(sc)
    changed = pert.groupby("criterion_id")["top_changed"].any()
    names = _criterion_names(sc, lang)
    scale = scoring.score_scale()
    up = [
        None if i18n.is_missing(u) or float(u) > scale.weight_max else float(u)
        for u in raw["up_to_weight"]
    ]
    table = pd.DataFrame(
        {
            "criterion": [names[str(c)] for c in raw["criterion_id"]],
            "weight": raw["weight"].astype(float).to_numpy(),
            "down_to": raw["down_to_weight"].to_numpy(),
            "down_challenger": raw["down_challenger"].to_numpy(),
            "up_to": up,
            "up_challenger": [
                None if u is None else _str(c)
                for u, c in zip(up, raw["up_challenger"], strict=True)
            ],
            "within_range": raw["change_within_range"].to_numpy(),
            "top_changes_step": [bool(changed.get(str(c), False)) for c in raw["criterion_id"]],
        }
    )
    return table, raw


def stability_ranges(table: pd.DataFrame) -> pd.DataFrame:
    """Intervals of the weight within which the top option holds, clipped to the weight
    scale (``scoring/scales.yaml``): criterion, criterion_order, weight, low, high."""
    from cpkit import scoring

    scale = scoring.score_scale()
    low = [
        scale.weight_min if i18n.is_missing(d) else float(d) for d in table["down_to"].to_numpy()
    ]
    high = [scale.weight_max if i18n.is_missing(u) else float(u) for u in table["up_to"]]
    return pd.DataFrame(
        {
            "criterion": table["criterion"].to_numpy(),
            "criterion_order": range(len(table)),
            "weight": table["weight"].to_numpy(),
            "low": low,
            "high": high,
        }
    )


# ------------------------------------------------------------------ interim summary
def _implementation(options: pd.DataFrame, implementation: pd.DataFrame) -> pd.DataFrame:
    impl = implementation.copy()
    impl["option_id"] = impl["option_id"].astype(str)
    return impl.drop_duplicates("option_id").set_index("option_id")


def interim_figures(
    screened: pd.DataFrame, options: pd.DataFrame, implementation: pd.DataFrame
) -> dict[str, Any]:
    """Key figures of the interim summary (seed 004 clause 5.4.1, Appendix B 5.3).

    options, by group (feasible_no_low, preliminary_medium_high, infeasible), no/low-cost
    implemented (status implemented) and in progress, their investment (10k CNY: the actual
    investment of the implementation table where given, else the option's) and the actual
    annual benefit of the implemented ones (10k CNY/a; options without a figure are counted
    in ``benefit_missing``)."""
    st = options.set_index(options["option_id"].astype(str))["status"].astype("string")
    impl = _implementation(options, implementation)
    nl = [str(o) for o in screened.loc[screened["group"] == "feasible_no_low", "option_id"]]
    done = [o for o in nl if st.get(o) == "implemented"]
    doing = [o for o in nl if st.get(o) == "in_progress"]
    inv_plan = pd.to_numeric(
        options.set_index(options["option_id"].astype(str))["investment_10k_cny"]
    )

    def investment(o: str) -> float:
        if o in impl.index and not i18n.is_missing(impl.loc[o, "actual_investment_10k_cny"]):
            return float(impl.loc[o, "actual_investment_10k_cny"])
        v = inv_plan.get(o)
        return 0.0 if i18n.is_missing(v) else float(v)

    benefits = [
        impl.loc[o, "actual_annual_benefit_10k_cny"]
        for o in done
        if o in impl.index and not i18n.is_missing(impl.loc[o, "actual_annual_benefit_10k_cny"])
    ]
    groups = screened["group"].astype(str).value_counts()
    return {
        "options": len(options),
        "feasible_no_low": int(groups.get("feasible_no_low", 0)),
        "preliminary_medium_high": int(groups.get("preliminary_medium_high", 0)),
        "infeasible": int(groups.get("infeasible", 0)),
        "no_low_implemented": len(done),
        "no_low_in_progress": len(doing),
        "no_low_other": len(nl) - len(done) - len(doing),
        "no_low_investment_10k_cny": float(sum(investment(o) for o in done)),
        "no_low_benefit_10k_cny": float(sum(float(b) for b in benefits)),
        "benefit_missing": len(done) - len(benefits),
        "implemented_ids": tuple(done),
    }


def implemented_no_low_table(
    screened: pd.DataFrame, options: pd.DataFrame, implementation: pd.DataFrame, lang: str
) -> pd.DataFrame:
    """No/low-cost options implemented or in progress with their results (Appendix B 5.3).

    Columns: option_id, name, option, status (label), investment_10k_cny (actual where given),
    benefit_10k_cny (actual annual benefit), evaluation (text)."""
    opts = options.set_index(options["option_id"].astype(str))
    impl = _implementation(options, implementation)
    rows = []
    for oid in screened.loc[screened["group"] == "feasible_no_low", "option_id"].astype(str):
        status = str(opts.loc[oid, "status"])
        if status not in ("implemented", "in_progress"):
            continue
        i = impl.loc[oid] if oid in impl.index else None
        inv = None if i is None else i["actual_investment_10k_cny"]
        if i18n.is_missing(inv):
            inv = opts.loc[oid, "investment_10k_cny"]
        rows.append(
            {
                "option_id": oid,
                "name": str(opts.loc[oid, "name"]),
                "option": option_label(oid, opts.loc[oid, "name"]),
                "status": _label(lang, "common.option_status", status),
                "investment_10k_cny": None if i18n.is_missing(inv) else float(inv),
                "benefit_10k_cny": None if i is None else i["actual_annual_benefit_10k_cny"],
                "evaluation": None if i is None else _str(i["evaluation"]),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "option_id",
            "name",
            "option",
            "status",
            "investment_10k_cny",
            "benefit_10k_cny",
            "evaluation",
        ],
    )


def _item_names(tables: Mapping[str, pd.DataFrame], lang: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for table, idc in (("materials", "material_id"), ("wastes", "waste_id")):
        t = tables.get(table)
        if t is not None and idc in t:
            names.update({str(i): str(n) for i, n in zip(t[idc], t["name"], strict=True)})
    pol = tables.get("pollutants")
    if pol is not None and "pollutant_id" in pol:
        names.update(
            {str(i): str(n) for i, n in zip(pol["pollutant_id"], pol["name"], strict=True)}
        )
    car = reference.table("energy/carriers.csv")
    names.update(
        {str(i): str(n) for i, n in zip(car["carrier_id"], car[f"name_{lang}"], strict=True)}
    )
    for special in ("fresh_water", "wastewater", "co2"):
        names[special] = tr(lang, f"p4.item.{special}")
    return names


def effects_summary(
    option_effects: pd.DataFrame,
    option_ids: Sequence[str],
    tables: Mapping[str, pd.DataFrame],
    lang: str,
) -> pd.DataFrame:
    """Annual reductions and savings of the given options summed per item (option_effects;
    the actual amount where measured, else the expected one), each item in the unit of
    its first row (other units converted with cpkit.units; amounts in units that cannot be
    converted stay on their own row).

    Columns: item, name, amount, unit, basis (actual | expected | mixed), options
    (;-separated ids)."""
    from cpkit import units

    names = _item_names(tables, lang)
    eff = option_effects[option_effects["option_id"].astype(str).isin([str(o) for o in option_ids])]
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    order: list[tuple[str, str]] = []
    for rec in eff.to_dict("records"):
        item, u = str(rec["item"]), str(rec["unit"])
        actual = not i18n.is_missing(rec["actual"])
        value = rec["actual"] if actual else rec["expected"]
        if i18n.is_missing(value):
            continue
        key = None
        for k in order:
            if k[0] == item and (k[1] == u or units.is_compatible(u, k[1])):
                key = k
                break
        if key is None:
            key = (item, u)
            order.append(key)
            groups[key] = {"amount": 0.0, "bases": set(), "options": []}
        g = groups[key]
        factor = 1.0 if key[1] == u else units.conversion_factor(u, key[1])
        g["amount"] += float(value) * factor
        g["bases"].add("actual" if actual else "expected")
        if str(rec["option_id"]) not in g["options"]:
            g["options"].append(str(rec["option_id"]))
    rows = [
        {
            "item": k[0],
            "name": names.get(k[0], k[0]),
            "amount": groups[k]["amount"],
            "unit": k[1],
            "basis": next(iter(groups[k]["bases"])) if len(groups[k]["bases"]) == 1 else "mixed",
            "options": ";".join(groups[k]["options"]),
        }
        for k in order
    ]
    return pd.DataFrame(rows, columns=["item", "name", "amount", "unit", "basis", "options"])


def effects_table(summary: pd.DataFrame, lang: str) -> pd.DataFrame:
    """:func:`effects_summary` with the unit and basis translated for display."""
    out = summary.copy()
    out["unit"] = [i18n.unit_label(u, lang) for u in summary["unit"]]
    out["basis"] = [_label(lang, "p4.basis", b) for b in summary["basis"]]
    return out


# =========================================================================== sections
def _heading(text: str, level: int) -> Any:
    from cpkit.display import heading

    return heading(text, level)


def _para(text: str) -> Any:
    from cpkit.display import paragraph

    return paragraph(text)


def _note(text: str, kind: str = "info") -> Any:
    from cpkit.display import note

    return note(text, kind)


def _table(df: pd.DataFrame, cols: Mapping[str, Col], lang: str, caption=None, total=None):
    from cpkit.display import table

    return table(df, cols, lang=lang, caption=caption, total_row=total)


def _chart(chart: Any, ctx: Any) -> Any:
    from cpkit.display import chart as show_chart

    return show_chart(chart, interactive=bool(ctx.interactive))


def _ids(ids: Iterable[Any], lang: str) -> str:
    ids = [str(i) for i in ids]
    return i18n.fmt_list(ids, lang) if ids else i18n.missing(lang)


def chapter_intro(ch: OptionsChapter) -> None:
    """Chapter heading and the opening paragraph: how many options, proposed when."""
    o = ch.options
    phases = o["phase_proposed"].astype("Int64")
    counts = {k: int((phases == k).sum()) for k in PHASE_NAMES}
    show(
        _heading(ch.t("p4.title"), 1),
        _para(
            ch.t(
                "p4.intro",
                n=i18n.fmt_int(len(o), ch.lang),
                pre=i18n.fmt_int(counts[2], ch.lang),
                assess=i18n.fmt_int(counts[3], ch.lang),
                options=i18n.fmt_int(counts[4], ch.lang),
            )
        ),
    )


def generation(ch: OptionsChapter) -> None:
    """5.1: options by aspect and cost class (table and chart)."""
    from cpkit.charts.options import options_by_aspect

    lang = ch.lang
    summ = aspect_summary(ch.screened, ch.options, lang)
    empty = list(summ.loc[summ["total"] == 0, "aspect"])
    cols = {
        "aspect": Col(ch.t("p4.col.aspect")),
        "no_low": int_col(ch.t("common.cost_class.no_low"), lang),
        "medium_high": int_col(ch.t("common.cost_class.medium_high"), lang),
        "total": int_col(ch.t("p4.col.total"), lang),
        "investment_10k_cny": num_col(ch.t("p4.col.investment"), lang, unit_id="10k_CNY"),
    }
    total = {
        "aspect": ch.t("p4.col.total"),
        "no_low": int(summ["no_low"].sum()),
        "medium_high": int(summ["medium_high"].sum()),
        "total": int(summ["total"].sum()),
        "investment_10k_cny": float(summ["investment_10k_cny"].sum()),
    }
    chart = options_by_aspect(
        aspect_counts(summ, lang),
        aspect_title=ch.t("p4.col.aspect"),
        count_title=ch.t("p4.chart.count"),
        class_title=ch.t("p4.col.cost_class"),
        title=ch.t("p4.chart.by_aspect"),
    )
    show(
        _heading(ch.t("p4.s51"), 2),
        _para(ch.t("p4.s51_text", thresholds=ch.threshold_names[lang])),
        _table(summ, cols, lang, caption=ch.t("p4.caption.by_aspect"), total=total),
        _chart(chart, ch.ctx),
        _note(ch.t("p4.aspects_empty", aspects=i18n.fmt_list(empty, lang)), "warning")
        if empty
        else None,
    )


def register(ch: OptionsChapter) -> None:
    """5.1: the option register in the logic of Appendix A (problem, cause, solution)."""
    lang = ch.lang
    df = register_table(ch.options, lang)
    cols = {
        "aspect": Col(ch.t("p4.col.aspect")),
        "option": Col(ch.t("p4.col.name")),
        "problem": text_col(ch.t("p4.col.problem"), lang),
        "cause": text_col(ch.t("p4.col.cause"), lang),
        "solution": text_col(ch.t("p4.col.solution"), lang),
    }
    show(
        _heading(ch.t("p4.h.register"), 3),
        _para(ch.t("p4.register.text")),
        _table(df, cols, lang, caption=ch.t("p4.caption.register")),
    )


def problem_links(ch: OptionsChapter) -> None:
    """5.1: every problem found should have an option (seed 004 5.4.2, 5.4.5): waste causes
    and lagging indicators with the options that address them; gaps flagged."""
    lang = ch.lang
    items: list[Any] = [_heading(ch.t("p4.h.links"), 3), _para(ch.t("p4.links.text"))]
    links = ch.links
    if links is not None and len(links):
        labels, _ = _aspect_maps(lang)
        df = links.assign(
            aspect=[labels.get(str(a), a) for a in links["aspect"]],
            at=[
                _join([c, loc]) for c, loc in zip(links["cause_id"], links["location"], strict=True)
            ],
        )
        cols = {
            "at": Col(ch.t("p4.col.location")),
            "waste": text_col(ch.t("p4.col.problem"), lang),
            "aspect": text_col(ch.t("p4.col.aspect"), lang),
            "options": text_col(ch.t("p4.col.options"), lang),
            "best_similarity": num_col(ch.t("p4.col.similarity"), lang, digits=2),
            "addressed": flag_col(ch.t("p4.col.addressed"), lang),
        }
        gaps = list(links.loc[~links["addressed"].astype(bool), "cause_id"])
        items += [
            _table(df, cols, lang, caption=ch.t("p4.caption.causes")),
            _note(
                ch.t(
                    "p4.links.cause_basis",
                    threshold=i18n.fmt_number(ch.cause_link_min_similarity, lang, 2),
                )
            ),
            _note(ch.t("p4.links.cause_gaps", ids=_ids(gaps, lang)), "warning")
            if gaps
            else _note(ch.t("p4.links.cause_ok"), "ok"),
        ]
    elif links is not None:
        items.append(_note(ch.t("p4.links.no_causes"), "warning"))
    result, lag, problem = ch.grading
    if lag is None:
        key = "p4.links.no_system" if problem == "no_system" else "p4.links.grading_failed"
        items.append(_note(ch.t(key, detail=problem or ""), "warning"))
    elif lag.empty:
        items.append(_note(ch.t("p4.links.no_lagging"), "ok"))
    else:
        df = lagging_table(lag, ch.coverage, lang)
        cols = {
            "indicator": Col(ch.t("p4.col.indicator")),
            "value": num_col(ch.t("p4.col.value"), lang, digits=2),
            "unit": text_col(ch.t("p4.col.unit"), lang),
            "level": Col(ch.t("p4.col.level")),
            "next_benchmark": num_col(ch.t("p4.col.next_benchmark"), lang, digits=2),
            "options": text_col(ch.t("p4.col.options"), lang),
            "addressed": flag_col(ch.t("p4.col.addressed"), lang),
        }
        gaps = list(df.loc[~df["addressed"], "indicator"])
        items += [
            _para(ch.t("p4.links.lagging_text", level=_level_text(result, lang))),
            _table(df, cols, lang, caption=ch.t("p4.caption.lagging")),
            _note(ch.t("p4.links.lagging_gaps", names=i18n.fmt_list(gaps, lang)), "warning")
            if gaps
            else _note(ch.t("p4.links.lagging_ok"), "ok"),
        ]
    items.append(_end_of_pipe_note(ch))
    show(*items)


def _level_text(result: Any, lang: str) -> str:
    if result is None or result.level == "none":
        return tr(lang, "p4.links.level_none")
    return str(result.level_name.get(lang, result.level))


def _end_of_pipe_note(ch: OptionsChapter) -> Any:
    """Seed 004 5.4.5: double-exceeding enterprises and key pollution sources need an
    effective end-of-pipe option when source reduction is not enough."""
    cats = set(ch.ds.profile.categories or [])
    if not cats & {"double_exceeding", "key_pollution_source"}:
        return None
    o = ch.options
    mand = o["mandatory_issue"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    live = (o["status"].astype("string").fillna("") != "rejected").to_numpy(dtype=bool)
    waste = (o["aspect"].astype(str) == "waste").to_numpy()
    ids = list(o.loc[mand & live & waste, "option_id"].astype(str))
    all_ids = list(o.loc[mand & live, "option_id"].astype(str))
    key = "p4.links.end_of_pipe" if ids else "p4.links.end_of_pipe_missing"
    return _note(
        ch.t(key, n=len(all_ids), ids=_ids(ids, ch.lang)),
        "info" if ids else "warning",
    )


def library_gaps(ch: OptionsChapter) -> None:
    """Library suggestions (cpkit.library) for the lagging indicators no option addresses
    yet (seed 002: matching options from a problem/solution library)."""
    lang = ch.lang
    sug, cov = ch.suggestions, ch.coverage
    _, lag, _ = ch.grading
    items: list[Any] = [_heading(ch.t("p4.h.library"), 3)]
    if sug is None or cov is None:
        items.append(_para(ch.t("p4.library.not_available")))
        show(*items)
        return
    gaps = list(cov.loc[~cov["addressed"].astype(bool), "indicator_id"].astype(str))
    if not gaps:
        items.append(_para(ch.t("p4.library.all_covered")))
        show(*items)
        return
    df = suggestions_table(sug, lag, lang, indicator_ids=gaps)
    items += [
        _para(ch.t("p4.library.text", n=len(gaps))),
        _table(df, _suggestion_cols(ch), lang, caption=ch.t("p4.caption.library")),
    ]
    show(*items)


def _suggestion_cols(ch: OptionsChapter) -> dict[str, Col]:
    lang = ch.lang
    return {
        "indicator": Col(ch.t("p4.col.indicator")),
        "entry": text_col(ch.t("p4.col.entry"), lang),
        "aspect": text_col(ch.t("p4.col.aspect"), lang),
        "solution": text_col(ch.t("p4.col.solution"), lang),
        "cost_class": text_col(ch.t("p4.col.cost_class"), lang),
        "match": Col(ch.t("p4.col.match")),
    }


def library_annex(ch: OptionsChapter) -> None:
    """Annex: the library suggestions for every lagging indicator."""
    sug = ch.suggestions
    _, lag, _ = ch.grading
    if sug is None or lag is None:
        return
    show(
        _heading(ch.t("p4.annex.library"), 2),
        _para(ch.t("p4.annex.library_text")),
        _table(suggestions_table(sug, lag, ch.lang), _suggestion_cols(ch), ch.lang),
    )


def classification(ch: OptionsChapter) -> None:
    """5.2: cost classes by the threshold set and the simple screening of every option."""
    from cpkit.display import key_values

    lang = ch.lang
    th = ch.thresholds
    basis = ch.screened.attrs.get("basis", {}).get("investment_basis", "gross")
    pairs = [
        (ch.t("p4.thresholds.set"), ch.threshold_names[lang]),
        (ch.t("p4.thresholds.no_low_max"), _money(th.no_low_max_10k_cny, lang)),
        (ch.t("p4.thresholds.medium_max"), _money(th.medium_max_10k_cny, lang)),
        (ch.t("p4.thresholds.basis"), ch.t(f"p4.thresholds.basis_{basis}")),
        (ch.t("p4.thresholds.source"), th.source),
    ]
    df = screening_table(ch.screened, ch.classified, lang)
    cols = {
        "option": Col(ch.t("p4.col.name")),
        "investment_10k_cny": num_col(ch.t("p4.col.investment"), lang, unit_id="10k_CNY"),
        "cost": Col(ch.t("p4.col.cost_class")),
        "group": Col(ch.t("p4.col.group")),
        "result_source": Col(ch.t("p4.col.result_source")),
    }
    disagree = list(ch.screened.loc[ch.screened["cost_disagrees"].fillna(False), "option_id"])
    no_result = list(
        ch.screened.loc[ch.screened["screening_source"] == "cost_class_only", "option_id"]
    )
    show(
        _heading(ch.t("p4.s52"), 2),
        _para(ch.t("p4.s52_text")),
        _heading(ch.t("p4.h.cost_class"), 3),
        key_values(pairs, lang=lang, caption=ch.t("p4.caption.thresholds")),
        _note(ch.t("p4.thresholds.override"), "info") if th.enterprise_override else None,
        _table(df, cols, lang, caption=ch.t("p4.caption.screening")),
        _note(ch.t("p4.screening.disagrees", ids=_ids(disagree, lang)), "warning")
        if disagree
        else None,
        _note(ch.t("p4.screening.no_result", ids=_ids(no_result, lang)), "warning")
        if no_result
        else None,
    )


def screening_section(ch: OptionsChapter) -> None:
    """5.2: simple screening summary (three groups) and the options screened out."""
    lang = ch.lang
    summ = screening.screening_summary(ch.screened)
    df = summ.assign(group=[_label(lang, "p4.group", g) for g in summ["group"]])
    cols = {
        "group": Col(ch.t("p4.col.group")),
        "options": int_col(ch.t("p4.col.count"), lang),
        "investment_10k_cny": num_col(ch.t("p4.col.investment"), lang, unit_id="10k_CNY"),
    }
    total = {
        "group": ch.t("p4.col.total"),
        "options": int(summ["options"].sum()),
        "investment_10k_cny": float(summ["investment_10k_cny"].sum()),
    }
    inf = infeasible_table(ch.screened, ch.options, lang)
    items: list[Any] = [
        _heading(ch.t("p4.h.simple"), 3),
        _para(ch.t("p4.simple.text")),
        _table(df, cols, lang, caption=ch.t("p4.caption.groups"), total=total),
    ]
    if len(inf):
        items.append(
            _table(
                inf,
                {
                    "option": Col(ch.t("p4.col.name")),
                    "reason": text_col(ch.t("p4.col.reason"), lang),
                    "mandatory_issue": flag_col(ch.t("p4.col.mandatory"), lang),
                },
                lang,
                caption=ch.t("p4.caption.infeasible"),
            )
        )
        flagged = list(inf.loc[inf["mandatory_issue"].fillna(False).astype(bool), "option_id"])
        if ch.audit_kind == "mandatory" and flagged:
            items.append(
                _note(ch.t("p4.simple.mandatory_screened_out", ids=_ids(flagged, lang)), "warning")
            )
    show(*items)


def _rule_text(ch: OptionsChapter, rule: screening.MandatoryRule | None) -> str:
    lang = ch.lang
    if ch.audit_kind != "mandatory" or rule is None:
        return ch.t("p4.rule.voluntary")
    if rule.method == "added_criterion":
        return ch.t(
            "p4.rule.added_criterion",
            name=rule.name_zh if lang == "zh" else rule.name_en,
            weight=i18n.fmt_number(rule.weight, lang, digits_for([rule.weight])),
            score_if=i18n.fmt_number(rule.score_if_issue, lang, digits_for([rule.score_if_issue])),
            score_else=i18n.fmt_number(
                rule.score_otherwise, lang, digits_for([rule.score_otherwise])
            ),
        )
    if rule.method == "multiplier":
        return ch.t("p4.rule.multiplier", factor=i18n.fmt_number(rule.multiplier, lang, 2))
    return ch.t("p4.rule.none")


def _ranking_outputs(ch: OptionsChapter, ranking: screening.OptionRanking) -> tuple[Any, ...]:
    from cpkit.charts.options import weighted_totals

    lang = ch.lang
    df = ranking_table(ranking)
    sd = digits_for(pd.concat([df["base_score"], df["total_score"]]))
    mand = ch.audit_kind == "mandatory" and ranking.rule is not None
    cols = {
        "rank": int_col(ch.t("p4.col.rank"), lang),
        "option": Col(ch.t("p4.col.name")),
    }
    if mand:
        cols |= {
            "mandatory_issue": flag_col(ch.t("p4.col.mandatory"), lang),
            "base_score": num_col(ch.t("p4.col.base_score"), lang, digits=sd),
            "adjustment": num_col(ch.t("p4.col.adjustment"), lang, digits=sd),
        }
    cols["total_score"] = num_col(ch.t("p4.col.total_score"), lang, digits=sd)
    if mand:
        cols["rank_without_rule"] = int_col(ch.t("p4.col.rank_without_rule"), lang)
    chart = weighted_totals(
        totals_parts(ranking, lang),
        option_title=ch.t("p4.col.option"),
        score_title=ch.t("p4.col.total_score"),
        part_title=ch.t("p4.chart.part"),
        title=ch.t("p4.chart.totals"),
    )
    top = [str(x) for x in ranking.ranking.loc[ranking.ranking["rank"] == 1, "option_id"]]
    key = "p4.ranking.top_tied" if len(top) > 1 else "p4.ranking.top"
    return (
        _table(df, cols, lang, caption=ch.t("p4.caption.ranking")),
        _note(ch.t(key, ids=_ids(top, lang)), "warning" if len(top) > 1 else "info"),
        _chart(chart, ch.ctx),
    )


def weighted_ranking(ch: OptionsChapter) -> None:
    """5.2: weighted-sum ranking of the medium/high-cost options (seed 004 5.4.6 b, c):
    criteria and weights, the mandatory-audit rule, the ranking (re-ranked live by weight
    sliders when interactive) and the heatmap of the scores."""
    from cpkit import scoring
    from cpkit.charts.options import score_heatmap
    from cpkit.display import explore

    lang = ch.lang
    items: list[Any] = [_heading(ch.t("p4.h.ranking"), 3), _para(ch.t("p4.ranking.text"))]
    if ch.ranking is None:
        items.append(_note(ch.ranking_problem or "", "warning"))
        show(*items)
        return
    ct = criteria_table(ch.criteria, lang)
    items += [
        _table(
            ct,
            {
                "criterion": Col(ch.t("p4.col.criterion")),
                "weight": num_col(ch.t("p4.col.weight"), lang, digits=digits_for(ct["weight"])),
                "usual_range": Col(ch.t("p4.col.usual_range"), align="center"),
                "source": text_col(ch.t("p4.col.source"), lang),
            },
            lang,
            caption=ch.t("p4.caption.criteria"),
        ),
        _note(_rule_text(ch, ch.ranking.rule)),
    ]
    if ch.unscored:
        items.append(_note(ch.t("p4.ranking.unscored", ids=_ids(ch.unscored, lang)), "warning"))
    show(*items)

    scale = scoring.score_scale()
    crit = ch.criteria.reset_index(drop=True)
    keys = [f"w{k}" for k in range(len(crit))]
    ids = [str(c) for c in crit["criterion_id"]]
    rule = ch.ranking.rule
    has_extra = rule is not None and rule.method == "added_criterion"

    def view(**values: float) -> tuple[Any, ...]:
        weights = {cid: float(values[k]) for k, cid in zip(keys, ids, strict=True)}
        extra = float(values["wm"]) if has_extra else None
        return _ranking_outputs(ch, ch.rerank(weights, extra))

    defaults = {k: float(w) for k, w in zip(keys, crit["weight"].astype(float), strict=True)}
    if has_extra:
        defaults["wm"] = float(rule.weight)
    names = dict(zip(keys, crit[f"name_{lang}"].astype(str), strict=True))
    if has_extra:
        names["wm"] = rule.name_zh if lang == "zh" else rule.name_en
    explore(
        view,
        _weight_controls(defaults, names, scale, ch.ctx.interactive),
        interactive=bool(ch.ctx.interactive),
    )
    show(
        _chart(
            score_heatmap(
                heatmap_cells(ch.ranking, lang),
                option_title=ch.t("p4.col.option"),
                criterion_title=ch.t("p4.col.criterion"),
                score_title=ch.t("p4.chart.score_r"),
                score_max=scale.score_max,
                title=ch.t("p4.chart.heatmap"),
            ),
            ch.ctx,
        )
    )


def _weight_controls(
    defaults: Mapping[str, float], names: Mapping[str, str], scale: Any, interactive: bool
) -> dict[str, Any]:
    """Sliders for the weights (the weight scale of scoring/scales.yaml) when interactive;
    the plain default values otherwise (no widget library needed in batch)."""
    if not interactive:
        return dict(defaults)
    import ipywidgets as widgets

    return {
        k: widgets.FloatSlider(
            value=v,
            min=scale.weight_min,
            max=scale.weight_max,
            step=1.0,
            description=names[k],
            continuous_update=False,
            style={"description_width": "initial"},
            layout=widgets.Layout(width="460px"),
        )
        for k, v in defaults.items()
    }


def stability(ch: OptionsChapter) -> None:
    """5.2: rank stability: how far each weight can move before the top option changes."""
    from cpkit.charts.options import weight_ranges

    lang = ch.lang
    if ch.ranking is None or len(ch.ranking.ranking) < 2:
        return
    table, raw = stability_table(ch.ranking, lang)
    wd = digits_for(table["weight"])
    cols = {
        "criterion": Col(ch.t("p4.col.criterion")),
        "weight": num_col(ch.t("p4.col.weight"), lang, digits=wd),
        "down_to": num_col(ch.t("p4.col.down_to"), lang, digits=2),
        "down_challenger": text_col(ch.t("p4.col.challenger"), lang),
        "up_to": num_col(ch.t("p4.col.up_to"), lang, digits=2),
        "up_challenger": text_col(ch.t("p4.col.challenger"), lang),
        "within_range": flag_col(ch.t("p4.col.within_range"), lang),
        "top_changes_step": flag_col(ch.t("p4.col.top_changes_step"), lang),
    }
    sensitive = list(table.loc[table["top_changes_step"], "criterion"])
    in_range = list(table.loc[table["within_range"].fillna(False).astype(bool), "criterion"])
    top = str(raw["top"].iloc[0])
    if sensitive:
        verdict = _note(
            ch.t("p4.stability.sensitive", top=top, names=i18n.fmt_list(sensitive, lang)), "warning"
        )
    elif in_range:
        verdict = _note(
            ch.t("p4.stability.in_range", top=top, names=i18n.fmt_list(in_range, lang)), "info"
        )
    else:
        verdict = _note(ch.t("p4.stability.robust", top=top), "ok")
    chart = weight_ranges(
        stability_ranges(table),
        criterion_title=ch.t("p4.col.criterion"),
        weight_title=ch.t("p4.col.weight"),
        range_label=ch.t("p4.chart.range_label", top=top),
        weight_label=ch.t("p4.chart.weight_label"),
        title=ch.t("p4.chart.stability"),
    )
    show(
        _heading(ch.t("p4.h.stability"), 3),
        _para(ch.t("p4.stability.text")),
        _table(table, cols, lang, caption=ch.t("p4.caption.stability")),
        verdict,
        _chart(chart, ch.ctx),
    )


def matrix_annex(ch: OptionsChapter, per_table: int = 4) -> None:
    """Annex: the full scoring matrix (R and R×W per option and criterion, ΣR×W)."""
    if ch.ranking is None:
        return
    items: list[Any] = [_heading(ch.t("p4.annex.matrix"), 2)]
    for df, cols in matrix_tables(ch.ranking, ch.lang, per_table=per_table):
        items.append(_table(df, cols, ch.lang))
    show(*items)


def interim_summary(ch: OptionsChapter) -> None:
    """5.3: the interim summary of the audit so far (seed 004 5.4.1): counts, the no/low-cost
    options implemented and their results; key figures recorded for the batch index."""
    from cpkit.display import key_values
    from cpkit.render import record

    lang = ch.lang
    impl_table = ch.tables["implementation"]
    f = interim_figures(ch.screened, ch.options, impl_table)
    pairs = [
        (ch.t("p4.summary.options"), i18n.fmt_int(f["options"], lang)),
        (ch.t("p4.group.feasible_no_low"), i18n.fmt_int(f["feasible_no_low"], lang)),
        (
            ch.t("p4.group.preliminary_medium_high"),
            i18n.fmt_int(f["preliminary_medium_high"], lang),
        ),
        (ch.t("p4.group.infeasible"), i18n.fmt_int(f["infeasible"], lang)),
        (ch.t("p4.summary.no_low_implemented"), i18n.fmt_int(f["no_low_implemented"], lang)),
        (ch.t("p4.summary.no_low_in_progress"), i18n.fmt_int(f["no_low_in_progress"], lang)),
        (ch.t("p4.summary.no_low_investment"), _money(f["no_low_investment_10k_cny"], lang)),
        (ch.t("p4.summary.no_low_benefit"), _money(f["no_low_benefit_10k_cny"], lang)),
    ]
    df = implemented_no_low_table(ch.screened, ch.options, impl_table, lang)
    cols = {
        "option": Col(ch.t("p4.col.name")),
        "status": Col(ch.t("p4.col.status")),
        "investment_10k_cny": num_col(ch.t("p4.col.investment"), lang, unit_id="10k_CNY"),
        "benefit_10k_cny": num_col(ch.t("p4.col.benefit"), lang, unit_text=ch.t("p4.unit.money_a")),
        "evaluation": text_col(ch.t("p4.col.evaluation"), lang),
    }
    total = {
        "option": ch.t("p4.col.total"),
        "investment_10k_cny": float(df["investment_10k_cny"].fillna(0).sum()) if len(df) else 0.0,
        "benefit_10k_cny": float(pd.to_numeric(df["benefit_10k_cny"]).fillna(0).sum())
        if len(df)
        else 0.0,
    }
    eff = effects_summary(ch.tables["option_effects"], f["implemented_ids"], ch.tables, lang)
    items: list[Any] = [
        _heading(ch.t("p4.s53"), 2),
        _para(
            ch.t(
                "p4.summary.text",
                n=i18n.fmt_int(f["options"], lang),
                no_low=i18n.fmt_int(f["feasible_no_low"], lang),
                done=i18n.fmt_int(f["no_low_implemented"], lang),
                mh=i18n.fmt_int(f["preliminary_medium_high"], lang),
                benefit=_money(f["no_low_benefit_10k_cny"], lang),
            )
        ),
        key_values(pairs, lang=lang, caption=ch.t("p4.caption.summary")),
    ]
    if len(df):
        items.append(_table(df, cols, lang, caption=ch.t("p4.caption.no_low_done"), total=total))
    if f["benefit_missing"]:
        items.append(_note(ch.t("p4.summary.benefit_missing", n=f["benefit_missing"]), "warning"))
    if len(eff):
        items.append(
            _table(
                effects_table(eff, lang),
                {
                    "name": Col(ch.t("p4.col.item")),
                    "amount": num_col(ch.t("p4.col.amount"), lang, digits=2),
                    "unit": Col(ch.t("p4.col.unit")),
                    "basis": Col(ch.t("p4.col.basis")),
                    "options": text_col(ch.t("p4.col.options"), lang),
                },
                lang,
                caption=ch.t("p4.caption.effects"),
            )
        )
    items.append(_para(ch.t("p4.summary.next", n=i18n.fmt_int(f["preliminary_medium_high"], lang))))
    show(*items)
    label = {"zh": tr("zh", "p4.record.options"), "en": tr("en", "p4.record.options")}
    record("options_count", f["options"], label=label)
    for key in ("feasible_no_low", "preliminary_medium_high", "infeasible", "no_low_implemented"):
        record(
            f"options.{key}",
            f[key],
            label={"zh": tr("zh", f"p4.record.{key}"), "en": tr("en", f"p4.record.{key}")},
        )
    record(
        "options.no_low_benefit_10k_cny",
        f["no_low_benefit_10k_cny"],
        unit="10k_CNY",
        label={
            "zh": tr("zh", "p4.record.no_low_benefit"),
            "en": tr("en", "p4.record.no_low_benefit"),
        },
    )


# =========================================================================== teaching
def teach_screening(ch: OptionsChapter) -> None:
    """Teaching: how simple screening and cost classes work (nothing when teaching is off)."""
    from cpkit import teaching

    show(teaching.explain(ch.ctx, ch.t("p4.teach.screening")))


def teach_weighted_sum(ch: OptionsChapter) -> None:
    """Teaching: the weighted sum Score_j = Σ W_i·R_ij explained and applied to the top
    option (sympy, offline maths); nothing when teaching is off."""
    from cpkit import teaching

    if not ch.ctx.teaching or ch.ranking is None:
        return
    expr, lhs, subs = weighted_sum_formula(ch.ranking, str(ch.ranking.ranking["option_id"].iloc[0]))
    show(
        teaching.explain(ch.ctx, ch.t("p4.teach.weighted")),
        teaching.formula(ch.ctx, expr, lhs=lhs, substitutions=subs),
    )


def weighted_sum_formula(
    ranking: screening.OptionRanking, option_id: str
) -> tuple[Any, Any, dict[Any, float]]:
    """The sympy form Σ_i W_i·R_i of one option's total with its weights and scores as
    substitutions (calculation reference 2.1): (expression, lhs symbol, substitutions)."""
    import sympy as sp

    sc = ranking.scoring
    crit = sc.criteria.reset_index(drop=True)
    cells = sc.cells[sc.cells[sc.id_column].astype(str) == option_id].set_index("criterion_id")
    w = sp.symbols(f"W_1:{len(crit) + 1}")
    r = sp.symbols(f"R_1:{len(crit) + 1}")
    expr = sp.Add(*[wi * ri for wi, ri in zip(w, r, strict=True)], evaluate=False)
    subs: dict[Any, float] = {}
    for k, cid in enumerate(crit["criterion_id"].astype(str)):
        subs[w[k]] = float(crit.loc[k, "weight"])
        subs[r[k]] = float(cells.loc[cid, "score_r"])
    return expr, sp.Symbol(f"Score_{{{option_id}}}"), subs


def exercise_weighted_total(ch: OptionsChapter) -> Any:
    """Exercise: compute the weighted total of the second-ranked option (the answer is
    cpkit.screening.rank_options's total). Inactive (shows nothing) when teaching is off
    or there is nothing to rank."""
    from cpkit import teaching

    r = ch.ranking.ranking if ch.ranking is not None else None
    if r is None or r.empty:
        return teaching.exercise(_off(ch.ctx), "weighted_total", "", 0.0)
    row = r.iloc[min(1, len(r) - 1)]
    return teaching.exercise(
        ch.ctx,
        "weighted_total",
        ch.t("p4.teach.exercise_total", option=option_label(row["option_id"], row["name"])),
        float(row["total_score"]),
        unit=ch.t("p4.unit.points"),
        rel_tol=0.001,
    )


@dataclass(frozen=True)
class _Off:
    lang: str
    teaching: bool = False


def _off(ctx: Any) -> _Off:
    return _Off(lang=ctx.lang)
