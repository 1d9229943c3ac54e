"""One label set across the package (issue 18): every analysis publishes the same missing label and the same age
bands (`schema.labels`), and figures order the bands naturally, never alphabetically."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from djs_toolkit import flows, journeys, overlap
from djs_toolkit.analyses import proven_reoffending_offenders, reentry_cohort
from djs_toolkit.plotting import MISSING_LABEL as PLOT_MISSING
from djs_toolkit.plotting._base import natural_key
from djs_toolkit.schema import AGE_BAND_LABELS, AGE_BANDS, MISSING_LABEL, age_band, age_band_sql

ORDER = [*AGE_BAND_LABELS, MISSING_LABEL]


def test_one_definition_in_sql_and_python_with_mojs_bands():
    assert MISSING_LABEL == PLOT_MISSING == "Missing"
    assert list(AGE_BAND_LABELS) == ["Under 10", "10-17", "18-20", "21-24", "25-29", "30-39", "40-49", "50+"]
    ages = [None, -1, 0, 9, 10, 17, 18, 20, 21, 24, 25, 29, 30, 39, 40, 49, 50, 99, 130]
    sql = duckdb.sql(f"SELECT {age_band_sql('a')} FROM unnest(?::INTEGER[]) AS t(a)", params=[ages]).fetchall()
    assert [r[0] for r in sql] == [age_band(a) for a in ages] == [
        "Missing", "Missing", "Under 10", "Under 10", "10-17", "10-17", "18-20", "18-20", "21-24", "21-24", "25-29",
        "25-29", "30-39", "30-39", "40-49", "40-49", "50+", "50+", "50+",
    ]  # fmt: skip
    # bands are contiguous whole years from 0 with no gap or overlap
    assert [lo for lo, _, _ in AGE_BANDS][1:] == [hi + 1 for _, hi, _ in AGE_BANDS[:-1]]
    assert age_band(pd.NA) == age_band(np.nan) == MISSING_LABEL


def test_natural_order_not_alphabetical():
    shuffled = ["50+", "Missing", "18-20", "10-17", "Under 10", "30-39", "21-24", "40-49", "25-29"]
    assert sorted(shuffled, key=natural_key) == ORDER
    assert sorted(shuffled) != ORDER  # alphabetical would put "10-17" first and "Under 10" after "Missing"


def _labels(frame: pd.DataFrame, col: str) -> list[str]:
    return sorted({str(v) for v in frame[col].dropna()}, key=natural_key)


@pytest.mark.slow
def test_every_module_publishes_the_same_labels(tiny_extract):
    ex = tiny_extract
    found = {
        "reentry_cohort": reentry_cohort(ex, "court_disposal"),
        "proven_reoffending_offenders": proven_reoffending_offenders(ex),
        "overlap_sets": overlap.overlap_sets(ex, ["mags_hocas", "familyman", "civil_caseman_pcol"], by="age_band"),
        "monthly_flows": flows.monthly_flows(ex, "first_entry", ["mags_hocas", "familyman"], by="age_band"),
        "transitions": journeys.transitions(ex, ["mags_hocas", "familyman", "civil_caseman_pcol"], by="age_band"),
    }
    for name, frame in found.items():
        got = _labels(frame, "age_band")
        assert set(got) <= set(ORDER), (name, got)
        assert got == [b for b in ORDER if b in got], name  # natural order
        assert len(set(got) & set(AGE_BAND_LABELS)) >= 3, (name, got)  # real bands, not one catch-all
    # family court children get ages under 10: a band, not "Missing"; civil records carry no age: "Missing"
    assert "Under 10" in _labels(found["overlap_sets"], "age_band")
    assert MISSING_LABEL in _labels(found["overlap_sets"], "age_band")
    # the missing sex: one label in cohorts, overlaps, flows and journeys
    sexes = {
        "reentry_cohort": _labels(reentry_cohort(ex, "possession_claim", outcome="any_criminal_court"), "sex"),
        "overlap_sets": _labels(overlap.overlap_sets(ex, ["mags_hocas", "civil_caseman_pcol"], by="sex"), "sex"),
        "monthly_flows": _labels(flows.monthly_flows(ex, "first_entry", ["civil_caseman_pcol"], by="sex"), "sex"),
        "transitions": _labels(journeys.transitions(ex, ["mags_hocas", "civil_caseman_pcol"], by="sex"), "sex"),
    }
    for name, got in sexes.items():
        # transitions read sex from both contacts' records, so a missing sex there is rare (none on some draws)
        want = (
            ["F", "M", MISSING_LABEL] if name != "transitions" else [s for s in ("F", "M", MISSING_LABEL) if s in got]
        )
        assert got == want and {"F", "M"} <= set(got), (name, got)
