"""Witnesses that a withheld cell keeps its protection width, kept warm while complements are released.

A witness for a target cell t is a pair of attacker-feasible tables (each a perturbation of the withheld cells that
keeps every published equation and every lower bound) whose values of t differ by its required width: one exists
exactly when the attacker's interval for t is at least that wide. `drop_redundant` (sdc/suppress.py) releases a
complement only when every target whose witness moved it still has a witness without it. Built from scratch, that
is one LP per (complement, target) pair: 3,500 LPs and 56 s for the five tables of one multi-state notebook run.
Releasing a complement only fixes its moves at 0, so each target keeps one HiGHS model and re-solves from its last
optimal basis (dual simplex after a bound change): the same decisions for a fraction of the time.
"""

from __future__ import annotations

import highspy
import numpy as np
from scipy import sparse

from djs_toolkit.sdc.lp import model

__all__ = ["Witnesses"]

_MOVED = 1e-7  # a perturbation this small is the solver's rounding, not a move


class Witnesses:
    """One warm LP per target over the cells withheld at the start; released cells have their moves fixed at 0.

    Args:
        A: the published equations (``A @ x == 0``) over the table's cells.
        x: true values; lb: known lower bounds.
        sup: cells withheld at the start (the only cells that may ever move).
        cost: cost per cell of moving it (keeps each witness's support small).

    Example:
        >>> A = sparse.csr_matrix([[-1.0, -1.0, -1.0, 1.0]])  # a + b + c = total
        >>> x = np.array([3.0, 40.0, 20.0, 63.0])
        >>> w = Witnesses(A, x, np.zeros(4), np.array([True, True, True, False]), x)
        >>> w.moved(0, 10.0).tolist()  # a moves against c, the cheaper of the two
        [True, False, True, False]
        >>> found = w.trial(2, {0: 10.0})  # without c, b covers a
        >>> found[0].tolist()
        [True, True, False, False]
        >>> w.release(2)
    """

    def __init__(self, A: sparse.spmatrix, x: np.ndarray, lb: np.ndarray, sup: np.ndarray, cost: np.ndarray):
        self._free = np.flatnonzero(np.asarray(sup, dtype=bool))
        self._n = len(x)
        k = len(self._free)
        sub = sparse.csc_matrix(A)[:, self._free].tocoo()  # built from arrays: sparse stacking cost twice the solve
        used = np.unique(sub.row)  # equations without a withheld cell hold whatever moves
        r, c, v = np.searchsorted(used, sub.row), sub.col, sub.data
        m = len(used)
        # Columns: the positive and negative parts of two perturbations (4 blocks of k). Rows: both keep every
        # equation (2 blocks of m); the last row, filled per target, makes their difference in the target its width.
        self._rows = np.r_[r, r, r + m, r + m]
        self._cols = np.r_[c, c + k, c + 2 * k, c + 3 * k]
        self._vals = np.r_[v, -v, v, -v]
        self._m, self._k = m, k
        down = (np.asarray(x, np.float64) - np.asarray(lb, np.float64))[self._free]
        self._upper = np.r_[np.full(k, np.inf), down, np.full(k, np.inf), down]
        self._cost = np.tile(np.asarray(cost, np.float64)[self._free], 4)
        self._pos = {int(f): i for i, f in enumerate(self._free)}
        self._models: dict[int, highspy.Highs] = {}
        self._fixed: dict[int, set[int]] = {}  # per target model: the cells fixed at 0 in it
        self._released: set[int] = set()
        self._width: dict[int, float] = {}

    def _columns(self, cell: int) -> np.ndarray:
        p = self._pos[cell]
        return np.array([p, self._k + p, 2 * self._k + p, 3 * self._k + p], dtype=np.int32)

    def _fix(self, t: int, cell: int, fixed: bool) -> None:
        cols = self._columns(cell)
        upper = np.zeros(4) if fixed else self._upper[cols]
        self._models[t].changeColsBounds(len(cols), cols, np.zeros(4), upper)
        (self._fixed[t].add if fixed else self._fixed[t].discard)(cell)

    def _solve(self, t: int, w: float) -> np.ndarray | None:
        if t not in self._models:
            k, m = self._k, self._m
            link = self._columns(t)
            rows, cols = np.r_[self._rows, np.full(4, 2 * m)], np.r_[self._cols, link]
            eq = sparse.csc_matrix((np.r_[self._vals, 1.0, -1.0, -1.0, 1.0], (rows, cols)), shape=(2 * m + 1, 4 * k))
            rhs = np.column_stack([np.r_[np.zeros(2 * m), w]] * 2)
            bounds = np.column_stack([np.zeros(4 * k), self._upper])
            h = model(eq, rhs, bounds, self._cost)
            # Dual simplex without presolve: presolve would be redone at every re-solve and throw the basis away, and
            # HiGHS's choice of solver (interior point for some of these) cannot restart. 18 times faster on the
            # multi-state notebook's cumulative-transition table (393 targets, 605 withheld cells).
            h.setOptionValue("presolve", "off")
            h.setOptionValue("solver", "simplex")
            self._models[t] = h
            self._fixed[t] = set()
            self._width[t] = w
        if self._width.get(t) != w:  # the link row's right-hand side is the width asked for
            self._models[t].changeRowBounds(2 * self._m, w, w)
            self._width[t] = w
        for cell in sorted(self._released - self._fixed[t]):  # released since this model last ran
            self._fix(t, cell, True)
        h = self._models[t]
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        y = np.asarray(h.getSolution().col_value, np.float64).reshape(4, self._k)
        moved = np.zeros(self._n, dtype=bool)
        moved[self._free[(np.abs(y[0] - y[1]) > _MOVED) | (np.abs(y[2] - y[3]) > _MOVED)]] = True
        return moved

    def moved(self, t: int, w: float) -> np.ndarray | None:
        """Cells a witness for target ``t`` and width ``w`` moves (released cells fixed), or None when ``t`` has no
        witness: its attacker interval is narrower than ``w``."""
        return self._solve(int(t), float(w))

    def trial(self, cell: int, targets: dict[int, float]) -> dict[int, np.ndarray] | None:
        """The targets' witnesses with ``cell`` fixed at 0 as well, or None as soon as one has none (the trial is then
        undone). Every target must have had its witness (`moved`) first. Call `release` to keep the trial."""
        found: dict[int, np.ndarray] = {}
        for t, w in targets.items():
            self._fix(int(t), int(cell), True)
            again = self._solve(int(t), float(w))
            if again is None:
                for u in [*found, int(t)]:
                    self._fix(u, int(cell), False)
                return None
            found[int(t)] = again
        return found

    def release(self, cell: int) -> None:
        """Keep ``cell`` published: every target's model fixes its moves at 0 before it next runs."""
        self._released.add(int(cell))
