"""Tests for djs_toolkit.dummy.config."""

from __future__ import annotations

import json

import pytest

from djs_toolkit.dummy.config import SCALES, DummyConfig, scale_of
from djs_toolkit.errors import DJSUserError


def test_scales_grow_tenfold_and_national_is_multipart() -> None:
    assert [SCALES[s].persons for s in ("tiny", "small", "medium", "national")] == [4_700, 94_000, 940_000, 9_400_000]
    assert SCALES["tiny"].chunk == SCALES["tiny"].persons and SCALES["small"].chunk == SCALES["small"].persons
    assert 2 <= SCALES["medium"].persons // SCALES["medium"].chunk <= 99
    assert 2 <= SCALES["national"].persons // SCALES["national"].chunk <= 99  # two-digit part numbers


def test_unknown_scale_is_a_user_error_naming_the_choices() -> None:
    with pytest.raises(DJSUserError, match="tiny, small, medium, national"):
        scale_of("huge")


def test_config_round_trips_to_json() -> None:
    d = json.loads(json.dumps(DummyConfig().to_json_dict()))
    assert d["sim_start"] == "2006-01-01"
    assert d["landlord_claims_per_quarter"] == 24_000.0  # docs/data.md §13.5
    assert set(d["reentry_log_hr"]) >= {"log1p_prior_contacts_730d", "index_release", "prior_possession_claim_730d"}
