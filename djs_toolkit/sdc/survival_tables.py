"""Disclosure-safe Kaplan-Meier and cumulative-incidence tables (docs/disclosure.md §3, §1.2, §1.5).

Rules (SDAP handbook; O'Keefe et al. 2012; OpenSAFELY `kaplan-meier-function`):
- steps: time is cut on a grid (the caller's `times`, or round numbers spanning the data, never a record's own
  time) and consecutive intervals are merged until every reported step holds at least the smallest safe count of
  events;
- tail: the curve stops before the first step whose number at risk is below the smallest safe count;
- counts: the number at risk at the start, the events of each step (>= the safe count by construction) and the
  cumulative censored / competing / late-entry counts are released; the cumulative ones are rounded, so the difference
  between adjacent rows of any count column is 0 or a multiple of the rounding unit, never a small non-zero number.
  `srs`-like profiles round to the smallest safe count (10), so adjacent at-risk rows differ by >= 10; the `opensafely`
  profile rounds every cumulative count with midpoint-6 (docs/disclosure.md §1.5, `kaplan-meier-function`);
- estimates and confidence intervals are recomputed from the released counts only (the survival module's own
  estimators run on pseudo-records rebuilt from them), and the table carries no censoring times (no ticks).

Each record also gets a label (group, entry step, exit step, status) so the differencing ledger sees exactly which
records every released count covers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.histogram import nice_edges
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.released import Released, from_sets
from djs_toolkit.sdc.rounding import midpoint6, round_to_base, rounding_bounds

__all__ = ["SURVIVAL_COLUMNS", "SafeCurve", "default_grid", "safe_curve"]

STATUS = ("censored", "event", "competing")
# A cumulative-incidence table also carries the Kaplan-Meier curve of the same released counts (competing events
# censored): one output for both, so no second table on its own steps gives a difference away.
SURVIVAL_COLUMNS = {"estimate": "survival", "ci_lower": "survival_ci_lower", "ci_upper": "survival_ci_upper"}


@dataclass
class SafeCurve:
    """A protected curve table plus what the ledger and the checker need.

    Attributes:
        table: released rows: (`by`,) `time`, `n_at_risk`, `events`, `censored` (, `competing_events`),
            `estimate`, `ci_lower`, `ci_upper` (and for a cumulative incidence `survival` with its interval).
        evidence: checker-only true counts per step and group.
        labels: per-record label (-1 = not in the output).
        released: the released counts as label sets.
        withheld: groups withheld entirely (too few records or events).
        controls: human-readable list of what was done.
        complements: groups withheld beside a small withheld group (the total is public).

    Example:
        >>> SafeCurve(pd.DataFrame(), pd.DataFrame(), np.zeros(0, np.int32), None).withheld
        []
    """

    table: pd.DataFrame
    evidence: pd.DataFrame
    labels: np.ndarray
    released: Released | None
    withheld: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)
    complements: list[str] = field(default_factory=list)


def default_grid(stop: np.ndarray, intervals: int = 40) -> np.ndarray:
    """Round-number grid from 0 past the largest time (its last point is never a record's time).

    Example:
        >>> default_grid(np.array([3.0, 17.0, 365.0]), 4).tolist()
        [0.0, 125.0, 250.0, 375.0]
    """
    hi = float(np.max(stop, initial=0.0))
    edges = nice_edges(0.0, max(hi, 1.0), intervals)
    edges = edges[edges >= 0]
    return np.concatenate([[0.0], edges]) if edges[0] > 0 else edges


def _round_cum(x: np.ndarray, method: str, base: int) -> np.ndarray:
    return midpoint6(x) if method == "midpoint6" else round_to_base(x, base)


def _steps(e: np.ndarray, min_safe: int) -> list[tuple[int, int]]:
    """Merge grid intervals (1-based) into steps holding >= min_safe events; the remainder is the tail."""
    steps, start, acc = [], 1, 0
    for k in range(1, len(e)):
        acc += int(e[k])
        if acc >= min_safe:
            steps.append((start, k))
            start, acc = k + 1, 0
    return steps


def _group(
    stop: np.ndarray,
    code: np.ndarray,
    entry_iv: np.ndarray,
    grid: np.ndarray,
    cause: int,
    profile: Profile,
    method: str,
    base: int,
) -> tuple[pd.DataFrame, list[tuple[int, int]]]:
    """Step table of one group: true and released counts per step."""
    m = profile.min_safe_count
    g = len(grid)
    exit_iv = np.clip(np.searchsorted(grid, stop, side="left"), 1, g)  # interval g = after the grid
    ev = code == cause
    comp = (code != cause) & (code > 0)
    cen = code == 0
    E = np.bincount(exit_iv[ev], minlength=g + 1)
    D = np.bincount(exit_iv[comp], minlength=g + 1)
    C = np.bincount(exit_iv[cen], minlength=g + 1)
    A = np.bincount(entry_iv, minlength=g + 1)
    steps = _steps(E[:g], m)
    rows = []
    cum = {"A": 0, "E": 0, "D": 0, "C": 0}
    exited = 0
    for j, (a, b) in enumerate(steps):
        n_start = int(A[: b + 1].sum()) - exited  # at risk at some time in the step (entries during it included)
        if n_start < m:
            break
        cum["A"] = int(A[: b + 1].sum())
        cum["E"] += int(E[a : b + 1].sum())
        cum["D"] += int(D[a : b + 1].sum())
        cum["C"] += int(C[a : b + 1].sum())
        exited = cum["E"] + cum["D"] + cum["C"]
        rows.append(
            {
                "step": j,
                "first_interval": a,
                "last_interval": b,
                "time": float(grid[b]),
                "n_at_risk_true": n_start,
                "events_true": int(E[a : b + 1].sum()),
                "competing_true": int(D[a : b + 1].sum()),
                "censored_true": int(C[a : b + 1].sum()),
                "cum_entries_true": cum["A"],
                "cum_events_true": cum["E"],
                "cum_competing_true": cum["D"],
                "cum_censored_true": cum["C"],
            }
        )
    t = pd.DataFrame(rows)
    if t.empty:
        return t, steps[:0]
    first = int(A[: steps[0][1] + 1].sum())
    if method == "midpoint6":
        t["cum_entries"] = midpoint6(t["cum_entries_true"].to_numpy(float))
        t["cum_events"] = midpoint6(t["cum_events_true"].to_numpy(float))
    else:
        # the first step's entries (everyone, without delayed entry) are published exactly; later entries rounded
        t["cum_entries"] = first + round_to_base(t["cum_entries_true"].to_numpy(float) - first, base)
        t["cum_events"] = t["cum_events_true"].astype(float)
    t["cum_censored"] = _round_cum(t["cum_censored_true"].to_numpy(float), method, base)
    t["cum_competing"] = _round_cum(t["cum_competing_true"].to_numpy(float), method, base)
    exits = (t["cum_events"] + t["cum_censored"] + t["cum_competing"]).to_numpy()
    t["n_at_risk"] = t["cum_entries"].to_numpy() - np.concatenate([[0.0], exits[:-1]])
    for col, src in (("events", "cum_events"), ("censored", "cum_censored"), ("competing_events", "cum_competing")):
        t[col] = np.diff(t[src].to_numpy(), prepend=0.0)
    # rounding can only make a released risk set smaller than its events near the tail: stop there
    bad = np.flatnonzero(t["n_at_risk"].to_numpy() < t["events"].to_numpy() + t["competing_events"].to_numpy())
    if len(bad):
        t = t.iloc[: bad[0]]
    return t.reset_index(drop=True), steps[: len(t)]


def _estimates(t: pd.DataFrame, kind: str, delayed: bool) -> pd.DataFrame:
    """Estimates and CIs from the released counts: the survival module's estimators on pseudo-records."""
    from djs_toolkit.survival import cif, km

    times = t["time"].to_numpy(float)
    starts = np.concatenate([[-1.0], times[:-1]])
    ent = np.diff(t["cum_entries"].to_numpy(float), prepend=0.0)
    exits = []  # (time, code, count) in step order; the rest of the last risk set is censored at its end
    for k in range(len(t)):
        exits += [
            (times[k], 1, t["events"].iloc[k]),
            (times[k], 2, t["competing_events"].iloc[k]),
            (times[k], 0, t["censored"].iloc[k]),
        ]
    left = t["cum_entries"].iloc[-1] - sum(c for _, _, c in exits)
    exits.append((times[-1], 0, left))
    # pair exits with entries first-in first-out: every exit of step k meets an entry of step <= k
    e_cum = np.cumsum(ent)
    rows = []
    taken = 0.0
    for time_, code, cnt in exits:
        lo, hi = taken, taken + float(cnt)
        for s in np.flatnonzero((e_cum > lo) & (np.concatenate([[0.0], e_cum[:-1]]) < hi)):
            a = max(lo, e_cum[s] - ent[s])
            b = min(hi, e_cum[s])
            if b > a:
                rows.append((starts[s] if delayed else 0.0, time_, code, b - a))
        taken = hi
    pseudo = pd.DataFrame(rows, columns=["entry", "stop", "code", "w"])
    pseudo = pseudo[pseudo["w"] > 0]
    if kind == "km":
        curve = km(
            pseudo,
            "stop",
            (pseudo["code"] == 1).astype(int).to_numpy(),
            entry="entry" if delayed else None,
            weights="w",
        )
    else:
        rep = pseudo.loc[pseudo.index.repeat(pseudo["w"].round().astype(int))]
        curve = cif(rep, "stop", "code", cause=1, entry="entry" if delayed else None)
    at = curve.set_index("time").reindex(times)
    return at[["estimate", "ci_lower", "ci_upper"]].reset_index(drop=True)


def _complements(
    empty: list[bool], groups: np.ndarray, inside: np.ndarray, profile: Profile, method: str, by_name: str | None
) -> set[int]:
    """Groups to withhold beside those too small to show: the number at risk at the start of each group shown is
    exact (base rounding), and the total is public like any margin, so a small withheld group needs company
    (withheld groups together at least the threshold, and at least two of them)."""
    if method == "midpoint6" or by_name is None:
        return set()
    n = np.bincount(groups[inside & (groups >= 0)], minlength=len(empty))
    out = {g for g, e in enumerate(empty) if e}
    if not any(0 < n[g] < profile.min_safe_count for g in out):
        return set()
    shown = sorted((int(n[g]), g) for g in range(len(empty)) if g not in out)
    while shown and (len(out) < 2 or int(n[sorted(out)].sum()) < profile.min_safe_count):
        out.add(shown.pop(0)[1])
    return {g for g in out if not empty[g]}


def safe_curve(
    stop: np.ndarray,
    code: np.ndarray,
    entry: np.ndarray | None,
    groups: np.ndarray,
    levels: Sequence[Any],
    by_name: str | None,
    profile: Profile,
    times: object = None,
    kind: str = "km",
    cause: int = 1,
    inside: np.ndarray | None = None,
    tag: str = "curve",
) -> SafeCurve:
    """Protected KM (`kind="km"`) or cumulative-incidence (`kind="cif"`) table.

    Args:
        stop: exit times (>= 0); code: 0 censored, `cause` = the event, other positive codes competing.
        entry: delayed-entry times (None = everyone at risk from the start).
        groups: group code per record (0.. len(levels)-1); levels: group labels; by_name: the `by` column.
        profile: rule set (smallest safe count; `rate_rounding: midpoint6` selects midpoint-6).
        times: reporting times (increasing, >= 0); None = a round-number grid.
        inside: records in the population (False = not in the output).
        tag: prefix of the step dimensions in the ledger (the output's name: steps of two curves differ).

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> stop = np.arange(1.0, 201.0); code = np.ones(200, int)
        >>> groups, times = np.zeros(200, int), [0, 50, 100, 150, 200]
        >>> sc = safe_curve(stop, code, None, groups, [None], None, load_profile("srs"), times)
        >>> sc.table[["time", "n_at_risk", "events", "censored"]].values.tolist()
        [[0.0, 200, 0, 0], [50.0, 200, 50, 0], [100.0, 150, 50, 0], [150.0, 100, 50, 0], [200.0, 50, 50, 0]]
    """
    method = "midpoint6" if profile.rate_rounding == "midpoint6" else "base"
    base = profile.min_safe_count
    if times is None:
        grid = default_grid(stop[inside] if inside is not None else stop)
    else:
        grid = np.asarray(times, dtype=float)
        if grid.ndim != 1 or len(grid) == 0 or np.any(np.diff(grid) <= 0) or grid[0] < 0:
            raise DJSUserError("times must be an increasing list of reporting times >= 0, e.g. [0, 90, 180, 365].")
        if grid[0] > 0:
            grid = np.concatenate([[0.0], grid])
    inside = np.ones(len(stop), bool) if inside is None else np.asarray(inside, bool)
    delayed = entry is not None
    entry_iv = (
        np.ones(len(stop), np.int64)
        if entry is None
        else np.clip(np.searchsorted(grid, entry, side="right"), 1, len(grid))
    )
    frames: list[pd.DataFrame] = []
    ev_frames: list[pd.DataFrame] = []
    withheld: list[str] = []
    complement_names: list[str] = []
    label_parts: list[tuple[int, list[tuple[int, int]], pd.DataFrame]] = []
    n_g = len(levels)
    step_counts = []
    parts = [
        _group(stop[sel], code[sel], entry_iv[sel], grid, cause, profile, method, base)
        for sel in (inside & (groups == g) for g in range(n_g))
    ]
    complements = _complements([t.empty for t, _ in parts], groups, inside, profile, method, by_name)
    for g, level in enumerate(levels):
        t, steps = parts[g]
        if t.empty or g in complements:
            (complement_names if g in complements else withheld).append("all" if by_name is None else str(level))
            step_counts.append(0)
            continue
        est = _estimates(t, kind, delayed)
        if kind == "cif":  # the survival curve (competing events censored) from the same released counts
            est = pd.concat([est, _estimates(t, "km", delayed).rename(columns=SURVIVAL_COLUMNS)], axis=1)
        first = pd.DataFrame(
            {
                "time": [float(grid[0])],
                "n_at_risk": [t["n_at_risk"].iloc[0]],
                "events": [0.0],
                "censored": [0.0],
                "competing_events": [0.0],
                "estimate": [1.0 if kind == "km" else 0.0],
                "ci_lower": [1.0 if kind == "km" else 0.0],
                "ci_upper": [1.0 if kind == "km" else 0.0],
                **({c: [1.0] for c in SURVIVAL_COLUMNS.values()} if kind == "cif" else {}),
            }
        )
        body = pd.concat([t[["time", "n_at_risk", "events", "censored", "competing_events"]], est], axis=1)
        out = pd.concat([first, body], ignore_index=True)
        if by_name is not None:
            out.insert(0, by_name, level)
            t.insert(0, by_name, level)
        frames.append(out)
        ev_frames.append(t)
        step_counts.append(len(t))
        label_parts.append((g, steps, t))
    cols = (
        ([by_name] if by_name else [])
        + ["time", "n_at_risk", "events", "censored"]
        + (["competing_events"] if kind == "cif" else [])
        + ["estimate", "ci_lower", "ci_upper"]
        + (list(SURVIVAL_COLUMNS.values()) if kind == "cif" else [])
    )
    table = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    for c in ("n_at_risk", "events", "censored", "competing_events"):
        if c in table and len(table):
            table[c] = table[c].round().astype("Int64")
    labels, released = _ledger_view(
        stop,
        code,
        entry_iv,
        groups,
        inside,
        grid,
        label_parts,
        levels,
        by_name,
        n_g,
        cause,
        method,
        base,
        delayed,
        kind,
        tag,
    )
    if complements:
        controls_extra = [
            f"{len(complements)} group(s) withheld as complements: the number in a small withheld group would "
            "otherwise be the total less the groups shown"
        ]
    else:
        controls_extra = []
    what = "midpoint-6 (cumulative counts)" if method == "midpoint6" else f"base {base} (cumulative counts)"
    controls = [
        f"steps merged until each holds >= {profile.min_safe_count} events",
        f"curve cut before the number at risk falls below {profile.min_safe_count}",
        f"censored{', competing' if kind == 'cif' else ''}{' and late-entry' if delayed else ''} counts "
        f"rounded {what}; events {'rounded ' + what if method == 'midpoint6' else 'exact (>= the threshold)'}",
        "estimates and confidence intervals recomputed from the released counts; no censoring ticks",
        *controls_extra,
    ]
    evidence = pd.concat(ev_frames, ignore_index=True) if ev_frames else pd.DataFrame()
    return SafeCurve(table, evidence, labels, released, withheld, controls, complement_names)


def _ledger_view(
    stop: np.ndarray,
    code: np.ndarray,
    entry_iv: np.ndarray,
    groups: np.ndarray,
    inside: np.ndarray,
    grid: np.ndarray,
    parts: list[tuple[int, list[tuple[int, int]], pd.DataFrame]],
    levels: Sequence[Any],
    by_name: str | None,
    n_g: int,
    cause: int,
    method: str,
    base: int,
    delayed: bool,
    kind: str,
    tag: str,
) -> tuple[np.ndarray, Released | None]:
    """Per-record labels (group, entry step, exit step, status) and the released counts as label sets."""
    k_max = max([len(t) for _, _, t in parts], default=0)
    n_steps = k_max + 1  # index k_max = after the released steps (or withheld)
    # steps are per group (each group merges its own intervals): "step k" means the group's k-th released step
    ent_levels = [f"step {k + 1}" for k in range(k_max)] + ["later"] if delayed else ["start"]
    exit_levels = [f"step {k + 1}" for k in range(k_max)] + ["later"]
    status = list(STATUS if kind == "cif" else STATUS[:2])
    shape = (n_g, len(ent_levels), n_steps, len(status))
    labels = np.full(len(stop), -1, np.int64)
    sets, lo, hi = [], [], []
    ids = np.arange(int(np.prod(shape))).reshape(shape)
    for g, steps, t in parts:
        last = np.array([b for _, b in steps])
        sel = inside & (groups == g)
        x_step = np.searchsorted(last, np.clip(np.searchsorted(grid, stop[sel], side="left"), 1, None), side="left")
        x_step = np.where(x_step >= len(last), k_max, x_step)
        e_step = np.searchsorted(last, entry_iv[sel], side="left") if delayed else np.zeros(sel.sum(), np.int64)
        e_step = np.where(e_step >= len(last), len(ent_levels) - 1, e_step)
        st = np.where(code[sel] == cause, 1, np.where(code[sel] > 0, 2 if kind == "cif" else 0, 0))
        labels[sel] = ids[g, np.minimum(e_step, len(ent_levels) - 1), np.minimum(x_step, k_max), st]
        first = float(t["cum_entries"].iloc[0])
        sets.append(ids[g, 0].ravel() if delayed else ids[g].ravel())
        f_lo, f_hi = (
            (float(x[0]) for x in rounding_bounds(np.array([first]), method, base))
            if method == "midpoint6"
            else (first, first)
        )
        lo.append(f_lo)
        hi.append(f_hi)
        for k in range(len(t)):
            spec = [("cum_events", 1), ("cum_censored", 0)] + ([("cum_competing", 2)] if kind == "cif" else [])
            for col, s in spec:
                v = float(t[col].iloc[k])
                if col == "cum_events" and method != "midpoint6":
                    a = b = v
                else:
                    a, b = (float(x[0]) for x in rounding_bounds(np.array([v]), method, base))
                sets.append(ids[g, :, : k + 1, s].ravel())
                lo.append(a)
                hi.append(b)
            if delayed and k > 0:
                v = float(t["cum_entries"].iloc[k])
                shift = 0.0 if method == "midpoint6" else first  # base: later entries rounded on top of the first
                a, b = (float(x[0]) for x in rounding_bounds(np.array([v - shift]), method, base))
                sets.append(ids[g, : k + 1].ravel())
                lo.append(a + shift)
                hi.append(b + shift)
    if not parts:
        return labels.astype(np.int32), None
    dims = [by_name or "group", f"{tag}:entered", f"{tag}:exited", f"{tag}:status"]
    rel = from_sets(dims, [[str(v) for v in levels], ent_levels, exit_levels, status], sets, lo, hi)
    return labels.astype(np.int32), rel
