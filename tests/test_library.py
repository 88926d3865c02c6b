"""Tests of cpkit.library: the option library as data and suggestions for lagging indicators.

References: seed 004 Appendix A (Table A.1) lists 29 examples of the option logic across the
eight aspects (the table merges 管理 and 员工 into one heading); general.csv must carry all of
them, rewritten. Ranking expectations are worked out by hand from option_library/matching.yaml.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from cpkit import grading, library, reference
from cpkit.errors import CpkitError, ReferenceDataError

FIXTURES = Path(__file__).parent / "fixtures" / "indicator_systems"


def test_general_library_is_valid_and_complete():
    p = reference.path("option_library/general.csv")
    assert library.check_library_file(p) == []
    lib = library.load_library(["general"])
    appendix = lib[lib["source"].str.contains("Appendix A")]
    assert len(appendix) == 29  # every example of Table A.1
    aspects = set(reference.table("aspects.csv")["aspect_id"])
    assert set(appendix["aspect"]) == aspects  # all eight aspects
    assert len(lib) >= 40
    for c in (
        "name_zh",
        "name_en",
        "problem_zh",
        "problem_en",
        "cause_zh",
        "cause_en",
        "solution_zh",
        "solution_en",
    ):
        assert lib[c].notna().all(), c
    assert set(lib["cost_class"].dropna()) <= {"no_low", "medium_high"}
    assert lib["entry_id"].is_unique


def test_catalog_lists_every_library_file():
    listed = set(
        yaml.safe_load(reference.path("option_library/catalog.yaml").read_text("utf-8"))["files"]
    )
    files = {f"{s}.csv" for s in library.available_libraries()}
    assert files <= listed, f"not in option_library/catalog.yaml: {sorted(files - listed)}"
    assert "matching.yaml" in listed


@pytest.mark.parametrize("industry", library.available_libraries())
def test_shipped_libraries_are_valid(industry):
    known = None
    if industry in grading.available_systems():
        doc = yaml.safe_load(
            reference.path(f"indicator_systems/{industry}.yaml").read_text("utf-8")
        )
        known = [i["id"] for g in doc.get("groups", []) for i in g.get("indicators", [])]
    problems = library.check_library_file(reference.path(f"option_library/{industry}.csv"), known)
    assert problems == [], "\n".join(problems)


def test_library_for_takes_general_and_own_industry_only():
    lib = library.library_for(None)
    assert set(lib["industry"]) == {"general"}
    others = [i for i in library.available_libraries() if i != "general"]
    if others:
        own = library.library_for(others[0])
        assert set(own["industry"]) == {"general", others[0]}
    assert set(library.library_for("no_such_system")["industry"]) == {"general"}
    with pytest.raises(ReferenceDataError, match="no option library for nowhere"):
        library.load_library(["nowhere"])


def test_library_problems_are_reported(tmp_path):
    p = tmp_path / "mine.csv"
    rows = [
        [
            "x1",
            "mine",
            "technology",
            "名",
            "Name",
            "",
            "",
            "",
            "",
            "解",
            "Solve",
            "a;b",
            "no_low",
            "s",
        ],
        [
            "x1",
            "other",
            "cooking",
            "名",
            "Name",
            "",
            "",
            "",
            "",
            "解",
            "Solve",
            "bad id",
            "cheap",
            "s",
        ],
        ["x3", "mine", "waste", "", "Name", "", "", "", "", "解", "Solve", "", "", "s"],
    ]
    pd.DataFrame(rows, columns=library.COLUMNS).to_csv(p, index=False)
    text = "\n".join(library.check_library_file(p, known_indicators=["a"]))
    assert "entry_id 'x1' is used more than once" in text
    assert "line 3 (x1): industry 'other' differs from the file name 'mine'" in text
    assert "aspect 'cooking' is not one of" in text
    assert "cost_class 'cheap'" in text
    assert "indicator id 'bad id' is not an id" in text
    assert "line 2 (x1): indicator id 'b' is not in the indicator system" in text
    assert "line 4 (x3): name_zh is empty" in text
    with pytest.raises(ReferenceDataError, match="invalid option library"):
        library.load_library_file(p)
    q = tmp_path / "cols.csv"
    q.write_text("entry_id,name\nx,y\n", encoding="utf-8")
    assert "missing column(s)" in library.check_library_file(q)[0]


def _lagging() -> pd.DataFrame:
    system = grading.load_system_file(FIXTURES / "worked_example.yaml")
    vals = pd.DataFrame(
        {
            "indicator_id": [
                "unit_energy",
                "unit_water_intake",
                "unit_cod",
                "unit_hazardous_waste",
                "env_law_compliance",
                "cp_audit",
                "energy_metering",
            ],
            "stage": "before",
            "value": [110, 0.25, 0.5, 2, None, 95, 100],
            "level": [None, None, None, None, "I", None, None],
            "applicable": True,
            "evidence": None,
        }
    )
    return grading.lagging_indicators(grading.grade(system, vals)), system


def _entry(eid: str, industry: str, aspect: str, name: str, text: str, ids: str = "") -> dict:
    return {
        "entry_id": eid,
        "industry": industry,
        "aspect": aspect,
        "name_zh": name,
        "name_en": name,
        "problem_zh": text,
        "problem_en": text,
        "cause_zh": text,
        "cause_en": text,
        "solution_zh": text,
        "solution_en": text,
        "indicator_ids": ids or None,
        "cost_class": "no_low",
        "source": "test",
    }


def test_suggestions_rank_links_then_concepts():
    lag, system = _lagging()
    assert list(lag["indicator_id"]) == ["unit_water_intake", "unit_energy"]
    lib = pd.DataFrame(
        [
            _entry("w-text", "general", "waste", "雨水回用", "收集雨水补充冷却水，节约自来水"),
            _entry(
                "w-link", "worked_example", "management", "巡检", "定期巡检", "unit_water_intake"
            ),
            _entry("e-heat", "general", "waste", "余热回收", "加热炉烟气余热回收"),
            _entry("paint", "general", "product", "包装", "产品包装减量"),
        ]
    ).astype("string")
    s = library.suggest_options(lag, system, lib, top=3)
    water = s[s["indicator_id"] == "unit_water_intake"]
    # the linked entry first (score >= 100) whatever its text; then the water concept
    assert list(water["entry_id"])[:2] == ["w-link", "w-text"]
    assert list(water["match"])[:2] == ["indicator", "concept"]
    assert water["rank"].tolist()[:2] == [1, 2]
    energy = s[s["indicator_id"] == "unit_energy"]
    # an energy indicator matches heat options through `includes` of the energy concept
    assert energy["entry_id"].iloc[0] == "e-heat"
    assert "heat" in energy["matched_on"].iloc[0]
    assert "paint" not in set(s["entry_id"].dropna())


def test_industry_bonus_breaks_ties():
    lag, system = _lagging()
    lib = pd.DataFrame(
        [
            _entry("gen", "general", "waste", "雨水回用", "收集雨水"),
            _entry("own", "worked_example", "waste", "雨水回用", "收集雨水"),
        ]
    ).astype("string")
    s = library.suggest_options(lag.iloc[:1], system, lib)
    assert list(s["entry_id"]) == ["own", "gen"]
    assert s["score"].iloc[0] - s["score"].iloc[1] == pytest.approx(2.0)  # industry_bonus


def test_indicator_without_any_match_is_kept():
    lag, system = _lagging()
    lib = pd.DataFrame([_entry("p", "general", "product", "包装", "产品包装减量")]).astype("string")
    s = library.suggest_options(lag, system, lib)
    assert list(s["match"]) == ["none", "none"]
    assert s["entry_id"].isna().all()


def test_suggestions_with_shipped_library():
    lag, system = _lagging()
    s = library.suggest_options(lag, system)  # general library (no file for worked_example)
    assert set(s["indicator_id"]) == {"unit_water_intake", "unit_energy"}
    water = s[s["indicator_id"] == "unit_water_intake"]
    assert len(water) == 5
    assert water["entry_id"].iloc[0] == "gen-004"  # rainwater as cooling make-up
    with pytest.raises(CpkitError, match="lagging indicators need columns"):
        library.suggest_options(pd.DataFrame({"x": [1]}), system)


def test_lagging_coverage():
    lag, _ = _lagging()
    options = pd.DataFrame(
        {
            "option_id": ["o1", "o2", "o3"],
            "indicator_ids": ["unit_water_intake; unit_cod", "unit_energy", None],
            "status": ["planned", "rejected", "implemented"],
        }
    )
    cov = library.lagging_coverage(lag, options).set_index("indicator_id")
    assert cov.at["unit_water_intake", "options"] == "o1"
    assert bool(cov.at["unit_water_intake", "addressed"]) is True
    assert bool(cov.at["unit_energy", "addressed"]) is False  # only a rejected option


def test_general_links_name_indicators_of_shipped_systems():
    """general.csv may link indicators of any system; each id must exist in one of them."""
    known = set()
    for sid in grading.available_systems():
        known |= {i.id for i in grading.load_system(sid).indicators}
    lib = library.load_library(["general"])
    linked = {
        t.strip() for x in lib["indicator_ids"].dropna() for t in str(x).split(";") if t.strip()
    }
    if not known:
        pytest.skip("no indicator system shipped yet")
    assert linked - known == set(), (
        f"general.csv links unknown indicators: {sorted(linked - known)}"
    )
