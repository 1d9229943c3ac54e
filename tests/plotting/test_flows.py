"""Flows with the ITS fit and counterfactual band, from a protected monthly table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from djs_toolkit import flows
from djs_toolkit.plotting import flows_plot, save_png


def _series() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    months = pd.date_range("2016-01-01", periods=72, freq="MS")
    t = np.arange(72)
    y = rng.poisson(np.exp(np.log(200) + 0.002 * t - 0.3 * (months >= "2020-03-01")))
    f = pd.DataFrame({"month": months, "dataset": "mags_hocas", "count": y.astype(float), "incomplete": t >= 69})
    f.loc[[10, 11], "count"] = np.nan  # withheld by disclosure control
    return f


def test_flows_plot_marks_withheld_and_incomplete_months(tmp_path):
    f = _series()
    fit = flows.its(f.drop(index=[10, 11]), interruptions=["2020-03"])
    fig = flows_plot(f, fit, title="First entries")
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels[:2] == ["Magistrates' courts", "Magistrates' courts (incomplete)"]
    assert {"model fit", "counterfactual"} <= set(labels)
    observed = ax.lines[0].get_ydata()
    assert np.isnan(observed[[10, 11, 69, 70, 71]]).all() and np.isfinite(observed[:10]).all()
    assert len(ax.lines[1].get_xdata()) == 3  # hollow markers for the three incomplete months
    assert [t.get_text() for t in ax.texts].count("c") == 2 and "2020-03" in [t.get_text() for t in ax.texts]
    band = [c for c in ax.collections if c.get_hatch() == "//"]
    assert len(band) == 1  # the counterfactual interval is hatched as well as shaded
    assert ax.get_legend() is not None and "c = withheld (disclosure control)" in [t.get_text() for t in fig.texts]
    assert (
        save_png(flows_plot(f, fit), tmp_path / "a.png").read_bytes()
        == save_png(flows_plot(f, fit), tmp_path / "b.png").read_bytes()
    )


def test_flows_plot_groups_get_distinct_styles():
    f = _series()
    two = pd.concat([f.assign(sex="F"), f.assign(sex="M")], ignore_index=True)
    ax = flows_plot(two).axes[0]
    main = [line for line in ax.lines if "incomplete" not in line.get_label()]
    assert [line.get_label() for line in main] == ["Magistrates' courts / F", "Magistrates' courts / M"]
    assert main[0].get_linestyle() != main[1].get_linestyle() and main[0].get_marker() != main[1].get_marker()


def test_flows_plot_keeps_and_labels_a_missing_group():
    f = _series()
    three = pd.concat(
        [f.assign(sex=np.nan), f.assign(sex="F"), f.assign(sex="M", count=f["count"] * 2)], ignore_index=True
    )  # the missing group first: groupby would have dropped it
    ax = flows_plot(three).axes[0]
    main = [line for line in ax.lines if "incomplete" not in line.get_label()]
    assert [line.get_label() for line in main] == [
        "Magistrates' courts / F",
        "Magistrates' courts / M",
        "Magistrates' courts / Missing",
    ]
    np.testing.assert_array_equal(main[2].get_ydata()[:10], f["count"].to_numpy()[:10])
    assert [
        line.get_label()
        for line in flows_plot(three.assign(sex=three["sex"].astype(str))).axes[0].lines
        if "incomplete" not in line.get_label()
    ] == [line.get_label() for line in main]  # "nan" after astype
