"""Fine-Gray subdistribution-hazard regression for one cause among competing risks.

Two routes (docs/methods.md §5.3):

* Censoring-complete (`censor_time=` given): with purely administrative censoring every subject's
  potential censoring time is known (the extract cut-off), so subjects with a competing event stay in
  the risk set until their censoring time with weight 1 and a plain Cox model is fitted (Fine & Gray
  1999, "censoring complete" data). This matches R `coxph(Surv(time2, status == cause) ~ ...)` on data
  where competing events' times are replaced by their censoring times.
* IPCW (default): as R `survival::finegray()` followed by `coxph(Surv(fgstart, fgstop, fgstatus) ~ x +
  cluster(id), weights = fgwt)`. G is the Kaplan-Meier of the censoring distribution (events before
  censorings at tied times); a subject with a competing event at T stays at risk after T with weight
  G(t-)/G(T-). Instead of expanding one row per censoring interval (R's data set; 1e6 rows could grow
  a hundredfold) the engine gives each such subject one tail row whose weight is multiplied by G(t-) at
  each event time, which is the same likelihood, score and sandwich in linear time.

The variance is the robust (sandwich) one by subject, R's `cluster(id)`; `cmprsk::crr` adds a term for
the estimation of G, so its SEs differ slightly (tests record both). Caveat (docs/methods.md §5.3): separate Fine-Gray
models for several causes cannot all hold; prefer cause-specific Cox plus `cif` for description.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival import _coxcore
from djs_toolkit.survival._inputs import design_matrix, durations, event_codes, weights_array
from djs_toolkit.survival.cox import CoxResult, cluster_codes, summarise, terms_of

__all__ = ["finegray"]


def _censoring_km(stop: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KM of the censoring distribution at its jump times (events leave before censorings at ties)."""
    times, inv = np.unique(stop, return_inverse=True)
    k = len(times)
    n_at = np.bincount(inv, minlength=k)
    cens = np.bincount(inv, weights=(codes == 0).astype(float), minlength=k)
    at_risk = np.cumsum(n_at[::-1])[::-1] - (n_at - cens)
    jump = cens > 0
    surv = np.cumprod(np.where(jump, 1.0 - cens / np.where(at_risk > 0, at_risk, 1), 1.0))
    return times[jump], surv[jump]


def _left_limit(ctime: np.ndarray, csurv: np.ndarray, t: np.ndarray) -> np.ndarray:
    """G(t-): the product over censoring times strictly before t."""
    idx = np.searchsorted(ctime, t, side="left")
    return np.concatenate([[1.0], csurv])[idx]


def finegray(
    df: pd.DataFrame,
    duration: str,
    event: str,
    cause: int,
    covariates: Sequence[str],
    censor_time: str | None = None,
    cluster: str | None = None,
    ties: str = "efron",
    weights: str | None = None,
    alpha: float = 0.05,
) -> CoxResult:
    """Fit a Fine-Gray model for `cause`, with a robust (sandwich) variance by subject or cluster.

    Args:
        df: one row per subject.
        duration: time to the first event or censoring.
        event: 0 = censored, 1..k = cause.
        cause: the cause of interest.
        covariates: numeric or categorical columns (categoricals become `col[T.level]` indicators).
        censor_time: column of each subject's potential (administrative) censoring time; selects the
            censoring-complete route. Censored rows must have `duration` equal to it.
        cluster: cluster id for the robust variance (default: each row its own cluster).
        ties: "efron" or "breslow".
        weights: case weights multiplying the IPCW weights (as R's finegray `weights`).
        alpha: 1 - confidence level.

    Returns:
        A `CoxResult` whose `hr` are subdistribution hazard ratios (`model` = "finegray-ipcw" or
        "finegray-complete"). The IPCW route has an empty `ph_test`.

    Example:
        >>> import pandas as pd
        >>> d = pd.DataFrame({"t": [2, 3, 4, 5, 6, 7, 8, 9], "ev": [1, 2, 1, 0, 1, 2, 1, 0],
        ...                   "x": [1, 0, 1, 0, 0, 1, 1, 0]})
        >>> fit = finegray(d, "t", "ev", cause=1, covariates=["x"])
        >>> list(fit.params.columns)
        ['coef', 'se', 'robust_se', 'hr', 'ci_lower', 'ci_upper', 'p']
    """
    if not isinstance(df, pd.DataFrame):
        raise DJSUserError("`df` must be a pandas DataFrame with the model columns.")
    stop = durations(df, duration, "duration")
    n = len(stop)
    codes = event_codes(df, event, n, max_code=None)
    cause = int(cause)
    if cause < 1 or not (codes == cause).any():
        raise DJSUserError(f"column `{event}` has no events with code {cause}: choose an existing cause >= 1.")
    w = weights_array(df, weights, n)
    x, names = design_matrix(df, covariates)
    cl = cluster_codes(df, cluster)
    if cl is None:
        cl = np.arange(n, dtype=np.int64)
    terms = terms_of([covariates] if isinstance(covariates, str) else covariates, names)
    is_cause = (codes == cause).astype(np.int64)
    competing = (codes != 0) & (codes != cause)

    if censor_time is not None:
        ctime = durations(df, censor_time, "censor_time")
        early = int(np.count_nonzero(ctime < stop))
        if early:
            raise DJSUserError(f"{early} rows have `{censor_time}` before `{duration}`: fix the censoring times.")
        lost = int(np.count_nonzero((codes == 0) & (stop != ctime)))
        if lost:
            raise DJSUserError(
                f"{lost} censored rows end before their `{censor_time}`: censoring is not purely "
                "administrative, so drop `censor_time` to use the IPCW route."
            )
        stop2 = np.where(competing, ctime, stop)
        pb = _coxcore.prepare(None, stop2, is_cause, x, w, None, ties)
        return summarise(pb, names, terms, None, stop2, is_cause, cl, ties, alpha, n, "finegray-complete")

    ctimes, csurv = _censoring_km(stop, codes)
    g_at_t = _left_limit(ctimes, csurv, stop)
    tail = np.flatnonzero(competing & (g_at_t > 0))
    # each competing subject: (0, T] with weight w, then a tail (T, inf) with weight w / G(T-) * G(t-)
    entry_all = np.concatenate([np.full(n, -np.inf), stop[tail]])
    stop_all = np.concatenate([stop, np.full(len(tail), np.inf)])
    ev_all = np.concatenate([is_cause, np.zeros(len(tail), dtype=np.int64)])
    x_all = np.vstack([x, x[tail]])
    w_all = np.concatenate([w, w[tail] / g_at_t[tail]])
    tv = np.concatenate([np.zeros(n, dtype=bool), np.ones(len(tail), dtype=bool)])
    cl_all = np.concatenate([cl, cl[tail]])

    def g_of(tau: np.ndarray, _stratum: int) -> np.ndarray:
        return _left_limit(ctimes, csurv, tau)

    pb = _coxcore.prepare(entry_all, stop_all, ev_all, x_all, w_all, None, ties, tv=tv, tv_weight=g_of)
    res = summarise(
        pb, names, terms, entry_all, stop_all, ev_all, cl_all, ties, alpha, n, "finegray-ipcw", with_ph_test=False
    )
    res.notes.append("IPCW route: no Schoenfeld test (time-varying weights).")
    return res
