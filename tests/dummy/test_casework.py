"""Tests for djs_toolkit.dummy.casework."""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy import codes
from djs_toolkit.dummy.casework import D, process
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, day
from djs_toolkit.dummy.population import make_persons


def _run(prior: int, n: int = 20_000) -> dict:
    cfg = DummyConfig()
    ps = make_persons(np.random.default_rng(0), n, cfg, 0)
    return process(np.random.default_rng(1), cfg, ps, np.arange(n), np.full(n, day(2016, 3, 1)), np.full(n, prior))


def test_index_event_follows_the_disposal() -> None:
    c = _run(1)
    cust, comm = c["custody"], c["community"]
    it = c["index_type"]
    assert ((it == 1) == (cust & (c["index_date"] != NA))).all()
    ok = cust & (c["release"] != NA)
    assert (c["release"][ok] > c["final_date"][ok]).all() and (c["release"][ok] >= c["crd"][ok]).all()
    assert (c["index_date"][comm & (it == 2)] >= c["final_date"][comm & (it == 2)]).all()
    other = it == 0
    assert (c["index_date"][other] == c["final_date"][other]).all()
    # Indictable-only offences always go to the Crown Court (docs/data.md §3).
    io = codes.MODE_OF[c["code"]] == codes.IO
    assert c["to_crown"][io].all()
    rec = c["recalled"] & (c["recall_date"] != NA) & (c["release"] != NA)
    assert (c["recall_date"][rec] > c["crd"][rec]).all() and (c["release"][rec] > c["recall_date"][rec]).all()


def test_custody_is_likelier_with_recent_priors() -> None:
    lo, hi = _run(1), _run(6)
    assert (hi["final_disposal"] == D["Immediate custody"]).mean() > 2 * (
        lo["final_disposal"] == D["Immediate custody"]
    ).mean()
    assert (hi["code"] == [c for c, _, _ in codes.OFFENCES].index("04601")).mean() > (
        lo["code"] == [c for c, _, _ in codes.OFFENCES].index("04601")
    ).mean()
