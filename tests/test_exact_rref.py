"""Exact rref in integers (cpkit.balances._rref_exact) against sympy's rational rref.

The exact analysis of the unknown-flow matrix used to import sympy for one
``Matrix.rref()``; it now runs Gauss-Jordan elimination in int64 with ±1 pivots and falls
back to sympy only when a pivot would need a fraction. The reduced row echelon form is
unique, so both must agree exactly, and ``_symbolic`` must return the same arrays and
lists whichever path computed it.

Hand-worked example (a series line ENV -> U1 -> U2 -> ENV, streams S2 = U1->U2 and
S3 = U2->ENV unknown):

    A_U = [[-1,  0],      [A_U | I] = [[-1,  0, 1, 0],
           [ 1, -1]]                   [ 1, -1, 0, 1]]
    column 0, pivot row 0 (-1): row0 := -row0          = [1,  0, -1, 0]
                                row1 := row1 - 1*row0  = [0, -1,  1, 1]
    column 1, pivot row 1 (-1): row1 := -row1          = [0,  1, -1, -1]
                                row0 has 0 in column 1: unchanged
    R = [[1, 0, -1, 0], [0, 1, -1, -1]], pivots (0, 1): both unknowns determinable,
    S2 = -(b1), S3 = -(b1) - (b2) with b the right-hand sides (E = [[-1, 0], [-1, -1]]).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import cpkit
from cpkit import balances
from cpkit.balances import _rref_exact, _symbolic

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ("sample-dyeing", "sample-painting", "sample-plating")


def sympy_rref(M: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    R, piv = sympy.Matrix(np.asarray(M, dtype=int).tolist()).rref()
    return np.array(R.tolist(), dtype=object).reshape(M.shape), tuple(piv)


def symbolic_by_sympy(AU: np.ndarray, n: int) -> dict:
    """_symbolic with the integer path switched off: the sympy path as before the change."""
    with mock.patch.object(balances, "_rref_exact", lambda M: None):
        return _symbolic(AU, n)


def assert_same_analysis(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in ("P", "E", "det"):
        assert a[key].shape == b[key].shape, key
        assert a[key].dtype == b[key].dtype, key
        assert np.array_equal(a[key], b[key]), key
    for key in ("rank", "pivot_rows", "groups", "combinations"):
        assert a[key] == b[key], key


@st.composite
def incidence(draw):
    """A_U of a random directed multigraph on n units plus the boundary (node n): a stream
    adds +1 at the unit it enters and −1 at the unit it leaves (nothing at the boundary;
    a stream from a unit back to itself gives a zero column); a random subset of the
    streams is unknown."""
    n = draw(st.integers(1, 8))
    m = draw(st.integers(0, 16))
    ends = draw(st.lists(st.tuples(st.integers(0, n), st.integers(0, n)), min_size=m, max_size=m))
    A = np.zeros((n, m), dtype=float)
    for e, (s, d) in enumerate(ends):
        if d < n:
            A[d, e] += 1
        if s < n:
            A[s, e] -= 1
    unknown = draw(st.lists(st.booleans(), min_size=m, max_size=m))
    return A[:, np.array(unknown, dtype=bool)] if m else A, n


@settings(max_examples=300, deadline=None)
@given(incidence())
def test_network_matrices_take_the_integer_path_and_match_sympy(case):
    AU, n = case
    M = np.hstack([AU.astype(int), np.eye(n, dtype=int)])
    exact = _rref_exact(M)
    assert exact is not None  # [A_U | I] is totally unimodular: every pivot is ±1
    R, piv = exact
    R_ref, piv_ref = sympy_rref(M)
    assert piv == piv_ref
    assert np.array_equal(R.astype(object), R_ref)
    assert set(np.unique(R)) <= {-1, 0, 1}  # stays in {-1, 0, 1}
    assert_same_analysis(_symbolic(AU, n), symbolic_by_sympy(AU, n))


@st.composite
def integer_matrices(draw):
    rows = draw(st.integers(1, 6))
    cols = draw(st.integers(0, 8))
    entries = draw(
        st.lists(
            st.sampled_from([-3, -2, -1, -1, 0, 0, 0, 1, 1, 2, 3]),
            min_size=rows * cols,
            max_size=rows * cols,
        )
    )
    return np.array(entries, dtype=float).reshape(rows, cols), rows


@settings(max_examples=300, deadline=None)
@given(integer_matrices())
def test_other_integer_matrices_match_sympy_or_fall_back(case):
    AU, n = case
    M = np.hstack([AU.astype(int), np.eye(n, dtype=int)])
    exact = _rref_exact(M)
    if exact is not None:
        R, piv = exact
        R_ref, piv_ref = sympy_rref(M)
        assert piv == piv_ref
        assert np.array_equal(R.astype(object), R_ref)
    assert_same_analysis(_symbolic(AU, n), symbolic_by_sympy(AU, n))


def test_hand_worked_series_line():
    AU = np.array([[-1.0, 0.0], [1.0, -1.0]])
    M = np.hstack([AU.astype(int), np.eye(2, dtype=int)])
    R, piv = _rref_exact(M)
    assert piv == (0, 1)
    assert R.tolist() == [[1, 0, -1, 0], [0, 1, -1, -1]]
    res = _symbolic(AU, 2)
    assert res["rank"] == 2 and res["det"].tolist() == [True, True]
    assert res["E"].tolist() == [[-1.0, 0.0], [-1.0, -1.0]]
    assert res["P"].shape == (0, 2) and res["combinations"] == [] and res["groups"] == []


def test_loop_of_unknowns_gives_a_free_combination():
    # U1 <-> U2 loop, both streams unknown, nothing else: A_U = [[-1, 1], [1, -1]]
    # [A_U | I] = [[-1, 1 | 1, 0], [1, -1 | 0, 1]]
    # column 0: row0 := -row0 = [1, -1 | -1, 0];  row1 := row1 - row0 = [0, 0 | 1, 1]
    # column 1: nothing at or below row 1;  column 2 (first of I): pivot row 1,
    #           row0 := row0 + row1 = [1, -1 | 0, 1]
    # rank 1, free column 1: combination S1 + S2 (a loop); P = row 1 of E = [[1, 1]]
    # (the sum of the two units' balances)
    AU = np.array([[-1.0, 1.0], [1.0, -1.0]])
    R, piv = _rref_exact(np.hstack([AU.astype(int), np.eye(2, dtype=int)]))
    assert piv == (0, 2)
    assert R.tolist() == [[1, -1, 0, 1], [0, 0, 1, 1]]
    res = _symbolic(AU, 2)
    assert res["rank"] == 1 and res["det"].tolist() == [False, False]
    assert res["combinations"] == [[(0, 1.0), (1, 1.0)]]
    assert res["P"].tolist() == [[1.0, 1.0]]
    assert res["groups"] == [([0, 1], 1)]


def test_a_pivot_of_two_takes_the_sympy_path():
    AU = np.array([[2.0, 1.0], [0.0, 1.0]])
    M = np.hstack([AU.astype(int), np.eye(2, dtype=int)])
    assert _rref_exact(M) is None  # column 0 has only the entry 2
    calls = []
    real = sympy.Matrix.rref

    def spy(self, *args, **kwargs):
        calls.append(self.shape)
        return real(self, *args, **kwargs)

    with mock.patch.object(sympy.Matrix, "rref", spy):
        res = _symbolic(AU, 2)
    assert calls == [(2, 4)]
    # [[2, 1 | 1, 0], [0, 1 | 0, 1]] -> [[1, 0 | 1/2, -1/2], [0, 1 | 0, 1]]
    assert res["E"].tolist() == [[0.5, -0.5], [0.0, 1.0]]
    assert res["det"].tolist() == [True, True]


def test_network_matrix_does_not_call_sympy():
    AU = np.array([[-1.0, 0.0], [1.0, -1.0]])
    with mock.patch.object(sympy.Matrix, "rref", side_effect=AssertionError("sympy used")):
        _symbolic(AU, 2)


def test_entries_beyond_the_safe_range_fall_back():
    big = balances._RREF_INT_LIMIT + 1
    assert _rref_exact(np.array([[1, big]])) is None
    # pivots ±1 but the elimination grows: row1 - row0 = [0, -2**31] leaves the range
    grow = 2**30
    assert _rref_exact(np.array([[1, grow], [1, -grow]])) is None
    res = _symbolic(np.array([[1.0, grow], [1.0, -grow]]), 2)
    assert_same_analysis(res, symbolic_by_sympy(np.array([[1.0, grow], [1.0, -grow]]), 2))


def test_input_is_not_modified_and_empty_shapes():
    M = np.array([[0, -1, 1], [1, 1, 0]])
    before = M.copy()
    _rref_exact(M)
    assert np.array_equal(M, before)
    R, piv = _rref_exact(np.zeros((3, 0), dtype=int))
    assert R.shape == (3, 0) and piv == ()
    R, piv = _rref_exact(np.zeros((2, 3), dtype=int))
    assert piv == () and not R.any()


def solution_frames(sol) -> dict:
    return {
        "flows": sol.flows,
        "equations": sol.equations,
        "relations": sol.relations,
        "free_combinations": sol.free_combinations,
        "legend": sol.legend,
        "layers": sol.layers,
        "streams": sol.streams,
        "stock_changes": sol.stock_changes,
        "consistent": sol.consistent,
        "fully_determined": sol.fully_determined,
        "messages": sol.messages,
    }


@pytest.mark.parametrize("sample", SAMPLES)
def test_samples_solve_identically_on_both_paths(sample):
    ds = cpkit.load(ROOT / "data" / "samples" / sample)
    T = ds.tables
    stocks = T["stock_changes"] if len(T["stock_changes"]) else None
    new = solution_frames(balances.solve_balances(T["streams"], T["units"], stocks))
    with mock.patch.object(balances, "_rref_exact", lambda M: None):
        old = solution_frames(balances.solve_balances(T["streams"], T["units"], stocks))
    for key, value in new.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, old[key], check_exact=True, obj=key)
        else:
            assert value == old[key], key


def test_solving_a_sample_does_not_import_sympy():
    code = (
        "import sys, cpkit\n"
        "from cpkit import balances\n"
        f"ds = cpkit.load({str(ROOT / 'data' / 'samples' / 'sample-plating')!r})\n"
        "T = ds.tables\n"
        "st = T['stock_changes'] if len(T['stock_changes']) else None\n"
        "sol = balances.solve_balances(T['streams'], T['units'], st)\n"
        "assert set(sol.layers['method']) == {'symbolic'}\n"
        "print('sympy' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "False"
