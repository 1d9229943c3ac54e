"""Differencing across the notebook runs of a pipeline, in pipeline order, once every run has finished.

Each notebook compares its outputs with its own run's earlier outputs as it saves them (`sdc.session_ledger`).
Comparing with other runs' outputs at save time would make the findings depend on which process finished first
(with `--jobs 2` the shared ledger fills in completion order), and issue 9 asks that the same data, parameters
and toolkit version give the same bytes. So the runner does it here: every output of run *i* is compared with
every released output of runs *1..i-1* (outputs a notebook checked but did not save are not released, so not
compared), and with every entry the ledger held before the pipeline started (a ledger shared across pipelines with
`--ledger`). Each pair of outputs is therefore compared exactly once, by the later one in pipeline order,
whatever the timing. An output that fails here is not released, and later outputs
are not compared with it (as in the notebook, where a failed output is never recorded).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from djs_toolkit.sdc.differencing import LP_BUDGET, DifferencingResult, NewOutput, check_new
from djs_toolkit.sdc.ledger import Ledger, LedgerEntry
from djs_toolkit.sdc.profiles import Profile

__all__ = ["CrossRunResult", "cross_run_check", "purge_run"]


@dataclass
class CrossRunResult:
    """Findings of the cross-run check.

    Attributes:
        results: per output id, the check's result (only outputs with something to report: a relation or a flag).
        failed: ledger entries of outputs that failed (to withdraw from the ledger once the bundle is written).
        compared: outputs checked.

    Example:
        >>> CrossRunResult().results
        {}
    """

    results: dict[str, DifferencingResult] = field(default_factory=dict)
    failed: list[LedgerEntry] = field(default_factory=list)
    compared: int = 0


def _order_key(e: LedgerEntry, position: dict[str, int], start_ns: int) -> tuple[int, int, str, str]:
    # Entries from before the pipeline first, in the order they were recorded; then this pipeline's by run position
    # and output id: never by the time a process happened to record them.
    if e.created_ns < start_ns:
        return (-1, e.created_ns, e.name, e.id)
    return (position.get(e.run, len(position)), 0, e.name, e.id)


def cross_run_check(
    ledger: Ledger,
    runs: list[tuple[str, list[str]]],
    start_ns: int,
    profile: Profile,
    lp_budget: int = LP_BUDGET,
    jobs: int = 1,
) -> CrossRunResult:
    """Compare every output with the outputs of the runs before it in the pipeline (module docstring).

    Args:
        ledger: the run's differencing ledger.
        runs: `(label, output ids)` per notebook run, in pipeline order.
        start_ns: when the pipeline run started (`run.json` `started_ns`): older entries are earlier outputs.
        profile: the rule set.
        lp_budget: LPs per output (`check_new`).
        jobs: processes for the checks (a ledger kept in memory is checked in this process).

    Returns:
        CrossRunResult.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.sdc import load_profile
        >>> from djs_toolkit.sdc.released import from_sets
        >>> led = Ledger(); k = led.store_keyset(led.hash_ids(np.arange(40)))
        >>> tab = lambda n: from_sets(("g",), (("a", "b"),), [[0], [1]], [n, 20.0], [n, 20.0])
        >>> lab = np.repeat([0, 1], 20)
        >>> _ = led.add("r2.t", "table", "count", "pass", ("g",), tab(18.0), np.where(np.arange(40) < 2, -1, lab),
        ...             k, "record_id", None, run="r2")
        >>> _ = led.add("r1.t", "table", "count", "pass", ("g",), tab(20.0), lab, k, "record_id", None, run="r1")
        >>> out = cross_run_check(led, [("r1", ["r1.t"]), ("r2", ["r2.t"])], 0, load_profile("srs"))
        >>> sorted(out.results), out.results["r2.t"].status, [e.name for e in out.failed]
        (['r2.t'], 'fail', ['r2.t'])
    """
    entries = ledger.entries()
    position = {label: i for i, (label, _) in enumerate(runs)}
    staged = {label: set(uids) for label, uids in runs}
    # This pipeline's released outputs: the newest entry of each staged output. An Output made with
    # `outputs.session()` is recorded under its own name, one made by save_table under `<label>.<name>`.
    newest: dict[tuple[str, str], LedgerEntry] = {}
    for e in sorted(entries, key=lambda e: (e.created_ns, e.id)):
        if e.created_ns >= start_ns and e.run in staged:
            uid = next((u for u in (e.name, f"{e.run}.{e.name}") if u in staged[e.run]), None)
            if uid is not None:
                newest[(e.run, uid)] = e
    released = {e.id for e in newest.values()}
    entries = [e for e in entries if e.created_ns < start_ns or e.id in released]
    entries.sort(key=lambda e: _order_key(e, position, start_ns))
    out = CrossRunResult()
    plan = []  # (label, uid, entry, earlier entries) in pipeline order, assuming nothing fails
    for i, (label, uids) in enumerate(runs):
        earlier = [x for x in entries if x.run != label and (x.created_ns < start_ns or position[x.run] < i)]
        plan += [
            (label, uid, newest[(label, uid)], earlier) for uid in sorted(uids) if (label, uid) in newest and earlier
        ]
    # The checks are independent given the ledger, so they may run in several processes; an output that fails is
    # not released, and any check that counted it is done again without it, in order (the same answer as one
    # process working through the plan).
    first = _run_checks(ledger, plan, profile, lp_budget, jobs)
    failed: set[str] = set()
    for (_label, uid, e, earlier), res in zip(plan, first, strict=True):
        if any(x.id in failed for x in earlier):
            res = _check(ledger, uid, e, [x for x in earlier if x.id not in failed], profile, lp_budget)
        out.compared += 1
        if res.reasons or res.relations:
            out.results[uid] = res
        if res.status == "fail":
            failed.add(e.id)
            out.failed.append(e)
    return out


def _check(
    ledger: Ledger, uid: str, e: LedgerEntry, earlier: list[LedgerEntry], profile: Profile, lp_budget: int
) -> DifferencingResult:
    labels = ledger.labels(e) if e.keyset else None
    new = NewOutput(uid, ledger.released(e), labels, e.keyset, e.key_space, e.variables)
    return check_new(ledger, new, profile, lp_budget, entries=earlier)


_LEDGERS: dict[str, tuple[Ledger, dict[str, LedgerEntry]]] = {}


def _check_in_worker(
    path: str, uid: str, eid: str, earlier_ids: list[str], profile: Profile, lp_budget: int
) -> DifferencingResult:
    # One Ledger (with its caches) and one listing of its entries per worker: nothing is recorded meanwhile.
    if path not in _LEDGERS:
        ledger = Ledger(path)
        _LEDGERS[path] = (ledger, {x.id: x for x in ledger.entries()})
    ledger, by_id = _LEDGERS[path]
    return _check(ledger, uid, by_id[eid], [by_id[i] for i in earlier_ids], profile, lp_budget)


def _run_checks(ledger: Ledger, plan: list, profile: Profile, lp_budget: int, jobs: int) -> list[DifferencingResult]:
    if jobs <= 1 or ledger.path is None or len(plan) < 2:
        return [_check(ledger, uid, e, earlier, profile, lp_budget) for _, uid, e, earlier in plan]
    # Separate processes (spawn: the same on Windows and Linux); the biggest checks first keeps both busy.
    order = sorted(range(len(plan)), key=lambda k: -len(plan[k][3]))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {
            k: pool.submit(
                _check_in_worker,
                str(ledger.path),
                plan[k][1],
                plan[k][2].id,
                [x.id for x in plan[k][3]],
                profile,
                lp_budget,
            )
            for k in order
        }
        return [futures[k].result() for k in range(len(plan))]


def purge_run(ledger: Ledger, label: str, start_ns: int) -> int:
    """Withdraw a run's entries recorded since the pipeline started (before the run is executed again on resume).

    A killed notebook leaves the outputs it saved in the ledger; run again, it would compare its outputs with
    those leftovers of itself, and the bundle would differ from an uninterrupted run's.

    Example:
        >>> led = Ledger()
        >>> _ = led.add("r1.t", "table", "count", "pass", (), None, None, None, None, None, run="r1")
        >>> purge_run(led, "r1", 0), led.entries()
        (1, [])
    """
    gone = [e for e in ledger.entries() if e.run == label and e.created_ns >= start_ns]
    for e in gone:
        ledger.remove(e)
    return len(gone)
