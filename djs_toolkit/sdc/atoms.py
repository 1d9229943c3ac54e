"""Atoms of two outputs and which small atoms an attacker can pin down (docs/disclosure.md §7.4).

Two outputs E (earlier) and N (new) label every record with a cell (or "outside"); an *atom* is a pair
(E cell or outside, N cell or outside) and its count is the number of records in both. Every released count of
either output is a sum of atom counts, so `J` (the (R+1) x (C+1) atom counts, row/column 0 = outside) is all the
attacker's unknowns. An atom with 1..m-1 records (m = smallest safe count) discloses if the released values pin it
exactly, or within less than the protection width.

Which atoms the attacker knows to be empty comes from `knowledge.support` (the meaning of variables and
population filters, never the data's zero pattern as such).

Three stages, cheapest first:
1. a sufficient-safety screen: moves along 4-cycles of atoms keep every cell total of E and N fixed (so every value
   either could release), so an atom that can move down by d and up by w - d along such cycles is safe whatever was
   published; this is a few small matrix products;
2. exact determinacy by linear algebra on the exactly released values (is the atom's unit vector in their row
   space?) for the survivors of small systems;
3. the LP attacker (`audit`) with every released interval, suppressed values unknown: min and max of each
   remaining atom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy import sparse

from djs_toolkit.sdc.audit import PublishedSystem, audit_bounds
from djs_toolkit.sdc.lp import min_max
from djs_toolkit.sdc.released import Released

__all__ = ["MAX_ATOMS", "Budget", "PairResult", "joint_counts", "pair_check", "screen"]

MAX_ATOMS = 40_000  # larger pair systems are not solved exactly: the output goes to review
_BIG = 1 << 40
_LOCAL_VARIABLES = 12000  # variables per batched local LP (audit._BLOCK_VARIABLES: simplex time grows faster than size)


@dataclass
class Budget:
    """A work limit for the attacker LPs: how many LPs the check may still solve.

    Counted in LPs, not seconds: a clock makes the outcome depend on machine load, and a rerun of the same
    pipeline must give the same bytes (issue 9). What the budget does not reach is `review`, never `pass`.

    Example:
        >>> b = Budget(1)
        >>> b.take(), b.take(), b.exhausted
        (True, False, True)
    """

    lps: int

    def take(self) -> bool:
        """Spend one LP if any is left."""
        if self.lps <= 0:
            return False
        self.lps -= 1
        return True

    @property
    def exhausted(self) -> bool:
        """No LP left."""
        return self.lps <= 0


@dataclass
class PairResult:
    """Small atoms an attacker pins down in one pair of outputs.

    Attributes:
        atoms: (i, j) per disclosed atom (row 0 / column 0 = outside E / N; others = label + 1).
        counts: true count of each (checker only).
        lower, upper: attacker's bounds.
        method: `linear algebra` or `LP` per atom.
        unresolved: atoms left undecided (system too large or work budget spent): a `review`, never a `pass`.

    Example:
        >>> PairResult([], [], [], [], [], 0).disclosed
        False
    """

    atoms: list[tuple[int, int]]
    counts: list[int]
    lower: list[float]
    upper: list[float]
    method: list[str]
    unresolved: int

    @property
    def disclosed(self) -> bool:
        """Whether any small atom is pinned down.

        Example:
            >>> PairResult([(1, 0)], [2], [2.0], [2.0], ["LP"], 0).disclosed
            True
        """
        return bool(self.atoms)


def joint_counts(
    lab_e_on_n: np.ndarray, lab_n: np.ndarray, r: int, c: int, e_only: np.ndarray | None = None
) -> np.ndarray:
    """Atom counts J ((r+1) x (c+1)) from E's labels on N's records, N's labels and E's records outside N's rows.

    Example:
        >>> joint_counts(np.array([0, 0, 1, -1]), np.array([0, 1, -1, 0]), 2, 2, np.array([0, 3])).tolist()
        [[0, 1, 0], [0, 1, 1], [4, 0, 0]]
    """
    # int32 arithmetic where the key fits: half the memory traffic of int64 on a million records
    kind = np.int32 if (r + 1) * (c + 1) < 2**31 - 1 else np.int64
    key = (np.asarray(lab_e_on_n).astype(kind) + 1) * kind(c + 1)
    key += np.asarray(lab_n).astype(kind) + 1
    J = np.bincount(key, minlength=(r + 1) * (c + 1)).reshape(r + 1, c + 1)
    if e_only is not None:
        J[1:, 0] += np.asarray(e_only, np.int64)
    J[0, 0] = 0
    return J


def _cycle_exists(X: np.ndarray, S: np.ndarray, rows: np.ndarray, cols: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """For each (rows[k], cols[k]): is there i' != i, j' != j with X[i, j'] and Y[i', j] and S[i', j']?"""
    ur, ri = np.unique(rows, return_inverse=True)
    uc, ci = np.unique(cols, return_inverse=True)
    Xr = X[ur].astype(np.float32)
    Yc = Y[:, uc].astype(np.float32)
    Sf = S.astype(np.float32)
    Q = (Xr @ Sf.T) @ Yc  # Q[i, j] = sum_{i', j'} X[i, j'] S[i', j'] Y[i', j]
    q = Q[ri, ci]
    # remove the terms with i' = i or j' = j (they are not cycles)
    q -= Y[rows, cols] * (X[rows] & S[rows]).sum(axis=1)
    q -= X[rows, cols] * (Y[:, cols] & S[:, cols]).sum(axis=0)
    q += X[rows, cols] & Y[rows, cols] & S[rows, cols]
    return q > 0.5


def screen(J: np.ndarray, S: np.ndarray, rows: np.ndarray, cols: np.ndarray, width: float) -> np.ndarray:
    """Sufficient safety of candidate atoms: True where 4-cycle moves widen the atom's interval to `width`.

    The up move (atom +t) lowers (i, j') and (i', j) by t and raises (i', j'); the down move (atom -t) the
    opposite. Every E and N cell total is unchanged, so no released value of either output changes. Safe if for
    some d in 0..count: down by d and up by width - d are both possible.

    Example:
        >>> J = np.array([[0, 0, 0], [0, 3, 40], [0, 40, 40]])
        >>> S = np.ones_like(J, bool); S[0] = False; S[:, 0] = False; S[0, 0] = True
        >>> screen(J, S, np.array([1]), np.array([1]), 10.0).tolist()
        [True]
    """
    Jw = J.astype(np.int64).copy()
    Jw[0, 0] = _BIG
    down_b, up_b = _block_bounds(Jw, S, rows, cols)
    safe = down_b + up_b >= width
    if safe.all():
        return safe
    rest = np.flatnonzero(~safe)
    safe[rest] = _cycles(Jw, S, rows[rest], cols[rest], J[rows[rest], cols[rest]], width)
    return safe


def _block_bounds(Jw: np.ndarray, S: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower bounds on how far each candidate atom can move down and up with every cell total fixed.

    With I' = rows i' != i that may hold records of N's cell j and J' = columns j' != j that E's cell i may reach:
    down: the atom gives t to (i, j') and (i', j), taking t back from atoms of the block I' x J' (any of its
    records), so down >= min(count, sum of the block). up: the atom takes t from (i, j') and (i', j) and the block
    absorbs them (a transport plan, always feasible on a block the attacker cannot rule out), so
    up >= min(sum over J' of row i, sum over I'' of column j) with I'' = rows of I' open on all of J' (and the
    mirror image). Many small cycles add up here, which the 4-cycle test alone misses.
    """
    k = np.arange(len(rows))
    rowsel = S[:, cols].T.copy()
    rowsel[k, rows] = False
    colsel = S[rows, :].copy()
    colsel[k, cols] = False
    Jf = Jw.astype(np.float64)
    block = ((rowsel.astype(np.float64) @ Jf) * colsel).sum(axis=1)
    down = np.minimum(Jw[rows, cols].astype(np.float64), block)
    miss = (~S).astype(np.float64)
    row_ok = rowsel & ((colsel.astype(np.float64) @ miss.T) < 0.5)
    col_ok = colsel & ((rowsel.astype(np.float64) @ miss) < 0.5)
    row_i, col_j = Jf[rows, :], Jf[:, cols].T
    up = np.maximum(
        np.minimum((row_i * colsel).sum(axis=1), (col_j * row_ok).sum(axis=1)),
        np.minimum((row_i * col_ok).sum(axis=1), (col_j * rowsel).sum(axis=1)),
    )
    return down, up


def _cycles(
    Jw: np.ndarray, S: np.ndarray, rows: np.ndarray, cols: np.ndarray, cnt: np.ndarray, width: float
) -> np.ndarray:
    """Single 4-cycles (sparse supports where no open block exists): down by d and up by width - d."""
    need = int(np.ceil(width))
    safe = np.zeros(len(rows), dtype=bool)
    up_cache: dict[int, np.ndarray] = {}
    down_cache: dict[int, np.ndarray] = {}

    def up(x: int) -> np.ndarray:
        if x <= 0:
            return np.ones(len(rows), bool)
        if x not in up_cache:
            X = (Jw >= x) & S
            up_cache[x] = _cycle_exists(X, S, rows, cols, X)
        return up_cache[x]

    def down(x: int) -> np.ndarray:
        if x <= 0:
            return np.ones(len(rows), bool)
        if x not in down_cache:
            Y = (Jw >= x) & S
            # down: (i, j') and (i', j) rise (must be possible: S), (i', j') falls by x
            down_cache[x] = _cycle_exists(S, Y, rows, cols, S)
        return down_cache[x]

    for d in range(int(cnt.max(initial=0)) + 1):
        live = ~safe & (cnt >= d)
        if not live.any():
            continue
        safe |= live & down(d) & up(need - d)
    return safe


def _system(S: np.ndarray, rel_e: Released, rel_n: Released) -> tuple[PublishedSystem, np.ndarray, sparse.csr_matrix]:
    """The attacker's LP over atoms: variables = atoms in S (not (0, 0)) then one per released value."""
    ai, aj = np.nonzero(S)
    keep = ~((ai == 0) & (aj == 0))
    ai, aj = ai[keep], aj[keep]
    n_atoms = len(ai)
    inc_e = sparse.hstack([sparse.csc_matrix((rel_e.n_released, 1)), rel_e.incidence().tocsc()]).tocsc()
    inc_n = sparse.hstack([sparse.csc_matrix((rel_n.n_released, 1)), rel_n.incidence().tocsc()]).tocsc()
    A_e = inc_e[:, ai]
    A_n = inc_n[:, aj]
    ne, nn = rel_e.n_released, rel_n.n_released
    A = sparse.vstack(
        [
            sparse.hstack([A_e, -sparse.identity(ne), sparse.csr_matrix((ne, nn))]),
            sparse.hstack([A_n, sparse.csr_matrix((nn, ne)), -sparse.identity(nn)]),
        ]
    ).tocsr()
    lower = np.concatenate([np.zeros(n_atoms), rel_e.lo, rel_n.lo])
    upper = np.concatenate([np.full(n_atoms, np.inf), rel_e.hi, rel_n.hi])
    exact_rows = sparse.vstack([A_e[rel_e.exact()], A_n[rel_n.exact()]]).tocsr()
    return PublishedSystem(A, np.zeros(A.shape[0]), lower, upper), np.column_stack([ai, aj]), exact_rows


def _unknown_lines(rel_e: Released, rel_n: Released) -> tuple[np.ndarray, np.ndarray]:
    """Rows (E labels + 1) and columns (N labels + 1) covered by a withheld value: where the freedom is."""

    def lines(rel: Released) -> np.ndarray:
        hidden = np.flatnonzero(~np.isfinite(rel.hi))
        labels = [rel.indices[rel.indptr[h] : rel.indptr[h + 1]] for h in hidden]
        return np.unique(np.concatenate(labels)) + 1 if labels else np.zeros(0, np.int64)

    return lines(rel_e), lines(rel_n)


def _near(
    counts: np.ndarray, allowed: np.ndarray, own: int, extra: np.ndarray, k: int = 8, cap: int = 48
) -> np.ndarray:
    """Positions of a local LP: the target's, the outside, those with withheld values, the k largest others."""
    order = np.argsort(-np.where(allowed, counts, -1), kind="stable")[:k]
    picked = np.unique(np.concatenate([[0, own], extra[:cap], order[allowed[order]]]))
    return picked


def value_range(system: PublishedSystem, target: int) -> tuple[float, float]:
    """Attacker's min and max of one variable (the shared LP attacker, `audit`)."""
    ((lo, hi),) = audit_bounds(system, [target])
    return float(lo), float(hi)


def in_row_space(M: sparse.csr_matrix, targets: np.ndarray) -> np.ndarray:
    """Linear algebra: is each target variable's unit vector in the row space of M (exactly determined)?"""
    if M.shape[0] == 0:
        return np.zeros(len(targets), dtype=bool)
    cols = np.unique(M.indices)
    dense = M[:, cols].toarray().T  # variables x equations
    q, r, _ = scipy.linalg.qr(dense, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-9 * max(diag.max(initial=0.0), 1.0)).sum())
    where = np.searchsorted(cols, targets)
    found = (where < len(cols)) & (cols[np.minimum(where, len(cols) - 1)] == targets)
    norms = np.zeros(len(targets))
    norms[found] = (q[where[found], :rank] ** 2).sum(axis=1)
    return norms > 1.0 - 1e-8


def _local_bounds(
    system: PublishedSystem,
    n_atoms: int,
    values: np.ndarray,
    free_sets: list[np.ndarray],
    targets: np.ndarray,
    width: float,
    budget: Budget,
) -> np.ndarray:
    """Attacker min and max of each target when only its free atoms move (the rest at their true values).

    The attacker then knows more than the published values tell, so a wide interval here is wide in the full LP
    too (a sufficient test of safety). Every free atom is also capped at its count + 2 x width + 1, which only
    narrows intervals further and keeps each LP bounded. Each local system is reduced to its free atoms, with one
    row per released value over them; many are stacked block-diagonally into one LP pair (min, max): the blocks
    are independent, so the optimum of the summed objective is every block at its own optimum. NaN where an LP could
    not be solved or the budget ran out (callers then go on to the exact tests).
    """
    A = sparse.csc_matrix(system.A[:, :n_atoms])
    lo_r, hi_r = system.lower[n_atoms:], system.upper[n_atoms:]
    total = A @ values
    room = 2.0 * width + 1.0 if np.isfinite(width) else 1e6
    out = np.full((len(targets), 2), np.nan)
    chunk: list[tuple[int, sparse.csr_matrix, np.ndarray, np.ndarray, int]] = []
    size = 0

    def solve() -> None:
        nonlocal chunk, size
        if chunk and budget.take():
            # Block-diagonal: one M_k per target, assembled as COO arrays (scipy's block_diag costs more than the LP).
            ri, ci, vals, rb, cb, where = [], [], [], [], [], []
            r0 = c0 = 0
            for _, M, free, rows, t in chunk:
                coo = M.tocoo()
                ri.append(coo.row + r0)
                ci.append(coo.col + c0)
                vals.append(coo.data)
                resid = total[rows] - M @ values[free]
                rb.append(np.column_stack([lo_r[rows] - resid, hi_r[rows] - resid]))
                cb.append(np.column_stack([np.zeros(len(free)), values[free] + room]))
                where.append(c0 + t)
                r0, c0 = r0 + len(rows), c0 + len(free)
            A_loc = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(ri), np.concatenate(ci))), shape=(r0, c0))
            cost = np.zeros(c0)
            cost[where] = 1.0
            found = min_max(A_loc, np.vstack(rb), np.vstack(cb), cost)
            if found is not None:
                rows_k = [k for k, *_ in chunk]
                out[rows_k, 0], out[rows_k, 1] = found[0][where], found[1][where]
        chunk, size = [], 0

    for k, (free, t) in enumerate(zip(free_sets, targets, strict=True)):
        M = A[:, free]
        rows = np.unique(M.indices)
        chunk.append((k, M.tocsr()[rows], free, rows, int(np.searchsorted(free, t))))
        size += len(free)
        if size >= _LOCAL_VARIABLES:
            solve()
    solve()
    return out


def pair_check(
    J: np.ndarray, S: np.ndarray, rel_e: Released, rel_n: Released, min_safe: int, width: float, budget: Budget
) -> PairResult:
    """Which atoms with 1..min_safe-1 records are pinned (exactly, or within less than `width`)?

    Example:
        >>> from djs_toolkit.sdc.released import from_sets
        >>> full = from_sets(("g",), (("a", "b"),), [[0], [1]], [30, 40], [30, 40])
        >>> part = from_sets(("g",), (("a", "b"),), [[0], [1]], [27, 40], [27, 40])
        >>> J = np.array([[0, 0, 0], [3, 27, 0], [0, 0, 40]])  # E = full, N = full minus 3 records of a
        >>> from djs_toolkit.sdc.knowledge import support
        >>> S, _ = support(J, full, part)
        >>> res = pair_check(J, S, full, part, 10, 10.0, Budget(100))
        >>> res.atoms, res.method
        ([(1, 0)], ['linear algebra'])
    """
    cand = np.argwhere((J > 0) & (min_safe > J))
    cand = cand[~((cand[:, 0] == 0) & (cand[:, 1] == 0))]
    empty = PairResult([], [], [], [], [], 0)
    if len(cand) == 0 or not (rel_e.counts and rel_n.counts):
        return empty
    safe = screen(J, S, cand[:, 0], cand[:, 1], width)
    cand = cand[~safe]
    if len(cand) == 0:
        return empty
    if int(S.sum()) > MAX_ATOMS:
        return PairResult([], [], [], [], [], len(cand))
    system, atoms, exact_rows = _system(S, rel_e, rel_n)
    index = {(int(i), int(j)): k for k, (i, j) in enumerate(atoms)}
    targets = np.array([index[(int(i), int(j))] for i, j in cand], dtype=np.int64)
    out = PairResult([], [], [], [], [], 0)

    def hit(k: int, lo: float, hi: float, how: str) -> None:
        i, j = (int(x) for x in cand[k])
        out.atoms.append((i, j))
        out.counts.append(int(J[i, j]))
        out.lower.append(lo)
        out.upper.append(hi)
        out.method.append(how)

    # Local LPs first (one batched LP pair for many candidates): most candidates are wide there, and only the
    # narrow ones need the exact tests below.
    values = J[atoms[:, 0], atoms[:, 1]]
    open_rows, open_cols = _unknown_lines(rel_e, rel_n)
    free_sets = []
    for i, j in cand:
        rows = _near(J[:, j], S[:, j], int(i), open_rows)
        cols = _near(J[int(i), :], S[int(i), :], int(j), open_cols)
        free_sets.append(np.flatnonzero(np.isin(atoms[:, 0], rows) & np.isin(atoms[:, 1], cols)))
    local = _local_bounds(system, len(atoms), values, free_sets, targets, width, budget)
    todo = [k for k in range(len(targets)) if not (local[k, 1] - local[k, 0] >= width - 1e-6)]
    if not todo:
        return out
    n_cols = len(np.unique(exact_rows.indices))
    if 0 < n_cols <= 1500 and n_cols * exact_rows.shape[0] ** 2 <= 3e8:
        exact = in_row_space(exact_rows, targets[todo])
        for k in np.asarray(todo)[exact]:
            hit(int(k), float(J[tuple(cand[k])]), float(J[tuple(cand[k])]), "linear algebra")
        todo = [k for k, e in zip(todo, exact, strict=True) if not e]
    for k in todo:
        if not budget.take():
            out.unresolved += 1
            continue
        lo, hi = value_range(system, int(targets[k]))
        if np.isnan(hi - lo):
            out.unresolved += 1  # LP failure: undecided, never safe
        elif hi - lo < width - 1e-6:
            hit(k, lo, hi, "LP")
    return out
