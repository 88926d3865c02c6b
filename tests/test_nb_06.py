"""Notebook 06 (implementation, report chapter 7) run with the plain papermill CLI.

For every sample and language: the run succeeds, the executed notebook has the chapter's
headings (texts from the message catalogue), no error output, the key figures for the
batch index, and its annex cell. The teaching and interactive paths run headless too,
and bad parameters give a short message instead of a traceback wall.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cpkit import i18n
from cpkit.errors import CpkitError
from cpkit.render.record import RECORD_MIME

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "06_implementation.ipynb"
PAPERMILL = Path(sys.executable).with_name("papermill")
SAMPLES = ("sample-plating", "sample-dyeing", "sample-painting")
SECTIONS = ("s71", "s72", "s73", "s74", "s75", "s76")


def _sample_or_skip(sample: str) -> str:
    from cpkit.dataset import load

    path = ROOT / "data" / "samples" / sample
    try:
        load(path)
    except CpkitError as exc:
        pytest.skip(f"{sample} does not load yet: {str(exc).splitlines()[0]}")
    return f"data/samples/{sample}"


def run(tmp_path: Path, *params: str, cwd: Path = ROOT) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "out.ipynb"
    args = [str(PAPERMILL), str(NOTEBOOK), str(out), "--no-progress-bar"]
    args += ["--execution-timeout", "300"]
    for i in range(0, len(params), 2):
        args += ["-p", params[i], params[i + 1]]
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=900)
    return proc, out


def outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def html_text(nb) -> str:
    return "".join(
        o.get("data", {}).get("text/html", "")
        for o in outputs(nb)
        if o.get("output_type") == "display_data"
    )


def records(nb) -> dict[str, dict]:
    found = {}
    for o in outputs(nb):
        payload = o.get("data", {}).get(RECORD_MIME)
        if payload:
            found[payload["key"]] = payload
    return found


def test_notebook_is_committed_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "remove" in code[1].metadata.get("tags", []) and "open_phase" in code[1].source
    assert any("annex" in c.metadata.get("tags", []) for c in code)
    # markdown cells are developer notes, removed from reports
    assert all(
        "remove" in c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "markdown"
    )
    # no maths and no loops in cells: narrative, parameters and calls only
    for c in code:
        assert "for " not in c.source and "while " not in c.source and "if " not in c.source


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("sample", SAMPLES)
def test_papermill_run(tmp_path, sample, lang):
    dataset = _sample_or_skip(sample)
    proc, out = run(tmp_path, "dataset", dataset, "lang", lang, "interactive", "False")
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    assert not [o for o in outputs(nb) if o.get("output_type") == "error"]
    assert not [
        o for o in outputs(nb) if o.get("name") == "stderr" and "Traceback" in o.get("text", "")
    ]
    html = html_text(nb)
    assert f"<h1>{i18n.t('p6.chapter', lang)}</h1>" in html
    for s in SECTIONS:
        heading = i18n.t(f"p6.{s}.title", lang)
        assert f"<h2>{heading}</h2>" in html.replace("&amp;", "&"), heading
    assert i18n.t("p6.s71.plan_caption", lang) in html
    # charts are inline SVG (batch), nothing loads from a CDN
    assert '<div class="cp-chart"><svg' in html
    assert "cdn.jsdelivr" not in json.dumps(nb)
    # teaching is off: no explanation, formula or exercise
    assert "cp-teach" not in html and "cp-exercise" not in html
    # the annex cell holds the Hainan performance table
    annex = [c for c in nb.cells if "annex" in c.metadata.get("tags", [])]
    assert i18n.t("p6.annex.title", lang) in "".join(
        o.get("data", {}).get("text/html", "") for c in annex for o in c.outputs
    )
    rec = records(nb)
    for key in ("investment_10k_cny", "benefit_10k_cny", "options_implemented"):
        assert key in rec
    if sample != "sample-painting":
        assert rec["cp_level"]["value"] == "II"


def test_teaching_and_interactive_paths_execute(tmp_path):
    proc, out = run(
        tmp_path,
        "dataset",
        "data/samples/sample-plating",
        "lang",
        "zh",
        "interactive",
        "True",
        "teaching",
        "True",
        cwd=ROOT / "notebooks",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    assert not [o for o in outputs(nb) if o.get("output_type") == "error"]
    html = html_text(nb)
    assert "cp-teach" in html and "cp-math" in html and "cp-exercise" in html
    assert i18n.t("p6.teach.reduction.explain", "zh").split("\n")[0][:20] in html
    widgets = [
        o for o in outputs(nb) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert len(widgets) >= 3  # effects, evaluation and reduction selectors
    # no cell waited for a timeout (jupyter/nbclient#312 would stall widget cells)
    slow = [c.metadata["papermill"]["duration"] for c in nb.cells if c.cell_type == "code"]
    assert max(slow) < 120


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (("dataset", "data/samples/no-such-enterprise"), "dataset not found"),
        (("lang", "fr"), "lang must be one of"),
        (("after_year", "2031"), "no rows for 2031"),
        (("discount_rate", "1.5"), "invalid parameter value"),
    ],
)
def test_bad_parameters_give_a_short_message(tmp_path, params, message):
    proc, out = run(tmp_path, *params, "interactive", "False")
    assert proc.returncode != 0
    nb = nbformat.read(out, as_version=4)
    errors = [o for o in outputs(nb) if o.get("output_type") == "error"]
    assert errors and message in errors[0]["evalue"]
    # a one-line traceback, not a wall
    assert len(errors[0]["traceback"]) <= 3
    assert message in html_text(nb)
