"""Financial feasibility of medium/high-cost options (经济可行性评估, seed 004 clause 5.5.6).

The CP-report form (calculation reference 6.1), all money in 10k CNY (万元):

    I  investment net of subsidies            = investment − subsidy
    P  annual net operating saving            = revenue increase + operating-cost saving
    D  annual depreciation (straight line)    = I / Y
    T  taxable profit                         = P − D
    E  net profit                             = T × (1 − t)
    F  annual cash flow                       = E + D
    N  static payback (years)                 = I / F
    NPV = Σ_j F_j / (1 + i)^j − I,   NPVR = NPV / I,   IRR: NPV(IRR) = 0

and the criteria of 5.5.6 c: NPV ≥ 0, IRR ≥ benchmark rate, static payback < benchmark
payback; among competing options the largest NPV and the largest NPVR.

Timing (calculation reference 6.2): flows at year ends, year 0 is the investment year.
Without a construction period the investment is at t = 0 and operation runs in years
1…n. With a construction period of c years the investment is spread evenly over
t = 0…c−1 and operation runs in years c+1…c+n; the present value of the investment is
then the I of NPVR. A year-by-year schedule (``option_cashflows``) replaces the constant
flows. Depreciation runs over the first Y operating years; salvage is a terminal inflow
in the last year (not taxed). In loss years (P < D) the tax is either applied as written
(``loss_tax="relief"``: a negative tax, the loss offsets the enterprise's other profits)
or capped at zero (``"cap"``); every result says which.

Rates are fractions (0.08 = 8 %); IRR columns are fractions too.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from cpkit import reference
from cpkit.errors import FinanceError

_PARAMS = (
    "discount_rate",
    "tax_rate",
    "benchmark_irr",
    "benchmark_payback_years",
    "depreciation_years",
    "loss_tax",
    "irr_interpolation_step",
)
_LOSS_TAX = ("relief", "cap")


def _brentq(*args: Any, **kwargs: Any) -> float:
    """``scipy.optimize.brentq``, imported on first use (the package takes 0.1-0.35 s to
    import, which a notebook without a hard root need not pay)."""
    from scipy.optimize import brentq

    return brentq(*args, **kwargs)


#: Iteration budget of :func:`_newton_bisect`. Each step at least halves the step two
#: iterations before (else it bisects), so 200 steps cover a bracket 2^100 times the
#: tolerance; past the budget scipy's brentq takes over.
_REFINE_MAXITER = 200
#: scipy.optimize.brentq's default tolerances (xtol absolute, rtol = 4 × machine epsilon)
_XTOL, _RTOL = 2e-12, 4 * float(np.finfo(float).eps)


def _newton_bisect(
    fun: Callable[[float], Any],
    a: float,
    b: float,
    fa: float,
    fb: float,
    *,
    derivative: bool = True,
    xtol: float = _XTOL,
    rtol: float = _RTOL,
    maxiter: int = _REFINE_MAXITER,
) -> float | None:
    """A root of f in the bracket [a, b] (f(a), f(b) of opposite signs), or None.

    Newton's method safeguarded by bisection (the ``rtsafe`` scheme of Press et al.,
    Numerical Recipes, 3rd ed., §9.4): a Newton step is taken when it stays inside the
    current bracket and is at most half the step before last, otherwise the bracket is
    halved. ``fun(x)`` returns (f(x), f'(x)); with ``derivative=False`` it returns f(x)
    and the slope is the secant through the last two points (safeguarded secant). It
    starts from the secant point of the bracket and stops when a step is below
    ``xtol + rtol·|x|`` (the last Newton step over-states the error).

    None when f or f' is not finite, the ends do not bracket a root, or ``maxiter`` steps
    are not enough: the caller then uses scipy's brentq. Written out because importing
    scipy.optimize costs a notebook kernel 0.1-0.35 s, more than all its IRRs together.
    """
    if fa == 0:
        return a
    if fb == 0:
        return b
    if not (math.isfinite(fa) and math.isfinite(fb)) or (fa < 0) == (fb < 0):
        return None
    neg, pos = (a, b) if fa < 0 else (b, a)
    x = a - fa * (b - a) / (fb - fa)
    if not min(a, b) < x < max(a, b):
        x = 0.5 * (a + b)
    x_prev, f_prev = (a, fa) if abs(fa) < abs(fb) else (b, fb)
    dx = dx_old = abs(b - a)
    for _ in range(maxiter):
        if derivative:
            f, fp = fun(x)
        else:
            f = fun(x)
            fp = (f - f_prev) / (x - x_prev) if x != x_prev else 0.0
            x_prev, f_prev = x, f
        if not (math.isfinite(f) and math.isfinite(fp)):
            return None
        if f == 0:
            return x
        if f < 0:
            neg = x
        else:
            pos = x
        lo, hi = min(neg, pos), max(neg, pos)
        newton = fp != 0 and abs(2.0 * f) <= abs(dx_old * fp)
        if newton:
            step = f / fp
            if abs(step) <= xtol + rtol * abs(x):  # converged (the step may round to 0)
                return x - step
            newton = lo < x - step < hi
        dx_old = dx
        if newton:
            dx = step
            x_new = x - dx
        else:
            dx = 0.5 * (hi - lo)
            x_new = lo + dx
        if abs(dx) <= xtol + rtol * abs(x_new) or x_new == x:
            return x_new
        x = x_new
    return None


def _bracketed_root(
    fun: Callable[[float], Any],
    a: float,
    b: float,
    fa: float | None = None,
    fb: float | None = None,
    *,
    derivative: bool = True,
    xtol: float = _XTOL,
    rtol: float = _RTOL,
) -> float:
    """Root of f in the bracket [a, b], as ``scipy.optimize.brentq`` gives it (same
    tolerances; default xtol, rtol those of brentq) without importing scipy.optimize in
    the usual case: :func:`_newton_bisect`, and brentq on the same bracket only when that
    does not finish. ``fun`` returns (f, f'), or f with ``derivative=False``; ``fa``,
    ``fb`` are f at the ends if already known (they orient the bracket)."""

    def f_only(z: float) -> float:
        return float(fun(z)[0]) if derivative else float(fun(z))

    fa = f_only(a) if fa is None else fa
    fb = f_only(b) if fb is None else fb
    x = _newton_bisect(fun, a, b, fa, fb, derivative=derivative, xtol=xtol, rtol=rtol)
    if x is None:
        x = _brentq(f_only, a, b, xtol=xtol, rtol=rtol, maxiter=500)
    return float(x)


# --------------------------------------------------------------------------- assumptions
@dataclass(frozen=True)
class Assumptions:
    """The parameters of an economic evaluation, each with where it came from.

    discount_rate, tax_rate, benchmark_irr, irr_interpolation_step: fractions;
    benchmark_payback_years, depreciation_years: years (the default Y when an option
    gives none); loss_tax: ``relief`` or ``cap``.
    """

    discount_rate: float
    tax_rate: float
    benchmark_irr: float
    benchmark_payback_years: float
    depreciation_years: int
    loss_tax: str
    irr_interpolation_step: float
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """Values and sources, for ``attrs["basis"]``."""
        return {k: getattr(self, k) for k in _PARAMS} | {"sources": dict(self.sources)}


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    v = obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v


def resolve_assumptions(parameters: Any = None, **overrides: Any) -> Assumptions:
    """Resolved assumptions: the defaults of ``data/reference/finance/defaults.yaml``,
    replaced by the dataset's ``parameters`` (a pydantic model or mapping: discount_rate,
    tax_rate, benchmark_irr, benchmark_payback_years...) and then by keyword overrides.
    """
    doc = reference.load_yaml("finance/defaults.yaml")
    vals = {k: doc[k]["value"] for k in _PARAMS}
    src = {k: f"data/reference/finance/defaults.yaml: {doc[k]['source']}" for k in _PARAMS}
    for k in _PARAMS:
        v = _get(parameters, k)
        if v is not None:
            vals[k], src[k] = v, "dataset parameters"
    unknown = sorted(set(overrides) - set(_PARAMS))
    if unknown:
        raise FinanceError(f"unknown assumption(s) {unknown}; known: {', '.join(_PARAMS)}")
    for k, v in overrides.items():
        if v is not None:
            vals[k], src[k] = v, "set in the call"
    a = Assumptions(
        discount_rate=float(vals["discount_rate"]),
        tax_rate=float(vals["tax_rate"]),
        benchmark_irr=float(vals["benchmark_irr"]),
        benchmark_payback_years=float(vals["benchmark_payback_years"]),
        depreciation_years=int(vals["depreciation_years"]),
        loss_tax=str(vals["loss_tax"]),
        irr_interpolation_step=float(vals["irr_interpolation_step"]),
        sources=src,
    )
    _check_assumptions(a)
    return a


def _check_assumptions(a: Assumptions) -> None:
    problems = []
    if not a.discount_rate > -1:
        problems.append(f"discount rate {a.discount_rate:g} must be above -1 (−100 %)")
    if not 0 <= a.tax_rate < 1:
        problems.append(f"tax rate {a.tax_rate:g} must be a fraction in [0, 1)")
    if a.benchmark_payback_years <= 0:
        problems.append(f"benchmark payback {a.benchmark_payback_years:g} years must be positive")
    if a.depreciation_years < 1:
        problems.append(f"depreciation period {a.depreciation_years} must be at least 1 year")
    if a.loss_tax not in _LOSS_TAX:
        problems.append(f"loss_tax must be 'relief' or 'cap', not {a.loss_tax!r}")
    if not 0 < a.irr_interpolation_step < 1:
        problems.append(f"IRR interpolation step {a.irr_interpolation_step:g} must be in (0, 1)")
    if problems:
        raise FinanceError("invalid financial assumptions:\n" + "\n".join(problems))


# --------------------------------------------------------------------------- NPV and IRR
def _as_flows(flows: Any, ndim: int | None = None) -> np.ndarray:
    try:
        c = np.asarray(flows, dtype=float)
    except (TypeError, ValueError):
        raise FinanceError("cash flows must be numbers") from None
    if c.ndim == 0 or c.shape[-1] == 0:
        raise FinanceError("cash flows must hold at least one year")
    if ndim is not None and c.ndim != ndim:
        raise FinanceError(f"cash flows must be a {ndim}-D array, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise FinanceError("cash flows contain empty or infinite values")
    return c


def npv(rate: float | np.ndarray, flows: Any) -> float | np.ndarray:
    """Net present value Σ_t c_t / (1 + rate)^t of flows c_0…c_T at year ends, the first
    at t = 0 (undiscounted), as numpy_financial.npv (calculation reference 6.1).

    ``flows`` of shape (T+1,) or (m, T+1); ``rate`` a scalar or one rate per row (m,).
    Same unit as the flows (10k CNY).
    """
    c = _as_flows(flows)
    r = np.asarray(rate, dtype=float)
    if not np.all(r > -1):
        raise FinanceError("discount rate must be above -1 (−100 %)")
    t = np.arange(c.shape[-1])
    if r.ndim == 0:
        out = c @ np.power(1.0 + r, -t)
    else:
        out = (c * np.power(1.0 + r[:, None], -t)).sum(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def _sign_changes(c: np.ndarray) -> np.ndarray:
    """Sign changes along the last axis, zeros skipped (Descartes' bound on the number of
    IRRs)."""
    c2 = np.atleast_2d(c)
    s = np.sign(c2)
    idx = np.where(s != 0, np.arange(s.shape[1]), 0)
    idx = np.maximum.accumulate(idx, axis=1)
    ff = np.take_along_axis(s, idx, axis=1)
    ch = (ff[:, 1:] * ff[:, :-1] < 0).sum(axis=1)
    return ch if c.ndim == 2 else ch[0]


#: scan grid of the IRR search in x = ln(1 + r): r from −99.3 % to about 298,000 %
_X = np.linspace(-5.0, 8.0, 1301)


@functools.lru_cache(maxsize=64)
def _grid_matrix(n: int) -> tuple[np.ndarray, np.ndarray]:
    lowest = -700.0 / max(n - 1, 1)  # keeps (1 + r)^-t finite
    x = _X[np.greater_equal(_X, lowest)]
    v = np.exp(-np.outer(np.arange(n), x))
    v.setflags(write=False)
    r = np.expm1(x)
    r.setflags(write=False)
    return r, v


def _poly_roots(c: np.ndarray) -> np.ndarray:
    """Roots of Σ c_t v^t (v = 1/(1 + r)); empty when the solver cannot work on them."""
    trimmed = np.trim_zeros(c, "b")
    if len(trimmed) < 2:
        return np.array([], dtype=complex)
    with np.errstate(all="ignore"):
        try:
            z = np.roots(trimmed[::-1])
        except np.linalg.LinAlgError:
            return np.array([], dtype=complex)
    return z[np.isfinite(z)]


def _roots_beyond_grid(c: np.ndarray) -> list[float]:
    """Roots outside the scan grid (an odd number of sign changes guarantees one).

    Searched in x = ln(1 + r) with the NPV scaled so nothing overflows: above the grid
    Σ c_t e^(−x t), below it Σ c_t e^(x (T − t)) (= NPV × (1 + r)^T, same roots), with
    leading and trailing zero years dropped so the dominant term never underflows (an
    exact 0 from underflow is no root); each bracket is refined by
    :func:`_bracketed_root` (Newton-bisection, brentq as fallback).
    """
    nz = np.flatnonzero(c)
    c = c[int(nz[0]) : int(nz[-1]) + 1]
    n = len(c) - 1
    t = np.arange(len(c))
    tc, sc = t * c, (n - t) * c

    def hi(x: float) -> tuple[float, float]:
        e = np.exp(-x * t)
        return float(c @ e), -float(tc @ e)

    def lo(x: float) -> tuple[float, float]:
        e = np.exp(x * (n - t))
        return float(c @ e), float(sc @ e)

    out: list[float] = []
    for fn, xs in (
        (hi, (_X[-1], 12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 128.0, 256.0, 512.0)),
        (lo, (_X[0], -7.0, -10.0, -15.0, -20.0, -30.0, -50.0, -80.0, -150.0, -300.0, -700.0)),
    ):
        vals = [fn(x)[0] for x in xs]
        for a, b, fa, fb in zip(xs[:-1], xs[1:], vals[:-1], vals[1:], strict=True):
            if (fa < 0 < fb) or (fb < 0 < fa):
                x = _bracketed_root(fn, a, b, fa, fb, xtol=1e-14, rtol=1e-15)
                out.append(float(np.expm1(x)))
            elif fb == 0:
                out.append(float(np.expm1(b)))
    return [r for r in out if r > -1.0]  # 1 + r must stay representable


@dataclass(frozen=True)
class IRRResult:
    """Internal rate of return of one cash-flow series.

    status ``unique`` (irr is the rate), ``multiple`` (several rates make NPV zero: irr is
    None and ``roots`` lists them all) or ``none`` (no rate makes NPV zero).
    sign_changes counts the sign changes of the flows (Descartes' bound).
    """

    irr: float | None
    status: str
    roots: tuple[float, ...]
    sign_changes: int
    message: str


def irr(flows: Any) -> IRRResult:
    """IRR: the rates r > −1 with Σ_t c_t/(1 + r)^t = 0 (calculation reference 6.1/6.2).

    Robust bracketed root finding: NPV is scanned on a grid of ln(1 + r) from −99.3 % to
    about 298,000 %, every sign change is refined to full double precision by Newton's
    method safeguarded by bisection inside its bracket (:func:`_newton_bisect`; scipy's
    brentq only if that does not finish, so a notebook does not pay the 0.1-0.35 s import
    of scipy.optimize), and when the flows change sign more than once the real positive
    roots of the NPV polynomial in 1/(1 + r) are checked as well (tangent or closely
    spaced roots). All roots found are returned; a single number only when there is
    exactly one.
    """
    c = _as_flows(flows, ndim=1)
    sc = int(_sign_changes(c))
    if sc == 0:
        return IRRResult(None, "none", (), 0, "the cash flows never change sign: no IRR")
    # leading zero years only multiply NPV by (1 + r)^−t0 > 0: dropping them keeps the
    # roots and keeps NPV from underflowing to an exact 0 at high rates (a false root)
    c = c[int(np.flatnonzero(c)[0]) :]
    rates, v = _grid_matrix(len(c))
    f = c @ v
    t = np.arange(len(c))
    roots: list[float] = [float(x) for x in rates[f == 0]]
    tc = t * c

    def fn(r: float) -> float:
        return float(c @ np.power(1.0 + r, -t))

    def fn_d(r: float) -> tuple[float, float]:  # NPV and dNPV/dr = −Σ t c_t (1 + r)^(−t−1)
        d = np.power(1.0 + r, -t)
        return float(c @ d), -float(tc @ d) / (1.0 + r)

    sg = np.sign(f)  # signs, not products: huge or tiny NPVs neither overflow nor underflow
    for i in np.flatnonzero(sg[:-1] * sg[1:] < 0):
        a, b = float(rates[i]), float(rates[i + 1])
        # the grid's signs orient the bracket (a root within rounding of an end is found too)
        roots.append(_bracketed_root(fn_d, a, b, f[i], f[i + 1], xtol=1e-15, rtol=1e-15))
    if sc > 1:
        for z in _poly_roots(c):
            # a double root comes out of the eigenvalue solver as a pair with a tiny
            # imaginary part (about the square root of the machine epsilon)
            if abs(z.imag) <= 1e-6 * abs(z) and z.real > 0:
                r = 1.0 / z.real - 1.0
                if rates[0] <= r <= rates[-1]:
                    scale = float(np.abs(c) @ np.power(1.0 + r, -t))
                    if abs(fn(r)) <= 1e-9 * scale:
                        roots.append(float(r))
    if not roots and sc % 2 == 1:
        roots.extend(_roots_beyond_grid(c))
    roots.sort()
    uniq: list[float] = []
    for r in roots:
        if not uniq or abs(r - uniq[-1]) > 1e-9 * (1 + abs(r)):
            uniq.append(r)
    if not uniq:
        msg = (
            f"no rate between {rates[0]:.1%} and {rates[-1]:.0%} makes NPV zero "
            f"(the flows change sign {sc} time(s))"
        )
        return IRRResult(None, "none", (), sc, msg)
    if len(uniq) == 1:
        msg = "" if sc == 1 else f"one IRR although the flows change sign {sc} times"
        return IRRResult(uniq[0], "unique", (uniq[0],), sc, msg)
    return IRRResult(
        None,
        "multiple",
        tuple(uniq),
        sc,
        f"the flows change sign {sc} times and {len(uniq)} rates make NPV zero: "
        + ", ".join(f"{r:.4%}" for r in uniq)
        + "; judge on NPV",
    )


@dataclass(frozen=True)
class IRRArray:
    """IRRs of many cash-flow series: ``values`` (NaN where there is no single IRR) and
    ``status`` per row (unique / multiple / none)."""

    values: np.ndarray
    status: np.ndarray


def irr_many(
    flows: Any, *, guess: float | np.ndarray = 0.1, tol: float = 1e-12, maxiter: int = 60
) -> IRRArray:
    """IRR of every row of ``flows`` (m, T+1) at once: Newton's method on all rows whose
    flows change sign once (exactly one IRR then exists), with :func:`irr` (bracketed)
    as fallback for rows that do not converge and for rows with several sign changes.
    """
    c = _as_flows(flows, ndim=2)
    m, n = c.shape
    values = np.full(m, np.nan)
    status = np.full(m, "none", dtype=object)
    sc = _sign_changes(c)
    single = np.flatnonzero(sc == 1)
    t = np.arange(n)
    r = np.broadcast_to(np.asarray(guess, dtype=float), (m,))[single].copy()
    r[~(r > -1)] = 0.1
    act = np.arange(len(single))
    done = np.zeros(len(single), dtype=bool)
    for _ in range(maxiter):
        if act.size == 0:
            break
        ca = c[single[act]]
        ra = r[act]
        d = np.power(1.0 + ra[:, None], -t)
        f = (ca * d).sum(axis=1)
        fp = -(ca * t * d).sum(axis=1) / (1.0 + ra)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = f / fp
        new = ra - step
        bad = ~np.isfinite(new) | (new <= -1)
        new = np.where(bad, (ra - 1.0) / 2.0, new)
        conv = ~bad & (np.abs(new - ra) <= tol * (1.0 + np.abs(new)))
        r[act] = new
        done[act[conv]] = True
        act = act[~conv]
    values[single[done]] = r[done]
    status[single[done]] = "unique"
    for k in np.concatenate([single[~done], np.flatnonzero(sc > 1)]).astype(int):
        res = irr(c[k])
        status[k] = res.status
        if res.irr is not None:
            values[k] = res.irr
    return IRRArray(values=values, status=status.astype(str))


@dataclass(frozen=True)
class InterpolatedIRR:
    """The textbook IRR (报告口径): linear interpolation between two trial rates one step
    apart, IRR ≈ i1 + NPV1·(i2 − i1)/(NPV1 + |NPV2|)."""

    irr: float
    rate_low: float
    rate_high: float
    npv_low_10k_cny: float
    npv_high_10k_cny: float
    exact_irr: float


def irr_interpolated(flows: Any, step: float | None = None) -> InterpolatedIRR:
    """Textbook interpolated IRR (calculation reference 6.1): the trial rates are the
    multiples of ``step`` (default 1 %, ``defaults.yaml``) around the exact IRR; the
    result is shown for the report form next to the exact value. Needs a single IRR.
    """
    step = resolve_assumptions().irr_interpolation_step if step is None else float(step)
    if not 0 < step < 1:
        raise FinanceError(f"interpolation step {step:g} must be in (0, 1)")
    c = _as_flows(flows, ndim=1)
    res = irr(c)
    if res.irr is None:
        raise FinanceError(f"no interpolated IRR: {res.message}")
    k = math.floor(res.irr / step + 1e-12)
    i1, i2 = round(k * step, 12), round((k + 1) * step, 12)
    n1, n2 = float(npv(i1, c)), float(npv(i2, c))
    value = i1 + n1 * (i2 - i1) / (n1 + abs(n2)) if n1 + abs(n2) != 0 else i1
    return InterpolatedIRR(value, i1, i2, n1, n2, res.irr)


def payback_period(flows: Any, rate: float = 0.0) -> float | None:
    """Years from t = 0 until the cumulative (discounted at ``rate``; 0 = static) net cash
    flow first reaches zero, interpolated linearly within the year (calculation
    reference 6.2: smallest n with Σ_{j≤n} F_j/(1+i)^j ≥ I). None if never reached.
    """
    c = _as_flows(flows, ndim=1)
    disc = c * np.power(1.0 + rate, -np.arange(len(c)))
    cum = np.cumsum(disc)
    tol = 1e-12 * max(float(np.abs(disc).sum()), 1e-300)
    if cum[0] >= -tol:
        return 0.0
    hit = np.flatnonzero(cum >= -tol)
    if hit.size == 0:
        return None
    k = int(hit[0])
    return (k - 1) + float(-cum[k - 1] / disc[k]) if disc[k] != 0 else float(k)


# --------------------------------------------------------------------------- cash-flow plans
@dataclass(frozen=True)
class _Plan:
    """One option's cash-flow components by year (index = year, 10k CNY)."""

    option_id: str
    name: str
    investment: np.ndarray  # net of subsidy
    revenue: np.ndarray
    saving: np.ndarray
    dep_share: np.ndarray  # share of the total net investment depreciated that year
    salvage: np.ndarray
    construction_years: int
    operating_years: int
    depreciation_years: int
    basis: str  # constant | schedule
    gross_investment: float
    subsidy: float
    notes: tuple[str, ...]


def _num(v: Any) -> float | None:
    if v is None or pd.isna(v):
        return None
    return float(v)


def _int(v: Any, what: str, oid: str, minimum: int) -> int | None:
    x = _num(v)
    if x is None:
        return None
    if x != int(x) or x < minimum:
        raise FinanceError(f"option {oid}: {what} must be a whole number ≥ {minimum}, got {x:g}")
    return int(x)


def _plan(row: Mapping[str, Any], sched: pd.DataFrame | None, a: Assumptions) -> _Plan:
    oid = str(row["option_id"])
    name = str(row.get("name", oid)) if not pd.isna(row.get("name", oid)) else oid
    notes: list[str] = []
    gross = _num(row.get("investment_10k_cny"))
    subsidy = _num(row.get("subsidy_10k_cny")) or 0.0
    rev = _num(row.get("annual_revenue_increase_10k_cny"))
    cs = _num(row.get("annual_cost_saving_10k_cny"))
    life = _int(row.get("lifetime_years"), "lifetime_years", oid, 1)
    y = _int(row.get("depreciation_years"), "depreciation_years", oid, 1)
    c = _int(row.get("construction_years"), "construction_years", oid, 0)
    salvage = _num(row.get("salvage_10k_cny")) or 0.0
    if subsidy < 0 or salvage < 0:
        raise FinanceError(f"option {oid}: subsidy and salvage must not be negative")
    if y is None:
        y = a.depreciation_years
        notes.append(f"depreciation period not given: {y} years (default)")

    if sched is None or sched.empty:
        if gross is None:
            raise FinanceError(f"option {oid}: investment_10k_cny is empty")
        if gross < 0:
            raise FinanceError(f"option {oid}: investment must not be negative ({gross:g})")
        if rev is None and cs is None:
            raise FinanceError(
                f"option {oid}: neither annual_revenue_increase_10k_cny nor "
                "annual_cost_saving_10k_cny is given (enter 0 where there is none)"
            )
        if subsidy > gross:
            raise FinanceError(
                f"option {oid}: subsidy {subsidy:g} exceeds the investment {gross:g} (10k CNY)"
            )
        net = gross - subsidy
        if life is None:
            life = y
            notes.append(f"economic life not given: the depreciation period ({y} years) is used")
        c = c or 0
        h = c + life
        inv = np.zeros(h + 1)
        if c == 0:
            inv[0] = net
        else:
            inv[:c] = net / c
        op = np.zeros(h + 1, dtype=bool)
        op[c + 1 :] = True
        revenue = np.where(op, rev or 0.0, 0.0)
        saving = np.where(op, cs or 0.0, 0.0)
        start, basis = c + 1, "constant"
    else:
        s = sched.sort_values("year")
        years = s["year"].astype(int).to_numpy()
        if len(set(years)) != len(years):
            raise FinanceError(f"option {oid}: a year appears twice in option_cashflows")
        if years.min() < 0:
            raise FinanceError(f"option {oid}: option_cashflows years must be ≥ 0")
        full = np.arange(years.max() + 1)
        gaps = sorted(set(full[full >= years.min()]) - set(years))
        if gaps:
            raise FinanceError(
                f"option {oid}: option_cashflows has no row for year(s) {[int(g) for g in gaps]}"
            )
        if years.min() > 0:
            notes.append(f"schedule starts in year {years.min()}: earlier years have no flows")
        inv_s = pd.to_numeric(s.get("investment_10k_cny", pd.Series(pd.NA, index=s.index)))
        p_s = pd.to_numeric(s.get("net_saving_10k_cny", pd.Series(pd.NA, index=s.index)))
        both = inv_s.isna().to_numpy() & p_s.isna().to_numpy()
        if both.any():
            raise FinanceError(
                f"option {oid}: option_cashflows year(s) {[int(y) for y in years[both]]} give neither "
                "investment nor net saving"
            )
        if (inv_s.fillna(0) < 0).any():
            raise FinanceError(f"option {oid}: option_cashflows investment must not be negative")
        h = int(years.max())
        inv_g = np.zeros(h + 1)
        inv_g[years] = inv_s.fillna(0).to_numpy(dtype=float)
        p = np.zeros(h + 1)
        p[years] = p_s.fillna(0).to_numpy(dtype=float)
        total = float(inv_g.sum())
        if gross is not None and not math.isclose(gross, total, rel_tol=1e-9, abs_tol=1e-9):
            notes.append(
                f"options table investment {gross:g} differs from the schedule total {total:g}; "
                "the schedule is used"
            )
        gross = total
        if subsidy > gross:
            raise FinanceError(
                f"option {oid}: subsidy {subsidy:g} exceeds the scheduled investment {gross:g}"
            )
        inv = inv_g * (1.0 - subsidy / gross) if gross > 0 else inv_g
        nz = np.flatnonzero(p[1:] != 0)
        start = int(nz[0]) + 1 if nz.size else 1
        if start > h:
            raise FinanceError(
                f"option {oid}: option_cashflows has no operating year after year 0; "
                "add the years with their net saving"
            )
        if c is not None and c != start - 1:
            notes.append(
                f"construction_years {c} in the options table; the schedule starts operation in "
                f"year {start} (construction {start - 1} years), the schedule is used"
            )
        c = start - 1
        if np.any(inv_g[start:] > 0):
            notes.append("investment after the start of operation is depreciated from the start")
        if life is not None and life != h - c:
            notes.append(
                f"lifetime_years {life} in the options table; the schedule covers {h - c} "
                "operating years, the schedule is used"
            )
        life = h - c
        if rev is not None and cs is not None and rev >= 0 and cs >= 0 and rev + cs > 0:
            share = rev / (rev + cs)
        else:
            share = 0.0
        revenue, saving = p * share, p * (1.0 - share)
        basis = "schedule"
    net_total = float(inv.sum())
    dep = np.zeros(h + 1)
    dep[start : min(start + y, h + 1)] = 1.0 / y
    if y > life:
        notes.append(
            f"depreciation period {y} years exceeds the {life} operating years: "
            f"{(y - life) / y:.0%} of the investment is not depreciated within the life"
        )
    sal = np.zeros(h + 1)
    sal[h] = salvage
    if net_total == 0:
        notes.append("no investment net of subsidy: NPVR and IRR are undefined")
    return _Plan(
        option_id=oid,
        name=name,
        investment=inv,
        revenue=revenue,
        saving=saving,
        dep_share=dep,
        salvage=sal,
        construction_years=c,
        operating_years=life,
        depreciation_years=y,
        basis=basis,
        gross_investment=float(gross),
        subsidy=subsidy,
        notes=tuple(notes),
    )


def _components(
    plan: _Plan,
    tax_rate: float | np.ndarray,
    loss_tax: str,
    inv_mult: float | np.ndarray = 1.0,
    rev_mult: float | np.ndarray = 1.0,
    sav_mult: float | np.ndarray = 1.0,
) -> dict[str, np.ndarray]:
    """I, P, D, T, tax, E, F and net flow by year; multipliers of shape (m, 1) give (m, T)."""
    inv = np.multiply(inv_mult, plan.investment)
    p = np.multiply(rev_mult, plan.revenue) + np.multiply(sav_mult, plan.saving)
    d = inv.sum(axis=-1, keepdims=True) * plan.dep_share
    t = p - d
    tax = np.multiply(tax_rate, t if loss_tax == "relief" else np.maximum(t, 0.0))
    e = t - tax
    f = e + d
    net = f - inv + plan.salvage
    return {"I": inv, "P": p, "D": d, "T": t, "tax": tax, "E": e, "F": f, "net": net}


def _plans(
    options: pd.DataFrame,
    cashflows: pd.DataFrame | None,
    a: Assumptions,
    option_ids: Sequence[str] | None = None,
) -> list[_Plan]:
    if "option_id" not in options:
        raise FinanceError("options table has no column option_id")
    opts = options
    if option_ids is not None:
        wanted = [str(x) for x in option_ids]
        missing = sorted(set(wanted) - set(options["option_id"].astype(str)))
        if missing:
            raise FinanceError(f"option(s) {missing} not in the options table")
        opts = options[options["option_id"].astype(str).isin(wanted)]
        # in the order asked for (a ranking, say), not the table's
        rank = {oid: i for i, oid in reversed(list(enumerate(wanted)))}
        opts = opts.iloc[
            sorted(range(len(opts)), key=lambda i: rank[str(opts["option_id"].iloc[i])])
        ]
    if opts["option_id"].astype(str).duplicated().any():
        raise FinanceError("an option_id appears twice in the options table")
    groups: dict[str, pd.DataFrame] = {}
    if cashflows is not None and len(cashflows):
        for col in ("option_id", "year"):
            if col not in cashflows:
                raise FinanceError(f"option_cashflows has no column {col}")
        unknown = sorted(
            set(cashflows["option_id"].astype(str)) - set(options["option_id"].astype(str))
        )
        if unknown:
            raise FinanceError(
                f"option_cashflows lists option(s) {unknown} not in the options table"
            )
        groups = {str(k): g for k, g in cashflows.groupby(cashflows["option_id"].astype(str))}
    return [_plan(row, groups.get(str(row["option_id"])), a) for row in opts.to_dict("records")]


# --------------------------------------------------------------------------- public tables
def cash_flow_table(
    options: pd.DataFrame,
    cashflows: pd.DataFrame | None = None,
    *,
    assumptions: Assumptions | None = None,
    option_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Year-by-year cash flows of each option (the report's cash-flow table and the
    cumulative cash-flow chart), 10k CNY, CP-report formulas of calculation reference 6.1.

    Columns: option_id, year, phase (investment | construction | operation),
    investment_10k_cny (net of subsidy), revenue_10k_cny, operating_saving_10k_cny,
    net_saving_10k_cny (P), depreciation_10k_cny (D), taxable_profit_10k_cny (T),
    income_tax_10k_cny, net_profit_10k_cny (E), operating_cash_flow_10k_cny (F),
    salvage_10k_cny, net_cash_flow_10k_cny, discount_factor, discounted_cash_flow_10k_cny,
    cumulative_cash_flow_10k_cny, cumulative_discounted_10k_cny.
    """
    a = assumptions or resolve_assumptions()
    frames = []
    for plan in _plans(options, cashflows, a, option_ids):
        k = _components(plan, a.tax_rate, a.loss_tax)
        years = np.arange(len(plan.investment))
        disc = np.power(1.0 + a.discount_rate, -years)
        phase = np.where(
            years > plan.construction_years,
            "operation",
            np.where(plan.investment > 0, "investment", "construction"),
        )
        frames.append(
            pd.DataFrame(
                {
                    "option_id": plan.option_id,
                    "year": years,
                    "phase": phase,
                    "investment_10k_cny": k["I"],
                    "revenue_10k_cny": plan.revenue,
                    "operating_saving_10k_cny": plan.saving,
                    "net_saving_10k_cny": k["P"],
                    "depreciation_10k_cny": k["D"],
                    "taxable_profit_10k_cny": k["T"],
                    "income_tax_10k_cny": k["tax"],
                    "net_profit_10k_cny": k["E"],
                    "operating_cash_flow_10k_cny": k["F"],
                    "salvage_10k_cny": plan.salvage,
                    "net_cash_flow_10k_cny": k["net"],
                    "discount_factor": disc,
                    "discounted_cash_flow_10k_cny": k["net"] * disc,
                    "cumulative_cash_flow_10k_cny": np.cumsum(k["net"]),
                    "cumulative_discounted_10k_cny": np.cumsum(k["net"] * disc),
                }
            )
        )
    if not frames:
        raise FinanceError("no options to evaluate")
    out = pd.concat(frames, ignore_index=True).astype({"option_id": "string", "phase": "string"})
    out.attrs["basis"] = a.as_dict()
    return out


def _pct(x: float) -> str:
    return f"{x:.2%}"


def evaluate(
    options: pd.DataFrame,
    cashflows: pd.DataFrame | None = None,
    *,
    assumptions: Assumptions | None = None,
    option_ids: Sequence[str] | None = None,
    interpolated_irr: bool = False,
) -> pd.DataFrame:
    """Economic evaluation of each option in the CP-report form and the criteria of seed
    004 clause 5.5.6 c (calculation reference 6.1, 6.2). Pass the medium/high-cost options
    (:func:`cpkit.screening.simple_screening` group ``preliminary_medium_high``) or name
    them in ``option_ids`` (rows then come in that order); ``cashflows`` is the optional
    ``option_cashflows`` table.

    One row per option, money in 10k CNY:
    option_id, name, cash_flow_basis (constant | schedule), investment_10k_cny (gross),
    subsidy_10k_cny, net_investment_10k_cny (I), pv_investment_10k_cny (I at present
    value), annual_saving_10k_cny (P), depreciation_10k_cny (D), taxable_profit_10k_cny
    (T), net_profit_10k_cny (E), annual_cash_flow_10k_cny (F) — first operating year, or
    the mean over operating years for a schedule — construction_years, lifetime_years,
    depreciation_years, salvage_10k_cny, loss_years (years with P < D), payback_years
    (static, from the start of operation; = I/F for constant flows),
    dynamic_payback_years, npv_10k_cny, npvr (NPV / PV of I), irr, irr_status
    (unique | multiple | none), irr_roots, [irr_interpolated], npv_ok, irr_ok,
    payback_ok, verdict (feasible | not_feasible | review: only the IRR criterion cannot
    be applied), failed_criteria, notes. ``attrs["basis"]`` holds the assumptions.
    """
    a = assumptions or resolve_assumptions()
    rows = []
    for plan in _plans(options, cashflows, a, option_ids):
        k = _components(plan, a.tax_rate, a.loss_tax)
        notes = list(plan.notes)
        net = k["net"]
        c, n = plan.construction_years, plan.operating_years
        op = slice(c + 1, c + n + 1)
        i_net = float(plan.investment.sum())
        pv_i = float(npv(a.discount_rate, plan.investment))
        if plan.basis == "constant":
            first = c + 1
            p_, d_, t_, e_, f_ = (float(k[x][first]) for x in ("P", "D", "T", "E", "F"))
            if plan.depreciation_years < n:
                after = float(k["F"][first + plan.depreciation_years])
                notes.append(
                    f"after depreciation ends (year {plan.depreciation_years} of operation) "
                    f"F falls to {after:.4g}"
                )
        else:
            p_, d_, t_, e_, f_ = (float(k[x][op].mean()) for x in ("P", "D", "T", "E", "F"))
            notes.append("P, D, T, E, F are means over the operating years of the schedule")
        loss = int((k["T"][op] < 0).sum())
        if loss:
            notes.append(
                f"{loss} loss year(s) (P < D): "
                + (
                    "tax applied as written (negative tax = relief against other profits)"
                    if a.loss_tax == "relief"
                    else "tax capped at zero"
                )
            )
        stat = payback_period(net, 0.0)
        dyn = payback_period(net, a.discount_rate)
        pb = None if stat is None else max(stat - c, 0.0)
        dpb = None if dyn is None else max(dyn - c, 0.0)
        if pb is None:
            notes.append(
                f"the investment is not recovered within the {n} operating years"
                + (f" (I/F = {i_net / f_:.2f} years)" if f_ > 0 else "")
            )
        npv_ = float(npv(a.discount_rate, net))
        npvr = npv_ / pv_i if pv_i > 0 else math.nan
        if i_net > 0:
            ir = irr(net)
        else:
            ir = IRRResult(None, "none", (), 0, "no investment net of subsidy: no rate of return")
        if ir.message:
            notes.append(f"IRR: {ir.message}")
        row = {
            "option_id": plan.option_id,
            "name": plan.name,
            "cash_flow_basis": plan.basis,
            "investment_10k_cny": plan.gross_investment,
            "subsidy_10k_cny": plan.subsidy,
            "net_investment_10k_cny": i_net,
            "pv_investment_10k_cny": pv_i,
            "annual_saving_10k_cny": p_,
            "depreciation_10k_cny": d_,
            "taxable_profit_10k_cny": t_,
            "net_profit_10k_cny": e_,
            "annual_cash_flow_10k_cny": f_,
            "construction_years": c,
            "lifetime_years": n,
            "depreciation_years": plan.depreciation_years,
            "salvage_10k_cny": float(plan.salvage[-1]),
            "loss_years": loss,
            "payback_years": math.nan if pb is None else pb,
            "dynamic_payback_years": math.nan if dpb is None else dpb,
            "npv_10k_cny": npv_,
            "npvr": npvr,
            "irr": math.nan if ir.irr is None else ir.irr,
            "irr_status": ir.status,
            "irr_roots": ir.roots,
        }
        if interpolated_irr:
            try:
                row["irr_interpolated"] = irr_interpolated(net, a.irr_interpolation_step).irr
            except FinanceError:
                row["irr_interpolated"] = math.nan
        # criteria of seed 004 clause 5.5.6 c
        failed = []
        npv_ok = npv_ >= 0
        if not npv_ok:
            failed.append(f"NPV {npv_:.2f} < 0")
        if ir.status == "unique":
            irr_ok: bool | None = ir.irr >= a.benchmark_irr
            if not irr_ok:
                failed.append(f"IRR {_pct(ir.irr)} < benchmark {_pct(a.benchmark_irr)}")
        elif ir.status == "none" and i_net == 0 and (net >= 0).all():
            irr_ok = True  # nothing invested, nothing lost: the return is unbounded
            notes.append("no investment net of subsidy and no negative flow: IRR criterion met")
        elif ir.status == "none":
            irr_ok = False
            failed.append("no IRR")
        else:
            irr_ok = None
        payback_ok = pb is not None and pb < a.benchmark_payback_years
        if pb is None:
            failed.append("investment not recovered within the life")
        elif not payback_ok:
            failed.append(f"payback {pb:.2f} years ≥ benchmark {a.benchmark_payback_years:g} years")
        if failed:
            verdict = "not_feasible"
        elif irr_ok is None:
            verdict = "review"
            notes.append("IRR criterion not applicable (several IRRs): NPV and payback pass")
        else:
            verdict = "feasible"
        row.update(
            npv_ok=npv_ok,
            irr_ok=pd.NA if irr_ok is None else irr_ok,
            payback_ok=payback_ok,
            verdict=verdict,
            failed_criteria="; ".join(failed),
            notes="; ".join(notes),
        )
        rows.append(row)
    if not rows:
        raise FinanceError("no options to evaluate")
    out = pd.DataFrame(rows)
    out = out.astype(
        {
            "option_id": "string",
            "name": "string",
            "cash_flow_basis": "string",
            "irr_status": "string",
            "npv_ok": "boolean",
            "irr_ok": "boolean",
            "payback_ok": "boolean",
            "verdict": "string",
            "failed_criteria": "string",
            "notes": "string",
        }
    )
    out.attrs["basis"] = a.as_dict()
    return out


# --------------------------------------------------------------------------- ranking
@dataclass(frozen=True)
class FinanceRanking:
    """Ranking of competing options by NPV and by NPVR (seed 004 clause 5.5.6 c).

    table         option_id, name, verdict, npv_10k_cny, npvr, rank_npv, rank_npvr
    best_by_npv   id(s) with the largest NPV (several when tied)
    best_by_npvr  id(s) with the largest NPVR
    agree         whether the two criteria choose the same option
    message       one sentence for the report (names the disagreement when there is one)
    """

    table: pd.DataFrame
    best_by_npv: tuple[str, ...]
    best_by_npvr: tuple[str, ...]
    agree: bool
    message: str


def rank(evaluation: pd.DataFrame, *, feasible_only: bool = True) -> FinanceRanking:
    """Rank options by NPV and by NPVR, both descending (seed 004 clause 5.5.6 c: the
    largest NPV and the largest NPVR; calculation reference 6.1: NPVR for capital
    rationing). ``feasible_only`` keeps options with verdict feasible (or review)."""
    need = {"option_id", "npv_10k_cny", "npvr", "verdict"}
    if need - set(evaluation.columns):
        raise FinanceError(f"evaluation lacks column(s) {sorted(need - set(evaluation.columns))}")
    ev = evaluation
    if feasible_only:
        ev = ev[ev["verdict"].isin(["feasible", "review"])]
    if ev.empty:
        empty = pd.DataFrame(
            columns=["option_id", "name", "verdict", "npv_10k_cny", "npvr", "rank_npv", "rank_npvr"]
        )
        return FinanceRanking(empty, (), (), True, "no option meets the criteria of 5.5.6 c")
    npv_r = ev["npv_10k_cny"].astype(float).round(9)
    npvr_r = ev["npvr"].astype(float).round(12)
    table = pd.DataFrame(
        {
            "option_id": ev["option_id"].astype("string").to_numpy(),
            "name": (ev["name"] if "name" in ev else ev["option_id"]).astype("string").to_numpy(),
            "verdict": ev["verdict"].astype("string").to_numpy(),
            "npv_10k_cny": ev["npv_10k_cny"].astype(float).to_numpy(),
            "npvr": ev["npvr"].astype(float).to_numpy(),
            "rank_npv": npv_r.rank(method="min", ascending=False).astype("Int64").to_numpy(),
            "rank_npvr": npvr_r.rank(method="min", ascending=False).astype("Int64").to_numpy(),
        }
    )
    table = table.sort_values(["rank_npv", "rank_npvr"], kind="stable").reset_index(drop=True)
    b_npv = tuple(table.loc[table["rank_npv"] == 1, "option_id"].astype(str))
    b_npvr = tuple(table.loc[table["rank_npvr"] == 1, "option_id"].astype(str))
    agree = set(b_npv) == set(b_npvr)
    if len(table) == 1:
        msg = f"one option: {b_npv[0]}"
    elif agree:
        msg = f"{', '.join(b_npv)} has both the largest NPV and the largest NPVR"
    else:
        msg = (
            f"NPV prefers {', '.join(b_npv)} but NPVR prefers {', '.join(b_npvr)}: with limited "
            "capital choose by NPVR (return per unit invested), otherwise by NPV"
        )
    table.attrs["basis"] = dict(evaluation.attrs.get("basis", {}))
    return FinanceRanking(table, b_npv, b_npvr, agree, msg)


def with_assumptions(a: Assumptions, **changes: Any) -> Assumptions:
    """A copy of ``a`` with some values changed (sources marked), validated."""
    src = dict(a.sources) | {k: "set in the call" for k in changes}
    b = replace(a, **changes, sources=src)
    _check_assumptions(b)
    return b
