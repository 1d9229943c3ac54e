"""Monthly flows on a planted extract (hand counts) and ITS recovery of planted effects on simulated series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit import DJSUserError, flows, open_extract
from tests.analyses.test_overlap import planted_extract


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    F = {"sex": "F", "age": 17}
    ev = [
        ("A", "mags_hocas", "2014-03-05"),
        ("A", "mags_hocas", "2014-03-20"),
        ("A", "mags_hocas", "2015-07-01"),
        ("B", "mags_hocas", "2012-06-01"),
        ("B", "mags_hocas", "2014-03-10"),  # first seen in the wash-out
        ("C", "civil_caseman_pcol", "2015-01-10"),
        ("C", "mags_hocas", "2015-04-10"),  # civil then mags: 90 days
        ("D", "civil_caseman_pcol", "2015-01-10"),
        ("D", "mags_hocas", "2015-04-11"),  # 91 days: too late
        ("E", "civil_caseman_pcol", "2015-02-01", F),
        ("E", "mags_hocas", "2015-02-01", F),  # same day: not after
        ("E", "mags_hocas", "2015-03-01", F),
        ("G", "mags_hocas", "2020-11-15"),
    ]  # within the last 3 months
    return open_extract(planted_extract(tmp_path_factory.mktemp("flows"), ev))


def _counts(f: pd.DataFrame, dataset: str) -> dict[str, int]:
    g = f[(f["dataset"] == dataset) & (f["count"] > 0)]
    return dict(zip(g["month"].dt.strftime("%Y-%m"), g["count"]))


def test_first_entries_with_washout_and_incomplete_months(extract):
    f = flows.monthly_flows(extract, "first_entry", ["mags_hocas", "civil_caseman_pcol"], washout_months=24)
    # mags covers 2011-01 on: 24 wash-out months, so reporting starts 2013-01 (B's 2012 entry is history only).
    mags = f[f["dataset"] == "mags_hocas"]
    assert mags["month"].min() == pd.Timestamp("2013-01-01") and mags["month"].max() == pd.Timestamp("2020-12-01")
    assert _counts(f, "mags_hocas") == {"2014-03": 1, "2015-02": 1, "2015-04": 2, "2020-11": 1}
    assert _counts(f, "civil_caseman_pcol") == {"2015-01": 2, "2015-02": 1}
    # any: from the later wash-out end (civil 2012-01 + 24 months), first contact anywhere
    assert _counts(f, "any") == {"2014-03": 1, "2015-01": 2, "2015-02": 1, "2020-11": 1}
    assert f.loc[f["dataset"] == "any", "month"].min() == pd.Timestamp("2014-01-01")
    # the last 3 observed months are flagged, nothing earlier
    flagged = f.loc[(f["dataset"] == "mags_hocas") & f["incomplete"], "month"].dt.strftime("%Y-%m").tolist()
    assert flagged == ["2020-10", "2020-11", "2020-12"]
    assert f["count"].sum() == 5 + 3 + 5


def test_re_entries_and_groups(extract):
    f = flows.monthly_flows(extract, "re_entry", ["mags_hocas", "civil_caseman_pcol"], washout_months=0, by="age_band")
    # A: 2014-03-20 and 2015-07 (after 2014-03-05); B: 2014-03; C, D: mags after civil; E: 2015-03 only
    # (E's same-day mags case is the same contact day as the claim).
    assert _counts(f, "mags_hocas") == {"2014-03": 2, "2015-03": 1, "2015-04": 2, "2015-07": 1}
    e = f[(f["count"] > 0) & (f["month"] == pd.Timestamp("2015-03-01"))]
    assert e["age_band"].unique().tolist() == ["Under 18"]
    assert _counts(f, "civil_caseman_pcol") == {}


def test_transitions_within_days(extract):
    f = flows.monthly_flows(extract, "transition", first="civil_claim", then="mags_hocas", within_days=90)
    assert f["dataset"].unique().tolist() == ["civil_claim -> mags_hocas"]
    # C (90 days) counts in the month of the mags case; D (91 days) and E (same day, then 28 days) ...
    assert _counts(f, "civil_claim -> mags_hocas") == {"2015-03": 1, "2015-04": 1}
    # the reporting span starts once `first` has been observed for within_days (civil from 2012-01-01)
    assert f["month"].min() == pd.Timestamp("2012-04-01")
    with pytest.raises(DJSUserError, match="needs"):
        flows.monthly_flows(extract, "transition", first="civil_claim")
    with pytest.raises(DJSUserError, match="kind"):
        flows.monthly_flows(extract, "entries")


def _simulate(seed: int, level: float, slope: float, dispersion: float | None = None) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = pd.period_range("2012-01", "2022-12", freq="M")
    t = np.arange(len(idx), dtype=float)
    k = (pd.Period("2020-03", "M") - idx[0]).n
    after = (t >= k).astype(float)
    m = idx.month.to_numpy()
    eta = np.log(400) + 0.003 * t + 0.12 * np.sin(2 * np.pi * m / 12) + 0.08 * np.cos(4 * np.pi * m / 12)
    mu = np.exp(eta + level * after + slope * after * (t - k))
    y = rng.poisson(mu) if dispersion is None else rng.negative_binomial(1 / dispersion, 1 / (1 + dispersion * mu))
    return pd.Series(y.astype(float), index=idx)


@pytest.mark.parametrize("family,dispersion", [("poisson", None), ("negbin", 0.02)])
def test_its_recovers_planted_level_and_slope(family, dispersion):
    y = _simulate(7, level=-0.35, slope=0.015, dispersion=dispersion)
    r = flows.its(y, interruptions=["2020-03"], family=family)
    p = r.params
    assert list(p.columns[:5]) == ["coef", "se", "ci_lower", "ci_upper", "p"]
    for term, true, tol in (
        ("level_change_2020-03", -0.35, 0.08),
        ("slope_change_2020-03", 0.015, 0.006),
        ("trend", 0.003, 0.001),
    ):
        assert abs(p.loc[term, "coef"] - true) < min(tol, 4 * p.loc[term, "se"])
    assert p.loc["level_change_2020-03", "p"] < 1e-6
    assert p.loc["level_change_2020-03", "ratio"] == pytest.approx(np.exp(p.loc["level_change_2020-03", "coef"]))
    s = r.series
    # before the interruption the counterfactual is the fit; after it, the counterfactual removes the effects
    pre = s["month"] < pd.Timestamp("2020-03-01")
    assert np.allclose(s.loc[pre, "fitted"], s.loc[pre, "counterfactual"])
    last = s.iloc[-1]
    assert last["counterfactual"] / last["fitted"] == pytest.approx(
        np.exp(-(p.loc["level_change_2020-03", "coef"] + p.loc["slope_change_2020-03", "coef"] * 33))
    )
    assert (s["cf_lower"] < s["counterfactual"]).all() and (s["counterfactual"] < s["cf_upper"]).all()
    if family == "negbin":
        assert 0.01 < r.nb_alpha < 0.04


def test_its_intervals_cover_the_planted_effects():
    # HAC alone covered the level change in ~65% of series (variances floored at the model-based ones since).
    hits = []
    for seed in range(30):
        p = flows.its(_simulate(seed, level=-0.35, slope=0.015), interruptions=["2020-03"]).params
        hits.append(p.loc["level_change_2020-03", "ci_lower"] < -0.35 < p.loc["level_change_2020-03", "ci_upper"])
        hits.append(p.loc["slope_change_2020-03", "ci_lower"] < 0.015 < p.loc["slope_change_2020-03", "ci_upper"])
    assert np.mean(hits) >= 0.85


def test_its_ramp_exclusions_offset_and_flows_input():
    idx = pd.period_range("2015-01", periods=96, freq="M")
    t = np.arange(96.0)
    ramp = np.clip((t - (pd.Period("2021-10", "M") - idx[0]).n) / 12, 0, 1)
    days = pd.Series(np.where(idx.month == 8, 15.0, 20.0), index=idx)  # sitting days as exposure
    wiggle = 1 + 0.01 * np.tile([1.0, -1.0], 48)  # not a perfect fit
    y = pd.Series(days.to_numpy() * 10 * np.exp(0.002 * t - 0.25 * ramp) * wiggle, index=idx)
    y.iloc[70] = 10_000.0  # a broken month, excluded
    r = flows.its(y, ramps=[("2021-10", "2022-10")], seasonality=None, offset=days, exclude=["2020-11"])
    assert r.params.loc["ramp_2021-10", "coef"] == pytest.approx(-0.25, abs=0.01)
    assert bool(r.series.loc[70, "excluded"]) and r.series["excluded"].sum() == 1
    frame = pd.DataFrame({"month": idx.to_timestamp(), "count": y.to_numpy(), "incomplete": t >= 93})
    frame.loc[70, "count"] = y.iloc[69]
    r2 = flows.its(frame, ramps=["2021-10"], seasonality="dummies")
    assert r2.series["excluded"].sum() == 3 and "month_12" in r2.params.index
    with pytest.raises(DJSUserError, match="12 distinct months"):
        flows.its(y.iloc[:10])
    with pytest.raises(DJSUserError, match="family"):
        flows.its(y, family="binomial")
