"""The phase notebooks' widgets in JupyterLab, driven in headless Chromium.

Runs ``scripts/check_lab_widgets.py`` on notebook 02 (the focus-scoring weight sliders,
seed 004 clause 5.2.13) with two slider changes (about 20 s). Skipped when Playwright,
JupyterLab or a Chromium binary is missing (install the ``ui`` extra and Debian's
``chromium``; set ``$CPKIT_CHROMIUM`` for another binary). No timing is asserted: the
script prints the update latency.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_lab_widgets.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("check_lab_widgets", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


check = _load_script()


def _chromium() -> str | None:
    try:
        return check.find_chromium()
    except check.CheckError:
        return None


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright not installed (the ui extra)"
    if importlib.util.find_spec("jupyterlab") is None:
        return "jupyterlab not installed (the lab extra)"
    if _chromium() is None:
        return "no Chromium (Debian: apt-get install chromium; or set $CPKIT_CHROMIUM)"
    return None


MISSING = _missing()
needs_browser = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


# --------------------------------------------------------------------------- no browser
def test_select_by_number_and_name():
    assert [p.name for p in check._select(["02"])] == ["02_pre_assessment.ipynb"]
    assert [p.name for p in check._select(["03_assessment.ipynb", "03"])] == ["03_assessment.ipynb"]
    assert len(check._select([])) == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))


def test_unknown_notebook_and_missing_browser_are_clear_errors(tmp_path):
    with pytest.raises(check.CheckError, match="no notebook matches '99'"):
        check._select(["99"])
    with pytest.raises(check.CheckError, match="not found or not executable"):
        check.find_chromium(str(tmp_path / "no-such-chromium"))


# --------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab-widgets")
    cmd = [sys.executable, str(SCRIPT), "02", "--max-controls", "2", "--json"]
    cmd += ["--out", str(out), "--timeout", "120"]
    env = {**os.environ, "CPKIT_CHROMIUM": _chromium() or ""}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env, check=False
    )
    assert proc.returncode in (0, 1), f"the check could not run:\n{proc.stderr[-3000:]}"
    rep = json.loads(proc.stdout)
    rep["_out"] = out
    return rep


@pytest.fixture(scope="module")
def nb02(report):
    (nb,) = report["notebooks"]
    assert nb["name"] == "02_pre_assessment.ipynb"
    return nb


@needs_browser
def test_run_all_cells_in_jupyterlab_without_errors(nb02):
    assert nb02["code_cells"] > 0
    assert nb02["cells_run"] == nb02["code_cells"]
    assert nb02["error_outputs"] == []
    assert nb02["problems"] == []


@needs_browser
def test_every_widget_output_is_drawn_as_a_widget(nb02):
    # one explore() box: six weight sliders above an Output widget
    assert nb02["widget_views"] == 1
    assert nb02["widget_views_drawn"] == 1
    assert nb02["widget_view_problems"] == []
    assert nb02["boxes"] == 1


@needs_browser
def test_slider_changes_re_rank_the_focus_options(nb02):
    """Hand calculation of the ranking total ΣR×W of candidate focus C1 (seed 004 clause
    5.2.13, weighted-sum scoring) with the scores R of
    data/samples/sample-plating/focus_scores.csv and the default weights W:

    criterion            W     R(C1)   R×W
    waste amount         10    8       80
    waste toxicity        9    9       81
    energy/resources      9    9       81
    environmental cost    8    9       72
    CP potential          6    9       54
    workshop motivation   5    8       40
                                 ΣR×W = 408

    The arrow key moves a slider one step (0.5): W(waste amount) 10 -> 10.5 adds
    8 × 0.5 = 4 (412), then W(toxicity) 9 -> 9.5 adds 9 × 0.5 = 4.5 (416.5).
    """
    first, second = nb02["changes"]
    assert all(c["problem"] is None for c in nb02["changes"])
    assert (first["kind"], first["before"], first["after"]) == ("slider", "10.00", "10.50")
    assert (second["before"], second["after"]) == ("9.00", "9.50")
    # the ranking table's row of C1 (rank, id, name, total) and the sentence on the top one
    row = r"\b1 C1 \S+ {} "
    assert re.search(row.format(r"408\.0"), first["text_before"]), first["text_before"]
    assert re.search(row.format(r"412\.0"), first["text_after"]), first["text_after"]
    assert re.search(row.format(r"416\.5"), second["text_after"]), second["text_after"]
    assert "C1（416.5" in second["text_after"]
    assert first["text_changed"] and second["text_changed"]
    assert first["error_in_output"] is None and second["error_in_output"] is None
    assert first["latency_ms"] is not None and first["latency_ms"] > 0


@needs_browser
def test_screenshots_before_and_after(nb02, report):
    names = sorted(Path(p).name for p in nb02["screenshots"])
    assert names == ["02_pre_assessment_box1_after.png", "02_pre_assessment_box1_before.png"]
    for p in nb02["screenshots"]:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (report["_out"] / "report.json").exists()


@needs_browser
def test_interactive_charts_draw_offline(nb02):
    assert nb02["charts"] > 0
    assert nb02["charts_drawn"] == nb02["charts"], nb02["chart_errors"]
