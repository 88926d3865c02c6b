"""Build the broken-dataset corpus of cases.yaml from the minimal fixture.

Each case starts from ``tests/fixtures/minimal`` (folder face) or its workbook export
(``face: xlsx``) and applies a few edits; the test in ``tests/test_validate.py`` checks that
``cpkit.validate`` reports the expected message at the expected place.

Materialise the corpus for a look by hand::

    .venv/bin/python tests/broken/corpus.py /tmp/broken
    .venv/bin/cpkit validate /tmp/broken/*
"""

from __future__ import annotations

import csv
import io
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "fixtures" / "minimal"
CASES = HERE / "cases.yaml"


def cases() -> list[dict[str, Any]]:
    """The cases of cases.yaml (each: id, face, edits, expect, optional where)."""
    with open(CASES, encoding="utf-8") as fh:
        return yaml.safe_load(fh)["cases"]


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{path.name}: {old!r} found {count} times (need exactly once)")
    path.write_text(text.replace(old, new), encoding="utf-8")


def _drop_column(path: Path, column: str) -> None:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    j = rows[0].index(column)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([r[:j] + r[j + 1 :] for r in rows])
    path.write_text(buf.getvalue(), encoding="utf-8")


def _folder_edit(root: Path, edit: dict[str, Any]) -> None:
    op = edit["op"]
    if op == "replace":
        _replace(root / edit["file"], edit["old"], edit["new"])
    elif op == "append":
        with open(root / edit["file"], "a", encoding="utf-8") as fh:
            fh.write(edit["text"])
    elif op == "delete":
        (root / edit["file"]).unlink()
    elif op == "rename":
        (root / edit["file"]).rename(root / edit["to"])
    elif op == "encode":
        path = root / edit["file"]
        path.write_bytes(path.read_text(encoding="utf-8").encode(edit["encoding"]))
    elif op == "drop_column":
        _drop_column(root / edit["file"], edit["column"])
    else:
        raise ValueError(f"unknown folder edit {op!r}")


def _find_row(ws: Any, key: str) -> int:
    for row in ws.iter_rows(min_row=1):
        if len(row) > 1 and row[1].value is not None and str(row[1].value) == key:
            return row[1].row
    raise AssertionError(f"sheet {ws.title}: no row with {key!r} in column B")


def _column_letter(ws: Any, name: str) -> int:
    for cell in ws[1]:
        if cell.value == name:
            return cell.column
    raise AssertionError(f"sheet {ws.title}: no column {name!r}")


def _xlsx_edit(path: Path, edit: dict[str, Any]) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    op = edit["op"]
    if op == "set":
        ws = wb[edit["sheet"]]
        row = _find_row(ws, edit["key"])
        col = _column_letter(ws, edit.get("column", "value"))
        ws.cell(row=row, column=col).value = edit["value"]
    elif op == "rename_sheet":
        wb[edit["sheet"]].title = edit["to"]
    elif op == "delete_sheet":
        del wb[edit["sheet"]]
    else:
        raise ValueError(f"unknown xlsx edit {op!r}")
    wb.save(path)


def build(case: dict[str, Any], dest: Path) -> Path:
    """Write the broken dataset of ``case`` under ``dest``; returns its path."""
    from cpkit import excel

    folder = dest / case["id"]
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(FIXTURE, folder)
    edits = case.get("edits", [])
    if case.get("face", "folder") == "xlsx":
        for edit in edits:
            if edit.get("before_export"):
                _folder_edit(folder, edit)
        book = dest / f"{case['id']}.xlsx"
        excel.export_xlsx(folder, book)
        shutil.rmtree(folder)
        for edit in edits:
            if not edit.get("before_export"):
                _xlsx_edit(book, edit)
        return book
    for edit in edits:
        _folder_edit(folder, edit)
    return folder


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "broken-corpus")
    out.mkdir(parents=True, exist_ok=True)
    for c in cases():
        print(build(c, out))
