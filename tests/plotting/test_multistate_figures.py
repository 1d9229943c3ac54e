"""occupation_plot and sequence_plot: drawn only from protected tables, withheld parts marked and never drawn as 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from djs_toolkit import outputs
from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting import PALETTE, SUPPRESSED, occupation_plot, sequence_plot


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


# --- drawn only from the released table ------------------------------------------------------------------------
STATES = ["no contact", "civil", "family"]
# People in each state per sex and reporting time (rows sum to those followed): one small count (F, 91, civil).
PEOPLE = {
    ("F", 0): [50, 30, 40],
    ("F", 91): [60, 3, 57],
    ("F", 182): [70, 25, 25],
    ("M", 0): [45, 35, 40],
    ("M", 91): [55, 30, 35],
    ("M", 182): [65, 28, 27],
}


def _released_occupation():
    """The probabilities saved as the journeys notebook saves them: wide, checked against the people behind them."""
    idx = pd.MultiIndex.from_tuples(list(PEOPLE), names=["sex", "time"])
    people = pd.DataFrame(list(PEOPLE.values()), index=idx, columns=pd.Index(STATES, name="state"))
    probs = people.div(people.sum(axis=1), axis=0)
    released = outputs.save_table(probs, "occupation", "probability of each state", "people", statistic="probability",
                                  counts=people)  # fmt: skip
    # The same probabilities protected otherwise (only the small cell withheld), as a long table: what the notebook
    # drew before, `journeys.multistate`'s own `occupation`.
    other = probs.stack().rename("estimate").reset_index()
    other.loc[(other["sex"] == "F") & (other["time"] == 91) & (other["state"] == "civil"), "estimate"] = np.nan
    return released, other


def _drawn(fig) -> dict[tuple[str, float, str], float]:
    """Every coloured (published) segment of an occupation figure: (panel, time, state) -> its height."""
    colours = {c.lower(): s for c, s in zip(PALETTE, STATES, strict=False)}
    out = {}
    for ax in fig.axes:
        for p in ax.patches:
            state = colours.get(to_hex(p.get_facecolor()).lower())
            if state is not None and p.get_height() > 0:
                out[(ax.get_title(loc="left"), round(p.get_x() + p.get_width() / 2, 6), state)] = p.get_height()
    return out


def _leaks(fig, released) -> list[tuple[str, float, str]]:
    """Drawn segments whose cell the released table withholds (or that differ from the released value)."""
    table = released.table
    hidden = released.mask | table.isna()
    bad = []
    for (sex, t, state), h in _drawn(fig).items():
        if hidden.at[(sex, t), state] or not np.isclose(h, table.at[(sex, t), state]):
            bad.append((sex, t, state))
    return bad


def test_occupation_from_the_released_output_draws_only_released_cells(stage):
    released, other = _released_occupation()
    hidden = released.mask | released.table.isna()
    assert hidden.to_numpy().sum() >= 2  # the small cell and its complements
    fig = occupation_plot(released, by="sex")
    drawn = _drawn(fig)
    assert _leaks(fig, released) == []
    # every published non-zero cell is drawn, at its released value
    shown = released.table.where(~hidden).stack()
    assert sorted(drawn) == sorted((s, float(t), c) for (s, t, c), v in shown.items() if v > 0)
    # each time with a withheld cell has one grey segment of 1 minus the published ones, marked "c"
    for ax in fig.axes:
        sex = ax.get_title(loc="left")  # the panel's group
        rows = hidden.xs(sex, level="sex")
        published = released.table.xs(sex, level="sex").where(~rows)
        grey = {round(p.get_x() + p.get_width() / 2, 6): p.get_height() for p in ax.patches
                if to_hex(p.get_facecolor()) == "#bfbfbf" and p.get_height() > 0}  # fmt: skip
        assert sorted(grey) == sorted(float(t) for t in rows.index[rows.any(axis=1)])
        for t, h in grey.items():
            assert h == pytest.approx(1 - published.loc[int(t)].sum())
        assert [x.get_text() for x in ax.texts].count(SUPPRESSED) == sum(h > 0.03 for h in grey.values())
    # the check bites: the long table protected otherwise draws cells the release withholds (the notebook's old leak)
    assert _leaks(occupation_plot(other, by="sex"), released) != []


def test_every_age_band_fits_one_occupation_figure():
    # Care proceedings by age band at national scale publish all nine bands (with Missing): 3 panels abreast, axis
    # titles once per row and column (the national run failed here when the figure took at most 8).
    from djs_toolkit.schema.labels import AGE_BAND_LABELS, MISSING_LABEL

    bands = [*AGE_BAND_LABELS, MISSING_LABEL]
    t = pd.DataFrame(
        [(g, tm, s, v) for g in bands for tm in (0, 91) for s, v in (("no contact", 0.3), ("family", 0.7))],
        columns=["age_band", "time", "state", "estimate"],
    )
    fig = occupation_plot(t, by="age_band")
    titles = [name for ax in fig.axes if (name := ax.get_title(loc="left") or ax.get_title())]
    assert titles == bands
    assert [bool(ax.get_ylabel()) for ax in fig.axes[: len(bands)]] == [i % 3 == 0 for i in range(len(bands))]
    too_many = pd.concat([t.assign(age_band=t["age_band"] + x) for x in ("", " b")], ignore_index=True)
    with pytest.raises(DJSUserError, match="At most 12 groups"):
        occupation_plot(too_many, by="age_band")
