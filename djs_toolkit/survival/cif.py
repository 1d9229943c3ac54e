"""Aalen-Johansen cumulative incidence for competing risks, tie-exact, with Gray's variance.

Same risk-set convention as `km` (docs/methods.md §3): at risk at s iff
entry < s <= exit; events at s count at s. Estimator (§5.2): F_c(t) = sum_{s <= t} S(s-) d_c(s) / Y(s),
with S the all-cause Kaplan-Meier. Ties are used as they are (no jitter, unlike lifelines, docs/methods.md §2.3).

Variance: the delta-method (Aalen-type) estimator that R `cmprsk::cuminc` computes (Gray's `cinc`
routine), evaluated with the delayed-entry risk set when `entry` is given. It changes only at times with
an event of the chosen cause, as in cuminc. Intervals use the log(-log) transform of F.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival._curves import curve_frame, survival_ci, z_value
from djs_toolkit.survival._inputs import check_entry, durations, event_codes
from djs_toolkit.survival._riskset import risk_table

__all__ = ["cif"]

_COLUMNS = [
    "time",
    "n_at_risk",
    "events",
    "competing_events",
    "censored",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
]


def _gray_variance(
    y: np.ndarray, d1: np.ndarray, d2: np.ndarray, s_prev: np.ndarray, s_now: np.ndarray, f_now: np.ndarray
) -> np.ndarray:
    """Vectorised form of cmprsk's `cinc` variance recursion (one entry per distinct time)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ym1 = np.where(y > 1, y - 1.0, 1.0)
        inv_s = np.where(s_now > 0, 1.0 / np.where(s_now > 0, s_now, 1.0), 0.0)
        # other-cause part (skipped where S(s) = 0, as cinc does)
        t5 = np.where(d2 > 1, 1.0 - (d2 - 1.0) / ym1, 1.0)
        t6 = np.where((d2 > 0) & (s_now > 0), s_prev**2 * t5 * d2 / y**2, 0.0)
        t4 = f_now * inv_s
        v1 = t4 * t4 * t6
        v2 = inv_s * t4 * t6
        v3 = inv_s * inv_s * t6
        # chosen-cause part
        t5 = np.where(d1 > 1, 1.0 - (d1 - 1.0) / ym1, 1.0)
        t6 = np.where(d1 > 0, s_prev**2 * t5 * d1 / y**2, 0.0)
        t4 = 1.0 + inv_s * f_now
        v1 = v1 + t4 * t4 * t6
        v2 = v2 + inv_s * t4 * t6
        v3 = v3 + inv_s * inv_s * t6
    v1, v2, v3 = np.cumsum(v1), np.cumsum(v2), np.cumsum(v3)
    var = v1 + f_now**2 * v3 - 2 * f_now * v2
    # cinc records the variance only at chosen-cause event times; carry it forward in between.
    pos = np.where(d1 > 0, np.arange(len(y)), -1)
    last = np.maximum.accumulate(pos)
    return np.where(last >= 0, var[np.maximum(last, 0)], 0.0)


def cif(
    df: pd.DataFrame | None,
    duration: str | Sequence[float] | np.ndarray,
    event: str | Sequence[int] | np.ndarray,
    cause: int = 1,
    entry: str | Sequence[float] | np.ndarray | None = None,
    by: str | Sequence[Any] | np.ndarray | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Cumulative incidence of one cause in the presence of competing causes (Aalen-Johansen).

    Args:
        df: data frame holding the columns, or None when arrays are passed.
        duration: exit time column (or array), >= 0.
        event: 0 = censored, 1..k = cause of the event.
        cause: the cause whose incidence is estimated.
        entry: delayed-entry time column; at risk on (entry, duration].
        by: grouping column; its name becomes the first output column.
        alpha: 1 - confidence level.

    Returns:
        Tidy frame per distinct exit time: `time`, `n_at_risk`, `events` (of `cause`),
        `competing_events`, `censored`, `estimate` (F(t)), `std_error`, `ci_lower`, `ci_upper`.

    Example:
        >>> import pandas as pd
        >>> d = pd.DataFrame({"days": [2, 4, 4, 9], "outcome": [1, 2, 1, 0]})
        >>> cif(d, "days", "outcome", cause=1)["estimate"].tolist()
        [0.25, 0.5, 0.5]
    """
    stop = durations(df, duration, "duration")
    n = len(stop)
    codes = event_codes(df, event, n, max_code=None)
    if int(cause) < 1:
        raise DJSUserError("`cause` must be an event code >= 1 (0 means censored).")
    start = None if entry is None else durations(df, entry, "entry", allow_negative=True)
    if start is not None:
        check_entry(
            start,
            stop,
            entry if isinstance(entry, str) else "entry",
            duration if isinstance(duration, str) else "duration",
        )
    z = z_value(alpha)
    n_codes = max(int(codes.max(initial=0)), int(cause)) + 1
    w = np.ones(n)

    def one(idx: np.ndarray | None) -> pd.DataFrame:
        sel = slice(None) if idx is None else idx
        tab = risk_table(stop[sel], codes[sel], w[sel], None if start is None else start[sel], n_codes=n_codes)
        y = tab.n_at_risk
        d_all = tab.all_events
        d1 = tab.events[:, cause]
        d2 = d_all - d1
        with np.errstate(divide="ignore", invalid="ignore"):
            s_now = np.cumprod(np.where(y > 0, 1.0 - d_all / y, 1.0))
            s_prev = np.concatenate([[1.0], s_now[:-1]])
            f = np.cumsum(np.where(y > 0, s_prev * d1 / y, 0.0))
        var = _gray_variance(y, d1, d2, s_prev, s_now, f)
        se = np.sqrt(np.maximum(var, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            lower, upper = survival_ci(f, se / f, "log-log", z)
        lower[f <= 0] = 0.0
        upper[f <= 0] = 0.0
        out = pd.DataFrame(
            {
                "time": tab.time,
                "n_at_risk": np.rint(y).astype(np.int64),
                "events": np.rint(d1).astype(np.int64),
                "competing_events": np.rint(d2).astype(np.int64),
                "censored": np.rint(tab.censored).astype(np.int64),
                "estimate": f,
                "std_error": se,
                "ci_lower": lower,
                "ci_upper": upper,
            }
        )
        return out[_COLUMNS]

    return curve_frame(df, by, one, "cif")
