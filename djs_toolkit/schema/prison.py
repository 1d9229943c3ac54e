"""Prisoner custodial journeys (P-NOMIS, `prison_nomis`) with OASys and safety in custody.

Source: docs/data.md §5. Journeys merge connected remand, sentence and recall spells, so a new
prison entry is a new journey, not a new booking. Table names were not seen: [P].
"""

from __future__ import annotations

from djs_toolkit.schema._codes import COURT_GENDER, OFFENCE_GROUPS
from djs_toolkit.schema._core import Column as C
from djs_toolkit.schema._core import Table

__all__ = ["PRISON_INCIDENT", "PRISON_JOURNEY", "PRISON_OASYS"]

PRISON_JOURNEY = Table(
    name="prison_journey",
    dataset="prison_nomis",
    provenance="P",
    description="Prisoner custodial journeys: connected remand, sentence and recall spells.",
    grain="one row per prisoner per custodial journey",
    key=("row_id_hash",),
    window_column="release_date",
    aliases=("prison", "nomis", "pris"),
    columns=(
        C("row_id_hash", "string", "I", "Row key; joins to xjs_link.", nullable=False),
        C("custodial_journey_id_hash", "string", "P", "Hashed journey id.", nullable=False),
        C("estimated_offender_id", "string", "S", "Splink within-dataset person id."),
        C(
            "offender_id_hash",
            "string",
            "P",
            "Hashed NOMIS offender id (unreliable across terms).",
            aliases=("offender_id",),
        ),
        C("journey_start_date", "date", "P", "First reception into custody.", nullable=False),
        C("sentence_date", "date", "P", "Date of sentence (empty if remand only)."),
        C("release_date", "date", "P", "Final release (empty if still in custody at extract)."),
        C("conditional_release_date", "date", "P", "Conditional release date."),
        C(
            "custody_status",
            "category",
            "P",
            "Status at the end of the journey.",
            codes=("Remand", "Sentenced", "Recall"),
            closed=True,
        ),
        C("sentence_type", "string", "P", "Sentence type (e.g. Determinate)."),
        C("sentence_length_days", "int", "P", "Sentence length in days."),
        C("recall_count", "int", "P", "Recalls to custody merged into this journey."),
        C("first_recall_date", "date", "P", "Date of the first recall within the journey."),
        C("main_offence_code", "string", "P", "Home Office code of the main offence."),
        C("offence_group", "string", "P", "Home Office offence group.", codes=OFFENCE_GROUPS),
        C("age_at_reception", "int", "P", "Age in years at reception.", valid_range=(10, 110)),
        C("gender", "category", "P", "Sex.", codes=COURT_GENDER, closed=True),
        C("ethnicity", "string", "P", "Ethnicity (NOMIS coding)."),
    ),
)

PRISON_OASYS = Table(
    name="prison_oasys",
    dataset="prison_nomis",
    provenance="P",
    description="OASys assessments linked to a NOMIS prisoner.",
    grain="one row per prisoner per assessment",
    key=("assessment_id_hash",),
    aliases=("oasys",),
    columns=(
        C("assessment_id_hash", "string", "P", "Hashed assessment id.", nullable=False),
        C("custodial_journey_id_hash", "string", "P", "Journey assessed.", nullable=False),
        C("estimated_offender_id", "string", "S", "Splink within-dataset person id."),
        C("assessment_date", "date", "P", "Date of assessment."),
        C("accommodation_need", "bool", "P", "Accommodation identified as a need."),
        C("finance_need", "bool", "P", "Finance identified as a need."),
        C("relationships_need", "bool", "P", "Relationships identified as a need."),
        C("ogrs_score", "float", "P", "Offender Group Reconviction Scale probability (0-1).", valid_range=(0, 1)),
    ),
)

PRISON_INCIDENT = Table(
    name="prison_incident",
    dataset="prison_nomis",
    provenance="P",
    description="Safety in custody incidents.",
    grain="one row per prisoner per incident",
    key=("incident_id_hash",),
    aliases=("safety_in_custody", "prison_safety_incident"),
    columns=(
        C("incident_id_hash", "string", "P", "Hashed incident id.", nullable=False),
        C("custodial_journey_id_hash", "string", "P", "Journey in which it happened.", nullable=False),
        C("estimated_offender_id", "string", "S", "Splink within-dataset person id."),
        C("incident_date", "date", "P", "Date of incident."),
        C("incident_type", "category", "P", "Incident type.", codes=("Assault", "Self-harm", "Other"), closed=True),
    ),
)
