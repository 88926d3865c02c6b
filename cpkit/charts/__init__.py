"""Chart construction for the phase notebooks and reports (Altair).

Builders live in submodules by subject (``cpkit.charts.status``, ``.balances``,
``.options``, ``.finance``, ``.implementation``); each takes a cpkit result DataFrame
and already-translated labels and returns an ``altair.Chart`` finished with
:func:`style`. Notebooks display them with :func:`cpkit.display.chart`, which gives
inline SVG in batch runs and interactive charts in JupyterLab.

Data texts (category labels, legend entries) are cut or wrapped here, before drawing, to
the widths below (:func:`fit_labels`, :func:`wrap_labels`); Vega's own cutting, which
measures every label once more, is switched off in :func:`theme_config`. Tooltips keep
the whole texts.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pandas as pd

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


#: Font size (px) of axis and legend labels: Vega's default, which the kit keeps.
LABEL_SIZE = 10
#: Widths (px) kept for data texts on the guides. Vega's own cutting of labels is switched
#: off (``labelLimit`` 0 in :func:`theme_config`): builders cut their texts to these widths
#: before drawing (:func:`fit_labels`, :func:`wrap_labels`) and keep the whole text in the
#: tooltip.
ROW_LABEL_WIDTH = 220  #: category labels beside horizontal bars (y axis)
SLANT_LABEL_WIDTH = 160  #: slanted category labels under a chart (x axis)
LEGEND_LABEL_WIDTH = 160  #: one legend entry (Vega's default limit)
#: Room (px) an axis may take for its ticks and labels before its title (Vega's
#: ``maxExtent``, 200 by default): row labels of ROW_LABEL_WIDTH plus the tick and padding,
#: so that an axis title never lies over the labels.
AXIS_MAX_EXTENT = ROW_LABEL_WIDTH + 20
#: Vega expression for ``alt.Axis(labelExpr=...)``: draws the lines of a label made by
#: :func:`wrap_labels` one under the other.
LINE_BREAKS = "split(datum.label, '\\n')"

#: Ellipsis of a cut label (one em wide in the chart font).
ELLIPSIS = "…"
#: Shares of the width given to the end of a label when two cut labels would be equal and
#: the label is shortened in the middle instead ("start…end"), tried in this order.
_TAIL_SHARES = (0.5, 0.35, 0.65, 0.2, 0.8)


def _text(value: Any) -> str:
    """A label value as text: None and missing values (NaN, ``pd.NA``) are empty."""
    try:
        if value is None or pd.isna(value):
            return ""
    except (TypeError, ValueError):  # not a scalar
        pass
    return str(value)


def fit_labels(labels: Iterable[Any], width: float, size: float = LABEL_SIZE) -> list[str]:
    """Labels cut to about ``width`` px at font ``size`` px, before drawing: one output per
    input, in order; equal inputs give equal outputs and distinct inputs distinct ones.

    A label that fits (:func:`cpkit.charts.balances.text_width`: CJK one em, Latin about
    half) is left as it is; a longer one is cut at its end with "…"
    (:func:`cpkit.charts.balances.truncate`). When two labels would become equal that way
    (or equal to a label left whole), they are shortened in the middle instead, keeping
    their start and their end ("Material per unit…冷轧钢板"), at the first split that tells
    them apart; labels that differ only in a middle no split shows get a number after the
    ellipsis ("Material per unit of…#2"). The result fits ``width`` whenever ``width``
    holds at least four characters.

    Why here: Vega cuts a label longer than the axis' ``labelLimit`` by measuring it, and in
    vl-convert measuring text is the slowest part of a chart (each width query draws the
    glyphs), so the kit turns Vega's cutting off (:func:`theme_config`) and the builders
    cut data texts with this function. They keep the whole label for the tooltip."""
    texts = [_text(v) for v in labels]
    table = _fit_unique(list(dict.fromkeys(texts)), width, size)
    return [table[t] for t in texts]


def label_map(labels: Iterable[Any], width: float, size: float = LABEL_SIZE) -> dict[str, str]:
    """:func:`fit_labels` as a mapping whole label -> drawn label, for the distinct labels in
    first-seen order (to map a column and to sort an axis by the drawn labels)."""
    uniq = list(dict.fromkeys(_text(v) for v in labels))
    return dict(zip(uniq, fit_labels(uniq, width, size), strict=True))


def wrap_labels(
    labels: Iterable[Any], width: float, size: float = LABEL_SIZE, max_lines: int = 2
) -> list[str]:
    """Labels broken into at most ``max_lines`` lines of ``width`` px each
    (:func:`cpkit.charts.balances.wrap`: between CJK characters, at spaces between Latin
    words; the rest cut with "…"), the lines joined with a line feed. For category labels
    under a chart that must stay horizontal (each has one band of the axis): the axis draws
    them with ``labelExpr=LINE_BREAKS``. Distinct labels stay distinct: when two wrapped
    labels would be equal, their last lines follow :func:`fit_labels`' rules."""
    from cpkit.charts.balances import wrap

    texts = [_text(v) for v in labels]
    uniq = list(dict.fromkeys(texts))
    table = {t: "\n".join(wrap(t, width, size, max_lines)) for t in uniq}
    count = Counter(table.values())
    clash = [t for t in uniq if count[table[t]] > 1]
    if clash:
        # same first lines: the last line is the rest of the text, made distinct
        groups: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        for t in clash:
            lines = wrap(t, width, size, max_lines=len(t) + 1)
            first, rest = tuple(lines[: max_lines - 1]), _join_lines(lines[max_lines - 1 :])
            groups.setdefault(first, []).append((t, rest))
        for first, items in groups.items():
            taken = {
                v.split("\n")[-1]
                for k, v in table.items()
                if count[v] == 1 and tuple(v.split("\n")[:-1]) == first
            }
            fitted = _fit_unique(
                list(dict.fromkeys(r for _, r in items)), width, size, frozenset(taken)
            )
            for t, rest in items:
                table[t] = "\n".join([*first, fitted[rest]])
    count = Counter(table.values())
    left = [t for t in uniq if count[table[t]] > 1]  # texts that differ only in spacing
    if left:
        others = {table[t] for t in uniq if count[table[t]] == 1}
        table.update(_distinct_forms(left, width, size, others))
    return [table[t] for t in texts]


def _join_lines(lines: list[str]) -> str:
    """Lines of :func:`cpkit.charts.balances.wrap` back into one text: a space between
    Latin words, none next to a CJK character."""
    from cpkit.charts.balances import text_width

    out = ""
    for line in lines:
        if out and text_width(out[-1], 1) < 1 and text_width(line[:1], 1) < 1:
            out += " "
        out += line
    return out


def _fit_unique(
    texts: list[str], width: float, size: float, taken: frozenset[str] = frozenset()
) -> dict[str, str]:
    """Distinct ``texts`` -> distinct labels of at most ``width`` px, none in ``taken``
    (the rules of :func:`fit_labels`)."""
    from cpkit.charts.balances import text_width, truncate

    out = {t: t for t in texts if t not in taken and text_width(t, size) <= width}
    rest = [t for t in texts if t not in out]
    cut = {t: truncate(t, width, size) for t in rest}
    used = set(out.values()) | set(taken)
    count = Counter(cut.values())
    groups: dict[str, list[str]] = {}
    for t in rest:
        if count[cut[t]] == 1 and cut[t] not in used:
            out[t] = cut[t]
        else:
            groups.setdefault(cut[t], []).append(t)
    used |= {out[t] for t in rest if t in out}
    for group in groups.values():
        forms = _distinct_forms(group, width, size, used)
        out.update(forms)
        used |= set(forms.values())
    return out


def _distinct_forms(group: list[str], width: float, size: float, used: set[str]) -> dict[str, str]:
    """Distinct labels of at most ``width`` px for texts whose cut forms collide: the first
    "start…end" split that tells them apart, else "start…#n"."""
    for share in _TAIL_SHARES:
        forms = {t: _middle(t, width, size, share) for t in group}
        values = list(forms.values())
        if all(values) and len(set(values)) == len(values) and not used.intersection(values):
            return forms  # type: ignore[return-value]
    out: dict[str, str] = {}
    n = 0
    for t in group:
        while True:
            n += 1
            form = _numbered(t, width, size, n)
            if form not in used and form not in out.values():
                break
        out[t] = form
    return out


def _middle(text: str, width: float, size: float, share: float) -> str | None:
    """``text`` shortened in the middle to ``width`` px, the end taking about ``share`` of
    it: "start…end"; None when either part would be empty."""
    from cpkit.charts.balances import text_width

    budget = width - text_width(ELLIPSIS, size)
    tail, used = "", 0.0
    for ch in reversed(text):
        w = text_width(ch, size)
        if used + w > budget * share:
            break
        tail, used = ch + tail, used + w
    cut = len(text) - len(tail)
    if 0 < cut < len(text) and _in_word(text[cut - 1]) and _in_word(text[cut]) and " " in tail:
        # the end starts inside a Latin word: start it at the next word instead
        tail = tail[tail.index(" ") + 1 :]
        used = text_width(tail, size)
    head, room = "", budget - used
    for ch in text[: len(text) - len(tail)]:
        w = text_width(ch, size)
        if w > room:
            break
        head, room = head + ch, room - w
    head, tail = head.rstrip(), tail.lstrip()
    if not head or not tail:
        return None
    return f"{head}{ELLIPSIS}{tail}"


def _in_word(ch: str) -> bool:
    """True for a letter or digit of a Latin word (CJK text breaks anywhere)."""
    return ch.isalnum() and ch.isascii()


def _numbered(text: str, width: float, size: float, n: int) -> str:
    """``text`` cut at its end to leave room for "…#n" after it."""
    from cpkit.charts.balances import text_width

    mark = f"{ELLIPSIS}#{n}"
    head, room = "", width - text_width(mark, size)
    for ch in text:
        w = text_width(ch, size)
        if w > room:
            break
        head, room = head + ch, room - w
    return f"{head.rstrip()}{mark}"


@functools.cache
def _lift_row_limit() -> None:
    """Audit tables are small; never truncate them (Altair's default stops at 5,000 rows)."""
    import altair as alt

    alt.data_transformers.disable_max_rows()


@functools.cache
def theme_config() -> Any:
    """The kit's Altair configuration (``alt.Config``): the CJK font (:data:`CHART_FONT`)
    for titles, axes and legends, title size, grid colour, the palette, no view border,
    and Vega's own cutting of texts switched off: ``labelLimit`` 0 on axes and legends,
    ``titleLimit`` 0 on legends (chart and axis titles have no limit by default); axes
    may take :data:`AXIS_MAX_EXTENT` px for their labels before their title.

    Vega cuts a text longer than its limit by measuring it, one more measurement of every
    label whenever a limit is set and a binary search when the label is too long; in
    vl-convert each measurement draws the glyphs, so this took a report's 29 charts from
    3.0 s to 2.0 s. Builders cut data texts before drawing instead (:func:`fit_labels`,
    :func:`wrap_labels`, widths :data:`ROW_LABEL_WIDTH` etc.)."""
    import altair as alt

    return alt.Config(
        font=CHART_FONT,
        title=alt.TitleConfig(font=CHART_FONT, fontSize=14, anchor="start"),
        axis=alt.AxisConfig(
            labelFont=CHART_FONT,
            titleFont=CHART_FONT,
            gridColor="#e6e6e6",
            labelLimit=0,
            maxExtent=AXIS_MAX_EXTENT,
        ),
        legend=alt.LegendConfig(
            labelFont=CHART_FONT, titleFont=CHART_FONT, labelLimit=0, titleLimit=0
        ),
        range=alt.RangeConfig(category=PALETTE),
        view=alt.ViewConfig(stroke=None),
    )
