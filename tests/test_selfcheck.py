"""Tests of cpkit.selfcheck on a small stand-in for cpkit.dataset.Dataset.

The stand-in has the attributes the architecture gives the Dataset (tables with every
schema table and its columns, profile, parameters, continuous). A complete audit passes every
applicable item; each test then removes one thing a reviewer would miss and expects exactly
that item to turn "missing", with the evidence naming what is wrong.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from cpkit import grading, reference, selfcheck

ROOT = Path(__file__).resolve().parents[1]
WORKED = Path(__file__).parent / "fixtures" / "indicator_systems" / "worked_example.yaml"


@pytest.fixture(autouse=True)
def _worked_system(monkeypatch):
    """Let the profile name the test system 'worked_example' (tests/fixtures)."""
    real = grading.load_system

    def load(system_id: str):
        return (
            grading.load_system_file(WORKED) if system_id == "worked_example" else real(system_id)
        )

    monkeypatch.setattr(grading, "load_system", load)


@functools.cache
def _schema() -> dict:
    return yaml.safe_load((ROOT / "cpkit" / "dataset_schema.yaml").read_text("utf-8"))["tables"]


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    cols = list(_schema()[table]["columns"])
    for r in rows:
        unknown = set(r) - set(cols)
        assert not unknown, f"{table}: {unknown}"
    return pd.DataFrame(rows, columns=cols)


def good_tables() -> dict[str, pd.DataFrame]:
    t: dict[str, pd.DataFrame] = {name: frame(name, []) for name in _schema()}
    t["team"] = frame(
        "team",
        [
            {
                "member_id": "m1",
                "name": "张总",
                "role": "leader",
                "department": "总经办",
                "duties": "统筹",
            },
            {
                "member_id": "m2",
                "name": "李工",
                "role": "external_expert",
                "department": "咨询",
                "duties": "指导",
            },
        ],
    )
    t["work_plan"] = frame(
        "work_plan",
        [
            {
                "task_id": f"p{k}",
                "phase": k,
                "task": "任务",
                "owner": "张总",
                "start": "2024-01-01",
                "end": "2024-12-31",
                "expected_output": "产出",
            }
            for k in range(1, 8)
        ],
    )
    t["training"] = frame(
        "training",
        [
            {
                "training_id": "tr1",
                "date": "2024-01-10",
                "topic": "清洁生产",
                "participants": 30,
                "status": "done",
            },
            {"training_id": "tr2", "date": "2025-03-01", "topic": "持续培训", "status": "planned"},
        ],
    )
    t["barriers"] = frame(
        "barriers",
        [
            {
                "barrier_id": "b1",
                "category": "awareness",
                "description": "认识不足",
                "countermeasure": "培训",
            }
        ],
    )
    hist = []
    for y in (2021, 2022, 2023):
        hist += [
            {"year": y, "category": "product", "item": "p1", "quantity": 1000, "unit": "m2"},
            {
                "year": y,
                "category": "energy",
                "item": "electricity",
                "quantity": 5e5,
                "unit": "kWh",
            },
            {"year": y, "category": "water_intake", "item": "tap", "quantity": 8000, "unit": "m3"},
        ]
    hist.append({"year": 2023, "category": "emission", "item": "voc", "quantity": 3.0, "unit": "t"})
    t["history"] = frame("history", hist)
    t["materials"] = frame(
        "materials",
        [{"material_id": "cra", "name": "铬酐", "kind": "raw", "unit": "t", "toxic": True}],
    )
    t["pollutants"] = frame(
        "pollutants",
        [
            {
                "pollutant_id": "cod",
                "name": "COD",
                "medium": "water",
                "concentration": 120.0,
                "limit": 100.0,
                "concentration_unit": "mg/L",
                "limit_standard": "GB 8978",
            },
            {
                "pollutant_id": "cr6",
                "name": "六价铬",
                "medium": "water",
                "toxic": True,
                "first_class": True,
                "concentration": 0.1,
                "limit": 0.2,
                "concentration_unit": "mg/L",
                "limit_standard": "GB 21900",
            },
            # within its concentration limit but above its total-quantity cap (3 t > 2.5 t)
            {
                "pollutant_id": "voc",
                "name": "VOCs",
                "medium": "air",
                "concentration": 40.0,
                "limit": 60.0,
                "concentration_unit": "mg/m3",
                "limit_standard": "DB",
                "cap_t": 2.5,
            },
        ],
    )
    t["focus_candidates"] = frame(
        "focus_candidates",
        [
            {
                "candidate_id": "f1",
                "name": "镀铬线",
                "reasons": "COD超标，VOCs超总量，使用六价铬，用水用能大",
            },
            {"candidate_id": "f2", "name": "锅炉房", "reasons": "能耗"},
        ],
    )
    crits = list(reference.table("scoring/focus_criteria.csv")["criterion_id"])
    t["focus_scores"] = frame(
        "focus_scores",
        [{"candidate_id": c, "criterion_id": k, "score": 5} for c in ("f1", "f2") for k in crits],
    )
    t["targets"] = frame(
        "targets",
        [
            {
                "target_id": "t1",
                "indicator": "COD排放浓度",
                "metric": "cod",
                "unit": "mg/L",
                "direction": "decrease",
                "baseline": 120,
                "near_term": 90,
                "near_term_deadline": "2025-06-30",
            },
            {
                "target_id": "t2",
                "indicator": "六价铬产生量",
                "metric": "cr6",
                "unit": "kg/a",
                "direction": "decrease",
                "baseline": 10,
                "near_term": 6,
                "near_term_deadline": "2024-12-31",
                "achieved": 5.5,
            },
            {
                "target_id": "t3",
                "indicator": "VOCs排放总量",
                "metric": "voc",
                "unit": "t/a",
                "direction": "decrease",
                "baseline": 3,
                "near_term": 2.4,
                "near_term_deadline": "2025-12-31",
            },
        ],
    )
    t["units"] = frame("units", [{"unit_id": "u1", "name": "镀铬槽"}])
    t["streams"] = frame(
        "streams",
        [
            {
                "stream_id": "s1",
                "from_unit": "ENV",
                "to_unit": "u1",
                "material": "铬酐",
                "component": "total",
                "kind": "raw_material",
                "value": 10,
                "unit": "kg/d",
                "status": "measured",
            }
        ],
    )
    t["water_units"] = frame(
        "water_units",
        [{"unit_id": "w1", "name": "漂洗", "system": "main_production", "purpose": "process"}],
    )
    t["water_flows"] = frame(
        "water_flows",
        [
            {
                "flow_id": "q1",
                "from_unit": "ENV",
                "to_unit": "w1",
                "kind": "intake",
                "value": 20,
                "unit": "m3/d",
                "status": "measured",
            }
        ],
    )
    t["meters"] = frame(
        "meters",
        [
            {
                "meter_id": "M0",
                "name": "总表",
                "level": "supply",
                "value": 1e5,
                "unit": "kWh",
                "period_days": 30,
            }
        ],
    )
    t["waste_causes"] = frame(
        "waste_causes",
        [
            {
                "cause_id": "c1",
                "location": "镀铬线",
                "waste": "漂洗水量大",
                "aspect": "process_control",
                "cause": "单级漂洗",
            }
        ],
    )
    aspects = list(reference.table("aspects.csv")["aspect_id"])
    opts = []
    for k, a in enumerate(aspects):
        opts.append(
            {
                "option_id": f"o{k}",
                "name": f"方案{k}",
                "aspect": a,
                "problem": "问题",
                "cause": "原因",
                "solution": "措施",
                "phase_proposed": 4,
                "screening": "feasible",
                "investment_10k_cny": 1.0,
                "status": "implemented",
                "location": "镀铬线" if a == "process_control" else None,
            }
        )
    opts.append(
        {
            "option_id": "mh1",
            "name": "逆流漂洗改造",
            "aspect": "technology",
            "problem": "用水大",
            "cause": "单级",
            "solution": "三级逆流",
            "phase_proposed": 4,
            "screening": "preliminary",
            "investment_10k_cny": 80.0,
            "annual_cost_saving_10k_cny": 20.0,
            "lifetime_years": 10,
            "technical_assessment": "成熟",
            "environmental_assessment": "减少含铬废水",
            "status": "implemented",
            "mandatory_issue": True,
            "indicator_ids": "unit_hazardous_waste;unit_energy",
        }
    )
    opts.append(
        {
            "option_id": "mh2",
            "name": "VOCs 收集治理",
            "aspect": "waste",
            "problem": "VOCs超总量",
            "cause": "无组织排放",
            "solution": "密闭收集",
            "phase_proposed": 4,
            "screening": "preliminary",
            "investment_10k_cny": 60.0,
            "annual_cost_saving_10k_cny": 2.0,
            "lifetime_years": 10,
            "technical_assessment": "可行",
            "environmental_assessment": "削减VOCs",
            "status": "planned",
        }
    )
    t["options"] = frame("options", opts)
    t["option_effects"] = frame(
        "option_effects",
        [
            {"option_id": "o0", "item": "cod", "expected": 2.0, "actual": 1.5, "unit": "t"},
            {"option_id": "mh1", "item": "cr6", "expected": 5.0, "actual": 4.5, "unit": "kg"},
            {
                "option_id": "mh1",
                "item": "electricity",
                "expected": 1e4,
                "actual": 1.2e4,
                "unit": "kWh",
            },
            {"option_id": "mh2", "item": "voc", "expected": 0.8, "unit": "t"},
        ],
    )
    impl = [
        {"option_id": o["option_id"], "actual_investment_10k_cny": o["investment_10k_cny"]}
        for o in opts
        if o["status"] == "implemented"
    ]
    impl.append(
        {
            "option_id": "mh2",
            "department": "设备部",
            "owner": "王工",
            "start": "2025-01-01",
            "end": "2025-06-30",
        }
    )
    t["implementation"] = frame("implementation", impl)
    vals = {
        "unit_energy": 110,
        "unit_water_intake": 0.1,
        "unit_cod": 0.5,
        "unit_hazardous_waste": 4.0,
        "cp_audit": 75,
        "energy_metering": 96,
    }
    iv = []
    for stage, shift in (("before", 1.0), ("after", 0.9)):
        iv += [
            {
                "indicator_id": k,
                "stage": stage,
                "value": v * shift if k.startswith("unit") else v,
                "applicable": True,
            }
            for k, v in vals.items()
        ]
        iv.append(
            {"indicator_id": "env_law_compliance", "stage": stage, "level": "I", "applicable": True}
        )
    t["indicator_values"] = frame("indicator_values", iv)
    for name, df in t.items():
        for c in df.columns:
            if c in ("start", "end", "date", "near_term_deadline", "mid_term_deadline"):
                t[name][c] = pd.to_datetime(df[c])
    return t


def good_dataset(**profile_changes) -> SimpleNamespace:
    profile = dict(
        name="测试电镀厂",
        categories=["double_exceeding", "double_toxic", "key_energy_user", "key_water_user"],
        audit_mode="entrusted",
        audit_kind="mandatory",
        audit_round="first",
        indicator_system="worked_example",
        audit_focus="f1",
        consultancy="某咨询公司",
        history_years=[2021, 2022, 2023],
        baseline_year=2023,
        audit_start=dt.date(2024, 1, 1),
        audit_end=dt.date(2024, 12, 31),
    )
    profile.update(profile_changes)
    continuous = dict(
        organisation="清洁生产领导小组",
        responsible_department="安环部",
        responsible_person="赵工",
        management_measures=["清洁生产管理办法"],
        incentives="奖励",
        funding="年度预算",
        next_round_focus="涂装线",
        research_plan="无铬钝化",
    )
    return SimpleNamespace(
        id="test",
        tables=good_tables(),
        profile=SimpleNamespace(**profile),
        parameters=SimpleNamespace(cost_class_thresholds=None, no_low_cost_max_10k_cny=None),
        continuous=SimpleNamespace(**continuous),
    )


def status(df: pd.DataFrame) -> dict[str, str]:
    return dict(zip(df["item_id"], df["status"], strict=True))


def evidence(df: pd.DataFrame, item: str) -> str:
    row = df.set_index("item_id").loc[item]
    return f"{row['evidence_en']} | {row['evidence_zh']}"


@pytest.fixture
def baseline():
    return selfcheck.self_check(good_dataset())


def test_complete_audit_passes(baseline):
    st = status(baseline)
    missing = {k: evidence(baseline, k) for k, v in st.items() if v == "missing"}
    assert missing == {}
    # before: Y_II 88 with restrictive at II -> level II, so the level-target rule does not apply
    assert st["level_target"] == "not_applicable"
    assert baseline.attrs["counts"]["missing"] == 0
    assert set(baseline["status"]) <= {"passed", "not_applicable"}
    assert "II" in evidence(baseline, "level_before") or "advanced" in evidence(
        baseline, "level_before"
    )
    # exceeding pollutants: COD by concentration, VOCs by cap (3 t > 2.5 t in the baseline year)
    assert "cod" in evidence(baseline, "exceeding_addressed") and "voc" in evidence(
        baseline, "exceeding_addressed"
    )
    assert "mh1" in evidence(baseline, "lagging_have_options")


def test_columns_and_checklist_data(baseline):
    assert list(baseline.columns) == [
        "item_id", "phase", "zh", "en", "clause", "how_zh", "how_en", "status", "evidence_zh", "evidence_en",
    ]  # fmt: skip
    items = selfcheck.checklist()
    assert items["item_id"].is_unique
    assert len(items) >= 30
    assert items["clause"].str.len().min() > 0
    assert set(items["check"]) <= set(selfcheck.CHECKS)
    assert reference.meta("selfcheck/checklist.yaml")["status"]


def mutated(fn, **profile_changes) -> dict[str, str]:
    ds = good_dataset(**profile_changes)
    fn(ds)
    res = selfcheck.self_check(ds)
    return res


def only_missing(res: pd.DataFrame) -> set[str]:
    return {k for k, v in status(res).items() if v == "missing"}


def test_team_without_leader():
    def f(ds):
        ds.tables["team"].loc[0, "role"] = "member"

    res = mutated(f)
    assert only_missing(res) == {"team_leader"}


def test_entrusted_audit_without_expert():
    def f(ds):
        ds.tables["team"] = ds.tables["team"].iloc[:1]

    res = mutated(f)
    assert only_missing(res) == {"external_expert"}
    assert "external_expert" in evidence(res, "external_expert")
    self_mode = mutated(f, audit_mode="self")
    assert status(self_mode)["external_expert"] == "not_applicable"


def test_compliance_deadline_beyond_two_years():
    def f(ds):
        ds.tables["targets"].loc[0, "near_term_deadline"] = pd.Timestamp("2026-06-30")

    res = mutated(f)
    assert only_missing(res) == {"compliance_target"}
    assert "COD (cod), 2026-06-30" in evidence(res, "compliance_target")


def test_exceeding_pollutant_without_target_and_option():
    def f(ds):
        ds.tables["targets"] = ds.tables["targets"].iloc[1:]
        ds.tables["option_effects"] = ds.tables["option_effects"].iloc[1:]

    res = mutated(f)
    assert only_missing(res) == {"compliance_target", "exceeding_addressed"}
    assert "no target for: COD (cod)" in evidence(res, "compliance_target")


def test_focus_must_address_exceeding_and_toxic_parts():
    def f(ds):
        ds.tables["focus_candidates"].loc[0, "reasons"] = "产量大"
        ds.tables["focus_candidates"].loc[0, "name"] = "包装车间"

    res = mutated(f)
    assert {"focus_exceeding", "focus_toxic", "focus_energy", "focus_water"} == only_missing(res)
    assert "cod" in evidence(res, "focus_exceeding")


def test_missing_aspect_and_unmatched_cause():
    def f(ds):
        o = ds.tables["options"]
        ds.tables["options"] = o[o["aspect"] != "process_control"]
        ds.tables["implementation"] = ds.tables["implementation"][
            ds.tables["implementation"]["option_id"] != "o3"
        ]

    res = mutated(f)
    assert only_missing(res) == {"options_aspects", "causes_have_options"}
    assert "process control" in evidence(res, "options_aspects")
    assert "c1" in evidence(res, "causes_have_options")


def test_cause_matched_by_similar_text_when_location_differs():
    def f(ds):
        o = ds.tables["options"]
        i = o.index[o["aspect"] == "process_control"][0]
        o.loc[i, "location"] = "二车间"
        o.loc[i, "problem"] = "漂洗水量大"
        o.loc[i, "cause"] = "单级漂洗"

    assert only_missing(mutated(f)) == set()


def test_medium_high_option_without_environmental_assessment():
    def f(ds):
        o = ds.tables["options"]
        o.loc[o["option_id"] == "mh2", "environmental_assessment"] = None

    res = mutated(f)
    assert only_missing(res) == {"medium_high_assessed"}
    assert "mh2 (Environmental assessment)" in evidence(res, "medium_high_assessed")


def test_lagging_indicator_without_option():
    def f(ds):
        o = ds.tables["options"]
        o.loc[o["option_id"] == "mh1", "indicator_ids"] = "unit_energy"

    res = mutated(f)
    assert only_missing(res) == {"lagging_have_options"}
    assert "Hazardous waste per product (unit_hazardous_waste)" in evidence(
        res, "lagging_have_options"
    )


def test_without_indicator_system():
    res = selfcheck.self_check(good_dataset(indicator_system=None))
    st = status(res)
    for item in ("level_before", "level_target", "lagging_have_options"):
        assert st[item] == "not_applicable"
    assert "5.2.10" in evidence(res, "level_before")
    # before/after falls back to the targets' achieved values (t2 has one)
    assert st["before_after"] == "passed"


def test_ungradable_indicator_values_are_missing_not_crashing():
    def f(ds):
        iv = ds.tables["indicator_values"]
        ds.tables["indicator_values"] = iv[iv["stage"] == "before"]

    res = mutated(f)
    assert only_missing(res) == {"before_after"}
    assert "no rows for stage 'after'" in evidence(res, "before_after")


def test_effects_planned_schedule_and_measurements():
    def f(ds):
        e = ds.tables["option_effects"]
        e.loc[e["option_id"] == "mh1", "actual"] = None
        imp = ds.tables["implementation"]
        imp.loc[imp["option_id"] == "mh2", "start"] = pd.NaT

    res = mutated(f)
    assert only_missing(res) == {"effects_measured", "planned_schedule"}


def test_targets_and_continuous_plan():
    def f(ds):
        ds.tables["targets"].loc[1, "achieved"] = None  # t2 due 2024-12-31 = audit end
        ds.tables["targets"].loc[2, "near_term"] = 3.5  # a decrease target above its baseline
        ds.continuous.funding = "  "
        ds.tables["training"] = ds.tables["training"].iloc[:1]

    res = mutated(f)
    assert only_missing(res) == {
        "targets_achieved",
        "targets_quantified",
        "continuous_management",
        "continuous_plan",
    }
    assert "t3 (decrease: 3 -> 3.5)" in evidence(res, "targets_quantified")
    assert "Funding" in evidence(res, "continuous_management")
    assert "no planned training" in evidence(res, "continuous_plan")


def test_categories_switch_items_off():
    res = selfcheck.self_check(good_dataset(categories=[], audit_kind="voluntary"))
    st = status(res)
    for item in (
        "focus_toxic",
        "focus_energy",
        "focus_water",
        "toxic_target",
        "toxic_options",
        "water_balance",
        "energy_balance",
        "mandatory_issue",
    ):
        assert st[item] == "not_applicable", item
    # pollutants still exceed, so these stay applicable whatever the declared categories
    assert st["focus_exceeding"] == "passed"


def test_history_and_compliance_data():
    def f(ds):
        h = ds.tables["history"]
        ds.tables["history"] = h[~((h["year"] == 2021) & (h["category"] == "energy"))]
        ds.tables["pollutants"].loc[1, "limit_standard"] = None

    res = mutated(f)
    assert only_missing(res) == {"history_three_years", "compliance_data"}
    assert "energy 2021" in evidence(res, "history_three_years")
    assert "cr6" in evidence(res, "compliance_data")


def test_custom_checklist_and_bad_items():
    items = [
        {
            "id": "x",
            "phase": 1,
            "zh": "甲",
            "en": "A",
            "clause": "c",
            "how": {"zh": "z", "en": "e"},
            "check": "tables_present",
            "params": {"tables": ["units"]},
        }
    ]
    res = selfcheck.self_check(good_dataset(), items)
    assert status(res) == {"x": "passed"}
    bad = copy.deepcopy(items)
    bad[0]["check"] = "magic"
    with pytest.raises(selfcheck.SelfCheckError, match="unknown check 'magic'"):
        selfcheck.self_check(good_dataset(), bad)
    bad = copy.deepcopy(items)
    bad[0]["applies_when"] = {"weather": "sunny"}
    with pytest.raises(selfcheck.SelfCheckError, match="applies_when"):
        selfcheck.checklist(bad)
    with pytest.raises(selfcheck.SelfCheckError, match="no tables"):
        selfcheck.self_check(SimpleNamespace(profile=None))


def test_dataset_not_modified():
    ds = good_dataset()
    before = {k: v.copy(deep=True) for k, v in ds.tables.items()}
    selfcheck.self_check(ds)
    for k, v in ds.tables.items():
        pd.testing.assert_frame_equal(v, before[k])


@pytest.mark.parametrize(
    "sample", sorted(p.name for p in (ROOT / "data" / "samples").iterdir() if p.is_dir())
)
def test_chinese_evidence_names_things_in_chinese(sample):
    """The zh evidence names aspects, table titles, categories, indicators and screening
    results in Chinese, never by their dataset ids; lists use the Chinese separator."""
    from cpkit import dataset

    res = selfcheck.self_check(dataset.load(ROOT / "data" / "samples" / sample))
    ids = [*reference.table("aspects.csv")["aspect_id"], "double_toxic", "water_intake",
           "feasible", "preliminary", "option_effects", "streams", "water_units", "<-", "->"]  # fmt: skip
    for item, text in zip(res["item_id"], res["evidence_zh"], strict=True):
        for raw in ids:
            assert raw not in str(text), (item, raw, text)
        assert ", " not in str(text), (item, text)
