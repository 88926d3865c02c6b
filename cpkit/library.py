"""Problem/solution option library (方案库) and option suggestions for lagging indicators.

The library is data: ``data/reference/option_library/<industry>.csv`` with the columns of
docs/architecture.md, each entry following the option logic of seed 004 Appendix A
(aspect, name, what problem where, its cause, how to solve it; clauses 5.2.15 and 5.4.4).
``general.csv`` applies to every enterprise, ``<system_id>.csv`` to enterprises graded with
that indicator system (cpkit.grading).

Suggestions for the lagging indicators of a grading (seed 002: automatic matching of CP
options from a problem/solution library; calculation-reference §9, target list item 2) are
ranked by, in this order of weight (``option_library/matching.yaml``):

1. the entry names the indicator in ``indicator_ids``;
2. concepts (water, electricity, VOC, hazardous waste, ...) found in both the indicator and
   the entry, plus the indicator's declared ``aspects``;
3. text similarity (character bigrams for Chinese, words for English, IDF-weighted cosine),
   which also breaks ties; entries of the enterprise's own industry come before general ones.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from cpkit import grading, reference
from cpkit.errors import CpkitError, ReferenceDataError

__all__ = [
    "COLUMNS",
    "available_libraries",
    "check_library_file",
    "lagging_coverage",
    "library_for",
    "load_library",
    "load_library_file",
    "suggest_options",
]

COLUMNS = [
    "entry_id", "industry", "aspect", "name_zh", "name_en", "problem_zh", "problem_en",
    "cause_zh", "cause_en", "solution_zh", "solution_en", "indicator_ids", "cost_class", "source",
]  # fmt: skip
_REQUIRED = ["entry_id", "industry", "aspect", "name_zh", "name_en", "solution_zh", "solution_en"]
_COST_CLASSES = {"no_low", "medium_high"}
_FOLDER = "option_library"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _setting(name: str) -> Any:
    return reference.load_yaml(f"{_FOLDER}/matching.yaml")[name]["value"]


@cache
def _aspects() -> tuple[str, ...]:
    return tuple(reference.table("aspects.csv")["aspect_id"].astype(str))


def available_libraries() -> list[str]:
    """Industries that have a library file (``general`` and indicator-system ids)."""
    return [Path(p).stem for p in reference.listing(_FOLDER, ".csv")]


def _read(p: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(p, dtype="string", keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ReferenceDataError(f"{p.name}: cannot be read as a UTF-8 CSV ({exc})") from exc


def _problems(
    df: pd.DataFrame, label: str, stem: str, known_indicators: Iterable[str] | None
) -> list[str]:
    out: list[str] = []
    missing = [c for c in COLUMNS if c not in df.columns]
    extra = [c for c in df.columns if c not in COLUMNS and c != "note"]
    if missing:
        out.append(f"{label}: missing column(s) {', '.join(missing)}")
    if extra:
        out.append(f"{label}: unexpected column(s) {', '.join(extra)}")
    if missing:
        return out
    aspects = set(_aspects())
    known = set(known_indicators) if known_indicators is not None else None
    ids = df["entry_id"].str.strip()
    for eid in sorted(set(ids[ids.duplicated() & (ids != "")])):
        out.append(f"{label}: entry_id {eid!r} is used more than once")
    for i, rec in enumerate(df.to_dict("records")):
        line = i + 2  # header is line 1
        where = f"{label} line {line}" + (f" ({rec['entry_id']})" if rec["entry_id"] else "")
        for c in _REQUIRED:
            if not str(rec[c]).strip():
                out.append(f"{where}: {c} is empty")
        if rec["entry_id"] and not _ID.match(rec["entry_id"].strip()):
            out.append(
                f"{where}: entry_id {rec['entry_id']!r} is not an id (letters, digits, - _ .)"
            )
        if rec["industry"] and rec["industry"].strip() != stem:
            out.append(f"{where}: industry {rec['industry']!r} differs from the file name {stem!r}")
        if rec["aspect"] and rec["aspect"].strip() not in aspects:
            out.append(
                f"{where}: aspect {rec['aspect']!r} is not one of {', '.join(sorted(aspects))}"
            )
        cc = rec["cost_class"].strip()
        if cc and cc not in _COST_CLASSES:
            out.append(f"{where}: cost_class {cc!r} is not no_low or medium_high")
        for tok in _split_ids(rec["indicator_ids"]):
            if not _ID.match(tok):
                out.append(f"{where}: indicator id {tok!r} is not an id")
            elif known is not None and tok not in known:
                out.append(f"{where}: indicator id {tok!r} is not in the indicator system")
    return out


def _split_ids(text: Any) -> list[str]:
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return []
    return [t.strip() for t in str(text).replace("；", ";").split(";") if t.strip()]


def check_library_file(
    path: str | Path, known_indicators: Iterable[str] | None = None
) -> list[str]:
    """Problems of an option-library CSV as readable lines (empty: the file is fine).

    Checks the columns, unique ids, the industry (= file stem), aspects (aspects.csv), cost
    classes and, when ``known_indicators`` is given (e.g. the ids of the industry's
    indicator system), that ``indicator_ids`` name existing indicators.
    """
    p = Path(path)
    try:
        df = _read(p)
    except (OSError, ReferenceDataError) as exc:
        return [f"{p.name}: {exc}"]
    return _problems(df, p.name, p.stem, known_indicators)


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    out = df[COLUMNS].copy()
    for c in COLUMNS:
        out[c] = out[c].str.strip().replace("", pd.NA).astype("string")
    return out


def load_library_file(path: str | Path) -> pd.DataFrame:
    """One option-library CSV (any path), validated; empty cells are <NA>."""
    p = Path(path)
    try:
        df = _read(p)
    except OSError as exc:
        raise ReferenceDataError(f"option library {p} cannot be read ({exc})") from exc
    problems = _problems(df, p.name, p.stem, None)
    if problems:
        raise ReferenceDataError("invalid option library:\n" + "\n".join(problems))
    return _clean(df)


def load_library(industries: Iterable[str] | None = None) -> pd.DataFrame:
    """Entries of the libraries of ``industries`` (all libraries if None), validated.

    Raises ReferenceDataError for an unknown industry, a malformed file or an entry id used
    by two files.
    """
    known = available_libraries()
    wanted = known if industries is None else list(dict.fromkeys(industries))
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise ReferenceDataError(
            f"no option library for {', '.join(unknown)}; available: {', '.join(known)}"
        )
    frames = [load_library_file(reference.path(f"{_FOLDER}/{i}.csv")) for i in wanted]
    lib = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    dup = lib["entry_id"][lib["entry_id"].duplicated()]
    if len(dup):
        raise ReferenceDataError(
            f"entry id(s) used by two library files: {', '.join(sorted(set(dup.astype(str))))}"
        )
    lib.attrs["basis"] = {"option_libraries": wanted}
    return lib


def library_for(system_id: str | None) -> pd.DataFrame:
    """The libraries that apply to an enterprise: ``general`` plus its indicator system's
    (if a library file exists for it)."""
    known = available_libraries()
    wanted = ["general"] + ([system_id] if system_id and system_id in known else [])
    return load_library(wanted)


# --------------------------------------------------------------------------- matching

_CJK = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+")


def text_tokens(text: str) -> Counter[str]:
    """Tokens for matching Chinese and English text: character bigrams of Chinese runs
    (a lone character counts itself) and lower-case words of two or more letters."""
    c: Counter[str] = Counter()
    for run in _CJK.findall(text):
        if len(run) == 1:
            c[run] += 1
        c.update(run[i : i + 2] for i in range(len(run) - 1))
    c.update(w for w in _WORD.findall(text.lower()) if len(w) > 1)
    return c


def _concepts(text: str, concepts: dict[str, dict[str, list[str]]]) -> set[str]:
    low = text.lower()
    found = set()
    for cid, kw in concepts.items():
        if any(k and k.lower() in low for k in kw.get("zh", [])) or any(
            re.search(r"(?<![a-z])" + re.escape(k.lower()), low) for k in kw.get("en", []) if k
        ):
            found.add(cid)
    return found


def _entry_text(rec: dict[str, Any]) -> str:
    cols = [
        "name_zh",
        "name_en",
        "problem_zh",
        "problem_en",
        "cause_zh",
        "cause_en",
        "solution_zh",
        "solution_en",
    ]
    return " ".join(str(rec[c]) for c in cols if rec.get(c) is not None and not pd.isna(rec[c]))


def tfidf(texts: list[str]) -> tuple[list[dict[str, float]], Callable[[str], dict[str, float]]]:
    """TF-IDF vectors of ``texts`` over :func:`text_tokens` (smoothed idf, as scikit-learn),
    and a function that turns another text into a vector of the same space."""
    toks = [text_tokens(t) for t in texts]
    n = len(toks)
    df_count: Counter[str] = Counter()
    for t in toks:
        df_count.update(t.keys())

    def vec(c: Counter[str]) -> dict[str, float]:
        return {k: v * (math.log((1 + n) / (1 + df_count.get(k, 0))) + 1) for k, v in c.items()}

    return [vec(t) for t in toks], lambda text: vec(text_tokens(text))


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two sparse vectors (0 when either is empty)."""
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def suggest_options(
    lagging: pd.DataFrame,
    system: grading.IndicatorSystem | str | None = None,
    library: pd.DataFrame | None = None,
    *,
    top: int | None = None,
) -> pd.DataFrame:
    """Ranked library entries for each lagging indicator (seed 002; seed 004 Appendix A).

    ``lagging``: :func:`cpkit.grading.lagging_indicators` (at least indicator_id, name_zh,
    name_en). ``system``: the IndicatorSystem (or its id) the indicators belong to; it picks
    the libraries (general + the system's) and gives the indicators' optional ``aspects``
    and ``keywords``. ``library``: entries to search instead (e.g. ``load_library([...])``).
    ``top``: suggestions per indicator (default in option_library/matching.yaml).

    One row per (indicator, suggestion), best first, with ``match`` = indicator | concept |
    text, ``matched_on`` (what matched) and ``score``; an indicator with no suitable entry
    gets one row with match = "none" so that it is not lost.
    """
    need = {"indicator_id", "name_zh", "name_en"}
    if not need <= set(lagging.columns):
        raise CpkitError(
            f"lagging indicators need columns {sorted(need)}; got {list(lagging.columns)} "
            "(use cpkit.grading.lagging_indicators)"
        )
    sys_obj = grading.load_system(system) if isinstance(system, str) else system
    if library is None:
        library = library_for(sys_obj.id if sys_obj is not None else None)
    top = int(top if top is not None else _setting("top"))
    w_link, w_concept = float(_setting("indicator_link")), float(_setting("concept"))
    w_aspect, w_text = float(_setting("aspect_hint")), float(_setting("text_similarity"))
    w_industry, min_score = float(_setting("industry_bonus")), float(_setting("min_score"))
    concepts = _setting("concepts")

    entries = library.to_dict("records")
    texts = [_entry_text(e) for e in entries]
    n = len(entries)
    evecs, vec_of = tfidf(texts)
    econs = [_concepts(t, concepts) for t in texts]
    c_count: Counter[str] = Counter(c for cs in econs for c in cs)
    c_weight = {c: math.log(1 + n / m) / math.log(1 + n) for c, m in c_count.items()}
    elinks = [set(_split_ids(e["indicator_ids"])) for e in entries]
    own = sys_obj.id if sys_obj is not None else None

    rows: list[dict[str, Any]] = []
    for lag in lagging.to_dict("records"):
        iid = str(lag["indicator_id"])
        ind = None
        if sys_obj is not None:
            try:
                ind = sys_obj.indicator(iid)
            except CpkitError:
                ind = None
        hints_aspects = set(ind.aspects) if ind is not None else set()
        extra = " ".join(ind.keywords) if ind is not None else ""
        itext = f"{lag['name_zh']} {lag['name_en']} {extra}"
        icons = _concepts(itext, concepts)
        icons |= {sub for c in icons for sub in concepts[c].get("includes", [])}
        ivec = vec_of(itext)
        scored = []
        for k, e in enumerate(entries):
            linked = iid in elinks[k]
            shared = sorted(icons & econs[k])
            aspect_hit = bool(hints_aspects) and e["aspect"] in hints_aspects
            sim = cosine(ivec, evecs[k])
            score = (
                (w_link if linked else 0.0)
                + w_concept * sum(c_weight[c] for c in shared)
                + (w_aspect if aspect_hit else 0.0)
                + w_text * sim
                + (w_industry if own is not None and e["industry"] == own else 0.0)
            )
            if not linked and score < min_score:
                continue
            if linked:
                match, on = "indicator", f"indicator_ids contains {iid}"
            elif shared or aspect_hit:
                match = "concept"
                on = ", ".join(shared + ([f"aspect {e['aspect']}"] if aspect_hit else []))
            else:
                match, on = "text", f"similarity {sim:.2f}"
            scored.append((score, k, match, on))
        scored.sort(key=lambda s: (-s[0], s[1]))
        base = {"indicator_id": iid, "lag": lag.get("lag")}
        if not scored:
            rows.append(
                base
                | {"rank": 0, "entry_id": None, "match": "none", "matched_on": None, "score": 0.0}
            )
            continue
        for r, (score, k, match, on) in enumerate(scored[:top], start=1):
            e = entries[k]
            rows.append(
                base
                | {"rank": r}
                | {c: e[c] for c in COLUMNS if c not in ("indicator_ids", "source")}
                | {
                    "match": match,
                    "matched_on": on,
                    "score": round(score, 6),
                    "source": e["source"],
                }
            )
    cols = [
        "indicator_id", "lag", "rank", "entry_id", "industry", "aspect", "name_zh", "name_en",
        "problem_zh", "problem_en", "cause_zh", "cause_en", "solution_zh", "solution_en",
        "cost_class", "match", "matched_on", "score", "source",
    ]  # fmt: skip
    out = pd.DataFrame(rows, columns=cols)
    for c in cols:
        if c not in ("rank", "score"):
            out[c] = out[c].astype("string")
    out["rank"] = out["rank"].astype("Int64")
    out["score"] = out["score"].astype("Float64")
    out.attrs["basis"] = dict(library.attrs.get("basis", {})) | {
        "ranking": "option_library/matching.yaml"
    }
    return out


def lagging_coverage(lagging: pd.DataFrame, options: pd.DataFrame) -> pd.DataFrame:
    """Which lagging indicators the enterprise's own options already address.

    Seed 004 clause 5.4.2 (every problem found must have an option). An option addresses an
    indicator when its ``indicator_ids`` (;-separated) names it and its status is not
    rejected. Columns: indicator_id, lag, options (;-separated option ids), addressed.
    """
    for c in ("option_id", "indicator_ids", "status"):
        if c not in options.columns:
            raise CpkitError(f"options table lacks the column {c}")
    linked: dict[str, list[str]] = {}
    for rec in options.to_dict("records"):
        if not pd.isna(rec["status"]) and str(rec["status"]) == "rejected":
            continue
        for tok in _split_ids(rec["indicator_ids"]):
            linked.setdefault(tok, []).append(str(rec["option_id"]))
    rows = []
    for rec in lagging.to_dict("records"):
        iid = str(rec["indicator_id"])
        ids = linked.get(iid, [])
        rows.append(
            {
                "indicator_id": iid,
                "lag": rec.get("lag"),
                "options": ";".join(ids) or None,
                "addressed": bool(ids),
            }
        )
    out = pd.DataFrame(rows, columns=["indicator_id", "lag", "options", "addressed"])
    for c in ("indicator_id", "lag", "options"):
        out[c] = out[c].astype("string")
    out["addressed"] = out["addressed"].astype("boolean")
    return out
