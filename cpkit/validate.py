"""Validation of an enterprise dataset, folder or workbook, against cpkit/dataset_schema.yaml.

:func:`validate` returns a list of :class:`cpkit.errors.Problem`, each naming the file, the
sheet (table), the row a person sees (CSV line number with the header on line 1, the Excel
row number, or the line of enterprise.yaml) and the column or key. It never raises on bad
data: anything unexpected becomes a Problem naming the file.

What is checked:

* files: missing dataset, unreadable or non-UTF-8 files (UTF-8 with BOM is fine), invalid
  YAML, unknown files or sheets (typos), Excel error cells and formulas without a cached
  value (see :mod:`cpkit.excel`);
* structure: missing required tables, required tables without rows, missing required or
  unknown columns and keys (``note`` is always allowed), duplicate columns;
* values: types, ids, enums, patterns, min/max (negative quantities, scores 0-10), units
  that pint cannot read or that cannot be converted to the canonical unit;
* consistency: duplicate keys, references to unknown ids (schema ``ref``), history items
  unknown for their category, years outside history_years and the audit period, a start
  after its end, water-flow kinds against their ends, stream status against its value,
  meter hierarchy loops, focus scores missing for a criterion, indicator values that do
  not fit the indicator (quantitative value or qualitative level).

:func:`check` does the same work and also returns the typed tables, so that
:func:`cpkit.dataset.load` reads every file exactly once.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import functools
import io
import math
import re
import sys
import types
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cpkit import reference
from cpkit.errors import Problem
from cpkit.schema import SECTIONS, Column, Table, schema

__all__ = ["Checked", "RawDataset", "RawTable", "check", "read_raw", "validate"]

ENTERPRISE_FILE = "enterprise.yaml"
ENTERPRISE_SHEET = "enterprise"

#: canonical unit of history.quantity per category when it is not the item's own unit
#: (cpkit/dataset_schema.yaml, "Canonical units")
HISTORY_UNITS = {
    "water_intake": "m3",
    "wastewater": "m3",
    "waste": "t",
    "emission": "t",
    "output_value": "10k_CNY",
}
#: history categories and tables whose quantities are water (t ↔ m3 by the density of water)
WATER_CATEGORIES = ("water_intake", "wastewater")
WATER_TABLES = ("water_flows",)
#: fixed effect items besides pollutants, materials, wastes and energy carriers
EFFECT_ITEMS = ("fresh_water", "wastewater", "waste_gas", "co2")


# ======================================================================= raw layer


@dataclass
class RawTable:
    """One table as read from a CSV file or a sheet: header and cells as text (None =
    empty), with the row number a person sees for each row."""

    name: str
    file: str
    sheet: str
    header: list[str]
    header_row: int
    rows: list[list[str | None]]
    row_numbers: list[int]
    flagged: set[tuple[int, int]] = field(default_factory=set)


@dataclass
class RawDataset:
    """A dataset as read from disk, before any typing (see :func:`read_raw`)."""

    source: str
    face: str  # "folder" | "xlsx"
    enterprise: Any = None
    enterprise_file: str = ""
    enterprise_sheet: str | None = None
    enterprise_rows: dict[str, int] = field(default_factory=dict)
    tables: dict[str, RawTable] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    enterprise_flagged: set[str] = field(default_factory=set)
    #: problems that mean a file's content could not be read at all (encoding, syntax)
    fatal: list[Problem] = field(default_factory=list)

    def fail(self, problem: Problem) -> None:
        """Record a problem that stops a file from being read."""
        self.problems.append(problem)
        self.fatal.append(problem)

    def table_location(self, name: str) -> tuple[str, str]:
        """(file, sheet) where table ``name`` is expected."""
        if self.face == "folder":
            return str(Path(self.source) / f"{name}.csv"), name
        return self.source, name


def suggest(name: str, candidates: Any) -> str:
    """' (did you mean 'x'?)' for the closest candidate, or ''."""
    match = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def decode_text(data: bytes, file: str) -> tuple[str | None, Problem | None]:
    """UTF-8 (with or without BOM) text, or a Problem saying what the encoding looks like."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        try:
            data.decode("gb18030")
            hint = "it looks like GBK/GB18030 (Chinese Windows default)"
        except UnicodeDecodeError:
            hint = "it is not text in a known encoding"
        return None, Problem(
            file,
            f"not UTF-8 text (byte {exc.start}): {hint}; save it as UTF-8 "
            "(in Excel: 'CSV UTF-8'; in an editor: encoding UTF-8)",
        )


def _yaml_lines(node: Any, prefix: str = "", out: dict[str, int] | None = None) -> dict[str, int]:
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}{key_node.value}"
            out.setdefault(key, key_node.start_mark.line + 1)
            if isinstance(value_node, yaml.MappingNode):
                _yaml_lines(value_node, key + ".", out)
    return out


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_enterprise_yaml(raw: RawDataset, file: Path) -> None:
    raw.enterprise_file = str(file)
    if not file.is_file():
        raw.problems.append(
            Problem(str(file), "missing enterprise.yaml (the profile, parameters and narrative)")
        )
        return
    try:
        data = file.read_bytes()
    except OSError as exc:
        raw.fail(Problem(str(file), f"cannot be read: {exc.strerror or exc}"))
        return
    text, problem = decode_text(data, str(file))
    if problem:
        raw.fail(problem)
        return
    try:
        node = yaml.compose(text, Loader=_LOADER)
        raw.enterprise = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raw.fail(
            Problem(
                str(file),
                f"invalid YAML: {what} (check indentation, colons and quotes)",
                row=mark.line + 1 if mark else None,
            )
        )
        return
    raw.enterprise_rows = _yaml_lines(node)


def read_csv_table(name: str, file: Path) -> tuple[RawTable | None, list[Problem]]:
    """Read one table CSV: text cells, blank lines skipped, line numbers kept."""
    shown = str(file)
    try:
        data = file.read_bytes()
    except OSError as exc:
        return None, [Problem(shown, f"cannot be read: {exc.strerror or exc}", sheet=name)]
    text, problem = decode_text(data, shown)
    if problem:
        return None, [Problem(problem.file, problem.message, sheet=name)]
    if "\x00" in text:
        return None, [Problem(shown, "contains NUL bytes: not a text CSV file", sheet=name)]
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_row = 1
    rows: list[list[str | None]] = []
    numbers: list[int] = []
    problems: list[Problem] = []
    last = 0
    try:
        for record in reader:
            start = last + 1
            last = reader.line_num
            if not record or all(not c.strip() for c in record):
                continue
            if header is None:
                header = [c.strip() for c in record]
                header_row = start
                continue
            rows.append([c if c.strip() else None for c in record])
            numbers.append(start)
    except csv.Error as exc:
        problems.append(Problem(shown, f"not a valid CSV file: {exc}", sheet=name, row=last + 1))
        return None, problems
    if header is None:
        return RawTable(name, shown, name, [], 1, [], []), problems
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) > width:
            extra = [c for c in row[width:] if c is not None]
            if extra:
                problems.append(
                    Problem(
                        shown,
                        f"row has {len(row)} cells but the header has {width} columns "
                        "(an unquoted comma in a text?)",
                        sheet=name,
                        row=numbers[i],
                    )
                )
            del row[width:]
        elif len(row) < width:
            row.extend([None] * (width - len(row)))
    return RawTable(name, shown, name, header, header_row, rows, numbers), problems


def read_folder(path: Path, shown: str | None = None) -> RawDataset:
    """Read the folder face: enterprise.yaml and one CSV per table."""
    shown = shown or str(path)
    raw = RawDataset(source=shown, face="folder")
    base = Path(shown)
    _read_enterprise_yaml(raw, base / ENTERPRISE_FILE)
    tables = schema().tables
    for entry in sorted(path.iterdir(), key=lambda p: p.name):
        if entry.name.startswith((".", "_")) or not entry.is_file():
            continue
        if entry.suffix.lower() != ".csv":
            continue
        stem = entry.stem
        file = base / entry.name
        if stem not in tables or entry.suffix != ".csv":
            raw.problems.append(
                Problem(
                    str(file),
                    f"unknown table file {entry.name!r}{suggest(stem, tables)}; "
                    "table files are named <table>.csv after the schema",
                )
            )
            continue
        table, problems = read_csv_table(stem, file)
        if table is not None:
            raw.problems.extend(problems)
            raw.tables[stem] = table
        else:
            for problem in problems:
                raw.fail(problem)
            raw.unreadable.add(stem)
    return raw


def read_raw(path: str | Path) -> RawDataset:
    """Read a dataset folder or workbook without typing it."""
    p = Path(path)
    shown = str(path)
    if not p.exists():
        return RawDataset(shown, "missing", problems=[Problem(shown, "no such file or folder")])
    if p.is_dir():
        return read_folder(p, shown)
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        from cpkit import excel

        return excel.read_workbook(p, shown)
    if suffix == ".xls":
        return RawDataset(
            shown,
            "xls",
            problems=[Problem(shown, "old Excel 97-2003 workbook: save it as .xlsx and try again")],
        )
    return RawDataset(
        shown,
        "unknown",
        problems=[
            Problem(shown, "not a dataset: give a folder (enterprise.yaml + CSV) or an .xlsx file")
        ],
    )


# ======================================================================= converters


class _Bad(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_ID = re.compile(r"^[\w.\-]+$")
_NUM = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00(?:\.0+)?)?)?$"
)
_TRUE = {"true", "yes", "y", "1", "是", "t", "√", "对"}
_FALSE = {"false", "no", "n", "0", "否", "f", "×", "错"}
_LIST_SPLIT = re.compile(r"\s*[;；,，、]\s*")


def stringify(value: Any) -> str | None:
    """A cell or YAML value as the text cpkit parses (None for empty)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def _number(s: str) -> float:
    t = unicodedata.normalize("NFKC", s).replace("−", "-").replace(" ", "")
    if _NUM.match(t):
        return float(t)
    if _THOUSANDS.match(t):
        return float(t.replace(",", ""))
    if t.endswith("%") and _NUM.match(t[:-1]):
        raise _Bad(f"{s!r} is a percentage: write the number as a fraction or as the column asks")
    raise _Bad(f"{s!r} is not a number")


def _convert(col: Column, s: str, type_: str | None = None) -> Any:
    """Convert stripped, non-empty text ``s`` to the python value of ``col`` (or raise)."""
    t = type_ or col.type
    if t in ("string", "text"):
        value: Any = s
    elif t == "id":
        if not _ID.match(s):
            raise _Bad(f"{s!r} is not a valid id: use letters, digits, - _ . and no spaces")
        value = s
    elif t == "enum":
        allowed = col.allowed or ()
        if s in allowed:
            value = s
        else:
            low = {a.lower(): a for a in allowed}
            if s.lower() in low:
                value = low[s.lower()]
            else:
                raise _Bad(
                    f"{s!r} is not allowed{suggest(s, allowed)}; allowed: {', '.join(allowed)}"
                )
    elif t == "unit":
        from cpkit import units

        try:
            units.parse_unit(s)
        except units.UnitError as exc:
            raise _Bad(str(exc)) from None
        value = s
    elif t in ("float", "quantity"):
        value = _number(s)
        if not math.isfinite(value):
            raise _Bad(f"{s!r} is not a finite number")
    elif t == "int":
        f = _number(s)
        if not f.is_integer():
            raise _Bad(f"{s!r} is not a whole number")
        value = int(f)
    elif t == "year":
        try:
            f = _number(s)
        except _Bad:
            raise _Bad(f"{s!r} is not a year (write four digits, e.g. 2023)") from None
        if not f.is_integer() or not 1900 <= f <= 2100:
            raise _Bad(f"{s!r} is not a year (write four digits, e.g. 2023)")
        value = int(f)
    elif t == "bool":
        low = s.strip().lower()
        if low in _TRUE:
            value = True
        elif low in _FALSE:
            value = False
        else:
            raise _Bad(f"{s!r} is not true/false (also 是/否, yes/no, 1/0)")
    elif t == "date":
        m = _DATE.match(s)
        if not m:
            raise _Bad(f"{s!r} is not a date: write YYYY-MM-DD, e.g. 2024-03-01")
        try:
            value = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise _Bad(f"{s!r} is not a valid calendar date") from None
    else:  # pragma: no cover - schema types are checked when the schema is read
        raise _Bad(f"unsupported type {t}")
    if t in ("int", "float", "quantity", "year") and type_ is None:
        if col.min is not None and value < col.min:
            if col.min == 0:
                raise _Bad(f"negative value {s} is not allowed (must be ≥ 0)")
            raise _Bad(f"{s} is below the minimum {col.min:g}")
        if col.max is not None and value > col.max:
            raise _Bad(f"{s} is above the maximum {col.max:g}")
    if col.pattern and isinstance(value, str) and not re.search(col.pattern, value):
        raise _Bad(f"{s!r} does not have the expected form ({col.en})")
    return value


def _clean(value: Any, type_: str) -> str | None:
    s = stringify(value)
    if s is None:
        return None
    s = s.strip() if type_ != "text" else s.strip("\r\n\t ")
    return s or None


# ======================================================================= checking


@dataclass
class Typed:
    """A table after typing: the frame (schema column order, then note) and row numbers."""

    table: Table
    frame: pd.DataFrame
    rows: list[int]
    raw: RawTable | None
    file: str
    sheet: str
    bad: set[tuple[int, str]] = field(default_factory=set)
    _cache: dict[str, list[Any]] = field(default_factory=dict, repr=False)

    def values(self, column: str) -> list[Any]:
        """The column as a list, ``None`` for missing (cached until the frame changes)."""
        if column not in self._cache:
            series = self.frame[column]
            mask = series.isna().tolist()
            self._cache[column] = [
                None if m else v for v, m in zip(series.tolist(), mask, strict=True)
            ]
        return self._cache[column]


@dataclass
class Checked:
    """Result of :func:`check`: problems, and the typed enterprise values and tables."""

    source: str
    face: str
    problems: list[Problem]
    enterprise: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    row_numbers: dict[str, list[int]]
    parameters_given: tuple[str, ...] = ()


class _Ctx:
    def __init__(self, raw: RawDataset):
        self.raw = raw
        self.problems: list[Problem] = list(raw.problems)
        self.typed: dict[str, Typed] = {}
        self.enterprise: dict[str, Any] = {}
        self.parameters_given: tuple[str, ...] = ()

    def ent(self, key: str, message: str) -> None:
        row = self.raw.enterprise_rows.get(key)
        if row is None and "." in key:
            row = self.raw.enterprise_rows.get(key.rpartition(".")[0])
        self.problems.append(
            Problem(
                self.raw.enterprise_file or self.raw.source,
                message,
                sheet=self.raw.enterprise_sheet,
                row=row,
                column=key,
            )
        )

    def cell(self, t: Typed, i: int | None, column: str | None, message: str) -> None:
        if i is not None and column is not None:
            if (i, column) in t.bad:
                return
            t.bad.add((i, column))
        row = t.rows[i] if i is not None else (t.raw.header_row if t.raw else None)
        self.problems.append(Problem(t.file, message, sheet=t.sheet, row=row, column=column))

    def table_problem(self, t: Typed, message: str, column: str | None = None) -> None:
        self.problems.append(Problem(t.file, message, sheet=t.sheet, column=column))


# ----------------------------------------------------------------- enterprise.yaml


def _convert_value(col: Column, value: Any) -> Any:
    """Convert one enterprise.yaml value (a YAML scalar or list) or raise _Bad."""
    if col.type == "list":
        if isinstance(value, list | tuple):
            items = list(value)
        elif isinstance(value, dict):
            raise _Bad("expected a list, got a mapping")
        elif col.element_type == "text":
            items = [value]
        else:
            items = [x for x in _LIST_SPLIT.split(stringify(value) or "") if x]
        out = []
        for item in items:
            if isinstance(item, list | dict):
                raise _Bad("list items must be single values")
            s = _clean(item, col.element_type)
            if s is None:
                continue
            out.append(_convert(col, s, col.element_type))
        return tuple(out)
    if isinstance(value, list | tuple | dict):
        raise _Bad("expected a single value, got a list or mapping")
    s = _clean(value, col.type)
    if s is None:
        return None
    return _convert(col, s)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict):
        return len(value) == 0
    return isinstance(value, float) and math.isnan(value)


def _check_enterprise(ctx: _Ctx) -> None:
    raw = ctx.raw
    data = raw.enterprise
    if data is None:
        if raw.enterprise_file and not any(p.file == raw.enterprise_file for p in ctx.problems):
            ctx.ent("", "the enterprise data is empty")
        return
    if not isinstance(data, dict):
        ctx.ent("", "must be a mapping of keys (id:, schema_version:, profile:, ...)")
        return
    s = schema()
    top = {f.name: f for f in s.fields if f.section is None}
    allowed_top = set(top) | set(SECTIONS)
    for key in data:
        if str(key) not in allowed_top:
            ctx.ent(str(key), f"unknown key {key!r}{suggest(key, allowed_top)}")
    result: dict[str, Any] = {}
    for name, col in top.items():
        _enterprise_field(ctx, col, data.get(name), result, name)
    if result.get("schema_version") not in (None, s.version):
        ctx.ent(
            "schema_version",
            f"schema version {result['schema_version']} is not supported: "
            f"this cpkit reads version {s.version}",
        )
    for sec in SECTIONS:
        block = data.get(sec)
        fields = {f.key: f for f in s.section(sec)}
        out: dict[str, Any] = {}
        result[sec] = out
        if block is None:
            block = {}
        if not isinstance(block, dict):
            ctx.ent(sec, f"{sec} must be a mapping of keys")
            block = {}
        for key in block:
            if str(key) not in fields:
                ctx.ent(f"{sec}.{key}", f"unknown key {key!r}{suggest(key, fields)}")
        for key, col in fields.items():
            _enterprise_field(ctx, col, block.get(key), out, key)
    ctx.enterprise = result
    ctx.parameters_given = tuple(k for k, v in result["parameters"].items() if v is not None)
    prof = result["profile"]
    start, end = prof.get("audit_start"), prof.get("audit_end")
    if start and end and start > end:
        ctx.ent("profile.audit_end", f"audit_end {end} is before audit_start {start}")
    years = prof.get("history_years") or ()
    if len(set(years)) != len(years):
        ctx.ent("profile.history_years", "history_years lists a year twice")
    base = prof.get("baseline_year")
    if base is not None and years and base not in years:
        ctx.ent(
            "profile.baseline_year",
            f"baseline_year {base} is not one of history_years {list(years)}",
        )
    if prof.get("indicator_system"):
        systems = _indicator_systems()
        if prof["indicator_system"] not in systems:
            ctx.ent(
                "profile.indicator_system",
                f"unknown indicator system {prof['indicator_system']!r}"
                f"{suggest(prof['indicator_system'], systems)}; available: "
                f"{', '.join(systems) or 'none yet'} (data/reference/indicator_systems)",
            )
    cct = result["parameters"].get("cost_class_thresholds")
    if cct:
        sets = _ref_set("cost_class_thresholds")
        if cct not in sets:
            ctx.ent(
                "parameters.cost_class_thresholds",
                f"unknown cost-class threshold set {cct!r}{suggest(cct, sets)}; "
                f"available: {', '.join(sorted(sets))}",
            )


def _enterprise_field(ctx: _Ctx, col: Column, value: Any, out: dict[str, Any], key: str) -> None:
    if _is_empty(value):
        out[key] = () if col.type == "list" else None
        if col.required and col.name not in ctx.raw.enterprise_flagged:
            ctx.ent(col.name, f"missing required value: {col.zh} / {col.en}")
        return
    try:
        out[key] = _convert_value(col, value)
    except _Bad as bad:
        out[key] = () if col.type == "list" else None
        ctx.ent(col.name, bad.message)
        return
    if col.type == "list" and col.allowed:
        for item in out[key]:
            if item not in col.allowed:
                ctx.ent(
                    col.name,
                    f"{item!r} is not allowed{suggest(item, col.allowed)}; "
                    f"allowed: {', '.join(col.allowed)}",
                )
        out[key] = tuple(i for i in out[key] if i in col.allowed)


# ----------------------------------------------------------------- tables


def _empty_frame(table: Table) -> pd.DataFrame:
    return _empty_frame_cached(table.name).copy()


@functools.cache
def _empty_frame_cached(name: str) -> pd.DataFrame:
    table = schema().tables[name]
    return pd.DataFrame(
        {name: pd.Series([], dtype=dtype) for name, dtype in table.dtypes().items()}
    )


def _series(values: list[Any], dtype: str) -> pd.Series:
    if dtype.startswith("datetime64"):
        return pd.Series([pd.NaT if v is None else pd.Timestamp(v) for v in values], dtype=dtype)
    return pd.Series(pd.array(values, dtype=dtype))


def _type_table(ctx: _Ctx, table: Table) -> Typed:
    raw = ctx.raw.tables.get(table.name)
    file, sheet = ctx.raw.table_location(table.name)
    if raw is None:
        typed = Typed(table, _empty_frame(table), [], None, file, sheet)
        if table.required and table.name not in ctx.raw.unreadable:
            where = f"file {table.name}.csv" if ctx.raw.face == "folder" else f"sheet {table.name}"
            ctx.problems.append(
                Problem(
                    file,
                    f"missing required table {table.name} ({table.zh} / {table.en}): "
                    f"add {where} with at least one row",
                    sheet=sheet,
                )
            )
        return typed
    typed = Typed(table, None, list(raw.row_numbers), raw, raw.file, raw.sheet)  # type: ignore[arg-type]
    positions: dict[str, int] = {}
    for idx, name in enumerate(raw.header):
        if not name:
            if any(idx < len(r) and r[idx] is not None for r in raw.rows):
                ctx.cell(typed, None, f"column {idx + 1}", "values in a column without a header")
            continue
        if name in positions:
            ctx.cell(typed, None, name, f"column {name!r} appears twice in the header")
            continue
        if name not in table:
            ctx.cell(
                typed,
                None,
                name,
                f"unknown column {name!r}{suggest(name, table.frame_columns)}"
                f"; columns of {table.name}: {', '.join(table.frame_columns)}",
            )
            continue
        positions[name] = idx
    for col in table.columns:
        if col.required and col.name not in positions:
            ctx.cell(
                typed, None, col.name, f"missing required column {col.name!r} ({col.zh} / {col.en})"
            )
    flagged_cols = {(i, raw.header[j]) for i, j in raw.flagged if j < len(raw.header)}
    typed.bad |= flagged_cols
    data: dict[str, Any] = {}
    for name, dtype in table.dtypes().items():
        col = table.column(name)
        pos = positions.get(name)
        if pos is None:
            data[name] = _series([None] * len(raw.rows), dtype)
            continue
        values: list[Any] = []
        for i, row in enumerate(raw.rows):
            if (i, name) in typed.bad:
                values.append(None)
                continue
            s = _clean(row[pos] if pos < len(row) else None, col.type)
            if s is None:
                if col.required:
                    ctx.cell(typed, i, name, f"missing required value ({col.zh} / {col.en})")
                values.append(None)
                continue
            try:
                values.append(_convert(col, s))
            except _Bad as bad:
                ctx.cell(typed, i, name, bad.message)
                values.append(None)
        data[name] = _series(values, dtype)
    typed.frame = pd.DataFrame(data)
    if table.required and not raw.rows:
        ctx.problems.append(
            Problem(
                typed.file,
                f"table {table.name} ({table.zh} / {table.en}) has no rows: missing required data",
                sheet=typed.sheet,
            )
        )
    return typed


# ----------------------------------------------------------------- reference sets


@functools.cache
def _indicator_systems() -> list[str]:
    stems = [Path(p).stem for p in reference.listing("indicator_systems", ".yaml")]
    return [s for s in stems if s != "catalog"]


@functools.cache
def _indicator_system(system_id: str) -> dict[str, dict[str, Any]]:
    """indicator id → indicator spec of one system file (read once per process)."""
    with open(reference.path(f"indicator_systems/{system_id}.yaml"), encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=_LOADER) or {}
    out: dict[str, dict[str, Any]] = {}
    for group in doc.get("groups") or []:
        for ind in group.get("indicators") or []:
            if isinstance(ind, dict) and "id" in ind:
                out[str(ind["id"])] = ind
    return out


@functools.cache
def _ref_set(name: str) -> frozenset[str]:
    return frozenset(_ref_set_uncached(name))


def _ref_set_uncached(name: str) -> set[str]:
    if name == "aspects":
        return set(reference.table("aspects.csv")["aspect_id"].astype(str))
    if name == "energy_carriers":
        return set(_carrier_units())
    if name == "water_sources":
        return set(reference.table("water/sources.csv")["source_id"].astype(str))
    if name == "option_criterion":
        return set(reference.table("scoring/option_criteria.csv")["criterion_id"].astype(str))
    if name == "cost_class_thresholds":
        return set(reference.table("screening/cost_class_thresholds.csv")["set_id"].astype(str))
    if name == "indicator_systems":
        return set(_indicator_systems())
    raise KeyError(name)


@functools.cache
def _carrier_units_cached() -> tuple[tuple[str, str], ...]:
    t = reference.table("energy/carriers.csv")
    return tuple(zip(t["carrier_id"].astype(str), t["unit"].astype(str), strict=True))


def _carrier_units() -> dict[str, str]:
    return dict(_carrier_units_cached())


def _values(ctx: _Ctx, table: str, column: str) -> set[str]:
    t = ctx.typed.get(table)
    if t is None:
        return set()
    return {str(v) for v in t.frame[column].dropna().tolist()}


def _check_ref(ctx: _Ctx, t: Typed, column: str, valid: set[str], what: str) -> None:
    for i, v in enumerate(t.values(column)):
        if v is not None and str(v) not in valid:
            hint = suggest(v, valid)
            if not hint and len(valid) <= 12:
                hint = f"; known: {', '.join(sorted(valid)) or 'none'}"
            ctx.cell(t, i, column, f"unknown {what} {v!r}{hint}")


def _history_targets(ctx: _Ctx) -> dict[str, dict[str, str | None]]:
    """category → {valid item → canonical unit (None if the item's unit is unreadable)}."""
    prod = ctx.typed["products"].frame
    mat = ctx.typed["materials"].frame
    pol = ctx.typed["pollutants"].frame
    out: dict[str, dict[str, str | None]] = {
        "product": dict(zip(prod["product_id"].dropna(), prod["unit"], strict=False)),
        "material": dict(zip(mat["material_id"].dropna(), mat["unit"], strict=False)),
        "energy": dict(_carrier_units()),
        "waste": {w: "t" for w in _values(ctx, "wastes", "waste_id")},
        "emission": {p: "t" for p in pol["pollutant_id"].dropna()},
        "water_intake": {s: "m3" for s in _ref_set("water_sources")},
        "wastewater": {"discharge": "m3"},
        "output_value": {"total": "10k_CNY"},
    }
    for outlet in pol["outlet"].dropna().tolist():
        if _ID.match(str(outlet)):
            out["wastewater"][str(outlet)] = "m3"
    for cat, unit in HISTORY_UNITS.items():
        out[cat] = {k: unit for k in out[cat]}
    for cat in ("product", "material"):
        out[cat] = {k: (None if pd.isna(v) else str(v)) for k, v in out[cat].items()}
    return out


# ----------------------------------------------------------------- cross-table checks


def _check_keys(ctx: _Ctx, t: Typed) -> None:
    key = t.table.key
    if not key or t.frame.empty:
        return
    seen: dict[tuple[Any, ...], int] = {}
    cols = [t.values(k) for k in key]
    for i in range(len(t.frame)):
        k = tuple(c[i] for c in cols)
        if any(v is None for v in k):
            continue
        if k in seen:
            desc = ", ".join(f"{n}={v}" for n, v in zip(key, k, strict=True))
            ctx.cell(t, i, key[-1], f"duplicate key ({desc}), first on row {t.rows[seen[k]]}")
        else:
            seen[k] = i


def _check_refs(ctx: _Ctx) -> None:
    s = schema()
    boundary = s.boundary_id
    sets: dict[str, Callable[[], set[str]]] = {
        "aspects": lambda: _ref_set("aspects"),
        "energy_carriers": lambda: _ref_set("energy_carriers"),
        "water_sources": lambda: _ref_set("water_sources"),
        "option_criterion": lambda: _ref_set("option_criterion"),
        "cost_class_thresholds": lambda: _ref_set("cost_class_thresholds"),
        "unit_or_env": lambda: _values(ctx, "units", "unit_id") | {boundary},
        "water_unit_or_env": lambda: _values(ctx, "water_units", "unit_id") | {boundary},
        "focus_criterion": lambda: (
            _values(ctx, "focus_criteria", "criterion_id")
            or set(reference.table("scoring/focus_criteria.csv")["criterion_id"].astype(str))
        ),
    }
    for t in ctx.typed.values():
        for col in t.table.columns:
            if not col.ref or (col.ref_target is None and col.reference_set not in sets):
                continue
            if col.ref_target:
                rt, rc = col.ref_target
                if ctx.typed[rt].raw is None:
                    continue  # the missing or unreadable table is reported already
                _check_ref(ctx, t, col.name, _values(ctx, rt, rc), f"{rt}.{rc}")
            else:
                absent = {"unit_or_env": "units", "water_unit_or_env": "water_units"}
                host = absent.get(col.reference_set or "")
                if host and ctx.typed[host].raw is None:
                    continue
                _check_ref(ctx, t, col.name, sets[col.reference_set](), _set_label(col))
    _check_history_items(ctx)
    _check_effect_items(ctx)
    _check_indicators(ctx)
    focus = ctx.enterprise.get("profile", {}).get("audit_focus")
    if focus and focus not in _values(ctx, "focus_candidates", "candidate_id"):
        ctx.ent(
            "profile.audit_focus",
            f"audit_focus {focus!r} is not a candidate in focus_candidates"
            f"{suggest(focus, _values(ctx, 'focus_candidates', 'candidate_id'))}",
        )


def _set_label(col: Column) -> str:
    return {
        "aspects": "aspect (data/reference/aspects.csv)",
        "energy_carriers": "energy carrier (data/reference/energy/carriers.csv)",
        "water_sources": "water source (data/reference/water/sources.csv)",
        "option_criterion": "option criterion (data/reference/scoring/option_criteria.csv)",
        "cost_class_thresholds": "threshold set",
        "unit_or_env": "unit (units.unit_id or ENV)",
        "water_unit_or_env": "water unit (water_units.unit_id or ENV)",
        "focus_criterion": "focus criterion",
    }.get(col.reference_set or "", col.ref or "")


def _check_history_items(ctx: _Ctx) -> None:
    t = ctx.typed["history"]
    if t.frame.empty:
        return
    targets = _history_targets(ctx)
    for i, (cat, item) in enumerate(zip(t.values("category"), t.values("item"), strict=True)):
        if cat is None or item is None:
            continue
        valid = targets.get(cat, {})
        if item not in valid:
            hint = suggest(item, valid)
            if not hint and len(valid) <= 12:
                hint = f"; known for {cat}: {', '.join(sorted(valid)) or 'none'}"
            ctx.cell(t, i, "item", f"unknown {cat} item {item!r}{hint}")


def _effect_bases(ctx: _Ctx) -> dict[str, str | None]:
    """effect item → the unit its saving is measured in (None: any unit)."""
    out: dict[str, str | None] = {}
    pol = ctx.typed["pollutants"].frame
    for pid, medium in zip(pol["pollutant_id"], pol["medium"], strict=True):
        if not pd.isna(pid):
            out[str(pid)] = None if medium == "noise" else "t"
    mat = ctx.typed["materials"].frame
    for mid, unit in zip(mat["material_id"], mat["unit"], strict=True):
        if not pd.isna(mid):
            out[str(mid)] = None if pd.isna(unit) else str(unit)
    for w in _values(ctx, "wastes", "waste_id"):
        out[w] = "t"
    out.update(_carrier_units())
    out.update({"fresh_water": "m3", "wastewater": "m3", "waste_gas": "m3", "co2": "t"})
    return out


def _check_effect_items(ctx: _Ctx) -> None:
    t = ctx.typed["option_effects"]
    if t.frame.empty:
        return
    bases = _effect_bases(ctx)
    for i, (item, unit) in enumerate(zip(t.values("item"), t.values("unit"), strict=True)):
        if item is None:
            continue
        if item not in bases:
            ctx.cell(
                t,
                i,
                "item",
                f"unknown effect item {item!r}{suggest(item, bases)}: use a pollutant_id, "
                "material_id, waste_id, energy carrier, fresh_water, wastewater, waste_gas or co2",
            )
            continue
        base = bases[item]
        if unit is None or base is None:
            continue
        okay = _compatible_any(unit, [base, f"({base})/a"])
        if not okay and item in ("fresh_water", "wastewater"):
            okay = _compatible_any(unit, ["t", "t/a"])
        if okay is False:
            ctx.cell(
                t,
                i,
                "unit",
                f"unit {unit!r} does not fit {item} (measured in {base}); "
                f"write e.g. {base} or {base}/a",
            )


def _compatible_any(unit: str, targets: list[str]) -> bool | None:
    from cpkit import units

    try:
        u = units.parse_unit(unit).dimensionality
    except units.UnitError:
        return None
    for target in targets:
        try:
            if units.parse_unit(target).dimensionality == u:
                return True
        except units.UnitError:
            continue
    return False


def _check_indicators(ctx: _Ctx) -> None:
    t = ctx.typed["indicator_values"]
    opts = ctx.typed["options"]
    system = ctx.enterprise.get("profile", {}).get("indicator_system")
    used = not t.frame.empty or opts.frame["indicator_ids"].notna().any()
    if not used:
        return
    if not system:
        if not t.frame.empty and isinstance(ctx.raw.enterprise, dict):
            ctx.ent(
                "profile.indicator_system",
                "indicator_values are given but profile.indicator_system is not set: name the "
                "indicator system (a file of data/reference/indicator_systems)",
            )
        return
    if system not in _indicator_systems():
        return  # reported on the profile
    indicators = _indicator_system(system)
    where = f"indicator system {system!r}"
    _check_ref(ctx, t, "indicator_id", set(indicators), f"indicator of {where}")
    for i in range(len(t.frame)):
        ind = indicators.get(t.values("indicator_id")[i] or "")
        if ind is None or t.values("applicable")[i] is False:
            continue
        qualitative = ind.get("direction") == "qualitative"
        value, level = t.values("value")[i], t.values("level")[i]
        if qualitative and level is None:
            ctx.cell(
                t, i, "level", f"{ind['id']} is qualitative: give its level (I, II, III or none)"
            )
        if not qualitative and value is None:
            ctx.cell(t, i, "value", f"{ind['id']} is quantitative: give its value")
    for i, text in enumerate(opts.values("indicator_ids")):
        for ind_id in [x for x in _LIST_SPLIT.split(text or "") if x]:
            if ind_id not in indicators:
                ctx.cell(
                    opts,
                    i,
                    "indicator_ids",
                    f"unknown indicator {ind_id!r} of {where}{suggest(ind_id, indicators)}",
                )


def _check_units(ctx: _Ctx) -> None:
    from cpkit import units

    targets = None
    for t in ctx.typed.values():
        for col in t.table.columns:
            if col.type != "quantity" or not col.unit_column:
                continue
            vals = t.values(col.name)
            ucol = col.unit_column
            unit_vals = t.values(ucol)
            for i, (v, u) in enumerate(zip(vals, unit_vals, strict=True)):
                if v is None or (i, ucol) in t.bad:
                    continue
                if u is None:
                    ctx.cell(t, i, ucol, f"{col.name} is given without a unit in {ucol}")
                    continue
                if col.canonical in (None, "keep"):
                    continue
                if col.canonical == "@history_item":
                    if targets is None:
                        targets = _history_targets(ctx)
                    cat, item = t.values("category")[i], t.values("item")[i]
                    target = targets.get(cat or "", {}).get(item or "")
                    if target is None:
                        continue
                else:
                    target = col.canonical
                water = t.table.name in WATER_TABLES or (
                    t.table.name == "history" and t.values("category")[i] in WATER_CATEGORIES
                )
                try:
                    ok = units.is_compatible(
                        u, target, density_t_m3=units.water_density_t_m3() if water else None
                    )
                except units.UnitError:
                    continue
                if not ok:
                    ctx.cell(
                        t,
                        i,
                        ucol,
                        f"unit {u!r} ({units.dimensionality(u)}) cannot be converted to "
                        f"{target!r} ({units.dimensionality(target)}) for {col.name}",
                    )


def _check_years(ctx: _Ctx) -> None:
    t = ctx.typed["history"]
    prof = ctx.enterprise.get("profile", {})
    years = set(prof.get("history_years") or ())
    start, end = prof.get("audit_start"), prof.get("audit_end")
    if start and end:
        years |= set(range(min(start.year, end.year), max(start.year, end.year) + 1))
    if not years:
        return
    shown = ", ".join(str(y) for y in sorted(years))
    for i, y in enumerate(t.values("year")):
        if y is not None and y not in years:
            ctx.cell(
                t,
                i,
                "year",
                f"year {y} is outside history_years and the audit period ({shown})",
            )


def _check_dates(ctx: _Ctx) -> None:
    pairs = {
        "work_plan": [("start", "end")],
        "implementation": [("start", "end")],
        "targets": [("near_term_deadline", "mid_term_deadline")],
    }
    for name, checks in pairs.items():
        t = ctx.typed[name]
        for a, b in checks:
            for i, (x, y) in enumerate(zip(t.values(a), t.values(b), strict=True)):
                if x is not None and y is not None and x > y:
                    ctx.cell(t, i, b, f"{b} {y.date()} is before {a} {x.date()}")


def _check_flows(ctx: _Ctx) -> None:
    env = schema().boundary_id
    t = ctx.typed["water_flows"]
    rules = {
        "intake": ("from ENV to a unit", lambda f, to: f == env and to != env),
        "consumption": ("from a unit to ENV", lambda f, to: f != env and to == env),
        "discharge": ("from a unit to ENV", lambda f, to: f != env and to == env),
        "leakage": ("from a unit to ENV", lambda f, to: f != env and to == env),
        "series": ("from one unit to another unit", lambda f, to: env not in (f, to) and f != to),
        "condensate": ("from one unit to another unit", lambda f, to: env not in (f, to)),
        "circulating": ("from a unit back to the same unit", lambda f, to: f == to != env),
    }
    cols = [t.values(c) for c in ("from_unit", "to_unit", "kind", "source")]
    for i, (f, to, kind, source) in enumerate(zip(*cols, strict=True)):
        if None in (f, to, kind):
            continue
        text, rule = rules[kind]
        if not rule(f, to):
            ctx.cell(t, i, "kind", f"a {kind} flow goes {text}, not {f} → {to}")
        if kind == "intake" and source is None:
            ctx.cell(t, i, "source", "an intake flow needs its water source")
    s = ctx.typed["streams"]
    cols = [s.values(c) for c in ("from_unit", "to_unit", "value", "status")]
    for i, (f, to, value, status) in enumerate(zip(*cols, strict=True)):
        if f is not None and f == to == env:
            ctx.cell(s, i, "to_unit", "a stream from ENV to ENV is outside the balance")
        if status in ("measured", "estimated") and value is None:
            ctx.cell(
                s, i, "value", f"a {status} stream needs a value (status unknown if to be solved)"
            )
        if status == "unknown" and value is not None:
            ctx.cell(s, i, "status", "status is unknown but a value is given (measured/estimated?)")


def _check_meters(ctx: _Ctx) -> None:
    t = ctx.typed["meters"]
    ids, parents = t.values("meter_id"), t.values("parent_id")
    parent = {m: p for m, p in zip(ids, parents, strict=True) if m is not None and p is not None}
    reported: set[str] = set()
    for i, m in enumerate(ids):
        if m is None or m not in parent or m in reported:
            continue
        path = [m]
        cur = parent[m]
        while cur is not None:
            if cur == m:
                reported.update(path)
                loop = " → ".join([*path, m])
                ctx.cell(
                    t, i, "parent_id", f"meter {m} is its own ancestor (parent_id loop {loop})"
                )
                break
            if cur in path:
                break
            path.append(cur)
            cur = parent.get(cur)


def _check_focus_scores(ctx: _Ctx) -> None:
    t = ctx.typed["focus_scores"]
    if t.frame.empty:
        return
    crit = _values(ctx, "focus_criteria", "criterion_id") or set(
        reference.table("scoring/focus_criteria.csv")["criterion_id"].astype(str)
    )
    cands = _values(ctx, "focus_candidates", "candidate_id")
    scored: dict[str, set[str]] = {}
    first_row: dict[str, int] = {}
    for i, (c, k) in enumerate(
        zip(t.values("candidate_id"), t.values("criterion_id"), strict=True)
    ):
        if c is not None and k is not None:
            scored.setdefault(c, set()).add(k)
            first_row.setdefault(c, i)
    for c, ks in scored.items():
        if c not in cands:
            continue
        missing = sorted(crit - ks)
        if missing:
            ctx.cell(
                t,
                first_row[c],
                "criterion_id",
                f"candidate {c} has no score for criterion {', '.join(missing)}",
            )


def _check_options(ctx: _Ctx) -> None:
    s = ctx.typed["option_scores"]
    o = ctx.typed["options"]
    if s.frame.empty:
        return
    crit = _ref_set("option_criterion")
    scored: dict[str, set[str]] = {}
    first_row: dict[str, int] = {}
    for i, (opt, k) in enumerate(zip(s.values("option_id"), s.values("criterion_id"), strict=True)):
        if opt is not None and k is not None:
            scored.setdefault(opt, set()).add(k)
            first_row.setdefault(opt, i)
    known = set(o.values("option_id"))
    for opt, ks in scored.items():
        missing = sorted(crit - ks)
        if opt in known and missing:
            ctx.cell(
                s,
                first_row[opt],
                "criterion_id",
                f"option {opt} has no score for criterion {', '.join(missing)}",
            )


# ======================================================================= canonical units


def _to_canonical(ctx: _Ctx) -> None:
    """Convert quantity columns to their canonical units and rewrite the unit columns
    (only called on valid data)."""
    from cpkit import units

    targets = None
    for t in ctx.typed.values():
        frame = t.frame
        if frame.empty:
            continue
        new_units: dict[str, pd.Series] = {}
        for col in t.table.columns:
            if col.type != "quantity" or col.canonical in (None, "keep") or not col.unit_column:
                continue
            if col.canonical == "@history_item":
                if targets is None:
                    targets = _history_targets(ctx)
                pairs = zip(t.values("category"), t.values("item"), strict=True)
                target = pd.Series(
                    [targets.get(c or "", {}).get(it or "") for c, it in pairs],
                    index=frame.index,
                    dtype="string",
                )
            else:
                target = pd.Series(col.canonical, index=frame.index, dtype="string")
            rho = units.water_density_t_m3()
            if t.table.name in WATER_TABLES:
                density: Any = rho
            elif t.table.name == "history":
                density = [rho if c in WATER_CATEGORIES else None for c in t.values("category")]
            else:
                density = None
            frame[col.name] = units.convert_column(
                frame[col.name], frame[col.unit_column], target, density_t_m3=density
            )
            new_units[col.unit_column] = target
        for ucol, target in new_units.items():
            keep = frame[ucol].isna() | target.isna()
            frame[ucol] = target.where(~keep, frame[ucol])
        t._cache.clear()


# ======================================================================= entry points


def check(path: str | Path, *, convert: bool = True) -> Checked:
    """Read and check a dataset; typed tables (canonical units when valid) and problems.

    Never raises on bad data. ``convert=False`` leaves quantities in the units given.
    """
    shown = str(path)
    try:
        raw = read_raw(path)
    except Exception as exc:
        return Checked(shown, "unknown", [_unexpected(shown, exc)], {}, {}, {})
    ctx = _Ctx(raw)
    if raw.face not in ("folder", "xlsx"):
        return Checked(shown, raw.face, ctx.problems, {}, {}, {})
    try:
        _check_enterprise(ctx)
    except Exception as exc:
        ctx.problems.append(_unexpected(raw.enterprise_file or shown, exc))
    for table in schema():
        try:
            ctx.typed[table.name] = _type_table(ctx, table)
        except Exception as exc:
            file, sheet = raw.table_location(table.name)
            ctx.problems.append(_unexpected(file, exc, sheet))
            ctx.typed[table.name] = Typed(table, _empty_frame(table), [], None, file, sheet)
    steps: list[Callable[..., None]] = [
        lambda: [_check_keys(ctx, t) for t in ctx.typed.values()],
        lambda: _check_refs(ctx),
        lambda: _check_units(ctx),
        lambda: _check_years(ctx),
        lambda: _check_dates(ctx),
        lambda: _check_flows(ctx),
        lambda: _check_meters(ctx),
        lambda: _check_focus_scores(ctx),
        lambda: _check_options(ctx),
    ]
    for step in steps:
        try:
            step()
        except Exception as exc:
            ctx.problems.append(_unexpected(shown, exc))
    if convert and not ctx.problems:
        try:
            _to_canonical(ctx)
        except Exception as exc:
            ctx.problems.append(_unexpected(shown, exc))
    return Checked(
        source=shown,
        face=raw.face,
        problems=ctx.problems,
        enterprise=ctx.enterprise,
        tables={n: t.frame for n, t in ctx.typed.items()},
        row_numbers={n: t.rows for n, t in ctx.typed.items()},
        parameters_given=ctx.parameters_given,
    )


def _unexpected(file: str, exc: BaseException, sheet: str | None = None) -> Problem:
    return Problem(
        file,
        f"unexpected error while checking ({type(exc).__name__}: {exc}); "
        "please report it with the file",
        sheet=sheet,
    )


def validate(path: str | Path) -> list[Problem]:
    """All problems of the dataset at ``path`` (a folder or an .xlsx workbook).

    An empty list means the dataset loads. Never raises on bad data: an unexpected error
    becomes a Problem naming the file.
    """
    try:
        return check(path, convert=False).problems
    except Exception as exc:  # pragma: no cover - check() already guards each step
        return [_unexpected(str(path), exc)]


class _CallableModule(types.ModuleType):
    """``cpkit.validate(path)`` keeps working after this submodule is imported (the
    package attribute ``cpkit.validate`` is then the module, not the function)."""

    def __call__(self, path: str | Path) -> list[Problem]:
        return validate(path)


sys.modules[__name__].__class__ = _CallableModule
