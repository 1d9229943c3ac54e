"""LP attacker audit: how precisely can an intruder pin each suppressed or redacted cell?

For every target cell the attacker solves two linear programmes (min and max of the cell) subject to every
published value (exact, or an interval when rounded), the additivity of the table with its margins and the cells'
known lower bounds (non-negativity for counts). This is sdcTable's `attack()` (docs/disclosure.md §4, §7.3):
secondary suppression or rounding is only demonstrably safe when followed by it (§0 fact 9).

The function is deliberately generic (a `PublishedSystem` of equalities and bounds) so the differencing ledger of
part 2 can call it on atoms across outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from djs_toolkit.sdc.lp import min_max

__all__ = ["PublishedSystem", "audit", "audit_bounds"]

_TOL = 1e-7
# About 4,000 variables per LP was fastest on a 3-way transitions table (224 targets: 75 s as one LP, 18 s).
_BLOCK_VARIABLES = 4000


@dataclass(frozen=True)
class PublishedSystem:
    """What an attacker knows: `A @ x == b`, `lower <= x <= upper` (equal bounds = a published exact value).

    Example:
        >>> s = PublishedSystem(sparse.csr_matrix([[1.0, 1.0, -1.0]]), np.zeros(1),
        ...                     np.array([0.0, 7.0, 10.0]), np.array([np.inf, 7.0, 10.0]))
        >>> audit(s, [0])[["lower", "upper"]].to_numpy().tolist()
        [[3.0, 3.0]]
    """

    A: sparse.csr_matrix
    b: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def _solve_block(A: sparse.csr_matrix, b: np.ndarray, bounds: np.ndarray, cols: list[int], cap: float) -> np.ndarray:
    """Min and max of each column in `cols`, solved as one block-diagonal LP pair (one copy of the system each).

    The copies are independent, so the optimum of their summed objective is every copy at its own optimum; this
    replaces 2*len(cols) solver calls by one model solved twice (`lp.min_max`). Bounds are capped at `cap` so the
    sum stays bounded; an optimum at the cap means "unbounded" and is reported as +-inf.
    """
    k, n = len(cols), A.shape[1]
    c = np.zeros(k * n)
    for i, col in enumerate(cols):
        c[i * n + col] = 1.0
    lo = np.clip(bounds[:, 0], -cap, cap)
    hi = np.clip(bounds[:, 1], -cap, cap)
    big = (
        sparse.kron(sparse.identity(k, format="csr"), A, format="csc") if A.shape[0] else sparse.csc_matrix((0, k * n))
    )
    rhs = np.tile(b, k)
    found = min_max(big, np.column_stack([rhs, rhs]), np.column_stack([np.tile(lo, k), np.tile(hi, k)]), c)
    out = np.full((len(cols), 2), np.nan)
    if found is None:
        # Infeasible or numerical trouble: NaN widths make callers fail closed.
        return out
    for i, col in enumerate(cols):
        out[i, 0] = found[0][i * n + col]
        out[i, 1] = found[1][i * n + col]
    out[out <= -cap * (1 - 1e-9)] = -np.inf
    out[out >= cap * (1 - 1e-9)] = np.inf
    return out


def audit(system: PublishedSystem, targets: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """Attacker min/max for each target cell.

    Args:
        system: published equalities and bounds over all cells.
        targets: cell positions to audit (usually the suppressed or redacted cells).

    Returns:
        DataFrame indexed by target with `lower`, `upper` and `width` (`upper - lower`; inf when unbounded,
        NaN when the LP could not be solved, which callers must treat as a failure).

    Example:
        >>> s = PublishedSystem(sparse.csr_matrix((0, 2)), np.zeros(0), np.zeros(2), np.array([np.inf, 5.0]))
        >>> audit(s, [0])["width"].tolist()
        [inf]
    """
    targets = [int(t) for t in targets]
    res = audit_bounds(system, targets)
    out = pd.DataFrame(
        {"lower": res[:, 0], "upper": res[:, 1], "width": res[:, 1] - res[:, 0]},
        index=pd.Index(targets, name="cell"),
        dtype=float,
    )
    return out


def audit_bounds(system: PublishedSystem, targets: Sequence[int] | np.ndarray) -> np.ndarray:
    """`audit` as a (len(targets), 2) array of attacker min and max: no DataFrame, for callers in loops.

    Example:
        >>> s = PublishedSystem(sparse.csr_matrix([[1.0, 1.0, -1.0]]), np.zeros(1),
        ...                     np.array([0.0, 7.0, 10.0]), np.array([np.inf, 7.0, 10.0]))
        >>> audit_bounds(s, [0]).tolist()
        [[3.0, 3.0]]
    """
    targets = [int(t) for t in targets]
    out = np.full((len(targets), 2), np.nan)
    if not targets:
        return out
    row_of = {t: i for i, t in enumerate(targets)}
    A = sparse.csr_matrix(system.A, dtype=np.float64)
    lower, upper = np.asarray(system.lower, float), np.asarray(system.upper, float)
    known = np.isfinite(lower) & (np.abs(upper - lower) <= _TOL)
    unknown = np.flatnonzero(~known)
    pos = np.full(len(lower), -1)
    pos[unknown] = np.arange(len(unknown))
    # Substitute exactly published values: the LPs then only carry the unknown cells.
    b = np.asarray(system.b, float) - A[:, known] @ lower[known]
    Au = A[:, unknown].tocsr()
    rows = np.flatnonzero(np.diff(Au.indptr) > 0)
    Au, b = Au[rows], b[rows]
    n_u = len(unknown)
    # Unknown cells linked through a shared equation form one component; each is solved on its own.
    adj = (Au.T @ Au) if Au.shape[0] else sparse.csr_matrix((n_u, n_u))
    _, comp = connected_components(adj, directed=False)
    bounds_all = np.column_stack([lower[unknown], upper[unknown]])
    bounds_all[~np.isfinite(bounds_all[:, 0]), 0] = -np.inf
    for t in targets:
        if known[t]:
            out[row_of[t]] = [lower[t], lower[t]]
    pending = [t for t in targets if not known[t]]
    by_comp: dict[int, list[int]] = {}
    for t in pending:
        by_comp.setdefault(int(comp[pos[t]]), []).append(t)
    row_comp = comp[Au.indices[Au.indptr[:-1]]] if Au.shape[0] else np.zeros(0, int)
    finite = np.concatenate([np.abs(lower[np.isfinite(lower)]), np.abs(upper[np.isfinite(upper)]), np.abs(b)])
    cap = 1e3 * (float(finite.sum()) + 1.0)
    for cid, ts in by_comp.items():
        members = np.flatnonzero(comp == cid)
        sub_rows = np.flatnonzero(row_comp == cid)
        local = {int(m): i for i, m in enumerate(members)}
        A_c, b_c, bounds_c = Au[sub_rows][:, members], b[sub_rows], bounds_all[members]
        # Simplex time grows faster than linearly with LP size: block a few targets per LP, not all of them.
        size = max(1, _BLOCK_VARIABLES // max(1, 2 * len(members)))
        for i in range(0, len(ts), size):
            chunk = ts[i : i + size]
            res = _solve_block(A_c, b_c, bounds_c, [local[int(pos[t])] for t in chunk], cap)
            for t, (lo, hi) in zip(chunk, res, strict=True):
                out[row_of[t]] = [lo, hi]
    for i, t in enumerate(targets):  # a target listed twice gets the same answer twice
        out[i] = out[row_of[t]]
    return out
