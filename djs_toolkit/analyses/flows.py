"""Flows into and through the justice system by month, and interrupted time series (ITS) on them.

`monthly_flows` counts first-ever contacts (after a wash-out look-back, because a person first seen at
data start may well have been in contact before it: left truncation), re-entries (a person's 2nd+
contact) and cross-jurisdiction transitions (e.g. a civil claim then a criminal case within 180 days),
each flagging the most recent months as incomplete (docs/methods.md §8 "Right truncation of
recent months"). `its` fits the segmented regression of Lopez Bernal et al. (2017) with Fourier
seasonality and Newey-West (HAC) errors, several interruptions and ramps, and returns the counterfactual
with intervals (docs/methods.md §8 "statsmodels building blocks").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from djs_toolkit.analyses.groups import entity, group_sql
from djs_toolkit.errors import DJSUserError
from djs_toolkit.spine import build_spine, check_datasets, coverage
from djs_toolkit.spine.sql import EVENT_TYPES, days_between

if TYPE_CHECKING:
    from djs_toolkit.data.extract import Extract

__all__ = ["ENTRY_EVENTS", "KNOWN_DATES", "ITSResult", "its", "monthly_flows"]

# Event types that open a new contact with a jurisdiction (convictions, releases, orders and probation
# ends happen inside a contact, so they are not entries).
ENTRY_EVENTS = ("mags_case", "crown_case", "custody_start", "probation_start", "family_case_start", "civil_claim")
# Interruptions and ramps named in docs/methods.md §8: court closures (March 2020), the England
# evictions ban (Mar 2020 - May 2021: it starts with the closures, so one March 2020 interruption carries
# both, and a second one marks June 2021 when it lifts) and the
# cost-of-living crisis as a ramp. The ramp's span is our assumption: state it, and vary it (docs/methods.md §8 asks for
# sensitivity to the breakpoint).
KNOWN_DATES = {
    "court_closures": "2020-03",
    "evictions_ban_start": "2020-03",
    "evictions_ban_end": "2021-06",
    "cost_of_living_ramp": ("2021-10", "2022-10"),
}
_MONTH = "(EXTRACT(YEAR FROM {d}) * 12 + EXTRACT(MONTH FROM {d}) - 1)"  # portable month number


def _month_start(ts: pd.Timestamp, ceil: bool = False) -> pd.Period:
    p = pd.Timestamp(ts).to_period("M")
    return p + 1 if ceil and pd.Timestamp(ts) > p.start_time else p


def _grid(
    got: pd.DataFrame,
    spans: dict[str, tuple[pd.Period, pd.Period, pd.Timestamp]],
    by: str | None,
    incomplete_months: int,
) -> pd.DataFrame:
    """Zero-filled month x flow x group frame inside each flow's reporting span, recent months flagged."""
    groups = sorted(got["grp"].unique(), key=str) if by else ["all"]
    frames = []
    for flow, (lo, hi, until) in spans.items():
        if lo > hi:
            raise DJSUserError(f"No month of `{flow}` is left after the wash-out: shorten washout_months.")
        months = pd.period_range(lo, hi, freq="M")
        idx = pd.MultiIndex.from_product([months, groups], names=["period", "grp"])
        # PeriodIndex.from_ordinals is in pandas >= 2.2 but missing from pandas-stubs 2.3.
        sub = got[got["flow"] == flow].assign(
            period=lambda d: pd.PeriodIndex.from_ordinals(  # type: ignore[attr-defined]
                d["m"].astype(np.int64) - (1970 * 12), freq="M"
            )
        )
        cnt = sub.groupby(["period", "grp"])["n"].sum().reindex(idx, fill_value=0)
        f = cnt.reset_index().rename(columns={"n": "count"})
        f.insert(1, "dataset", flow)
        # Recent months still fill in (late records, cases not yet concluded): flagged, not dropped
        # (docs/methods.md §8).
        last_full = hi if until >= hi.end_time.normalize() else hi - 1
        f["incomplete"] = f["period"] > last_full - incomplete_months
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "month", out.pop("period").dt.start_time)
    out = out.rename(columns={"grp": by}) if by else out.drop(columns="grp")
    out["count"] = out["count"].astype(np.int64)
    return out


def monthly_flows(
    extract: Extract,
    kind: str = "first_entry",
    datasets: Iterable[str] | None = None,
    by: str | None = None,
    *,
    events: Sequence[str] = ENTRY_EVENTS,
    washout_months: int = 24,
    first: str | None = None,
    then: str | None = None,
    within_days: int = 180,
    incomplete_months: int = 3,
) -> pd.DataFrame:
    """Monthly counts of first-ever contacts, re-entries or cross-jurisdiction transitions.

    Args:
        extract: an opened `Extract`.
        kind: ``first_entry`` (a person's first entry event, per dataset and in ``any`` of them),
            ``re_entry`` (persons with an entry event after an earlier one anywhere in the datasets) or
            ``transition`` (persons with a ``then`` event preceded by a ``first`` event within
            ``within_days``; counted in the month of the ``then`` event).
        datasets: dataset labels for first_entry / re_entry (default: every dataset present).
        by: ``sex``, ``ethnicity_group`` or ``age_band``, as the person's records up to the counted event say.
        events: event types that count as a contact (default `ENTRY_EVENTS`).
        washout_months: look-back after each dataset's coverage start during which contacts are only
            history: months before start + wash-out are not reported (left truncation).
        first: dataset label or event type starting a transition.
        then: dataset label or event type ending a transition.
        within_days: maximum days from ``first`` to ``then``.
        incomplete_months: the last months before the data stop being observed flagged ``incomplete``
            (a partially observed last month is flagged too).

    Returns:
        ``month`` (first day), ``dataset`` (label, ``any``, or ``first -> then``), ``by`` (if given),
        ``count`` (persons), ``incomplete``; months with no flow are 0. ``attrs``: kind and settings.

    Example:
        >>> # f = monthly_flows(extract, "transition", first="civil_claim", then="mags_hocas", within_days=180)
        >>> # f[~f.incomplete].set_index("month")["count"]
    """
    build_spine(extract)
    cov = coverage(extract).set_index("dataset")
    start, observed_until = cov["start"], cov["observed_until"]  # Timestamps by dataset label
    con = extract.engine.con
    if kind == "transition":
        if first is None or then is None or int(within_days) <= 0:
            raise DJSUserError("A transition needs `first`, `then` and a positive `within_days`.")
        (fc, fd), (tc, td) = entity(first), entity(then)
        lo = max(start[td], start[fd] + pd.Timedelta(days=int(within_days)))
        until = min(observed_until[td], observed_until[fd])
        flow = f"{first} -> {then}"
        gap = days_between("f.event_date", "t.event_date")
        sql = (
            f"SELECT '{flow}' AS flow, {_MONTH.format(d='t.event_date')} AS m, {group_sql(by, 't.')} AS grp, "
            f"COUNT(DISTINCT t.person_id) AS n FROM _spine t JOIN _spine f ON f.person_id = t.person_id "
            f"WHERE t.{tc} AND f.{fc} AND {gap} >= 1 AND {gap} <= {int(within_days)} "
            f"AND t.event_date <= DATE '{until.date()}' GROUP BY 3, 2, 1"
        )
        spans = {flow: (_month_start(lo, ceil=True), _month_start(until), until)}
    elif kind in ("first_entry", "re_entry"):
        labels = check_datasets(extract, datasets)
        evs = [e for d, e, _ in EVENT_TYPES if d in labels and e in events]
        if not evs:
            raise DJSUserError("No entry event type belongs to the chosen datasets: check `events` and `datasets`.")
        starts = {d: start[d] + pd.DateOffset(months=int(washout_months)) for d in labels}
        untils = {d: observed_until[d] for d in labels}
        starts["any"], untils["any"] = max(starts.values()), min(untils.values())
        spans = {d: (_month_start(starts[d], ceil=True), _month_start(untils[d]), untils[d]) for d in [*labels, "any"]}
        where = f"event_type IN ({', '.join(repr(e) for e in evs)}) AND in_coverage"
        if kind == "first_entry":  # the first row of each person (and dataset) with its attributes
            rank = "ROW_NUMBER() OVER (PARTITION BY person_id{p} ORDER BY event_date, dataset, record_id)"
            sel = (
                f"SELECT person_id, dataset, event_date, {group_sql(by)} AS grp, {rank.format(p=', dataset')} AS r1, "
                f"{rank.format(p='')} AS r0 FROM _spine WHERE {where}"
            )
            keep_d, keep_any = "r1 = 1", "r0 = 1"
        else:  # an entry on a later day than the person's first entry is a re-entry
            sel = (
                f"SELECT person_id, dataset, event_date, {group_sql(by)} AS grp, MIN(event_date) OVER "
                f"(PARTITION BY person_id) AS first_date FROM _spine WHERE {where}"
            )
            keep_d = keep_any = "event_date > first_date"
        m = _MONTH.format(d="event_date")
        sql = (
            f"WITH e AS ({sel}) SELECT dataset AS flow, {m} AS m, grp, COUNT(DISTINCT person_id) AS n FROM e "
            f"WHERE {keep_d} GROUP BY 1, 2, 3 UNION ALL SELECT 'any' AS flow, {m} AS m, grp, "
            f"COUNT(DISTINCT person_id) AS n FROM e WHERE {keep_any} GROUP BY 1, 2, 3"
        )
    else:
        raise DJSUserError("`kind` must be 'first_entry', 're_entry' or 'transition'.")
    got = con.sql(sql).df()
    out = _grid(got, spans, by, int(incomplete_months))
    out.attrs.update(
        {
            "kind": kind,
            "washout_months": int(washout_months),
            "within_days": int(within_days),
            "incomplete_months": int(incomplete_months),
        }
    )
    return out


# -- interrupted time series --------------------------------------------------------------------------------------
@dataclass
class ITSResult:
    """A fitted ITS model.

    Attributes:
        params: one row per term (``intercept``, ``trend``, ``level_change_<YYYY-MM>``,
            ``slope_change_<YYYY-MM>``, ``ramp_<YYYY-MM>``, seasonal terms) with ``coef`` (log scale for
            count models), ``se`` (HAC), ``ci_lower``, ``ci_upper``, ``p`` and ``ratio`` (exp(coef) for
            count models: rate ratio of a level change, monthly ratio of a slope change).
        series: per month ``month``, ``observed``, ``fitted``, ``fitted_lower``, ``fitted_upper``,
            ``counterfactual``, ``cf_lower``, ``cf_upper`` (no interruption or ramp), ``excluded``.
        family: ``poisson``, ``negbin`` or ``gaussian``.
        maxlags: Newey-West lags.
        nb_alpha: negative binomial dispersion (None otherwise).
    """

    params: pd.DataFrame
    series: pd.DataFrame
    family: str
    maxlags: int
    nb_alpha: float | None = None


def _as_series(series: pd.Series | pd.DataFrame) -> pd.Series:
    if isinstance(series, pd.DataFrame):
        extra = [c for c in series.columns if c not in ("month", "count", "incomplete")]
        if any(series[c].nunique() > 1 for c in extra) or "month" not in series:
            raise DJSUserError("`series` must be one flow: filter monthly_flows output to one dataset and group.")
        s = series.set_index("month")["count"]
        s.attrs["incomplete"] = series.set_index("month")["incomplete"] if "incomplete" in series else None
        series = s
    if not isinstance(series, pd.Series):
        raise DJSUserError("`series` must be a pandas Series indexed by month (or one monthly_flows flow).")
    idx = series.index.to_period("M") if isinstance(series.index, pd.DatetimeIndex) else series.index
    if not isinstance(idx, pd.PeriodIndex) or idx.has_duplicates or len(idx) < 12:
        raise DJSUserError("`series` needs at least 12 distinct months (DatetimeIndex or monthly PeriodIndex).")
    out = pd.Series(series.to_numpy(float), index=idx.asfreq("M")).sort_index()
    out.attrs = series.attrs
    return out


def _design(
    idx: pd.PeriodIndex,
    interruptions: list[str],
    ramps: list[str | tuple[str, str]],
    seasonality: str | None,
    order: int,
    slopes: bool,
) -> tuple[pd.DataFrame, list[str]]:
    t = (idx - idx[0]).map(lambda d: d.n).to_numpy(float)
    X = {"intercept": np.ones(len(idx)), "trend": t}
    effects = []
    for d in interruptions:
        p = pd.Period(d, "M")
        step, k = (idx >= p).astype(float), p.strftime("%Y-%m")
        X[f"level_change_{k}"] = step
        effects.append(f"level_change_{k}")
        if slopes:
            X[f"slope_change_{k}"] = step * (t - (p - idx[0]).n)
            effects.append(f"slope_change_{k}")
    for r in ramps:
        first, last = r if isinstance(r, (tuple, list)) else (r, pd.Period(r, "M") + 12)
        a, b = pd.Period(first, "M"), pd.Period(last, "M")
        if b <= a:
            raise DJSUserError("A ramp (start, end) needs end after start.")
        X[f"ramp_{a.strftime('%Y-%m')}"] = np.clip((t - (a - idx[0]).n) / (b - a).n, 0.0, 1.0)
        effects.append(f"ramp_{a.strftime('%Y-%m')}")
    month = idx.month.to_numpy()
    if seasonality == "fourier":
        for h in range(1, order + 1):
            X[f"fourier_sin_{h}"] = np.sin(2 * np.pi * h * month / 12)
            X[f"fourier_cos_{h}"] = np.cos(2 * np.pi * h * month / 12)
    elif seasonality == "dummies":
        for mth in range(2, 13):
            X[f"month_{mth:02d}"] = (month == mth).astype(float)
    elif seasonality not in (None, "none"):
        raise DJSUserError("`seasonality` must be 'fourier', 'dummies' or None.")
    return pd.DataFrame(X, index=idx), effects


def _nb_alpha(y: np.ndarray, X: np.ndarray, offset: np.ndarray | None) -> float:
    """NB2 dispersion maximising the GLM likelihood (bounded search: alpha -> 0 is the Poisson limit)."""

    def nll(log_a: float) -> float:
        fam = sm.families.NegativeBinomial(alpha=float(np.exp(log_a)))
        return -sm.GLM(y, X, family=fam, offset=offset).fit().llf

    return float(np.exp(minimize_scalar(nll, bounds=(np.log(1e-8), np.log(10.0)), method="bounded").x))


def its(
    series: pd.Series | pd.DataFrame,
    interruptions: Sequence[str] = (),
    ramps: Sequence[str | tuple[str, str]] = (),
    seasonality: str | None = "fourier",
    family: str = "poisson",
    offset: pd.Series | None = None,
    *,
    fourier_order: int = 2,
    slope_changes: bool = True,
    maxlags: int | None = None,
    exclude: Sequence[str] = (),
    alpha: float = 0.05,
) -> ITSResult:
    """Segmented regression with level and slope changes, ramps, seasonality and HAC errors.

    Model (Lopez Bernal et al. 2017; docs/methods.md §8): log E[y_t] = b0 + b1 t + sum_k (level_k
    X_kt + slope_k (t - T_k) X_kt) + sum_r ramp_r R_rt + seasonal terms + log(offset_t), with X_kt = 1 from
    interruption k on and R_rt rising linearly from 0 to 1 over the ramp. Poisson or negative binomial GLM
    (gaussian: identity link) with Newey-West covariance, each variance floored at the model-based
    (Pearson-scaled) one because HAC alone is too narrow in short series (docs/methods.md §8, Turner et al.; in our
    simulations it covered a planted level change in ~65% of series); the counterfactual sets every
    interruption and ramp term to 0 and gets delta-method intervals on the link scale.

    Args:
        series: monthly counts (Series indexed by month) or one flow of `monthly_flows` (its incomplete
            months are excluded from the fit).
        interruptions: dates of sharp changes (e.g. "2020-03" court closures); each gets a level and
            (unless ``slope_changes=False``) a slope change.
        ramps: phased-in exposures: a start date (12-month ramp) or a (start, end) pair.
        seasonality: ``fourier`` (``fourier_order`` sine/cosine pairs), ``dummies`` or None.
        family: ``poisson``, ``negbin`` or ``gaussian``.
        offset: exposure per month (e.g. sitting days, population), aligned on the months.
        fourier_order: number of harmonics (2-3 for monthly data, docs/methods.md §8).
        slope_changes: add slope changes at interruptions.
        maxlags: Newey-West lags (default floor(4 (n / 100)^(2/9)), Newey and West 1994).
        exclude: months left out of the fit (still predicted), e.g. the months of an evictions ban.
        alpha: 1 - confidence level.

    Returns:
        `ITSResult`.

    Example:
        >>> idx = pd.period_range("2015-01", periods=72, freq="M")
        >>> wiggle = np.tile([1.0, -1.0], 36)
        >>> y = pd.Series(np.r_[np.full(60, 100.0), np.full(12, 60.0)] + wiggle, index=idx)
        >>> r = its(y, interruptions=["2020-01"], seasonality=None, slope_changes=False)
        >>> round(float(r.params.loc["level_change_2020-01", "ratio"]), 2)
        0.6
    """
    y = _as_series(series)
    months = cast(pd.PeriodIndex, y.index)  # _as_series makes it monthly periods
    if family not in ("poisson", "negbin", "gaussian"):
        raise DJSUserError("`family` must be 'poisson', 'negbin' or 'gaussian'.")
    X, effects = _design(months, list(interruptions), list(ramps), seasonality, int(fourier_order), slope_changes)
    off = None
    if offset is not None:
        o = _as_series(pd.Series(offset)).reindex(y.index)
        if o.isna().any() or (o <= 0).any():
            raise DJSUserError("`offset` must be positive for every month of the series.")
        off = np.log(o.to_numpy(float)) if family != "gaussian" else None
        if family == "gaussian":
            raise DJSUserError("An offset needs a count family: divide the series by it for a gaussian model.")
    inc = y.attrs.get("incomplete")
    drop = months.isin(pd.PeriodIndex([pd.Period(e, "M") for e in exclude], freq="M"))
    if inc is not None:
        drop |= inc.reindex(months.to_timestamp()).fillna(False).to_numpy(bool)
    fit_rows = ~drop & y.notna().to_numpy()
    if int(fit_rows.sum()) <= X.shape[1] + 2:
        raise DJSUserError("Too few months to fit this model: use fewer terms or a longer series.")
    n = int(fit_rows.sum())
    # Newey-West (1994) lag rule; a fixed 12 lags undercovered badly on 11-year monthly series (tests).
    lags = int(maxlags) if maxlags is not None else int(np.floor(4 * (n / 100) ** (2 / 9)))
    yf, Xf, of = y.to_numpy()[fit_rows], X.to_numpy()[fit_rows], None if off is None else off[fit_rows]
    nb_alpha = None
    hac = {"cov_type": "HAC", "cov_kwds": {"maxlags": lags, "use_correction": True}}
    if family == "gaussian":
        res, model = sm.OLS(yf, Xf).fit(**hac), sm.OLS(yf, Xf).fit()
    else:
        fam = sm.families.Poisson()
        if family == "negbin":  # NB2 dispersion by profile likelihood, then the GLM with HAC errors
            nb_alpha = _nb_alpha(yf, Xf, of)
            fam = sm.families.NegativeBinomial(alpha=nb_alpha)
        res = sm.GLM(yf, Xf, family=fam, offset=of).fit(**hac)
        model = sm.GLM(yf, Xf, family=fam, offset=of).fit(scale="X2")  # quasi-likelihood (Pearson) scale
    # HAC variances are biased down in short series (Turner et al., docs/methods.md §8), so each
    # variance is floored at the model-based one; HAC keeps the correlations between terms.
    v_hac, v_mod = np.diag(res.cov_params()), np.diag(model.cov_params())
    se = np.sqrt(np.maximum(v_hac, v_mod))
    corr = np.asarray(res.cov_params()) / np.sqrt(np.outer(v_hac, v_hac))
    cov = corr * np.outer(se, se)
    z = float(norm.ppf(1 - alpha / 2))
    coef = np.asarray(res.params)
    params = pd.DataFrame(
        {
            "coef": coef,
            "se": se,
            "ci_lower": coef - z * se,
            "ci_upper": coef + z * se,
            "p": 2 * norm.sf(np.abs(coef / se)),
        },
        index=pd.Index(X.columns, name="term"),
    )
    if family != "gaussian":
        params["ratio"] = np.exp(coef)
    link = (lambda v: v) if family == "gaussian" else np.exp
    base = np.zeros(len(y)) if off is None else off

    def predict(M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        eta = M @ coef + base
        s = np.sqrt(np.einsum("ij,jk,ik->i", M, cov, M))
        return link(eta), link(eta - z * s), link(eta + z * s)

    Xc = X.copy()
    Xc[effects] = 0.0
    fit, flo, fhi = predict(X.to_numpy())
    cf, clo, chi = predict(Xc.to_numpy())
    out = pd.DataFrame(
        {
            "month": months.to_timestamp(),
            "observed": y.to_numpy(),
            "fitted": fit,
            "fitted_lower": flo,
            "fitted_upper": fhi,
            "counterfactual": cf,
            "cf_lower": clo,
            "cf_upper": chi,
            "excluded": drop,
        }
    )
    return ITSResult(params, out, family, lags, nb_alpha)
