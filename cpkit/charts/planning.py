"""Charts of the planning phase: the Gantt chart of the audit work plan (seed 004 clause
5.1.4; report section 2.3).

:func:`gantt` takes the schedule of :func:`cpkit.views.planning.plan_schedule` (one row
per task with ``start`` and ``end`` dates, both days included) and already-translated
labels, and returns an Altair chart finished with :func:`cpkit.charts.style`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from cpkit.charts import PALETTE, WIDTH, fit_labels, label_map, style
from cpkit.charts.balances import truncate
from cpkit.errors import CpkitError

__all__ = ["GanttLabels", "gantt"]

#: Height of one task row in pixels.
ROW_HEIGHT = 20
#: Width (pixels) kept for the task names on the left.
LABEL_WIDTH = 230
#: Font size (px) of the task names.
LABEL_SIZE = 11
#: Width (pixels) of one legend entry (two columns of phase names under the chart).
LEGEND_LABEL_WIDTH = 280
#: Task names are cut with "…" to the width of this many half-width characters (a Chinese
#: character counts two: 220 px at 11 px) before drawing (:func:`cpkit.charts.fit_labels`):
#: letting Vega cut them measures every label glyph by glyph and makes the SVG export
#: several times slower. The tooltip keeps the whole name.
LABEL_CHARS = 40


def _cut(text: str, limit: int = LABEL_CHARS) -> str:
    """One ``text`` cut to ``limit`` half-width characters, with "…" when cut (the chart
    cuts its rows together with :func:`cpkit.charts.fit_labels`, which keeps them
    distinct)."""
    return truncate(text, limit * LABEL_SIZE / 2, LABEL_SIZE)


@dataclass(frozen=True)
class GanttLabels:
    """Texts of the Gantt chart, already translated (from the message catalogue)."""

    title: str
    task: str
    phase: str
    start: str
    end: str
    days: str
    owner: str
    date_axis: str


def gantt(
    schedule: pd.DataFrame,
    labels: GanttLabels,
    phase_names: Mapping[int, str],
    *,
    highlight_phase: int | None = None,
    markers: pd.DataFrame | None = None,
    width: int = WIDTH,
):
    """Gantt chart of the work plan: one bar per task from its start to the end of its last
    day, coloured by phase, tasks in plan order (phase, then start).

    ``schedule``: columns ``task_id, phase, task, owner, start, end, duration_days`` (as
    returned by :func:`cpkit.views.planning.plan_schedule`). ``phase_names``: phase number
    -> display name (the legend keeps the phase order 1-7). ``highlight_phase``: a phase
    number whose bars stay opaque while the others fade (None or 0: all opaque).
    ``markers``: optional vertical rules, columns ``date`` and ``label`` (e.g. the audit
    start and end). Returns an Altair chart styled with :func:`cpkit.charts.style`.
    """
    import altair as alt

    need = ["task_id", "phase", "task", "owner", "start", "end", "duration_days"]
    missing = [c for c in need if c not in schedule.columns]
    if missing:
        raise CpkitError(f"gantt: the schedule lacks column(s) {', '.join(missing)}")
    if schedule.empty:
        raise CpkitError("gantt: the work plan has no task to draw")
    phase_nos = sorted(set(int(p) for p in schedule["phase"]))
    names = [phase_names.get(p, str(p)) for p in phase_nos]
    legend = label_map(names, LEGEND_LABEL_WIDTH)
    phase_shown = {p: legend[n] for p, n in zip(phase_nos, names, strict=True)}
    data = pd.DataFrame(
        {
            "order": range(len(schedule)),
            "row": fit_labels(
                [f"{i} {t}" for i, t in zip(schedule["task_id"], schedule["task"], strict=True)],
                LABEL_CHARS * LABEL_SIZE / 2,
                LABEL_SIZE,
            ),
            "task": schedule["task"].astype(str).to_numpy(),
            "owner": schedule["owner"].astype(str).to_numpy(),
            "phase_no": schedule["phase"].astype(int).to_numpy(),
            "phase": [phase_shown[int(p)] for p in schedule["phase"]],
            "phase_name": [phase_names.get(int(p), str(p)) for p in schedule["phase"]],
            "start": pd.to_datetime(schedule["start"]).dt.strftime("%Y-%m-%d").to_numpy(),
            # a bar covers its last day too: it ends at the start of the next day
            "bar_end": (pd.to_datetime(schedule["end"]) + pd.Timedelta(days=1))
            .dt.strftime("%Y-%m-%d")
            .to_numpy(),
            "end": pd.to_datetime(schedule["end"]).dt.strftime("%Y-%m-%d").to_numpy(),
            "days": schedule["duration_days"].astype(int).to_numpy(),
        }
    )
    phases_present = sorted(set(int(p) for p in data["phase_no"]))
    domain = [phase_shown[p] for p in phases_present]
    colours = [PALETTE[(p - 1) % len(PALETTE)] for p in phases_present]
    opacity = (
        alt.condition(alt.datum.phase_no == int(highlight_phase), alt.value(1.0), alt.value(0.2))
        if highlight_phase
        else alt.value(1.0)
    )
    y = alt.Y(
        "row:N",
        sort=alt.EncodingSortField(field="order", order="ascending"),
        title=None,
        axis=alt.Axis(labelFontSize=LABEL_SIZE),
    )
    bars = (
        alt.Chart(data)
        .mark_bar(cornerRadius=2, height=ROW_HEIGHT - 6)
        .encode(
            x=alt.X(
                "start:T",
                title=labels.date_axis,
                axis=alt.Axis(format="%Y-%m", tickCount="month", labelAngle=0),
            ),
            x2=alt.X2("bar_end:T"),
            y=y,
            color=alt.Color(
                "phase:N",
                title=labels.phase,
                scale=alt.Scale(domain=domain, range=colours),
                legend=alt.Legend(orient="bottom", columns=2),
            ),
            opacity=opacity,
            tooltip=[
                alt.Tooltip("task:N", title=labels.task),
                alt.Tooltip("phase_name:N", title=labels.phase),
                alt.Tooltip("owner:N", title=labels.owner),
                alt.Tooltip("start:N", title=labels.start),
                alt.Tooltip("end:N", title=labels.end),
                alt.Tooltip("days:Q", title=labels.days),
            ],
        )
    )
    layers = [bars]
    if markers is not None and not markers.empty:
        marks = pd.DataFrame(
            {
                "date": pd.to_datetime(markers["date"]).dt.strftime("%Y-%m-%d").to_numpy(),
                "label": markers["label"].astype(str).to_numpy(),
            }
        )
        rule = (
            alt.Chart(marks).mark_rule(color="#555555", strokeDash=[4, 3]).encode(x=alt.X("date:T"))
        )
        text = (
            alt.Chart(marks)
            .mark_text(align="center", baseline="bottom", dy=-2, fontSize=10, color="#555555")
            .encode(x=alt.X("date:T"), y=alt.value(0), text=alt.Text("label:N"))
        )
        layers += [rule, text]
    chart = alt.layer(*layers)
    height = max(120, ROW_HEIGHT * len(data))
    return style(chart, title=labels.title, width=width - LABEL_WIDTH // 2, height=height)
