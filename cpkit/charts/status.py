"""Charts of the pre-assessment (report chapter 3, seed 004 clauses 5.2.8-5.2.12).

Each builder takes a small tidy DataFrame prepared by :mod:`cpkit.views.pre_assessment`
(labels already translated, one row per mark) and already-translated titles, and returns
an Altair chart finished with :func:`cpkit.charts.style`:

* :func:`trend_index` -- unit consumption of each item as an index of its first year
  (first year = 100), so materials, energy and water with different units share one axis;
* :func:`energy_structure` -- share of each energy carrier in the year's comprehensive
  consumption (tce), one stacked bar per year;
* :func:`pollutant_limits` -- measured concentration as a multiple of its limit (C/C0),
  the limit drawn at 1, exceedances in the warning colour;
* :func:`scoring_heatmap` -- the focus-selection matrix: candidates x criteria, colour R x W,
  the R score written in each cell;
* :func:`level_scores` -- the comprehensive indices Y_I, Y_II, Y_III as bars with the
  threshold each level rule asks for.

Builders do no arithmetic on the audit figures: what they draw is in the input frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from cpkit.charts import (
    LABEL_SIZE,
    LEGEND_LABEL_WIDTH,
    LINE_BREAKS,
    PALETTE,
    ROW_LABEL_WIDTH,
    SEQUENTIAL,
    WIDTH,
    fit_labels,
    label_map,
    style,
    wrap_labels,
)
from cpkit.errors import CpkitError

__all__ = [
    "energy_structure",
    "level_scores",
    "pollutant_limits",
    "scoring_heatmap",
    "trend_index",
]

#: colour of a finding to act on (exceedance, threshold missed)
WARNING_COLOUR = PALETTE[3]
OK_COLOUR = PALETTE[0]
THRESHOLD_COLOUR = "#333333"


def _need(df: pd.DataFrame, columns: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise CpkitError(f"{what}: expected a DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CpkitError(f"{what}: the data lacks column(s) {', '.join(missing)}")
    # Altair/vega want plain Python values, not pandas NA
    out = df[list(columns)].copy()
    for c in out.columns:
        if pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype("float64")
        else:
            out[c] = out[c].astype("object").where(out[c].notna(), None)
    return out


def trend_index(
    data: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    y_title: str,
    legend_title: str,
    tooltip_title: str,
) -> alt.Chart:
    """Lines of ``index`` (first year = 100) by ``year`` for each ``label``.

    ``data`` columns: ``year`` (int), ``label`` (item name), ``index`` (float),
    ``value_text`` (the unit consumption with its unit, shown in the tooltip). Item names
    are cut to :data:`cpkit.charts.LEGEND_LABEL_WIDTH` in the legend (whole in the
    tooltip).
    """
    d = _need(data, ["year", "label", "index", "value_text"], "trend_index")
    d["year"] = d["year"].astype(int).astype(str)
    d["label_shown"] = fit_labels(d["label"], LEGEND_LABEL_WIDTH)
    base = alt.Chart(d).encode(
        x=alt.X("year:O", title=x_title, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("index:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=alt.Color("label_shown:N", title=legend_title, legend=alt.Legend(columns=2)),
        tooltip=[
            alt.Tooltip("label:N", title=legend_title),
            alt.Tooltip("year:O", title=x_title),
            alt.Tooltip("index:Q", title=y_title, format=".1f"),
            alt.Tooltip("value_text:N", title=tooltip_title),
        ],
    )
    rule = (
        alt.Chart(pd.DataFrame({"y": [100.0]}))
        .mark_rule(color="#999999", strokeDash=[4, 3])
        .encode(y=alt.Y("y:Q"))
    )
    chart = alt.layer(rule, base.mark_line(point=True, strokeWidth=2))
    return style(chart, title=title, width=WIDTH - 140)


def energy_structure(
    data: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    y_title: str,
    legend_title: str,
    tce_title: str,
) -> alt.Chart:
    """Stacked bars of ``share_pct`` per ``year`` and carrier ``label`` (0-100 %).

    ``data`` columns: ``year``, ``label``, ``share_pct``, ``energy_tce``.
    """
    d = _need(data, ["year", "label", "share_pct", "energy_tce"], "energy_structure")
    d["year"] = d["year"].astype(int).astype(str)
    chart = (
        alt.Chart(d)
        .mark_bar()
        .encode(
            x=alt.X("year:O", title=x_title, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("share_pct:Q", title=y_title, stack="zero", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("label:N", title=legend_title),
            order=alt.Order("share_pct:Q", sort="descending"),
            tooltip=[
                alt.Tooltip("year:O", title=x_title),
                alt.Tooltip("label:N", title=legend_title),
                alt.Tooltip("share_pct:Q", title=y_title, format=".1f"),
                alt.Tooltip("energy_tce:Q", title=tce_title, format=",.1f"),
            ],
        )
    )
    return style(chart, title=title, width=WIDTH - 200)


def pollutant_limits(
    data: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    y_title: str,
    status_title: str,
    status_labels: tuple[str, str],
) -> alt.Chart:
    """Horizontal bars of ``ratio`` = C/C0 per pollutant ``label``; a rule at 1 (the limit).

    ``data`` columns: ``label``, ``ratio``, ``exceeds`` (bool), ``detail`` (tooltip text).
    ``status_labels`` = (label of compliant, label of exceeding), already translated.
    Pollutant labels are cut to :data:`cpkit.charts.ROW_LABEL_WIDTH` (whole in the
    tooltip).
    """
    d = _need(data, ["label", "ratio", "exceeds", "detail"], "pollutant_limits")
    d = d[d["ratio"].notna()].copy()
    ok_label, bad_label = status_labels
    d["status"] = [bad_label if e else ok_label for e in d["exceeds"]]
    d["label_shown"] = fit_labels(d["label"], ROW_LABEL_WIDTH)
    order = list(dict.fromkeys(d["label_shown"]))
    bars = (
        alt.Chart(d)
        .mark_bar()
        .encode(
            y=alt.Y("label_shown:N", title=y_title, sort=order),
            x=alt.X("ratio:Q", title=x_title, scale=alt.Scale(zero=True)),
            color=alt.Color(
                "status:N",
                title=status_title,
                scale=alt.Scale(domain=[ok_label, bad_label], range=[OK_COLOUR, WARNING_COLOUR]),
            ),
            tooltip=[
                alt.Tooltip("label:N", title=y_title),
                alt.Tooltip("ratio:Q", title=x_title, format=".2f"),
                alt.Tooltip("detail:N", title=status_title),
            ],
        )
    )
    limit = (
        alt.Chart(pd.DataFrame({"x": [1.0]}))
        .mark_rule(color=THRESHOLD_COLOUR, strokeDash=[5, 3], strokeWidth=1.5)
        .encode(x=alt.X("x:Q"))
    )
    height = max(120, 22 * len(d))
    return style(alt.layer(bars, limit), title=title, width=WIDTH - 160, height=height)


def scoring_heatmap(
    data: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    y_title: str,
    colour_title: str,
    candidate_order: Sequence[str] | None = None,
    criterion_order: Sequence[str] | None = None,
) -> alt.Chart:
    """Heatmap of ``score_rw`` (R x W) with ``candidate`` columns and ``criterion`` rows; the
    text in each cell is ``text`` (e.g. "9 x 8 = 72").

    ``data`` columns: ``candidate``, ``criterion``, ``score_rw``, ``text``. Candidate names
    are wrapped on two lines of their column's width, criterion names cut to
    :data:`cpkit.charts.ROW_LABEL_WIDTH` (whole in the tooltip).
    """
    d = _need(data, ["candidate", "criterion", "score_rw", "text"], "scoring_heatmap")
    n_rows = max(1, d["criterion"].nunique())
    n_cols = max(1, d["candidate"].nunique())
    width = min(WIDTH - 120, 110 * n_cols)
    candidates = list(dict.fromkeys([*(candidate_order or []), *d["candidate"]]))
    criteria = list(dict.fromkeys([*(criterion_order or []), *d["criterion"]]))
    cand_shown = dict(
        zip(
            candidates,
            wrap_labels(candidates, max(3 * LABEL_SIZE, width / n_cols - 8), LABEL_SIZE, 2),
            strict=True,
        )
    )
    crit_shown = label_map(criteria, ROW_LABEL_WIDTH)
    d["candidate_shown"] = d["candidate"].map(cand_shown)
    d["criterion_shown"] = d["criterion"].map(crit_shown)
    x = alt.X(
        "candidate_shown:N",
        title=x_title,
        sort=[cand_shown[c] for c in candidate_order] if candidate_order else None,
        axis=alt.Axis(labelAngle=0, labelExpr=LINE_BREAKS),
    )
    y = alt.Y(
        "criterion_shown:N",
        title=y_title,
        sort=[crit_shown[c] for c in criterion_order] if criterion_order else None,
    )
    rect = (
        alt.Chart(d)
        .mark_rect()
        .encode(
            x=x,
            y=y,
            color=alt.Color("score_rw:Q", title=colour_title, scale=alt.Scale(scheme=SEQUENTIAL)),
            tooltip=[
                alt.Tooltip("candidate:N", title=x_title),
                alt.Tooltip("criterion:N", title=y_title),
                alt.Tooltip("text:N", title=colour_title),
            ],
        )
    )
    top = float(d["score_rw"].max()) if len(d) else 0.0
    text = (
        alt.Chart(d)
        .mark_text(fontSize=11)
        .encode(
            x=x,
            y=y,
            text=alt.Text("text:N"),
            color=alt.condition(
                alt.datum.score_rw > top * 0.6, alt.value("white"), alt.value("black")
            ),
        )
    )
    return style(alt.layer(rect, text), title=title, width=width, height=30 * n_rows)


def level_scores(
    data: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    y_title: str,
    threshold_title: str,
    status_title: str,
    status_labels: tuple[str, str],
) -> alt.Chart:
    """Bars of the comprehensive index ``value`` per ``score`` (Y_I, Y_II, ...), a tick at
    the ``threshold`` the level rule asks for (empty: no score condition).

    ``data`` columns: ``score`` (label), ``value`` (0-100), ``threshold``, ``reached`` (bool).
    ``status_labels`` = (label of reached, label of missed).
    """
    d = _need(data, ["score", "value", "threshold", "reached"], "level_scores")
    yes, no = status_labels
    d["status"] = [yes if r else no for r in d["reached"]]
    order = list(d["score"])
    bars = (
        alt.Chart(d)
        .mark_bar(size=38)
        .encode(
            x=alt.X("score:N", title=x_title, sort=order, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("value:Q", title=y_title, scale=alt.Scale(domain=[0, 100])),
            color=alt.Color(
                "status:N",
                title=status_title,
                scale=alt.Scale(domain=[yes, no], range=[OK_COLOUR, WARNING_COLOUR]),
            ),
            tooltip=[
                alt.Tooltip("score:N", title=x_title),
                alt.Tooltip("value:Q", title=y_title, format=".2f"),
                alt.Tooltip("threshold:Q", title=threshold_title, format=".0f"),
            ],
        )
    )
    ticks = (
        alt.Chart(d[d["threshold"].notna()])
        .mark_tick(color=THRESHOLD_COLOUR, thickness=3, size=56)
        .encode(
            x=alt.X("score:N", sort=order),
            y=alt.Y("threshold:Q"),
            tooltip=[alt.Tooltip("threshold:Q", title=threshold_title, format=".0f")],
        )
    )
    return style(alt.layer(bars, ticks), title=title, width=320, height=220)
