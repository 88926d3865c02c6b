"""No chart relies on Vega to cut its labels (issue #5, speed).

vl-convert measures every axis and legend label once more when a ``labelLimit`` is set
(and searches for the cut when a label is too long); measuring CJK text is the slowest
part of drawing a chart. The kit's theme sets every limit to 0 and the builders cut data
texts before drawing (cpkit.charts.fit_labels / wrap_labels). Checked here on the specs
as Vega-Lite receives them, for every builder with very long labels and for every chart
of the sample notebooks in both languages:

* no ``labelLimit`` / ``titleLimit`` / ``limit`` above 0 anywhere, and 0 in the config;
* every nominal label on a guide fits its room, by the estimate of
  cpkit.charts.balances.text_width (checked against the font itself in
  test_charts_balances): beside horizontal bars ROW_LABEL_WIDTH, slanted under a chart
  SLANT_LABEL_WIDTH, horizontal under a chart the width of its band (chart width / number
  of categories, each line of a wrapped label), in a legend LEGEND_LABEL_WIDTH (the Gantt
  chart's two columns of phases under the chart: cpkit.charts.planning.LEGEND_LABEL_WIDTH);
* the whole texts stay in the data for the tooltips.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cpkit.charts import (
    LABEL_SIZE,
    LEGEND_LABEL_WIDTH,
    LINE_BREAKS,
    ROW_LABEL_WIDTH,
    SLANT_LABEL_WIDTH,
    theme_config,
)
from cpkit.charts import balances as bc
from cpkit.charts import finance as fc
from cpkit.charts import implementation as ic
from cpkit.charts import options as oc
from cpkit.charts import planning as pc
from cpkit.charts import status as sc
from cpkit.charts.balances import text_width

ROOT = Path(__file__).resolve().parent.parent
LIMIT_KEYS = ("labelLimit", "titleLimit", "limit")
LEGEND_CHANNELS = ("color", "fill", "shape", "stroke", "strokeDash")


# --------------------------------------------------------------------------- spec walking
def limits_set(node: Any, path: str = "") -> list[str]:
    """Paths of every limit above 0 in a spec."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in LIMIT_KEYS and isinstance(v, int | float) and v > 0:
                found.append(f"{path}/{k}={v}")
            found += limits_set(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += limits_set(v, f"{path}/{i}")
    return found


def views(spec: dict, rows: list[dict] | None = None) -> Iterator[tuple[dict, list[dict]]]:
    """Each (sub)view with its data rows (a layer without data uses its parent's)."""
    datasets = spec.get("datasets", {})

    def walk(node: dict, inherited: list[dict]) -> Iterator[tuple[dict, list[dict]]]:
        data = node.get("data")
        own = datasets.get(data.get("name"), []) if isinstance(data, dict) else None
        here = inherited if own is None else own
        yield node, here
        for child in node.get("layer", []):
            yield from walk(child, here)

    yield from walk(spec, rows or [])


def field_values(rows: list[dict], field: str) -> list[str]:
    return list(dict.fromkeys(str(r[field]) for r in rows if r.get(field) is not None))


def label_problems(spec: dict) -> list[str]:
    """Guide labels wider than their room (see the module docstring)."""
    problems = []
    width = float(spec.get("width", 520))
    for node, rows in views(spec):
        for channel, enc in node.get("encoding", {}).items():
            if not isinstance(enc, dict) or enc.get("type") not in ("nominal", "ordinal"):
                continue
            field = enc.get("field")
            if not field:
                continue
            values = field_values(rows, field)
            if channel in ("x", "y"):
                axis = enc.get("axis", {})
                if axis is None:
                    continue
                size = float(axis.get("labelFontSize", LABEL_SIZE))
                angle = float(axis.get("labelAngle", 0))
                if channel == "y":
                    room, lines_of = ROW_LABEL_WIDTH, [[v] for v in values]
                elif angle:
                    room, lines_of = SLANT_LABEL_WIDTH, [[v] for v in values]
                else:
                    room = width / max(1, len(values))
                    wrapped = axis.get("labelExpr") == LINE_BREAKS
                    lines_of = [v.split("\n") if wrapped else [v] for v in values]
                    if wrapped and any(len(lines) > 2 for lines in lines_of):
                        problems.append(f"{channel}:{field} has labels of more than 2 lines")
            elif channel in LEGEND_CHANNELS:
                legend = enc.get("legend", {})
                if legend is None:
                    continue
                size = float(legend.get("labelFontSize", LABEL_SIZE))
                columns = legend.get("columns") and legend.get("orient") == "bottom"
                room = pc.LEGEND_LABEL_WIDTH if columns else LEGEND_LABEL_WIDTH
                domain = (enc.get("scale") or {}).get("domain")
                if isinstance(domain, list):
                    values = list(dict.fromkeys([*values, *map(str, domain)]))
                lines_of = [[v] for v in values]
            else:
                continue
            for lines in lines_of:
                for line in lines:
                    if text_width(line, size) > room + 1e-9:
                        problems.append(
                            f"{channel}:{field} {line!r} is {text_width(line, size):.0f} px"
                            f" > {room:.0f} px"
                        )
    return problems


def all_values(spec: dict) -> set[str]:
    return {str(v) for rows in spec.get("datasets", {}).values() for r in rows for v in r.values()}


def tooltip_fields(spec: dict) -> set[str]:
    out = set()
    for node, _ in views(spec):
        tips = node.get("encoding", {}).get("tooltip", [])
        for t in tips if isinstance(tips, list) else [tips]:
            if isinstance(t, dict) and "field" in t:
                out.add(t["field"])
    return out


def check(chart: Any) -> dict:
    spec = chart.to_dict()
    assert limits_set(spec) == []
    assert spec["config"]["axis"]["labelLimit"] == 0
    assert spec["config"]["legend"]["labelLimit"] == 0
    assert spec["config"]["legend"]["titleLimit"] == 0
    assert label_problems(spec) == []
    return spec


def test_theme_switches_vega_cutting_off():
    config = theme_config().to_dict()
    assert config["axis"]["labelLimit"] == 0
    assert config["legend"]["labelLimit"] == 0 and config["legend"]["titleLimit"] == 0
    assert limits_set(config) == []


def test_the_checker_sees_a_label_vega_would_have_cut():
    import altair as alt

    long = "镍" * 40
    chart = alt.Chart(pd.DataFrame({"a": [long], "b": [1.0]})).mark_bar().encode(y="a:N", x="b:Q")
    spec = chart.to_dict()
    assert label_problems(spec) == [f"y:a {long!r} is 400 px > 220 px"]
    limited = chart.encode(y=alt.Y("a:N", axis=alt.Axis(labelLimit=120))).to_dict()
    assert limits_set(limited) == ["/encoding/y/axis/labelLimit=120"]


# --------------------------------------------------------------------------- long labels
ZH = "含镍漂洗废水及逆流漂洗回收槽出水（第三级）"  # 21 CJK characters
EN = "Wastewater from the third counter-current rinse tank of the nickel line"


def long(i: int) -> str:
    """Long labels that differ only at their end (so plain cuts would collide)."""
    return f"{EN}: {ZH}{i}" if i % 2 else f"{ZH}: {EN} {i}"


def units(n: int = 4) -> list[str]:
    return [long(i) for i in range(n)]


def build_balance_bars():
    u = units()
    data = pd.DataFrame(
        {
            "unit": np.repeat(u, 2),
            "side": ["inputs", "outputs"] * len(u),
            "value": np.arange(2 * len(u), dtype=float) + 1,
            "closure": ["+1.00%"] * 2 * len(u),
        }
    )
    return bc.balance_bars(
        data, title="t", unit_title="u", x_title="kg/d",
        side_titles={"inputs": "In", "outputs": "Out"},
    ), u  # fmt: skip


def build_closure_band():
    u = units(7)
    data = pd.DataFrame(
        {
            "unit": u,
            "group": [long(9), long(11)] * 3 + [long(9)],
            "closure_pct": [1.0, -2.0, 7.0, 0.5, -0.2, 3.0, 12.0],
            "verdict": ["closed", "closed", "warning", "closed", "closed", "closed", "failed"],
        }
    )
    return bc.closure_band(
        data, tolerance_pct=5, warning_pct=10, title="t", y_title="%",
        verdict_titles={"closed": "ok", "warning": "check", "failed": "bad"},
        band_titles={"tolerance": "±5", "warning": "±10"},
    ), [*u, long(9), long(11)]  # fmt: skip


def build_electricity_bars():
    u = units(5)
    data = pd.DataFrame(
        {"name": u, "group": ["P", "P", "U", "U", "L"], "kwh_d": [5.0, 4, 3, 2, 1],
         "share_pct": [33.0, 27, 20, 13, 7], "text": ["33%", "27%", "20%", "13%", "7%"]}
    )  # fmt: skip
    return bc.electricity_bars(data, title="t", x_title="kWh/d", group_title="g"), u


def build_heat_items_chart():
    u = units(3)
    data = pd.DataFrame(
        {"item": u, "category": ["effective", "loss", "loss"], "share_pct": [80.0, 15, 5]}
    )
    return bc.heat_items_chart(
        data, title="t", x_title="%", category_titles={"effective": "E", "loss": "L"}
    ), u


def build_water_use_chart():
    u = units(3)
    data = pd.DataFrame(
        {"unit": np.repeat(u, 2), "part": ["intake", "reused"] * 3, "value_m3_d": [5.0] * 6}
    )
    return bc.water_use_chart(
        data, title="t", x_title="m³/d", part_titles={"intake": "I", "reused": "R"}
    ), u


def build_pareto_chart():
    u = units(4)
    data = pd.DataFrame(
        {"label": u, "value": [5.0, 3, 2, 1], "cumulative_pct": [45.5, 72.7, 90.9, 100.0]}
    )
    return bc.pareto_chart(data, title="t", y_title="kg/d", cum_title="%"), u


def build_cumulative_cash_flow():
    u = units(3)
    flows = pd.DataFrame(
        {
            "option": np.repeat(u, 3),
            "year": [0, 1, 2] * 3,
            "cumulative_discounted_10k_cny": [-10.0, -4, 2] * 3,
        }
    )
    return fc.cumulative_cash_flow(
        flows, year_title="y", value_title="v", option_title="o", title="t"
    ), u


def build_tornado():
    u = units(3)
    bars = pd.DataFrame(
        {
            "variable": np.repeat(u, 2),
            "variable_order": [0, 0, 1, 1, 2, 2],
            "side": ["−20 %", "+20 %"] * 3,
            "npv_10k_cny": [5.0, 15, 8, 12, 9, 11],
            "base_10k_cny": [10.0] * 6,
        }
    )
    return fc.tornado(
        bars, variable_title="v", npv_title="n", side_title="s", base_npv_10k_cny=10.0
    ), u


def build_npv_histogram():
    bins = pd.DataFrame(
        {"bin_start": [-1.0, 0, 1], "bin_end": [0.0, 1, 2], "draws": [3, 5, 2],
         "negative": [True, False, False]}
    )  # fmt: skip
    markers = pd.DataFrame({"value": [0.0, 1.2], "label": ["0", "P50 = 1.2"]})
    return fc.npv_histogram(bins, markers, npv_title="n", count_title="c"), []


def build_timeline():
    u = units(3)
    data = pd.DataFrame(
        {"label": u, "status": ["done", "doing", "planned"],
         "start": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]),
         "end": pd.to_datetime(["2025-01-31", "2025-03-15", "2025-06-30"]), "order": [0, 1, 2]}
    )  # fmt: skip
    return ic.timeline(
        data, status_title="s", date_title="d", status_order=["done", "doing", "planned"]
    ), u


def build_benefit_bars():
    u = units(3)
    data = pd.DataFrame(
        {"label": u, "actual": [1.0, 2, None], "expected": [1.5, 2, 3], "order": [0, 1, 2]}
    )
    return ic.benefit_bars(data, value_title="v", series_titles=("actual", "expected")), u


def build_reduction_bars():
    u = units(4)
    data = pd.DataFrame(
        {"label": u, "group": ["g"] * 4, "rate": [10.0, -2, 5, 0], "order": [0, 1, 2, 3]}
    )
    return ic.reduction_bars(data, rate_title="%", outcome_titles=("down", "up")), u


def build_progress_bars():
    u = units(2)
    data = pd.DataFrame(
        {"label": np.repeat(u, 2), "term": ["near", "mid"] * 2, "progress": [100.0, 40, 80, 20],
         "order": [0, 0, 1, 1]}
    )  # fmt: skip
    return ic.progress_bars(data, progress_title="%", term_title="t", term_order=["near", "mid"]), u


def build_score_bars():
    data = pd.DataFrame(
        {"score": ["Y_I", "Y_I", "Y_II", "Y_II"], "stage": ["before", "after"] * 2,
         "value": [60.0, 80, 90, 95]}
    )  # fmt: skip
    return ic.score_bars(
        data, value_title="Y", stage_title="s", stage_order=["before", "after"],
        thresholds=pd.DataFrame({"score": ["Y_I", "Y_II"], "min": [85.0, 85.0]}),
    ), []  # fmt: skip


def build_options_by_aspect():
    counts = pd.DataFrame(
        {"aspect": ["Raw materials and energy", "Technology"] * 2, "aspect_order": [0, 1] * 2,
         "cost_class": ["no/low", "no/low", "medium/high", "medium/high"],
         "class_order": [0, 0, 1, 1], "options": [3, 1, 2, 0]}
    )  # fmt: skip
    return oc.options_by_aspect(counts, aspect_title="a", count_title="n", class_title="c"), []


def build_score_heatmap():
    u = units(3)
    crit = [f"{long(i)} (W=10)" for i in (5, 6)]
    cells = pd.DataFrame(
        {"option": np.repeat(u, 2), "option_order": [0, 0, 1, 1, 2, 2],
         "criterion": crit * 3, "criterion_order": [0, 1] * 3, "score_r": [8.0, 6, 5, 9, 7, 7]}
    )  # fmt: skip
    return oc.score_heatmap(
        cells, option_title="o", criterion_title="c", score_title="R", score_max=10
    ), u + crit


def build_weighted_totals():
    u = units(3)
    totals = pd.DataFrame(
        {"option": np.repeat(u, 2), "rank": [1, 1, 2, 2, 3, 3], "part": ["base", "extra"] * 3,
         "part_order": [0, 1] * 3, "points": [200.0, 50, 180, 0, 150, 0]}
    )  # fmt: skip
    return oc.weighted_totals(totals, option_title="o", score_title="s", part_title="p"), u


def build_weight_ranges():
    u = units(3)
    ranges = pd.DataFrame(
        {"criterion": u, "criterion_order": [0, 1, 2], "weight": [10.0, 8, 6],
         "low": [2.0, 0, 4], "high": [20.0, 15, 9]}
    )  # fmt: skip
    return oc.weight_ranges(
        ranges, criterion_title="c", weight_title="w", range_label="r", weight_label="W"
    ), u


def build_gantt():
    tasks = [f"{ZH}{ZH}{i}" for i in range(3)]
    schedule = pd.DataFrame(
        {"task_id": ["T1", "T2", "T3"], "phase": [1, 2, 7], "task": tasks,
         "owner": ["a", "b", "c"],
         "start": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]),
         "end": pd.to_datetime(["2025-01-31", "2025-03-15", "2025-06-30"]),
         "duration_days": [31, 43, 122]}
    )  # fmt: skip
    labels = pc.GanttLabels("T", "task", "phase", "start", "end", "days", "owner", "date")
    names = {n: f"Phase {n}: {EN}" for n in range(1, 8)}
    return pc.gantt(schedule, labels, names), [*tasks, names[1]]


def build_trend_index():
    u = units(3)
    data = pd.DataFrame(
        {"year": np.tile([2023, 2024, 2025], 3), "label": np.repeat(u, 3),
         "index": [100.0, 98, 97] * 3, "value_text": ["1 t/t"] * 9}
    )  # fmt: skip
    return sc.trend_index(
        data, title="t", x_title="y", y_title="i", legend_title="l", tooltip_title="v"
    ), u


def build_energy_structure():
    data = pd.DataFrame(
        {"year": [2024, 2024, 2025, 2025], "label": ["Electricity", "Natural gas"] * 2,
         "share_pct": [60.0, 40, 55, 45], "energy_tce": [600.0, 400, 550, 450]}
    )  # fmt: skip
    return sc.energy_structure(
        data, title="t", x_title="y", y_title="%", legend_title="l", tce_title="tce"
    ), []


def build_pollutant_limits():
    u = units(3)
    data = pd.DataFrame(
        {"label": u, "ratio": [0.5, 1.2, 0.8], "exceeds": [False, True, False],
         "detail": ["d"] * 3}
    )  # fmt: skip
    return sc.pollutant_limits(
        data, title="t", x_title="C/C0", y_title="p", status_title="s",
        status_labels=("ok", "over"),
    ), u  # fmt: skip


def build_scoring_heatmap():
    cand = [f"{ZH}{i}" for i in range(4)]
    crit = units(2)
    data = pd.DataFrame(
        {"candidate": np.tile(cand, 2), "criterion": np.repeat(crit, 4),
         "score_rw": [10.0, 20, 30, 40, 50, 60, 70, 80], "text": ["x"] * 8}
    )  # fmt: skip
    return sc.scoring_heatmap(
        data, title="t", x_title="c", y_title="k", colour_title="R×W",
        candidate_order=cand, criterion_order=crit,
    ), cand + crit  # fmt: skip


def build_level_scores():
    data = pd.DataFrame(
        {"score": ["Y_I", "Y_II", "Y_III"], "value": [70.0, 88, 100],
         "threshold": [85.0, 85, None], "reached": [False, True, True]}
    )  # fmt: skip
    return sc.level_scores(
        data, title="t", x_title="s", y_title="Y", threshold_title="min",
        status_title="st", status_labels=("yes", "no"),
    ), []  # fmt: skip


BUILDERS = {
    name[len("build_") :]: fn for name, fn in sorted(globals().items()) if name.startswith("build_")
}


def test_every_builder_is_checked():
    public = {
        f"{mod.__name__.rsplit('.', 1)[1]}.{name}"
        for mod in (bc, fc, ic, oc, pc, sc)
        for name, obj in vars(mod).items()
        if callable(obj)
        and not name.startswith("_")
        and getattr(obj, "__module__", "") == mod.__name__
        and name not in ("flow_diagram_svg", "text_width", "truncate", "wrap")
        and not isinstance(obj, type)
    }
    assert {p.split(".")[1] for p in public} == set(BUILDERS)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_cuts_its_labels_and_keeps_them_for_tooltips(name):
    chart, whole = BUILDERS[name]()
    spec = check(chart)
    values = all_values(spec)
    missing = [w for w in whole if w not in values]
    assert missing == []  # the whole texts stay in the data
    if whole:
        assert tooltip_fields(spec)  # ... and are shown in a tooltip


def test_cut_labels_are_distinct_on_each_axis():
    chart, whole = build_reduction_bars()
    spec = chart.to_dict()
    rows = next(iter(spec["datasets"].values()))
    shown = {r["label"]: r["axis_label"] for r in rows}
    assert len(set(shown.values())) == len(whole) == 4
    assert all(s.endswith(w[-3:]) or "…" in s for w, s in shown.items())


# --------------------------------------------------------------------------- the samples
def run_notebooks(sample: str, lang: str, monkeypatch) -> list[dict]:
    """Every chart spec of the seven phase notebooks of ``sample`` (static mode), run in
    this process: the code cells executed in order with the parameters replaced, the
    SVG drawing replaced by recording the spec."""
    import IPython.display

    import cpkit.display as cd

    specs: list[dict] = []

    def record(spec):
        specs.append(json.loads(json.dumps(spec)))
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"

    monkeypatch.setattr(cd, "spec_svg", record)
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: None)
    monkeypatch.delenv(cd.DEFER_ENV, raising=False)
    monkeypatch.chdir(ROOT)
    for path in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        scope: dict[str, Any] = {}
        for cell in cells:
            exec("".join(cell["source"]), scope)  # the kit's own notebooks
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                scope.update(
                    dataset=f"data/samples/{sample}", lang=lang, interactive=False, teaching=False
                )
    return specs


@pytest.mark.parametrize(
    ("sample", "lang"),
    [("sample-dyeing", "en"), ("sample-painting", "zh"), ("sample-plating", "en")],
)
def test_sample_notebook_charts_have_no_vega_limits(sample, lang, monkeypatch):
    specs = run_notebooks(sample, lang, monkeypatch)
    assert len(specs) >= 25
    problems = {str(s.get("title")): p for s in specs if (p := limits_set(s) + label_problems(s))}
    assert problems == {}
    assert all(s["config"]["axis"]["labelLimit"] == 0 for s in specs)
