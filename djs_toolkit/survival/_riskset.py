"""Aggregate (entry, exit] data to one row per distinct exit time, in linear time.

The single risk-set convention of the package (docs/methods.md §3, "the R-matching
convention"): a subject with entry e and exit t is at risk at time s iff e < s <= t. Events at t count
at t; a subject entering on the day of an event is not at risk for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RiskTable", "risk_table"]


@dataclass(frozen=True)
class RiskTable:
    """Per distinct exit time: weighted at-risk count, events per code (column c = code c) and censorings."""

    time: np.ndarray
    n_at_risk: np.ndarray
    events: np.ndarray  # shape (K, max_code + 1); column 0 holds the censorings
    exit_index: np.ndarray  # per input row: index of its exit time in `time`

    @property
    def censored(self) -> np.ndarray:
        return self.events[:, 0]

    @property
    def all_events(self) -> np.ndarray:
        return self.events[:, 1:].sum(axis=1)


def risk_table(
    stop: np.ndarray,
    codes: np.ndarray,
    weights: np.ndarray,
    entry: np.ndarray | None = None,
    n_codes: int | None = None,
) -> RiskTable:
    """Build the per-time table with np.unique and bincount (no per-time Python loop).

    Args:
        stop: exit times.
        codes: 0 = censored, 1..k = event type.
        weights: frequency weights (ones for unweighted data).
        entry: entry times (None = everyone at risk from time 0 on, i.e. entry before every exit).
        n_codes: number of columns of `events` (defaults to max code + 1).
    """
    time, exit_index = np.unique(stop, return_inverse=True)
    k = len(time)
    n_codes = int(codes.max(initial=0)) + 1 if n_codes is None else n_codes
    flat = exit_index * n_codes + codes
    events = np.bincount(flat, weights=weights, minlength=k * n_codes).reshape(k, n_codes)
    exits_at = events.sum(axis=1)
    # at risk at time[j] = weight exiting at or after time[j] minus weight entering at or after it.
    at_risk = np.cumsum(exits_at[::-1])[::-1]
    if entry is not None:
        # entry >= time[j]  <=>  j <= searchsorted(time, entry, "right") - 1
        last = np.searchsorted(time, entry, side="right") - 1
        ok = last >= 0
        late = np.bincount(last[ok], weights=weights[ok], minlength=k)
        at_risk = at_risk - np.cumsum(late[::-1])[::-1]
    return RiskTable(time=time, n_at_risk=at_risk, events=events, exit_index=exit_index)
