"""Tests of cpkit.risk: the tornado against closed-form NPVs written out here, the Monte
Carlo against exact distributions of a linear NPV (scipy.stats, uniform quantiles) and
numpy-financial for the IRR of single draws."""

from __future__ import annotations

import numpy as np
import numpy_financial as npf
import pandas as pd
import pytest
from scipy.stats import norm

from cpkit import finance as fi
from cpkit import risk
from cpkit.errors import FinanceError

INV, REV, CS, Y, T, R = 10.0, 0.5, 1.08, 10, 0.25, 0.06
A = (1 - (1 + R) ** -Y) / R  # annuity factor, 7.360087


def option() -> pd.DataFrame:
    # 360docs example (calculation reference 6.1) with P = 1.58 split into revenue 0.5 and
    # operating saving 1.08
    return pd.DataFrame(
        {
            "option_id": ["o1"],
            "name": ["x"],
            "investment_10k_cny": [INV],
            "annual_revenue_increase_10k_cny": [REV],
            "annual_cost_saving_10k_cny": [CS],
            "depreciation_years": [Y],
            "lifetime_years": [Y],
        }
    )


def assumptions(**kw) -> fi.Assumptions:
    return fi.resolve_assumptions(discount_rate=R, tax_rate=T, **kw)


def npv_hand(m_inv=1.0, m_rev=1.0, m_sav=1.0, rate=R) -> float:
    """NPV = −mI + a·[(P − mI/Y)(1 − t) + mI/Y] with constant flows over Y years."""
    a = (1 - (1 + rate) ** -Y) / rate
    inv = m_inv * INV
    p = m_rev * REV + m_sav * CS
    return -inv + a * ((p - inv / Y) * (1 - T) + inv / Y)


def test_tornado_against_closed_form():
    tor = risk.tornado(option(), assumptions=assumptions(), swing=0.2).set_index("variable")
    assert tor.loc["investment", "npv_low_10k_cny"] == pytest.approx(npv_hand(m_inv=0.8))
    assert tor.loc["investment", "npv_high_10k_cny"] == pytest.approx(npv_hand(m_inv=1.2))
    assert tor.loc["revenue", "npv_high_10k_cny"] == pytest.approx(npv_hand(m_rev=1.2))
    assert tor.loc["operating_saving", "npv_low_10k_cny"] == pytest.approx(npv_hand(m_sav=0.8))
    assert tor.loc["discount_rate", "npv_low_10k_cny"] == pytest.approx(npv_hand(rate=0.048))
    assert tor.loc["discount_rate", "npv_high_10k_cny"] == pytest.approx(npv_hand(rate=0.072))
    assert tor.loc["investment", "base_value"] == INV and tor.loc["investment", "unit"] == "10k CNY"
    # IRR at the investment ends, against numpy-financial
    f_low = (REV + CS - 0.8 * INV / Y) * (1 - T) + 0.8 * INV / Y
    assert tor.loc["investment", "irr_low"] == pytest.approx(
        npf.irr([-0.8 * INV] + [f_low] * Y), rel=1e-9
    )
    # sorted by swing, largest first
    sw = tor["npv_swing_10k_cny"].tolist()
    assert sw == sorted(sw, reverse=True)
    assert tor.index[0] == "investment"


def test_switching_values_by_hand():
    tor = risk.tornado(option(), assumptions=assumptions()).set_index("variable")
    # NPV(m) = P(1 − t)a + m·INV(t·a/Y − 1) = 0  →  m* = P(1 − t)a / (INV(1 − t·a/Y))
    m_inv = (REV + CS) * (1 - T) * A / (INV * (1 - T * A / Y))
    assert tor.loc["investment", "switch_change"] == pytest.approx(m_inv - 1, rel=1e-9)
    assert tor.loc["investment", "switch_value"] == pytest.approx(m_inv * INV, rel=1e-9)
    # revenue: (m·REV + CS)(1 − t)a + INV·t·a/Y − INV = 0
    m_rev = ((INV - INV * T * A / Y) / ((1 - T) * A) - CS) / REV
    assert tor.loc["revenue", "switch_change"] == pytest.approx(m_rev - 1, rel=1e-9)
    # the discount rate switches at the IRR (7.17 %, 360docs)
    assert tor.loc["discount_rate", "switch_value"] == pytest.approx(0.071702, abs=1e-6)


def test_tornado_options_and_errors():
    tor = risk.tornado(
        option(),
        assumptions=assumptions(),
        swing={"investment": 0.1},
        variables=["investment", "revenue"],
    )
    assert set(tor["variable"]) == {"investment", "revenue"}
    inv = tor.set_index("variable").loc["investment"]
    assert inv["low_value"] == pytest.approx(9.0) and inv["high_value"] == pytest.approx(11.0)
    two = pd.concat([option(), option().assign(option_id="o2")], ignore_index=True)
    with pytest.raises(FinanceError, match="name the one to analyse"):
        risk.tornado(two)
    with pytest.raises(FinanceError, match="unknown sensitivity variable"):
        risk.tornado(option(), variables=["weather"])


def dist(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def test_monte_carlo_is_reproducible_with_a_seed():
    a = risk.monte_carlo(option(), assumptions=assumptions(), seed=42, draws=2000)
    b = risk.monte_carlo(option(), assumptions=assumptions(), seed=42, draws=2000)
    pd.testing.assert_frame_equal(a.samples, b.samples)
    c = risk.monte_carlo(option(), assumptions=assumptions(), seed=43, draws=2000)
    assert not np.allclose(a.samples["npv_10k_cny"], c.samples["npv_10k_cny"])
    d = risk.monte_carlo(option(), assumptions=assumptions(), draws=500)
    e = risk.monte_carlo(option(), assumptions=assumptions(), draws=500, seed=d.seed)
    pd.testing.assert_frame_equal(d.samples, e.samples)


def test_monte_carlo_uniform_investment_matches_exact_quantiles():
    # NPV is linear and decreasing in the investment multiplier m ~ U(0.8, 1.2):
    # the q-quantile of NPV is NPV(m = 1.2 − 0.4 q); P(NPV < 0) = (1.2 − m*) / 0.4
    d = dist({"variable": "investment", "distribution": "uniform", "low": 0.8, "high": 1.2})
    mc = risk.monte_carlo(option(), assumptions=assumptions(), distributions=d, draws=10000, seed=1)
    s = mc.summary.set_index("statistic")["npv_10k_cny"]
    for q in (5, 10, 50, 90, 95):
        assert s[f"p{q}"] == pytest.approx(npv_hand(m_inv=1.2 - 0.4 * q / 100), abs=0.05)
    m_star = (REV + CS) * (1 - T) * A / (INV * (1 - T * A / Y))
    assert mc.prob_npv_negative == pytest.approx((1.2 - m_star) / 0.4, abs=0.02)
    assert mc.clipped == {"investment": 0}
    # every IRR drawn equals numpy-financial on the draw's own flows
    for k in range(0, 10000, 997):
        m = mc.samples.loc[k, "investment"]
        f = (REV + CS - m * INV / Y) * (1 - T) + m * INV / Y
        assert mc.samples.loc[k, "irr"] == pytest.approx(npf.irr([-m * INV] + [f] * Y), rel=1e-9)
    # the impact ranks investment alone
    assert mc.impact.loc[0, "variable"] == "investment"
    assert mc.impact.loc[0, "spearman_npv"] == pytest.approx(-1.0)


def test_monte_carlo_normal_revenue_probability_of_loss():
    # NPV = c0 + c1·m with m ~ N(1, 0.8) on revenue: P(NPV < 0) = Φ((m* − 1)/0.8)
    d = dist({"variable": "revenue", "distribution": "normal", "mean": 1.0, "sd": 0.8})
    mc = risk.monte_carlo(option(), assumptions=assumptions(), distributions=d, draws=20000, seed=5)
    m_star = ((INV - INV * T * A / Y) / ((1 - T) * A) - CS) / REV
    assert mc.prob_npv_negative == pytest.approx(norm.cdf((m_star - 1) / 0.8), abs=0.015)
    assert mc.summary.set_index("statistic").loc["mean", "npv_10k_cny"] == pytest.approx(
        npv_hand(), abs=0.05
    )


def test_monte_carlo_degenerate_distribution_gives_the_base_case():
    d = dist(
        {
            "variable": "investment",
            "distribution": "triangular",
            "low": 1.0,
            "mode": 1.0,
            "high": 1.0,
        }
    )
    mc = risk.monte_carlo(option(), assumptions=assumptions(), distributions=d, draws=100, seed=0)
    assert np.allclose(mc.samples["npv_10k_cny"], npv_hand())
    assert mc.summary.set_index("statistic").loc["std", "npv_10k_cny"] == pytest.approx(
        0.0, abs=1e-12
    )
    assert mc.impact.loc[0, "spearman_npv"] == 0.0


def test_monte_carlo_undefined_irr_and_clipping_are_counted():
    # with the tax capped at zero a negative saving makes every flow negative: no IRR
    o = option().assign(annual_revenue_increase_10k_cny=0.0)
    d = dist(
        {"variable": "operating_saving", "distribution": "uniform", "low": -2.0, "high": 1.0},
        {"variable": "investment", "distribution": "normal", "mean": 1.0, "sd": 1.0},
    )
    mc = risk.monte_carlo(
        o, assumptions=assumptions(loss_tax="cap"), distributions=d, draws=4000, seed=3
    )
    none = (mc.samples["irr_status"] == "none").sum()
    assert none > 0 and mc.irr_undefined_draws >= none
    assert mc.samples.loc[mc.samples["irr_status"] == "none", "irr"].isna().all()
    assert mc.clipped["investment"] > 0 and (mc.samples["investment"] >= 0).all()
    assert 0 <= mc.prob_irr_below_benchmark <= 1


def test_default_distributions_and_validation():
    d = risk.default_distributions()
    assert set(d["variable"]) == {"investment", "revenue", "operating_saving"}
    mc = risk.monte_carlo(option(), assumptions=assumptions(), seed=9)
    assert mc.draws == 10000 and len(mc.samples) == 10000
    assert mc.basis["distributions"] == "data/reference/finance/risk.yaml"
    with pytest.raises(FinanceError, match="triangular needs low ≤ mode ≤ high"):
        risk.monte_carlo(
            option(),
            distributions=dist(
                {
                    "variable": "revenue",
                    "distribution": "triangular",
                    "low": 1.2,
                    "mode": 1.0,
                    "high": 1.1,
                }
            ),
        )
    with pytest.raises(FinanceError, match="unknown variable"):
        risk.monte_carlo(
            option(),
            distributions=dist(
                {"variable": "weather", "distribution": "uniform", "low": 0, "high": 1}
            ),
        )
    with pytest.raises(FinanceError, match="normal needs mean and sd"):
        risk.monte_carlo(
            option(),
            distributions=dist({"variable": "revenue", "distribution": "normal", "mean": 1.0}),
        )


def test_discount_rate_draws_absolute():
    d = dist(
        {
            "variable": "discount_rate",
            "distribution": "uniform",
            "scale": "absolute",
            "low": 0.05,
            "high": 0.07,
        }
    )
    mc = risk.monte_carlo(option(), assumptions=assumptions(), distributions=d, draws=1000, seed=2)
    k = 17
    rate = mc.samples.loc[k, "discount_rate"]
    assert 0.05 <= rate <= 0.07
    assert mc.samples.loc[k, "npv_10k_cny"] == pytest.approx(npv_hand(rate=rate))
