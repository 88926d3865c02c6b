"""The batch index (DIR/index.html) and summary (DIR/summary.csv).

The index lists every enterprise of the run with its status, its key figures (recorded
by the notebooks with :func:`cpkit.render.record`; which ones are columns is set in
templates/report/index.yaml), links to its reports, and the failures with their reason.
Like the Chongqing platform described in seed 002, it ranks enterprises on each
comparable figure and overall:

* per figure (:func:`rank_values`): enterprises that recorded a number for it, best
  first in the figure's direction (``better``: lower or higher); ties share the best
  rank (competition ranking: 1, 2, 2, 4);
* overall (:func:`overall_ranking`): each enterprise's mean percentile rank over the
  figures ranked among at least two enterprises, where the percentile of rank r among n
  is (r - 1) / (n - 1): 0 is the best, 1 the worst. Enterprises are ordered by that
  mean (ties share a rank). Figures of an indicator system are recorded under keys that
  carry the system id (``indicator.<system>.<id>``), so enterprises are only compared
  with others of the same industry on them.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cpkit import __version__, i18n
from cpkit.render import atomic
from cpkit.render.assembly import template, templates_dir

SUMMARY_COLUMNS = (
    "enterprise_id",
    "dataset_id",
    "lang",
    "status",
    "seconds",
    "stage",
    "error",
    "html",
    "pdf",
    "pages",
    "pdf_engine",
    "source",
)


@functools.cache
def _config(folder: str) -> dict[str, Any]:
    with open(Path(folder) / "index.yaml", encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    return {"figures": list(doc.get("figures") or []), "rank": dict(doc.get("rank") or {})}


def index_config() -> dict[str, Any]:
    """The index settings (templates/report/index.yaml)."""
    return _config(str(templates_dir()))


# --------------------------------------------------------------------------- rankings
def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def rank_values(values: Mapping[str, float], better: str) -> pd.DataFrame:
    """Rank enterprises on one figure.

    ``values``: enterprise id -> number. ``better``: ``"lower"`` or ``"higher"``.
    Returns columns ``enterprise``, ``value``, ``rank`` (1 = best; ties share the best
    rank), ``percentile`` ((rank - 1) / (n - 1), 0 when n = 1), best first.
    """
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    df = pd.DataFrame({"enterprise": list(values), "value": [float(v) for v in values.values()]})
    if df.empty:
        return df.assign(rank=pd.Series(dtype="int64"), percentile=pd.Series(dtype="float64"))
    df["rank"] = df["value"].rank(method="min", ascending=(better == "lower")).astype("int64")
    n = len(df)
    df["percentile"] = (df["rank"] - 1) / (n - 1) if n > 1 else 0.0
    return df.sort_values(["rank", "enterprise"], kind="stable").reset_index(drop=True)


def ranked_keys(results: Sequence[Any], config: Mapping[str, Any]) -> dict[str, str]:
    """Figure key -> better direction, for every figure to rank (config, then records)."""
    keys: dict[str, str] = {}
    for key, better in (config.get("rank") or {}).items():
        keys[key] = better
    for r in results:
        for key, rec in (r.records or {}).items():
            if rec.get("better") in ("lower", "higher") and key not in keys:
                keys[key] = rec["better"]
    return keys


def rankings(results: Sequence[Any], config: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """One ranking table per ranked figure (only figures at least one enterprise has)."""
    out = {}
    for key, better in sorted(ranked_keys(results, config).items()):
        values = {}
        for r in results:
            if not r.ok:
                continue
            v = _number((r.records.get(key) or {}).get("value"))
            if v is not None:
                values[r.eid] = v
        if values:
            out[key] = rank_values(values, better)
    return out


def overall_ranking(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Mean percentile rank over the figures ranked among at least two enterprises.

    Returns columns ``enterprise``, ``score`` (0 = best), ``indicators`` (how many
    figures entered), ``rank`` (1 = best; ties share), best first.
    """
    parts = [t[["enterprise", "percentile"]] for t in tables.values() if len(t) >= 2]
    if not parts:
        return pd.DataFrame(columns=["enterprise", "score", "indicators", "rank"])
    long = pd.concat(parts, ignore_index=True)
    agg = long.groupby("enterprise", as_index=False).agg(
        score=("percentile", "mean"), indicators=("percentile", "size")
    )
    agg["rank"] = agg["score"].round(12).rank(method="min", ascending=True).astype("int64")
    return agg.sort_values(["rank", "enterprise"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- formatting
def _digits_for(value: float) -> int:
    a = abs(value)
    return 1 if a >= 100 else 2 if a >= 1 else 4


def format_figure(value: Any, spec: Mapping[str, Any], lang: str) -> str:
    """A recorded value formatted as the index shows it."""
    if value is None:
        return i18n.missing(lang)
    kind = spec.get("format", "number")
    if kind == "level":
        key = f"level.{value}"
        return i18n.t(key, lang) if i18n.has(key) else str(value)
    if isinstance(value, str | bool):
        return str(value)
    if kind == "money":
        return i18n.fmt_money(value, lang, spec.get("digits", 2))
    if kind == "int":
        return i18n.fmt_int(value, lang)
    digits = spec.get("digits")
    text = i18n.fmt_number(value, lang, _digits_for(value) if digits is None else digits)
    unit = spec.get("unit")
    return f"{text} {i18n.unit_label(unit, lang)}" if unit else text


def figure_label(key: str, results: Sequence[Any], lang: str, config: Mapping[str, Any]) -> str:
    """The label of a figure: configured message, ``figure.<key>`` message, the label a
    notebook recorded, or the key itself."""
    for spec in config.get("figures", []):
        if spec.get("key") == key and spec.get("label") and i18n.has(spec["label"]):
            return i18n.t(spec["label"], lang)
    if i18n.has(f"figure.{key}"):
        return i18n.t(f"figure.{key}", lang)
    for r in results:
        label = (r.records.get(key) or {}).get("label")
        if isinstance(label, dict) and label.get(lang):
            return str(label[lang])
        if isinstance(label, str) and label:
            return label
    return key


def _record_unit(key: str, results: Sequence[Any]) -> str | None:
    for r in results:
        unit = (r.records.get(key) or {}).get("unit")
        if unit:
            return str(unit)
    return None


# --------------------------------------------------------------------------- writers
def write_summary(summary: Any, langs: Sequence[str]) -> Path:
    """Write DIR/summary.csv: one row per enterprise and language (UTF-8 with BOM, so
    Excel opens the Chinese text correctly)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    for r in summary.results:
        for lang in langs:
            lr = r.langs.get(lang)
            if lr is None:
                continue
            writer.writerow(
                [
                    r.eid,
                    r.dataset_id or "",
                    lang,
                    lr.status,
                    f"{lr.seconds:.3f}",
                    lr.stage or "",
                    lr.error or "",
                    f"{r.eid}/{lr.html}" if lr.html else "",
                    f"{r.eid}/{lr.pdf}" if lr.pdf else "",
                    lr.pages if lr.pages is not None else "",
                    lr.pdf_engine or "",
                    r.source,
                ]
            )
    path = summary.out / "summary.csv"
    atomic.write_bytes(path, buf.getvalue().encode("utf-8-sig"))
    return path


def index_html(summary: Any, langs: Sequence[str]) -> str:
    """The index page of a render run (HTML text)."""
    lang = langs[0]
    t = i18n.t
    config = index_config()
    results = list(summary.results)
    figures = [spec for spec in config["figures"] if spec.get("key")]
    rows = []
    for r in results:
        name = r.names.get(lang) or r.dataset_id or r.eid
        links = []
        for lg in langs:
            lr = r.langs.get(lg)
            if lr is None:
                continue
            if lr.html:
                links.append((f"{lg.upper()} HTML", f"{r.eid}/{lr.html}"))
            if lr.pdf:
                links.append((f"{lg.upper()} PDF", f"{r.eid}/{lr.pdf}"))
        first = next((lr for lr in r.langs.values() if lr.html), None)
        rows.append(
            {
                "eid": r.eid,
                "name": name,
                "href": f"{r.eid}/{first.html}"
                if first
                else (f"{r.eid}/failed.html" if r.status == "failed" else None),
                "status": r.status,
                "status_text": t(f"index.statuses.{r.status}", lang),
                "figures": [
                    format_figure((r.records.get(spec["key"]) or {}).get("value"), spec, lang)
                    if r.ok and spec["key"] in r.records
                    else i18n.missing(lang)
                    for spec in figures
                ],
                "links": links,
                "seconds": i18n.fmt_number(r.seconds, lang, 1),
                "failed_href": f"{r.eid}/failed.html" if r.status == "failed" else None,
                "reason": r.reason(),
            }
        )
    by_eid = {r.eid: r for r in results}
    tables = rankings(results, config)
    better = ranked_keys(results, config)
    ranking_blocks = []
    for key, table in tables.items():
        unit = _record_unit(key, results)
        spec = next((s for s in figures if s.get("key") == key), {"format": "number"})
        ranking_blocks.append(
            {
                "title": figure_label(key, results, lang, config),
                "direction": t(f"index.better_{better[key]}", lang),
                "unit": i18n.unit_label(unit, lang) if unit and not spec.get("unit") else "",
                "rows": [
                    {
                        "rank": int(row.rank),
                        "name": by_eid[row.enterprise].names.get(lang) or row.enterprise,
                        "eid": row.enterprise,
                        "value": format_figure(row.value, spec, lang),
                    }
                    for row in table.itertuples()
                ],
            }
        )
    overall = overall_ranking(tables)
    overall_rows = [
        {
            "rank": int(row.rank),
            "name": by_eid[row.enterprise].names.get(lang) or row.enterprise,
            "eid": row.enterprise,
            "score": i18n.fmt_number(row.score, lang, 3),
            "indicators": int(row.indicators),
        }
        for row in overall.itertuples()
    ]
    failed = [row for row in rows if row["status"] == "failed"]
    ok = sum(1 for r in results if r.ok)
    return template("index.html.j2").render(
        lang=lang,
        html_lang="zh-CN" if lang == "zh" else "en",
        title=t("index.title", lang),
        counts=t("index.generated", lang, total=len(results), ok=ok, failed=len(results) - ok),
        labels={
            k: t(f"index.{k}", lang)
            for k in (
                "enterprise",
                "id",
                "status",
                "reports",
                "reason",
                "seconds",
                "overview",
                "failures",
                "no_failures",
                "ranking",
                "ranking_note",
                "overall",
                "rank",
                "value",
                "score",
                "indicators_ranked",
                "no_ranking",
                "failed_report",
            )
        },
        figure_labels=[figure_label(s["key"], results, lang, config) for s in figures],
        rows=rows,
        failed=failed,
        rankings=ranking_blocks,
        overall=overall_rows,
        version=__version__,
    )


def write_index(summary: Any, langs: Sequence[str]) -> Path:
    """Write DIR/index.html atomically."""
    path = summary.out / "index.html"
    atomic.write_text(path, index_html(summary, langs))
    return path
