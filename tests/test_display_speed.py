"""What makes the phase notebooks fast (issue 5) changes no result.

* ``cpkit.charts.style`` (one copy and a shared configuration) gives exactly the spec of
  the chained ``properties`` + ``configure_*`` calls it replaced, written out here;
* the chart SVG cache (``cpkit.display.spec_svg``) returns vl-convert's own SVG, keyed
  by content, written atomically, switched off by ``CPKIT_CACHE=0``, pruned LRU;
* the distribution functions the reconciliation tests now take from scipy.special and
  the Spearman ρ of the Monte Carlo analysis equal scipy.stats' (hypothesis);
* the unit result cache answers as pint does, errors included, and a warm cache spares
  a new process the pint import;
* the notebook kernel's GC policy applies in IPython kernels only;
* importing the notebooks' modules does not import what only some cells need.

Timings are never asserted (benchmarks/bench_notebooks.py prints them).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import display

ROOT = Path(__file__).resolve().parent.parent


def run_py(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter (imports measured from scratch); its stdout."""
    full = {**os.environ, **env}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


# --------------------------------------------------------------------------- chart style
def chained_style(chart, *, title=None, width=520, height=260):
    """The style() of before issue 5, written out: seven copies of the chart."""
    from cpkit.charts import AXIS_MAX_EXTENT, CHART_FONT, PALETTE

    if title is not None:
        chart = chart.properties(title=title)
    chart = chart.properties(width=width, height=height)
    return (
        chart.configure(font=CHART_FONT)
        .configure_title(font=CHART_FONT, fontSize=14, anchor="start")
        .configure_axis(
            labelFont=CHART_FONT,
            titleFont=CHART_FONT,
            gridColor="#e6e6e6",
            labelLimit=0,  # labels are cut in Python (cpkit.charts.fit_labels)
            maxExtent=AXIS_MAX_EXTENT,
        )
        .configure_legend(labelFont=CHART_FONT, titleFont=CHART_FONT, labelLimit=0, titleLimit=0)
        .configure_range(category=PALETTE)
        .configure_view(stroke=None)
    )


def spec(chart) -> str:
    return json.dumps(chart.to_dict(), sort_keys=True, ensure_ascii=False)


@pytest.fixture(scope="module")
def charts():
    import altair as alt

    df = pd.DataFrame({"a": list("abcd") * 3, "b": range(12), "c": ["x", "y", "z"] * 4})
    bars = alt.Chart(df).mark_bar().encode(x="a:N", y="b:Q", color="c:N")
    return {
        "single": bars,
        "layer": alt.layer(bars, bars.mark_text().encode(text="b:Q")),
        "titled": bars.properties(title="given"),
        "dates": alt.Chart(
            pd.DataFrame({"d": pd.to_datetime(["2024-01-01", "2024-03-01"]), "v": [1.0, None]})
        )
        .mark_line()
        .encode(x="d:T", y="v:Q"),
    }


@pytest.mark.parametrize("name", ["single", "layer", "titled", "dates"])
@pytest.mark.parametrize("kw", [{}, {"title": "标题 title"}, {"width": 300, "height": 120}])
def test_style_gives_the_spec_of_the_chained_calls(charts, name, kw):
    from cpkit.charts import style

    assert spec(style(charts[name], **kw)) == spec(chained_style(charts[name], **kw))


def test_style_leaves_its_input_and_the_shared_theme_alone(charts):
    from cpkit.charts import style, theme_config

    before = spec(charts["layer"])
    theme = json.dumps(theme_config().to_dict(), sort_keys=True)
    styled = style(charts["layer"], title="t")
    changed = styled.configure_axis(labelFontSize=20).configure_title(fontSize=30)
    assert spec(charts["layer"]) == before
    assert json.dumps(theme_config().to_dict(), sort_keys=True) == theme
    assert changed.to_dict()["config"]["axis"]["labelFontSize"] == 20
    assert "labelFontSize" not in styled.to_dict()["config"]["axis"]


# --------------------------------------------------------------------------- SVG cache
SPEC = {
    "data": {"values": [{"a": "甲", "b": 1}, {"a": "乙", "b": 3}]},
    "mark": "bar",
    "encoding": {
        "x": {"field": "a", "type": "nominal"},
        "y": {"field": "b", "type": "quantitative"},
    },
    "title": "审核 audit",
}


@pytest.fixture
def svg_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CPKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CPKIT_CACHE", raising=False)
    return tmp_path / "svg"


def test_svg_cache_returns_vl_converts_svg_and_reuses_it(svg_cache, monkeypatch):
    import vl_convert as vlc

    direct = vlc.vegalite_to_svg(SPEC)
    assert display.spec_svg(SPEC) == direct  # drawn, then stored
    files = list(svg_cache.glob("*.svg"))
    assert [f.name for f in files] == [f"{display.svg_cache_key(SPEC)}.svg"]
    assert not list(svg_cache.glob(".*.tmp"))  # the temporary file was renamed

    def boom(spec):
        raise AssertionError("vl-convert called for a cached chart")

    monkeypatch.setattr(vlc, "vegalite_to_svg", boom)
    assert display.spec_svg(json.loads(json.dumps(SPEC))) == direct  # same content, other dict


def test_svg_cache_key_follows_the_content(svg_cache):
    other = {**SPEC, "title": "审核 other"}
    reordered = dict(reversed(list(SPEC.items())))
    assert display.svg_cache_key(SPEC) == display.svg_cache_key(reordered)
    assert display.svg_cache_key(SPEC) != display.svg_cache_key(other)
    assert display.svg_cache_key({"bad": object()}) is None  # not JSON: drawn, not cached


def test_chart_svg_goes_through_the_cache(svg_cache, charts):
    from cpkit.charts import style

    chart = style(charts["layer"], title="图")
    svg = display.chart_svg(chart)
    assert svg.startswith("<svg") and "图" in svg
    key = display.svg_cache_key(chart.to_dict(validate=False))
    assert (svg_cache / f"{key}.svg").read_text(encoding="utf-8") == svg


def test_a_damaged_cache_entry_is_drawn_again(svg_cache):
    svg = display.spec_svg(SPEC)
    path = svg_cache / f"{display.svg_cache_key(SPEC)}.svg"
    path.write_text("<svg xmlns=", encoding="utf-8")  # cut short
    assert display.spec_svg(SPEC) == svg
    assert path.read_text(encoding="utf-8") == svg


def test_cpkit_cache_0_switches_the_svg_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("CPKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CPKIT_CACHE", "0")
    assert display.svg_cache_dir() is None
    assert display.spec_svg(SPEC).startswith("<svg")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_cache_is_not_an_error(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("CPKIT_CACHE_DIR", str(blocked))
    monkeypatch.delenv("CPKIT_CACHE", raising=False)
    assert display.spec_svg(SPEC).startswith("<svg")


def test_prune_keeps_the_most_recently_used(tmp_path):
    for i in range(6):
        p = tmp_path / f"{i}.svg"
        p.write_text("<svg></svg>")
        os.utime(p, ns=(10**18 + i, 10**18 + i))
    os.utime(tmp_path / "0.svg", ns=(2 * 10**18, 2 * 10**18))  # read recently
    display._svg_cache_prune(tmp_path, max_files=3)
    assert sorted(p.name for p in tmp_path.glob("*.svg")) == ["0.svg", "4.svg", "5.svg"]


# --------------------------------------------------------------------------- statistics
@settings(max_examples=200, deadline=None)
@given(
    df=st.integers(min_value=1, max_value=400),
    q=st.floats(min_value=1e-9, max_value=1 - 1e-9),
    x=st.floats(min_value=-1.0, max_value=2000.0),
)
def test_reconciliation_distributions_equal_scipy_stats(df, q, x):
    import scipy.stats

    from cpkit import reconciliation as rec

    assert rec._chi2_ppf(q, df) == float(scipy.stats.chi2.ppf(q, df))
    assert rec._chi2_sf(x, df) == float(scipy.stats.chi2.sf(x, df))
    assert rec._norm_ppf(q) == float(scipy.stats.norm.ppf(q))


def test_reconciliation_distributions_by_hand():
    """Table values: χ²(0.95; 1) = 3.841, χ²(0.95; 2) = 5.991 = −2 ln 0.05, Φ⁻¹(0.975) = 1.960;
    P(χ²(2) > x) = exp(−x/2)."""
    from cpkit import reconciliation as rec

    assert rec._chi2_ppf(0.95, 1) == pytest.approx(3.841459, abs=1e-6)
    assert rec._chi2_ppf(0.95, 2) == pytest.approx(-2 * math.log(0.05), rel=1e-12)
    assert rec._norm_ppf(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert rec._chi2_sf(3.0, 2) == pytest.approx(math.exp(-1.5), rel=1e-12)
    assert math.isnan(rec._chi2_sf(float("nan"), 3))


samples = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=3, max_size=60
)


@settings(max_examples=200, deadline=None)
@given(x=samples, y=samples, ties=st.booleans())
def test_spearman_equals_scipy_stats(x, y, ties):
    import scipy.stats

    from cpkit.risk import _spearman

    n = min(len(x), len(y))
    a, b = np.array(x[:n]), np.array(y[:n])
    if ties:
        a, b = np.round(a / 1e5), np.round(b / 1e5)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return  # the caller gives ρ = 0 for a constant sample
    assert _spearman(a, b) == float(scipy.stats.spearmanr(a, b).statistic)


def test_spearman_by_hand():
    """x = 1..5, y = (2, 1, 4, 3, 5): d = (1, 1, 1, 1, 0), ρ = 1 − 6·4/(5·24) = 0.8."""
    from cpkit.risk import _spearman

    assert _spearman(np.arange(1.0, 6.0), np.array([2.0, 1, 4, 3, 5])) == pytest.approx(0.8)
    assert math.isnan(_spearman(np.array([1.0, np.nan, 3.0]), np.array([1.0, 2.0, 3.0])))


# --------------------------------------------------------------------------- units
PAIRS = [
    ("t/a", "kg/d"),
    ("万元", "10k_CNY"),
    ("万千瓦时", "kWh"),
    ("吨标准煤", "kgce"),
    ("m3", "t"),
]


def test_unit_cache_answers_as_pint_does(tmp_path, monkeypatch):
    from cpkit import units

    monkeypatch.setenv("CPKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CPKIT_CACHE", raising=False)
    cold = [units.conversion_factor(a, b) for a, b in PAIRS[:4]]
    # t/a → kg/d by hand: 1000 kg / 365.25 d (pint's year)
    assert cold[0] == pytest.approx(1000 / 365.25, rel=1e-12)
    assert cold[1] == 1.0 and cold[2] == 1e4 and cold[3] == 1000.0
    stored = json.loads(next((tmp_path / "units").glob("*.json")).read_text(encoding="utf-8"))
    assert stored["factor"]["t/a\x1fkg/d\x1fNone"] == {"factor": cold[0]}
    units._caches.clear()  # as a new process: read back from disk
    assert [units.conversion_factor(a, b) for a, b in PAIRS[:4]] == cold
    assert units.conversion_factor("m3", "t", density_t_m3=1.0) == 1.0
    assert units.is_compatible("kg/d", "t/a") and not units.is_compatible("kg", "m3")
    assert units.dimensionality("t/a") == "[mass] / [time]"
    for _ in range(2):  # computed, then from the cache: the same error
        with pytest.raises(units.UnitError, match="cannot convert 'kg' to 'm3'"):
            units.conversion_factor("kg", "m3")
        with pytest.raises(units.UnitError, match="unknown unit 'furlongs_per_blob'"):
            units.conversion_factor("furlongs_per_blob", "furlongs_per_blob")
        units._caches.clear()


def test_a_warm_unit_cache_spares_the_pint_import(tmp_path):
    pairs = repr(PAIRS[:4])
    code = (
        "import sys; from cpkit import units; "
        f"f = [units.conversion_factor(a, b) for a, b in {pairs}]; "
        "print(repr(f), 'pint' in sys.modules)"
    )
    env = {"CPKIT_CACHE_DIR": str(tmp_path)}
    first = run_py(code, **env)
    second = run_py(code, **env)
    assert first.endswith("True") and second.endswith("False")
    assert first.rsplit(" ", 1)[0] == second.rsplit(" ", 1)[0]  # the same factors
    off = run_py(code, CPKIT_CACHE="0", CPKIT_CACHE_DIR=str(tmp_path))
    assert off.endswith("True")


# --------------------------------------------------------------------------- GC policy
def test_gc_policy_only_in_an_ipython_kernel():
    from cpkit.notebook import KERNEL_GC_THRESHOLD

    plain = "import gc, cpkit.display, cpkit.notebook as n; print(gc.get_threshold())"
    assert run_py(plain) == "(700, 10, 10)"
    shell = (
        "import gc; from IPython.core.interactiveshell import InteractiveShell; "
        "InteractiveShell.instance(); import cpkit.display as d; "
        "from cpkit.notebook import open_phase; "
        "nb = open_phase('data/samples/sample-plating', phase=1, interactive=False); "
        "print(gc.get_threshold(), gc.get_freeze_count() > 0)"
    )
    assert run_py(shell) == f"{KERNEL_GC_THRESHOLD} True"
    assert run_py(shell, CPKIT_GC="default") == "(700, 10, 10) False"


# --------------------------------------------------------------------------- lazy imports
def test_notebook_modules_import_only_what_every_cell_needs():
    code = (
        "import sys; import cpkit.notebook, cpkit.display, cpkit.charts, "
        "cpkit.views.assessment, cpkit.views.feasibility, cpkit.views.implementation, "
        "cpkit.reconciliation, cpkit.risk, cpkit.finance, cpkit.units; "
        "print(sorted(m for m in ('altair', 'vl_convert', 'sympy', 'ziamath', 'pint', "
        "'scipy.stats', 'scipy.optimize') if m in sys.modules))"
    )
    assert run_py(code) == "[]"


def test_lean_altair_import_skips_only_unused_format_checkers():
    from cpkit.render.kernel import DEFAULT_BLOCKED

    assert DEFAULT_BLOCKED == display.LEAN_IMPORT_BLOCKED  # the batch kernel blocks the same
    code = (
        "import sys; from cpkit.display import lean_altair_import, LEAN_IMPORT_BLOCKED; "
        "lean_altair_import(); import altair as alt, pandas as pd; "
        "spec = alt.Chart(pd.DataFrame({'a': [1]})).mark_bar().encode(x='a:Q').to_dict(); "
        "print(spec['mark']['type'], [sys.modules.get(m) for m in LEAN_IMPORT_BLOCKED])"
    )
    assert run_py(code) == "bar [None, None, None]"  # Altair validates and draws as before
    # a process that loaded jsonschema first keeps its full format checker
    late = (
        "import sys, jsonschema; from cpkit.display import lean_altair_import; "
        "lean_altair_import(); print('isoduration' in sys.modules and "
        "sys.modules['isoduration'] is None)"
    )
    assert run_py(late) == "False"
