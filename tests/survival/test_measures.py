"""Proven reoffending on a hand-built extract: cohorts, follow-up and waiting windows by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from djs_toolkit import open_extract
from djs_toolkit.survival import proven_reoffending, proven_reoffending_offenders
from tests.helpers import empty_tables, rows_of, write_extract

D = dt.date.fromisoformat


def _case(rid, offence, result, disposal="Fine"):
    return dict(row_id_hash=rid, offence_date=D(offence), first_hearing_date=D(result), final_result_date=D(result),
                disposal_type=disposal, age_at_offence=25)


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    t = empty_tables()
    t["mags_defendant_case"] = rows_of("mags_defendant_case", [
        _case("m1", "2014-12-01", "2015-01-10"),                         # P1 index 2015Q1
        _case("m2", "2015-06-01", "2015-08-01"),                         # P1 reoffence; index 2015Q3
        _case("m3", "2015-12-01", "2016-07-01"),                         # P1 reoffence proven by day 538
        _case("m4", "2015-03-01", "2016-09-01"),                         # P2 offence proven too late
        _case("m5", "2015-01-01", "2015-03-15", "Conditional discharge"),  # P3 index 2015Q1
        _case("m6", "2015-02-01", "2015-03-20", "Dismissed or acquitted"),  # P3: not a conviction
    ])
    t["prison_journey"] = rows_of("prison_journey", [
        dict(row_id_hash="p1", journey_start_date=D("2014-06-01"), release_date=D("2015-02-01"), first_recall_date=None,
             custody_status="Sentenced")])
    t["xjs_link"] = pd.DataFrame([
        ("mags_hocas", "m1", "P1"), ("mags_hocas", "m2", "P1"), ("mags_hocas", "m3", "P1"),
        ("mags_hocas", "m4", "P2"), ("prison_nomis", "p1", "P2"), ("mags_hocas", "m5", "P3"), ("mags_hocas", "m6", "P3"),
    ], columns=["source_dataset", "row_id_hash", "estimated_xjs_id"])
    return open_extract(write_extract(tmp_path_factory.mktemp("pr"), tables=t))


def test_offenders_first_index_per_cohort_and_windows(extract):
    off = proven_reoffending_offenders(extract)
    got = {(r.person_id, r.cohort, r.index_type): (r.reoffences, r.complete_follow_up) for r in off.itertuples()}
    assert got == {
        ("P1", "2015Q1", "court_disposal"): (2, True),   # m2 and m3 (m3 proven 538 days after)
        ("P1", "2015Q3", "court_disposal"): (1, True),   # m3
        ("P1", "2016Q3", "court_disposal"): (0, True),
        ("P2", "2015Q1", "release"): (0, True),          # m4 proven 578 days after: too late
        ("P2", "2016Q3", "court_disposal"): (0, True),
        ("P3", "2015Q1", "court_disposal"): (0, True),
    }
    # Distinct offence dates in (index - 730 days, index], the index case included.
    assert off.loc[off.person_id == "P1", "prior_contacts"].tolist() == [1, 2, 3]


def test_measures_per_cohort(extract):
    res = proven_reoffending(extract, with_cif=False).set_index("cohort")
    q1 = res.loc["2015Q1"]
    assert (q1["n_offenders"], q1["n_reoffenders"], q1["reoffences"]) == (3, 1, 2)
    assert q1["rate"] == pytest.approx(1 / 3) and q1["reoffences_per_offender"] == pytest.approx(2 / 3)
    assert q1["reoffences_per_reoffender"] == 2.0
    assert res.loc["2016Q3", "n_offenders"] == 2 and res.loc["2016Q3", "rate"] == 0
    assert res["measure"].iloc[0].startswith("court-proven")
    by = proven_reoffending(extract, by="index_type", with_cif=False)
    assert by.query("cohort == '2015Q1' and index_type == 'release'")["n_offenders"].tolist() == [1]
