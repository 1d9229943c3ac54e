"""Warm witnesses (sdc/witness.py) and the reuse of a table's suppression pattern (sdc/suppress.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

import djs_toolkit.sdc.suppress as suppress
from djs_toolkit.sdc.evidence import Grid, extend
from djs_toolkit.sdc.suppress import drop_redundant, information_loss, secondary_suppression, table_equations
from djs_toolkit.sdc.witness import Witnesses
from tests.sdc.test_suppress import independent_attack


def _grid(rows: int, cols: int) -> Grid:
    return Grid(("r", "c"), (pd.Index([f"r{i}" for i in range(rows)]), pd.Index([f"c{j}" for j in range(cols)])), 1)


def test_a_released_cell_is_fixed_in_every_later_witness():
    # a + b + c = 63 (published total); a = 3 is withheld, b and c are candidates.
    A = sparse.csr_matrix([[-1.0, -1.0, -1.0, 1.0]])
    x = np.array([3.0, 40.0, 20.0, 63.0])
    w = Witnesses(A, x, np.zeros(4), np.array([True, True, True, False]), x)
    assert w.moved(0, 10.0).tolist() == [True, False, True, False]  # c hides less than b: the cheaper partner
    found = w.trial(2, {0: 10.0})
    assert found is not None and found[0].tolist() == [True, True, False, False]
    w.release(2)
    # With c published, b is a's only partner: releasing b too leaves a pinned (3 = 63 - 40 - 20).
    assert w.trial(1, {0: 10.0}) is None
    assert w.moved(0, 10.0).tolist() == [True, True, False, False]  # the failed trial was undone


def test_a_partner_below_the_width_is_no_witness():
    A = sparse.csr_matrix([[-1.0, -1.0, 1.0]])
    x = np.array([3.0, 4.0, 7.0])  # a + b = 7 with both >= 0: a is in [0, 7], an interval 7 wide, not 10
    w = Witnesses(A, x, np.zeros(3), np.array([True, True, False]), x)
    assert w.moved(0, 10.0) is None
    assert w.moved(0, 3.0).tolist() == [True, True, False]


def test_drop_redundant_keeps_every_target_protected_on_random_tables():
    rng = np.random.default_rng(7)
    for _ in range(8):
        grid = _grid(5, 6)
        interior = rng.integers(0, 40, size=(5, 6))
        x = extend({"n": interior.ravel()}, grid)["n"].astype(float)
        primary = (x > 0) & (x < 10)
        primary[-1] = False
        if not primary.any():
            continue
        everything = np.ones(len(x), dtype=bool)
        everything[-1] = False  # the grand total stays published
        A = table_equations(grid)
        targets = np.flatnonzero(primary)
        got = drop_redundant(A, x, np.zeros(len(x)), everything, primary, targets, np.full(len(x), 10.0),
                             information_loss(x))  # fmt: skip
        assert got[primary].all() and got.sum() < everything.sum()
        attacked = independent_attack(grid.ext_shape, x, got)
        assert all(attacked[t][1] - attacked[t][0] >= 10.0 - 1e-6 for t in targets)


def test_the_same_table_checked_again_reuses_its_pattern(monkeypatch):
    grid = _grid(3, 3)
    x = extend({"n": np.array([3, 40, 50, 60, 25, 31, 17, 44, 52])}, grid)["n"].astype(float)
    primary = np.isin(np.arange(grid.n_ext), [0])
    first = secondary_suppression(grid, x, primary, np.full(grid.n_ext, 10.0))
    calls = []
    real = suppress._secondary_suppression
    monkeypatch.setattr(suppress, "_secondary_suppression", lambda *a: calls.append(a) or real(*a))
    first.suppressed[:] = False  # a caller changing its copy changes nothing held for the next
    again = secondary_suppression(grid, x, primary, np.full(grid.n_ext, 10.0))
    assert calls == [] and int(again.suppressed.sum()) == 4 and again.ok
    other = x.copy()
    other[[1, 3]] += 1  # another table of the same shape: solved afresh
    secondary_suppression(grid, other, primary, np.full(grid.n_ext, 10.0))
    assert len(calls) == 1
