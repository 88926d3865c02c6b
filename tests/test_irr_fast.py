"""IRR refinement without scipy.optimize (cpkit.finance._newton_bisect, _bracketed_root).

``irr()`` scans NPV on a grid of ln(1 + r) and refines each bracket with a sign change.
The refinement is now Newton's method safeguarded by bisection (Numerical Recipes §9.4,
rtsafe), written out so a notebook does not import scipy.optimize; scipy's brentq on the
same bracket is the fallback. The references here are scipy.optimize.brentq on the same
brackets and tolerances (the previous implementation: ``irr`` with the fast refinement
switched off) and numpy_financial.irr (eigenvalues of the companion matrix).

Hand calculations:
    [-1, 1e6]:       1/(1 + r) = 1e-6               -> r = 999,999      (beyond the grid)
    [-1, 1e-5]:      1 + r = 1e-5                   -> r = -0.99999     (below the grid)
    [-1, 0, 1e-9]:   (1 + r)^2 = 1e-9               -> r = 10^-4.5 - 1
    [-100, 110]:     100 (1 + r) = 110              -> r = 0.1
    [-100, 60, 60]:  100 v² ... 60 v² + 60 v - 100 = 0 with v = 1/(1 + r)
                     v = (-60 + sqrt(3600 + 24000)) / 120 = (-60 + sqrt(27600)) / 120
    f(x) = x² − 2 on [1, 2]                          -> √2
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from cpkit import finance as fi

ROOT = Path(__file__).resolve().parents[1]
EPS = np.finfo(float).eps


def irr_by_brentq(c) -> fi.IRRResult:
    """irr() as it was: every bracket refined by scipy's brentq (same bracket, same
    tolerances), obtained by switching the fast refinement off."""
    with mock.patch.object(fi, "_newton_bisect", lambda *a, **k: None):
        return fi.irr(c)


def noise_width(c: np.ndarray, r: float) -> float:
    """How far apart two correct root finders may land because NPV near r is only known
    to rounding: (rounding error bound of Σ c_t (1 + r)^-t) / |dNPV/dr|."""
    t = np.arange(len(c))
    with np.errstate(all="ignore"):
        d = np.power(1.0 + r, -t)
        slope = abs(float((t * c) @ d) / (1.0 + r))
        width = 8 * len(c) * EPS * float(np.abs(c) @ d) / max(slope, 1e-300)
    return width if math.isfinite(width) else math.inf  # (1 + r)^-t overflows: no bound


def agreement(c: np.ndarray, y: float) -> float:
    """How far the fast root may be from brentq's root y: 1e-13 relative (2e-15 absolute,
    brentq's own xtol being 1e-15), plus the rounding width of NPV at y; beyond the scan
    grid both search in x = ln(1 + r) with xtol 1e-14 + 1e-15·|x|, i.e. that much of
    (1 + r) in r."""
    tol = 1e-13 * abs(y) + 2e-15 + noise_width(c, y)
    rates, _ = fi._grid_matrix(len(c))
    if not rates[0] <= y <= rates[-1]:
        tol += 4 * (1e-14 + 1e-15 * abs(math.log1p(y))) * (1 + y)
    return tol


# --------------------------------------------------------------------------- strategies
@st.composite
def investments(draw):
    """A normal investment: one outflow at t = 0, then non-negative inflows (one sign
    change, so exactly one IRR); overall scale from 1e-6 to 1e8."""
    n = draw(st.integers(1, 40))
    scale = 10.0 ** draw(st.floats(-6, 8))
    inflow = st.one_of(st.just(0.0), st.floats(1e-6, 1))
    inflows = draw(st.lists(inflow, min_size=n, max_size=n))
    assume(sum(inflows) > 0)
    outlay = draw(st.floats(0.05, 30))
    return np.array([-outlay, *inflows]) * scale


@st.composite
def mixed_flows(draw):
    """Any signs and magnitudes 1e-12 … 1e12 within one series (several sign changes,
    tiny and huge entries side by side)."""
    n = draw(st.integers(2, 25))
    mant = draw(st.lists(st.floats(-1, 1), min_size=n, max_size=n))
    expo = draw(st.lists(st.integers(-12, 12), min_size=n, max_size=n))
    c = np.array([m * 10.0**e for m, e in zip(mant, expo, strict=True)])
    assume(np.any(c != 0))
    return c


# --------------------------------------------------------------------------- against brentq
@settings(max_examples=400, deadline=None)
@given(investments())
def test_normal_investments_match_brentq_to_full_precision(c):
    fast, ref = fi.irr(c), irr_by_brentq(c)
    assert fast.status == ref.status == "unique"
    assert abs(fast.irr - ref.irr) <= 1e-13 * abs(ref.irr) + 1e-15


@settings(max_examples=400, deadline=None)
@given(mixed_flows())
def test_any_flows_match_brentq_within_rounding(c):
    fast, ref = fi.irr(c), irr_by_brentq(c)
    assert fast.status == ref.status
    assert fast.sign_changes == ref.sign_changes
    assert len(fast.roots) == len(ref.roots)
    for x, y in zip(fast.roots, ref.roots, strict=True):
        assert abs(x - y) <= agreement(c, y)


@settings(max_examples=300, deadline=None)
@given(mixed_flows())
def test_each_grid_bracket_matches_brentq(c):
    """The bracket refinement itself, bracket by bracket, against brentq."""
    rates, v = fi._grid_matrix(len(c))
    f = c @ v
    t = np.arange(len(c))
    sg = np.sign(f)
    for i in np.flatnonzero(sg[:-1] * sg[1:] < 0):
        a, b = float(rates[i]), float(rates[i + 1])

        def fn(r: float) -> float:
            return float(c @ np.power(1.0 + r, -t))

        def fn_d(r: float) -> tuple[float, float]:
            d = np.power(1.0 + r, -t)
            return float(c @ d), -float((t * c) @ d) / (1.0 + r)

        x = fi._newton_bisect(fn_d, a, b, f[i], f[i + 1], xtol=1e-15, rtol=1e-15)
        assert x is not None and min(a, b) - 1e-15 <= x <= max(a, b) + 1e-15
        if (fn(a) < 0) == (fn(b) < 0):
            continue  # the root is within rounding of an end: brentq refuses the bracket
        y = brentq(fn, a, b, xtol=1e-15, rtol=1e-15, maxiter=200)
        assert abs(x - y) <= 1e-13 * abs(y) + 2e-15 + noise_width(c, y)


@settings(max_examples=300, deadline=None)
@given(investments())
def test_normal_investments_match_numpy_financial(c):
    ref = npf.irr(c)
    assume(np.isfinite(ref) and ref > -0.99)
    res = fi.irr(c)
    assert res.status == "unique"
    assert res.irr == pytest.approx(ref, rel=1e-9, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(investments())
def test_npv_at_the_irr_is_zero_to_rounding(c):
    res = fi.irr(c)
    # near r = −1 the rounding of r itself (not the root finding) dominates 1/(1 + r)
    assume(res.irr > -0.9)
    t = np.arange(len(c))
    scale = float(np.abs(c) @ np.power(1.0 + res.irr, -t))
    assert abs(fi.npv(res.irr, c)) <= 64 * len(c) * EPS * scale


# --------------------------------------------------------------------------- hand cases
@pytest.mark.parametrize(
    ("flows", "expected"),
    [
        ([-100, 110], 0.1),
        ([-100, 60, 60], 120 / (-60 + math.sqrt(27600)) - 1),
        ([-1, 1e6], 999_999.0),  # beyond the grid (above)
        ([-1, 1e-5], -0.99999),  # beyond the grid (below)
        ([-1, 0, 1e-9], 10**-4.5 - 1),
    ],
)
def test_hand_calculated_irrs(flows, expected):
    res = fi.irr(flows)
    assert res.status == "unique"
    assert res.irr == pytest.approx(expected, rel=1e-13)
    assert res.irr == pytest.approx(irr_by_brentq(flows).irr, rel=1e-13, abs=1e-15)


def test_multiple_roots_match_brentq():
    # NPV = -100 + 230 v - 132 v², v = 1/(1+r): v = 1/1.1 and 1/1.2 -> r = 10 %, 20 %
    res = fi.irr([-100, 230, -132])
    assert res.status == "multiple"
    assert res.roots == pytest.approx((0.1, 0.2), rel=1e-13)
    assert res.roots == pytest.approx(irr_by_brentq([-100, 230, -132]).roots, rel=1e-13)


@pytest.mark.parametrize(
    ("flows", "expected"),
    [
        # NPV = v^100 (−1 + 2v): at high rates v^100 underflows, which used to read as
        # dozens of false roots; the only root is v = 1/2, r = 1
        ([0] * 100 + [-1, 2], 1.0),
        # v^23 (10 − 1e-12 v): v = 1e13, r = 1e-13 − 1 (below the grid)
        ([0] * 23 + [10, -1e-12], 1e-13 - 1),
        ([-1, 2] + [0] * 100, 1.0),
        ([-1, 1e6] + [0] * 30, 999_999.0),  # above the grid, trailing zeros
        ([0] * 30 + [-1, 1e-5] + [0] * 30, -0.99999),  # below the grid, zeros both sides
    ],
)
def test_zero_years_at_either_end_give_no_false_roots(flows, expected):
    res = fi.irr(flows)
    assert res.status == "unique", res.message
    assert res.irr == pytest.approx(expected, rel=1e-13)


@settings(max_examples=150, deadline=None)
@given(investments(), st.integers(1, 60))
def test_zero_years_before_the_flows_do_not_change_the_irr(c, k):
    # NPV of the shifted flows = (1 + r)^−k × NPV: the same roots
    res, shifted = fi.irr(c), fi.irr(np.r_[np.zeros(k), c])
    assert shifted.status == res.status == "unique"
    assert shifted.irr == pytest.approx(res.irr, rel=1e-12, abs=1e-14)


# --------------------------------------------------------------------------- the helpers
def test_newton_bisect_square_root_of_two():
    x = fi._newton_bisect(lambda z: (z * z - 2.0, 2.0 * z), 1.0, 2.0, -1.0, 2.0)
    assert abs(x - math.sqrt(2.0)) <= 2 * EPS * math.sqrt(2.0)
    y = fi._newton_bisect(lambda z: z * z - 2.0, 1.0, 2.0, -1.0, 2.0, derivative=False)
    assert abs(y - math.sqrt(2.0)) <= 4 * EPS * math.sqrt(2.0) + fi._XTOL


def test_newton_bisect_edge_cases():
    f = lambda z: (z - 0.5, 1.0)  # noqa: E731
    assert fi._newton_bisect(f, 0.5, 1.0, 0.0, 0.5) == 0.5  # root at an end
    assert fi._newton_bisect(f, 0.0, 0.5, -0.5, 0.0) == 0.5
    assert fi._newton_bisect(f, 0.6, 1.0, 0.1, 0.5) is None  # not a bracket
    assert fi._newton_bisect(lambda z: (math.nan, 1.0), 0.0, 1.0, -1.0, 1.0) is None
    assert fi._newton_bisect(f, 0.0, 1.0, -0.5, math.inf) is None
    # the ends may come in either order and either orientation
    assert fi._newton_bisect(f, 1.0, 0.0, 0.5, -0.5) == pytest.approx(0.5, abs=1e-15)
    g = lambda z: (0.5 - z, -1.0)  # noqa: E731
    assert fi._newton_bisect(g, 0.0, 1.0, 0.5, -0.5) == pytest.approx(0.5, abs=1e-15)


def test_a_triple_root_still_converges_within_the_budget():
    # f = (x − 0.3)³: f' vanishes at the root, Newton only gains a factor 2/3 a step
    # (about 80 steps from the bracket [0, 1] to 1e-15), still inside the budget
    f = lambda z: ((z - 0.3) ** 3, 3 * (z - 0.3) ** 2)  # noqa: E731
    x = fi._newton_bisect(f, 0.0, 1.0, -0.027, 0.343, xtol=1e-15, rtol=1e-15)
    assert x == pytest.approx(0.3, abs=1e-14)


def test_budget_exhausted_falls_back_to_brentq():
    f = lambda z: (math.tanh(50 * (z - 0.123)), 50 / math.cosh(50 * (z - 0.123)) ** 2)  # noqa: E731
    assert fi._newton_bisect(f, -3.0, 5.0, f(-3.0)[0], f(5.0)[0], maxiter=2) is None
    calls = []
    real = fi._brentq

    def spy(*args, **kwargs):
        calls.append(args[1:3])
        return real(*args, **kwargs)

    tight = functools.partial(fi._newton_bisect, maxiter=2)
    with mock.patch.object(fi, "_brentq", spy), mock.patch.object(fi, "_newton_bisect", tight):
        x = fi._bracketed_root(f, -3.0, 5.0, xtol=1e-15, rtol=1e-15)
    assert calls == [(-3.0, 5.0)]
    assert x == pytest.approx(0.123, rel=1e-13)
    # with the normal budget the fast path alone gets the same root
    assert fi._bracketed_root(f, -3.0, 5.0, xtol=1e-15, rtol=1e-15) == pytest.approx(
        0.123, rel=1e-13
    )


def test_irr_falls_back_to_brentq_when_the_refinement_gives_up():
    calls = []
    real = fi._brentq

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    with (
        mock.patch.object(fi, "_newton_bisect", lambda *a, **k: None),
        mock.patch.object(fi, "_brentq", spy),
    ):
        res = fi.irr([-100, 30, 40, 50])
    assert len(calls) == 1
    assert res.irr == pytest.approx(fi.irr([-100, 30, 40, 50]).irr, rel=1e-13)


@st.composite
def bracketed_cubics(draw):
    """(x - r1)(x - r2)(x - r3) with exactly one root r1 in the bracket [a, b]."""
    r1 = draw(st.floats(-10, 10))
    others = draw(st.lists(st.floats(-10, 10), min_size=2, max_size=2))
    lo = draw(st.floats(0.01, 3))
    hi = draw(st.floats(0.01, 3))
    a, b = r1 - lo, r1 + hi
    assume(all(not (a - 0.01 <= r <= b + 0.01) for r in others))
    return r1, others, a, b


@settings(max_examples=300, deadline=None)
@given(bracketed_cubics())
def test_derivative_free_mode_matches_brentq(case):
    r1, (r2, r3), a, b = case

    def f(x: float) -> float:
        return (x - r1) * (x - r2) * (x - r3)

    x = fi._bracketed_root(f, a, b, derivative=False, xtol=1e-12)
    y = brentq(f, a, b, xtol=1e-12)
    tol = 1e-12 + 4 * EPS * abs(y)
    assert abs(x - r1) <= 2 * tol + 1e-13 and abs(x - y) <= 4 * tol + 1e-13


def test_derivative_free_mode_on_a_piecewise_linear_function():
    # tornado-style NPV(multiplier) with a kink (tax capped at zero): root at 2.5
    def f(m: float) -> float:
        return -50.0 + 20.0 * m if m > 1.0 else -40.0 + 10.0 * m

    assert fi._bracketed_root(f, 0.0, 11.0, derivative=False, xtol=1e-12) == pytest.approx(
        2.5, abs=1e-12
    )


# --------------------------------------------------------------------------- import cost
def run_python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    return out.stdout.strip()


def test_irr_of_a_normal_investment_does_not_import_scipy_optimize():
    code = (
        "import cpkit.finance as f; f.irr([-100, 30, 40, 50]); import sys; "
        "print('scipy.optimize' in sys.modules)"
    )
    assert run_python(code) == "False"


def test_evaluating_the_sample_options_does_not_import_scipy_optimize():
    code = (
        "import sys, cpkit\n"
        "from cpkit import finance as f\n"
        "for s in ('sample-dyeing', 'sample-painting', 'sample-plating'):\n"
        f"    ds = cpkit.load({str(ROOT / 'data' / 'samples')!r} + '/' + s)\n"
        "    T = ds.tables\n"
        "    cf = T['option_cashflows'] if len(T['option_cashflows']) else None\n"
        "    a = f.resolve_assumptions(ds.parameters)\n"
        "    ev = f.evaluate(T['options'], cf, assumptions=a, interpolated_irr=True)\n"
        "    assert ev['irr'].notna().any()\n"
        "f.irr_many([[-100, 30, 40, 50], [-100, 230, -132, 0], [-1, 1e6, 0, 0]])\n"
        "f.irr([-1, 1e-5]); f.irr([-1, 0, 1e-9])\n"
        "print('scipy.optimize' in sys.modules)\n"
    )
    assert run_python(code) == "False"
