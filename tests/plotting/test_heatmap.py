"""Heatmap of a protected two-way table: withheld cells "c" (never 0 or a colour), names not cut, true totals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit import DJSUserError, outputs
from djs_toolkit.plotting import heatmap_plot, save_png

DATASETS = ["mags_hocas", "crown_xhibit", "prison_nomis", "probation_delius", "familyman", "civil_caseman_pcol"]


def _transitions() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [(a, b, g, int(rng.integers(0, 400)) if a != b else 0) for a in DATASETS for b in DATASETS
            for g in ("F", "M")]  # fmt: skip
    t = pd.DataFrame(rows, columns=["from_dataset", "to_dataset", "sex", "transitions"])
    t.loc[(t["from_dataset"] == "crown_xhibit") & (t["to_dataset"] == "familyman"), "transitions"] = [3, 4]
    return t


def test_heatmap_of_true_totals_marks_withheld_cells(stage, tmp_path):
    true = _transitions()
    saved = outputs.save_table(true, "transitions", "transitions by sex", "people", margins="sex")
    fig = heatmap_plot(saved, "from_dataset", "to_dataset", "All", title="Transitions", xlabel="To", ylabel="From")
    ax = fig.axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    totals = true.groupby(["from_dataset", "to_dataset"])["transitions"].sum()
    shown = saved.table["All"].drop(index="All", level=0)
    for (a, b), v in shown.items():
        text = cells[(DATASETS.index(a), DATASETS.index(b))]  # rows and columns in the schema's order
        assert text == ("c" if pd.isna(v) else f"{int(totals[(a, b)]):,}")  # a total is true or withheld
    assert cells[(1, 4)] == "c"  # Crown Court -> Family court: 7 people, withheld, not 0
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["Magistrates' courts", "Crown Court"]
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    assert all(b.x0 >= 0 and b.y0 >= 0 for b in boxes)  # no name cut at the figure's edge
    assert "c = withheld (disclosure control)" in [t.get_text() for t in fig.texts]
    assert (
        save_png(fig, tmp_path / "a.png").read_bytes()
        == save_png(
            heatmap_plot(saved, "from_dataset", "to_dataset", "All", title="Transitions", xlabel="To", ylabel="From"),
            tmp_path / "b.png",
        ).read_bytes()
    )


def test_heatmap_needs_its_columns():
    with pytest.raises(DJSUserError, match="no column `n`"):
        heatmap_plot(pd.DataFrame({"a": ["x"], "b": ["y"], "m": [3]}), "a", "b", "n")
