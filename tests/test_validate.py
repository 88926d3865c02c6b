"""cpkit.validate: the broken-dataset corpus (tests/broken/cases.yaml), locations of
problems, and that validation never raises."""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpkit import validate as V
from cpkit.errors import Problem
from cpkit.schema import schema

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "minimal"

_spec = importlib.util.spec_from_file_location("broken_corpus", HERE / "broken" / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)
CASES = corpus.cases()


def test_the_fixture_is_valid() -> None:
    assert V.validate(FIXTURE) == []


def test_corpus_is_large_and_covers_both_faces() -> None:
    assert len(CASES) >= 18
    faces = {c.get("face", "folder") for c in CASES}
    assert faces == {"folder", "xlsx"}
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))


def _matches(p: Problem, where: dict) -> bool:
    for key in ("sheet", "row", "column"):
        if key in where and getattr(p, key) != where[key]:
            return False
    return not ("file" in where and not p.file.endswith(where["file"]))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_broken_case(case: dict, tmp_path: Path) -> None:
    path = corpus.build(case, tmp_path)
    problems = V.validate(path)
    hits = [p for p in problems if case["expect"] in p.message]
    shown = "\n".join(str(p) for p in problems)
    assert hits, f"expected {case['expect']!r}; got:\n{shown}"
    where = case.get("where")
    if where:
        assert any(_matches(p, where) for p in hits), f"not at {where}:\n{shown}"
    for p in problems:
        assert p.file.startswith(str(tmp_path)), p  # every problem names its file
        assert "unexpected error" not in p.message, p


def test_csv_line_numbers_follow_multi_line_cells(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "d")
    team = tmp_path / "d" / "team.csv"
    # M2's duties span lines 3 and 4, so a row appended after it starts on line 5
    team.write_text(team.read_text(encoding="utf-8") + "M3,赵三,leader,x,,,y,perhaps\n", "utf-8")
    (p,) = V.validate(tmp_path / "d")
    assert (p.sheet, p.row, p.column) == ("team", 5, "full_time")


def test_utf8_with_bom_and_note_column_are_accepted(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "d")
    units = tmp_path / "d" / "units.csv"
    text = units.read_text(encoding="utf-8").splitlines()
    text = [text[0] + ",note"] + [line + ",一个备注" for line in text[1:]]
    units.write_bytes(("\n".join(text) + "\n").encode("utf-8-sig"))
    yaml_file = tmp_path / "d" / "enterprise.yaml"
    yaml_file.write_bytes(yaml_file.read_text(encoding="utf-8").encode("utf-8-sig"))
    assert V.validate(tmp_path / "d") == []


def test_blank_lines_and_trailing_spaces_are_harmless(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "d")
    f = tmp_path / "d" / "units.csv"
    f.write_text("\n" + f.read_text(encoding="utf-8").replace("U1,", " U1 ,") + "\n,,,\n", "utf-8")
    assert V.validate(tmp_path / "d") == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("nothing_here", None, "no such file or folder"),
        ("notes.txt", b"hello", "not a dataset"),
        ("old.xls", b"\xd0\xcf\x11\xe0", "save it as .xlsx"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "not a readable .xlsx workbook"),
    ],
)
def test_paths_that_are_not_datasets(tmp_path: Path, name, content, message) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    problems = V.validate(path)
    assert len(problems) == 1
    assert message in problems[0].message
    assert problems[0].file == str(path)


def test_an_empty_folder_lists_what_is_missing(tmp_path: Path) -> None:
    problems = V.validate(tmp_path)
    messages = [p.message for p in problems]
    assert any("missing enterprise.yaml" in m for m in messages)
    required = [t.name for t in schema() if t.required]
    for name in required:
        assert any(f"missing required table {name} " in m for m in messages), name


def test_unexpected_errors_become_problems(tmp_path: Path, monkeypatch) -> None:
    def boom(ctx):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(V, "_check_meters", boom)
    problems = V.validate(FIXTURE)
    assert len(problems) == 1
    assert "unexpected error while checking (RuntimeError: kaboom)" in problems[0].message
    assert problems[0].file == str(FIXTURE)

    def read_boom(path):
        raise OSError("disk on fire")

    monkeypatch.setattr(V, "read_raw", read_boom)
    (p,) = V.validate(tmp_path)
    assert "disk on fire" in p.message


def test_enterprise_yaml_must_be_a_mapping(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "d")
    (tmp_path / "d" / "enterprise.yaml").write_text("- just\n- a list\n", "utf-8")
    problems = V.validate(tmp_path / "d")
    assert any("must be a mapping" in p.message for p in problems)


def test_list_values_accept_separators(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "d")
    f = tmp_path / "d" / "enterprise.yaml"
    text = f.read_text(encoding="utf-8").replace(
        "history_years: [2021, 2022, 2023]", 'history_years: "2021；2022、2023"'
    )
    f.write_text(text, "utf-8")
    assert V.validate(tmp_path / "d") == []


def test_checked_tables_are_typed_even_when_invalid(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "d")
    f = tmp_path / "d" / "units.csv"
    f.write_text(
        f.read_text(encoding="utf-8").replace("U1,前处理,除油酸洗,1", "U1,前处理,除油酸洗,x")
    )
    checked = V.check(tmp_path / "d")
    assert len(checked.problems) == 1
    assert str(checked.tables["units"]["order"].dtype) == "Int64"
    assert checked.tables["units"]["order"].isna().tolist() == [True, False]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    table=st.sampled_from(["streams", "history", "options", "water_flows", "team"]),
    row=st.integers(min_value=1, max_value=3),
    column=st.integers(min_value=0, max_value=7),
    text=st.text(max_size=12),
)
def test_validate_never_raises_on_any_cell_text(table, row, column, text) -> None:
    import csv
    import io

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "d"
        shutil.copytree(FIXTURE, d)
        path = d / f"{table}.csv"
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
        r = rows[1 + (row - 1) % (len(rows) - 1)]
        r[column % len(r)] = text
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        path.write_text(buf.getvalue(), encoding="utf-8")
        problems = V.validate(d)
        assert all(isinstance(p, Problem) for p in problems)
        assert not any("unexpected error" in p.message for p in problems)


@settings(max_examples=20, deadline=None)
@given(data=st.binary(max_size=200))
def test_validate_never_raises_on_garbage_files(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "d"
        shutil.copytree(FIXTURE, d)
        (d / "meters.csv").write_bytes(data)
        (d / "enterprise.yaml").write_bytes(data[::-1])
        problems = V.validate(d)
        assert problems  # the enterprise file can never be valid garbage
        assert not any("unexpected error" in p.message for p in problems)


def test_package_level_validate_is_callable_after_import() -> None:
    import cpkit
    import cpkit.validate  # binds the submodule as the package attribute

    assert cpkit.validate(FIXTURE) == []
    assert callable(cpkit.validate)


@settings(max_examples=200, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_survive_text_exactly(x: float) -> None:
    """What a workbook cell or CSV export writes (stringify) reads back to the same float."""
    from cpkit.schema import Column

    assert V._convert(Column("x", "float"), V.stringify(x)) == x


@settings(max_examples=100, deadline=None)
@given(d=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_dates_survive_text_and_excel_datetimes(d: dt.date) -> None:
    from cpkit.schema import Column

    col = Column("d", "date")
    assert V._convert(col, V.stringify(d)) == d
    assert V._convert(col, V.stringify(dt.datetime.combine(d, dt.time()))) == d
    assert V._convert(col, f"{d.year}年{d.month}月{d.day}日") == d
