"""Golden tests: each rule on a hand-made table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from djs_toolkit.sdc.evidence import cell_evidence, cell_labels
from djs_toolkit.sdc.profiles import load_profile
from djs_toolkit.sdc.rules import apply_rules, statistic_kind, worst

from .conftest import planted_counts

SRS = load_profile("srs")


def _flags(df, stat="count", profile=SRS, values=None, structural=None):
    lab, g = cell_labels([df["r"], df["c"]])
    ev = cell_evidence(lab, g, values=None if values is None else df[values].to_numpy(float))
    return apply_rules(ev.cells, g, stat, profile, structural), g


def _by_rule(flags, rule):
    return sorted(flags.loc[flags["rule"] == rule, "cell"].tolist())


def test_threshold_counts_and_margins():
    # rows a,b x cols x,y : a/x=9, a/y=10, b/x=30, b/y=1   (ext shape 3x3; ids: a/x=0 a/y=1 a/T=2 ...)
    df = planted_counts({("a", "x"): 9, ("a", "y"): 10, ("b", "x"): 30, ("b", "y"): 1})
    fl, _ = _flags(df)
    assert _by_rule(fl, "MinimumThresholdCheck") == [0, 4]
    osf = load_profile("opensafely")  # <= 7 redacted: 9 and 10 pass, 1 fails
    fl, _ = _flags(df, profile=osf)
    assert _by_rule(fl, "MinimumThresholdCheck") == [4]


def test_zeros_review_unless_structural_and_class_disclosure():
    df = planted_counts({("a", "x"): 20, ("b", "x"): 15, ("b", "y"): 12})  # a/y is an empty cell (id 1)
    fl, _ = _flags(df)
    assert fl.loc[fl["rule"] == "PresenceOfZeroCheck", ["cell", "status"]].values.tolist() == [[1, "review"]]
    # 100% rows/columns -> class disclosure on the cell holding them
    assert _by_rule(fl, "ClassDisclosureCheck") == [0, 4]  # row a is all in x; column y is all in b
    structural = np.zeros(9, dtype=bool)
    structural[1] = True
    fl, _ = _flags(df, structural=structural)
    assert _by_rule(fl, "PresenceOfZeroCheck") == [] and _by_rule(fl, "ClassDisclosureCheck") == []
    acro = load_profile("acro")
    fl, _ = _flags(df, profile=acro)
    assert fl.loc[fl["rule"] == "PresenceOfZeroCheck", "status"].tolist() == ["fail"]
    assert _by_rule(fl, "ClassDisclosureCheck") == []


def test_nk_and_p_percent_on_absolute_values():
    # cell a/x: 12 records, one contributes -1000 and the rest 1 each -> dominated even though the sum is negative
    df = planted_counts({("a", "x"): 12, ("a", "y"): 12, ("b", "x"): 12, ("b", "y"): 12}, value=1.0)
    df.loc[0, "v"] = -1000.0
    fl, _ = _flags(df, "sum", values="v")
    assert 0 in _by_rule(fl, "NKCheck") and 0 in _by_rule(fl, "PPercentCheck")
    assert 1 not in _by_rule(fl, "NKCheck") and 4 not in _by_rule(fl, "PPercentCheck")
    # the row margin a/Total (id 2) is dominated too (1000 of 1023)
    assert 2 in _by_rule(fl, "NKCheck")
    # ACRO defers dominance to review when negatives are present (docs/disclosure.md §2.2)
    fl, _ = _flags(df, "sum", profile=load_profile("acro"), values="v")
    assert fl.loc[fl["rule"] == "NKCheck", ["cell", "status"]].values.tolist() == [[-1, "review"]]


def test_nk_boundary_values():
    # two contributors at 45 each + 10 others of 1: top-2 share = 90/100 = 0.9 -> fails (>= k, fail closed)
    df = planted_counts({("a", "x"): 12, ("b", "x"): 12}, value=1.0)
    df.loc[0, "v"] = 45.0
    df.loc[1, "v"] = 45.0
    fl, _ = _flags(df, "sum", values="v")
    assert 0 in _by_rule(fl, "NKCheck")
    # p%: remainder 10 >= 0.1 * 45 -> passes
    assert 0 not in _by_rule(fl, "PPercentCheck")


def test_min_max_fail_by_default_with_alternative_but_pass_under_acro():
    df = planted_counts({("a", "x"): 12, ("b", "x"): 12}, value=3.0)
    df["v"] = np.arange(24.0)
    fl, _ = _flags(df, "max", values="v")
    assert set(fl.loc[fl["rule"] == "ExtremeValueCheck", "status"]) == {"fail"}
    assert "percentile" in fl["summary"].iloc[0]
    fl, _ = _flags(df, "max", profile=load_profile("acro"), values="v")
    assert len(fl) == 0


def test_all_values_same_and_dof_for_std():
    df = planted_counts({("a", "x"): 12, ("b", "x"): 10}, value=4.0)
    df.loc[12:, "v"] = np.arange(10.0)
    fl, _ = _flags(df, "std", values="v")
    assert _by_rule(fl, "AllValuesSameCheck") == [0, 1]  # a/x and its row margin: every record is 4.0
    assert _by_rule(fl, "MinimumDoFCheck") == [2, 3]  # b/x and its row margin: n=10 -> DoF 9 < 10


def test_unknown_statistic_fails_closed_never_pass():
    df = planted_counts({("a", "x"): 12, ("b", "x"): 12}, value=1.0)
    fl, _ = _flags(df, "nunique", values="v")
    row = fl[fl["rule"] == "UnknownStatisticCheck"]
    assert row[["cell", "status"]].values.tolist() == [[-1, "fail"]]
    assert worst(fl["status"]) == "fail"


def test_statistic_kinds_and_worst():
    assert [statistic_kind(s) for s in ("count", "mean", "p95", "p101", "max", "var", "mode")] == [
        "frequency",
        "linear",
        "position",
        "unknown",
        "extreme",
        "shape",
        "unknown",
    ]
    assert worst([]) == "pass" and worst(["review", "fail", "pass"]) == "fail"
    assert isinstance(pd.DataFrame(), pd.DataFrame)
