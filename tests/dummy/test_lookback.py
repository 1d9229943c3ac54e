"""Tests for djs_toolkit.dummy.lookback."""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy.lookback import EventIndex


def test_window_is_open_left_closed_right_and_per_person() -> None:
    ix = EventIndex(np.array([1, 1, 1, 2]), np.array([100, 200, 830, 150]))
    assert ix.count(np.array([1, 1, 1, 2, 3]), np.array([830, 829, 99, 830, 830]), 730).tolist() == [2, 2, 0, 1, 0]
    assert ix.next_after(np.array([1, 1, 2, 3]), np.array([100, 830, 0, 0])).tolist() == [200, -1, 150, -1]
    assert ix.people.tolist() == [1, 2]


def test_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    p, d = rng.integers(0, 50, 2000), rng.integers(14_000, 20_000, 2000)
    ix = EventIndex(p, d)
    qp, qd = rng.integers(0, 50, 300), rng.integers(14_000, 20_000, 300)
    brute = [int(((p == a) & (d > b - 730) & (d <= b)).sum()) for a, b in zip(qp, qd)]
    assert ix.count(qp, qd, 730).tolist() == brute
