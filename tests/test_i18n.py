"""cpkit.i18n: the message catalogue and number/date formatting.

Expected strings are written out by hand. Rounding follows GB/T 8170-2008 §3.3 (进舍规则,
round half to even on the number as written); the cases below apply that rule by hand.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpkit import i18n
from cpkit.i18n import (
    MessageCatalogueError,
    MissingMessageError,
    UnknownLanguageError,
    load_catalogue,
)


# --------------------------------------------------------------------------- catalogue
def test_catalogue_files_merge_without_duplicates_and_with_both_languages():
    # load_catalogue raises on a key defined twice (within or across files), a missing
    # language or placeholders that differ between languages: loading the real folder
    # is the test that every cpkit/messages/*.yaml file keeps those rules.
    cat = load_catalogue()
    assert "report.title" in cat
    for key, texts in cat.items():
        assert set(texts) == set(i18n.LANGS), key
        assert all(isinstance(v, str) and v != "" for v in texts.values()), key


def test_duplicate_key_across_files_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("x:\n  y: {zh: 甲, en: A}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("x.y: {zh: 乙, en: B}\n", encoding="utf-8")
    with pytest.raises(MessageCatalogueError, match=r"x\.y is defined twice.*a\.yaml.*b\.yaml"):
        load_catalogue(tmp_path)


def test_duplicate_key_within_one_file_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "x:\n  y: {zh: 甲, en: A}\n  y: {zh: 乙, en: B}\n", encoding="utf-8"
    )
    with pytest.raises(MessageCatalogueError, match="appears twice"):
        load_catalogue(tmp_path)


def test_missing_language_and_placeholder_mismatch_are_errors(tmp_path):
    (tmp_path / "a.yaml").write_text("x: {zh: 甲}\n", encoding="utf-8")
    with pytest.raises(MessageCatalogueError, match="missing en"):
        load_catalogue(tmp_path)
    (tmp_path / "a.yaml").write_text('x: {zh: "共{n}项", en: "{count} items"}\n', encoding="utf-8")
    with pytest.raises(MessageCatalogueError, match="different placeholders"):
        load_catalogue(tmp_path)


def test_yaml_boolean_words_stay_keys(tmp_path):
    (tmp_path / "a.yaml").write_text("c:\n  yes: {zh: 是, en: 'Yes'}\n  on: {zh: 开, en: 'On'}\n")
    cat = load_catalogue(tmp_path)
    assert cat["c.yes"]["en"] == "Yes" and cat["c.on"]["zh"] == "开"


def test_invalid_yaml_names_the_file(tmp_path):
    (tmp_path / "broken.yaml").write_text("x: [unclosed\n", encoding="utf-8")
    with pytest.raises(MessageCatalogueError, match=r"broken\.yaml: invalid YAML"):
        load_catalogue(tmp_path)


def test_t_formats_and_never_falls_back():
    assert i18n.t("report.title", "zh") == "清洁生产审核报告"
    assert i18n.t("report.title", "en") == "Cleaner Production Audit Report"
    assert i18n.t("failed.problems", "en", count=3) == "The dataset has 3 problem(s):"
    with pytest.raises(MissingMessageError, match="not in the catalogue"):
        i18n.t("report.no_such_key", "zh")
    with pytest.raises(KeyError):  # MissingMessageError is a KeyError too
        i18n.t("report.no_such_key", "en")
    with pytest.raises(MessageCatalogueError, match="needs the value 'count'"):
        i18n.t("failed.problems", "zh")
    with pytest.raises(UnknownLanguageError, match="zh, en"):
        i18n.t("report.title", "fr")


def test_raw_keeps_placeholders_and_pick_reads_bilingual_data():
    assert i18n.raw("report.page_footer", "en") == "Page {page} of {pages}"
    assert i18n.pick({"zh": "电镀", "en": "Electroplating"}, "en") == "Electroplating"
    assert i18n.pick("只有中文", "en") == "只有中文"
    with pytest.raises(MissingMessageError):
        i18n.pick({"zh": "电镀"}, "en")


# --------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (12.1498, 1, "12.1"),  # dropped part 0.0498 < 0.05: cut
        (12.1598, 1, "12.2"),  # > 0.05: up
        (10.502, 0, "11"),  # 0.502: a 5 followed by non-zero digits: up
        (1.050, 1, "1.0"),  # exactly half, kept digit 0 even: cut
        (0.35, 1, "0.4"),  # exactly half, kept digit 3 odd: up
        (2.345, 2, "2.34"),  # written 2.345: half, 4 even: cut (binary 2.34499.. is irrelevant)
        (2.355, 2, "2.36"),
        (0.125, 2, "0.12"),
        (-2.5, 0, "-2"),
        (1234567.891, 2, "1,234,567.89"),
        (-1234.5, 1, "-1,234.5"),
        (-0.001, 2, "0.00"),  # no "-0.00"
        (0, 0, "0"),
        (Decimal("12345678901234567890.125"), 2, "12,345,678,901,234,567,890.12"),
    ],
)
def test_fmt_number_rounds_by_gbt_8170(value, digits, expected):
    assert i18n.fmt_number(value, "zh", digits) == expected
    assert i18n.fmt_number(value, "en", digits) == expected


@pytest.mark.parametrize("empty", [None, float("nan"), pd.NA, pd.NaT])
def test_empty_values_show_a_dash(empty):
    for lang in i18n.LANGS:
        assert i18n.fmt_number(empty, lang) == "—"
        assert i18n.fmt_money(empty, lang) == "—"
        assert i18n.fmt_percent(empty, lang) == "—"
        assert i18n.fmt_date(empty, lang) == "—"


def test_percent_money_quantity_by_hand():
    assert i18n.fmt_percent(0.1234, "zh") == "12.3%"
    assert i18n.fmt_percent(0.12349, "en") == "12.3%"  # one rounding only (not 12.35 -> 12.4)
    assert i18n.fmt_percent(0.00125, "en", 2) == "0.12%"  # 0.125 -> half even
    # 1,234.56 万元 = 12,345,600 yuan = 12.35 million yuan
    assert i18n.fmt_money(1234.56, "zh") == "1,234.56 万元"
    assert i18n.fmt_money(1234.56, "en") == "CNY 12.35 million"
    assert i18n.fmt_money(0.35, "en") == "CNY 3,500"  # 0.35 万元 = 3,500 yuan
    assert i18n.fmt_money(-250, "en") == "CNY -2.50 million"
    assert i18n.fmt_quantity(12345.6, "tce", "zh", 1) == "12,345.6 吨标准煤"
    assert i18n.fmt_quantity(12345.6, "tce", "en", 1) == "12,345.6 tce"
    assert i18n.fmt_quantity(1.82, "t/100m", "en") == "1.82 t/100m"  # unknown unit as written
    assert i18n.fmt_int(1234567, "en") == "1,234,567"
    assert i18n.fmt_number(math.inf, "en") == "∞"


def test_dates_and_lists():
    assert i18n.fmt_date("2026-01-05", "zh") == "2026年1月5日"
    assert i18n.fmt_date(dt.date(2026, 10, 30), "en") == "30 October 2026"
    assert i18n.fmt_date(pd.Timestamp("2024-11-30"), "en") == "30 November 2024"
    assert i18n.fmt_period("2026-01-05", "2026-10-30", "zh") == "2026年1月5日至2026年10月30日"
    assert i18n.fmt_list(["甲", "乙", "丙"], "zh") == "甲、乙、丙"
    assert i18n.fmt_list(["a", "b"], "en") == "a, b"
    with pytest.raises(i18n.CpkitError, match="ISO date"):
        i18n.fmt_date("5.1.2026", "zh")


@given(
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=4),
)
def test_fmt_number_is_the_half_even_rounding_of_the_written_number(x, digits):
    text = i18n.fmt_number(x, "en", digits)
    # grouping: digits in threes separated by commas
    integer_part = text.lstrip("-").split(".")[0]
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", integer_part), text
    assert (len(text.split(".")[1]) if "." in text else 0) == digits
    parsed = Decimal(text.replace(",", ""))
    exact = Decimal(repr(x))
    assert abs(parsed - exact) <= Decimal(1).scaleb(-digits) / 2
    assert parsed == exact.quantize(Decimal(1).scaleb(-digits), rounding="ROUND_HALF_EVEN") or (
        parsed == 0 and exact.quantize(Decimal(1).scaleb(-digits), rounding="ROUND_HALF_EVEN") == 0
    )


def test_the_catalogue_cache_gives_what_the_yaml_gives(tmp_path, monkeypatch):
    """The checked catalogue is cached as JSON keyed by the YAML files' content: a new
    process reads the JSON, the result equals a fresh load_catalogue(), and a damaged
    entry is rebuilt."""
    import json

    from cpkit import i18n

    monkeypatch.setenv("CPKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CPKIT_CACHE", raising=False)
    i18n.reload()
    try:
        first = i18n.catalogue()
        entries = list((tmp_path / "messages").glob("*.json"))
        assert len(entries) == 1
        assert json.loads(entries[0].read_text(encoding="utf-8")) == load_catalogue() == first
        entries[0].write_text('{"broken": ', encoding="utf-8")
        i18n.reload()
        assert i18n.catalogue() == first  # rebuilt from the YAML
        assert json.loads(entries[0].read_text(encoding="utf-8")) == first
        monkeypatch.setenv("CPKIT_CACHE", "0")
        i18n.reload()
        assert i18n.catalogue() == first
    finally:
        i18n.reload()
