"""Helpers shared by the curve estimators: grouping, confidence intervals, tidy frames."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival._inputs import group_codes

__all__ = ["by_groups", "curve_frame", "log_ci", "survival_ci", "z_value"]

CURVE_COLUMNS = ["time", "n_at_risk", "events", "censored", "estimate", "std_error", "ci_lower", "ci_upper"]


def z_value(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise DJSUserError("`alpha` must be between 0 and 1, e.g. 0.05 for 95% intervals.")
    return float(norm.ppf(1 - alpha / 2))


def survival_ci(surv: np.ndarray, se_log: np.ndarray, conf_type: str, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of a survival probability from the SE of log S, as R survfit's conf.type.

    At S = 1 the interval is [1, 1] (R leaves it NA for log-log); where S = 0 or the SE is infinite the
    log-log and log intervals are NaN, as in R.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "log-log":
            log_s = np.log(surv)
            theta = np.log(-log_s)
            half = z * se_log / np.abs(log_s)
            lower = np.exp(-np.exp(theta + half))
            upper = np.exp(-np.exp(theta - half))
            one = surv >= 1.0
            lower[one] = 1.0
            upper[one] = 1.0
            zero = (surv <= 0.0) | ~np.isfinite(se_log)
            lower[zero] = np.nan
            upper[zero] = np.nan
        elif conf_type == "log":
            lower = surv * np.exp(-z * se_log)
            upper = np.minimum(surv * np.exp(z * se_log), 1.0)
            bad = ~np.isfinite(se_log)
            lower[bad] = np.nan
            upper[bad] = np.nan
        elif conf_type == "plain":
            lower = np.clip(surv - z * surv * se_log, 0.0, 1.0)
            upper = np.clip(surv + z * surv * se_log, 0.0, 1.0)
        else:
            raise DJSUserError("`conf_type` must be 'log-log', 'log' or 'plain'.")
    return lower, upper


def log_ci(est: np.ndarray, se: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """CI on the log scale for positive estimates (cumulative hazards, mean cumulative functions)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        half = z * se / est
        lower = est * np.exp(-half)
        upper = est * np.exp(half)
    zero = est <= 0
    lower[zero] = 0.0
    upper[zero] = 0.0
    return lower, upper


def by_groups(df: pd.DataFrame | None, by: Any) -> Iterator[tuple[Any, np.ndarray | None, str | None]]:
    """Yield (level, row index or None, by-column name); a single (None, None, None) when ungrouped."""
    if by is None:
        yield None, None, None
        return
    codes, levels, name = group_codes(df, by, "by")
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(levels) + 1))
    for g, level in enumerate(levels):
        yield level, order[bounds[g] : bounds[g + 1]], name


def curve_frame(
    df: pd.DataFrame | None,
    by: Any,
    one_group: Callable[[np.ndarray | None], pd.DataFrame],
    estimator: str,
) -> pd.DataFrame:
    """Run `one_group(row_index)` per level of `by` and stack the tidy frames, by-column first."""
    frames = []
    for level, idx, name in by_groups(df, by):
        frame = one_group(idx)
        if name is not None:
            frame.insert(0, name, level)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out.attrs["estimator"] = estimator  # read by kmunicate_table
    return out
