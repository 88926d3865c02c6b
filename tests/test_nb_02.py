"""Notebook 02 (pre-assessment, report chapter 3) run with the plain papermill CLI.

For every sample dataset and both languages the notebook must execute without an error
output and show the chapter's headings (h1 chapter, h2 sections 3.1-3.9, texts from the
message catalogue) and hand its key figures to the batch index. The teaching and the
interactive paths run once each; bad parameters give a short cpkit message, not a
traceback wall. The committed notebook has no outputs and its cells hold calls only.
"""

from __future__ import annotations

import ast
import html
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbtools import errors, headings, outputs

from cpkit import i18n
from cpkit.render.record import RECORD_MIME

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "02_pre_assessment.ipynb"
PAPERMILL = Path(sys.executable).parent / "papermill"
SAMPLES = sorted(p.parent for p in (ROOT / "data" / "samples").glob("*/enterprise.yaml"))
SECTIONS = [f"s3{i}" for i in range(1, 10)]


def run(
    tmp_path: Path, *params: str, name: str = "out.ipynb"
) -> tuple[int, str, nbformat.NotebookNode]:
    out = tmp_path / name
    args = [str(PAPERMILL), str(NOTEBOOK), str(out), "--cwd", str(ROOT), "-k", "python3"]
    for i in range(0, len(params), 2):
        args += ["-p", params[i], params[i + 1]]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT)
    nb = nbformat.read(out, as_version=4) if out.exists() else nbformat.v4.new_notebook()
    return proc.returncode, proc.stderr, nb


# ----------------------------------------------------------------------------- the file
def test_committed_notebook_is_clean_and_holds_calls_only():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in code:
        assert c.get("outputs") == [] and c.get("execution_count") is None
    assert code[0].metadata.get("tags") == ["parameters"]
    params = {
        t.targets[0].id: ast.literal_eval(t.value)
        for t in ast.parse(code[0].source).body
        if isinstance(t, ast.Assign)
    }
    assert params == {
        "dataset": "data/samples/sample-plating",
        "lang": "zh",
        "interactive": True,
        "teaching": False,
        "weights": None,
        "electricity_basis": None,
        "equal_value_kgce_per_kwh": None,
        "grid_factor_year": None,
    }
    assert code[1].metadata.get("tags") == ["remove"] and "open_phase" in code[1].source
    for c in nb.cells:
        if c.cell_type == "markdown":
            assert "remove" in c.metadata.get("tags", [])
    # no maths and no loops in cells: calls, names, constants and assignments only
    banned = (ast.For, ast.While, ast.comprehension, ast.BinOp, ast.If, ast.Lambda, ast.FunctionDef)
    for c in code:
        for node in ast.walk(ast.parse(c.source)):
            assert not isinstance(node, banned), (c.source, type(node).__name__)
    assert any("annex" in c.metadata.get("tags", []) for c in code)


# ----------------------------------------------------------------------------- runs
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("dataset", SAMPLES, ids=lambda p: p.name)
def test_papermill_run(tmp_path, dataset, lang):
    rc, stderr, nb = run(
        tmp_path,
        "dataset",
        str(dataset.relative_to(ROOT)),
        "lang",
        lang,
        "interactive",
        "False",
    )
    assert rc == 0, stderr[-2000:]
    assert errors(nb) == []
    h = headings(nb)
    assert h[1] == [i18n.t("p2.chapter", lang)]
    expected = [i18n.t(f"p2.{k}", lang) for k in SECTIONS]
    assert [x for x in h[2] if x in expected] == expected  # all nine, in order
    assert i18n.t("p2.h.annex_materials", lang) in h[2]
    assert i18n.t("p2.h.matrix", lang) in h[3]
    body = "".join(outputs(nb))
    assert "<svg" in body  # static charts, nothing from a CDN
    assert "cdn.jsdelivr" not in body and "<script" not in body
    # a section that could not be computed would say so; the samples are complete
    assert i18n.raw("p2.cannot_compute", lang).split("{")[0] not in body
    records = {json.loads(r)["key"]: json.loads(r) for r in outputs(nb, RECORD_MIME)}
    for key in ("energy_tce", "water_intake_m3", "cp_level", "co2_t"):
        assert key in records, key
    assert records["energy_tce"]["value"] > 0
    # widgets only in interactive mode
    assert outputs(nb, "application/vnd.jupyter.widget-view+json") == []


def test_teaching_and_interactive_run(tmp_path):
    rc, stderr, nb = run(
        tmp_path,
        "dataset",
        "data/samples/sample-plating",
        "lang",
        "zh",
        "interactive",
        "True",
        "teaching",
        "True",
    )
    assert rc == 0, stderr[-2000:]
    assert errors(nb) == []
    body = "".join(outputs(nb))
    assert body.count('class="cp-teach') >= 6  # explanations and formulas
    assert body.count('class="cp-exercise"') == 3  # tce, grading, scoring
    assert i18n.raw("p2.teach.tce", "zh")[:20] in body
    assert outputs(nb, "application/vnd.jupyter.widget-view+json")  # the weight sliders
    # what the sliders drew on execution: the ranking table, no exception inside the widget
    state = json.dumps(nb.metadata.get("widgets", {}))
    assert "cp-table" in state and "Traceback" not in state


def test_weights_parameter_reranks(tmp_path):
    # cooperation W 5 -> 20 adds 15 x R(cooperation): C1 408 + 15 x 8 = 528,
    # C2 359 + 15 x 6 = 449, C3 326 + 15 x 7 = 431, C4 215 + 15 x 7 = 320
    rc, stderr, nb = run(
        tmp_path, "lang", "en", "interactive", "False", "weights", '{"cooperation": 20}'
    )
    assert rc == 0, stderr[-2000:]
    body = "".join(outputs(nb))
    assert "528.0" in body and "449.0" in body
    assert i18n.t("p2.weight_source.user", "en") in body


@pytest.mark.parametrize(
    "params, message",
    [
        (("dataset", "data/samples/no-such-enterprise"), "dataset not found"),
        (("lang", "fr"), "lang must be one of"),
        (("weights", '{"beauty": 3}'), "unknown criteria"),
        (("weights", "toxicity=30"), "outside the scale"),
        (("electricity_basis", "coal"), "invalid parameter value"),
        (("electricity_basis", "equal_value"), "equal_value_kgce_per_kwh"),
    ],
)
def test_bad_parameters_give_a_short_message(tmp_path, params, message):
    rc, _, nb = run(tmp_path, "interactive", "False", *params)
    assert rc != 0
    errs = errors(nb)
    assert len(errs) == 1 and message in errs[0]
    # the kernel shows a cpkit note and a one-line traceback, not a traceback wall
    tb = next(
        out["traceback"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    )
    assert len(tb) <= 3
    assert any("cp-warning" in h and message in html.unescape(h) for h in outputs(nb))


def test_missing_grid_factor_year_is_a_section_warning(tmp_path):
    rc, stderr, nb = run(tmp_path, "lang", "en", "interactive", "False", "grid_factor_year", "1990")
    assert rc == 0, stderr[-2000:]
    body = html.unescape("".join(outputs(nb)))
    assert "This part cannot be computed" in body and "1990" in body
    assert i18n.t("p2.s34", "en") in body  # the chapter goes on
