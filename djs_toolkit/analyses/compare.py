"""Comparisons of similar cases: a target trial emulated on the linked data, with propensity weighting.

A target trial (Hernan and Robins 2016) is the randomised trial one would run; its emulation states the same
protocol and follows it in the data:

- **eligibility** at time zero: an event selector (`spine.select`), e.g. the end of public-law proceedings for a
  child aged 10-17 (``"family_order: case_type=Public law; party_role=Child; age=10-17"``); each person's first
  eligible event in the period is their time zero;
- **treatment strategies**: two selectors (the first is "treated", the second the comparator), e.g. a supervision
  order against a care order; a person follows the strategy whose event comes first within ``grace_days`` of time
  zero (persons with neither, or both on one day, are not analysed and are counted in the flow table);
- **outcome**: an `analyses.OUTCOMES` name, the first such event strictly after time zero (criminal cases dated by
  the offence), follow-up censored at the outcome datasets' coverage end less the waiting period
  (`spine.observed_until`), as `reentry_cohort` does;
- **covariates** measured on or before time zero only: the age recorded at the eligibility event, sex, ethnicity
  and IMD as the person's records up to time zero say them (`attributes_at_sql`), prior criminal contacts in the
  look-back (`prior_contacts_sql`). Nothing after time zero is read.

Confounding is handled by weighting on a logistic propensity score of the covariates: ``method="ipw"``
(stabilised inverse-probability weights: the average effect in the eligible population) or ``"overlap"`` (overlap
weights p(1 - p) / (1 - p) p: the average effect where both strategies are common, with exact mean balance).
Results: the balance table (standardised mean differences before and after weighting, with the unweighted pooled
SD as denominator both times, as R cobalt), weighted cumulative incidence per arm and the risk difference and
ratio at chosen times with cluster-robust intervals (`survival.weighted`), a weighted Cox hazard ratio with a
cluster-robust SE (`survival.cox`), the naive (unweighted) versions of each, and E-values for unmeasured
confounding (VanderWeele and Ding 2017).

With ``grace_days > 0`` the arm is the strategy started within the grace period and follow-up starts at time
zero; this is unbiased only if starting later within the grace period does not depend on prognosis (otherwise
clone-censor-weighting is needed, which this function does not do). Intervals treat the weights as known, which
for inverse-probability weights is conservative.

Example:
    >>> [round(e, 3) for e in evalue(0.8, 0.7, 0.9)]  # a protective risk ratio, its CI: E-values of both
    [1.809, 1.462]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from djs_toolkit.analyses.cases import MISSING, attributes_at_sql, build_cases, prior_contacts_sql
from djs_toolkit.analyses.cohort import OUTCOMES
from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import DATASETS
from djs_toolkit.spine import as_selector, build_spine, observed_until
from djs_toolkit.survival import CoxResult, cox
from djs_toolkit.survival.weighted import WEIGHTINGS, evalue, propensity_weights, risk_contrast, smd_table, weighted_km

if TYPE_CHECKING:
    from djs_toolkit.data.extract import Extract
    from djs_toolkit.spine import Selector

__all__ = ["METHODS", "TrialResult", "evalue", "target_trial", "trial_cohort"]

METHODS = WEIGHTINGS
DEFAULT_COVARIATES = ("age", "sex", "prior_contacts_band")
_ARM = "arm"


def _design(df: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Covariates as numbers: numeric columns as they are, categories as 0/1 columns ``name=level``."""
    parts = []
    for c in covariates:
        if c not in df.columns:
            raise DJSUserError(f"covariate `{c}` is not a column of the cohort: use one of {', '.join(df.columns)}.")
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            parts.append(s.astype(float).rename(c))
        else:
            levels = sorted(s.astype(str).unique())
            for lv in levels:
                parts.append((s.astype(str) == lv).astype(float).rename(f"{c}={lv}"))
    return pd.DataFrame({p.name: p.to_numpy() for p in parts}, index=df.index)


def _date(d: dt.date | pd.Timestamp | str) -> str:
    return f"DATE '{pd.Timestamp(d).date()}'"


def trial_cohort(
    extract: Extract,
    eligibility: str | Selector,
    treatments: Mapping[str, str | Selector],
    outcome: str = "any_criminal_court",
    grace_days: int = 0,
    period: tuple[dt.date | str, dt.date | str] | None = None,
    lookback_days: int = 730,
    waiting_days: int = 183,
) -> pd.DataFrame:
    """One row per person: time zero, the strategy followed, covariates at time zero and follow-up.

    Args:
        extract: an opened `Extract`.
        eligibility: selector of the eligibility events (the person's first in ``period`` is time zero).
        treatments: two strategies, {label: selector of the event that starts it}; the first is the treated arm.
        outcome: an `analyses.OUTCOMES` name.
        grace_days: the strategy's event may come up to this many days after time zero.
        period: (first, last) time zero; default from the later of the eligibility dataset's start and the
            outcome datasets' start plus the look-back, to the follow-up end.
        lookback_days: window of prior contacts; waiting_days: waiting period before the courts' coverage end.

    Returns:
        Columns ``person_id``, ``time_zero``, ``arm`` (the strategy's label), ``age``, ``sex``,
        ``ethnicity_group``, ``imd_decile``, ``prior_contacts``, ``prior_contacts_band`` (``0``, ``1``, ``2+``),
        ``duration`` (days) and ``event``; ``attrs["flow"]`` (persons at each step) and ``attrs["protocol"]``.

    Example:
        >>> # trial_cohort(extract, "family_order: case_type=Public law; party_role=Child; age=10-17",
        >>> #              {"supervision": "family_order: disposal=Supervision order",
        >>> #               "care": "family_order: disposal=Care order"})
    """
    if outcome not in OUTCOMES:
        raise DJSUserError(f"Unknown outcome {outcome!r}: use one of {', '.join(OUTCOMES)}.")
    if len(treatments) != 2:
        raise DJSUserError("treatments must name exactly two strategies: {treated label: selector, control: ...}.")
    if not isinstance(grace_days, int) or grace_days < 0:
        raise DJSUserError("grace_days must be a whole number of days, 0 or more.")
    elig = as_selector(eligibility)
    arms = {str(k): as_selector(v) for k, v in treatments.items()}
    datasets, flt, by_offence = OUTCOMES[outcome]
    fu_end = min(observed_until(d, extract.extract_end) for d in datasets)
    if by_offence and waiting_days:
        fu_end -= dt.timedelta(days=waiting_days)
    # Prior contacts are magistrates' cases: their look-back must lie inside the magistrates' window.
    start = max(DATASETS[elig.dataset].start, DATASETS["mags_hocas"].start + dt.timedelta(days=lookback_days))
    first, last = (start, fu_end - dt.timedelta(days=1)) if period is None else period
    build_spine(extract)
    build_cases(extract)
    con = extract.engine.con
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _tt AS SELECT ROW_NUMBER() OVER (ORDER BY person_id) AS tid, *
        FROM (SELECT s.person_id, s.event_date, s.age_at_event AS age, ROW_NUMBER() OVER (PARTITION BY s.person_id
              ORDER BY s.event_date, s.record_id) AS rn FROM _spine s WHERE {elig.sql("s.")}
              AND s.event_date >= {_date(first)} AND s.event_date <= {_date(last)}) q WHERE rn = 1""")
    starts = " ".join(
        f"LEFT JOIN (SELECT e.tid, MIN(s.event_date) AS d FROM _tt e JOIN _spine s ON s.person_id = e.person_id AND "
        f"{sel.sql('s.')} AND s.event_date >= e.event_date AND s.event_date <= e.event_date + INTERVAL {grace_days} "
        f"DAY GROUP BY e.tid) a{k} ON a{k}.tid = t.tid"
        for k, sel in enumerate(arms.values())
    )
    src = (
        f"SELECT person_id, COALESCE(offence_date, event_date) AS d FROM _cases WHERE {flt}"
        if by_offence
        else f"SELECT person_id, event_date AS d FROM _spine WHERE {flt}"
    )
    df = con.sql(f"""
        WITH o AS (SELECT t.tid, MIN(o.d) AS d FROM _tt t JOIN ({src}) o ON o.person_id = t.person_id
                   AND o.d > t.event_date GROUP BY t.tid),
        a AS ({attributes_at_sql("_tt", "tid")}), p AS ({prior_contacts_sql("_tt", "tid", lookback_days)})
        SELECT t.person_id, t.event_date AS time_zero, t.age, a0.d AS d0, a1.d AS d1, a.sex, a.ethnicity_group,
               a.imd_decile, COALESCE(p.prior_contacts, 0) AS prior_contacts, o.d AS outcome_date
        FROM _tt t {starts} LEFT JOIN o ON o.tid = t.tid LEFT JOIN a ON a.tid = t.tid LEFT JOIN p ON p.tid = t.tid
        ORDER BY t.tid""").df()
    con.execute("DROP TABLE IF EXISTS _tt")
    (treated, control) = list(arms)
    d0, d1 = pd.to_datetime(df["d0"]), pd.to_datetime(df["d1"])
    first_arm = np.where(
        d0.notna() & (d1.isna() | (d0 < d1)), treated, np.where(d1.notna() & (d0.isna() | (d1 < d0)), control, "")
    )
    flow = [("eligible (first eligible event per person)", len(df))]
    flow.append(("no strategy started within the grace period", int((d0.isna() & d1.isna()).sum())))
    flow.append(("both strategies started on one day", int((d0.notna() & (d0 == d1)).sum())))
    df["arm"] = first_arm
    df = df[df["arm"] != ""].copy()
    missing_age = df["age"].isna()
    flow.append(("age not recorded", int(missing_age.sum())))
    df = df[~missing_age]
    end = pd.Timestamp(fu_end)
    t0 = pd.to_datetime(df["time_zero"])
    od = pd.to_datetime(df["outcome_date"])
    df["event"] = (od.notna() & (od <= end)).astype(int)
    df["duration"] = np.where(df["event"] == 1, (od - t0).dt.days, (end - t0).dt.days).astype(int)
    df["sex"] = df["sex"].fillna(MISSING)
    df["prior_contacts_band"] = np.where(df["prior_contacts"] == 0, "0", np.where(df["prior_contacts"] == 1, "1", "2+"))
    df["age"] = df["age"].astype(int)
    for label in (treated, control):
        flow.append((f"analysed: {label}", int((df["arm"] == label).sum())))
    out = df[
        [
            "person_id",
            "time_zero",
            "arm",
            "age",
            "sex",
            "ethnicity_group",
            "imd_decile",
            "prior_contacts",
            "prior_contacts_band",
            "duration",
            "event",
        ]
    ].reset_index(drop=True)
    # attrs hold plain lists (pandas compares attrs when combining frames; DataFrames there cannot be compared)
    out.attrs["flow"] = flow
    out.attrs["protocol"] = [
        ("eligibility", f"{elig.describe()}; the first such event per person from {first} to {last}"),
        ("treatment strategies", f"{treated}: {arms[treated].describe()}; {control}: {arms[control].describe()}"),
        ("assignment", f"the strategy whose event comes first within {grace_days} days of time zero"),
        ("time zero", "the eligibility event"),
        (
            "outcome",
            f"{outcome}: the first event after time zero" + (", dated by the offence" if by_offence else ""),
        ),
        (
            "follow-up",
            f"from time zero to the outcome or {fu_end} (coverage end"
            + (f" less {waiting_days} days' waiting)" if by_offence and waiting_days else ")"),
        ),
        (
            "covariates",
            f"at time zero only: age at the eligibility event, sex, ethnicity, IMD, prior criminal "
            f"contacts in {lookback_days} days",
        ),
    ]
    out.attrs["follow_up_end"] = fu_end
    out.attrs["treated"], out.attrs["control"] = treated, control
    return out


@dataclass
class TrialResult:
    """A target-trial emulation's results (`target_trial`); `releasable` lists what may be saved, with its counts.

    Attributes:
        protocol: element, specification (the protocol table; text, not an output of counts).
        flow: persons at each step from eligibility to analysis; arms: persons and events per arm (unweighted).
        balance: standardised mean differences before and after weighting (`smd_table`).
        curves: weighted cumulative incidence per arm on a grid of times (`survival.weighted_km`).
        contrasts / naive_contrasts: weighted / unweighted risks, risk difference and ratio at ``times``.
        hazard_ratio: rows ``naive`` and ``weighted``: ``hr``, ``ci_lower``, ``ci_upper``, ``log_hr``, ``se``
            (cluster-robust), ``evalue``, ``evalue_ci``.
        cox: the weighted Cox fit; cohort: the analysed rows with ``propensity`` and ``weight`` (never an output).
    """

    protocol: pd.DataFrame
    flow: pd.DataFrame
    arms: pd.DataFrame
    balance: pd.DataFrame
    curves: pd.DataFrame
    contrasts: pd.DataFrame
    naive_contrasts: pd.DataFrame
    hazard_ratio: pd.DataFrame
    cox: CoxResult
    cohort: pd.DataFrame
    method: str
    treated: str
    control: str
    notes: list[str] = field(default_factory=list)

    def releasable(self) -> list[dict[str, object]]:
        """The outputs to save, each as `outputs.save_table` keywords (``table``, ``name``, ``description``,
        ``statistic``, ``counts``, ``index``): arm sizes and events as counts first, then every weighted estimate
        with the unweighted counts behind it, so a cell whose counts are withheld is withheld from the estimate.

        Example:
            >>> # for kw in result.releasable(): save_table(**kw, population="children ...")
        """
        ev = self.arms.set_index("arm")["events"]
        n = self.arms.set_index("arm")["persons"]
        least = int(min(ev.min(), (n - ev).min()))
        bal = self.balance.set_index("covariate")[["smd_before", "smd_after"]]
        bal_counts = pd.DataFrame({c: self.balance["n_min"].to_numpy() for c in bal.columns}, index=bal.index)
        risk_cols = ["risk_treated", "risk_control", "rd", "rd_lower", "rd_upper", "rr", "rr_lower", "rr_upper"]

        def risk_table(c: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
            t = c.set_index("time")[risk_cols]
            behind = np.minimum.reduce(
                [
                    c["events_treated"],
                    c["events_control"],
                    c["n_treated"] - c["events_treated"],
                    c["n_control"] - c["events_control"],
                ]
            )
            return t, pd.DataFrame({k: np.asarray(behind) for k in risk_cols}, index=t.index)

        risks, risk_counts = risk_table(self.contrasts)
        naive, naive_counts = risk_table(self.naive_contrasts)
        hr = self.hazard_ratio.set_index("model")[["hr", "ci_lower", "ci_upper", "evalue", "evalue_ci"]]
        curves = self.curves.set_index(["arm", "time"])[["cif", "cif_lower", "cif_upper"]]
        behind = np.asarray(np.minimum(self.curves["events"], self.curves["n_at_risk"]))
        curve_counts = pd.DataFrame(dict.fromkeys(curves.columns, behind), index=curves.index)
        w = "inverse-probability" if self.method == "ipw" else "overlap"
        vs = f"{self.treated} vs {self.control}"
        hr_counts = pd.DataFrame(least, index=hr.index, columns=hr.columns)
        rows = [  # name, table, statistic, counts, description
            ("flow", self.flow, "count", None, "persons at each step of the target-trial emulation"),
            ("arms", self.arms, "count", None, f"persons and outcome events per arm ({vs})"),
            ("balance", bal, "smd", bal_counts, f"standardised mean differences ({vs}) before and after {w} weighting"),
            (
                "risks",
                risks,
                "weighted_risk",
                risk_counts,
                f"{w}-weighted risk by time, its difference and ratio ({vs})",
            ),
            (
                "risks_naive",
                naive,
                "risk",
                naive_counts,
                f"unweighted (naive) risk by time, difference and ratio ({vs})",
            ),
            ("hazard_ratio", hr, "hazard_ratio", hr_counts, f"hazard ratio {vs}, naive and {w}-weighted, E-values"),
            ("cif", curves, "weighted_risk", curve_counts, f"{w}-weighted cumulative incidence of the outcome per arm"),
        ]
        out: list[dict[str, object]] = []
        for name, table, stat, counts, text in rows:
            kw: dict[str, object] = {"table": table, "name": name, "statistic": stat, "description": text}
            if counts is not None:
                kw["counts"] = counts
            if name in ("risks", "risks_naive", "cif"):
                kw["index"] = "time"
            out.append(kw)
        return out


def _hr_row(model: str, fit: CoxResult, rare: bool) -> dict[str, object]:
    p = fit.params.iloc[0]
    se = float(p["robust_se"]) if "robust_se" in fit.params.columns else float(p["se"])
    point, ci = evalue(float(p["hr"]), float(p["ci_lower"]), float(p["ci_upper"]), rare=rare, hazard_ratio=True)
    return {
        "model": model,
        "hr": float(p["hr"]),
        "ci_lower": float(p["ci_lower"]),
        "ci_upper": float(p["ci_upper"]),
        "log_hr": float(p["coef"]),
        "se": se,
        "evalue": point,
        "evalue_ci": ci,
    }


def target_trial(
    extract_or_cohort: Extract | pd.DataFrame,
    eligibility: str | Selector | None = None,
    treatments: Mapping[str, str | Selector] | None = None,
    outcome: str = "any_criminal_court",
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    grace_days: int = 0,
    method: str = "ipw",
    times: Sequence[int] = (365, 730, 1095),
    grid_days: int = 30,
    alpha: float = 0.05,
    **cohort_options: object,
) -> TrialResult:
    """Emulate a target trial comparing two strategies, with propensity weighting (see the module docstring).

    Args:
        extract_or_cohort: an opened `Extract`, or a cohort from `trial_cohort` (or any frame with ``person_id``,
            ``arm``, ``duration``, ``event`` and the covariates; its ``attrs["treated"]``/``["control"]`` or the
            sorted arm labels name the arms).
        eligibility, treatments, outcome, grace_days: the protocol (`trial_cohort`), for an Extract.
        covariates: cohort columns of the propensity model (numeric as they are, others as levels).
        method: ``ipw`` (stabilised inverse-probability weights) or ``overlap`` (overlap weights).
        times: days at which risks, their difference and ratio are compared.
        grid_days: spacing of the cumulative-incidence curves' times.
        alpha: 1 - confidence level.
        **cohort_options: ``period``, ``lookback_days``, ``waiting_days`` for `trial_cohort`.

    Returns:
        A `TrialResult`.

    Example:
        >>> # target_trial(extract, "family_order: case_type=Public law; party_role=Child; age=10-17",
        >>> #              {"supervision": "family_order: disposal=Supervision order",
        >>> #               "care": "family_order: disposal=Care order"}, method="overlap")
    """
    if method not in METHODS:
        raise DJSUserError(f"method {method!r} is not one of {', '.join(METHODS)}.")
    if isinstance(extract_or_cohort, pd.DataFrame):
        cohort = extract_or_cohort.copy()
        cohort.attrs = dict(extract_or_cohort.attrs)
    else:
        if eligibility is None or treatments is None:
            raise DJSUserError("give eligibility= and treatments= (two strategies) to build the trial from an extract.")
        cohort = trial_cohort(extract_or_cohort, eligibility, treatments, outcome, grace_days, **cohort_options)  # type: ignore[arg-type]
    need = {"person_id", _ARM, "duration", "event", *covariates} - set(cohort.columns)
    if need:
        raise DJSUserError(f"the cohort lacks column(s) {', '.join(sorted(need))}.")
    labels = (
        [cohort.attrs["treated"], cohort.attrs["control"]]
        if "treated" in cohort.attrs
        else sorted(cohort[_ARM].unique())
    )
    treated, control = str(labels[0]), str(labels[1])
    a = (cohort[_ARM] == treated).to_numpy().astype(int)
    for label, k in ((treated, a.sum()), (control, (1 - a).sum())):
        if k < 2 or cohort.loc[cohort[_ARM] == label, "event"].sum() < 1:
            raise DJSUserError(f"arm {label!r} has {k} persons or no outcome events: the comparison cannot be made.")
    x = _design(cohort, covariates)
    ps, w = propensity_weights(a, x, method)
    cohort["propensity"], cohort["weight"] = ps, w
    cohort["treated"] = a
    balance = smd_table(x, a, w)
    grid = [float(g) for g in range(grid_days, max(times) + 1, grid_days)]
    curves = weighted_km(
        cohort, "duration", "event", weights="weight", cluster="person_id", by=_ARM, times=grid, alpha=alpha
    )
    contrasts = risk_contrast(
        cohort, "duration", "event", _ARM, treated, control, times, weights="weight", cluster="person_id", alpha=alpha
    )
    naive_contrasts = risk_contrast(
        cohort, "duration", "event", _ARM, treated, control, times, cluster="person_id", alpha=alpha
    )
    rare = bool(contrasts["risk_control"].iloc[-1] <= 0.15 and contrasts["risk_treated"].iloc[-1] <= 0.15)
    fit = cox(cohort, "duration", "event", ["treated"], weights="weight", cluster="person_id", alpha=alpha)
    naive_fit = cox(cohort, "duration", "event", ["treated"], cluster="person_id", alpha=alpha)
    hr = pd.DataFrame([_hr_row("naive", naive_fit, rare), _hr_row("weighted", fit, rare)])
    arms = pd.DataFrame(
        {
            "arm": [treated, control],
            "persons": [int(a.sum()), int((1 - a).sum())],
            "events": [int(cohort.loc[a == 1, "event"].sum()), int(cohort.loc[a == 0, "event"].sum())],
        }
    )
    notes = []
    if (balance["smd_after"].abs() > 0.1).any():
        notes.append(
            "some standardised mean differences exceed 0.1 after weighting: the propensity model may "
            "need interactions or other terms"
        )
    lo, hi = float(ps.min()), float(ps.max())
    if lo < 0.025 or hi > 0.975:
        notes.append(
            "some propensities are below 0.025 or above 0.975 (near-violations of positivity): "
            "compare with method='overlap'"
        )
    protocol = pd.DataFrame(cohort.attrs.get("protocol", []), columns=["element", "specification"])
    estimand = (
        "average effect in the eligible population (stabilised inverse-probability weights)"
        if method == "ipw"
        else "average effect in the overlap population, where both strategies are common (overlap weights)"
    )
    protocol = pd.concat(
        [
            protocol,
            pd.DataFrame(
                [
                    (
                        "estimand",
                        f"{estimand}: risk difference and ratio at {', '.join(map(str, times))} days; hazard ratio",
                    ),
                    ("adjustment", f"logistic propensity score of {', '.join(covariates)}"),
                ],
                columns=["element", "specification"],
            ),
        ],
        ignore_index=True,
    )
    flow = pd.DataFrame(cohort.attrs.get("flow", [("analysed", len(cohort))]), columns=["step", "persons"])
    return TrialResult(
        protocol=protocol,
        flow=flow,
        arms=arms,
        balance=balance,
        curves=curves,
        contrasts=contrasts,
        naive_contrasts=naive_contrasts,
        hazard_ratio=hr,
        cox=fit,
        cohort=cohort,
        method=method,
        treated=treated,
        control=control,
        notes=notes,
    )
