from __future__ import annotations

import numpy as np
from scipy import sparse

from djs_toolkit.sdc.audit import PublishedSystem, audit


def _row_system(values, suppressed, total):
    # x_0 + ... + x_k - T = 0 with T published
    k = len(values)
    A = sparse.csr_matrix(np.r_[np.ones(k), -1.0][None, :])
    lower = np.r_[np.where(suppressed, 0.0, values), total]
    upper = np.r_[np.where(suppressed, np.inf, values), total]
    return PublishedSystem(A, np.zeros(1), lower, upper)


def test_single_suppressed_cell_is_pinned():
    res = audit(_row_system(np.array([2.0, 40.0, 50.0]), np.array([True, False, False]), 92.0), [0])
    assert res.loc[0].tolist() == [2.0, 2.0, 0.0]


def test_two_suppressed_cells_share_the_slack():
    res = audit(_row_system(np.array([2.0, 40.0, 50.0]), np.array([True, True, False]), 92.0), [0, 1])
    assert res.loc[0, ["lower", "upper"]].tolist() == [0.0, 42.0]
    assert res.loc[1, ["lower", "upper"]].tolist() == [0.0, 42.0]


def test_unbounded_and_interval_knowledge():
    A = sparse.csr_matrix((0, 2))
    res = audit(PublishedSystem(A, np.zeros(0), np.array([0.0, -np.inf]), np.array([np.inf, np.inf])), [0, 1])
    assert res.loc[0].tolist() == [0.0, np.inf, np.inf]
    assert res.loc[1, "lower"] == -np.inf
    # rounded published values as intervals: x0 + x1 = T, x1 in [8, 12], T in [48, 52]
    A = sparse.csr_matrix([[1.0, 1.0, -1.0]])
    sys_ = PublishedSystem(A, np.zeros(1), np.array([0.0, 8.0, 48.0]), np.array([np.inf, 12.0, 52.0]))
    assert audit(sys_, [0]).loc[0].tolist() == [36.0, 44.0, 8.0]


def test_independent_components_are_solved_separately():
    # two separate rows: cells 0,1 in row 1 and 3,4 in row 2
    A = sparse.csr_matrix([[1.0, 1.0, -1.0, 0, 0, 0], [0, 0, 0, 1.0, 1.0, -1.0]])
    lower = np.array([0.0, 0.0, 30.0, 0.0, 7.0, 20.0])
    upper = np.array([np.inf, np.inf, 30.0, np.inf, 7.0, 20.0])
    res = audit(PublishedSystem(A, np.zeros(2), lower, upper), [0, 1, 3])
    assert res["width"].tolist() == [30.0, 30.0, 0.0]
    assert res.loc[3, "lower"] == 13.0
