"""KM / cumulative-incidence plot with a KMunicate table beneath."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.plotting import km_plot, save_png
from djs_toolkit.survival import km, kmunicate_table


def _curves():
    rng = np.random.default_rng(1)
    d = pd.DataFrame(
        {
            "days": rng.exponential(400, 400).round() + 1,
            "back": rng.random(400) < 0.7,
            "sex": np.repeat(["F", "M"], 200),
        }
    )
    curve = km(d, "days", "back", by="sex")
    table = kmunicate_table(curve, [0, 180, 365, 730])
    table.loc[(table["sex"] == "M") & (table["time"] == 730), "cum_censored"] = np.nan  # withheld
    return curve, table


def test_km_plot_has_curves_bands_and_risk_table(tmp_path):
    curve, table = _curves()
    fig = km_plot(curve, table, title="Time to next contact")
    ax, axt = fig.axes
    steps = [line for line in ax.lines if len(line.get_xdata()) > 1]
    assert len(steps) == 2 and steps[0].get_linestyle() != steps[1].get_linestyle()
    assert len(ax.collections) == 2  # one confidence band per group
    rows = [t.get_text() for t in axt.get_yticklabels()]
    assert rows == ["F: At risk", "F: Events", "F: Censored", "M: At risk", "M: Events", "M: Censored"]
    cells = [t.get_text() for t in axt.texts]
    assert len(cells) == 24 and cells.count("c") == 1
    assert f"{int(table['n_at_risk'].iloc[1]):,}" in cells
    assert "c = withheld (disclosure control)" in [t.get_text() for t in fig.texts]
    assert (
        save_png(km_plot(curve, table), tmp_path / "a.png").read_bytes()
        == save_png(km_plot(curve, table), tmp_path / "b.png").read_bytes()
    )


def test_km_plot_single_cumulative_incidence_curve():
    curve, table = _curves()
    one = (
        curve[curve["sex"] == "F"]
        .drop(columns="sex")
        .assign(
            estimate=lambda c: 1 - c["estimate"],
            ci_lower=lambda c: 1 - c["ci_upper"],
            ci_upper=lambda c: 1 - c["ci_lower"],
        )
    )
    tab = table[table["sex"] == "F"].drop(columns="sex")
    fig = km_plot(one, tab, ylabel="Cumulative incidence")
    ax, axt = fig.axes
    assert ax.get_ylabel() == "Cumulative incidence" and ax.get_legend() is None
    assert [t.get_text() for t in axt.get_yticklabels()] == ["At risk", "Events", "Censored"]
    assert "c" not in [t.get_text() for t in axt.texts] and not fig.texts


def test_km_plot_from_a_session_checked_curve():
    from djs_toolkit.sdc import Session

    rng = np.random.default_rng(0)
    d = pd.DataFrame(
        {
            "days": rng.exponential(300, 600).round() + 1,
            "back": (rng.random(600) < 0.7).astype(int),
            "sex": rng.choice(["F", "M"], 600),
        }
    )
    out = Session().km("days", "back", by="sex", data=d, times=[0, 180, 365, 730])
    fig = km_plot(out, out)
    ax, axt = fig.axes
    assert [t.get_text() for t in axt.get_yticklabels()][:3] == [
        "F: At risk",
        "F: Events (interval)",
        "F: Censored (interval)",
    ]
    shown = [t.get_text() for t in axt.texts]
    assert len(shown) == 4 * 6 and f"{int(out.table['n_at_risk'].iloc[1]):,}" in shown
    assert len([line for line in ax.lines if len(line.get_xdata()) > 1]) == 2


def _with_missing_group(missing):
    """Curve and KMunicate table by sex with a third group "0" (sorted first by km) renamed to ``missing``."""
    rng = np.random.default_rng(2)
    d = pd.DataFrame(
        {
            "days": rng.exponential(400, 300).round() + 1,
            "back": (rng.random(300) < 0.7).astype(int),
            "sex": np.repeat(["F", "M", "0"], 100),
        }
    )
    curve = km(d, "days", "back", by="sex")
    table = kmunicate_table(curve, [0, 180, 365, 730])
    n_missing = int((curve["sex"] == "0").sum())
    estimates = curve.loc[curve["sex"] == "0", "estimate"].to_numpy()
    at_risk = table.loc[table["sex"] == "0", "n_at_risk"].tolist()
    rename = lambda f: f.assign(sex=f["sex"].astype(object).where(f["sex"] != "0", missing))  # noqa: E731
    return rename(curve), rename(table), n_missing, estimates, at_risk


@pytest.mark.parametrize(
    "missing",
    [np.nan, None, pd.NA, "nan", "None", "<NA>"],
    ids=["NaN", "None", "pd.NA", "str-nan", "str-None", "str-<NA>"],
)
def test_km_plot_labels_a_missing_group_missing_in_legend_and_table(missing):
    curve, table, n_missing, estimates, at_risk = _with_missing_group(missing)
    fig = km_plot(curve, table, by="sex")
    ax, axt = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["F", "M", "Missing"]  # missing group last
    assert [t.get_text() for t in axt.get_yticklabels()] == [
        "F: At risk",
        "F: Events",
        "F: Censored",
        "M: At risk",
        "M: Events",
        "M: Censored",
        "Missing: At risk",
        "Missing: Events",
        "Missing: Censored",
    ]
    steps = [line for line in ax.lines if len(line.get_xdata()) > 1]
    assert steps[2].get_label() == "Missing" and len(steps[2].get_xdata()) == n_missing
    np.testing.assert_allclose(steps[2].get_ydata(), estimates)  # the missing group's own curve is drawn
    cells = sorted(axt.texts, key=lambda t: (-t.get_position()[1], t.get_position()[0]))
    assert [t.get_text() for t in cells[24:28]] == [f"{v:,}" for v in at_risk]  # its at-risk row
    assert len(cells) == 36 and not fig.texts  # nothing withheld: a missing group value is not a "c"


def test_km_plot_categorical_missing_group_and_no_clipped_row_labels():
    curve, table, _, _, _ = _with_missing_group(np.nan)
    cat = lambda f: f.assign(sex=pd.Categorical(f["sex"], categories=["F", "M"]))  # noqa: E731
    fig = km_plot(cat(curve), cat(table))  # group column detected; NaN is not a category
    ax, axt = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["F", "M", "Missing"]
    fig.canvas.draw()
    left = min(t.get_window_extent().x0 for t in axt.get_yticklabels())
    assert left >= 0  # "Missing: Censored" fits inside the figure (the fixed margin cut it off)
