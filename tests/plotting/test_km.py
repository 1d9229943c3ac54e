"""KM / cumulative-incidence plot with a KMunicate table beneath."""

from __future__ import annotations

import numpy as np
import pandas as pd

from djs_toolkit.plotting import km_plot, save_png
from djs_toolkit.survival import km, kmunicate_table


def _curves():
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"days": rng.exponential(400, 400).round() + 1, "back": rng.random(400) < 0.7,
                      "sex": np.repeat(["F", "M"], 200)})
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
    assert save_png(km_plot(curve, table), tmp_path / "a.png").read_bytes() == save_png(
        km_plot(curve, table), tmp_path / "b.png").read_bytes()


def test_km_plot_single_cumulative_incidence_curve():
    curve, table = _curves()
    one = curve[curve["sex"] == "F"].drop(columns="sex").assign(
        estimate=lambda c: 1 - c["estimate"], ci_lower=lambda c: 1 - c["ci_upper"], ci_upper=lambda c: 1 - c["ci_lower"])
    tab = table[table["sex"] == "F"].drop(columns="sex")
    fig = km_plot(one, tab, ylabel="Cumulative incidence")
    ax, axt = fig.axes
    assert ax.get_ylabel() == "Cumulative incidence" and ax.get_legend() is None
    assert [t.get_text() for t in axt.get_yticklabels()] == ["At risk", "Events", "Censored"]
    assert "c" not in [t.get_text() for t in axt.texts] and not fig.texts


def test_km_plot_from_a_session_checked_curve():
    from djs_toolkit.sdc import Session

    rng = np.random.default_rng(0)
    d = pd.DataFrame({"days": rng.exponential(300, 600).round() + 1, "back": (rng.random(600) < 0.7).astype(int),
                      "sex": rng.choice(["F", "M"], 600)})
    out = Session().km("days", "back", by="sex", data=d, times=[0, 180, 365, 730])
    fig = km_plot(out, out)
    ax, axt = fig.axes
    assert [t.get_text() for t in axt.get_yticklabels()][:3] == ["F: At risk", "F: Events (interval)",
                                                                  "F: Censored (interval)"]
    shown = [t.get_text() for t in axt.texts]
    assert len(shown) == 4 * 6 and f"{int(out.table['n_at_risk'].iloc[1]):,}" in shown
    assert len([line for line in ax.lines if len(line.get_xdata()) > 1]) == 2
