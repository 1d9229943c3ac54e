from __future__ import annotations

import numpy as np
import pandas as pd

from djs_toolkit.sdc.evidence import cell_evidence, cell_labels
from djs_toolkit.sdc.profiles import load_profile
from djs_toolkit.sdc.statistics import quantile_values, statistic_name, statistic_values, unknown_values


def test_names_of_aggfuncs():
    assert [statistic_name(f) for f in (np.sum, "mean", len, "size", np.median, "var", "nunique")] == [
        "sum",
        "mean",
        "count",
        "count",
        "median",
        "var",
        "nunique",
    ]


def test_linear_and_shape_values_match_pandas():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"g": rng.choice(list("ab"), 200), "v": rng.normal(10, 3, 200)})
    ev = cell_evidence(*cell_labels([df.g]), values=df.v.to_numpy())
    by = df.groupby("g")["v"]
    for stat, exp in [
        ("mean", by.mean()),
        ("var", by.var()),
        ("std", by.std()),
        ("sum", by.sum()),
        ("min", by.min()),
        ("max", by.max()),
    ]:
        got = statistic_values(stat, ev.cells)
        assert np.allclose(got[:2], exp.to_numpy()), stat
    assert np.isclose(statistic_values("mean", ev.cells)[2], df.v.mean())


def test_medians_match_pandas_and_unique_ones_are_rounded():
    g = pd.Series(["a"] * 5 + ["b"] * 4 + ["c"] * 4, name="g")
    v = np.array([1.0, 2.0, 3.0, 3.0, 9.0, 10.0, 20.0, 31.0, 34.0, 10.0, 20.0, 31.0, 44.0])
    ev = cell_evidence(*cell_labels([g]), values=v)
    val, state = quantile_values(ev, v, 0.5, load_profile("srs"))
    # a: median 3 held by two records -> exact.
    # b: median 25.5 held by no record; 2 s.f. of max(|25.5|, sd) -> 26, band [25.5, 26.5) empty; 1 s.f. -> 30,
    #    band [25, 35) holds 31 and 34 -> published as 30.
    # c: same median but band [25, 35) holds only 31 -> unprotectable (state 2, withheld by the rules).
    assert (val[0], state[0]) == (3.0, 0)
    assert (val[1], state[1]) == (30.0, 1)
    assert state[2] == 2
    # p25 with linear interpolation as pandas: a -> 2.0 (a record's value); b, c -> 17.5, held by no record,
    # so with one record required per band it is rounded to 20 (band [15, 25) holds the 20)
    q, qs = quantile_values(ev, v, 0.25, load_profile("srs", position_min_in_band=1))
    assert df_quantile(g, v, 0.25)[:3] == [2.0, 17.5, 17.5]
    assert q[:3].tolist() == [2.0, 20.0, 20.0] and qs[:3].tolist() == [0, 1, 1]


def df_quantile(g, v, q):
    return pd.Series(v).groupby(g.to_numpy()).quantile(q).tolist()


def test_unknown_statistics_are_computed_by_pandas_or_left_missing():
    k = [pd.Series(list("aabb"), name="g")]
    _, grid = cell_labels(k)
    v = pd.Series([1.0, 2.0, 2.0, 2.0])
    assert unknown_values(k, grid, v, "nunique").tolist() == [2.0, 1.0, 2.0]

    def broken(_):
        raise ValueError("boom")

    assert np.isnan(unknown_values(k, grid, v, broken)).all()
