"""Rounding family for counts only: base-b and midpoint-6, plus what an attacker learns from a rounded value.

OpenSAFELY's order (docs/disclosure.md §1.5): redact counts <= 7, then round every count to the nearest 5; totals are
sums of the rounded counts and derived statistics (percentages, rates) are recomputed from the rounded counts.
Midpoint-6 (`ceil(x/6)*6 - 3*(x != 0)`) is for rates and life tables. Means, medians and coefficients are never rounded
to a count base: that is ACRO's defect (docs/disclosure.md §0 fact 3, §2.9 defect 2), so nothing here accepts them.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from djs_toolkit.sdc.audit import PublishedSystem
from djs_toolkit.sdc.evidence import Grid, extend
from djs_toolkit.sdc.suppress import table_equations

__all__ = ["midpoint6", "round_to_base", "rounded_counts", "rounding_bounds"]


def round_to_base(x: np.ndarray, base: int) -> np.ndarray:
    """Nearest multiple of `base`, halves rounded up (integers never tie for odd bases); NaN stays NaN.

    Example:
        >>> round_to_base(np.array([0, 2, 3, 12, 13, np.nan]), 5).tolist()
        [0.0, 0.0, 5.0, 10.0, 15.0, nan]
    """
    x = np.asarray(x, dtype=np.float64)
    return base * np.floor(x / base + 0.5)


def midpoint6(x: np.ndarray) -> np.ndarray:
    """OpenSAFELY midpoint-6 rounding: 0 -> 0, 1-6 -> 3, 7-12 -> 9, ...

    Example:
        >>> midpoint6(np.array([0, 1, 6, 7, 12, 13])).tolist()
        [0.0, 3.0, 3.0, 9.0, 9.0, 15.0]
    """
    x = np.asarray(x, dtype=np.float64)
    return np.ceil(x / 6.0) * 6.0 - 3.0 * (x != 0)


def rounding_bounds(published: np.ndarray, method: str, base: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Interval of true non-negative integer counts consistent with a rounded value.

    Example:
        >>> lo, hi = rounding_bounds(np.array([0.0, 10.0]), "base", 5)
        >>> lo.tolist(), hi.tolist()
        ([0.0, 8.0], [2.0, 12.0])
        >>> [b.tolist() for b in rounding_bounds(np.array([0.0, 3.0, 9.0]), "midpoint6")]
        [[0.0, 1.0, 7.0], [0.0, 6.0, 12.0]]
    """
    v = np.asarray(published, dtype=np.float64)
    if method == "midpoint6":
        lo = np.where(v == 0, 0.0, v - 2.0)
        hi = np.where(v == 0, 0.0, v + 3.0)
        return lo, hi
    # v = b*floor(x/b + 1/2)  <=>  v - b/2 <= x < v + b/2
    lo = np.maximum(np.ceil(v - base / 2.0), 0.0)
    hi = np.ceil(v + base / 2.0) - 1.0
    return lo, hi


def rounded_counts(
    grid: Grid, counts: np.ndarray, redact: np.ndarray, method: str, base: int, unknown: np.ndarray | None = None
) -> tuple[np.ndarray, PublishedSystem]:
    """Redact, round interior counts, and rebuild every margin as the sum of the rounded cells.

    Args:
        grid: the table's Grid.
        counts: true unweighted counts over extended cells.
        redact: cells to redact (published as missing).
        method: `base` or `midpoint6`.
        base: rounding base for `base`.
        unknown: cells the attacker cannot know even approximately (e.g. margins that would be redacted).

    Returns:
        (published, system): published values over extended cells (NaN = redacted) and what an attacker knows.
        The attacker model is conservative: besides the rounded cells it knows every true margin to within its
        own rounding interval (another output could publish it rounded).

    Example:
        >>> import pandas as pd
        >>> g = Grid(("a",), (pd.Index(["x", "y", "z"]),), 1)
        >>> pub, _ = rounded_counts(g, np.array([3.0, 12.0, 24.0, 39.0]), np.array([1, 0, 0, 0], bool), "base", 5)
        >>> pub.tolist()
        [nan, 10.0, 25.0, 35.0]
    """
    rnd = midpoint6 if method == "midpoint6" else (lambda v: round_to_base(v, base))
    counts = np.asarray(counts, dtype=np.float64)
    is_margin = grid.is_total().any(axis=0)
    interior = ~is_margin
    redact = np.asarray(redact, dtype=bool) & interior
    pub = np.where(redact, np.nan, rnd(counts))
    inner = np.where(redact, 0.0, pub).reshape(grid.ext_shape)[tuple(slice(0, k) for k in grid.shape)]
    sums = extend({"sum": inner.ravel()}, grid)["sum"]
    pub[is_margin] = sums[is_margin]
    lo, hi = rounding_bounds(rnd(counts), method, base)
    hidden = redact if unknown is None else redact | np.asarray(unknown, dtype=bool)
    lo = np.where(hidden, 0.0, lo)
    hi = np.where(hidden, np.inf, hi)
    A = table_equations(grid)
    return pub, PublishedSystem(sparse.csr_matrix(A), np.zeros(A.shape[0]), lo, hi)
