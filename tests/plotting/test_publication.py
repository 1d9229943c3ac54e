"""Figures a journal would take (issue 18): every figure type rendered and measured, not only counted.

For each type: no text is cut by the figure's edge, legends sit beside the data and list exactly the groups drawn,
year ticks are whole numbers, withheld values are marked and never drawn as 0, long titles wrap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from djs_toolkit import flows, overlap
from djs_toolkit.plotting import (
    flows_plot,
    heatmap_plot,
    km_grid,
    km_plot,
    trend_plot,
    upset_plot,
    venn_plot,
)
from djs_toolkit.sdc import Session, protect_overlap

DATASETS = ["mags_hocas", "crown_xhibit", "prison_nomis", "probation_delius", "familyman", "civil_caseman_pcol"]
LONG_TITLE = "Time to a new criminal court case after a possession claim against the person, by sex at the claim"


def _texts(fig) -> list[Text]:
    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.figure is fig]


def _assert_nothing_cut(fig) -> None:
    """Everything drawn (tick labels, titles, legends, notes, table cells) lies inside the figure: its tight bounding
    box, as matplotlib measures what it draws, is within the canvas (a hundredth of an inch allowed)."""
    fig.canvas.draw()
    tight = fig.get_tightbbox(fig.canvas.get_renderer())
    w, h = fig.get_size_inches()
    outside = [t.get_text() for t in _texts(fig) if not fig.bbox.contains(*t.get_window_extent().p0)]
    assert tight.x0 >= -0.01 and tight.y0 >= -0.01 and tight.x1 <= w + 0.01 and tight.y1 <= h + 0.01, (
        tight.bounds,
        (w, h),
        outside[:5],
    )


def _legend_beside(ax) -> None:
    """The legend is outside the data area (right of it): it never covers a curve."""
    leg = ax.get_legend().get_window_extent()
    assert leg.x0 >= ax.get_window_extent().x1 - 1


def _cohort(groups, n: int = 4000, seed: int = 0, p=None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice(list(groups), size=n, p=p)
    rate = 1 / (400 + 60 * np.array([list(groups).index(x) for x in g]))
    t, c = rng.exponential(1 / rate), rng.uniform(30, 1500, n)
    return pd.DataFrame({"days": np.ceil(np.minimum(t, c)), "back": (t <= c).astype(int), "sex": g})


# -- Kaplan-Meier with the KMunicate table -------------------------------------------------------------------------
def test_km_grid_holds_the_kmunicate_times_and_no_slivers():
    grid = km_grid([0, 90, 180, 365, 730])
    assert {0, 90, 180, 365, 730} <= set(grid) and grid == sorted(grid)
    assert grid[-1] == 760  # one step past the last time: the number at risk just after it is released
    assert min(np.diff(grid)) >= 15  # no interval shorter than half a step (360 and 720 are left out)
    assert 360 not in grid and 720 not in grid


def test_km_from_a_protected_cif_table_on_the_grid():
    times = [0, 90, 180, 365, 730]
    d = _cohort(["F", "M"], seed=1)
    rng = np.random.default_rng(2)
    d["why"] = np.where(d["back"] == 1, rng.choice([1, 2], len(d), p=[0.8, 0.2]), 0)
    out = Session("srs", ledger=False).cif("days", "why", by="sex", data=d, times=km_grid(times))
    fig = km_plot(out, estimate="survival", times=times, by="sex", title=LONG_TITLE, legend_title="Sex")
    ax, axt = fig.axes
    table = out.table.reset_index()
    steps = [line for line in ax.lines if line.get_linestyle() != "None"]
    for line, sex in zip(steps, ["F", "M"], strict=True):
        released = table[table["sex"] == sex]
        np.testing.assert_allclose(line.get_ydata(), released["survival"])  # the KM curve, not the incidence
        assert len(released) > 15  # full steps, not the five KMunicate times
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["F", "M"]
    assert "\n" in ax.get_title(loc="left")  # the long title is wrapped, not cut
    assert ax.get_xlim()[1] < 760  # the axis ends at the table's last time
    rows = [t.get_text() for t in axt.get_yticklabels()]
    assert "F: Competing" in rows  # competing events happened: their row is shown
    _assert_nothing_cut(fig)
    _legend_beside(ax)
    # the numbers under time 0 stay right of the row labels
    labels_right = max(t.get_window_extent().x1 for t in axt.get_yticklabels())
    assert min(t.get_window_extent().x0 for t in axt.texts) > labels_right


def test_km_marks_times_past_a_curve_and_drops_an_empty_competing_row():
    d = _cohort(["A", "B"], n=3000, seed=3, p=[0.95, 0.05])  # B: about 150 people, its curve stops early
    out = Session("srs", ledger=False).km("days", "back", by="sex", data=d, times=km_grid([0, 90, 180, 365, 730]))
    fig = km_plot(out, times=[0, 90, 180, 365, 730])
    axt = fig.axes[1]
    rows = [t.get_text() for t in axt.get_yticklabels()]
    assert not any("Competing" in r for r in rows)
    b_colour = next(line.get_color() for line in fig.axes[0].lines if line.get_label() == "B")
    b_cells = [t.get_text() for t in axt.texts if t.get_color() == b_colour]
    assert len(b_cells) == 3 * 5  # every time has a cell for every row of B: a number, "c" or "-", never blank
    assert "-" in b_cells
    assert any("not released at this time" in t.get_text() for t in fig.texts)
    _assert_nothing_cut(fig)


def test_km_ten_groups_have_ten_looks_and_fit():
    groups = [f"Group {i}" for i in range(1, 11)]
    d = _cohort(groups, n=12000, seed=4)
    out = Session("srs", ledger=False).km("days", "back", by="sex", data=d, times=km_grid([0, 180, 365]))
    fig = km_plot(out, times=[0, 180, 365], legend_title="Group")
    ax = fig.axes[0]
    drawn = [line for line in ax.lines if line.get_linestyle() != "None"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [line.get_label() for line in drawn] == groups
    assert len({(line.get_color(), str(line.get_linestyle())) for line in drawn}) == 10
    _assert_nothing_cut(fig)
    _legend_beside(ax)


# -- yearly trends -------------------------------------------------------------------------------------------------
def _volumes() -> pd.DataFrame:
    rows = []
    for i, d in enumerate(DATASETS):
        for y in range(2006, 2024):
            covered = y >= 2011 + (i % 3)
            rows.append((y, d, float(1000 * (i + 1) + 37 * (y - 2006)) if covered else 0.0))
    t = pd.DataFrame(rows, columns=["year", "dataset", "events"])
    t.loc[(t["dataset"] == "prison_nomis") & (t["year"] == 2006), "events"] = np.nan  # withheld, before the rest
    return t


def test_trend_whole_year_ticks_trimmed_zeros_and_withheld_inside_the_axis():
    fig = trend_plot(_volumes(), "year", "events", by="dataset", title=LONG_TITLE, legend_title="Dataset",
                     trim_zeros=True)  # fmt: skip
    ax = fig.axes[0]
    _texts(fig)
    lo, hi = ax.get_xlim()
    ticks = [v for v in ax.get_xticks() if lo <= v <= hi]
    assert ticks and all(float(v).is_integer() for v in ticks)  # no 2007.5
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "Magistrates' courts", "Crown Court", "Prison custodial journeys", "Probation", "Family court", "Civil court"
    ]  # fmt: skip
    mags = next(line for line in ax.lines if line.get_label() == "Magistrates' courts")
    assert mags.get_xdata()[0] == 2011 and 0 not in mags.get_ydata()  # years before the dataset are not drawn as 0
    c = [t for t in ax.texts if t.get_text() == "c"]
    assert len(c) == 1 and lo <= c[0].xy[0] <= hi  # the withheld year is marked inside the axis, never 0
    prison = next(line for line in ax.lines if line.get_label() == "Prison custodial journeys")
    assert np.isnan(prison.get_ydata()[0])
    assert len({(line.get_color(), str(line.get_linestyle()), line.get_marker()) for line in ax.lines}) == 6
    _assert_nothing_cut(fig)
    _legend_beside(ax)


def test_trend_keeps_zeros_unless_asked():
    fig = trend_plot(_volumes(), "year", "events", by="dataset")
    mags = next(line for line in fig.axes[0].lines if line.get_label() == "Magistrates' courts")
    assert mags.get_xdata()[0] == 2006 and mags.get_ydata()[0] == 0  # a 0 the table publishes is drawn


# -- heatmap, UpSet, Venn, flows -----------------------------------------------------------------------------------
def test_heatmap_names_are_not_cut_and_withheld_cells_are_marked():
    rows = [(a, b, np.nan if (a, b) == ("crown_xhibit", "familyman") else float(100 * i + j))
            for i, a in enumerate(DATASETS) for j, b in enumerate(DATASETS)]  # fmt: skip
    t = pd.DataFrame(rows, columns=["from_dataset", "to_dataset", "n"])
    fig = heatmap_plot(t, "from_dataset", "to_dataset", "n", title="Transitions between jurisdictions")
    ax = fig.axes[0]
    assert [x.get_text() for x in ax.texts].count("c") == 1
    assert [x.get_text() for x in ax.get_xticklabels()][-1] == "Civil court"  # names, not "civil_caseman_pcol"
    _assert_nothing_cut(fig)


def test_upset_and_venn_fit_their_figures():
    planted = {(1, 0, 0): 500, (0, 1, 0): 200, (0, 0, 1): 300, (1, 1, 0): 7, (1, 0, 1): 40, (0, 1, 1): 25, (1, 1, 1): 2}
    labels = ["mags_hocas", "familyman", "civil_caseman_pcol"]
    rows = [dict(zip(labels, map(bool, c), strict=True)) for c, n in planted.items() for _ in range(n)]
    out = protect_overlap(overlap.overlap_sets(pd.DataFrame(rows)))
    for fig in (upset_plot(out, title="People across jurisdictions"), venn_plot(out, title="Three jurisdictions")):
        assert "c" in [t.get_text() for t in _texts(fig)]  # the small regions are withheld and marked
        _assert_nothing_cut(fig)


def test_flows_fit_with_groups():
    rng = np.random.default_rng(0)
    months = pd.date_range("2016-01-01", periods=60, freq="MS")
    parts = [pd.DataFrame({"month": months, "dataset": "mags_hocas", "sex": s,
                           "count": rng.poisson(m, 60).astype(float), "incomplete": False})
             for s, m in (("F", 80), ("M", 200))]  # fmt: skip
    f = pd.concat(parts, ignore_index=True)
    fit = flows.its(f[f["sex"] == "M"].drop(columns="sex"), interruptions=["2020-03"])
    fig = flows_plot(f, fit, title="First entries to the magistrates' courts by month")
    _assert_nothing_cut(fig)


@pytest.mark.parametrize("n", [1, 6])
def test_km_without_groups_or_with_few_has_no_cut_text(n):
    groups = [f"G{i}" for i in range(n)]
    d = _cohort(groups, n=2000 * n, seed=n)
    if n == 1:
        d = d.drop(columns="sex")
        out = Session("srs", ledger=False).km("days", "back", data=d, times=km_grid([0, 365]))
    else:
        out = Session("srs", ledger=False).km("days", "back", by="sex", data=d, times=km_grid([0, 365]))
    _assert_nothing_cut(km_plot(out, times=[0, 365], title=LONG_TITLE))
