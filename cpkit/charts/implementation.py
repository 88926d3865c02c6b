"""Charts of report chapter 7 (implementation, seed 004 clauses 5.6.2-5.6.6).

Each builder takes a tidy DataFrame prepared by :mod:`cpkit.views.implementation` (labels
already translated) and returns an Altair chart finished with :func:`cpkit.charts.style`:

* :func:`timeline` -- one bar per option from its start to its end date, coloured by
  status, with a rule at the end of the audit (seed 004 clause 5.6.2: 实施进度);
* :func:`benefit_bars` -- actual annual benefit of each implemented option with the
  expected benefit as a tick (5.6.3);
* :func:`reduction_bars` -- reduction rate of each unit indicator, decreases and
  increases in two colours, with the zero line (5.6.5);
* :func:`progress_bars` -- progress towards each target term with the 100 % line (5.6.6);
* :func:`score_bars` -- comprehensive index Y of each level before and after the audit,
  with the score each level needs (5.6.6).
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from cpkit.charts import PALETTE, ROW_LABEL_WIDTH, WIDTH, fit_labels, style
from cpkit.errors import CpkitError

__all__ = ["benefit_bars", "progress_bars", "reduction_bars", "score_bars", "timeline"]

#: Height of one bar row in pixels.
ROW_HEIGHT = 20
#: Width (pixels) kept for the row labels on the left and their font size; longer labels
#: are cut with "…" (:func:`cpkit.charts.fit_labels`, before drawing: Vega's own cutting is
#: off; the tooltip keeps the whole label).
LABEL_WIDTH = ROW_LABEL_WIDTH
LABEL_SIZE = 11
#: Colours of "better" and "worse" (green and red of the kit's palette).
GOOD, BAD = PALETTE[2], PALETTE[3]


def _need(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise CpkitError(f"{what}: the data lacks column(s) {', '.join(missing)}")


def _height(rows: int) -> int:
    return max(60, ROW_HEIGHT * rows)


def timeline(
    data: pd.DataFrame,
    *,
    status_title: str,
    date_title: str,
    status_order: Sequence[str],
    markers: pd.DataFrame | None = None,
    title: str | None = None,
    width: int = WIDTH,
):
    """Bars from ``start`` to the end of the ``end`` day for each row, coloured by status.

    ``data`` columns: label (row text), status (translated), start, end (dates), order.
    ``status_order``: translated statuses in legend order (implemented, in progress,
    planned). ``markers``: optional rules, columns ``date`` and ``label``.
    """
    _need(data, ["label", "status", "start", "end", "order"], "timeline")
    d = data.dropna(subset=["start", "end"]).copy()
    if d.empty:
        raise CpkitError("timeline: no option has both a start and an end date")
    d["start"] = pd.to_datetime(d["start"]).dt.strftime("%Y-%m-%d")
    d["bar_end"] = (pd.to_datetime(d["end"]) + pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d")
    d["end"] = pd.to_datetime(d["end"]).dt.strftime("%Y-%m-%d")
    d = d[["label", "status", "start", "end", "bar_end", "order"]]
    d["axis_label"] = fit_labels(d["label"], LABEL_WIDTH, LABEL_SIZE)
    colours = [PALETTE[2], PALETTE[1], PALETTE[0]][: len(status_order)]
    y = alt.Y(
        "axis_label:N",
        sort=alt.EncodingSortField(field="order", order="ascending"),
        title=None,
        axis=alt.Axis(labelFontSize=LABEL_SIZE),
    )
    bars = (
        alt.Chart(d)
        .mark_bar(cornerRadius=2, height=ROW_HEIGHT - 6)
        .encode(
            x=alt.X(
                "start:T",
                title=date_title,
                axis=alt.Axis(format="%Y-%m", labelAngle=0, tickCount="month"),
            ),
            x2=alt.X2("bar_end:T"),
            y=y,
            color=alt.Color(
                "status:N",
                title=status_title,
                scale=alt.Scale(domain=list(status_order), range=colours),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("label:N", title=""),
                alt.Tooltip("status:N", title=status_title),
                alt.Tooltip("start:N", title="▶"),
                alt.Tooltip("end:N", title="■"),
            ],
        )
    )
    layers = [bars]
    if markers is not None and len(markers):
        m = markers.copy()
        m["date"] = pd.to_datetime(m["date"]).dt.strftime("%Y-%m-%d")
        rule = alt.Chart(m).mark_rule(color=PALETTE[3], strokeDash=[4, 3]).encode(x=alt.X("date:T"))
        text = (
            alt.Chart(m)
            .mark_text(align="left", dx=3, dy=-4, baseline="bottom", color=PALETTE[3], fontSize=10)
            .encode(x=alt.X("date:T"), y=alt.value(0), text=alt.Text("label:N"))
        )
        layers += [rule, text]
    chart = alt.layer(*layers)
    return style(chart, title=title, width=width, height=_height(d["label"].nunique()))


def benefit_bars(
    data: pd.DataFrame,
    *,
    value_title: str,
    series_titles: tuple[str, str],
    title: str | None = None,
    width: int = WIDTH,
):
    """Actual annual benefit of each option (bar) and the expected one (tick), 10k CNY.

    ``data`` columns: label, actual, expected (either may be empty), order.
    ``series_titles``: (actual, expected) legend texts.
    """
    _need(data, ["label", "actual", "expected", "order"], "benefit_bars")
    if data.empty:
        raise CpkitError("benefit_bars: no option to draw")
    actual_t, expected_t = series_titles
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "label": data["label"],
                    "axis_label": fit_labels(data["label"], LABEL_WIDTH, LABEL_SIZE),
                    "order": data["order"],
                    "series": s,
                    "value": pd.to_numeric(data[col]).astype("float64"),
                }
            )
            for s, col in ((actual_t, "actual"), (expected_t, "expected"))
        ],
        ignore_index=True,
    ).dropna(subset=["value"])
    y = alt.Y(
        "axis_label:N",
        sort=alt.EncodingSortField(field="order", order="ascending"),
        title=None,
        axis=alt.Axis(labelFontSize=LABEL_SIZE),
    )
    colour = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=[actual_t, expected_t], range=[PALETTE[0], PALETTE[1]]),
        legend=alt.Legend(orient="bottom"),
    )
    tooltip = [
        alt.Tooltip("label:N", title=""),
        alt.Tooltip("series:N", title=""),
        alt.Tooltip("value:Q", title=value_title, format=",.2f"),
    ]
    base = alt.Chart(long).encode(y=y, color=colour, tooltip=tooltip)
    bars = base.transform_filter(alt.datum.series == actual_t).mark_bar(height=ROW_HEIGHT - 8)
    ticks = base.transform_filter(alt.datum.series == expected_t).mark_tick(
        thickness=3, size=ROW_HEIGHT - 4
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#888").encode(x=alt.X("x:Q"))
    chart = alt.layer(
        bars.encode(x=alt.X("value:Q", title=value_title)),
        ticks.encode(x=alt.X("value:Q", title=value_title)),
        zero,
    )
    return style(chart, title=title, width=width, height=_height(data["label"].nunique()))


def reduction_bars(
    data: pd.DataFrame,
    *,
    rate_title: str,
    outcome_titles: tuple[str, str],
    title: str | None = None,
    width: int = WIDTH,
):
    """Reduction rate (%) of each indicator: bars to the right are decreases (better),
    to the left increases, in two colours; a zero line.

    ``data`` columns: label, group (translated category), rate (percent), order.
    ``outcome_titles``: (decreased, increased) legend texts.
    """
    _need(data, ["label", "group", "rate", "order"], "reduction_bars")
    d = data.dropna(subset=["rate"]).copy()
    if d.empty:
        raise CpkitError("reduction_bars: no indicator has a reduction rate")
    better, worse = outcome_titles
    d["rate"] = pd.to_numeric(d["rate"]).astype("float64")
    d["outcome"] = [better if r >= 0 else worse for r in d["rate"]]
    d["axis_label"] = fit_labels(d["label"], LABEL_WIDTH, LABEL_SIZE)
    bars = (
        alt.Chart(d)
        .mark_bar(height=ROW_HEIGHT - 8)
        .encode(
            x=alt.X("rate:Q", title=rate_title),
            y=alt.Y(
                "axis_label:N",
                sort=alt.EncodingSortField(field="order", order="ascending"),
                title=None,
                axis=alt.Axis(labelFontSize=LABEL_SIZE),
            ),
            color=alt.Color(
                "outcome:N",
                title=None,
                scale=alt.Scale(domain=[better, worse], range=[GOOD, BAD]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("group:N", title=""),
                alt.Tooltip("label:N", title=""),
                alt.Tooltip("rate:Q", title=rate_title, format=".1f"),
            ],
        )
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#555").encode(x=alt.X("x:Q"))
    return style(alt.layer(bars, zero), title=title, width=width, height=_height(len(d)))


def progress_bars(
    data: pd.DataFrame,
    *,
    progress_title: str,
    term_title: str,
    term_order: Sequence[str],
    title: str | None = None,
    width: int = WIDTH,
):
    """Progress (%) towards each target term, grouped by target, with the 100 % line.

    ``data`` columns: label (target), term (translated: near / mid term), progress
    (percent), order.
    """
    _need(data, ["label", "term", "progress", "order"], "progress_bars")
    d = data.dropna(subset=["progress"]).copy()
    if d.empty:
        raise CpkitError("progress_bars: no target has a progress value")
    d["progress"] = pd.to_numeric(d["progress"]).astype("float64")
    d["axis_label"] = fit_labels(d["label"], LABEL_WIDTH, LABEL_SIZE)
    y = alt.Y(
        "axis_label:N",
        sort=alt.EncodingSortField(field="order", order="ascending"),
        title=None,
        axis=alt.Axis(labelFontSize=LABEL_SIZE),
    )
    bars = (
        alt.Chart(d)
        .mark_bar(height=(ROW_HEIGHT - 6) / 2)
        .encode(
            x=alt.X("progress:Q", title=progress_title),
            y=y,
            yOffset=alt.YOffset("term:N", sort=list(term_order)),
            color=alt.Color(
                "term:N",
                title=term_title,
                sort=list(term_order),
                scale=alt.Scale(domain=list(term_order), range=[PALETTE[0], PALETTE[6]]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("label:N", title=""),
                alt.Tooltip("term:N", title=term_title),
                alt.Tooltip("progress:Q", title=progress_title, format=".0f"),
            ],
        )
    )
    full = (
        alt.Chart(pd.DataFrame({"x": [100.0]}))
        .mark_rule(color=PALETTE[3], strokeDash=[4, 3])
        .encode(x=alt.X("x:Q"))
    )
    return style(
        alt.layer(bars, full), title=title, width=width, height=_height(d["label"].nunique())
    )


def score_bars(
    data: pd.DataFrame,
    *,
    value_title: str,
    stage_title: str,
    stage_order: Sequence[str],
    thresholds: pd.DataFrame | None = None,
    title: str | None = None,
    width: int = WIDTH,
):
    """Comprehensive index Y of each level (x) before and after the audit (bars side by
    side), 0-100, with a tick at the score each level needs.

    ``data`` columns: score (e.g. "Y_I"), stage (translated), value. ``thresholds``:
    optional columns score, min.
    """
    _need(data, ["score", "stage", "value"], "score_bars")
    if data.empty:
        raise CpkitError("score_bars: no score to draw")
    d = data.copy()
    d["value"] = pd.to_numeric(d["value"]).astype("float64")
    order = list(dict.fromkeys(d["score"]))
    x = alt.X("score:N", sort=order, title=None, axis=alt.Axis(labelAngle=0))
    bars = (
        alt.Chart(d)
        .mark_bar()
        .encode(
            x=x,
            xOffset=alt.XOffset("stage:N", sort=list(stage_order)),
            y=alt.Y("value:Q", title=value_title, scale=alt.Scale(domain=[0, 100])),
            color=alt.Color(
                "stage:N",
                title=stage_title,
                sort=list(stage_order),
                scale=alt.Scale(domain=list(stage_order), range=[PALETTE[7], PALETTE[0]]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("score:N", title=""),
                alt.Tooltip("stage:N", title=stage_title),
                alt.Tooltip("value:Q", title=value_title, format=".2f"),
            ],
        )
    )
    layers = [bars]
    if thresholds is not None and len(thresholds):
        t = thresholds[thresholds["score"].isin(order)]
        layers.append(
            alt.Chart(t)
            .mark_tick(color=PALETTE[3], thickness=2, size=60)
            .encode(x=alt.X("score:N", sort=order), y=alt.Y("min:Q"))
        )
    return style(alt.layer(*layers), title=title, width=width, height=220)
