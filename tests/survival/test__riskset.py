"""The per-time risk table (the package's single (entry, exit] convention)."""

from __future__ import annotations

import numpy as np

from djs_toolkit.survival._riskset import risk_table


def test_hand_computed_with_entry_and_weights():
    stop = np.array([2.0, 4, 4, 6, 7])
    entry = np.array([0.0, 0, 2, 4, 6])  # entries on days 2, 4, 6 are exits/events of others
    codes = np.array([1, 2, 0, 1, 0])
    w = np.array([1.0, 2, 1, 1, 3])
    tab = risk_table(stop, codes, w, entry, n_codes=3)
    assert tab.time.tolist() == [2, 4, 6, 7]
    # at 2: rows 0, 1 (row 2 enters at 2: not at risk); at 4: rows 1, 2; at 6: row 3; at 7: row 4
    assert tab.n_at_risk.tolist() == [3, 3, 1, 3]
    assert tab.events.tolist() == [[0, 1, 0], [1, 0, 2], [0, 1, 0], [3, 0, 0]]
    assert tab.censored.tolist() == [0, 1, 0, 3]
    assert tab.all_events.tolist() == [1, 2, 1, 0]
