"""Weighted survival curves and risk contrasts with a cluster-robust (infinitesimal jackknife) variance.

For inverse-probability-weighted comparisons (a target trial emulated on administrative data): the weighted
Kaplan-Meier estimate S(t) with R's ``survfit(..., weights=w, id=cluster, robust=TRUE)`` standard error, the
cumulative incidence 1 - S(t) per arm, and the risk difference and ratio between two arms at chosen times with
their variance from the same influence terms (so a person in both arms is counted once per cluster).

The influence of record i on S(t) is the derivative of S(t) with respect to its weight,

    dS(t)/dw_i = S(t) [G(min(t, T_i)) - d_i 1{T_i <= t} / (Y(T_i) - D(T_i))],
    G(t) = sum_{u <= t} D(u) / (Y(u) (Y(u) - D(u)))

(Y: weighted number at risk, D: weighted events at time u), and the robust variance is
sum over clusters of (sum over the cluster's records of w_i dS(t)/dw_i)^2, as R computes it (verified against
``survival`` 3.5 in tests/fixtures/r/weighted.R). The weights are treated as known: the variance ignores the
estimation of a propensity score, which for inverse-probability weights makes it conservative (Hernan and
Robins, *Causal Inference: What If*, 12.4). No competing events: each record ends with the event or censoring.

The weighted Cox model with a cluster-robust SE is `survival.cox` (``weights=``, ``cluster=``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival._curves import survival_ci, z_value
from djs_toolkit.survival._inputs import column, durations, event_codes, weights_array

__all__ = ["WEIGHTINGS", "evalue", "propensity_weights", "risk_contrast", "smd_table", "weighted_km"]

WEIGHTINGS = ("ipw", "overlap")

_CELLS = 4_000_000  # influence values held at once (records x times), ~32 MB


def _inputs(
    df: pd.DataFrame, duration: str, event: str, weights: str | None, cluster: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(df, pd.DataFrame):
        raise DJSUserError("`df` must be a pandas DataFrame with the duration and event columns.")
    stop = durations(df, duration, "duration")
    n = len(stop)
    ev = event_codes(df, event, n).astype(bool)
    w = weights_array(df, weights, n)
    if cluster is None:
        cl = np.arange(n)
    else:
        raw = pd.Series(column(df, cluster, "cluster"))
        if raw.isna().any():
            raise DJSUserError(f"cluster column `{cluster}` has missing values: every record needs a cluster id.")
        cl = pd.factorize(raw)[0].astype(np.int64)
    return stop, ev, w, cl


def _km_parts(stop: np.ndarray, ev: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted KM at its distinct event times u: Y, D, S and the running sum G of the influence."""
    u = np.unique(stop[ev & (w > 0)])
    order = np.argsort(stop, kind="stable")
    cw = np.concatenate([[0.0], np.cumsum(w[order])])
    at_risk = cw[-1] - cw[np.searchsorted(stop[order], u, side="left")]
    d = np.bincount(np.searchsorted(u, stop[ev]), weights=w[ev], minlength=u.size)[: u.size] if u.size else u
    n_risk = stop.size - np.searchsorted(stop[order], u, side="left")
    n_event = np.bincount(np.searchsorted(u, stop[ev & (w > 0)]), minlength=u.size)[: u.size] if u.size else u
    with np.errstate(divide="ignore", invalid="ignore"):
        h = d / at_risk
        g = np.where(at_risk > d, h / (at_risk - d), 0.0)
    return {
        "u": u,
        "Y": at_risk,
        "D": d,
        "S": np.cumprod(1.0 - h),
        "G": np.cumsum(g),
        "n_risk": n_risk,
        "n_event": n_event,
    }


def _at(u: np.ndarray, values: np.ndarray, t: np.ndarray, before: float) -> np.ndarray:
    """Step function with jumps at u, evaluated at t (``before`` ahead of the first jump)."""
    pos = np.searchsorted(u, t, side="right") - 1
    return np.where(pos >= 0, values[np.maximum(pos, 0)], before)


def _cluster_influence(
    stop: np.ndarray, ev: np.ndarray, w: np.ndarray, cl: np.ndarray, times: np.ndarray, parts: dict[str, np.ndarray]
) -> np.ndarray:
    """Sum over each cluster's records of w_i dS(t)/dw_i: (clusters x times)."""
    u, G = parts["u"], parts["G"]
    s_t = _at(u, parts["S"], times, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = np.where(parts["Y"] > parts["D"], 1.0 / (parts["Y"] - parts["D"]), 0.0)
    own = np.where(ev, _at(u, jump, stop, 0.0), 0.0)  # d_i / (Y - D) at the record's own exit
    n_cl = int(cl.max()) + 1 if cl.size else 0
    out = np.zeros((n_cl, times.size))
    step = max(1, _CELLS // max(stop.size, 1))
    for a in range(0, times.size, step):
        t = times[a : a + step]
        g_min = _at(u, G, np.minimum(stop[:, None], t[None, :]), 0.0)
        infl = g_min - own[:, None] * (stop[:, None] <= t[None, :])
        infl *= (w[:, None] * s_t[None, a : a + step]) if s_t.size else 0.0
        for j in range(t.size):
            out[:, a + j] = np.bincount(cl, weights=infl[:, j], minlength=n_cl)
    return out


def weighted_km(
    df: pd.DataFrame,
    duration: str,
    event: str,
    weights: str | None = None,
    cluster: str | None = None,
    by: str | None = None,
    times: Sequence[float] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Weighted Kaplan-Meier survival and cumulative incidence (1 - S) with a cluster-robust standard error.

    Args:
        df: one row per record (time zero at 0).
        duration: follow-up time column.
        event: 1 = event at the end of follow-up, 0 = censored.
        weights: non-negative case weights column (e.g. inverse-probability weights); None = all 1.
        cluster: cluster id column (e.g. person): records of one cluster share one influence term.
            None = each record its own cluster (R's robust variance with ``id`` = row).
        by: group column (one curve per level, e.g. the treatment arm).
        times: evaluate at these times (default: every event time of the group). For large data pass a grid:
            the variance costs records x times.
        alpha: 1 - confidence level; intervals on the log scale of S (R's default ``conf.type = "log"``).

    Returns:
        One row per (group, time): ``n_at_risk`` and ``events`` (unweighted, the counts behind the estimate),
        ``w_at_risk`` and ``w_events`` (weighted), ``surv``, ``se`` (of S: R's ``std.err`` with ``robust=TRUE``),
        ``surv_lower``/``surv_upper``, ``cif`` = 1 - S with ``cif_lower``/``cif_upper``.

    Example:
        >>> d = pd.DataFrame({"t": [1, 2, 2, 3, 4, 5], "e": [1, 1, 0, 1, 0, 1], "w": [1, 2, 1, 1, 2, 1.5]})
        >>> c = weighted_km(d, "t", "e", weights="w")
        >>> [round(float(x), 4) for x in c["surv"]]  # R survfit(Surv(t, e) ~ 1, weights = w)
        [0.8824, 0.6471, 0.5033, 0.0]
    """
    stop, ev, w, cl = _inputs(df, duration, event, weights, cluster)
    z = z_value(alpha)
    groups: list[tuple[object, np.ndarray]] = [(None, np.arange(stop.size))]
    if by is not None:
        codes, levels = pd.factorize(pd.Series(column(df, by, "by")), sort=True)
        if (codes < 0).any():
            raise DJSUserError(f"column `{by}` has missing values: fill or drop them.")
        groups = [(lv, np.flatnonzero(codes == k)) for k, lv in enumerate(levels)]
    frames = []
    for level, idx in groups:
        parts = _km_parts(stop[idx], ev[idx], w[idx])
        t = parts["u"] if times is None else np.asarray(sorted({float(x) for x in times}), dtype=float)
        infl = _cluster_influence(stop[idx], ev[idx], w[idx], cl[idx], t, parts)
        surv = _at(parts["u"], parts["S"], t, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            se_log = np.sqrt((infl**2).sum(axis=0)) / surv
        lower, upper = survival_ci(surv, se_log, "log", z)
        order = np.sort(stop[idx])
        ws = w[idx][np.argsort(stop[idx], kind="stable")]  # weighted number at risk just before each time
        frame = pd.DataFrame(
            {
                "time": t,
                "n_at_risk": idx.size - np.searchsorted(order, t, side="left"),
                "events": np.searchsorted(np.sort(stop[idx][ev[idx]]), t, side="right"),
                "w_at_risk": float(ws.sum())
                - np.concatenate([[0.0], np.cumsum(ws)])[np.searchsorted(order, t, "left")],
                "w_events": _at(parts["u"], np.cumsum(parts["D"]), t, 0.0),
                "surv": surv,
                "se": se_log * surv,
                "surv_lower": lower,
                "surv_upper": upper,
                "cif": 1.0 - surv,
                "cif_lower": 1.0 - upper,
                "cif_upper": 1.0 - lower,
            }
        )
        if by is not None:
            frame.insert(0, by, [level] * len(frame))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def risk_contrast(
    df: pd.DataFrame,
    duration: str,
    event: str,
    group: str,
    treated: object,
    control: object,
    times: Sequence[float],
    weights: str | None = None,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Risk (1 - weighted KM) in two arms at chosen times, with their difference and ratio and robust CIs.

    The variance of each contrast sums the two arms' influence terms within each cluster before squaring, so a
    cluster with records in both arms is counted once (delta method for the log risk ratio).

    Args:
        df: one row per record.
        duration: follow-up time column; event: 1 = event, 0 = censored.
        group: the arm column; treated / control: its two levels compared (treated minus control).
        times: times at which to compare.
        weights: case weights column; cluster: cluster id column (None = each record its own).
        alpha: 1 - confidence level.

    Returns:
        One row per time: ``risk_treated``, ``risk_control`` with ``*_lower``/``*_upper`` (log-scale intervals
        of S, as `weighted_km`), ``rd`` with ``rd_se``, ``rd_lower``, ``rd_upper``, ``rr`` with ``rr_lower``,
        ``rr_upper`` (log scale), and the unweighted ``n_treated``, ``n_control``, ``events_treated``,
        ``events_control`` up to the time.

    Example:
        >>> d = pd.DataFrame({"t": [1, 2, 3, 4, 2, 3, 5, 6], "e": [1, 1, 0, 1, 0, 1, 0, 1], "a": [1] * 4 + [0] * 4})
        >>> r = risk_contrast(d, "t", "e", "a", 1, 0, [3])
        >>> round(float(r["rd"].iloc[0]), 4)  # 1 - (3/4)(2/3) - (1 - 2/3)
        0.1667
    """
    stop, ev, w, cl = _inputs(df, duration, event, weights, cluster)
    arm = pd.Series(column(df, group, "group"))
    t = np.asarray(sorted({float(x) for x in times}), dtype=float)
    if t.size == 0:
        raise DJSUserError("`times` is empty: give at least one time at which to compare the arms.")
    z = z_value(alpha)
    n_cl = int(cl.max()) + 1
    risk, infl, counts = {}, {}, {}
    for key, level in (("treated", treated), ("control", control)):
        idx = np.flatnonzero((arm == level).to_numpy())
        if idx.size == 0:
            raise DJSUserError(f"no records in arm {level!r} of `{group}`: check the level's spelling.")
        parts = _km_parts(stop[idx], ev[idx], w[idx])
        risk[key] = 1.0 - _at(parts["u"], parts["S"], t, 1.0)
        full = np.zeros((n_cl, t.size))
        part = _cluster_influence(stop[idx], ev[idx], w[idx], cl[idx], t, parts)
        full[: part.shape[0]] = part
        infl[key] = -full  # influence on the risk 1 - S
        counts[f"n_{key}"] = np.full(t.size, idx.size)
        counts[f"events_{key}"] = np.searchsorted(np.sort(stop[idx][ev[idx]]), t, side="right")
    rd = risk["treated"] - risk["control"]
    rd_se = np.sqrt(((infl["treated"] - infl["control"]) ** 2).sum(axis=0))
    out = pd.DataFrame({"time": t})
    for key in ("treated", "control"):
        s = 1.0 - risk[key]
        with np.errstate(divide="ignore", invalid="ignore"):
            se_log_s = np.sqrt((infl[key] ** 2).sum(axis=0)) / s
        lo, hi = survival_ci(s, se_log_s, "log", z)
        out[f"risk_{key}"] = risk[key]
        out[f"risk_{key}_lower"] = 1.0 - hi
        out[f"risk_{key}_upper"] = 1.0 - lo
    out["rd"] = rd
    out["rd_se"] = rd_se
    out["rd_lower"] = rd - z * rd_se
    out["rd_upper"] = rd + z * rd_se
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = risk["treated"] / risk["control"]
        se_log_rr = np.sqrt(((infl["treated"] / risk["treated"] - infl["control"] / risk["control"]) ** 2).sum(axis=0))
        out["rr"] = rr
        out["rr_lower"] = rr * np.exp(-z * se_log_rr)
        out["rr_upper"] = rr * np.exp(z * se_log_rr)
    for k, v in counts.items():
        out[k] = v
    return out


def evalue(
    estimate: float,
    lower: float | None = None,
    upper: float | None = None,
    rare: bool = True,
    hazard_ratio: bool = False,
) -> tuple[float, float]:
    """E-values of a risk ratio (or hazard ratio) and of its CI limit nearer 1 (VanderWeele and Ding 2017).

    The E-value is the minimum strength of association, on the risk-ratio scale, that an unmeasured confounder
    would need with both the treatment and the outcome to explain the estimate away: RR + sqrt(RR (RR - 1)) for
    RR >= 1 (1/RR first when RR < 1). A hazard ratio of a common outcome (``rare=False``; over 15 % by the end of
    follow-up) is first turned into an approximate risk ratio, (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)).
    A CI that includes 1 has E-value 1.

    Example:
        >>> round(evalue(2.0)[0], 3)
        3.414
        >>> evalue(0.8, 0.6, 1.1)[1]
        1.0
    """

    def rr(x: float) -> float:
        if hazard_ratio and not rare:
            return (1 - 0.5 ** np.sqrt(x)) / (1 - 0.5 ** np.sqrt(1 / x))
        return x

    def e(x: float) -> float:
        x = rr(x)
        x = 1 / x if x < 1 else x
        return float(x + np.sqrt(x * (x - 1)))

    if not (estimate > 0 and np.isfinite(estimate)):
        raise DJSUserError("an E-value needs a positive, finite ratio estimate.")
    point = e(estimate)
    if lower is None or upper is None:
        return point, float("nan")
    if lower <= 1 <= upper:
        return point, 1.0
    return point, e(lower if estimate > 1 else upper)


def propensity_weights(treated: np.ndarray, x: pd.DataFrame, method: str = "ipw") -> tuple[np.ndarray, np.ndarray]:
    """(propensity, weight) from a logistic model of ``treated`` (0/1) on the columns of ``x``.

    ``ipw``: stabilised inverse-probability weights P(A = a) / P(A = a | x); ``overlap``: 1 - p for the treated,
    p for the comparator.

    Example:
        >>> x = pd.DataFrame({"age": [10, 11, 12, 13, 14, 15, 16, 17] * 5})
        >>> a = np.array([1, 1, 0, 1, 0, 1, 0, 0] * 5)
        >>> p, w = propensity_weights(a, x, "overlap")
        >>> bool(np.all((w > 0) & (w < 1)))
        True
    """
    if method not in WEIGHTINGS:
        raise DJSUserError(f"method {method!r} is not one of {', '.join(WEIGHTINGS)}.")
    keep = [c for c in x.columns if x[c].nunique() > 1]
    # One level of each categorical set is left out by dropping columns the others determine.
    design = sm.add_constant(x[keep].to_numpy(dtype=float), has_constant="add")
    rank_cols = [0]
    for j in range(1, design.shape[1]):
        if np.linalg.matrix_rank(design[:, [*rank_cols, j]]) == len(rank_cols) + 1:
            rank_cols.append(j)
    fit = sm.GLM(treated.astype(float), design[:, rank_cols], family=sm.families.Binomial()).fit()
    p = np.clip(np.asarray(fit.fittedvalues, dtype=float), 1e-6, 1 - 1e-6)
    if method == "ipw":
        pa = treated.mean()
        w = np.where(treated == 1, pa / p, (1 - pa) / (1 - p))
    else:
        w = np.where(treated == 1, 1 - p, p)
    return p, w


def smd_table(x: pd.DataFrame, treated: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """Standardised mean differences of every column before and after weighting.

    Denominator: the unweighted pooled SD sqrt((s1^2 + s0^2) / 2), the same before and after (R cobalt's
    default), so the two columns differ only by the means. ``n_min`` is the smallest unweighted count behind a
    row: the arm sizes for a numeric covariate, and for a 0/1 level the fewest records with or without it in
    either arm (what the output checker needs).

    Example:
        >>> x = pd.DataFrame({"female": [1, 0, 1, 1, 0, 0, 1, 0]})
        >>> smd_table(x, np.array([1, 1, 1, 1, 0, 0, 0, 0]), np.ones(8))["smd_before"].round(3).tolist()
        [1.0]
    """
    t, c = treated == 1, treated == 0
    rows = []
    for col in x.columns:
        v = x[col].to_numpy(dtype=float)
        sd = np.sqrt((v[t].var(ddof=1) + v[c].var(ddof=1)) / 2) if t.sum() > 1 and c.sum() > 1 else np.nan
        before = (v[t].mean() - v[c].mean()) / sd if sd > 0 else 0.0
        after = (np.average(v[t], weights=weights[t]) - np.average(v[c], weights=weights[c])) / sd if sd > 0 else 0.0
        binary = set(np.unique(v)) <= {0.0, 1.0}
        n_min = (
            int(min(v[t].sum(), (1 - v[t]).sum(), v[c].sum(), (1 - v[c]).sum()))
            if binary
            else int(min(t.sum(), c.sum()))
        )
        rows.append({"covariate": col, "smd_before": before, "smd_after": after, "n_min": n_min})
    return pd.DataFrame(rows)
