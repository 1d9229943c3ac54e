"""Survival tables given to `save_table`: one route, the checker's safe Kaplan-Meier / cumulative-incidence path.

A curve from `survival.km` / `survival.cif`, or its `survival.kmunicate_table`, holds every count the safe-KM rules
protect (`sdc.survival_tables`): the number at risk, and the events, censored and competing events between rows.
Printed as they are, adjacent rows give small numbers censored or entering, and an estimate printed beside counts
withheld elsewhere gives them back. So such a table, whatever `statistic=` says (`survival`,
`cumulative_incidence`, or `count` for a table of at-risk and cumulative counts), is rebuilt into the records it
counts (exits placed at the row's time, delayed entries at the previous row's) and goes through `Session.km` /
`Session.cif`: steps merged to the threshold, tail cut, cumulative counts rounded, estimates recomputed from what is
released. A KMunicate table keeps its reporting times; a full curve gets the checker's round-number grid. A survival
statistic without those counts cannot be checked and fails.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc import Output, Session
from djs_toolkit.sdc.report import reason_frame

__all__ = ["SURVIVAL_STATISTICS", "curve_output", "is_curve_table"]

SURVIVAL_STATISTICS = ("survival", "cumulative_incidence", "km", "cif", "kaplan_meier", "aalen_johansen")
_EXITS = {
    1: ("events", "cum_events"),
    2: ("competing_events", "cum_competing"),
    0: ("censored", "cum_censored"),
}


def _flat(table: pd.DataFrame | pd.Series) -> pd.DataFrame:
    frame = table.to_frame() if isinstance(table, pd.Series) else table
    if not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None):
        frame = frame.reset_index()
    return frame


def is_curve_table(table: pd.DataFrame | pd.Series) -> bool:
    """True for a survival curve or KMunicate table: `time`, `n_at_risk` and events (per row or cumulative).

    Example:
        >>> is_curve_table(pd.DataFrame({"time": [0, 90], "n_at_risk": [40, 30], "cum_events": [0, 10]}))
        True
    """
    cols = set(map(str, _flat(table).columns))
    return {"time", "n_at_risk"} <= cols and bool(cols & {"events", "cum_events"})


def _exits(g: pd.DataFrame, code: int) -> np.ndarray:
    per, cum = _EXITS[code]
    if cum in g.columns:
        return np.diff(g[cum].to_numpy(np.float64), prepend=0.0)
    if per in g.columns:
        return g[per].to_numpy(np.float64)
    return np.zeros(len(g))


def _records(g: pd.DataFrame, kmunicate: bool) -> tuple[list[float], list[int], list[float]]:
    """Exit time, code and entry time of every record one group's rows count (entries first in, first out).

    A curve's row counts those at risk at its time, exits included; a KMunicate row counts the exits since the
    previous reporting time, and its number at risk can only grow through late entries.
    """
    times = g["time"].to_numpy(np.float64)
    at_risk = g["n_at_risk"].to_numpy(np.float64)
    exits = {c: np.rint(_exits(g, c)) for c in _EXITS}
    if any((v < 0).any() for v in exits.values()) or (at_risk < 0).any():
        raise DJSUserError("the survival table has negative counts or cumulative counts that decrease.")
    total_exit = sum(exits.values())
    entries = np.zeros(len(g))
    entries[0] = at_risk[0]
    if kmunicate:
        grows = bool((np.diff(at_risk) > 0).any())
        expected = at_risk[:-1] - total_exit[1:]
        entries[1:] = np.maximum(at_risk[1:] - expected, 0.0) if grows else 0.0
    else:
        entries[1:] = np.maximum(at_risk[1:] - (at_risk[:-1] - total_exit[:-1]), 0.0)  # more at risk than left
    entry_time = np.concatenate([[-1.0], times[:-1]])
    stop, code, entry = [], [], []
    for k in range(len(g)):
        for c in (1, 2, 0):
            stop += [float(times[k])] * int(exits[c][k])
            code += [c] * int(exits[c][k])
    left = int(entries.sum() - total_exit.sum())
    if left < 0:
        raise DJSUserError("the survival table has more exits than people at risk: pass km(...) or cif(...) output.")
    stop += [float(times[-1]) + 1.0] * left
    code += [0] * left
    for k in range(len(g)):
        entry += [float(entry_time[k])] * int(entries[k])
    return stop, code, entry[: len(stop)]


def curve_output(
    table: pd.DataFrame | pd.Series, session: Session, name: str, statistic: str, description: str, population: str
) -> Output:
    """Check a survival curve or KMunicate table through the safe-KM path (see the module docstring).

    Example:
        >>> t = pd.DataFrame({"time": [0, 100, 200], "n_at_risk": [300, 200, 100], "cum_events": [0, 100, 200],
        ...                   "cum_censored": [0, 0, 0]})
        >>> o = curve_output(t, Session(ledger=False), "km", "survival", "time to return", "everyone")
        >>> o.method, o.table["n_at_risk"].tolist()
        ('km', [300, 300, 200])
    """
    frame = _flat(table)
    frame.columns = [str(c) for c in frame.columns]
    if not is_curve_table(frame):
        out = Output(name, "fail", "table", "save_table", statistic, pd.DataFrame(), description=description)
        out.reasons = reason_frame(
            [
                (
                    None,
                    None,
                    "SurvivalTableCheck",
                    "fail",
                    f"`{statistic}` is released only through the safe Kaplan-Meier path: pass the curve from "
                    "survival.km or survival.cif (or its kmunicate_table), with time, n_at_risk and events",
                )
            ]
        )
        return out
    numeric = {"time", "n_at_risk", "estimate", "std_error", "ci_lower", "ci_upper"} | {
        c for pair in _EXITS.values() for c in pair
    }
    by = [c for c in frame.columns if c not in numeric]
    groups = frame[by].astype(str).agg(" | ".join, axis=1) if by else pd.Series("all", index=frame.index)
    stop, code, entry, label = [], [], [], []
    kmunicate = any(c.startswith("cum_") for c in frame.columns)
    for level, g in frame.groupby(groups, sort=True):
        s, c, e = _records(g.sort_values("time"), kmunicate)
        stop += s
        code += c
        entry += e
        label += [level] * len(s)
    delayed = any(e >= 0 for e in entry)
    competing = any(c == 2 for c in code)
    kind = "cif" if statistic in ("cumulative_incidence", "cif", "aalen_johansen") or competing else "km"
    data = pd.DataFrame({"time": stop, "code": code, "entry": entry})
    if by:
        data[" | ".join(by)] = label
    times = sorted(set(frame["time"].astype(float))) if kmunicate else None
    # Rebuilt records are made up: the ledger keeps the released counts only, compared by content (never linked by
    # position to another output's records).
    ids = False
    group = " | ".join(by) if by else None
    start = "entry" if delayed else None
    common: dict[str, Any] = {
        "by": group,
        "entry": start,
        "times": times,
        "data": data,
        "name": name,
        "description": description,
        "record_id": ids,
        "population": population,
    }
    if kind == "km":
        data["event"] = (data["code"] == 1).astype(int)
        return session.km("time", "event", **common)
    return session.cif("time", "code", cause=1, **common)
