"""Tests for djs_toolkit.dummy.records_family_civil."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def test_family_tables(tiny_extract_dir: Path) -> None:
    c = pd.read_parquet(tiny_extract_dir / "family_cases.parquet")
    e = pd.read_parquet(tiny_extract_dir / "family_events.parquet")
    p = pd.read_parquet(tiny_extract_dir / "family_parties.parquet")
    assert c.case_start_date.between(pd.Timestamp("2011-01-01").date(), pd.Timestamp("2023-03-31").date()).all()
    assert set(e.case_number_hash) <= set(c.case_number_hash) and set(p.case_number_hash) <= set(c.case_number_hash)
    assert {"Public law", "Private law", "Matrimonial", "Family Law Act", "Adoption"} <= set(c.case_type)
    assert c.related_case_number_hash.notna().any()
    kids = p[p.party_role == "Child"]
    assert len(kids) and (kids.age_at_case_start.dropna() < 18).all()
    orders = e[e.event_type == "Order"]
    assert (
        orders.order_type.notna().mean() > 0.95
        and e.loc[e.event_type.isin(["Application", "Hearing", "Administrative"]), "order_type"].isna().all()
    )


def test_civil_tables_have_organisations_and_events_in_window(tiny_extract_dir: Path) -> None:
    c = pd.read_parquet(tiny_extract_dir / "civil_cases.parquet")
    p = pd.read_parquet(tiny_extract_dir / "civil_parties.parquet")
    e = pd.read_parquet(tiny_extract_dir / "civil_events.parquet")
    assert c.issue_date.between(pd.Timestamp("2012-01-01").date(), pd.Timestamp("2022-01-31").date()).all()
    assert (e.event_date <= pd.Timestamp("2022-01-31").date()).all()
    org = p[p.party_type == "Organisation"]
    assert len(org) and org.person_id_hash.isna().all() and not (org.party_role == "Defendant").any()
    lt = c[c.claim_type == "Landlord possession"].landlord_type
    assert set(lt.dropna()) == {"Social", "Private", "Accelerated"}
    assert c.loc[c.claim_type != "Landlord possession", "landlord_type"].isna().all()
    assert {"Possession order", "Warrant issued", "Warrant executed"} <= set(e.event_type)
