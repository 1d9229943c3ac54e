from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.evidence import Grid, cell_evidence, cell_labels, extend


def test_labels_keep_all_categories_and_mark_missing_keys():
    r = pd.Series(pd.Categorical(["a", "b", None, "a"], categories=["a", "b", "z"]), name="r")
    c = pd.Series(["x", "y", "x", "y"], name="c")
    lab, g = cell_labels([r, c], population=np.array([True, True, True, False]))
    assert g.shape == (3, 2) and list(g.levels[0]) == ["a", "b", "z"]
    assert lab.dtype == np.int32
    assert lab.tolist() == [0, 3, -1, -1]


def test_evidence_on_planted_cells_with_negatives_missing_and_weights():
    r = pd.Series(["a", "a", "a", "b", "b"], name="r")
    v = np.array([5.0, -9.0, np.nan, 2.0, 2.0])
    w = np.array([1.0, 2.0, 1.0, 1.0, 3.0])
    ev = cell_evidence(*cell_labels([r]), values=v, weights=w)
    c = ev.cells
    # cell a: contributions 5, -18 (weighted); cell b: 2, 6; margin = all
    assert c["n"].tolist() == [3, 2, 5]
    assert c["n_value"].tolist() == [2, 2, 4]
    assert c["n_missing"].tolist() == [1, 0, 1]
    assert c["n_weighted"].tolist() == [4.0, 4.0, 8.0]
    assert c["sum"].tolist() == [-13.0, 8.0, -5.0]
    assert c["abs_sum"].tolist() == [23.0, 8.0, 31.0]
    assert c["top1"].tolist() == [18.0, 6.0, 18.0]
    assert c["top2"].tolist() == [5.0, 2.0, 6.0]
    assert c["n_negative"].tolist() == [1, 0, 1]
    assert c["n_distinct"].tolist()[:2] == [2.0, 1.0]
    assert c["is_margin"].tolist() == [False, False, True]


def test_ties_in_top_contributions_and_three_way_margins():
    a = pd.Series(list("aabb") * 2, name="a")
    b = pd.Series(list("xyxy") * 2, name="b")
    c = pd.Series(["p"] * 4 + ["q"] * 4, name="c")
    v = np.array([7.0, 1.0, 3.0, 3.0, 7.0, 2.0, 4.0, 1.0])
    lab, g = cell_labels([a, b, c], n_row_dims=2)
    ev = cell_evidence(lab, g, values=v)
    cells = ev.cells
    grand = cells.iloc[-1]
    assert (grand["n"], grand["sum"], grand["top1"], grand["top2"]) == (8, 28.0, 7.0, 7.0)
    # (a, x, total over c) holds the two 7s
    cid = np.ravel_multi_index((0, 0, 2), g.ext_shape)
    assert (cells.loc[cid, "n"], cells.loc[cid, "top1"], cells.loc[cid, "top2"]) == (2, 7.0, 7.0)
    assert cells.loc[cid, "n_distinct"] == 1.0  # both values are 7: derivable on a margin
    assert g.n_ext == 3 * 3 * 3


def test_extend_sums_margins():
    g = Grid(("r", "c"), (pd.Index(["a", "b"]), pd.Index(["x", "y", "z"])), 1)
    ext = extend({"n": np.arange(6)}, g)["n"].reshape(3, 4)
    assert ext.tolist() == [[0, 1, 2, 3], [3, 4, 5, 12], [3, 5, 7, 15]]


def test_length_mismatch_is_a_user_error():
    with pytest.raises(DJSUserError, match="different length"):
        cell_labels([pd.Series([1, 2]), pd.Series([1])])
