"""Differencing across the notebook runs of a pipeline, in pipeline order, once every run has finished.

Each notebook compares its outputs with its own run's earlier outputs as it saves them (`sdc.session_ledger`).
Comparing with other runs' outputs at save time would make the findings depend on which process finished first
(with `--jobs 2` the shared ledger fills in completion order), and issue 9 asks that the same data, parameters
and toolkit version give the same bytes. So the runner does it here: every output of run *i* is compared with
every released output of runs *1..i-1* (outputs a notebook checked but did not save are not released, so not
compared), and with every output the project released before this pipeline (`before`: the project ledger's
entries, `sdc.project_ledger.import_entries`), whichever run made it. Each pair of outputs is therefore compared
exactly once, by the later one in pipeline order, whatever the timing. An output that fails here is not released,
and later outputs are not compared with it (as in the notebook, where a failed output is never recorded), unless
the project had released the same output before (`kept`: a rerun's twin), which stays released: then the outputs
before it in pipeline order are compared with it as well.

A rerun's outputs have the ids of the entries they repeat, and those entries count as this pipeline's, not as
earlier releases: a rerun is compared exactly as the first run was, so its bundle is byte for byte the same.
`check_arrivals` compares the released outputs with entries recorded in the project ledger while the pipeline ran
(a Session outside the run), after they are published there: of the two, at least one sees the other.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from djs_toolkit.sdc.differencing import LP_BUDGET, DifferencingResult, NewOutput, check_new
from djs_toolkit.sdc.ledger import Ledger, LedgerEntry
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.project_ledger import import_entries, publish_entries
from djs_toolkit.sdc.rules import worst

__all__ = [
    "CrossRunResult",
    "check_arrivals",
    "cross_run_check",
    "ledger_note",
    "project_cross_run",
    "purge_imports",
    "purge_run",
]


@dataclass
class CrossRunResult:
    """Findings of the cross-run check.

    Attributes:
        results: per output id, the check's result (only outputs with something to report: a relation or a flag).
        failed: ledger entries of outputs that failed (to withdraw from the ledger once the bundle is written).
        compared: outputs checked.
        released: per output id of this pipeline, its ledger entry (failed ones included).

    Example:
        >>> CrossRunResult().results
        {}
    """

    results: dict[str, DifferencingResult] = field(default_factory=dict)
    failed: list[LedgerEntry] = field(default_factory=list)
    compared: int = 0
    released: dict[str, LedgerEntry] = field(default_factory=dict)


def _order_key(e: LedgerEntry, position: dict[str, int], pre: bool) -> tuple[int, int, str, str]:
    # Entries from before the pipeline first, in the order they were recorded; then this pipeline's by run position
    # and output id: never by the time a process happened to record them.
    if pre:
        return (-1, e.created_ns, e.name, e.id)
    return (position.get(e.run, len(position)), 0, e.name, e.id)


def cross_run_check(
    ledger: Ledger,
    runs: list[tuple[str, list[str]]],
    start_ns: int,
    profile: Profile,
    lp_budget: int = LP_BUDGET,
    jobs: int = 1,
    before: set[str] | None = None,
    kept: set[str] | frozenset[str] = frozenset(),
) -> CrossRunResult:
    """Compare every output with the outputs of the runs before it in the pipeline (module docstring).

    Args:
        ledger: the run's differencing ledger.
        runs: `(label, output ids)` per notebook run, in pipeline order.
        start_ns: when the pipeline run started (`run.json` `started_ns`): with `before` None, older entries are
            earlier outputs.
        profile: the rule set.
        lp_budget: LPs per output (`check_new`).
        jobs: processes for the checks (a ledger kept in memory is checked in this process).
        before: ids of the entries released before this pipeline (the project's); None: those older than start_ns.
        kept: ids of this pipeline's entries the project had already released (a rerun's): they stay released.

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
    pre = {e.id for e in entries if e.created_ns < start_ns} if before is None else set(before)
    position = {label: i for i, (label, _) in enumerate(runs)}
    staged = {label: set(uids) for label, uids in runs}
    # This pipeline's released outputs: the newest entry of each staged output. An Output made with
    # `outputs.session()` is recorded under its own name, one made by save_table under `<label>.<name>`.
    newest: dict[tuple[str, str], LedgerEntry] = {}
    for e in sorted(entries, key=lambda e: (e.created_ns, e.id)):
        if e.id not in pre and e.run in staged:
            uid = next((u for u in (e.name, f"{e.run}.{e.name}") if u in staged[e.run]), None)
            if uid is not None:
                newest[(e.run, uid)] = e
    released = {e.id for e in newest.values()}
    entries = [e for e in entries if e.id in pre or e.id in released]
    entries.sort(key=lambda e: _order_key(e, position, e.id in pre))
    out = CrossRunResult(released={uid: e for (_, uid), e in newest.items()})
    plan = []  # (label, uid, entry, earlier entries) in pipeline order, assuming nothing fails
    for i, (label, uids) in enumerate(runs):
        # Earlier releases of the project whatever run made them; this pipeline's earlier runs.
        earlier = [x for x in entries if x.id in pre or (x.run != label and position[x.run] < i)]
        plan += [
            (label, uid, newest[(label, uid)], earlier) for uid in sorted(uids) if (label, uid) in newest and earlier
        ]
    # The checks are independent given the ledger, so they may run in several processes; an output that fails is
    # not released, and any check that counted it is done again without it, in order (the same answer as one
    # process working through the plan).
    first = _run_checks(ledger, plan, profile, lp_budget, jobs)
    failed: set[str] = set()
    deferred = []  # a rerun's twins that fail: the project released them before, so they stay released
    for item, res in zip(plan, first, strict=True):
        _label, uid, e, earlier = item
        if any(x.id in failed for x in earlier):
            res = _check(ledger, uid, e, [x for x in earlier if x.id not in failed], profile, lp_budget)
        out.compared += 1
        if res.reasons or res.relations:
            out.results[uid] = res
        if res.status == "fail" and e.id in kept:
            deferred.append(item)
        elif res.status == "fail":
            failed.add(e.id)
            out.failed.append(e)
    order = [newest[(label, uid)] for label, uids in runs for uid in sorted(uids) if (label, uid) in newest]
    for item in deferred:
        _check_kept(ledger, order, item, out, failed, profile, lp_budget)
    return out


def _merge(out: CrossRunResult, uid: str, res: DifferencingResult) -> None:
    if uid in out.results:
        old = out.results[uid]
        old.reasons += res.reasons
        old.relations += [r for r in res.relations if r not in old.relations]
        old.findings = pd.concat([f for f in (old.findings, res.findings) if len(f)] or [old.findings])
        old.status = worst([old.status, res.status])
    elif res.reasons or res.relations:
        out.results[uid] = res


def _check_kept(
    ledger: Ledger,
    order: list[LedgerEntry],
    item: tuple[str, str, LedgerEntry, list[LedgerEntry]],
    out: CrossRunResult,
    failed: set[str],
    profile: Profile,
    lp_budget: int,
) -> None:
    """A rerun's twin `item` failed against outputs before it in pipeline order; the project released it before, so
    it stays released, and those outputs are the ones to withhold: each is compared with it, those that fail are
    withheld, and the twin is compared again without them (still failing, it is withheld from this bundle too)."""
    _label, uid, twin, earlier = item
    uids = {e.id: u for u, e in out.released.items()}
    for e in order[: order.index(twin)]:
        if e.id in failed or e.run == twin.run:  # the same notebook run compared the two as they were saved
            continue
        res = _check(ledger, uids[e.id], e, [twin], profile, lp_budget)
        _merge(out, uids[e.id], res)
        if res.status == "fail":
            failed.add(e.id)
            out.failed.append(e)
    again = _check(ledger, uid, twin, [x for x in earlier if x.id not in failed], profile, lp_budget)
    out.results.pop(uid, None)
    _merge(out, uid, again)
    if again.status == "fail":
        out.failed.append(twin)


def check_arrivals(
    ledger: Ledger, ours: dict[str, LedgerEntry], arrivals: list[LedgerEntry], profile: Profile, out: CrossRunResult
) -> None:
    """Compare this pipeline's released outputs `ours` (uid: entry, published in `ledger`) with `arrivals`, entries
    recorded in the project ledger while the pipeline ran; those that fail are added to `out.failed`.

    Example:
        >>> from djs_toolkit.sdc import load_profile
        >>> out = CrossRunResult(); check_arrivals(Ledger(), {}, [], load_profile("srs"), out); out.failed
        []
    """
    if not arrivals:
        return
    done = {e.id for e in out.failed}
    for uid, e in sorted(ours.items()):
        if e.id in done:
            continue
        res = _check(ledger, uid, e, arrivals, profile, LP_BUDGET)
        _merge(out, uid, res)
        if res.status == "fail":
            out.failed.append(e)


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


def ledger_note(project: Path | None) -> str:
    """What the clearance pack says of the differencing behind a bundle: with the project's ledger, or switched off.

    Example:
        >>> "SWITCHED OFF" in ledger_note(None), "released before" in ledger_note(Path(".djs/ledger"))
        (True, True)
    """
    if project is None:
        return (
            "the project's differencing ledger was SWITCHED OFF for this run (--ledger off or DJS_LEDGER=off): "
            "differencing checked within each notebook run and across the notebook runs of this pipeline only; a "
            "checker must compare these outputs with the project's other outputs"
        )
    return (
        "differencing checked within each notebook run as its outputs were saved, and by the runner across notebook "
        "runs in pipeline order and against every output the project released before (the project's checker-only "
        "ledger)"
    )


def project_cross_run(
    led: Ledger, project: Path | None, runs: list[tuple[str, list[str]]], start_ns: int, profile: Profile, jobs: int
) -> CrossRunResult:
    """`cross_run_check` of a pipeline's run ledger `led` with the project's ledger (None: switched off): compare,
    then publish what is released.

    The project's entries are linked into the run's ledger for the comparison and taken out again after it, so the
    run's ledger holds its own outputs only; the released ones are then linked into the project's ledger, and
    entries recorded there meanwhile (a Session outside the run) are compared with them (`check_arrivals`); an
    output that fails is taken out of the project's ledger again unless the project had released it before.

    Example:
        >>> from djs_toolkit.sdc import load_profile
        >>> project_cross_run(Ledger(), None, [], 0, load_profile("srs"), 1).compared
        0
    """
    proj = Ledger(project) if project is not None else None
    before = import_entries(proj, led) if proj is not None else set()
    held = {e.id for e in proj.entries()} if proj is not None else set()
    try:
        kept = {e.id for e in led.entries() if e.id in held and e.id not in before}
        cross = cross_run_check(led, runs, start_ns, profile, jobs=jobs, before=before, kept=kept)
    finally:
        for e in led.entries():
            if e.id in before:
                led.remove(e)
    if proj is not None:
        failed = {e.id for e in cross.failed}
        ours = {uid: e for uid, e in cross.released.items() if e.id not in failed}
        publish_entries(led, proj, {e.id for e in ours.values()})
        known = before | {e.id for e in led.entries()}
        check_arrivals(proj, ours, [e for e in proj.entries() if e.id not in known], profile, cross)
        for e in cross.failed:
            if e.id not in held:
                proj.remove(e)
    return cross


def purge_imports(ledger: Ledger, labels: set[str], start_ns: int) -> int:
    """Withdraw from a run's ledger what an interrupted attempt linked in from the project's (`project_cross_run`
    takes them out once it has compared): entries older than the pipeline or of no run of it. Returns how many.

    Example:
        >>> led = Ledger()
        >>> _ = led.add("t", "table", "count", "pass", (), None, None, None, None, None, run="")
        >>> purge_imports(led, {"r1"}, 0), led.entries()
        (1, [])
    """
    gone = [e for e in ledger.entries() if e.created_ns < start_ns or e.run not in labels]
    for e in gone:
        ledger.remove(e)
    return len(gone)
