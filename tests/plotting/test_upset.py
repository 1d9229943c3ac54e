"""UpSet plot drawn from a protected overlap table: structure, suppression markers, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Rectangle

from djs_toolkit import DJSUserError, overlap
from djs_toolkit.plotting import save_png, upset_plot
from djs_toolkit.sdc import protect_overlap

LAB = ["mags_hocas", "familyman", "civil_caseman_pcol"]


def _protected():
    planted = {(1, 0, 0): 500, (0, 1, 0): 200, (0, 0, 1): 300, (1, 1, 0): 7, (1, 0, 1): 40, (0, 1, 1): 25, (1, 1, 1): 2}
    rows = [dict(zip(LAB, map(bool, c))) for c, n in planted.items() for _ in range(n)]
    return protect_overlap(overlap.overlap_sets(pd.DataFrame(rows)))


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def test_upset_structure_from_protected_table():
    out = _protected()
    fig = upset_plot(out, title="People in each combination")
    ax_bar, ax_mat, ax_size = fig.axes[0], fig.axes[1], fig.axes[2]
    n_hidden = int(out.mask["exclusive"].sum())
    bars = [p for p in ax_bar.patches if isinstance(p, Rectangle)]
    assert len(bars) == 7 - n_hidden >= 1  # one bar per published exclusive count, none for withheld ones
    heights = sorted(p.get_height() for p in bars)
    assert heights == sorted(out.table.loc[~out.mask["exclusive"], "exclusive"].astype(float).tolist())
    texts = _texts(fig)
    assert texts.count("c") == n_hidden + int(out.mask.loc[out.table["degree"] == 1, "inclusive"].sum())
    assert "c = withheld (disclosure control)" in texts and all(
        f"{int(v):,}" in texts for v in out.table.loc[~out.mask["exclusive"], "exclusive"]
    )
    assert all(name in _texts(fig) for name in ["Magistrates' courts", "Family court", "Civil court"])  # by name
    assert len(ax_mat.collections) == 7  # one column of dots per combination
    assert len([p for p in ax_size.patches if isinstance(p, Rectangle)]) == int(
        (~out.mask.loc[out.table["degree"] == 1, "inclusive"]).sum()
    )
    assert fig._suptitle.get_text() == "People in each combination"


def test_upset_sorting_groups_and_determinism(tmp_path):
    out = _protected()
    fig = upset_plot(out.table, sort_by="count", max_combinations=3)  # DataFrame input: missing = withheld
    first = [t.get_text() for t in fig.axes[0].texts]
    published = out.table.loc[~out.mask["exclusive"], "exclusive"].astype(int).sort_values(ascending=False)
    top = [f"{v:,}" for v in published.iloc[:3]]
    assert first == top + ["c"] * (3 - len(top))  # largest published first, withheld after them
    a = save_png(upset_plot(out), tmp_path / "a.png").read_bytes()
    b = save_png(upset_plot(out), tmp_path / "b.png").read_bytes()
    assert a == b
    by = pd.concat([out.table.assign(sex="F"), out.table.assign(sex="M")], ignore_index=True)
    with pytest.raises(DJSUserError, match="group="):
        upset_plot(by)
    assert len(upset_plot(by, group="M").axes) == 4
    with pytest.raises(DJSUserError, match="sort_by"):
        upset_plot(out, sort_by="size")


LONG = [
    "Magistrates' courts",
    "Crown Court",
    "Prison (P-NOMIS)",
    "Probation (nDelius)",
    "Family court",
    "Civil possession claims",
]


def _six_sets():
    """All 63 combinations of six long-named sets, some withheld; big and small counts side by side."""
    rng = np.random.default_rng(3)
    rows = rng.random((20000, 6)) < np.array([0.5, 0.2, 0.15, 0.2, 0.1, 0.12])
    out = protect_overlap(overlap.overlap_sets(pd.DataFrame(rows[rows.any(axis=1)], columns=LONG)))
    # Protection keeps every set size here; withhold two so the "c" markers of the set-size panel are drawn too.
    table = out.table.copy()
    sizes = table["degree"].eq(1) & (table["Prison (P-NOMIS)"] | table["Family court"])
    table.loc[sizes, "inclusive"] = pd.NA
    return table


def _overlaps(a, b, tol: float = 0.5) -> bool:
    return a.x0 < b.x1 - tol and b.x0 < a.x1 - tol and a.y0 < b.y1 - tol and b.y0 < a.y1 - tol


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"max_combinations": 20}, {"sort_by": "count", "max_combinations": 20}],
    ids=["all-63", "first-20", "largest-20"],
)
def test_upset_labels_markers_and_names_do_not_overlap(kwargs):
    out = _six_sets()
    assert len(out) == 63 and out["exclusive"].isna().any() and out["inclusive"].isna().any()
    fig = upset_plot(out, title="People across jurisdictions", **kwargs)
    fig.canvas.draw()
    ax_bar, ax_mat, ax_size, ax_names = fig.axes
    box = lambda artists: [a.get_window_extent() for a in artists]  # noqa: E731
    names, size_labels, bar_labels = box(ax_names.texts), box(ax_size.texts), box(ax_bar.texts)
    size_bars, bars = box(ax_size.patches), box(ax_bar.patches)
    assert [t.get_text() for t in ax_names.texts] == LONG
    assert [t.get_text() for t in ax_size.texts].count("c") == 2  # Prison and Family court sizes withheld
    # set names sit between the set-size panel and the matrix, clear of every size label, "c" and bar
    mat, size = ax_mat.get_window_extent(), ax_size.get_window_extent()
    assert all(size.x1 <= n.x0 and n.x1 <= mat.x0 for n in names)
    assert not any(_overlaps(n, o) for n in names for o in size_labels + size_bars)
    assert all(lab.x0 >= size.x0 and lab.x1 <= size.x1 for lab in size_labels)  # markers inside their panel
    # bar labels: adjacent ones apart, none on a bar, all inside the bar panel and under the title
    assert len(bar_labels) == len(ax_mat.collections)
    assert all(a.x1 <= b.x0 for a, b in zip(bar_labels, bar_labels[1:]))
    assert not any(_overlaps(lab, bar) for lab in bar_labels for bar in bars)
    top = ax_bar.get_window_extent().y1
    assert all(lab.y1 <= top for lab in bar_labels)
    assert not any(_overlaps(fig._suptitle.get_window_extent(), o) for o in bar_labels + names)
    note = [t for t in fig.texts if t.get_text() == "c = withheld (disclosure control)"][0].get_window_extent()
    assert not _overlaps(note, ax_size.xaxis.label.get_window_extent())
    everything = names + size_labels + bar_labels + [note, fig._suptitle.get_window_extent()]
    assert all(b.x0 >= 0 and b.y0 >= 0 and b.x1 <= fig.bbox.width and b.y1 <= fig.bbox.height for b in everything)
    assert fig.get_size_inches()[0] <= 18.0  # the PNG size stays bounded


def test_upset_value_labels_turn_vertical_only_when_columns_are_too_narrow():
    out = _six_sets()
    few, many = upset_plot(out, max_combinations=20), upset_plot(out)
    rot = lambda fig: {t.get_rotation() for t in fig.axes[0].texts if t.get_text() != "c"}  # noqa: E731
    assert rot(few) == {0.0} and rot(many) == {90.0}
    assert {t.get_rotation() for t in many.axes[0].texts if t.get_text() == "c"} == {0.0}


def test_upset_axes_stay_readable_with_millions():
    t = _protected().table.copy()
    t[["exclusive", "inclusive"]] = t[["exclusive", "inclusive"]] * 2345  # sizes up to 1,287,405
    fig = upset_plot(t)
    fig.canvas.draw()
    ax_bar, _, ax_size, _ = fig.axes
    assert ax_size.xaxis.get_offset_text().get_text() == "" == ax_bar.yaxis.get_offset_text().get_text()
    hi = max(ax_size.get_xlim())
    ticks = sorted(
        (lab for lab in ax_size.get_xticklabels() if 0 <= lab.get_position()[0] <= hi),
        key=lambda lab: lab.get_window_extent().x0,
    )  # left to right: the axis runs right to left
    assert [lab.get_text() for lab in ticks] == ["2M", "1M", "0"]
    boxes = [lab.get_window_extent() for lab in ticks]
    assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:])) and boxes[0].x0 >= 0
    assert "1,287,405" in [x.get_text() for x in ax_size.texts]
    assert "1,000,000" in [lab.get_text() for lab in ax_bar.get_yticklabels()]


def test_collapsed_table_draws_other_combinations_last():
    planted = {(1, 0, 0): 500, (0, 1, 0): 200, (0, 0, 1): 300, (1, 1, 0): 7, (1, 0, 1): 40, (0, 1, 1): 25, (1, 1, 1): 2}
    rows = [dict(zip(LAB, map(bool, c), strict=True)) for c, n in planted.items() for _ in range(n)]
    out = protect_overlap(overlap.overlap_sets(pd.DataFrame(rows)), collapse=True)
    # mags only (500), the two other single datasets (set sizes kept, exclusive counts withheld) and the rest merged
    assert len(out.table) == 4 and out.table["inclusive"].notna().sum() == 3
    fig = upset_plot(out, sort_by="count", max_combinations=2)
    ax_bar, ax_mat, ax_size = fig.axes[0], fig.axes[1], fig.axes[2]
    other = int(out.table.loc[out.table["combination"] == "other combinations", "exclusive"].iloc[0])
    assert other == 574 and [t.get_text() for t in ax_bar.texts] == ["500", "574"]  # "other" kept, last
    assert "other combinations" in [t.get_text() for t in ax_mat.texts]
    assert [t.get_text() for t in ax_size.texts] == ["549", "234", "367"]  # every set size drawn
