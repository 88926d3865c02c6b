"""Charts of report chapter 6 (feasibility analysis, seed 004 clause 5.5.6).

Each builder takes a tidy DataFrame prepared by :mod:`cpkit.views.feasibility` (labels
already translated, money in 10k CNY) and returns an Altair chart finished with
:func:`cpkit.charts.style`:

* :func:`cumulative_cash_flow` -- cumulative discounted net cash flow per option by year
  (RETScreen's cumulative cash-flow graph; the crossing of zero is the dynamic payback);
* :func:`tornado` -- NPV at the low and high value of each input, one at a time;
* :func:`npv_histogram` -- the Monte Carlo distribution of NPV with percentiles and zero.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from cpkit.charts import LEGEND_LABEL_WIDTH, PALETTE, ROW_LABEL_WIDTH, fit_labels, style


def _need(df: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the data lacks column(s) {missing}")


def cumulative_cash_flow(
    flows: pd.DataFrame,
    *,
    year_title: str,
    value_title: str,
    option_title: str,
    title: str | None = None,
) -> alt.LayerChart:
    """Lines of the cumulative discounted net cash flow (10k CNY) of each option by year,
    with the zero line: where a line crosses zero the investment is recovered at the
    discount rate (dynamic payback).

    ``flows`` columns: option (label), year (int), cumulative_discounted_10k_cny. Option
    names are cut to :data:`cpkit.charts.LEGEND_LABEL_WIDTH` in the legend (whole in the
    tooltip).
    """
    _need(flows, ["option", "year", "cumulative_discounted_10k_cny"], "flows")
    flows = flows.assign(option_shown=fit_labels(flows["option"], LEGEND_LABEL_WIDTH))
    options = list(flows["option_shown"].drop_duplicates())
    enc = {
        "x": alt.X("year:Q", title=year_title, axis=alt.Axis(tickMinStep=1, format="d")),
        "y": alt.Y("cumulative_discounted_10k_cny:Q", title=value_title),
        "color": alt.Color(
            "option_shown:N",
            title=option_title,
            sort=options,
            scale=alt.Scale(domain=options, range=(PALETTE * 4)[: len(options)]),
        ),
        "tooltip": [
            alt.Tooltip("option:N", title=option_title),
            alt.Tooltip("year:Q", title=year_title),
            alt.Tooltip("cumulative_discounted_10k_cny:Q", title=value_title, format=",.2f"),
        ],
    }
    lines = alt.Chart(flows).mark_line(point=True, strokeWidth=2).encode(**enc)
    zero = (
        alt.Chart(pd.DataFrame({"zero": [0.0]}))
        .mark_rule(color="#555555", strokeDash=[4, 3])
        .encode(y=alt.Y("zero:Q"))
    )
    return style(alt.layer(zero, lines), title=title)


def tornado(
    bars: pd.DataFrame,
    *,
    variable_title: str,
    npv_title: str,
    side_title: str,
    base_npv_10k_cny: float,
    title: str | None = None,
) -> alt.LayerChart:
    """Tornado of NPV (10k CNY): for each input a bar from the base NPV to the NPV with the
    input at its low value and one to its high value; widest swing on top; the base NPV
    and zero as vertical lines.

    ``bars`` columns: variable (label), variable_order (0 = widest), side (label, e.g.
    "−20 %"), npv_10k_cny, base_10k_cny. Variable names are cut to
    :data:`cpkit.charts.ROW_LABEL_WIDTH` (whole in the tooltip).
    """
    _need(bars, ["variable", "variable_order", "side", "npv_10k_cny", "base_10k_cny"], "bars")
    bars = bars.assign(variable_shown=fit_labels(bars["variable"], ROW_LABEL_WIDTH))
    order = list(bars.sort_values("variable_order")["variable_shown"].drop_duplicates())
    sides = list(bars["side"].drop_duplicates())
    bar = (
        alt.Chart(bars)
        .mark_bar(height=16)
        .encode(
            y=alt.Y("variable_shown:N", sort=order, title=variable_title),
            x=alt.X("base_10k_cny:Q", title=npv_title),
            x2=alt.X2("npv_10k_cny:Q"),
            color=alt.Color(
                "side:N",
                title=side_title,
                sort=sides,
                scale=alt.Scale(domain=sides, range=[PALETTE[3], PALETTE[0]][: len(sides)]),
            ),
            tooltip=[
                alt.Tooltip("variable:N", title=variable_title),
                alt.Tooltip("side:N", title=side_title),
                alt.Tooltip("npv_10k_cny:Q", title=npv_title, format=",.2f"),
            ],
        )
    )
    rules = alt.Chart(
        pd.DataFrame({"x": [float(base_npv_10k_cny), 0.0], "kind": ["base", "zero"]})
    ).mark_rule(color="#333333")
    rules = rules.encode(
        x=alt.X("x:Q"),
        strokeDash=alt.StrokeDash(
            "kind:N", scale=alt.Scale(domain=["base", "zero"], range=[[1, 0], [4, 3]]), legend=None
        ),
    )
    return style(alt.layer(bar, rules), title=title, height=max(100, 40 * len(order)))


def npv_histogram(
    bins: pd.DataFrame,
    markers: pd.DataFrame,
    *,
    npv_title: str,
    count_title: str,
    title: str | None = None,
) -> alt.LayerChart:
    """Histogram of the Monte Carlo NPVs (10k CNY), pre-binned, with vertical rules at
    the marked values (percentiles, zero) labelled on top; bins below zero in a warning
    colour.

    ``bins`` columns: bin_start, bin_end, draws, negative (bool).
    ``markers`` columns: value, label.
    """
    _need(bins, ["bin_start", "bin_end", "draws", "negative"], "bins")
    _need(markers, ["value", "label"], "markers")
    hist = (
        alt.Chart(bins)
        .mark_bar(stroke="white", strokeWidth=0.3)
        .encode(
            x=alt.X("bin_start:Q", title=npv_title, bin="binned"),
            x2=alt.X2("bin_end:Q"),
            y=alt.Y("draws:Q", title=count_title),
            color=alt.Color(
                "negative:N",
                legend=None,
                scale=alt.Scale(domain=[False, True], range=[PALETTE[0], PALETTE[3]]),
            ),
            tooltip=[
                alt.Tooltip("bin_start:Q", format=",.2f"),
                alt.Tooltip("bin_end:Q", format=",.2f"),
                alt.Tooltip("draws:Q", title=count_title),
            ],
        )
    )
    rule = (
        alt.Chart(markers).mark_rule(color="#333333", strokeDash=[4, 3]).encode(x=alt.X("value:Q"))
    )
    text = (
        alt.Chart(markers)
        .mark_text(angle=270, align="left", baseline="bottom", dx=-4, dy=-2, fontSize=10)
        .encode(x=alt.X("value:Q"), y=alt.value(0), text=alt.Text("label:N"))
    )
    return style(alt.layer(hist, rule, text), title=title)
