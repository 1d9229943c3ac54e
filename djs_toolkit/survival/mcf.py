"""Mean cumulative function (MCF) of recurrent events with the robust person-level variance.

Data are counting-process rows (start, stop] with an event flag at `stop`, several rows per person
(a new row may start on the day of the previous event). Risk-set convention as everywhere in the
package (docs/methods.md §3): a row is at risk at s iff start < s <= stop.

Estimator (docs/methods.md §5.4): MCF(t) = sum_{s <= t} d(s) / Y(s), the Nelson-Aalen estimator of the pooled
recurrent events. Variance: the Lawless-Nadeau robust form, i.e. the infinitesimal jackknife summed by
person, Var(t) = sum_i A_i(t)^2 with A_i(t) = sum_{s <= t} (dN_i(s) - Y_i(s) dMCF(s)) / Y(s). This is
R `survfit(Surv(start, stop, event) ~ 1, id = id, robust = TRUE)`'s `std.chaz`. It is computed in
linear time: the cross terms sum_i A_i(s-) dN_i(s) and sum_{i at risk} A_i(s-) come from per-row
constants and range sums over the time grid, never an n x times matrix. Intervals are log-transformed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival._curves import CURVE_COLUMNS, curve_frame, log_ci, z_value
from djs_toolkit.survival._inputs import check_entry, column, durations, event_codes
from djs_toolkit.survival._riskset import risk_table

__all__ = ["mcf"]


def _range_sum(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, k: int) -> np.ndarray:
    """sum of values[r] over rows r with lo[r] <= j <= hi[r], for every grid index j."""
    ok = lo <= hi
    diff = np.bincount(lo[ok], weights=values[ok], minlength=k + 1)
    diff -= np.bincount(hi[ok] + 1, weights=values[ok], minlength=k + 1)
    return np.cumsum(diff)[:k]


def _mcf_one(start: np.ndarray, stop: np.ndarray, ev: np.ndarray, pid: np.ndarray, z: float) -> pd.DataFrame:
    tab = risk_table(stop, ev, np.ones(len(stop)), start, n_codes=2)
    k = len(tab.time)
    y = tab.n_at_risk
    d = tab.events[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        dlam = np.where(y > 0, d / y, 0.0)
        dc = np.where(y > 0, dlam / y, 0.0)
    lam = np.cumsum(dlam)
    c_cum = np.cumsum(dc)  # C(t_j) = sum_{s <= t_j} dMCF(s) / Y(s)
    lo = np.searchsorted(tab.time, start, side="right")
    hi = tab.exit_index
    c_start = np.where(lo > 0, c_cum[np.maximum(lo - 1, 0)], 0.0)
    c_stop = c_cum[hi]
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.where(ev == 1, 1.0 / y[hi], 0.0) - (c_stop - c_start)
    # P_r: the person's accumulated A at the start of row r (sum over their earlier rows).
    order = np.lexsort((start, pid))
    tot_sorted = total[order]
    cums = np.cumsum(tot_sorted)
    pid_sorted = pid[order]
    first = np.r_[True, pid_sorted[1:] != pid_sorted[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    before = np.concatenate([[0.0], cums])
    prior_sorted = cums - tot_sorted - before[base]
    prior = np.empty_like(prior_sorted)
    prior[order] = prior_sorted
    q = prior + c_start
    rq = _range_sum(q, lo, hi, k)
    eq = np.bincount(hi[ev == 1], weights=q[ev == 1], minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = np.where(y > 0, (eq - dlam * rq) / y, 0.0)
        own = np.where(y > 0, (d - d * d / y) / (y * y), 0.0)
    var = np.cumsum(2.0 * cross + own)
    se = np.sqrt(np.maximum(var, 0.0))
    lower, upper = log_ci(lam, se, z)
    out = pd.DataFrame(
        {
            "time": tab.time,
            "n_at_risk": np.rint(y).astype(np.int64),
            "events": np.rint(d).astype(np.int64),
            "censored": np.rint(tab.censored).astype(np.int64),
            "estimate": lam,
            "std_error": se,
            "ci_lower": lower,
            "ci_upper": upper,
        }
    )
    return out[CURVE_COLUMNS]


def mcf(
    df: pd.DataFrame,
    start: str,
    stop: str,
    event: str,
    id: str,
    by: str | Sequence[Any] | np.ndarray | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Mean cumulative number of recurrent events per person, with robust person-level CIs.

    Args:
        df: counting-process data, one row per (start, stop] interval.
        start: interval start column (the row is at risk after it).
        stop: interval end column; an event flagged on the row happens at `stop`.
        event: 1 = an event at `stop`, 0 = none.
        id: person identifier column (the variance is summed by person).
        by: grouping column (constant within person); its name becomes the first output column.
        alpha: 1 - confidence level.

    Returns:
        Tidy frame per distinct `stop` time: `time`, `n_at_risk` (rows at risk), `events`,
        `censored` (rows ending without an event), `estimate` (MCF), `std_error`, `ci_lower`, `ci_upper`.

    Example:
        >>> import pandas as pd
        >>> d = pd.DataFrame({"start": [0, 5, 0], "stop": [5, 9, 7], "ev": [1, 0, 1], "pid": [1, 1, 2]})
        >>> mcf(d, "start", "stop", "ev", "pid")["estimate"].tolist()
        [0.5, 1.0, 1.0]
    """
    t1 = durations(df, stop, "stop")
    t0 = durations(df, start, "start", allow_negative=True)
    check_entry(t0, t1, start, stop)
    n = len(t1)
    ev = event_codes(df, event, n)
    pid_raw = column(df, id, "id")
    if pd.isna(pid_raw).any():
        raise DJSUserError(f"column `{id}` has missing person ids: drop or fill those rows.")
    pid = pd.factorize(pid_raw)[0]
    z = z_value(alpha)

    def one(idx: np.ndarray | None) -> pd.DataFrame:
        sel = slice(None) if idx is None else idx
        return _mcf_one(t0[sel], t1[sel], ev[sel], pid[sel], z)

    return curve_frame(df, by, one, "mcf")
