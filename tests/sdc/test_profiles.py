from __future__ import annotations

from pathlib import Path

import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.profiles import Profile, available_profiles, load_profile


def test_shipped_profiles_hold_the_reference_numbers():
    srs = load_profile("srs")
    assert (srs.threshold, srs.threshold_rule, srs.nk_n, srs.nk_k, srs.p_percent) == (10, "below", 2, 0.9, 0.10)
    assert (srs.zeros, srs.dof_threshold, srs.minmax, srs.mitigation) == ("review", 10, "fail", "suppress")
    assert srs.width == 10.0
    osf = load_profile("opensafely")
    assert (osf.threshold, osf.threshold_rule, osf.min_safe_count, osf.round_base) == (7, "at_or_below", 8, 5)
    assert (osf.mitigation, osf.rate_rounding, osf.nk_n) == ("round", "midpoint6", None)
    acro = load_profile("acro")
    assert (acro.zeros, acro.minmax, acro.dominance_negatives, acro.mitigation) == (
        "fail",
        "threshold",
        "review",
        "none",
    )
    assert available_profiles() == ["acro", "opensafely", "srs"]


def test_profile_file_extends_a_shipped_profile(tmp_path: Path):
    f = tmp_path / "tre.yaml"
    f.write_text("extends: srs\nname: tre\nthreshold: 20\n", encoding="utf-8")
    p = load_profile(f)
    assert (p.name, p.threshold, p.width, p.nk_k) == ("tre", 20, 20.0, 0.9)
    assert load_profile(str(f)).threshold == 20


def test_overrides_and_profile_objects_round_trip():
    p = load_profile("srs", protection_width=15)
    assert p.width == 15.0
    assert load_profile(p) == p
    assert isinstance(p, Profile)


@pytest.mark.parametrize(
    "bad",
    [
        {"zeros": "maybe"},
        {"threshold": 0},
        {"nk_n": 3},
        {"p_percent": 2},
        {"colour": "red"},
        {"mitigation": "round", "round_base": None},
    ],
)
def test_invalid_settings_are_user_errors(bad):
    with pytest.raises(DJSUserError):
        load_profile("srs", **bad)


def test_unknown_name_and_broken_file(tmp_path: Path):
    with pytest.raises(DJSUserError, match="Unknown profile"):
        load_profile("nope")
    f = tmp_path / "loop.yaml"
    f.write_text("extends: loop.yaml\n", encoding="utf-8")
    with pytest.raises(DJSUserError, match="loop"):
        load_profile(f)
