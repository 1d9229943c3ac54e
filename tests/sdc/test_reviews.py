"""Reviews only where a person must decide (issue 19 item 1): each rule fits its statistic, and the unsafe case
beside each still fails or withholds."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from djs_toolkit import outputs
from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.models import series_flags
from djs_toolkit.sdc.profiles import load_profile


def _fig():
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [30, 40])
    return fig


def _rules(o) -> list[str]:
    return o.reasons["rule"].tolist()


def test_figure_drawn_from_released_tables_takes_their_status_and_names_them(stage):
    t = outputs.save_table(pd.DataFrame({"g": ["a", "b"], "n": [30, 40]}), "g", "by g", "all")
    u = outputs.save_table(pd.DataFrame({"g": ["a", "b"], "n": [50, 60]}), "h", "by h", "all")
    f = outputs.save_figure(_fig(), "g_fig", underlying=t, source=[t, u])
    assert t.status == "pass" and f.status == "pass" and _rules(f) == []
    assert f.properties["figure_sources"] == ["t1.g", "t1.h"]
    record = json.loads((stage / "g_fig" / "results.json").read_text(encoding="utf-8"))
    entry = record["results"]["t1.g_fig"]
    assert entry["status"] == "pass" and "t1.h" in json.dumps(entry)
    assert sorted(q.name for q in (stage / "g_fig" / "release").iterdir()) == ["t1.g_fig.csv", "t1.g_fig.png"]
    assert "- Drawn only from: t1.g, t1.h (released tables)" in (stage / "g_fig" / "CLEARANCE.md").read_text("utf-8")
    # Without a declared source the figure stays review, naming the table to compare it with.
    bare = outputs.save_figure(_fig(), "bare_fig", underlying=t)
    assert bare.status == "review" and _rules(bare) == ["FigureCheck"]
    assert "only released values of t1.g" in bare.reasons["summary"].iloc[0]


def test_figure_from_a_withheld_or_undecided_source_is_not_passed(stage):
    ok = outputs.save_table(pd.DataFrame({"g": ["a", "b"], "n": [30, 40]}), "ok", "by g", "all")
    ids = outputs.save_table(pd.DataFrame({"person_id": ["p1", "p2"], "n": [20, 30]}), "ids", "people", "all")
    assert ids.status == "fail"
    f = outputs.save_figure(_fig(), "f_fig", underlying=ok, source=[ok, ids])
    assert f.status == "fail" and "FigureSourceCheck" in _rules(f)
    assert not (stage / "f_fig" / "release").exists() or not list((stage / "f_fig" / "release").glob("*.png"))
    small = outputs.save_table(pd.DataFrame({"g": ["a", "b", "c"], "n": [30, 40, 0]}), "z", "by g", "all")
    assert small.status == "review"
    r = outputs.save_figure(_fig(), "r_fig", underlying=ok, source=[ok, small])
    assert r.status == "review" and _rules(r) == ["FigureSourceCheck"] and "t1.z" in r.reasons["summary"].iloc[0]
    with pytest.raises(DJSUserError, match="source="):
        outputs.save_figure(_fig(), "x_fig", underlying=ok, source=pd.DataFrame({"n": [1]}))


def test_proportion_with_its_count_column_is_judged_by_numerator_and_denominator(stage):
    t = pd.DataFrame({"g": ["a", "b"], "share": [0.25, 0.5], "n": [120, 160]})
    o = outputs.save_table(t, "shares", "share by g", "all", statistic="proportion", counts="n")
    assert o.status == "pass" and "CountsOnlyCheck" not in _rules(o)
    assert o.table["share"].tolist() == [0.25, 0.5]
    # A numerator of 3 (0.05 x 60), or a complement of 3 (0.95 x 60): the row is withheld, the status not pass.
    for share in (0.05, 0.95):
        bad = pd.DataFrame({"g": ["a", "b", "c"], "share": [share, 0.5, 0.5], "n": [60, 160, 200]})
        b = outputs.save_table(bad, f"bad{int(share * 100)}", "share by g", "all", statistic="proportion", counts="n")
        assert np.isnan(b.table["share"].iloc[0]) and "DerivedCountCheck" in _rules(b) and b.status != "pass"
    # Counts given apart from the table: the numerator is not checked, and the review says what to check.
    apart = outputs.save_table(
        t[["g", "share"]],
        "apart",
        "share by g",
        "all",
        statistic="proportion",
        counts=t[["g", "n"]].rename(columns={"n": "share"}),
    )
    assert apart.status == "review" and "CountsOnlyCheck" in _rules(apart)
    assert "numerator" in apart.reasons.loc[apart.reasons["rule"] == "CountsOnlyCheck", "summary"].iloc[0]


def test_means_keep_their_dominance_question(stage):
    t = pd.DataFrame({"year": [2019, 2020], "mean_days": [41.5, 38.0], "n": [120, 150]})
    o = outputs.save_table(t, "days", "mean days", "trials", statistic="mean", counts="n", index="year")
    assert o.status == "review" and _rules(o) == ["CountsOnlyCheck"]
    assert "dominated" in o.reasons["summary"].iloc[0]
    t = t.rename(columns={"mean_days": "median_days"})
    m = outputs.save_table(t, "medians", "median days", "trials", statistic="median", counts="n", index="year")
    assert m.status == "review" and _rules(m)[0] == "CountsOnlyCheck"
    assert "shared by several units" in m.reasons["summary"].iloc[0]


def test_series_coefficients_judged_by_the_series_they_were_fitted_on(stage):
    coef = pd.DataFrame({"term": ["const", "trend", "level_change_2020-03"], "coef": [4.1, 0.01, -0.2]})
    series = pd.Series([120] * 48)
    o = outputs.save_table(coef, "its", "ITS", "monthly counts", statistic="coefficient", counts=series)
    assert o.status == "pass" and _rules(o) == [] and o.n == 120 * 48 and o.type == "regression"
    assert o.table.index.name == "term" and o.table["coef"].tolist() == [4.1, 0.01, -0.2]
    low = outputs.save_table(
        coef, "its_low", "ITS", "monthly", statistic="coefficient", counts=pd.Series([120] * 47 + [3])
    )
    assert low.status == "review" and _rules(low) == ["SeriesMinimumCheck"]
    assert "check no coefficient isolates" in low.reasons["summary"].iloc[0]
    # Saturated (as many coefficients as points) or too few counted units per coefficient: fail, not released.
    sat = outputs.save_table(coef, "its_sat", "ITS", "monthly", statistic="coefficient", counts=pd.Series([120] * 4))
    assert sat.status == "fail" and "MinimumDoFCheck" in _rules(sat)
    thin = outputs.save_table(
        coef, "its_thin", "ITS", "monthly", statistic="coefficient", counts=pd.Series([0] * 40 + [12])
    )
    assert thin.status == "fail" and "EventsPerParameterCheck" in _rules(thin)
    # Without the series the old question stays: which counts?
    bare = outputs.save_table(coef, "its_bare", "ITS", "monthly", statistic="coefficient")
    assert bare.status == "review" and _rules(bare) == ["MissingCountsCheck"]


def test_series_flags_thresholds_follow_the_profile():
    prof = load_profile("srs")
    need = prof.min_safe_count
    assert series_flags(2, pd.Series([need] * 40), prof) == []
    assert [f[1] for f in series_flags(2, pd.Series([need] * 39 + [need - 1]), prof)] == ["SeriesMinimumCheck"]


def test_declared_structural_zeros_are_marked_not_flagged(stage):
    # Outcome by censoring reason: only censored index events have a reason; the other pairs cannot occur.
    t = pd.DataFrame(
        {
            "event": [0, 0, 1, 2],
            "reason": ["coverage_end", "data_cutoff", "", "competing"],
            "n": [40, 55, 300, 25],
        }
    )
    impossible = [(0, ""), (0, "competing"), (1, "competing"), (1, "coverage_end"), (1, "data_cutoff")]
    impossible += [(2, ""), (2, "coverage_end"), (2, "data_cutoff")]
    o = outputs.save_table(t, "cohort", "by outcome", "all", index="event", structural_zeros=impossible)
    assert o.status == "pass" and set(o.reasons["status"]) == {"pass"}
    assert set(o.reasons["rule"]) == {"StructuralZeroCheck"}  # each cell, and the totals made only of them
    entry = json.loads((stage / "cohort" / "results.json").read_text(encoding="utf-8"))["results"]["t1.cohort"]
    assert len(entry["properties"]["structural_cells"]) == len(impossible)
    assert "PresenceOfZeroCheck" not in entry["files"][0]["sdc"]["cells"]
    clearance = (stage / "cohort" / "CLEARANCE.md").read_text(encoding="utf-8")
    assert "- Structural zeros: 8 cell(s) that cannot occur" in clearance and "- Flags: none" in clearance
    # Undeclared, the same zeros (and the class disclosure they make) are left to the checker.
    bare = outputs.save_table(t, "bare", "by outcome", "all", index="event")
    assert bare.status == "review" and {"PresenceOfZeroCheck", "ClassDisclosureCheck"} <= set(bare.reasons["rule"])
    # A declared row that has counts fails the output (tests/outputs/test_structural_zeros.py), and a declaration for
    # the wrong shape is refused.
    wrong = outputs.save_table(t, "wrong", "by outcome", "all", index="event", structural_zeros=[*impossible, (1, "")])
    assert wrong.status == "fail"
    assert ("StructuralZeroCheck", "fail") in set(zip(wrong.reasons["rule"], wrong.reasons["status"], strict=True))
    with pytest.raises(DJSUserError, match="structural_zeros="):
        outputs.save_table(t, "short", "by outcome", "all", index="event", structural_zeros=[(0,)])
