"""Tests for djs_toolkit.dummy.civil."""

from __future__ import annotations

import numpy as np
import pytest

from djs_toolkit.dummy.civil import LANDLORD, POSSESSION, possession_keys, simulate_civil
from djs_toolkit.dummy.config import SCALES, DummyConfig
from djs_toolkit.dummy.population import make_persons


def test_claimants_are_mostly_organisations_and_defendants_people() -> None:
    cfg = DummyConfig()
    ps = make_persons(np.random.default_rng(2), 20_000, cfg, 0)
    out = simulate_civil(np.random.default_rng(2), ps, cfg, 20_000 / 1e7)
    pa = out.parties
    claim = pa["role"] == 0
    assert (pa["party_type"][claim] == 1).mean() > 0.8
    assert (pa["person"][pa["party_type"] == 1] == -1).all() and (pa["org"][pa["party_type"] == 1] >= 0).all()
    assert (pa["person"][pa["role"] == 1] >= 0).all()
    # Repeat institutional claimants: the largest organisation brings many claims.
    orgs, counts = np.unique(pa["org"][pa["org"] >= 0], return_counts=True)
    assert counts.max() >= 20
    p, d = possession_keys(out)
    assert p.size == int((np.isin(out.cases["claim_type"][pa["case"]], POSSESSION) & (pa["role"] == 1)).sum())
    lt = out.cases["landlord_type"][out.cases["claim_type"] == LANDLORD]
    assert (lt >= 0).all() and abs((lt == 0).mean() - 0.36) < 0.05  # social share (docs/data.md §13.5)


@pytest.mark.slow
@pytest.mark.parametrize(
    "claim_type, per_quarter, tol", [("Landlord possession", 24_000, 0.15), ("Mortgage possession", 5_000, 0.2)]
)
def test_possession_claims_per_quarter_at_national_scale(
    small_con, claim_type: str, per_quarter: int, tol: float
) -> None:
    """docs/data.md §13.5: about 24,000 landlord and 5,000 mortgage possession claims a quarter nationally."""
    from _measures import quarterly_claims

    q = quarterly_claims(small_con, claim_type) * 1e7 / SCALES["small"].persons
    mean = q.loc[20131:20194].mean()
    assert abs(mean / per_quarter - 1) <= tol, mean
    assert q.loc[20202] < 0.2 * mean  # 2020 stay of possession proceedings
