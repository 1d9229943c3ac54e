"""Companion tables of a notebook run: the outputs saved so far, as printed, and which of them print a new table's
counts.

Every output `save_table` stages is remembered as printed (labels, numbers, withheld cells) with the unprotected
counts it was given, per notebook run (its staging folder, label, ledger and profile). A companion of a new table
prints one of its count columns: same column name, rows matched by their shared labels, and the same quantity:
equal counts where both tables' own counts are known, else equal wherever both print them (the same rows with one
such row, or two). `outputs.derived` makes the new table consistent with its companions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from djs_toolkit.outputs.stage import RunContext
from djs_toolkit.sdc import Output
from djs_toolkit.sdc.profiles import Profile

__all__ = ["Companions", "companion_rows", "register"]


@dataclass
class _Printed:
    """An output of the run as printed: labels, numbers (NaN where withheld) and withheld flags per column."""

    uid: str
    labels: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    withheld: dict[str, np.ndarray]
    count_columns: list[str]
    counts: str | None
    tolerance: float
    truth: dict[str, np.ndarray] = field(default_factory=dict)  # unprotected counts behind the rows, when known


_REGISTRY: dict[tuple[str, ...], dict[str, _Printed]] = {}


def _run_key(ctx: RunContext) -> tuple[str, ...]:
    # One notebook run: its staging folder, label, ledger and profile (interactive sessions differ in the last two).
    return str(ctx.stage_dir), ctx.run_name, str(ctx.ledger), ctx.profile


@dataclass
class Companions:
    """What the companions of a table withhold, row by row of the table.

    Attributes:
        rows: rows whose counts a companion withholds (in a column both print).
        stat_rows: rows where a companion of a statistic withholds any count.
        counts_from: values and withheld flags of the statistic's counts column as a companion prints them, when
            it prints every row.
        companions: how many companion columns were found.

    Example:
        >>> Companions(np.zeros(1, bool), np.zeros(1, bool)).companions
        0
    """

    rows: np.ndarray
    stat_rows: np.ndarray
    counts_from: tuple[np.ndarray, np.ndarray] | None = None
    companions: int = 0


def _matches(entry: _Printed, frame: pd.DataFrame, keys: list, column: str) -> np.ndarray | None:
    """Row of `entry` for each row of `frame` (-1 where none), when it is a companion on `column`."""
    shared = [k for k in keys if k in entry.labels]
    if not shared or column not in entry.values:
        return None
    theirs = {tuple(entry.labels[k][i] for k in shared): i for i in range(len(entry.values[column]))}
    if len(theirs) != len(entry.values[column]):
        return None
    mine = [tuple(str(x) for x in r) for r in frame[shared].itertuples(index=False)]
    if len(set(mine)) != len(mine):
        return None
    rows = np.array([theirs.get(r, -1) for r in mine], dtype=np.int64)
    ok = rows >= 0
    if not ok.any():
        return None
    ours = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)[ok]
    if column in entry.truth:  # both tables' own counts are known here: the same quantity when they are equal
        true = entry.truth[column][rows[ok]]
        same = np.isfinite(true) & np.isfinite(ours)
        return rows if same.any() and np.all(np.abs(true[same] - ours[same]) < 1e-9) else None
    printed = entry.values[column][rows[ok]]
    both = np.isfinite(printed) & np.isfinite(ours)
    if np.any(np.abs(printed[both] - ours[both]) > entry.tolerance):
        return None  # another population that uses the same column name
    if not ((ok.all() and len(rows) == len(theirs) and both.any()) or both.sum() >= 2):
        return None  # too little to tell the two tables count the same people
    return rows


def companion_rows(
    ctx: RunContext, uid: str, frame: pd.DataFrame, keys: list, cols: list, counts: str | None, statistic: str
) -> Companions:
    """Rows of `frame` its companions in the run of `ctx` constrain (see the module docstring).

    Example:
        >>> from djs_toolkit.outputs.stage import current_context
        >>> f = pd.DataFrame({"g": ["a"], "n": [40]})
        >>> companion_rows(current_context(), "nothing-saved-yet", f, ["g"], ["n"], None, "count").companions
        0
    """
    n_rows = len(frame)
    out = Companions(np.zeros(n_rows, dtype=bool), np.zeros(n_rows, dtype=bool))
    for entry in _REGISTRY.get(_run_key(ctx), {}).values():
        if entry.uid == uid:
            continue
        for c in [counts] if counts is not None and statistic != "count" else cols:
            match = _matches(entry, frame, keys, c)
            if match is None:
                continue
            out.companions += 1
            ok = match >= 0
            theirs = np.zeros(n_rows, dtype=bool)
            theirs[ok] = np.any([entry.withheld[x][match[ok]] for x in entry.withheld], axis=0)
            col_withheld = np.zeros(n_rows, dtype=bool)
            col_withheld[ok] = entry.withheld[c][match[ok]]
            if statistic == "count":
                out.rows |= col_withheld
                continue
            out.stat_rows |= theirs
            if ok.all() and c == counts and out.counts_from is None:
                out.counts_from = (entry.values[c][match], entry.withheld[c][match])
            else:
                out.rows |= col_withheld
    return out


def _printed_counts(o: Output) -> list:
    stat = str(o.properties.get("statistic", o.statistic))
    cols = [str(c) for c in o.table.columns]
    if o.type == "survival":
        return [c for c in cols if c in ("n_at_risk", "events", "censored", "competing_events")]
    if stat == "overlap":
        return [c for c in cols if c in ("exclusive", "inclusive")]
    if stat == "count":
        return [
            c for c in cols if pd.api.types.is_numeric_dtype(o.table[c]) and not pd.api.types.is_bool_dtype(o.table[c])
        ]
    declared = o.properties.get("count_columns")
    return [c for c in cols if c in (declared or [o.properties.get("counts")])]


def _truth(truth: pd.DataFrame | pd.Series | None, labels: dict[str, np.ndarray], counts: list) -> dict:
    """The unprotected counts of `truth` (what was given to save_table) on the rows of the printed output."""
    if truth is None:
        return {}
    frame = truth.to_frame() if isinstance(truth, pd.Series) else truth
    if not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None):
        frame = frame.reset_index()
    shared = [k for k in labels if k in frame.columns]
    cols = [c for c in counts if c in frame.columns]
    if not shared or not cols:
        return {}
    at = {tuple(str(x) for x in r): i for i, r in enumerate(frame[shared].itertuples(index=False))}
    if len(at) != len(frame):
        return {}
    rows = np.array([at.get(tuple(labels[k][i] for k in shared), -1) for i in range(len(labels[shared[0]]))])
    out = {}
    for c in cols:
        v = pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64)
        out[c] = np.where(rows >= 0, v[np.maximum(rows, 0)], np.nan)
    return out


def register(ctx: RunContext, o: Output, profile: Profile, truth: pd.DataFrame | pd.Series | None = None) -> None:
    """Remember an output of the run as printed, so later tables of the run stay consistent with it.

    Example:
        >>> from djs_toolkit.outputs.stage import current_context
        >>> from djs_toolkit.sdc import load_profile
        >>> register(current_context(), Output("t", "pass", "table", "x", "count", pd.DataFrame()), load_profile("srs"))
    """
    if o.status == "fail" or o.mask is None or o.table.empty or isinstance(o.table.columns, pd.MultiIndex):
        return
    named = not (isinstance(o.table.index, pd.RangeIndex) and o.table.index.name is None)
    flat = o.table.reset_index() if named else o.table.reset_index(drop=True)
    withheld = o.mask.reset_index(drop=True)
    counts = _printed_counts(o)
    labels, values, hidden = {}, {}, {}
    for c in flat.columns:
        s = flat[c]
        if str(c) in counts:
            values[str(c)] = pd.to_numeric(s, errors="coerce").to_numpy(np.float64)
            hidden[str(c)] = withheld[c].to_numpy(bool) if c in withheld.columns else np.zeros(len(s), bool)
        elif c not in o.table.columns or not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            labels[str(c)] = np.array([str(x) for x in s], dtype=object)
    for c in withheld.columns:  # statistic columns: only whether they are withheld matters
        if str(c) not in hidden:
            hidden[str(c)] = withheld[c].to_numpy(bool)
    tol = float(profile.round_base or 5) if profile.mitigation == "round" else 1e-6
    counts_col = o.properties.get("counts")
    entry = _Printed(o.name, labels, values, hidden, counts, counts_col if isinstance(counts_col, str) else None, tol)
    entry.truth = _truth(truth, labels, counts)
    _REGISTRY.setdefault(_run_key(ctx), {})[o.name] = entry
