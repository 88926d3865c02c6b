"""Cleaner production level grading with a sector indicator system (清洁生产评价指标体系).

Implements the index method of the national general rule for compiling CP evaluation
indicator systems (清洁生产评价指标体系编制通则, NDRC/MEE/MIIT announcement 2013 No. 33), as
described in calculation-reference section 3, and the level assessment that seed 004
(Zhejiang technical requirements) asks for in clauses 5.2.9-5.2.10 (before the audit) and
5.6.6 (after the options are implemented); seed 003 (Hainan) article 21(2) uses the same
grading at acceptance.

An indicator system is data (``data/reference/indicator_systems/<id>.yaml``, format in
docs/architecture.md); nothing about a sector lives in this module. The maths:

* membership (§3.1): ``Y_gk(x_ij) = 100`` if indicator j of group i reaches level k, else 0,
  read **cumulatively**: an indicator at level I counts for Y_I, Y_II and Y_III;
* level reached: smaller-is-better ``x <= b_k``, larger-is-better ``x >= b_k``, compared as
  exact decimals (a value equal to the benchmark reaches the level); qualitative indicators
  carry the level the auditor chose against the level text;
* comprehensive index (§3.2, formula 5-2): ``Y_gk = sum_i w_i sum_j w'_ij Y_gk(x_ij)``;
* not-applicable indicators (formula 5-3): ``w'_ij = w_ij / sum_{j applicable} w_ij`` within
  their group; a group with no applicable indicator drops out and the first-level weights are
  renormalised the same way (cpkit's extension, flagged in the result);
* weight split by activity share (§3.2, multi-product firms): the indicators of one
  ``share_group`` share their summed weight in proportion to the activity of each
  (e.g. output of each board type);
* level (§3.3): the ``level_rules`` of the system file, evaluated in order, the first rule
  whose conditions all hold wins; no rule holding means "none" (不达标).

Scores are computed with exact rational arithmetic (:class:`fractions.Fraction`), so that
"Y_III = 100" is decided exactly, never through a float that came out as 99.99999999999999.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cpkit import reference
from cpkit.errors import GradingError, ReferenceDataError

__all__ = [
    "GradeResult",
    "Group",
    "Indicator",
    "IndicatorSystem",
    "LevelRule",
    "StageComparison",
    "available_systems",
    "check_system_file",
    "compare_stages",
    "grade",
    "grade_stages",
    "lagging_indicators",
    "load_system",
    "load_system_file",
    "system_problems",
    "system_table",
]

NONE_LEVEL = "none"
_FOLDER = "indicator_systems"

# --------------------------------------------------------------------------- the format


def _as_str(v: Any) -> Any:
    # YAML reads unquoted codes and levels such as 3360 as numbers.
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


Str = Annotated[str, BeforeValidator(_as_str)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Text(_Model):
    """A bilingual label."""

    zh: Str
    en: Str


class Indicator(_Model):
    """A second-level indicator (二级指标).

    ``benchmarks`` maps level id -> benchmark value (quantitative indicators); a value equal
    to the benchmark reaches the level. ``level_text`` says what each level means
    (qualitative indicators). ``share_group``: indicators of one group with the same
    share_group split their summed weight by activity share. ``aspects`` and ``keywords``
    are optional hints for the option library (cpkit.library).
    """

    id: Str
    name: Text
    unit: Str = ""
    weight: Decimal
    direction: Literal["smaller", "larger", "qualitative"]
    benchmarks: dict[Str, Decimal] | None = None
    restrictive: bool = False
    level_text: dict[Str, Text] | None = None
    share_group: Str | None = None
    aspects: tuple[Str, ...] = ()
    keywords: tuple[Str, ...] = ()
    note: Str | None = None

    @property
    def quantitative(self) -> bool:
        return self.direction != "qualitative"


class Group(_Model):
    """A first-level indicator (一级指标) with its second-level indicators."""

    id: Str
    name: Text
    weight: Decimal
    indicators: tuple[Indicator, ...]


class ScoreCondition(_Model):
    """``Y_<level> >= min``."""

    score: Str
    min_: Decimal = Field(alias="min")


class RestrictiveCondition(_Model):
    """Every applicable restrictive indicator (限定性指标) at this level or better."""

    restrictive_at_least: Str


class NonRestrictiveCondition(_Model):
    """Every applicable non-restrictive indicator at this level or better."""

    non_restrictive_at_least: Str


Condition = ScoreCondition | RestrictiveCondition | NonRestrictiveCondition


class LevelRule(_Model):
    """One row of the level table: the level is reached when all conditions hold."""

    level: Str
    all_: tuple[Condition, ...] = Field(alias="all")


class IndicatorSystem(_Model):
    """A sector indicator system as stored in data/reference/indicator_systems."""

    id: Str
    name: Text
    industry_codes: tuple[Str, ...] = ()
    source: Str
    status: Literal["V", "M", "C", "I"]
    version: Str | None = None
    edition: Str | None = None
    notes: Str | None = None
    weight_tolerance: Decimal | None = None
    levels: tuple[Str, ...]
    level_names: dict[Str, Text]
    level_rules: tuple[LevelRule, ...]
    groups: tuple[Group, ...]

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(ind for g in self.groups for ind in g.indicators)

    def indicator(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise GradingError(f"indicator system {self.id!r} has no indicator {indicator_id!r}")

    def group_of(self, indicator_id: str) -> Group:
        for g in self.groups:
            if any(ind.id == indicator_id for ind in g.indicators):
                return g
        raise GradingError(f"indicator system {self.id!r} has no indicator {indicator_id!r}")


# --------------------------------------------------------------------------- loading


def _default(name: str) -> Any:
    return reference.load_yaml("grading/defaults.yaml")[name]["value"]


def available_systems() -> list[str]:
    """Ids of the indicator systems under data/reference/indicator_systems."""
    return [
        Path(p).stem for p in reference.listing(_FOLDER, ".yaml") if Path(p).name != "catalog.yaml"
    ]


def _problems_of(
    doc: Any, label: str, stem: str | None
) -> tuple[IndicatorSystem | None, list[str]]:
    if not isinstance(doc, dict):
        return None, [f"{label}: not a mapping of keys (id, name, levels, groups, ...)"]
    try:
        system = IndicatorSystem.model_validate(doc)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            if err["type"] == "extra_forbidden":
                key = err["loc"][-1]
                loc = _describe_loc(doc, err["loc"][:-1])
                msg = f"unexpected key {key!r}"
                parent = _node(doc, err["loc"][:-1])
                if isinstance(parent, dict) and {"zh", "en"} & set(parent):
                    msg += " (a comma inside an unquoted {zh: ..., en: ...} text? put the text in quotes)"
                out.append(f"{label}: {loc}: {msg}")
            else:
                loc = _describe_loc(doc, err["loc"])
                out.append(f"{label}: {loc}: {err['msg']}")
        return None, out
    problems = [f"{label}: {p}" for p in system_problems(system)]
    if stem is not None and system.id != stem:
        problems.append(f"{label}: id {system.id!r} differs from the file name {stem!r}")
    return system, problems


def _node(doc: Any, loc: tuple[Any, ...]) -> Any:
    node = doc
    for key in loc:
        in_list = isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        if in_list or (isinstance(node, dict) and key in node):
            node = node[key]
        elif not (isinstance(key, str) and key.endswith("Condition")):
            return None
    return node


def _describe_loc(doc: Any, loc: tuple[Any, ...]) -> str:
    """Readable location of a pydantic error, e.g. ``groups[1] (pollution) > weight``."""
    tags = {"ScoreCondition", "RestrictiveCondition", "NonRestrictiveCondition"}
    parts: list[str] = []
    node = doc
    for key in loc:
        if isinstance(key, str) and key in tags:
            continue
        if isinstance(key, int) and isinstance(node, list):
            node = node[key] if 0 <= key < len(node) else None
            ident = node.get("id") if isinstance(node, dict) else None
            label = f"[{key}]" + (f" ({ident})" if ident else "")
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return " > ".join(parts) or "(top level)"


def check_system_file(path: str | Path) -> list[str]:
    """Problems of an indicator-system file, as readable lines (empty list: the file is fine).

    Checks the format of docs/architecture.md and the consistency rules of
    :func:`system_problems`. Never raises for a bad file; use it to review a new system.
    """
    p = Path(path)
    label = p.name
    try:
        with open(p, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except OSError as exc:
        return [f"{label}: cannot be read ({exc})"]
    except yaml.YAMLError as exc:
        return [f"{label}: invalid YAML ({exc})"]
    return _problems_of(doc, label, p.stem)[1]


def load_system_file(path: str | Path) -> IndicatorSystem:
    """Load and validate an indicator-system YAML file (any path, e.g. a draft system).

    Raises GradingError listing every problem found (see :func:`check_system_file`).
    """
    p = Path(path)
    try:
        with open(p, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except OSError as exc:
        raise GradingError(f"indicator system file {p} cannot be read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise GradingError(f"indicator system file {p}: invalid YAML ({exc})") from exc
    system, problems = _problems_of(doc, p.name, p.stem)
    if problems or system is None:
        raise GradingError("invalid indicator system:\n" + "\n".join(problems))
    return system


def load_system(system_id: str) -> IndicatorSystem:
    """Load the indicator system ``data/reference/indicator_systems/<system_id>.yaml``.

    The id is what ``profile.indicator_system`` of a dataset names. Raises GradingError for
    an unknown id (listing the known ones) or an invalid file.
    """
    known = available_systems()
    if system_id not in known:
        raise GradingError(
            f"unknown indicator system {system_id!r}; available: {', '.join(known) or '(none)'}"
        )
    try:
        doc = reference.load_yaml(f"{_FOLDER}/{system_id}.yaml")
    except ReferenceDataError as exc:
        raise GradingError(str(exc)) from exc
    system, problems = _problems_of(doc, f"{_FOLDER}/{system_id}.yaml", system_id)
    if problems or system is None:
        raise GradingError("invalid indicator system:\n" + "\n".join(problems))
    return system


def system_problems(system: IndicatorSystem, weight_tolerance: float | None = None) -> list[str]:
    """Consistency problems of a parsed system (empty list: consistent).

    Weights sum to 1 per level (within ``weight_tolerance``; default: the system's own
    value, else data/reference/grading/defaults.yaml), benchmarks present for every level
    and nested with the direction (smaller-is-better: b_I <= b_II <= b_III), qualitative
    indicators with a level text for every level, level rules that name known levels and
    scores, unique ids.
    """
    tol = Decimal(
        str(
            weight_tolerance
            if weight_tolerance is not None
            else (
                system.weight_tolerance
                if system.weight_tolerance is not None
                else _default("weight_tolerance")
            )
        )
    )
    out: list[str] = []
    levels = list(system.levels)
    if not levels:
        out.append("levels: at least one level is needed")
    if len(set(levels)) != len(levels):
        out.append(f"levels: repeated level ids {levels}")
    if NONE_LEVEL in levels:
        out.append(f"levels: {NONE_LEVEL!r} is reserved for 'no level reached'")
    for lv in levels:
        if lv not in system.level_names:
            out.append(f"level_names: no name for level {lv}")
    for lv in system.level_names:
        if lv not in levels:
            out.append(f"level_names: {lv} is not one of the levels {levels}")
    # ids
    gids = [g.id for g in system.groups]
    for gid in {g for g in gids if gids.count(g) > 1}:
        out.append(f"groups: group id {gid!r} is used more than once")
    iids = [ind.id for ind in system.indicators]
    for iid in sorted({i for i in iids if iids.count(i) > 1}):
        out.append(f"indicator id {iid!r} is used more than once")
    if not system.groups:
        out.append("groups: the system has no indicators")
    # weights
    total = sum((g.weight for g in system.groups), Decimal(0))
    if system.groups and abs(total - 1) > tol:
        out.append(f"groups: first-level weights sum to {total}, not 1 (tolerance {tol})")
    for g in system.groups:
        if g.weight <= 0:
            out.append(f"group {g.id}: weight {g.weight} must be positive")
        if not g.indicators:
            out.append(f"group {g.id}: no indicators")
            continue
        s = sum((ind.weight for ind in g.indicators), Decimal(0))
        if abs(s - 1) > tol:
            out.append(f"group {g.id}: second-level weights sum to {s}, not 1 (tolerance {tol})")
        shares: dict[str, int] = {}
        for ind in g.indicators:
            if ind.share_group:
                shares[ind.share_group] = shares.get(ind.share_group, 0) + 1
        for sg, n in shares.items():
            if n < 2:
                out.append(
                    f"group {g.id}: share_group {sg!r} has a single indicator (needs two or more)"
                )
    for sg in {ind.share_group for ind in system.indicators if ind.share_group}:
        holders = {system.group_of(ind.id).id for ind in system.indicators if ind.share_group == sg}
        if len(holders) > 1:
            out.append(
                f"share_group {sg!r} spans groups {sorted(holders)}; it must stay in one group"
            )
    # indicators
    for ind in system.indicators:
        where = f"indicator {ind.id}"
        if ind.weight <= 0:
            out.append(f"{where}: weight {ind.weight} must be positive")
        if ind.quantitative:
            b = ind.benchmarks or {}
            missing = [lv for lv in levels if lv not in b]
            extra = [lv for lv in b if lv not in levels]
            if missing:
                out.append(f"{where}: no benchmark for level(s) {', '.join(missing)}")
            if extra:
                out.append(f"{where}: benchmark for unknown level(s) {', '.join(extra)}")
            if not missing:
                seq = [b[lv] for lv in levels]
                ok = all(
                    (x <= y) if ind.direction == "smaller" else (x >= y)
                    for x, y in itertools.pairwise(seq)
                )
                if not ok:
                    rel = "<=" if ind.direction == "smaller" else ">="
                    shown = ", ".join(f"{lv}={b[lv]}" for lv in levels)
                    out.append(
                        f"{where}: benchmarks {shown} are not nested for a {ind.direction}-is-better "
                        f"indicator (need {f' {rel} '.join(levels)})"
                    )
            if ind.level_text is not None:
                for lv in ind.level_text:
                    if lv not in levels:
                        out.append(f"{where}: level_text for unknown level {lv}")
        else:
            if ind.benchmarks:
                out.append(f"{where}: a qualitative indicator takes level_text, not benchmarks")
            lt = ind.level_text or {}
            for lv in levels:
                t = lt.get(lv)
                if t is None or not t.zh.strip() or not t.en.strip():
                    out.append(
                        f"{where}: qualitative indicator without level_text for level {lv} (zh and en)"
                    )
            for lv in lt:
                if lv not in levels:
                    out.append(f"{where}: level_text for unknown level {lv}")
    # rules
    if not system.level_rules:
        out.append("level_rules: no rule; add at least one")
    scores = {f"Y_{lv}" for lv in levels}
    for k, rule in enumerate(system.level_rules):
        where = f"level_rules[{k}]"
        if rule.level not in levels:
            out.append(f"{where}: level {rule.level!r} is not one of {levels}")
        if not rule.all_:
            out.append(f"{where}: no condition")
        for cond in rule.all_:
            if isinstance(cond, ScoreCondition):
                if cond.score not in scores:
                    out.append(f"{where}: score {cond.score!r} is not one of {sorted(scores)}")
                if not (0 <= cond.min_ <= 100):
                    out.append(f"{where}: score threshold {cond.min_} is outside 0-100")
            else:
                lv = (
                    cond.restrictive_at_least
                    if isinstance(cond, RestrictiveCondition)
                    else cond.non_restrictive_at_least
                )
                if lv not in levels:
                    out.append(f"{where}: level {lv!r} is not one of {levels}")
    return out


def _as_system(system: IndicatorSystem | str) -> IndicatorSystem:
    return load_system(system) if isinstance(system, str) else system


def system_table(system: IndicatorSystem | str) -> pd.DataFrame:
    """The system as a table, one row per second-level indicator (for display).

    Columns: group_id, group_name_zh, group_name_en, group_weight, indicator_id, name_zh,
    name_en, unit, weight, direction, restrictive, benchmark_<level>..., share_group.
    """
    system = _as_system(system)
    rows = []
    for g in system.groups:
        for ind in g.indicators:
            row = {
                "group_id": g.id,
                "group_name_zh": g.name.zh,
                "group_name_en": g.name.en,
                "group_weight": float(g.weight),
                "indicator_id": ind.id,
                "name_zh": ind.name.zh,
                "name_en": ind.name.en,
                "unit": ind.unit,
                "weight": float(ind.weight),
                "direction": ind.direction,
                "restrictive": ind.restrictive,
            }
            for lv in system.levels:
                b = (ind.benchmarks or {}).get(lv)
                row[f"benchmark_{lv}"] = float(b) if b is not None else None
            row["share_group"] = ind.share_group
            rows.append(row)
    df = pd.DataFrame(rows)
    for lv in system.levels:
        df[f"benchmark_{lv}"] = df[f"benchmark_{lv}"].astype("Float64")
    df.attrs["basis"] = _basis(system)
    return df


def _basis(system: IndicatorSystem) -> dict[str, Any]:
    return {
        "indicator_system": system.id,
        "source": system.source,
        "status": system.status,
        "version": system.version,
        "method": "2013 通则 index method (calculation-reference §3), cumulative membership",
    }


# --------------------------------------------------------------------------- grading


@dataclass(frozen=True)
class GradeResult:
    """The grading of one stage (before or after the audit).

    ``scores``: {"Y_I": 58.0, ...} (0-100); ``level``: a level id or "none";
    ``decided_by``: the rule that decided it, in words; ``indicators``: one row per
    indicator (value, benchmarks, level, weights, gap to the next level in the indicator's
    unit and in % of the current value); ``groups``: subtotals per first-level indicator
    (``score_<L>`` 0-100 within the group, ``points_<L>`` its contribution to Y_L);
    ``rules``: every condition of every rule with whether it holds.
    """

    system_id: str
    stage: str
    levels: tuple[str, ...]
    scores: dict[str, float]
    exact_scores: dict[str, Fraction]
    level: str
    level_name: dict[str, str]
    rule_index: int | None
    decided_by: str
    indicators: pd.DataFrame
    groups: pd.DataFrame
    rules: pd.DataFrame
    basis: dict[str, Any]
    notes: tuple[str, ...] = field(default=())


def _dec(x: Any, what: str) -> Decimal:
    """Exact decimal of a user value: floats go through their shortest repr (0.1 -> 0.1)."""
    if isinstance(x, Decimal):
        d = x
    elif isinstance(x, str):
        try:
            d = Decimal(x.strip())
        except InvalidOperation as exc:
            raise GradingError(f"{what}: {x!r} is not a number") from exc
    else:
        f = float(x)
        if not math.isfinite(f):
            raise GradingError(f"{what}: {x!r} is not a finite number")
        d = Decimal(repr(f))
    if not d.is_finite():
        raise GradingError(f"{what}: {x!r} is not a finite number")
    return d


def _rank(level: str, levels: tuple[str, ...]) -> int:
    """0 for the best level, len(levels) for none."""
    return levels.index(level) if level in levels else len(levels)


def _level_of_value(ind: Indicator, value: Decimal, levels: tuple[str, ...]) -> str:
    b = ind.benchmarks or {}
    for lv in levels:
        if (value <= b[lv]) if ind.direction == "smaller" else (value >= b[lv]):
            return lv
    return NONE_LEVEL


def _activity_map(activity: Mapping[str, float] | pd.DataFrame | None) -> dict[str, Decimal]:
    if activity is None:
        return {}
    if isinstance(activity, pd.DataFrame):
        need = {"indicator_id", "activity"}
        if not need <= set(activity.columns):
            raise GradingError(
                f"activity table needs columns indicator_id and activity; it has {list(activity.columns)}"
            )
        items = zip(activity["indicator_id"], activity["activity"], strict=True)
    else:
        items = activity.items()
    out: dict[str, Decimal] = {}
    for k, v in items:
        if pd.isna(v):
            raise GradingError(
                f"activity of {k}: empty; give the activity (e.g. output) or drop the row"
            )
        d = _dec(v, f"activity of {k}")
        if d < 0:
            raise GradingError(f"activity of {k}: {v} is negative")
        out[str(k)] = d
    return out


def _prepare_rows(
    system: IndicatorSystem, indicator_values: pd.DataFrame, stage: str
) -> dict[str, dict[str, Any]]:
    need = ["indicator_id", "stage", "value", "level", "applicable"]
    miss = [c for c in need if c not in indicator_values.columns]
    if miss:
        raise GradingError(
            f"indicator_values lacks column(s) {', '.join(miss)} (see cpkit/dataset_schema.yaml)"
        )
    stages = indicator_values["stage"].astype("string")
    rows = indicator_values[stages == stage]
    if rows.empty:
        present = sorted(set(stages.dropna()))
        raise GradingError(
            f"indicator_values has no rows for stage {stage!r} (stages present: {present or 'none'})"
        )
    ids = rows["indicator_id"].astype("string")
    known = {ind.id for ind in system.indicators}
    unknown = sorted(set(ids.dropna()) - known)
    if unknown:
        raise GradingError(
            f"indicator_values (stage {stage}) names indicators that system {system.id!r} does not "
            f"have: {', '.join(unknown)}"
        )
    dup = sorted(set(ids[ids.duplicated()].dropna()))
    if dup:
        raise GradingError(
            f"indicator_values (stage {stage}) repeats indicator(s): {', '.join(dup)}"
        )
    out = {}
    for rec in rows.to_dict("records"):
        out[str(rec["indicator_id"])] = rec
    return out


def grade(
    system: IndicatorSystem | str,
    indicator_values: pd.DataFrame,
    stage: str = "before",
    *,
    activity: Mapping[str, float] | pd.DataFrame | None = None,
    missing: Literal["error", "none"] | None = None,
) -> GradeResult:
    """Grade one stage of an enterprise against an indicator system.

    Formulas of the 2013 通则 (calculation-reference §3.1-3.3): cumulative membership,
    ``Y_gk = sum_i w'_i sum_j w'_ij Y_gk(x_ij)`` with weights renormalised over the
    applicable indicators (formula 5-3), level by the system's ``level_rules``. Seed 004
    clauses 5.2.9 (stage "before") and 5.6.6 (stage "after").

    ``indicator_values``: the dataset table (indicator_id, stage, value for quantitative
    indicators, level for qualitative ones, applicable, evidence). ``activity``: indicator
    id -> activity (any consistent unit, e.g. output in m2) for indicators with a
    ``share_group``; their summed weight is split in proportion, and an activity of 0 makes
    the indicator not applicable. ``missing``: what to do with an applicable indicator that
    has no value: "error" (default from data/reference/grading/defaults.yaml) or "none"
    (graded as reaching no level, flagged in ``status``).
    """
    system = _as_system(system)
    levels = tuple(system.levels)
    policy = missing or _default("missing_values")
    if policy not in ("error", "none"):
        raise GradingError(f"missing must be 'error' or 'none', not {policy!r}")
    rows = _prepare_rows(system, indicator_values, stage)
    act = _activity_map(activity)
    unknown_act = sorted(set(act) - {ind.id for ind in system.indicators})
    if unknown_act:
        raise GradingError(f"activity given for unknown indicator(s): {', '.join(unknown_act)}")

    notes: list[str] = []
    recs: list[dict[str, Any]] = []
    missing_ids: list[str] = []
    bad: list[str] = []
    for g in system.groups:
        # declared weights, split by activity share inside share groups
        w: dict[str, Fraction] = {ind.id: Fraction(ind.weight) for ind in g.indicators}
        zero_activity: set[str] = set()
        for sg in sorted({ind.share_group for ind in g.indicators if ind.share_group}):
            members = [ind.id for ind in g.indicators if ind.share_group == sg]
            given = [m for m in members if m in act]
            if not given:
                notes.append(f"share group {sg}: no activity given, declared weights used")
                continue
            if len(given) != len(members):
                raise GradingError(
                    f"share group {sg}: activity given for {', '.join(given)} but not for "
                    f"{', '.join(m for m in members if m not in act)}; give all (0 if not produced)"
                )
            total_act = sum((Fraction(act[m]) for m in members), Fraction(0))
            if total_act == 0:
                raise GradingError(f"share group {sg}: all activities are 0")
            pooled = sum((w[m] for m in members), Fraction(0))
            for m in members:
                w[m] = pooled * Fraction(act[m]) / total_act
                if act[m] == 0:
                    zero_activity.add(m)
        for ind in g.indicators:
            row = rows.get(ind.id)
            applicable = True
            status = "graded"
            note = ""
            value: Decimal | None = None
            level_given = None
            evidence = None
            if row is not None:
                a = row.get("applicable")
                applicable = True if a is None or pd.isna(a) else bool(a)
                v = row.get("value")
                value = None if v is None or pd.isna(v) else _dec(v, f"value of {ind.id}")
                lg = row.get("level")
                level_given = None if lg is None or pd.isna(lg) else str(lg)
                ev = row.get("evidence")
                evidence = None if ev is None or pd.isna(ev) else str(ev)
            if ind.id in zero_activity:
                applicable = False
                note = "activity 0: not applicable"
            level = None
            if not applicable:
                status = "not_applicable"
            elif ind.quantitative:
                if value is None:
                    status = "missing"
                else:
                    level = _level_of_value(ind, value, levels)
                    if level_given is not None and level_given != level:
                        note = f"level column says {level_given}; the value gives {level}"
            else:
                if level_given is None:
                    status = "missing"
                elif level_given not in (*levels, NONE_LEVEL):
                    bad.append(
                        f"{ind.id}: level {level_given!r} is not one of {[*levels, NONE_LEVEL]}"
                    )
                else:
                    level = level_given
                    if value is not None:
                        note = "qualitative indicator: value ignored, level used"
            if status == "missing":
                missing_ids.append(ind.id)
                level = NONE_LEVEL
                note = "no value: graded as no level reached"
            recs.append(
                {
                    "group": g,
                    "ind": ind,
                    "w": w[ind.id],
                    "applicable": applicable,
                    "status": status,
                    "value": value,
                    "level": level,
                    "level_given": level_given,
                    "note": note,
                    "evidence": evidence,
                }
            )
    if bad:
        raise GradingError(f"indicator_values (stage {stage}): " + "; ".join(bad))
    if missing_ids and policy == "error":
        raise GradingError(
            f"indicator_values (stage {stage}) has no value for applicable indicator(s): "
            f"{', '.join(missing_ids)}. Fill value (quantitative) or level (qualitative), mark "
            "them applicable = false, or grade with missing='none'."
        )
    if missing_ids:
        notes.append(f"graded as no level for want of a value: {', '.join(missing_ids)}")

    # renormalised weights
    group_sum: dict[str, Fraction] = {}
    for r in recs:
        if r["applicable"]:
            gid = r["group"].id
            group_sum[gid] = group_sum.get(gid, Fraction(0)) + r["w"]
    active_groups = [g for g in system.groups if group_sum.get(g.id, 0) > 0]
    dropped = [g.id for g in system.groups if g not in active_groups]
    if dropped:
        notes.append(
            f"group(s) with no applicable indicator left out, first-level weights renormalised: "
            f"{', '.join(dropped)}"
        )
    if not active_groups:
        raise GradingError(f"stage {stage}: no applicable indicator; nothing to grade")
    wsum = sum((Fraction(g.weight) for g in active_groups), Fraction(0))
    gw = {
        g.id: (Fraction(g.weight) / wsum if g in active_groups else Fraction(0))
        for g in system.groups
    }
    for r in recs:
        gid = r["group"].id
        r["w_in"] = (
            r["w"] / group_sum[gid] if r["applicable"] and group_sum.get(gid) else Fraction(0)
        )
        r["w_all"] = gw[gid] * r["w_in"]

    # membership and scores
    exact: dict[str, Fraction] = {}
    gscore: dict[tuple[str, str], Fraction] = {}
    for k, lv in enumerate(levels):
        total = Fraction(0)
        for g in system.groups:
            s = Fraction(0)
            for r in recs:
                if r["group"] is g and r["applicable"] and _rank(r["level"], levels) <= k:
                    s += r["w_in"]
            gscore[(g.id, lv)] = 100 * s
            total += gw[g.id] * 100 * s
        exact[f"Y_{lv}"] = total
    scores = {k: float(v) for k, v in exact.items()}

    # level rules
    rule_rows = []
    decided: int | None = None
    for idx, rule in enumerate(system.level_rules):
        holds_all = True
        for cond in rule.all_:
            if isinstance(cond, ScoreCondition):
                val = exact[cond.score]
                ok = val >= Fraction(cond.min_)
                text = f"{cond.score} >= {_fmt(cond.min_)}"
                detail = f"{cond.score} = {_fmt_frac(val)}"
            else:
                restrictive = isinstance(cond, RestrictiveCondition)
                lv = cond.restrictive_at_least if restrictive else cond.non_restrictive_at_least
                members = [
                    r for r in recs if r["applicable"] and r["ind"].restrictive == restrictive
                ]
                below = [
                    r["ind"].id for r in members if _rank(r["level"], levels) > _rank(lv, levels)
                ]
                ok = not below
                kind = "restrictive" if restrictive else "non-restrictive"
                text = f"every {kind} indicator at {lv} or better"
                if not members:
                    detail = f"no applicable {kind} indicator"
                elif below:
                    detail = "below: " + ", ".join(
                        f"{i} ({next(r['level'] for r in members if r['ind'].id == i)})"
                        for i in below
                    )
                else:
                    detail = f"all {len(members)} at {lv} or better"
            holds_all = holds_all and ok
            rule_rows.append(
                {"rule": idx, "level": rule.level, "condition": text, "detail": detail, "holds": ok}
            )
        for rr in rule_rows:
            if rr["rule"] == idx:
                rr["rule_holds"] = holds_all
        if holds_all and decided is None:
            decided = idx
    if decided is None:
        level = NONE_LEVEL
        name = dict(_default("none_level_name"))
        decided_by = "no level rule holds"
    else:
        rule = system.level_rules[decided]
        level = rule.level
        name = {"zh": system.level_names[level].zh, "en": system.level_names[level].en}
        conds = [rr for rr in rule_rows if rr["rule"] == decided]
        decided_by = f"rule {decided} (level {level}): " + "; ".join(
            f"{rr['condition']} [{rr['detail']}]" for rr in conds
        )
    rules_df = pd.DataFrame(
        rule_rows, columns=["rule", "level", "condition", "detail", "holds", "rule_holds"]
    )

    ind_df = _indicator_frame(system, recs, levels)
    grp_rows = []
    for g in system.groups:
        members = [r for r in recs if r["group"] is g]
        row = {
            "group_id": g.id,
            "name_zh": g.name.zh,
            "name_en": g.name.en,
            "weight": float(g.weight),
            "weight_effective": float(gw[g.id]),
            "indicators": len(members),
            "applicable": sum(1 for r in members if r["applicable"]),
        }
        for lv in levels:
            row[f"score_{lv}"] = float(gscore[(g.id, lv)])
        for lv in levels:
            row[f"points_{lv}"] = float(gw[g.id] * gscore[(g.id, lv)])
        grp_rows.append(row)
    grp_df = pd.DataFrame(grp_rows)
    basis = _basis(system) | {"stage": stage, "missing_values": policy}
    for df in (ind_df, grp_df, rules_df):
        df.attrs["basis"] = basis
    return GradeResult(
        system_id=system.id,
        stage=stage,
        levels=levels,
        scores=scores,
        exact_scores=exact,
        level=level,
        level_name=name,
        rule_index=decided,
        decided_by=decided_by,
        indicators=ind_df,
        groups=grp_df,
        rules=rules_df,
        basis=basis,
        notes=tuple(notes),
    )


def _fmt(d: Decimal) -> str:
    return format(d.normalize(), "f") if d == d.to_integral() else str(d)


def _fmt_frac(f: Fraction) -> str:
    return f"{float(f):.6g}" if f.denominator != 1 else str(f.numerator)


def _indicator_frame(
    system: IndicatorSystem, recs: list[dict[str, Any]], levels: tuple[str, ...]
) -> pd.DataFrame:
    rows = []
    for r in recs:
        ind: Indicator = r["ind"]
        g: Group = r["group"]
        lvl = r["level"] if r["applicable"] else None
        rank = _rank(lvl, levels) if lvl is not None else None
        nxt = levels[rank - 1] if rank is not None and rank > 0 else None
        row: dict[str, Any] = {
            "group_id": g.id,
            "indicator_id": ind.id,
            "name_zh": ind.name.zh,
            "name_en": ind.name.en,
            "unit": ind.unit,
            "direction": ind.direction,
            "restrictive": ind.restrictive,
            "applicable": r["applicable"],
            "status": r["status"],
            "value": float(r["value"]) if r["value"] is not None else None,
            "level_given": r["level_given"],
        }
        for lv in levels:
            b = (ind.benchmarks or {}).get(lv)
            row[f"benchmark_{lv}"] = float(b) if b is not None else None
        gap = gap_pct = next_b = None
        req_zh = req_en = None
        if nxt is not None:
            if ind.quantitative:
                bn = (ind.benchmarks or {})[nxt]
                next_b = float(bn)
                if r["value"] is not None:
                    v = r["value"]
                    d = (v - bn) if ind.direction == "smaller" else (bn - v)
                    gap = float(d)
                    gap_pct = float(d / abs(v) * 100) if v != 0 else None
            if ind.level_text and nxt in ind.level_text:
                req_zh, req_en = ind.level_text[nxt].zh, ind.level_text[nxt].en
        note = r["note"]
        if nxt is not None and ind.quantitative and r["value"] == 0:
            note = (note + "; " if note else "") + "current value 0: gap % undefined"
        row.update(
            {
                "level": lvl,
                "next_level": nxt,
                "next_benchmark": next_b,
                "gap": gap,
                "gap_pct": gap_pct,
                "next_requirement_zh": req_zh,
                "next_requirement_en": req_en,
                "group_weight": float(g.weight),
                "weight": float(ind.weight),
                "weight_in_group": float(r["w_in"]),
                "weight_overall": float(r["w_all"]),
                "y_gain_next": float(100 * r["w_all"]) if nxt is not None else None,
                "note": note,
                "evidence": r["evidence"],
            }
        )
        rows.append(row)
    df = pd.DataFrame(rows)
    floats = [
        "value",
        *[f"benchmark_{lv}" for lv in levels],
        "next_benchmark",
        "gap",
        "gap_pct",
        "y_gain_next",
    ]
    for c in floats:
        df[c] = df[c].astype("Float64")
    for c in [
        "level_given",
        "level",
        "next_level",
        "next_requirement_zh",
        "next_requirement_en",
        "evidence",
        "note",
    ]:
        df[c] = df[c].astype("string")
    df["applicable"] = df["applicable"].astype("boolean")
    df["restrictive"] = df["restrictive"].astype("boolean")
    return df


def grade_stages(
    system: IndicatorSystem | str,
    indicator_values: pd.DataFrame,
    *,
    activity: Mapping[str, float] | pd.DataFrame | None = None,
    missing: Literal["error", "none"] | None = None,
) -> dict[str, GradeResult]:
    """Grade every stage present in ``indicator_values`` ("before", then "after").

    Seed 004 clauses 5.2.9 and 5.6.6: the level before the audit and after the options.
    """
    system = _as_system(system)
    if "stage" not in indicator_values.columns:
        raise GradingError("indicator_values lacks the column stage")
    present = set(indicator_values["stage"].dropna().astype(str))
    order = [s for s in ("before", "after") if s in present] + sorted(present - {"before", "after"})
    if not order:
        raise GradingError("indicator_values is empty: nothing to grade")
    return {
        s: grade(system, indicator_values, s, activity=activity, missing=missing) for s in order
    }


@dataclass(frozen=True)
class StageComparison:
    """Before/after comparison (seed 004 clause 5.6.6, report section 7.6).

    ``indicators``: value and level per stage, change (after - before, in the indicator's
    unit), change_pct (% of the before value), improved (level rank better after),
    ``scores``: Y per stage with the change in points. ``level_before``/``level_after``.
    """

    indicators: pd.DataFrame
    scores: pd.DataFrame
    level_before: str
    level_after: str
    level_improved: bool


def compare_stages(before: GradeResult, after: GradeResult) -> StageComparison:
    """Compare two gradings of the same system (e.g. before and after the audit)."""
    if before.system_id != after.system_id:
        raise GradingError(
            f"cannot compare gradings of different systems ({before.system_id} vs {after.system_id})"
        )
    levels = before.levels
    b = before.indicators.set_index("indicator_id")
    a = after.indicators.set_index("indicator_id")
    rows = []
    for iid in b.index:
        vb, va = b.at[iid, "value"], a.at[iid, "value"]
        lb, la = b.at[iid, "level"], a.at[iid, "level"]
        change = change_pct = None
        if not pd.isna(vb) and not pd.isna(va):
            db, da = _dec(vb, iid), _dec(va, iid)
            change = float(da - db)
            change_pct = float((da - db) / abs(db) * 100) if db != 0 else None
        improved = None
        if not pd.isna(lb) and not pd.isna(la):
            improved = _rank(str(la), levels) < _rank(str(lb), levels)
        rows.append(
            {
                "indicator_id": iid,
                "name_zh": b.at[iid, "name_zh"],
                "name_en": b.at[iid, "name_en"],
                "unit": b.at[iid, "unit"],
                "direction": b.at[iid, "direction"],
                "value_before": vb,
                "value_after": va,
                "change": change,
                "change_pct": change_pct,
                "level_before": lb,
                "level_after": la,
                "improved": improved,
            }
        )
    ind = pd.DataFrame(rows)
    for c in ("value_before", "value_after", "change", "change_pct"):
        ind[c] = ind[c].astype("Float64")
    for c in ("level_before", "level_after"):
        ind[c] = ind[c].astype("string")
    ind["improved"] = ind["improved"].astype("boolean")
    sc = pd.DataFrame(
        [
            {
                "score": k,
                "before": before.scores[k],
                "after": after.scores[k],
                "change_points": float(after.exact_scores[k] - before.exact_scores[k]),
            }
            for k in before.scores
        ]
    )
    ind.attrs["basis"] = sc.attrs["basis"] = before.basis | {"stage": "before/after"}
    return StageComparison(
        indicators=ind,
        scores=sc,
        level_before=before.level,
        level_after=after.level,
        level_improved=_rank(after.level, levels) < _rank(before.level, levels),
    )


# --------------------------------------------------------------------------- lagging indicators


def lagging_indicators(result: GradeResult) -> pd.DataFrame:
    """Indicators below the best level (问题清单), worst first.

    ``lag`` is "below_<L>" where L is the next level up: with levels I/II/III an indicator
    at II is below_I, at III below_II, reaching none below_III. Each row keeps the gap to
    the next level (``gap`` in the indicator's unit, ``gap_pct`` of the current value),
    the next level's text for qualitative indicators and ``y_gain_next`` (points of
    Y_<next level> the indicator would add by reaching it). Sorted by how far below,
    restrictive first, then by y_gain_next. Calculation-reference §9 target list item 2.
    """
    df = result.indicators
    lag = df[df["applicable"].fillna(False) & df["next_level"].notna()].copy()
    levels = result.levels
    lag["rank"] = [_rank(str(x), levels) for x in lag["level"]]
    lag["lag"] = ["below_" + levels[r - 1] for r in lag["rank"]]
    lag["lag_zh"] = [f"未达到{levels[r - 1]}级" for r in lag["rank"]]
    lag["lag_en"] = [f"below level {levels[r - 1]}" for r in lag["rank"]]
    lag = lag.sort_values(
        ["rank", "restrictive", "y_gain_next"], ascending=[False, False, False], kind="stable"
    ).drop(columns=["rank"])
    cols = [
        "indicator_id", "group_id", "name_zh", "name_en", "unit", "direction", "restrictive",
        "value", "level", "lag", "lag_zh", "lag_en", "next_level", "next_benchmark", "gap",
        "gap_pct", "next_requirement_zh", "next_requirement_en", "y_gain_next", "status",
    ]  # fmt: skip
    out = lag[cols].reset_index(drop=True)
    out["lag"] = out["lag"].astype("string")
    out.attrs["basis"] = result.basis
    return out
