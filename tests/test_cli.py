"""cpkit.cli: the command line (validate, export-xlsx, export-folder, template, schema-doc)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import cpkit
from cpkit import cli, excel
from cpkit import dataset as D
from cpkit.schema import markdown

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "minimal"


def run(*args: str):
    return CliRunner().invoke(cli.main, [str(a) for a in args])


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert cpkit.__version__ in result.output


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("cpkit")
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert cpkit.__version__ in out.stdout


def test_validate_ok_and_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(FIXTURE, broken)
    (broken / "team.csv").unlink()
    result = run("validate", FIXTURE, broken)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"OK {FIXTURE}"
    assert any("missing required table team" in line and "team.csv" in line for line in lines)
    assert run("validate", FIXTURE).exit_code == 0


def test_validate_never_prints_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    garbage = tmp_path / "x.xlsx"
    garbage.write_bytes(b"garbage")
    result = run("validate", missing, garbage)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{missing}: no such file or folder" in result.output
    assert "not a readable .xlsx workbook" in result.output


def test_validate_needs_a_path() -> None:
    result = run("validate")
    assert result.exit_code == 2
    assert "Missing argument" in result.output


def test_exports_and_template(tmp_path: Path) -> None:
    book = tmp_path / "d.xlsx"
    assert run("export-xlsx", FIXTURE, book).exit_code == 0
    result = run("export-folder", book, tmp_path / "back", "--bom")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "back" / "units.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert D.load(tmp_path / "back", cache=False) == D.load(FIXTURE, cache=False)
    result = run("template", tmp_path / "t.xlsx")
    assert result.exit_code == 0 and (tmp_path / "t.xlsx").is_file()


def test_export_errors_are_one_line(tmp_path: Path) -> None:
    result = run("export-xlsx", FIXTURE, tmp_path / "d.csv")
    assert result.exit_code == 1
    assert "must end in .xlsx" in result.output
    result = run("template", tmp_path / "t.txt")
    assert result.exit_code == 1
    result = run("export-xlsx", tmp_path / "missing", tmp_path / "d.xlsx")
    assert result.exit_code == 1
    assert "no such file or folder" in result.output
    assert "Traceback" not in result.output
    bad = tmp_path / "bad"
    shutil.copytree(FIXTURE, bad)
    (bad / "units.csv").write_bytes("单元".encode("gb18030"))
    result = run("export-xlsx", bad, tmp_path / "d.xlsx")
    assert result.exit_code == 1
    assert "not UTF-8" in result.output


def test_unexpected_errors_are_one_line(tmp_path: Path, monkeypatch) -> None:
    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(excel, "export_xlsx", boom)
    monkeypatch.setattr(excel, "write_template", boom)
    result = run("export-xlsx", FIXTURE, tmp_path / "d.xlsx")
    assert result.exit_code == 1
    assert "disk on fire" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setattr(cli, "replace_generated", boom)
    (tmp_path / "doc.md").write_text("x", "utf-8")
    result = run("schema-doc", "--write", tmp_path / "doc.md")
    assert result.exit_code == 1 and "disk on fire" in result.output


def test_invalid_datasets_can_be_exported(tmp_path: Path) -> None:
    """Exports copy values as written, so a dataset with problems can be fixed in Excel."""
    bad = tmp_path / "bad"
    shutil.copytree(FIXTURE, bad)
    f = bad / "units.csv"
    f.write_text(
        f.read_text(encoding="utf-8").replace("U1,前处理,除油酸洗,1", "U1,前处理,除油酸洗,first")
    )
    assert run("export-xlsx", bad, tmp_path / "bad.xlsx").exit_code == 0
    result = run("validate", tmp_path / "bad.xlsx")
    assert result.exit_code == 1
    assert "sheet units, row 3, column order: 'first' is not a number" in result.output


def test_schema_doc_prints_and_writes(tmp_path: Path) -> None:
    result = run("schema-doc")
    assert result.exit_code == 0
    assert result.output == markdown()
    doc = tmp_path / "doc.md"
    doc.write_text(
        f"intro\n{cli.GENERATED_BEGIN}\nSTALE-TEXT\n{cli.GENERATED_END}\noutro\n", "utf-8"
    )
    assert run("schema-doc", "--write", doc).exit_code == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("intro\n") and text.endswith("outro\n") and "STALE-TEXT" not in text
    assert markdown() in text
    doc.write_text("no markers", "utf-8")
    result = run("schema-doc", "--write", doc)
    assert result.exit_code == 1 and "markers" in result.output


def test_docs_reference_is_up_to_date() -> None:
    """docs/dataset.md holds what `cpkit schema-doc` generates today
    (regenerate: .venv/bin/cpkit schema-doc --write docs/dataset.md)."""
    text = (ROOT / "docs" / "dataset.md").read_text(encoding="utf-8")
    assert cli.replace_generated(text, markdown()) == text


@pytest.mark.parametrize("table", ["streams", "history", "options"])
def test_docs_list_every_column(table: str) -> None:
    from cpkit.schema import schema

    text = markdown()
    for col in schema().tables[table].columns:
        assert f"| `{col.name}` |" in text
