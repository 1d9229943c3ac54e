"""compare.target_trial: E-values, weights and balance on hand-made data, and the planted effect recovered."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from djs_toolkit import dummy, open_extract
from djs_toolkit.analyses.compare import evalue, target_trial
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival.weighted import propensity_weights, smd_table

ELIGIBILITY = "family_order: case_type=Public law; party_role=Child; age=10-17"
TREATMENTS = {"supervision": "family_order: disposal=Supervision order", "care": "family_order: disposal=Care order"}


def test_evalue_matches_vanderweele_ding():
    # Their worked examples: RR 3.9 -> 7.26; CI lower limit 1.8 -> 3.0; protective RR 0.8 (CI 0.71-0.91).
    assert evalue(3.9)[0] == pytest.approx(7.26, abs=0.01)
    assert evalue(3.9, 1.8, 8.7)[1] == pytest.approx(3.0, abs=0.01)
    point, ci = evalue(0.8, 0.71, 0.91)
    assert point == pytest.approx(1.81, abs=0.01) and ci == pytest.approx(1.43, abs=0.01)
    assert evalue(1.2, 0.9, 1.5)[1] == 1.0
    # A common outcome's hazard ratio is first turned into a risk ratio (nearer 1).
    assert evalue(2.0, rare=False, hazard_ratio=True)[0] < evalue(2.0)[0]
    with pytest.raises(DJSUserError):
        evalue(0.0)


def _confounded(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """A cohort with known truth: age confounds; the treated arm's hazard is half (log HR -0.69)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(10, 18, n)
    female = rng.random(n) < 0.5
    p = 1 / (1 + np.exp(-(0.2 - 0.4 * (age - 13) + 0.5 * female)))
    a = rng.random(n) < p
    rate = 0.001 * np.exp(0.3 * (age - 13) - 0.5 * female + np.log(0.5) * a)
    t = rng.exponential(1, n) / rate
    cens = rng.uniform(200, 1500, n)
    return pd.DataFrame(
        {
            "person_id": np.arange(n).astype(str),
            "arm": np.where(a, "new", "usual"),
            "age": age,
            "sex": np.where(female, "F", "M"),
            "duration": np.ceil(np.minimum(t, cens)).astype(int),
            "event": (t <= cens).astype(int),
        }
    ).assign(_p=p)


def test_weights_balance_the_confounder():
    d = _confounded()
    a = (d["arm"] == "new").to_numpy().astype(int)
    x = d[["age"]].astype(float)
    p, w = propensity_weights(a, x, "ipw")
    assert np.corrcoef(p, d["_p"])[0, 1] > 0.95  # sex left out: p still follows age
    bal = smd_table(x, a, w)
    assert abs(bal["smd_before"].iloc[0]) > 0.5 and abs(bal["smd_after"].iloc[0]) < 0.05
    _, wo = propensity_weights(a, x, "overlap")
    assert abs(smd_table(x, a, wo)["smd_after"].iloc[0]) < 1e-8  # overlap weights balance means exactly


def test_target_trial_on_a_cohort_recovers_the_effect():
    d = _confounded().drop(columns="_p")
    d.attrs.update(treated="new", control="usual")
    r = target_trial(d, covariates=("age", "sex"), times=(365, 730))
    hr = r.hazard_ratio.set_index("model")
    # Naive is confounded (younger children get the new strategy and offend less); weighted is near the
    # marginal effect (non-collapsible: between the conditional log 0.5 and 0).
    assert hr.loc["naive", "log_hr"] < -0.9
    assert -0.8 < hr.loc["weighted", "log_hr"] < -0.5
    assert r.balance["smd_after"].abs().max() < 0.05
    assert (r.contrasts["rd"] < 0).all() and (r.contrasts["rd_upper"] < 0).all()
    assert list(r.arms["arm"]) == ["new", "usual"]
    out = r.releasable()
    assert [o["name"] for o in out] == ["flow", "arms", "balance", "risks", "risks_naive", "hazard_ratio", "cif"]
    for o in out:  # every estimate carries the unweighted counts behind it, of its own shape
        if o["statistic"] != "count":
            assert o["counts"].shape == o["table"].shape


def test_bad_input_is_one_clear_error():
    d = _confounded().drop(columns="_p")
    with pytest.raises(DJSUserError, match="method"):
        target_trial(d, covariates=("age",), method="matching")
    with pytest.raises(DJSUserError, match="lacks column"):
        target_trial(d, covariates=("imd",))
    with pytest.raises(DJSUserError, match="eligibility"):
        target_trial(open_extract("."), covariates=("age",))


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple:
    """A small extract with ten times the public-law volume (about 2,000 eligible children, not 200)."""
    d = DummyConfig()
    cfg = dataclasses.replace(
        d, family_cases_per_year={**d.family_cases_per_year, "Public law": d.family_cases_per_year["Public law"] * 10}
    )
    root = dummy.generate(tmp_path_factory.mktemp("trial") / "x", scale="small", seed=0, config=cfg)
    t = pd.read_csv(root / "truth" / "family_effect.csv")
    truth = t.set_index(["estimand", "quantity", t["time_days"].fillna(0).astype(int)])["value"]
    return open_extract(root), truth


@pytest.mark.slow
def test_planted_effect_naive_misses_adjusted_covers(planted):
    ex, truth = planted
    r = target_trial(ex, ELIGIBILITY, TREATMENTS, times=(730,))
    assert r.arms["persons"].sum() > 1500
    hr = r.hazard_ratio.set_index("model")
    true_log_hr = truth[("ate", "marginal_log_hr", 0)]
    lo = np.log(hr[["ci_lower", "ci_upper"]])
    # The naive comparison's CI excludes the truth: care orders go to riskier children.
    assert lo.loc["naive", "ci_upper"] < true_log_hr
    # Weighted on the covariates the generator used, the CI covers it.
    assert lo.loc["weighted", "ci_lower"] < true_log_hr < lo.loc["weighted", "ci_upper"]
    true_rd = truth[("ate", "risk_difference", 730)]
    naive, adj = r.naive_contrasts.iloc[0], r.contrasts.iloc[0]
    assert naive["rd_upper"] < true_rd
    assert adj["rd_lower"] < true_rd < adj["rd_upper"]
    assert r.balance["smd_after"].abs().max() < 0.05
    # Protocol and flow say who was compared.
    assert r.protocol["element"].tolist()[:3] == ["eligibility", "treatment strategies", "assignment"]
    assert r.flow["persons"].iloc[-2:].sum() == r.arms["persons"].sum()


@pytest.mark.slow
def test_overlap_weights_cover_the_overlap_truth(planted):
    ex, truth = planted
    r = target_trial(ex, ELIGIBILITY, TREATMENTS, method="overlap", times=(730,))
    c = r.contrasts.iloc[0]
    assert c["rd_lower"] < truth[("ato", "risk_difference", 730)] < c["rd_upper"]
    assert r.balance["smd_after"].abs().max() < 1e-6
    no_covariates = set(r.cohort.columns) >= {"propensity", "weight", "time_zero"}
    assert no_covariates
