"""Aalen-Johansen for multi-state data: state-occupation probabilities with influence-based standard errors.

Data are start-stop rows per person: at risk in ``from_state`` on (start, stop], moving to ``to_state`` at stop (no
``to_state``, or the same state, ends the row censored). The package's risk-set convention holds (docs/methods.md
§3): at risk at s iff start < s <= stop, so late entry (left truncation) is a start after 0 and ties are used as
they are. The estimator is survfit's (R survival, ``Surv(tstart, tstop, state)`` with ``id=`` and ``istate=``):
P(t) = p0 prod_{s <= t} (I + dA(s)) with dA the Nelson-Aalen increments per transition, p0 the distribution of
states among those at risk at the first transition time. Standard errors are the infinitesimal jackknife summed
over each person's rows (survfit's robust variance with ``influence=TRUE``, which includes p0's own influence),
intervals on the log scale as survfit's default. Cumulative intensities per transition are Nelson-Aalen with the
Aalen variance (sum of d / Y^2). Verified against R to 1e-6 (tests/survival/test_multistate.py).

People whose rows are identical (same times, states and moves) have identical influence, so the influence is
carried once per distinct pattern with its multiplicity; and each reported time's influence comes from prefix sums
over the transition times (`_influence_var`), not from survfit's update of every person at every transition time.
Both are exact, and keep a national cohort fast (docs/methods.md §5.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival._curves import by_groups, log_ci, survival_ci, z_value
from djs_toolkit.survival._inputs import check_entry, column, durations

__all__ = ["MultistateFit", "multistate"]


@dataclass(frozen=True)
class MultistateFit:
    """What `multistate` returns: tidy frames, the grouping column (if any) first in each.

    Attributes:
        states: the state labels, in the order used.
        occupation: per time and state: ``time``, ``state``, ``n_at_risk`` (people at risk in that state at the
            time), ``estimate`` (P(in state at t)), ``std_error``, ``ci_lower``, ``ci_upper``.
        hazards: per time and observed transition: ``time``, ``from_state``, ``to_state``, ``n_at_risk`` (in
            the from-state), ``events`` (moves since the previous row), ``cumhaz`` (Nelson-Aalen), ``std_error``,
            ``ci_lower``, ``ci_upper``.
        transitions: ``from_state``, ``to_state``, ``transitions``: every move counted.
        initial: ``state``, ``estimate`` (p0) and ``std_error`` of the initial distribution.
    """

    states: tuple[str, ...]
    occupation: pd.DataFrame
    hazards: pd.DataFrame
    transitions: pd.DataFrame
    initial: pd.DataFrame


@dataclass(frozen=True)
class _Rows:
    """One group's rows as arrays: entry, exit, from-state code, to-state code (-1 censored), unit, multiplicity."""

    start: np.ndarray
    stop: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    unit: np.ndarray
    mult: np.ndarray  # per unit: how many people share the unit's rows


def _state_codes(
    df: pd.DataFrame | None, from_state: Any, to_state: Any, states: Sequence[str] | None, n: int
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    src = pd.Series(column(df, from_state, "from_state")).reset_index(drop=True)
    dst = pd.Series(column(df, to_state, "to_state")).reset_index(drop=True)
    if len(dst) != n:
        raise DJSUserError("`to_state` must have one value per row.")
    miss = int(src.isna().sum())
    if miss:
        raise DJSUserError(f"`from_state` has {miss} missing values: every row starts in a state.")
    moves = (dst.notna() & (dst.astype(str) != "")).to_numpy()
    seen = sorted({str(v) for v in src} | {str(v) for v in dst[moves]})
    order = tuple(str(s) for s in states) if states is not None else tuple(seen)
    unknown = [s for s in seen if s not in order]
    if unknown:
        raise DJSUserError(f"{len(unknown)} state label(s) in the data are not in `states`: add them to `states`.")
    if len(set(order)) != len(order):
        raise DJSUserError("`states` lists a state twice: list each state once.")
    code = {s: i for i, s in enumerate(order)}
    src_c = src.astype(str).map(code).to_numpy(np.int64)
    dst_c = np.full(n, -1, dtype=np.int64)
    dst_c[moves] = dst[moves].astype(str).map(code).to_numpy(np.int64)
    dst_c[dst_c == src_c] = -1  # a "move" to the same state is no move (as survfit): the row ends censored
    return src_c, dst_c, order


def _check_people(start: np.ndarray, stop: np.ndarray, src: np.ndarray, dst: np.ndarray, pid: np.ndarray) -> None:
    """Refuse overlapping rows of one person and rows that start in a state the previous row did not end in."""
    order = np.lexsort((start, pid))
    same = pid[order][1:] == pid[order][:-1]
    overlap = int(np.count_nonzero(same & (start[order][1:] < stop[order][:-1])))
    if overlap:
        raise DJSUserError(f"{overlap} rows start before the same person's previous row ends: rows must not overlap.")
    prev_end = np.where(dst[order][:-1] >= 0, dst[order][:-1], src[order][:-1])
    jump = int(np.count_nonzero(same & (src[order][1:] != prev_end)))
    if jump:
        raise DJSUserError(
            f"{jump} rows start in a state other than the one the same person's previous row ended in: "
            "a row's from-state is its previous row's to-state (or from-state if it ended censored)."
        )


def _patterns(start: np.ndarray, stop: np.ndarray, src: np.ndarray, dst: np.ndarray, pid: np.ndarray) -> _Rows:
    """Collapse people with identical rows into one unit with a multiplicity (two 64-bit hashes per person)."""
    frame = pd.DataFrame({"a": start, "b": stop, "c": src, "d": dst})
    h1 = pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64)
    h2 = pd.util.hash_pandas_object(frame, index=False, hash_key="djs-multistate-02").to_numpy(np.uint64)
    order = np.argsort(pid, kind="stable")
    first = np.flatnonzero(np.r_[True, pid[order][1:] != pid[order][:-1]])
    with np.errstate(over="ignore"):  # sums wrap modulo 2^64 on purpose: order-free per-person keys
        k1 = np.add.reduceat(h1[order], first)
        k2 = np.add.reduceat(h2[order], first)
    nrows = np.diff(np.r_[first, len(order)])
    keys = pd.DataFrame({"k1": k1, "k2": k2, "n": nrows})
    pattern, _ = pd.factorize(pd.MultiIndex.from_frame(keys))
    n_pat = int(pattern.max(initial=-1)) + 1
    mult = np.bincount(pattern, minlength=n_pat).astype(float)
    person_of_row = np.empty(len(pid), dtype=np.int64)
    person_of_row[order] = np.repeat(np.arange(len(first)), nrows)
    rep = np.full(n_pat, -1, dtype=np.int64)
    rep[pattern[::-1]] = np.arange(len(first))[::-1]  # the first person of each pattern represents it
    keep = rep[pattern[person_of_row]] == person_of_row
    return _Rows(start[keep], stop[keep], src[keep], dst[keep], pattern[person_of_row[keep]], mult)


def _weighted_at_risk(start: np.ndarray, stop: np.ndarray, w: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Sum of `w` over rows with start < t <= stop, at each t: weight exiting at or after t less weight entering at
    or after t (every row with start >= t also has stop >= t)."""
    o1, o0 = np.argsort(stop), np.argsort(start)
    c1 = np.r_[np.cumsum(w[o1][::-1])[::-1], 0.0]
    c0 = np.r_[np.cumsum(w[o0][::-1])[::-1], 0.0]
    return c1[np.searchsorted(stop[o1], t, side="left")] - c0[np.searchsorted(start[o0], t, side="left")]


def _influence_var(
    r: _Rows, u0: np.ndarray, h: np.ndarray, coef: np.ndarray, ev_t: np.ndarray, tau: float
) -> np.ndarray:
    """Infinitesimal-jackknife variance of P(tau), without a pass over people per event time.

    survfit updates each unit's influence at every event time s: U(s) = U(s-) H(s) + c(s), with c(s) =
    coef_j(s) (e_after - H_j(s)) for a unit at risk in state j (after: j, or the state it moves to at s). So
    U(tau) = U(0) P(0, tau] + sum_s c(s) Q(s) with Q(s) = prod_{u in (s, tau]} H(u); a row in state j at risk on
    (start, stop] adds the prefix-sum difference of coef_j (e_j - H_j) Q over its event times, plus its move.
    """
    s_n = h.shape[1]
    k = int(np.searchsorted(ev_t, tau, side="right"))  # event times <= tau
    q = np.empty((k, s_n, s_n))
    if k:
        q[k - 1] = np.eye(s_n)
        for i in range(k - 2, -1, -1):
            q[i] = h[i + 1] @ q[i + 1]
    p_all = h[0] @ q[0] if k else np.eye(s_n)
    eye = np.eye(s_n)
    term = np.einsum("ij,ijk,ikl->ijl", coef[:k], eye[None, :, :] - h[:k], q)  # (k, j, l)
    g = np.concatenate([np.zeros((1, s_n, s_n)), np.cumsum(term, axis=0)])
    lo = np.searchsorted(ev_t[:k], r.start, side="right")
    hi = np.searchsorted(ev_t[:k], np.minimum(r.stop, tau), side="right")
    hi = np.maximum(hi, lo)
    contrib = g[hi, r.src] - g[lo, r.src]
    mv = (r.dst >= 0) & (r.stop <= tau)
    if mv.any():
        at = np.searchsorted(ev_t, r.stop[mv])
        step = eye[r.dst[mv]] - eye[r.src[mv]]
        contrib[mv] += coef[at, r.src[mv]][:, None] * np.einsum("ij,ijl->il", step, q[at])
    u = u0 @ p_all
    for col in range(s_n):
        u[:, col] += np.bincount(r.unit, weights=contrib[:, col], minlength=len(u))
    return r.mult @ (u**2)


def _fit_group(r: _Rows, n_states: int, out_times: np.ndarray | None) -> dict[str, Any]:
    """Aalen-Johansen with the infinitesimal jackknife over units, for one group (survfit's algorithm)."""
    s = n_states
    w = r.mult[r.unit]
    moved = r.dst >= 0
    times = np.unique(r.stop) if out_times is None else np.asarray(out_times, dtype=float)
    ev_t = np.unique(r.stop[moved])
    t0 = ev_t[0] if len(ev_t) else float(r.stop.max(initial=0.0))
    at0 = (r.start < t0) & (r.stop >= t0)
    n0 = w[at0].sum()
    p0 = np.bincount(r.src[at0], weights=w[at0], minlength=s) / n0 if n0 > 0 else np.full(s, np.nan)
    u0 = np.zeros((len(r.mult), s))
    if n0 > 0:
        u0[r.unit[at0]] = (np.eye(s)[r.src[at0]] - p0) / n0
    # events per (event time, from, to) and at-risk weight per (event time, state), with multiplicities
    e_idx = np.searchsorted(ev_t, r.stop[moved])
    d = np.bincount(
        (e_idx * s + r.src[moved]) * s + r.dst[moved], weights=w[moved], minlength=len(ev_t) * s * s
    ).reshape(len(ev_t), s, s)
    y = np.column_stack(
        [_weighted_at_risk(r.start[r.src == j], r.stop[r.src == j], w[r.src == j], ev_t) for j in range(s)]
    ).reshape(len(ev_t), s)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(y[:, :, None] > 0, d / y[:, :, None], 0.0)
        vrate = np.where(y[:, :, None] > 0, d / y[:, :, None] ** 2, 0.0)
    h = np.eye(s)[None] + rate - rate.sum(axis=2)[:, :, None] * np.eye(s)[None]
    p_ev = np.zeros((len(ev_t), s))
    coef = np.zeros((len(ev_t), s))  # p_j(s-) / Y_j(s): the weight of a unit's influence step in state j
    p = p0.copy()
    for e in range(len(ev_t)):
        coef[e] = np.where(y[e] > 0, p / np.where(y[e] > 0, y[e], 1.0), 0.0)
        p = p @ h[e]
        p_ev[e] = p
    chaz, vchaz = np.cumsum(rate, axis=0), np.cumsum(vrate, axis=0)
    var0 = r.mult @ (u0**2)
    v_at = np.array([_influence_var(r, u0, h, coef, ev_t, t) for t in times]).reshape(len(times), s)
    k = np.searchsorted(ev_t, times, side="right") - 1  # last event time at or before each reported time
    before = k < 0
    kk = np.maximum(k, 0)
    prob = np.where(before[:, None], p0, p_ev[kk] if len(ev_t) else p0)
    var = v_at
    n_risk = np.column_stack(
        [_weighted_at_risk(r.start[r.src == j], r.stop[r.src == j], w[r.src == j], times) for j in range(s)]
    )
    moves = np.zeros((len(times), s, s))
    if len(ev_t):
        cum_d = np.cumsum(d, axis=0)
        moves = np.where(before[:, None, None], 0.0, cum_d[kk])
        moves = np.diff(np.concatenate([np.zeros((1, s, s)), moves]), axis=0)
    zero = np.zeros((len(times), s, s))
    return {
        "times": times,
        "p": prob,
        "var": np.maximum(var, 0.0),
        "n_risk": n_risk,
        "moves": moves,
        "chaz": np.where(before[:, None, None], zero, chaz[kk]) if len(ev_t) else zero,
        "vchaz": np.where(before[:, None, None], zero, vchaz[kk]) if len(ev_t) else zero,
        "p0": p0,
        "var0": var0,
        "total": d.sum(axis=0) if len(ev_t) else np.zeros((s, s)),
    }


def multistate(
    df: pd.DataFrame | None,
    start: str | Sequence[float] | np.ndarray,
    stop: str | Sequence[float] | np.ndarray,
    from_state: str | Sequence[Any] | np.ndarray,
    to_state: str | Sequence[Any] | np.ndarray,
    id: str | Sequence[Any] | np.ndarray,  # survfit's name for it
    states: Sequence[str] | None = None,
    by: str | Sequence[Any] | np.ndarray | None = None,
    times: Sequence[float] | np.ndarray | None = None,
    alpha: float = 0.05,
) -> MultistateFit:
    """State-occupation probabilities over time (Aalen-Johansen) with transition counts and intensities.

    Args:
        df: data frame holding the columns, or None when arrays are passed.
        start: entry time of each row (at risk on (start, stop]); a start after 0 is late entry.
        stop: exit time of each row.
        from_state: the state the person is in during the row.
        to_state: the state entered at `stop`; missing, empty or the same state = the row ends censored.
        id: person id: a person's rows must not overlap, and each starts in the state the previous one ended in.
        states: state labels in the order wanted (default: sorted); must cover every label in the data.
        by: grouping column; its name becomes the first output column.
        times: report at these times (default: every distinct stop time); before the first transition the
            estimate is the initial distribution.
        alpha: 1 - confidence level.

    Returns:
        A `MultistateFit` (occupation, hazards, transitions, initial).

    Example:
        >>> d = pd.DataFrame({"id": [1, 2, 2, 3], "t0": [0, 0, 2, 0], "t1": [3, 2, 5, 4],
        ...                   "s0": ["a", "a", "b", "a"], "s1": ["", "b", "", ""]})
        >>> fit = multistate(d, "t0", "t1", "s0", "s1", "id")
        >>> fit.occupation.query("state == 'b'")["estimate"].round(3).tolist()
        [0.333, 0.333, 0.333, 0.333]
    """
    stop_a = durations(df, stop, "stop", allow_negative=True)
    n = len(stop_a)
    start_a = durations(df, start, "start", allow_negative=True)
    check_entry(
        start_a, stop_a, start if isinstance(start, str) else "start", stop if isinstance(stop, str) else "stop"
    )
    src, dst, labels = _state_codes(df, from_state, to_state, states, n)
    ids = pd.Series(column(df, id, "id")).reset_index(drop=True)
    if int(ids.isna().sum()):
        raise DJSUserError(f"`id` has {int(ids.isna().sum())} missing values: every row needs its person's id.")
    pid = pd.factorize(ids)[0].astype(np.int64)
    _check_people(start_a, stop_a, src, dst, pid)
    z = z_value(alpha)
    grid = None if times is None else np.unique(np.asarray(times, dtype=float))
    s = len(labels)
    occ: list[pd.DataFrame] = []
    haz: list[pd.DataFrame] = []
    trans: list[pd.DataFrame] = []
    init: list[pd.DataFrame] = []
    for level, idx, name in by_groups(df, by):
        sel = np.arange(n) if idx is None else idx
        rows = _patterns(start_a[sel], stop_a[sel], src[sel], dst[sel], pid[sel])
        g = _fit_group(rows, s, grid)
        nt = len(g["times"])
        p, se = g["p"].ravel(), np.sqrt(g["var"]).ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            lo, hi = survival_ci(p, np.where(se > 0, se / p, 0.0), "log", z)
        lo, hi = np.where(p > 0, lo, 0.0), np.where(p > 0, hi, 0.0)
        o = pd.DataFrame(
            {
                "time": np.repeat(g["times"], s),
                "state": np.tile(labels, nt),
                "n_at_risk": np.rint(g["n_risk"].ravel()).astype(np.int64),
                "estimate": p,
                "std_error": se,
                "ci_lower": lo,
                "ci_upper": hi,
            }
        )
        seen = np.argwhere(g["total"] > 0)  # transitions observed in this group
        hz = []
        for j, k in seen:
            ch, sd = g["chaz"][:, j, k], np.sqrt(g["vchaz"][:, j, k])
            c_lo, c_hi = log_ci(ch, sd, z)
            hz.append(
                pd.DataFrame(
                    {
                        "time": g["times"],
                        "from_state": labels[j],
                        "to_state": labels[k],
                        "n_at_risk": np.rint(g["n_risk"][:, j]).astype(np.int64),
                        "events": np.rint(g["moves"][:, j, k]).astype(np.int64),
                        "cumhaz": ch,
                        "std_error": sd,
                        "ci_lower": c_lo,
                        "ci_upper": c_hi,
                    }
                )
            )
        h = pd.concat(hz, ignore_index=True) if hz else pd.DataFrame(columns=_HAZ_COLUMNS)
        t = pd.DataFrame(
            {
                "from_state": [labels[j] for j, _ in seen],
                "to_state": [labels[k] for _, k in seen],
                "transitions": [round(float(g["total"][j, k])) for j, k in seen],
            }
        )
        i = pd.DataFrame({"state": labels, "estimate": g["p0"], "std_error": np.sqrt(g["var0"])})
        for frame, bucket in ((o, occ), (h, haz), (t, trans), (i, init)):
            if name is not None:
                frame.insert(0, name, level)
            bucket.append(frame)
    return MultistateFit(
        labels,
        pd.concat(occ, ignore_index=True),
        pd.concat(haz, ignore_index=True),
        pd.concat(trans, ignore_index=True),
        pd.concat(init, ignore_index=True),
    )


_HAZ_COLUMNS = ["time", "from_state", "to_state", "n_at_risk", "events", "cumhaz", "std_error", "ci_lower", "ci_upper"]
