"""Weighted-sum scoring (权重总和计分排序法), simple comparison (简单对比法) and rank stability.

Seed 004 clause 5.2.11 names the methods used to choose the audit focus (简单对比法, 打分法,
权重总和计分排序法); clause 5.4.6 b uses the weighted sum again to rank medium/high-cost
options. The weighted sum (calculation reference section 2.1) is

    Score_j = Σ_i W_i × R_ij

with one weight W_i per criterion (the same for every candidate) and a score R_ij per
candidate and criterion. The dataset stores **R only**; R × W is always derived here, so
the weight cannot be applied twice (the competitor bug of section 2.4).

Criteria, default weights, their ranges and the admissible scales are reference data
(``data/reference/scoring``). Results are frozen dataclasses holding tidy DataFrames.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from cpkit import reference
from cpkit._frames import typed_frame
from cpkit.errors import CpkitError

Kind = Literal["focus", "option"]

#: decimals to which totals are compared when looking for ties (floats from W × R sums)
_TIE_DECIMALS = 9


class ScoringError(CpkitError):
    """Scores, weights or criteria of a weighted-sum table are missing or out of range."""


# --------------------------------------------------------------------------- reference data
@dataclass(frozen=True)
class ScoreScale:
    """Admissible ranges of R and W and the step of the perturbation view, with sources."""

    score_min: float
    score_max: float
    weight_min: float
    weight_max: float
    perturbation_step: float
    source: str


def score_scale() -> ScoreScale:
    """The scales of ``data/reference/scoring/scales.yaml`` (R 0-10, W 0-20 by default)."""
    doc = reference.load_yaml("scoring/scales.yaml")
    return ScoreScale(
        score_min=float(doc["score"]["min"]),
        score_max=float(doc["score"]["max"]),
        weight_min=float(doc["weight"]["min"]),
        weight_max=float(doc["weight"]["max"]),
        perturbation_step=float(doc["perturbation_step"]["value"]),
        source=f"R: {doc['score']['source']}; W: {doc['weight']['source']}",
    )


_CRITERIA_FILES = {"focus": "scoring/focus_criteria.csv", "option": "scoring/option_criteria.csv"}
_CRITERIA_COLUMNS = ["criterion_id", "name_zh", "name_en", "weight", "weight_min", "weight_max"]


def default_criteria(kind: Kind = "focus") -> pd.DataFrame:
    """Default criteria and weights W for the audit focus (``kind="focus"``) or for ranking
    medium/high-cost options (``kind="option"``), from ``data/reference/scoring``.

    Columns: criterion_id, name_zh, name_en, weight, weight_min, weight_max, source.
    ``attrs["basis"]`` holds the catalogue entry (source, version, status).
    """
    if kind not in _CRITERIA_FILES:
        raise ScoringError(f"unknown criteria kind {kind!r}: use 'focus' or 'option'")
    rel = _CRITERIA_FILES[kind]
    df = reference.table(rel)
    out = pd.DataFrame(
        {
            "criterion_id": df["criterion_id"].astype("string"),
            "name_zh": df["name_zh"].astype("string"),
            "name_en": df["name_en"].astype("string"),
            "weight": df["weight"].astype("Float64"),
            "weight_min": df["weight_min"].astype("Float64"),
            "weight_max": df["weight_max"].astype("Float64"),
            "source": df["source"].astype("string"),
        }
    )
    out.attrs["basis"] = {"criteria": f"data/reference/{rel}", **reference.meta(rel)}
    return out


def criteria(
    overrides: pd.DataFrame | None = None,
    *,
    weights: Mapping[str, float] | None = None,
    kind: Kind = "focus",
) -> pd.DataFrame:
    """The criteria to score with: the defaults, replaced by a dataset table and/or weights.

    ``overrides`` is a ``focus_criteria``-style table (criterion_id, name, weight); when it
    has rows it **replaces** the default set (the team chose its own criteria). Allowed
    ranges (weight_min/weight_max) are kept for criteria whose id is a default one.
    ``weights`` changes single weights by criterion id. The result has the columns of
    :func:`default_criteria`; ``source`` says where each weight came from.
    """
    base = default_criteria(kind)
    basis = dict(base.attrs["basis"])
    if overrides is not None and len(overrides) > 0:
        missing = {"criterion_id", "weight"} - set(overrides.columns)
        if missing:
            raise ScoringError(f"criteria table lacks column(s) {sorted(missing)}")
        ids = overrides["criterion_id"].astype("string")
        if ids.isna().any():
            raise ScoringError("criteria table has a row without criterion_id")
        dup = ids[ids.duplicated()].unique().tolist()
        if dup:
            raise ScoringError(f"criteria table lists criterion {dup} more than once")
        known = base.set_index("criterion_id")
        names = (
            overrides["name"].astype("string")
            if "name" in overrides
            else pd.Series(pd.NA, index=overrides.index, dtype="string")
        )
        rows = []
        for cid, name, w in zip(ids, names, overrides["weight"], strict=True):
            ref = known.loc[cid] if cid in known.index else None
            rows.append(
                {
                    "criterion_id": cid,
                    "name_zh": name
                    if not pd.isna(name)
                    else (ref["name_zh"] if ref is not None else cid),
                    "name_en": ref["name_en"]
                    if ref is not None
                    else (name if not pd.isna(name) else cid),
                    "weight": w,
                    "weight_min": ref["weight_min"] if ref is not None else pd.NA,
                    "weight_max": ref["weight_max"] if ref is not None else pd.NA,
                    "source": "dataset",
                }
            )
        base = typed_frame(
            rows,
            {
                "criterion_id": "string",
                "name_zh": "string",
                "name_en": "string",
                "weight": "Float64",
                "weight_min": "Float64",
                "weight_max": "Float64",
                "source": "string",
            },
        )
        basis["criteria"] = "dataset criteria table (ranges from the defaults where ids match)"
    if weights:
        unknown = sorted(set(weights) - set(base["criterion_id"]))
        if unknown:
            raise ScoringError(
                f"weights given for unknown criteria {unknown}; known: {base['criterion_id'].tolist()}"
            )
        base = base.copy()
        for cid, w in weights.items():
            mask = base["criterion_id"] == cid
            base.loc[mask, "weight"] = float(w)
            base.loc[mask, "source"] = "set by the user"
    base.attrs["basis"] = basis
    return base


# --------------------------------------------------------------------------- validation
def _check_criteria(crit: pd.DataFrame, scale: ScoreScale) -> list[str]:
    """Raise on weights outside the scale; return warnings for weights outside the
    criterion's textbook range."""
    missing = {"criterion_id", "weight"} - set(crit.columns)
    if missing:
        raise ScoringError(f"criteria lack column(s) {sorted(missing)}")
    if len(crit) == 0:
        raise ScoringError("no scoring criteria given")
    ids = crit["criterion_id"]
    if ids.duplicated().any():
        raise ScoringError(f"criterion {ids[ids.duplicated()].tolist()} listed more than once")
    problems, warnings = [], []
    for row in crit.itertuples(index=False):
        w = row.weight
        if pd.isna(w):
            problems.append(f"criterion {row.criterion_id}: weight W is empty")
        elif not scale.weight_min <= float(w) <= scale.weight_max:
            problems.append(
                f"criterion {row.criterion_id}: weight W = {float(w):g} is outside "
                f"{scale.weight_min:g}-{scale.weight_max:g}"
            )
        else:
            lo = getattr(row, "weight_min", pd.NA)
            hi = getattr(row, "weight_max", pd.NA)
            if not pd.isna(lo) and not pd.isna(hi) and not float(lo) <= float(w) <= float(hi):
                warnings.append(
                    f"criterion {row.criterion_id}: weight W = {float(w):g} is outside the usual "
                    f"range {float(lo):g}-{float(hi):g}; record why"
                )
    if problems:
        raise ScoringError("invalid weights:\n" + "\n".join(problems))
    return warnings


def _detect_id_column(scores: pd.DataFrame, id_column: str | None) -> str:
    if id_column is not None:
        if id_column not in scores.columns:
            raise ScoringError(f"scores table has no column {id_column!r}")
        return id_column
    for col in ("candidate_id", "option_id"):
        if col in scores.columns:
            return col
    raise ScoringError(
        "scores table needs a candidate_id (focus_scores) or option_id (option_scores) column"
    )


# --------------------------------------------------------------------------- weighted sum
@dataclass(frozen=True)
class WeightedScoring:
    """Result of the weighted-sum method (Score_j = Σ_i W_i × R_ij).

    cells     tidy: <id>, criterion_id, weight, score_r, score_rw (R × W derived, never stored)
    matrix    the report's focus-selection table: one row per criterion (criterion_id,
              name_zh, name_en, weight) and two columns per candidate, ``<id>_r`` and
              ``<id>_rw``; the last row (criterion_id ``total``) holds ΣR×W.
              ``attrs["candidates"]`` maps candidate id → name for the headers.
    ranking   <id>, name, total_score, rank (1 = chosen; equal totals share a rank), tied
    top       id(s) of the highest total (more than one when tied)
    ties      groups of ids with equal totals
    warnings  weights outside their usual range, ties at the top (team decision needed)
    """

    cells: pd.DataFrame
    matrix: pd.DataFrame
    ranking: pd.DataFrame
    criteria: pd.DataFrame
    id_column: str
    top: tuple[str, ...]
    ties: tuple[tuple[str, ...], ...]
    warnings: tuple[str, ...]
    basis: dict[str, Any] = field(default_factory=dict)


def _rank_totals(ids: Sequence[str], totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Competition ranks (1 = highest) and a tie flag, comparing rounded totals."""
    rounded = pd.Series(np.round(totals, _TIE_DECIMALS), index=list(ids))
    rank = rounded.rank(method="min", ascending=False).astype(int).to_numpy()
    tied = rounded.duplicated(keep=False).to_numpy()
    return rank, tied


def weighted_scores(
    scores: pd.DataFrame,
    criteria_table: pd.DataFrame | None = None,
    candidates: pd.DataFrame | None = None,
    *,
    kind: Kind = "focus",
    id_column: str | None = None,
    scale: ScoreScale | None = None,
) -> WeightedScoring:
    """Weighted-sum scoring Score_j = Σ_i W_i × R_ij (权重总和计分排序法, seed 004 clauses
    5.2.11 and 5.4.6 b; calculation reference 2.1).

    ``scores`` is a ``focus_scores`` or ``option_scores`` table: id column, criterion_id,
    score (R only). ``criteria_table`` defaults to :func:`criteria` of ``kind``.
    ``candidates`` (focus_candidates or options: id column and ``name``) fixes the order
    and must all be scored. Every candidate needs an R for every criterion; R and W are
    checked against :func:`score_scale`. The result is dimensionless (points).
    """
    scale = scale or score_scale()
    crit = criteria(kind=kind) if criteria_table is None else criteria_table
    warnings = _check_criteria(crit, scale)
    idc = _detect_id_column(scores, id_column)
    for col in ("criterion_id", "score"):
        if col not in scores.columns:
            raise ScoringError(f"scores table has no column {col!r}")

    s = scores[[idc, "criterion_id", "score"]]
    problems: list[str] = []
    if s[idc].isna().any() or s["criterion_id"].isna().any():
        problems.append("a score row has no candidate or criterion id")
    dup = s[s.duplicated([idc, "criterion_id"], keep=False)]
    for cid, kid in dup[[idc, "criterion_id"]].drop_duplicates().itertuples(index=False):
        problems.append(f"{cid} / {kid}: scored more than once")
    unknown = sorted(set(s["criterion_id"].dropna()) - set(crit["criterion_id"]))
    if unknown:
        problems.append(
            f"scores for criteria {unknown} that are not in the criteria "
            f"({', '.join(crit['criterion_id'])})"
        )
    for row in s.itertuples(index=False):
        r = row.score
        if pd.isna(r):
            problems.append(f"{row[0]} / {row.criterion_id}: score R is empty")
        elif not scale.score_min <= float(r) <= scale.score_max:
            hint = " (R × W entered instead of R?)" if float(r) > scale.score_max else ""
            problems.append(
                f"{row[0]} / {row.criterion_id}: score R = {float(r):g} is outside "
                f"{scale.score_min:g}-{scale.score_max:g}{hint}"
            )

    if candidates is not None:
        if idc not in candidates.columns:
            raise ScoringError(f"candidates table has no column {idc!r}")
        ids = [str(x) for x in candidates[idc]]
        names = dict(zip(ids, candidates.get("name", ids), strict=True))
        extra = sorted(set(s[idc].dropna()) - set(ids))
        if extra:
            problems.append(f"scores for {extra}, which are not among the candidates")
    else:
        ids = [str(x) for x in pd.unique(s[idc].dropna())]
        names = {i: i for i in ids}
    if not ids:
        raise ScoringError("no candidates to score")

    crit_ids = [str(c) for c in crit["criterion_id"]]
    present = set(zip(s[idc].astype(str), s["criterion_id"].astype(str), strict=True))
    for i in ids:
        gaps = [c for c in crit_ids if (i, c) not in present]
        if len(gaps) == len(crit_ids):
            problems.append(f"{i}: not scored at all")
        elif gaps:
            problems.append(f"{i}: no score R for {', '.join(gaps)}")
    if problems:
        raise ScoringError("cannot score:\n" + "\n".join(problems))

    weights = crit["weight"].astype(float).to_numpy()
    r_mat = (
        s.assign(score=s["score"].astype(float))
        .pivot(index=idc, columns="criterion_id", values="score")
        .reindex(index=ids, columns=crit_ids)
        .to_numpy(dtype=float)
    )
    rw = r_mat * weights  # (candidates, criteria): R × W, W applied exactly once
    totals = rw.sum(axis=1)
    rank, tied = _rank_totals(ids, totals)

    cells = pd.DataFrame(
        {
            idc: np.repeat(ids, len(crit_ids)),
            "criterion_id": np.tile(crit_ids, len(ids)),
            "weight": np.tile(weights, len(ids)),
            "score_r": r_mat.ravel(),
            "score_rw": rw.ravel(),
        }
    ).astype({idc: "string", "criterion_id": "string"})

    matrix = pd.DataFrame(
        {
            "criterion_id": [*crit_ids, "total"],
            "name_zh": [*crit["name_zh"].astype(str), "合计 ΣR×W"],
            "name_en": [*crit["name_en"].astype(str), "Total ΣR×W"],
            "weight": pd.array([*weights, pd.NA], dtype="Float64"),
        }
    )
    for k, i in enumerate(ids):
        matrix[f"{i}_r"] = pd.array([*r_mat[k], pd.NA], dtype="Float64")
        matrix[f"{i}_rw"] = pd.array([*rw[k], totals[k]], dtype="Float64")
    matrix = matrix.astype({"criterion_id": "string", "name_zh": "string", "name_en": "string"})
    matrix.attrs["candidates"] = {i: str(names[i]) for i in ids}

    ranking = (
        pd.DataFrame(
            {
                idc: pd.array(ids, dtype="string"),
                "name": pd.array([str(names[i]) for i in ids], dtype="string"),
                "total_score": totals,
                "rank": rank,
                "tied": tied,
            }
        )
        .sort_values(["rank"], kind="stable")
        .reset_index(drop=True)
    )
    top = tuple(ranking.loc[ranking["rank"] == 1, idc].astype(str))
    ties = tuple(
        tuple(str(x) for x in grp[idc])
        for _, grp in ranking[ranking["tied"]].groupby("rank", sort=True)
    )
    if len(top) > 1:
        warnings.append(
            f"tie at the top between {', '.join(top)}: the team decides and records why"
        )
    basis = dict(crit.attrs.get("basis", {}))
    basis["scale"] = scale.source
    result = WeightedScoring(
        cells=cells,
        matrix=matrix,
        ranking=ranking,
        criteria=crit.reset_index(drop=True),
        id_column=idc,
        top=top,
        ties=ties,
        warnings=tuple(warnings),
        basis=basis,
    )
    for df in (cells, matrix, ranking):
        df.attrs["basis"] = basis
    return result


def _r_matrix(result: WeightedScoring) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    ids = [str(x) for x in result.ranking[result.id_column]]
    crit_ids = [str(c) for c in result.criteria["criterion_id"]]
    r = (
        result.cells.pivot(index=result.id_column, columns="criterion_id", values="score_r")
        .reindex(index=ids, columns=crit_ids)
        .to_numpy(dtype=float)
    )
    w = result.criteria["weight"].astype(float).to_numpy()
    return ids, crit_ids, r, w


# --------------------------------------------------------------------------- stability
def rank_stability(result: WeightedScoring, scale: ScoreScale | None = None) -> pd.DataFrame:
    """How far each weight can move, the others fixed, before the top choice changes.

    Exact: with one weight w_i free, every total is linear in it,
    Score_j(w) = Score_j + (w − W_i)·R_ij, so the top candidate t and a challenger k
    tie at w* = W_i − (Score_t − Score_k)/(R_it − R_ik). Below W_i the nearest such w*
    over challengers with R_ik < R_it is where the top first changes; above W_i the
    nearest over challengers with R_ik > R_it. (Calculation reference 2.4 asks for the
    sensitivity of the ranking; here the crossover is solved, not sampled.)

    Columns: criterion_id, name_zh, weight, weight_min, weight_max, top,
    down_to_weight (the tie point below W, empty if the top holds down to the scale
    minimum), down_challenger, margin_down, up_to_weight (may exceed the scale maximum:
    then it cannot be reached by an admissible weight), up_challenger, margin_up,
    change_within_range (the top changes somewhere inside the criterion's usual range
    weight_min-weight_max; empty when the range is unknown), change_within_scale.
    A tie at the top already gives margin 0 for the criteria that separate the tied ones.
    """
    scale = scale or score_scale()
    ids, crit_ids, r, w = _r_matrix(result)
    totals = r @ w
    t = int(np.argmax(totals))  # first of the top group (ranking order)
    rows = []
    crit = result.criteria.reset_index(drop=True)
    for i, cid in enumerate(crit_ids):
        gap = totals[t] - totals  # ≥ 0
        dr = r[t, i] - r[:, i]
        with np.errstate(divide="ignore", invalid="ignore"):
            wstar = w[i] - gap / dr
        others = np.arange(len(ids)) != t
        down = others & (dr > 0)
        up = others & (dr < 0)
        down_w, down_k = pd.NA, pd.NA
        if down.any():
            k = int(np.flatnonzero(down)[np.argmax(wstar[down])])
            if wstar[k] >= scale.weight_min:
                down_w, down_k = float(wstar[k]), ids[k]
        up_w, up_k = pd.NA, pd.NA
        if up.any():
            k = int(np.flatnonzero(up)[np.argmin(wstar[up])])
            up_w, up_k = float(wstar[k]), ids[k]
        lo, hi = crit.loc[i, "weight_min"], crit.loc[i, "weight_max"]
        if pd.isna(lo) or pd.isna(hi):
            within_range = pd.NA
        else:
            within_range = bool(
                (not pd.isna(down_w) and down_w >= float(lo))
                or (not pd.isna(up_w) and up_w <= float(hi))
            )
        within_scale = bool(not pd.isna(down_w) or (not pd.isna(up_w) and up_w <= scale.weight_max))
        rows.append(
            {
                "criterion_id": cid,
                "name_zh": crit.loc[i, "name_zh"],
                "weight": w[i],
                "weight_min": lo,
                "weight_max": hi,
                "top": ids[t],
                "down_to_weight": down_w,
                "down_challenger": down_k,
                "margin_down": pd.NA if pd.isna(down_w) else w[i] - down_w,
                "up_to_weight": up_w,
                "up_challenger": up_k,
                "margin_up": pd.NA if pd.isna(up_w) else up_w - w[i],
                "change_within_range": within_range,
                "change_within_scale": within_scale,
            }
        )
    out = typed_frame(
        rows,
        {
            "criterion_id": "string",
            "name_zh": "string",
            "weight": "Float64",
            "weight_min": "Float64",
            "weight_max": "Float64",
            "top": "string",
            "down_to_weight": "Float64",
            "down_challenger": "string",
            "margin_down": "Float64",
            "up_to_weight": "Float64",
            "up_challenger": "string",
            "margin_up": "Float64",
            "change_within_range": "boolean",
            "change_within_scale": "boolean",
        },
    )
    out.attrs["basis"] = dict(result.basis)
    return out


def _order_text(ids: Sequence[str], totals: np.ndarray) -> str:
    order = np.argsort(-np.round(totals, _TIE_DECIMALS), kind="stable")
    parts = [ids[order[0]]]
    for a, b in itertools.pairwise(order):
        same = round(totals[a], _TIE_DECIMALS) == round(totals[b], _TIE_DECIMALS)
        parts.append(("= " if same else "> ") + ids[b])
    return " ".join(parts)


def perturbation(
    result: WeightedScoring, step: float | None = None, scale: ScoreScale | None = None
) -> pd.DataFrame:
    """The ±step view (default ±1, ``scales.yaml``): each weight moved down and up by
    ``step`` alone (kept inside the weight scale), the ranking recomputed
    (calculation reference 2.4).

    Columns: criterion_id, change (−step or +step), weight, new_weight, clipped, top
    (ids joined by ' = ' when tied), top_changed, order_changed, order (e.g. "A > B = C").
    """
    scale = scale or score_scale()
    step = scale.perturbation_step if step is None else float(step)
    if step <= 0:
        raise ScoringError(f"perturbation step must be positive, got {step:g}")
    ids, crit_ids, r, w = _r_matrix(result)
    base_rank, _ = _rank_totals(ids, r @ w)
    base_top = set(result.top)
    rows = []
    for i, cid in enumerate(crit_ids):
        for change in (-step, step):
            nw = min(max(w[i] + change, scale.weight_min), scale.weight_max)
            w2 = w.copy()
            w2[i] = nw
            totals = r @ w2
            rank, _ = _rank_totals(ids, totals)
            top = [ids[k] for k in np.flatnonzero(rank == 1)]
            rows.append(
                {
                    "criterion_id": cid,
                    "change": change,
                    "weight": w[i],
                    "new_weight": nw,
                    "clipped": nw != w[i] + change,
                    "top": " = ".join(top),
                    "top_changed": set(top) != base_top,
                    "order_changed": bool((rank != base_rank).any()),
                    "order": _order_text(ids, totals),
                }
            )
    out = typed_frame(rows, {"criterion_id": "string", "top": "string", "order": "string"})
    out.attrs["basis"] = dict(result.basis)
    return out


# --------------------------------------------------------------------------- simple comparison
def simple_comparison(
    quantities: pd.DataFrame,
    directions: Mapping[str, str] | None = None,
    *,
    id_column: str | None = None,
) -> pd.DataFrame:
    """Simple comparison method (简单对比法, seed 004 clause 5.2.11): candidates compared on
    key quantities, each giving a plain ordinal rank, then ordered by the sum of ranks.

    ``quantities`` has an id column (candidate_id by default) and one numeric column per
    quantity, with its unit in the name (``waste_t``, ``energy_tce``, ``water_m3``...).
    ``directions`` maps a quantity to ``"larger"`` (a larger value is a stronger case for
    choosing the candidate: more waste, more consumption, the default) or ``"smaller"``.
    Equal values share a rank. Columns of the result: <id>, name (if given),
    ``rank_<quantity>`` per quantity, rank_sum, first_places, rank (1 = chosen), tied.
    """
    idc = id_column or ("candidate_id" if "candidate_id" in quantities else None)
    if idc is None or idc not in quantities.columns:
        raise ScoringError("comparison table needs an id column (candidate_id by default)")
    directions = dict(directions or {})
    qcols = [c for c in quantities.columns if c not in (idc, "name", "note")]
    unknown = sorted(set(directions) - set(qcols))
    if unknown:
        raise ScoringError(f"directions given for columns {unknown} that are not in the table")
    if not qcols:
        raise ScoringError("comparison table has no quantity columns")
    if quantities[idc].duplicated().any():
        raise ScoringError(
            f"candidate listed twice: {quantities[idc][quantities[idc].duplicated()].tolist()}"
        )
    problems = []
    out = pd.DataFrame({idc: quantities[idc].astype("string").to_numpy()})
    if "name" in quantities:
        out["name"] = quantities["name"].astype("string").to_numpy()
    ranks = []
    for col in qcols:
        d = directions.get(col, "larger")
        if d not in ("larger", "smaller"):
            raise ScoringError(f"direction of {col} must be 'larger' or 'smaller', not {d!r}")
        try:
            v = pd.to_numeric(quantities[col]).astype("Float64")
        except (TypeError, ValueError):
            raise ScoringError(f"column {col} is not numeric") from None
        for cand in quantities.loc[v.isna().to_numpy(), idc]:
            problems.append(f"{cand}: {col} is empty")
        rk = v.rank(method="min", ascending=(d == "smaller"))
        out[f"rank_{col}"] = rk.astype("Int64").to_numpy()
        ranks.append(rk.to_numpy(dtype=float, na_value=np.nan))
    if problems:
        raise ScoringError("cannot compare:\n" + "\n".join(problems))
    rmat = np.column_stack(ranks)
    out["rank_sum"] = rmat.sum(axis=1).astype(int)
    out["first_places"] = (rmat == 1).sum(axis=1)
    rs = pd.Series(out["rank_sum"])
    out["rank"] = rs.rank(method="min").astype(int)
    out["tied"] = rs.duplicated(keep=False)
    out = out.sort_values("rank", kind="stable").reset_index(drop=True)
    out.attrs["basis"] = {
        "method": "simple comparison (简单对比法), seed 004 clause 5.2.11",
        "directions": {c: directions.get(c, "larger") for c in qcols},
    }
    return out
