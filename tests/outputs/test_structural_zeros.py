"""save_table(structural_zeros=...): row labels, cell labels or a boolean DataFrame; nonzero declarations fail closed;
declared zeros are known zeros to the protection and the attacker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from djs_toolkit import outputs
from djs_toolkit.errors import DJSUserError
from djs_toolkit.outputs import stage as runner_stage


def _entry(stage: Path, name: str) -> dict:
    return json.loads((stage / name / "results.json").read_text(encoding="utf-8"))["results"][f"t1.{name}"]


# Events per year and dataset, saved wide (years as rows): crown court starts in 2012, so 2010-2011 cannot hold a
# crown record; mags 2013 is a measured zero (nothing says it cannot occur).
VOLUMES = pd.DataFrame({"year": [2010, 2011, 2012, 2013], "crown": [0, 0, 40, 45], "mags": [30, 35, 38, 0]})
OUT_OF_COVERAGE = [(2010, "crown"), (2011, "crown")]


def _mask() -> pd.DataFrame:
    mask = pd.DataFrame(False, index=pd.Index([2010, 2011, 2012, 2013], name="year"), columns=["crown", "mags"])
    mask.loc[[2010, 2011], "crown"] = True
    return mask


@pytest.mark.parametrize("form", ["cells", "lists", "mask"])
@pytest.mark.parametrize(
    ("profile", "bare_status", "declared_status"),
    [("srs", "review", "review"), ("opensafely", "review", "review"), ("acro", "fail", "fail")],
)
def test_cell_declarations_on_a_wide_table_in_every_profile(
    stage, monkeypatch, form, profile, bare_status, declared_status
):
    monkeypatch.setenv(runner_stage.ENV_PROFILE, profile)
    declared = {"cells": OUT_OF_COVERAGE, "lists": [list(c) for c in OUT_OF_COVERAGE], "mask": _mask()}[form]
    bare = outputs.save_table(VOLUMES, "bare", "events per year", "all events", index="year")
    o = outputs.save_table(VOLUMES, "vol", "events per year", "all events", index="year", structural_zeros=declared)
    assert (bare.status, o.status) == (bare_status, declared_status)
    zero_flags = o.reasons[o.reasons["rule"] == "PresenceOfZeroCheck"]
    bare_zeros = bare.reasons[bare.reasons["rule"] == "PresenceOfZeroCheck"]
    if profile == "opensafely":  # zeros pass there: only the class disclosure they make is a question
        assert zero_flags.empty and bare_zeros.empty

        # mags holds all of 2010 and 2011 beside zeros that cannot occur: no class disclosure left there; crown
        # holding all of 2013 beside a measured zero still is one
        def whole(out):
            flags = out.reasons[out.reasons["rule"] == "ClassDisclosureCheck"]
            return sorted(zip(flags["row"], flags["column"], strict=True))

        assert whole(bare) == [(2010, "mags"), (2011, "mags"), (2013, "crown")]
        assert whole(o) == [(2013, "crown")]
    else:
        # undeclared: all three zeros; declared: only the measured one (mags 2013) is left for the checker
        assert sorted(zip(bare_zeros["row"], bare_zeros["column"], strict=True)) == [
            (2010, "crown"),
            (2011, "crown"),
            (2013, "mags"),
        ]
        assert list(zip(zero_flags["row"], zero_flags["column"], strict=True)) == [(2013, "mags")]
    marked = o.reasons[o.reasons["rule"] == "StructuralZeroCheck"]
    assert set(marked["status"]) == {"pass"}
    assert sorted(zip(marked["row"], marked["column"], strict=True)) == OUT_OF_COVERAGE
    entry = _entry(stage, "vol")
    assert [list(c) for c in entry["properties"]["structural_cells"]] == [[0, 0], [1, 0]]
    assert "PresenceOfZeroCheck" not in entry["files"][0]["sdc"]["cells"] or entry["files"][0]["sdc"]["cells"][
        "PresenceOfZeroCheck"
    ] == [[3, 1]]
    if o.status != "fail":  # published as zeros, not withheld
        assert o.table.loc[[2010, 2011], o.table.columns[0]].tolist() == [0, 0]
        clearance = (stage / "vol" / "CLEARANCE.md").read_text(encoding="utf-8")
        assert "- Structural zeros: 2 cell(s) that cannot occur" in clearance


def test_acro_fails_an_undeclared_zero_and_passes_once_every_zero_is_structural(stage, monkeypatch):
    monkeypatch.setenv(runner_stage.ENV_PROFILE, "acro")
    t = VOLUMES.assign(mags=[30, 35, 38, 41])
    o = outputs.save_table(t, "vol", "events per year", "all events", index="year", structural_zeros=_mask())
    assert o.status == "pass" and set(o.reasons["rule"]) == {"StructuralZeroCheck"}
    assert outputs.save_table(t, "bare", "events per year", "all events", index="year").status == "fail"


def test_row_labels_keep_working_and_equal_their_cells_on_a_long_table(stage):
    # Outcome by censoring reason (long: two key columns, one count column); only censored events have a reason.
    t = pd.DataFrame({"event": [0, 0, 1], "reason": ["end", "cutoff", ""], "n": [40, 55, 300]})
    rows = [(0, ""), (1, "end"), (1, "cutoff")]
    by_row = outputs.save_table(t, "rows", "by outcome", "all", index="event", structural_zeros=rows)
    by_cell = outputs.save_table(
        t, "cells", "by outcome", "all", index="event", structural_zeros=[(*r, "n") for r in rows]
    )
    mask = pd.DataFrame(
        {"n": [True, False, False, False, True, True]},
        index=pd.MultiIndex.from_product([[0, 1], ["", "cutoff", "end"]], names=["event", "reason"]),
    )
    by_mask = outputs.save_table(t, "mask", "by outcome", "all", index="event", structural_zeros=mask)
    for o in (by_row, by_cell, by_mask):
        assert o.status == "pass" and set(o.reasons["status"]) == {"pass"}
        assert o.properties["structural_cells"] == by_row.properties["structural_cells"]
    assert len(by_row.properties["structural_cells"]) == 3
    # A one-key table takes a bare label for its row.
    one = pd.DataFrame({"court": ["a", "b", "c"], "n": [40, 0, 55]})
    o = outputs.save_table(one, "one", "by court", "all", structural_zeros=["b"])
    assert o.status == "pass" and len(o.properties["structural_cells"]) == 1


def test_a_statistic_declares_the_zeros_of_its_counts(stage):
    t = pd.DataFrame(
        {
            "from": ["a", "a", "b", "b"],
            "to": ["a", "b", "a", "b"],
            "median_days": [np.nan, 30.0, 45.0, np.nan],
            "n": [0, 40, 55, 0],
        }
    )
    bare = outputs.save_table(t, "bare", "days", "all", statistic="median", counts="n")
    o = outputs.save_table(
        t, "days", "days", "all", statistic="median", counts="n", structural_zeros=[("a", "a"), ("b", "b")]
    )
    assert "PresenceOfZeroCheck" in set(bare.reasons["rule"])
    assert "PresenceOfZeroCheck" not in set(o.reasons["rule"]) and len(o.properties["structural_cells"]) == 2
    # cell labels name the statistic's column; the count column behind it is what is declared
    same = outputs.save_table(
        t, "days2", "days", "all", statistic="median", counts="n", structural_zeros=[("a", "a", "median_days")]
    )
    assert len(same.properties["structural_cells"]) == 1


@pytest.mark.parametrize(
    ("declared", "words"),
    [
        ([(1999, "crown")], "match no cell"),
        ([(2010, "prison")], "match no cell"),
        ([(2010, "crown", "x")], "3 label(s)"),
        ([(2010,), (2011, "crown")], "mixes forms"),
        ([_mask(), (2011, "crown")], "mixes forms"),
        (_mask().rename(columns={"crown": "prison"}), "shaped like the table"),
        (_mask().astype(int), "True/False only"),
        ("2010", "a list of label tuples or a DataFrame"),
    ],
)
def test_bad_declarations_are_one_clear_error_that_repeats_no_label(stage, declared, words):
    with pytest.raises(DJSUserError, match="structural_zeros=") as err:
        outputs.save_table(VOLUMES, "vol", "events per year", "all", index="year", structural_zeros=declared)
    text = str(err.value)
    assert words in text and "1 problem(s)" in text and "1999" not in text
    assert not (stage / "vol").exists()  # nothing staged


def test_structural_zeros_of_a_statistic_need_its_counts(stage):
    t = pd.DataFrame({"court": ["a", "b"], "mean_days": [30.0, 41.0]})
    with pytest.raises(DJSUserError, match="pass counts= too"):
        outputs.save_table(t, "m", "days", "all", statistic="mean", structural_zeros=["a"])


@pytest.mark.parametrize("profile", ["srs", "opensafely", "acro"])
def test_a_declared_cell_with_records_fails_closed_naming_no_value(stage, monkeypatch, capsys, profile):
    # The session layer flagged such a cell for review and released the rest (a large count shown as it is, a small
    # one withheld like any other): the declaration is wrong, so the whole output now fails and nothing is released.
    monkeypatch.setenv(runner_stage.ENV_PROFILE, profile)
    t = VOLUMES.assign(crown=[0, 37, 40, 45], mags=[30, 35, 38, 41])
    o = outputs.save_table(t, "vol", "events per year", "all", index="year", structural_zeros=OUT_OF_COVERAGE)
    assert o.status == "fail"
    whole = o.reasons[(o.reasons["rule"] == "StructuralZeroCheck") & (o.reasons["status"] == "fail")]
    assert whole["summary"].tolist() == [
        "1 cell(s) declared structural zeros (cannot occur) have records: the declaration is wrong, so the table is "
        "withheld; declare only cells that cannot occur (structural_zeros=)"
    ]
    printed = capsys.readouterr().out
    assert "NOT released" in printed and "37" not in printed
    assert not any("37" in str(s) for s in o.reasons["summary"])
    release = stage / "vol" / "release"
    assert not (release / "t1.vol.csv").exists()
    assert all("37" not in p.read_text(encoding="utf-8") for p in release.iterdir())
    # a small count declared structural fails the same way (never passed as a 0 or withheld without a word)
    small = t.assign(crown=[0, 3, 40, 45])
    small_out = outputs.save_table(small, "small", "events", "all", index="year", structural_zeros=OUT_OF_COVERAGE)
    assert small_out.status == "fail"


def _attacker_range(table: pd.DataFrame, mask: pd.DataFrame, known_zero: set, cell: tuple) -> tuple[float, float]:
    """Min and max of `cell` over every non-negative table agreeing with the released numbers, its totals (the
    "All" row and column) and the declared structural zeros (0, as the pack says)."""
    inner = [r for r in table.index if r != "All"]
    cols = [c for c in table.columns if c != "All"]
    unknown = [(r, c) for r in inner for c in cols if bool(mask.loc[r, c]) and (r, c) not in known_zero]
    pos = {rc: i for i, rc in enumerate(unknown)}
    a_eq, b_eq = [], []
    for line, total in [([(r, c) for c in cols], table.loc[r, "All"]) for r in inner] + [
        ([(r, c) for r in inner], table.loc["All", c]) for c in cols
    ]:
        row = np.zeros(len(unknown))
        known = 0.0
        for rc in line:
            if rc in pos:
                row[pos[rc]] = 1.0
            elif rc not in known_zero:
                known += float(table.loc[rc])
        if row.any():
            a_eq.append(row)
            b_eq.append(float(total) - known)
    c = np.zeros(len(unknown))
    c[pos[cell]] = 1.0
    lo = linprog(c, A_eq=np.array(a_eq), b_eq=b_eq, bounds=(0, None)).fun
    hi = -linprog(-c, A_eq=np.array(a_eq), b_eq=b_eq, bounds=(0, None)).fun
    return lo, hi


def test_an_attacker_cannot_pin_a_small_cell_next_to_declared_structural_zeros(stage):
    # One small cell (a, x) = 3 and a structural zero (b, z) diagonal to it: the cheapest complement pattern uses
    # that zero, which the pack names as a zero that cannot occur; with it the attacker would solve (a, x) exactly.
    t = pd.DataFrame({"x": [3, 60, 30], "y": [40, 45, 55], "z": [50, 0, 35]}, index=pd.Index(["a", "b", "c"], name="r"))
    o = outputs.save_table(t, "t", "r by c", "all", margins=True, structural_zeros=[("b", "z")])
    assert o.status == "review" and bool(o.mask.loc["a", "x"])
    assert not bool(o.mask.loc["b", "z"]) and o.table.loc["b", "z"] == 0  # published: it hides nothing
    assert o.properties["structural_cells"] == [(1, 2)]
    assert any("structural zero(s) published rather than withheld" in c and c.endswith("passed") for c in o.controls)
    lo, hi = _attacker_range(o.table, o.mask, {("b", "z")}, ("a", "x"))
    assert lo <= 3 <= hi and hi - lo >= 10  # the srs protection width (the threshold)
    # Every withheld cell keeps that width against the same attacker.
    for r in ["a", "b", "c"]:
        for c in ["x", "y", "z"]:
            if bool(o.mask.loc[r, c]):
                lo, hi = _attacker_range(o.table, o.mask, {("b", "z")}, (r, c))
                assert hi - lo >= 10


def test_a_declaration_no_check_would_read_is_refused_not_dropped(stage):
    s = outputs.session()
    checked = s.crosstab(pd.Series(["a"] * 12 + ["b"] * 15, name="g"), pd.Series(["x"] * 27, name="c"), name="g")
    with pytest.raises(DJSUserError, match="an Output is checked already"):
        outputs.save_table(checked, "g", "by g", "all", structural_zeros=[("a", "x")])
    assert outputs.save_table(checked, "g", "by g", "all").status == "pass"
