"""cif against cmprsk::cuminc (estimate and Gray's variance) and survfit multi-state (with entry)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival import cif, km
from tests.survival.conftest import EST_TOL, SE_TOL, golden


@pytest.mark.parametrize("cause", [1, 2])
def test_matches_cuminc(competing, cause):
    r = golden("cr_cuminc.csv").query("cause == @cause")
    ours = cif(competing, "time", "status", cause=cause).set_index("time").loc[r["time"]]
    np.testing.assert_allclose(ours["estimate"], r["est"], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(ours["std_error"], np.sqrt(r["var"]), atol=SE_TOL, rtol=0)


@pytest.mark.parametrize("label,kwargs", [("plain", {}), ("entry", {"entry": "entry"})])
def test_matches_survfit_multistate(competing, label, kwargs):
    r = golden("cr_aj.csv").query("model == @label")
    c1 = cif(competing, "time", "status", cause=1, **kwargs)
    c2 = cif(competing, "time", "status", cause=2, **kwargs)
    np.testing.assert_array_equal(c1["time"], r["time"])
    np.testing.assert_array_equal(c1["n_at_risk"], r["n_risk"])
    np.testing.assert_allclose(c1["estimate"], r["p1"], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(c2["estimate"], r["p2"], atol=EST_TOL, rtol=0)


def test_hand_computed_with_ties_and_complement():
    d = pd.DataFrame({"t": [2, 4, 4, 4, 9, 9], "s": [1, 2, 1, 0, 1, 0]})
    out = cif(d, "t", "s", cause=1)
    # F(2) = 1/6; S(2) = 5/6; F(4) = 1/6 + 5/6 * 1/5; S(4) = 5/6 * 3/5; F(9) += S(4) * 1/2
    assert out["estimate"].tolist() == pytest.approx([1 / 6, 1 / 3, 1 / 3 + 0.5 * 0.5])
    assert out["competing_events"].tolist() == [0, 1, 0]
    # all-cause incidence = 1 - KM of any event
    f2 = cif(d, "t", "s", cause=2)["estimate"].to_numpy()
    s = km(d.assign(any=(d.s > 0).astype(int)), "t", "any")["estimate"].to_numpy()
    np.testing.assert_allclose(out["estimate"].to_numpy() + f2, 1 - s, atol=1e-15)


def test_ci_is_log_minus_log_of_f(competing):
    out = cif(competing, "time", "status", cause=1, alpha=0.1)
    row = out.iloc[100]
    f, se = row["estimate"], row["std_error"]
    half = 1.6448536269514722 * se / (f * abs(np.log(f)))
    assert row["ci_lower"] == pytest.approx(np.exp(-np.exp(np.log(-np.log(f)) + half)), rel=1e-12)
    assert row["ci_upper"] == pytest.approx(np.exp(-np.exp(np.log(-np.log(f)) - half)), rel=1e-12)


def test_grouped_output_has_by_column(competing):
    out = cif(competing, "time", "status", by="grp")
    assert list(out.columns[:2]) == ["grp", "time"]
    solo = cif(competing[competing.grp == "v"], "time", "status")
    np.testing.assert_allclose(out[out.grp == "v"]["estimate"], solo["estimate"])


def test_bad_cause_and_codes():
    d = pd.DataFrame({"t": [1, 2], "s": [1, 0.5]})
    with pytest.raises(DJSUserError, match="1 values that are not integer codes"):
        cif(d, "t", "s")
    with pytest.raises(DJSUserError, match="`cause` must be"):
        cif(d.assign(s=[1, 0]), "t", "s", cause=0)
