"""UpSet plot drawn from a protected overlap table: structure, suppression markers, determinism."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.patches import Rectangle

from djs_toolkit import DJSUserError, overlap
from djs_toolkit.plotting import save_png, upset_plot

LAB = ["mags_hocas", "familyman", "civil_caseman_pcol"]


def _protected():
    planted = {(1, 0, 0): 500, (0, 1, 0): 200, (0, 0, 1): 300, (1, 1, 0): 7, (1, 0, 1): 40, (0, 1, 1): 25, (1, 1, 1): 2}
    rows = [dict(zip(LAB, map(bool, c))) for c, n in planted.items() for _ in range(n)]
    return overlap.protect_overlap(overlap.overlap_sets(pd.DataFrame(rows)))


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
        f"{int(v):,}" in texts for v in out.table.loc[~out.mask["exclusive"], "exclusive"])
    assert all(name in _texts(fig) for name in LAB)
    assert len(ax_mat.collections) == 7  # one column of dots per combination
    assert len([p for p in ax_size.patches if isinstance(p, Rectangle)]) == int(
        (~out.mask.loc[out.table["degree"] == 1, "inclusive"]).sum())
    assert fig._suptitle.get_text() == "People in each combination"


def test_upset_sorting_groups_and_determinism(tmp_path):
    out = _protected()
    fig = upset_plot(out.table, sort_by="count", max_combinations=3)  # DataFrame input: missing = withheld
    first = [t.get_text() for t in fig.axes[0].texts]
    published = out.table.loc[~out.mask["exclusive"], "exclusive"].astype(int).sort_values(ascending=False)
    assert first == [f"{v:,}" for v in published.iloc[:3]]
    a = save_png(upset_plot(out), tmp_path / "a.png").read_bytes()
    b = save_png(upset_plot(out), tmp_path / "b.png").read_bytes()
    assert a == b
    by = pd.concat([out.table.assign(sex="F"), out.table.assign(sex="M")], ignore_index=True)
    with pytest.raises(DJSUserError, match="group="):
        upset_plot(by)
    assert len(upset_plot(by, group="M").axes) == 4
    with pytest.raises(DJSUserError, match="sort_by"):
        upset_plot(out, sort_by="size")
