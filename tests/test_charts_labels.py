"""cpkit.charts.fit_labels: axis labels cut before drawing (vl-convert measures a label
Vega has to cut glyph by glyph, the slowest part of a chart), and the builders that use
it: the axis shows the cut text, each row keeps its own band, tooltips keep the whole
label. Widths are the estimate of cpkit.charts.balances.text_width (CJK 1 em)."""

from __future__ import annotations

import pandas as pd
import pytest

from cpkit.charts import fit_labels
from cpkit.charts import implementation as ic
from cpkit.charts import options as oc
from cpkit.charts.balances import text_width


def test_short_labels_stay_and_long_ones_are_cut_to_the_width():
    # 11 px CJK characters: 220 px hold 20 of them; a cut label keeps 19 and "…"
    long = "溶剂型双组分清漆含固化剂稀释剂及其他辅助材料合计"  # 24 characters, 264 px
    out = fit_labels(["短", long, None], 220, 11)
    assert out[0] == "短" and out[2] == ""
    assert out[1] == long[:19] + "…"
    assert text_width(out[1], 11) <= 220


def test_labels_that_would_become_equal_stay_whole():
    a = "Material per unit of product: 冷轧钢板及铝板"
    b = "Material per unit of product: 冷轧钢板及铝型材"
    c = "Water intake per unit of product"
    out = fit_labels([a, b, c, a], 150, 11)
    assert out[0] == a and out[1] == b and out[3] == a  # their cuts collide
    assert out[2].endswith("…") and c.startswith(out[2][:-1])


@pytest.mark.parametrize("lang_label", ["Material per unit of product: 阴极电泳漆（含色浆）" * 2])
def test_reduction_bars_axis_cut_tooltip_whole(lang_label):
    data = pd.DataFrame(
        {"label": [lang_label, "短"], "group": ["g", "g"], "rate": [12.5, -3.0], "order": [0, 1]}
    )
    before = data.copy()
    spec = ic.reduction_bars(
        data, rate_title="%", outcome_titles=("down", "up"), title="t"
    ).to_dict()
    pd.testing.assert_frame_equal(data, before)  # input not modified
    bars = spec["layer"][0]
    assert bars["encoding"]["y"]["field"] == "axis_label"
    assert {"field": "label", "title": "", "type": "nominal"} in bars["encoding"]["tooltip"]
    rows = next(v for v in spec["datasets"].values() if len(v) == 2)
    cut = {r["label"]: r["axis_label"] for r in rows}
    assert cut["短"] == "短" and cut[lang_label].endswith("…")
    assert text_width(cut[lang_label], ic.LABEL_SIZE) <= ic.LABEL_WIDTH


def test_heatmap_sorts_the_cut_labels_in_rank_order():
    long = "方案" + "甲" * 30
    cells = pd.DataFrame(
        {
            "option": [long, long, "B 短", "B 短"],
            "option_order": [1, 1, 0, 0],
            "criterion": ["环境效益（W=0.4）", "经济（W=0.6）"] * 2,
            "criterion_order": [0, 1, 0, 1],
            "score_r": [8.0, 6.0, 5.0, 9.0],
        }
    )
    spec = oc.score_heatmap(
        cells, option_title="o", criterion_title="c", score_title="R", score_max=10
    ).to_dict()
    enc = spec["layer"][0]["encoding"]
    assert enc["y"]["field"] == "option_axis"
    assert enc["y"]["sort"][0] == "B 短" and enc["y"]["sort"][1].endswith("…")
    assert enc["x"]["sort"] == ["环境效益（W=0.4）", "经济（W=0.6）"]
    assert any(t["field"] == "option" for t in enc["tooltip"])
