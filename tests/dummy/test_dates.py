"""Tests for djs_toolkit.dummy.dates."""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy.dates import NA, age_years, day, half_of, to_date64, year_of


def test_age_is_exact_around_birthdays_and_leap_days() -> None:
    dob = np.array([day(2000, 2, 29), day(2000, 2, 29), day(1990, 12, 31), day(1990, 12, 31)])
    at = np.array([day(2018, 2, 28), day(2018, 3, 1), day(2008, 12, 30), day(2008, 12, 31)])
    assert age_years(dob, at).tolist() == [17, 18, 17, 18]


def test_year_half_and_missing_dates() -> None:
    d = np.array([day(2021, 6, 30), day(2021, 7, 1)])
    assert year_of(d).tolist() == [2021, 2021]
    assert half_of(d).tolist() == ["2021H1", "2021H2"]
    assert np.isnat(to_date64(np.array([NA]))[0])
