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
