"""Weighted Kaplan-Meier, risk contrasts and the weighted Cox model against R survival (tests/fixtures/r/weighted.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival import cox
from djs_toolkit.survival.weighted import risk_contrast, weighted_km
from tests.survival.conftest import EST_TOL, golden


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return golden("weighted.csv")


@pytest.mark.parametrize(("model", "cluster"), [("robust_id", "id"), ("robust_row", None)])
def test_weighted_km_matches_r(data, model, cluster):
    r = golden("weighted_km.csv").query("model == @model").assign(a=lambda x: x["group"].astype(int))
    for a in (0, 1):
        g = r[r["a"] == a]
        c = weighted_km(data[data["a"] == a], "time", "event", weights="w", cluster=cluster, times=g["time"])
        assert len(c) == len(g) > 50
        np.testing.assert_allclose(c["surv"], g["surv"], atol=EST_TOL)
        np.testing.assert_allclose(c["se"], g["std_err"], atol=EST_TOL)  # robust=TRUE: R's std.err is of S
        np.testing.assert_allclose(c["w_at_risk"], g["n_risk"], atol=EST_TOL)
        np.testing.assert_allclose(c["surv_lower"], g["lower"], atol=EST_TOL)
        np.testing.assert_allclose(c["surv_upper"], g["upper"], atol=EST_TOL)
    # The clusters matter: people with several records have a larger variance than rows taken apart.
    by_id = weighted_km(data, "time", "event", weights="w", cluster="id", by="a", times=[100])
    by_row = weighted_km(data, "time", "event", weights="w", by="a", times=[100])
    assert (by_id["se"] != by_row["se"]).all()


def test_weighted_km_default_times_are_event_times(data):
    c = weighted_km(data, "time", "event", weights="w", by="a")
    r = golden("weighted_km.csv").query("model == 'robust_row' and n_event > 0")
    assert len(c) == len(r)
    np.testing.assert_allclose(c["cif"], 1 - r["surv"].to_numpy(), atol=EST_TOL)
    assert (c["cif_lower"] <= c["cif"]).all() and (c["cif"] <= c["cif_upper"]).all()


def test_weighted_cox_matches_r(data):
    r = golden("weighted_cox.csv").set_index("term")
    fit = cox(data, "time", "event", ["a", "x"], weights="w", cluster="id")
    np.testing.assert_allclose(fit.params.loc[["a", "x"], "coef"], r["coef"], atol=EST_TOL)
    np.testing.assert_allclose(fit.params.loc[["a", "x"], "robust_se"], r["robust_se"], atol=EST_TOL)


def test_risk_contrast_is_the_two_curves(data):
    times = [30, 90, 180]
    rc = risk_contrast(data, "time", "event", "a", 1, 0, times, weights="w")
    km = weighted_km(data, "time", "event", weights="w", by="a", times=times)
    one, zero = km[km["a"] == 1].reset_index(), km[km["a"] == 0].reset_index()
    np.testing.assert_allclose(rc["risk_treated"], one["cif"], atol=1e-12)
    np.testing.assert_allclose(rc["rd"], one["cif"] - zero["cif"], atol=1e-12)
    np.testing.assert_allclose(rc["rr"], one["cif"] / zero["cif"], atol=1e-12)
    # Each record its own cluster: the arms are independent, so the variances add.
    np.testing.assert_allclose(rc["rd_se"] ** 2, one["se"] ** 2 + zero["se"] ** 2, rtol=1e-10)
    assert rc["n_treated"].iloc[0] == (data["a"] == 1).sum()
    assert rc["events_control"].tolist() == [
        int(((data["a"] == 0) & (data["event"] == 1) & (data["time"] <= t)).sum()) for t in times
    ]


def test_constant_weights_give_the_unweighted_curve(data):
    a = weighted_km(data, "time", "event", times=[50, 100])
    b = weighted_km(data.assign(w=2.5), "time", "event", weights="w", times=[50, 100])
    np.testing.assert_allclose(a["surv"], b["surv"], atol=1e-12)


def test_bad_input_is_one_clear_error(data):
    with pytest.raises(DJSUserError, match="no records in arm"):
        risk_contrast(data, "time", "event", "a", 2, 0, [10])
    with pytest.raises(DJSUserError, match="cluster"):
        weighted_km(data.assign(id=np.where(data.index == 3, np.nan, data["id"])), "time", "event", cluster="id")
