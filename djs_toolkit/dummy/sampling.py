"""Small vectorised helpers shared by the family, civil and criminal models.

Example:
    >>> import numpy as np
    >>> yearly_counts(np.random.default_rng(0), 0.0, [2011, 2012]).tolist()
    [0, 0]
"""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy.dates import day

__all__ = ["eligible_by_age", "lognormal_days", "pick_people", "uniform_days", "yearly_counts"]


def yearly_counts(rng: np.random.Generator, expected_per_year: float, years: list[int]) -> np.ndarray:
    """Poisson case counts for each year.

    Example:
        >>> import numpy as np
        >>> int(yearly_counts(np.random.default_rng(0), 1000.0, [2011]).sum()) > 900
        True
    """
    return rng.poisson(expected_per_year, size=len(years))


def pick_people(rng: np.random.Generator, k: int, eligible: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``k`` local person indices drawn with replacement from ``eligible`` with ``weight``.

    Example:
        >>> import numpy as np
        >>> pick_people(np.random.default_rng(0), 3, np.array([7]), np.array([1.0])).tolist()
        [7, 7, 7]
    """
    if k == 0 or eligible.size == 0:
        return np.zeros(0, dtype=np.int64)
    w = weight.astype(np.float64)
    c = np.cumsum(w)
    u = rng.random(k) * c[-1]
    return eligible[np.minimum(np.searchsorted(c, u, side="right"), eligible.size - 1)].astype(np.int64)


def eligible_by_age(dob: np.ndarray, year: int, lo: int, hi: int) -> np.ndarray:
    """Indices of people aged ``lo``..``hi`` on 1 July of ``year``.

    Example:
        >>> import numpy as np
        >>> eligible_by_age(np.array([day(1990, 1, 1), day(2010, 1, 1)]), 2011, 18, 60).tolist()
        [0]
    """
    # Eligibility only needs age to the day-ish: (days since birth) / 365.25 is within a day of exact.
    a = (day(year, 7, 1) - dob) / 365.25
    return np.flatnonzero((a >= lo) & (a < hi + 1))


def uniform_days(rng: np.random.Generator, year: int, k: int, end_day: int | None = None) -> np.ndarray:
    """``k`` uniform day numbers within ``year`` (not after ``end_day``).

    Example:
        >>> import numpy as np
        >>> int(uniform_days(np.random.default_rng(0), 2011, 5).min()) >= day(2011, 1, 1)
        True
    """
    a, b = day(year, 1, 1), day(year + 1, 1, 1)
    if end_day is not None:
        b = min(b, end_day + 1)
    return a + np.floor(rng.random(k) * max(b - a, 1)).astype(np.int64)


def lognormal_days(
    rng: np.random.Generator, median: float, sigma: float, k: int, lo: int = 0, hi: int = 100_000
) -> np.ndarray:
    """Integer durations with the given median (days) and log-sd, clipped to [lo, hi].

    Example:
        >>> import numpy as np
        >>> int(lognormal_days(np.random.default_rng(0), 30, 0.1, 1, lo=1)[0]) > 20
        True
    """
    return np.clip(np.round(median * np.exp(sigma * rng.standard_normal(k))), lo, hi).astype(np.int64)
