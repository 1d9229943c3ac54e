"""Tests for djs_toolkit.dummy.careers: calibration of re-entry (docs/data.md §13.2-13.3) measured
from the generated files on estimated ids, and recovery of the true hazard ratios."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.dummy.careers import COVARIATES, covariates, simulate_careers
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, day
from djs_toolkit.dummy.lookback import EventIndex
from djs_toolkit.dummy.population import make_persons


def _none() -> EventIndex:
    return EventIndex(np.zeros(0, np.int64), np.zeros(0, np.int64))


def test_custody_is_not_street_time_and_offences_follow_their_index() -> None:
    cfg = DummyConfig()
    ps = make_persons(np.random.default_rng(5), 3000, cfg, 0)
    car = simulate_careers(np.random.default_rng(5), ps, cfg, _none(), _none())
    ix = car.indexes
    ok = ix["next_offence"] != NA
    assert (ix["next_offence"][ok] > ix["index_date"][ok]).all()
    c = car.contacts
    # No offence while in prison: every offence lies outside the person's custody spells.
    jail = c["custody"] & (c["release"] != NA)
    spells = pd.DataFrame({"p": c["person"][jail], "a": c["final_date"][jail], "b": c["release"][jail]})
    offs = pd.DataFrame({"p": c["person"], "o": c["offence_date"]})
    m = offs.merge(spells, on="p")
    assert not ((m.o > m.a) & (m.o < m.b)).any()


def test_covariates_are_what_the_truth_readme_says() -> None:
    cfg = DummyConfig()
    ps = make_persons(np.random.default_rng(0), 10, cfg, 0)
    poss = EventIndex(np.array([0, 1]), np.array([day(2015, 1, 1), day(2012, 1, 1)]))
    x = covariates(
        ps, np.arange(3), np.full(3, day(2015, 6, 1)), np.array([0, 1, 2]), np.array([1, 3, 0]), poss, _none(), 730
    )
    assert set(x) == set(COVARIATES)
    assert x["prior_possession_claim_730d"].tolist() == [1.0, 0.0, 0.0]
    assert x["index_release"].tolist() == [0.0, 1.0, 0.0] and x["index_probation_start"].tolist() == [0.0, 0.0, 1.0]
    assert np.allclose(x["log1p_prior_contacts_730d"], np.log1p([1, 3, 0]))


@pytest.mark.slow
def test_cox_on_true_index_events_recovers_the_log_hazard_ratios(small_extract_dir: Path) -> None:
    from statsmodels.duration.hazard_regression import PHReg

    truth = small_extract_dir / "truth"
    lh = pd.read_csv(truth / "reentry_log_hr.csv")
    ix = pd.read_parquet(truth / "index_events.parquet")
    ix = ix[(ix.index_date >= pd.Timestamp("2015-01-01").date()) & (ix.index_date <= pd.Timestamp("2019-12-31").date())]
    ix = ix.sample(n=min(len(ix), 15_000), random_state=0)
    end = pd.Timestamp("2020-12-31")
    start, nxt = pd.to_datetime(ix.index_date), pd.to_datetime(ix.next_offence_date)
    ev = nxt.notna() & (nxt <= end)
    t = np.where(ev, (nxt - start).dt.days, (end - start).dt.days)
    fit = PHReg(t, ix[lh.covariate.tolist()].to_numpy(), status=ev.astype(int).to_numpy(), ties="efron").fit()
    est = pd.Series(fit.params, index=lh.covariate)
    se = pd.Series(fit.bse, index=lh.covariate)
    true = lh.set_index("covariate").log_hr
    # Within 3 standard errors (largest: 1.1). Whole days need no allowance any more: about 5 % of the
    # re-entries fall on day 1 (the former baseline, 38 %, needed 0.12 on top of 4 SE).
    assert ((est - true).abs() <= 3 * se).all(), pd.DataFrame({"true": true, "est": est, "se": se})


@pytest.mark.slow
def test_reentry_hazard_decreases_without_piling_up_on_day_one(small_extract_dir: Path) -> None:
    """Re-entries within a year of an index in 2014-2019: highest early, but not a third on day 1."""
    ix = pd.read_parquet(small_extract_dir / "truth" / "index_events.parquet")
    start = pd.to_datetime(ix.index_date)
    days = (pd.to_datetime(ix.next_offence_date) - start).dt.days
    d = days[(start >= "2014-01-01") & (start <= "2019-12-31") & (days <= 365)]
    assert len(d) > 15_000
    share = {k: float((d <= k).mean()) for k in (1, 7, 30, 91, 182)}
    assert 0.03 < share[1] < 0.07 and 0.18 < share[7] < 0.28, share  # measured 0.048, 0.234
    # Decreasing hazard: each later 91 days of the year holds fewer re-entries than the first 91.
    per_quarter = np.histogram(d, bins=[0, 91, 182, 273, 366])[0]
    assert (np.diff(per_quarter) < 0).all(), per_quarter


@pytest.mark.slow
def test_returning_defendants_match_moj_2022(small_con) -> None:
    """MOJ-RET (docs/data.md §13.2): 56 % of 2011 first-time defendants returned by Dec 2019; 18 % six or more times."""
    from _measures import returning_defendants

    n, ret, six = returning_defendants(small_con)
    assert n > 3000
    assert abs(ret - 0.56) <= 0.07, ret
    assert abs(six - 0.18) <= 0.05, six


@pytest.mark.slow
@pytest.mark.parametrize(
    "cohort, lo, hi",
    [
        ("court_disposal", 0.22, 0.36),  # of the order of 25-35 % (docs/data.md §13.3)
        ("probation_start", 0.25, 0.45),  # adults starting court orders 35 % (§13.3)
        ("release_short_custody", 0.50, 0.70),  # custody < 12 months about 60 % (docs/data.md §13.3)
    ],
)
def test_one_year_court_proven_reoffending(small_con, cohort: str, lo: float, hi: float) -> None:
    from _measures import proven_reoffending

    n, rate = proven_reoffending(small_con, cohort)
    assert n >= 200, n
    assert lo <= rate <= hi, (cohort, rate)
