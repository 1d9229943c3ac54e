"""finegray vs survival::finegray + coxph(cluster(id)), cmprsk::crr, and the censoring-complete route."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival import cox, finegray
from djs_toolkit.survival.finegray import _censoring_km, _left_limit
from tests.survival.conftest import golden
from tests.survival.test_cox import assert_matches_r

COVS = ["x1", "x2", "grp"]


@pytest.mark.parametrize("label,ties", [("finegray", "efron"), ("finegray_breslow", "breslow")])
def test_ipcw_matches_survival_finegray(competing, label, ties):
    res = finegray(competing, "time", "status", 1, COVS, ties=ties)
    assert res.model == "finegray-ipcw"
    assert_matches_r(res, "cr_regression.csv", "cr_regression_fit.csv", label)
    assert res.n == len(competing)


def test_ipcw_close_to_crr(competing):
    # crr differs from finegray + coxph: Breslow-type ties and a variance term for estimating G.
    crr = golden("cr_regression.csv").query("model == 'crr'")
    res = finegray(competing, "time", "status", 1, COVS, ties="breslow")
    np.testing.assert_allclose(res.params["coef"], crr["coef"], atol=5e-5, rtol=0)
    np.testing.assert_allclose(res.params["robust_se"], crr["se"], atol=5e-5, rtol=0)


def test_censoring_complete_matches_coxph(competing):
    res = finegray(competing, "time", "status", 1, COVS, censor_time="cens_time", cluster="id")
    assert res.model == "finegray-complete"
    assert_matches_r(res, "cr_regression.csv", "cr_regression_fit.csv", "censoring_complete")


def test_cause_specific_is_plain_cox(competing):
    res = cox(competing.assign(e1=(competing.status == 1).astype(int)), "time", "e1", COVS)
    assert_matches_r(res, "cr_regression.csv", "cr_regression_fit.csv", "cause_specific")


def test_row_expansion_equivalent(competing):
    """The tail-row trick equals an explicit R-style expansion fitted as a weighted (start, stop] Cox."""
    ctimes, csurv = _censoring_km(competing["time"].to_numpy(float), competing["status"].to_numpy())
    rows = []
    for r in competing.itertuples():
        if r.status == 2:
            cuts = ctimes[ctimes >= r.time]
            g0 = _left_limit(ctimes, csurv, np.array([r.time]))[0]
            edges = np.r_[r.time, cuts[cuts > r.time], 10_000]
            rows.append((r.id, 0, r.time, 0, 1.0, r.x1, r.x2, r.grp))
            for a, b in zip(edges[:-1], edges[1:]):
                w = _left_limit(ctimes, csurv, np.array([b]))[0] / g0  # G just before b = G on (a, b]
                rows.append((r.id, a, b, 0, w, r.x1, r.x2, r.grp))
        else:
            rows.append((r.id, 0, r.time, int(r.status == 1), 1.0, r.x1, r.x2, r.grp))
    ex = pd.DataFrame(rows, columns=["id", "a", "b", "e", "w", "x1", "x2", "grp"])
    assert ex["w"].max() <= 1.0
    slow = cox(ex, "b", "e", COVS, entry="a", weights="w", cluster="id")
    fast = finegray(competing, "time", "status", 1, COVS)
    np.testing.assert_allclose(fast.params["coef"], slow.params["coef"], atol=1e-9)
    np.testing.assert_allclose(fast.params["robust_se"], slow.params["robust_se"], atol=1e-9)


def test_recovers_true_shr_on_fine_gray_design():
    # Fine & Gray (1999) design (docs/methods.md §5.3 / Appendix): beta1 = (0.5, -0.5), p = 0.4.
    rng = np.random.default_rng(8)
    n = 4000
    x = rng.binomial(1, 0.5, (n, 2)).astype(float)
    lp = x @ np.array([0.5, -0.5])
    p1 = 1 - (1 - 0.4) ** np.exp(lp)
    is1 = rng.uniform(size=n) < p1
    u = rng.uniform(size=n)
    t1 = -np.log(1 - (1 - (1 - u * p1) ** np.exp(-lp)) / 0.4)
    t2 = rng.exponential(1 / np.exp(x @ np.array([0.5, -0.5])), n)
    t = np.where(is1, t1, t2)
    c = rng.uniform(0.5, 3.0, n)
    d = pd.DataFrame(
        {"t": np.minimum(t, c), "s": np.where(t <= c, np.where(is1, 1, 2), 0), "c": c, "x1": x[:, 0], "x2": x[:, 1]}
    )
    ipcw = finegray(d, "t", "s", 1, ["x1", "x2"])
    complete = finegray(d.assign(t=np.where(d.s == 0, d.c, d.t)), "t", "s", 1, ["x1", "x2"], censor_time="c")
    for res in (ipcw, complete):
        lo = np.log(res.params["ci_lower"]).to_numpy()
        hi = np.log(res.params["ci_upper"]).to_numpy()
        assert np.all((lo < [0.5, -0.5]) & (hi > [0.5, -0.5]))


def test_censoring_complete_refuses_random_censoring(competing):
    bad = competing.assign(cens_time=competing["cens_time"] + 1)
    with pytest.raises(DJSUserError, match="not purely administrative"):
        finegray(bad, "time", "status", 1, COVS, censor_time="cens_time")


def test_unknown_cause(competing):
    with pytest.raises(DJSUserError, match="no events with code 3"):
        finegray(competing, "time", "status", 3, COVS)
