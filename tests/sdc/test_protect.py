from __future__ import annotations

import numpy as np
import pandas as pd

from djs_toolkit.sdc.evidence import cell_evidence, cell_labels
from djs_toolkit.sdc.profiles import load_profile
from djs_toolkit.sdc.protect import denominator_cells, protect_table
from djs_toolkit.sdc.rules import apply_rules

from .conftest import planted_counts


def _protect(df, profile, stat="count", values=None, axes=None):
    lab, g = cell_labels([df["r"], df["c"]])
    ev = cell_evidence(lab, g, values=None if values is None else df[values].to_numpy(float))
    fl = apply_rules(ev.cells, g, "proportion" if axes else stat, profile)
    vals = ev.cells["n"].to_numpy(float) if stat == "count" else ev.cells["sum"].to_numpy(float)
    return protect_table(ev, "proportion" if axes else stat, vals, fl, profile, axes), ev


COUNTS = {("a", "x"): 4, ("a", "y"): 40, ("a", "z"): 50, ("b", "x"): 60, ("b", "y"): 70, ("b", "z"): 80}


def test_suppression_keeps_true_margins_and_audits():
    p, ev = _protect(planted_counts(COUNTS), load_profile("srs"))
    # a/x (4) primary; complements a/y, b/x, b/y (cheapest rectangle); margins are the true totals
    assert np.flatnonzero(p.suppressed).tolist() == [0, 1, 4, 5]
    assert p.published[[3, 7, 8, 9, 10, 11]].tolist() == [94.0, 210.0, 64.0, 110.0, 130.0, 304.0]
    assert p.ok and (p.audit["width"] >= 10).all() and p.applied


def test_no_mitigation_withholds_but_does_not_protect():
    p, _ = _protect(planted_counts(COUNTS), load_profile("srs", mitigation="none"))
    assert np.flatnonzero(p.suppressed).tolist() == [0] and not p.applied and len(p.audit) == 0


def test_rounding_redacts_rounds_and_audits():
    p, _ = _protect(planted_counts(COUNTS), load_profile("opensafely"))
    assert np.isnan(p.published[0])
    assert p.published[[1, 2, 3]].tolist() == [40.0, 50.0, 90.0]  # row total = sum of rounded cells
    assert p.published[[4, 5, 6, 7]].tolist() == [60.0, 70.0, 80.0, 210.0]
    assert p.ok and p.audit.index.tolist() == [0]


def test_proportions_are_derived_from_protected_counts():
    p, _ = _protect(planted_counts(COUNTS), load_profile("srs"), axes=(1,))
    # row b: 60/210, 70/210, 80/210 with b/x and b/y suppressed as complements -> only b/z shown
    assert np.isnan(p.published[4]) and np.isclose(p.published[6], 80 / 210) and p.published[7] == 1.0


def test_magnitude_suppression_protects_sums_by_share():
    df = planted_counts({("a", "x"): 12, ("a", "y"): 12, ("b", "x"): 12, ("b", "y"): 12}, value=10.0)
    df.loc[0, "v"] = 5000.0
    p, ev = _protect(df, load_profile("srs"), stat="sum", values="v")
    assert p.primary[0] and p.ok
    req = p.audit.loc[0, "required"]
    assert np.isclose(req, 0.1 * ev.cells.loc[0, "abs_sum"]) and p.audit.loc[0, "width"] >= req


def test_denominators():
    assert denominator_cells((2, 2), (3, 3), (0,)).tolist() == [6, 7, 8, 6, 7, 8, 6, 7, 8]
    assert pd.Series(denominator_cells((2,), (3,), (0,))).tolist() == [2, 2, 2]
