"""min_max: the attacker's LP pair through HiGHS."""

import subprocess
import sys

import numpy as np
from scipy import sparse

from djs_toolkit.sdc.lp import min_max


def test_min_and_max_of_a_cell_given_a_row_total_and_a_bound():
    # x0 + x1 + x2 = 10, x1 = 4 published, x2 <= 5: x0 in [1, 6]
    A = sparse.csr_matrix([[1.0, 1.0, 1.0]])
    lo, hi = min_max(A, np.array([[10.0, 10.0]]), np.array([[0, np.inf], [4, 4], [0, 5]], float), np.array([1.0, 0, 0]))
    assert (lo[0], hi[0]) == (1.0, 6.0)


def test_infeasible_or_unbounded_gives_none():
    A = sparse.csr_matrix([[1.0, 1.0]])
    assert min_max(A, np.array([[10.0, 10.0]]), np.array([[0, 2], [0, 2]], float), np.array([1.0, 0])) is None
    assert min_max(A, np.array([[0.0, np.inf]]), np.array([[0, np.inf], [0, 1]], float), np.array([1.0, 0])) is None


def test_the_solver_prints_nothing_to_stdout():
    # HiGHS writes a banner from C++ when its first solver is made; it must not reach executed notebooks
    code = (
        "import numpy as np; from scipy import sparse; from djs_toolkit.sdc.lp import min_max; "
        "min_max(sparse.csr_matrix([[1.0]]), np.array([[1.0, 1.0]]), np.array([[0.0, 5.0]]), np.array([1.0]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "" and out.stderr == ""
