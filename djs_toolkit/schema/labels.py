"""The group labels every analysis and figure publishes: one label for a missing value, one set of age bands.

**Missing values**: a group whose value no record holds (sex on a civil-only record, an age never recorded) is
`MISSING_LABEL` ("Missing"), a level of its own, never a dropped row (docs/measures.md §1.1). Not "Unknown" or
"Not known": the source data use those as recorded codes (court statistics' sex "Not known", offence group
"Not known": docs/data.md §9.1, §14.11), and the label must not merge "recorded as not known" with "no record
says". Ethnicity keeps the MoJ group "Not stated" (missing-type codes and refusals are recorded answers,
docs/data.md §9.2).

**Age bands** (`AGE_BANDS`): the MoJ bands of the proven reoffending statistics (docs/data.md §9.3): juveniles
10-17, young adults 18-20 and 21-24, then 25-29, 30-39, 40-49 and 50+, with "Under 10" below the age of criminal
responsibility for the children family court records carry. Labels sort in this order by their first number
(`plotting.natural_key`), never alphabetically.

Example:
    >>> [label for _, _, label in AGE_BANDS][:3], MISSING_LABEL
    (['Under 10', '10-17', '18-20'], 'Missing')
"""

from __future__ import annotations

__all__ = ["AGE_BANDS", "AGE_BAND_LABELS", "MISSING_LABEL", "age_band", "age_band_sql"]

MISSING_LABEL = "Missing"
# (lowest age, highest age or None for no upper limit, label), in order.
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 9, "Under 10"),
    (10, 17, "10-17"),
    (18, 20, "18-20"),
    (21, 24, "21-24"),
    (25, 29, "25-29"),
    (30, 39, "30-39"),
    (40, 49, "40-49"),
    (50, None, "50+"),
)
AGE_BAND_LABELS: tuple[str, ...] = tuple(label for _, _, label in AGE_BANDS)


def age_band_sql(col: str) -> str:
    """SQL for the `AGE_BANDS` label of the whole-year age ``col``; `MISSING_LABEL` when it is null or negative.

    Example:
        >>> import duckdb
        >>> duckdb.sql(f"SELECT {age_band_sql('a')} FROM (VALUES (17), (18), (NULL), (64)) t(a)").fetchall()
        [('10-17',), ('18-20',), ('Missing',), ('50+',)]
    """
    arms = " ".join(
        f"WHEN {col} >= {lo} THEN '{label}'" if hi is None else f"WHEN {col} BETWEEN {lo} AND {hi} THEN '{label}'"
        for lo, hi, label in AGE_BANDS
    )
    return f"CASE {arms} ELSE '{MISSING_LABEL}' END"


def age_band(age: float | None) -> str:
    """The `AGE_BANDS` label of a whole-year age (as `age_band_sql`, for data already in Python).

    Example:
        >>> [age_band(a) for a in (4, 20, 21, None, float("nan"), 80)]
        ['Under 10', '18-20', '21-24', 'Missing', 'Missing', '50+']
    """
    try:
        if age is None or age != age or age < 0:  # None, NaN or a negative recording error
            return MISSING_LABEL
    except TypeError:  # pd.NA has no truth value
        return MISSING_LABEL
    for lo, hi, label in AGE_BANDS:
        if age >= lo and (hi is None or age <= hi):
            return label
    return MISSING_LABEL  # a fractional age between bands (9.5): never given, whole years only
