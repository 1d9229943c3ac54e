"""km and kmunicate_table against R survfit and hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival import km, kmunicate_table
from tests.survival.conftest import EST_TOL, SE_TOL, golden


def _agree(ours: pd.DataFrame, r: pd.DataFrame) -> None:
    assert len(ours) == len(r)
    np.testing.assert_array_equal(ours["time"].to_numpy(), r["time"].to_numpy())
    np.testing.assert_array_equal(ours["n_at_risk"].to_numpy(), r["n_risk"].to_numpy())
    np.testing.assert_array_equal(ours["events"].to_numpy(), r["n_event"].to_numpy())
    np.testing.assert_array_equal(ours["censored"].to_numpy(), r["n_censor"].to_numpy())
    np.testing.assert_allclose(ours["estimate"], r["surv"], atol=EST_TOL, rtol=0)
    se_log = ours["std_error"] / ours["estimate"]
    np.testing.assert_allclose(se_log, r["std_err"], atol=SE_TOL, rtol=0)
    # R leaves the log-log interval NA where S = 1; we report [1, 1] there.
    has = r["lower"].notna().to_numpy()
    np.testing.assert_allclose(ours["ci_lower"][has], r["lower"][has], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(ours["ci_upper"][has], r["upper"][has], atol=EST_TOL, rtol=0)
    assert np.all(ours["ci_lower"][~has] == 1.0)


@pytest.mark.parametrize("conf_type,label", [("log-log", "loglog"), ("log", "log")])
def test_rossi_km_by_fin_matches_r(rossi, conf_type, label):
    r = golden("rossi_km.csv").query("model == @label")
    ours = km(rossi, "week", "arrest", by="fin", conf_type=conf_type)
    assert list(ours.columns[:2]) == ["fin", "time"]
    assert ours["fin"].tolist() == r["group"].tolist()
    _agree(ours, r)


@pytest.mark.parametrize(
    "label,kwargs",
    [("loglog", {}), ("log_by_g", {"by": "g", "conf_type": "log"}), ("weighted", {"weights": "w"})],
)
def test_delayed_entry_km_matches_r(delayed, label, kwargs):
    r = golden("delayed_km.csv").query("model == @label")
    ours = km(delayed, "exit", "event", entry="entry", **kwargs)
    _agree(ours, r)


def test_entry_on_event_day_is_not_at_risk():
    # B enters on day 5, the day A has its event: B is not at risk for it (e < s <= t).
    d = pd.DataFrame({"entry": [0, 5, 0], "exit": [5, 9, 7], "ev": [1, 1, 0]})
    out = km(d, "exit", "ev", entry="entry")
    assert out["n_at_risk"].tolist() == [2, 2, 1]
    assert out["estimate"].tolist() == pytest.approx([0.5, 0.5, 0.0])


def test_frequency_weights_equal_expanded_rows():
    d = pd.DataFrame({"t": [2, 3, 3, 6, 8], "e": [1, 0, 1, 1, 0], "w": [2, 1, 3, 1, 2]})
    expanded = d.loc[d.index.repeat(d["w"])]
    a = km(d, "t", "e", weights="w")
    b = km(expanded, "t", "e")
    pd.testing.assert_frame_equal(a, b)


def test_arrays_accepted():
    out = km(None, np.array([3, 5, 5, 8]), np.array([1, 1, 0, 0]))
    assert out["estimate"].tolist() == pytest.approx([0.75, 0.5, 0.5])


def test_negative_durations_refused_without_values():
    d = pd.DataFrame({"duration": [-3, 4, -1], "e": [1, 1, 0]})
    with pytest.raises(DJSUserError, match=r"`duration` has 2 negative values") as err:
        km(d, "duration", "e")
    assert "-3" not in str(err.value)


def test_entry_not_before_exit_refused():
    d = pd.DataFrame({"a": [0, 4], "b": [3, 4], "e": [1, 1]})
    with pytest.raises(DJSUserError, match="1 rows have `a` >= `b`"):
        km(d, "b", "e", entry="a")


def test_kmunicate_table_hand_computed():
    d = pd.DataFrame({"t": [1, 2, 2, 3, 5, 6, 6, 9], "e": [1, 1, 0, 1, 0, 1, 1, 0], "g": ["a"] * 4 + ["b"] * 4})
    tab = kmunicate_table(km(d, "t", "e"), [0, 2, 6, 10])
    assert tab["n_at_risk"].tolist() == [8, 7, 3, 0]
    assert tab["events"].tolist() == [0, 2, 3, 0]
    assert tab["censored"].tolist() == [0, 1, 1, 1]
    assert tab["cum_events"].tolist() == [0, 2, 5, 5]
    assert tab["cum_censored"].tolist() == [0, 1, 2, 3]
    # S(2) = 7/8 * 6/7, S(3) = S(2) * 4/5, S(6) = S(3) * 1/3; the value before the first time is 1
    assert tab["estimate"].tolist() == pytest.approx([1.0, 0.75, 0.2, 0.2])
    by = kmunicate_table(km(d, "t", "e", by="g"), [0, 3])
    assert by["g"].tolist() == ["a", "a", "b", "b"]
    assert by["n_at_risk"].tolist() == [4, 1, 4, 4]
    assert by["cum_events"].tolist() == [0, 3, 0, 0]


def test_kmunicate_table_on_cif_starts_at_zero():
    from djs_toolkit.survival import cif

    d = pd.DataFrame({"t": [2, 4, 4, 9], "s": [1, 2, 1, 0]})
    tab = kmunicate_table(cif(d, "t", "s"), [1, 4, 9])
    assert tab["estimate"].tolist() == pytest.approx([0.0, 0.5, 0.5])
    assert tab["cum_events"].tolist() == [0, 2, 2]  # events of the chosen cause only
    with pytest.raises(DJSUserError, match="increasing"):
        kmunicate_table(cif(d, "t", "s"), [4, 1])
