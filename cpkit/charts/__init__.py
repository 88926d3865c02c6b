"""Chart construction for the phase notebooks and reports (Altair).

Builders live in submodules by subject (``cpkit.charts.status``, ``.balances``,
``.options``, ``.finance``, ``.implementation``); each takes a cpkit result DataFrame
and already-translated labels and returns an ``altair.Chart`` finished with
:func:`style`. Notebooks display them with :func:`cpkit.display.chart`, which gives
inline SVG in batch runs and interactive charts in JupyterLab.
"""

from __future__ import annotations

from typing import Any

from cpkit.display import CHART_FONT

#: Qualitative palette (colour-blind safe, prints well in grey).
PALETTE = ["#1f5f8b", "#e07b39", "#3a9d5d", "#c44e52", "#8172b3", "#937860", "#4c9fc8", "#b0b0b0"]
#: Sequential palette for heatmaps.
SEQUENTIAL = "blues"
WIDTH = 520
HEIGHT = 260


def style(chart: Any, *, title: str | None = None, width: int = WIDTH, height: int = HEIGHT) -> Any:
    """Apply the kit's look: explicit CJK font everywhere, sizes that fit an A4 page,
    a quiet grid and the palette. Returns a new chart."""
    import altair as alt

    alt.data_transformers.disable_max_rows()  # audit tables are small; never truncate
    if title is not None:
        chart = chart.properties(title=title)
    chart = chart.properties(width=width, height=height)
    return (
        chart.configure(font=CHART_FONT)
        .configure_title(font=CHART_FONT, fontSize=14, anchor="start")
        .configure_axis(labelFont=CHART_FONT, titleFont=CHART_FONT, gridColor="#e6e6e6")
        .configure_legend(labelFont=CHART_FONT, titleFont=CHART_FONT)
        .configure_range(category=PALETTE)
        .configure_view(stroke=None)
    )
