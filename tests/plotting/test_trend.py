"""Yearly series by group: whole-number years, names, natural order, withheld values as gaps marked "c"."""

from __future__ import annotations

import numpy as np
import pandas as pd

from djs_toolkit.plotting import save_png, trend_plot


def _volumes() -> pd.DataFrame:
    years = np.arange(2006, 2024)
    rows = [(y, d, float(1000 * (i + 1) + 10 * (y - 2006))) for i, d in enumerate(["mags_hocas", "familyman",
            "civil_caseman_pcol"]) for y in years]  # fmt: skip
    t = pd.DataFrame(rows, columns=["year", "dataset", "events"])
    t.loc[(t["dataset"] == "familyman") & (t["year"] == 2007), "events"] = np.nan  # withheld
    return t


def test_years_are_whole_numbers_and_withheld_values_are_gaps(tmp_path):
    fig = trend_plot(_volumes(), "year", "events", by="dataset", ylabel="Events", title="Events per year",
                     legend_title="Dataset")  # fmt: skip
    ax = fig.axes[0]
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(t.lstrip("\u2212-").isdigit() for t in ticks)  # no "2007.5"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Magistrates' courts", "Family court", "Civil court"]
    family = next(line for line in ax.lines if line.get_label() == "Family court")
    assert np.isnan(family.get_ydata()[1]) and [t.get_text() for t in ax.texts] == ["c"]  # a gap, never 0
    assert ax.get_title(loc="left") == "Events per year" and ax.get_ylabel() == "Events"
    styles = {(line.get_color(), str(line.get_linestyle()), line.get_marker()) for line in ax.lines}
    assert len(styles) == 3
    assert save_png(fig, tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_a_group_with_nothing_published_is_not_in_the_legend():
    t = _volumes()
    t.loc[t["dataset"] == "civil_caseman_pcol", "events"] = np.nan
    fig = trend_plot(t, "year", "events", by="dataset")
    assert [x.get_text() for x in fig.axes[0].get_legend().get_texts()] == ["Magistrates' courts", "Family court"]
    assert "Not shown (withheld): Civil court" in fig.texts[0].get_text()
