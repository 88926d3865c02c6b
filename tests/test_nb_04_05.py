"""The phase notebooks 04_options (report chapter 5) and 05_feasibility (chapter 6), run
as a user runs them: with the plain papermill command line, for every sample dataset and
both languages, plus the teaching/interactive path and the error paths.

Each run is a separate papermill process writing into pytest's per-test temporary
directory, so the tests are safe under pytest-xdist.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cpkit import i18n
from cpkit.render.record import RECORD_MIME

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PAPERMILL = Path(sys.executable).parent / "papermill"
SAMPLES = sorted(p.parent.name for p in (ROOT / "data" / "samples").glob("*/enterprise.yaml"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

#: the chapter and section headings each notebook must show (message keys)
HEADINGS = {
    "04_options": {1: ["p4.title"], 2: ["p4.s51", "p4.s52", "p4.s53"]},
    "05_feasibility": {
        1: ["p5.title"],
        2: ["p5.s61", "p5.s62", "p5.s63", "p5.s64", "p5.s65", "p5.s66"],
    },
}
#: key figures each notebook records for the batch index
RECORDS = {
    "04_options": {"options_count", "options.feasible_no_low", "options.preliminary_medium_high"},
    "05_feasibility": {"feasibility.candidates", "feasibility.recommended"},
}


def run(notebook: str, out: Path, cwd: Path = NOTEBOOKS, **params) -> subprocess.CompletedProcess:
    """The plain papermill CLI, as a user types it."""
    # a generous kernel start-up time: the machine is shared, kernels start slowly under load
    cmd = [str(PAPERMILL), str(NOTEBOOKS / f"{notebook}.ipynb"), str(out), "--start-timeout", "300"]
    for key, value in params.items():
        if isinstance(value, str):
            cmd += ["-p", key, value]
        else:
            cmd += ["-y", f"{key}: {json.dumps(value)}"]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1800)


def outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def html_text(nb) -> str:
    return "\n".join(
        o.get("data", {}).get("text/html", "")
        if isinstance(o.get("data", {}).get("text/html", ""), str)
        else "".join(o["data"]["text/html"])
        for o in outputs(nb)
    )


def headings(nb, level: int) -> list[str]:
    found = re.findall(rf"<h{level}[^>]*>(.*?)</h{level}>", html_text(nb), flags=re.S)
    return [html.unescape(h) for h in found]


def errors(nb) -> list[dict]:
    return [o for o in outputs(nb) if o.get("output_type") == "error"]


def records(nb) -> dict[str, dict]:
    return {
        o["data"][RECORD_MIME]["key"]: o["data"][RECORD_MIME]
        for o in outputs(nb)
        if RECORD_MIME in o.get("data", {})
    }


# --------------------------------------------------------------------------- committed form
@pytest.mark.parametrize("notebook", sorted(HEADINGS))
def test_committed_notebook_shape(notebook):
    nb = nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in code:
        assert c.outputs == [] and c.execution_count is None, "commit without outputs"
    assert code[0].metadata.get("tags") == ["parameters"]
    for name in ("dataset", "lang", "interactive", "teaching"):
        assert re.search(rf"^{name} = ", code[0].source, flags=re.M)
    assert "remove" in code[1].metadata.get("tags", [])
    assert "open_phase(" in code[1].source
    for c in nb.cells:
        if c.cell_type == "markdown":
            assert "remove" in c.metadata.get("tags", []), "markdown is a developer note"
    # no maths, loops or formatting rules in cells: narrative, parameters and calls
    for c in code[1:]:
        for word in ("for ", "while ", "if ", "lambda", "def ", "import pandas", "+ ", " * "):
            assert word not in c.source, f"{word!r} in cell: {c.source}"


# --------------------------------------------------------------------------- batch runs
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("notebook", sorted(HEADINGS))
def test_notebook_runs_with_the_papermill_cli(notebook, sample, lang, tmp_path):
    out = tmp_path / f"{notebook}.ipynb"
    res = run(
        notebook,
        out,
        dataset=f"data/samples/{sample}",
        lang=lang,
        interactive=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    assert not errors(nb)
    for level, keys in HEADINGS[notebook].items():
        shown = headings(nb, level)
        for key in keys:
            assert i18n.t(key, lang) in shown, (key, shown)
    assert RECORDS[notebook] <= set(records(nb))
    text = html_text(nb)
    assert "cdn.jsdelivr" not in text and "<script" not in text  # static, offline output
    assert "<svg" in text  # the charts, inline
    assert not any(WIDGET_MIME in o.get("data", {}) for o in outputs(nb))
    # nothing from teaching mode when it is off
    assert "cp-teach" not in text and "cp-exercise" not in text
    # the other language's chapter title must not appear
    other = "en" if lang == "zh" else "zh"
    assert i18n.t(HEADINGS[notebook][1][0], other) not in text


def test_runs_from_the_repository_root(tmp_path):
    """The default dataset path works from the repository root as well."""
    out = tmp_path / "o.ipynb"
    res = run("04_options", out, cwd=ROOT, interactive=False)
    assert res.returncode == 0, res.stderr[-3000:]
    assert not errors(nbformat.read(out, as_version=4))


@pytest.mark.parametrize("notebook", sorted(HEADINGS))
def test_teaching_and_interactive_paths_execute(notebook, tmp_path):
    out = tmp_path / f"{notebook}.ipynb"
    res = run(
        notebook,
        out,
        dataset="data/samples/sample-plating",
        lang="zh",
        interactive=True,
        teaching=True,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    assert not errors(nb)
    text = html_text(nb)
    assert "cp-teach" in text  # explanations and formulas
    assert "cp-math" in text and "<svg" in text  # formulas drawn offline
    assert "cp-exercise" in text  # the exercises' questions
    assert any(WIDGET_MIME in o.get("data", {}) for o in outputs(nb))  # sliders


# --------------------------------------------------------------------------- error paths
def _error_text(nb) -> str:
    errs = errors(nb)
    assert errs, "the notebook should stop with an error"
    return "\n".join("\n".join(e.get("traceback", [])) + e.get("evalue", "") for e in errs)


@pytest.mark.parametrize(
    ("notebook", "params", "message"),
    [
        ("04_options", {"dataset": "data/samples/no-such-enterprise"}, "dataset not found"),
        ("05_feasibility", {"lang": "fr"}, "parameter lang must be one of"),
        ("05_feasibility", {"mc_draws": -5}, "mc_draws must be a whole number"),
        ("05_feasibility", {"discount_rate": 7}, "parameter discount_rate = 7"),
        ("05_feasibility", {"tax_rate": 1.0}, "tax rate 1 must be a fraction in [0, 1)"),
        ("04_options", {"cost_class_thresholds": "atlantis"}, "atlantis"),
        ("05_feasibility", {"risk_options": "F99"}, "risk_options names F99"),
    ],
)
def test_bad_parameters_give_a_short_clear_message(notebook, params, message, tmp_path):
    out = tmp_path / "bad.ipynb"
    res = run(notebook, out, interactive=False, **params)
    assert res.returncode != 0
    nb = nbformat.read(out, as_version=4)
    text = _error_text(nb)
    assert message in text
    # a message, not a traceback wall: no frames of cpkit's or pandas' code
    assert "site-packages" not in text and 'File "' not in text
    shown = html_text(nb)
    assert "cp-warning" in shown and html.escape(message) in shown
