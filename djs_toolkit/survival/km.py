"""Kaplan-Meier survival curves with Greenwood variance, delayed entry and frequency weights.

Risk-set convention (one for the whole package; docs/methods.md §3): times are on a
daily (or any) scale and a subject with entry e and exit t is at risk at time s iff e < s <= t. An event
at t counts at t; a subject whose entry falls on the day of an event is not at risk for that event. This
is R `survfit(Surv(entry, exit, event))`; lifelines' KaplanMeierFitter(entry=) differs (docs/methods.md §2.3).

The curve has one row per distinct exit time (event or censoring) and is computed by aggregation to
distinct times (np.unique + bincount), so 1e6 rows take well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival._curves import CURVE_COLUMNS, curve_frame, survival_ci, z_value
from djs_toolkit.survival._inputs import check_entry, durations, event_codes, weights_array
from djs_toolkit.survival._riskset import risk_table

__all__ = ["km", "kmunicate_table"]


def _counts(x: np.ndarray) -> np.ndarray:
    # frequency weights are integer counts, so weighted counts are integers up to float rounding
    return np.rint(x).astype(np.int64)


def km(
    df: pd.DataFrame | None,
    duration: str | Sequence[float] | np.ndarray,
    event: str | Sequence[int] | np.ndarray | None = None,
    entry: str | Sequence[float] | np.ndarray | None = None,
    weights: str | Sequence[float] | np.ndarray | None = None,
    by: str | Sequence[Any] | np.ndarray | None = None,
    conf_type: str = "log-log",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Kaplan-Meier estimate per distinct exit time, optionally by group.

    Args:
        df: data frame holding the columns, or None when arrays are passed.
        duration: exit time column (or array), >= 0.
        event: 1 = event, 0 = censored (None = all events).
        entry: delayed-entry time column; at risk on (entry, duration].
        weights: frequency weights (non-negative integer counts).
        by: grouping column; its name becomes the first output column.
        conf_type: "log-log" (default, as R's `conf.type="log-log"`), "log" (R's default) or "plain".
        alpha: 1 - confidence level.

    Returns:
        Tidy frame with `time`, `n_at_risk`, `events`, `censored`, `estimate` (S(t)), `std_error`
        (Greenwood SE of S(t)), `ci_lower`, `ci_upper`.

    Example:
        >>> import pandas as pd
        >>> d = pd.DataFrame({"days": [3, 5, 5, 8], "back": [1, 1, 0, 0]})
        >>> km(d, "days", "back")[["time", "n_at_risk", "estimate"]].to_dict("list")
        {'time': [3.0, 5.0, 8.0], 'n_at_risk': [4, 3, 1], 'estimate': [0.75, 0.5, 0.5]}
    """
    stop = durations(df, duration, "duration")
    n = len(stop)
    codes = event_codes(df, event, n)
    start = None if entry is None else durations(df, entry, "entry", allow_negative=True)
    if start is not None:
        check_entry(
            start,
            stop,
            entry if isinstance(entry, str) else "entry",
            duration if isinstance(duration, str) else "duration",
        )
    w = weights_array(df, weights, n, integer=True)
    z = z_value(alpha)

    def one(idx: np.ndarray | None) -> pd.DataFrame:
        sel = slice(None) if idx is None else idx
        tab = risk_table(stop[sel], codes[sel], w[sel], None if start is None else start[sel], n_codes=2)
        y, d = tab.n_at_risk, tab.events[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(y > 0, d / y, 0.0)
            surv = np.cumprod(1.0 - frac)
            # Greenwood: var(log S) = sum d / (Y (Y - d)) (R survfit std.err).
            inc = np.where(d > 0, d / (y * (y - d)), 0.0)
        se_log = np.sqrt(np.cumsum(inc))
        lower, upper = survival_ci(surv, se_log, conf_type, z)
        with np.errstate(invalid="ignore"):
            se = surv * se_log  # NaN where S = 0 (R's std.err is Inf there)
        out = pd.DataFrame(
            {
                "time": tab.time,
                "n_at_risk": _counts(y),
                "events": _counts(d),
                "censored": _counts(tab.censored),
                "estimate": surv,
                "std_error": se,
                "ci_lower": lower,
                "ci_upper": upper,
            }
        )
        return out[CURVE_COLUMNS]

    return curve_frame(df, by, one, "km")


def kmunicate_table(curve: pd.DataFrame, times: Sequence[float], by: str | None = None) -> pd.DataFrame:
    """KMunicate-style table below a curve: at risk, events and censored at chosen times.

    Works on the output of `km`, `cif` or `mcf`. At each chosen time t: `n_at_risk` is the number at
    risk at t (that of the first curve time >= t, as R's summary.survfit; with delayed entry, people
    entering between t and that time are counted too); `events` and `censored` are counts in
    (previous chosen time, t] (from time 0 for the first); `cum_events` and `cum_censored` are the
    running totals up to t; `estimate`, `ci_lower`, `ci_upper` are the curve values at t.

    Args:
        curve: tidy curve frame.
        times: increasing chosen times (e.g. 0, 90, 180, 365).
        by: name of the grouping column if the curve is grouped (detected when None).

    Returns:
        One row per (group,) chosen time.

    Example:
        >>> import pandas as pd
        >>> d = pd.DataFrame({"days": [3, 5, 5, 8], "back": [1, 1, 0, 0]})
        >>> kmunicate_table(km(d, "days", "back"), [0, 4, 8])["n_at_risk"].tolist()
        [4, 3, 1]
    """
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or len(t) == 0 or np.any(np.diff(t) <= 0):
        raise DJSUserError("`times` must be a non-empty increasing list of times.")
    missing = [c for c in ("time", "n_at_risk", "events", "censored", "estimate") if c not in curve.columns]
    if missing:
        raise DJSUserError(f"`curve` lacks columns {missing}: pass the output of km, cif or mcf.")
    if by is None and curve.columns[0] != "time":
        by = curve.columns[0]
    # Before the first curve time a survival curve is 1, a cumulative incidence or MCF is 0.
    start_value = 1.0 if curve.attrs.get("estimator", "km") == "km" else 0.0
    groups = [(None, curve)] if by is None else list(curve.groupby(by, sort=False))
    frames = []
    for level, g in groups:
        tt = g["time"].to_numpy(dtype=float)
        first_ge = np.searchsorted(tt, t, side="left")
        last_le = np.searchsorted(tt, t, side="right") - 1
        y = g["n_at_risk"].to_numpy()
        at_risk = np.where(first_ge < len(tt), y[np.minimum(first_ge, len(tt) - 1)], 0)
        cum_e = np.concatenate([[0], np.cumsum(g["events"].to_numpy())])[last_le + 1]
        cum_c = np.concatenate([[0], np.cumsum(g["censored"].to_numpy())])[last_le + 1]
        out = {
            "time": t,
            "n_at_risk": at_risk,
            "events": np.diff(cum_e, prepend=0),
            "censored": np.diff(cum_c, prepend=0),
            "cum_events": cum_e,
            "cum_censored": cum_c,
        }
        for col in ("estimate", "ci_lower", "ci_upper"):
            if col in g.columns:
                vals = g[col].to_numpy(dtype=float)
                out[col] = np.where(last_le >= 0, vals[np.maximum(last_le, 0)], start_value)
        frame = pd.DataFrame(out)
        if by is not None:
            frame.insert(0, by, level)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
