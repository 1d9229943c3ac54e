"""Differencing across notebook runs: pipeline order decides, not timing; failed outputs drop out."""

import numpy as np
import pytest

from djs_toolkit.runner.differencing import cross_run_check, purge_run
from djs_toolkit.sdc import load_profile
from djs_toolkit.sdc.ledger import Ledger
from djs_toolkit.sdc.released import from_sets

N = 200


def _add(led: Ledger, run: str, drop: int, keys: str) -> None:
    lab = np.where(np.arange(N) % 2 == 0, 0, 1)
    lab[:drop] = -1
    counts = [float((lab == 0).sum()), float((lab == 1).sum())]
    rel = from_sets(("g",), (("a", "b"),), [[0], [1]], counts, counts)
    led.add(f"{run}.t", "table", "count", "pass", ("g",), rel, lab, keys, "record_id", None, run=run)


def _ledger(tmp_path, order):
    led = Ledger(tmp_path / "ledger")
    keys = led.store_keyset(led.hash_ids(np.arange(N)))
    for run, drop in order:  # recorded in this (completion) order
        _add(led, run, drop, keys)
    return led


@pytest.mark.slow
def test_the_later_run_in_pipeline_order_fails_whatever_order_the_ledger_was_filled_in(tmp_path):
    runs = [("r1", ["r1.t"]), ("r2", ["r2.t"]), ("r3", ["r3.t"])]
    profile = load_profile("srs")
    # r1 all records, r2 all but 3 (gives 3 away against r1), r3 all but 40 (safe against r1, and r2 is withdrawn)
    a = cross_run_check(_ledger(tmp_path / "a", [("r3", 40), ("r2", 3), ("r1", 0)]), runs, 0, profile)
    b = cross_run_check(_ledger(tmp_path / "b", [("r1", 0), ("r2", 3), ("r3", 40)]), runs, 0, profile, jobs=2)
    for out in (a, b):
        assert [e.name for e in out.failed] == ["r2.t"] and out.compared == 2
        assert out.results["r2.t"].status == "fail" and out.results["r2.t"].findings["true_count"].sum() == 3
        # r3 was compared with r1 only: r2 is not released, so no relation to it
        assert out.results["r3.t"].status == "pass"
        assert [line.split(":")[0] for line in out.results["r3.t"].relations] == ["'r1.t'"]
    assert [r.reasons for r in a.results.values()] == [r.reasons for r in b.results.values()]
    assert [r.relations for r in a.results.values()] == [r.relations for r in b.results.values()]


def test_purge_run_withdraws_only_that_runs_entries_since_the_start(tmp_path):
    led = _ledger(tmp_path, [("r1", 0), ("r2", 3)])
    start = max(e.created_ns for e in led.entries()) + 1
    _add(led, "r1", 5, led.entries()[0].keyset)
    assert purge_run(led, "r1", start) == 1
    assert sorted((e.run, e.name) for e in led.entries()) == [("r1", "r1.t"), ("r2", "r2.t")]
