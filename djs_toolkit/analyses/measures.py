"""MoJ-compatible proven-reoffending measures, court-proven only.

Definition (the MoJ's Proven Reoffending Statistics; docs/measures.md says what Data First can and cannot match,
and by how much): offenders released from custody or given a non-custodial conviction (community orders and
suspended sentences at their probation start) form 3-month cohorts; each person's first eligible index event in
a cohort counts. A proven reoffence is a new offence committed within ``follow_up_days`` (365) of the index and
proven by a court conviction within ``follow_up_days + waiting_days`` (365 + 183):

- New offences only. Breach proceedings and non-criminal matters in the magistrates' courts are not offences;
  a Crown Court appeal is a later hearing of an offence already proven; a committal for sentence is the same
  offence as its magistrates' case (proven there, at the latest when the Crown Court receives it).
- Proven offences are counted, not court records: one per person and offence date, however many cases,
  appeals or committals carry it (the frequency measures).
- A conviction without an offence date (none on the case row or its principal offence) is dated by its first
  hearing, as the re-entry cohort dates outcomes, and counted in ``undated_reoffences``.
- A cohort is complete only if every index it can hold (to the quarter's last day) has the whole follow-up and
  waiting period inside the courts' coverage; incomplete cohorts are flagged and left out by default.
- Adults (18 or over at the index) and juveniles (10-17) are reported separately, as the MoJ publishes them;
  rates and frequencies come with confidence intervals.

Data First holds court proceedings only (no cautions, no police records), so these rates undercount the official
measure: they are labelled ``court-proven``. The adjusted rate is observed / expected x reference rate, with the
expected rate from a logistic model fitted on a reference period (indirect standardisation, as the MoJ's
predicted-rate approach).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.stats import norm
from scipy.stats import t as student_t

from djs_toolkit.analyses.cases import (
    INDEX_TYPES,
    MISSING,
    attributes_at_sql,
    build_cases,
    index_select,
    prior_contacts_sql,
)
from djs_toolkit.analyses.cohort import AGE_RANGE, cohort_table, index_age_sql
from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import age_band_sql
from djs_toolkit.spine import build_spine, observed_until
from djs_toolkit.spine.sql import CONVICTION_DISPOSALS
from djs_toolkit.survival.km import km

if TYPE_CHECKING:
    from djs_toolkit.analyses.overlap import Window
    from djs_toolkit.data.extract import Extract

__all__ = ["MEASURE_LABEL", "proven_reoffending", "proven_reoffending_offenders"]

MEASURE_LABEL = "court-proven reoffending (Data First: court convictions only, no cautions)"
_ADJUST = ["age_band", "sex", "prior_band", "index_type"]


_MOJ_INDEX = ("release", "court_disposal", "probation_start")  # custody releases and all non-custodial convictions
_CONVICTED = "(" + ", ".join(f"'{d}'" for d in CONVICTION_DISPOSALS) + ")"
# A conviction for a new offence (over ``_cases``): magistrates' criminal proceedings (not breaches or non-criminal
# matters) and Crown Court cases other than appeals.
_NEW_OFFENCE = (
    f"disposal IN {_CONVICTED} AND end_date IS NOT NULL AND ((event_type = 'mags_case' AND (case_type IS NULL OR "
    "case_type = 'Criminal')) OR (event_type = 'crown_case' AND (case_type IS NULL OR case_type <> 'Appeal')))"
)
# When an offence was proven: the conviction's result date; a committal for sentence was convicted in the
# magistrates' court, at the latest by the Crown Court's receipt of it.
_PROVEN_ON = (
    "CASE WHEN event_type = 'crown_case' AND case_type = 'Committal for sentence' THEN event_date ELSE end_date END"
)
ADULT_AGE = 18  # the MoJ's adult cohort: 18 or over at the index; juveniles 10-17


_PRIOR_BANDS = ((0, 0, "0"), (1, 2, "1-2"), (3, 5, "3-5"), (6, None, "6+"))  # prior contacts, for the adjustment


def _prior_band_sql(col: str) -> str:
    return (
        "CASE "
        + " ".join(
            f"WHEN {col} >= {lo}" + (f" AND {col} <= {hi}" if hi is not None else "") + f" THEN '{lab}'"
            for lo, hi, lab in _PRIOR_BANDS
        )
        + " END"
    )


def _offenders_table(
    extract: Extract, index: Sequence[str], follow_up_days: int, waiting_days: int, lookback_days: int
) -> tuple[str, dt.date]:
    """Create (once per extract and arguments) the engine table of `proven_reoffending_offenders`.

    The measures aggregate it in the engine: a national extract has about 6 million offender-cohort
    rows, which as a pandas frame took 3 GiB and as a model matrix five times that (bench/pipeline.py).

    Returns:
        (table name, the courts' observed-until date).
    """
    indexes = [index] if isinstance(index, str) else list(index)
    bad = [i for i in indexes if i not in INDEX_TYPES]
    if bad:
        raise DJSUserError(f"Unknown index type(s) {bad}: use {', '.join(INDEX_TYPES)}.")
    courts_end = min(observed_until(d, extract.extract_end) for d in ("mags_hocas", "crown_xhibit"))
    made = extract.__dict__.setdefault("_pr_tables", {})
    key = (tuple(indexes), int(follow_up_days), int(waiting_days), int(lookback_days))
    if key in made:
        return made[key], courts_end
    build_spine(extract)
    build_cases(extract)
    order = " ".join(f"WHEN '{n}' THEN {k}" for k, n in enumerate(indexes))
    idx = " UNION ALL ".join(index_select(n, INDEX_TYPES[n][1], INDEX_TYPES[n][2]) for n in indexes)
    window = follow_up_days + waiting_days
    name = f"_pr_offenders_{len(made)}"
    quarter_end = "CAST(DATE_TRUNC('quarter', f.event_date) + INTERVAL 3 MONTH - INTERVAL 1 DAY AS DATE)"
    extract.engine.con.execute(f"""
        CREATE OR REPLACE TABLE {name} AS
        WITH i AS ({idx}),
        q AS (SELECT *, EXTRACT(YEAR FROM event_date) AS y,
                     CAST(FLOOR((EXTRACT(MONTH FROM event_date) - 1) / 3) AS INTEGER) + 1 AS qtr,
                     ROW_NUMBER() OVER (PARTITION BY person_id, EXTRACT(YEAR FROM event_date),
                         FLOOR((EXTRACT(MONTH FROM event_date) - 1) / 3)
                         ORDER BY event_date, CASE index_type {order} END, record_id) AS rn FROM i),
        f AS (SELECT ROW_NUMBER() OVER (ORDER BY person_id, event_date, index_type) AS fid, * FROM q WHERE rn = 1),
        pr AS ({prior_contacts_sql("f", "fid", lookback_days)}),
        ages AS ({index_age_sql(extract, "f", "fid")}),
        att AS ({attributes_at_sql("f", "fid")}),
        offences AS (
            SELECT person_id, COALESCE(offence_date, event_date) AS od, MIN({_PROVEN_ON}) AS proven,
                   MIN(CASE WHEN offence_date IS NULL THEN 1 ELSE 0 END) AS undated
            FROM _cases WHERE {_NEW_OFFENCE} GROUP BY person_id, COALESCE(offence_date, event_date)),
        re AS (SELECT f.fid, COUNT(*) AS reoffences, MIN(o.od) AS first_reoffence, SUM(o.undated) AS undated_reoffences
               FROM f JOIN offences o ON o.person_id = f.person_id AND o.od > f.event_date
               AND o.od <= f.event_date + INTERVAL {int(follow_up_days)} DAY
               AND o.proven <= f.event_date + INTERVAL {int(window)} DAY GROUP BY f.fid)
        SELECT f.person_id, f.record_id, f.index_type, f.event_date AS index_date,
               CAST(f.y AS VARCHAR) || 'Q' || CAST(f.qtr AS VARCHAR) AS cohort, ag.age,
               {age_band_sql("ag.age")} AS age_band,
               CASE WHEN ag.age IS NULL THEN '{MISSING}' WHEN ag.age >= {ADULT_AGE} THEN 'Adult' ELSE 'Juvenile' END
                   AS age_group, att.sex, att.ethnicity_group, att.imd_decile, f.offence_group,
               COALESCE(pr.prior_contacts, 0) AS prior_contacts, COALESCE(re.reoffences, 0) AS reoffences,
               COALESCE(re.undated_reoffences, 0) AS undated_reoffences, re.first_reoffence,
               {quarter_end} + INTERVAL {int(window)} DAY <= DATE '{courts_end}' AS complete_follow_up,
               COALESCE(re.reoffences, 0) > 0 AS reoffended,
               {_prior_band_sql("COALESCE(pr.prior_contacts, 0)")} AS prior_band
        FROM f LEFT JOIN pr ON pr.fid = f.fid LEFT JOIN re ON re.fid = f.fid LEFT JOIN att ON att.fid = f.fid
        LEFT JOIN (SELECT fid, CASE WHEN age0 BETWEEN {AGE_RANGE[0]} AND {AGE_RANGE[1]} THEN age0 END AS age
                   FROM ages) ag ON ag.fid = f.fid
    """)
    made[key] = name
    return name, courts_end


def proven_reoffending_offenders(
    extract: Extract,
    index: Sequence[str] = _MOJ_INDEX,
    follow_up_days: int = 365,
    waiting_days: int = 183,
    lookback_days: int = 730,
) -> pd.DataFrame:
    """One row per offender per 3-month cohort with their proven reoffences.

    Row-level: for a researcher's own breakdowns. `proven_reoffending` computes the measures without
    fetching these rows (at national scale about 6 million).

    Example:
        >>> # off = proven_reoffending_offenders(extract)
        >>> # off.groupby("cohort")["reoffended"].mean()
    """
    name, courts_end = _offenders_table(extract, index, follow_up_days, waiting_days, lookback_days)
    df = extract.engine.con.sql(f"SELECT * FROM {name} ORDER BY person_id, index_date, index_type").df()
    df["prior_band"] = pd.Categorical(df["prior_band"], categories=[b[2] for b in _PRIOR_BANDS])
    df["index_date"] = pd.to_datetime(df["index_date"]).astype("datetime64[ns]")
    df["first_reoffence"] = pd.to_datetime(df["first_reoffence"]).astype("datetime64[ns]")
    df.attrs.update(
        follow_up_days=follow_up_days,
        waiting_days=waiting_days,
        measure=MEASURE_LABEL,
        courts_observed_until=pd.Timestamp(courts_end),
    )
    return df


def _cells(con: duckdb.DuckDBPyConnection, table: str, keys: list[str], reference: Window | None) -> pd.DataFrame:
    """Offenders aggregated to cells: every combination of ``keys``, the adjustment variables, complete
    follow-up and membership of an explicit reference period; ``n``, ``k`` (reoffenders), ``reoffences``, their
    sum of squares ``reoffences_sq`` (for the frequencies' intervals) and ``undated_reoffences``."""
    cols = list(dict.fromkeys([*keys, *_ADJUST, "complete_follow_up"]))
    have = set(con.sql(f"SELECT * FROM {table} LIMIT 0").columns)
    undated = "SUM(undated_reoffences)" if "undated_reoffences" in have else "0"
    ref = (
        "FALSE"
        if reference is None
        else f"index_date >= DATE '{pd.Timestamp(reference[0]).date()}' "
        f"AND index_date <= DATE '{pd.Timestamp(reference[1]).date()}'"
    )
    sel = ", ".join(cols)
    return con.sql(
        f"SELECT {sel}, {ref} AS in_period, COUNT(*) AS n, SUM(CAST(reoffended AS INTEGER)) AS k, "
        "SUM(reoffences) AS reoffences, SUM(reoffences * reoffences) AS reoffences_sq, "
        f"{undated} AS undated_reoffences FROM {table} GROUP BY ALL ORDER BY ALL"
    ).df()


def _expected(cells: pd.DataFrame, reference: Window | None) -> tuple[np.ndarray, float]:
    """Predicted reoffending probability per cell from a logistic model of the reference period.

    Main effects of `_ADJUST` (those with more than one level), fitted on the reference cells as
    binomial counts: the same likelihood as one row per offender. A level absent from the reference
    period takes its variable's reference level (it has no estimate)."""
    ok = cells["complete_follow_up"].to_numpy(bool)
    if reference is None:
        first = sorted(cells.loc[ok, "cohort"].unique())[:4]  # the first year of complete cohorts
        in_ref = ok & cells["cohort"].isin(first).to_numpy()
    else:
        in_ref = ok & cells["in_period"].to_numpy(bool)
    n, k = cells["n"].to_numpy(float), cells["k"].to_numpy(float)
    n_ref, k_ref = n[in_ref].sum(), k[in_ref].sum()
    if n_ref == 0 or k_ref in (0, n_ref):
        raise DJSUserError("The reference period has no variation in reoffending: choose a longer `reference`.")
    blocks = [np.ones((len(cells), 1))]
    for col in _ADJUST:
        level = cells[col].astype("object").fillna("missing").astype(str).to_numpy()
        if len(np.unique(level)) < 2:
            continue
        ref_levels, at = np.unique(level[in_ref], return_inverse=True)
        base = ref_levels[np.argmax(np.bincount(at, weights=n[in_ref]))]  # the reference period's commonest
        for lev in ref_levels[ref_levels != base]:
            blocks.append((level == lev).astype(float)[:, None])
    x = np.hstack(blocks)
    with warnings.catch_warnings():
        # Sparse reference cells can separate (a level with no reoffender): its estimate runs off to
        # minus infinity and its prediction to 0, the limit of the likelihood; the rest is unaffected.
        warnings.simplefilter("ignore")
        fit = sm.GLM(
            np.column_stack([k[in_ref], n[in_ref] - k[in_ref]]), x[in_ref], family=sm.families.Binomial()
        ).fit()
    return np.asarray(fit.predict(x)), k_ref / n_ref


def _cif_365(extract: Extract, table: str, keys: list[str], complete_only: bool) -> pd.DataFrame:
    """Survival-based cumulative incidence of a new criminal court contact by 365 days, per cohort.

    The re-entry cohort of every index type present is built in the engine (`cohort_table`) and only
    its (group, duration, event) counts are fetched: the Kaplan-Meier takes them as frequency weights."""
    con = extract.engine.con
    types = [r[0] for r in con.sql(f"SELECT DISTINCT index_type FROM {table} ORDER BY 1").fetchall()]
    cohort_table(extract, types, covariates=False)
    sel = ", ".join(f"o.{c}" for c in keys)
    where = "WHERE o.complete_follow_up" if complete_only else ""
    try:
        counts = con.sql(
            f"SELECT {sel}, c.duration, c.event, COUNT(*) AS n FROM _cohort c JOIN {table} o "
            f"ON o.record_id = c.record_id AND o.index_type = c.index_type {where} "
            "GROUP BY ALL ORDER BY ALL"
        ).df()
    finally:
        con.execute("DROP TABLE IF EXISTS _cohort")
        con.execute("DROP TABLE IF EXISTS _idx")
    rows = []
    for key, g in counts.groupby(keys, observed=True):
        curve = km(g, "duration", "event", weights="n")
        before = curve[curve["time"] <= 365]
        s, lo, hi = (1.0, 1.0, 1.0) if before.empty else before.iloc[-1][["estimate", "ci_lower", "ci_upper"]]
        key = key if isinstance(key, tuple) else (key,)
        rows.append(dict(zip(keys, key, strict=True), cif_365=1 - s, cif_365_lower=1 - hi, cif_365_upper=1 - lo))
    return pd.DataFrame(rows, columns=[*keys, "cif_365", "cif_365_lower", "cif_365_upper"])


def _wilson(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion k / n (R: ``prop.test(k, n, correct = FALSE)``)."""
    p, d = k / n, 1 + z * z / n
    mid, half = (p + z * z / (2 * n)) / d, z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return mid - half, mid + half


def _mean_interval(total: np.ndarray, total_sq: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, ...]:
    """Mean of per-person counts from their sum and sum of squares, with the t interval (R: ``t.test``); NaN for
    fewer than two people. Cohorts are hundreds to thousands of offenders, so the mean of these skewed counts is
    close to normal; the lower end is clipped at 0."""
    n = n.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / n
        var = (total_sq - n * mean * mean) / (n - 1)
        half = student_t.ppf(1 - alpha / 2, n - 1) * np.sqrt(np.maximum(var, 0) / n)
    half = np.where(n > 1, half, np.nan)
    return mean, np.maximum(mean - half, 0), mean + half


def proven_reoffending(
    cohort_or_extract: pd.DataFrame | Extract,
    index: Sequence[str] = _MOJ_INDEX,
    by: str | Sequence[str] | None = "age_group",
    follow_up_days: int = 365,
    waiting_days: int = 183,
    reference: Window | None = None,
    include_incomplete: bool = False,
    with_cif: bool = True,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """MoJ-style proven-reoffending measures per 3-month cohort, beside the survival-based CIF at 365 days.

    Args:
        cohort_or_extract: an `Extract`, or the frame from `proven_reoffending_offenders`.
        index: index types forming the cohort (default: custody releases and non-custodial convictions,
            community orders and suspended sentences entering at their probation start).
        by: column(s) of the offender table to break results down by; default ``age_group`` (``Adult``: 18 or
            over at the index, ``Juvenile``: 10-17, ``Missing``), as the MoJ publishes adults and juveniles apart;
            None for all ages together.
        follow_up_days: offences committed within this many days count (365).
        waiting_days: extra days for the offence to be proven in court (183).
        reference: (start, end) of index dates for the adjustment model; default the first 4 complete cohorts.
        include_incomplete: also report cohorts whose follow-up is not complete.
        with_cif: add the survival-based cumulative incidence at 365 days (needs an `Extract`).
        alpha: 1 - confidence level of the intervals.

    Returns:
        One row per cohort (and ``by`` level): ``n_offenders``, ``n_reoffenders``, ``rate`` (binary rate, with
        Wilson ``rate_lower`` / ``rate_upper``), ``reoffences`` (proven offences: distinct person and offence
        date), ``undated_reoffences`` (of those, dated by their first hearing), ``reoffences_per_offender`` and
        ``reoffences_per_reoffender`` (each with t-interval ``_lower`` / ``_upper``), ``expected_rate``,
        ``o_e_ratio``, ``adjusted_rate``, ``complete_follow_up``, ``cif_365`` (with CI), ``measure``.

    Example:
        >>> # proven_reoffending(extract, by=["age_group", "index_type"]).head()
    """
    from djs_toolkit.data import Extract

    keys = ["cohort", *([by] if isinstance(by, str) else list(by or []))]
    if isinstance(cohort_or_extract, Extract):
        extract = cohort_or_extract
        table, _ = _offenders_table(extract, index, follow_up_days, waiting_days, 730)
        con = extract.engine.con
    else:
        off = cohort_or_extract
        need = {
            "cohort",
            "reoffences",
            "reoffended",
            "complete_follow_up",
            "index_type",
            "record_id",
            "index_date",
            *_ADJUST,
            *keys,
        }
        if not isinstance(off, pd.DataFrame) or not need <= set(off.columns):
            raise DJSUserError("Pass an Extract or the frame returned by `proven_reoffending_offenders`.")
        extract, table = None, "_pr_frame"
        con = duckdb.connect()  # the same aggregation as in the engine, over the caller's frame
        con.register(table, off)
    cells = _cells(con, table, keys, reference)
    if not cells["complete_follow_up"].any():
        raise DJSUserError("No cohort has complete follow-up (365 + 183 days inside the courts' coverage).")
    cells["expected"], ref_rate = _expected(cells, reference)
    cells["expected"] *= cells["n"]
    if not include_incomplete:
        cells = cells[cells["complete_follow_up"]]
    g = cells.groupby(keys, observed=True, dropna=False)
    res = g[["n", "k", "reoffences", "reoffences_sq", "undated_reoffences", "expected"]].sum()
    res = pd.DataFrame(
        {
            "n_offenders": res["n"].astype("int64"),
            "n_reoffenders": res["k"].astype("int64"),
            "reoffences": res["reoffences"].astype("int64"),
            "undated_reoffences": res["undated_reoffences"].astype("int64"),
            "reoffences_sq": res["reoffences_sq"].astype(float),
            "expected_rate": res["expected"] / res["n"],
            "complete_follow_up": g["complete_follow_up"].all(),
        }
    ).reset_index()
    n, k, r, r2 = (res[c].to_numpy(float) for c in ("n_offenders", "n_reoffenders", "reoffences", "reoffences_sq"))
    res["rate"] = k / n
    res["rate_lower"], res["rate_upper"] = _wilson(k, n, float(norm.ppf(1 - alpha / 2)))
    for name, m in (("offender", n), ("reoffender", k)):  # reoffenders hold every reoffence: same sums
        mean, lo, hi = _mean_interval(r, r2, m, alpha)
        res[f"reoffences_per_{name}"], res[f"reoffences_per_{name}_lower"], res[f"reoffences_per_{name}_upper"] = (
            np.where(m > 0, mean, np.nan),
            lo,
            hi,
        )
    res = res.drop(columns="reoffences_sq")
    res["o_e_ratio"] = res["rate"] / res["expected_rate"]
    res["adjusted_rate"] = res["o_e_ratio"] * ref_rate
    if with_cif and extract is not None:
        res = res.merge(_cif_365(extract, table, keys, not include_incomplete), on=keys, how="left")
    res["measure"] = MEASURE_LABEL
    return res.sort_values(keys).reset_index(drop=True)
