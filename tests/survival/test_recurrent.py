"""recurrent (Andersen-Gill, PWP total and gap time) vs R coxph with cluster(id)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival import recurrent
from djs_toolkit.survival.recurrent import event_number
from tests.survival.test_cox import assert_matches_r


@pytest.mark.parametrize(
    "label,kwargs",
    [
        ("ag_efron", {}),
        ("ag_breslow", {"ties": "breslow"}),
        ("pwp_total", {"model": "pwp"}),
        ("pwp_gap", {"model": "pwp", "timescale": "gap"}),
    ],
)
def test_matches_coxph(ag, label, kwargs):
    res = recurrent(ag, "start", "stop", "event", "id", ["x", "z"], **kwargs)
    assert_matches_r(res, "ag_cox.csv", "ag_cox_fit.csv", label)
    assert res.n_clusters == ag["id"].nunique()


def test_event_number_counts_prior_events_per_person():
    pid = np.array([2, 1, 1, 2, 1, 2])
    start = np.array([5, 0, 3, 0, 8, 9])
    ev = np.array([1, 1, 1, 1, 0, 0])
    # person 1: rows at 0, 3, 8 -> 1, 2, 3; person 2: rows at 0, 5, 9 -> 1, 2, 3
    assert event_number(pid, start, ev).tolist() == [2, 1, 2, 1, 3, 3]


def test_options_validated(ag):
    with pytest.raises(DJSUserError, match="`model` must be"):
        recurrent(ag, "start", "stop", "event", "id", ["x"], model="wlw")
    with pytest.raises(DJSUserError, match="gap timescale is for model='pwp'"):
        recurrent(ag, "start", "stop", "event", "id", ["x"], timescale="gap")
    with pytest.raises(DJSUserError, match="rows have `start` >= `stop`"):
        recurrent(
            pd.DataFrame({"start": [1], "stop": [1], "event": [1], "id": [1], "x": [0.0]}),
            "start",
            "stop",
            "event",
            "id",
            ["x"],
        )
