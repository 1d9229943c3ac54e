"""Probation (nDelius, `probation_delius`): flatfile of events and requirements.

Source: docs/data.md §6. Names are as read by a researcher on the real extract [S-code] (RC-PROB),
which read 30 numbered Parquet parts `moj_probation_flatfile_01` ... `_30`.
"""

from __future__ import annotations

from djs_toolkit.schema._codes import ETHNICITY_DESC, ETHNICITY_MISSING, GENDER
from djs_toolkit.schema._core import Column as C
from djs_toolkit.schema._core import Table

__all__ = ["PROBATION_FLATFILE", "PROBATION_RQMNTS"]

PROBATION_FLATFILE = Table(
    name="probation_flatfile",
    dataset="probation_delius",
    provenance="S-code",
    description="Probation events: one sentence or pre-sentence referral each.",
    grain="about one row per event (duplicate event_id_hash rows exist)",
    # Researchers de-duplicated on event_id_hash, so the real data has duplicates (docs/data.md §14.1): warning.
    key=("event_id_hash",),
    duplicate_key="warning",
    window_column="referral_date",
    aliases=("moj_probation_flatfile", "flatfile"),
    columns=(
        C("row_id_hash", "string", "S-code", "Row key; joins to xjs_link.", nullable=False),
        C("estimated_offender_id", "string", "S-code", "Splink within-dataset person id."),
        C("event_id_hash", "string", "S-code", "nDelius event id.", nullable=False),
        C("referral_date", "date", "S-code", "Referral date.", nullable=False),
        C("gender", "category", "S-code", "Sex.", codes=GENDER, closed=True),
        C("age_at_offence", "int", "S-code", "Age in years at the offence (outliers exist).", valid_range=(10, 100)),
        C(
            "ethnicity_desc",
            "string",
            "S-code",
            "Ethnicity, exact strings as recorded.",
            codes=ETHNICITY_DESC,
            missing_codes=ETHNICITY_MISSING,
            empty_is_missing=False,
        ),
        C("lsoa_residence", "string", "S-code", "LSOA 2011 of residence."),
        C("imd_decile", "int", "P", "IMD 2019 decile (1 most deprived).", valid_range=(1, 10)),
        C("mo_code", "string", "S-code", "Home Office code of the main offence (keep leading zeros)."),
        C("mo_category_description", "string", "S-code", "Main offence category."),
        C("main_offence_date", "date", "S-code", "Date of the main offence."),
        C("disposal_type_description", "string", "S-code", "Disposal (sentence) type."),
        C("disposal_date", "date", "S-code", "Disposal date."),
        C("disposal_termination_date", "date", "S-code", "Date the disposal ended."),
        C("length", "float", "S-code", "Disposal length (unit unclear in the source)."),
        C("length_in_days", "int", "S-code", "Disposal length in days."),
        C("recall_count", "int", "S-code", "Number of recalls."),
        C("probation_area_desc", "string", "S-code", "Probation area (a mixed, messy list)."),
    ),
)

PROBATION_RQMNTS = Table(
    name="probation_rqmnts",
    dataset="probation_delius",
    provenance="S-code",
    description="Community-order and suspended-sentence requirements.",
    grain="one row per requirement",
    key=("rqmnt_id_hash",),
    aliases=("moj_probation_rqmnts", "rqmnts"),
    columns=(
        C("rqmnt_id_hash", "string", "P", "Hashed requirement id.", nullable=False),
        C("estimated_offender_id", "string", "S-code", "Splink within-dataset person id."),
        C("event_id_hash", "string", "S-code", "nDelius event id; joins to the flatfile.", nullable=False),
        C("rqmnt_type_main_category_desc", "string", "S-code", "Requirement type."),
        C("rqmnt_type_main_category_code", "string", "S-code", "Requirement type code."),
        C("rqmnt_type_main_units_desc", "string", "S-int", "Unit of `length` (Days, Months, Hours)."),
        C("rqmnt_start_date", "date", "S-code", "Date the requirement was imposed."),
        C("rqmnt_commencement_date", "date", "S-code", "Date the requirement commenced (often missing)."),
        C("rqmnt_termination_date", "date", "S-code", "Date the requirement terminated."),
        C("rqmnt_termination_reason_desc", "string", "S-code", "Why it terminated."),
        C("length", "float", "S-code", "Requirement length in `rqmnt_type_main_units_desc` units."),
    ),
)
