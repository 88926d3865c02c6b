"""Tests of cpkit.scoring: the worked example of calculation reference 2.3, the
double-weighting pitfall of 2.4, validation, and rank stability checked by hand and by
brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpkit import scoring as sc
from cpkit.scoring import ScoringError

# calculation reference 2.3 (illustrative, juge-ge default weights 10/9/9/8/6/5)
EXAMPLE_R = {
    "electroplating": [9, 9, 6, 9, 8, 7],
    "coating": [7, 8, 7, 6, 7, 8],
    "machining": [5, 3, 8, 4, 5, 6],
}
CRITERIA = [
    "waste_quantity",
    "toxicity",
    "consumption",
    "environmental_cost",
    "cp_potential",
    "cooperation",
]


def focus_scores(
    r: dict[str, list[float]] = EXAMPLE_R, criteria: list[str] = CRITERIA
) -> pd.DataFrame:
    rows = [
        {"candidate_id": cand, "criterion_id": c, "score": float(v)}
        for cand, vals in r.items()
        for c, v in zip(criteria, vals, strict=True)
    ]
    return pd.DataFrame(rows).astype(
        {"candidate_id": "string", "criterion_id": "string", "score": "Float64"}
    )


def candidates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "candidate_id": ["electroplating", "coating", "machining"],
            "name": ["电镀车间", "涂装车间", "机加工车间"],
        }
    ).astype("string")


def test_worked_example_380_335_241():
    res = sc.weighted_scores(focus_scores(), candidates=candidates())
    totals = res.ranking.set_index("candidate_id")["total_score"]
    assert totals.to_dict() == {"electroplating": 380, "coating": 335, "machining": 241}
    assert res.top == ("electroplating",)
    assert res.ranking["rank"].tolist() == [1, 2, 3]
    assert res.ties == ()
    # the matrix table: R and R×W per cell, ΣR×W in the last row
    m = res.matrix.set_index("criterion_id")
    assert m.loc["waste_quantity", "electroplating_r"] == 9
    assert m.loc["waste_quantity", "electroplating_rw"] == 90
    assert m.loc["cooperation", "machining_rw"] == 30
    assert m.loc["total", "coating_rw"] == 335
    assert pd.isna(m.loc["total", "coating_r"])
    assert res.matrix.attrs["candidates"]["electroplating"] == "电镀车间"
    assert "juge-ge" in res.basis["source"]


def test_weight_is_applied_once_only():
    # the competitor summed rw × W where rw already held R × W (calculation reference 2.4);
    # by hand, machining: 5·10 + 3·9 + 8·9 + 4·8 + 5·6 + 6·5 = 241, while the buggy
    # Σ(R·W)·W = 500 + 243 + 648 + 256 + 180 + 150 = 1977
    res = sc.weighted_scores(focus_scores(), candidates=candidates())
    cells = res.cells[res.cells["candidate_id"] == "machining"]
    assert (cells["score_rw"] == cells["score_r"] * cells["weight"]).all()
    total = res.ranking.set_index("candidate_id").loc["machining", "total_score"]
    assert total == 241
    assert total != (cells["score_rw"] * cells["weight"]).sum() == 1977
    # a table holding R × W instead of R is refused with a hint
    bad = focus_scores()
    bad.loc[0, "score"] = 90.0
    with pytest.raises(ScoringError, match=r"R × W entered instead of R"):
        sc.weighted_scores(bad)


def test_validation_messages():
    s = focus_scores()
    with pytest.raises(ScoringError, match="machining: no score R for cooperation"):
        sc.weighted_scores(
            s[~((s["candidate_id"] == "machining") & (s["criterion_id"] == "cooperation"))]
        )
    with pytest.raises(ScoringError, match="scored more than once"):
        sc.weighted_scores(pd.concat([s, s.iloc[[0]]], ignore_index=True))
    extra = pd.concat(
        [s, pd.DataFrame({"candidate_id": ["coating"], "criterion_id": ["noise"], "score": [3.0]})]
    )
    with pytest.raises(ScoringError, match="criteria \\['noise'\\]"):
        sc.weighted_scores(extra)
    with pytest.raises(ScoringError, match="outside 0-20"):
        sc.weighted_scores(s, sc.criteria(weights={"toxicity": 25}))
    cands = pd.concat(
        [candidates(), pd.DataFrame({"candidate_id": ["boiler"], "name": ["锅炉房"]})]
    )
    with pytest.raises(ScoringError, match="boiler: not scored at all"):
        sc.weighted_scores(s, candidates=cands)
    empty = s.copy()
    empty.loc[3, "score"] = pd.NA
    with pytest.raises(ScoringError, match="score R is empty"):
        sc.weighted_scores(empty)


def test_weight_outside_usual_range_is_a_warning():
    res = sc.weighted_scores(focus_scores(), sc.criteria(weights={"toxicity": 3}))
    assert any("toxicity" in w and "7-9" in w for w in res.warnings)
    assert res.criteria.set_index("criterion_id").loc["toxicity", "source"] == "set by the user"


def test_dataset_criteria_replace_the_defaults():
    table = pd.DataFrame(
        {
            "criterion_id": ["waste_quantity", "market"],
            "name": ["废物量", "市场潜力"],
            "weight": [10.0, 5.0],
        }
    )
    crit = sc.criteria(table)
    assert crit["criterion_id"].tolist() == ["waste_quantity", "market"]
    assert crit.loc[0, "weight_max"] == 10 and pd.isna(crit.loc[1, "weight_max"])
    scores = focus_scores({"a": [3, 4], "b": [5, 1]}, ["waste_quantity", "market"])
    res = sc.weighted_scores(scores, crit)
    # hand: a = 30 + 20 = 50, b = 50 + 5 = 55
    assert res.ranking["total_score"].tolist() == [55, 50]


def test_ties_are_reported():
    # the first two default criteria (W = 10, 9); hand: x = 9·10 + 0·9 = 90,
    # y = 0·10 + 10·9 = 90, z = 1·10 + 1·9 = 19
    crit = sc.criteria().iloc[:2]
    res = sc.weighted_scores(
        focus_scores({"x": [9, 0], "y": [0, 10], "z": [1, 1]}, CRITERIA[:2]), crit
    )
    assert res.top == ("x", "y")
    assert res.ties == (("x", "y"),)
    assert res.ranking["rank"].tolist() == [1, 1, 3]
    assert any("tie at the top" in w for w in res.warnings)


def two_candidate_case() -> sc.WeightedScoring:
    # W = (5, 3); A: R = (8, 2) → 46; B: R = (4, 7) → 41
    crit = pd.DataFrame(
        {
            "criterion_id": ["c1", "c2"],
            "name_zh": ["甲", "乙"],
            "name_en": ["one", "two"],
            "weight": [5.0, 3.0],
            "weight_min": [4.0, 1.0],
            "weight_max": [6.0, 5.0],
            "source": ["t", "t"],
        }
    )
    return sc.weighted_scores(focus_scores({"A": [8, 2], "B": [4, 7]}, ["c1", "c2"]), crit)


def test_rank_stability_by_hand_on_two_candidates():
    res = two_candidate_case()
    assert res.top == ("A",)
    st_ = sc.rank_stability(res).set_index("criterion_id")
    # c1 moves alone: A = 8w + 6, B = 4w + 21 → tie at 8w + 6 = 4w + 21 → w = 3.75
    assert st_.loc["c1", "down_to_weight"] == pytest.approx(3.75)
    assert st_.loc["c1", "down_challenger"] == "B"
    assert st_.loc["c1", "margin_down"] == pytest.approx(1.25)
    assert pd.isna(st_.loc["c1", "up_to_weight"])  # more weight on c1 only helps A
    assert not st_.loc["c1", "change_within_range"]  # usual range 4-6 stays above 3.75
    # c2 moves alone: A = 40 + 2w, B = 20 + 7w → tie at w = 4, inside the range 1-5
    assert st_.loc["c2", "up_to_weight"] == pytest.approx(4.0)
    assert st_.loc["c2", "margin_up"] == pytest.approx(1.0)
    assert pd.isna(st_.loc["c2", "down_to_weight"])
    assert st_.loc["c2", "change_within_range"]
    # ±1 view: W2 = 4 ties (A = 40 + 8 = 48, B = 20 + 28 = 48); W1 = 4 keeps A
    pv = sc.perturbation(res).set_index(["criterion_id", "change"])
    assert pv.loc[("c2", 1.0), "top"] == "A = B" and pv.loc[("c2", 1.0), "top_changed"]
    assert pv.loc[("c2", 1.0), "order"] == "A = B"
    assert not pv.loc[("c1", -1.0), "top_changed"]  # A = 38, B = 37
    assert pv.loc[("c1", -1.0), "order"] == "A > B"


@settings(max_examples=150, deadline=None)
@given(
    r=st.lists(st.lists(st.integers(0, 10), min_size=3, max_size=3), min_size=2, max_size=5),
    w=st.lists(st.integers(1, 10), min_size=3, max_size=3),
)
def test_crossovers_are_exact(r, w):
    crit = pd.DataFrame(
        {
            "criterion_id": ["a", "b", "c"],
            "name_zh": ["a", "b", "c"],
            "name_en": ["a", "b", "c"],
            "weight": [float(x) for x in w],
            "weight_min": [pd.NA] * 3,
            "weight_max": [pd.NA] * 3,
            "source": "t",
        }
    ).astype({"weight_min": "Float64", "weight_max": "Float64"})
    scores = focus_scores({f"k{i}": row for i, row in enumerate(r)}, ["a", "b", "c"])
    res = sc.weighted_scores(scores, crit)
    if len(res.top) > 1:
        return
    top = res.top[0]
    R = np.array(r, dtype=float)
    ids = [f"k{i}" for i in range(len(r))]
    stab = sc.rank_stability(res)
    for i, row in stab.iterrows():
        for col, chal, sign in (
            ("down_to_weight", "down_challenger", -1),
            ("up_to_weight", "up_challenger", 1),
        ):
            wstar = row[col]
            if pd.isna(wstar):
                # brute force: the top holds everywhere in that direction (down to 0, up to 1000)
                for x in np.linspace(w[i], 0 if sign < 0 else 1000, 50)[1:]:
                    ww = np.array(w, float)
                    ww[i] = x
                    tot = R @ ww
                    assert tot[ids.index(top)] >= tot.max() - 1e-9
                continue
            ww = np.array(w, float)
            ww[i] = wstar
            tot = R @ ww
            # at w* the challenger ties with the top, and both are the maximum
            assert tot[ids.index(row[chal])] == pytest.approx(tot[ids.index(top)])
            assert tot[ids.index(top)] >= tot.max() - 1e-9
            # just before w* the top still leads strictly
            ww[i] = wstar - sign * 1e-6
            tot = R @ ww
            assert np.argmax(tot) == ids.index(top)
            # just beyond w* it has changed
            ww[i] = wstar + sign * 1e-6
            tot = R @ ww
            assert tot[ids.index(row[chal])] > tot[ids.index(top)]


def test_simple_comparison():
    q = pd.DataFrame(
        {
            "candidate_id": ["p", "q", "r"],
            "name": ["电镀", "涂装", "机加工"],
            "waste_t": [120.0, 80.0, 30.0],
            "energy_tce": [50.0, 90.0, 20.0],
            "water_m3": [9000.0, 3000.0, 3000.0],
        }
    )
    out = sc.simple_comparison(q).set_index("candidate_id")
    # by hand: ranks p (1, 2, 1) = 4, q (2, 1, 2) = 5, r (3, 3, 2) = 8
    assert out["rank_waste_t"].tolist() == [1, 2, 3]
    assert out.loc["q", "rank_water_m3"] == 2 and out.loc["r", "rank_water_m3"] == 2
    assert out["rank_sum"].to_dict() == {"p": 4, "q": 5, "r": 8}
    assert out["rank"].to_dict() == {"p": 1, "q": 2, "r": 3}
    assert out.loc["p", "first_places"] == 2
    rev = sc.simple_comparison(q, {"energy_tce": "smaller"}).set_index("candidate_id")
    assert rev.loc["r", "rank_energy_tce"] == 1
    with pytest.raises(ScoringError, match="q: waste_t is empty"):
        sc.simple_comparison(q.assign(waste_t=[1.0, None, 2.0]))
    with pytest.raises(ScoringError, match="larger"):
        sc.simple_comparison(q, {"waste_t": "big"})


def test_inputs_not_modified():
    s = focus_scores()
    before = s.copy()
    res = sc.weighted_scores(s)
    sc.rank_stability(res)
    sc.perturbation(res)
    pd.testing.assert_frame_equal(s, before)


def test_option_criteria_defaults():
    crit = sc.default_criteria("option")
    assert crit["criterion_id"].tolist() == [
        "environmental_effect",
        "economic_feasibility",
        "technical_feasibility",
        "implementability",
    ]
    assert crit.attrs["basis"]["status"] == "C"
    with pytest.raises(ScoringError, match="unknown criteria kind"):
        sc.default_criteria("focal")


def test_reference_files_are_catalogued():
    from cpkit import reference

    for rel in ("scoring/focus_criteria.csv", "scoring/option_criteria.csv", "scoring/scales.yaml"):
        assert reference.meta(rel)["source"]
    s = sc.score_scale()
    assert (s.score_min, s.score_max, s.weight_min, s.weight_max, s.perturbation_step) == (
        0,
        10,
        0,
        20,
        1,
    )
