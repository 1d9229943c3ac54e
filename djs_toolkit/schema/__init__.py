"""Data First schemas as code: one declaration per table.

The declarations drive validation (`djs_toolkit.data`), the dummy generator (`djs_toolkit.dummy`)
and the data dictionary (`to_markdown`, `djs schema --markdown`).

Example:
    >>> from djs_toolkit.schema import TABLES, DATASETS
    >>> TABLES["probation_flatfile"].dataset
    'probation_delius'
    >>> str(DATASETS["civil_caseman_pcol"].end)
    '2022-01-31'
"""

from __future__ import annotations

import datetime as dt

from djs_toolkit.schema._core import Column, Dataset, Table
from djs_toolkit.schema.criminal_courts import (
    CROWN_DEFENDANT_CASE,
    CROWN_OFFENCE,
    MAGS_DEFENDANT_CASE,
    MAGS_OFFENCE,
)
from djs_toolkit.schema.family_civil import (
    CIVIL_CASES,
    CIVIL_EVENTS,
    CIVIL_PARTIES,
    FAMILY_CASES,
    FAMILY_EVENTS,
    FAMILY_PARTIES,
)
from djs_toolkit.schema.labels import AGE_BAND_LABELS, AGE_BANDS, MISSING_LABEL, age_band, age_band_sql
from djs_toolkit.schema.linking import MAGS_CROWN_JOURNEY, XJS_LINK
from djs_toolkit.schema.markdown import to_markdown
from djs_toolkit.schema.prison import PRISON_INCIDENT, PRISON_JOURNEY, PRISON_OASYS
from djs_toolkit.schema.probation import PROBATION_FLATFILE, PROBATION_RQMNTS

__all__ = [
    "AGE_BANDS",
    "AGE_BAND_LABELS",
    "DATASETS",
    "EXTRACT_END",
    "MISSING_LABEL",
    "TABLES",
    "Column",
    "Dataset",
    "Table",
    "age_band",
    "age_band_sql",
    "schema_counts",
    "to_markdown",
]

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        MAGS_DEFENDANT_CASE,
        MAGS_OFFENCE,
        CROWN_DEFENDANT_CASE,
        CROWN_OFFENCE,
        PRISON_JOURNEY,
        PRISON_OASYS,
        PRISON_INCIDENT,
        PROBATION_FLATFILE,
        PROBATION_RQMNTS,
        FAMILY_CASES,
        FAMILY_EVENTS,
        FAMILY_PARTIES,
        CIVIL_CASES,
        CIVIL_PARTIES,
        CIVIL_EVENTS,
        XJS_LINK,
        MAGS_CROWN_JOURNEY,
    )
}

# The extract's data cut-off: the linking dataset runs 2011-2023 (HDR-CJSL); the generator and
# the family flagship extract end in March 2023 (docs/data.md §7, §13.1).
EXTRACT_END = dt.date(2023, 3, 31)


def _tables_of(label: str) -> tuple[str, ...]:
    return tuple(t.name for t in TABLES.values() if t.dataset == label)


_D = dt.date
# Coverage windows and cliffs from docs/data.md §13.1 and §3-§8.
DATASETS: dict[str, Dataset] = {
    d.label: d
    for d in (
        Dataset(
            "mags_hocas",
            "Magistrates' courts",
            _D(2011, 1, 1),
            EXTRACT_END,
            "mags_defendant_case",
            cliff=_D(2021, 1, 1),
            tables=_tables_of("mags_hocas"),
            note="Coverage falls from 2021 (Common Platform); Single Justice Procedure cases absent.",
        ),
        Dataset(
            "crown_xhibit",
            "Crown Court",
            _D(2013, 1, 1),
            EXTRACT_END,
            "crown_defendant_case",
            cliff=_D(2021, 7, 1),
            tables=_tables_of("crown_xhibit"),
            note="From 2013; cases received from mid-2021 increasingly on Common Platform.",
        ),
        Dataset(
            "prison_nomis",
            "Prison custodial journeys",
            _D(2011, 1, 1),
            EXTRACT_END,
            "prison_journey",
            left_censored=True,
            tables=_tables_of("prison_nomis"),
            note="Sentences since 2011 complete; journeys begun earlier are included.",
        ),
        Dataset(
            "probation_delius",
            "Probation",
            _D(2014, 1, 1),
            _D(2020, 12, 31),
            "probation_flatfile",
            tables=_tables_of("probation_delius"),
            note="Referrals 1 Jan 2014 to 31 Dec 2020 (first release).",
        ),
        Dataset(
            "familyman",
            "Family court",
            _D(2011, 1, 1),
            EXTRACT_END,
            "family_parties",
            tables=_tables_of("familyman"),
            note="FamilyMan only; reform systems take over some case types.",
        ),
        Dataset(
            "civil_caseman_pcol",
            "Civil court",
            _D(2012, 1, 1),
            _D(2022, 1, 31),
            "civil_parties",
            tables=_tables_of("civil_caseman_pcol"),
            note="1 Jan 2012 to 31 Jan 2022; organisations are parties but never persons.",
        ),
    )
}


def schema_counts() -> dict[str, int]:
    """Numbers of tables and columns declared, and how many names are placeholders (P).

    Example:
        >>> schema_counts()["tables"]
        17
    """
    cols = [c for t in TABLES.values() for c in t.columns]
    return {
        "tables": len(TABLES),
        "tables_P": sum(t.provenance == "P" for t in TABLES.values()),
        "columns": len(cols),
        "columns_P": sum(c.provenance == "P" for c in cols),
    }
