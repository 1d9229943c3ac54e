"""Dates as integer day numbers (days since 1970-01-01), the generator's internal time scale.

Missing dates are `NA` (a large negative number) until the writer turns them into nulls.

Example:
    >>> day(1970, 1, 2)
    1
    >>> import numpy as np
    >>> year_of(np.array([day(2011, 6, 1)])).tolist()
    [2011]
"""

from __future__ import annotations

import datetime as dt

import numpy as np

__all__ = ["NA", "age_years", "day", "day_of", "half_of", "to_date64", "year_of"]

NA = np.int64(-(2**40))
_EPOCH = dt.date(1970, 1, 1)


def day(y: int, m: int, d: int) -> int:
    """Day number of a calendar date.

    Example:
        >>> day(1970, 1, 1)
        0
    """
    return (dt.date(y, m, d) - _EPOCH).days


def day_of(date: dt.date) -> int:
    """Day number of a `datetime.date`.

    Example:
        >>> import datetime as dt
        >>> day_of(dt.date(1970, 1, 11))
        10
    """
    return (date - _EPOCH).days


def to_date64(days: np.ndarray) -> np.ndarray:
    """Day numbers as ``datetime64[D]`` (NA becomes NaT).

    Example:
        >>> import numpy as np
        >>> str(to_date64(np.array([0]))[0])
        '1970-01-01'
    """
    d = np.asarray(days, dtype=np.int64)
    out = d.astype("datetime64[D]")
    out[d == NA] = np.datetime64("NaT")
    return out


def year_of(days: np.ndarray) -> np.ndarray:
    """Calendar year of day numbers.

    Example:
        >>> import numpy as np
        >>> year_of(np.array([0])).tolist()
        [1970]
    """
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def half_of(days: np.ndarray) -> np.ndarray:
    """Half-year labels such as ``2021H1``.

    Example:
        >>> import numpy as np
        >>> half_of(np.array([day(2021, 8, 1)])).tolist()
        ['2021H2']
    """
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    month = d.astype("datetime64[M]").astype(np.int64) % 12
    yr = d.astype("datetime64[Y]").astype(np.int64) + 1970
    return np.char.add(yr.astype(str), np.where(month < 6, "H1", "H2"))


def age_years(dob: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Whole years of age on day ``at`` for birth day ``dob`` (29 February birthdays fall on 1 March
    in common years, as in English law).

    Example:
        >>> import numpy as np
        >>> age_years(np.array([day(2000, 3, 1)]), np.array([day(2018, 2, 28)])).tolist()
        [17]
    """
    b = np.asarray(dob, dtype=np.int64) - _LO
    a = np.asarray(at, dtype=np.int64) - _LO
    if b.size and (b.min() < 0 or b.max() >= _YEAR.size or a.min() < 0 or a.max() >= _YEAR.size):
        raise ValueError("date outside 1850-2100")
    return _YEAR[a] - _YEAR[b] - (_MD[a] < _MD[b])


# Lookup tables (year, month * 32 + day) for every day 1850-2100: a gather is far faster than
# datetime64 conversions on millions of rows.
_LO = day(1850, 1, 1)
_DAYS = np.arange(_LO, day(2100, 12, 31) + 1).astype("datetime64[D]")
_YEAR = (_DAYS.astype("datetime64[Y]").astype(np.int64) + 1970).astype(np.int64)
_MON = _DAYS.astype("datetime64[M]")
_MD = ((_MON - _DAYS.astype("datetime64[Y]")).astype(np.int64) * 32 + (_DAYS - _MON).astype(np.int64)).astype(np.int16)
del _DAYS, _MON
