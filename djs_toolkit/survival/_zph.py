"""Proportional-hazards test from Schoenfeld residuals, as R survival 3.x `cox.zph(fit)` (transform "km").

R's cox.zph is a score test for adding x * g(t) to the model, g(t) = 1 - KM(t-) (unweighted, pooled over
strata) centred at its mean over the event rows. At the fitted beta the score for beta is zero, so the
statistic for term j is u' I^-1 u over the rows/columns (all beta, gamma_j), where u = (0, U_gamma) with
U_gamma = sum_k g_k * (Schoenfeld residual sum at k) and I the information of (beta, gamma). All blocks
are sums over event times of g_k^m I_k (m = 0, 1, 2), computed in O(n p^2) like the Cox information.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2

from djs_toolkit.survival._coxcore import CoxFit, CoxProblem, information, slot_means
from djs_toolkit.survival._riskset import risk_table

__all__ = ["ph_test"]


def _km_transform(pb: CoxProblem, entry: np.ndarray | None, stop: np.ndarray, event: np.ndarray) -> np.ndarray:
    """1 - KM(t-) at each event index (KM of all kept rows, unweighted, strata pooled)."""
    tab = risk_table(stop, event.astype(np.int64), np.ones(len(stop)), entry, n_codes=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(tab.n_at_risk > 0, 1.0 - tab.events[:, 1] / tab.n_at_risk, 1.0))
    idx = np.searchsorted(tab.time, pb.event_times, side="left")  # number of KM times < t
    left = np.concatenate([[1.0], surv])[idx]
    return 1.0 - left


def ph_test(
    pb: CoxProblem,
    cf: CoxFit,
    entry: np.ndarray | None,
    stop: np.ndarray,
    event: np.ndarray,
    terms: dict[str, list[int]],
) -> pd.DataFrame:
    """Table indexed by term plus GLOBAL with `chisq`, `df`, `p` (R cox.zph()$table)."""
    g_time = _km_transform(pb, entry, stop, event)
    g_time = g_time - g_time[pb.dk].mean()  # centred over the event rows, as cox.zph
    st = cf.state
    p = pb.x.shape[1]
    abar = slot_means(pb, st)
    gd = g_time[pb.dk]
    u_gamma = (pb.w[pb.death] * gd) @ (pb.xd - abar[pb.dk])
    i00 = cf.info
    i01 = information(pb, st, gamma=g_time)
    i11 = information(pb, st, gamma=g_time**2)
    imat = np.block([[i00, i01], [i01.T, i11]])
    u = np.concatenate([np.zeros(p), u_gamma])
    rows = []
    for name, cols in terms.items():
        kk = np.r_[np.arange(p), p + np.asarray(cols)]
        sub = imat[np.ix_(kk, kk)]
        stat = float(u[kk] @ np.linalg.solve(sub, u[kk]))
        rows.append((name, stat, len(cols)))
    rows.append(("GLOBAL", float(u @ np.linalg.solve(imat, u)), p))
    out = pd.DataFrame(rows, columns=["term", "chisq", "df"]).set_index("term")
    out["p"] = chi2.sf(out["chisq"], out["df"])
    out.index.name = None
    return out
