"""Multi-state journeys: the state rule person by person on the hand-built extract, and the protected tables on
the tiny dummy extract (probabilities only where the counts behind them are released)."""

from __future__ import annotations

import pandas as pd
import pytest

from djs_toolkit.analyses import journeys
from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc import Session
from tests.spine.test_build import known  # noqa: F401 (the hand-built extract fixture)


@pytest.fixture
def hand_built(request):
    """The hand-built extract of tests/spine/test_build.py (three people, known event by event)."""
    return request.getfixturevalue("known")


@pytest.fixture
def open_session(tmp_path) -> Session:
    """A session that releases every count (threshold 1): the hand-built extract has three people."""
    prof = tmp_path / "one.yaml"
    prof.write_text("extends: srs\nname: one\nthreshold: 1\n", encoding="utf-8")
    return Session(prof, ledger=False)


def _rows(j, person: int) -> list[tuple]:
    r = j.rows[j.rows["pid"] == person]
    return list(zip(r["start"], r["stop"], r["from_state"], r["to_state"], strict=True))


def test_state_rule_by_hand(hand_built, open_session):
    j = journeys.multistate(hand_built, "mags_case", horizon_days=730, step_days=365, session=open_session)
    assert j.info["people"] == 2 and j.info["late_entries"] == 0
    # A (2015-03-01): mags case to 2015-04-01 (day 31); custody 2016-01-10 (day 315) to 2016-06-01 (458); probation
    # from 2016-05-20 (446), no end recorded: active 90 days, to day 536; custody wins the overlap; censored at 730.
    assert _rows(j, 0) == [
        (0, 32, "criminal court", "no contact"),
        (32, 315, "no contact", "custody"),
        (315, 459, "custody", "probation"),
        (459, 537, "probation", "no contact"),
        (537, 730, "no contact", ""),
    ]
    # C (2016-01-01): mags case to 2016-02-01; the 2021 case is after the horizon
    assert _rows(j, 1) == [(0, 32, "criminal court", "no contact"), (32, 730, "no contact", "")]
    occ = j.occupation.set_index(["time", "state"])["estimate"]
    assert occ[(365, "no contact")] == pytest.approx(0.5) and occ[(365, "custody")] == pytest.approx(0.5)
    assert occ[(730, "no contact")] == pytest.approx(1.0)
    moves = j.fit.transitions.set_index(["from_state", "to_state"])["transitions"].to_dict()
    assert moves[("criminal court", "no contact")] == 2 and sum(moves.values()) == 5


def test_civil_claim_lasts_to_its_last_order_and_left_out_states_are_no_contact(hand_built, open_session):
    j = journeys.multistate(hand_built, "family_case_start", horizon_days=730, step_days=365, session=open_session)
    # B (2015-05-05): family case to 2015-10-10 (day 158); possession claim 2016-02-02 (day 273), last warrant
    # executed 2016-08-08 (day 461) + 90 days
    assert _rows(j, 0) == [
        (0, 159, "family", "no contact"),
        (159, 273, "no contact", "civil"),
        (273, 552, "civil", "no contact"),
        (552, 730, "no contact", ""),
    ]
    only = journeys.multistate(
        hand_built,
        "family_case_start: case_type=Private law",
        states=["family"],
        horizon_days=730,
        session=open_session,
        name="only",
    )
    assert only.states == ("no contact", "family")
    assert _rows(only, 0) == [(0, 159, "family", "no contact"), (159, 730, "no contact", "")]


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"states": ["prison"]}, "Unknown state"),
        ({"start": "no_such_event"}, "neither"),
        ({"step_days": 0}, "at least"),
    ],
)
def test_refusals(hand_built, kwargs, needle):
    args = {"start": "mags_case", **kwargs}
    with pytest.raises(DJSUserError, match=needle):
        journeys.multistate(hand_built, **args)


def test_protected_tables_on_tiny(tiny_extract):
    j = journeys.multistate(tiny_extract, "possession_claim", horizon_days=730, step_days=182, by="sex")
    # late entry: claims before the first day every dataset covers are followed from that day
    assert j.info["late_entries"] > 0 and (j.rows.groupby("pid")["start"].min() > 0).sum() == j.info["late_entries"]
    assert j.rows["stop"].max() <= 730 and (j.rows["start"] < j.rows["stop"]).all()
    counts = j.counts.table.drop(index="All", errors="ignore")
    shown = counts.drop(columns="All").stack()
    assert ((shown >= 10) | (shown == 0)).all()  # released counts are safe or zero
    occ = j.occupation
    # a probability is published exactly where its count is
    assert (occ["estimate"].isna() == occ["n"].isna()).all()
    # the counts behind each value (for save_table's counts=) are the unprotected ones, the same where released
    behind = j.counts_behind["occupation"]
    shown_n = occ["n"].notna().to_numpy()
    assert (behind["estimate"].to_numpy()[shown_n] == occ["n"].to_numpy()[shown_n]).all()
    assert (occ.groupby(["sex", "time"])["estimate"].sum() <= 1.0 + 1e-9).all()
    ok = occ.dropna()
    assert ((ok["ci_lower"] <= ok["estimate"] + 1e-12) & (ok["estimate"] <= ok["ci_upper"] + 1e-12)).all()
    # intensities only where every interval count up to the time is released
    moves = j.transitions.table.drop(index="All", errors="ignore").drop(columns="All")
    for row in j.intensities.dropna(subset=["cumhaz"]).itertuples():
        label = f"{row.sex} | {row.transition}"
        cols = [c for c in moves.columns if int(c.split("-")[1]) <= row.time]
        assert moves.loc[label, cols].notna().all()
        assert row.transitions == pytest.approx(float(moves.loc[label, cols].sum()))
    assert {j.counts.status, j.transitions.status, j.sequences.status} <= {"pass", "review"}
    seq = j.sequences.table
    assert "end of follow-up" in seq.columns and pd.api.types.is_numeric_dtype(seq["All"])
    # Structural zeros the state rule makes: at time zero nobody followed from then is in no contact (the claim's own
    # civil contact is active that day); no move is from a state into itself. Marked, never asked about as zeros.
    for out in (j.counts, j.sequences):
        marks = out.reasons[out.reasons["rule"] == "StructuralZeroCheck"]
        assert len(marks) and set(marks["status"]) == {"pass"}
    at_zero = j.counts.table.loc[[i for i in j.counts.table.index if str(i).endswith(" | 0")]]
    assert (at_zero["no contact"] == 0).all()


def test_no_structural_zeros_when_the_start_is_no_contact(hand_built, open_session):
    # A conviction is not a contact of its own: at time zero the person may be in no contact, so nothing is declared.
    j = journeys.multistate(hand_built, "mags_conviction", horizon_days=730, step_days=365, session=open_session)
    assert "StructuralZeroCheck" not in set(j.counts.reasons["rule"])
