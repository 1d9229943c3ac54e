"""MoJ-compatible proven-reoffending measures, court-proven only.

Definition (data_first.md §12; survival_and_overlap.md §6): offenders released from custody or given a
non-custodial conviction form 3-month cohorts; each person's first eligible index event in a cohort
counts; a proven reoffence is an offence committed within ``follow_up_days`` (365) of the index that is
proven by a court conviction within ``follow_up_days + waiting_days`` (365 + 183). Data First holds
court proceedings only (no cautions, no police records), so these rates undercount the official
measure: they are labelled ``court-proven``. Cohorts whose follow-up plus waiting period runs past the
courts' coverage are flagged ``complete_follow_up = False`` and left out of rates by default.

The adjusted rate is observed / expected x reference rate, with the expected rate from a logistic
model fitted on a reference period (indirect standardisation, as the MoJ's predicted-rate approach).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm

from djs_toolkit.errors import DJSUserError
from djs_toolkit.spine import _observed_until, build_spine
from djs_toolkit.survival.cohort import (INDEX_TYPES, _band_sql, build_cases, index_select, prior_contacts_sql,
                                        reentry_cohort)
from djs_toolkit.survival.km import km

__all__ = ["proven_reoffending", "proven_reoffending_offenders", "MEASURE_LABEL"]

MEASURE_LABEL = "court-proven reoffending (Data First: court convictions only, no cautions)"
_ADJUST = ["age_band", "sex", "prior_band", "index_type"]


_MOJ_INDEX = ("release", "court_disposal", "probation_start")  # custody releases and all non-custodial convictions


def proven_reoffending_offenders(extract, index: Sequence[str] = _MOJ_INDEX,
                                 follow_up_days: int = 365, waiting_days: int = 183,
                                 lookback_days: int = 730) -> pd.DataFrame:
    """One row per offender per 3-month cohort with their proven reoffences.

    Example:
        >>> # off = proven_reoffending_offenders(extract)
        >>> # off.groupby("cohort")["reoffended"].mean()
    """
    indexes = [index] if isinstance(index, str) else list(index)
    bad = [i for i in indexes if i not in INDEX_TYPES]
    if bad:
        raise DJSUserError(f"Unknown index type(s) {bad}: use {', '.join(INDEX_TYPES)}.")
    build_spine(extract)
    build_cases(extract)
    order = " ".join(f"WHEN '{n}' THEN {k}" for k, n in enumerate(indexes))
    idx = " UNION ALL ".join(index_select(n, INDEX_TYPES[n][1], INDEX_TYPES[n][2]) for n in indexes)
    courts_end = min(_observed_until(d, extract.extract_end) for d in ("mags_hocas", "crown_xhibit"))
    window = follow_up_days + waiting_days
    df = extract.engine.con.sql(f"""
        WITH i AS ({idx}),
        q AS (SELECT *, EXTRACT(YEAR FROM event_date) AS y, CAST(FLOOR((EXTRACT(MONTH FROM event_date) - 1) / 3) AS INTEGER) + 1 AS qtr,
                     ROW_NUMBER() OVER (PARTITION BY person_id, EXTRACT(YEAR FROM event_date),
                         FLOOR((EXTRACT(MONTH FROM event_date) - 1) / 3)
                         ORDER BY event_date, CASE index_type {order} END, record_id) AS rn FROM i),
        f AS (SELECT ROW_NUMBER() OVER (ORDER BY person_id, event_date, index_type) AS fid, * FROM q WHERE rn = 1),
        pr AS ({prior_contacts_sql("f", "fid", lookback_days)}),
        re AS (SELECT f.person_id, f.record_id, COUNT(DISTINCT s.dataset || s.record_id) AS reoffences,
                      MIN(s.offence_date) AS first_reoffence
               FROM f JOIN _spine s ON s.person_id = f.person_id
               AND s.event_type IN ('mags_conviction', 'crown_conviction') AND s.record_id <> f.record_id
               AND s.offence_date > f.event_date AND s.offence_date <= f.event_date + INTERVAL {int(follow_up_days)} DAY
               AND s.event_date <= f.event_date + INTERVAL {int(window)} DAY GROUP BY 1, 2)
        SELECT f.person_id, f.record_id, f.index_type, f.event_date AS index_date,
               CAST(f.y AS VARCHAR) || 'Q' || CAST(f.qtr AS VARCHAR) AS cohort, f.age_at_event AS age,
               {_band_sql('f.age_at_event')} AS age_band, f.sex, f.ethnicity_group, f.imd_decile, f.offence_group,
               COALESCE(pr.prior_contacts, 0) AS prior_contacts, COALESCE(re.reoffences, 0) AS reoffences,
               re.first_reoffence,
               f.event_date + INTERVAL {int(window)} DAY <= DATE '{courts_end}' AS complete_follow_up
        FROM f LEFT JOIN pr ON pr.fid = f.fid
        LEFT JOIN re ON re.person_id = f.person_id AND re.record_id = f.record_id
        ORDER BY f.person_id, f.event_date, f.index_type
    """).df()
    df["reoffended"] = df["reoffences"] > 0
    df["prior_band"] = pd.cut(df["prior_contacts"], [-1, 0, 2, 5, np.inf], labels=["0", "1-2", "3-5", "6+"])
    df["index_date"] = pd.to_datetime(df["index_date"]).astype("datetime64[ns]")
    df["first_reoffence"] = pd.to_datetime(df["first_reoffence"]).astype("datetime64[ns]")
    df.attrs.update(follow_up_days=follow_up_days, waiting_days=waiting_days, measure=MEASURE_LABEL,
                    courts_observed_until=pd.Timestamp(courts_end))
    return df


def _expected(off: pd.DataFrame, reference: tuple | None) -> tuple[np.ndarray, float]:
    """Predicted reoffending probability per offender from a logistic model on the reference period."""
    ok = off[off["complete_follow_up"]]
    if reference is None:
        cohorts = sorted(ok["cohort"].unique())[:4]  # the first year of complete cohorts
        ref = ok[ok["cohort"].isin(cohorts)]
    else:
        ref = ok[(ok["index_date"] >= pd.Timestamp(reference[0])) & (ok["index_date"] <= pd.Timestamp(reference[1]))]
    if ref["reoffended"].nunique() < 2:
        raise DJSUserError("The reference period has no variation in reoffending: choose a longer `reference`.")
    cols = [c for c in _ADJUST if off[c].nunique(dropna=True) > 1]
    x_all = pd.get_dummies(off[cols].astype("object").fillna("missing"), drop_first=False, dtype=float)
    keep = [c for c in x_all.columns if x_all.loc[ref.index, c].std() > 0]
    x_all = sm.add_constant(x_all[keep[1:] if len(keep) > 1 else keep], has_constant="add")
    with warnings.catch_warnings():
        # Small reference periods give separation warnings; the expected rate is still defined.
        warnings.simplefilter("ignore")
        fit = sm.GLM(ref["reoffended"].astype(float), x_all.loc[ref.index], family=sm.families.Binomial()).fit()
    return np.asarray(fit.predict(x_all)), float(ref["reoffended"].mean())


def _cif_365(extract, off: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Survival-based cumulative incidence of a new criminal court contact by 365 days, per cohort."""
    co = reentry_cohort(extract, sorted(off["index_type"].unique()))
    co = co.merge(off[["record_id", "index_type", "cohort"]], on=["record_id", "index_type"])
    rows = []
    for key, g in co.groupby(["cohort", *by], observed=True):
        curve = km(g, "duration", "event")
        before = curve[curve["time"] <= 365]
        s, lo, hi = (1.0, 1.0, 1.0) if before.empty else before.iloc[-1][["estimate", "ci_lower", "ci_upper"]]
        key = key if isinstance(key, tuple) else (key,)
        rows.append(dict(zip(["cohort", *by], key), cif_365=1 - s, cif_365_lower=1 - hi, cif_365_upper=1 - lo))
    return pd.DataFrame(rows, columns=["cohort", *by, "cif_365", "cif_365_lower", "cif_365_upper"])


def proven_reoffending(cohort_or_extract, index: Sequence[str] = _MOJ_INDEX, by: str | None = None,
                       follow_up_days: int = 365, waiting_days: int = 183, reference: tuple | None = None,
                       include_incomplete: bool = False, with_cif: bool = True) -> pd.DataFrame:
    """MoJ-style proven-reoffending measures per 3-month cohort, beside the survival-based CIF at 365 days.

    Args:
        cohort_or_extract: an `Extract`, or the frame from `proven_reoffending_offenders`.
        index: index types forming the cohort (default: custody releases and non-custodial convictions,
            community orders and suspended sentences entering at their probation start).
        by: an optional column of the offender table to break results down by (e.g. ``index_type``).
        follow_up_days: offences committed within this many days count (365).
        waiting_days: extra days for the offence to be proven in court (183).
        reference: (start, end) of index dates for the adjustment model; default the first 4 complete cohorts.
        include_incomplete: also report cohorts whose follow-up is not complete.
        with_cif: add the survival-based cumulative incidence at 365 days (needs an `Extract`).

    Returns:
        One row per cohort (and ``by`` level): ``n_offenders``, ``n_reoffenders``, ``rate``,
        ``reoffences``, ``reoffences_per_offender``, ``reoffences_per_reoffender``, ``expected_rate``,
        ``o_e_ratio``, ``adjusted_rate``, ``complete_follow_up``, ``cif_365`` (with CI), ``measure``.

    Example:
        >>> # proven_reoffending(extract, by="index_type").head()
    """
    from djs_toolkit.data import Extract

    extract = cohort_or_extract if isinstance(cohort_or_extract, Extract) else None
    off = (proven_reoffending_offenders(extract, index, follow_up_days, waiting_days) if extract is not None
           else cohort_or_extract.copy())
    need = {"cohort", "reoffences", "reoffended", "complete_follow_up", "index_type", "record_id"}
    if not need <= set(off.columns):
        raise DJSUserError("Pass an Extract or the frame returned by `proven_reoffending_offenders`.")
    if not off["complete_follow_up"].any():
        raise DJSUserError("No cohort has complete follow-up (365 + 183 days inside the courts' coverage).")
    off["expected"], ref_rate = _expected(off, reference)
    keys = ["cohort", *([by] if by else [])]
    if not include_incomplete:
        off = off[off["complete_follow_up"]]
    g = off.groupby(keys, observed=True)
    res = pd.DataFrame({
        "n_offenders": g.size(), "n_reoffenders": g["reoffended"].sum(), "reoffences": g["reoffences"].sum(),
        "expected_rate": g["expected"].mean(), "complete_follow_up": g["complete_follow_up"].all(),
    }).reset_index()
    res["rate"] = res["n_reoffenders"] / res["n_offenders"]
    res["reoffences_per_offender"] = res["reoffences"] / res["n_offenders"]
    res["reoffences_per_reoffender"] = res["reoffences"] / res["n_reoffenders"].where(res["n_reoffenders"] > 0)
    res["o_e_ratio"] = res["rate"] / res["expected_rate"]
    res["adjusted_rate"] = res["o_e_ratio"] * ref_rate
    if with_cif and extract is not None:
        res = res.merge(_cif_365(extract, off, [by] if by else []), on=keys, how="left")
    res["measure"] = MEASURE_LABEL
    return res.sort_values(keys).reset_index(drop=True)
