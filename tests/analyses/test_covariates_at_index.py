"""Covariates at index read no record from after the index: removing every record that starts after a date leaves
the covariates of every index up to that date unchanged, while outcomes after it go.

The look-ahead this guards against: a person attribute taken over all of a person's records (the most frequent
sex over every record, as the spine once did) gives a possession-claim defendant a sex only if they later appear
in a criminal court, so "sex missing" meant "never came back" (small extract: outcome rate 0.06% where sex was
missing, 21% where known). The test removes the later records and asks for identical covariates.
"""

from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from djs_toolkit import open_extract, spine
from djs_toolkit.analyses import reentry_cohort

CUT = pd.Timestamp("2016-12-31")
COVARIATES = [
    "age",
    "age_band",
    "sex",
    "ethnicity_group",
    "imd_decile",
    "prior_contacts",
    "prior_possession_claim",
    "prior_family_case",
    "prior_custody",
    "prior_probation",
]


@pytest.fixture(scope="module")
def truncated(tiny_extract, tiny_extract_dir, tmp_path_factory):
    """The tiny extract with the links of every record that starts after CUT removed (an unlinked record is
    left out of the spine): a record starts at its earliest date, its first event or its offence."""
    spine.build_spine(tiny_extract)
    late = tiny_extract.sql(
        "SELECT dataset, record_id FROM _spine GROUP BY dataset, record_id "
        f"HAVING MIN(LEAST(event_date, COALESCE(offence_date, event_date))) > DATE '{CUT.date()}'"
    )
    root = tmp_path_factory.mktemp("truncated") / "extract"
    shutil.copytree(tiny_extract_dir, root)
    con = duckdb.connect()
    con.register("late", late)
    link = con.sql(
        f"SELECT x.* FROM read_parquet('{(root / 'xjs_link.parquet').as_posix()}') x ANTI JOIN late l "
        "ON l.dataset = x.source_dataset AND l.record_id = x.row_id_hash"
    ).to_arrow_table()
    (root / "xjs_link.parquet").unlink()
    pq.write_table(link, root / "xjs_link.parquet")
    return {"late_records": len(late), "extract": open_extract(root)}


def test_spine_attributes_of_events_up_to_a_date_ignore_later_records(tiny_extract, truncated):
    assert truncated["late_records"] > 1000  # the later records are many: the comparison has power
    cols = ["person_id", "dataset", "record_id", "event_type", "event_date"]
    attrs = ["sex", "ethnicity_group", "imd_decile"]
    full = spine.person_events(tiny_extract)
    cut = spine.person_events(truncated["extract"])
    full, cut = (
        f[f["event_date"] <= CUT][cols + attrs].astype({"sex": object, "ethnicity_group": object}) for f in (full, cut)
    )
    m = full.merge(cut, on=cols, how="outer", suffixes=("", "_cut"), indicator=True)
    assert (m["_merge"] == "both").all()  # the same events up to CUT
    for a in attrs:
        same = (m[a] == m[f"{a}_cut"]) | (m[a].isna() & m[f"{a}_cut"].isna())
        assert same.all(), (a, int((~same).sum()))


@pytest.mark.parametrize("index", ["possession_claim", "family_case", "release", "court_disposal"])
def test_cohort_covariates_at_index_ignore_later_records(tiny_extract, truncated, index):
    period = ("2012-01-01", str(CUT.date()))
    full = reentry_cohort(tiny_extract, index, period=period)
    cut = reentry_cohort(truncated["extract"], index, period=period)
    key = ["person_id", "index_type", "index_date", "record_id"]
    assert full[key].equals(cut[key])
    for c in COVARIATES:
        a, b = full[c].astype(object), cut[c].astype(object)
        same = (a == b) | (a.isna() & b.isna())
        assert same.all(), (c, int((~same).sum()))
    # The outcomes did go: the later records held most of them.
    assert (cut["event"] == 1).sum() < (full["event"] == 1).sum()


def test_a_later_record_would_have_given_a_sex_to_many_claimants(tiny_extract):
    """The invariance above has power: many possession-claim defendants have no sex on record at the claim but
    one on a later record (what a whole-history attribute would have read)."""
    c = reentry_cohort(tiny_extract, "possession_claim")
    spine.build_spine(tiny_extract)
    later = tiny_extract.sql("SELECT DISTINCT person_id FROM _spine WHERE sex IS NOT NULL")["person_id"].astype(
        "string"
    )
    missing = c[c["sex"] == "Missing"]
    assert len(missing) > 50
    assert missing["person_id"].isin(later).mean() > 0.2
    # Missing sex stays a level of its own, never a dropped row or a NaN.
    assert c["sex"].notna().all() and set(c["sex"].astype(str)) <= {"F", "M", "Missing"}
    assert c["age_band"].notna().all() and "Missing" in set(c["age_band"].astype(str))
