"""2- and 3-set Venn diagrams from protected counts."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.patches import Circle

from djs_toolkit import DJSUserError, overlap
from djs_toolkit.plotting import save_png, venn_plot
from djs_toolkit.sdc import protect_overlap


def _table(planted: dict, labels: list[str]):
    rows = [dict(zip(labels, map(bool, c))) for c, n in planted.items() for _ in range(n)]
    return overlap.overlap_sets(pd.DataFrame(rows))


def test_three_set_venn_shows_every_region():
    lab = ["a", "b", "c"]
    out = protect_overlap(
        _table(
            {(1, 0, 0): 500, (0, 1, 0): 200, (0, 0, 1): 300, (1, 1, 0): 7, (1, 0, 1): 40, (0, 1, 1): 25, (1, 1, 1): 2},
            lab,
        )
    )
    fig = venn_plot(out, title="Three sets")
    ax = fig.axes[0]
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == 3 and len({str(c.get_linestyle()) for c in circles}) == 3  # outline style, not colour only
    texts = [t.get_text() for t in ax.texts]
    shown = out.table.loc[~out.mask["exclusive"], "exclusive"]
    assert all(f"{int(v):,}" in texts for v in shown)
    assert texts.count("c") == int(out.mask["exclusive"].sum()) and "7" not in texts and "2" not in texts
    assert any(t.startswith("a\n(set size") for t in texts)
    assert "c = withheld (disclosure control)" in [t.get_text() for t in fig.texts]


def test_two_set_venn_and_limits(tmp_path):
    out = protect_overlap(_table({(1, 0): 50, (0, 1): 30, (1, 1): 20}, ["a", "b"]))
    fig = venn_plot(out)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"50", "30", "20"} <= set(texts) and "c" not in texts and not fig.texts
    assert save_png(venn_plot(out), tmp_path / "1.png").read_bytes() == save_png(fig, tmp_path / "2.png").read_bytes()
    four = _table({(1, 0, 0, 0): 20, (0, 1, 1, 1): 30}, list("abcd"))
    with pytest.raises(DJSUserError, match="2 or 3"):
        venn_plot(four)
