"""Re-entry cohorts on a hand-built extract: durations, street time, censoring and priors by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from djs_toolkit import DJSUserError, open_extract
from djs_toolkit.survival import reentry_cohort
from tests.helpers import empty_tables, rows_of, write_extract

D = dt.date.fromisoformat


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    t = empty_tables()
    t["mags_defendant_case"] = rows_of("mags_defendant_case", [
        dict(row_id_hash="m1", first_hearing_date=D("2015-03-01"), final_result_date=D("2015-04-01"),
             offence_date=D("2015-02-01"), disposal_type="Fine", age_at_offence=30),
        dict(row_id_hash="m2", first_hearing_date=D("2016-10-01"), final_result_date=D("2016-11-01"),
             offence_date=D("2016-09-01"), disposal_type="Fine", age_at_offence=31),
        # Offence inside the waiting period before coverage ends: not an outcome.
        dict(row_id_hash="m3", first_hearing_date=D("2020-11-01"), final_result_date=None,
             offence_date=D("2020-10-01"), disposal_type=None, age_at_offence=50),
    ])
    t["prison_journey"] = rows_of("prison_journey", [
        dict(row_id_hash="p1", journey_start_date=D("2016-01-10"), release_date=D("2016-06-01"), first_recall_date=None, custody_status="Sentenced",
             age_at_reception=30),
        dict(row_id_hash="p2", journey_start_date=D("2016-07-01"), release_date=D("2016-07-11"), first_recall_date=None, custody_status="Sentenced",
             age_at_reception=31),
    ])
    t["civil_cases"] = rows_of("civil_cases", [
        dict(case_number_hash="c1", claim_type="Landlord possession", issue_date=D("2016-02-02"))])
    t["civil_parties"] = rows_of("civil_parties", [
        dict(row_id_hash="v1", case_number_hash="c1", party_type="Individual", party_role="Defendant")])
    t["xjs_link"] = pd.DataFrame([
        ("mags_hocas", "m1", "A"), ("mags_hocas", "m2", "A"), ("prison_nomis", "p1", "A"), ("prison_nomis", "p2", "A"),
        ("civil_caseman_pcol", "v1", "B"), ("mags_hocas", "m3", "B"),
    ], columns=["source_dataset", "row_id_hash", "estimated_xjs_id"])
    return open_extract(write_extract(tmp_path_factory.mktemp("cohort"), tables=t))


def test_release_index_with_street_time(extract):
    c = reentry_cohort(extract, "release")
    a = c.set_index("record_id").loc["p1"]
    assert a["index_date"] == pd.Timestamp("2016-06-01")
    # Offence 2016-09-01 is 92 days after release; 10 of them in custody (p2).
    assert (a["event"], a["custody_days"], a["duration"]) == (1, 10, 82)
    # The index journey itself is not a prior custody; p1 is one for p2's release.
    assert a["prior_contacts"] == 1 and not a["prior_custody"] and not a["prior_possession_claim"]
    assert a["outcome_date"] == pd.Timestamp("2016-09-01") and a["censor_reason"] == ""
    b = c.set_index("record_id").loc["p2"]
    assert (b["event"], b["duration"]) == (1, 52)  # 2016-07-11 -> 2016-09-01
    assert b["prior_custody"]
    no_street = reentry_cohort(extract, "release", street_time=False).set_index("record_id")
    assert no_street.loc["p1", "duration"] == 92


def test_court_disposal_subtracts_all_custody_between(extract):
    c = reentry_cohort(extract, "court_disposal").set_index("record_id")
    assert list(c.index) == ["m1", "m2"]
    # m1: conviction 2015-04-01 -> offence 2016-09-01 = 519 days, 143 + 10 in custody.
    assert (c.loc["m1", "event"], c.loc["m1", "custody_days"], c.loc["m1", "duration"]) == (1, 153, 366)
    # m2: no later offence before 2020-07-01 (courts observed to 2020-12-31 less 183 waiting days).
    assert c.loc["m2", "event"] == 0 and c.loc["m2", "censor_reason"] == "coverage_end"
    assert c.loc["m2", "duration"] == (pd.Timestamp("2020-07-01") - pd.Timestamp("2016-11-01")).days


def test_possession_claim_censored_at_follow_up_end(extract):
    c = reentry_cohort(extract, "possession_claim")
    assert len(c) == 1 and c["person_id"].iloc[0] == "B"
    assert c["event"].iloc[0] == 0
    assert c["duration"].iloc[0] == (pd.Timestamp("2020-07-01") - pd.Timestamp("2016-02-02")).days
    assert c.attrs["follow_up_end"] == pd.Timestamp("2020-07-01")


def test_competing_event_and_any_justice_contact(extract):
    c = reentry_cohort(extract, "court_disposal", competing=["custody_start"]).set_index("record_id")
    # m1: custody (2016-01-10) comes before the new offence: competing, at 284 days.
    assert (c.loc["m1", "event"], c.loc["m1", "censor_reason"], c.loc["m1", "duration"]) == (2, "competing", 284)
    j = reentry_cohort(extract, "possession_claim", outcome="any_justice_contact")
    # B's next contact anywhere: the mags case first heard 2020-11-01, before the extract end.
    assert j["event"].iloc[0] == 1 and j["outcome_date"].iloc[0] == pd.Timestamp("2020-11-01")


def test_unknown_index_is_a_user_error(extract):
    with pytest.raises(DJSUserError, match="index types are release, court_disposal"):
        reentry_cohort(extract, "arrest")
