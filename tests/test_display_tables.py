"""cpkit.display.table_html: escaping, number formatting, column alignment and widths."""

from __future__ import annotations

import pandas as pd

from cpkit.display import Col, table_html


def test_text_is_escaped_and_numbers_are_formatted():
    df = pd.DataFrame({"name": ["<script>x</script>"], "q": [1234.5]})
    html = table_html(df, {"name": Col("名称"), "q": Col("数量", unit="t", digits=1)})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<th>数量<span class="cp-unit">（t）</span></th>' in html
    assert '<td class="cp-right">1,234.5</td>' in html


def test_centred_columns_and_widths_reach_the_header():
    df = pd.DataFrame({"phase": ["2"], "item": ["自查内容"], "status": ["已满足"]})
    cols = {
        "phase": Col("阶段", align="center"),
        "item": Col("内容", width=24),
        "status": Col("结果", align="center", width=8.5),
    }
    html = table_html(df, cols)
    assert '<th class="cp-center">阶段</th>' in html
    assert '<th style="width:24%">内容</th>' in html
    assert '<th class="cp-center" style="width:8.5%">结果</th>' in html
    assert '<td class="cp-center">已满足</td>' in html


def test_table_numbers_round_like_the_text():
    """GB/T 8170 half-to-even on the shortest decimal form, as cpkit.i18n.fmt_number."""
    from cpkit.display import format_number
    from cpkit.i18n import fmt_number

    for v in (2.675, 2.345, 2.355, 1234567.125, -0.001, 0.5, 1.5, 2.5, 1e-9):
        assert format_number(v, 2) == fmt_number(v, "zh", 2)
    assert format_number(2.675, 2) == "2.68"  # f"{2.675:.2f}" gives 2.67 (binary 2.67499...)
    assert format_number(2.345, 2) == "2.34" and format_number(2.355, 2) == "2.36"
    assert format_number(0.0115, 1, percent=True) == "1.2%"  # 1.15 -> 1.2 (half to even)
    assert format_number(0.0125, 1, percent=True) == "1.2%"  # 1.25 -> 1.2
    assert format_number(-0.001, 2) == "0.00"
