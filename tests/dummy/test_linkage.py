"""Tests for djs_toolkit.dummy.linkage: estimated ids against truth, on the tiny and small extracts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.linkage import EST_COLUMN
from djs_toolkit.schema import DATASETS


def _joined(root: Path, label: str) -> pd.DataFrame:
    t = DATASETS[label].person_table
    df = pd.read_parquet(root / f"{t}.parquet")
    pm = pd.read_parquet(root / "truth" / "person_map.parquet")
    return df.merge(pm[pm.source_dataset == label], on="row_id_hash", how="left")


def test_every_person_record_has_one_link_row_and_organisations_none(tiny_extract_dir: Path) -> None:
    link = pd.read_parquet(tiny_extract_dir / "xjs_link.parquet")
    assert not link.duplicated(["source_dataset", "row_id_hash"]).any()
    for label in EST_COLUMN:
        t = pd.read_parquet(tiny_extract_dir / f"{DATASETS[label].person_table}.parquet")
        rows = set(link.loc[link.source_dataset == label, "row_id_hash"])
        if label == "civil_caseman_pcol":
            people = t[t.party_type == "Individual"]
            assert rows == set(people.row_id_hash)
            assert not rows & set(t.loc[t.party_type == "Organisation", "row_id_hash"])
            assert t.loc[t.party_type == "Organisation", "estimated_person_id"].isna().all()
        else:
            assert rows == set(t.row_id_hash), label


def _split_share(df: pd.DataFrame, est: str) -> float:
    """Share of true persons (with 2+ records) whose records carry more than one estimated id."""
    g = df.groupby("true_person_id")[est].agg(["nunique", "size"])
    g = g[g["size"] >= 2]
    return float((g["nunique"] > 1).mean())


def _merge_share(df: pd.DataFrame, est: str) -> float:
    g = df.groupby(est)["true_person_id"].nunique()
    return float((g > 1).mean())


@pytest.mark.slow
def test_false_splits_and_merges_at_configured_rates_worse_in_family_and_civil(small_extract_dir: Path) -> None:
    cfg = DummyConfig()
    mags = _joined(small_extract_dir, "mags_hocas")
    fam = _joined(small_extract_dir, "familyman")
    civ = _joined(small_extract_dir, "civil_caseman_pcol").dropna(subset=["true_person_id"])
    s_mags = _split_share(mags, "estimated_defendant_id")
    s_fam = _split_share(fam, "estimated_person_id")
    s_civ = _split_share(civ, "estimated_person_id")
    # Persons with many records are split more often than the per-record rate, so bounds are loose
    # but ordered: criminal < family, civil (UG82, docs/data.md §1.5).
    assert cfg.split_rate["mags_hocas"] <= s_mags <= 0.25
    assert s_fam > s_mags and s_civ > s_mags
    m_mags = _merge_share(mags, "estimated_defendant_id")
    assert 0.5 * cfg.merge_rate["mags_hocas"] <= m_mags <= 3 * cfg.merge_rate["mags_hocas"]
    # Children and respondents are split more than applicants.
    by_role = {r: _split_share(fam[fam.party_role == r], "estimated_person_id") for r in ("Applicant", "Child")}
    ch = fam[fam.party_role == "Child"]
    assert len(ch) > 1000 and by_role["Child"] >= by_role["Applicant"] * 0.9


def test_xjs_ids_never_equal_true_ids_and_mostly_agree(tiny_extract_dir: Path) -> None:
    link = pd.read_parquet(tiny_extract_dir / "xjs_link.parquet")
    pm = pd.read_parquet(tiny_extract_dir / "truth" / "person_map.parquet")
    df = link.merge(pm, on=["source_dataset", "row_id_hash"])
    assert len(df) == len(link)
    assert not set(df.estimated_xjs_id) & set(df.true_person_id)
    # Clusters and persons agree for the great majority of records.
    per_cluster = df.groupby("estimated_xjs_id").true_person_id.nunique()
    assert (per_cluster == 1).mean() > 0.97
    n_true, n_est = df.true_person_id.nunique(), df.estimated_xjs_id.nunique()
    assert n_true < n_est < 1.2 * n_true  # splits outnumber merges
