"""Tests for djs_toolkit.dummy.records_probation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from djs_toolkit.dummy.records_probation import ethnicity_strings
from djs_toolkit.schema import TABLES


def test_ethnicity_missing_codes_at_the_configured_rate() -> None:
    s = ethnicity_strings(np.random.default_rng(0), np.zeros(20_000, dtype=np.int8), 0.1)
    missing = TABLES["probation_flatfile"].column("ethnicity_desc").missing_codes
    assert abs(np.isin(s, missing).mean() - 0.1) < 0.01
    assert set(s) <= set(TABLES["probation_flatfile"].column("ethnicity_desc").codes)


def test_probation_window_defects_and_requirements(tiny_extract_dir: Path) -> None:
    f = pd.read_parquet(tiny_extract_dir / "probation_flatfile.parquet")
    r = pd.read_parquet(tiny_extract_dir / "probation_rqmnts.parquet")
    assert f.referral_date.between(pd.Timestamp("2014-01-01").date(), pd.Timestamp("2020-12-31").date()).all()
    assert f.event_id_hash.duplicated().any() and f.row_id_hash.is_unique
    eth = set(f.ethnicity_desc)
    assert {"White : Irish", "White: British/English/Welsh/Scottish/Northern Irish"} & eth
    assert eth & {"Refusal", "Z_Dummy Ethnicity 04", "Z_Dummy Ethnicity 05", ""}
    assert f.disposal_type_description.str.contains("Licence|Custody").any()
    assert set(r.event_id_hash) <= set(f.event_id_hash)
    units = r.groupby("rqmnt_type_main_category_desc").rqmnt_type_main_units_desc.nunique()
    assert (units > 1).any()  # mixed units within a requirement type (docs/data.md §14.7)
    assert set(r.rqmnt_type_main_units_desc.dropna()) == {"Days", "Months", "Hours"}
    assert 0.3 < r.rqmnt_commencement_date.isna().mean() < 0.6  # often missing (docs/data.md §14.6)
    assert (r.rqmnt_start_date.dropna() >= pd.Timestamp("2013-01-01").date()).all()
