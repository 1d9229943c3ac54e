"""Declared structural zeros in the session layer (`check_table`): known zeros to the protection and the attacker,
and a declaration contradicted by the records fails the output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc import Session

from .attack import attacker_range, released_value
from .conftest import planted_counts

# (a, x) = 3 is small; (b, z) cannot occur. The cheapest complements for (a, x) are the 2x2 pattern through (b, z).
COUNTS = {
    ("a", "x"): 3,
    ("a", "y"): 40,
    ("a", "z"): 50,
    ("b", "x"): 60,
    ("b", "y"): 45,
    ("c", "x"): 30,
    ("c", "y"): 55,
    ("c", "z"): 35,
}
ROWS, COLS = ["a", "b", "c"], ["x", "y", "z"]


def _range_of_small_cell(out) -> tuple[float, float]:
    """The attacker's range for (a, x) from the released cells and totals, with (b, z) = 0 as the pack declares."""
    var = {(r, c): i for i, (r, c) in enumerate((r, c) for r in ROWS for c in COLS)}
    rel = [({var[("b", "z")]: 1.0}, 0.0, 0.0)]
    for (r, c), i in var.items():
        v = released_value(out, r, c)
        if v is not None:
            rel.append(({i: 1.0}, v, v))
    for r in ROWS:
        rel.append(({var[(r, c)]: 1.0 for c in COLS}, released_value(out, r, "All"), released_value(out, r, "All")))
    for c in COLS:
        rel.append(({var[(r, c)]: 1.0 for r in ROWS}, released_value(out, "All", c), released_value(out, "All", c)))
    return attacker_range(len(var), rel, var[("a", "x")])


def test_a_declared_zero_is_never_the_complement_that_protects_a_small_cell():
    df = planted_counts(COUNTS)
    bare = Session("srs", ledger=False).crosstab(df.r, df.c, margins=True, name="bare")
    assert bool(bare.mask.loc["b", "z"])  # undeclared, the zero is an ordinary (cheap) complement
    out = Session("srs", ledger=False).crosstab(df.r, df.c, margins=True, structural_zeros=[("b", "z")], name="t")
    assert out.status == "review" and bool(out.mask.loc["a", "x"])
    assert not bool(out.mask.loc["b", "z"]) and out.table.loc["b", "z"] == 0
    assert int(out.mask.to_numpy().sum()) == 4  # another 2x2 pattern, after the redundancy pass
    assert out.controls[-1].startswith("1 structural zero(s) published rather than withheld as complements")
    assert out.controls[-1].endswith(": passed")
    lo, hi = _range_of_small_cell(out)
    assert lo <= 3 <= hi and hi - lo >= 10
    # The checker's own audit (with the zero fixed) covers exactly the withheld cells, each wide enough.
    withheld = np.flatnonzero(out.evidence["withheld"].to_numpy())
    assert sorted(out.audit.index) == withheld.tolist() and out.audit["ok"].all()


def test_rounded_tables_are_audited_with_declared_zeros_fixed_at_zero():
    df = planted_counts(COUNTS)
    out = Session("opensafely", ledger=False).crosstab(df.r, df.c, margins=True, structural_zeros=[("b", "z")])
    assert out.controls[-1] == "LP attacker audit of redacted cells with the structural zeros fixed at 0: passed"
    assert out.status == "review" and bool(out.mask.iloc[0, 0]) and out.table.iloc[1, 2] == 0


def test_a_declaration_the_records_contradict_fails_the_output_naming_no_value():
    df = planted_counts({**COUNTS, ("b", "z"): 23})
    for profile in ("srs", "opensafely", "acro"):
        out = Session(profile, ledger=False).crosstab(df.r, df.c, structural_zeros=[("b", "z")], name="t")
        assert out.status == "fail"
        fails = out.reasons[out.reasons["status"] == "fail"]
        assert "StructuralZeroCheck" in set(fails["rule"])
        assert not any("23" in s for s in out.reasons["summary"])


def _as_table(counts: dict) -> pd.DataFrame:
    t = pd.DataFrame(0, index=pd.Index(ROWS, name="r"), columns=pd.Index(COLS, name="c"))
    for (r, c), v in counts.items():
        t.loc[r, c] = v
    return t


def test_session_table_takes_the_same_declarations_as_crosstab():
    table = _as_table(COUNTS)
    declared = pd.DataFrame(False, index=table.index, columns=table.columns)
    declared.loc["b", "z"] = True
    s = Session("srs", ledger=False)
    bare = s.table(table, name="bare", margins=True)
    assert "PresenceOfZeroCheck" in set(bare.reasons["rule"]) and bool(bare.mask.loc["b", "z"])
    for spec in (declared, [("b", "z")]):
        out = Session("srs", ledger=False).table(table, name="t", margins=True, structural_zeros=spec)
        assert "PresenceOfZeroCheck" not in set(out.reasons["rule"])
        assert not bool(out.mask.loc["b", "z"]) and out.table.loc["b", "z"] == 0  # a known zero, never a complement
        assert bool(out.mask.loc["a", "x"]) and out.controls[-1].endswith(": passed")
        assert out.status == "review"
        lo, hi = _range_of_small_cell(out)
        assert lo <= 3 <= hi and hi - lo >= 10
    # a probability through its counts takes the declaration too
    p = Session("srs", ledger=False).table(table / 200, counts=table, statistic="probability", name="p",
                                           structural_zeros=declared)  # fmt: skip
    assert "PresenceOfZeroCheck" not in set(p.reasons["rule"]) and np.isnan(p.table.loc["a", "x"])


def test_session_table_fails_a_contradicted_declaration_and_refuses_a_misshapen_one():
    out = Session("srs", ledger=False).table(_as_table({**COUNTS, ("b", "z"): 23}), name="t",
                                             structural_zeros=[("b", "z")])  # fmt: skip
    assert out.status == "fail" and not any("23" in s for s in out.reasons["summary"])
    with pytest.raises(DJSUserError, match="shaped like the table"):
        Session("srs", ledger=False).table(_as_table(COUNTS), name="u", structural_zeros=[("b", "nowhere")])
    with pytest.raises(DJSUserError, match="the table's shape"):
        Session("srs", ledger=False).table(_as_table(COUNTS), name="v", structural_zeros=pd.DataFrame({"x": [True]}))
