"""Chart construction for the phase notebooks and reports (Altair).

Builders live in submodules by subject (``cpkit.charts.status``, ``.balances``,
``.options``, ``.finance``, ``.implementation``); each takes a cpkit result DataFrame
and already-translated labels and returns an ``altair.Chart`` finished with
:func:`style`. Notebooks display them with :func:`cpkit.display.chart`, which gives
inline SVG in batch runs and interactive charts in JupyterLab.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
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
    a quiet grid and the palette. Returns a new chart (``chart`` is not modified).

    One shallow copy of the chart gets the size, the title and the kit's configuration
    (:func:`theme_config`, built once per process and shared: Altair's ``configure_*``
    methods copy a chart's configuration before changing it). Chaining ``properties`` and
    six ``configure_*`` calls made seven copies of the chart, each rebuilding a layered
    chart's sub-charts (about 7 ms a chart)."""
    _lift_row_limit()
    out = chart.copy(deep=False)
    if title is not None:
        out.title = title
    out.width = width
    out.height = height
    out.config = theme_config()
    return out


def fit_labels(labels: Iterable[Any], width: float, size: float = 11.0) -> list[str]:
    """Axis labels cut with "…" to about ``width`` px at font ``size`` px, before drawing.

    Vega cuts a label longer than the axis' ``labelLimit`` by measuring it glyph by
    glyph, and in vl-convert that measuring is the slowest part of a chart: 36 long
    labels took a chart from 0.07 s to 1 s. The width is estimated here
    (:func:`cpkit.charts.balances.text_width`: CJK one em, Latin about half), so Vega
    mostly finds nothing to cut. Labels that would become equal are left whole (each row
    keeps its own band; Vega cuts those as before). Builders keep the whole label for
    the tooltip."""
    from cpkit.charts.balances import truncate

    texts = ["" if v is None else str(v) for v in labels]
    cut = {t: truncate(t, width, size) for t in dict.fromkeys(texts)}
    owners: dict[str, set[str]] = {}
    for full, short in cut.items():
        owners.setdefault(short, set()).add(full)
    return [cut[t] if len(owners[cut[t]]) == 1 else t for t in texts]


@functools.cache
def _lift_row_limit() -> None:
    """Audit tables are small; never truncate them (Altair's default stops at 5,000 rows)."""
    import altair as alt

    alt.data_transformers.disable_max_rows()


@functools.cache
def theme_config() -> Any:
    """The kit's Altair configuration (``alt.Config``): the CJK font (:data:`CHART_FONT`)
    for titles, axes and legends, title size, grid colour, the palette, no view border."""
    import altair as alt

    return alt.Config(
        font=CHART_FONT,
        title=alt.TitleConfig(font=CHART_FONT, fontSize=14, anchor="start"),
        axis=alt.AxisConfig(labelFont=CHART_FONT, titleFont=CHART_FONT, gridColor="#e6e6e6"),
        legend=alt.LegendConfig(labelFont=CHART_FONT, titleFont=CHART_FONT),
        range=alt.RangeConfig(category=PALETTE),
        view=alt.ViewConfig(stroke=None),
    )
