"""The planted family-court effect (dummy.family_effect): who is eligible, a confounded order, truth files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.family_effect import FOLLOW_UP_END, TIME_ZERO_FROM, _cox_binary

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def children(small_extract_dir) -> pd.DataFrame:
    return pd.read_parquet(small_extract_dir / "truth" / "family_effect_children.parquet")


@pytest.fixture(scope="module")
def truth(small_extract_dir) -> pd.DataFrame:
    return pd.read_csv(small_extract_dir / "truth" / "family_effect.csv")


def test_eligible_children(children):
    assert len(children) > 150
    assert children["age_at_time_zero"].between(10, 17).all()
    assert (pd.to_datetime(children["time_zero"]) >= pd.Timestamp(TIME_ZERO_FROM)).all()
    assert children["true_person_id"].is_unique


def test_order_is_confounded(children):
    # Riskier children get care orders more often: the planted propensity falls with prior contacts and age.
    cfg = DummyConfig()
    x = np.column_stack(
        [
            np.ones(len(children)),
            children["age_at_time_zero"] - 13,
            children["female"],
            children["prior_contacts_730d"] == 1,
            children["prior_contacts_730d"] >= 2,
        ]
    ).astype(float)
    coef = np.array(
        [cfg.family_effect_propensity[k] for k in ("intercept", "age_minus_13", "female", "prior_1", "prior_2_plus")]
    )
    eldest_only = children["propensity"].to_numpy()
    # The eldest eligible child of each case carries the case's propensity; most cases have one such child.
    assert np.mean(np.isclose(eldest_only, 1 / (1 + np.exp(-x @ coef)))) > 0.9
    none, some = children["prior_contacts_730d"] == 0, children["prior_contacts_730d"] > 0
    assert children.loc[none, "propensity"].mean() > children.loc[some, "propensity"].mean() + 0.1
    ratio = children["rate_supervision"] / children["rate_care"]
    np.testing.assert_allclose(ratio, np.exp(cfg.family_effect_log_hr), rtol=1e-12)


def test_orders_in_the_files_are_the_planted_ones(small_extract_dir, children):
    ev = pd.read_parquet(small_extract_dir / "family_events.parquet", columns=["event_type", "order_type"])
    orders = ev.loc[ev["event_type"] == "Order", "order_type"].value_counts()
    assert orders["Supervision order"] >= children["supervision"].sum() * 0.5  # one order per case, several children


def test_truth_file(truth, children):
    t = truth.set_index(["estimand", "quantity", truth["time_days"].fillna(0).astype(int)])["value"]
    assert t[("conditional", "log_hr", 0)] == DummyConfig().family_effect_log_hr
    fu = pd.to_datetime(children["time_zero"]) < pd.Timestamp(FOLLOW_UP_END)
    assert t[("population", "n_children", 0)] == fu.sum()
    for est in ("ate", "ato"):
        for tau in (365, 730, 1095):
            assert t[(est, "risk_difference", tau)] == pytest.approx(
                t[(est, "risk_supervision", tau)] - t[(est, "risk_care", tau)]
            )
            assert t[(est, "risk_supervision", tau)] < t[(est, "risk_care", tau)]
        # non-collapsible: the marginal hazard ratio is nearer 1 than the conditional one
        assert DummyConfig().family_effect_log_hr < t[(est, "marginal_log_hr", 0)] < 0


def test_cox_binary_matches_a_known_fit():
    # Two arms with exponential times, rates 1 and 2: the log hazard ratio estimate is near log 2.
    rng = np.random.default_rng(0)
    n = 20000
    x = np.r_[np.zeros(n), np.ones(n)]
    t = rng.exponential(1.0, 2 * n) / np.where(x == 1, 2.0, 1.0)
    assert _cox_binary(t, np.ones(2 * n), x, np.ones(2 * n)) == pytest.approx(np.log(2), abs=0.03)
