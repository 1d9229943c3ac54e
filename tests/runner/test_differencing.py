"""Differencing across notebook runs: pipeline order decides, not timing; failed outputs drop out."""

import time

import numpy as np
import pytest

from djs_toolkit.runner.differencing import (
    CrossRunResult,
    check_arrivals,
    cross_run_check,
    project_cross_run,
    purge_run,
)
from djs_toolkit.sdc import load_profile
from djs_toolkit.sdc.ledger import Ledger
from djs_toolkit.sdc.project_ledger import publish_entries, seed_run_ledger
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


# --- the project's ledger (issue 16 item 4) ------------------------------------------------------------------------


def _pipeline(project, run_ledger, order):
    """One pipeline: its kernels record in `run_ledger` (keyed as the project's), then the runner compares."""
    seed_run_ledger(project, run_ledger)
    led = Ledger(run_ledger)
    start = time.time_ns()
    keys = led.store_keyset(led.hash_ids(np.arange(N)))
    for run, drop in order:
        _add(led, run, drop, keys)
    runs = [(run, [f"{run}.t"]) for run, _ in order]
    return led, project_cross_run(led, project, runs, start, load_profile("srs"), 1)


def _statuses(out):
    return {uid: r.status for uid, r in out.results.items()}, sorted(e.name for e in out.failed)


def test_a_rerun_adds_nothing_to_the_project_ledger_and_gets_the_same_answer(tmp_path):
    project = tmp_path / "project"
    _, first = _pipeline(project, tmp_path / "run1", [("r1", 0), ("r2", 40), ("r3", 3)])
    assert _statuses(first) == ({"r2.t": "pass", "r3.t": "fail"}, ["r3.t"])
    assert sorted(e.name for e in Ledger(project).entries()) == ["r1.t", "r2.t"]  # released ones only
    ids = {e.id for e in Ledger(project).entries()}
    run_led, again = _pipeline(project, tmp_path / "run2", [("r1", 0), ("r2", 40), ("r3", 3)])
    assert _statuses(again) == _statuses(first)
    assert [r.relations for r in again.results.values()] == [r.relations for r in first.results.values()]
    assert {e.id for e in Ledger(project).entries()} == ids  # nothing added
    # the run's ledger holds its own outputs only (the failed one until the bundle is written): the project's were
    # linked in for the comparison and taken out again
    assert sorted(e.name for e in run_led.entries()) == ["r1.t", "r2.t", "r3.t"]


def test_an_earlier_release_of_the_same_notebook_run_is_compared(tmp_path):
    project = tmp_path / "project"
    _pipeline(project, tmp_path / "run1", [("r1", 0)])
    # the same notebook run, three records fewer, in a later pipeline: its own run, but the project released the rest
    _, later = _pipeline(project, tmp_path / "run2", [("r1", 3)])
    assert _statuses(later) == ({"r1.t": "fail"}, ["r1.t"])
    assert len(Ledger(project).entries()) == 1  # the failed output is not published


def test_a_rerun_twin_stays_released_and_the_output_before_it_is_withheld(tmp_path):
    project = tmp_path / "project"
    _pipeline(project, tmp_path / "run1", [("r2", 0)])
    # r1 (3 records fewer) comes first in the new pipeline, r2 repeats what the project released: r1 is withheld
    _, later = _pipeline(project, tmp_path / "run2", [("r1", 3), ("r2", 0)])
    statuses, failed = _statuses(later)
    assert failed == ["r1.t"] and statuses["r1.t"] == "fail" and statuses.get("r2.t", "pass") == "pass"
    assert sorted(e.name for e in Ledger(project).entries()) == ["r2.t"]


def test_outputs_recorded_in_the_project_while_a_pipeline_runs_are_compared(tmp_path):
    project = tmp_path / "project"
    seed_run_ledger(project, tmp_path / "run")
    led, proj = Ledger(tmp_path / "run"), Ledger(project)
    keys = led.store_keyset(led.hash_ids(np.arange(N)))
    _add(led, "r1", 0, keys)
    (ours,) = led.entries()
    publish_entries(led, proj, {ours.id})
    _add(proj, "", 3, keys)  # a Session outside the run, meanwhile
    out = CrossRunResult()
    arrivals = [e for e in proj.entries() if e.id != ours.id]
    check_arrivals(proj, {"r1.t": ours}, arrivals, load_profile("srs"), out)
    assert [e.name for e in out.failed] == ["r1.t"] and out.results["r1.t"].status == "fail"
