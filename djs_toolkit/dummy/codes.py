"""Code lists the generator needs that the schema leaves open (offence codes, requirement types,
probation areas, court codes, geography).

Closed code lists (disposal types, case types, roles, ...) are never re-typed here: they are read
from `djs_toolkit.schema` declarations where they are used. Values below are [I] illustrations in
the formats docs/data.md describes (§9).

Example:
    >>> from djs_toolkit.dummy import codes
    >>> codes.OFFENCES[0][0]
    '00101'
"""

from __future__ import annotations

import numpy as np

from djs_toolkit.schema import TABLES

__all__ = [
    "ETHNICITY_P",
    "ETHNICITY_TRUE",
    "ETH_GROUP",
    "GROUP_OF",
    "MAGS_GROUP_P",
    "NOMIS_ETH",
    "N_LSOA_ENG",
    "N_LSOA_WAL",
    "OFFENCES",
    "PROBATION_AREAS",
    "REGION_SIZES",
    "RQMNTS",
    "codes_of",
    "decile_of_lsoa",
    "lsoa_codes",
    "lsoa_for_decile",
    "region_of_lsoa",
]


def codes_of(table: str, column: str) -> tuple[str, ...]:
    """The declared code list of ``table.column`` (the generator's single source for closed lists).

    Example:
        >>> codes_of("family_parties", "party_role")[2]
        'Child'
    """
    c = TABLES[table].column(column).codes
    if c is None:
        raise KeyError(f"{table}.{column} declares no code list")
    return c


_GROUPS = codes_of("mags_defendant_case", "offence_group")
_TYPES = codes_of("mags_defendant_case", "offence_type")
IO, TEW, SUM = (_TYPES.index("Indictable only"), _TYPES.index("Triable either way"), _TYPES.index("Summary"))

# (HO offence code class+subclass with leading zeros (docs/data.md §9.4), offence group, mode of trial index)
OFFENCES: tuple[tuple[str, str, int], ...] = (
    ("00101", "Violence against the person", IO),
    ("00501", "Violence against the person", TEW),
    ("00801", "Violence against the person", TEW),
    ("00802", "Violence against the person", TEW),
    ("01901", "Sexual offences", IO),
    ("02001", "Sexual offences", TEW),
    ("08801", "Sexual offences", TEW),
    ("03401", "Robbery", IO),
    ("03402", "Robbery", IO),
    ("04601", "Theft offences", TEW),
    ("04901", "Theft offences", TEW),
    ("02801", "Theft offences", TEW),
    ("03001", "Theft offences", TEW),
    ("04801", "Theft offences", TEW),
    ("05601", "Criminal damage and arson", TEW),
    ("05801", "Criminal damage and arson", TEW),
    ("09201", "Drug offences", TEW),
    ("09207", "Drug offences", TEW),
    ("09226", "Drug offences", IO),
    ("08101", "Possession of weapons", TEW),
    ("01006", "Possession of weapons", TEW),
    ("06201", "Public order offences", TEW),
    ("06601", "Public order offences", TEW),
    ("07601", "Miscellaneous crimes against society", TEW),
    ("09500", "Miscellaneous crimes against society", TEW),
    ("05301", "Fraud offences", TEW),
    ("05302", "Fraud offences", TEW),
    ("10501", "Summary non-motoring", SUM),
    ("12501", "Summary non-motoring", SUM),
    ("13901", "Summary non-motoring", SUM),
    ("14901", "Summary non-motoring", SUM),
    ("80101", "Summary motoring", SUM),
    ("80401", "Summary motoring", SUM),
    ("81501", "Summary motoring", SUM),
)
GROUP_OF = np.array([_GROUPS.index(g) for _, g, _ in OFFENCES], dtype=np.int8)
MODE_OF = np.array([m for _, _, m in OFFENCES], dtype=np.int8)

# Share of magistrates' cases by offence group (SJP absent, so motoring is modest) [assumption].
MAGS_GROUP_P: dict[str, float] = {
    "Violence against the person": 0.10,
    "Sexual offences": 0.012,
    "Robbery": 0.01,
    "Theft offences": 0.15,
    "Criminal damage and arson": 0.045,
    "Drug offences": 0.07,
    "Possession of weapons": 0.025,
    "Public order offences": 0.05,
    "Miscellaneous crimes against society": 0.045,
    "Fraud offences": 0.02,
    "Summary non-motoring": 0.27,
    "Summary motoring": 0.203,
}

# True ethnicity: the non-missing probation strings (docs/data.md §9.2), with shares of justice users [assumption].
_ETH_DESC = codes_of("probation_flatfile", "ethnicity_desc")
_ETH_MISSING = TABLES["probation_flatfile"].column("ethnicity_desc").missing_codes
ETHNICITY_TRUE: tuple[str, ...] = tuple(e for e in _ETH_DESC if e not in _ETH_MISSING)
_ETH_SHARE = {
    "White: British/English/Welsh/Scottish/Northern Irish": 72.0,
    "White : Irish": 0.7,
    "White : Other": 5.0,
    "White: Gypsy, Irish Traveller, Romany": 0.6,
    "Arab": 0.5,
    "Asian or Asian British: Bangladeshi": 1.0,
    "Asian or Asian British: Chinese": 0.2,
    "Asian or Asian British: Indian": 1.5,
    "Asian or Asian British: Other": 1.5,
    "Asian or Asian British: Pakistani": 2.5,
    "Black or Black British: African": 3.0,
    "Black or Black British: Caribbean": 2.5,
    "Black or Black British: Other": 1.5,
    "Chinese": 0.2,
    "Mixed : Other": 1.0,
    "Mixed: White and Asian": 0.8,
    "Mixed: White and Black African": 0.6,
    "Mixed: White and Black Caribbean": 1.8,
    "Other Ethnic Group": 2.1,
}
ETHNICITY_P = np.array([_ETH_SHARE[e] for e in ETHNICITY_TRUE]) / sum(_ETH_SHARE[e] for e in ETHNICITY_TRUE)
# Courts record a 5+1 grouping (officer-identified style) [I]; prison NOMIS uses short codes [I].
ETH_GROUP: tuple[str, ...] = tuple(
    "White"
    if e.startswith("White")
    else "Mixed"
    if e.startswith("Mixed")
    else "Asian"
    if e.startswith("Asian")
    else "Black"
    if e.startswith("Black")
    else "Other"
    for e in ETHNICITY_TRUE
)
NOMIS_ETH: tuple[str, ...] = (
    "W1",
    "W2",
    "W9",
    "W3",
    "O9",
    "A2",
    "A9",
    "A1",
    "A9",
    "A3",
    "B2",
    "B1",
    "B9",
    "O1",
    "M9",
    "M3",
    "M2",
    "M1",
    "O9",
)

# Requirement types (docs/data.md §9.6) with their length units: mixed days / months / hours (§14.7).
RQMNTS: tuple[tuple[str, str, str, float, float], ...] = (
    # (description, code, unit, min length, max length)
    ("Unpaid Work", "W", "Hours", 40, 300),
    ("Rehabilitation Activity Requirement", "F", "Days", 5, 60),
    ("Curfew", "J", "Days", 14, 180),
    ("Alcohol Treatment", "L", "Months", 3, 12),
    ("Alcohol Abstinence & Electronic Monitoring (AAMR)", "AAMR", "Days", 14, 120),
    ("Drug Rehabilitation", "D", "Months", 6, 12),
    ("Mental Health Treatment", "M", "Months", 6, 12),
    ("Accredited Programme", "P", "Days", 10, 40),
    ("Supervision", "S", "Months", 6, 24),
    ("Exclusion", "X", "Months", 3, 12),
)
RQMNT_P = np.array([0.34, 0.25, 0.10, 0.03, 0.03, 0.05, 0.02, 0.07, 0.08, 0.03])
TERMINATION_REASONS = ("Requirement Completed", "Expired (Normal)", "Revoked", "Breach", "Other")
TERMINATION_P = np.array([0.55, 0.22, 0.10, 0.09, 0.04])

# probation_area_desc: trusts, CRCs, NPS regions, prisons and placeholders in one field (docs/data.md §9.7).
PROBATION_AREAS: tuple[str, ...] = (
    "Avon & Somerset",
    "Bedfordshire",
    "Cheshire",
    "Cumbria",
    "Durham and Tees Valley",
    "Greater Manchester",
    "London",
    "Merseyside",
    "Wales",
    "Wales Probation Trust",
    "NPS North East",
    "NPS Midlands",
    "NPS South East and Eastern",
    "NPS South West and South Central",
    "CPA London",
    "CPA Wales",
    "CPA Thames Valley",
    "BVT CRC",
    "External - London",
    "Ext - South West",
    "Altcourse (HMP)",
    "Belmarsh (HMP)",
    "Feltham (HMP & YOI)",
    "Aylesbury (HMYOI)",
    "IRC Morton Hall",
    "Unallocated",
    "No Trust or Trust Unknown",
    "National Security Division",
    "ZZ BAST Public Provider 1",
)
# Usual areas by region (9 English regions then Wales); placeholders drawn separately.
REGION_AREAS: tuple[tuple[int, ...], ...] = (
    (4, 10),
    (5, 2, 3, 7),
    (4, 10),
    (11,),
    (11,),
    (1, 12),
    (6, 14, 17, 18),
    (12, 16),
    (0, 13, 19),
    (8, 9, 15),
)

# Geography: LSOA 2011 counts; English regions in LSOA order (sizes sum to 32,844) [I].
N_LSOA_ENG = 32_844
N_LSOA_WAL = 1_909
REGION_SIZES = np.array([1657, 4459, 3305, 2774, 3487, 3614, 4835, 5382, 3331])
_REGION_EDGES = np.cumsum(REGION_SIZES)
_A = 7919  # a unit mod N_LSOA_ENG: scatters IMD deciles over LSOA numbers without a lookup file
_A_INV = pow(_A, -1, N_LSOA_ENG)


def decile_of_lsoa(j: np.ndarray) -> np.ndarray:
    """IMD decile (1 most deprived) of English LSOA number ``j`` (0-based).

    Example:
        >>> import numpy as np
        >>> int(decile_of_lsoa(lsoa_for_decile(np.array([3]), np.array([0.5]))[0:1])[0])
        3
    """
    perm = (np.asarray(j, dtype=np.int64) * _A) % N_LSOA_ENG
    return (1 + perm * 10 // N_LSOA_ENG).astype(np.int8)


def lsoa_for_decile(decile: np.ndarray, u: np.ndarray) -> np.ndarray:
    """An English LSOA number in IMD ``decile`` chosen by uniform ``u`` in [0, 1).

    Example:
        >>> import numpy as np
        >>> int(lsoa_for_decile(np.array([1]), np.array([0.0]))[0]) >= 0
        True
    """
    d = np.asarray(decile, dtype=np.int64)
    lo = -((-(d - 1) * N_LSOA_ENG) // 10)  # ceil((d-1) N / 10)
    hi = -((-d * N_LSOA_ENG) // 10)
    perm = lo + np.floor(u * (hi - lo)).astype(np.int64)
    return (perm * _A_INV) % N_LSOA_ENG


def region_of_lsoa(j: np.ndarray, wales: np.ndarray) -> np.ndarray:
    """Region index 0-8 (English regions) or 9 (Wales).

    Example:
        >>> import numpy as np
        >>> region_of_lsoa(np.array([0, 5]), np.array([False, True])).tolist()
        [0, 9]
    """
    r = np.searchsorted(_REGION_EDGES, np.asarray(j), side="right")
    return np.where(wales, 9, r).astype(np.int8)


def lsoa_codes(j: np.ndarray, wales: np.ndarray) -> np.ndarray:
    """LSOA 2011 codes (``E01...`` or ``W01...``) as an object array of str.

    Example:
        >>> import numpy as np
        >>> lsoa_codes(np.array([0]), np.array([True])).tolist()
        ['W01000001']
    """
    num = np.char.zfill((np.asarray(j) + 1).astype(str), 6)
    return np.where(wales, np.char.add("W01", num), np.char.add("E01", num)).astype(object)
