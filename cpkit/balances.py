"""Material and component balances of the audit focus: closure, equations and solving.

Seed 004 clauses 5.3.3-5.3.4 ask for the input/output table of every unit operation and of
the audit focus, the material balance and its quantitative analysis; flows that cannot be
measured may be worked out from the balance. The calculation reference §7.1 gives the
closure error

    δ = (Σ inputs − Σ outputs − Δstock) / Σ inputs × 100 %

and warns that hand arithmetic in published reports is often wrong, so cpkit computes every
figure itself.

The network is read from the dataset tables (cpkit/dataset_schema.yaml): ``units``,
``streams`` (one row per stream and component, ``value`` in kg/d, ``status`` measured /
estimated / unknown) and the optional ``stock_changes``. ``ENV`` is the boundary: a stream
from ENV is an import, a stream to ENV an export. Every component (``total`` = bulk mass,
``Ni``, ``COD``, ...) is balanced on its own.

Public functions (DataFrames in, DataFrames out; inputs are never modified):

* :func:`check_closure` – closure of every unit and of the whole focus, per component;
* :func:`io_table` – the unit-operation input/output summary tables of clause 5.3.4;
* :func:`recheck_reported_closure` – recompute a closure printed in a report;
* :func:`incidence_matrix` – the node-flow incidence matrix of one component;
* :func:`solve_balances` – balance equations (text and LaTeX), which unknown flows the
  balances determine (rank / nullspace of the incidence matrix), which measured flows are
  redundant, and the values of the determinable unknowns.

Data reconciliation (weighted least squares with χ² and measurement tests) lives in
:mod:`cpkit.reconciliation`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from cpkit import reference
from cpkit.errors import BalanceError, ReferenceDataError

__all__ = [
    "BOUNDARY",
    "SYMBOLIC_MAX_STREAMS",
    "TOTAL",
    "BalanceSolution",
    "ReportedClosureCheck",
    "check_closure",
    "incidence_matrix",
    "io_table",
    "recheck_reported_closure",
    "solve_balances",
]

#: Reserved id of the system boundary (``boundary_id`` in cpkit/dataset_schema.yaml).
BOUNDARY = "ENV"
#: Component id of the bulk (total mass) balance.
TOTAL = "total"
#: Default hand-over point of :func:`solve_balances`: a component layer with at most this
#: many flows (streams plus stock terms) is analysed exactly (rref of [A_U | I] in integer
#: arithmetic, :func:`_rref_exact`; sympy only for a matrix that would need fractions), a
#: larger one with numpy/scipy (QR with column pivoting of each connected block of unknown
#: flows, projection by node merging). The exact rref itself is cheap (measured on a
#: 2-core machine: ~1 ms for 200 flows, ~40 ms for 1,000; sympy's rational rref took
#: ~20 ms for 200); what grows on the exact path are its dense steps (rank and least
#: squares of the whole layer), so above ~200 flows the block-wise numeric path wins
#: (benchmarks/bench_reconciliation.py prints the current figures). Both paths give the
#: same answers (tests/test_balances.py checks that on random networks).
SYMBOLIC_MAX_STREAMS = 200

_DEFAULTS_FILE = "finance/defaults.yaml"
# Used only while data/reference/finance/defaults.yaml lacks the key (cpkit's own choices,
# status C; the coordinator is asked to move them into the reference data).
_FALLBACKS: dict[str, float] = {
    "closure_tolerance": 0.05,
    "closure_warning_factor": 2.0,  # warning band = factor × tolerance (reference: 10 %)
    "reconciliation_alpha": 0.05,
    "measured_relative_uncertainty": 0.05,
    "estimated_relative_uncertainty": 0.20,
}

_KNOWN = ("measured", "estimated", "calculated", "reconciled")
_STATUSES = (*_KNOWN, "unknown")
_STOCK = "stock"
_RTOL = 1e-9


def _setting(key: str, *, optional: bool = False) -> float | None:
    """A default from data/reference/finance/defaults.yaml (``key: {value: ...}``), else
    the fallback above (None for an optional key without fallback)."""
    try:
        entry = reference.load_yaml(_DEFAULTS_FILE).get(key)
    except (ReferenceDataError, AttributeError):
        entry = None
    if isinstance(entry, dict) and entry.get("value") is not None:
        return float(entry["value"])
    return None if optional else _FALLBACKS[key]


def _tolerances(tolerance: float | None, warning_tolerance: float | None) -> tuple[float, float]:
    """Closure tolerance and warning band (fractions). Defaults: ``closure_tolerance`` and
    ``closure_warning_tolerance`` of the reference data; a band not given is twice the
    tolerance."""
    tol = _setting("closure_tolerance") if tolerance is None else float(tolerance)
    if warning_tolerance is not None:
        warn = float(warning_tolerance)
    else:
        ref = _setting("closure_warning_tolerance", optional=True) if tolerance is None else None
        warn = ref if ref is not None else tol * _FALLBACKS["closure_warning_factor"]
    if not (0 <= tol <= warn) or not math.isfinite(warn):
        raise BalanceError(
            f"closure tolerances must satisfy 0 ≤ tolerance ({tol:g}) ≤ warning_tolerance "
            f"({warn:g}); both are fractions (0.05 = 5 %)"
        )
    return tol, warn


def _stock_id(unit: str) -> str:
    return f"stock:{unit}"


# --------------------------------------------------------------------------- network
@dataclass(frozen=True, eq=False)
class _Layer:
    """One component's network: nodes are units (index ``n`` is the boundary ENV), edges
    are the streams of the component followed by one stock term per unit that has a
    stock_changes row (a stock term is an edge from the unit to the boundary)."""

    component: str
    units: tuple[str, ...]
    ids: tuple[str, ...]
    src: np.ndarray
    dst: np.ndarray
    value: np.ndarray  # kg/d, NaN = unknown
    sigma: np.ndarray  # kg/d standard uncertainty, NaN = not given
    status: tuple[str, ...]
    stock: np.ndarray  # bool
    row: np.ndarray  # row position in streams (or stock_changes for stock terms)

    @property
    def n(self) -> int:
        return len(self.units)

    @property
    def m(self) -> int:
        return len(self.ids)

    def incidence(self) -> sp.csr_matrix:
        """A (units × edges): +1 where an edge enters a unit, −1 where it leaves it."""
        n, m = self.n, self.m
        cols = np.arange(m)
        din, dout = self.dst < n, self.src < n
        data = np.r_[np.ones(din.sum()), -np.ones(dout.sum())]
        rows = np.r_[self.dst[din], self.src[dout]]
        return sp.csr_matrix((data, (rows, np.r_[cols[din], cols[dout]])), shape=(n, m))

    def node(self, i: int) -> str:
        return BOUNDARY if i == self.n else self.units[i]


@dataclass(frozen=True, eq=False)
class _Network:
    layers: tuple[_Layer, ...]
    unit_names: dict[str, str]
    streams: pd.DataFrame
    stocks: pd.DataFrame | None


def _text(series: pd.Series) -> list[str | None]:
    out: list[str | None] = []
    for v in series.astype("string").to_numpy(dtype=object, na_value=None):
        v = v.strip() if isinstance(v, str) else None
        out.append(v or None)
    return out


def _numbers(series: pd.Series, label: list[str], what: str, problems: list[str]) -> np.ndarray:
    raw = series
    num = pd.to_numeric(raw, errors="coerce")
    arr = np.array(num.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    bad = np.isnan(arr) & ~raw.isna().to_numpy()
    for i in np.flatnonzero(bad):
        problems.append(f"{label[i]}: {what} {raw.iloc[i]!r} is not a number")
    inf = np.isinf(arr)
    for i in np.flatnonzero(inf):
        problems.append(f"{label[i]}: {what} is infinite")
    arr[inf] = np.nan
    return arr


_CANONICAL = "kg/d"


def _check_units(units: list[str | None], label: list[str], problems: list[str]) -> None:
    """Values must be in the schema's canonical kg/d (cpkit.load converts them)."""
    other = {u for u in units if u is not None and u.replace(" ", "").lower() != _CANONICAL}
    if not other:
        return
    from cpkit.units import UnitError, conversion_factor

    same = set()
    for u in other:
        try:
            if abs(conversion_factor(u, _CANONICAL) - 1.0) < 1e-12:
                same.add(u)
        except UnitError:
            pass
    for lab, u in zip(label, units, strict=True):
        if u in other and u not in same:
            problems.append(
                f"{lab}: the unit is {u!r}; balances work in {_CANONICAL} (the dataset's "
                "canonical unit): load the dataset with cpkit.load, which converts, or "
                "convert with cpkit.units.convert"
            )


def _raise(problems: list[str], what: str) -> None:
    if problems:
        lines = problems[:20]
        if len(problems) > 20:
            lines.append(f"... and {len(problems) - 20} more problems")
        raise BalanceError(f"{what}:\n- " + "\n- ".join(lines))


def _prepare(
    streams: pd.DataFrame,
    units: pd.DataFrame | None = None,
    stock_changes: pd.DataFrame | None = None,
) -> _Network:
    """Validate the tables and build one :class:`_Layer` per component."""
    if not isinstance(streams, pd.DataFrame):
        raise BalanceError("streams must be a pandas DataFrame (the dataset's streams table)")
    need = ("stream_id", "from_unit", "to_unit", "component", "value", "status")
    missing = [c for c in need if c not in streams.columns]
    if missing:
        raise BalanceError(f"the streams table lacks the column(s) {', '.join(missing)}")
    if len(streams) == 0:
        raise BalanceError("the streams table is empty: there is nothing to balance")
    problems: list[str] = []

    # units
    unit_names: dict[str, str] = {}
    if units is not None:
        if "unit_id" not in units.columns:
            raise BalanceError("the units table lacks the column unit_id")
        names = _text(units["name"]) if "name" in units.columns else [None] * len(units)
        for i, (uid, nm) in enumerate(zip(_text(units["unit_id"]), names, strict=True)):
            if uid is None:
                problems.append(f"units row {i + 1}: unit_id is empty")
            elif uid == BOUNDARY:
                problems.append(f"units row {i + 1}: {BOUNDARY} is reserved for the boundary")
            elif uid in unit_names:
                problems.append(f"units: unit_id {uid} appears more than once")
            else:
                unit_names[uid] = nm or uid

    sid = _text(streams["stream_id"])
    label = [f"stream {s}" if s else f"streams row {i + 1}" for i, s in enumerate(sid)]
    frm, to = _text(streams["from_unit"]), _text(streams["to_unit"])
    comp, status = _text(streams["component"]), _text(streams["status"])
    if "unit" in streams.columns:
        _check_units(_text(streams["unit"]), label, problems)
    value = _numbers(streams["value"], label, "value", problems)
    if "uncertainty" in streams.columns:
        sigma = _numbers(streams["uncertainty"], label, "uncertainty", problems)
    else:
        sigma = np.full(len(streams), np.nan)

    seen: set[str] = set()
    inferred = units is None
    for i in range(len(streams)):
        lab = label[i]
        if sid[i] is None:
            problems.append(f"{lab}: stream_id is empty")
        elif sid[i] in seen:
            problems.append(f"{lab}: stream_id appears more than once")
        else:
            seen.add(sid[i])
        for col, u in (("from_unit", frm[i]), ("to_unit", to[i])):
            if u is None:
                problems.append(f"{lab}: {col} is empty")
            elif u != BOUNDARY and u not in unit_names:
                if inferred:
                    unit_names[u] = u
                else:
                    problems.append(
                        f"{lab}: {col} '{u}' is neither a unit of the units table nor the "
                        f"boundary {BOUNDARY}"
                    )
        if frm[i] == BOUNDARY and to[i] == BOUNDARY:
            problems.append(f"{lab}: goes from {BOUNDARY} to {BOUNDARY}, it passes no unit")
        if comp[i] is None:
            problems.append(f"{lab}: component is empty (use '{TOTAL}' for the bulk mass)")
        st = status[i]
        if st not in _STATUSES:
            problems.append(f"{lab}: status {st!r} is not one of {', '.join(_STATUSES)}")
        elif st == "unknown" and not np.isnan(value[i]):
            problems.append(
                f"{lab}: status is 'unknown' but a value ({value[i]:g}) is given; set the "
                "status to measured or estimated, or clear the value"
            )
        elif st != "unknown" and np.isnan(value[i]) and not _bad_number(streams, i):
            problems.append(
                f"{lab}: status is '{st}' but the value is empty; enter it or set the status "
                "to unknown"
            )
        if value[i] < 0:
            problems.append(f"{lab}: value {value[i]:g} kg/d is negative; a flow is never negative")
        if sigma[i] < 0:
            problems.append(f"{lab}: uncertainty {sigma[i]:g} kg/d is negative")

    # stock changes
    stocks: dict[tuple[str, str], tuple[float, float, int]] = {}
    if stock_changes is not None and len(stock_changes):
        miss = [c for c in ("unit_id", "component", "value") if c not in stock_changes.columns]
        if miss:
            raise BalanceError(f"the stock_changes table lacks the column(s) {', '.join(miss)}")
        su, sc = _text(stock_changes["unit_id"]), _text(stock_changes["component"])
        slab = [
            f"stock_changes row {i + 1} ({u}, {c})"
            for i, (u, c) in enumerate(zip(su, sc, strict=True))
        ]
        sv = _numbers(stock_changes["value"], slab, "value", problems)
        if "uncertainty" in stock_changes.columns:
            ss = _numbers(stock_changes["uncertainty"], slab, "uncertainty", problems)
        else:
            ss = np.full(len(stock_changes), np.nan)
        for i in range(len(stock_changes)):
            if su[i] is None or sc[i] is None:
                problems.append(f"{slab[i]}: unit_id and component are required")
                continue
            if su[i] not in unit_names:
                where = "the units table" if not inferred else "any stream"
                problems.append(
                    f"{slab[i]}: unit '{su[i]}' is not a unit of {where}"
                    + (" (ENV is the boundary, it has no stock)" if su[i] == BOUNDARY else "")
                )
                continue
            if (su[i], sc[i]) in stocks:
                problems.append(f"{slab[i]}: a second stock change for the same unit and component")
                continue
            if "unit" in stock_changes.columns:
                _check_units(_text(stock_changes["unit"].iloc[i : i + 1]), [slab[i]], problems)
            if ss[i] < 0:
                problems.append(f"{slab[i]}: uncertainty {ss[i]:g} kg/d is negative")
            stocks[(su[i], sc[i])] = (sv[i], ss[i], i)
    _raise(problems, "the balance cannot be built")

    order = {u: k for k, u in enumerate(unit_names)}
    comps: list[str] = []
    for c in comp:
        if c not in comps:
            comps.append(c)
    if TOTAL in comps:
        comps.remove(TOTAL)
        comps.insert(0, TOTAL)
    for _u, c in stocks:
        if c not in comps:
            comps.append(c)

    comp_arr = np.array(comp, dtype=object)
    layers: list[_Layer] = []
    for c in comps:
        rows = np.flatnonzero(comp_arr == c)
        here = {frm[r] for r in rows} | {to[r] for r in rows}
        here |= {u for (u, cc) in stocks if cc == c}
        here.discard(BOUNDARY)
        lunits = tuple(sorted(here, key=order.__getitem__))
        idx = {u: k for k, u in enumerate(lunits)}
        n = len(lunits)
        idx[BOUNDARY] = n
        st_units = [u for u in lunits if (u, c) in stocks]
        src = np.array([idx[frm[r]] for r in rows] + [idx[u] for u in st_units], dtype=np.intp)
        dst = np.array([idx[to[r]] for r in rows] + [n] * len(st_units), dtype=np.intp)
        val = np.r_[value[rows], [stocks[(u, c)][0] for u in st_units]].astype(float)
        sig = np.r_[sigma[rows], [stocks[(u, c)][1] for u in st_units]].astype(float)
        ids = tuple([sid[r] for r in rows] + [_stock_id(u) for u in st_units])
        stat = tuple([status[r] for r in rows] + [_STOCK] * len(st_units))
        stock = np.r_[np.zeros(len(rows), bool), np.ones(len(st_units), bool)]
        rowpos = np.r_[rows, [stocks[(u, c)][2] for u in st_units]].astype(np.intp)
        layer = _Layer(c, lunits, ids, src, dst, val, sig, stat, stock, rowpos)
        # a unit that sends material on must receive some (seed 004 clause 5.3.4 tables)
        flow = ~stock & (src != dst)
        has_in = np.bincount(dst[flow], minlength=n + 1)[:n] > 0
        has_out = np.bincount(src[flow], minlength=n + 1)[:n] > 0
        for k in np.flatnonzero(~has_in):
            u = lunits[k]
            if has_out[k] and (u, c) not in stocks:
                problems.append(
                    f"component {c}: unit {u} has output streams but no input stream; add "
                    "the missing input (status unknown if it was not measured), a stock "
                    f"change if it is drawn from stock, or, if the {c} is formed in {u}, its "
                    f"formation as an input from {BOUNDARY}"
                )
            elif not has_out[k] and (u, c) in stocks:
                problems.append(
                    f"component {c}: unit {u} has a stock change but no {c} stream enters "
                    "or leaves it"
                )
        layers.append(layer)
    _raise(problems, "the balance cannot be built")
    st_frame = stock_changes if stock_changes is not None and len(stock_changes) else None
    return _Network(tuple(layers), unit_names, streams, st_frame)


def _bad_number(frame: pd.DataFrame, i: int) -> bool:
    """True when the value cell holds text that is not a number (reported separately)."""
    v = frame["value"].iloc[i]
    return not pd.isna(v) and pd.isna(pd.to_numeric(pd.Series([v]), errors="coerce").iloc[0])


def _select(net: _Network, components: Sequence[str] | str | None) -> list[_Layer]:
    if components is None:
        return list(net.layers)
    if isinstance(components, str):
        components = [components]
    have = {ly.component: ly for ly in net.layers}
    unknown = [c for c in components if c not in have]
    if unknown:
        raise BalanceError(
            f"component(s) {', '.join(unknown)} not in the streams table (it has {', '.join(have)})"
        )
    return [have[c] for c in components]


def _fmt(v: float) -> str:
    """A number for display: 6 significant digits, no exponent below 10^15."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    if abs(v) >= 1e6:
        return f"{v:.0f}"
    s = f"{v:.6g}"
    if "e" in s:
        s = np.format_float_positional(v, precision=6, fractional=False, trim="-")
    return s


# --------------------------------------------------------------------------- closure
def check_closure(
    streams: pd.DataFrame,
    units: pd.DataFrame | None = None,
    stock_changes: pd.DataFrame | None = None,
    *,
    tolerance: float | None = None,
    warning_tolerance: float | None = None,
    raise_on: Literal["failed", "warning"] | None = None,
) -> pd.DataFrame:
    """Closure of every unit operation and of the whole audit focus, per component.

    Formula (calculation reference §7.1; seed 004 clause 5.3.4):
    ``closure_pct = (inputs_kg_d − outputs_kg_d − stock_change_kg_d) / inputs_kg_d × 100``.
    A unit's inputs are the streams entering it, its outputs the streams leaving it; the
    overall row (``scope`` "overall", ``unit_id`` ENV) balances the imports from ENV
    against the exports to ENV and the sum of all stock changes. Streams from a unit back
    into itself cancel out and are left out of both sides.

    ``tolerance`` is a fraction (default ``closure_tolerance`` of
    data/reference/finance/defaults.yaml, 5 %); ``warning_tolerance`` defaults to twice
    it (the reference's 10 % warning band). Verdicts: ``closed`` (|δ| within tolerance),
    ``warning`` (within the warning band), ``failed``, ``not_computable`` (a flow of the
    unit is unknown: solve or reconcile first; the known side sums are still shown),
    ``zero_input`` (no material enters: δ undefined, the imbalance is shown).

    With ``raise_on="failed"`` (or ``"warning"``) a :class:`~cpkit.errors.BalanceError`
    lists every unit beyond the warning band (or beyond the tolerance).

    Returns one row per component and unit, then the overall row: ``component, scope,
    unit_id, unit_name, inputs_kg_d, outputs_kg_d, stock_change_kg_d, imbalance_kg_d,
    closure_pct, within_tolerance, verdict, note``; ``attrs["basis"]`` holds the
    tolerances and the formula.
    """
    tol, warn = _tolerances(tolerance, warning_tolerance)
    if raise_on not in (None, "failed", "warning"):
        raise BalanceError("raise_on must be None, 'failed' or 'warning'")
    net = _prepare(streams, units, stock_changes)
    cols: dict[str, list[Any]] = {k: [] for k in _CLOSURE_COLUMNS}
    for ly in net.layers:
        _closure_layer(ly, net.unit_names, tol, warn, cols)
    out = pd.DataFrame(
        {k: pd.array(v, dtype=_CLOSURE_COLUMNS[k]) for k, v in cols.items()},
    )
    out.attrs["basis"] = {
        "formula": "closure_pct = (inputs - outputs - stock_change) / inputs x 100",
        "source": "calculation reference §7.1; seed 004 clauses 5.3.3-5.3.4",
        "tolerance": tol,
        "warning_tolerance": warn,
        "tolerance_source": f"data/reference/{_DEFAULTS_FILE}: closure_tolerance",
        "unit": "kg/d",
    }
    if raise_on is not None:
        bad = {"failed"} if raise_on == "failed" else {"failed", "warning"}
        sel = out[out["verdict"].isin(bad)]
        if len(sel):
            lines = [
                f"component {r.component}, "
                + (
                    f"unit {r.unit_id} ({r.unit_name})"
                    if r.scope == "unit"
                    else "the whole audit focus"
                )
                + f": closure {r.closure_pct:.2f} % (in {_fmt(r.inputs_kg_d)}, out "
                f"{_fmt(r.outputs_kg_d)}, stock {_fmt(r.stock_change_kg_d)} kg/d)"
                for r in sel.itertuples()
            ]
            limit = warn if raise_on == "failed" else tol
            raise BalanceError(
                f"{len(sel)} balance(s) miss the ±{limit * 100:g} % closure limit:\n- "
                + "\n- ".join(lines)
            )
    return out


_CLOSURE_COLUMNS = {
    "component": "string",
    "scope": "string",
    "unit_id": "string",
    "unit_name": "string",
    "inputs_kg_d": "Float64",
    "outputs_kg_d": "Float64",
    "stock_change_kg_d": "Float64",
    "imbalance_kg_d": "Float64",
    "closure_pct": "Float64",
    "within_tolerance": "boolean",
    "verdict": "string",
    "note": "string",
}


def _closure_layer(
    ly: _Layer, names: dict[str, str], tol: float, warn: float, cols: dict[str, list[Any]]
) -> None:
    n = ly.n
    known = ~np.isnan(ly.value)
    v = np.where(known, ly.value, 0.0)
    flow = ~ly.stock & (ly.src != ly.dst)
    ins = [[] for _ in range(n + 1)]
    outs = [[] for _ in range(n + 1)]
    stock_val = np.zeros(n)
    stock_unknown: dict[int, str] = {}
    for e in range(ly.m):
        if ly.stock[e]:
            if known[e]:
                stock_val[ly.src[e]] = v[e]
            else:
                stock_unknown[ly.src[e]] = ly.ids[e]
        elif flow[e]:
            ins[ly.dst[e]].append(e)
            outs[ly.src[e]].append(e)

    def row(scope: str, uid: str, name: str, ein: list[int], eout: list[int], stock, sunk):
        unk_in = [ly.ids[e] for e in ein if not known[e]]
        unk_out = [ly.ids[e] for e in eout if not known[e]]
        unknown = unk_in + unk_out + ([sunk] if sunk else [])
        i_sum = None if unk_in else float(v[ein].sum()) if ein else 0.0
        o_sum = None if unk_out else float(v[eout].sum()) if eout else 0.0
        s_val = None if sunk else float(stock)
        imb = pct = within = None
        note = ""
        if unknown:
            verdict = "not_computable"
            note = "not computable until solved: unknown " + ", ".join(unknown)
        else:
            imb = i_sum - o_sum - s_val
            scale = max(i_sum, o_sum, abs(s_val))
            if abs(imb) <= _RTOL * scale:
                imb = 0.0
            if i_sum <= 0:
                verdict = "zero_input"
                note = "nothing enters: closure % undefined, see the imbalance"
            else:
                pct = imb / i_sum * 100.0
                a = abs(pct) / 100.0
                if a <= tol * (1 + 1e-12):
                    verdict, within = "closed", True
                elif a <= warn * (1 + 1e-12):
                    verdict, within = "warning", False
                    note = f"beyond ±{tol * 100:g} %, within the ±{warn * 100:g} % warning band"
                else:
                    verdict, within = "failed", False
                    note = f"beyond the ±{warn * 100:g} % warning band"
        for k, val in (
            ("component", ly.component),
            ("scope", scope),
            ("unit_id", uid),
            ("unit_name", name),
            ("inputs_kg_d", i_sum),
            ("outputs_kg_d", o_sum),
            ("stock_change_kg_d", s_val),
            ("imbalance_kg_d", imb),
            ("closure_pct", pct),
            ("within_tolerance", within),
            ("verdict", verdict),
            ("note", note),
        ):
            cols[k].append(val)

    for k in range(n):
        u = ly.units[k]
        row("unit", u, names.get(u, u), ins[k], outs[k], stock_val[k], stock_unknown.get(k))
    sunk = ", ".join(stock_unknown.values()) or None
    row(
        "overall",
        BOUNDARY,
        "audit focus (boundary)",
        outs[n],
        ins[n],
        stock_val.sum(),
        sunk,
    )


# --------------------------------------------------------------------------- io tables
def io_table(
    streams: pd.DataFrame,
    units: pd.DataFrame | None = None,
    stock_changes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The input/output summary tables of seed 004 clause 5.3.4 (单元操作物料输入输出数据汇总表
    and 审核重点物料输入输出数据汇总表) in long form.

    One row per unit, component and stream: ``direction`` is input, output or stock;
    ``counterpart`` is where the stream comes from or goes to; ``share_pct`` is the
    stream's share of the unit's total input (kg/d ÷ kg/d × 100; empty while an input is
    unknown). The rows with ``unit_id`` ENV are the table of the whole audit focus
    (imports as inputs, exports as outputs).
    """
    net = _prepare(streams, units, stock_changes)
    s = net.streams
    material = _text(s["material"]) if "material" in s.columns else [None] * len(s)
    kind = _text(s["kind"]) if "kind" in s.columns else [None] * len(s)
    rec: list[tuple] = []
    for ly in net.layers:
        known = ~np.isnan(ly.value)
        for k in range(ly.n + 1):
            uid = ly.node(k)
            name = "audit focus (boundary)" if k == ly.n else net.unit_names.get(uid, uid)
            if k == ly.n:
                ein = [e for e in range(ly.m) if ly.src[e] == k and not ly.stock[e]]
                eout = [e for e in range(ly.m) if ly.dst[e] == k and not ly.stock[e]]
                est = [e for e in range(ly.m) if ly.stock[e]]
            else:
                flow = ~ly.stock & (ly.src != ly.dst)
                ein = [e for e in range(ly.m) if flow[e] and ly.dst[e] == k]
                eout = [e for e in range(ly.m) if flow[e] and ly.src[e] == k]
                est = [e for e in range(ly.m) if ly.stock[e] and ly.src[e] == k]
            total_in = float(ly.value[ein].sum()) if all(known[ein]) and ein else None
            for direction, es in (("input", ein), ("output", eout), ("stock", est)):
                for e in es:
                    r = ly.row[e]
                    leaves = direction == "output" if k < ly.n else direction == "input"
                    other = ly.dst[e] if leaves else ly.src[e]
                    val = None if not known[e] else float(ly.value[e])
                    share = (
                        val / total_in * 100.0
                        if val is not None and total_in and direction != "stock"
                        else None
                    )
                    rec.append(
                        (
                            ly.component,
                            uid,
                            name,
                            direction,
                            ly.ids[e],
                            None if ly.stock[e] else material[r],
                            _STOCK if ly.stock[e] else kind[r],
                            None if ly.stock[e] else ly.node(other),
                            val,
                            ("given" if known[e] else "unknown") if ly.stock[e] else ly.status[e],
                            share,
                        )
                    )
    dtypes = {
        "component": "string",
        "unit_id": "string",
        "unit_name": "string",
        "direction": "string",
        "stream_id": "string",
        "material": "string",
        "kind": "string",
        "counterpart": "string",
        "value_kg_d": "Float64",
        "status": "string",
        "share_pct": "Float64",
    }
    cols = list(zip(*rec, strict=True)) if rec else [[] for _ in dtypes]
    return pd.DataFrame(
        {k: pd.array(list(c), dtype=t) for (k, t), c in zip(dtypes.items(), cols, strict=True)}
    )


# --------------------------------------------------------------------------- reported
@dataclass(frozen=True)
class ReportedClosureCheck:
    """A closure recomputed from a report's input and output totals (same unit as given).

    ``imbalance_matches`` / ``closure_matches`` are None when the report gave no such
    figure; ``messages`` explains every mismatch.
    """

    inputs: float
    outputs: float
    stock_change: float
    imbalance: float
    closure_pct: float
    within_tolerance: bool
    verdict: str
    reported_imbalance: float | None
    reported_closure_pct: float | None
    imbalance_matches: bool | None
    closure_matches: bool | None
    messages: tuple[str, ...] = field(default_factory=tuple)


def recheck_reported_closure(
    inputs: float,
    outputs: float,
    *,
    stock_change: float = 0.0,
    reported_imbalance: float | None = None,
    reported_closure_pct: float | None = None,
    tolerance: float | None = None,
    warning_tolerance: float | None = None,
    match_tolerance_pct: float = 0.01,
) -> ReportedClosureCheck:
    """Recompute a material-balance closure printed in a report and flag wrong arithmetic.

    Calculation reference §7.1 (gotcha): a published CP report prints inputs 4 746 025 kg,
    outputs 4 646 377 kg, a difference of 43 088 kg and a deviation of 0.91 %; the true
    difference is 99 648 kg, i.e. 2.10 %. Closure as in :func:`check_closure`:
    ``(inputs − outputs − stock_change) / inputs × 100``.

    A reported figure matches when it differs from the recomputed one by at most
    ``match_tolerance_pct`` percentage points of the inputs (default 0.01, i.e. the
    rounding of a figure printed with two decimals).
    """
    vals = {"inputs": inputs, "outputs": outputs, "stock_change": stock_change}
    for k, v in vals.items():
        if v is None or not math.isfinite(float(v)):
            raise BalanceError(f"{k} must be a finite number, got {v!r}")
    inputs, outputs, stock_change = float(inputs), float(outputs), float(stock_change)
    if inputs <= 0:
        raise BalanceError(f"inputs must be positive to compute a closure %, got {inputs:g}")
    if outputs < 0:
        raise BalanceError(f"outputs must not be negative, got {outputs:g}")
    tol, warn = _tolerances(tolerance, warning_tolerance)
    imb = inputs - outputs - stock_change
    pct = imb / inputs * 100.0
    a = abs(pct) / 100
    verdict = "closed" if a <= tol else "warning" if a <= warn else "failed"
    msgs: list[str] = []
    imb_ok = pct_ok = None
    if reported_imbalance is not None:
        diff_pp = abs(float(reported_imbalance) - imb) / inputs * 100
        imb_ok = diff_pp <= match_tolerance_pct
        if not imb_ok:
            msgs.append(
                f"reported difference {_fmt(float(reported_imbalance))} is wrong: inputs − "
                f"outputs − stock change = {_fmt(inputs)} − {_fmt(outputs)} − "
                f"{_fmt(stock_change)} = {_fmt(imb)}"
            )
    if reported_closure_pct is not None:
        pct_ok = abs(float(reported_closure_pct) - pct) <= match_tolerance_pct
        if not pct_ok:
            msg = (
                f"reported closure {float(reported_closure_pct):g} % is wrong: "
                f"{_fmt(imb)} / {_fmt(inputs)} × 100 = {pct:.2f} %"
            )
            if reported_imbalance is not None:
                implied = float(reported_imbalance) / inputs * 100
                if abs(implied - float(reported_closure_pct)) <= match_tolerance_pct:
                    msg += " (it follows from the wrong difference)"
            msgs.append(msg)
    if verdict != "closed":
        msgs.append(f"the recomputed closure {pct:.2f} % is beyond ±{tol * 100:g} %")
    return ReportedClosureCheck(
        inputs=inputs,
        outputs=outputs,
        stock_change=stock_change,
        imbalance=imb,
        closure_pct=pct,
        within_tolerance=verdict == "closed",
        verdict=verdict,
        reported_imbalance=None if reported_imbalance is None else float(reported_imbalance),
        reported_closure_pct=(
            None if reported_closure_pct is None else float(reported_closure_pct)
        ),
        imbalance_matches=imb_ok,
        closure_matches=pct_ok,
        messages=tuple(msgs),
    )


# --------------------------------------------------------------------------- incidence
def incidence_matrix(
    streams: pd.DataFrame,
    units: pd.DataFrame | None = None,
    stock_changes: pd.DataFrame | None = None,
    *,
    component: str = TOTAL,
) -> pd.DataFrame:
    """The node-flow incidence matrix A of one component (rows: units, columns: flows).

    ``A[u, s] = +1`` if flow s enters unit u, ``−1`` if it leaves it; a stock change is a
    column ``stock:<unit>`` with −1 (material leaving the flows into the stock). Every unit
    balance is then the row equation ``A x = 0`` (calculation reference §7.2).
    """
    (ly,) = _select(_prepare(streams, units, stock_changes), component)
    a = ly.incidence().toarray().astype(np.int8)
    out = pd.DataFrame(a, index=pd.Index(ly.units, name="unit_id"), columns=list(ly.ids))
    out.columns.name = "flow"
    return out


# --------------------------------------------------------------------------- structure
@dataclass(frozen=True, eq=False)
class _Block:
    """A connected group of unknown flows (a component of the graph of unknown flows),
    analysed by QR with column pivoting of its incidence block: A_b Π = Q [R11 R12].

    The pivot columns (``basis``) are flows a combination of balances isolates; with
    ``D = R11⁻¹ R12`` the standard form [I | D] of the block, a basis flow is determinable
    iff its row of D is zero; every non-basis flow j gives a nullspace vector (a free
    combination: x_j = 1, x_basis = −D[:, j]); the connected parts of the bipartite
    nonzero pattern of D are the groups of flows that lie on common loops."""

    nodes: np.ndarray  # unit indices (the boundary excluded)
    edges: np.ndarray  # edge indices (unknown flows)
    touches_boundary: bool
    rank: int
    determinable: np.ndarray  # bool per edge of the block
    G: np.ndarray  # (edges × nodes): x_edge = G @ rhs[nodes] for determinable edges
    basis: np.ndarray  # local edge positions
    nonbasis: np.ndarray
    D: np.ndarray  # (rank × nullity)


def _block(sub: np.ndarray, nodes: np.ndarray, edges: np.ndarray, env: bool) -> _Block:
    e = sub.shape[1]
    if e == 1:  # one unknown flow: QR of a single column, written out
        col = sub[:, 0]
        nrm2 = float(col @ col)
        if nrm2 == 0.0:  # a flow from a unit back into itself
            zero = np.zeros((0, 1))
            return _Block(
                nodes,
                edges,
                env,
                0,
                np.zeros(1, bool),
                np.zeros((1, len(nodes))),
                np.zeros(0, np.intp),
                np.zeros(1, np.intp),
                zero,
            )
        return _Block(
            nodes,
            edges,
            env,
            1,
            np.ones(1, bool),
            (col / nrm2)[None, :],
            np.zeros(1, np.intp),
            np.zeros(0, np.intp),
            np.zeros((1, 0)),
        )
    q, r, piv = scipy.linalg.qr(sub, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > max(sub.shape) * np.finfo(float).eps * max(diag.max(initial=0), 1.0)).sum())
    r11 = r[:rank, :rank]
    D = scipy.linalg.solve_triangular(r11, r[:rank, rank:]) if rank else np.zeros((0, e))
    D[np.abs(D) < 1e-9] = 0.0
    basis, nonbasis = piv[:rank], piv[rank:]
    det = np.zeros(e, bool)
    det[basis[~D.any(axis=1)]] = True
    G = np.zeros((e, len(nodes)))
    if rank:
        G[basis] = scipy.linalg.solve_triangular(r11, q[:, :rank].T)
    return _Block(nodes, edges, env, rank, det, G, basis, nonbasis, D)


def _groups(basis, nonbasis, D) -> list[tuple[list[int], int]]:
    """Groups of non-determinable positions: connected parts of the bipartite pattern of D
    (matroid components); returns (positions, nullity of the group)."""
    r, k = D.shape
    if k == 0:
        return []
    rows, cols = np.nonzero(D)
    adj = sp.coo_matrix((np.ones(len(rows)), (rows, r + cols)), shape=(r + k, r + k))
    _, lab = connected_components(adj, directed=False)
    out = []
    for g in np.unique(lab[r:]):
        members = [int(basis[i]) for i in np.flatnonzero(lab[:r] == g)]
        free = [int(nonbasis[j]) for j in np.flatnonzero(lab[r:] == g)]
        out.append((members + free, len(free)))
    return out


@dataclass(frozen=True, eq=False)
class _Structure:
    """Numeric structure of ``A x = 0`` split into unknown (U) and known (K) flows.

    The left nullspace of A_U (the projection of Crowe et al. 1983) is spanned by the
    indicator vectors of the connected groups of units joined by unknown flows that do
    not reach the boundary (Mah, Stanley & Downing 1976: node merging): summing the
    balances of such a group eliminates every unknown flow inside it. ``P`` holds these
    rows; ``P @ A_K`` are the redundancy relations among the known flows.
    """

    unknown: np.ndarray  # bool per edge
    labels: np.ndarray  # group label per node (n + 1 nodes)
    P: sp.csr_matrix  # groups (not touching the boundary) × units
    blocks: list[_Block]
    row_of_node: np.ndarray  # row of P per node (n + 1 nodes), −1 in the boundary group


def _structure(ly: _Layer, unknown: np.ndarray, A: sp.csr_matrix | None = None) -> _Structure:
    n = ly.n
    A = ly.incidence() if A is None else A
    ue = np.flatnonzero(unknown)
    g = sp.coo_matrix((np.ones(len(ue)), (ly.src[ue], ly.dst[ue])), shape=(n + 1, n + 1))
    _, labels = connected_components(g, directed=False)
    env = labels[n]
    keep = labels[:n] != env
    groups, rows = np.unique(labels[:n][keep], return_inverse=True)
    P = sp.csr_matrix(
        (np.ones(int(keep.sum())), (rows, np.flatnonzero(keep))), shape=(len(groups), n)
    )
    blocks: list[_Block] = []
    if len(ue):
        edge_label = labels[ly.src[ue]]
        order = np.argsort(edge_label, kind="stable")
        cuts = np.flatnonzero(np.diff(edge_label[order])) + 1
        node_order = np.argsort(labels[:n], kind="stable")
        node_lab = labels[:n][node_order]
        Acsc = A.tocsc()
        for grp in np.split(order, cuts):
            lab = edge_label[grp[0]]
            edges = ue[grp]
            lo, hi = np.searchsorted(node_lab, [lab, lab + 1])
            nodes = np.sort(node_order[lo:hi])
            sub = Acsc[:, edges][nodes].toarray()
            blocks.append(_block(sub, nodes, edges, bool(lab == env)))
    row_of_node = np.full(n + 1, -1, dtype=np.intp)
    row_of_node[np.flatnonzero(keep)] = rows
    return _Structure(unknown, labels, P, blocks, row_of_node)


def _independent_rows(ly: _Layer, st: _Structure, edges: np.ndarray):
    """Which rows of ``P @ A[:, edges]`` are linearly independent.

    That matrix is the incidence matrix of the graph whose nodes are the unit groups of
    ``st`` (the boundary group is the ground, it has no row) and whose arcs are ``edges``.
    Its rank is the number of groups minus the number of connected parts without the
    ground: in each such part the rows add up to zero. Returns a mask keeping all rows but
    the first of each such part, and the part label of every row (with the ground's)."""
    R = st.P.shape[0]
    rs = st.row_of_node[ly.src[edges]]
    rd = st.row_of_node[ly.dst[edges]]
    rs = np.where(rs < 0, R, rs)
    rd = np.where(rd < 0, R, rd)
    link = rs != rd
    g = sp.coo_matrix((np.ones(int(link.sum())), (rs[link], rd[link])), shape=(R + 1, R + 1))
    _, lab = connected_components(g, directed=False)
    keep = np.ones(R, bool)
    order = np.argsort(lab[:R], kind="stable")
    first = order[np.r_[True, np.diff(lab[:R][order]) != 0]] if R else order
    keep[first[lab[first] != lab[R]]] = False
    return keep, lab


# --------------------------------------------------------------------------- solving
@dataclass(frozen=True, eq=False)
class BalanceSolution:
    """What the balance equations say about a network (result of :func:`solve_balances`).

    ``flows``: one row per flow (streams and stock terms): ``component, flow_id, symbol,
    from_unit, to_unit, status, value_kg_d`` (given), ``solved_kg_d`` (given, or computed
    for a determinable unknown), ``determinable`` (unknown flows), ``redundant`` (known
    flows that the balances could also compute, i.e. that can be checked), ``reason``.

    ``equations``: one balance per unit and component (plus the implied overall balance,
    ``unit_id`` ENV) as plain text and LaTeX, symbolic and with the known values put in.
    ``relations``: the redundancy relations among known flows (the balance of a unit or
    of a group of units joined by unknown flows), with their residual. ``free_combinations``:
    the nullspace of the unknown-flow matrix (symbolic path only): each row is a
    combination of unknown flows that the balances cannot see. ``legend``: symbol → stream.
    ``layers``: per component, counts, degrees of freedom (nullity), redundancy (rank of
    the relations), consistency and the method used. ``streams`` / ``stock_changes``:
    copies of the inputs with the determinable unknowns filled in (status ``calculated``).
    """

    flows: pd.DataFrame
    equations: pd.DataFrame
    relations: pd.DataFrame
    free_combinations: pd.DataFrame
    legend: pd.DataFrame
    layers: pd.DataFrame
    streams: pd.DataFrame
    stock_changes: pd.DataFrame | None
    consistent: bool
    fully_determined: bool
    messages: tuple[str, ...]

    def system_latex(self, component: str = TOTAL, *, values: bool = False) -> str:
        """The balance equations of one component as one LaTeX ``aligned`` block."""
        eq = self.equations[
            (self.equations["component"] == component) & (self.equations["scope"] == "unit")
        ]
        col = "latex_values" if values else "latex"
        lines = [str(x).replace(" = ", " &= ", 1) for x in eq[col]]
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"

    def system_text(self, component: str = TOTAL, *, values: bool = False) -> str:
        """The balance equations of one component as plain text, one per line."""
        eq = self.equations[
            (self.equations["component"] == component) & (self.equations["scope"] == "unit")
        ]
        col = "text_values" if values else "text"
        return "\n".join(f"{u}: {t}" for u, t in zip(eq["unit_id"], eq[col], strict=True))

    def sympy_equations(self, component: str = TOTAL) -> list[Any]:
        """The unit balances of one component as ``sympy.Eq`` objects (inputs = outputs +
        stock), with stream ids as symbols, for display or further algebra."""
        import sympy

        fl = self.flows[self.flows["component"] == component]
        sym = {fid: sympy.Symbol(s) for fid, s in zip(fl["flow_id"], fl["symbol"], strict=True)}
        out = []
        eq = self.equations[
            (self.equations["component"] == component) & (self.equations["scope"] == "unit")
        ]
        for u in eq["unit_id"]:
            ins = fl[(fl["to_unit"] == u) & (fl["from_unit"] != u)]["flow_id"]
            outs = fl[(fl["from_unit"] == u) & (fl["to_unit"] != u)]["flow_id"]
            lhs = sympy.Add(*[sym[f] for f in ins])
            rhs = sympy.Add(*[sym[f] for f in outs])
            out.append(sympy.Eq(lhs, rhs))
        return out


def _latex_symbol(fid: str) -> str:
    if fid.startswith("stock:"):
        return r"\Delta m_{\mathrm{" + _latex_escape(fid[6:]) + "}}"
    m = re.fullmatch(r"([A-Za-z]+)(\d+)", fid)
    if m:
        return f"{m[1]}_{{{m[2]}}}"
    return r"\mathrm{" + _latex_escape(fid) + "}"


def _latex_escape(s: str) -> str:
    return s.replace("\\", r"\backslash ").replace("_", r"\_").replace("%", r"\%")


def _text_symbol(fid: str) -> str:
    return f"Δm[{fid[6:]}]" if fid.startswith("stock:") else fid


def _side(terms: list[tuple[float, str, str]], latex: bool) -> str:
    """Join (coefficient, text, latex) terms with signs; empty side is 0."""
    if not terms:
        return "0"
    parts: list[str] = []
    for k, (c, txt, ltx) in enumerate(terms):
        name = ltx if latex else txt
        mag = abs(c)
        body = (
            name if mag == 1 else (f"{_fmt(mag)} \\cdot {name}" if latex else f"{_fmt(mag)}·{name}")
        )
        if k == 0:
            parts.append(body if c > 0 else f"-{body}" if latex else f"−{body}")
        else:
            parts.append((" + " if c > 0 else (" - " if latex else " − ")) + body)
    return "".join(parts)


def solve_balances(
    streams: pd.DataFrame,
    units: pd.DataFrame | None = None,
    stock_changes: pd.DataFrame | None = None,
    *,
    method: Literal["auto", "symbolic", "numeric"] = "auto",
    symbolic_max_streams: int = SYMBOLIC_MAX_STREAMS,
    strict: bool = False,
) -> BalanceSolution:
    """Write the balance equations, find what they determine and solve for it.

    One equation per unit and component (seed 004 clauses 5.3.3-5.3.4: flows that cannot
    be measured are derived from the balance): ``Σ inputs = Σ outputs + Δm`` (Δm the stock
    change, a term only where stock_changes has a row), i.e. ``A x = 0`` with A the
    incidence matrix. Split x into unknown flows x_U (status unknown, or a stock change
    without value) and known flows x_K:  ``A_U x_U = −A_K x_K``.

    * an unknown flow is **determinable** iff its unit vector lies in the row space of
      A_U, i.e. its entry is zero in every nullspace vector of A_U; otherwise it belongs
      to a combination of unknown flows (a loop, or a path from the boundary back to the
      boundary) that the balances cannot see; the number of such free combinations (the
      nullity of A_U) is the number of extra measurements needed;
    * a known flow is **redundant** iff its column of ``P A_K`` is non-zero, P spanning
      the left nullspace of A_U (Crowe's projection): the relations ``P A_K x_K = 0`` are
      the checks that over-determined balances give; their rank is the redundancy ν;
    * determinable unknowns get values; if the relations do not hold (the known data
      disagree), the values are least-squares values, ``consistent`` is False and the
      residual of each relation is reported: reconcile first
      (:func:`cpkit.reconciliation.reconcile`).

    Layers with at most ``symbolic_max_streams`` flows use exact arithmetic (one rref of
    ``[A_U | I]``: pivots give determinability, the rows below the rank give P, free
    columns give the nullspace), computed in integers since balance matrices are totally
    unimodular (sympy is imported only for a matrix that needs fractions, so a notebook
    does not pay its import); larger ones use numpy/scipy (pivoted QR of each connected
    block of unknown flows; P from node merging). ``method`` forces one path.

    ``strict=True`` raises :class:`~cpkit.errors.BalanceError` if an unknown flow is not
    determinable (e.g. a loop of unknown flows) or the known data are inconsistent.
    """
    if method not in ("auto", "symbolic", "numeric"):
        raise BalanceError("method must be 'auto', 'symbolic' or 'numeric'")
    net = _prepare(streams, units, stock_changes)
    s = net.streams
    material = _text(s["material"]) if "material" in s.columns else [None] * len(s)
    kind = _text(s["kind"]) if "kind" in s.columns else [None] * len(s)

    fl: dict[str, list[Any]] = {k: [] for k in _FLOW_COLUMNS}
    eqs: dict[str, list[Any]] = {k: [] for k in _EQ_COLUMNS}
    rel: dict[str, list[Any]] = {k: [] for k in _REL_COLUMNS}
    comb: dict[str, list[Any]] = {k: [] for k in _COMB_COLUMNS}
    lay: dict[str, list[Any]] = {k: [] for k in _LAYER_COLUMNS}
    leg: dict[str, list[Any]] = {k: [] for k in _LEGEND_COLUMNS}
    messages: list[str] = []
    solved_stream = np.full(len(s), np.nan)
    solved_stock: dict[int, float] = {}
    consistent_all = True
    determined_all = True
    for ly in net.layers:
        symbolic = method == "symbolic" or (method == "auto" and ly.m <= symbolic_max_streams)
        res = _analyse(ly, symbolic)
        consistent_all &= res["consistent"]
        det = res["determinable"]
        unknown = res["unknown"]
        determined_all &= bool(det[unknown].all())
        solved = res["solved"]
        for e in range(ly.m):
            if unknown[e] and det[e]:
                if ly.stock[e]:
                    solved_stock[int(ly.row[e])] = solved[e]
                else:
                    solved_stream[ly.row[e]] = solved[e]
        names = net.unit_names
        # flows and legend
        for e in range(ly.m):
            fid = ly.ids[e]
            r = ly.row[e]
            st = ly.status[e] if not ly.stock[e] else ("unknown" if unknown[e] else "given")
            fl["component"].append(ly.component)
            fl["flow_id"].append(fid)
            fl["symbol"].append(_text_symbol(fid))
            fl["from_unit"].append(ly.node(ly.src[e]))
            fl["to_unit"].append(BOUNDARY if ly.stock[e] else ly.node(ly.dst[e]))
            fl["kind"].append(_STOCK if ly.stock[e] else kind[r])
            fl["status"].append(st)
            fl["value_kg_d"].append(None if unknown[e] else float(ly.value[e]))
            fl["solved_kg_d"].append(
                float(solved[e])
                if (not unknown[e] or det[e]) and math.isfinite(solved[e])
                else None
            )
            fl["determinable"].append(bool(det[e]) if unknown[e] else None)
            fl["redundant"].append(None if unknown[e] else bool(res["redundant"][e]))
            fl["reason"].append(res["reason"][e])
            leg["component"].append(ly.component)
            leg["symbol"].append(_text_symbol(fid))
            leg["latex"].append(_latex_symbol(fid))
            leg["flow_id"].append(fid)
            leg["material"].append(
                f"stock change of {names.get(ly.units[ly.src[e]], '')}".strip()
                if ly.stock[e]
                else material[r]
            )
            leg["from_unit"].append(ly.node(ly.src[e]))
            leg["to_unit"].append(BOUNDARY if ly.stock[e] else ly.node(ly.dst[e]))
            leg["kind"].append(_STOCK if ly.stock[e] else kind[r])
            leg["status"].append(st)
        _equations(ly, unknown, names, eqs)
        for k, (coef, resid, scale, units_in) in enumerate(res["relations"]):
            terms_pos = [(c, e) for e, c in coef if c > 0]
            terms_neg = [(-c, e) for e, c in coef if c < 0]
            t = [(c, _text_symbol(ly.ids[e]), _latex_symbol(ly.ids[e])) for c, e in terms_pos]
            o = [(c, _text_symbol(ly.ids[e]), _latex_symbol(ly.ids[e])) for c, e in terms_neg]
            tv = [(c, _fmt(ly.value[e]), _fmt(ly.value[e])) for c, e in terms_pos]
            ov = [(c, _fmt(ly.value[e]), _fmt(ly.value[e])) for c, e in terms_neg]
            rel["component"].append(ly.component)
            rel["relation"].append(k + 1)
            rel["units"].append(", ".join(units_in))
            rel["text"].append(f"{_side(t, False)} = {_side(o, False)}")
            rel["latex"].append(f"{_side(t, True)} = {_side(o, True)}")
            rel["text_values"].append(f"{_side(tv, False)} = {_side(ov, False)}")
            rel["residual_kg_d"].append(resid)
            rel["residual_pct"].append(resid / scale * 100 if scale > 0 else None)
            rel["flows"].append(", ".join(ly.ids[e] for e, _ in coef))
        for k, (vec, kind_c, units_in) in enumerate(res["combinations"]):
            t = [(c, _text_symbol(ly.ids[e]), _latex_symbol(ly.ids[e])) for e, c in vec]
            comb["component"].append(ly.component)
            comb["combination"].append(k + 1)
            comb["flows"].append(", ".join(ly.ids[e] for e, _ in vec))
            comb["text"].append(_side(t, False))
            comb["latex"].append(_side(t, True))
            comb["kind"].append(kind_c)
            comb["units"].append(", ".join(units_in))
        n_unknown = int(unknown.sum())
        n_det = int((det & unknown).sum())
        lay["component"].append(ly.component)
        lay["n_units"].append(ly.n)
        lay["n_flows"].append(ly.m)
        lay["n_unknown"].append(n_unknown)
        lay["n_determinable"].append(n_det)
        lay["degrees_of_freedom"].append(res["nullity"])
        lay["redundancy"].append(res["redundancy"])
        lay["consistent"].append(res["consistent"])
        lay["method"].append("symbolic" if symbolic else "numeric")
        if n_unknown > n_det:
            nd = [ly.ids[e] for e in np.flatnonzero(unknown & ~det)]
            messages.append(
                f"component {ly.component}: {len(nd)} unknown flow(s) cannot be determined "
                f"({', '.join(nd)}): {res['nullity']} more measurement(s) needed"
            )
        if not res["consistent"]:
            worst = max(res["relations"], key=lambda r: abs(r[1]) / max(r[2], 1e-300))
            messages.append(
                f"component {ly.component}: the known flows disagree (relation over "
                f"{', '.join(worst[3])} misses by {_fmt(worst[1])} kg/d); the unknowns are "
                "least-squares values: reconcile the data first (cpkit.reconciliation)"
            )
    if strict and messages:
        raise BalanceError("the balances cannot be solved exactly:\n- " + "\n- ".join(messages))

    out_streams = s.copy()
    fill = ~np.isnan(solved_stream)
    if fill.any():
        vals = out_streams["value"].astype("Float64").copy()
        vals[fill] = solved_stream[fill]
        out_streams["value"] = vals
        stat = out_streams["status"].astype("string").copy()
        stat[fill] = "calculated"
        out_streams["status"] = stat
    out_stocks = None
    if net.stocks is not None:
        out_stocks = net.stocks.copy()
        if solved_stock:
            vals = out_stocks["value"].astype("Float64").copy()
            for r, v in solved_stock.items():
                vals.iloc[r] = v
            out_stocks["value"] = vals

    def frame(d: dict[str, list[Any]], types: dict[str, str]) -> pd.DataFrame:
        return pd.DataFrame({k: pd.array(d[k], dtype=t) for k, t in types.items()})

    return BalanceSolution(
        flows=frame(fl, _FLOW_COLUMNS),
        equations=frame(eqs, _EQ_COLUMNS),
        relations=frame(rel, _REL_COLUMNS),
        free_combinations=frame(comb, _COMB_COLUMNS),
        legend=frame(leg, _LEGEND_COLUMNS),
        layers=frame(lay, _LAYER_COLUMNS),
        streams=out_streams,
        stock_changes=out_stocks,
        consistent=consistent_all,
        fully_determined=determined_all,
        messages=tuple(messages),
    )


_FLOW_COLUMNS = {
    "component": "string",
    "flow_id": "string",
    "symbol": "string",
    "from_unit": "string",
    "to_unit": "string",
    "kind": "string",
    "status": "string",
    "value_kg_d": "Float64",
    "solved_kg_d": "Float64",
    "determinable": "boolean",
    "redundant": "boolean",
    "reason": "string",
}
_EQ_COLUMNS = {
    "component": "string",
    "scope": "string",
    "unit_id": "string",
    "unit_name": "string",
    "text": "string",
    "latex": "string",
    "text_values": "string",
    "latex_values": "string",
    "n_unknown": "Int64",
}
_REL_COLUMNS = {
    "component": "string",
    "relation": "Int64",
    "units": "string",
    "flows": "string",
    "text": "string",
    "latex": "string",
    "text_values": "string",
    "residual_kg_d": "Float64",
    "residual_pct": "Float64",
}
_COMB_COLUMNS = {
    "component": "string",
    "combination": "Int64",
    "flows": "string",
    "text": "string",
    "latex": "string",
    "kind": "string",
    "units": "string",
}
_LAYER_COLUMNS = {
    "component": "string",
    "n_units": "Int64",
    "n_flows": "Int64",
    "n_unknown": "Int64",
    "n_determinable": "Int64",
    "degrees_of_freedom": "Int64",
    "redundancy": "Int64",
    "consistent": "boolean",
    "method": "string",
}
_LEGEND_COLUMNS = {
    "component": "string",
    "symbol": "string",
    "latex": "string",
    "flow_id": "string",
    "material": "string",
    "from_unit": "string",
    "to_unit": "string",
    "kind": "string",
    "status": "string",
}


def _equations(ly: _Layer, unknown: np.ndarray, names: dict[str, str], eqs) -> None:
    n = ly.n
    ins: list[list[int]] = [[] for _ in range(n + 1)]
    outs: list[list[int]] = [[] for _ in range(n + 1)]
    for e in range(ly.m):
        if ly.stock[e]:
            outs[ly.src[e]].append(e)
            outs[n].append(e)
        elif ly.src[e] != ly.dst[e]:
            ins[ly.dst[e]].append(e)
            outs[ly.src[e]].append(e)
    # at the boundary, imports are the "inputs" of the audit focus, exports its "outputs"
    ins[n], outs[n] = (
        [e for e in outs[n] if not ly.stock[e]],
        ins[n] + [e for e in outs[n] if ly.stock[e]],
    )
    sym_t = [_text_symbol(i) for i in ly.ids]
    sym_l = [_latex_symbol(i) for i in ly.ids]
    val = [_fmt(v) if not u else "" for v, u in zip(ly.value, unknown, strict=True)]

    def side(es, values: bool, latex: bool) -> str:
        names_ = sym_l if latex else sym_t
        terms = [val[e] if values and not unknown[e] else names_[e] for e in es]
        return _side([(1.0, t, t) for t in terms], latex)

    for k in range(n + 1):
        if k < n:
            scope, uid, name = "unit", ly.units[k], names.get(ly.units[k], ly.units[k])
        else:
            scope, uid, name = "overall", BOUNDARY, "audit focus (sum of the unit balances)"
        ein, eout = ins[k], outs[k]
        eqs["component"].append(ly.component)
        eqs["scope"].append(scope)
        eqs["unit_id"].append(uid)
        eqs["unit_name"].append(name)
        eqs["text"].append(f"{side(ein, False, False)} = {side(eout, False, False)}")
        eqs["latex"].append(f"{side(ein, False, True)} = {side(eout, False, True)}")
        eqs["text_values"].append(f"{side(ein, True, False)} = {side(eout, True, False)}")
        eqs["latex_values"].append(f"{side(ein, True, True)} = {side(eout, True, True)}")
        eqs["n_unknown"].append(int(sum(unknown[e] for e in ein + eout)))


def _analyse(ly: _Layer, symbolic: bool) -> dict[str, Any]:
    """Determinability, redundancy, relations and values of one layer (see solve_balances)."""
    m = ly.m
    unknown = np.isnan(ly.value)
    known = ~unknown
    xk = np.where(known, ly.value, 0.0)
    A = ly.incidence()
    det = np.zeros(m, bool)
    solved = np.where(known, ly.value, np.nan)
    rhs = -(A @ xk)  # A_U x_U = rhs
    ue = np.flatnonzero(unknown)
    ke = np.flatnonzero(known)
    groups: list[tuple[list[int], int]] = []  # (edge indices, nullity)
    combos: list[list[tuple[int, float]]] = []
    if symbolic:
        sym = _symbolic(A[:, ue].toarray(), ly.n)
        P = sym["P"]
        det[ue] = sym["det"]
        nullity = len(ue) - sym["rank"]
        groups = [([int(ue[j]) for j in g], k) for g, k in sym["groups"]]
        combos = [[(int(ue[j]), c) for j, c in vec] for vec in sym["combinations"]]
        blocks = None
    else:
        st = _structure(ly, unknown, A)
        P = st.P
        blocks = st.blocks
        nullity = 0
        for b in blocks:
            det[b.edges] = b.determinable
            nullity += len(b.edges) - b.rank
            groups += [
                ([int(b.edges[j]) for j in g], k) for g, k in _groups(b.basis, b.nonbasis, b.D)
            ]
            for t, j in enumerate(b.nonbasis):
                vec = [(int(b.edges[j]), 1.0)]
                vec += [
                    (int(b.edges[b.basis[i]]), -float(b.D[i, t])) for i in np.flatnonzero(b.D[:, t])
                ]
                combos.append(sorted(vec))
    Pm = sp.csr_matrix(P)
    RK = (Pm @ A[:, ke]).tocsr()
    RK.data[np.abs(RK.data) < 1e-12] = 0.0
    RK.eliminate_zeros()
    redundant = np.zeros(m, bool)
    redundant[ke] = np.diff(RK.tocsc().indptr) > 0
    if symbolic:
        redundancy = int(np.linalg.matrix_rank(RK.toarray())) if RK.nnz else 0
    else:
        redundancy = int(_independent_rows(ly, st, ke)[0].sum())
    relations = []
    consistent = True
    for i in range(RK.shape[0]):
        lo, hi = RK.indptr[i], RK.indptr[i + 1]
        if lo == hi:
            continue
        nz, cf = RK.indices[lo:hi], RK.data[lo:hi]
        order = np.argsort(ke[nz])
        nz, cf = nz[order], cf[order]
        coef = [(int(ke[j]), float(c)) for j, c in zip(nz, cf, strict=True)]
        xs = xk[ke[nz]]
        resid = float(cf @ xs)
        scale = float(np.abs(cf) @ np.abs(xs))
        inflow = float(np.clip(cf, 0, None) @ xs)
        if abs(resid) <= _RTOL * max(scale, 1e-300):
            resid = 0.0
        else:
            consistent = False
        units_in = [ly.units[j] for j in Pm.indices[Pm.indptr[i] : Pm.indptr[i + 1]]]
        relations.append((coef, resid, inflow, units_in))
    # values of determinable unknowns (least squares when the known data disagree)
    if len(ue) and det[ue].any():
        if symbolic and consistent:
            vals = sym["E"] @ rhs
            for r, j in sym["pivot_rows"]:
                if sym["det"][j]:
                    solved[ue[j]] = vals[r]
        elif symbolic:
            x = np.linalg.lstsq(A[:, ue].toarray(), rhs, rcond=None)[0]
            solved[ue[det[ue]]] = x[det[ue]]
        else:
            for b in blocks:
                x = b.G @ rhs[b.nodes]
                solved[b.edges[b.determinable]] = x[b.determinable]
    combinations = [_combination(ly, vec) for vec in combos]
    reason = _reasons(ly, det, unknown, redundant, groups)
    return {
        "unknown": unknown,
        "determinable": det,
        "redundant": redundant,
        "solved": solved,
        "relations": relations,
        "consistent": consistent,
        "nullity": int(nullity),
        "redundancy": redundancy,
        "combinations": combinations,
        "reason": reason,
    }


#: Largest absolute entry the integer Gauss-Jordan elimination of :func:`_rref_exact` lets
#: through: a product of two such entries (and the sum with a third) stays exact in int64.
_RREF_INT_LIMIT = 2**31 - 1


def _rref_exact(M: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]] | None:
    """Reduced row echelon form of an integer matrix in exact int64 arithmetic, or None.

    Gauss-Jordan elimination column by column (leftmost column first), pivoting only on
    entries ±1: the pivot row then needs no division and every update ``row_i − a·row_p``
    stays in the integers, so the arithmetic is exact. The reduced row echelon form of a
    matrix is unique, so ``(R, pivots)`` are the same as ``sympy.Matrix(M).rref()`` gives
    (which pivot row is picked does not matter). For the incidence matrix of a network
    (each column has one +1 and/or one −1) the matrix ``[A_U | I]`` is totally unimodular
    and pivoting keeps it so: every pivot is ±1 and every entry stays in {−1, 0, 1}.

    Returns None, and the caller falls back to sympy, when a column has non-zero entries
    but none of them is ±1 (the form would need fractions) or an entry would leave
    ±``_RREF_INT_LIMIT``. Used instead of sympy because importing sympy costs a notebook
    kernel about 0.2-0.3 s, several times this elimination for the layers of an audit.
    """
    R = np.array(M, dtype=np.int64)
    if R.size and int(np.abs(R).max()) > _RREF_INT_LIMIT:
        return None
    rows, cols = R.shape
    pivots: list[int] = []
    r = 0
    for j in range(cols):
        if r == rows:
            break
        below = R[r:, j]
        nz = np.flatnonzero(below)
        if nz.size == 0:
            continue
        unit = nz[np.abs(below[nz]) == 1]
        if unit.size == 0:
            return None
        p = r + int(unit[0])
        if p != r:
            R[[r, p]] = R[[p, r]]
        if R[r, j] < 0:
            R[r] = -R[r]
        factors = R[:, j].copy()
        factors[r] = 0
        hit = np.flatnonzero(factors)
        if hit.size:
            R[hit] -= np.outer(factors[hit], R[r])
            if int(np.abs(R[hit]).max()) > _RREF_INT_LIMIT:
                return None
        pivots.append(j)
        r += 1
    return R, tuple(pivots)


def _symbolic(AU: np.ndarray, n: int) -> dict[str, Any]:
    """Exact analysis of A_U: rref of [A_U | I_n] = [R | E] (Crowe et al. 1983 projection).

    R's pivot columns are unknowns a combination of balances isolates; such an unknown is
    determinable iff its pivot row has no entry in a free column. E's rows below the rank
    satisfy E_i A_U = 0: they span the left nullspace (the projection P). Each free column
    gives a nullspace vector (a free combination of unknowns).

    The rref is computed in exact integer arithmetic by :func:`_rref_exact` (always so for
    balance networks, whose matrices are totally unimodular); only a matrix that needs
    fractions goes to sympy's exact rational ``Matrix.rref`` (imported then, not before).
    Both give the same unique reduced form, so the results do not depend on the path.
    """
    k = AU.shape[1]
    M = np.hstack([AU.astype(int), np.eye(n, dtype=int)])
    exact = _rref_exact(M)
    if exact is not None:
        R_int, pivots = exact
        R_aug = R_int.astype(float)
    else:
        import sympy

        R_sym, pivots = sympy.Matrix(M.tolist()).rref()
        R_aug = np.array(R_sym.tolist(), dtype=float).reshape(n, k + n)
    piv = [p for p in pivots if p < k]
    rank = len(piv)
    free = [j for j in range(k) if j not in piv]
    D = R_aug[:rank, free].reshape(rank, len(free))
    det = np.zeros(k, bool)
    for r, j in enumerate(piv):
        det[j] = not D[r].any()
    combinations = []
    for t, f in enumerate(free):
        vec = [(f, 1.0)] + [(piv[r], -D[r, t]) for r in range(rank) if D[r, t] != 0]
        combinations.append(sorted(vec))
    E = R_aug[:, k:].reshape(n, n)
    return {
        "P": E[rank:] if rank < n else np.zeros((0, n)),
        "E": E[:rank],
        "det": det,
        "rank": rank,
        "pivot_rows": list(enumerate(piv)),
        "groups": _groups(np.array(piv, dtype=int), np.array(free, dtype=int), D),
        "combinations": combinations,
    }


def _combination(ly: _Layer, idx: list[tuple[int, float]]):
    edges = [e for e, _ in idx]
    if len(edges) == 1 and ly.src[edges[0]] == ly.dst[edges[0]]:
        kind = "self-loop"
    elif any(ly.src[e] == ly.n or ly.dst[e] == ly.n for e in edges):
        kind = "boundary path"
    else:
        kind = "loop"
    nodes = sorted({int(ly.src[e]) for e in edges} | {int(ly.dst[e]) for e in edges})
    return idx, kind, [ly.node(i) for i in nodes if i < ly.n]


def _reasons(ly: _Layer, det, unknown, redundant, groups) -> list[str]:
    out = [""] * ly.m
    for e in range(ly.m):
        if not unknown[e]:
            out[e] = (
                "redundant: the balances can also compute it, so it is checked"
                if redundant[e]
                else "not redundant: no balance can check it"
            )
        elif det[e]:
            out[e] = "determinable from the balances"
    for group, nullity in groups:
        edges = sorted(group)
        ids = [ly.ids[e] for e in edges]
        if len(edges) == 1 and ly.src[edges[0]] == ly.dst[edges[0]]:
            u = ly.units[ly.src[edges[0]]]
            out[edges[0]] = (
                f"not determinable: it leaves {u} and comes back into it, so it cancels out "
                "of every balance; only a measurement gives it"
            )
            continue
        nodes = sorted({int(ly.src[e]) for e in edges} | {int(ly.dst[e]) for e in edges})
        env = ly.n in nodes
        units = [ly.units[i] for i in nodes if i < ly.n]
        per_unit: dict[str, list[str]] = {}
        for e in edges:
            for i in {int(ly.src[e]), int(ly.dst[e])}:
                if i < ly.n:
                    per_unit.setdefault(ly.units[i], []).append(ly.ids[e])
        crowded = [f"{u}: {', '.join(v)}" for u, v in per_unit.items() if len(v) > 1]
        n_free = "a free" if nullity == 1 else f"{nullity} free"
        if env:
            what = f"{n_free} path{'s' if nullity > 1 else ''} of unknown flows from the boundary"
            where = f"through {', '.join(units)} back to the boundary"
        else:
            what = f"{n_free} loop{'s' if nullity > 1 else ''} of unknown flows"
            where = f"through {', '.join(units)}"
        same = f"two or more unknowns on one unit: {'; '.join(crowded)}; " if crowded else ""
        txt = (
            f"not determinable: {', '.join(ids)} form {what} {where}; the balances fix only "
            f"a combination of them ({same}measure {nullity} of them)"
        )
        for e in edges:
            out[e] = txt
    return out
