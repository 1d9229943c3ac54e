"""mcf against R survfit(Surv(start, stop, event) ~ 1, id = id, robust = TRUE): cumhaz and std.chaz."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival import mcf
from tests.survival.conftest import EST_TOL, SE_TOL, golden


@pytest.mark.parametrize("label,by", [("mcf", None), ("mcf_by_grp", "grp")])
def test_matches_r_robust(ag, label, by):
    r = golden("ag_mcf.csv").query("model == @label")
    ours = mcf(ag, "start", "stop", "event", "id", by=by)
    assert len(ours) == len(r)
    np.testing.assert_array_equal(ours["time"], r["time"])
    np.testing.assert_array_equal(ours["n_at_risk"], r["n_risk"])
    np.testing.assert_array_equal(ours["events"], r["n_event"])
    np.testing.assert_allclose(ours["estimate"], r["cumhaz"], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(ours["std_error"], r["std_chaz"], atol=SE_TOL, rtol=0)
    if by is None:  # R's grouped n.censor with id= is not rows-ending-without-event; ungrouped it is
        np.testing.assert_array_equal(ours["censored"], r["n_censor"])


def test_matches_brute_force_influence():
    # Direct O(n x times) infinitesimal-jackknife variance on a small random data set.
    rng = np.random.default_rng(4)
    rows = []
    for pid in range(25):
        t = int(rng.integers(0, 3))
        while t < 30:
            stop = t + int(rng.integers(1, 8))
            ev = int(stop < 30)
            rows.append((pid, t, min(stop, 30), ev))
            t = stop
    d = pd.DataFrame(rows, columns=["id", "a", "b", "e"])
    out = mcf(d, "a", "b", "e", "id")
    times = out["time"].to_numpy()
    y = np.array([((d.a < s) & (s <= d.b)).sum() for s in times])
    dn = np.array([((d.b == s) & (d.e == 1)).sum() for s in times])
    dlam = dn / y
    infl = np.zeros((d.id.nunique(), len(times)))
    for i, g in d.groupby("id"):
        yi = np.array([((g.a < s) & (s <= g.b)).sum() for s in times])
        ni = np.array([((g.b == s) & (g.e == 1)).sum() for s in times])
        infl[i] = np.cumsum((ni - yi * dlam) / y)
    np.testing.assert_allclose(out["estimate"], np.cumsum(dlam), atol=1e-12)
    np.testing.assert_allclose(out["std_error"], np.sqrt((infl**2).sum(axis=0)), atol=1e-12)


def test_log_ci():
    d = pd.DataFrame({"start": [0, 5, 0, 0], "stop": [5, 9, 7, 9], "ev": [1, 0, 1, 0], "pid": [1, 1, 2, 3]})
    out = mcf(d, "start", "stop", "ev", "pid")
    row = out.iloc[1]
    half = 1.959963984540054 * row["std_error"] / row["estimate"]
    assert row["ci_lower"] == pytest.approx(row["estimate"] * np.exp(-half), rel=1e-9)
    assert row["ci_upper"] == pytest.approx(row["estimate"] * np.exp(half), rel=1e-9)


def test_missing_ids_refused():
    d = pd.DataFrame({"a": [0, 0], "b": [1, 2], "e": [1, 0], "id": [1, None]})
    with pytest.raises(DJSUserError, match="missing person ids"):
        mcf(d, "a", "b", "e", "id")
