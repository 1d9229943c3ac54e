"""Tests for djs_toolkit.dummy.sampling."""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy.dates import day
from djs_toolkit.dummy.sampling import eligible_by_age, lognormal_days, pick_people, uniform_days


def test_weighted_picks_follow_weights() -> None:
    got = pick_people(np.random.default_rng(0), 40_000, np.array([3, 9]), np.array([1.0, 3.0]))
    assert set(got.tolist()) == {3, 9} and abs((got == 9).mean() - 0.75) < 0.01
    assert pick_people(np.random.default_rng(0), 0, np.array([1]), np.array([1.0])).size == 0


def test_dates_and_durations() -> None:
    rng = np.random.default_rng(0)
    d = uniform_days(rng, 2020, 10_000, end_day=day(2020, 3, 31))
    assert d.min() >= day(2020, 1, 1) and d.max() <= day(2020, 3, 31)
    x = lognormal_days(rng, 100, 0.5, 20_000, lo=10, hi=300)
    assert 90 <= np.median(x) <= 110 and x.min() >= 10 and x.max() <= 300
    dob = np.array([day(1990, 7, 2), day(1990, 6, 30), day(2000, 1, 1)])
    assert eligible_by_age(dob, 2008, 18, 60).tolist() == [1]
