"""Magistrates' courts (LIBRA, `mags_hocas`) and Crown Court (XHIBIT, `crown_xhibit`) tables.

Sources: docs/data.md §3 (magistrates) and §4 (Crown). Table names were not seen: they are [P].
"""

from __future__ import annotations

from djs_toolkit.schema._codes import COURT_GENDER, DISPOSAL_TYPES, OFFENCE_GROUPS, OFFENCE_TYPES
from djs_toolkit.schema._core import Column as C
from djs_toolkit.schema._core import Table

__all__ = ["CROWN_DEFENDANT_CASE", "CROWN_OFFENCE", "MAGS_DEFENDANT_CASE", "MAGS_OFFENCE"]

_AGE = (0, 120)  # catalogue range 0-120 (docs/data.md §9.3, SAIL-MACO)

MAGS_DEFENDANT_CASE = Table(
    name="mags_defendant_case",
    dataset="mags_hocas",
    provenance="P",
    description="Magistrates' courts defendant-case summary, based on the principal offence.",
    grain="one row per defendant per case",
    key=("row_id_hash",),
    window_column="first_hearing_date",
    aliases=("mags", "maco", "mags_summary", "defendant_case"),
    columns=(
        C("row_id_hash", "string", "S-code", "Row key; joins to xjs_link.", nullable=False),
        C("case_id_hash", "string", "S-code", "Hashed LIBRA case id.", nullable=False),
        C("defendant_id_hash", "string", "P", "Hashed source defendant id.", aliases=("defendant_id",)),
        C("estimated_defendant_id", "string", "I", "Splink within-dataset person id."),
        C("offence_date", "date", "S-code", "Date of the principal offence."),
        C("first_hearing_date", "date", "P", "Date of first hearing.", aliases=("hearing_date",)),
        C("final_result_date", "date", "S-code", "Date of the final result of the case."),
        C("age_at_offence", "int", "P", "Age in years at the offence.", aliases=("age",), valid_range=_AGE),
        C("gender", "category", "P", "Sex.", codes=COURT_GENDER, closed=True, aliases=("sex",)),
        C("ethnicity", "string", "P", "Ethnicity as recorded."),
        C("lsoa_residence", "string", "P", "LSOA 2011 of residence.", aliases=("lsoa",)),
        C("imd_decile", "int", "P", "IMD 2019 decile of residence (1 most deprived).", valid_range=(1, 10)),
        C(
            "ho_offence_code",
            "string",
            "S-int",
            "Home Office offence code (5 characters, leading zeros).",
            aliases=("offence_code",),
        ),
        C("offence_group", "string", "P", "Home Office offence group.", codes=OFFENCE_GROUPS),
        C("offence_type", "category", "P", "Mode of trial.", codes=OFFENCE_TYPES, closed=True),
        C(
            "proceedings_type_desc",
            "string",
            "S-code",
            "Proceedings type: criminal, breach or non-criminal.",
            codes=("Criminal", "Breach", "Non-criminal"),
        ),
        C("breach_marker", "bool", "S-code", "Breach proceedings."),
        C("plea", "category", "P", "Plea.", codes=("Guilty", "Not guilty", "No plea"), closed=True),
        C("convicted_flag", "bool", "P", "Convicted."),
        C("disposal_type", "category", "P", "Outcome of the principal offence.", codes=DISPOSAL_TYPES, closed=True),
        C("jsas_result_group_desc", "string", "S-code", "Result group description."),
        C("sentence_length_days", "int", "P", "Custodial sentence length in days."),
        C("fine_amount", "float", "P", "Fine in pounds."),
        C("committed_to_crown_flag", "bool", "P", "Sent or committed to the Crown Court."),
        C("n_hearings", "int", "P", "Number of hearings."),
        C("court_code", "string", "P", "Court (opaque code)."),
    ),
)

MAGS_OFFENCE = Table(
    name="mags_offence",
    dataset="mags_hocas",
    provenance="P",
    description="Magistrates' courts offences within each defendant-case.",
    grain="one row per offence per defendant per case",
    key=("offence_id_hash",),
    aliases=("mags_offences",),
    columns=(
        C("offence_id_hash", "string", "P", "Hashed offence id.", nullable=False),
        C("case_id_hash", "string", "S-code", "Hashed LIBRA case id.", nullable=False),
        C("defendant_id_hash", "string", "P", "Hashed source defendant id."),
        C("ho_offence_code", "string", "S-int", "Home Office offence code.", aliases=("offence_code",)),
        C("offence_date", "date", "S-code", "Offence date."),
        C("offence_group", "string", "P", "Home Office offence group.", codes=OFFENCE_GROUPS),
        C("principal_offence_flag", "bool", "P", "The principal offence of the case."),
        C("disposal_type", "category", "P", "Outcome of this offence.", codes=DISPOSAL_TYPES, closed=True),
    ),
)

CROWN_DEFENDANT_CASE = Table(
    name="crown_defendant_case",
    dataset="crown_xhibit",
    provenance="P",
    description="Crown Court defendant-case summary (trial, sentencing or appeal).",
    grain="one row per defendant per case",
    key=("row_id_hash",),
    window_column="receipt_date",
    aliases=("crown", "crco", "crown_summary"),
    columns=(
        C("row_id_hash", "string", "I", "Row key; joins to xjs_link.", nullable=False),
        C(
            "defendant_on_case_id_hash",
            "string",
            "P",
            "Hashed XHIBIT defendant-on-case id.",
            nullable=False,
            aliases=("defendant_on_case_id",),
        ),
        C("estimated_defendant_id", "string", "I", "Splink within-dataset person id."),
        C("receipt_date", "date", "P", "Date the case was received."),
        C("disposal_date", "date", "P", "Date of disposal."),
        C("sentence_date", "date", "P", "Date of sentence."),
        C("case_type", "category", "P", "Case type.", codes=("Trial", "Committal for sentence", "Appeal"), closed=True),
        C("final_offence_ho_code", "string", "S-int", "Home Office code of the final offence."),
        C("offence_date", "date", "P", "Offence date of the principal offence."),
        C("offence_group", "string", "P", "Home Office offence group.", codes=OFFENCE_GROUPS),
        C("plea_desc", "string", "P", "Plea."),
        C("verdict_desc", "string", "P", "Verdict."),
        C("disposal_type", "category", "P", "Outcome.", codes=DISPOSAL_TYPES, closed=True),
        C("custodial_period_days", "int", "S-int", "Custodial period in days."),
        C("age_at_offence", "int", "P", "Age in years.", aliases=("age",), valid_range=_AGE),
        C("gender", "category", "P", "Sex.", codes=COURT_GENDER, closed=True),
        C("ethnicity", "string", "P", "Ethnicity as recorded."),
        C("lsoa_residence", "string", "P", "LSOA 2011 of residence."),
        C("imd_decile", "int", "P", "IMD 2019 decile (1 most deprived).", valid_range=(1, 10)),
        C("court_code", "string", "P", "Court (opaque code)."),
    ),
)

CROWN_OFFENCE = Table(
    name="crown_offence",
    dataset="crown_xhibit",
    provenance="P",
    description="Crown Court offences within each defendant-case.",
    grain="one row per offence per defendant per case",
    key=("defendant_on_offence_id_hash",),
    aliases=("crown_offences",),
    columns=(
        C(
            "defendant_on_offence_id_hash",
            "string",
            "P",
            "Hashed offence id.",
            nullable=False,
            aliases=("defendant_on_offence_id",),
        ),
        C("defendant_on_case_id_hash", "string", "P", "Hashed defendant-on-case id.", nullable=False),
        C("final_offence_ho_code", "string", "S-int", "Home Office offence code."),
        C("offence_date", "date", "P", "Offence date."),
        C("offence_group", "string", "P", "Home Office offence group.", codes=OFFENCE_GROUPS),
        C("disposal_type", "category", "P", "Outcome.", codes=DISPOSAL_TYPES, closed=True),
    ),
)
