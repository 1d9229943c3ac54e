"""Re-entry cohorts on a hand-built extract: durations, street time, censoring and priors by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from djs_toolkit import DJSUserError, open_extract
from djs_toolkit.analyses import reentry_cohort
from tests.helpers import empty_tables, rows_of, write_extract

D = dt.date.fromisoformat


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    t = empty_tables()
    t["mags_defendant_case"] = rows_of(
        "mags_defendant_case",
        [
            dict(
                row_id_hash="m1",
                first_hearing_date=D("2015-03-01"),
                final_result_date=D("2015-04-01"),
                offence_date=D("2015-02-01"),
                disposal_type="Fine",
                age_at_offence=30,
            ),
            dict(
                row_id_hash="m2",
                first_hearing_date=D("2016-10-01"),
                final_result_date=D("2016-11-01"),
                offence_date=D("2016-09-01"),
                disposal_type="Fine",
                age_at_offence=31,
            ),
            # Offence inside the waiting period before coverage ends: not an outcome.
            dict(
                row_id_hash="m3",
                first_hearing_date=D("2020-11-01"),
                final_result_date=None,
                offence_date=D("2020-10-01"),
                disposal_type=None,
                age_at_offence=50,
            ),
        ],
    )
    t["prison_journey"] = rows_of(
        "prison_journey",
        [
            dict(
                row_id_hash="p1",
                journey_start_date=D("2016-01-10"),
                release_date=D("2016-06-01"),
                first_recall_date=None,
                custody_status="Sentenced",
                age_at_reception=30,
            ),
            dict(
                row_id_hash="p2",
                journey_start_date=D("2016-07-01"),
                release_date=D("2016-07-11"),
                first_recall_date=None,
                custody_status="Sentenced",
                age_at_reception=31,
            ),
        ],
    )
    t["civil_cases"] = rows_of(
        "civil_cases", [dict(case_number_hash="c1", claim_type="Landlord possession", issue_date=D("2016-02-02"))]
    )
    t["civil_parties"] = rows_of(
        "civil_parties",
        [dict(row_id_hash="v1", case_number_hash="c1", party_type="Individual", party_role="Defendant")],
    )
    t["xjs_link"] = pd.DataFrame(
        [
            ("mags_hocas", "m1", "A"),
            ("mags_hocas", "m2", "A"),
            ("prison_nomis", "p1", "A"),
            ("prison_nomis", "p2", "A"),
            ("civil_caseman_pcol", "v1", "B"),
            ("mags_hocas", "m3", "B"),
        ],
        columns=["source_dataset", "row_id_hash", "estimated_xjs_id"],
    )
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


# ---- Definitions against the dummy generator's truth (issue 7 item 6): one small extract, one person per rule.


def _mags(rid, offence, result, disposal="Fine", ptype="Criminal", breach=False, code="00101", age=30, hearing=None):
    return dict(
        row_id_hash=rid,
        case_id_hash=f"c_{rid}",
        offence_date=D(offence) if offence else None,
        first_hearing_date=D(hearing or result),
        final_result_date=D(result),
        disposal_type=disposal,
        proceedings_type_desc=ptype,
        breach_marker=breach,
        ho_offence_code=code,
        age_at_offence=age,
    )


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    t = empty_tables()
    t["mags_defendant_case"] = rows_of(
        "mags_defendant_case",
        [
            # Family flags: one case-end index each on 2016-03-01.
            _mags("f17", "2016-01-01", "2016-03-01"),
            _mags("f18", "2016-01-01", "2016-03-01"),
            _mags("fna", "2016-01-01", "2016-03-01"),
            # Proceedings type: an index, then a breach and a non-criminal case of unknown type, then a new offence
            # of unknown type (criminal: it has an offence date and code and no breach marker).
            _mags("b1", "2015-01-01", "2015-02-01"),
            _mags("b2", "2015-03-01", "2015-03-20", "Otherwise dealt with", ptype=None, breach=True, code=None),
            _mags("b3", None, "2015-04-01", "Otherwise dealt with", ptype=None, code=None),
            _mags("b4", "2015-06-01", "2015-07-01", ptype=None),
            # Disposal from the principal offence: D's main case (community sentence) lost its disposal; a further
            # case of the incident was fined. E's only case lost a fine.
            _mags("d9", "2016-05-01", "2016-06-01", None),
            _mags("d2", "2016-05-01", "2016-06-01"),
            _mags("e1", "2016-05-01", "2016-06-01", None),
            # Age at index.
            _mags("a1", "2015-06-01", "2015-07-01", age=17),
            _mags("a21", "2015-01-01", "2015-01-20", age=17),
            _mags("a22", "2015-12-01", "2016-01-15", age=17),
            _mags("a31", "2015-01-01", "2015-01-20", age=40),
            _mags("a32", "2015-12-01", "2016-01-15", age=17),
            _mags("a41", "2015-01-01", "2015-01-20", age=17),
            _mags("a42", "2015-12-01", "2016-01-15", age=None),
        ],
    )
    t["mags_offence"] = rows_of(
        "mags_offence",
        [
            dict(
                offence_id_hash="o1",
                case_id_hash="c_d9",
                offence_date=D("2016-05-01"),
                principal_offence_flag=True,
                disposal_type="Community sentence",
            ),
            dict(
                offence_id_hash="o2",
                case_id_hash="c_e1",
                offence_date=D("2016-05-01"),
                principal_offence_flag=True,
                disposal_type="Fine",
            ),
            dict(
                offence_id_hash="o3",
                case_id_hash="c_e1",
                offence_date=D("2016-04-30"),
                principal_offence_flag=False,
                disposal_type="Immediate custody",
            ),
        ],
    )
    t["family_cases"] = rows_of(
        "family_cases",
        [
            dict(
                case_number_hash=f"fc{k}",
                case_type="Family Law Act",
                case_start_date=D("2015-06-01"),
                case_end_date=None,
            )
            for k in ("17", "18", "na")
        ],
    )
    t["family_parties"] = rows_of(
        "family_parties",
        [
            dict(row_id_hash="p17", case_number_hash="fc17", party_role="Respondent", age_at_case_start=17),
            dict(row_id_hash="p18", case_number_hash="fc18", party_role="Respondent", age_at_case_start=18),
            dict(row_id_hash="pna", case_number_hash="fcna", party_role="Applicant", age_at_case_start=None),
        ],
    )
    t["probation_flatfile"] = rows_of(
        "probation_flatfile",
        [
            dict(
                row_id_hash="s1",
                event_id_hash="e1",
                referral_date=D("2016-01-10"),
                main_offence_date=D("2015-12-01"),
                disposal_type_description="ORA Community Order",
                age_at_offence=40,
            ),
            dict(
                row_id_hash="s2",
                event_id_hash="e2",
                referral_date=D("2017-01-10"),
                main_offence_date=D("2016-12-01"),
                disposal_type_description=None,
                age_at_offence=41,
            ),
            # A's later record: 18 at an offence after the index a1.
            dict(
                row_id_hash="sa",
                event_id_hash="e3",
                referral_date=D("2015-09-01"),
                main_offence_date=D("2015-07-20"),
                disposal_type_description="ORA Community Order",
                age_at_offence=18,
            ),
        ],
    )
    t["prison_journey"] = rows_of(
        "prison_journey",
        [
            dict(
                row_id_hash="j1",
                journey_start_date=D("2016-01-01"),
                release_date=D("2016-03-01"),
                first_recall_date=None,
                custody_status=None,
                sentence_type=None,
                age_at_reception=30,
            ),
            dict(
                row_id_hash="j2",
                journey_start_date=D("2017-01-01"),
                release_date=D("2017-06-01"),
                first_recall_date=None,
                custody_status=None,
                sentence_type="Determinate",
                age_at_reception=31,
            ),
        ],
    )
    link = [("mags_hocas", r, r.upper()) for r in ("f17", "f18", "fna", "e1", "a1")]
    link += [("familyman", "p17", "F17"), ("familyman", "p18", "F18"), ("familyman", "pna", "FNA")]
    link += [("mags_hocas", r, "B") for r in ("b1", "b2", "b3", "b4")] + [("mags_hocas", r, "D") for r in ("d9", "d2")]
    link += [("mags_hocas", f"a{k}{j}", f"A{k}") for k in (2, 3, 4) for j in (1, 2)]
    link += [
        ("probation_delius", "s1", "S"),
        ("probation_delius", "s2", "S"),
        ("probation_delius", "sa", "A1"),
        ("prison_nomis", "j1", "R"),
        ("prison_nomis", "j2", "R"),
    ]
    t["xjs_link"] = pd.DataFrame(link, columns=["source_dataset", "row_id_hash", "estimated_xjs_id"])
    return open_extract(write_extract(tmp_path_factory.mktemp("cohort_defs"), tables=t))


def test_a_family_party_is_adult_at_18_or_with_no_recorded_age(defs):
    # The truth's flag: adult applicant or respondent (18 or over at the case start). A respondent of 17 is
    # not; a party without a recorded age and not a child party counts as adult.
    c = reentry_cohort(defs, "case_end").set_index("person_id")
    assert c.loc[["F17", "F18", "FNA"], "prior_family_case"].tolist() == [False, True, True]
    assert c.loc[["F17", "F18", "FNA"], "prior_fla_case"].tolist() == [False, True, True]
    f = reentry_cohort(defs, "family_case")
    assert sorted(f["record_id"]) == ["p18", "pna"]


def test_breach_and_non_criminal_cases_of_unknown_type_are_not_offences(defs):
    c = reentry_cohort(defs, "case_end", outcome="magistrates").set_index("record_id")
    # b2 (breach_marker) and b3 (no offence date or code) are not new offences: neither an index nor an
    # outcome; b1's outcome is b4's offence, 2015-02-01 -> 2015-06-01 = 120 days.
    assert sorted(c.index[c["person_id"] == "B"]) == ["b1", "b4"]
    assert (c.loc["b1", "event"], c.loc["b1", "duration"]) == (1, 120)
    assert c.loc["b1", "outcome_date"] == pd.Timestamp("2015-06-01")
    # Offence dates in (2013-06-01, 2015-07-01]: 2015-01-01 and 2015-06-01; the breach date is not one.
    assert c.loc["b4", "prior_contacts"] == 2


def test_a_missing_case_disposal_is_the_principal_offences(defs):
    c = reentry_cohort(defs, "case_end")
    # D's incident ended in a community sentence (principal offence of d9): no case-end index, not d2's fine.
    assert "D" not in set(c["person_id"])
    # E's case lost its fine: the principal offence's (not the custody of a further offence) makes it an index.
    assert c.loc[c["person_id"] == "E1", "record_id"].tolist() == ["e1"]


def test_probation_and_release_indexes_need_a_known_sentence(defs):
    # A probation event without a disposal description may be a licence: not a probation start.
    p = reentry_cohort(defs, "probation_start")
    assert p.loc[p["person_id"] == "S", "record_id"].tolist() == ["s1"]
    # Custody status missing: a journey with a sentence type is a sentence, one without is a remand.
    r = reentry_cohort(defs, "release")
    assert r["record_id"].tolist() == ["j2"]


def test_age_at_index_from_the_birth_dates_the_earlier_records_allow(defs):
    c = reentry_cohort(defs, ["case_end", "probation_start"]).set_index("record_id")
    # a22: 17 at 2015-12-01 puts birth in (1997-12-01, 1998-12-01], a21 (17 at 2015-01-01) in
    # (1997-01-01, 1998-01-01]: together (1997-12-01, 1998-01-01], midpoint 1997-12-17, so 18 on 2016-01-15
    # (the index record alone: floor(17 + 0.5 + 45 / 365.25) = 17).
    assert c.loc["a22", "age"] == 18 and c.loc["a22", "age_band"] == "18-20"
    # a32: the earlier record (40 at 2015-01-01) contradicts it: the index record's own interval, midpoint
    # 1998-06-02, 17 on 2016-01-15.
    assert c.loc["a32", "age"] == 17
    # a42 has no age: a41's interval (1997-01-01, 1998-01-01], midpoint 1997-07-03, 18 on 2016-01-15.
    assert c.loc["a42", "age"] == 18
    # a1: 17 at 2015-06-01, birth in (1997-06-01, 1998-06-01], midpoint 1997-12-01: 17 on 2015-07-01. The
    # probation record sa (18 at 2015-07-20, after the index) would give 18 but is not used for a1; for sa's
    # own index (2015-09-01) both are: (1997-06-01, 1997-07-20], midpoint 1997-06-26, 18.
    assert c.loc["a1", "age"] == 17
    assert c.loc["sa", "age"] == 18
