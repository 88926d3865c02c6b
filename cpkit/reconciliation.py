"""Data reconciliation of material balances: weighted least squares with gross-error tests.

What STAN (TU Wien) does for linear balances (calculation reference §7.2; seed 004 clause
5.3.2 asks that input and output data meet the error requirements of the balance test,
clause 5.3.3 that unmeasurable data be estimated): measured flows y with variances V,
balance constraints ``A x = 0`` (one row per unit and component, stock changes as flows
to the boundary), unknown flows eliminated by a projection P with ``P A_U = 0``
(Crowe, Garcia Campos & Hrymak 1983, AIChE J. 29(6) 881-888), reduced constraints
``B = P A_M``; then (Narasimhan & Jordache 2000, ch. 3 and 7)

    r   = B y − c                       residual of the reduced balances
    x̂   = y − V Bᵀ (B V Bᵀ)⁻¹ r          reconciled measurements
    Q   = V − V Bᵀ (B V Bᵀ)⁻¹ B V        their covariance (uncertainty shrinks)
    γ   = rᵀ (B V Bᵀ)⁻¹ r ~ χ²(ν)        global test, ν = rank B
    z_k = |y_k − x̂_k| / √W_kk,  W = V Bᵀ (B V Bᵀ)⁻¹ B V    measurement test,

compared with the Šidák-adjusted critical value ``z = Φ⁻¹(1 − α_k/2)``,
``α_k = 1 − (1 − α)^(1/m)`` for m tested measurements. Unknown flows that the balances
determine are computed afterwards from the reconciled values, with their uncertainty
propagated from Q.

Public functions: :func:`reconcile`, :func:`find_gross_errors`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp
import scipy.special
from scipy.sparse.csgraph import connected_components

from cpkit.balances import (
    BOUNDARY,
    _fmt,
    _independent_rows,
    _Layer,
    _Network,
    _prepare,
    _select,
    _setting,
    _structure,
    solve_balances,
)
from cpkit.errors import BalanceError

__all__ = ["GrossErrorSearch", "Reconciliation", "find_gross_errors", "reconcile"]

_U, _M, _F = 0, 1, 2  # unknown, measured (with variance), fixed (exact constant)
_TIE = 1e-6


# The three distribution functions of the tests, from scipy.special exactly as
# scipy.stats computes them (chi2._ppf, chi2._sf, norm._ppf): importing scipy.stats costs
# about 0.4 s, a fifth of a notebook's budget, for these three formulas.
def _chi2_ppf(q: float, df: float) -> float:
    """Quantile of the χ² distribution with ``df`` degrees of freedom (= scipy.stats.chi2.ppf)."""
    return float(2.0 * scipy.special.gammaincinv(df / 2.0, q))


def _chi2_sf(x: float, df: float) -> float:
    """Upper tail P(χ²(df) > x) (= scipy.stats.chi2.sf; 1 below the support)."""
    return 1.0 if x < 0 else float(scipy.special.chdtrc(df, x))


def _norm_ppf(q: float) -> float:
    """Quantile Φ⁻¹(q) of the standard normal distribution (= scipy.stats.norm.ppf)."""
    return float(scipy.special.ndtri(q))


@dataclass(frozen=True, eq=False)
class Reconciliation:
    """Result of :func:`reconcile`.

    ``flows``: one row per flow (streams, then stock terms ``stock:<unit>``):
    ``component, flow_id, kind, from_unit, to_unit, status, measured_kg_d, sigma_kg_d``
    (the standard uncertainty used), ``sigma_source`` (given, default x %, exact zero),
    ``reconciled_kg_d, sigma_reconciled_kg_d, adjustment_kg_d`` (reconciled − measured),
    ``adjustment_pct`` (of the measured value), ``adjustment_sigmas`` (in σ),
    ``test_statistic`` (measurement test z), ``redundant``, ``suspect`` (z above the
    Šidák critical value), ``determinable`` (unknown flows), ``negative`` (negative in the
    unbounded solution), ``at_bound`` (held at zero by ``nonnegative=True``). ``layers``: the global test per component. ``streams`` /
    ``stock_changes``: copies of the input tables with reconciled values and uncertainties
    (status ``reconciled``; determinable unknowns ``calculated``), ready for
    :func:`cpkit.balances.check_closure`.

    The global test: ``gamma`` ~ χ²(``nu``) with ``p_value``; ``critical_value`` is
    χ²₁₋α(ν). Components (layers) are independent problems, so each is tested on its own
    (``layers``); ``tolerable`` is True when every component passes its test, and the
    top-level ``gamma``, ``nu``, ``p_value``, ``critical_value`` are those of the combined
    test (the same as the component's when one component is reconciled). The
    measurement test uses
    ``measurement_critical_value`` (Šidák-adjusted); ``suspects`` are the flows above it,
    ``probable_gross_error`` the one with the largest statistic (None when it is tied,
    i.e. the network cannot tell the tied flows apart).
    """

    flows: pd.DataFrame
    layers: pd.DataFrame
    streams: pd.DataFrame
    stock_changes: pd.DataFrame | None
    gamma: float
    nu: int
    p_value: float
    critical_value: float
    alpha: float
    tolerable: bool
    verdict: str
    measurement_critical_value: float
    suspects: tuple[str, ...]
    probable_gross_error: str | None
    messages: tuple[str, ...]
    _cov: dict[str, tuple[list[str], np.ndarray, np.ndarray, list]]

    def covariance(self, component: str | None = None) -> pd.DataFrame:
        """Covariance (kg/d)² of the reconciled flows and of the determinable unknowns of
        one component (all components, block-diagonal, if None)."""
        keys = list(self._cov) if component is None else [component]
        for k in keys:
            if k not in self._cov:
                raise BalanceError(f"component {k} was not reconciled")
        parts = [_layer_cov(*self._cov[k]) for k in keys]
        ids = [i for p in parts for i in p[0]]
        mat = scipy.linalg.block_diag(*[p[1] for p in parts])
        return pd.DataFrame(mat, index=pd.Index(ids, name="flow_id"), columns=ids)


def _layer_cov(ids: list[str], me: np.ndarray, Q: np.ndarray, jac: list) -> tuple[list, np.ndarray]:
    """Covariance of the reconciled measurements (Q) and of the unknowns computed from them
    (x_U = const + J x̂_M, so Cov = J Q Jᵀ and Cov(x̂_M, x_U) = Q Jᵀ)."""
    k = len(me)
    ku = sum(len(d) for d, _, _ in jac)
    C = np.zeros((k + ku, k + ku))
    C[:k, :k] = Q
    names = [ids[e] for e in me]
    spans = []
    pos = k
    for d, cols, J in jac:
        spans.append((pos, pos + len(d), cols, J))
        names += [ids[e] for e in d]
        pos += len(d)
    for a0, a1, ca, Ja in spans:
        C[:k, a0:a1] = Q[:, ca] @ Ja.T
        C[a0:a1, :k] = C[:k, a0:a1].T
        for b0, b1, cb, Jb in spans:
            C[a0:a1, b0:b1] = Ja @ Q[np.ix_(ca, cb)] @ Jb.T
    return names, C


def reconcile(
    streams: pd.DataFrame,
    units: pd.DataFrame | None = None,
    stock_changes: pd.DataFrame | None = None,
    *,
    alpha: float | None = None,
    measured_rel_uncertainty: float | None = None,
    estimated_rel_uncertainty: float | None = None,
    nonnegative: bool = False,
    components: Sequence[str] | str | None = None,
) -> Reconciliation:
    """Reconcile the measured and estimated flows so that every balance closes.

    Weighted least squares with the inverse variances as weights (calculation reference
    §7.2, the linear case of STAN; formulas in the module docstring). Which flows take
    part:

    * ``measured`` / ``estimated`` / ``reconciled`` streams and stock changes with a value
      are measurements. Their standard uncertainty is the ``uncertainty`` column; where it
      is empty, ``measured_rel_uncertainty`` (default 5 %) or, for estimated flows and
      stock changes, ``estimated_rel_uncertainty`` (default 20 %) times the value (cpkit
      defaults, read from data/reference/finance/defaults.yaml when present there). A
      zero flow with a relative uncertainty is an exact zero;
    * ``unknown`` and ``calculated`` flows and stock changes without a value are unknowns,
      eliminated by the projection and computed afterwards where the balances determine
      them.

    ``alpha`` (default 0.05) is the significance level of the χ² global test and of the
    Šidák-adjusted measurement tests. Reconciled negative flows are flagged
    (``negative``); with ``nonnegative=True`` the problem is solved again with the bounds
    x ≥ 0 (stock changes stay free) by SLSQP, then the active bounds are fixed at zero
    and the equality problem is solved exactly (``at_bound``); the tests keep the values
    of the unbounded problem.

    Raises :class:`~cpkit.errors.BalanceError` for an explicit uncertainty ≤ 0 on a
    measured flow, for balances that nothing can adjust yet do not close, and when no
    measurement is redundant (nothing to reconcile: use
    :func:`cpkit.balances.solve_balances`).
    """
    alpha = _setting("reconciliation_alpha") if alpha is None else float(alpha)
    rel_m = (
        _setting("measured_relative_uncertainty")
        if measured_rel_uncertainty is None
        else float(measured_rel_uncertainty)
    )
    rel_e = (
        _setting("estimated_relative_uncertainty")
        if estimated_rel_uncertainty is None
        else float(estimated_rel_uncertainty)
    )
    if not 0 < alpha < 1:
        raise BalanceError(f"alpha must lie between 0 and 1 (e.g. 0.05), got {alpha:g}")
    for name, v in (("measured_rel_uncertainty", rel_m), ("estimated_rel_uncertainty", rel_e)):
        if not (v > 0 and math.isfinite(v)):
            raise BalanceError(f"{name} must be a positive fraction (0.05 = 5 %), got {v:g}")
    net = _prepare(streams, units, stock_changes)
    layers = _select(net, components)
    setups = [_setup(ly, rel_m, rel_e) for ly in layers]
    problems = [p for s in setups for p in s["problems"]]
    if problems:
        raise BalanceError(
            "the uncertainties do not allow a reconciliation:\n- " + "\n- ".join(problems[:20])
        )
    results = [
        _solve_layer(ly, s["cat"], s["x"], s["sd"]) for ly, s in zip(layers, setups, strict=True)
    ]
    if sum(r["nu"] for r in results) == 0:
        raise BalanceError(_nothing_redundant(layers, results))
    return _assemble(net, layers, setups, results, alpha, nonnegative)


def _nothing_redundant(layers: list[_Layer], results: list[dict[str, Any]]) -> str:
    parts = []
    for ly, r in zip(layers, results, strict=True):
        n_unknown = int((r["cat"] == _U).sum())
        parts.append(f"component {ly.component}: {n_unknown} unknown flow(s)")
    return (
        "nothing to reconcile: no measured flow is redundant, every balance (of a unit or "
        "of a group of units) still contains an unknown flow, so the measurements cannot be "
        "checked against each other (" + "; ".join(parts) + "). Measure one more flow, or "
        "use cpkit.balances.solve_balances to compute the unknowns"
    )


def _setup(ly: _Layer, rel_m: float, rel_e: float) -> dict[str, Any]:
    """Classify the flows of a layer and fix their standard uncertainties."""
    m = ly.m
    cat = np.full(m, _U, dtype=np.int8)
    sd = np.full(m, np.nan)
    source = ["unknown"] * m
    problems = []
    for e in range(m):
        st = ly.status[e]
        v = ly.value[e]
        if np.isnan(v) or st in ("unknown", "calculated"):
            continue
        given = ly.sigma[e]
        if not np.isnan(given):
            if given <= 0:
                what = "stock change" if ly.stock[e] else "flow"
                problems.append(
                    f"component {ly.component}, {what} {ly.ids[e]}: uncertainty {given:g} kg/d; a "
                    "measured value is never exact: enter its standard uncertainty, or leave "
                    "it empty to use the default relative uncertainty"
                )
                continue
            sd[e], source[e] = given, "given"
        else:
            rel = rel_e if (st == "estimated" or ly.stock[e]) else rel_m
            sd[e] = rel * abs(v)
            source[e] = f"default {rel * 100:g} %"
        if sd[e] > 0:
            cat[e] = _M
        else:
            cat[e] = _F
            source[e] = "exact zero"
    x = np.where(np.isnan(ly.value), 0.0, ly.value)
    return {"cat": cat, "x": x, "sd": sd, "source": source, "problems": problems}


def _solve_layer(ly: _Layer, cat: np.ndarray, x: np.ndarray, sd: np.ndarray) -> dict[str, Any]:
    """Equality-constrained WLS of one layer (see the module docstring)."""
    n, m = ly.n, ly.m
    A = ly.incidence()
    U, M, F = cat == _U, cat == _M, cat == _F
    st = _structure(ly, U, A)
    me = np.flatnonzero(M)
    A_M = A[:, me]
    c0 = A[:, F] @ x[F]  # fixed flows' contribution to every unit balance
    cabs = abs(A[:, F]) @ np.abs(x[F])
    B_full = (st.P @ A_M).tocsr()
    c_full = -(st.P @ c0)
    scale_rows = st.P @ (cabs + abs(A_M) @ np.abs(x[me]))
    # independent rows: drop one row of every group of rows not tied to the boundary by
    # measured flows (its balances add up to 0 = Σc, which is checked instead)
    keep, lab = _independent_rows(ly, st, me)
    R = B_full.shape[0]
    for comp in np.unique(lab[:R][~keep]):
        rows = np.flatnonzero(lab[:R] == comp)
        total = float(c_full[rows].sum())
        if abs(total) > 1e-9 * max(float(scale_rows[rows].sum()), 1e-300):
            members = [ly.units[i] for i in np.flatnonzero(np.isin(st.row_of_node[:n], rows))]
            raise BalanceError(
                f"component {ly.component}: the balance of unit(s) {', '.join(members)} misses "
                f"by {_fmt(-total)} kg/d, but no measured flow crosses their boundary (every flow "
                "there is unknown or exact); give those flows an uncertainty, or check the data"
            )
    B = B_full[keep]
    c = c_full[keep]
    nu = B.shape[0]
    y = x[me]
    v = sd[me] ** 2
    xhat = x.copy()
    xhat[U] = np.nan
    sig = np.where(M, sd, 0.0)
    sig[U] = np.nan
    k = len(me)
    a = np.zeros(k)
    wdiag = np.zeros(k)
    Q = np.diag(v)
    gamma = 0.0
    if nu:
        BV = (B @ sp.diags(v)).tocsr()
        S = (BV @ B.T).toarray()
        r = B @ y - c
        try:
            cf = scipy.linalg.cho_factor(S, lower=True, check_finite=False)
        except np.linalg.LinAlgError as exc:
            raise BalanceError(
                f"component {ly.component}: the reconciliation system is numerically singular; "
                f"the uncertainties span too many orders of magnitude (from {_fmt(float(np.sqrt(v.min())))} "
                f"to {_fmt(float(np.sqrt(v.max())))} kg/d): check the smallest ones"
            ) from exc
        lam = scipy.linalg.cho_solve(cf, r, check_finite=False)
        a = BV.T @ lam
        gamma = float(r @ lam)
        Sinv = scipy.linalg.cho_solve(cf, np.eye(nu), check_finite=False)
        BVt = BV.T.tocsr()
        W = np.asarray(BVt @ np.asarray(BVt @ Sinv).T)  # V Bᵀ S⁻¹ B V, sparse × dense
        Q = np.diag(v) - W
        wdiag = np.clip(np.diag(W), 0.0, None)
        xhat[me] = y - a
        sig[me] = np.sqrt(np.clip(np.diag(Q), 0.0, None))
    redundant_m = np.asarray(abs(B).sum(axis=0)).ravel() > 0 if nu else np.zeros(k, bool)
    z = np.full(k, np.nan)
    ok = redundant_m & (wdiag > 1e-14 * np.maximum(v, 1e-300))
    z[ok] = np.abs(a[ok]) / np.sqrt(wdiag[ok])
    # unknowns: x_U = G (−A_M x̂_M − c0) on each block of unknown flows; their covariance
    # J Q Jᵀ with J = −G A_M restricted to the measured flows touching the block
    det = np.zeros(m, bool)
    rhs = -(A_M @ xhat[me]) - c0
    A_Mcsr = A_M.tocsr()
    jac: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for b in st.blocks:
        det[b.edges] = b.determinable
        if not b.determinable.any():
            continue
        Gd = b.G[b.determinable]
        dedges = b.edges[b.determinable]
        xhat[dedges] = Gd @ rhs[b.nodes]
        sub = A_Mcsr[b.nodes]
        cols = np.unique(sub.indices)
        J = -(Gd @ sub[:, cols].toarray())
        jac.append((dedges, cols, J))
        if len(cols):
            Qc = Q[np.ix_(cols, cols)]
            sig[dedges] = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", J, Qc, J), 0.0, None))
        else:
            sig[dedges] = 0.0
    return {
        "cat": cat,
        "x": x,
        "sd": sd,
        "xhat": xhat,
        "sig": sig,
        "me": me,
        "a": a,
        "z": z,
        "redundant_m": redundant_m,
        "det": det,
        "gamma": gamma,
        "nu": int(nu),
        "Q": Q,
        "jac": jac,
    }


def _bounded(ly: _Layer, cat: np.ndarray, x: np.ndarray, sd: np.ndarray) -> tuple[dict, list[int]]:
    """min Σ((x_M − y)/σ)² s.t. A x = 0, flows ≥ 0 (SLSQP); then the active bounds are fixed
    at zero and the equality problem is solved exactly."""
    A = ly.incidence()
    var = np.flatnonzero(cat != _F)
    F = cat == _F
    c0 = A[:, F] @ x[F]
    Av = A[:, var].toarray()
    # independent balance rows: drop one per group of units not linked to the boundary
    g = sp.coo_matrix((np.ones(len(var)), (ly.src[var], ly.dst[var])), shape=(ly.n + 1, ly.n + 1))
    _, lab = connected_components(g, directed=False)
    keep = np.ones(ly.n, bool)
    for comp in np.unique(lab[: ly.n]):
        if comp != lab[ly.n]:
            keep[np.flatnonzero(lab[: ly.n] == comp)[0]] = False
    Av, cv = Av[keep], c0[keep]
    meas = cat[var] == _M
    y = x[var]
    w = np.where(meas, 1.0 / np.where(meas, sd[var], 1.0) ** 2, 0.0)
    s = max(float(np.abs(y[meas]).max(initial=0.0)), 1.0)
    bounds = [(None, None) if ly.stock[e] else (0.0, None) for e in var]
    start = _solve_layer(ly, cat, x, sd)["xhat"][var]
    start = np.where(np.isnan(start), 0.0, start)
    start = np.array(
        [v if lo is None else max(v, 0.0) for v, (lo, _) in zip(start, bounds, strict=True)]
    )

    def f(u):
        d = u * s - y
        return float(np.sum(w * d * d)) / s**2

    def jac(u):
        return 2 * w * (u * s - y) / s

    cons = {"type": "eq", "fun": lambda u: (Av @ (u * s) + cv) / s, "jac": lambda u: Av}
    import scipy.optimize  # only with bounds in play (about 0.2 s to import)

    res = scipy.optimize.minimize(
        f,
        start / s,
        jac=jac,
        bounds=bounds,
        constraints=[cons] if len(cv) else [],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    sol = res.x * s
    active = [
        int(e)
        for e, val, (lo, _) in zip(var, sol, bounds, strict=True)
        if lo is not None and val <= 1e-7 * s
    ]
    for _ in range(ly.m + 1):
        cat2, x2 = cat.copy(), x.copy()
        cat2[active] = _F
        x2[active] = 0.0
        out = _solve_layer(ly, cat2, x2, sd)
        neg = [
            e
            for e in range(ly.m)
            if not ly.stock[e] and e not in active and out["xhat"][e] < -1e-9 * s
        ]
        if not neg:
            return out, active
        active.append(min(neg, key=lambda e: out["xhat"][e]))
    return out, active  # pragma: no cover - each pass fixes one more flow


def _assemble(
    net: _Network,
    layers: list[_Layer],
    setups: list[dict[str, Any]],
    results: list[dict[str, Any]],
    alpha: float,
    nonnegative: bool,
) -> Reconciliation:
    gamma = float(sum(r["gamma"] for r in results))
    nu = int(sum(r["nu"] for r in results))
    crit = float(_chi2_ppf(1 - alpha, nu)) if nu else float("nan")
    p = float(_chi2_sf(gamma, nu)) if nu else float("nan")
    n_tested = int(sum(np.isfinite(r["z"]).sum() for r in results))
    alpha_k = 1 - (1 - alpha) ** (1 / n_tested) if n_tested else alpha
    zcrit = float(_norm_ppf(1 - alpha_k / 2))
    messages: list[str] = []

    cols: dict[str, list[Any]] = {k: [] for k in _FLOW_COLUMNS}
    lay: dict[str, list[Any]] = {k: [] for k in _LAYER_COLUMNS}
    zs: list[tuple[float, str]] = []
    new_values: dict[tuple[str, int], tuple[float, float, str]] = {}
    covs: dict[str, tuple[list[str], np.ndarray, np.ndarray, list]] = {}
    for ly, setup, res in zip(layers, setups, results, strict=True):
        final, active = res, []
        neg_mask = (~ly.stock) & (res["xhat"] < -1e-9 * max(np.nanmax(np.abs(res["x"])), 1.0))
        if neg_mask.any():
            ids = [ly.ids[e] for e in np.flatnonzero(neg_mask)]
            if nonnegative:
                final, active = _bounded(ly, res["cat"], res["x"], res["sd"])
                messages.append(
                    f"component {ly.component}: reconciled negative flow(s) {', '.join(ids)}; "
                    f"solved again with x ≥ 0, active bound(s): "
                    f"{', '.join(ly.ids[e] for e in active)}"
                )
            else:
                messages.append(
                    f"component {ly.component}: reconciled negative flow(s) {', '.join(ids)}; "
                    "a gross error is likely, or pass nonnegative=True"
                )
        covs[ly.component] = (list(ly.ids), final["me"], final["Q"], final["jac"])
        pos = {e: i for i, e in enumerate(res["me"])}
        cat = res["cat"]
        for e in range(ly.m):
            i = pos.get(e)
            measured = cat[e] != _U
            xhat = final["xhat"][e]
            sig_hat = final["sig"][e]
            y = res["x"][e] if measured else None
            adj = xhat - y if measured and np.isfinite(xhat) else None
            z = float(res["z"][i]) if i is not None and np.isfinite(res["z"][i]) else None
            if z is not None:
                zs.append((z, ly.ids[e]))
            cols["component"].append(ly.component)
            cols["flow_id"].append(ly.ids[e])
            cols["kind"].append("stock" if ly.stock[e] else "stream")
            cols["from_unit"].append(ly.node(ly.src[e]))
            cols["to_unit"].append(BOUNDARY if ly.stock[e] else ly.node(ly.dst[e]))
            cols["status"].append(
                ("given" if measured else "unknown") if ly.stock[e] else ly.status[e]
            )
            cols["measured_kg_d"].append(y)
            cols["sigma_kg_d"].append(res["sd"][e] if measured else None)
            cols["sigma_source"].append(setup["source"][e])
            cols["reconciled_kg_d"].append(xhat if np.isfinite(xhat) else None)
            cols["sigma_reconciled_kg_d"].append(sig_hat if np.isfinite(sig_hat) else None)
            cols["adjustment_kg_d"].append(adj)
            cols["adjustment_pct"].append(adj / y * 100 if adj is not None and y else None)
            cols["adjustment_sigmas"].append(
                adj / res["sd"][e] if adj is not None and cat[e] == _M else None
            )
            cols["test_statistic"].append(z)
            cols["redundant"].append(bool(res["redundant_m"][i]) if i is not None else False)
            cols["suspect"].append(bool(z is not None and z > zcrit))
            cols["determinable"].append(None if measured else bool(final["det"][e] or e in active))
            cols["negative"].append(bool(neg_mask[e]))
            cols["at_bound"].append(e in active)
            if np.isfinite(xhat):
                status = "reconciled" if measured else "calculated"
                key = ("stock" if ly.stock[e] else "stream", int(ly.row[e]))
                new_values[key] = (float(xhat), float(sig_hat), status)
        n_unknown = int((cat == _U).sum())
        nu_l = res["nu"]
        lay["component"].append(ly.component)
        lay["gamma"].append(res["gamma"])
        lay["nu"].append(nu_l)
        lay["p_value"].append(float(_chi2_sf(res["gamma"], nu_l)) if nu_l else None)
        lay["critical_value"].append(float(_chi2_ppf(1 - alpha, nu_l)) if nu_l else None)
        lay["tolerable"].append(bool(res["gamma"] <= _chi2_ppf(1 - alpha, nu_l)) if nu_l else None)
        lay["n_measured"].append(int((cat == _M).sum()))
        lay["n_redundant"].append(int(res["redundant_m"].sum()))
        lay["n_unknown"].append(n_unknown)
        got = final["det"].copy()
        got[active] = True
        lay["n_determinable"].append(int((got & (cat == _U)).sum()))
        if nu_l == 0:
            messages.append(
                f"component {ly.component}: no redundant measurement, values kept as given"
            )
        nd = [ly.ids[e] for e in range(ly.m) if cat[e] == _U and not got[e]]
        if nd:
            messages.append(
                f"component {ly.component}: unknown flow(s) {', '.join(nd)} are not "
                "determinable (see cpkit.balances.solve_balances for why)"
            )
    n_default = sum(1 for st in setups for src in st["source"] if src.startswith("default"))
    if n_default:
        messages.append(
            f"{n_default} flow(s) had no uncertainty and got the default relative one "
            "(see sigma_source)"
        )
    suspects = tuple(i for z, i in sorted(zs, reverse=True) if z > zcrit)
    probable = None
    tied: list[str] = []
    if suspects:
        top = max(z for z, _ in zs)
        tied = [i for z, i in zs if z >= top * (1 - _TIE)]
        probable = tied[0] if len(tied) == 1 else None
    tests = []
    for comp, g, n_l in zip(lay["component"], lay["gamma"], lay["nu"], strict=True):
        if n_l:
            c = float(_chi2_ppf(1 - alpha, n_l))
            where = f"component {comp}: " if len(layers) > 1 else ""
            sign = "≤" if g <= c else ">"
            pl = float(_chi2_sf(g, n_l))
            tests.append(
                (
                    g <= c,
                    f"{where}γ = {g:.4g} {sign} χ²({1 - alpha:g}; {n_l}) = {c:.4g} (p = {pl:.3g})",
                )
            )
    tolerable = all(ok for ok, _ in tests)
    if tolerable:
        verdict = "tolerable: " + "; ".join(t for _, t in tests)
    else:
        verdict = "not tolerable: " + "; ".join(t for ok, t in tests if not ok) + "; "
        if probable:
            verdict += (
                f"probable gross error in {probable} (measurement test "
                f"{max(z for z, _ in zs):.3g} > {zcrit:.3g})"
            )
        elif tied:
            verdict += (
                f"a gross error among {', '.join(tied)}: their measurement tests are equal, "
                "the balances cannot tell which one is wrong"
            )
        else:
            verdict += "no single measurement stands out"
    flows = pd.DataFrame({k: pd.array(v, dtype=_FLOW_COLUMNS[k]) for k, v in cols.items()})
    layer_frame = pd.DataFrame({k: pd.array(v, dtype=_LAYER_COLUMNS[k]) for k, v in lay.items()})
    basis = {
        "method": "weighted least squares, Crowe projection; χ² global test; Šidák measurement test",
        "source": "calculation reference §7.2 (STAN, linear case)",
        "alpha": alpha,
        "unit": "kg/d",
    }
    flows.attrs["basis"] = basis
    layer_frame.attrs["basis"] = basis
    out_streams, out_stocks = _tables(net, new_values)
    return Reconciliation(
        flows=flows,
        layers=layer_frame,
        streams=out_streams,
        stock_changes=out_stocks,
        gamma=gamma,
        nu=nu,
        p_value=p,
        critical_value=crit,
        alpha=alpha,
        tolerable=tolerable,
        verdict=verdict,
        measurement_critical_value=zcrit,
        suspects=suspects,
        probable_gross_error=probable,
        messages=tuple(messages),
        _cov=covs,
    )


def _tables(net: _Network, new: dict[tuple[str, int], tuple[float, float, str]]):
    s = net.streams.copy()
    value = s["value"].astype("Float64").to_numpy(dtype=object, na_value=pd.NA).copy()
    status = s["status"].astype("string").to_numpy(dtype=object, na_value=pd.NA).copy()
    unc = (
        s["uncertainty"].astype("Float64").to_numpy(dtype=object, na_value=pd.NA).copy()
        if "uncertainty" in s.columns
        else np.full(len(s), pd.NA, dtype=object)
    )
    for (kind, r), (v, sig, st) in new.items():
        if kind == "stream":
            value[r], unc[r], status[r] = v, sig, st
    s["value"] = pd.array(value, dtype="Float64")
    s["status"] = pd.array(status, dtype="string")
    s["uncertainty"] = pd.array(unc, dtype="Float64")
    stocks = None
    if net.stocks is not None:
        stocks = net.stocks.copy()
        sv = stocks["value"].astype("Float64").to_numpy(dtype=object, na_value=pd.NA).copy()
        su = (
            stocks["uncertainty"].astype("Float64").to_numpy(dtype=object, na_value=pd.NA).copy()
            if "uncertainty" in stocks.columns
            else np.full(len(stocks), pd.NA, dtype=object)
        )
        for (kind, r), (v, sig, _st) in new.items():
            if kind == "stock":
                sv[r], su[r] = v, sig
        stocks["value"] = pd.array(sv, dtype="Float64")
        stocks["uncertainty"] = pd.array(su, dtype="Float64")
    return s, stocks


_FLOW_COLUMNS = {
    "component": "string",
    "flow_id": "string",
    "kind": "string",
    "from_unit": "string",
    "to_unit": "string",
    "status": "string",
    "measured_kg_d": "Float64",
    "sigma_kg_d": "Float64",
    "sigma_source": "string",
    "reconciled_kg_d": "Float64",
    "sigma_reconciled_kg_d": "Float64",
    "adjustment_kg_d": "Float64",
    "adjustment_pct": "Float64",
    "adjustment_sigmas": "Float64",
    "test_statistic": "Float64",
    "redundant": "boolean",
    "suspect": "boolean",
    "determinable": "boolean",
    "negative": "boolean",
    "at_bound": "boolean",
}
_LAYER_COLUMNS = {
    "component": "string",
    "gamma": "Float64",
    "nu": "Int64",
    "p_value": "Float64",
    "critical_value": "Float64",
    "tolerable": "boolean",
    "n_measured": "Int64",
    "n_redundant": "Int64",
    "n_unknown": "Int64",
    "n_determinable": "Int64",
}


# --------------------------------------------------------------------------- gross errors
@dataclass(frozen=True, eq=False)
class GrossErrorSearch:
    """Result of :func:`find_gross_errors`: one row per step in ``steps`` (``gamma, nu,
    p_value, critical_value, tolerable, removed, removed_measured_kg_d, test_statistic,
    estimate_kg_d`` = the value the remaining data give the removed flow), the flows set
    aside in ``removed``, the last reconciliation in ``final`` and a ``verdict``."""

    steps: pd.DataFrame
    removed: tuple[str, ...]
    final: Reconciliation
    verdict: str


def find_gross_errors(
    streams: pd.DataFrame,
    units: pd.DataFrame | None = None,
    stock_changes: pd.DataFrame | None = None,
    *,
    max_removals: int | None = None,
    **options: Any,
) -> GrossErrorSearch:
    """Serial elimination of gross errors (Narasimhan & Jordache 2000, ch. 8; STAN's
    "statistical test" used repeatedly).

    Reconcile; while the global test rejects the data and one measurement has the largest
    Šidák-adjusted measurement test, set that measurement aside (treat the flow as
    unknown) and reconcile again. Stops when the data are tolerable, when the largest test
    is tied between flows (the balances cannot tell them apart), when nothing redundant is
    left, or after ``max_removals`` removals. ``options`` are passed to :func:`reconcile`.
    """
    s, stocks = streams, stock_changes
    rows: list[dict[str, Any]] = []
    removed: list[str] = []
    rec = reconcile(s, units, stocks, **options)
    limit = max_removals if max_removals is not None else len(streams)
    verdict = ""
    while True:
        row: dict[str, Any] = {
            "step": len(rows) + 1,
            "gamma": rec.gamma,
            "nu": rec.nu,
            "p_value": rec.p_value,
            "critical_value": rec.critical_value,
            "tolerable": rec.tolerable,
            "removed": None,
            "removed_measured_kg_d": None,
            "test_statistic": None,
            "estimate_kg_d": None,
        }
        rows.append(row)
        if rec.tolerable:
            verdict = (
                "the data are tolerable"
                if not removed
                else f"tolerable after setting aside {', '.join(removed)}"
            )
            break
        cand = rec.probable_gross_error
        if cand is None:
            verdict = rec.verdict
            break
        if len(removed) >= limit:
            verdict = f"stopped after {limit} removal(s); still {rec.verdict}"
            break
        f = rec.flows[rec.flows["flow_id"] == cand].iloc[0]
        row["removed"] = cand
        row["removed_measured_kg_d"] = float(f["measured_kg_d"])
        row["test_statistic"] = float(f["test_statistic"])
        removed.append(cand)
        s, stocks = _set_unknown(s, stocks, cand, str(f["component"]))
        try:
            rec = reconcile(s, units, stocks, **options)
        except BalanceError as exc:
            if not str(exc).startswith("nothing to reconcile"):
                raise
            sol = solve_balances(s, units, stocks, method="numeric")
            est = sol.flows[sol.flows["flow_id"] == cand]["solved_kg_d"].iloc[0]
            row["estimate_kg_d"] = None if pd.isna(est) else float(est)
            verdict = f"set aside {', '.join(removed)}; nothing redundant is left to test"
            break
        est = rec.flows[rec.flows["flow_id"] == cand]["reconciled_kg_d"].iloc[0]
        row["estimate_kg_d"] = None if pd.isna(est) else float(est)
    steps = pd.DataFrame(rows)
    types = {
        "step": "Int64",
        "gamma": "Float64",
        "nu": "Int64",
        "p_value": "Float64",
        "critical_value": "Float64",
        "tolerable": "boolean",
        "removed": "string",
        "removed_measured_kg_d": "Float64",
        "test_statistic": "Float64",
        "estimate_kg_d": "Float64",
    }
    steps = pd.DataFrame({k: pd.array(steps[k].tolist(), dtype=t) for k, t in types.items()})
    return GrossErrorSearch(steps=steps, removed=tuple(removed), final=rec, verdict=verdict)


def _set_unknown(s: pd.DataFrame, stocks: pd.DataFrame | None, flow_id: str, component: str):
    """Copies of the tables with one flow (or stock change) turned into an unknown."""
    s = s.copy()
    if flow_id.startswith("stock:"):
        stocks = stocks.copy()
        mask = (stocks["unit_id"].astype("string") == flow_id[6:]) & (
            stocks["component"].astype("string") == component
        )
        vals = stocks["value"].astype("Float64").copy()
        vals[mask.to_numpy(dtype=bool, na_value=False)] = pd.NA
        stocks["value"] = vals
        return s, stocks
    mask = (s["stream_id"].astype("string") == flow_id).to_numpy(dtype=bool, na_value=False)
    vals = s["value"].astype("Float64").copy()
    vals[mask] = pd.NA
    s["value"] = vals
    stat = s["status"].astype("string").copy()
    stat[mask] = "unknown"
    s["status"] = stat
    return s, stocks
