"""The LP solver behind the attacker audits: HiGHS through its own Python interface (`highspy`).

Every attacker LP asks for the min and the max of the same objective over the same constraints. Through
`scipy.optimize.linprog` that is two models built from scratch; here the model is built once and the max is
solved from the min's optimal basis (warm start). Replaying a small pipeline's differencing ledger, this halved
the time of the batched local LPs (scipy's own wrapper cost as much as the solves).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import highspy
import numpy as np
from scipy import sparse

__all__ = ["min_max", "minimise", "model", "quiet_stdout"]

_STARTED = False


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence the process's stdout (file descriptor 1) inside the block.

    HiGHS prints its banner from C++ when the first solver object is made, before any option can be set, and its
    MIP solver prints a debug line from some heuristics whatever its options say: both would land in executed
    notebooks.

    Example:
        >>> with quiet_stdout():
        ...     pass
    """
    try:
        sys.stdout.flush()
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        saved = os.dup(fd)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _solver() -> highspy.Highs:
    global _STARTED
    if not _STARTED:
        with quiet_stdout():
            h = highspy.Highs()
        _STARTED = True
    else:
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def model(A: sparse.spmatrix, row_bounds: np.ndarray, col_bounds: np.ndarray, cost: np.ndarray) -> highspy.Highs:
    """A HiGHS solver holding the LP `min cost @ x`, `row_lo <= A @ x <= row_hi`, `col_lo <= x <= col_hi`, to run,
    change (bounds, costs) and run again from the last optimal basis.

    Example:
        >>> h = model(sparse.csr_matrix([[1.0, 1.0]]), np.array([[7.0, 7.0]]), np.array([[0.0, 5.0], [0.0, 5.0]]),
        ...           np.array([1.0, 2.0]))
        >>> h.run() == highspy.HighsStatus.kOk, list(h.getSolution().col_value)
        (True, [5.0, 2.0])
    """
    A = sparse.csc_matrix(A, dtype=np.float64)
    m, n = A.shape
    h = _solver()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = np.asarray(cost, np.float64)
    lp.col_lower_ = np.asarray(col_bounds[:, 0], np.float64)
    lp.col_upper_ = np.asarray(col_bounds[:, 1], np.float64)
    lp.row_lower_ = np.asarray(row_bounds[:, 0], np.float64)
    lp.row_upper_ = np.asarray(row_bounds[:, 1], np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    h.passModel(lp)
    return h


def minimise(A: sparse.spmatrix, row_bounds: np.ndarray, col_bounds: np.ndarray, cost: np.ndarray) -> np.ndarray | None:
    """Minimise `cost @ x` subject to `row_lo <= A @ x <= row_hi`, `col_lo <= x <= col_hi`: the optimal x, or None
    when the LP has no optimum (infeasible or unbounded). Small LPs solved in a loop (the complements' witnesses,
    `sdc.suppress`) cost a tenth of `scipy.optimize.linprog`'s time this way.

    Example:
        >>> A = sparse.csr_matrix([[1.0, 1.0]])
        >>> minimise(A, np.array([[7.0, 7.0]]), np.array([[0.0, 5.0], [0.0, 5.0]]), np.array([1.0, 2.0])).tolist()
        [5.0, 2.0]
    """
    h = model(A, row_bounds, col_bounds, cost)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(h.getSolution().col_value, np.float64)


def min_max(
    A: sparse.spmatrix, row_bounds: np.ndarray, col_bounds: np.ndarray, cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Minimise, then maximise, `cost @ x` subject to `row_lo <= A @ x <= row_hi`, `col_lo <= x <= col_hi`.

    Args:
        A: constraint matrix (m x n).
        row_bounds: (m, 2) lower and upper bound of each row (equal for an equation; +-inf allowed).
        col_bounds: (n, 2) bounds of each variable.
        cost: objective (n,).

    Returns:
        `(x_at_min, x_at_max)`, or None when either LP is not solved to optimality (infeasible, unbounded or
        numerical trouble: callers fail closed).

    Example:
        >>> A = sparse.csr_matrix([[1.0, 1.0]])
        >>> lo, hi = min_max(A, np.array([[7.0, 7.0]]), np.array([[0.0, 5.0], [0.0, 5.0]]), np.array([1.0, 0.0]))
        >>> float(lo[0]), float(hi[0])
        (2.0, 5.0)
    """
    c = np.asarray(cost, np.float64)
    n = len(c)
    h = model(A, row_bounds, col_bounds, c)
    found = []
    for sign in (1.0, -1.0):
        if sign < 0:
            h.changeColsCost(n, np.arange(n, dtype=np.int32), -c)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        found.append(np.asarray(h.getSolution().col_value, np.float64))
    return found[0], found[1]
