"""cpkit.charts.fit_labels / label_map / wrap_labels: data texts cut before drawing.

Vega's own cutting is off in the kit's theme (labelLimit 0: vl-convert measures every label
it might cut, the slowest part of a chart), so these functions alone keep labels within
their width; a cut label must never collide with another one (each row keeps its own band).
Widths are the estimate of cpkit.charts.balances.text_width: CJK 1 em, the ellipsis 1 em,
Latin letters 0.32-0.9 em by class (the chart font's advances rounded up)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit.charts import LINE_BREAKS, fit_labels, label_map, wrap_labels
from cpkit.charts import implementation as ic
from cpkit.charts import options as oc
from cpkit.charts.balances import text_width, truncate


def test_text_width_classes_by_hand():
    # "Wa i" at 10 px: W 0.9 + a 0.58 + space 0.32 + i 0.32 = 2.12 em = 21.2 px
    assert text_width("Wa i", 10) == pytest.approx(21.2)
    # the chart font draws the ellipsis and CJK one em wide: "…镍" = 2 em
    assert text_width("…镍", 11) == pytest.approx(22.0)


def test_short_labels_stay_and_long_ones_are_cut_to_the_width():
    # 11 px CJK characters: 220 px hold 20 of them; a cut label keeps 19 and "…" (1 em)
    long = "溶剂型双组分清漆含固化剂稀释剂及其他辅助材料合计"  # 24 characters, 264 px
    out = fit_labels(["短", long, None, float("nan"), pd.NA], 220, 11)
    assert out[0] == "短" and out[2:] == ["", "", ""]
    assert out[1] == long[:19] + "…"
    assert text_width(out[1], 11) == pytest.approx(220)


def test_labels_whose_cuts_collide_keep_start_and_end():
    a = "Material per unit of product: 冷轧钢板及铝板"
    b = "Material per unit of product: 冷轧钢板及铝型材"
    c = "Water intake per unit of product"
    out = fit_labels([a, b, c, a], 150, 11)
    # by hand: the cut ends "Material per unit o…" collide. Middle form: budget 150 - 11
    # (the "…") = 139 px; the end gets half, 69.5 px = six CJK characters (66 px); the
    # start gets 139 - 66 = 73 px: "Material per " = M .9 + a .58 + t .42 + e .58 + r .42
    # + i .32 + a .58 + l .32 + space .32 + p .58 + e .58 + r .42 + space .32 = 6.34 em
    # = 69.7 px, and "u" (.58 em = 6.4 px) would pass 73; the trailing space is dropped
    assert out[0] == "Material per…轧钢板及铝板" == out[3]
    assert out[1] == "Material per…钢板及铝型材"
    assert out[2] == truncate(c, 150, 11) and out[2].endswith("…")  # no collision: end cut
    assert all(text_width(x, 11) <= 150 for x in out)


def test_labels_that_differ_only_in_the_middle_get_numbers():
    a = "X" * 10 + "a" + "Y" * 10
    b = "X" * 10 + "b" + "Y" * 10
    out = fit_labels([a, b, "short"], 60, 10)
    # by hand: "…#1" is 1 + .58 + .58 = 2.16 em = 21.6 px; 38.4 px hold five X (.72 em)
    assert out == ["XXXXX…#1", "XXXXX…#2", "short"]


def test_a_cut_label_never_takes_the_text_of_a_short_one():
    short = "Energy per…"  # a label that happens to look cut, left whole
    long = "Energy per unit of product and per year"
    out = fit_labels([short, long], text_width(short, 10), 10)
    assert out[0] == short and out[1] != short
    assert text_width(out[1], 10) <= text_width(short, 10)


def test_label_map_and_its_order():
    m = label_map(["b" * 60, "a", "b" * 60, None], 100)
    assert list(m) == ["b" * 60, "a", ""]
    assert m["a"] == "a" and m["b" * 60].endswith("…")


def test_wrap_labels_breaks_lines_for_the_axis():
    out = wrap_labels(["Whole audit focus", "审核重点整体", "U1"], 70, 10)
    assert out == ["Whole audit\nfocus", "审核重点整体", "U1"]
    assert LINE_BREAKS == "split(datum.label, '\\n')"
    # two labels whose second lines would both end in "…" keep their own ends
    a, b = ("A very long label that goes on and " + end for end in ("on", "further"))
    wa, wb = wrap_labels([a, b], 80, 10)
    assert wa != wb and wa.startswith("A very long\n") and wb.endswith("further")


# ----------------------------------------------------------------------- properties
label_text = st.text(
    alphabet=st.sampled_from(list("abcXYZ iml…-（）镍铬水 ")), min_size=0, max_size=40
)


@given(
    st.lists(label_text, min_size=1, max_size=30),
    st.floats(min_value=40, max_value=300),
    st.sampled_from([9.0, 10.0, 11.0, 12.0]),
)
@settings(max_examples=150, deadline=None)
def test_fit_labels_properties(labels, width, size):
    out = fit_labels(labels, width, size)
    again = fit_labels(labels, width, size)
    assert out == again  # deterministic
    assert len(out) == len(labels)
    pairs = dict(zip(labels, out, strict=True))
    # equal in, equal out; distinct in, distinct out
    assert len(set(pairs.values())) == len(pairs)
    for text, shown in pairs.items():
        if text_width(text, size) <= width:
            assert shown == text  # short labels untouched
        else:
            assert text_width(shown, size) <= width + 1e-9
            assert "…" in shown


@given(
    st.lists(label_text, min_size=1, max_size=20),
    st.floats(min_value=40, max_value=200),
)
@settings(max_examples=100, deadline=None)
def test_wrap_labels_properties(labels, width):
    out = wrap_labels(labels, width, 10, 2)
    assert out == wrap_labels(labels, width, 10, 2)
    pairs = dict(zip(labels, out, strict=True))
    assert len(set(pairs.values())) == len(pairs)
    for shown in out:
        lines = shown.split("\n")
        assert len(lines) <= 2
        # a single character wider than the line is the only allowed overflow
        assert all(text_width(x, 10) <= width + 1e-9 or len(x) == 1 for x in lines)


# ----------------------------------------------------------------------- builders
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
    assert "labelLimit" not in bars["encoding"]["y"]["axis"]  # Vega does not cut
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
