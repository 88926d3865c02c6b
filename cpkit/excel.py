"""The workbook face of a dataset: read a filled workbook, export to and from it, and
write the blank data-entry template.

Workbook layout (the template, the exports and filled workbooks all follow it):

* sheet ``enterprise``: columns ``#``, ``key``, ``value`` (more columns, such as the
  description and example, are ignored). One row per key of enterprise.yaml written as a
  dotted path (``profile.name``, ``parameters.discount_rate``). A list is written either
  as one cell separated by ``;`` (``2021; 2022; 2023``) or as one row per item with the
  same key (the form used for long texts such as ``continuous.management_measures``);
* one sheet per table, named after the table (``team``, ``streams`` ...). Row 1 holds the
  column names (ids of the schema; ``note`` is always allowed);
* **column A is the marker column ``#``.** A row whose marker cell is not empty is not
  data: the template's description row (``说明 notes``) and example row
  (``示例 example``) carry a marker, so they can never be loaded by accident, even when
  copied. Leave the marker empty in every data row. A workbook without the marker column
  (header in A1 is a column name) is read too;
* sheets whose name starts with ``_`` (``_readme``, ``_lists``) are ignored, as are empty
  rows. Any other sheet name is reported as unknown (a typo would otherwise lose data).

Cells holding an Excel error (``#DIV/0!``, ``#REF!``, ``#N/A``, ``#VALUE!`` ...) and
formulas without a saved result are reported as problems with their sheet and row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cpkit import reference
from cpkit.errors import CpkitError, Problem
from cpkit.schema import NOTE, SECTIONS, Column, Table, schema
from cpkit.validate import (
    ENTERPRISE_FILE,
    ENTERPRISE_SHEET,
    RawDataset,
    RawTable,
    read_raw,
    stringify,
    suggest,
)

if TYPE_CHECKING:  # pragma: no cover
    from cpkit.dataset import Dataset

__all__ = [
    "MARKER",
    "ExportError",
    "export_folder",
    "export_xlsx",
    "read_workbook",
    "write_template",
]

#: header of the marker column (column A)
MARKER = "#"
LABEL_MARK = "说明 notes"
EXAMPLE_MARK = "示例 example"
SECTION_MARK = "§"
LISTS_SHEET = "_lists"
README_SHEET = "_readme"


class ExportError(CpkitError):
    """A dataset cannot be exported (unreadable source, or destination not writable)."""


# ======================================================================= reading


def _has_formulas(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if (
                    name.startswith("xl/worksheets/")
                    and name.endswith(".xml")
                    and re.search(rb"<(?:\w+:)?f[ >/]", z.read(name))
                ):
                    return True
    except (OSError, zipfile.BadZipFile):
        return False
    return False


def _formula_cells(path: Path) -> dict[str, set[tuple[int, int]]]:
    from openpyxl import load_workbook

    out: dict[str, set[tuple[int, int]]] = {}
    wb = load_workbook(path, read_only=True, data_only=False)
    try:
        for ws in wb.worksheets:
            ws.reset_dimensions()
            cells = out.setdefault(ws.title, set())
            for row in ws.iter_rows():
                for cell in row:
                    if getattr(cell, "data_type", None) == "f":
                        cells.add((cell.row, cell.column))
    finally:
        wb.close()
    return out


def _rows(ws: Any) -> Iterable[tuple[int, list[Any]]]:
    """(row number, cells) for every row, numbers as Excel shows them."""
    ws.reset_dimensions()
    number = 0
    for row in ws.iter_rows():
        first = next((c for c in row if hasattr(c, "row") and c.row is not None), None)
        number = first.row if first is not None else number + 1
        yield number, list(row)


def _cell_col(cell: Any, j: int) -> int:
    return getattr(cell, "column", None) or j + 1


def read_workbook(path: str | Path, shown: str | None = None) -> RawDataset:
    """Read a workbook into a :class:`cpkit.validate.RawDataset` (text cells, Excel rows).

    Problems found while reading (unreadable file, unknown sheets, error cells, formulas
    without a saved value, missing sheet ``enterprise``) are in ``.problems``.
    """
    from openpyxl import load_workbook

    p = Path(path)
    shown = shown or str(path)
    raw = RawDataset(source=shown, face="xlsx", enterprise_file=shown)
    raw.enterprise_sheet = ENTERPRISE_SHEET
    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:
        raw.face = "unreadable"
        raw.problems.append(
            Problem(shown, f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})")
        )
        return raw
    try:
        formulas = _formula_cells(p) if _has_formulas(p) else {}
        tables = schema().tables
        seen_enterprise = False
        for ws in wb.worksheets:
            title = ws.title.strip()
            if title.startswith("_"):
                continue
            f_cells = formulas.get(ws.title, set())
            if title == ENTERPRISE_SHEET:
                seen_enterprise = True
                _read_enterprise_sheet(raw, ws, shown, f_cells)
            elif title in tables:
                raw.tables[title] = _read_table_sheet(raw, ws, title, shown, f_cells)
            else:
                raw.problems.append(
                    Problem(
                        shown,
                        f"unknown sheet {ws.title!r}"
                        f"{suggest(title, [*tables, ENTERPRISE_SHEET])}; table sheets are "
                        "named after the schema (start the name with _ to keep a private sheet)",
                        sheet=ws.title,
                    )
                )
        if not seen_enterprise:
            raw.problems.append(
                Problem(
                    shown,
                    "missing sheet 'enterprise' (the profile: columns key and value)",
                    sheet=ENTERPRISE_SHEET,
                )
            )
    finally:
        wb.close()
    return raw


def _cell_problem(cell: Any, row: int, col: int, f_cells: set[tuple[int, int]]) -> str | None:
    if getattr(cell, "data_type", None) == "e":
        return f"Excel error value {cell.value} in the cell: correct the formula or type the value"
    if cell.value is None and (row, col) in f_cells:
        return (
            "formula without a saved result (the file was written by a program that does not "
            "calculate): open and save it in Excel or LibreOffice, or type the value"
        )
    return None


def _read_table_sheet(
    raw: RawDataset, ws: Any, name: str, shown: str, f_cells: set[tuple[int, int]]
) -> RawTable:
    header: list[str] | None = None
    header_row = 1
    marker = False
    rows: list[list[str | None]] = []
    numbers: list[int] = []
    flagged: set[tuple[int, int]] = set()
    for number, cells in _rows(ws):
        values = [c.value for c in cells]
        if header is None:
            if all(stringify(v) is None for v in values):
                continue
            texts = [(stringify(v) or "").strip() for v in values]
            marker = texts[0] == MARKER
            header = texts[1:] if marker else texts
            while header and not header[-1]:
                header.pop()
            header_row = number
            continue
        if marker:
            if values and stringify(values[0]) is not None:
                continue
            cells = cells[1:]
        texts_row: list[str | None] = []
        problems: list[tuple[int, str]] = []
        for j, cell in enumerate(cells):
            msg = _cell_problem(cell, number, _cell_col(cell, j + (1 if marker else 0)), f_cells)
            if msg:
                problems.append((j, msg))
                texts_row.append(None)
            else:
                texts_row.append(stringify(cell.value))
        if all(t is None for t in texts_row) and not problems:
            continue
        i = len(rows)
        for j, msg in problems:
            col = header[j] if j < len(header) else None
            raw.problems.append(Problem(shown, msg, sheet=name, row=number, column=col))
            flagged.add((i, j))
        width = len(header)
        extra = [t for t in texts_row[width:] if t is not None]
        if extra:
            raw.problems.append(
                Problem(
                    shown, "values to the right of the last column name", sheet=name, row=number
                )
            )
        texts_row = (texts_row + [None] * width)[:width]
        rows.append(texts_row)
        numbers.append(number)
    return RawTable(name, shown, name, header or [], header_row, rows, numbers, flagged)


def _read_enterprise_sheet(
    raw: RawDataset, ws: Any, shown: str, f_cells: set[tuple[int, int]]
) -> None:
    s = schema()
    list_fields = {f.name for f in s.fields if f.type == "list"}
    data: dict[str, Any] = {}
    key_col = value_col = None
    marker = False
    for number, cells in _rows(ws):
        values = [c.value for c in cells]
        if key_col is None:
            if all(stringify(v) is None for v in values):
                continue
            texts = [(stringify(v) or "").strip().lower() for v in values]
            marker = bool(texts) and texts[0] == MARKER
            if "key" in texts and "value" in texts:
                key_col, value_col = texts.index("key"), texts.index("value")
                continue
            raw.problems.append(
                Problem(
                    shown,
                    "the first row of sheet enterprise must name the columns key and value",
                    sheet=ENTERPRISE_SHEET,
                    row=number,
                )
            )
            return
        if marker and values and stringify(values[0]) is not None:
            continue
        key = stringify(values[key_col]) if key_col < len(values) else None
        if key is None:
            continue
        key = key.strip()
        cell = cells[value_col] if value_col < len(cells) else None
        if cell is not None:
            msg = _cell_problem(cell, number, _cell_col(cell, value_col), f_cells)
            if msg:
                raw.problems.append(
                    Problem(shown, msg, sheet=ENTERPRISE_SHEET, row=number, column=key)
                )
                raw.enterprise_rows.setdefault(key, number)
                raw.enterprise_flagged.add(key)
                continue
        value = cell.value if cell is not None else None
        if isinstance(value, dt.datetime) and value.time() == dt.time(0, 0):
            value = value.date()
        if isinstance(value, str) and not value.strip():
            value = None
        if value is None:
            raw.enterprise_rows.setdefault(key, number)
            continue
        parts = key.split(".")
        container = data
        if len(parts) == 2 and parts[0] in SECTIONS:
            container = data.setdefault(parts[0], {})
            leaf = parts[1]
        else:
            leaf = key
        if key in raw.enterprise_rows and leaf in container:
            if key in list_fields:
                current = container[leaf]
                container[leaf] = (
                    [*current, value] if isinstance(current, list) else [current, value]
                )
            else:
                raw.problems.append(
                    Problem(
                        shown,
                        f"key {key} appears twice (first on row {raw.enterprise_rows[key]})",
                        sheet=ENTERPRISE_SHEET,
                        row=number,
                        column=key,
                    )
                )
            continue
        raw.enterprise_rows.setdefault(key, number)
        container[leaf] = value
    if key_col is None:
        raw.problems.append(
            Problem(
                shown,
                "sheet enterprise is empty: it needs columns key and value",
                sheet=ENTERPRISE_SHEET,
            )
        )
        return
    raw.enterprise = data


# ======================================================================= typed cells


def _typed_cell(col: Column | None, text: str | None) -> Any:
    """A text cell as the Excel value to write: numbers, dates and booleans typed when
    they parse, anything else kept as the text given (so problems stay visible)."""
    if text is None:
        return None
    if col is None:
        return text
    from cpkit import validate

    t = col.element_type
    s = text.strip()
    if t in ("float", "quantity", "int", "year", "bool", "date"):
        try:
            value = validate._convert(col, s, t)
        except validate._Bad:
            return text
        if t == "date":
            return dt.datetime.combine(value, dt.time())
        return value
    return text


def _frame_value(value: Any) -> Any:
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().replace(tzinfo=None)
    if hasattr(value, "item"):
        return value.item()
    return value


# ======================================================================= sources


def _column_of(table: Table | None, name: str) -> Column | None:
    if table is None or name not in table:
        return None
    return table.column(name)


def _tables_from_raw(raw: RawDataset) -> dict[str, tuple[list[str], list[list[str | None]]]]:
    return {name: (list(t.header), [list(r) for r in t.rows]) for name, t in raw.tables.items()}


def _enterprise_from_raw(raw: RawDataset) -> dict[str, Any]:
    data = raw.enterprise if isinstance(raw.enterprise, dict) else {}
    return data


def _enterprise_from_dataset(ds: Dataset) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ds.id, "schema_version": ds.schema_version}
    for sec in SECTIONS:
        model = getattr(ds, sec)
        values = model.model_dump()
        if sec == "parameters":
            values = {k: v for k, v in values.items() if ds.parameter_sources.get(k) == "dataset"}
        out[sec] = {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in values.items()
            if v is not None and v != ()
        }
    return out


def _tables_from_dataset(ds: Dataset) -> dict[str, tuple[list[str], list[list[Any]]]]:
    out: dict[str, tuple[list[str], list[list[Any]]]] = {}
    for name, frame in ds.tables.items():
        header = list(frame.columns)
        rows = [[_frame_value(v) for v in rec] for rec in frame.itertuples(index=False, name=None)]
        out[name] = (header, rows)
    return out


def _flatten_enterprise(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """(dotted key, value) in schema order; unknown keys kept at the end."""
    s = schema()
    items: list[tuple[str, Any]] = []
    done: set[str] = set()
    for f in s.fields:
        if f.section is None:
            value = data.get(f.key)
        else:
            block = data.get(f.section)
            value = block.get(f.key) if isinstance(block, dict) else None
        items.append((f.name, value))
        done.add(f.name)
    for key, value in data.items():
        if isinstance(value, dict) and key in SECTIONS:
            for sub, v in value.items():
                if f"{key}.{sub}" not in done:
                    items.append((f"{key}.{sub}", v))
        elif key not in done:
            items.append((str(key), value))
    return items


def _load_source(
    source: Any,
) -> tuple[dict[str, Any], dict[str, tuple[list[str], list[list[Any]]]], bool]:
    """(enterprise dict, tables, typed?) from a Dataset or a folder/workbook path."""
    from cpkit.dataset import Dataset

    if isinstance(source, Dataset):
        return _enterprise_from_dataset(source), _tables_from_dataset(source), True
    raw = read_raw(source)
    if raw.face not in ("folder", "xlsx"):
        raise ExportError("; ".join(str(p) for p in raw.problems) or f"cannot read {source}")
    if raw.fatal:
        raise ExportError(
            "cannot export, some files cannot be read:\n" + "\n".join(str(p) for p in raw.fatal)
        )
    return _enterprise_from_raw(raw), _tables_from_raw(raw), False


# ======================================================================= writing xlsx


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _list_cell(col: Column, value: Any) -> Any:
    if isinstance(value, list | tuple):
        return "; ".join(stringify(v) or "" for v in value)
    return value


def _excel_value(col: Column | None, value: Any, typed: bool) -> Any:
    if value is None:
        return None
    if not typed:
        if isinstance(value, str):
            return _typed_cell(col, value)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return dt.datetime.combine(value, dt.time())
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    return value


def _note_text(col: Column) -> str:
    lines = [f"{col.name}", f"{col.zh} / {col.en}", f"type: {col.type}"]
    if col.type == "quantity":
        lines.append(f"unit in column {col.unit_column}")
        if col.canonical and col.canonical != "keep":
            target = "the item's own unit" if col.canonical.startswith("@") else col.canonical
            lines.append(f"converted to {target} when loaded")
    if col.allowed:
        lines.append("allowed: " + ", ".join(col.allowed))
    if col.min is not None or col.max is not None:
        lo = "" if col.min is None else f"{col.min:g}"
        hi = "" if col.max is None else f"{col.max:g}"
        lines.append(f"range: {lo} … {hi}")
    if col.ref:
        from cpkit.schema import REFERENCE_SETS

        lines.append(
            "must be "
            + (REFERENCE_SETS[col.reference_set] if col.reference_set else f"a value of {col.ref}")
        )
    lines.append("必填 required" if col.required else "选填 optional")
    return "\n".join(lines)


def _label_text(col: Column) -> str:
    extra = []
    if col.type == "quantity":
        extra.append(f"单位见 unit in [{col.unit_column}]")
        if col.canonical and col.canonical != "keep" and not col.canonical.startswith("@"):
            extra.append(f"→ {col.canonical}")
    elif col.type == "unit":
        extra.append("单位 unit (t, kg/d, 万元 …)")
    elif col.type == "date":
        extra.append("YYYY-MM-DD")
    elif col.type == "bool":
        extra.append("true / false")
    if col.allowed or _choices(col):
        extra.append("下拉 list ▾")
    if col.min is not None or col.max is not None:
        lo = "" if col.min is None else f"{col.min:g}"
        hi = "" if col.max is None else f"{col.max:g}"
        extra.append(f"[{lo} … {hi}]")
    extra.append("必填 required" if col.required else "选填 optional")
    return "\n".join([col.zh, col.en, " · ".join(extra)])


class _Lists:
    """The hidden sheet holding drop-down lists; one column per list."""

    def __init__(self, wb: Any):
        self.ws = wb.create_sheet(LISTS_SHEET)
        self.ws.sheet_state = "hidden"
        self.cols: dict[tuple[str, ...], str] = {}

    def ref(self, name: str, values: tuple[str, ...]) -> str:
        from openpyxl.utils import get_column_letter

        if values not in self.cols:
            j = len(self.cols) + 1
            letter = get_column_letter(j)
            self.ws.cell(row=1, column=j, value=name)
            for i, v in enumerate(values, start=2):
                self.ws.cell(row=i, column=j, value=v)
            self.cols[values] = f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(values) + 1}"
        return self.cols[values]


def _choices(col: Column) -> tuple[str, ...] | None:
    if col.element_type == "bool":
        return ("true", "false")
    if col.allowed and col.type != "list":
        return tuple(col.allowed)
    rs = col.reference_set
    try:
        if rs == "aspects":
            return tuple(reference.table("aspects.csv")["aspect_id"].astype(str))
        if rs == "energy_carriers":
            return tuple(reference.table("energy/carriers.csv")["carrier_id"].astype(str))
        if rs == "water_sources":
            return tuple(reference.table("water/sources.csv")["source_id"].astype(str))
        if rs == "option_criterion":
            return tuple(reference.table("scoring/option_criteria.csv")["criterion_id"].astype(str))
        if rs == "cost_class_thresholds":
            return tuple(
                reference.table("screening/cost_class_thresholds.csv")["set_id"].astype(str)
            )
        if rs == "indicator_systems":
            from cpkit.validate import _indicator_systems

            return tuple(_indicator_systems()) or None
    except Exception:  # reference data being edited must not stop an export
        return None
    return None


def _validation(ws: Any, lists: _Lists, col: Column, cell_range: str) -> None:
    from openpyxl.worksheet.datavalidation import DataValidation

    choices = _choices(col)
    if not choices:
        return
    # schema enums are fixed: refuse other values. Booleans (是/否 are read too) and lists
    # drawn from reference data (which may grow after the workbook was made) only warn.
    dv = DataValidation(
        type="list",
        formula1=lists.ref(col.name, choices),
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop" if col.allowed else "warning",
        errorTitle="cpkit",
        error=f"{col.name}: choose one of the list ({col.zh})",
    )
    dv.add(cell_range)
    ws.add_data_validation(dv)


def _styles() -> dict[str, Any]:
    from openpyxl.styles import Alignment, Font, PatternFill

    return {
        "header_font": Font(bold=True, color="FFFFFF"),
        "header_fill": PatternFill("solid", fgColor="2F5597"),
        "label_font": Font(italic=True, color="595959", size=9),
        "label_fill": PatternFill("solid", fgColor="F2F2F2"),
        "example_font": Font(italic=True, color="8C8C8C"),
        "marker_font": Font(color="8C8C8C", size=9),
        "wrap": Alignment(wrap_text=True, vertical="top"),
        "section_font": Font(bold=True, color="2F5597"),
    }


def _put(ws: Any, row: int, column: int, value: Any) -> Any:
    """Write one cell: dates formatted as dates, text never taken for a formula."""
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str) and value.startswith("="):
        cell.value = value
        cell.data_type = "s"
    else:
        cell.value = value
    if isinstance(value, dt.datetime):
        cell.number_format = "yyyy-mm-dd"
    return cell


def _write_table_sheet(
    wb: Any,
    lists: _Lists,
    table: Table | None,
    name: str,
    header: list[str],
    rows: list[list[Any]],
    typed: bool,
    example: list[Any] | None,
) -> None:
    from openpyxl.comments import Comment
    from openpyxl.utils import get_column_letter

    st = _styles()
    ws = wb.create_sheet(name)
    ws.cell(row=1, column=1, value=MARKER)
    ws.cell(row=2, column=1, value=LABEL_MARK)
    ws.column_dimensions["A"].width = 10
    cols = [_column_of(table, h) for h in header]
    for j, (h, col) in enumerate(zip(header, cols, strict=True), start=2):
        c = ws.cell(row=1, column=j, value=h)
        c.font, c.fill = st["header_font"], st["header_fill"]
        if col is not None:
            c.comment = Comment(_note_text(col), "cpkit", width=320, height=180)
            label = ws.cell(row=2, column=j, value=_label_text(col))
            label.font, label.fill, label.alignment = st["label_font"], st["label_fill"], st["wrap"]
    for j in (1,):
        for r in (1, 2):
            ws.cell(row=r, column=j).font = st["marker_font"]
    ws.cell(row=1, column=1).font = st["header_font"]
    ws.cell(row=1, column=1).fill = st["header_fill"]
    ws.row_dimensions[2].height = 62
    first = 3
    if example is not None:
        ws.cell(row=3, column=1, value=EXAMPLE_MARK).font = st["marker_font"]
        for j, (col, v) in enumerate(zip(cols, example, strict=True), start=2):
            cell = _put(ws, 3, j, _excel_value(col, v, True))
            cell.font = st["example_font"]
        first = 4
    for i, row in enumerate(rows):
        for j, (col, v) in enumerate(zip(cols, row, strict=False), start=2):
            value = _excel_value(col, v, typed)
            if value is None:
                continue
            cell = _put(ws, first + i, j, value)
            if isinstance(value, str) and "\n" in value:
                cell.alignment = st["wrap"]
    last = max(first + len(rows) + 500, 1000)
    for j, (h, col) in enumerate(zip(header, cols, strict=True), start=2):
        letter = get_column_letter(j)
        texts = [h, *((col.zh, col.en) if col else ())]
        texts += [str(r[j - 2]) for r in rows[:50] if j - 2 < len(r) and r[j - 2] is not None]
        width = max((_display_width(t) for t in texts), default=10) + 2
        ws.column_dimensions[letter].width = max(12, min(width, 42))
        if col is not None:
            _validation(ws, lists, col, f"{letter}{first}:{letter}{last}")
    ws.freeze_panes = "B3"


def _write_enterprise_sheet(
    wb: Any, lists: _Lists, data: dict[str, Any], typed: bool, template: bool
) -> None:
    from openpyxl.comments import Comment

    st = _styles()
    s = schema()
    ws = wb.create_sheet(ENTERPRISE_SHEET, 0 if not template else 1)
    heads = [MARKER, "key", "value", "说明 description"] + (["示例 example"] if template else [])
    for j, h in enumerate(heads, start=1):
        c = ws.cell(row=1, column=j, value=h)
        c.font, c.fill = st["header_font"], st["header_fill"]
    fields = {f.name: f for f in s.fields}
    examples = _enterprise_examples() if template else {}
    r = 2
    section = None
    for key, value in _flatten_enterprise(data):
        col = fields.get(key)
        sec = col.section if col else "other"
        if sec != section and sec is not None:
            section = sec
            ws.cell(row=r, column=1, value=SECTION_MARK).font = st["marker_font"]
            ws.cell(row=r, column=2, value=sec).font = st["section_font"]
            r += 1
        values = [None]
        if col is not None and col.type == "list" and isinstance(value, list | tuple):
            if col.element_type == "text":
                values = list(value) or [None]
            else:
                values = [_list_cell(col, value)]
        elif isinstance(value, list | tuple):
            values = ["; ".join(stringify(v) or "" for v in value)]
        else:
            values = [value]
        for v in values:
            ws.cell(row=r, column=2, value=key)
            cell = _put(ws, r, 3, _excel_value(col, v, typed) if col else v)
            if isinstance(cell.value, str) and "\n" in cell.value:
                cell.alignment = st["wrap"]
            if col is not None:
                d = ws.cell(row=r, column=4, value=col.describe("zh") + "\n" + col.describe("en"))
                d.font, d.alignment = st["label_font"], st["wrap"]
                ws.cell(row=r, column=2).comment = Comment(
                    _note_text(col), "cpkit", width=320, height=160
                )
                if col.type != "list":
                    _validation(ws, lists, col, f"C{r}")
                if template and key in examples:
                    ex = ws.cell(row=r, column=5, value=examples[key])
                    ex.font = st["example_font"]
            r += 1
    ws.column_dimensions["A"].width = 5
    ws.column_dimensions["B"].width = 36
    ws.column_dimensions["C"].width = 40
    ws.column_dimensions["D"].width = 48
    if template:
        ws.column_dimensions["E"].width = 30
    ws.freeze_panes = "C2"


def _readme_sheet(wb: Any) -> None:
    from openpyxl.styles import Alignment, Font

    ws = wb.create_sheet(README_SHEET, 0)
    lines = [
        ("cpkit 清洁生产审核数据录入模板 / cpkit audit data-entry workbook", True),
        ("", False),
        (
            "1. 工作表 enterprise：每行一个键（key），在 value 列填写。列表可用分号分隔，长文本每项一行（同一键名）。",
            False,
        ),
        (
            "   Sheet enterprise: one key per row, fill the value column. Lists: separate with ';', or one row per item with the same key.",
            False,
        ),
        (
            "2. 其余每个工作表是一张数据表，第 1 行是列名（不要改名）。第 2 行“说明”与第 3 行“示例”在 A 列（#）有标记，读取时忽略。",
            False,
        ),
        (
            "   Every other sheet is a table; row 1 holds the column names (keep them). Rows marked in column A (#) — notes, examples — are never read as data.",
            False,
        ),
        ("3. 数据行的 A 列必须留空；A 列有任何内容的行都会被忽略（可用于临时注释）。", False),
        (
            "   Leave column A empty in data rows: any row with a mark in column A is ignored.",
            False,
        ),
        ("4. 空单元格表示“无数据”，不等于 0。需要 0 时请填写 0。", False),
        (
            "   An empty cell means 'no data' and is never read as 0; type 0 when you mean zero.",
            False,
        ),
        (
            "5. 带单位的数量在相邻的单位列填写单位（如 t、kg/d、m3/d、万千瓦时、万元），读取时自动换算。",
            False,
        ),
        (
            "   Quantities take their unit in the unit column (t, kg/d, m3/d, 万千瓦时, 万元 ...); cpkit converts them when loading.",
            False,
        ),
        ("6. 以 _ 开头的工作表（如本页）不会被读取；请不要添加其他工作表。", False),
        (
            "   Sheets whose name starts with _ (like this one) are ignored; do not add other sheets.",
            False,
        ),
        ("7. 检查：cpkit validate 文件.xlsx", False),
        ("   Check the workbook: cpkit validate FILE.xlsx", False),
    ]
    for i, (text, bold) in enumerate(lines, start=1):
        c = ws.cell(row=i, column=1, value=text)
        c.font = Font(bold=bold, size=12 if bold else 10)
        c.alignment = Alignment(wrap_text=False)
    ws.column_dimensions["A"].width = 140


def _write_workbook(
    dest: Path,
    enterprise: dict[str, Any],
    tables: dict[str, tuple[list[str], list[list[Any]]]],
    typed: bool,
    template: bool = False,
) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    if template:
        _readme_sheet(wb)
    lists = _Lists(wb)
    _write_enterprise_sheet(wb, lists, enterprise, typed, template)
    s = schema()
    examples = _table_examples() if template else {}
    for table in s:
        if table.name in tables:
            header, rows = tables[table.name]
        else:
            header, rows = list(table.frame_columns), []
        _write_table_sheet(
            wb,
            lists,
            table,
            table.name,
            header,
            rows,
            typed,
            [examples[table.name].get(h) for h in header] if template else None,
        )
    for name, (header, rows) in tables.items():
        if name not in s.tables:  # pragma: no cover - readers only return schema tables
            _write_table_sheet(wb, lists, None, name, header, rows, typed, None)
    wb.move_sheet(LISTS_SHEET, offset=len(wb.sheetnames))
    wb.active = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    try:
        wb.save(tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {dest}: {exc.strerror or exc}") from None
    return dest


def export_xlsx(source: Dataset | str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Write a dataset to one workbook.

    ``source`` is a loaded :class:`~cpkit.dataset.Dataset` (canonical units, typed cells)
    or a dataset folder/workbook path, copied as written (units as given; numbers, dates
    and booleans become typed cells when they parse, anything else stays text, so an
    invalid dataset can be exported and fixed in Excel).
    """
    enterprise, tables, typed = _load_source(source)
    return _write_workbook(Path(dest), enterprise, tables, typed)


# ======================================================================= writing folder


def _csv_text(value: Any) -> str:
    s = stringify(value)
    return "" if s is None else s


def _yaml_value(col: Column | None, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0, 0) else value.isoformat(sep=" ")
    if col is not None and col.type == "list" and isinstance(value, str):
        if col.element_type != "text":
            from cpkit.validate import _LIST_SPLIT

            items = [x for x in _LIST_SPLIT.split(value) if x]
            return [_yaml_scalar(col, x) for x in items]
        return [value]
    if isinstance(value, tuple):
        return [_yaml_value(None, v) for v in value]
    if isinstance(value, list):
        return [_yaml_value(None, v) for v in value]
    return value


def _yaml_scalar(col: Column, text: str) -> Any:
    if col.element_type in ("year", "int"):
        try:
            return int(text)
        except ValueError:
            return text
    return text


class _Dumper(yaml.SafeDumper):
    """YAML as a person writes it: multi-line text as ``|`` blocks, short lists inline."""


def _repr_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value.strip("\n") or value.endswith("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _repr_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, str) or ("\n" not in v and len(v) < 40) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(str, _repr_str)
_Dumper.add_representer(list, _repr_list)


def _nest_enterprise(data: dict[str, Any]) -> dict[str, Any]:
    fields = {f.name: f for f in schema().fields}
    out: dict[str, Any] = {}
    for key, value in _flatten_enterprise(data):
        if value is None or value == [] or value == ():
            continue
        col = fields.get(key)
        value = _yaml_value(col, value)
        head, dot, leaf = key.partition(".")
        if dot and head in SECTIONS:
            out.setdefault(head, {})[leaf] = value
        else:
            out[key] = value
    return out


def export_folder(
    source: Dataset | str | os.PathLike[str], dest: str | os.PathLike[str], *, bom: bool = False
) -> Path:
    """Write a dataset as a folder: enterprise.yaml and one UTF-8 CSV per non-empty table.

    ``source`` is a loaded Dataset (canonical units) or a workbook/folder path, copied as
    written. Existing table files in ``dest`` that the dataset does not have are removed
    so the folder is exactly the dataset. ``bom=True`` writes a UTF-8 BOM (Excel opens
    such CSV files with the right encoding).
    """
    enterprise, tables, _typed = _load_source(source)
    out = Path(dest)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    encoding = "utf-8-sig" if bom else "utf-8"
    doc = yaml.dump(
        _nest_enterprise(enterprise),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=100,
    )
    (out / ENTERPRISE_FILE).write_text(doc, encoding="utf-8")
    s = schema()
    written = set()
    for name, (header, rows) in tables.items():
        if not rows and name in s.tables and not s.tables[name].required:
            continue
        keep = [
            j
            for j, h in enumerate(header)
            if h != NOTE or any(j < len(r) and r[j] is not None for r in rows)
        ]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([header[j] for j in keep])
        for r in rows:
            w.writerow([_csv_text(r[j]) if j < len(r) else "" for j in keep])
        (out / f"{name}.csv").write_text(buf.getvalue(), encoding=encoding)
        written.add(f"{name}.csv")
    for stale in out.glob("*.csv"):
        if stale.name not in written and stale.stem in s.tables:
            stale.unlink()
    return out


# ======================================================================= template


def _example(table: Table, col: Column, seen: frozenset[str] = frozenset()) -> Any:
    s = schema()
    if col.ref_target and col.ref not in seen:
        rt, rc = col.ref_target
        return _example(s.tables[rt], s.tables[rt].column(rc), seen | {col.ref})
    rs = col.reference_set
    if rs:
        choices = _choices(col)
        if choices:
            return choices[0]
        return {
            "unit_or_env": _example(s.tables["units"], s.tables["units"].column("unit_id")),
            "water_unit_or_env": _example(
                s.tables["water_units"], s.tables["water_units"].column("unit_id")
            ),
            "history_item": "total",
            "focus_criterion": str(
                reference.table("scoring/focus_criteria.csv")["criterion_id"][0]
            ),
            "effect_item": "co2",
            "indicator": "unit_water_intake",
        }.get(rs, "")
    t = col.type
    if t == "id":
        return "total" if col.name == "component" else f"{col.name.split('_')[0]}_1"
    if t == "enum":
        return (col.allowed or ("",))[0]
    if t == "bool":
        return False
    if t == "year":
        return 2023
    if t == "date":
        return (
            dt.date(2024, 12, 31)
            if col.name in ("end", "mid_term_deadline")
            else dt.date(2024, 3, 1)
        )
    if t == "int":
        return int(col.min) if col.min is not None and col.min > 0 else 1
    if t in ("float", "quantity"):
        if col.max is not None:
            return round(col.max * 0.8, 4)
        return 12.5
    if t == "unit":
        for other in table.columns:
            if other.unit_column == col.name:
                if other.canonical == "@history_item":
                    return "万元"
                if other.canonical and other.canonical != "keep":
                    return other.canonical
        return (
            {"concentration_unit": "mg/L", "unit": "t"}.get(col.name, "t")
            if table.name != "option_effects"
            else "t/a"
        )
    return f"{col.zh}（示例 example）"


def _table_examples() -> dict[str, dict[str, Any]]:
    return {t.name: {c.name: _example(t, c) for c in t.columns} for t in schema()}


def _enterprise_examples() -> dict[str, Any]:
    from cpkit.dataset import parameter_defaults

    s = schema()
    out: dict[str, Any] = {}
    defaults = parameter_defaults()
    special = {
        "id": "demo_enterprise",
        "schema_version": s.version,
        "profile.industry_code": "3360",
        "profile.history_years": "2021; 2022; 2023",
        "profile.baseline_year": 2023,
        "profile.audit_start": "2024-03-01",
        "profile.audit_end": "2024-12-31",
        "profile.staff": 120,
        "profile.output_value_10k_cny": 5000,
        "profile.categories": "double_exceeding; key_energy_user",
    }
    for f in s.fields:
        if f.name in special:
            out[f.name] = special[f.name]
        elif f.section == "parameters" and f.key in defaults:
            out[f.name] = f"默认 default: {stringify(defaults[f.key][0])}"
        elif f.type == "enum":
            out[f.name] = (f.allowed or ("",))[0]
    return out


def write_template(dest: str | os.PathLike[str]) -> Path:
    """Write the blank data-entry workbook (``templates/cpkit_dataset_template.xlsx``):
    a ``_readme`` sheet, the ``enterprise`` sheet with every key, its description and an
    example, and one sheet per table with the column names, a notes row, an example row
    (both marked in column A so they are never read as data), header comments,
    drop-down lists, frozen header and sized columns."""
    return _write_workbook(Path(dest), {"schema_version": schema().version}, {}, True, True)
