from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from djs_toolkit.sdc.evidence import Grid
from djs_toolkit.sdc.rounding import midpoint6, round_to_base, rounded_counts, rounding_bounds
from djs_toolkit.sdc.session import Session


def test_base_and_midpoint6_values():
    assert round_to_base(np.array([7, 8, 12, 13, 22, 23]), 5).tolist() == [5, 10, 10, 15, 20, 25]
    assert round_to_base(np.array([14, 15]), 10).tolist() == [10, 20]
    assert midpoint6(np.arange(0, 14)).tolist() == [0, 3, 3, 3, 3, 3, 3, 9, 9, 9, 9, 9, 9, 15]


@given(st.integers(0, 10_000), st.sampled_from([3, 5, 10]))
def test_bounds_contain_exactly_the_values_that_round_there(x, base):
    v = round_to_base(np.array([x]), base)
    lo, hi = rounding_bounds(v, "base", base)
    assert lo[0] <= x <= hi[0]
    assert round_to_base(np.array([lo[0], hi[0]]), base).tolist() == [v[0], v[0]]
    m = midpoint6(np.array([x]))
    lo, hi = rounding_bounds(m, "midpoint6")
    assert lo[0] <= x <= hi[0] and midpoint6(np.array([lo[0], hi[0]])).tolist() == [m[0], m[0]]


def test_totals_are_sums_of_rounded_cells():
    g = Grid(("r", "c"), (pd.Index(["a", "b"]), pd.Index(["x", "y"])), 1)
    counts = np.array([12, 3, 15, 23, 31, 54, 35, 34, 69], dtype=float)  # ext 3x3 in C order
    redact = np.zeros(9, bool)
    redact[1] = True
    pub, system = rounded_counts(g, counts, redact, "base", 5)
    assert np.isnan(pub[1])
    assert pub.tolist()[2:] == [10.0, 25.0, 30.0, 55.0, 35.0, 30.0, 65.0]
    assert pub[0] == 10.0
    assert (system.lower[1], system.upper[1]) == (0.0, np.inf)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(-1e6, 1e6, allow_nan=False)), min_size=1, max_size=120))
def test_property_counts_only_rounding_never_touches_a_mean(rows):
    df = pd.DataFrame(rows, columns=["g", "v"])
    out = Session("opensafely").pivot_table(df, values="v", index="g", aggfunc="mean")
    expected = df.groupby("g")["v"].mean()
    n = df.groupby("g").size()
    shown = out.table["v"]
    for g, value in shown.items():
        if pd.notna(value):
            assert n[g] > 7  # redaction of groups of <= 7 people still applies
            assert np.isclose(value, expected[g], rtol=1e-12, atol=1e-9)  # never rounded to a base
