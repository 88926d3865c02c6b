"""Cross-check of the three sample datasets against the arithmetic written in their READMEs.

Each sample's README (data/samples/<id>/README.md) states how its figures were built; these
tests load the sample with cpkit, recompute those hand calculations with cpkit (units,
indicators, energy, scoring, screening, balances, reconciliation, grading) and compare them
with the README's numbers and with the values the dataset itself carries (indicator values,
targets, history). The READMEs' written-out arithmetic is the independent reference.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cpkit import balances, grading, indicators, reconciliation, scoring, screening, units
from cpkit.dataset import load

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


@pytest.fixture(scope="module")
def plating():
    return load(SAMPLES / "sample-plating")


@pytest.fixture(scope="module")
def dyeing():
    return load(SAMPLES / "sample-dyeing")


@pytest.fixture(scope="module")
def painting():
    return load(SAMPLES / "sample-painting")


def hist(ds, year: int, category: str, item: str) -> float:
    """A history quantity in the dataset's canonical unit."""
    h = ds.tables["history"]
    row = h[(h["year"] == year) & (h["category"] == category) & (h["item"] == item)]
    assert len(row) == 1, (year, category, item)
    return float(row["quantity"].iloc[0])


def indicator(ds, iid: str, stage: str) -> float:
    iv = ds.tables["indicator_values"]
    row = iv[(iv["indicator_id"] == iid) & (iv["stage"] == stage)]
    return float(row["value"].iloc[0])


def target(ds, tid: str) -> pd.Series:
    return ds.tables["targets"].set_index("target_id").loc[tid]


def coating_kg(area_m2: float, thickness_um: float, density_g_cm3: float) -> float:
    """Metal deposited: area x thickness x density, units converted by cpkit.units."""
    return area_m2 * units.convert(thickness_um * density_g_cm3, "um*g/cm3", "kg/m2")


# Molar-mass fractions the plating README uses (metal in salt)
NI_IN_NISO4 = 58.69 / 262.85  # 22.33 %
NI_IN_NICL2 = 58.69 / 237.69  # 24.69 %


# =========================================================================== plating
class TestPlating:
    def test_nickel_per_m2(self):
        # README: 12 um x 8.9 g/cm3 = 0.107 kg/m2
        assert coating_kg(1, 12, 8.9) == pytest.approx(0.1068)
        assert round(NI_IN_NISO4 * 100, 2) == 22.33
        assert round(NI_IN_NICL2 * 100, 2) == 24.69

    def test_nickel_utilisation_before_and_after(self, plating):
        def utilisation(year: int) -> float:
            area = hist(plating, year, "product", "P01")  # every P01 part goes through the Ni line
            deposited = area * 0.107  # README rounds the coating to 0.107 kg/m2
            used = (
                hist(plating, year, "material", "M01")
                + hist(plating, year, "material", "M02") * NI_IN_NISO4
                + hist(plating, year, "material", "M03") * NI_IN_NICL2
            )
            return deposited / used * 100

        # README: 360 000 x 0.107 / (37 200 + 19 200 x 0.2233 + 7 500 x 0.2469) = 88.9 %
        assert utilisation(2025) == pytest.approx(38520 / 43339 * 100, rel=1e-4)
        assert round(utilisation(2025), 1) == 88.9
        assert round(utilisation(2026), 1) == 94.1
        assert utilisation(2025) == pytest.approx(
            indicator(plating, "nickel_utilisation", "before"), abs=0.01
        )
        assert utilisation(2026) == pytest.approx(
            indicator(plating, "nickel_utilisation", "after"), abs=0.01
        )
        assert (
            target(plating, "T02")["baseline"] == 88.9
            and target(plating, "T02")["achieved"] == 94.1
        )

    def test_rinse_water_per_m2(self, plating):
        # README: (452 - 12) m3/d / [(360 000 x 7 + 520 000 x 5 + 28 000 x 3) / 300] = 25.4 L/m2
        rinses = (
            hist(plating, 2025, "product", "P01") * 7
            + hist(plating, 2025, "product", "P03") * 5
            + hist(plating, 2025, "product", "P02") * 3
        ) / 300
        before = units.convert((452 - 12) / rinses, "m3", "L")
        assert round(before, 2) == 25.37 == indicator(plating, "rinse_water_per_m2", "before")
        # after (indicator evidence): 287.3 m3/d over 17 803 m2 rinses a day = 16.1 L/m2
        after = units.convert(287.3 / 17803, "m3", "L")
        assert round(after, 2) == indicator(plating, "rinse_water_per_m2", "after") == 16.14
        assert (
            target(plating, "T03")["baseline"] == 25.4
            and target(plating, "T03")["achieved"] == 16.1
        )

    def test_water_reuse(self, plating):
        # README: 213 / (213 + 452) = 32.0 % (after 54.0 %)
        assert round(213 / (213 + 452) * 100, 2) == indicator(plating, "water_reuse_rate", "before")
        after = 351.4 / (351.4 + 299.7) * 100
        assert round(after, 2) == indicator(plating, "water_reuse_rate", "after")
        assert round(after, 0) == 54

    def test_energy_per_m2_with_cpkit(self, plating):
        t = plating.tables
        st = indicators.status(t["history"], t["products"], years=[2025, 2026])
        e = st[st["metric"] == "energy_per_product"].set_index("year")["value"]
        # README: (6 050 000 x 0.1229 + 420 000 x 1.2143) kgce / 908 000 m2 = 1.381 kgce/m2
        hand = (6_050_000 * 0.1229 + 420_000 * 1.2143) / 908_000
        assert units.convert(e[2025], "tce", "kgce") == pytest.approx(hand)
        assert round(units.convert(e[2025], "tce", "kgce"), 3) == 1.381
        assert round(units.convert(e[2026], "tce", "kgce"), 3) == 1.297
        assert indicator(plating, "energy_per_m2", "after") == 1.297

    def test_other_metal_utilisations(self, plating):
        # README: copper 180 000 m2 x 18 um x 8.96 / (33 400 + 3 200 x 0.2545) = 84.9 %
        cu = coating_kg(180_000, 18, 8.96) / (
            hist(plating, 2025, "material", "M07") + hist(plating, 2025, "material", "M08") * 0.2545
        )
        # 84.848 %: the README's 84.9 rounds the indicator's 84.85 a second time
        assert cu * 100 == pytest.approx(84.9, abs=0.06)
        assert cu * 100 == pytest.approx(
            indicator(plating, "copper_utilisation", "before"), abs=0.01
        )
        # zinc 520 000 m2 x 8 um x 7.14 / (35 800 + 1 000 x 0.8034) = 81.2 %
        zn = coating_kg(hist(plating, 2025, "product", "P03"), 8, 7.14) / (
            hist(plating, 2025, "material", "M05") + hist(plating, 2025, "material", "M06") * 0.8034
        )
        assert zn * 100 == pytest.approx(81.2, abs=0.06)  # 81.147 %, README rounds 81.15
        assert zn * 100 == pytest.approx(indicator(plating, "zinc_utilisation", "before"), abs=0.01)
        # decorative chromium 360 000 m2 x 0.3 um x 7.19 / (6 790 kg CrO3 x 0.52) = 22.0 %
        cr = coating_kg(360_000, 0.3, 7.19) / (6790 * 0.52)
        assert round(cr * 100, 1) == 22.0
        assert cr * 100 == pytest.approx(
            indicator(plating, "deco_chrome_utilisation", "before"), abs=0.01
        )

    def test_nickel_emission(self, plating):
        # README: 5 370 m3 x 0.78 mg/L = 4.19 kg (cap 3.0 kg)
        kg = 5370 * 0.78 * units.conversion_factor("m3*mg/L", "kg")
        assert round(kg, 2) == 4.19
        assert units.convert(hist(plating, 2025, "emission", "PW01"), "t", "kg") == pytest.approx(
            4.19
        )
        comp = indicators.compliance(
            plating.tables["pollutants"], history=plating.tables["history"], year=2025
        )
        ni = comp.set_index("pollutant_id").loc["PW01"]
        assert not ni["compliant"] and not ni["within_cap"]
        assert ni["cap_t"] == pytest.approx(0.003)

    def test_2026_is_2025_scaled_by_output_minus_the_effects(self, plating):
        # README: 2026 = 2025 x (931 000 / 908 000) - actual effects of the implemented options
        k = 931_000 / 908_000
        eff = plating.tables["option_effects"].groupby("item")["actual"].sum()
        water = hist(plating, 2025, "water_intake", "tap_water") * k - eff["fresh_water"]
        assert eff["fresh_water"] == pytest.approx(52_740)
        assert water == pytest.approx(hist(plating, 2026, "water_intake", "tap_water"), abs=100)
        # electricity: 255 000 kWh/a saved and 62 600 kWh/a added by the new plants
        assert eff["electricity"] == pytest.approx(255_000)
        elec = hist(plating, 2025, "energy", "electricity") * k - 255_000 + 62_600
        assert elec == pytest.approx(hist(plating, 2026, "energy", "electricity"), abs=1000)
        gas = hist(plating, 2025, "energy", "natural_gas") * k - eff["natural_gas"]
        assert eff["natural_gas"] == pytest.approx(44_400)
        assert gas == pytest.approx(hist(plating, 2026, "energy", "natural_gas"), abs=100)
        # nickel saved: anodes + salts x Ni fraction = about 2 460 kg Ni/a
        e = plating.tables["option_effects"]
        done = e[e["actual"].notna()].groupby("item")["actual"].sum()
        ni = done["M01"] + done["M02"] * NI_IN_NISO4 + done["M03"] * NI_IN_NICL2
        assert ni == pytest.approx(2460, rel=0.01)

    def test_focus_options_and_balances(self, plating):
        t = plating.tables
        rank = scoring.weighted_scores(t["focus_scores"], candidates=t["focus_candidates"]).ranking
        # README: 408 against 359 (chromium), 326 (zinc) and 215 (utilities)
        assert list(rank["total_score"]) == [408, 359, 326, 215]
        assert rank["candidate_id"].iloc[0] == plating.profile.audit_focus == "C1"
        s = screening.simple_screening(t["options"], screening.cost_thresholds("zhejiang"))
        assert s["group"].value_counts().to_dict() == {
            "feasible_no_low": 14,
            "preliminary_medium_high": 7,
            "infeasible": 2,
        }
        assert t["options"]["status"].value_counts().to_dict() == {
            "implemented": 18,
            "in_progress": 1,
            "planned": 2,
            "rejected": 2,
        }
        cl = balances.check_closure(t["streams"], t["units"], t["stock_changes"])
        u5 = cl[cl["unit_id"] == "U5"].set_index("component")
        assert round(u5.at["total", "closure_pct"]) == 16 and u5.at["total", "verdict"] == "failed"
        assert u5.at["nickel", "verdict"] == "closed"
        # README: chi-square 11.9 > 9.5 with 4 degrees of freedom; T24 moved by -3.2 sigma
        # to about 18.4 t/d; the nickel layer is tolerable
        rec = reconciliation.reconcile(t["streams"], t["units"], t["stock_changes"])
        lay = rec.layers.set_index("component")
        assert round(lay.at["total", "gamma"], 1) == 11.9 and lay.at["total", "nu"] == 4
        assert round(lay.at["total", "critical_value"], 1) == 9.5
        assert not lay.at["total", "tolerable"] and lay.at["nickel", "tolerable"]
        t24 = rec.flows.set_index("flow_id").loc["T24"]
        assert round(t24["adjustment_sigmas"], 1) == -3.2
        assert units.convert(t24["reconciled_kg_d"], "kg", "t") == pytest.approx(18.4, abs=0.05)

    def test_grading_before_and_after(self, plating):
        g = grading.grade_stages("electroplating", plating.tables["indicator_values"])
        # README: before no level (Y_III 94), after level II (Y_II 100, Y_I 18.25)
        assert g["before"].level == "none" and g["before"].scores["Y_III"] == pytest.approx(94)
        assert g["after"].level == "II"
        assert g["after"].scores["Y_II"] == pytest.approx(100)
        assert g["after"].scores["Y_I"] == pytest.approx(18.25)


# =========================================================================== dyeing
class TestDyeing:
    def test_profile_and_compliance(self, dyeing):
        # README: 14 500 t of fabric in 2025; COD 179.1 t over the 160 t/a cap; aniline
        # 1.36 mg/L over the 1.0 mg/L indirect-discharge limit
        assert hist(dyeing, 2025, "product", "P1") == 14_500
        comp = indicators.compliance(
            dyeing.tables["pollutants"], history=dyeing.tables["history"], year=2025
        )
        c = comp.set_index("pollutant_id")
        assert c.at["W01", "annual_t"] == pytest.approx(179.1) and not c.at["W01", "within_cap"]
        assert c.at["W01", "cap_t"] == 160
        assert not c.at["W06", "compliant"]
        assert c.at["W06", "concentration"] == pytest.approx(1.36) and c.at["W06", "limit"] == 1.0

    def test_focus_and_options(self, dyeing):
        t = dyeing.tables
        rank = scoring.weighted_scores(t["focus_scores"], candidates=t["focus_candidates"]).ranking
        assert list(rank["total_score"]) == [409, 302, 293, 242]  # README
        s = screening.simple_screening(
            t["options"], screening.cost_thresholds(dyeing.parameters.cost_class_thresholds)
        )
        # README: 22 options, 9 no/low-cost, 11 medium/high-cost, 2 rejected
        assert len(t["options"]) == 22
        assert s["group"].value_counts().to_dict() == {
            "feasible_no_low": 9,
            "preliminary_medium_high": 11,
            "infeasible": 2,
        }
        assert (t["options"]["status"] == "rejected").sum() == 2

    def test_misread_meter(self, dyeing):
        t = dyeing.tables
        cl = balances.check_closure(t["streams"], t["units"], t.get("stock_changes"))
        u3 = cl[cl["unit_id"] == "U3"].set_index("component")
        # README: U3 does not close (total 5.7 %, Na2SO4 6.0 %); U6 still closes (-4.4 %)
        assert round(u3.at["total", "closure_pct"], 1) == 5.7
        assert round(u3.at["na2so4", "closure_pct"], 1) == 6.0
        u6 = cl[(cl["unit_id"] == "U6") & (cl["component"] == "total")].iloc[0]
        assert round(u6["closure_pct"], 1) == -4.4 and u6["verdict"] == "closed"
        rec = reconciliation.reconcile(t["streams"], t["units"], t.get("stock_changes"))
        assert not rec.layers.set_index("component").at["total", "tolerable"]
        assert "S23" in rec.suspects

    def test_grading_before_and_after(self, dyeing):
        g = grading.grade_stages("textile_dyeing", dyeing.tables["indicator_values"])
        # README: not graded before (restrictive indicators at no level), level II after, Y_II = 88
        assert g["before"].level == "none"
        assert g["after"].level == "II" and g["after"].scores["Y_II"] == pytest.approx(88)
        below = g["before"].indicators.set_index("indicator_id")["level"]
        assert below["env_compliance"] == "none" and below["industrial_policy"] == "none"
        assert below["stenter_heat_recovery_rate"] == "none"


# =========================================================================== painting
class TestPainting:
    def test_profile_and_compliance(self, painting):
        # README: 118 400 vehicles in 2025 (P1 + P2 in vehicles); DA002 NMHC 45.2 mg/m3
        # against the 30 mg/m3 limit
        assert (
            hist(painting, 2025, "product", "P1") + hist(painting, 2025, "product", "P2") == 118_400
        )
        comp = indicators.compliance(painting.tables["pollutants"]).set_index("pollutant_id")
        bad = comp[comp["compliant"] == False]  # noqa: E712 (nullable boolean)
        assert len(bad) == 1
        row = bad.iloc[0]
        assert row["concentration"] == pytest.approx(45.2) and row["limit"] == 30
        assert "DA002" in str(row["outlet"])

    def test_focus_and_cost_classes(self, painting):
        t = painting.tables
        rank = scoring.weighted_scores(t["focus_scores"], candidates=t["focus_candidates"]).ranking
        assert list(rank["total_score"]) == [396, 302, 236, 226]  # README
        th = screening.cost_thresholds(
            painting.parameters.cost_class_thresholds,
            no_low_cost_max_10k_cny=painting.parameters.no_low_cost_max_10k_cny,
        )
        assert painting.parameters.no_low_cost_max_10k_cny == 10
        cost = screening.classify_cost(t["options"], th).set_index("option_id")["cost_class"]
        # README: F01, F11, F12 (empty class, 4.5-8.5) no/low; F10 (28) medium/high
        assert all(cost[o] == "no_low" for o in ("F01", "F11", "F12"))
        assert cost["F10"] == "medium_high"
        s = screening.simple_screening(t["options"], th)
        # README: 22 options, 8 no/low-cost, 12 medium/high-cost, 2 rejected
        assert len(t["options"]) == 22
        assert s["group"].value_counts().to_dict() == {
            "feasible_no_low": 8,
            "preliminary_medium_high": 12,
            "infeasible": 2,
        }

    def test_paint_kitchen_does_not_close(self, painting):
        t = painting.tables
        cl = balances.check_closure(t["streams"], t["units"], t.get("stock_changes"))
        u1 = cl[cl["unit_id"] == "U1"].set_index("component")
        # README: total -5.7 %, VOC -9.7 % (stock change included); the oven U5 closes
        assert round(u1.at["total", "closure_pct"], 1) == -5.7
        assert round(u1.at["voc", "closure_pct"], 1) == -9.7
        u5 = cl[(cl["unit_id"] == "U5") & (cl["component"] == "total")].iloc[0]
        assert u5["verdict"] == "closed"
        # reconciliation rejects both layers but cannot name a single meter
        rec = reconciliation.reconcile(t["streams"], t["units"], t.get("stock_changes"))
        assert not rec.layers["tolerable"].any()
        assert rec.suspects == ()

    def test_grading_before_and_after(self, painting):
        g = grading.grade_stages("automotive_painting", painting.tables["indicator_values"])
        # README: compliance at no level before (not graded); level II after, Y_II = 100
        assert g["before"].level == "none"
        assert (
            g["before"].indicators.set_index("indicator_id").at["env_compliance", "level"] == "none"
        )
        assert g["after"].level == "II" and g["after"].scores["Y_II"] == pytest.approx(100)
