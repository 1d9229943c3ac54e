"""Confidence-interval transforms (R survfit conf.type) and grouping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival._curves import by_groups, log_ci, survival_ci, z_value


def test_survival_ci_formulas():
    s, se, z = np.array([0.8, 1.0, 0.0]), np.array([0.1, 0.0, np.inf]), 1.96
    lo, hi = survival_ci(s.copy(), se, "log-log", z)
    # S^exp(-+ z se / log S): the log(-log S) interval mapped back
    assert lo[0] == pytest.approx(0.8 ** np.exp(-z * 0.1 / np.log(0.8)), rel=1e-12)
    assert hi[0] == pytest.approx(0.8 ** np.exp(z * 0.1 / np.log(0.8)), rel=1e-12)
    assert (lo[1], hi[1]) == (1.0, 1.0) and np.isnan(lo[2])
    lo, hi = survival_ci(s.copy(), se, "log", z)
    assert lo[0] == pytest.approx(0.8 * np.exp(-0.196)) and hi[0] == pytest.approx(min(1, 0.8 * np.exp(0.196)))
    lo, hi = survival_ci(s.copy(), se, "plain", z)
    assert lo[0] == pytest.approx(0.8 - 1.96 * 0.08)
    with pytest.raises(DJSUserError, match="conf_type"):
        survival_ci(s, se, "arcsin", z)


def test_log_ci_and_alpha():
    lo, hi = log_ci(np.array([2.0, 0.0]), np.array([0.5, 0.0]), 1.0)
    assert lo.tolist() == pytest.approx([2 * np.exp(-0.25), 0.0])
    assert hi.tolist() == pytest.approx([2 * np.exp(0.25), 0.0])
    assert z_value(0.05) == pytest.approx(1.959963984540054)
    with pytest.raises(DJSUserError, match="alpha"):
        z_value(1.5)


def test_by_groups_sorted_levels():
    d = pd.DataFrame({"g": ["b", "a", "b", "c"]})
    got = [(lv, idx.tolist()) for lv, idx, _ in by_groups(d, "g")]
    assert got == [("a", [1]), ("b", [0, 2]), ("c", [3])]
