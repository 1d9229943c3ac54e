"""Counting a person's events in a look-back window, vectorised (sorted integer keys).

Example:
    >>> import numpy as np
    >>> ix = EventIndex(np.array([0, 0, 1]), np.array([100, 500, 100]))
    >>> ix.count(np.array([0, 1]), np.array([600, 600]), 730).tolist()
    [2, 1]
"""

from __future__ import annotations

import numpy as np

__all__ = ["EventIndex"]

_SHIFT = np.int64(1 << 21)  # day numbers stay below 2**21 (year 7700)


class EventIndex:
    """Events (person, day) indexed for "how many in (day - window, day]" queries.

    Example:
        >>> import numpy as np
        >>> EventIndex(np.array([3]), np.array([10])).count(np.array([3]), np.array([9]), 5).tolist()
        [0]
    """

    def __init__(self, person: np.ndarray, day: np.ndarray) -> None:
        self.keys = np.sort(np.asarray(person, np.int64) * _SHIFT + np.asarray(day, np.int64))
        self.people = np.unique(np.asarray(person, np.int64))

    def extended(self, person: np.ndarray, day: np.ndarray) -> EventIndex:
        """A new index with these events added.

        Example:
            >>> import numpy as np
            >>> EventIndex(np.array([1]), np.array([5])).extended(np.array([1]), np.array([6])).keys.size
            2
        """
        keys = np.asarray(person, np.int64) * _SHIFT + np.asarray(day, np.int64)
        out = EventIndex(np.zeros(0, np.int64), np.zeros(0, np.int64))
        out.keys = np.sort(np.r_[self.keys, keys])
        out.people = np.union1d(self.people, np.asarray(person, np.int64))
        return out

    def count(self, person: np.ndarray, day: np.ndarray, window: int) -> np.ndarray:
        """Events of ``person`` with day in ``(day - window, day]``.

        Example:
            >>> import numpy as np
            >>> EventIndex(np.array([1, 1]), np.array([5, 6])).count(np.array([1]), np.array([6]), 1).tolist()
            [1]
        """
        base = np.asarray(person, np.int64) * _SHIFT
        d = np.asarray(day, np.int64)
        hi = np.searchsorted(self.keys, base + d, side="right")
        lo = np.searchsorted(self.keys, base + d - window, side="right")
        return (hi - lo).astype(np.int64)

    def next_after(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Day of the person's first event strictly after ``day`` (-1 if none).

        Example:
            >>> import numpy as np
            >>> EventIndex(np.array([1, 1]), np.array([5, 9])).next_after(np.array([1, 1]), np.array([5, 9])).tolist()
            [9, -1]
        """
        base = np.asarray(person, np.int64) * _SHIFT
        i = np.searchsorted(self.keys, base + np.asarray(day, np.int64), side="right")
        k = self.keys[np.minimum(i, self.keys.size - 1)] if self.keys.size else np.zeros_like(i)
        ok = (i < self.keys.size) & (k // _SHIFT == person)
        return np.where(ok, k - base, -1)
