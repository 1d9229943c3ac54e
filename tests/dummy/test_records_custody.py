"""Tests for djs_toolkit.dummy.records_custody."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def test_journeys_merge_spells_and_are_left_censored(tiny_extract_dir: Path) -> None:
    j = pd.read_parquet(tiny_extract_dir / "prison_journey.parquet")
    assert (j.journey_start_date < pd.Timestamp("2011-01-01").date()).any()  # begun before 2011
    rel = j.release_date.notna()
    assert (j.release_date[rel] >= pd.Timestamp("2011-01-01").date()).all()
    assert (j.release_date[rel] >= j.journey_start_date[rel]).all()
    assert j.release_date.isna().any()  # still inside at the extract end
    rc = j[j.custody_status == "Recall"]
    # recall_count is nullable and gets the injected 1 % missingness (missing_rate): the recorded ones are >= 1
    assert len(rc) and rc.recall_count.notna().mean() > 0.9 and (rc.recall_count.dropna() >= 1).all()
    both = rc.first_recall_date.notna() & rc.release_date.notna()
    assert (rc.first_recall_date[both] < rc.release_date[both]).all()
    rem = j[j.custody_status == "Remand"]
    assert len(rem) and rem.sentence_date.isna().all() and rem.sentence_length_days.isna().all()
    assert (j.age_at_reception.dropna() >= 15).all()  # no Secure Training Centres in P-NOMIS
    o = pd.read_parquet(tiny_extract_dir / "prison_oasys.parquet")
    i = pd.read_parquet(tiny_extract_dir / "prison_incident.parquet")
    assert set(o.custodial_journey_id_hash) <= set(j.custodial_journey_id_hash)
    assert set(i.custodial_journey_id_hash) <= set(j.custodial_journey_id_hash)
    m = o.merge(j[["custodial_journey_id_hash", "estimated_offender_id"]], on="custodial_journey_id_hash")
    assert (m.estimated_offender_id_x == m.estimated_offender_id_y).all()
    assert o.ogrs_score.dropna().between(0, 1).all()
