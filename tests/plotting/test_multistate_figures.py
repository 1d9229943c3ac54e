"""occupation_plot and sequence_plot: drawn only from protected tables, withheld parts marked and never drawn as 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting import SUPPRESSED, occupation_plot, sequence_plot


def _occupation() -> pd.DataFrame:
    rows = []
    for sex in ["F", "M"]:
        for t, probs in [(0, [0.0, 0.9, 0.1]), (90, [0.5, 0.3, np.nan]), (180, [0.7, np.nan, np.nan])]:
            for s, p in zip(["no contact", "civil", "family"], probs, strict=True):
                rows.append((sex, t, s, p))
    return pd.DataFrame(rows, columns=["sex", "time", "state", "estimate"])


def test_occupation_stacks_released_and_marks_the_withheld_share():
    fig = occupation_plot(_occupation(), by="sex")
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches if p.get_height() > 0)
    # released segments as given; the withheld share of each time is 1 minus the released ones (90: 0.2, 180: 0.3)
    assert heights == sorted([0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.3])
    assert [t.get_text() for t in ax.texts].count(SUPPRESSED) == 2
    assert [t.get_text() for t in fig.legends[0].get_texts()][-1] == f"withheld ({SUPPRESSED})"


def test_occupation_refuses_records():
    with pytest.raises(DJSUserError, match="identifier"):
        occupation_plot(_occupation().assign(person_id=1))


def _flows() -> pd.DataFrame:
    idx = pd.MultiIndex.from_tuples(
        [(1, "civil"), (1, "family"), (2, "no contact"), (2, "family")], names=["step", "from_state"]
    )
    return pd.DataFrame(
        {
            "no contact": [500, np.nan, 0, 40],
            "civil": [0, 30, 60, np.nan],
            "family": [40, 0, 25, 0],
            "end of follow-up": [60, np.nan, 415, 15],
            "All": [600, 45, 500, 60],
        },
        index=idx,
    )


def test_sequence_draws_released_flows_only():
    fig = sequence_plot(_flows())
    ax = fig.axes[0]
    bands = [p for p in ax.patches if p.__class__.__name__ == "PathPatch"]
    # step 1: civil -> no contact, family, end; family -> civil; step 2: no contact -> civil, family, end;
    # family -> no contact, end (zeros and withheld flows are not drawn)
    assert len(bands) == 9
    stubs = [t for t in ax.texts if t.get_text() == SUPPRESSED]
    assert len(stubs) == 2  # family at time zero (15 of 45 withheld), family after move 1 (5 of 60 withheld)
    assert "withheld moves are not drawn" in fig.texts[0].get_text()


def test_sequence_reads_the_checked_output_layout():
    flat = _flows()
    flat.index = [f"{k} | {f}" for k, f in flat.index]
    flat.loc["All"] = flat.sum()
    fig = sequence_plot(flat)
    assert len([p for p in fig.axes[0].patches if p.__class__.__name__ == "PathPatch"]) == 9
