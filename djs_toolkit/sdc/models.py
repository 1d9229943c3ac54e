"""Regression outputs: coefficients are "safe" statistics provided the model is not degenerate.

Checks (docs/disclosure.md §1.2 Ritchie 2012, §7.2): residual degrees of freedom >= `dof_threshold`; every indicator
(0/1) regressor has at least the threshold of ones and of zeros; a saturated all-categorical model is a table in
disguise, so its covariate-pattern counts are checked as a frequency table. Cox results of this toolkit are accepted by
duck type (a `params` DataFrame with coef, se, hr, ci_lower, ci_upper, p plus `n` and `events`); their DoF is events
minus parameters, and as hazard ratios are CalculatedRatios (docs/disclosure.md §1.3: auxiliary information is a manual
check) they are `review` unless the design matrix is available to check indicators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.model_facts import leverage_flags, recoded_flags
from djs_toolkit.sdc.profiles import Profile

__all__ = ["COEFFICIENT_STATISTICS", "ModelCheck", "check_model", "model_design", "model_inputs", "series_flags"]

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


def _statsmodels_table(result: Any) -> pd.DataFrame:  # a statsmodels results object (untyped)
    params = pd.Series(np.asarray(result.params, dtype=float).ravel())
    names = list(getattr(result.model, "exog_names", None) or range(len(params)))
    ci = np.asarray(result.conf_int(), dtype=float)
    table = pd.DataFrame(
        {
            "coef": params.to_numpy(),
            "se": np.asarray(result.bse, dtype=float).ravel(),
            "ci_lower": ci[:, 0],
            "ci_upper": ci[:, 1],
            "p": np.asarray(result.pvalues, dtype=float).ravel(),
        },
        index=pd.Index([str(n) for n in names][: len(params)], name="covariate"),
    )
    return table


def _indicator_flags(exog: np.ndarray, names: list[str], profile: Profile) -> list[tuple[object, str, str, str]]:
    flags: list[tuple[object, str, str, str]] = []
    need = profile.min_safe_count
    x = np.asarray(exog, dtype=float)
    binary = [j for j in range(x.shape[1]) if np.isin(x[:, j], (0.0, 1.0)).all() and 0 < x[:, j].sum() < len(x)]
    for j in binary:
        ones = int(x[:, j].sum())
        if min(ones, len(x) - ones) < need:
            flags.append(
                (
                    names[j],
                    "IndicatorCountCheck",
                    "fail",
                    f"indicator has fewer than {need} ones or zeros: merge categories",
                )
            )
    const = [j for j in range(x.shape[1]) if np.all(x[:, j] == x[0, j])]
    if x.shape[1] and len(binary) + len(const) == x.shape[1] and binary:
        patterns, counts = np.unique(x, axis=0, return_counts=True)
        if x.shape[1] >= len(patterns):
            small = int((counts < need).sum())
            status = "fail" if small else "review"
            flags.append(
                (
                    None,
                    "SaturatedModelCheck",
                    status,
                    "saturated all-categorical model: coefficients reproduce cell means, so it is checked "
                    f"as a table ({small} covariate pattern(s) below {need} records)",
                )
            )
    return flags


def _event_flags(design: pd.DataFrame, events: np.ndarray, profile: Profile) -> list[tuple[object, str, str, str]]:
    """Events in each level of every indicator covariate (hazard ratios: docs/disclosure.md §1.3, §7.2)."""
    flags: list[tuple[object, str, str, str]] = []
    need = profile.min_safe_count
    ev = np.asarray(events, dtype=bool)
    for col in design.columns:
        x = pd.to_numeric(design[col], errors="coerce").to_numpy(np.float64)
        if not np.isin(x, (0.0, 1.0)).all() or x.min() == x.max():
            continue
        if min(int(ev[x == 1].sum()), int(ev[x == 0].sum())) < need:
            flags.append(
                (
                    str(col),
                    "EventsPerLevelCheck",
                    "fail",
                    f"fewer than {need} events in one level of this indicator: merge categories",
                )
            )
    return flags


def model_design(params_index: pd.Index, data: pd.DataFrame) -> pd.DataFrame | None:
    """Rebuild indicator columns named like the coefficients (`x`, or `col[T.level]`) from the data; None if not all
    can be rebuilt.

    Example:
        >>> d = pd.DataFrame({"sex": ["F", "M", "M"], "age": [30, 40, 50]})
        >>> model_design(pd.Index(["sex[T.M]", "age"]), d)["sex[T.M]"].tolist()
        [0.0, 1.0, 1.0]
    """
    cols = {}
    for name in params_index:
        name = str(name)
        if name in data.columns:
            cols[name] = pd.to_numeric(data[name], errors="coerce")
            continue
        head, sep, tail = name.partition("[T.")
        if sep and tail.endswith("]") and head in data.columns:
            cols[name] = (data[head].astype(str) == tail[:-1]).astype(np.float64)
            continue
        return None
    return pd.DataFrame(cols, index=data.index)


def model_inputs(
    result: object, data: pd.DataFrame | None, event: object, cause: int, design: pd.DataFrame | None
) -> tuple[pd.DataFrame | None, np.ndarray | None]:
    """The design (given, or rebuilt from `data`) and the event indicator (`event` column or array == `cause`).

    Example:
        >>> from types import SimpleNamespace
        >>> r = SimpleNamespace(params=pd.DataFrame(index=["x"]))
        >>> dsg, ev = model_inputs(r, pd.DataFrame({"x": [0, 1], "e": [2, 1]}), "e", 1, None)
        >>> dsg["x"].tolist(), ev.tolist()
        ([0, 1], [False, True])
    """
    events = None
    if event is not None:
        ev = data[event] if isinstance(event, str) and data is not None and event in data.columns else event
        if isinstance(ev, str):
            raise DJSUserError(f"event={event!r} is not a column of data: pass data= or the event codes.")
        events = np.asarray(pd.to_numeric(pd.Series(np.asarray(ev)), errors="coerce")) == cause
    params = getattr(result, "params", None)
    if design is None and data is not None and isinstance(params, pd.DataFrame):
        design = model_design(params.index, data)
    if design is not None and events is not None and len(design) != len(events):
        raise DJSUserError("data/design and event must have one row per record used by the model.")
    return design, events


def check_model(
    result: object, profile: Profile, design: pd.DataFrame | None = None, events: np.ndarray | None = None
) -> ModelCheck:
    """Check a fitted model: statsmodels results, or a Cox result by duck type; anything else is `review`.

    With `design` (covariate columns named like the coefficients) and `events` (one event indicator per row) the
    events in each level of every indicator are checked too: hazard ratios of Cox and Fine-Gray models.

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
        n_events = getattr(result, "events", None)
        dof = float(n_events) - len(table) if n_events is not None else None
        mc = ModelCheck(table, flags, int(n) if n is not None else None, dof, "cox")
        if design is None:
            design = getattr(result, "exog", None)
        if design is None:
            design = getattr(result, "design", None)
        if design is not None:
            frame = (
                design
                if isinstance(design, pd.DataFrame)
                else pd.DataFrame(np.asarray(design), columns=list(table.index))
            )
            flags += _indicator_flags(frame.to_numpy(np.float64), [str(c) for c in frame.columns], profile)
            if events is not None:
                flags += _event_flags(frame, events, profile)
        else:
            flags.append(
                (
                    None,
                    "CalculatedRatioCheck",
                    "review",
                    "hazard ratios: events per covariate level not verifiable: pass data= (with the model's "
                    "columns) and event= to Session.regression",
                )
            )
        if dof is None:
            flags.append((None, "MinimumDoFCheck", "review", "events not reported: degrees of freedom unknown"))
    elif params is not None and hasattr(result, "model") and hasattr(result, "bse"):
        table = _statsmodels_table(result)
        dof = getattr(result, "df_resid", None)
        n = getattr(result, "nobs", None)
        exog_n = getattr(getattr(result.model, "exog", None), "shape", (None,))[0]
        status = getattr(result.model, "status", None)
        if status is not None:
            # Proportional hazards: information comes from events, so DoF = events - parameters (docs/disclosure.md
            # §1.2, §7.2).
            dof = float(np.asarray(status).sum()) - len(table)
        n = n if n is not None else exog_n
        mc = ModelCheck(
            table, flags, int(n) if n is not None else None, float(dof) if dof is not None else None, "statsmodels"
        )
        exog = getattr(result.model, "exog", None)
        if exog is not None:
            flags += _indicator_flags(exog, list(table.index), profile)
            seen = {(f[0], f[1]) for f in flags}
            flags += [f for f in recoded_flags(exog, list(table.index), profile.min_safe_count) if f[:2] not in seen]
            flags += leverage_flags(exog)
            if status is not None:  # PH models: events in each indicator level as well
                flags += _event_flags(
                    pd.DataFrame(np.asarray(exog), columns=list(table.index)), np.asarray(status), profile
                )
        mc.properties["model"] = type(result.model).__name__
        if dof is None:
            flags.append((None, "MinimumDoFCheck", "review", "model reports no residual degrees of freedom"))
    else:
        try:
            table = pd.DataFrame(params).astype(float) if params is not None else pd.DataFrame()
        except (TypeError, ValueError):
            table = pd.DataFrame()
        mc = ModelCheck(table, flags, None, None, "unknown")
        flags.append(
            (
                None,
                "UnknownStatisticCheck",
                profile.unknown_statistic,
                f"model result of type {type(result).__name__} is not known to the checker: a human must "
                "assess it (known: statsmodels results, Cox results with params/n/events)",
            )
        )
    if mc.dof is not None and profile.dof_threshold is not None and mc.dof < profile.dof_threshold:
        flags.append((None, "MinimumDoFCheck", "fail", f"residual degrees of freedom < {profile.dof_threshold}"))
    mc.flags = flags
    return mc


# Statistics that are a model's coefficients, judged by the counts the model was fitted on (`series_flags`).
COEFFICIENT_STATISTICS = frozenset(
    {"coefficient", "coef", "log_rate_ratio", "rate_ratio", "irr", "log_odds_ratio", "odds_ratio", "hazard_ratio"}
)


def series_flags(n_params: int, counts: pd.Series, profile: Profile) -> list[tuple[object, str, str, str]]:
    """Flags of a table of coefficients fitted on a series of counts (e.g. an interrupted time series).

    Coefficients are judged by what they are fitted on, not by counts behind each cell: events per parameter
    (the series' total over the coefficients), residual degrees of freedom (points minus coefficients: a saturated
    model gives every point back) and the series' smallest non-zero count (a point below the threshold may be
    isolated by a coefficient).

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> series_flags(4, pd.Series([120] * 48), load_profile("srs"))
        []
        >>> [f[1:3] for f in series_flags(4, pd.Series([120] * 47 + [3]), load_profile("srs"))]
        [('SeriesMinimumCheck', 'review')]
    """
    need = profile.min_safe_count
    x = pd.to_numeric(counts, errors="coerce").dropna().to_numpy(np.float64)
    flags: list[tuple[object, str, str, str]] = []
    if not len(x):
        return [(None, "MissingCountsCheck", "review", "the series' counts are empty: pass the counts fitted on")]
    dof = len(x) - n_params
    if profile.dof_threshold is not None and dof < profile.dof_threshold:
        flags.append(
            (None, "MinimumDoFCheck", "fail", f"points of the series minus coefficients < {profile.dof_threshold}")
        )
    if x.sum() / max(n_params, 1) < need:
        flags.append(
            (None, "EventsPerParameterCheck", "fail", f"fewer than {need} counted units per coefficient in the series")
        )
    small = (x > 0) & (x < need)
    if small.any():
        flags.append(
            (
                None,
                "SeriesMinimumCheck",
                "review",
                f"check no coefficient isolates the {int(small.sum())} point(s) of the series counting fewer than "
                f"{need} (e.g. an indicator of one month); fit on the protected series to avoid them",
            )
        )
    return flags
