"""multistate against R survival::survfit multi-state (Aalen-Johansen, infinitesimal jackknife) and by identities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival import cif, km, multistate
from tests.survival.conftest import EST_TOL, R_DIR, golden

STATES = ["none", "civil", "crime", "custody"]
FIXTURES = [("ties", "ms_ties.csv", None), ("trunc", "ms_trunc.csv", None), ("groups", "ms_groups.csv", "grp")]


def _fit(name: str, by: str | None):
    d = pd.read_csv(R_DIR / name, keep_default_na=False)
    return multistate(d, "tstart", "tstop", "from", "to", "id", states=STATES, by=by)


def _with_group(frame: pd.DataFrame, by: str | None) -> pd.DataFrame:
    return frame.assign(g=frame[by] if by else "all")


@pytest.mark.parametrize("model,name,by", FIXTURES)
def test_pstate_and_std_err_match_survfit(model, name, by):
    r = golden("ms_pstate.csv").query("model == @model").assign(g=lambda x: x["group"].str.replace("grp=", ""))
    ours = _with_group(_fit(name, by).occupation, by)
    m = r.merge(ours, on=["g", "time", "state"], how="left", validate="one_to_one")
    assert len(m) == len(r) and m["estimate"].notna().all()
    np.testing.assert_array_equal(m["n_at_risk"], m["n_risk"])
    np.testing.assert_allclose(m["estimate"], m["pstate"], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(m["std_error"], m["std_err"], atol=EST_TOL, rtol=0)
    shown = m["lower"].notna()
    np.testing.assert_allclose(m.loc[shown, "ci_lower"], m.loc[shown, "lower"], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(m.loc[shown, "ci_upper"], m.loc[shown, "upper"], atol=EST_TOL, rtol=0)


@pytest.mark.parametrize("model,name,by", FIXTURES)
def test_cumulative_hazards_and_p0_match_survfit(model, name, by):
    fit = _fit(name, by)
    r = golden("ms_cumhaz.csv").query("model == @model").assign(g=lambda x: x["group"].str.replace("grp=", ""))
    h = _with_group(fit.hazards, by)
    worst = 0.0
    for (g, a, b), sub in r.groupby(["g", "from", "to"]):
        hh = h[(h["g"] == g) & (h["from_state"] == a) & (h["to_state"] == b)].sort_values("time")
        k = np.searchsorted(hh["time"].to_numpy(), sub["time"].to_numpy(), side="right") - 1
        ours = np.where(k >= 0, hh["cumhaz"].to_numpy()[np.maximum(k, 0)], 0.0) if len(hh) else 0.0
        worst = max(worst, float(np.max(np.abs(ours - sub["cumhaz"].to_numpy()))))
    assert worst < EST_TOL
    r0 = golden("ms_p0.csv").query("model == @model").assign(g=lambda x: x["group"].str.replace("grp=", ""))
    m = r0.merge(_with_group(fit.initial, by), on=["g", "state"], validate="one_to_one")
    np.testing.assert_allclose(m["estimate"], m["p0"], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(m["std_error"], m["sp0"], atol=EST_TOL, rtol=0)


def test_duplicated_people_keep_estimates_and_shrink_se():
    d = pd.read_csv(R_DIR / "ms_trunc.csv", keep_default_na=False)
    twice = pd.concat([d, d.assign(id=d["id"] + 10_000)], ignore_index=True)
    a = multistate(d, "tstart", "tstop", "from", "to", "id", states=STATES).occupation
    b = multistate(twice, "tstart", "tstop", "from", "to", "id", states=STATES).occupation
    np.testing.assert_allclose(b["estimate"], a["estimate"], atol=1e-12)
    np.testing.assert_allclose(b["std_error"], a["std_error"] / np.sqrt(2), atol=1e-12)
    assert (b["n_at_risk"] == 2 * a["n_at_risk"]).all()


def test_two_states_is_one_minus_km_and_competing_is_cif():
    rng = np.random.default_rng(3)
    n = 300
    t = rng.integers(1, 40, n).astype(float)
    entry = np.where(rng.uniform(size=n) < 0.3, rng.integers(0, 10, n), 0).astype(float)
    t = np.maximum(t, entry + 1)
    cause = rng.choice([0, 1, 2], n, p=[0.4, 0.35, 0.25])
    d = pd.DataFrame({"id": np.arange(n), "e": entry, "t": t, "from": "alive", "cause": cause})
    d["to"] = d["cause"].map({0: "", 1: "dead", 2: "moved"})
    fit = multistate(d, "e", "t", "from", "to", "id", states=["alive", "dead", "moved"])
    f1 = cif(d, "t", "cause", cause=1, entry="e")
    occ = fit.occupation.query("state == 'dead'").set_index("time")["estimate"]
    np.testing.assert_allclose(occ.loc[f1["time"]], f1["estimate"], atol=1e-12)
    d["any"] = (d["cause"] > 0).astype(int)
    s = km(d, "t", "any", entry="e")
    alive = fit.occupation.query("state == 'alive'").set_index("time")["estimate"]
    np.testing.assert_allclose(alive.loc[s["time"]], s["estimate"], atol=1e-12)
    both = fit.hazards.groupby("time")["events"].sum()
    assert int(both.sum()) == int((d["cause"] > 0).sum())


def test_hand_computed_back_and_forth_with_a_grid():
    # a: 1 -> b at 2, back to a at 4, censored at 6; 2: a censored at 3; 3: a -> b at 4, censored at 5
    d = pd.DataFrame(
        {
            "id": [1, 1, 1, 2, 3, 3],
            "t0": [0, 2, 4, 0, 0, 4],
            "t1": [2, 4, 6, 3, 4, 5],
            "s0": ["a", "b", "a", "a", "a", "b"],
            "s1": ["b", "a", "", "", "b", ""],
        }
    )
    fit = multistate(d, "t0", "t1", "s0", "s1", "id", times=[0, 2, 4, 10])
    b = fit.occupation.query("state == 'b'")["estimate"].tolist()
    # p(b) at 2: 1/3; at 4: of 1 in a (person 3) one moves to b, of 1 in b (person 1) one moves to a
    assert b == pytest.approx([0.0, 1 / 3, 1 / 3 * 0 + 2 / 3 * 1, 2 / 3])
    t = fit.transitions.set_index(["from_state", "to_state"])["transitions"]
    assert t.to_dict() == {("a", "b"): 2, ("b", "a"): 1}
    assert fit.occupation.query("time == 4")["n_at_risk"].tolist() == [1, 1]


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"t0": [0, 1]}, "previous row ends"),
        ({"s0": ["a", "a"]}, "other than the one"),
        ({"s1": ["z", ""]}, "not in `states`"),
        ({"t1": [2, 2], "t0": [0, 2]}, ">= `t1`"),
    ],
)
def test_refusals_name_counts_not_values(change, needle):
    d = pd.DataFrame({"id": [7, 7], "t0": [0, 2], "t1": [2, 5], "s0": ["a", "b"], "s1": ["b", ""]})
    for k, v in change.items():
        d[k] = v
    with pytest.raises(DJSUserError, match=needle) as err:
        multistate(d, "t0", "t1", "s0", "s1", "id", states=["a", "b"])
    assert "7" not in str(err.value)
