"""Transitions between jurisdictions on the hand-built spine extract (known person by person)."""

from __future__ import annotations

from djs_toolkit.analyses.journeys import transitions
from tests.spine.test_build import known  # noqa: F401 (the hand-built extract fixture)


def test_transitions_by_hand(known):
    t = transitions(known, window=("2011-01-01", "2022-12-31"))
    rows = {(r.from_dataset, r.to_dataset): (r.transitions, r.persons, r.median_days) for r in t.itertuples()}
    # A: mags case 2015-03-01 -> custody 2016-01-10 (315 days) -> probation 2016-05-20 (131 days).
    # B: family case 2015-05-05 -> civil claim 2016-02-02 (273 days). C: mags only.
    assert rows == {
        ("mags_hocas", "prison_nomis"): (1, 1, 315.0),
        ("prison_nomis", "probation_delius"): (1, 1, 131.0),
        ("familyman", "civil_caseman_pcol"): (1, 1, 273.0),
    }
    within = transitions(known, window=("2011-01-01", "2022-12-31"), within_days=200)
    assert within[["from_dataset", "to_dataset"]].values.tolist() == [["prison_nomis", "probation_delius"]]
    by = transitions(known, window=("2011-01-01", "2022-12-31"), by="sex")
    # Grouped at the later contact, from A's records up to it: at the reception (2016-01-10) A's records say M
    # once (mags) and F once (prison): a tie, alphabetical F; at the probation start M leads 2-1.
    assert set(zip(by["from_dataset"], by["sex"])) == {("mags_hocas", "F"), ("prison_nomis", "M"), ("familyman", "F")}
