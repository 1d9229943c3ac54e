"""The Session's side of the differencing ledger: check every new output, then record it if it is released.

Order (docs/disclosure.md §7.4): check against the ledger, record (outputs that `fail` are not released, so
not recorded), then re-check against entries other processes recorded meanwhile. Of two processes appending at
once, at least one sees the other's entry in that re-check (each records before it lists), so no pair of outputs
escapes the check without a lock; an output that fails the re-check is withdrawn from the ledger.

Under `djs run` (the session's `run` label), a notebook compares its outputs only with its own run's entries.
Which other runs' outputs exist at a given moment depends on which process is faster, so the runner compares
outputs across runs itself, in pipeline order, once every run has finished (`runner.differencing`): the same
pipeline then always gives the same findings, byte for byte.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from djs_toolkit.sdc.differencing import DifferencingResult, NewOutput, check_new
from djs_toolkit.sdc.ledger import Ledger, LedgerEntry
from djs_toolkit.sdc.output import Output
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.report import reason_frame
from djs_toolkit.sdc.rules import worst

__all__ = ["record_output"]


def _in_scope(entries: list[LedgerEntry], run: str) -> list[LedgerEntry]:
    """The entries this process compares with: all of them, or under `djs run` its own run's (module doc)."""
    return [e for e in entries if e.run == run] if run else entries


def _apply(out: Output, res: DifferencingResult) -> None:
    if res.reasons:
        rows = [(None, None, rule, st, summ) for rule, st, summ in res.reasons]
        out.reasons = pd.concat([out.reasons, reason_frame(rows)], ignore_index=True)
        out.status = worst([out.status, res.status])
    for line in res.relations:
        if line not in out.relations:
            out.relations.append(line)
    if len(res.findings):
        frames = [f for f in (out.differencing, res.findings) if len(f)]
        out.differencing = pd.concat(frames, ignore_index=True)


def _key_flags(out: Output, info: dict[str, int]) -> None:
    rows = []
    if info.get("missing"):
        rows.append(
            (
                None,
                None,
                "LedgerKeyCheck",
                "review",
                f"record_id is missing for {info['missing']} record(s): those records cannot be linked to "
                "other outputs, so differencing with them is unchecked; fill the ids",
            )
        )
    if info.get("duplicated"):
        rows.append(
            (
                None,
                None,
                "LedgerKeyCheck",
                "review",
                f"record_id repeats for {info['duplicated']} record(s): repeats are linked across outputs "
                "by order of appearance only; pass a record-level id",
            )
        )
    if rows:
        out.reasons = pd.concat([out.reasons, reason_frame(rows)], ignore_index=True)
        out.status = worst([out.status, "review"])


def record_output(out: Output, led: Ledger, profile: Profile, run: str, lp_budget: int) -> None:
    """Check `out` against the ledger `led` and record it there (unless it fails): the order in the module doc.

    Args:
        out: the checked output; its status, reasons, relations and differencing findings are updated.
        led: the session's ledger.
        profile: the session's profile (thresholds of the differencing check).
        run: the session's `djs run` label ('' outside a run): which entries it compares with.
        lp_budget: LPs the differencing check may solve for this output.

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> out = Output("t", "fail", "table", "crosstab", "count", pd.DataFrame())
        >>> led = Ledger(None); record_output(out, led, load_profile("srs"), "", 10); led.entries()
        []
    """
    if out.status == "fail" or out.type == "custom":
        return
    digest = None
    labels = out.cell_labels if out.released is not None else None
    if labels is not None and out.record_id is not None:
        keys, info = led.hash_ids_info(out.record_id, out.key_space or "record_id")
        digest = led.store_keyset(keys)
        if out.key_space == "record_id":
            _key_flags(out, info)
    else:
        labels = None
    new = NewOutput(out.name, out.released, labels, digest, out.key_space if digest else None, tuple(out.variables))
    current = led.entries()
    before = {e.id for e in current}
    res = check_new(led, new, profile, lp_budget, entries=_in_scope(current, run))
    _apply(out, res)
    if out.status == "fail":
        return
    protection: dict[str, Any] = {
        "mitigation": profile.mitigation,
        "controls": list(out.controls),
        "withheld_cells": int(out.mask.to_numpy().sum()) if out.mask is not None else 0,
    }
    entry = led.add(
        out.name,
        out.type,
        out.statistic,
        out.status,
        tuple(out.variables),
        out.released,
        labels,
        digest,
        new.key_space,
        out.population,
        protection,
        run=run,
    )
    arrivals = [e for e in _in_scope(led.entries(), run) if e.id not in before and e.id != entry.id]
    if arrivals:
        again = check_new(led, new, profile, lp_budget, entries=arrivals)
        _apply(out, again)
        if out.status == "fail" and entry.id not in before:
            led.remove(entry)
