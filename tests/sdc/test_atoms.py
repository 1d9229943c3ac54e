"""The differencing pair check's batched local LPs agree with one LP per target (the definition)."""

import numpy as np
import pytest

from djs_toolkit.sdc.atoms import Budget, _local_bounds, _near, _system, _unknown_lines, pair_check
from djs_toolkit.sdc.audit import PublishedSystem, audit_bounds
from djs_toolkit.sdc.knowledge import support
from djs_toolkit.sdc.released import from_sets


def _table(counts: np.ndarray, hidden: np.ndarray, name: str):
    """One value per label (withheld where `hidden`) plus the exact total."""
    n = len(counts)
    sets = [[k] for k in range(n)] + [list(range(n))]
    lo = np.where(hidden, 0.0, counts).tolist() + [float(counts.sum())]
    hi = np.where(hidden, np.inf, counts).tolist() + [float(counts.sum())]
    return from_sets((name,), ([f"{name}{k}" for k in range(n)],), sets, lo, hi)


def _one_lp_per_target(system, n_atoms, values, free, t, room):
    lower, upper = system.lower.copy(), system.upper.copy()
    lower[:n_atoms] = np.where(free, 0.0, values)
    upper[:n_atoms] = np.where(free, values + room, values)
    ((lo, hi),) = audit_bounds(PublishedSystem(system.A, system.b, lower, upper), [t])
    return lo, hi


@pytest.mark.parametrize("seed", range(6))
def test_batched_local_bounds_equal_one_lp_per_target(seed):
    rng = np.random.default_rng(seed)
    r, c = rng.integers(3, 7), rng.integers(3, 7)
    J = rng.integers(0, 12, size=(r + 1, c + 1))
    J[0, 0] = 0
    rel_e = _table(J[1:, :].sum(axis=1), rng.random(r) < 0.3, "e")
    rel_n = _table(J[:, 1:].sum(axis=0), rng.random(c) < 0.3, "n")
    S, _ = support(J, rel_e, rel_n)
    system, atoms, _ = _system(S, rel_e, rel_n)
    values = J[atoms[:, 0], atoms[:, 1]].astype(float)
    open_rows, open_cols = _unknown_lines(rel_e, rel_n)
    small = [k for k, (i, j) in enumerate(atoms) if 0 < J[i, j] < 10]
    free_sets, frees = [], []
    for k in small:
        i, j = atoms[k]
        rows = _near(J[:, j], S[:, j], int(i), open_rows, k=2)  # small neighbourhoods: most atoms stay fixed
        cols = _near(J[int(i), :], S[int(i), :], int(j), open_cols, k=2)
        free = np.isin(atoms[:, 0], rows) & np.isin(atoms[:, 1], cols)
        frees.append(free)
        free_sets.append(np.flatnonzero(free))
    width = 10.0
    got = _local_bounds(system, len(atoms), values, free_sets, np.array(small), width, Budget(100))
    room = 2 * width + 1
    want = np.array([_one_lp_per_target(system, len(atoms), values, f, t, room) for f, t in zip(frees, small)])
    assert len(small) > 0
    np.testing.assert_allclose(got, want, atol=1e-6)
    # every interval holds the true count (the truth is feasible)
    assert np.all(got[:, 0] <= values[small] + 1e-6) and np.all(values[small] <= got[:, 1] + 1e-6)


def test_a_spent_budget_leaves_local_bounds_undecided_and_the_pair_unresolved():
    full = from_sets(("g",), (("a", "b"),), [[0], [1]], [30, 40], [30, 40])
    part = from_sets(("g",), (("a", "b"),), [[0], [1]], [27, 40], [27, 40])
    J = np.array([[0, 0, 0], [3, 27, 0], [0, 0, 40]])
    S, _ = support(J, full, part)
    assert pair_check(J, S, full, part, 10, 10.0, Budget(100)).atoms == [(1, 0)]
    starved = pair_check(J, S, full, part, 10, 10.0, Budget(0))
    # the exact test still finds the pinned atom without an LP; nothing is declared safe for lack of budget
    assert starved.atoms == [(1, 0)] and starved.unresolved == 0


def test_an_atom_pinned_only_by_the_full_lp_is_unresolved_when_the_budget_runs_out():
    full = from_sets(("g",), (("a", "b"),), [[0], [1]], [30, 40], [30, 40])
    rounded = from_sets(("g",), (("a", "b"),), [[0], [1]], [25, 40], [29, 40])  # 27 published as 25..29
    J = np.array([[0, 0, 0], [3, 27, 0], [0, 0, 40]])
    S, _ = support(J, full, rounded)
    found = pair_check(J, S, full, rounded, 10, 10.0, Budget(100))
    assert found.atoms == [(1, 0)] and found.method == ["LP"] and (found.lower, found.upper) == ([1.0], [5.0])
    starved = pair_check(J, S, full, rounded, 10, 10.0, Budget(1))  # the local LP takes the only one
    assert starved.atoms == [] and starved.unresolved == 1
