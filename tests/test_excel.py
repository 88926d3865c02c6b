"""cpkit.excel: the workbook face, round trips between faces, and the data-entry template."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from cpkit import cli, excel
from cpkit import dataset as D
from cpkit import validate as V
from cpkit.schema import schema

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "minimal"
TEMPLATE = ROOT / "templates" / "cpkit_dataset_template.xlsx"
SAMPLES = sorted(p for p in (ROOT / "data" / "samples").glob("*") if p.is_dir())
DATASETS = [FIXTURE, *SAMPLES]


def _where(problems):
    """Problems without their location, to compare the two faces of one dataset. A
    workbook always has a sheet per table, so an absent table file becomes an empty
    sheet: both are the same missing data."""
    out = []
    for p in problems:
        m = re.match(r"missing required table (\w+) |table (\w+) .* has no rows", p.message)
        out.append(f"no rows: {m.group(1) or m.group(2)}" if m else p.message)
    return sorted(out)


@pytest.mark.parametrize("folder", DATASETS, ids=[p.name for p in DATASETS])
def test_round_trip_through_the_cli(folder: Path, tmp_path: Path) -> None:
    """Folder → workbook (cpkit export-xlsx) → load: equal to loading the folder.

    For a dataset that is not valid (a sample still being written), both faces must
    report the same problems instead.
    """
    book = tmp_path / f"{folder.name}.xlsx"
    result = CliRunner().invoke(cli.main, ["export-xlsx", str(folder), str(book)])
    assert result.exit_code == 0, result.output
    problems = V.validate(folder)
    if problems:
        assert _where(V.validate(book)) == _where(problems)
        return
    a = D.load(folder, cache=False)
    b = D.load(book, cache=False)
    assert a == b, "\n".join(a.differences(b))


@pytest.mark.parametrize("folder", DATASETS, ids=[p.name for p in DATASETS])
def test_round_trip_back_to_a_folder(folder: Path, tmp_path: Path) -> None:
    """Folder → workbook → folder (cpkit export-folder) keeps every value."""
    book = tmp_path / "d.xlsx"
    excel.export_xlsx(folder, book)
    result = CliRunner().invoke(cli.main, ["export-folder", str(book), str(tmp_path / "back")])
    assert result.exit_code == 0, result.output
    problems = V.validate(folder)
    if problems:
        assert _where(V.validate(tmp_path / "back")) == _where(problems)
        return
    assert D.load(tmp_path / "back", cache=False) == D.load(folder, cache=False)


def test_dataset_exports_in_canonical_units(tmp_path: Path) -> None:
    ds = D.load(FIXTURE, cache=False)
    excel.export_xlsx(ds, tmp_path / "ds.xlsx")
    excel.export_folder(ds, tmp_path / "ds")
    for path in (tmp_path / "ds.xlsx", tmp_path / "ds"):
        back = D.load(path, cache=False)
        assert back == ds, back.differences(ds)
    text = (tmp_path / "ds" / "streams.csv").read_text(encoding="utf-8")
    assert "S1,ENV,U1,工件,total,raw_material,2000,kg/d,measured,50" in text
    # only the parameters the dataset sets are written; defaults stay defaults
    yaml_text = (tmp_path / "ds" / "enterprise.yaml").read_text(encoding="utf-8")
    assert "discount_rate: 0.06" in yaml_text and "tax_rate" not in yaml_text


def test_exported_workbook_has_typed_cells(tmp_path: Path) -> None:
    book = tmp_path / "d.xlsx"
    excel.export_xlsx(FIXTURE, book)
    wb = load_workbook(book)
    ws = wb["training"]
    assert [c.value for c in ws[1]][:4] == ["#", "training_id", "date", "topic"]
    assert ws["A2"].value == excel.LABEL_MARK
    assert ws["C3"].value == dt.datetime(2024, 3, 8)
    assert ws["C3"].number_format == "yyyy-mm-dd"
    assert ws["G3"].value == 35 and ws["G4"].value is None  # "" stays empty
    assert wb["team"]["I3"].value is False
    ent = {r[1]: r[2] for r in wb["enterprise"].iter_rows(min_row=2, values_only=True)}
    assert ent["profile.staff"] == 40
    assert ent["profile.history_years"] == "2021; 2022; 2023"
    assert ent["profile.audit_start"] == dt.datetime(2024, 3, 1)
    measures = [
        r[2]
        for r in wb["enterprise"].iter_rows(min_row=2, values_only=True)
        if r[1] == "continuous.management_measures"
    ]
    assert measures == ["清洁生产管理制度", "计量管理办法"]  # long-text list: one row per item


def test_marked_rows_are_never_data(tmp_path: Path) -> None:
    book = tmp_path / "d.xlsx"
    excel.export_xlsx(FIXTURE, book)
    wb = load_workbook(book)
    ws = wb["units"]
    ws["A4"] = "临时 draft"  # U2's row, marked in column A
    wb.save(book)
    checked = V.check(book)
    assert checked.tables["units"]["unit_id"].tolist() == ["U1"]


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "d")
    f = tmp_path / "d" / "units.csv"
    f.write_text(f.read_text(encoding="utf-8").replace("除油酸洗", "=除油+酸洗"), "utf-8")
    excel.export_xlsx(tmp_path / "d", tmp_path / "d.xlsx")
    assert V.validate(tmp_path / "d.xlsx") == []
    ds = D.load(tmp_path / "d.xlsx")
    assert ds.tables["units"]["function"][0] == "=除油+酸洗"


def test_workbook_without_marker_column_and_list_rows(tmp_path: Path) -> None:
    """A hand-made workbook: no marker column, a list key on several rows."""
    ds = D.load(FIXTURE, cache=False)
    wb = Workbook()
    ws = wb.active
    ws.title = "enterprise"
    ws.append(["key", "value"])
    src = load_workbook(_export(FIXTURE, tmp_path))
    for row in src["enterprise"].iter_rows(min_row=2, values_only=True):
        if row[0] is None and row[1] and row[2] is not None:
            if row[1] == "profile.history_years":
                for year in (2021, 2022, 2023):
                    ws.append([row[1], year])
            else:
                ws.append([row[1], row[2]])
    for table in schema():
        if table.name not in src.sheetnames:
            continue
        sheet = src[table.name]
        rows = list(sheet.iter_rows(values_only=True))
        if len(rows) <= 2:
            continue
        out = wb.create_sheet(table.name)
        out.append(list(rows[0][1:]))
        for r in rows[2:]:
            out.append(list(r[1:]))
    path = tmp_path / "hand.xlsx"
    wb.save(path)
    assert V.validate(path) == []
    assert D.load(path) == ds


def _export(folder: Path, tmp_path: Path) -> Path:
    book = tmp_path / "src.xlsx"
    excel.export_xlsx(folder, book)
    return book


def test_formula_with_a_saved_result_is_read(tmp_path: Path) -> None:
    """A formula cell whose result Excel saved is read as its value."""
    book = _export(FIXTURE, tmp_path)
    wb = load_workbook(book)
    sheet_index = wb.sheetnames.index("meters") + 1
    wb.close()
    name = f"xl/worksheets/sheet{sheet_index}.xml"
    with zipfile.ZipFile(book) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    xml = parts[name].decode("utf-8")
    # K2's value (row 5, column H) = 70000; replace it by a formula with that saved result
    xml, n = re.subn(
        r'<c r="H5"([^>]*)><v>70000</v></c>', r'<c r="H5"\1><f>H4-20000</f><v>70000</v></c>', xml
    )
    assert n == 1
    parts[name] = xml.encode("utf-8")
    with zipfile.ZipFile(book, "w") as z:
        for n_, data in parts.items():
            z.writestr(n_, data)
    assert V.validate(book) == []
    assert D.load(book).tables["meters"]["value"].tolist() == [120000.0, 90000.0, 70000.0]


# ------------------------------------------------------------------ template


@pytest.fixture(scope="module")
def fresh_template(tmp_path_factory) -> Path:
    return excel.write_template(tmp_path_factory.mktemp("t") / "template.xlsx")


def _content(path: Path) -> dict:
    wb = load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        if ws.title != excel.LISTS_SHEET:
            out[ws.title] = [tuple(r) for r in ws.iter_rows(values_only=True)]
    return out


def test_committed_template_is_up_to_date(fresh_template: Path) -> None:
    """templates/cpkit_dataset_template.xlsx is what `cpkit template` writes today
    (regenerate: .venv/bin/cpkit template templates/cpkit_dataset_template.xlsx).

    The drop-down lists drawn from reference data (_lists: aspects, carriers, indicator
    systems ...) are left out: they grow as reference data is added, and their drop-downs
    only warn, so a value added later is still accepted."""
    assert _content(TEMPLATE) == _content(fresh_template)


def test_template_layout(fresh_template: Path) -> None:
    wb = load_workbook(fresh_template)
    s = schema()
    assert wb.sheetnames[0] == "_readme" and wb.sheetnames[1] == "enterprise"
    assert wb["_lists"].sheet_state == "hidden"
    for table in s:
        ws = wb[table.name]
        header = [c.value for c in ws[1]]
        assert header == ["#", *table.column_names, "note"], table.name
        assert ws["A2"].value == excel.LABEL_MARK and ws["A3"].value == excel.EXAMPLE_MARK
        assert ws.freeze_panes == "B3"
        for j, col in enumerate(table.columns, start=2):
            comment = ws.cell(row=1, column=j).comment
            assert comment is not None and col.en in comment.text
            label = ws.cell(row=2, column=j).value
            assert col.zh in label and ("必填" in label) == col.required
        enums = {c.name for c in table.columns if c.allowed}
        covered = " ".join(str(dv.sqref) for dv in ws.data_validations.dataValidation)
        for j, col in enumerate(table.columns, start=2):
            if col.name in enums:
                letter = ws.cell(row=1, column=j).column_letter
                assert f"{letter}4:" in covered, (table.name, col.name)
        widths = [ws.column_dimensions[c.column_letter].width for c in ws[1][1:]]
        assert all(w and w >= 12 for w in widths)
    keys = [r[1] for r in wb["enterprise"].iter_rows(min_row=2, values_only=True) if r[0] is None]
    assert keys == [f.name for f in s.fields]


def test_template_examples_are_valid_values(fresh_template: Path) -> None:
    """Each example cell, typed in a data row, would be accepted for its column."""
    wb = load_workbook(fresh_template)
    for table in schema():
        ws = wb[table.name]
        header = [c.value for c in ws[1]][1:]
        example = [c.value for c in ws[3]][1:]
        for name, value in zip(header, example, strict=False):
            if value is None or name == "note":
                continue
            col = table.column(name)
            text = V.stringify(value)
            V._convert(col, text)  # raises if the example is not a valid value


def test_blank_template_gives_missing_data_problems(fresh_template: Path) -> None:
    problems = V.validate(fresh_template)
    assert problems
    messages = [p.message for p in problems]
    assert all("missing required value" in m or "missing required data" in m for m in messages), (
        messages
    )
    required = [t.name for t in schema() if t.required]
    for name in required:
        assert any(p.sheet == name and "has no rows" in p.message for p in problems), name
    with pytest.raises(Exception, match="invalid dataset"):
        D.load(fresh_template)
