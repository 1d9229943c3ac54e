"""Totals that are true: save_table(..., margins=) publishes totals computed from the unprotected counts and protected
with the table, never sums of protected cells; an attacker written here bounds every withheld cell from them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from djs_toolkit import outputs
from djs_toolkit.errors import DJSUserError

# Transitions by sex with a small "Missing" group: the shape that made the old heatmap add protected cells.
COUNTS = {
    ("probation", "magistrates"): {"F": 973, "M": 4316, "Missing": 0},
    ("magistrates", "probation"): {"F": 1509, "M": 4371, "Missing": 3},
    ("magistrates", "family"): {"F": 278, "M": 462, "Missing": 1},
    ("family", "civil"): {"F": 494, "M": 472, "Missing": 12},
    ("civil", "family"): {"F": 486, "M": 443, "Missing": 11},
    ("crown", "civil"): {"F": 3, "M": 9, "Missing": 0},
    ("prison", "probation"): {"F": 473, "M": 1720, "Missing": 0},
}


def _long() -> pd.DataFrame:
    rows = [(a, b, g, n) for (a, b), by in COUNTS.items() for g, n in by.items()]
    return pd.DataFrame(rows, columns=["from_dataset", "to_dataset", "sex", "transitions"])


def _attack(true: pd.DataFrame, shown: pd.DataFrame, row_totals: pd.Series, col_totals: pd.Series) -> list[float]:
    """Width of each withheld interior cell given every published cell, row total and column total."""
    r, c = true.shape
    n = r * c
    pub = shown.to_numpy(float)
    bounds = [(0, None) if np.isnan(pub[i, j]) else (pub[i, j], pub[i, j]) for i in range(r) for j in range(c)]
    A, b = [np.ones(n)], [float(true.to_numpy().sum())]  # the grand total is public
    for i, v in enumerate(row_totals.to_numpy(float)):
        if not np.isnan(v):
            A.append(np.kron(np.eye(r)[i], np.ones(c)))
            b.append(v)
    for j, v in enumerate(col_totals.to_numpy(float)):
        if not np.isnan(v):
            A.append(np.kron(np.ones(r), np.eye(c)[j]))
            b.append(v)
    widths = []
    for k in np.flatnonzero(np.isnan(pub).ravel()):
        e = np.eye(n)[k]
        lo = linprog(e, A_eq=np.array(A), b_eq=b, bounds=bounds, method="highs")
        hi = linprog(-e, A_eq=np.array(A), b_eq=b, bounds=bounds, method="highs")
        assert lo.status == 0 and hi.status in (0, 3)
        widths.append(np.inf if hi.status == 3 else -hi.fun - lo.fun)
    return widths


def test_margins_of_a_key_column_are_true_totals_protected_with_the_table(stage, capsys):
    out = outputs.save_table(_long(), "transitions", "transitions by sex", "people", margins="sex")
    table = out.table
    assert list(table.columns) == ["F", "M", "Missing", "All"]
    rows = table.drop(index="All", level=0)
    for (a, b), by in COUNTS.items():
        total = table.loc[(a, b), "All"]
        # a published total is the true total, whatever is withheld beside it: never a sum of protected cells
        assert pd.isna(total) or total == sum(by.values())
    # probation -> magistrates: 5,289 whoever is withheld (the old heatmap read 5,289, 0 or 4,065)
    assert table.loc[("probation", "magistrates"), "All"] == 5289
    assert rows[["F", "M", "Missing"]].isna().to_numpy().any()  # the small cells are withheld ...
    assert not (rows.fillna(-1) == 0).to_numpy()[rows.isna().to_numpy()].any()  # ... as missing, never as 0
    true = pd.DataFrame(COUNTS).T[["F", "M", "Missing"]].reindex(rows.index, fill_value=0)  # every from x to
    groups = ["F", "M", "Missing"]
    widths = _attack(true, rows[groups].astype(float), rows["All"].astype(float), table.loc["All", groups].iloc[0])
    assert len(widths) == int(rows[groups].isna().to_numpy().sum()) and min(widths) >= 10 - 1e-6
    # the share of the total withheld is a property of the output and is printed with the saved line
    withheld = rows[["F", "M", "Missing"]].isna().to_numpy()
    assert out.properties["withheld_share"] == pytest.approx(true.to_numpy()[withheld].sum() / true.to_numpy().sum())
    assert "of the total in withheld cells" in capsys.readouterr().out
    record = next(stage.iterdir())
    text = (record / "CLEARANCE.md").read_text(encoding="utf-8")
    assert f"- Withheld: {out.properties['withheld_share']:.1%} of the total in withheld cells" in text
    assert json.loads((record / "results.json").read_text())["results"]["t1.transitions"]["properties"][
        "withheld_share"
    ] == pytest.approx(out.properties["withheld_share"])


def test_margins_true_publishes_row_and_column_totals_of_a_wide_table(stage):
    wide = pd.DataFrame({"court": ["a", "b", "c"], "2019": [40, 55, 3], "2020": [60, 45, 30]})
    out = outputs.save_table(wide, "courts", "cases by court and year", "cases", margins=True)
    assert out.table.loc["All", "All"] == 233
    assert out.table.loc["a", "All"] == 100 and out.table.loc["All", "2020"] == 135
    assert pd.isna(out.table.loc["c", "2019"])


def test_margins_are_refused_where_totals_are_not_sums(stage):
    t = pd.DataFrame({"year": [2019, 2020], "mean_days": [41.5, 38.0], "n": [120, 150]})
    with pytest.raises(DJSUserError, match="margins= applies to a DataFrame of counts"):
        outputs.save_table(t, "days", "mean days", "trials", statistic="mean", counts="n", index="year", margins=True)
    with pytest.raises(DJSUserError, match="margins='sex' needs `sex` to be a key column"):
        outputs.save_table(_long().drop(columns="sex").drop_duplicates(["from_dataset", "to_dataset"]), "t", "t", "p",
                           margins="sex")  # fmt: skip
