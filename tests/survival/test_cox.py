"""cox against R coxph: Rossi (Efron, Breslow, cluster, strata, factor) and delayed entry (weights)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival import CoxResult, cox
from tests.survival.conftest import EST_TOL, SE_TOL, golden

ROSSI = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


def assert_matches_r(res: CoxResult, table: str, fit_table: str, label: str) -> None:
    """Coefficients, SEs, robust SEs, log-likelihoods, n, events and concordance vs one R fit."""
    r = golden(table).query("model == @label")
    p = res.params
    assert len(p) == len(r)
    np.testing.assert_allclose(p["coef"], r["coef"], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(p["se"], r["se"], atol=SE_TOL, rtol=0)
    if r["robust_se"].notna().all():
        np.testing.assert_allclose(p["robust_se"], r["robust_se"], atol=SE_TOL, rtol=0)
    else:
        assert "robust_se" not in p
    f = golden(fit_table).query("model == @label").iloc[0]
    assert res.loglik == pytest.approx(f["loglik"], abs=EST_TOL)
    assert res.loglik_null == pytest.approx(f["loglik0"], abs=EST_TOL)
    assert res.concordance == pytest.approx(f["concordance"], abs=EST_TOL)
    assert res.events == f["events"]


@pytest.mark.parametrize(
    "label,kwargs",
    [
        ("efron", {}),
        ("breslow", {"ties": "breslow"}),
        ("efron_cluster", {"cluster": "cid"}),
        ("breslow_cluster", {"cluster": "cid", "ties": "breslow"}),
    ],
)
def test_rossi_matches_coxph(rossi, label, kwargs):
    res = cox(rossi, "week", "arrest", ROSSI, **kwargs)
    assert_matches_r(res, "rossi_cox.csv", "rossi_cox_fit.csv", label)
    assert res.n == 432 and res.df_model == 7 and res.df_resid == 425


def test_rossi_reference_values(rossi):
    # docs/methods.md §1, Rossi reference values (Fox & Weisberg).
    res = cox(rossi, "week", "arrest", ROSSI)
    np.testing.assert_allclose(
        res.params["coef"], [-0.37942, -0.05744, 0.3139, -0.1498, -0.4337, -0.08487, 0.0915], atol=6e-5
    )


def test_rossi_strata_and_cluster(rossi):
    covs = ["fin", "age", "race", "wexp", "paro", "prio"]
    res = cox(rossi, "week", "arrest", covs, strata="mar", cluster="cid")
    assert_matches_r(res, "rossi_cox.csv", "rossi_cox_fit.csv", "efron_strata_cluster")
    assert res.n_clusters == 150


def test_rossi_categorical_covariate(rossi):
    res = cox(rossi, "week", "arrest", ["fin", "age", "prio_cat"])
    assert list(res.params.index) == ["fin", "age", "prio_cat[T.1-2]", "prio_cat[T.3+]"]
    assert_matches_r(res, "rossi_cox.csv", "rossi_cox_fit.csv", "efron_factor")


@pytest.mark.parametrize(
    "label,kwargs",
    [
        ("efron", {}),
        ("breslow", {"ties": "breslow"}),
        ("efron_weights", {"weights": "w"}),
        ("efron_cluster", {"cluster": "cl"}),
    ],
)
def test_delayed_entry_matches_coxph(delayed, label, kwargs):
    res = cox(delayed, "exit", "event", ["x1", "x2", "g"], entry="entry", **kwargs)
    assert_matches_r(res, "delayed_cox.csv", "delayed_cox_fit.csv", label)


def test_result_columns_ci_and_covariance(rossi):
    res = cox(rossi, "week", "arrest", ROSSI, cluster="cid", alpha=0.1)
    p = res.params
    assert list(p.columns) == ["coef", "se", "robust_se", "hr", "ci_lower", "ci_upper", "p"]
    z = 1.6448536269514722
    np.testing.assert_allclose(p["ci_lower"], np.exp(p["coef"] - z * p["robust_se"]), rtol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(res.covariance)), p["robust_se"], rtol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(res.naive_covariance)), p["se"], rtol=1e-12)
    assert res.lr_chisq == pytest.approx(2 * (res.loglik - res.loglik_null))
    assert "concordance" in str(res)


@pytest.mark.parametrize("kwargs", [{}, {"cluster": "cid"}])
def test_covariance_off_diagonals_follow_a_reparametrisation(rossi, kwargs):
    # The R fixtures hold SEs (diagonals, matched above), not vcov. Refitting on z = x A (cumulative sums
    # of the covariates) must give coef A^-1 b and covariance A^-1 V A^-T, naive and robust alike; the
    # new diagonals mix every off-diagonal of V (with V's off-diagonals zeroed they are off by up to 0.045).
    a_mat = np.triu(np.ones((len(ROSSI), len(ROSSI))))
    inv = np.linalg.inv(a_mat)
    z = rossi.copy()
    z[ROSSI] = rossi[ROSSI].to_numpy(float) @ a_mat
    a, b = cox(rossi, "week", "arrest", ROSSI, **kwargs), cox(z, "week", "arrest", ROSSI, **kwargs)
    np.testing.assert_allclose(b.params["coef"], inv @ a.params["coef"].to_numpy(), rtol=1e-9, atol=1e-12)
    for attr in ["covariance", "naive_covariance"]:
        v = getattr(a, attr)
        assert list(v.index) == list(v.columns) == ROSSI
        np.testing.assert_allclose(v, v.T, rtol=0, atol=1e-15)
        np.testing.assert_allclose(getattr(b, attr), inv @ v.to_numpy() @ inv.T, rtol=0, atol=1e-11)


def test_frequency_weights_equal_expanded_rows_breslow(delayed):
    # Exact for Breslow; R's weighted Efron counts tied rows, not weights (matched above instead).
    expanded = delayed.loc[delayed.index.repeat(delayed["w"])]
    a = cox(delayed, "exit", "event", ["x1", "x2"], entry="entry", weights="w", ties="breslow")
    b = cox(expanded, "exit", "event", ["x1", "x2"], entry="entry", ties="breslow")
    np.testing.assert_allclose(a.params["coef"], b.params["coef"], atol=1e-10)
    np.testing.assert_allclose(a.params["se"], b.params["se"], atol=1e-10)


def test_entry_on_event_day_needs_no_epsilon():
    # Splitting follow-up at any day, with the second piece entering on that day, changes nothing.
    rng = np.random.default_rng(0)
    n = 300
    d = pd.DataFrame({"t": rng.integers(1, 60, n), "e": rng.binomial(1, 0.7, n), "x": rng.normal(size=n)})
    cut = 20
    early = d.assign(a=0, b=np.minimum(d.t, cut), ev=np.where(d.t <= cut, d.e, 0))
    late = d[d.t > cut].assign(a=cut, b=lambda z: z.t, ev=lambda z: z.e)
    split = pd.concat([early, late], ignore_index=True)
    whole = cox(d, "t", "e", ["x"])
    pieces = cox(split, "b", "ev", ["x"], entry="a")
    assert pieces.params["coef"].iloc[0] == pytest.approx(whole.params["coef"].iloc[0], abs=1e-12)
    assert pieces.loglik == pytest.approx(whole.loglik, abs=1e-9)


def test_errors_name_columns_not_values(rossi):
    with pytest.raises(DJSUserError, match="covariate column `nope`"):
        cox(rossi, "week", "arrest", ["nope"])
    bad = rossi.assign(age=rossi["age"].where(rossi.index > 2))
    with pytest.raises(DJSUserError, match="covariate `age` has 3 missing values"):
        cox(bad, "week", "arrest", ["age"])
    with pytest.raises(DJSUserError, match="no events"):
        cox(rossi.assign(arrest=0), "week", "arrest", ["age"])
    with pytest.raises(DJSUserError, match="singular"):
        cox(rossi.assign(age2=rossi["age"] * 2), "week", "arrest", ["age", "age2"])
