"""Charts and flow diagrams of the assessment phase (report chapter 4, seed 004 clauses
5.3.3-5.3.8).

Two kinds of figures:

* :func:`flow_diagram_svg` draws a process flow diagram (工艺流程物料平衡图, 水平衡图) as
  static vector SVG, computed here without a browser or a layout engine: unit operations
  are boxes stacked top to bottom in the order given (``units.order``), imports from the
  boundary enter from the left, exports leave to the right, a stream to the next unit is
  a short vertical arrow, any other stream between units runs in a side lane (backward
  streams such as recycles on the left, forward streams that skip units on the right).
  Line width grows with the square root of the flow (a Sankey-like reading of the
  magnitudes that keeps small chemical streams visible next to large water streams);
  colour and dash give the data status. Every text is XML-escaped and the font is named
  explicitly, so Chinese renders in HTML and PDF and nothing is loaded from the network.
  The layout is deterministic: the same data give the same bytes.
* Altair charts (finished with :func:`cpkit.charts.style`): inputs against outputs per
  unit, closure against the tolerance band, electricity by consumer, heat-balance items,
  water use per unit and Pareto charts of losses.

Builders take prepared DataFrames and already-translated labels (cpkit.views.assessment
prepares both); they never read the catalogue themselves.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from markupsafe import escape

from cpkit.charts import (
    LABEL_SIZE,
    LEGEND_LABEL_WIDTH,
    LINE_BREAKS,
    PALETTE,
    ROW_LABEL_WIDTH,
    SLANT_LABEL_WIDTH,
    WIDTH,
    fit_labels,
    style,
    wrap_labels,
)
from cpkit.display import FONT_FAMILY

#: Font list of the flow diagrams. "cpkit-symbols" is an alias the report stylesheet maps to
#: DejaVu Sans for a few symbols (U+2103 "℃") whose glyph is blank in WenQuanYi Micro Hei;
#: where the alias is not defined (a notebook in a browser) it is skipped.
SVG_FONT_FAMILY = "cpkit-symbols, " + FONT_FAMILY

__all__ = [
    "BOUNDARY",
    "STATUS_STYLES",
    "DiagramEdge",
    "DiagramNode",
    "balance_bars",
    "closure_band",
    "electricity_bars",
    "flow_diagram_svg",
    "heat_items_chart",
    "pareto_chart",
    "text_width",
    "truncate",
    "water_use_chart",
    "wrap",
]

#: Id of the system boundary in streams and water flows.
BOUNDARY = "ENV"


@dataclass(frozen=True)
class LineStyle:
    """How a stream of one data status is drawn."""

    colour: str
    dash: str | None = None


#: Line styles by data status (measured, estimated, solved from the balance, unknown,
#: reconciled). Colours from the kit palette; dashes tell them apart in grey print.
STATUS_STYLES: dict[str, LineStyle] = {
    "measured": LineStyle(PALETTE[0]),
    "estimated": LineStyle(PALETTE[1], "6 3"),
    "solved": LineStyle(PALETTE[3], "2 2"),
    "unknown": LineStyle("#888888", "2 2"),
    "reconciled": LineStyle(PALETTE[2]),
}


# --------------------------------------------------------------------------- text metrics
#: Advance widths in em of the chart font (WenQuanYi Micro Hei, :data:`cpkit.display.CHART_FONT`)
#: by class of character, each class at (or within 3 % of) its widest member, so that a
#: text's estimate is rarely short of its drawn width: Latin letters are 0.26-0.90 em
#: (about 0.5 on average), digits 0.55, CJK characters 1.
_NARROW = frozenset("ijl.,:;'!· ")  # 0.23-0.27 em
_SEMI = frozenset('()[]{}ftrIJ-/\\"')  # 0.26-0.40 em
_BROAD = frozenset("mwMW%@")  # 0.75-0.90 em
#: Characters Unicode calls of ambiguous width that the chart font draws one em wide.
_FULL = frozenset("…‘’“”—")


def _char_width(ch: str) -> float:
    """Advance of one character in em: full-width (CJK) characters and the ellipsis 1,
    Latin letters 0.32-0.9 by shape (about 0.55 on average)."""
    if ch in _FULL or unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.0
    if ch in _NARROW:
        return 0.32
    if ch in _SEMI:
        return 0.42
    if ch in _BROAD:
        return 0.9
    if ch.isupper() or ch in "#&":
        return 0.72
    return 0.58


def text_width(text: str, size: float) -> float:
    """Estimated width in px of ``text`` at font ``size`` px in the chart font (no font
    file needed: CJK glyphs are one em wide, Latin ones about half, see :func:`_char_width`).
    Builders cut data texts to a width with it before drawing, since Vega's own cutting
    is switched off (:func:`cpkit.charts.theme_config`)."""
    return sum(_char_width(c) for c in str(text)) * size


def truncate(text: str, width: float, size: float) -> str:
    """``text`` cut with an ellipsis so that it fits ``width`` px at ``size`` px."""
    text = str(text)
    if text_width(text, size) <= width:
        return text
    out, used, limit = [], 0.0, width - size
    for ch in text:
        w = _char_width(ch) * size
        if used + w > limit:
            break
        out.append(ch)
        used += w
    return "".join(out).rstrip() + "…"


def wrap(text: str, width: float, size: float, max_lines: int = 3) -> list[str]:
    """``text`` broken into lines of at most ``width`` px: between any two full-width
    (CJK) characters, at spaces between Latin words; a word longer than a line is cut.
    Text beyond ``max_lines`` is replaced by an ellipsis on the last line."""
    tokens = _TOKENS.findall(" ".join(str(text).split()))
    lines: list[str] = []
    cur = ""
    for tok in tokens:
        if text_width(cur + tok, size) <= width:
            cur += tok
            continue
        if tok.isspace():
            lines.append(cur)
            cur = ""
            continue
        if cur.strip():
            lines.append(cur.rstrip())
            cur = ""
        while text_width(tok, size) > width:  # a word wider than the line
            cut = len(tok)
            while cut > 1 and text_width(tok[:cut], size) > width:
                cut -= 1
            lines.append(tok[:cut])
            tok = tok[cut:]
        cur = tok
    if cur.strip():
        lines.append(cur.rstrip())
    if len(lines) > max_lines:
        rest = " ".join(lines[max_lines - 1 :])
        lines = [*lines[: max_lines - 1], truncate(rest + "……", width, size)]
    return lines


_TOKENS = re.compile(
    r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+|\s+"
)


# --------------------------------------------------------------------------- diagram
@dataclass(frozen=True)
class DiagramNode:
    """A box of the flow diagram: ``label`` is wrapped inside the box; ``lines`` are
    extra small lines under it (e.g. water circulating inside the unit); ``show_id``
    puts the id before the label."""

    id: str
    label: str
    lines: tuple[str, ...] = ()
    show_id: bool = True


@dataclass(frozen=True)
class DiagramEdge:
    """An arrow: ``source``/``target`` are node ids or :data:`BOUNDARY`; ``label`` is
    the first text line (stream id and material), ``value`` the second (formatted flow);
    ``status`` picks the line style; ``weight`` (any unit, the same for all edges of a
    diagram) sets the line width."""

    id: str
    source: str
    target: str
    label: str
    value: str
    status: str = "measured"
    weight: float | None = None


@dataclass
class _Slot:
    edge: int
    role: str  # import, export, lane_out, lane_in
    y: float = 0.0


@dataclass
class _Box:
    node: DiagramNode
    title: list[str] = field(default_factory=list)
    left: list[_Slot] = field(default_factory=list)
    right: list[_Slot] = field(default_factory=list)
    top: float = 0.0
    height: float = 0.0


# geometry (px)
_FONT = 11.0
_TITLE = 12.0
_SMALL = 10.0
_BOX_W = 210.0
_SLOT = 38.0
_LANE = 12.0
_MARGIN = 10.0
_LABEL_MAX = 250.0
_STUB = 26.0


def _line_width(weight: float | None, wmax: float) -> float:
    if weight is None or not wmax or not math.isfinite(weight) or weight <= 0:
        return 1.2
    return 1.2 + 4.3 * math.sqrt(min(weight / wmax, 1.0))


def _lanes(spans: list[tuple[float, float]]) -> list[int]:
    """Lane index per vertical span: spans that do not overlap share a lane (greedy
    interval colouring in order of the upper end: deterministic)."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], spans[i][1], i))
    ends: list[float] = []
    out = [0] * len(spans)
    for i in order:
        lo, hi = spans[i]
        for k, end in enumerate(ends):
            if end < lo - 6:
                ends[k] = hi
                out[i] = k
                break
        else:
            out[i] = len(ends)
            ends.append(hi)
    return out


def flow_diagram_svg(
    nodes: Sequence[DiagramNode],
    edges: Sequence[DiagramEdge],
    *,
    legend: Mapping[str, str] | None = None,
    note: str | None = None,
    boundary: str = BOUNDARY,
    compact: bool = False,
    max_size: tuple[float, float] | None = (680.0, 940.0),
) -> str:
    """A process flow diagram as an SVG string (see the module docstring for the layout).

    ``nodes`` in flow order; ``edges`` between nodes or from/to ``boundary``; an edge
    from a node to itself is written as a line inside the box. ``legend`` maps the
    statuses used to their translated names (shown under the diagram with a line
    sample); ``note`` is a line of text under the legend (e.g. what the line width
    means). ``compact`` writes each stream's label and value on one line (for diagrams
    with many streams, such as a site water balance). ``max_size`` (width, height in px)
    scales the drawing down so that it fits a printed page (A4 portrait: about 180 mm ×
    250 mm); the viewBox keeps the drawing's own coordinates. Raises ``ValueError`` for
    an edge naming a node that is not given.
    """
    if not nodes:
        raise ValueError("flow_diagram_svg: no nodes to draw")
    index = {n.id: i for i, n in enumerate(nodes)}
    if len(index) != len(nodes):
        raise ValueError("flow_diagram_svg: node ids must be unique")
    for e in edges:
        for end in (e.source, e.target):
            if end != boundary and end not in index:
                raise ValueError(f"flow_diagram_svg: edge {e.id} refers to unknown node {end!r}")
        if e.source == boundary and e.target == boundary:
            raise ValueError(f"flow_diagram_svg: edge {e.id} goes from the boundary to itself")
    pitch = 24.0 if compact else _SLOT

    boxes = [_Box(n) for n in nodes]
    selfs: dict[int, list[str]] = {i: list(n.lines) for i, n in enumerate(nodes)}
    adjacent: dict[int, list[int]] = {}
    lane_edges: list[tuple[int, str]] = []  # (edge, 'left' | 'right')
    for k, e in enumerate(edges):
        if e.source == boundary:
            boxes[index[e.target]].left.append(_Slot(k, "import"))
        elif e.target == boundary:
            boxes[index[e.source]].right.append(_Slot(k, "export"))
        else:
            s, t = index[e.source], index[e.target]
            if s == t:
                selfs[s].append(f"↻ {e.label}  {e.value}")
            elif t == s + 1:
                adjacent.setdefault(s, []).append(k)
            else:
                lane_edges.append((k, "left" if t < s else "right"))
    # lane ports: left side = [going up] + imports + [coming from below];
    # right side = [coming from above] + exports + [going down]
    for k, side in lane_edges:
        e = edges[k]
        s, t = index[e.source], index[e.target]
        if side == "left":
            boxes[s].left.insert(0, _Slot(k, "lane_out"))
            boxes[t].left.append(_Slot(k, "lane_in"))
        else:
            boxes[t].right.insert(0, _Slot(k, "lane_in"))
            boxes[s].right.append(_Slot(k, "lane_out"))

    weights = [e.weight for e in edges if e.weight is not None and math.isfinite(e.weight)]
    wmax = max(weights) if weights else 0.0
    widths = [_line_width(e.weight, wmax) for e in edges]

    def slot_lines(slot: _Slot) -> list[str]:
        e = edges[slot.edge]
        label = e.label
        if slot.role == "lane_out":
            label = f"{e.label} → {e.target}"
        elif slot.role == "lane_in":
            label = f"{e.label} ← {e.source}"
        return [f"{label}  {e.value}"] if compact else [label, e.value]

    def side_width(side: str) -> float:
        ws = [
            text_width(line, _FONT)
            for bx in boxes
            for sl in getattr(bx, side)
            for line in slot_lines(sl)
        ]
        if not ws:
            return 0.0
        return min(max(max(ws), 60.0), _LABEL_MAX)

    left_w, right_w = side_width("left"), side_width("right")

    # vertical layout
    y = _MARGIN + 4
    line_h = 14.0 if compact else 13.0
    for i, bx in enumerate(boxes):
        name = f"{bx.node.id}  {bx.node.label}" if bx.node.show_id else bx.node.label
        bx.title = wrap(name, _BOX_W - 16, _TITLE, 3)
        selfs[i] = [truncate(t, _BOX_W - 16, _SMALL) for t in selfs[i]]
        title_h = 16 * len(bx.title) + 14 * len(selfs[i]) + 14
        slots = max(len(bx.left), len(bx.right))
        bx.height = max(title_h, slots * pitch + 10, 40.0 if compact else 46.0)
        bx.top = y
        for side in (bx.left, bx.right):
            first = bx.top + (bx.height - len(side) * pitch) / 2
            for j, sl in enumerate(side):
                sl.y = first + (j + 0.5) * pitch + (4 if compact else 0)
        n_adj = len(adjacent.get(i, []))
        per = 17.0 if compact else 30.0
        gap = max(32.0 if compact else 40.0, 12.0 + per * n_adj) if i < len(boxes) - 1 else 0.0
        y += bx.height + gap

    # lanes
    ports: dict[tuple[int, str], float] = {}
    for bx in boxes:
        for sl in bx.left + bx.right:
            if sl.role in ("lane_out", "lane_in"):
                ports[(sl.edge, sl.role)] = sl.y
    lane_of: dict[int, tuple[str, int]] = {}
    for side in ("left", "right"):
        ids = [k for k, sd in lane_edges if sd == side]
        spans = [
            (
                min(ports[(k, "lane_out")], ports[(k, "lane_in")]),
                max(ports[(k, "lane_out")], ports[(k, "lane_in")]),
            )
            for k in ids
        ]
        for k, lane in zip(ids, _lanes(spans), strict=True):
            lane_of[k] = (side, lane)
    n_left = 1 + max((v[1] for v in lane_of.values() if v[0] == "left"), default=-1)
    n_right = 1 + max((v[1] for v in lane_of.values() if v[0] == "right"), default=-1)

    # horizontal layout
    x_label_l = _MARGIN
    lane_zone_l = (14 + _LANE * n_left) if n_left else 0
    box_l = _MARGIN + left_w + (_STUB if left_w else 0) + lane_zone_l
    box_r = box_l + _BOX_W
    lane_zone_r = (14 + _LANE * n_right) if n_right else 0
    x_label_r = box_r + lane_zone_r + (_STUB if right_w else 0)
    total_w = max(x_label_r + right_w + _MARGIN, box_r + _MARGIN)

    legend = dict(legend or {})
    note_lines = wrap(note, total_w - 2 * _MARGIN, _SMALL, 2) if note else []
    legend_h = (22 * bool(legend) + 14 * len(note_lines) + 8) if (legend or note_lines) else 0
    total_h = y + 6 + legend_h

    lines_svg: list[str] = []  # lanes and leaders, drawn under everything
    arrows_svg: list[str] = []
    boxes_svg: list[str] = []
    labels_svg: list[str] = []

    def style_of(k: int) -> LineStyle:
        return STATUS_STYLES.get(edges[k].status, STATUS_STYLES["measured"])

    def stroke(k: int) -> str:
        st = style_of(k)
        dash = f' stroke-dasharray="{st.dash}"' if st.dash else ""
        return f'stroke="{st.colour}" stroke-width="{widths[k]:.2f}"{dash}'

    def head(x: float, y_: float, direction: str, k: int) -> str:
        size = max(6.0, widths[k] * 1.5 + 3)
        half = size * 0.55
        if direction == "right":
            pts = [(x, y_), (x - size, y_ - half), (x - size, y_ + half)]
        elif direction == "left":
            pts = [(x, y_), (x + size, y_ - half), (x + size, y_ + half)]
        else:  # down
            pts = [(x, y_), (x - half, y_ - size), (x + half, y_ - size)]
        p = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        return f'<polygon points="{p}" fill="{style_of(k).colour}"/>'

    def hline(x1: float, x2: float, y_: float, k: int, halo: bool = True) -> str:
        out = ""
        if halo:  # a white edge so that lanes crossing under it show a gap
            out += (
                f'<line x1="{x1:.1f}" y1="{y_:.1f}" x2="{x2:.1f}" y2="{y_:.1f}" '
                f'stroke="#ffffff" stroke-width="{widths[k] + 4:.2f}"/>'
            )
        return out + f'<line x1="{x1:.1f}" y1="{y_:.1f}" x2="{x2:.1f}" y2="{y_:.1f}" {stroke(k)}/>'

    def leader(x1: float, x2: float, y_: float) -> str:
        if x2 - x1 < 4:
            return ""
        return (
            f'<line x1="{x1:.1f}" y1="{y_:.1f}" x2="{x2:.1f}" y2="{y_:.1f}" '
            'stroke="#9a9a9a" stroke-width="0.7" stroke-dasharray="1 2"/>'
        )

    def text(
        x: float,
        y_: float,
        s: str,
        size: float = _FONT,
        anchor: str = "start",
        weight: str | None = None,
        fill: str = "#222222",
        bg: bool = False,
    ) -> str:
        w = f' font-weight="{weight}"' if weight else ""
        a = f' text-anchor="{anchor}"' if anchor != "start" else ""
        out = ""
        if bg and s:
            tw = text_width(s, size)
            x0 = x if anchor == "start" else x - tw / 2 if anchor == "middle" else x - tw
            out += (
                f'<rect x="{x0 - 2:.1f}" y="{y_ - size + 1:.1f}" width="{tw + 4:.1f}" '
                f'height="{size + 3:.1f}" fill="#ffffff" fill-opacity="0.85"/>'
            )
        return out + (
            f'<text x="{x:.1f}" y="{y_:.1f}" font-size="{size:g}"{w}{a} fill="{fill}">'
            f"{escape(s)}</text>"
        )

    def lane_x(k: int) -> float:
        side, lane = lane_of[k]
        if side == "left":
            return box_l - 14 - _LANE * lane
        return box_r + 14 + _LANE * lane

    def slot_text(x: float, sl: _Slot, width: float) -> float:
        """Write a slot's label lines at x; return the right end of the widest line."""
        lines = [truncate(t, width, _FONT) for t in slot_lines(sl)]
        labels_svg.append(text(x, sl.y - 5, lines[0]))
        if len(lines) > 1:
            labels_svg.append(text(x, sl.y + line_h, lines[1], _FONT, fill="#444444"))
        return x + max(text_width(t, _FONT) for t in lines)

    for i, bx in enumerate(boxes):
        boxes_svg.append(
            f'<rect x="{box_l:.1f}" y="{bx.top:.1f}" width="{_BOX_W:.1f}" height="{bx.height:.1f}" '
            f'rx="4" fill="#eef3f7" stroke="{PALETTE[0]}" stroke-width="1.2"/>'
        )
        block = 16 * len(bx.title) + 14 * len(selfs[i])
        ty = bx.top + (bx.height - block) / 2 + 12
        for j, line in enumerate(bx.title):
            boxes_svg.append(
                text(
                    box_l + _BOX_W / 2,
                    ty + 16 * j,
                    line,
                    _TITLE,
                    "middle",
                    "bold" if j == 0 else None,
                    "#0b3d63",
                )
            )
        for j, line in enumerate(selfs[i]):
            boxes_svg.append(
                text(
                    box_l + _BOX_W / 2,
                    ty + 16 * len(bx.title) + 14 * j,
                    line,
                    _SMALL,
                    "middle",
                    None,
                    "#444444",
                )
            )
        for sl in bx.left:
            right_end = slot_text(x_label_l, sl, left_w)
            k = sl.edge
            if sl.role == "import":
                arrows_svg.append(hline(x_label_l, box_l - 1, sl.y, k))
                arrows_svg.append(head(box_l, sl.y, "right", k))
                continue
            lx = lane_x(k)
            lines_svg.append(leader(right_end + 3, lx - 3, sl.y - 9))
            if sl.role == "lane_in":
                arrows_svg.append(hline(lx, box_l - 1, sl.y, k, halo=False))
                arrows_svg.append(head(box_l, sl.y, "right", k))
            else:  # lane_out: from the box to the lane
                arrows_svg.append(hline(lx, box_l, sl.y, k, halo=False))
        for sl in bx.right:
            slot_text(x_label_r, sl, right_w)
            k = sl.edge
            if sl.role == "export":
                end = x_label_r + right_w
                arrows_svg.append(hline(box_r, end - 1, sl.y, k))
                arrows_svg.append(head(end, sl.y, "right", k))
                continue
            lx = lane_x(k)
            lines_svg.append(leader(lx + 3, x_label_r - 3, sl.y - 9))
            if sl.role == "lane_in":
                arrows_svg.append(hline(lx, box_r + 1, sl.y, k, halo=False))
                arrows_svg.append(head(box_r, sl.y, "left", k))
            else:
                arrows_svg.append(hline(box_r, lx, sl.y, k, halo=False))
    for k, _side in sorted(lane_of.items()):
        lx = lane_x(k)
        y1, y2 = ports[(k, "lane_out")], ports[(k, "lane_in")]
        lines_svg.append(
            f'<line x1="{lx:.1f}" y1="{y1:.1f}" x2="{lx:.1f}" y2="{y2:.1f}" {stroke(k)}/>'
        )
    # streams to the next unit: vertical arrows in the gap under box i
    for i, ks in sorted(adjacent.items()):
        bx, nxt = boxes[i], boxes[i + 1]
        y1, y2 = bx.top + bx.height, nxt.top
        tx = box_l + 30 + 14 * (len(ks) - 1) + 10
        room = box_r + lane_zone_r - tx - 4
        for j, k in enumerate(ks):
            x = box_l + 30 + 14 * j
            arrows_svg.append(
                f'<line x1="{x:.1f}" y1="{y1:.1f}" x2="{x:.1f}" y2="{y2 - 6:.1f}" {stroke(k)}/>'
            )
            arrows_svg.append(head(x, y2, "down", k))
            e = edges[k]
            if compact:
                ty = y1 + 13 + 17 * j
                labels_svg.append(
                    text(tx, ty, truncate(f"{e.label}  {e.value}", room, _FONT), bg=True)
                )
            else:
                ty = y1 + 14 + 30 * j
                labels_svg.append(text(tx, ty, truncate(e.label, room, _FONT), bg=True))
                labels_svg.append(
                    text(tx, ty + 13, truncate(e.value, room, _FONT), fill="#444444", bg=True)
                )
    # legend
    legend_svg: list[str] = []
    if legend or note_lines:
        ly = y + 14
        x = _MARGIN
        for status, label in legend.items():
            st = STATUS_STYLES.get(status, STATUS_STYLES["measured"])
            dash = f' stroke-dasharray="{st.dash}"' if st.dash else ""
            legend_svg.append(
                f'<line x1="{x:.1f}" y1="{ly - 4:.1f}" x2="{x + 26:.1f}" y2="{ly - 4:.1f}" '
                f'stroke="{st.colour}" stroke-width="2.5"{dash}/>'
            )
            legend_svg.append(text(x + 32, ly, label, _SMALL, fill="#333333"))
            x += 32 + text_width(label, _SMALL) + 18
        ly += 18 if legend else 0
        for line in note_lines:
            legend_svg.append(text(_MARGIN, ly, line, _SMALL, fill="#555555"))
            ly += 14

    body = "".join(lines_svg + arrows_svg + boxes_svg + labels_svg + legend_svg)
    digest = hashlib.sha1(body.encode("utf-8")).hexdigest()[:10]
    scale = 1.0
    if max_size is not None:
        scale = min(1.0, max_size[0] / total_w, max_size[1] / total_h)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cp-flow" id="cp-flow-{digest}" '
        f'width="{total_w * scale:.0f}" height="{total_h * scale:.0f}" '
        f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
        f'font-family="{escape(SVG_FONT_FAMILY)}" role="img">'
        f'<rect width="100%" height="100%" fill="#ffffff"/>{body}</svg>'
    )


# --------------------------------------------------------------------------- Altair charts
def _alt():
    import altair as alt

    return alt


def balance_bars(
    data: pd.DataFrame,
    *,
    title: str,
    unit_title: str,
    x_title: str,
    side_titles: Mapping[str, str],
) -> Any:
    """Inputs against outputs (incl. stock change) per unit: grouped horizontal bars.

    ``data``: one row per unit and side with columns ``unit`` (label, in flow order),
    ``side`` (``inputs`` / ``outputs``), ``value`` (kg/d) and ``closure`` (text shown
    at the end of the outputs bar). ``side_titles`` translates the two sides. Unit
    labels are cut to :data:`cpkit.charts.ROW_LABEL_WIDTH` (whole in the tooltip)."""
    alt = _alt()
    d = data.copy()
    d["side_label"] = d["side"].map(side_titles)
    d["unit_shown"] = fit_labels(d["unit"], ROW_LABEL_WIDTH)
    order = list(dict.fromkeys(d["unit_shown"]))
    sides = [side_titles["inputs"], side_titles["outputs"]]
    base = alt.Chart(d).encode(
        y=alt.Y("unit_shown:N", sort=order, title=unit_title),
        yOffset=alt.YOffset("side_label:N", sort=sides),
    )
    bars = base.mark_bar(height={"band": 0.9}).encode(
        x=alt.X("value:Q", title=x_title),
        color=alt.Color(
            "side_label:N",
            sort=sides,
            scale=alt.Scale(domain=sides, range=[PALETTE[0], PALETTE[1]]),
            legend=alt.Legend(title=None, orient="bottom"),
        ),
        tooltip=[
            alt.Tooltip("unit:N", title=unit_title),
            alt.Tooltip("side_label:N", title=" "),
            alt.Tooltip("value:Q", title=x_title, format=",.1f"),
            alt.Tooltip("closure:N", title=" "),
        ],
    )
    labels = (
        base.transform_filter(alt.datum.side == "outputs")
        .mark_text(align="left", dx=4, fontSize=10, color="#333333")
        .encode(x=alt.X("value:Q"), text=alt.Text("closure:N"))
    )
    height = max(120, 34 * len(order))
    return style(alt.layer(bars, labels), title=title, height=height)


_VERDICT_COLOURS = {
    "closed": PALETTE[2],
    "warning": PALETTE[1],
    "failed": PALETTE[3],
}


def closure_band(
    data: pd.DataFrame,
    *,
    tolerance_pct: float,
    warning_pct: float,
    title: str,
    y_title: str,
    verdict_titles: Mapping[str, str],
    band_titles: Mapping[str, str],
) -> Any:
    """Closure % of each unit (and the whole focus) against the tolerance band.

    ``data``: columns ``unit`` (label, in the order to show), ``closure_pct``,
    ``verdict`` (closed / warning / failed) and optionally ``group`` (the component:
    points of several components side by side, told apart by their shape). Shaded
    bands: ±``warning_pct`` (light) and ±``tolerance_pct``. ``verdict_titles`` and
    ``band_titles`` (``tolerance``, ``warning``) are the translated legend entries.
    Unit labels stay horizontal under their column, wrapped on two lines of the
    column's width (:func:`cpkit.charts.wrap_labels`); component names are cut to
    :data:`cpkit.charts.LEGEND_LABEL_WIDTH`; tooltips keep the whole texts."""
    alt = _alt()
    d = data.dropna(subset=["closure_pct"]).copy()
    d["closure_pct"] = d["closure_pct"].astype(float)
    d["verdict_label"] = d["verdict"].map(verdict_titles)
    d["text"] = d["closure_pct"].map(lambda v: f"{v:+.2f}")
    if "group" not in d.columns:
        d["group"] = ""
    d["group_shown"] = fit_labels(d["group"], LEGEND_LABEL_WIDTH)
    groups = list(dict.fromkeys(d["group_shown"]))
    units = list(dict.fromkeys(data["unit"]))
    # each unit has a column of WIDTH / n px: its label is wrapped to fit it
    column = max(3 * LABEL_SIZE, WIDTH / max(1, len(units)) - 8)
    unit_shown = dict(zip(units, wrap_labels(units, column, LABEL_SIZE, 2), strict=True))
    d["unit_shown"] = d["unit"].map(unit_shown)
    order = [unit_shown[u] for u in units]
    # the axis shows up to 4 × the warning band; points beyond sit on the edge and their
    # label gives the value, so one wild balance does not flatten the bands
    cap = warning_pct * 4
    lim = min(cap, max([warning_pct * 1.4, *(abs(v) * 1.15 for v in d["closure_pct"])]))
    d["y"] = d["closure_pct"].clip(-lim, lim)
    scale = alt.Scale(domain=[-lim, lim])
    bands = pd.DataFrame(
        {
            "lo": [-warning_pct, -tolerance_pct],
            "hi": [warning_pct, tolerance_pct],
            "band": [band_titles["warning"], band_titles["tolerance"]],
        }
    )
    band = (
        alt.Chart(bands)
        .mark_rect(opacity=0.18)
        .encode(
            y=alt.Y("lo:Q", scale=scale, title=y_title),
            y2=alt.Y2("hi:Q"),
            color=alt.Color(
                "band:N",
                scale=alt.Scale(
                    domain=[band_titles["tolerance"], band_titles["warning"]],
                    range=[PALETTE[2], PALETTE[1]],
                ),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
        )
    )
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#888888").encode(y=alt.Y("y:Q"))
    domain = [verdict_titles[k] for k in _VERDICT_COLOURS if k in verdict_titles]
    colours = [_VERDICT_COLOURS[k] for k in _VERDICT_COLOURS if k in verdict_titles]
    x = alt.X(
        "unit_shown:N",
        sort=order,
        title=None,
        axis=alt.Axis(labelAngle=0, labelExpr=LINE_BREAKS),
    )
    offset = alt.XOffset("group_shown:N", sort=groups)
    shape = alt.Shape(
        "group_shown:N",
        sort=groups,
        legend=alt.Legend(title=None, orient="bottom") if len(groups) > 1 else None,
    )
    points = (
        alt.Chart(d)
        .mark_point(filled=True, size=90)
        .encode(
            x=x,
            xOffset=offset,
            y=alt.Y("y:Q", scale=scale, title=y_title),
            shape=shape,
            fill=alt.Fill(
                "verdict_label:N",
                scale=alt.Scale(domain=domain, range=colours),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            color=alt.value("#333333"),
            tooltip=[
                alt.Tooltip("unit:N", title=" "),
                alt.Tooltip("group:N", title=" "),
                alt.Tooltip("closure_pct:Q", title=y_title, format="+.2f"),
                alt.Tooltip("verdict_label:N", title=" "),
            ],
        )
    )
    labels = (
        alt.Chart(d)
        .mark_text(dy=-12, fontSize=9, color="#333333")
        .encode(x=x, xOffset=offset, y=alt.Y("y:Q", scale=scale), text=alt.Text("text:N"))
    )
    chart = alt.layer(band, zero, points, labels).resolve_scale(color="independent")
    return style(chart, title=title, height=240)


def electricity_bars(data: pd.DataFrame, *, title: str, x_title: str, group_title: str) -> Any:
    """Electricity per consumer (kWh/d) as horizontal bars coloured by system.

    ``data``: ``name`` (label), ``group`` (translated system), ``kwh_d``, ``share_pct``
    (of the supply) and ``text`` (shown at the bar end); rows in display order. Names are
    cut to :data:`cpkit.charts.ROW_LABEL_WIDTH` (whole in the tooltip)."""
    alt = _alt()
    d = data.copy()
    d["name_shown"] = fit_labels(d["name"], ROW_LABEL_WIDTH)
    order = list(d["name_shown"])
    groups = list(dict.fromkeys(d["group"]))
    bars = (
        alt.Chart(d)
        .mark_bar()
        .encode(
            y=alt.Y("name_shown:N", sort=order, title=None),
            x=alt.X("kwh_d:Q", title=x_title),
            color=alt.Color(
                "group:N",
                sort=groups,
                title=group_title,
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=[
                alt.Tooltip("name:N", title=" "),
                alt.Tooltip("group:N", title=group_title),
                alt.Tooltip("kwh_d:Q", title=x_title, format=",.0f"),
                alt.Tooltip("share_pct:Q", title="%", format=".1f"),
            ],
        )
    )
    labels = (
        alt.Chart(d)
        .mark_text(align="left", dx=3, fontSize=10, color="#333333")
        .encode(y=alt.Y("name_shown:N", sort=order), x=alt.X("kwh_d:Q"), text=alt.Text("text:N"))
    )
    return style(alt.layer(bars, labels), title=title, height=max(140, 20 * len(d)))


def heat_items_chart(
    data: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    category_titles: Mapping[str, str],
) -> Any:
    """Heat-balance items of one piece of equipment as % of the input heat.

    ``data``: ``item`` (label), ``category`` (effective / loss), ``share_pct``;
    input items are left out by the caller (they make the 100 %). Item names are cut
    to :data:`cpkit.charts.ROW_LABEL_WIDTH` (whole in the tooltip)."""
    alt = _alt()
    d = data.copy()
    d["item_shown"] = fit_labels(d["item"], ROW_LABEL_WIDTH)
    d["category_label"] = d["category"].map(category_titles)
    order = list(d["item_shown"])
    cats = [category_titles[c] for c in ("effective", "loss") if c in category_titles]
    bars = (
        alt.Chart(d)
        .mark_bar()
        .encode(
            y=alt.Y("item_shown:N", sort=order, title=None),
            x=alt.X("share_pct:Q", title=x_title),
            color=alt.Color(
                "category_label:N",
                scale=alt.Scale(domain=cats, range=[PALETTE[2], PALETTE[3]]),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=[
                alt.Tooltip("item:N", title=" "),
                alt.Tooltip("share_pct:Q", title=x_title, format=".2f"),
            ],
        )
    )
    labels = (
        alt.Chart(d)
        .mark_text(align="left", dx=3, fontSize=10, color="#333333")
        .encode(
            y=alt.Y("item_shown:N", sort=order),
            x=alt.X("share_pct:Q"),
            text=alt.Text("share_pct:Q", format=".1f"),
        )
    )
    return style(alt.layer(bars, labels), title=title, height=max(120, 22 * len(d)))


def water_use_chart(
    data: pd.DataFrame, *, title: str, x_title: str, part_titles: Mapping[str, str]
) -> Any:
    """Water use of each water-use unit split into intake and reused water (m³/d),
    GB/T 12452 V_t = V_i + V_r.

    ``data``: ``unit`` (label, display order), ``part`` (``intake`` / ``reused``),
    ``value_m3_d``. Unit labels are cut to :data:`cpkit.charts.ROW_LABEL_WIDTH` (whole
    in the tooltip)."""
    alt = _alt()
    d = data.copy()
    d["unit_shown"] = fit_labels(d["unit"], ROW_LABEL_WIDTH)
    order = list(dict.fromkeys(d["unit_shown"]))
    d["part_label"] = d["part"].map(part_titles)
    parts = [part_titles["intake"], part_titles["reused"]]
    d["part_order"] = d["part"].map({"intake": 0, "reused": 1})
    bars = (
        alt.Chart(d)
        .mark_bar()
        .encode(
            y=alt.Y("unit_shown:N", sort=order, title=None),
            x=alt.X("value_m3_d:Q", stack="zero", title=x_title),
            color=alt.Color(
                "part_label:N",
                scale=alt.Scale(domain=parts, range=[PALETTE[0], PALETTE[2]]),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            order=alt.Order("part_order:Q"),
            tooltip=[
                alt.Tooltip("unit:N", title=" "),
                alt.Tooltip("part_label:N", title=" "),
                alt.Tooltip("value_m3_d:Q", title=x_title, format=",.1f"),
            ],
        )
    )
    return style(bars, title=title, height=max(120, 24 * len(order)))


def pareto_chart(data: pd.DataFrame, *, title: str, y_title: str, cum_title: str) -> Any:
    """Pareto chart: quantities sorted from the largest (bars, left axis) and their
    cumulative share (line, right axis, %).

    ``data``: ``label`` (category text), ``value`` (same unit for all rows) and
    ``cumulative_pct``, already sorted by the caller (cpkit.views.assessment.pareto).
    Labels are slanted and cut to :data:`cpkit.charts.SLANT_LABEL_WIDTH` (whole in the
    tooltip)."""
    alt = _alt()
    d = data.copy()
    d["label_shown"] = fit_labels(d["label"], SLANT_LABEL_WIDTH)
    order = list(dict.fromkeys(d["label_shown"]))
    x = alt.X("label_shown:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30))
    bars = (
        alt.Chart(d)
        .mark_bar(color=PALETTE[0])
        .encode(
            x=x,
            y=alt.Y("value:Q", title=y_title),
            tooltip=[
                alt.Tooltip("label:N", title=" "),
                alt.Tooltip("value:Q", title=y_title, format=",.2f"),
                alt.Tooltip("cumulative_pct:Q", title=cum_title, format=".1f"),
            ],
        )
    )
    line = (
        alt.Chart(d)
        .mark_line(color=PALETTE[3], point=alt.OverlayMarkDef(color=PALETTE[3]))
        .encode(
            x=x,
            y=alt.Y(
                "cumulative_pct:Q",
                title=cum_title,
                scale=alt.Scale(domain=[0, 100]),
                axis=alt.Axis(orient="right"),
            ),
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"y": [80.0]}))
        .mark_rule(color=PALETTE[3], strokeDash=[4, 3], opacity=0.6)
        .encode(
            # same title and orientation as the line's: with axis=None here Vega-Lite
            # dropped the merged right-hand axis and the percentages went unlabelled
            y=alt.Y(
                "y:Q",
                title=cum_title,
                scale=alt.Scale(domain=[0, 100]),
                axis=alt.Axis(orient="right"),
            )
        )
    )
    chart = alt.layer(bars, alt.layer(line, rule)).resolve_scale(y="independent")
    return style(chart, title=title, height=240)
