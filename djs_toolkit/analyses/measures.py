"""MoJ-compatible proven-reoffending measures, court-proven only.

Definition (docs/data.md §12; docs/methods.md §6): offenders released from custody or given a
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
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import statsmodels.api as sm

from djs_toolkit.analyses.cases import INDEX_TYPES, build_cases, index_select, prior_contacts_sql
from djs_toolkit.analyses.cohort import age_band_sql, cohort_table
from djs_toolkit.errors import DJSUserError
from djs_toolkit.spine import build_spine, observed_until
from djs_toolkit.survival.km import km

if TYPE_CHECKING:
    from djs_toolkit.analyses.overlap import Window
    from djs_toolkit.data.extract import Extract

__all__ = ["MEASURE_LABEL", "proven_reoffending", "proven_reoffending_offenders"]

MEASURE_LABEL = "court-proven reoffending (Data First: court convictions only, no cautions)"
_ADJUST = ["age_band", "sex", "prior_band", "index_type"]


_MOJ_INDEX = ("release", "court_disposal", "probation_start")  # custody releases and all non-custodial convictions


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
        re AS (SELECT f.person_id, f.record_id, COUNT(DISTINCT s.dataset || s.record_id) AS reoffences,
                      MIN(s.offence_date) AS first_reoffence
               FROM f JOIN _spine s ON s.person_id = f.person_id
               AND s.event_type IN ('mags_conviction', 'crown_conviction') AND s.record_id <> f.record_id
               AND s.offence_date > f.event_date AND s.offence_date <= f.event_date + INTERVAL {int(follow_up_days)} DAY
               AND s.event_date <= f.event_date + INTERVAL {int(window)} DAY GROUP BY 1, 2)
        SELECT f.person_id, f.record_id, f.index_type, f.event_date AS index_date,
               CAST(f.y AS VARCHAR) || 'Q' || CAST(f.qtr AS VARCHAR) AS cohort, f.age_at_event AS age,
               {age_band_sql("f.age_at_event")} AS age_band, f.sex, f.ethnicity_group, f.imd_decile, f.offence_group,
               COALESCE(pr.prior_contacts, 0) AS prior_contacts, COALESCE(re.reoffences, 0) AS reoffences,
               re.first_reoffence,
               f.event_date + INTERVAL {int(window)} DAY <= DATE '{courts_end}' AS complete_follow_up,
               COALESCE(re.reoffences, 0) > 0 AS reoffended,
               {_prior_band_sql("COALESCE(pr.prior_contacts, 0)")} AS prior_band
        FROM f LEFT JOIN pr ON pr.fid = f.fid
        LEFT JOIN re ON re.person_id = f.person_id AND re.record_id = f.record_id
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
    follow-up and membership of an explicit reference period; ``n``, ``k`` (reoffenders), ``reoffences``."""
    cols = list(dict.fromkeys([*keys, *_ADJUST, "complete_follow_up"]))
    ref = (
        "FALSE"
        if reference is None
        else f"index_date >= DATE '{pd.Timestamp(reference[0]).date()}' "
        f"AND index_date <= DATE '{pd.Timestamp(reference[1]).date()}'"
    )
    sel = ", ".join(cols)
    return con.sql(
        f"SELECT {sel}, {ref} AS in_period, COUNT(*) AS n, SUM(CAST(reoffended AS INTEGER)) AS k, "
        f"SUM(reoffences) AS reoffences FROM {table} GROUP BY ALL ORDER BY ALL"
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


def proven_reoffending(
    cohort_or_extract: pd.DataFrame | Extract,
    index: Sequence[str] = _MOJ_INDEX,
    by: str | None = None,
    follow_up_days: int = 365,
    waiting_days: int = 183,
    reference: Window | None = None,
    include_incomplete: bool = False,
    with_cif: bool = True,
) -> pd.DataFrame:
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

    keys = ["cohort", *([by] if by else [])]
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
    g = cells.groupby(keys, observed=True)
    res = g[["n", "k", "reoffences", "expected"]].sum()
    res = pd.DataFrame(
        {
            "n_offenders": res["n"].astype("int64"),
            "n_reoffenders": res["k"].astype("int64"),
            "reoffences": res["reoffences"].astype("int64"),
            "expected_rate": res["expected"] / res["n"],
            "complete_follow_up": g["complete_follow_up"].all(),
        }
    ).reset_index()
    res["rate"] = res["n_reoffenders"] / res["n_offenders"]
    res["reoffences_per_offender"] = res["reoffences"] / res["n_offenders"]
    res["reoffences_per_reoffender"] = res["reoffences"] / res["n_reoffenders"].where(res["n_reoffenders"] > 0)
    res["o_e_ratio"] = res["rate"] / res["expected_rate"]
    res["adjusted_rate"] = res["o_e_ratio"] * ref_rate
    if with_cif and extract is not None:
        res = res.merge(_cif_365(extract, table, keys, not include_incomplete), on=keys, how="left")
    res["measure"] = MEASURE_LABEL
    return res.sort_values(keys).reset_index(drop=True)
