"""KM / cumulative-incidence figures: full step curves from the protected step table, the KMunicate table read from
the same released steps, legends of drawn groups only, natural order and ten distinct styles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit import DJSUserError
from djs_toolkit.plotting import km_plot, kmunicate_rows, save_png
from djs_toolkit.sdc import Session
from djs_toolkit.survival import km, kmunicate_table

TIMES = [0, 90, 180, 365, 730]
GRID = sorted(set(TIMES) | {t for t in range(0, 1500, 30) if min(abs(t - k) for k in TIMES) >= 15})


def _cohort(n: int = 3000, groups=("F", "M"), p=None, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice(list(groups), size=n, p=p)
    rate = 1 / np.where(g == groups[0], 900, 500)
    t, c = rng.exponential(1 / rate), rng.uniform(0, 1500, n)
    return pd.DataFrame({"days": np.ceil(np.minimum(t, c)), "back": (t <= c).astype(int), "sex": g})


def _lines(ax):
    return [line for line in ax.lines if line.get_linestyle() != "None"]


def test_curves_are_full_steps_from_the_protected_table(tmp_path):
    out = Session("srs", ledger=False).km("days", "back", by="sex", data=_cohort(), times=GRID)
    fig = km_plot(out, times=TIMES, title="Time to a new court case", legend_title="Sex")
    ax, axt = fig.axes
    steps = _lines(ax)
    table = out.table.reset_index()
    for line, sex in zip(steps, ["F", "M"], strict=True):
        released = table[table["sex"] == sex]
        # every released step is drawn (not only the five KMunicate times)
        assert line.get_xdata().tolist() == released["time"].tolist() and len(released) > 20
        np.testing.assert_allclose(line.get_ydata(), released["estimate"])
    assert len(ax.collections) == 2  # one confidence band per group
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["F", "M"]
    assert ax.get_title(loc="left") == "Time to a new court case" and ax.get_legend().get_title().get_text() == "Sex"
    rows = [t.get_text() for t in axt.get_yticklabels()]
    assert rows == ["Days since index", "F: At risk", "F: Events", "F: Censored", "M: At risk", "M: Events",
                    "M: Censored"]  # fmt: skip
    # the table is read from the same released steps
    for sex in ("F", "M"):
        want = kmunicate_rows(table[table["sex"] == sex], TIMES)
        shown = [t.get_text() for t in axt.texts if t.get_color() == _colour(fig, sex)]
        assert f"{int(want['n_at_risk'].iloc[1]):,}" in shown and f"{int(want['cum_events'].iloc[2]):,}" in shown
    path = save_png(fig, tmp_path / "km.png")
    assert path.read_bytes() == save_png(km_plot(out, times=TIMES, title="Time to a new court case",
                                                 legend_title="Sex"), tmp_path / "again.png").read_bytes()  # fmt: skip


def _colour(fig, sex):
    ax = fig.axes[0]
    return next(line.get_color() for line in _lines(ax) if line.get_label() == sex)


def test_kmunicate_rows_are_exact_or_marked_not_released():
    s = pd.DataFrame({"time": [0.0, 30.0, 90.0, 150.0], "n_at_risk": [100, 100, 80, 50], "events": [0, 12, 15, 20],
                      "censored": [0, 8, 15, 5]})  # fmt: skip
    rows = kmunicate_rows(s, [0, 90, 120, 150, 365])
    assert rows["time"].tolist() == [0.0, 90.0, 120.0, 150.0]  # 365 is past the curve: no row
    assert rows["n_at_risk"].tolist()[:2] == [100.0, 50.0]  # at risk just after day 90: the next step's start
    assert np.isnan(rows["n_at_risk"].iloc[2]) and np.isnan(rows["cum_events"].iloc[2])  # merged across day 120
    assert rows["cum_events"].tolist()[3] == 47.0 and np.isnan(rows["n_at_risk"].iloc[3])  # after the last step


def test_withheld_group_is_not_in_the_legend_and_is_named():
    d = _cohort(groups=("F", "M", "Missing"), p=[0.3, 0.697, 0.003])  # about 9 people with no recorded sex
    out = Session("srs", ledger=False).km("days", "back", by="sex", data=d, times=GRID)
    assert "Missing" not in out.table.reset_index()["sex"].tolist()
    fig = km_plot(out, times=TIMES)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        lv for lv in ["F", "M"] if lv in out.table.reset_index()["sex"].tolist()
    ]
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "Not shown (withheld): Missing" in notes


def test_cumulative_incidence_with_competing_events():
    d = _cohort(seed=3)
    rng = np.random.default_rng(4)
    d["why"] = np.where(d["back"] == 1, rng.choice([1, 2], len(d), p=[0.7, 0.3]), 0)
    out = Session("srs", ledger=False).cif("days", "why", by="sex", data=d, times=GRID)
    fig = km_plot(out, times=TIMES, ylabel="Cumulative incidence")
    ax, axt = fig.axes
    assert "F: Competing" in [t.get_text() for t in axt.get_yticklabels()]
    for line in _lines(ax):
        assert (np.diff(line.get_ydata()) >= -1e-12).all()  # incidence only rises


def test_ten_groups_in_natural_order_with_distinct_styles_and_eleven_refused():
    groups = [str(i) for i in range(1, 11)]
    d = _cohort(n=8000, groups=groups, seed=5)
    curve = km(d, "days", "back", by="sex")
    fig = km_plot(curve, kmunicate_table(curve, TIMES, by="sex"))
    lines = _lines(fig.axes[0])
    assert [line.get_label() for line in lines] == groups  # 1, 2, ..., 10: not 1, 10, 2
    looks = {(line.get_color(), str(line.get_linestyle()), m.get_marker()) for line, m in
             zip(lines, [mk for mk in fig.axes[0].lines if mk.get_linestyle() == "None"], strict=True)}  # fmt: skip
    assert len(looks) == 10
    d11 = _cohort(n=8000, groups=[*groups, "11"], seed=5)
    c11 = km(d11, "days", "back", by="sex")
    with pytest.raises(DJSUserError, match="at most 10 groups"):
        km_plot(c11, kmunicate_table(c11, TIMES, by="sex"))


def test_a_separate_kmunicate_table_still_works_and_marks_withheld_cells():
    curve = km(_cohort(seed=6), "days", "back", by="sex")
    table = kmunicate_table(curve, TIMES, by="sex")
    table.loc[(table["sex"] == "M") & (table["time"] == 730), "cum_censored"] = np.nan  # withheld
    fig = km_plot(curve, table)
    axt = fig.axes[1]
    assert [t.get_text() for t in axt.texts].count("c") == 1
    assert "c = withheld (disclosure control)" in " ".join(t.get_text() for t in fig.texts)


@pytest.mark.parametrize("missing", [np.nan, None, "nan", "<NA>"], ids=["NaN", "None", "str-nan", "str-<NA>"])
def test_a_missing_group_is_labelled_missing_and_drawn_last(missing):
    d = _cohort(groups=("F", "M", "0"), seed=7)
    curve = km(d, "days", "back", by="sex")
    curve["sex"] = curve["sex"].astype(object).where(curve["sex"] != "0", missing)
    table = kmunicate_table(km(d, "days", "back", by="sex"), TIMES, by="sex")
    table["sex"] = table["sex"].astype(object).where(table["sex"] != "0", missing)
    fig = km_plot(curve, table, by="sex")
    ax, axt = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["F", "M", "Missing"]
    fig.canvas.draw()
    assert min(t.get_window_extent().x0 for t in axt.get_yticklabels()) >= 0  # "Missing: Censored" not cut


def test_a_curve_with_every_group_withheld_is_refused():
    with pytest.raises(DJSUserError, match="nothing to draw"):
        km_plot(pd.DataFrame({"time": [0.0], "estimate": [np.nan], "ci_lower": [np.nan], "ci_upper": [np.nan],
                              "n_at_risk": [np.nan], "sex": ["F"]}), by="sex")  # fmt: skip
