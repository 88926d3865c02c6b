"""Charts of report chapter 5 (option generation and screening, seed 004 clauses 5.4.1-5.4.6).

Each builder takes a tidy DataFrame prepared by :mod:`cpkit.views.options` (labels already
translated) and returns an Altair chart finished with :func:`cpkit.charts.style`:

* :func:`options_by_aspect` -- option counts per aspect of the eight, stacked by cost class;
* :func:`score_heatmap` -- the scores R of the weighted-sum ranking (options x criteria);
* :func:`weighted_totals` -- the weighted totals ΣW·R, with the mandatory-audit addition;
* :func:`weight_ranges` -- how far each weight can move before the top option changes.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from cpkit.charts import (
    PALETTE,
    ROW_LABEL_WIDTH,
    SEQUENTIAL,
    SLANT_LABEL_WIDTH,
    WIDTH,
    fit_labels,
    label_map,
    style,
)

#: Width (px) kept for option names beside the heatmap and the weighted-total bars (cut
#: before drawing with :func:`cpkit.charts.fit_labels`; the tooltip keeps the whole name).
OPTION_LABEL_WIDTH = 180
#: Width (px) of the slanted criterion labels under the heatmap.
CRITERION_LABEL_WIDTH = SLANT_LABEL_WIDTH


def _need(df: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the data lacks column(s) {missing}")


def options_by_aspect(
    counts: pd.DataFrame,
    *,
    aspect_title: str,
    count_title: str,
    class_title: str,
    title: str | None = None,
) -> alt.Chart:
    """Horizontal stacked bars: number of options per aspect, one colour per cost class.

    ``counts`` columns: aspect (label), aspect_order (int), cost_class (label),
    class_order (int), options (count). Aspects keep their order of the eight even when
    they have no option (a bar of length 0 shows the gap).
    """
    _need(counts, ["aspect", "aspect_order", "cost_class", "class_order", "options"], "counts")
    order = list(counts.sort_values("aspect_order")["aspect"].drop_duplicates())
    classes = list(counts.sort_values("class_order")["cost_class"].drop_duplicates())
    chart = (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            y=alt.Y("aspect:N", sort=order, title=aspect_title),
            x=alt.X("sum(options):Q", title=count_title, axis=alt.Axis(tickMinStep=1)),
            color=alt.Color(
                "cost_class:N",
                title=class_title,
                sort=classes,
                scale=alt.Scale(domain=classes, range=PALETTE[: len(classes)]),
            ),
            order=alt.Order("class_order:Q"),
            tooltip=[
                alt.Tooltip("aspect:N", title=aspect_title),
                alt.Tooltip("cost_class:N", title=class_title),
                alt.Tooltip("options:Q", title=count_title),
            ],
        )
    )
    return style(chart, title=title, height=max(160, 28 * len(order)))


def score_heatmap(
    cells: pd.DataFrame,
    *,
    option_title: str,
    criterion_title: str,
    score_title: str,
    score_max: float,
    title: str | None = None,
) -> alt.LayerChart:
    """Heatmap of the scores R (rows: options in rank order; columns: criteria with W).

    ``cells`` columns: option (label), option_order, criterion (label), criterion_order,
    score_r. ``score_max`` fixes the colour scale to the admissible range of R.
    """
    _need(
        cells,
        ["option", "option_order", "criterion", "criterion_order", "score_r"],
        "cells",
    )
    options = list(cells.sort_values("option_order")["option"].drop_duplicates())
    crits = list(cells.sort_values("criterion_order")["criterion"].drop_duplicates())
    # axis texts cut before drawing (fit_labels); the tooltip keeps the whole names
    opt_axis = label_map(options, OPTION_LABEL_WIDTH)
    crit_axis = label_map(crits, CRITERION_LABEL_WIDTH)
    cells = cells.assign(
        option_axis=cells["option"].map(opt_axis), criterion_axis=cells["criterion"].map(crit_axis)
    )
    base = alt.Chart(cells).encode(
        # slanted labels: criterion names with their weight are long, level ones overlapped
        x=alt.X(
            "criterion_axis:N",
            sort=[crit_axis[c] for c in crits],
            title=criterion_title,
            axis=alt.Axis(labelAngle=-30, labelAlign="right"),
        ),
        y=alt.Y("option_axis:N", sort=[opt_axis[o] for o in options], title=option_title),
    )
    rect = base.mark_rect().encode(
        color=alt.Color(
            "score_r:Q",
            title=score_title,
            scale=alt.Scale(scheme=SEQUENTIAL, domain=[0, score_max]),
            legend=alt.Legend(orient="bottom"),  # at the right it pushed the chart off the page
        ),
        tooltip=[
            alt.Tooltip("option:N", title=option_title),
            alt.Tooltip("criterion:N", title=criterion_title),
            alt.Tooltip("score_r:Q", title=score_title),
        ],
    )
    text = base.mark_text(fontSize=12).encode(
        text=alt.Text("score_r:Q", format=".0f"),
        color=alt.condition(
            alt.datum.score_r > 0.6 * score_max, alt.value("white"), alt.value("#222222")
        ),
    )
    return style(
        alt.layer(rect, text),
        title=title,
        width=min(WIDTH - 160, max(200, 80 * len(crits))),
        height=max(120, 26 * len(options)),
    )


def weighted_totals(
    totals: pd.DataFrame,
    *,
    option_title: str,
    score_title: str,
    part_title: str,
    title: str | None = None,
) -> alt.Chart:
    """Horizontal stacked bars of each option's weighted total: the ordinary criteria and
    the mandatory-audit addition as separate parts.

    ``totals`` columns: option (label), rank, part (label), part_order, points.
    """
    _need(totals, ["option", "rank", "part", "part_order", "points"], "totals")
    order = list(totals.sort_values(["rank", "option"])["option"].drop_duplicates())
    parts = list(totals.sort_values("part_order")["part"].drop_duplicates())
    opt_axis = label_map(order, OPTION_LABEL_WIDTH)
    chart = (
        alt.Chart(totals.assign(option_axis=totals["option"].map(opt_axis)))
        .mark_bar()
        .encode(
            y=alt.Y("option_axis:N", sort=[opt_axis[o] for o in order], title=option_title),
            x=alt.X("sum(points):Q", title=score_title),
            color=alt.Color(
                "part:N",
                title=part_title,
                sort=parts,
                scale=alt.Scale(domain=parts, range=PALETTE[: len(parts)]),
            ),
            order=alt.Order("part_order:Q"),
            tooltip=[
                alt.Tooltip("option:N", title=option_title),
                alt.Tooltip("part:N", title=part_title),
                alt.Tooltip("points:Q", title=score_title, format=",.1f"),
            ],
        )
    )
    return style(chart, title=title, height=max(120, 26 * len(order)))


def weight_ranges(
    ranges: pd.DataFrame,
    *,
    criterion_title: str,
    weight_title: str,
    range_label: str,
    weight_label: str,
    title: str | None = None,
) -> alt.LayerChart:
    """For each criterion, the interval of its weight W within which the top option stays
    the same (others fixed), with the weight used marked.

    ``ranges`` columns: criterion (label), criterion_order, weight, low, high (the interval,
    already clipped to the admissible weight scale). Criterion names are cut to
    :data:`cpkit.charts.ROW_LABEL_WIDTH` (whole in the tooltip).
    """
    _need(ranges, ["criterion", "criterion_order", "weight", "low", "high"], "ranges")
    data = ranges.assign(
        range_label=range_label,
        weight_label=weight_label,
        criterion_shown=fit_labels(ranges["criterion"], ROW_LABEL_WIDTH),
    )
    crits = list(data.sort_values("criterion_order")["criterion_shown"].drop_duplicates())
    y = alt.Y("criterion_shown:N", sort=crits, title=criterion_title)
    bar = (
        alt.Chart(data)
        .mark_bar(height=12, opacity=0.55)
        .encode(
            y=y,
            x=alt.X("low:Q", title=weight_title),
            x2=alt.X2("high:Q"),
            color=alt.Color(
                "range_label:N",
                title=None,
                scale=alt.Scale(domain=[range_label, weight_label], range=PALETTE[:2]),
            ),
            tooltip=[
                alt.Tooltip("criterion:N", title=criterion_title),
                alt.Tooltip("low:Q", format=".2f"),
                alt.Tooltip("high:Q", format=".2f"),
            ],
        )
    )
    tick = (
        alt.Chart(data)
        .mark_tick(thickness=3, size=22)
        .encode(
            y=y,
            x=alt.X("weight:Q"),
            color=alt.Color("weight_label:N", title=None),
            tooltip=[alt.Tooltip("weight:Q", title=weight_title)],
        )
    )
    return style(alt.layer(bar, tick), title=title, height=max(100, 34 * len(crits)))
