"""Input checks and design matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival._inputs import design_matrix, event_codes, weights_array


def test_design_matrix_indicators_first_level_reference():
    d = pd.DataFrame(
        {
            "age": [20, 30, 40, 50],
            "region": ["n", "s", "e", "s"],
            "band": pd.Categorical(["hi", "lo", "lo", "mid"], categories=["lo", "mid", "hi"]),
            "flag": [True, False, True, True],
        }
    )
    x, names = design_matrix(d, ["age", "region", "band", "flag"])
    assert names == ["age", "region[T.n]", "region[T.s]", "band[T.mid]", "band[T.hi]", "flag"]
    np.testing.assert_array_equal(x[:, 1:3], [[1, 0], [0, 1], [0, 0], [0, 1]])
    np.testing.assert_array_equal(x[:, 3:5], [[0, 1], [0, 0], [0, 0], [1, 0]])


def test_single_level_and_missing_refused():
    with pytest.raises(DJSUserError, match="single level"):
        design_matrix(pd.DataFrame({"c": ["a", "a"]}), ["c"])
    with pytest.raises(DJSUserError, match="covariate `c` has 1 missing"):
        design_matrix(pd.DataFrame({"c": ["a", None]}), ["c"])


def test_event_codes_and_weights():
    assert event_codes(None, np.array([True, False]), 2).tolist() == [1, 0]
    with pytest.raises(DJSUserError, match="1 values above 1"):
        event_codes(pd.DataFrame({"e": [0, 2]}), "e", 2)
    with pytest.raises(DJSUserError, match="1 non-integer values"):
        weights_array(pd.DataFrame({"w": [1.0, 1.5]}), "w", 2, integer=True)
    with pytest.raises(DJSUserError, match="1 negative values"):
        weights_array(pd.DataFrame({"w": [1.0, -1.0]}), "w", 2)
