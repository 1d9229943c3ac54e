"""Tests for djs_toolkit.dummy.records_courts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.dummy.config import SCALES
from djs_toolkit.dummy.dates import day
from djs_toolkit.dummy.records_courts import keep_after_cliff


def test_keep_after_cliff_thins_only_after_2021() -> None:
    rng = np.random.default_rng(0)
    d = np.r_[np.full(1000, day(2019, 5, 1)), np.full(10_000, day(2022, 3, 1))]
    k = keep_after_cliff(rng, d, {"2022H1": 0.25})
    assert k[:1000].all() and abs(k[1000:].mean() - 0.25) < 0.02


def test_mags_and_crown_rows_are_coherent(tiny_extract_dir: Path) -> None:
    m = pd.read_parquet(tiny_extract_dir / "mags_defendant_case.parquet")
    assert (m.first_hearing_date >= pd.Timestamp("2011-01-01").date()).all()
    crim = m[m.proceedings_type_desc == "Criminal"]
    ok = crim.offence_date.notna()
    assert (crim.offence_date[ok] <= crim.first_hearing_date[ok]).all()
    fin = m.final_result_date.notna()
    assert (m.final_result_date[fin] >= m.first_hearing_date[fin]).all()
    assert set(m.proceedings_type_desc.dropna()) == {"Criminal", "Breach", "Non-criminal"}
    assert (
        m.breach_marker.fillna(False) == (m.proceedings_type_desc == "Breach")
    ).all() or m.proceedings_type_desc.isna().any()
    assert not m.proceedings_type_desc.str.contains("Single Justice", na=False).any()
    codes = m.ho_offence_code.dropna()
    assert codes.str.fullmatch(r"\d{5}").all() and codes.str.startswith("0").any()
    sent = m[m.disposal_type == "Committed to Crown Court"]
    assert sent.committed_to_crown_flag.fillna(True).all()
    c = pd.read_parquet(tiny_extract_dir / "crown_defendant_case.parquet")
    assert (c.receipt_date >= pd.Timestamp("2013-01-01").date()).all()
    j = pd.read_parquet(tiny_extract_dir / "mags_crown_journey.parquet")
    assert set(j.mc_case_id_hash) <= set(sent.case_id_hash) | set(m.case_id_hash)
    assert set(j.cc_defendant_on_case_id_hash) <= set(c.defendant_on_case_id_hash)
    assert len(j) > 0.7 * (c.case_type != "Appeal").sum() * 0.5
    o = pd.read_parquet(tiny_extract_dir / "mags_offence.parquet")
    prin = o[o.principal_offence_flag.fillna(False)]
    assert prin.case_id_hash.is_unique and set(o.case_id_hash) <= set(m.case_id_hash)


@pytest.mark.slow
def test_court_volumes_at_national_scale_and_common_platform_cliff(small_con) -> None:
    """docs/data.md §13.1: about 1.3 M magistrates' rows and 110-130 k Crown rows a year; coverage falls from 2021."""
    from _measures import yearly_rows

    f = 1e7 / SCALES["small"].persons
    mags = yearly_rows(small_con, "mags_defendant_case", "first_hearing_date") * f
    crown = yearly_rows(small_con, "crown_defendant_case", "receipt_date") * f
    assert 1.3e6 * 0.8 <= mags.loc[2012:2019].mean() <= 1.3e6 * 1.2, mags.to_dict()
    assert 95_000 <= crown.loc[2013:2019].mean() <= 145_000, crown.to_dict()
    assert mags.loc[2022] < 0.3 * mags.loc[2019] and crown.loc[2022] < 0.6 * crown.loc[2019]
