"""Code lists shared by several tables (docs/data.md §9)."""

from __future__ import annotations

__all__ = [
    "COURT_GENDER",
    "DISPOSAL_TYPES",
    "ETHNICITY_DESC",
    "ETHNICITY_MISSING",
    "GENDER",
    "OFFENCE_GROUPS",
    "OFFENCE_TYPES",
    "SOURCE_DATASETS",
]

# Probation `gender` values seen: M, F (docs/data.md §9.1); courts also use "Not known" (SANKEY).
GENDER = ("M", "F")
COURT_GENDER = ("M", "F", "Not known")

# Probation `ethnicity_desc` strings exactly as seen, inconsistent colon spacing included (docs/data.md §9.2).
ETHNICITY_DESC = (
    "White: British/English/Welsh/Scottish/Northern Irish",
    "White : Irish",
    "White : Other",
    "White: Gypsy, Irish Traveller, Romany",
    "Arab",
    "Asian or Asian British: Bangladeshi",
    "Asian or Asian British: Chinese",
    "Asian or Asian British: Indian",
    "Asian or Asian British: Other",
    "Asian or Asian British: Pakistani",
    "Black or Black British: African",
    "Black or Black British: Caribbean",
    "Black or Black British: Other",
    "Chinese",
    "Mixed : Other",
    "Mixed: White and Asian",
    "Mixed: White and Black African",
    "Mixed: White and Black Caribbean",
    "Other Ethnic Group",
    "Refusal",
    "Z_Dummy Ethnicity 04",
    "Z_Dummy Ethnicity 05",
    "",
)
ETHNICITY_MISSING = ("Refusal", "Z_Dummy Ethnicity 04", "Z_Dummy Ethnicity 05", "")

# Home Office offence groups seen (docs/data.md §9.4); real data also has " Sexual offences" and blanks.
OFFENCE_GROUPS = (
    "Violence against the person",
    "Sexual offences",
    "Robbery",
    "Theft offences",
    "Criminal damage and arson",
    "Drug offences",
    "Possession of weapons",
    "Public order offences",
    "Miscellaneous crimes against society",
    "Fraud offences",
    "Summary non-motoring",
    "Summary motoring",
    "Not known",
)
OFFENCE_TYPES = ("Indictable only", "Triable either way", "Summary")

# MoJ CJS outcome categories [I] (docs/data.md §9.5).
DISPOSAL_TYPES = (
    "Immediate custody",
    "Suspended sentence order",
    "Community sentence",
    "Fine",
    "Conditional discharge",
    "Absolute discharge",
    "Otherwise dealt with",
    "Committed to Crown Court",
    "Dismissed or acquitted",
    "Proceedings terminated early",
)

# `source_dataset` labels (docs/data.md §2; DAG pipeline names).
SOURCE_DATASETS = (
    "mags_hocas",
    "crown_xhibit",
    "prison_nomis",
    "probation_delius",
    "familyman",
    "civil_caseman_pcol",
)
