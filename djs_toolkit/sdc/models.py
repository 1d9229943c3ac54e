"""Regression outputs: coefficients are "safe" statistics provided the model is not degenerate.

Checks (disclosure_control.md §1.2 Ritchie 2012, §7.2): residual degrees of freedom >= `dof_threshold`; every
indicator (0/1) regressor has at least the threshold of ones and of zeros; a saturated all-categorical model is a
table in disguise, so its covariate-pattern counts are checked as a frequency table. Cox results of this toolkit are
accepted by duck type (a `params` DataFrame with coef, se, hr, ci_lower, ci_upper, p plus `n` and `events`); their
DoF is events minus parameters, and as hazard ratios are CalculatedRatios (§1.3: auxiliary information is a manual
check) they are `review` unless the design matrix is available to check indicators.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from djs_toolkit.sdc.profiles import Profile

__all__ = ["ModelCheck", "check_model"]

_COX_COLUMNS = ["coef", "se", "hr", "ci_lower", "ci_upper", "p"]


@dataclass
class ModelCheck:
    """What the regression checks found.

    Attributes:
        table: coefficient table (never rounded).
        flags: (row label, rule, status, summary) tuples; row None = whole output.
        n: observations used.
        dof: residual degrees of freedom (events - parameters for Cox).
        kind: `statsmodels`, `cox` or `unknown`.

    Example:
        >>> ModelCheck(pd.DataFrame()).kind
        'unknown'
    """

    table: pd.DataFrame
    flags: list[tuple[object, str, str, str]] = field(default_factory=list)
    n: int | None = None
    dof: float | None = None
    kind: str = "unknown"
    properties: dict[str, object] = field(default_factory=dict)


def _statsmodels_table(result: object) -> pd.DataFrame:
    params = pd.Series(np.asarray(result.params, dtype=float).ravel())  # type: ignore[attr-defined]
    names = list(getattr(result.model, "exog_names", None) or range(len(params)))  # type: ignore[attr-defined]
    ci = np.asarray(result.conf_int(), dtype=float)  # type: ignore[attr-defined]
    table = pd.DataFrame({
        "coef": params.to_numpy(),
        "se": np.asarray(result.bse, dtype=float).ravel(),  # type: ignore[attr-defined]
        "ci_lower": ci[:, 0], "ci_upper": ci[:, 1],
        "p": np.asarray(result.pvalues, dtype=float).ravel(),  # type: ignore[attr-defined]
    }, index=pd.Index([str(n) for n in names][: len(params)], name="covariate"))
    return table


def _indicator_flags(exog: np.ndarray, names: list[str], profile: Profile) -> list[tuple[object, str, str, str]]:
    flags: list[tuple[object, str, str, str]] = []
    need = profile.min_safe_count
    x = np.asarray(exog, dtype=float)
    binary = [j for j in range(x.shape[1]) if np.isin(x[:, j], (0.0, 1.0)).all() and 0 < x[:, j].sum() < len(x)]
    for j in binary:
        ones = int(x[:, j].sum())
        if min(ones, len(x) - ones) < need:
            flags.append((names[j], "IndicatorCountCheck", "fail",
                          f"indicator has fewer than {need} ones or zeros: merge categories"))
    const = [j for j in range(x.shape[1]) if np.all(x[:, j] == x[0, j])]
    if x.shape[1] and len(binary) + len(const) == x.shape[1] and binary:
        patterns, counts = np.unique(x, axis=0, return_counts=True)
        if x.shape[1] >= len(patterns):
            small = int((counts < need).sum())
            status = "fail" if small else "review"
            flags.append((None, "SaturatedModelCheck", status,
                          "saturated all-categorical model: coefficients reproduce cell means, so it is checked "
                          f"as a table ({small} covariate pattern(s) below {need} records)"))
    return flags


def check_model(result: object, profile: Profile) -> ModelCheck:
    """Check a fitted model: statsmodels results, or a Cox result by duck type; anything else is `review`.

    Example:
        >>> import statsmodels.api as sm
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> rng = np.random.default_rng(0)
        >>> X = sm.add_constant(rng.normal(size=(14, 4)))
        >>> mc = check_model(sm.OLS(rng.normal(size=14), X).fit(), load_profile("srs"))
        >>> mc.dof, [f[1] for f in mc.flags]
        (9.0, ['MinimumDoFCheck'])
    """
    flags: list[tuple[object, str, str, str]] = []
    params = getattr(result, "params", None)
    if isinstance(params, pd.DataFrame) and set(_COX_COLUMNS) <= set(params.columns):
        cols = _COX_COLUMNS + (["robust_se"] if "robust_se" in params.columns else [])
        table = params[cols].astype(float).copy()
        n = getattr(result, "n", None)
        events = getattr(result, "events", None)
        dof = float(events) - len(table) if events is not None else None
        mc = ModelCheck(table, flags, int(n) if n is not None else None, dof, "cox")
        design = getattr(result, "exog", None)
        if design is None:
            design = getattr(result, "design", None)
        if design is not None:
            flags += _indicator_flags(np.asarray(design), [str(c) for c in getattr(design, "columns", range(
                np.asarray(design).shape[1]))], profile)
        else:
            flags.append((None, "CalculatedRatioCheck", "review",
                          "hazard ratios: indicator counts not verifiable without the design; supply events per group"))
        if dof is None:
            flags.append((None, "MinimumDoFCheck", "review", "events not reported: degrees of freedom unknown"))
    elif params is not None and hasattr(result, "model") and hasattr(result, "bse"):
        table = _statsmodels_table(result)
        dof = getattr(result, "df_resid", None)
        n = getattr(result, "nobs", None)
        exog_n = getattr(getattr(result.model, "exog", None), "shape", (None,))[0]  # type: ignore[attr-defined]
        status = getattr(result.model, "status", None)  # type: ignore[attr-defined]
        if status is not None:
            # Proportional hazards: information comes from events, so DoF = events - parameters (§1.2, §7.2).
            dof = float(np.asarray(status).sum()) - len(table)
        n = n if n is not None else exog_n
        mc = ModelCheck(table, flags, int(n) if n is not None else None,
                        float(dof) if dof is not None else None, "statsmodels")
        exog = getattr(result.model, "exog", None)  # type: ignore[attr-defined]
        if exog is not None:
            flags += _indicator_flags(exog, list(table.index), profile)
        mc.properties["model"] = type(result.model).__name__  # type: ignore[attr-defined]
        if dof is None:
            flags.append((None, "MinimumDoFCheck", "review", "model reports no residual degrees of freedom"))
    else:
        try:
            table = pd.DataFrame(params).astype(float) if params is not None else pd.DataFrame()
        except (TypeError, ValueError):
            table = pd.DataFrame()
        mc = ModelCheck(table, flags, None, None, "unknown")
        flags.append((None, "UnknownStatisticCheck", profile.unknown_statistic,
                      f"model result of type {type(result).__name__} is not known to the checker: a human must "
                      "assess it (known: statsmodels results, Cox results with params/n/events)"))
    if mc.dof is not None and profile.dof_threshold is not None and mc.dof < profile.dof_threshold:
        flags.append((None, "MinimumDoFCheck", "fail", f"residual degrees of freedom < {profile.dof_threshold}"))
    mc.flags = flags
    return mc
