"""Tests for djs_toolkit.dummy.codes."""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy import codes
from djs_toolkit.schema import TABLES


def test_lsoa_sampled_for_a_decile_has_that_decile() -> None:
    rng = np.random.default_rng(0)
    dec = rng.integers(1, 11, 5000)
    j = codes.lsoa_for_decile(dec, rng.random(5000))
    assert (codes.decile_of_lsoa(j) == dec).all()
    assert j.min() >= 0 and j.max() < codes.N_LSOA_ENG
    assert np.bincount(codes.decile_of_lsoa(np.arange(codes.N_LSOA_ENG)))[1:].min() >= 3284


def test_offence_codes_keep_leading_zeros_and_groups_are_declared() -> None:
    assert all(len(c) == 5 and c.isdigit() for c, _, _ in codes.OFFENCES)
    assert sum(c.startswith("0") for c, _, _ in codes.OFFENCES) >= 20
    declared = TABLES["mags_defendant_case"].column("offence_group").codes
    assert {g for _, g, _ in codes.OFFENCES} <= set(declared)


def test_lsoa_codes_by_country() -> None:
    assert codes.lsoa_codes(np.array([0, 41]), np.array([False, True])).tolist() == ["E01000001", "W01000042"]
    assert abs(codes.ETHNICITY_P.sum() - 1) < 1e-12
