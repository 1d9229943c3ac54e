from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.histogram import bin_values


def test_automatic_edges_lie_strictly_outside_the_data():
    v = pd.Series(np.array([18.0, 19.5, 40.0, 89.0]), name="age")
    binned, edges, flag = bin_values(v, 7)
    assert edges[0] < 18.0 and edges[-1] > 89.0 and flag is None
    assert len(edges) == 8 and np.allclose(np.diff(edges), np.diff(edges)[0])
    assert binned.isna().sum() == 0 and list(binned.cat.categories)[0].startswith("[")


def test_explicit_edges_at_the_extremes_are_flagged_and_outside_values_dropped():
    v = pd.Series([0.0, 5.0, 10.0, 12.0])
    binned, edges, flag = bin_values(v, [0.0, 5.0, 10.0])
    assert "minimum or maximum" in flag
    assert binned.cat.codes.tolist() == [0, 1, -1, -1]  # half-open bins: 10 and 12 fall outside


def test_bad_bins_are_user_errors():
    with pytest.raises(DJSUserError):
        bin_values(pd.Series([1.0]), [3.0, 1.0])
    with pytest.raises(DJSUserError):
        bin_values(pd.Series([np.nan]), 3)
