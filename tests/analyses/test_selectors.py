"""Every analysis that names an event takes a selector: known answers on a hand-built extract.

People (dates in 2015-2017, all inside every dataset's coverage):
- F1: fined 2015-03-01, then a landlord possession claim against them 2015-09-01.
- F2: community sentence 2015-03-01, then a landlord possession claim against them 2015-09-01.
- T: possession claim against them 2016-01-01 (landlord), a magistrates' case 2016-06-01, and a money claim of their
  own (claimant) 2017-12-01.
- L: the claimant of T's claim (an individual landlord), a magistrates' case 2016-06-01.
- K: the child (15) in public law case p1 2016-01-01, custody 2017-01-01.
- R: K's parent (respondent, 40) in p1, custody 2017-01-01.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from djs_toolkit import DJSUserError, open_extract, overlap
from djs_toolkit.analyses import flows, journeys, linkage, reentry_cohort
from djs_toolkit.spine import select
from tests.helpers import empty_tables, rows_of, write_extract

D = dt.date.fromisoformat
FINE = "mags_conviction: disposal=Fine"
TENANT = "civil_claim: case_type=Landlord possession,Mortgage possession; party_role=Defendant"
CARE_CHILD = "family_case_start: case_type=Public law; party_role=Child"


def _mags(rid, day, disposal, age=30):
    return {
        "row_id_hash": rid,
        "case_id_hash": "c" + rid,
        "first_hearing_date": D(day),
        "final_result_date": D(day),
        "offence_date": D(day) - dt.timedelta(days=20),
        "disposal_type": disposal,
        "proceedings_type_desc": "Criminal",
        "gender": "M",
        "age_at_offence": age,
    }


@pytest.fixture(scope="module")
def ex(tmp_path_factory):
    t = empty_tables()
    t["mags_defendant_case"] = rows_of(
        "mags_defendant_case",
        [
            _mags("mF1", "2015-03-01", "Fine"),
            _mags("mF2", "2015-03-01", "Community sentence"),
            _mags("mT", "2016-06-01", "Dismissed or acquitted"),
            _mags("mL", "2016-06-01", "Dismissed or acquitted"),
        ],
    )
    t["civil_cases"] = rows_of(
        "civil_cases",
        [
            {"case_number_hash": c, "claim_type": t, "issue_date": D(day)}
            for c, t, day in (
                ("v1", "Landlord possession", "2015-09-01"),
                ("v2", "Landlord possession", "2015-09-01"),
                ("v3", "Landlord possession", "2016-01-01"),
                ("v4", "Money (specified)", "2017-12-01"),
            )
        ],
    )
    t["civil_parties"] = rows_of(
        "civil_parties",
        [
            {"row_id_hash": r, "case_number_hash": c, "party_type": "Individual", "party_role": role}
            for r, c, role in (
                ("vF1", "v1", "Defendant"),
                ("vF2", "v2", "Defendant"),
                ("vT", "v3", "Defendant"),
                ("vL", "v3", "Claimant"),
                ("vT4", "v4", "Claimant"),
            )
        ],
    )
    t["civil_events"] = rows_of("civil_events", [])
    t["family_cases"] = rows_of(
        "family_cases",
        [{"case_number_hash": "p1", "case_type": "Public law", "case_start_date": D("2016-01-01")}],
    )
    t["family_parties"] = rows_of(
        "family_parties",
        [
            {"row_id_hash": r, "case_number_hash": "p1", "party_role": role, "gender": "F", "age_at_case_start": a}
            for r, role, a in (("fK", "Child", 15), ("fR", "Respondent", 40))
        ],
    )
    t["family_events"] = rows_of("family_events", [])
    t["prison_journey"] = rows_of(
        "prison_journey",
        [
            {
                "row_id_hash": r,
                "custodial_journey_id_hash": "j" + r,
                "journey_start_date": D("2017-01-01"),
                "release_date": D("2017-03-01"),
                "first_recall_date": None,
                "custody_status": "Sentenced",
                "age_at_reception": a,
            }
            for r, a in (("pK", 16), ("pR", 41))
        ],
    )
    link = {
        ("mags_hocas", "mF1"): "F1",
        ("mags_hocas", "mF2"): "F2",
        ("mags_hocas", "mT"): "T",
        ("mags_hocas", "mL"): "L",
        ("civil_caseman_pcol", "vF1"): "F1",
        ("civil_caseman_pcol", "vF2"): "F2",
        ("civil_caseman_pcol", "vT"): "T",
        ("civil_caseman_pcol", "vL"): "L",
        ("civil_caseman_pcol", "vT4"): "T",
        ("familyman", "fK"): "K",
        ("familyman", "fR"): "R",
        ("prison_nomis", "pK"): "K",
        ("prison_nomis", "pR"): "R",
    }
    t["xjs_link"] = pd.DataFrame(
        [(d, r, p) for (d, r), p in link.items()], columns=["source_dataset", "row_id_hash", "estimated_xjs_id"]
    )
    return open_extract(write_extract(tmp_path_factory.mktemp("selectors"), tables=t))


@pytest.mark.parametrize(
    ("first", "then", "n_index", "events"),
    [
        ("mags_conviction", "civil_claim", 2, 2),  # any conviction: F1 and F2
        (FINE, TENANT, 1, 1),  # only F1 was fined
        (select("mags_conviction", disposal="Fine"), "civil_claim", 1, 1),  # a Selector as well as its string
        ("civil_claim", "mags_case", 4, 2),  # claimants too: L's case counts
        (TENANT, "mags_case", 3, 1),  # defendants: F1, F2 (their cases came before), T
        ("family_case_start", "custody_start", 2, 2),  # child and parent
        (CARE_CHILD, "custody_start", 1, 1),  # the child only
        (CARE_CHILD + "; age=0-14", "custody_start", 0, 0),  # K was 15
    ],
)
def test_ordered_overlap_takes_selectors(ex, first, then, n_index, events):
    got = overlap.ordered_overlap(ex, first, then, 730, window=("2015-01-01", "2017-12-31"))
    assert got[["n_index", "events_within"]].values.tolist() == [[n_index, events]]
    assert got["first"].iloc[0] == str(first) and got["then"].iloc[0] == then


def test_ordered_overlap_says_what_it_selected(ex):
    got = overlap.ordered_overlap(ex, FINE, TENANT, 365, window=("2015-01-01", "2017-12-31"))
    assert got.attrs["first"] == "magistrates' court conviction (disposal Fine)"
    assert got.attrs["then"].startswith("civil claim (case type Landlord possession or Mortgage possession")
    assert "A civil claim whose case type or party role is not recorded is not selected." in got.attrs["caveats"]


def test_memberships_and_sets_take_selectors(ex):
    win = ("2015-01-01", "2017-12-31")
    m = overlap.memberships(ex, [FINE, TENANT], window=win)
    assert m.columns.tolist() == ["person_id", FINE, TENANT]
    assert m.set_index("person_id").astype(int).to_dict("index") == {
        "F1": {FINE: 1, TENANT: 1},
        "F2": {FINE: 0, TENANT: 1},
        "T": {FINE: 0, TENANT: 1},
    }  # L (claimant) and F2's community sentence are not selected: no row
    assert m.attrs["selected"][FINE] == "magistrates' court conviction (disposal Fine)"
    # event-type columns describe the selected people; they do not add people
    typed = overlap.memberships(ex, [FINE], window=win, event_types=True)
    assert typed.columns.tolist() == ["person_id", FINE, "mags_case", "mags_conviction"]
    assert typed.values.tolist() == [["F1", True, True, True]]
    sets = overlap.overlap_sets(ex, [FINE, TENANT], window=win).set_index("combination")
    assert sets["exclusive"].to_dict() == {FINE: 0, TENANT: 2, f"{FINE} & {TENANT}": 1}
    assert sets["inclusive"].to_dict() == {FINE: 1, TENANT: 3, f"{FINE} & {TENANT}": 1}
    masks = overlap.membership_masks(ex, [FINE, "civil_claim"], window=win)
    assert masks["persons"].tolist() == [0, 0, 3, 1]  # claim only: F2, T, L; both: F1
    with pytest.raises(DJSUserError, match="named twice"):
        overlap.overlap_sets(ex, [FINE, "mags_conviction:disposal=fine"], window=win)


def test_transition_flows_take_selectors(ex):
    f = flows.monthly_flows(ex, "transition", first=FINE, then=TENANT, within_days=365)
    assert f["dataset"].unique().tolist() == [f"{FINE} -> {TENANT}"]
    assert f.loc[f["count"] > 0, ["month", "count"]].values.tolist() == [[pd.Timestamp("2015-09-01"), 1]]
    plain = flows.monthly_flows(ex, "transition", first="mags_conviction", then="civil_claim", within_days=365)
    assert plain["count"].sum() == 2
    assert f.attrs["first"] == "magistrates' court conviction (disposal Fine)"


def test_journeys_of_a_population(ex):
    win = ("2015-01-01", "2017-12-31")
    every = journeys.transitions(ex, window=win)
    pairs = {(r.from_dataset, r.to_dataset): r.persons for r in every.itertuples()}
    assert pairs == {
        ("mags_hocas", "civil_caseman_pcol"): 3,  # F1, F2, T (their own money claim)
        ("civil_caseman_pcol", "mags_hocas"): 2,  # T, L
        ("familyman", "prison_nomis"): 2,  # K, R
    }
    tenants = journeys.transitions(ex, window=win, population=TENANT)
    got = {(r.from_dataset, r.to_dataset): r.persons for r in tenants.itertuples()}
    assert got == {("mags_hocas", "civil_caseman_pcol"): 3, ("civil_caseman_pcol", "mags_hocas"): 1}
    after = journeys.transitions(ex, window=win, population=[TENANT, CARE_CHILD], from_population_event=True)
    got = {(r.from_dataset, r.to_dataset): r.persons for r in after.itertuples()}
    assert got == {  # T (both ways after the possession claim), K
        ("civil_caseman_pcol", "mags_hocas"): 1,
        ("mags_hocas", "civil_caseman_pcol"): 1,
        ("familyman", "prison_nomis"): 1,
    }
    assert after.attrs["population"] == (
        "a civil claim (case type Landlord possession or Mortgage possession; party role Defendant) or a family court "
        "case (case type Public law; party role Child)"
    )
    with pytest.raises(DJSUserError, match="needs a `population`"):
        journeys.transitions(ex, window=win, from_population_event=True)


def test_reentry_cohort_takes_a_custom_index_and_outcome(ex):
    c = reentry_cohort(ex, CARE_CHILD, outcome="custody_start", period=("2015-01-01", "2017-12-31"))
    assert c[["person_id", "index_type", "event", "duration"]].values.tolist() == [["K", CARE_CHILD, 1, 366]]
    assert c.attrs["outcome"] == "custody_start"
    c = reentry_cohort(ex, [TENANT, "possession_claim"], outcome="mags_case", period=("2015-01-01", "2017-12-31"))
    assert sorted(zip(c["person_id"], c["index_type"], c["event"], strict=True)) == sorted(
        [(p, i, e) for p, e in (("F1", 0), ("F2", 0), ("T", 1)) for i in (TENANT, "possession_claim")]
    )
    with pytest.raises(DJSUserError, match="index types are release"):
        reentry_cohort(ex, "release_day")
    with pytest.raises(DJSUserError, match="outcomes are any_criminal_court"):
        reentry_cohort(ex, "release", outcome="custody_start: disposal=Lots")


def test_linkage_sensitivity_takes_selectors(ex):
    # With no link dropped or merged every replicate is the data: the ranges are the counts themselves, so the
    # relinked events carry the columns a selector filters on (and the windowed ones keep an event it matches).
    win = ("2015-01-01", "2017-12-31")
    sets = linkage.sets_sensitivity(ex, [FINE, TENANT], window=win, drop_rate=0, merge_rate=0, reps=2)
    assert sets["exclusive"].tolist() == [0, 2, 1]
    assert (sets["exclusive_min"] == sets["exclusive"]).all() and (sets["exclusive_max"] == sets["exclusive"]).all()
    # T's own money claim (a later civil claim in the window) must not hide the possession claim against them
    late = linkage.sets_sensitivity(ex, [TENANT, "civil_claim"], window=win, drop_rate=0, merge_rate=0, reps=1)
    assert late.set_index("combination")["inclusive_min"].to_dict() == {TENANT: 3, "civil_claim": 4,
                                                                       f"{TENANT} & civil_claim": 3}  # fmt: skip
    ordered = linkage.ordered_sensitivity(ex, TENANT, "mags_case", 730, window=win, drop_rate=0, merge_rate=0, reps=2)
    assert ordered[["n_index", "n_index_min", "n_index_max"]].values.tolist() == [[3, 3, 3]]
