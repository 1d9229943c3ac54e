"""Differencing of released sums (and means, whose n is published or derivable) of one column across two outputs.

Two outputs that release sums of the same column (`Released.measure`) over cells of linked records give the
attacker the sum over every combination of their cells the released totals span. Over the pair's atoms (as in
`atoms`: E cell or outside x N cell or outside; the atoms the attacker cannot rule out are `knowledge.support`'s),
the sum over an atom is determined exactly when the atom's unit vector lies in the row space of the released sums.
An atom of 1..m-1 records whose sum is determined discloses the value (or the total) of a small group: a sum on N
and on N-1 records gives one person's value; a sum and a mean on nested populations give the difference's total.
Values have no known bounds, so only exact determinacy counts (intervals tell nothing about a sum).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from djs_toolkit.sdc.atoms import in_row_space
from djs_toolkit.sdc.released import Released

__all__ = ["MAX_SUM_ATOMS", "comparable_sums", "sum_pair_check"]

MAX_SUM_ATOMS = 6_000  # dense QR over atoms x released values beyond this: a checker compares the two outputs


def comparable_sums(a: Released, b: Released) -> bool:
    """Whether both outputs released sums of the same column.

    Example:
        >>> from djs_toolkit.sdc.released import from_sets
        >>> s = from_sets(("g",), (("a",),), [[0]], [5.0], [5.0], counts=False, measure="days")
        >>> comparable_sums(s, s), comparable_sums(s, from_sets(("g",), (("a",),), [[0]], [5.0], [5.0]))
        (True, False)
    """
    return bool(a.measure) and a.measure == b.measure and not a.counts and not b.counts


def sum_pair_check(
    J: np.ndarray, S: np.ndarray, rel_e: Released, rel_n: Released, min_safe: int
) -> tuple[list[tuple[int, int]], int]:
    """Small atoms (1..min_safe-1 records) whose sum of the measure the two outputs' released sums determine.

    Returns:
        (atoms, unresolved): disclosed atoms as (E row, N column) of J (0 = outside), and how many small atoms were
        left undecided because the system is too large (a `review`, never a `pass`).

    Example:
        >>> from djs_toolkit.sdc.released import from_sets
        >>> e = from_sets(("g",), (("a",),), [[0]], [50.0], [50.0], counts=False, measure="v")  # 20 records
        >>> n = from_sets(("g",), (("a",),), [[0]], [41.0], [41.0], counts=False, measure="v")  # 19 of them
        >>> J = np.array([[0, 0], [1, 19]])
        >>> sum_pair_check(J, J > 0, e, n, 10)
        ([(1, 0)], 0)
    """
    small = (J > 0) & np.less(J, min_safe)
    small[0, 0] = False
    if not small.any():
        return [], 0
    allowed = S.copy()
    allowed[0, 0] = False
    ai, aj = np.nonzero(allowed)
    if len(ai) > MAX_SUM_ATOMS:
        return [], int(small.sum())
    inc_e = sparse.hstack([sparse.csc_matrix((rel_e.n_released, 1)), rel_e.incidence().tocsc()]).tocsc()
    inc_n = sparse.hstack([sparse.csc_matrix((rel_n.n_released, 1)), rel_n.incidence().tocsc()]).tocsc()
    rows = sparse.vstack([inc_e[:, ai][rel_e.exact()], inc_n[:, aj][rel_n.exact()]]).tocsr()
    where = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(ai, aj, strict=True))}
    cand = [(int(i), int(j)) for i, j in zip(*np.nonzero(small), strict=True) if (int(i), int(j)) in where]
    if not cand or rows.shape[0] == 0:
        return [], 0
    hit = in_row_space(rows, np.array([where[c] for c in cand], np.int64))
    return [c for c, h in zip(cand, hit, strict=True) if h], 0
