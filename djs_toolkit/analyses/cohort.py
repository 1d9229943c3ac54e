"""Re-entry cohorts: one row per index event, with covariates at index, duration and censoring.

Built from the spine in SQL (DuckDB), so a national extract never goes through pandas row by row.

Conventions (one, documented):
- Time is in whole days from the index date; a person is at risk on ``(0, duration]``.
- The outcome is the first outcome event strictly after the index date from another record. For
  criminal-court outcomes its date is the new case's offence date (the case date if missing), and
  follow-up stops ``waiting_days`` before the courts' coverage ends, so offences committed just
  before the cut-off have had time to reach court (the MoJ 6-month waiting period, docs/data.md §12.1).
- Censoring is at the earliest ``observed_until`` of the outcome datasets (coverage end, the day
  before a Common Platform cliff, or the data cut-off; see `djs_toolkit.spine.coverage`).
- With ``street_time``, days spent in custody after the index (prison journeys) are subtracted: time in
  custody is not time at risk of a new offence.
- Competing events (``competing=``) end follow-up first with ``event = 2``.
- Covariates are what the person's records dated on or before the index say (`attributes_at_sql`,
  `index_age_sql`, prior flags in the look-back): a record added after the index (a sex first recorded at a
  later criminal case) is never read, because whether it exists depends on the outcome. An attribute no
  record up to the index holds is the level ``Missing`` (ethnicity: ``Not stated``; IMD decile: missing), kept
  in the cohort rather than dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from djs_toolkit.analyses.cases import (
    CRIMINAL_CASE,
    INDEX_TYPES,
    attributes_at_sql,
    build_cases,
    index_select,
    prior_contacts_sql,
)
from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import DATASETS, age_band_sql
from djs_toolkit.spine import Selector, as_selector, build_spine, observed_until
from djs_toolkit.spine.sql import days_between

if TYPE_CHECKING:
    from djs_toolkit.analyses.overlap import Window
    from djs_toolkit.data.extract import Extract

__all__ = [
    "OUTCOMES",
    "cohort_table",
    "index_age_sql",
    "reentry_cohort",
]

# Outcome definitions: (datasets whose coverage bounds follow-up, event filter, dated by offence?).
OUTCOMES: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "any_criminal_court": (("mags_hocas", "crown_xhibit"), CRIMINAL_CASE, True),
    "magistrates": (
        ("mags_hocas",),
        "event_type = 'mags_case' AND (case_type IS NULL OR case_type = 'Criminal')",
        True,
    ),
    "custody": (("prison_nomis",), "event_type = 'custody_start'", False),
    "any_justice_contact": (
        tuple(DATASETS),
        "event_type IN ('mags_case', 'crown_case', 'custody_start', "
        "'probation_start', 'family_case_start', 'civil_claim')",
        False,
    ),
}
# A family party as an adult: not a child party, and 18 or over at the case start (``age_at_case_start``)
# when recorded; applicants and respondents can be 16 or 17 (young parents, forced marriage applicants).
_ADULT_PARTY = "(s.party_role IS NULL OR s.party_role <> 'Child') AND (s.age_at_event IS NULL OR s.age_at_event >= 18)"
_PRIOR_FLAGS = {
    "prior_possession_claim": "s.event_type = 'civil_claim' "
    "AND s.case_type IN ('Landlord possession', 'Mortgage possession') "
    "AND (s.party_role IS NULL OR s.party_role = 'Defendant')",
    "prior_family_case": f"s.event_type = 'family_case_start' AND {_ADULT_PARTY}",
    "prior_fla_case": f"s.event_type = 'family_case_start' AND s.case_type = 'Family Law Act' AND {_ADULT_PARTY}",
    "prior_custody": "s.event_type = 'custody_start'",
    "prior_probation": "s.event_type = 'probation_start'",
}


_AGE_SOURCES = {  # dataset: (table, recorded age, date the age refers to)
    "mags_hocas": ("mags_defendant_case", "age_at_offence", "offence_date"),
    "crown_xhibit": ("crown_defendant_case", "age_at_offence", "offence_date"),
    "prison_nomis": ("prison_journey", "age_at_reception", "journey_start_date"),
    "probation_delius": ("probation_flatfile", "age_at_offence", "main_offence_date"),
}
AGE_RANGE = (10, 100)  # ages outside this are recording errors (docs/data.md §14.4): missing


def index_age_sql(extract: Extract, index_table: str = "_idx", key: str = "idx_id") -> str:
    """SQL over ``index_table`` (``key``, ``person_id``, ``event_date``, ``dataset``, ``record_id``,
    ``age_at_event``): ``key``, ``age0`` = estimated age in completed years at the index date.

    Data First records age in completed years at a reference date (offence, reception), not a birth
    date: recorded age ``a`` at ``ref`` puts the birth date in ``(ref - (a + 1) years, ref - a years]``.
    The person's records dated up to the index (criminal courts, prison, probation; recorded ages in
    `AGE_RANGE`; a magistrates' case without an offence date refers to its principal offence's) narrow
    that year down together: the birth date lies in the intersection of their intervals, and its
    midpoint gives the age at the index. With a single record this is the age at the index of someone
    half a year older than recorded at the reference date (errors at band edges both ways instead of
    making everyone up to a year younger); every further record can only shorten the interval, so
    fewer ages fall on the wrong side of a band edge (small dummy extract: 13% of index ages a year
    off and 1.2% in another band of the truth's model, against 22% and 2.4% from the index record
    alone), and an index record without a usable age takes it from the person's others. Records after
    the index are not used: how many there are depends on re-entry, the outcome. Intervals that do
    not intersect (a recording error, records of two people linked as one) fall back to the index
    record's own interval, and without one to the spine's ``age_at_event``."""
    have = set(extract.tables)
    parts = [
        f"SELECT '{ds}' AS dataset, row_id_hash AS record_id, {a} AS a, {d} AS ref FROM {t}"
        for ds, (t, a, d) in _AGE_SOURCES.items()
        if t in have
    ]
    src = (" UNION ALL ".join(parts)) if parts else "SELECT NULL AS dataset, NULL AS record_id, NULL AS a, NULL AS ref"
    lo, hi = AGE_RANGE

    def mid(t: str) -> str:  # midpoint of [t.lo, t.hi]
        return f"{t}.lo + CAST(FLOOR({days_between(f'{t}.lo', f'{t}.hi')} / 2) AS INTEGER)"

    dob = "b.dob"
    completed = (
        f"CAST(EXTRACT(YEAR FROM b.event_date) - EXTRACT(YEAR FROM {dob}) - CASE WHEN "
        f"EXTRACT(MONTH FROM b.event_date) * 100 + EXTRACT(DAY FROM b.event_date) < "
        f"EXTRACT(MONTH FROM {dob}) * 100 + EXTRACT(DAY FROM {dob}) THEN 1 ELSE 0 END AS INTEGER)"
    )
    return f"""WITH rec AS (
            SELECT u.dataset, u.record_id, CAST(u.a AS INTEGER) AS a, COALESCE(u.ref, c.offence_date) AS ref
            FROM (SELECT dataset, record_id, MIN(a) AS a, MIN(ref) AS ref FROM ({src}) q GROUP BY dataset, record_id) u
            LEFT JOIN _cases c ON c.record_id = u.record_id AND c.dataset = u.dataset
            WHERE u.a BETWEEN {lo} AND {hi}),
        bounds AS (
            SELECT p.person_id, r.dataset, r.record_id, r.ref, CAST(r.ref - INTERVAL (r.a + 1) YEAR AS DATE) + 1 AS lo,
                   CAST(r.ref - INTERVAL (r.a) YEAR AS DATE) AS hi
            FROM rec r JOIN (SELECT DISTINCT person_id, dataset, record_id FROM _spine) p
            ON p.dataset = r.dataset AND p.record_id = r.record_id WHERE r.ref IS NOT NULL),
        pooled AS (
            SELECT i.{key}, MAX(b.lo) AS lo, MIN(b.hi) AS hi FROM {index_table} i JOIN bounds b
            ON b.person_id = i.person_id AND b.ref <= i.event_date GROUP BY i.{key}),
        b AS (
            SELECT i.{key}, i.event_date, i.age_at_event,
                   CASE WHEN p.lo <= p.hi THEN {mid("p")} WHEN o.lo IS NOT NULL THEN {mid("o")} END AS dob
            FROM {index_table} i LEFT JOIN pooled p ON p.{key} = i.{key}
            LEFT JOIN bounds o ON o.record_id = i.record_id AND o.dataset = i.dataset AND o.person_id = i.person_id)
        SELECT {key}, CASE WHEN dob IS NOT NULL THEN {completed} ELSE age_at_event END AS age0 FROM b"""


def _date(d: dt.date | pd.Timestamp | str) -> str:
    return f"DATE '{pd.Timestamp(d).date()}'"


def _outcome_def(outcome: str | Selector) -> tuple[tuple[str, ...], str, bool]:
    """An outcome's (datasets bounding follow-up, event filter, dated by offence?): a name of `OUTCOMES`, or an event
    selector (`spine.select` or its string: its own events, dated by the event, follow-up bounded by its dataset)."""
    if isinstance(outcome, str) and outcome in OUTCOMES:
        return OUTCOMES[outcome]
    try:
        sel = as_selector(outcome)
    except DJSUserError as exc:
        raise DJSUserError(f"Unknown outcome {str(outcome)!r}: outcomes are {', '.join(OUTCOMES)}, or {exc}") from None
    return (sel.dataset,), sel.sql(), False


def _index_def(index: str | Selector) -> tuple[str, str, str, str]:
    """An index's (label, dataset, filter, date): a name of `INDEX_TYPES`, or an event selector (its events, dated by
    the event, labelled by the selector's string)."""
    if isinstance(index, str) and index in INDEX_TYPES:
        return (index, *INDEX_TYPES[index])
    try:
        sel = as_selector(index)
    except DJSUserError as exc:
        raise DJSUserError(
            f"Unknown index type {str(index)!r}: index types are {', '.join(INDEX_TYPES)}, or {exc}"
        ) from None
    return str(sel), sel.dataset, sel.sql(), "event_date"


def _follow_up_end(extract: Extract, outcome: str | Selector, waiting_days: int) -> tuple[dt.date, str]:
    datasets, _, by_offence = _outcome_def(outcome)
    ends = {d: observed_until(d, extract.extract_end) for d in datasets}
    end = min(ends.values())
    reason = "data_cutoff" if end >= extract.extract_end else "coverage_end"
    if by_offence and waiting_days:
        end = end - dt.timedelta(days=waiting_days)
    return end, reason


def reentry_cohort(
    extract: Extract,
    index: str | Selector | Sequence[str | Selector],
    outcome: str | Selector = "any_criminal_court",
    period: Window | None = None,
    lookback_days: int = 730,
    street_time: bool = True,
    waiting_days: int = 183,
    competing: Sequence[str] | None = None,
    first_per_person: bool = False,
) -> pd.DataFrame:
    """One row per index event with covariates at index, follow-up and outcome.

    Args:
        extract: an opened `Extract`.
        index: index type(s): ``release`` (after a custodial sentence), ``court_disposal``
            (non-custodial conviction), ``case_end`` (any case end without custody or an order),
            ``probation_start`` (community order or suspended sentence), ``possession_claim`` (as defendant),
            ``family_case`` (adult party, as the prior_family_case flag); or a custom index: an event selector
            (`spine.select` or its string, e.g. ``"family_case_start: case_type=Public law; party_role=Child"``),
            dated by the event and labelled ``index_type`` by the selector's string.
        outcome: ``any_criminal_court``, ``magistrates``, ``custody`` or ``any_justice_contact``; or a custom outcome:
            an event selector (dated by the event, follow-up censored where its dataset stops being observed).
        period: (start, end) of index dates; default: the index dataset's coverage up to the
            outcome's follow-up end.
        lookback_days: window before the index for prior contacts and prior-dataset flags.
        street_time: subtract days in custody after the index from follow-up.
        waiting_days: for offence-dated outcomes, follow-up stops this many days before coverage ends.
        competing: spine event types that end follow-up first as a competing event (``event = 2``).
        first_per_person: keep only each person's first index event in the period.

    Returns:
        DataFrame: ``person_id``, ``index_type``, ``index_date``, ``record_id``, ``age`` (completed
        years at the index, estimated from the birth-date interval the person's records up to the index
        allow: `index_age_sql`), ``age_band`` (``Missing`` without an age), ``sex`` (``F``, ``M`` or
        ``Missing``: the most frequent sex on the person's records dated on or before the index; civil records
        hold none, so a possession-claim defendant without an earlier criminal, prison, probation or family
        record is ``Missing``), ``ethnicity_group`` (likewise; ``Not stated`` without one), ``imd_decile``
        (the latest recorded decile up to the index; missing without one, and for residents of Wales, whose
        LSOAs have no English decile: missing, not less deprived), ``offence_group``,
        ``prior_contacts`` (distinct offence dates of criminal magistrates' cases in
        ``(index - lookback_days, index]``, the index case included; breach and non-criminal cases
        are not offences, see `build_cases`), ``prior_*`` flags (an event of that kind from another
        record in ``(index - lookback_days, index]``; for family cases an adult party: not a child
        party, 18 or over at the case start when the age is recorded; defendants only for possession
        claims), ``duration`` (days), ``event`` (0 censored,
        1 outcome, 2 competing), ``censor_reason`` (``data_cutoff``, ``coverage_end``,
        ``competing``; empty for events), ``custody_days``, ``outcome_date``.

    Example:
        >>> # c = reentry_cohort(extract, "release")
        >>> # km(c, "duration", "event")
    """
    fu_end, fu_reason = cohort_table(
        extract, index, outcome, period, lookback_days, street_time, waiting_days, competing, first_per_person
    )
    con = extract.engine.con
    try:
        df = con.sql("SELECT * FROM _cohort ORDER BY idx_id").df()
    finally:  # the frame is the result: the work tables would hold a second copy for the session
        con.execute("DROP TABLE IF EXISTS _cohort")
        con.execute("DROP TABLE IF EXISTS _idx")
    df["censor_reason"] = pd.Series("", index=df.index, dtype="object")
    df.loc[df["event"] == 0, "censor_reason"] = fu_reason
    df.loc[df["event"] == 2, "censor_reason"] = "competing"
    for c in ("person_id", "record_id"):
        df[c] = df[c].astype("string")
    for c in ("index_type", "age_band", "sex", "ethnicity_group", "offence_group", "censor_reason"):
        df[c] = df[c].astype("category")
    for c in ("age", "imd_decile"):
        df[c] = df[c].astype("Int64")
    df["event"] = df["event"].astype("int64")
    df["duration"] = df["duration"].astype("int64")
    df["index_date"] = pd.to_datetime(df["index_date"]).astype("datetime64[ns]")
    df["outcome_date"] = pd.to_datetime(df["outcome_date"]).astype("datetime64[ns]")
    df = df.drop(columns=["idx_id", "raw_days"])
    df.attrs.update(
        {
            "outcome": outcome if isinstance(outcome, str) and outcome in OUTCOMES else str(as_selector(outcome)),
            "follow_up_end": pd.Timestamp(fu_end),
            "street_time": street_time,
            "lookback_days": lookback_days,
            "waiting_days": waiting_days,
        }
    )
    return df


def cohort_table(
    extract: Extract,
    index: str | Selector | Sequence[str | Selector],
    outcome: str | Selector = "any_criminal_court",
    period: Window | None = None,
    lookback_days: int = 730,
    street_time: bool = True,
    waiting_days: int = 183,
    competing: Sequence[str] | None = None,
    first_per_person: bool = False,
    covariates: bool = True,
) -> tuple[dt.date, str]:
    """Create the work table ``_cohort`` of `reentry_cohort` (arguments as there) without fetching it.

    For measures that aggregate a national cohort in the engine instead of holding it in pandas. Its
    columns are those of `reentry_cohort` less ``censor_reason``, plus ``idx_id`` and ``raw_days``
    (days to the stop date before custody is subtracted). With ``covariates=False`` only the index,
    follow-up and outcome columns (no age, attributes or prior contacts: a survival curve needs none, and
    the age estimate reads four tables).

    Returns:
        (follow-up end, censoring reason of a censored row: ``data_cutoff`` or ``coverage_end``).

    Example:
        >>> # cohort_table(extract, "release")  # then SELECT ... FROM _cohort
    """
    indexes = [index] if isinstance(index, (str, Selector)) else list(index)
    defs = [_index_def(i) for i in indexes]
    _, out_filter, by_offence = _outcome_def(outcome)
    build_spine(extract)
    build_cases(extract)
    fu_end, fu_reason = _follow_up_end(extract, outcome, waiting_days)
    idx_sql = []
    for name, ds, flt, when in defs:
        start = DATASETS[ds].start if period is None else pd.Timestamp(period[0]).date()
        end = fu_end if period is None else pd.Timestamp(period[1]).date()
        # The label sits in a SQL string literal: a quote in a selector's value is doubled.
        idx_sql.append(
            index_select(name.replace("'", "''"), flt, when)
            + f" AND {when} >= {_date(start)} AND {when} <= {_date(min(end, fu_end))}"
        )
    con = extract.engine.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _idx AS SELECT ROW_NUMBER() OVER (ORDER BY person_id, event_date, "
        "index_type, record_id) AS idx_id, * FROM (" + " UNION ALL ".join(idx_sql) + ") AS i"
    )
    if first_per_person:
        con.execute("DELETE FROM _idx WHERE idx_id NOT IN (SELECT MIN(idx_id) FROM _idx GROUP BY person_id)")
    t_out = "COALESCE(offence_date, event_date)" if by_offence else "event_date"
    comp = ", ".join(f"'{c}'" for c in (competing or [])) or "NULL"
    raw = "CAST(st.stop_date - i.event_date AS INTEGER)"
    duration = f"GREATEST({raw} - COALESCE(cu.custody_days, 0), 0)" if street_time else f"GREATEST({raw}, 0)"
    prior_flags = ", ".join(f"MAX(CASE WHEN {flt} THEN 1 ELSE 0 END) AS {name}" for name, flt in _PRIOR_FLAGS.items())
    ctes = f"""
        WITH o AS (SELECT person_id, record_id, {t_out} AS t FROM {"_cases" if by_offence else "_spine"}
                   WHERE {out_filter}),
        ages AS ({index_age_sql(extract)}),
        attrs AS ({attributes_at_sql("_idx", "idx_id")}),
        first_o AS (
            SELECT i.idx_id, MIN(o.t) AS t FROM _idx i JOIN o ON o.person_id = i.person_id
            AND o.t > i.event_date AND o.record_id <> i.record_id AND o.t <= {_date(fu_end)} GROUP BY i.idx_id),
        first_c AS (
            SELECT i.idx_id, MIN(s.event_date) AS t FROM _idx i JOIN _spine s ON s.person_id = i.person_id
            AND s.event_type IN ({comp}) AND s.event_date > i.event_date AND s.record_id <> i.record_id
            AND s.event_date <= {_date(fu_end)} GROUP BY i.idx_id),
        priors AS (
            SELECT i.idx_id, {prior_flags}
            FROM _idx i JOIN _spine s ON s.person_id = i.person_id AND s.event_date <= i.event_date
            AND s.event_date > i.event_date - INTERVAL {int(lookback_days)} DAY AND s.record_id <> i.record_id
            GROUP BY i.idx_id),
        prior_off AS ({prior_contacts_sql("_idx", "idx_id", lookback_days)}),
        stops AS (
            SELECT i.idx_id,
                   CASE WHEN c.t IS NOT NULL AND (o.t IS NULL OR c.t < o.t) THEN c.t
                        WHEN o.t IS NOT NULL THEN o.t ELSE {_date(fu_end)} END AS stop_date,
                   CASE WHEN c.t IS NOT NULL AND (o.t IS NULL OR c.t < o.t) THEN 2
                        WHEN o.t IS NOT NULL THEN 1 ELSE 0 END AS event,
                   o.t AS outcome_date
            FROM _idx i LEFT JOIN first_o o ON o.idx_id = i.idx_id LEFT JOIN first_c c ON c.idx_id = i.idx_id),
        custody AS (
            SELECT st.idx_id, SUM(GREATEST(0, CAST(LEAST(COALESCE(s.end_date, {_date(extract.extract_end)}),
                   st.stop_date) - GREATEST(s.event_date, i.event_date) AS INTEGER))) AS custody_days
            FROM stops st JOIN _idx i ON i.idx_id = st.idx_id JOIN _spine s ON s.person_id = i.person_id
            AND s.event_type = 'custody_start' AND s.event_date < st.stop_date
            AND COALESCE(s.end_date, {_date(extract.extract_end)}) > i.event_date
            AND s.record_id <> i.record_id GROUP BY st.idx_id)
    """
    covs, cov_joins = "", ""
    if covariates:  # the age estimate reads four tables and the priors scan the person's history: only when asked
        covs = (
            f"ag.age, {age_band_sql('ag.age')} AS age_band, att.sex, att.ethnicity_group, att.imd_decile, "
            "i.offence_group, "
            "COALESCE(po.prior_contacts, 0) AS prior_contacts, "
            + "".join(f"COALESCE(p.{n}, 0) = 1 AS {n}, " for n in _PRIOR_FLAGS)
        )
        cov_joins = f"""LEFT JOIN priors p ON p.idx_id = i.idx_id LEFT JOIN prior_off po ON po.idx_id = i.idx_id
        LEFT JOIN attrs att ON att.idx_id = i.idx_id
        LEFT JOIN (SELECT idx_id, CASE WHEN age0 BETWEEN {AGE_RANGE[0]} AND {AGE_RANGE[1]} THEN age0 END AS age
                   FROM ages) ag ON ag.idx_id = i.idx_id"""
    select = f"""
        SELECT i.idx_id, i.person_id, i.index_type, i.event_date AS index_date, i.record_id, {covs}
               {raw} AS raw_days, COALESCE(cu.custody_days, 0) AS custody_days, st.event, st.outcome_date,
               {duration} AS duration
        FROM _idx i JOIN stops st ON st.idx_id = i.idx_id LEFT JOIN custody cu ON cu.idx_id = i.idx_id {cov_joins}
    """
    con.execute("CREATE OR REPLACE TEMP TABLE _cohort AS " + ctes + select)
    return fu_end, fu_reason
