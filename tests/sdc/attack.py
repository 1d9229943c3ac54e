"""An attacker independent of the checker: one LP (scipy's `linprog`, not the checker's HiGHS wrapper) over numbers
read back from what was released, used by the side-door tests (issue 16) to show a small group is not pinned.

Unknowns are the counts (or value totals) of groups the test names; every released number is a linear relation
over them, exact or an interval. The attacker's range for a target group is its LP min and max.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linprog


def released_value(out, row, col=None) -> float | None:
    """A released cell of an Output's table (None when withheld, missing or the output is not released)."""
    if out.status == "fail":
        return None
    t = out.table
    try:
        v = t.loc[row] if col is None else t.loc[row, col]
    except KeyError:
        return None
    v = np.asarray(v, dtype=object).ravel()[0]
    return None if pd.isna(v) else float(v)


def attacker_range(
    n_vars: int,
    relations: Sequence[tuple[dict[int, float], float, float]],
    target: int,
    lower: float = 0.0,
) -> tuple[float, float]:
    """Min and max of unknown `target` given `relations` ({var: coefficient}, lo, hi) and `lower` <= every unknown.

    An unbounded maximum is +inf. Relations from withheld cells are simply left out by the caller.
    """
    A, lo, hi = [], [], []
    for coef, a, b in relations:
        row = np.zeros(n_vars)
        for k, c in coef.items():
            row[k] = c
        A.append(row)
        lo.append(a)
        hi.append(b)
    A_ub = np.vstack([np.array(A), -np.array(A)]) if A else None
    b_ub = np.concatenate([np.array(hi), -np.array(lo)]) if A else None
    bounds = [(lower, None)] * n_vars
    out = []
    for sign in (1.0, -1.0):
        c = np.zeros(n_vars)
        c[target] = sign
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
        if res.status == 3:  # unbounded
            out.append(np.inf if sign < 0 else -np.inf)
        else:
            assert res.status == 0, res.message
            out.append(sign * res.fun)
    return out[0], out[1]


def pinned(rng: tuple[float, float], width: float) -> bool:
    """Whether the attacker's interval is narrower than the protection width."""
    return rng[1] - rng[0] < width
