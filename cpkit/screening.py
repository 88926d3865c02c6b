"""Screening of cleaner production options (方案筛选, seed 004 clause 5.4.6).

* simple screening (简易筛选法, 5.4.6 a): every option ends in one of three groups,
  feasible no/low-cost (可行的无/低费方案), preliminarily feasible medium/high-cost
  (初步可行的中/高费方案) or infeasible (不可行方案);
* cost classes by investment thresholds (no national figure exists: a threshold set from
  ``data/reference/screening/cost_class_thresholds.csv`` or the enterprise's own
  ``no_low_cost_max_10k_cny``); an explicit ``cost_class`` in the options table wins, a
  disagreement with the threshold is reported;
* weighted ranking of the medium/high-cost options (5.4.6 b) with
  :func:`cpkit.scoring.weighted_scores`, and for mandatory audits the extra weight of
  options addressing the mandatory-audit issue (5.4.6 c), a rule stored as data
  (``mandatory_weight.yaml``) and shown in the result.

Money is in 10k CNY (万元) throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from cpkit import reference
from cpkit._frames import typed_frame
from cpkit.errors import CpkitError
from cpkit.scoring import WeightedScoring, criteria, weighted_scores


class ScreeningError(CpkitError):
    """Options cannot be classified or ranked with the given inputs."""


GROUPS = ("feasible_no_low", "preliminary_medium_high", "infeasible")


# --------------------------------------------------------------------------- cost classes
@dataclass(frozen=True)
class CostThresholds:
    """Investment thresholds of one set (10k CNY): an option is no/low-cost when its
    investment ≤ ``no_low_max_10k_cny``; medium up to ``medium_max_10k_cny``, high above."""

    set_id: str
    no_low_max_10k_cny: float
    medium_max_10k_cny: float
    source: str
    enterprise_override: bool = False


def cost_thresholds(
    set_id: str | None = None, *, no_low_cost_max_10k_cny: float | None = None
) -> CostThresholds:
    """The threshold set ``set_id`` (``default`` when None) of
    ``data/reference/screening/cost_class_thresholds.csv``; the enterprise parameter
    ``no_low_cost_max_10k_cny`` replaces its no/low-cost limit."""
    tab = reference.table("screening/cost_class_thresholds.csv")
    sid = set_id or "default"
    row = tab[tab["set_id"] == sid]
    if row.empty:
        raise ScreeningError(
            f"unknown cost-class threshold set {sid!r}; known: {', '.join(tab['set_id'])}"
        )
    r = row.iloc[0]
    th = CostThresholds(
        set_id=sid,
        no_low_max_10k_cny=float(r["no_low_max_10k_cny"]),
        medium_max_10k_cny=float(r["medium_max_10k_cny"]),
        source=str(r["source"]),
    )
    if no_low_cost_max_10k_cny is not None and not pd.isna(no_low_cost_max_10k_cny):
        v = float(no_low_cost_max_10k_cny)
        if v < 0:
            raise ScreeningError(f"no_low_cost_max_10k_cny must not be negative, got {v:g}")
        th = replace(
            th,
            no_low_max_10k_cny=v,
            medium_max_10k_cny=max(th.medium_max_10k_cny, v),
            source=f"enterprise parameter no_low_cost_max_10k_cny = {v:g} (set {sid}: {th.source})",
            enterprise_override=True,
        )
    return th


def _rules_doc() -> dict[str, Any]:
    return reference.load_yaml("screening/screening_rules.yaml")


def _investment(options: pd.DataFrame, basis: str) -> pd.Series:
    if "investment_10k_cny" not in options:
        raise ScreeningError("options table has no column investment_10k_cny")
    inv = pd.to_numeric(options["investment_10k_cny"]).astype("Float64")
    if basis == "net":
        sub = (
            pd.to_numeric(options["subsidy_10k_cny"]).astype("Float64").fillna(0.0)
            if "subsidy_10k_cny" in options
            else 0.0
        )
        inv = inv - sub
    elif basis != "gross":
        raise ScreeningError(f"investment basis must be 'gross' or 'net', not {basis!r}")
    return inv


def classify_cost(
    options: pd.DataFrame,
    thresholds: CostThresholds | str | None = None,
    *,
    investment_basis: Literal["gross", "net"] | None = None,
) -> pd.DataFrame:
    """Cost class of each option by investment thresholds (seed 004 clause 5.4.6 a; no
    national threshold: calculation reference 6.2).

    ``thresholds`` is a :class:`CostThresholds`, a set id, or None (``default``).
    ``investment_basis`` (default from ``screening_rules.yaml``: gross) compares the total
    investment or the investment net of subsidy. An explicit ``cost_class`` in the table
    wins; ``disagrees`` flags a given class that the threshold contradicts.

    Columns: option_id, name, investment_10k_cny (the compared amount), threshold_class
    (no_low | medium_high), cost_band (no_low | medium | high), cost_class_given,
    cost_class, cost_class_source (given | threshold), disagrees, note.
    ``attrs["basis"]`` names the threshold set and its source.
    """
    th = thresholds if isinstance(thresholds, CostThresholds) else cost_thresholds(thresholds)
    basis = investment_basis or _rules_doc()["investment_basis"]["value"]
    inv = _investment(options, basis)
    if "option_id" not in options:
        raise ScreeningError("options table has no column option_id")
    given = (
        options["cost_class"].astype("string")
        if "cost_class" in options
        else pd.Series(pd.NA, index=options.index, dtype="string")
    )
    bad = sorted(set(given.dropna()) - {"no_low", "medium_high"})
    if bad:
        raise ScreeningError(f"cost_class must be no_low or medium_high, found {bad}")
    rows = []
    for oid, name, x, g in zip(
        options["option_id"],
        options["name"] if "name" in options else options["option_id"],
        inv,
        given,
        strict=True,
    ):
        if pd.isna(x):
            if pd.isna(g):
                raise ScreeningError(
                    f"option {oid}: neither investment_10k_cny nor cost_class given; "
                    "enter the investment (0 for a no-cost option)"
                )
            t_cls, band = pd.NA, pd.NA
        else:
            x = float(x)
            if x < 0:
                raise ScreeningError(f"option {oid}: investment net of subsidy is negative ({x:g})")
            t_cls = "no_low" if x <= th.no_low_max_10k_cny else "medium_high"
            band = (
                "no_low"
                if x <= th.no_low_max_10k_cny
                else ("medium" if x <= th.medium_max_10k_cny else "high")
            )
        note = ""
        disagrees = False
        if pd.isna(g):
            cls, src = t_cls, "threshold"
        else:
            cls, src = g, "given"
            if not pd.isna(t_cls) and g != t_cls:
                disagrees = True
                note = (
                    f"given as {g} but the investment {x:g} (10k CNY) is "
                    f"{'within' if t_cls == 'no_low' else 'above'} the no/low-cost limit "
                    f"{th.no_low_max_10k_cny:g}; the given class is used"
                )
            elif pd.isna(t_cls):
                note = "no investment given: the given class is used"
        rows.append(
            {
                "option_id": oid,
                "name": name,
                "investment_10k_cny": x,
                "threshold_class": t_cls,
                "cost_band": band,
                "cost_class_given": g,
                "cost_class": cls,
                "cost_class_source": src,
                "disagrees": disagrees,
                "note": note,
            }
        )
    out = typed_frame(
        rows,
        {
            "option_id": "string",
            "name": "string",
            "investment_10k_cny": "Float64",
            "threshold_class": "string",
            "cost_band": "string",
            "cost_class_given": "string",
            "cost_class": "string",
            "cost_class_source": "string",
            "disagrees": "boolean",
            "note": "string",
        },
    )
    out.attrs["basis"] = {
        "thresholds": th.set_id,
        "no_low_max_10k_cny": th.no_low_max_10k_cny,
        "medium_max_10k_cny": th.medium_max_10k_cny,
        "source": th.source,
        "investment_basis": basis,
    }
    return out


# --------------------------------------------------------------------------- simple screening
def _condition_holds(row: pd.Series, cond: dict[str, Any]) -> bool:
    col = cond.get("column")
    if col not in row.index:
        return False
    v = row[col]
    if "is_empty" in cond:
        return bool(pd.isna(v)) == bool(cond["is_empty"])
    if pd.isna(v):
        return False
    if "equals" in cond:
        return v == cond["equals"]
    if "in" in cond:
        return v in cond["in"]
    if "less_than" in cond:
        return float(v) < float(cond["less_than"])
    if "greater_than" in cond:
        return float(v) > float(cond["greater_than"])
    raise ScreeningError(f"screening rule condition {cond} has no known test")


def simple_screening(
    options: pd.DataFrame,
    thresholds: CostThresholds | str | None = None,
    *,
    rules: list[dict[str, Any]] | None = None,
    audit_kind: Literal["mandatory", "voluntary"] = "voluntary",
) -> pd.DataFrame:
    """Simple screening (简易筛选法, seed 004 clause 5.4.6 a) of all options.

    The ``screening`` column of the options table (feasible / preliminary / infeasible)
    is the team's result and wins; where it is empty the rules of
    ``screening_rules.yaml`` (or ``rules``) decide; where neither gives a result the
    option is grouped by its cost class and flagged ``screening_source = cost_class_only``.
    Non-infeasible options are grouped by cost class (:func:`classify_cost`).

    Columns: option_id, name, investment_10k_cny, cost_class, cost_class_source,
    cost_disagrees, screening_given, screening_rule (rule id), screening
    (feasible | infeasible), screening_source (given | rule | cost_class_only), group
    (feasible_no_low | preliminary_medium_high | infeasible), mandatory_issue, note.
    For a mandatory audit, an option addressing the mandatory issue that is screened out
    is flagged (5.4.6 c asks to keep such options among the medium/high-cost candidates).
    """
    if audit_kind not in ("mandatory", "voluntary"):
        raise ScreeningError(f"audit_kind must be mandatory or voluntary, not {audit_kind!r}")
    costs = classify_cost(options, thresholds)
    rules = _rules_doc()["rules"] if rules is None else rules
    given = (
        options["screening"].astype("string")
        if "screening" in options
        else pd.Series(pd.NA, index=options.index, dtype="string")
    )
    bad = sorted(set(given.dropna()) - {"feasible", "preliminary", "infeasible"})
    if bad:
        raise ScreeningError(f"screening must be feasible, preliminary or infeasible, found {bad}")
    mand = (
        options["mandatory_issue"].astype("boolean")
        if "mandatory_issue" in options
        else pd.Series(pd.NA, index=options.index, dtype="boolean")
    )
    rows = []
    for k, (_, opt) in enumerate(options.iterrows()):
        c = costs.iloc[k]
        notes = [c["note"]] if c["note"] else []
        rule_id, rule_res, rule_reason = pd.NA, pd.NA, ""
        for rule in rules:
            if _condition_holds(opt, rule["when"]):
                rule_id, rule_res = rule["id"], rule["result"]
                rule_reason = rule.get("reason", {}).get("en", rule["id"])
                break
        g = given.iloc[k]
        if not pd.isna(g):
            result = "infeasible" if g == "infeasible" else "feasible"
            source = "given"
            if not pd.isna(rule_res) and rule_res != result:
                notes.append(
                    f"the team's result ({g}) differs from rule {rule_id} ({rule_reason}); "
                    "the team's result is used"
                )
            if g == "feasible" and c["cost_class"] == "medium_high":
                notes.append(
                    "a medium/high-cost option is only preliminarily feasible until the "
                    "feasibility analysis (5.5)"
                )
            if g == "preliminary" and c["cost_class"] == "no_low":
                notes.append("'preliminary' given for a no/low-cost option: treated as feasible")
        elif not pd.isna(rule_res):
            result, source = rule_res, "rule"
            notes.append(f"rule {rule_id}: {rule_reason}")
        else:
            result, source = "feasible", "cost_class_only"
            notes.append(
                "no screening result given: grouped by cost class; record the team's result"
            )
        if result == "infeasible":
            group = "infeasible"
        elif c["cost_class"] == "no_low":
            group = "feasible_no_low"
        else:
            group = "preliminary_medium_high"
        m = mand.iloc[k]
        if audit_kind == "mandatory" and not pd.isna(m) and bool(m) and group == "infeasible":
            notes.append(
                "addresses the mandatory-audit issue but is screened out: seed 004 5.4.6 c asks "
                "to keep such options among the medium/high-cost candidates"
            )
        rows.append(
            {
                "option_id": c["option_id"],
                "name": c["name"],
                "investment_10k_cny": c["investment_10k_cny"],
                "cost_class": c["cost_class"],
                "cost_class_source": c["cost_class_source"],
                "cost_disagrees": c["disagrees"],
                "screening_given": g,
                "screening_rule": rule_id,
                "screening": result,
                "screening_source": source,
                "group": group,
                "mandatory_issue": m,
                "note": "; ".join(notes),
            }
        )
    out = typed_frame(
        rows,
        {
            "option_id": "string",
            "name": "string",
            "investment_10k_cny": "Float64",
            "cost_class": "string",
            "cost_class_source": "string",
            "cost_disagrees": "boolean",
            "screening_given": "string",
            "screening_rule": "string",
            "screening": "string",
            "screening_source": "string",
            "group": "string",
            "mandatory_issue": "boolean",
            "note": "string",
        },
    )
    out.attrs["basis"] = {
        **costs.attrs["basis"],
        "rules": "data/reference/screening/screening_rules.yaml",
    }
    return out


def screening_summary(screened: pd.DataFrame) -> pd.DataFrame:
    """Counts and total investment (10k CNY) per screening group, in the order of
    seed 004 5.4.6 a. Columns: group, options, investment_10k_cny."""
    g = screened.groupby("group", observed=True)
    out = pd.DataFrame(
        {
            "group": list(GROUPS),
            "options": [int(g.size().get(x, 0)) for x in GROUPS],
            "investment_10k_cny": [
                float(screened.loc[screened["group"] == x, "investment_10k_cny"].sum())
                for x in GROUPS
            ],
        }
    ).astype({"group": "string"})
    return out


# --------------------------------------------------------------------------- mandatory weight
@dataclass(frozen=True)
class MandatoryRule:
    """How options addressing the mandatory-audit issue get extra weight (5.4.6 c).

    method ``added_criterion``: an extra criterion ``criterion_id`` with weight ``weight``;
    options with mandatory_issue score ``score_if_issue``, the others ``score_otherwise``.
    method ``multiplier``: their weighted total is multiplied by ``multiplier``.
    method ``none``: no adjustment.
    """

    method: Literal["added_criterion", "multiplier", "none"]
    criterion_id: str
    name_zh: str
    name_en: str
    weight: float
    score_if_issue: float
    score_otherwise: float
    multiplier: float
    source: str

    def describe(self) -> str:
        """One line for the report."""
        if self.method == "added_criterion":
            return (
                f"added criterion {self.name_zh} (W = {self.weight:g}; R = "
                f"{self.score_if_issue:g} if the option addresses the mandatory issue, else "
                f"{self.score_otherwise:g})"
            )
        if self.method == "multiplier":
            return (
                f"weighted total × {self.multiplier:g} for options addressing the mandatory issue"
            )
        return "no extra weight"


def mandatory_rule(**overrides: Any) -> MandatoryRule:
    """The rule of ``data/reference/screening/mandatory_weight.yaml``; keyword arguments
    replace fields (e.g. ``mandatory_rule(method="multiplier", multiplier=1.3)``)."""
    doc = reference.load_yaml("screening/mandatory_weight.yaml")
    c = doc["criterion"]
    rule = MandatoryRule(
        method=doc["method"],
        criterion_id=str(c["criterion_id"]),
        name_zh=str(c["name_zh"]),
        name_en=str(c["name_en"]),
        weight=float(c["weight"]),
        score_if_issue=float(c["score_if_issue"]),
        score_otherwise=float(c["score_otherwise"]),
        multiplier=float(doc["multiplier"]),
        source=str(doc["source"]),
    )
    if overrides:
        unknown = set(overrides) - set(MandatoryRule.__dataclass_fields__)
        if unknown:
            raise ScreeningError(f"unknown mandatory-rule field(s) {sorted(unknown)}")
        rule = replace(rule, **overrides)
    if rule.method not in ("added_criterion", "multiplier", "none"):
        raise ScreeningError(
            f"mandatory-rule method must be added_criterion, multiplier or none, not {rule.method!r}"
        )
    if rule.multiplier <= 0:
        raise ScreeningError(f"mandatory-rule multiplier must be positive, got {rule.multiplier:g}")
    return rule


@dataclass(frozen=True)
class OptionRanking:
    """Weighted ranking of the preliminarily feasible medium/high-cost options (5.4.6 b, c).

    ranking   option_id, name, mandatory_issue, base_score (ΣW·R of the ordinary criteria),
              adjustment (points added or the multiplier effect), total_score, rank, tied,
              rank_without_rule
    scoring   the :class:`~cpkit.scoring.WeightedScoring` behind it (its matrix shows the
              added criterion row when that method is used)
    rule      the mandatory rule applied, or None (voluntary audit)
    excluded  option_id and reason for options scored but not ranked, or preliminary
              medium/high-cost options without scores
    """

    ranking: pd.DataFrame
    scoring: WeightedScoring
    rule: MandatoryRule | None
    excluded: pd.DataFrame
    warnings: tuple[str, ...]
    basis: dict[str, Any] = field(default_factory=dict)


def rank_options(
    options: pd.DataFrame,
    option_scores: pd.DataFrame,
    *,
    criteria_table: pd.DataFrame | None = None,
    screened: pd.DataFrame | None = None,
    audit_kind: Literal["mandatory", "voluntary"] = "voluntary",
    rule: MandatoryRule | None = None,
    thresholds: CostThresholds | str | None = None,
) -> OptionRanking:
    """Weighted-sum ranking of the medium/high-cost options (权重总和计分排序法, seed 004
    clause 5.4.6 b) with extra weight for options addressing the mandatory-audit issue in
    mandatory audits (5.4.6 c; the rule is :func:`mandatory_rule` unless given).

    Only options in the group ``preliminary_medium_high`` of ``screened`` (computed by
    :func:`simple_screening` when None) are ranked; scores of other options and
    preliminary options without scores are listed in ``excluded``. Criteria default to
    the option criteria of ``data/reference/scoring``.
    """
    if audit_kind not in ("mandatory", "voluntary"):
        raise ScreeningError(f"audit_kind must be mandatory or voluntary, not {audit_kind!r}")
    screened = (
        simple_screening(options, thresholds, audit_kind=audit_kind)
        if screened is None
        else screened
    )
    crit = criteria(kind="option") if criteria_table is None else criteria_table
    eligible = screened.loc[screened["group"] == "preliminary_medium_high", "option_id"].astype(str)
    scored = set(option_scores["option_id"].dropna().astype(str)) if len(option_scores) else set()
    excl = []
    for oid in sorted(scored - set(eligible)):
        grp = screened.loc[screened["option_id"] == oid, "group"]
        why = f"group {grp.iloc[0]}" if len(grp) else "not in the options table"
        excl.append({"option_id": oid, "reason": f"scored but not ranked ({why})"})
    for oid in eligible:
        if oid not in scored:
            excl.append(
                {"option_id": oid, "reason": "preliminary medium/high-cost option without scores"}
            )
    ranked_ids = [o for o in eligible if o in scored]
    if not ranked_ids:
        raise ScreeningError("no preliminarily feasible medium/high-cost option has scores to rank")
    warnings: list[str] = [f"{e['option_id']}: {e['reason']}" for e in excl]

    opts = options[options["option_id"].astype(str).isin(ranked_ids)].copy()
    opts["option_id"] = opts["option_id"].astype(str)
    opts = opts.set_index("option_id").loc[ranked_ids].reset_index()
    mand = (
        opts["mandatory_issue"].astype("boolean")
        if "mandatory_issue" in opts
        else pd.Series(pd.NA, index=opts.index, dtype="boolean")
    )
    scores = option_scores[option_scores["option_id"].astype(str).isin(ranked_ids)]
    base = weighted_scores(scores, crit, opts[["option_id", "name"]], id_column="option_id")
    base_tot = base.ranking.set_index("option_id")["total_score"].reindex(ranked_ids).to_numpy()

    applied = None
    if audit_kind == "mandatory":
        applied = rule or mandatory_rule()
        empty = opts.loc[mand.isna().to_numpy(), "option_id"].tolist()
        if empty:
            warnings.append(
                f"mandatory_issue empty for {', '.join(empty)}: treated as not addressing the issue"
            )
    is_issue = mand.fillna(False).to_numpy(dtype=bool)

    scoring = base
    adjusted = base_tot.copy()
    if applied is not None and applied.method == "added_criterion":
        if applied.criterion_id in set(crit["criterion_id"]):
            raise ScreeningError(
                f"criterion id {applied.criterion_id} of the mandatory rule is already a criterion"
            )
        extra = pd.DataFrame(
            {
                "criterion_id": [applied.criterion_id],
                "name_zh": [applied.name_zh],
                "name_en": [applied.name_en],
                "weight": [applied.weight],
                "weight_min": [pd.NA],
                "weight_max": [pd.NA],
                "source": [f"mandatory rule: {applied.source}"],
            }
        )
        crit2 = pd.concat([crit, extra.astype(crit.dtypes.to_dict())], ignore_index=True)
        crit2.attrs["basis"] = dict(crit.attrs.get("basis", {}))
        extra_scores = pd.DataFrame(
            {
                "option_id": ranked_ids,
                "criterion_id": applied.criterion_id,
                "score": np.where(is_issue, applied.score_if_issue, applied.score_otherwise),
            }
        )
        scoring = weighted_scores(
            pd.concat(
                [scores[["option_id", "criterion_id", "score"]], extra_scores], ignore_index=True
            ),
            crit2,
            opts[["option_id", "name"]],
            id_column="option_id",
        )
        adjusted = (
            scoring.ranking.set_index("option_id")["total_score"].reindex(ranked_ids).to_numpy()
        )
    elif applied is not None and applied.method == "multiplier":
        adjusted = np.where(is_issue, base_tot * applied.multiplier, base_tot)

    rounded = pd.Series(np.round(adjusted, 9))
    ranking = pd.DataFrame(
        {
            "option_id": pd.array(ranked_ids, dtype="string"),
            "name": opts["name"].astype("string").to_numpy(),
            "mandatory_issue": mand.to_numpy(),
            "base_score": base_tot,
            "adjustment": adjusted - base_tot,
            "total_score": adjusted,
            "rank": rounded.rank(method="min", ascending=False).astype(int).to_numpy(),
            "tied": rounded.duplicated(keep=False).to_numpy(),
            "rank_without_rule": pd.Series(np.round(base_tot, 9))
            .rank(method="min", ascending=False)
            .astype(int)
            .to_numpy(),
        }
    )
    ranking["mandatory_issue"] = ranking["mandatory_issue"].astype("boolean")
    ranking = ranking.sort_values(["rank"], kind="stable").reset_index(drop=True)
    basis = {
        **scoring.basis,
        "mandatory_rule": applied.describe() if applied else "not applied (voluntary audit)",
    }
    ranking.attrs["basis"] = basis
    excluded = pd.DataFrame(excl, columns=["option_id", "reason"]).astype("string")
    return OptionRanking(
        ranking=ranking,
        scoring=scoring,
        rule=applied,
        excluded=excluded,
        warnings=tuple(warnings) + scoring.warnings,
        basis=basis,
    )
