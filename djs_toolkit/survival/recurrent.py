"""Recurrent-event Cox models on counting-process data: Andersen-Gill and PWP, robust by person.

Layouts and variants follow docs/methods.md §5.4. Rows are (start, stop] intervals
with an event flag at `stop`; a new interval may start on the day of the previous event: with the
package's risk set (start < s <= stop, docs/methods.md §3) the person is then counted once, not twice (PHReg's
[start, stop] double counts, §0.3). The robust variance sums score residuals by person (Lin-Wei), which
for Andersen-Gill estimates the proportional-means (LWYY) model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival import _coxcore
from djs_toolkit.survival._inputs import check_entry, design_matrix, durations, event_codes, weights_array
from djs_toolkit.survival.cox import CoxResult, cluster_codes, summarise, terms_of

__all__ = ["recurrent"]


def event_number(pid: np.ndarray, start: np.ndarray, event: np.ndarray) -> np.ndarray:
    """1 + the number of the person's events in earlier intervals (the PWP stratum)."""
    order = np.lexsort((start, pid))
    ev = event[order].astype(np.int64)
    cum = np.cumsum(ev) - ev  # events before this row, across all persons
    p = pid[order]
    first = np.r_[True, p[1:] != p[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(len(p)), 0))
    prior = cum - cum[base]
    out = np.empty(len(p), dtype=np.int64)
    out[order] = prior + 1
    return out


def recurrent(
    df: pd.DataFrame,
    start: str,
    stop: str,
    event: str,
    id: str,
    covariates: Sequence[str],
    model: str = "ag",
    timescale: str = "total",
    ties: str = "efron",
    weights: str | None = None,
    alpha: float = 0.05,
) -> CoxResult:
    """Fit an Andersen-Gill or Prentice-Williams-Peterson model with a person-level robust variance.

    Args:
        df: counting-process rows, one per (start, stop] interval.
        start: interval start column.
        stop: interval end column (the event, if any, happens here).
        event: 1 = event at `stop`, 0 = none.
        id: person id column; the sandwich variance is clustered on it.
        covariates: numeric or categorical columns.
        model: "ag" (common baseline) or "pwp" (strata by event number: 1 + prior events).
        timescale: for "pwp": "total" (time since origin, at risk on (start, stop]) or "gap" (time since
            the previous event, at risk on (0, stop - start]).
        ties: "efron" or "breslow".
        weights: case weights column.
        alpha: 1 - confidence level.

    Returns:
        A `CoxResult` with `robust_se` (model "recurrent-ag", "recurrent-pwp-total" or "-gap").

    Example:
        >>> import pandas as pd
        >>> d = pd.DataFrame({"pid": [1, 1, 2, 3, 3, 4], "a": [0, 4, 0, 0, 2, 0], "b": [4, 9, 6, 2, 8, 7],
        ...                   "ev": [1, 0, 1, 1, 1, 0], "x": [1, 1, 0, 1, 1, 0]})
        >>> fit = recurrent(d, "a", "b", "ev", "pid", ["x"])
        >>> "robust_se" in fit.params
        True
    """
    if not isinstance(df, pd.DataFrame):
        raise DJSUserError("`df` must be a pandas DataFrame with the model columns.")
    if model not in ("ag", "pwp"):
        raise DJSUserError("`model` must be 'ag' (Andersen-Gill) or 'pwp' (Prentice-Williams-Peterson).")
    if timescale not in ("total", "gap"):
        raise DJSUserError("`timescale` must be 'total' or 'gap'.")
    if model == "ag" and timescale == "gap":
        raise DJSUserError("the gap timescale is for model='pwp'; Andersen-Gill uses total time.")
    t1 = durations(df, stop, "stop")
    t0 = durations(df, start, "start", allow_negative=True)
    check_entry(t0, t1, start, stop)
    n = len(t1)
    ev = event_codes(df, event, n)
    w = weights_array(df, weights, n)
    x, names = design_matrix(df, covariates)
    cl = cluster_codes(df, id)
    strata = None
    entry: np.ndarray | None = t0
    exit_ = t1
    if model == "pwp":
        strata = event_number(cl, t0, ev) - 1
        if timescale == "gap":
            entry, exit_ = None, t1 - t0
    pb = _coxcore.prepare(entry, exit_, ev, x, w, strata, ties)
    label = "recurrent-ag" if model == "ag" else f"recurrent-pwp-{timescale}"
    return summarise(
        pb,
        names,
        terms_of([covariates] if isinstance(covariates, str) else covariates, names),
        entry,
        exit_,
        ev,
        cl,
        ties,
        alpha,
        n,
        label,
    )
