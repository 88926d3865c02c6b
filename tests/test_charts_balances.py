"""cpkit.charts.balances: the static flow-diagram SVG (layout, escaping, determinism,
page fit) and the Altair chart builders of chapter 4."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit.charts import balances as bc

SVG = "{http://www.w3.org/2000/svg}"


def nodes(*ids):
    return [bc.DiagramNode(i, f"unit {i}") for i in ids]


def edge(i, a, b, value=10.0, status="measured"):
    return bc.DiagramEdge(i, a, b, f"{i} material", f"{value:g} kg/d", status, value)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


# ----------------------------------------------------------------------------- text
def test_text_width_counts_cjk_as_one_em():
    assert bc.text_width("镍镍", 10) == pytest.approx(20)
    assert bc.text_width("ab", 10) == pytest.approx(11.6)  # 0.58 em each
    assert bc.text_width("…", 10) == pytest.approx(10)  # one em in the chart font


CHART_FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
REAL_LABELS = [
    "Water intake per unit of product",
    "Electricity of the dyeing machines (J01-J12)",
    "COD (wastewater outlet DW-001)",
    "Unmetered under 10 kV进线总表",
    "Material per unit of product: 冷轧钢板及铝板",
    "WC06 染色车间（染色机换热…",
    "MMW Wastewater & sludge #3",
    "单位产品固废产生量：含镍污泥",
]


def test_text_width_is_not_short_of_the_chart_font():
    # the independent reference: the advances of WenQuanYi Micro Hei itself (Pillow)
    font_module = pytest.importorskip("PIL.ImageFont")
    try:
        font = font_module.truetype(CHART_FONT_FILE, 100)
    except OSError:
        pytest.skip("the chart font is not installed")
    for text in REAL_LABELS:
        real = font.getlength(text)
        estimate = bc.text_width(text, 100)
        assert real * 0.99 <= estimate <= real * 1.25, text


def test_truncate_and_wrap():
    assert bc.truncate("short", 100, 10) == "short"
    t = bc.truncate("镍" * 30, 100, 10)
    assert t.endswith("…") and bc.text_width(t, 10) <= 100
    lines = bc.wrap("镀镍槽（半光亮镍、光亮镍）和回收槽", 60, 10, max_lines=5)
    assert "".join(lines) == "镀镍槽（半光亮镍、光亮镍）和回收槽"
    assert all(bc.text_width(x, 10) <= 60 for x in lines)
    words = bc.wrap("rinse water from the third tank", 80, 10)
    assert all(not w.startswith(" ") for w in words) and "rinse" in words[0]
    cut = bc.wrap("镍" * 40, 50, 10, max_lines=2)
    assert len(cut) == 2 and cut[-1].endswith("…")


@given(st.text(min_size=0, max_size=60), st.integers(min_value=30, max_value=300))
@settings(max_examples=80, deadline=None)
def test_wrap_lines_fit(text, width):
    for line in bc.wrap(text, width, 10, max_lines=4):
        # a single character wider than the line is the only allowed overflow
        assert bc.text_width(line, 10) <= width or len(line) == 1


# ----------------------------------------------------------------------------- diagram
def test_diagram_is_valid_svg_with_boxes_arrows_and_lanes():
    svg = bc.flow_diagram_svg(
        nodes("U1", "U2", "U3"),
        [
            edge("S1", "ENV", "U1", 100),
            edge("S2", "U1", "U2", 80),  # next unit: vertical arrow
            edge("S3", "U2", "U3", 70, "estimated"),
            edge("S4", "U3", "U1", 5, "solved"),  # backward: left lane
            edge("S5", "U1", "U3", 15),  # skips U2: right lane
            edge("S6", "U3", "ENV", 80),
            edge("S7", "U2", "U2", 30),  # self loop: a line in the box
        ],
        legend={"measured": "Measured", "estimated": "Estimated", "solved": "Solved"},
        note="Line width grows with the square root of the flow.",
    )
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    rects = root.findall(f"{SVG}rect")
    assert sum(1 for r in rects if r.get("rx") == "4") == 3  # one box per unit
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert any("S4 material ← U3" in t for t in texts)  # lane port label at U1
    assert any("S5 material → U3" in t for t in texts)
    assert any(t.startswith("↻ S7") for t in texts)
    # lanes: vertical lines (x1 == x2) left and right of the boxes
    box_x = float(next(r for r in rects if r.get("rx") == "4").get("x"))
    verticals = [
        float(ln.get("x1"))
        for ln in root.iter(f"{SVG}line")
        if ln.get("x1") == ln.get("x2") and ln.get("y1") != ln.get("y2")
    ]
    assert any(x < box_x for x in verticals) and any(x > box_x + 210 for x in verticals)
    assert "stroke-dasharray" in svg  # estimated / solved streams are dashed
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing external
    assert "WenQuanYi Micro Hei" in root.get("font-family")


def test_diagram_escapes_text_and_is_deterministic():
    n = [bc.DiagramNode("U1", "<script>alert(1)</script>")]
    e = [bc.DiagramEdge("S1", "ENV", "U1", 'a & b "<x>"', "1 kg/d")]
    svg = bc.flow_diagram_svg(n, e)
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&amp;" in svg
    parse(svg)
    assert bc.flow_diagram_svg(n, e) == svg


def test_diagram_fits_a_page_by_scaling_the_drawing():
    many = nodes(*[f"U{i}" for i in range(12)])
    edges = [edge(f"S{i}{k}", f"U{i}", "ENV") for i in range(12) for k in range(5)]
    svg = bc.flow_diagram_svg(many, edges, max_size=(680, 940))
    root = parse(svg)
    w, h = float(root.get("width")), float(root.get("height"))
    vb = [float(x) for x in root.get("viewBox").split()]
    assert w <= 680.5 and h <= 940.5
    assert vb[3] > h  # drawn bigger, shown scaled
    assert w / h == pytest.approx(vb[2] / vb[3], rel=0.01)
    free = parse(bc.flow_diagram_svg(many, edges, max_size=None))
    assert float(free.get("height")) == pytest.approx(vb[3], abs=1)


def test_compact_diagram_is_shorter():
    n = nodes("U1", "U2")
    e = [edge(f"S{k}", "U1", "ENV") for k in range(6)] + [edge("I1", "ENV", "U2")]
    tall = parse(bc.flow_diagram_svg(n, e, max_size=None))
    short = parse(bc.flow_diagram_svg(n, e, compact=True, max_size=None))
    assert float(short.get("height")) < float(tall.get("height"))


def test_line_width_grows_with_the_flow():
    svg = bc.flow_diagram_svg(
        nodes("U1"), [edge("S1", "ENV", "U1", 100), edge("S2", "U1", "ENV", 1)], max_size=None
    )
    widths = {
        float(ln.get("stroke-width"))
        for ln in parse(svg).iter(f"{SVG}line")
        if ln.get("stroke") not in ("#ffffff", "#9a9a9a")
    }
    assert max(widths) == pytest.approx(1.2 + 4.3)  # the largest flow
    assert min(widths) == pytest.approx(1.2 + 4.3 * 0.1)  # √(1/100) = 0.1


def test_diagram_rejects_bad_edges():
    with pytest.raises(ValueError, match="unknown node"):
        bc.flow_diagram_svg(nodes("U1"), [edge("S1", "ENV", "U9")])
    with pytest.raises(ValueError, match="boundary to itself"):
        bc.flow_diagram_svg(nodes("U1"), [edge("S1", "ENV", "ENV")])
    with pytest.raises(ValueError, match="no nodes"):
        bc.flow_diagram_svg([], [])


def test_lanes_share_columns_when_they_do_not_overlap():
    assert bc._lanes([(0, 10), (20, 30), (5, 25)]) == [0, 0, 1]


# ----------------------------------------------------------------------------- charts
def spec(chart) -> dict:
    return chart.to_dict()


def datasets(d: dict) -> list[list[dict]]:
    return list(d.get("datasets", {}).values())


def test_balance_bars():
    data = pd.DataFrame(
        {
            "unit": ["U1", "U1", "U2", "U2"],
            "side": ["inputs", "outputs", "inputs", "outputs"],
            "value": [100.0, 95.0, 60.0, 58.0],
            "closure": ["+5.00%", "+5.00%", "+3.33%", "+3.33%"],
        }
    )
    d = spec(
        bc.balance_bars(data, title="t", unit_title="Unit", x_title="kg/d",
                        side_titles={"inputs": "In", "outputs": "Out"})
    )  # fmt: skip
    assert d["config"]["font"] == "WenQuanYi Micro Hei"
    rows = datasets(d)[0]
    assert {r["side_label"] for r in rows} == {"In", "Out"}


def test_closure_band_clips_wild_points_to_the_edge():
    data = pd.DataFrame(
        {
            "unit": ["U1", "U2", "U3"],
            "group": ["mass", "mass", "Ni"],
            "closure_pct": [1.0, -900.0, 7.0],
            "verdict": ["closed", "failed", "warning"],
        }
    )
    d = spec(
        bc.closure_band(
            data, tolerance_pct=5, warning_pct=10, title="t", y_title="%",
            verdict_titles={"closed": "ok", "warning": "check", "failed": "bad"},
            band_titles={"tolerance": "±5", "warning": "±10"},
        )
    )  # fmt: skip
    pts = next(rows for rows in datasets(d) if rows and "closure_pct" in rows[0])
    ys = {r["unit"]: r["y"] for r in pts}
    assert ys["U2"] == pytest.approx(-40.0)  # clipped at 4 × the warning band
    assert ys["U1"] == pytest.approx(1.0)
    assert {r["text"] for r in pts} >= {"-900.00"}  # the label keeps the true value


def test_pareto_chart_keeps_the_given_order():
    data = pd.DataFrame(
        {"label": ["b", "a", "c"], "value": [5.0, 3.0, 2.0], "cumulative_pct": [50.0, 80.0, 100.0]}
    )
    d = spec(bc.pareto_chart(data, title="t", y_title="kg/d", cum_title="%"))
    text = str(d)
    assert re.search(r"'sort': \['b', 'a', 'c'\]", text)


def test_other_charts_build():
    e = pd.DataFrame(
        {"name": ["a", "b"], "group": ["P", "U"], "kwh_d": [10.0, 2.0],
         "share_pct": [80.0, 20.0], "text": ["80%", "20%"]}
    )  # fmt: skip
    spec(bc.electricity_bars(e, title="t", x_title="kWh/d", group_title="g"))
    h = pd.DataFrame({"item": ["steam", "flue"], "category": ["effective", "loss"],
                      "share_pct": [89.0, 7.4]})  # fmt: skip
    spec(bc.heat_items_chart(h, title="t", x_title="%",
                             category_titles={"effective": "E", "loss": "L"}))  # fmt: skip
    w = pd.DataFrame({"unit": ["W1", "W1"], "part": ["intake", "reused"],
                      "value_m3_d": [5.0, 3.0]})  # fmt: skip
    spec(bc.water_use_chart(w, title="t", x_title="m³/d",
                            part_titles={"intake": "I", "reused": "R"}))  # fmt: skip


def test_a_chart_converts_to_offline_svg():
    from cpkit.display import chart_svg

    data = pd.DataFrame(
        {"label": ["镍", "水"], "value": [5.0, 3.0], "cumulative_pct": [62.5, 100.0]}
    )
    svg = chart_svg(bc.pareto_chart(data, title="损失", y_title="kg/d", cum_title="%"))
    assert svg.startswith("<svg") and "镍" in svg and "损失" in svg
