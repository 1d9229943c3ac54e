from __future__ import annotations

import numpy as np
import pandas as pd

from djs_toolkit.sdc.evidence import Grid
from djs_toolkit.sdc.output import Output, display_table


def test_display_two_by_two_with_and_without_margins():
    g = Grid(("r", "c"), (pd.Index(["a", "b"]), pd.Index(["x", "y"])), 1)
    vals = np.arange(9.0)
    t, ids = display_table(g, vals, margins=False)
    assert t.to_numpy().tolist() == [[0.0, 1.0], [3.0, 4.0]] and ids.tolist() == [[0, 1], [3, 4]]
    t, _ = display_table(g, vals, margins=True, margins_name="Total")
    assert list(t.index) == ["a", "b", "Total"] and list(t.columns) == ["x", "y", "Total"]
    assert t.loc["Total", "Total"] == 8.0


def test_display_multiindex_rows_use_pandas_margin_label():
    g = Grid(("r", "s", "c"), (pd.Index(["a", "b"]), pd.Index(["p"]), pd.Index(["x"])), 2)
    t, ids = display_table(g, np.arange(12.0), margins=True)
    assert list(t.index) == [("a", "p"), ("b", "p"), ("All", "")]
    assert ids.tolist() == [[0, 1], [4, 5], [10, 11]]


def test_output_repr_lists_rules_and_controls_only():
    table = pd.DataFrame({"x": [np.nan, 20.0]}, index=["a", "b"])
    mask = pd.DataFrame({"x": [True, False]}, index=["a", "b"])
    reasons = pd.DataFrame(
        [("a", "x", "MinimumThresholdCheck", "fail", "unweighted n < 10")],
        columns=["row", "column", "rule", "status", "summary"],
    )
    o = Output(
        "t",
        "review",
        "table",
        "crosstab",
        "count",
        table,
        mask,
        reasons,
        evidence=pd.DataFrame({"n": [3, 20]}),
        controls=["primary suppression"],
    )
    text = repr(o)
    assert "MinimumThresholdCheck x1" in text and "withheld cells: 1" in text and "evidence" not in text
    assert str(o) == text
