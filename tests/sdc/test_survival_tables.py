"""Safe KM / CIF tables: steps hold >= threshold events, tails are cut, counts never differ by a small number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc import Session
from djs_toolkit.survival import cox


def _data(seed: int, n: int, groups: int = 1, late: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = rng.exponential(rng.uniform(50, 400), n).round() + 1
    c = rng.uniform(20, 900, n).round() + 1
    df = pd.DataFrame(
        {
            "days": np.minimum(t, c),
            "back": (t <= c).astype(int),
            "grp": rng.choice([f"g{k}" for k in range(groups)], n),
            "pid": np.arange(n) + 7000,
        }
    )
    if late:
        df["entry"] = np.minimum(rng.uniform(0, 60, n).round(), df["days"] - 1)
    return df


def _km_from_counts(t: pd.DataFrame) -> np.ndarray:
    """The KM estimate recomputed by hand from the released counts (rows after the first)."""
    n, e = t["n_at_risk"].to_numpy(float)[1:], t["events"].to_numpy(float)[1:]
    return np.concatenate([[1.0], np.cumprod(1 - e / n)])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(30, 700), groups=st.integers(1, 3))
def test_srs_tables_obey_the_step_tail_and_difference_rules_on_random_data(seed, n, groups):
    df = _data(seed, n, groups)
    o = Session("srs", ledger=False).km("days", "back", by="grp" if groups > 1 else None, data=df)
    assert o.status in ("review", "fail")
    if o.status == "fail":  # nothing releasable: every group too small
        assert o.table.empty
        return
    for _, t in o.table.reset_index().groupby("grp") if groups > 1 else [(None, o.table.reset_index())]:
        at_risk = t["n_at_risk"].to_numpy(int)
        assert (at_risk >= 10).all()  # the curve stops before the risk set falls below the threshold
        assert (t["events"].to_numpy(int)[1:] >= 10).all()  # every reported step aggregates >= 10 events
        steps = -np.diff(at_risk)
        assert ((steps == 0) | (steps >= 10)).all()  # adjacent rows never differ by a small non-zero number
        cens = t["censored"].to_numpy(int)
        assert (cens % 10 == 0).all() and ((cens == 0) | (cens >= 10)).all()
        assert np.allclose(t["estimate"].to_numpy(float), _km_from_counts(t))  # estimates from released counts
        # CIs bracket the estimate (log-log intervals are undefined, NaN, where the estimate reaches 0)
        assert not (t["ci_lower"] > t["estimate"] + 1e-12).any() and not (t["estimate"] > t["ci_upper"] + 1e-12).any()
        assert (np.diff(t["time"].to_numpy()) > 0).all()
    ev = o.evidence
    assert (ev["n_at_risk_true"] >= 10).all()
    assert (np.abs(ev["cum_censored"] - ev["cum_censored_true"]) <= 5).all()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(40, 600))
def test_opensafely_tables_are_midpoint6_on_cumulative_counts(seed, n):
    df = _data(seed, n)
    o = Session("opensafely", ledger=False).km("days", "back", data=df, times=[0, 30, 60, 90, 180, 270, 365, 730])
    if o.table.empty:
        return
    t = o.table.reset_index()
    for col in ("events", "censored"):
        cum = np.cumsum(t[col].to_numpy(int))
        assert np.isin(cum % 6, [0, 3]).all() and ((cum == 0) | (cum % 6 == 3)).all()  # midpoint-6 values
        assert (np.diff(cum[cum > 0]) % 6 == 0).all()  # so released steps move by multiples of 6
    assert (o.evidence["events_true"] >= 8).all() and (o.evidence["n_at_risk_true"] >= 8).all()


def test_planted_curve_is_exact_where_counts_are_large():
    df = pd.DataFrame({"days": np.arange(1.0, 301.0), "back": 1})
    o = Session("srs").km("days", "back", data=df, times=[0, 100, 200, 300], name="planted")
    t = o.table.reset_index()
    assert t[["time", "n_at_risk", "events", "censored"]].values.tolist() == [
        [0, 300, 0, 0],
        [100, 300, 100, 0],
        [200, 200, 100, 0],
        [300, 100, 100, 0],
    ]
    assert t["estimate"].round(6).tolist() == [1.0, round(2 / 3, 6), round(1 / 3, 6), 0.0]
    assert o.properties["times"] == "given" and "no censoring ticks" in o.controls[-1]


def test_cif_protects_competing_events_and_recomputes_from_released_counts():
    rng = np.random.default_rng(4)
    n = 900
    df = pd.DataFrame({"days": rng.integers(1, 400, n).astype(float), "why": rng.choice([0, 1, 2], n)})
    o = Session("srs").cif("days", "why", cause=1, data=df, times=[0, 100, 200, 300, 400])
    t = o.table.reset_index()
    assert (t["competing_events"] % 10 == 0).all() and (t["events"].iloc[1:] >= 10).all()
    n_r, e1, e2 = (t[c].to_numpy(float)[1:] for c in ("n_at_risk", "events", "competing_events"))
    s_prev = np.concatenate([[1.0], np.cumprod(1 - (e1 + e2) / n_r)[:-1]])
    assert np.allclose(t["estimate"].to_numpy()[1:], np.cumsum(s_prev * e1 / n_r))  # Aalen-Johansen


def test_delayed_entry_rounds_late_entries_and_checks_entry_before_exit():
    df = _data(3, 800, late=True)
    o = Session("srs").km("days", "back", entry="entry", data=df, times=[0, 30, 60, 120, 240, 480])
    t = o.table.reset_index()
    assert (t["events"].iloc[1:] >= 10).all() and (t["censored"] % 10 == 0).all()
    late = np.diff(o.evidence["cum_entries"].to_numpy()) if len(o.evidence) > 1 else np.zeros(0)
    assert (late % 10 == 0).all()
    bad = df["entry"].copy()
    bad.iloc[0] = df["days"].iloc[0] + 5  # one record enters after it leaves
    with pytest.raises(DJSUserError, match="entry is not before the duration for 1 record"):
        Session("srs").km("days", "back", entry=bad, data=df)


def test_a_km_rerun_without_one_event_is_caught_by_the_ledger(tmp_path):
    df = pd.DataFrame({"days": np.arange(1.0, 301.0), "back": 1, "pid": np.arange(300) + 50})
    Session("srs", ledger=tmp_path / "l").km(
        "days", "back", data=df, times=[0, 100, 200, 300], name="km", record_id="pid"
    )
    again = Session("srs", ledger=tmp_path / "l").km(
        "days", "back", data=df.iloc[1:], name="km_rerun", times=[0, 100, 200, 300], record_id="pid"
    )
    assert again.status == "fail"
    (summary,) = again.reasons.loc[again.reasons["rule"] == "DifferencingCheck", "summary"]
    assert summary.startswith("combined with earlier output 'km' (population contained in that of 'km'")


def test_cox_events_per_indicator_level_are_checked_when_the_data_are_given():
    rng = np.random.default_rng(0)
    n = 400
    d = pd.DataFrame(
        {
            "t": rng.exponential(100, n).round() + 1,
            "e": rng.integers(0, 2, n),
            "sex": np.where(np.arange(n) < 14, "F", "M"),
            "age": rng.normal(40, 10, n),
        }
    )
    res = cox(d, "t", "e", ["sex", "age"])
    s = Session("srs")
    blind = s.regression(res, name="blind")
    assert blind.status == "review" and blind.reasons["rule"].tolist() == ["CalculatedRatioCheck"]
    seen = s.regression(res, name="seen", data=d, event="e")
    assert int(d.loc[d.sex == "F", "e"].sum()) < 10  # 14 women, fewer than 10 events among them
    assert seen.status == "fail" and seen.reasons[["row", "rule"]].values.tolist() == [
        ["sex[T.M]", "EventsPerLevelCheck"]
    ]
    assert "events in one level" in seen.reasons["summary"].iloc[0]


def test_a_small_withheld_group_takes_a_complement_with_it():
    # The number at risk at the start of each group shown is exact and the total is public (any other output may
    # print it): 8 people of unknown sex would be the total less the groups shown.
    rng = np.random.default_rng(0)
    sex = np.repeat(["F", "M", "X"], [379, 513, 8])
    d = pd.DataFrame(
        {"days": rng.exponential(300, 900).round() + 1, "back": (rng.random(900) < 0.6).astype(int), "sex": sex}
    )
    o = Session(ledger=False).km("days", "back", by="sex", data=d, times=[0, 90, 180, 365, 730])
    assert sorted(set(o.table.index.get_level_values("sex"))) == ["M"]
    rules = dict(zip(o.reasons["row"], o.reasons["rule"], strict=True))
    assert rules["X"] == "MinimumThresholdCheck" and rules["F"] == "SecondarySuppression"
    # independent attacker: the total (900) and the groups shown; the small group's size stays unknown in [0, 387]
    from .attack import attacker_range

    shown = float(o.table.loc[("M", 0.0), "n_at_risk"])
    lo, hi = attacker_range(2, [({0: 1.0, 1: 1.0}, 900 - shown, 900 - shown)], 1)
    assert (lo, hi) == (0.0, 387.0)
