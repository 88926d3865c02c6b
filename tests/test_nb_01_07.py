"""Notebooks 01 (planning and organisation) and 07 (continuous CP and the round's summary)
run with the plain papermill CLI, as a user or the batch renderer runs them.

For every sample dataset x language x notebook: the run succeeds, the executed notebook
has the chapter and section headings of the message catalogue (h1/h2) and no error
output, and notebook 07 records the key figures of the round. The teaching and
interactive paths run once per notebook (widgets execute headless). A missing dataset,
an unknown language and an invalid parameter value give a one-line cpkit error, not a
traceback wall. Each run writes into its own temporary directory (pytest-xdist safe).
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import nbformat
import pytest

from cpkit import i18n
from cpkit.render.record import collect

ROOT = Path(__file__).resolve().parent.parent
PAPERMILL = Path(sys.executable).with_name("papermill")
SAMPLES = sorted(p for p in (ROOT / "data" / "samples").glob("sample-*") if p.is_dir())
NOTEBOOKS = {
    "01": ROOT / "notebooks" / "01_planning.ipynb",
    "07": ROOT / "notebooks" / "07_continuous.ipynb",
}
#: The headings each notebook must emit (message keys, level).
HEADINGS = {
    "01": [("p1.h.preface", 1), ("p1.h.background", 2), ("p1.h.basis", 2), ("p1.h.ch1", 1)]
    + [(f"p1.h.s1_{i}", 2) for i in range(1, 6)]
    + [("p1.h.ch2", 1)]
    + [(f"p1.h.s2_{i}", 2) for i in range(1, 6)],
    "07": [("p7.h.ch8", 1)]
    + [(f"p7.h.s8_{i}", 2) for i in range(1, 5)]
    + [("p7.h.ch9", 1)]
    + [(f"p7.h.s9_{i}", 2) for i in range(1, 7)],
}
RECORDED_07 = {
    "options_count",
    "investment_10k_cny",
    "benefit_10k_cny",
    "cp_level",
    "targets_attained",
    "targets_total",
    "selfcheck_missing",
}
_HEADING = re.compile(r"<h([1-4])[^>]*>(.*?)</h\1>", re.S)


def run(nb: str, tmp: Path, *params: str, check: bool = True) -> tuple[nbformat.NotebookNode, str]:
    """Run a notebook with the papermill CLI from the repository root."""
    out = tmp / f"{nb}_out.ipynb"
    args = [str(PAPERMILL), str(NOTEBOOKS[nb]), str(out), "--log-output", "--no-progress-bar"]
    for p in params:
        args += p.split(" ", 2)
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return nbformat.read(out, as_version=4), proc.stderr


def headings(book: nbformat.NotebookNode) -> list[tuple[int, str]]:
    found = []
    for cell in book.cells:
        for out in cell.get("outputs", []):
            html = (out.get("data") or {}).get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            found += [(int(lv), text) for lv, text in _HEADING.findall(html)]
    return found


def errors(book: nbformat.NotebookNode) -> list[str]:
    return [
        f"{o.get('ename')}: {o.get('evalue')}"
        for c in book.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def stream_text(book: nbformat.NotebookNode) -> str:
    return "".join(
        "".join(o.get("text", ""))
        for c in book.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


@cache
def escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
@pytest.mark.parametrize("nb", sorted(NOTEBOOKS))
def test_notebook_runs(nb, sample, lang, tmp_path):
    book, _ = run(
        nb,
        tmp_path,
        f"-p dataset {sample.relative_to(ROOT)}",
        f"-p lang {lang}",
        "-p interactive False",
    )
    assert errors(book) == []
    got = headings(book)
    for key, level in HEADINGS[nb]:
        assert (level, escaped(i18n.t(key, lang))) in got, f"missing heading {key} ({lang})"
    # chapter order as in seed 004 Appendix B
    h1 = [text for lv, text in got if lv == 1]
    want = [escaped(i18n.t(k, lang)) for k, lv in HEADINGS[nb] if lv == 1]
    assert [t for t in h1 if t in want] == want
    # no warnings or prints reach the output (the report is built from display outputs)
    assert "Warning" not in stream_text(book)
    if nb == "07":
        rec = collect([book])
        assert set(rec) >= RECORDED_07, sorted(rec)
        assert rec["options_count"]["value"] > 0
    if nb == "01":
        annex = [c for c in book.cells if "annex" in c.metadata.get("tags", [])]
        assert annex and annex[0].outputs, "the registration form (annex) is empty"


@pytest.mark.parametrize("nb", sorted(NOTEBOOKS))
def test_teaching_and_interactive_paths(nb, tmp_path):
    sample = SAMPLES[0].relative_to(ROOT)
    book, _ = run(
        nb,
        tmp_path,
        f"-p dataset {sample}",
        "-p lang zh",
        "-p interactive True",
        "-p teaching True",
    )
    assert errors(book) == []
    html = "".join(
        "".join(o["data"]["text/html"])
        if isinstance(o["data"]["text/html"], list)
        else o["data"]["text/html"]
        for c in book.cells
        for o in c.get("outputs", [])
        if "text/html" in (o.get("data") or {})
    )
    assert 'class="cp-teach' in html  # explanations
    assert "<svg" in html  # formulas drawn offline
    assert 'class="cp-exercise"' in html  # exercises
    widgets = [
        o
        for c in book.cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in (o.get("data") or {})
    ]
    assert widgets, "interactive=True shows a widget"


@pytest.mark.parametrize("nb", sorted(NOTEBOOKS))
def test_teaching_off_shows_no_teaching(nb, tmp_path):
    sample = SAMPLES[0].relative_to(ROOT)
    book, _ = run(nb, tmp_path, f"-p dataset {sample}", "-p interactive False")
    text = str(book)
    assert "cp-teach" not in text and "cp-exercise" not in text
    assert "None" not in [
        "".join(o.get("data", {}).get("text/plain", ""))
        for c in book.cells
        for o in c.get("outputs", [])
    ]


@pytest.mark.parametrize(
    ("nb", "params", "message"),
    [
        ("01", ["-p dataset data/samples/no-such-sample"], "dataset not found"),
        ("07", ["-p dataset data/samples/no-such-sample"], "dataset not found"),
        ("01", ["-p lang fr"], "parameter lang must be one of"),
        ("07", ["-p cost_class_thresholds no_such_set"], "unknown cost-class threshold set"),
        ("07", ["-p no_low_cost_max_10k_cny -5"], "parameter no_low_cost_max_10k_cny = -5"),
    ],
)
def test_bad_input_gives_a_short_cpkit_error(nb, params, message, tmp_path):
    book, _ = run(nb, tmp_path, "-p interactive False", *params, check=False)
    errs = [
        (i, o)
        for i, c in enumerate(book.cells)
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert len(errs) == 1
    cell, err = errs[0]
    assert "open_phase" in book.cells[cell].source  # fails at set-up, before any chapter text
    assert err["ename"].endswith("Error")
    assert message in err["evalue"]
    # the kernel shows cpkit errors (CpkitError and its subclasses) as one line
    assert len(err["traceback"]) <= 3


def test_notebooks_are_committed_clean():
    """No outputs, no execution counts, kernel python3, a parameters cell first among code
    cells, the set-up cell tagged remove, markdown cells tagged remove."""
    for path in NOTEBOOKS.values():
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        assert book.metadata["kernelspec"]["name"] == "python3"
        code = [c for c in book.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", [])
        assert "open_phase" in code[1].source and "remove" in code[1].metadata.get("tags", [])
        for c in code:
            assert c.outputs == [] and c.execution_count is None, path.name
            assert not re.search(r"^\s*(for|while)\b", c.source, re.M), c.source
        for c in book.cells:
            if c.cell_type == "markdown":
                assert "remove" in c.metadata.get("tags", [])
