"""Primary plus secondary (complementary) cell suppression for tables with margins.

Margins are the table's true totals and are treated as public whether or not this output displays them: any later
output (a one-way table, a paper's N) can publish them, which is exactly how ACRO's suppressed cells are recovered
(docs/disclosure.md §2.4, §2.9 defect 1). Complementary cells are chosen by one mixed-integer programme per
batch of sensitive cells (scipy `milp` = HiGHS, §7.3): for each sensitive cell p there must be a perturbation
`y` of the suppressed cells that keeps every equation of the table true, keeps every cell above its lower bound
and moves p up by its protection width; binaries `z` say which cells are suppressed; cost = fewest, then smallest
cells, with margins a last resort. The LP attacker audit then checks every suppressed cell; cells it finds too
narrow become targets of another round, and a table that cannot be protected fails closed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from djs_toolkit.sdc.audit import PublishedSystem, audit
from djs_toolkit.sdc.evidence import Grid

__all__ = ["SuppressionResult", "secondary_suppression", "table_equations"]

_MAX_VARS = 40_000  # y-variables per MILP; larger target sets are processed in batches
_MARGIN_COST = 1_000.0


def table_equations(grid: Grid) -> sparse.csr_matrix:
    """Additivity of a table with all its margins: one row `total - sum(children) = 0` per margin cell.

    Example:
        >>> g = Grid(("a",), (pd.Index(["x", "y"]),), 1)
        >>> table_equations(g).toarray().tolist()
        [[-1.0, -1.0, 1.0]]
    """
    shape, ext = np.array(grid.shape), grid.ext_shape
    coords = grid.coords()
    total = coords == shape[:, None]
    strides = np.array([int(np.prod(ext[i + 1 :], dtype=np.int64)) for i in range(len(ext))])
    margin = np.flatnonzero(total.any(axis=0))
    first = np.argmax(total[:, margin], axis=0)
    rows, cols, vals = [np.arange(len(margin))], [margin], [np.ones(len(margin))]
    for t in range(len(ext)):
        sel = np.flatnonzero(first == t)
        for j in range(shape[t]):
            rows.append(sel)
            cols.append(margin[sel] - (shape[t] - j) * strides[t])
            vals.append(-np.ones(len(sel)))
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(margin), grid.n_ext)
    )


@dataclass
class SuppressionResult:
    """Outcome of primary + secondary suppression.

    Attributes:
        suppressed: boolean mask over extended cells (primary or secondary).
        primary: boolean mask of the primary (rule-failing) cells.
        audit: attacker intervals of every suppressed cell with the required width and `ok`.
        ok: every suppressed cell keeps at least its required width.
        rounds: MILP rounds used.

    Example:
        >>> r = SuppressionResult(np.array([True]), np.array([True]), pd.DataFrame(), True, 0)
        >>> r.ok
        True
    """

    suppressed: np.ndarray
    primary: np.ndarray
    audit: pd.DataFrame
    ok: bool
    rounds: int


def _milp_round(
    x: np.ndarray,
    lb: np.ndarray,
    A: sparse.csr_matrix,
    sup: np.ndarray,
    allow: np.ndarray,
    cost: np.ndarray,
    targets: np.ndarray,
    width: np.ndarray,
    time_limit: float,
) -> np.ndarray | None:
    n, m, k = len(x), A.shape[0], len(targets)
    up = 2.0 * float(width[targets].max())  # moves of +-w suffice for hypercube-style patterns
    down = np.minimum(np.where(np.isfinite(lb), x - lb, up), up)
    # Variables: y^1..y^k (k*n continuous), then z (n binary).
    eye_k = sparse.identity(k, format="csr")
    eq = sparse.hstack([sparse.kron(eye_k, A), sparse.csr_matrix((k * m, n))])
    ident = sparse.identity(k * n, format="csr")
    zcol = sparse.vstack([sparse.identity(n, format="csr")] * k)
    ub_rows = sparse.hstack([ident, -up * zcol])
    lb_rows = sparse.hstack([-ident, -sparse.diags(np.tile(down, k)) @ zcol])
    cons = [
        LinearConstraint(eq.tocsr(), 0.0, 0.0),
        LinearConstraint(sparse.vstack([ub_rows, lb_rows]).tocsr(), -np.inf, 0.0),
    ]
    lo = np.concatenate([np.full(k * n, -np.inf), np.where(sup, 1.0, 0.0)])
    hi = np.concatenate([np.full(k * n, np.inf), np.where(sup | allow, 1.0, 0.0)])
    for i, p in enumerate(targets):
        lo[i * n + p] = hi[i * n + p] = width[p]
    c = np.concatenate([np.zeros(k * n), cost])
    integrality = np.concatenate([np.zeros(k * n), np.ones(n)])
    res = milp(
        c,
        constraints=cons,
        integrality=integrality,
        bounds=Bounds(lo, hi),
        options={"time_limit": time_limit, "disp": False},
    )
    if res.x is None:
        return None
    return res.x[k * n :] > 0.5


def _hypercube(
    grid: Grid,
    x: np.ndarray,
    lb: np.ndarray,
    sup: np.ndarray,
    allow: np.ndarray,
    cost: np.ndarray,
    p: int,
    w: float,
) -> np.ndarray | None:
    """Cheapest single hypercube pattern protecting cell p by w, or None (GHMITER-style, docs/disclosure.md §4).

    Along each dimension the pattern uses p's position a and a partner b: both interior -> signs (+1, -1);
    one of them the total -> (+1, +1). The tensor product of these sign vectors keeps every margin equation
    true, so moving the 2^d corners by w*sign is invisible to an attacker once they are all suppressed.
    Corners moving down need `x - lb >= w`.
    """
    shape, ext = grid.shape, grid.ext_shape
    a = np.unravel_index(p, ext)
    partners = [np.array([b for b in range(ext[d]) if b != a[d]]) for d in range(len(ext))]
    mesh = np.meshgrid(*partners, indexing="ij")
    cand_b = [m.ravel() for m in mesh]  # one candidate pattern per combination of partners
    n_pat = len(cand_b[0])
    total_cost = np.zeros(n_pat)
    feasible = np.ones(n_pat, dtype=bool)
    for corner in range(2 ** len(ext)):
        coords, sign = [], np.ones(n_pat)
        for d in range(len(ext)):
            use_b = (corner >> d) & 1
            coords.append(cand_b[d] if use_b else np.full(n_pat, a[d]))
            if use_b:
                # partner sign is -1 only when both positions are interior
                both_interior = (a[d] < shape[d]) & (cand_b[d] < shape[d])
                sign = sign * np.where(both_interior, -1.0, 1.0)
        ids = np.ravel_multi_index(tuple(coords), ext)
        feasible &= sup[ids] | allow[ids]
        feasible &= (sign > 0) | (x[ids] - lb[ids] >= w - 1e-9)
        total_cost += np.where(sup[ids], 0.0, cost[ids])
    if not feasible.any():
        return None
    best = int(np.argmin(np.where(feasible, total_cost, np.inf)))
    chosen = np.zeros(len(x), dtype=bool)
    for corner in range(2 ** len(ext)):
        coords = [cand_b[d][best] if (corner >> d) & 1 else a[d] for d in range(len(ext))]
        chosen[np.ravel_multi_index(tuple(coords), ext)] = True
    return chosen


def secondary_suppression(
    grid: Grid,
    x: np.ndarray,
    primary: np.ndarray,
    width: np.ndarray,
    lower_bound: np.ndarray | None = None,
    max_rounds: int = 4,
    time_limit: float = 20.0,
) -> SuppressionResult:
    """Choose complementary cells so that no suppressed cell can be pinned, then audit.

    Args:
        grid: the table's Grid (interior plus every margin).
        x: true additive values over extended cells (counts, or sums for magnitude tables).
        primary: cells failing a rule.
        width: required attacker interval width per cell (used for suppressed cells).
        lower_bound: known lower bound per cell (0 for counts; -inf when negatives are possible).
        max_rounds: MILP/audit rounds before failing closed.
        time_limit: seconds per MILP.

    Returns:
        SuppressionResult; `ok` is False when some suppressed cell stays narrower than its width.

    Example:
        >>> g = Grid(("r", "c"), (pd.Index(["a", "b"]), pd.Index(["x", "y"])), 1)
        >>> from djs_toolkit.sdc.evidence import extend
        >>> x = extend({"n": np.array([3, 40, 50, 60])}, g)["n"].astype(float)
        >>> res = secondary_suppression(g, x, np.isin(np.arange(9), [0]), np.full(9, 10.0))
        >>> int(res.suppressed.sum()), res.ok
        (4, True)
    """
    x = np.asarray(x, dtype=np.float64)
    n = grid.n_ext
    lb = np.zeros(n) if lower_bound is None else np.asarray(lower_bound, dtype=np.float64)
    A = table_equations(grid)
    primary = np.asarray(primary, dtype=bool)
    sup = primary.copy()
    is_margin = grid.is_total().any(axis=0)
    grand = n - 1
    allow = np.ones(n, dtype=bool)
    allow[grand] = bool(primary[grand])  # the grand total is published unless it is itself sensitive
    scale = float(np.abs(x[~is_margin]).sum()) + 1.0
    cost = 1.0 + np.abs(x) / scale + np.where(is_margin, _MARGIN_COST, 0.0)
    # Largest sensitive cells first: their patterns are the hardest to find, smaller ones then reuse them.
    order = np.flatnonzero(primary)
    order = order[np.argsort(-x[order], kind="stable")]
    hard = []
    for p in order:
        chosen = _hypercube(grid, x, lb, sup, allow, cost, int(p), float(width[p]))
        if chosen is None:
            hard.append(int(p))
        else:
            sup |= chosen
    res = _audit(A, x, lb, sup, width)
    targets = np.union1d(np.asarray(hard, dtype=int), res.index[~res["ok"].to_numpy()].to_numpy())
    rounds = 0
    while len(targets) and rounds < max_rounds:
        rounds += 1
        per = max(1, _MAX_VARS // n)
        for start in range(0, len(targets), per):
            chosen = _milp_round(x, lb, A, sup, allow, cost, targets[start : start + per], width, time_limit)
            if chosen is not None:
                sup |= chosen
        res = _audit(A, x, lb, sup, width)
        targets = res.index[~res["ok"].to_numpy()].to_numpy()
    return SuppressionResult(sup, primary, res, bool(res["ok"].all()), rounds)


def _audit(A: sparse.csr_matrix, x: np.ndarray, lb: np.ndarray, sup: np.ndarray, width: np.ndarray) -> pd.DataFrame:
    lower = np.where(sup, lb, x)
    upper = np.where(sup, np.inf, x)
    res = audit(PublishedSystem(A, np.zeros(A.shape[0]), lower, upper), np.flatnonzero(sup))
    res["required"] = width[res.index.to_numpy()] if len(res) else []
    # NaN widths (solver trouble) compare False: fail closed.
    res["ok"] = (res["width"] >= res["required"] - 1e-6).to_numpy(bool)
    return res
