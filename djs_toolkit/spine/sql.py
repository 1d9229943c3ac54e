"""The SQL behind the person-event spine, kept in one place and dialect-portable.

Only standard SQL is used (CASE, COALESCE, window functions, UNION ALL, date arithmetic through
`days_between`), so a Spark backend can run the same statements later.
"""

from __future__ import annotations

from djs_toolkit.schema import DATASETS

__all__ = [
    "CONVICTION_DISPOSALS",
    "ETHNICITY_GROUPS",
    "EVENT_SELECTS",
    "EVENT_TYPES",
    "LINK_VIEW",
    "PERSON_TABLE_FILTER",
    "attributes_at_event_sql",
    "days_between",
    "ethnicity_group_sql",
]


def days_between(start: str, end: str) -> str:
    """SQL for whole days from ``start`` to ``end`` (DuckDB: DATE - DATE is a day count)."""
    return f"CAST(({end}) - ({start}) AS INTEGER)"


def _age(age: str, ref_date: str, event_date: str) -> str:
    return f"CAST({age} + FLOOR({days_between(ref_date, event_date)} / 365.25) AS INTEGER)"


def ethnicity_group_sql(col: str) -> str:
    """Five groups plus Not stated (MoJ convention, docs/data.md §9.2); missing-type codes -> Not stated."""
    c = f"TRIM({col})"
    return (
        f"CASE WHEN {col} IS NULL OR {c} = '' OR {c} = 'Refusal' OR {c} LIKE 'Z_Dummy%' "
        f"OR {c} LIKE 'Not %' THEN 'Not stated' "
        f"WHEN {c} LIKE 'White%' THEN 'White' WHEN {c} LIKE 'Mixed%' THEN 'Mixed' "
        f"WHEN {c} LIKE 'Asian%' OR {c} = 'Chinese' THEN 'Asian' "
        f"WHEN {c} LIKE 'Black%' THEN 'Black' ELSE 'Other' END"
    )


ETHNICITY_GROUPS = ("Asian", "Black", "Mixed", "Other", "White")  # the known groups, alphabetical
_SEXES = ("F", "M")


def _mode_case(counts: dict[str, str], missing: str) -> str:
    """CASE for the value with the largest count (ties: the alphabetically first), ``missing`` when all are 0."""
    vals = sorted(counts)
    arms = []
    for i, v in enumerate(vals):
        before = [f"{counts[v]} > {counts[u]}" for u in vals[:i]]  # strictly more than earlier values
        beats = before + [f"{counts[v]} >= {counts[u]}" for u in vals[i + 1 :]]
        arms.append(f"WHEN {' AND '.join([f'{counts[v]} > 0', *beats])} THEN '{v}'")
    return f"CASE {' '.join(arms)} ELSE {missing} END"


def attributes_at_event_sql(source: str) -> str:
    """SQL over ``source`` (events with ``person_id``, ``event_date``, ``is_record``, ``sex_raw``, ``ethnicity_raw``,
    ``imd_raw``): the same rows with ``sex``, ``ethnicity_group`` and ``imd_decile`` as the person's records dated
    on or before each event say (the raw columns dropped).

    A record counts from the date of its primary event (``is_record``: a court case's first hearing, a custodial
    journey's reception, a probation event's referral, a family case's start, a civil claim's issue), so no event
    carries anything recorded after it: an attribute a person's later records add (a sex first recorded at a
    criminal case after a possession claim) is missing at the claim, whether or not that later record exists.
    Sex and ethnicity group are the most frequent known value over those records (ties: alphabetical; no known
    ethnicity: ``Not stated``); the IMD decile is the latest record's (residence moves; two records of one day
    that disagree: the more deprived). One window pass over the person's events ordered by date (dated peers
    included), so a national spine needs no per-person loop or self-join."""
    eth = ethnicity_group_sql("ethnicity_raw")
    origin = "DATE '1900-01-01'"
    # IMD: the latest decile as one MAX over (day number, 15 - decile): later days win, then smaller deciles.
    key = f"CAST({days_between(origin, 'event_date')} AS BIGINT) * 16 + (15 - CAST(imd_raw AS BIGINT))"
    sums = [
        f"SUM(CASE WHEN is_record AND sex_raw = '{v}' THEN 1 ELSE 0 END) OVER a AS n_sex_{v.lower()}" for v in _SEXES
    ] + [
        f"SUM(CASE WHEN is_record AND ethnicity_raw IS NOT NULL AND {eth} = '{g}' THEN 1 ELSE 0 END) OVER a "
        f"AS n_eth_{g.lower()}"
        for g in ETHNICITY_GROUPS
    ]
    sums.append(f"MAX(CASE WHEN is_record AND imd_raw BETWEEN 1 AND 10 THEN {key} END) OVER a AS imd_key")
    sex = _mode_case({v: f"n_sex_{v.lower()}" for v in _SEXES}, "NULL")
    ethnicity = _mode_case({g: f"n_eth_{g.lower()}" for g in ETHNICITY_GROUPS}, "'Not stated'")
    return (
        f"SELECT *, {sex} AS sex, {ethnicity} AS ethnicity_group, CAST(15 - imd_key % 16 AS INTEGER) AS imd_decile "
        f"FROM (SELECT *, {', '.join(sums)} FROM {source} "
        "WINDOW a AS (PARTITION BY person_id ORDER BY event_date RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        ") AS w"
    )


# Outcomes that are convictions (docs/data.md §9.5): everything but acquittal, termination, committal.
CONVICTION_DISPOSALS = (
    "Immediate custody",
    "Suspended sentence order",
    "Community sentence",
    "Fine",
    "Conditional discharge",
    "Absolute discharge",
    "Otherwise dealt with",
)
_CONV = "(" + ", ".join(f"'{d}'" for d in CONVICTION_DISPOSALS) + ")"

# Documented list of event types: (dataset, event_type, meaning).
EVENT_TYPES: tuple[tuple[str, str, str], ...] = (
    (
        "mags_hocas",
        "mags_case",
        "a defendant-case in the magistrates' courts (first hearing; end = final result; "
        "case_type = proceedings type: Criminal, Breach, Non-criminal)",
    ),
    ("mags_hocas", "mags_conviction", "a magistrates' conviction (final result date)"),
    ("crown_xhibit", "crown_case", "a Crown Court defendant-case (receipt; end = disposal)"),
    ("crown_xhibit", "crown_conviction", "a Crown Court conviction (sentence or disposal date)"),
    ("prison_nomis", "custody_start", "first reception of a custodial journey (end = final release)"),
    ("prison_nomis", "release", "final release from a custodial journey"),
    ("prison_nomis", "recall", "first recall to custody within a journey"),
    ("probation_delius", "probation_start", "start of a probation event (referral date)"),
    ("probation_delius", "probation_end", "termination of a probation event"),
    ("familyman", "family_case_start", "a person's party to a family case (issue; end = disposal)"),
    ("familyman", "family_order", "an order made in a family case the person is party to"),
    ("civil_caseman_pcol", "civil_claim", "an individual party to a civil claim (issue date)"),
    ("civil_caseman_pcol", "possession_order", "a possession order against an individual defendant"),
    ("civil_caseman_pcol", "warrant_executed", "a warrant executed against an individual defendant"),
)

# Common columns of every event select, in order.
_COLS = (
    "row_id_hash",
    "dataset",
    "event_type",
    "event_date",
    "end_date",
    "offence_date",
    "offence_group",
    "disposal",
    "case_type",
    "party_role",
    "age_at_event",
    "sex_raw",
    "ethnicity_raw",
    "imd_raw",
)


def _select(**kw: str) -> str:
    return "SELECT " + ", ".join(f"{kw.get(c, 'NULL')} AS {c}" for c in _COLS)


def _q(text: str) -> str:
    return "'" + text + "'"


_MAGS = "mags_defendant_case"


def _mags_age(event_date: str) -> str:
    # Age is recorded at the offence; carry it forward to the event date (whole years).
    return f"COALESCE({_age('age_at_offence', 'offence_date', event_date)}, age_at_offence)"


_CROWN = "crown_defendant_case"
_OG = "NULLIF(TRIM(offence_group), '')"  # " Sexual offences" is a real label variant (docs/data.md §14.3)

# Probation rows repeating an event_id_hash are one event: keep the first by row_id_hash.
_PROB = (
    "(SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id_hash ORDER BY row_id_hash) AS rn "
    "FROM probation_flatfile) AS d WHERE rn = 1)"
)
_FAM = (
    "(SELECT p.*, c.case_type, c.case_start_date, c.case_end_date FROM family_parties p "
    "JOIN family_cases c ON p.case_number_hash = c.case_number_hash)"
)
_FAM_ORD = (
    "(SELECT p.row_id_hash, p.party_role, p.gender, p.age_at_case_start, c.case_type, c.case_start_date, "
    "e.event_date, e.order_type FROM family_parties p JOIN family_cases c ON p.case_number_hash = "
    "c.case_number_hash JOIN family_events e ON e.case_number_hash = p.case_number_hash "
    "WHERE e.event_type = 'Order')"
)
# Organisations are parties to civil claims but never persons (docs/data.md §8).
PERSON_TABLE_FILTER = {"civil_parties": "(party_type IS NULL OR party_type <> 'Organisation')"}
_CIV = (
    "(SELECT p.*, c.claim_type, c.issue_date FROM civil_parties p JOIN civil_cases c "
    f"ON p.case_number_hash = c.case_number_hash WHERE {PERSON_TABLE_FILTER['civil_parties']})"
)
_CIV_EV = (
    "(SELECT p.row_id_hash, p.party_role, c.claim_type, e.event_type AS ev, e.event_date FROM civil_parties p "
    "JOIN civil_cases c ON p.case_number_hash = c.case_number_hash JOIN civil_events e "
    "ON e.case_number_hash = p.case_number_hash WHERE p.party_type = 'Individual' "
    "AND (p.party_role IS NULL OR p.party_role = 'Defendant'))"
)

EVENT_SELECTS: dict[str, list[str]] = {
    "mags_hocas": [
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("mags_hocas"),
            event_type=_q("mags_case"),
            event_date="COALESCE(first_hearing_date, final_result_date)",
            end_date="final_result_date",
            offence_date="offence_date",
            offence_group=_OG,
            disposal="disposal_type",
            case_type="proceedings_type_desc",
            age_at_event=_mags_age("COALESCE(first_hearing_date, final_result_date)"),
            sex_raw="gender",
            ethnicity_raw="ethnicity",
            imd_raw="imd_decile",
        )
        + f" FROM {_MAGS}",
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("mags_hocas"),
            event_type=_q("mags_conviction"),
            event_date="final_result_date",
            offence_date="offence_date",
            offence_group=_OG,
            disposal="disposal_type",
            case_type="proceedings_type_desc",
            age_at_event=_mags_age("final_result_date"),
            sex_raw="gender",
            ethnicity_raw="ethnicity",
        )
        + f" FROM {_MAGS} WHERE disposal_type IN {_CONV}",
    ],
    "crown_xhibit": [
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("crown_xhibit"),
            event_type=_q("crown_case"),
            event_date="receipt_date",
            end_date="disposal_date",
            offence_date="offence_date",
            offence_group=_OG,
            disposal="disposal_type",
            case_type="case_type",
            age_at_event="age_at_offence",
            sex_raw="gender",
            ethnicity_raw="ethnicity",
            imd_raw="imd_decile",
        )
        + f" FROM {_CROWN}",
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("crown_xhibit"),
            event_type=_q("crown_conviction"),
            event_date="COALESCE(sentence_date, disposal_date)",
            offence_date="offence_date",
            offence_group=_OG,
            disposal="disposal_type",
            case_type="case_type",
            age_at_event="age_at_offence",
            sex_raw="gender",
            ethnicity_raw="ethnicity",
        )
        + f" FROM {_CROWN} WHERE disposal_type IN {_CONV}",
    ],
    "prison_nomis": [
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("prison_nomis"),
            event_type=_q("custody_start"),
            event_date="journey_start_date",
            end_date="release_date",
            offence_group=_OG,
            disposal="custody_status",
            case_type="sentence_type",
            age_at_event="age_at_reception",
            sex_raw="gender",
            ethnicity_raw="ethnicity",
        )
        + " FROM prison_journey",
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("prison_nomis"),
            event_type=_q("release"),
            event_date="release_date",
            offence_group=_OG,
            disposal="custody_status",
            case_type="sentence_type",
            age_at_event=_age("age_at_reception", "journey_start_date", "release_date"),
            sex_raw="gender",
            ethnicity_raw="ethnicity",
        )
        + " FROM prison_journey WHERE release_date IS NOT NULL",
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("prison_nomis"),
            event_type=_q("recall"),
            event_date="first_recall_date",
            offence_group=_OG,
            disposal="custody_status",
            age_at_event=_age("age_at_reception", "journey_start_date", "first_recall_date"),
            sex_raw="gender",
            ethnicity_raw="ethnicity",
        )
        + " FROM prison_journey WHERE first_recall_date IS NOT NULL",
    ],
    "probation_delius": [
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("probation_delius"),
            event_type=_q("probation_start"),
            event_date="referral_date",
            end_date="disposal_termination_date",
            offence_date="main_offence_date",
            offence_group="NULLIF(TRIM(mo_category_description), '')",
            disposal="disposal_type_description",
            age_at_event="age_at_offence",
            sex_raw="gender",
            ethnicity_raw="ethnicity_desc",
            imd_raw="imd_decile",
        )
        + f" FROM {_PROB} AS p",
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("probation_delius"),
            event_type=_q("probation_end"),
            event_date="disposal_termination_date",
            disposal="disposal_type_description",
            sex_raw="gender",
            ethnicity_raw="ethnicity_desc",
        )
        + f" FROM {_PROB} AS p WHERE disposal_termination_date IS NOT NULL",
    ],
    "familyman": [
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("familyman"),
            event_type=_q("family_case_start"),
            event_date="case_start_date",
            end_date="case_end_date",
            case_type="case_type",
            party_role="party_role",
            age_at_event="age_at_case_start",
            sex_raw="gender",
        )
        + f" FROM {_FAM} AS f",
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("familyman"),
            event_type=_q("family_order"),
            event_date="event_date",
            disposal="order_type",
            case_type="case_type",
            party_role="party_role",
            age_at_event=_age("age_at_case_start", "case_start_date", "event_date"),
            sex_raw="gender",
        )
        + f" FROM {_FAM_ORD} AS f",
    ],
    "civil_caseman_pcol": [
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("civil_caseman_pcol"),
            event_type=_q("civil_claim"),
            event_date="issue_date",
            case_type="claim_type",
            party_role="party_role",
        )
        + f" FROM {_CIV} AS c",
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("civil_caseman_pcol"),
            event_type=_q("possession_order"),
            event_date="event_date",
            case_type="claim_type",
            party_role="party_role",
        )
        + f" FROM {_CIV_EV} AS c WHERE ev = 'Possession order'",
        _select(
            row_id_hash="row_id_hash",
            dataset=_q("civil_caseman_pcol"),
            event_type=_q("warrant_executed"),
            event_date="event_date",
            case_type="claim_type",
            party_role="party_role",
        )
        + f" FROM {_CIV_EV} AS c WHERE ev = 'Warrant executed'",
    ],
}
assert set(EVENT_SELECTS) == set(DATASETS)

# The person link as a view (a table only when the spine build had to deduplicate it).
LINK_VIEW = (
    "CREATE OR REPLACE VIEW _link AS SELECT source_dataset, row_id_hash, estimated_xjs_id AS person_id, "
    "FALSE AS several FROM xjs_link"
)
