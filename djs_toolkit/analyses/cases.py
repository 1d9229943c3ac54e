"""Criminal court cases as the cohorts read them, and the index events a cohort can start from.

`build_cases` completes each magistrates' case from the rest of its record (offence date, disposal and
proceedings type from the principal offence) and marks each incident's end, so that an incident (person and
offence date) gives one index; `INDEX_TYPES` names the index events, `index_select` selects them, and
`prior_contacts_sql` counts prior offences and `attributes_at_sql` reads person attributes at an index date the
same way for every measure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from djs_toolkit.schema import MISSING_LABEL

if TYPE_CHECKING:
    from djs_toolkit.data.extract import Extract

__all__ = [
    "CRIMINAL_CASE",
    "INDEX_TYPES",
    "MISSING",
    "SPINE_COLUMNS",
    "attributes_at_sql",
    "build_cases",
    "index_select",
    "prior_contacts_sql",
]

_CUSTODY_OR_ORDER = "('Immediate custody', 'Community sentence', 'Suspended sentence order')"
_CONVICTED_NON_CUSTODIAL = "('Fine', 'Conditional discharge', 'Absolute discharge', 'Otherwise dealt with')"
_ENDED_NON_CUSTODIAL = (
    "('Fine', 'Conditional discharge', 'Absolute discharge', 'Otherwise dealt with', "
    "'Dismissed or acquitted', 'Proceedings terminated early')"
)


def _incident_filter(disposals: str) -> str:
    """Case filter over ``_cases``: one index per incident (person and offence date) ending with one of
    ``disposals``; none for an incident that also had custody or a community order / suspended sentence.

    An incident sent to the Crown Court ends with its Crown Court case (its latest); otherwise with
    its first magistrates' result (further cases of the same incident, often listed later, are not
    new contacts: docs/data.md §3). A case without any offence date (case row and principal offence
    both missing) cannot be placed in an incident and is not an index. Crown Court appeals are later
    hearings of an incident already ended in the magistrates' court: they are neither an index nor
    its end (the sentence took effect at the magistrates' result). The incident columns are computed
    once per extract by `build_cases`."""
    return (
        "event_type IN ('mags_case', 'crown_case') AND end_date IS NOT NULL AND offence_date IS NOT NULL "
        f"AND disposal IN {disposals} AND (case_type IS NULL OR case_type IN ('Criminal', 'Trial', "
        "'Committal for sentence')) AND NOT incident_order "
        "AND incident_end AND (event_type = 'crown_case' OR NOT incident_crown)"
    )


# An incident's case columns (`build_cases`), over the cases of one person with one offence date, all
# aggregates over one window (one partitioning pass, no sort within it):
# - incident_order: one of them ended in custody, a community order or a suspended sentence;
# - incident_crown: one of them is a Crown Court case other than an appeal;
# - incident_end: this case is the incident's first magistrates' result by (result date, record), or its
#   latest non-appeal Crown Court case by the same key. Undated results have no key, so they never
#   stand before a dated one.
_CASE_KEY = "strftime(end_date, '%Y%m%d') || record_id"  # sorts as (result date, record)
_INCIDENT_COLUMNS = (
    "COALESCE(MAX(disposal IN {order}) OVER inc, FALSE) AS incident_order, "
    "COALESCE(MAX(event_type = 'crown_case' AND COALESCE(case_type, '') <> 'Appeal') OVER inc, FALSE) "
    f"AS incident_crown, COALESCE(CASE WHEN event_type = 'mags_case' THEN {_CASE_KEY} = MIN(CASE WHEN event_type = "
    f"'mags_case' THEN {_CASE_KEY} END) OVER inc ELSE {_CASE_KEY} = MAX(CASE WHEN event_type = 'crown_case' AND "
    f"COALESCE(case_type, '') <> 'Appeal' THEN {_CASE_KEY} END) OVER inc END, FALSE) AS incident_end"
)


# Index event definitions over the spine (dataset, event filter).
INDEX_TYPES: dict[str, tuple[str, str, str]] = {  # (dataset, filter, index date)
    # Release after a custodial sentence (a remand-only journey is not a sentence). A journey whose custody
    # status is missing is a sentence if it has a sentence type (``case_type``): a remand has none.
    "release": (
        "prison_nomis",
        "event_type = 'release' AND (disposal <> 'Remand' OR (disposal IS NULL AND case_type IS NOT NULL))",
        "event_date",
    ),
    # One index per incident (person and offence date: several cases of one incident are common,
    # docs/data.md §3): a non-custodial conviction in an incident with no custody, community order or
    # suspended sentence (those enter as release / probation_start), dated at the incident's first
    # such case end. This is the MoJ cohort's court arm (docs/data.md §12.1).
    "court_disposal": ("mags_hocas", _incident_filter(_CONVICTED_NON_CUSTODIAL), "end_date"),
    # The same, for any case end without custody or an order, acquittals included.
    "case_end": ("mags_hocas", _incident_filter(_ENDED_NON_CUSTODIAL), "end_date"),
    # Community orders and suspended sentences; custodial disposals are licences after release. An event
    # without a disposal description cannot be told from a licence (which starts at the release): not an index.
    "probation_start": (
        "probation_delius",
        "event_type = 'probation_start' AND disposal IS NOT NULL AND disposal NOT LIKE '%Custody%'",
        "event_date",
    ),
    # A possession claim against the person (defendant; claimant landlords are not at risk of eviction),
    # the same definition as the prior_possession_claim flag.
    "possession_claim": (
        "civil_caseman_pcol",
        "event_type = 'civil_claim' AND case_type IN "
        "('Landlord possession', 'Mortgage possession') AND (party_role IS NULL OR "
        "party_role = 'Defendant')",
        "event_date",
    ),
    # An adult party (not a child, aged 18 or over at the case start when the age is recorded), the same
    # definition as the prior_family_case flag.
    "family_case": (
        "familyman",
        "event_type = 'family_case_start' AND (party_role IS NULL OR party_role <> 'Child') "
        "AND (age_at_event IS NULL OR age_at_event >= 18)",
        "event_date",
    ),
}
# A new criminal case: breach proceedings and non-criminal matters in the magistrates' data are not
# new offences (docs/data.md §3 caveats, §12.1).
CRIMINAL_CASE = (
    "(event_type = 'crown_case' OR (event_type = 'mags_case' AND (case_type IS NULL OR case_type = 'Criminal')))"
)
SPINE_COLUMNS = (
    "person_id",
    "dataset",
    "event_type",
    "end_date",
    "record_id",
    "offence_date",
    "offence_group",
    "disposal",
    "case_type",
    "party_role",
    "age_at_event",
    "sex",
    "ethnicity_group",
    "imd_decile",
)
# Index types read from the criminal cases table ``_cases`` (offence dates completed) instead of ``_spine``.
_CASE_INDEXES = ("court_disposal", "case_end")


def build_cases(extract: Extract) -> None:
    """Create temp table ``_cases``: the spine's criminal court cases (``mags_case``, ``crown_case``) with
    what a magistrates' case row lacks completed from the rest of the record.

    - Offence date. About 2-5% of magistrates' case rows have no ``offence_date``; the case's principal
      offence in ``mags_offence`` (same ``case_id_hash``) usually has it, and a researcher would take it
      from there (the principal offence is the case's offence, docs/data.md §3). Without this, a case
      with no offence date escapes the one-index-per-incident rule, is missed by the prior-contact count,
      and as an outcome is dated by its first hearing instead of the offence. Cases still without an
      offence date keep NULL (dated by their first hearing as outcomes, never counted as prior contacts).
    - Disposal. The case's ``disposal_type`` is its principal offence's outcome: where the case row lacks
      it, the principal offence's ``disposal_type`` is used. Without this, an incident whose main case
      ended in custody or an order but lost its disposal became a ``case_end`` index at a further
      case's fine, or blocked the incident's index altogether.
    - Proceedings type. Where ``proceedings_type_desc`` is missing, a case with ``breach_marker`` set is
      a breach (its "offence date" is the date of the breach), and a case with neither an offence date
      nor an offence code is non-criminal (a criminal case has an offence). Otherwise an unknown type
      counts as criminal. Without this, breach and non-criminal rows of unknown type were counted as new
      offences: prior contacts and outcomes (dated by the breach, or the hearing).
    """
    if "cases" in extract.built:  # derived from the spine, which never changes once built
        return
    have = set(extract.tables)
    sel = {c: f"s.{c}" for c in SPINE_COLUMNS}
    joins = ""
    if {"mags_defendant_case", "mags_offence"} <= have:
        joins = (
            "LEFT JOIN (SELECT d.row_id_hash, d.breach_marker, d.ho_offence_code, MIN(o.offence_date) AS od, "
            "MIN(o.disposal_type) AS disp FROM mags_defendant_case d LEFT JOIN mags_offence o "
            "ON o.case_id_hash = d.case_id_hash AND o.principal_offence_flag WHERE d.offence_date IS NULL "
            "OR d.disposal_type IS NULL OR d.proceedings_type_desc IS NULL GROUP BY d.row_id_hash, "
            "d.breach_marker, d.ho_offence_code) f ON s.dataset = 'mags_hocas' AND f.row_id_hash = s.record_id"
        )
        sel["offence_date"] = "COALESCE(s.offence_date, f.od)"
        sel["disposal"] = "COALESCE(s.disposal, f.disp)"
        sel["case_type"] = (
            "COALESCE(s.case_type, CASE WHEN f.breach_marker THEN 'Breach' WHEN f.row_id_hash IS NOT "
            "NULL AND s.offence_date IS NULL AND f.od IS NULL AND f.ho_offence_code IS NULL "
            "THEN 'Non-criminal' END)"
        )
    cols = ", ".join(f"{v} AS {c}" for c, v in sel.items())
    incident = _INCIDENT_COLUMNS.format(order=_CUSTODY_OR_ORDER)
    # Cases without an offence date share one window per person, but are never indexes (`_incident_filter`).
    extract.engine.con.execute(
        f"CREATE OR REPLACE TEMP TABLE _cases AS SELECT *, {incident} FROM (SELECT {cols}, s.event_date FROM _spine s "
        f"{joins} WHERE s.event_type IN ('mags_case', 'crown_case')) AS c "
        "WINDOW inc AS (PARTITION BY person_id, offence_date)"
    )
    extract.built.add("cases")


def index_select(name: str, flt: str, when: str) -> str:
    """SQL selecting index events of type ``name`` from the spine (court indexes: from ``_cases``, see
    `build_cases`), dated by ``when`` (as event_date)."""
    src = "_cases" if name in _CASE_INDEXES else "_spine"
    return f"SELECT '{name}' AS index_type, {when} AS event_date, {', '.join(SPINE_COLUMNS)} FROM {src} WHERE {flt}"


def prior_contacts_sql(index_table: str, key: str, lookback_days: int) -> str:
    """SQL: per index row (``key``), distinct offence dates of criminal magistrates' cases in
    ``(index - lookback_days, index]``, the index case included (one definition for every measure).

    One offence date is one contact (incident): further cases of the same incident share it and
    breach proceedings and non-criminal matters are not offences. Every criminal case starts in the
    magistrates' court, so Crown cases add nothing. Reads ``_cases`` (`build_cases`), where a case
    row's missing offence date is completed from its principal offence."""
    return (
        f"SELECT i.{key}, COUNT(DISTINCT s.offence_date) AS prior_contacts FROM {index_table} i "
        "JOIN _cases s ON s.person_id = i.person_id AND s.event_type = 'mags_case' "
        "AND (s.case_type IS NULL OR s.case_type = 'Criminal') AND s.offence_date <= i.event_date "
        f"AND s.offence_date > i.event_date - INTERVAL {int(lookback_days)} DAY GROUP BY i.{key}"
    )


# The level of a person attribute no record up to the index holds: a level of its own in tables and models,
# never a dropped row (ethnicity keeps the MoJ's ``Not stated``, which also covers recorded refusals).
MISSING = MISSING_LABEL  # the package's one label (schema.labels)
# The primary event of each dataset's person-records: attributes change only there (spine.sql).
_RECORD_EVENTS = "('mags_case', 'crown_case', 'custody_start', 'probation_start', 'family_case_start', 'civil_claim')"


def attributes_at_sql(index_table: str, key: str) -> str:
    """SQL: per index row (``key``, with ``person_id`` and ``event_date``), the person's ``sex``,
    ``ethnicity_group`` and ``imd_decile`` as their records dated on or before the index date say.

    The spine carries each event's attributes from the records up to it (`spine.sql.attributes_at_event_sql`);
    an index takes those of the person's latest record event on or before its date, whatever row it was
    selected from (a court disposal is dated at the case's result, its case row at the first hearing). One
    window over the person's record events and index rows ordered by date, so no index is joined to the
    person's whole history. Attributes only ever go from unknown to known, so the latest known value is the
    latest value. Sex is `MISSING` when no such record holds it; ethnicity ``Not stated``."""
    cols = ("sex", "ethnicity_group", "imd_decile")
    spine = ", ".join(cols)
    nulls = ", ".join(f"NULL AS {c}" for c in cols)
    last = ", ".join(f"LAST_VALUE({c} IGNORE NULLS) OVER w AS {c}" for c in cols)
    return (
        f"SELECT {key}, COALESCE(sex, '{MISSING}') AS sex, "
        f"COALESCE(ethnicity_group, 'Not stated') AS ethnicity_group, imd_decile FROM (SELECT k, {key}, {last} FROM ("
        f"SELECT person_id, event_date, 0 AS k, NULL AS {key}, {spine} FROM _spine "
        f"WHERE event_type IN {_RECORD_EVENTS} AND person_id IN (SELECT person_id FROM {index_table}) "
        f"UNION ALL SELECT person_id, event_date, 1 AS k, {key}, {nulls} FROM {index_table}) AS u "
        "WINDOW w AS (PARTITION BY person_id ORDER BY event_date, k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        ") AS a WHERE k = 1"
    )
