"""cpkit.dataset: the Dataset object, load(), canonical units, parameters, memoisation.

Expected converted values are hand calculations from the fixture's CSV files
(tests/fixtures/minimal), written out next to each assertion.
"""

from __future__ import annotations

import os
import pickle
import shutil
import time
from pathlib import Path

import pandas as pd
import pydantic
import pytest

import cpkit
from cpkit import dataset as D
from cpkit import excel, reference
from cpkit import validate as V
from cpkit.errors import DatasetError
from cpkit.schema import schema

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "minimal"


@pytest.fixture(autouse=True, scope="module")
def _private_disk_cache(tmp_path_factory):
    """Keep this module's disk cache in a folder of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CPKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        mp.delenv("CPKIT_CACHE", raising=False)
        yield


@pytest.fixture(scope="module")
def ds() -> D.Dataset:
    return D.load(FIXTURE, cache=False)


@pytest.fixture(scope="module")
def xlsx(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("x") / "minimal.xlsx"
    excel.export_xlsx(FIXTURE, path)
    return path


def _row(frame: pd.DataFrame, **where) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for k, v in where.items():
        mask &= frame[k] == v
    (i,) = frame.index[mask.fillna(False)]
    return frame.loc[i]


def test_top_level_api_is_lazy_and_complete() -> None:
    assert cpkit.load is D.load
    assert cpkit.Dataset is D.Dataset


def test_every_schema_table_with_schema_columns_and_dtypes(ds: D.Dataset) -> None:
    s = schema()
    assert list(ds.tables) == list(s.tables)
    for table in s:
        frame = ds.tables[table.name]
        assert list(frame.columns) == [*table.column_names, "note"], table.name
        assert isinstance(frame.index, pd.RangeIndex)
        for name, dtype in table.dtypes().items():
            assert str(frame[name].dtype) == dtype, (table.name, name)
    # an absent optional table is an empty frame with the schema's columns
    assert ds.tables["stock_changes"].empty
    assert ds.tables["focus_criteria"].empty


@pytest.mark.parametrize("face", ["folder", "xlsx"])
def test_empty_stays_na_and_zero_stays_zero(face: str, ds: D.Dataset, xlsx: Path) -> None:
    loaded = ds if face == "folder" else D.load(xlsx)
    training = loaded.tables["training"]
    planned = _row(training, training_id="T2")
    assert pd.isna(planned["participants"])  # "" in the CSV
    assert pd.isna(planned["hours"])
    history = loaded.tables["history"]
    hcl = _row(history, category="material", item="hcl")
    assert hcl["quantity"] == 0.0 and not pd.isna(hcl["quantity"])  # 0 in the CSV
    assert hcl["cost_10k_cny"] == 0.0
    cod = _row(history, category="emission", item="cod")
    assert pd.isna(cod["cost_10k_cny"])
    options = loaded.tables["options"]
    o1 = _row(options, option_id="O1")
    assert o1["annual_revenue_increase_10k_cny"] == 0.0
    assert pd.isna(o1["subsidy_10k_cny"])
    assert pd.isna(_row(loaded.tables["work_plan"], task_id="W1")["reviewer"])


def test_history_in_the_items_own_units(ds: D.Dataset) -> None:
    h = ds.tables["history"]
    cases = [
        # (category, item, year, quantity, unit): hand conversions of history.csv
        ("output_value", "total", 2023, 1200.0, "10k_CNY"),  # 12 000 000 元 / 10 000
        ("output_value", "total", 2021, 1000.0, "10k_CNY"),  # given in 万元
        ("product", "P1", 2023, 5.2, "万m2"),  # 52 000 m2 / 10 000 (products.unit)
        ("material", "zinc", 2023, 60.0, "t"),  # 60 000 kg / 1000 (materials.unit)
        ("energy", "electricity", 2023, 1_200_000.0, "kWh"),  # 120 万千瓦时 × 10 000
        ("energy", "steam", 2023, 800.0, "t"),  # carriers.csv unit of steam is t
        ("water_intake", "tap_water", 2023, 30_000.0, "m3"),  # 30 000 t at 1 t/m3
        ("wastewater", "discharge", 2023, 24_000.0, "m3"),
        ("waste", "sludge", 2023, 35.0, "t"),
        ("emission", "cod", 2023, 1.2, "t"),
    ]
    for category, item, year, quantity, unit in cases:
        r = _row(h, category=category, item=item, year=year)
        assert r["quantity"] == pytest.approx(quantity, rel=1e-12), (category, item)
        assert r["unit"] == unit, (category, item)


def test_history_energy_units_follow_the_carrier_table(ds: D.Dataset) -> None:
    carriers = reference.table("energy/carriers.csv").set_index("carrier_id")["unit"]
    h = ds.tables["history"]
    for item, unit in h.loc[h["category"] == "energy", ["item", "unit"]].itertuples(index=False):
        assert unit == carriers[item]


def test_quantities_in_canonical_units(ds: D.Dataset) -> None:
    s = ds.tables["streams"]
    # S1: 2 t/d = 2000 kg/d, uncertainty 0.05 t/d = 50 kg/d; S4 already in kg/d
    assert _row(s, stream_id="S1")[["value", "uncertainty"]].tolist() == [2000.0, 50.0]
    assert _row(s, stream_id="S4")[["value", "uncertainty"]].tolist() == [200.0, 5.0]
    assert pd.isna(_row(s, stream_id="S5")["value"])  # unknown stays unknown
    assert set(s["unit"]) == {"kg/d"}
    w = ds.tables["water_flows"]
    assert _row(w, flow_id="F1")["value"] == pytest.approx(96.0)  # 4 m3/h × 24 h
    assert set(w["unit"]) == {"m3/d"}
    m = ds.tables["meters"]
    assert _row(m, meter_id="K0")["value"] == pytest.approx(120_000.0)  # 120 MWh
    assert set(m["unit"]) == {"kWh"}
    hb = ds.tables["heat_balance"]
    assert _row(hb, item="fuel")["value"] == pytest.approx(1200.0)  # 1.2 GJ/h
    assert set(hb["unit"]) == {"MJ/h"}
    # canonical "keep": pollutant concentrations and option effects stay as written
    p = ds.tables["pollutants"]
    assert _row(p, pollutant_id="noise")["concentration_unit"] == "dB(A)"
    assert _row(p, pollutant_id="cod")["concentration"] == 45.0
    e = ds.tables["option_effects"]
    assert _row(e, option_id="O2", item="fresh_water")[["expected", "unit"]].tolist() == [
        1.5,
        "万m3/a",
    ]


def test_parameters_resolved_dataset_value_wins(ds: D.Dataset) -> None:
    finance = reference.load_yaml("finance/defaults.yaml")
    assert ds.parameters.discount_rate == 0.06  # enterprise.yaml
    assert ds.parameter_sources["discount_rate"] == "dataset"
    assert ds.parameters.tax_rate == finance["tax_rate"]["value"]
    assert ds.parameter_sources["tax_rate"].startswith("data/reference/finance/defaults.yaml")
    assert ds.parameters.depreciation_years == finance["depreciation_years"]["value"]
    assert ds.parameters.cost_class_thresholds == "zhejiang"
    energy = reference.load_yaml("energy/defaults.yaml")
    assert ds.parameters.electricity_basis == energy["electricity_basis"]["value"]
    assert ds.parameters.equal_value_kgce_per_kwh is None  # no default anywhere
    assert "equal_value_kgce_per_kwh" not in ds.parameter_sources
    defaults = D.parameter_defaults()
    for key, (value, _src) in defaults.items():
        if ds.parameter_sources.get(key) != "dataset":
            assert getattr(ds.parameters, key) == value


def test_profile_and_continuous_models(ds: D.Dataset) -> None:
    import datetime as dt

    p = ds.profile
    assert ds.id == "minimal"
    assert p.baseline_year == 2023
    assert p.history_years == (2021, 2022, 2023)
    assert p.audit_start == dt.date(2024, 3, 1)
    assert p.categories == ("double_toxic",)
    assert p.industry_code == "3360"
    assert p.production_address is None
    assert ds.continuous.management_measures == ("清洁生产管理制度", "计量管理办法")
    with pytest.raises(pydantic.ValidationError):
        p.staff = 3
    with pytest.raises(TypeError):
        ds.tables["units"] = pd.DataFrame()  # type: ignore[index]
    with pytest.raises(AttributeError):
        ds.id = "x"  # type: ignore[misc]


def test_row_numbers_point_to_the_source_rows(ds: D.Dataset) -> None:
    assert ds.row_numbers["team"] == (2, 3)  # M2 spans lines 3-4
    assert ds.row_numbers["streams"] == (2, 3, 4, 5, 6, 7)
    assert ds.row_numbers["stock_changes"] == ()


def test_equality_is_value_and_dtype_aware(ds: D.Dataset) -> None:
    again = D.load(FIXTURE, cache=False)
    assert again == ds and again is not ds
    assert again.differences(ds) == []
    tables = dict(ds.tables)
    changed = tables["units"].copy()
    changed.loc[0, "name"] = "改名"
    other = D.Dataset(**{**ds.__dict__, "tables": D.ReadOnlyMap({**tables, "units": changed})})
    assert other != ds
    assert any(d.startswith("table units") for d in other.differences(ds))
    retyped = tables["units"].astype({"order": "Float64"})  # same numbers, other dtype
    other = D.Dataset(**{**ds.__dict__, "tables": D.ReadOnlyMap({**tables, "units": retyped})})
    assert other != ds
    profile = ds.profile.model_copy(update={"staff": 41})
    other = D.Dataset(**{**ds.__dict__, "profile": profile})
    assert other.differences(ds) == ["profile.staff: 41 != 40"]
    assert ds != "not a dataset"


def test_load_raises_with_every_problem(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "d")
    f = tmp_path / "d" / "units.csv"
    f.write_text(
        f.read_text(encoding="utf-8").replace("U1,前处理,除油酸洗,1", "U1,前处理,除油酸洗,x")
    )
    with pytest.raises(DatasetError) as info:
        D.load(tmp_path / "d")
    (problem,) = info.value.problems
    assert (problem.sheet, problem.row, problem.column) == ("units", 2, "order")
    assert "units.csv, sheet units, row 2, column order: 'x' is not a number" in str(info.value)


def test_memoised_on_path_and_mtimes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CPKIT_CACHE", "0")  # in-process memo only
    shutil.copytree(FIXTURE, tmp_path / "d")
    calls = []
    real = V.check

    def counting(path, **kw):
        calls.append(path)
        return real(path, **kw)

    monkeypatch.setattr(V, "check", counting)
    D.clear_cache()
    a = D.load(tmp_path / "d")
    b = D.load(str(tmp_path / "d" / ".." / "d"))  # same folder, other spelling
    assert len(calls) == 1
    assert a == b
    # every call gets its own frames: changing one never changes the next load
    assert a.tables["units"] is not b.tables["units"]
    a.tables["units"].loc[0, "name"] = "changed"
    assert D.load(tmp_path / "d").tables["units"].loc[0, "name"] == "前处理"
    assert len(calls) == 1
    # a changed file is read again
    f = tmp_path / "d" / "units.csv"
    f.write_text(f.read_text(encoding="utf-8").replace("前处理", "预处理"), encoding="utf-8")
    stat = f.stat()
    os.utime(f, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    c = D.load(tmp_path / "d")
    assert len(calls) == 2
    assert c.tables["units"].loc[0, "name"] == "预处理"
    D.load(tmp_path / "d", cache=False)
    assert len(calls) == 3
    D.clear_cache()
    D.load(tmp_path / "d")
    assert len(calls) == 4


def test_memoised_load_is_fast() -> None:
    # not a timing assertion on the suite's machine: the memoised path must not read files
    D.clear_cache()
    D.load(FIXTURE)
    start = time.perf_counter()
    for _ in range(20):
        D.load(FIXTURE)
    per_call = (time.perf_counter() - start) / 20
    print(f"memoised load: {per_call * 1000:.2f} ms per call")


def test_pickles_for_worker_processes(ds: D.Dataset) -> None:
    back = pickle.loads(pickle.dumps(ds))
    assert back == ds
    assert type(back.profile).__name__ == "Profile"
    assert back.parameter_sources == ds.parameter_sources


def test_repr_and_table_lookup(ds: D.Dataset) -> None:
    assert "minimal" in repr(ds) and "tables=" in repr(ds)
    assert ds.table("units") is ds.tables["units"]
    with pytest.raises(KeyError, match="did you mean 'units'"):
        ds.table("unit")


def test_xlsx_and_folder_load_equal(ds: D.Dataset, xlsx: Path) -> None:
    book = D.load(xlsx, cache=False)
    assert book == ds, book.differences(ds)
    assert book.source == xlsx
    assert book.row_numbers["streams"] == (3, 4, 5, 6, 7, 8)  # Excel rows below the notes row


def _count_checks(monkeypatch) -> list:
    calls: list = []
    real = V.check

    def counting(path, **kw):
        calls.append(path)
        return real(path, **kw)

    monkeypatch.setattr(V, "check", counting)
    return calls


def test_disk_cache_serves_a_new_process(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CPKIT_CACHE_DIR", str(tmp_path / "cache"))
    shutil.copytree(FIXTURE, tmp_path / "d")
    calls = _count_checks(monkeypatch)
    D.clear_cache()
    first = D.load(tmp_path / "d")
    assert len(calls) == 1
    assert len(list((tmp_path / "cache" / "datasets").glob("*.pickle"))) == 1
    D.clear_cache()  # as in a new kernel
    second = D.load(tmp_path / "d")
    assert len(calls) == 1  # read from the disk cache
    assert second == first and second.source == tmp_path / "d"
    # a changed file gives a new key
    f = tmp_path / "d" / "units.csv"
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    D.clear_cache()
    D.load(tmp_path / "d")
    assert len(calls) == 2


def test_disk_cache_survives_bad_files_and_can_be_switched_off(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("CPKIT_CACHE_DIR", str(cache))
    shutil.copytree(FIXTURE, tmp_path / "d")
    calls = _count_checks(monkeypatch)
    D.clear_cache()
    D.load(tmp_path / "d")
    (pickle_file,) = (cache / "datasets").glob("*.pickle")
    pickle_file.write_bytes(b"not a pickle")
    D.clear_cache()
    assert D.load(tmp_path / "d") == D.load(FIXTURE, cache=False)
    assert len(calls) == 3  # corrupt entry ignored and rewritten
    # a cache folder that cannot be created is not an error
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    monkeypatch.setenv("CPKIT_CACHE_DIR", str(blocked / "sub"))
    D.clear_cache()
    assert D.load(tmp_path / "d").id == "minimal"
    monkeypatch.setenv("CPKIT_CACHE", "0")
    monkeypatch.setenv("CPKIT_CACHE_DIR", str(tmp_path / "off"))
    assert D.cache_dir() is None
    D.clear_cache()
    D.load(tmp_path / "d")
    assert not (tmp_path / "off").exists()


def test_invalid_datasets_are_not_cached(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CPKIT_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "d").mkdir()
    with pytest.raises(DatasetError):
        D.load(tmp_path / "d")
    assert not list((tmp_path / "cache").rglob("*.pickle"))


def test_a_warm_disk_cache_needs_no_pint(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**os.environ, "CPKIT_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("CPKIT_CACHE", None)
    code = "import sys, cpkit; ds = cpkit.load(sys.argv[1]); print(ds.id, 'pint' in sys.modules)"
    runs = [
        subprocess.run(
            [sys.executable, "-c", code, str(FIXTURE)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs == [["minimal", "True"], ["minimal", "False"]]
