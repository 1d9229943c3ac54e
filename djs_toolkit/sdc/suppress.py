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

import copy
import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from djs_toolkit.sdc.audit import PublishedSystem, audit
from djs_toolkit.sdc.evidence import Grid
from djs_toolkit.sdc.lp import minimise, quiet_stdout
from djs_toolkit.sdc.witness import Witnesses

__all__ = [
    "SuppressionResult",
    "complement_milp",
    "drop_redundant",
    "information_loss",
    "secondary_suppression",
    "table_equations",
]

_MAX_VARS = 40_000  # y-variables per MILP; larger target sets are processed in batches
_CELL_COST = 0.1  # per withheld cell, in units of the mean interior value: value dominates, fewer cells break ties
# One MILP per sensitive cell while (sensitive cells x table cells) stays below this; hypercube patterns beyond
# (a 7x7x7 transitions table with 80 small cells is 82k: 8 s of MILPs on one core).
_MILP_WORK = 250_000


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
    reach: float = 2.0,
) -> np.ndarray | None:
    n, m, k = len(x), A.shape[0], len(targets)
    # Cells move by at most `reach` widths: +-w suffices for hypercube-style patterns, and the tighter the bound
    # the tighter the relaxation (1 width solves a 127-cell overlap table ten times faster than 2).
    up = reach * float(width[targets].max())
    down = np.minimum(np.where(np.isfinite(lb), x - lb, up), up)
    # Variables: y^1..y^k (k*n continuous), then z (n binary). Rows: A y^i = 0; y^i_j <= up z_j; -y^i_j <= down_j z_j
    # (built from arrays: sparse stacking cost as much as the solve).
    Ac = A.tocoo()
    block = np.repeat(np.arange(k), len(Ac.data))
    yz = np.arange(k * n)
    rows = np.r_[np.tile(Ac.row, k) + block * m, k * m + yz, k * m + yz, k * m + k * n + yz, k * m + k * n + yz]
    cols = np.r_[np.tile(Ac.col, k) + block * n, yz, k * n + yz % n, yz, k * n + yz % n]
    vals = np.r_[np.tile(Ac.data, k), np.ones(k * n), np.full(k * n, -up), -np.ones(k * n), -np.tile(down, k)]
    M = sparse.csc_matrix((vals, (rows, cols)), shape=(k * m + 2 * k * n, k * n + n))
    row_lo = np.r_[np.zeros(k * m), np.full(2 * k * n, -np.inf)]
    row_hi = np.zeros(k * m + 2 * k * n)
    lo = np.concatenate([np.full(k * n, -np.inf), np.where(sup, 1.0, 0.0)])
    hi = np.concatenate([np.full(k * n, np.inf), np.where(sup | allow, 1.0, 0.0)])
    for i, p in enumerate(targets):
        lo[i * n + p] = hi[i * n + p] = width[p]
    c = np.concatenate([np.zeros(k * n), cost])
    # The LP relaxation first: when its optimum withholds whole cells (z all 0 or 1, as on two-way tables, whose
    # equations form a network) it is the MILP's optimum, found without branch and bound (a tenth of the time).
    relaxed = minimise(M, np.column_stack([row_lo, row_hi]), np.column_stack([lo, hi]), c)
    if relaxed is not None:
        z = relaxed[k * n :]
        if bool((np.minimum(np.abs(z), np.abs(1.0 - z)) < 1e-7).all()):
            return z > 0.5
    cons = [LinearConstraint(M, row_lo, row_hi)]
    integrality = np.concatenate([np.zeros(k * n), np.ones(n)])
    with quiet_stdout():  # HiGHS's MIP heuristics print a debug line from C++ whatever the options say
        res = milp(
            c,
            constraints=cons,
            integrality=integrality,
            bounds=Bounds(lo, hi),
            # A 5% gap: the redundancy pass (`drop_redundant`) then removes what a near-optimal choice left over.
            options={"time_limit": time_limit, "disp": False, "mip_rel_gap": 0.05},
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


def information_loss(x: np.ndarray, tier: np.ndarray | None = None, weight: np.ndarray | float = 1.0) -> np.ndarray:
    """Cost of withholding each cell: its value in units of the mean tier-0 value (times ``weight``), plus a small
    cost per cell.

    Value weights are what tau-Argus uses by default: the cheapest complements are the cells that hide the least
    of the table. A cell of a higher ``tier`` costs more than every cell of the lower tiers together, so it is
    withheld only when no choice among the lower tiers protects the table (set sizes, for example).

    Example:
        >>> information_loss(np.array([0.0, 10.0, 30.0, 100.0]), np.array([0, 0, 0, 1])).round(2).tolist()
        [0.1, 0.85, 2.35, 11.9]
    """
    x = np.abs(np.asarray(x, dtype=np.float64))
    tier = np.zeros(len(x), dtype=np.int64) if tier is None else np.asarray(tier, dtype=np.int64)
    base = x[tier == 0]
    unit = float(base.mean()) if len(base) and base.mean() > 0 else 1.0
    cost = _CELL_COST + np.asarray(weight, dtype=np.float64) * x / unit
    for t in range(1, int(tier.max(initial=0)) + 1):
        cost = np.where(tier >= t, cost + float(cost[tier < t].sum()) + 1.0, cost)
    return cost


def complement_milp(
    A: sparse.csr_matrix,
    x: np.ndarray,
    lb: np.ndarray,
    sup: np.ndarray,
    allow: np.ndarray,
    cost: np.ndarray,
    targets: np.ndarray,
    width: np.ndarray,
    time_limit: float = 20.0,
    joint: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest complements protecting ``targets`` by MILP (docs/disclosure.md §7.3).

    For a target p there must be a perturbation y of the withheld cells with ``A y = 0``, ``y_p = width[p]``
    and every moving cell staying above its lower bound; binaries say which cells are withheld and the
    objective is their total ``cost`` (use `information_loss`). By default the targets are taken one at a
    time in the order given, each an exact MILP in which the cells chosen before are free (one MILP over
    all targets proved too slow to solve: 20 s at the root for 16 targets of a 127-cell table); `drop_redundant`
    then removes what that order left over. ``joint=True`` solves batches of targets in one MILP.

    Args:
        A: the published equations (``A @ x == 0``).
        x: true values; lb: known lower bounds; sup: cells already withheld; allow: cells that may be withheld.
        cost: cost of withholding each cell; targets: cells to protect; width: required width per cell.
        time_limit: seconds per MILP.
        joint: one MILP per batch of targets instead of one per target.

    Returns:
        ``(withheld, unresolved)``: ``sup`` plus the chosen complements, and the targets the solver could not
        settle (for a fallback).

    Example:
        >>> A = sparse.csr_matrix([[-1.0, -1.0, -1.0, 1.0]])  # a + b + c = total
        >>> x = np.array([3.0, 40.0, 20.0, 63.0])
        >>> sup = np.array([True, False, False, False]); allow = np.array([True, True, True, False])
        >>> got, left = complement_milp(A, x, np.zeros(4), sup, allow, information_loss(x), np.array([0]),
        ...                             np.full(4, 10.0))
        >>> got.tolist(), left.tolist()  # c (20) hides less than b (40)
        ([True, False, True, False], [])
    """
    sup = np.asarray(sup, dtype=bool).copy()
    targets = np.asarray(targets, dtype=np.int64)
    per = max(1, _MAX_VARS // max(len(x), 1)) if joint else 1
    unresolved: list[int] = []
    for start in range(0, len(targets), per):
        batch = targets[start : start + per]
        chosen = _milp_round(x, lb, A, sup, allow, cost, batch, width, time_limit, reach=1.0)
        if chosen is None:  # a pattern may need cells moving by more than one width
            chosen = _milp_round(x, lb, A, sup, allow, cost, batch, width, time_limit)
        if chosen is None:
            unresolved += batch.tolist()
        else:
            sup |= chosen
    return sup, np.asarray(unresolved, dtype=np.int64)


def drop_redundant(
    A: sparse.csr_matrix,
    x: np.ndarray,
    lb: np.ndarray,
    sup: np.ndarray,
    keep: np.ndarray,
    targets: np.ndarray,
    width: np.ndarray,
    cost: np.ndarray,
) -> np.ndarray:
    """Publish again every complement the targets do not need, dearest first (a pass over the whole table).

    Complements chosen one target at a time often become unnecessary once later targets' complements exist.
    Each target keeps a witness (`Witnesses`: the cells two attacker-feasible tables differing by its width move);
    a complement no witness uses is released at once, otherwise only the targets whose witness uses it are
    re-checked. Cells in ``keep`` (primary cells, cells unpublished by design) stay withheld.

    Example:
        >>> A = sparse.csr_matrix([[-1.0, -1.0, -1.0, 1.0]])  # a + b + c = total
        >>> x = np.array([3.0, 40.0, 20.0, 63.0])
        >>> sup, keep = np.array([True, True, True, False]), np.array([True, False, False, False])
        >>> drop_redundant(A, x, np.zeros(4), sup, keep, np.array([0]), np.full(4, 10.0), x).tolist()
        [True, False, True, False]
    """
    sup = np.asarray(sup, dtype=bool).copy()
    witnesses = Witnesses(A, x, lb, sup, cost)
    seen: dict[int, np.ndarray] = {}
    for t in targets:
        moved = witnesses.moved(int(t), float(width[t]))
        if moved is None:  # not protected yet: the audit rounds deal with it, nothing can be released for it
            return sup
        seen[int(t)] = moved
    candidates = np.flatnonzero(sup & ~np.asarray(keep, dtype=bool))
    for c in candidates[np.argsort(-cost[candidates], kind="stable")]:
        found = witnesses.trial(int(c), {t: float(width[t]) for t, moved in seen.items() if moved[c]})
        if found is not None:
            witnesses.release(int(c))
            sup[c] = False
            seen.update(found)
    return sup


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

    Complements minimise the information lost over the whole table (`information_loss`: the values withheld, a
    margin costing its total like any cell): an exact MILP per sensitive cell, largest first (`complement_milp`;
    hypercube patterns when the table is too large, or for cells the solver cannot settle), then a pass over the
    whole table releasing every complement no sensitive cell needs (`drop_redundant`). The LP attacker audit
    then checks every withheld cell (cells it finds too narrow are targets of joint MILP rounds).

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
    primary = np.asarray(primary, dtype=bool)
    # The pattern depends only on the table's shape and these arrays: a table checked again (the counts behind a
    # probability, its confidence limits and the count table itself are one table) reuses it.
    arrays = (x, primary, np.asarray(width, dtype=np.float64), lb)
    key = hashlib.sha256(repr((grid.shape, max_rounds, time_limit)).encode())
    for a in arrays:
        key.update(np.ascontiguousarray(a).tobytes())
    found = _DONE.get(key.hexdigest())
    if found is None:
        found = _secondary_suppression(grid, *arrays, max_rounds, time_limit)
        _DONE[key.hexdigest()] = found
        while len(_DONE) > _DONE_SIZE:
            _DONE.popitem(last=False)
    else:
        _DONE.move_to_end(key.hexdigest())
    return copy.deepcopy(found)


_DONE: OrderedDict[str, SuppressionResult] = OrderedDict()
_DONE_SIZE = 32


def _secondary_suppression(
    grid: Grid,
    x: np.ndarray,
    primary: np.ndarray,
    width: np.ndarray,
    lb: np.ndarray,
    max_rounds: int,
    time_limit: float,
) -> SuppressionResult:
    n = grid.n_ext
    A = table_equations(grid)
    grand = n - 1
    allow = np.ones(n, dtype=bool)
    allow[grand] = bool(primary[grand])  # the grand total is published unless it is itself sensitive
    cost = information_loss(x)
    # Largest sensitive cells first: they are the hardest to protect; smaller ones then reuse their complements.
    order = np.flatnonzero(primary)
    order = order[np.argsort(-x[order], kind="stable")]
    if len(order) * n <= _MILP_WORK:
        sup, unresolved = complement_milp(A, x, lb, primary, allow, cost, order, width, time_limit)
    else:  # too large for a MILP per cell: hypercube patterns, as GHMITER
        sup, unresolved = primary.copy(), order
    hard = []
    for p in unresolved:
        chosen = _hypercube(grid, x, lb, sup, allow, cost, int(p), float(width[p]))
        if chosen is None:
            hard.append(int(p))
        else:
            sup |= chosen
    if not hard:
        sup = drop_redundant(A, x, lb, sup, primary, order, width, cost)
    res = _audit(A, x, lb, sup, width)
    targets = np.union1d(np.asarray(hard, dtype=int), res.index[~res["ok"].to_numpy()].to_numpy())
    rounds = 0
    while len(targets) and rounds < max_rounds:
        rounds += 1
        sup, _ = complement_milp(A, x, lb, sup, allow, cost, targets, width, time_limit, joint=True)
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
