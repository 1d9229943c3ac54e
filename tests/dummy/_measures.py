"""Calibration measures computed from the generated files (estimated ids, never truth).

These are deliberately plain DuckDB queries a researcher would write, so the tests check what an
analysis of the dummy extract sees (docs/data.md §13 targets).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

__all__ = [
    "care_mothers_return",
    "connect",
    "proven_reoffending",
    "quarterly_claims",
    "returning_defendants",
    "yearly_rows",
]


def connect(root: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per table (single or multi-part Parquet)."""
    con = duckdb.connect()
    names = sorted({p.name.split(".")[0].rstrip("0123456789").rstrip("_") for p in root.glob("*.parquet")})
    for name in names:
        files = sorted(
            str(p) for p in root.glob(f"{name}*.parquet") if p.stem == name or p.stem[len(name) + 1 :].isdigit()
        )
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files!r})")
    return con


def returning_defendants(con: duckdb.DuckDBPyConnection) -> tuple[int, float, float]:
    """MOJ-RET (docs/data.md §13.2): people whose first magistrates' case is in 2011; share returning by Dec 2019
    (any later hearing date) and share returning six or more times (six or more later dates)."""
    df = con.execute("""
        WITH d AS (SELECT DISTINCT estimated_defendant_id AS id, first_hearing_date AS day
                   FROM mags_defendant_case WHERE estimated_defendant_id IS NOT NULL),
        f AS (SELECT id, min(day) AS first FROM d GROUP BY id),
        c AS (SELECT f.id, count(d.day) AS returns FROM f LEFT JOIN d ON d.id = f.id
              AND d.day > f.first AND d.day <= DATE '2019-12-31'
              WHERE year(f.first) = 2011 GROUP BY f.id)
        SELECT count(*) AS n, avg((returns >= 1)::INT) AS ret, avg((returns >= 6)::INT) AS six FROM c
    """).fetchone()
    return int(df[0]), float(df[1]), float(df[2])


_INDEX_SQL = {
    "release": """SELECT l.estimated_xjs_id AS id, j.release_date AS day FROM prison_journey j
                  JOIN xjs_link l ON l.source_dataset = 'prison_nomis' AND l.row_id_hash = j.row_id_hash
                  WHERE j.release_date IS NOT NULL AND j.custody_status <> 'Remand'""",
    "release_short_custody": """SELECT l.estimated_xjs_id AS id, j.release_date AS day FROM prison_journey j
                  JOIN xjs_link l ON l.source_dataset = 'prison_nomis' AND l.row_id_hash = j.row_id_hash
                  WHERE j.release_date IS NOT NULL AND j.custody_status <> 'Remand'
                  AND j.sentence_length_days < 365""",
    "probation_start": """SELECT l.estimated_xjs_id AS id, p.referral_date AS day FROM probation_flatfile p
                  JOIN xjs_link l ON l.source_dataset = 'probation_delius' AND l.row_id_hash = p.row_id_hash
                  WHERE p.disposal_type_description NOT LIKE '%Custody%'""",
    "court_disposal": """SELECT l.estimated_xjs_id AS id, m.final_result_date AS day FROM mags_defendant_case m
                  JOIN xjs_link l ON l.source_dataset = 'mags_hocas' AND l.row_id_hash = m.row_id_hash
                  WHERE m.proceedings_type_desc = 'Criminal' AND m.convicted_flag
                  AND m.disposal_type IN ('Fine', 'Conditional discharge', 'Absolute discharge',
                                          'Otherwise dealt with')""",
}


def proven_reoffending(con: duckdb.DuckDBPyConnection, cohort: str, year: int = 2016) -> tuple[int, float]:
    """Court-proven one-year reoffending (docs/data.md §12.2): first index per person in ``year``; a new criminal
    magistrates' case with offence in (index, index + 365] that is convicted or sent to the Crown
    Court, with its result by index + 365 + 183 days."""
    row = con.execute(f"""
        WITH idx AS (SELECT id, min(day) AS day FROM ({_INDEX_SQL[cohort]})
                     WHERE year(day) = {year} GROUP BY id),
        re AS (SELECT l.estimated_xjs_id AS id, m.offence_date, m.final_result_date FROM mags_defendant_case m
               JOIN xjs_link l ON l.source_dataset = 'mags_hocas' AND l.row_id_hash = m.row_id_hash
               WHERE m.proceedings_type_desc = 'Criminal' AND (m.convicted_flag OR m.committed_to_crown_flag)),
        hit AS (SELECT DISTINCT idx.id FROM idx JOIN re ON re.id = idx.id
                AND re.offence_date > idx.day AND re.offence_date <= idx.day + INTERVAL 365 DAY
                AND re.final_result_date <= idx.day + INTERVAL 548 DAY)
        SELECT count(*), (SELECT count(*) FROM hit) FROM idx
    """).fetchone()
    return int(row[0]), (row[1] / row[0] if row[0] else float("nan"))


def care_mothers_return(con: duckdb.DuckDBPyConnection) -> tuple[int, float]:
    """Broadhurst et al. (docs/data.md §13.4): women respondents in public-law cases first seen 2011-2015; share
    with another public-law case starting within seven years."""
    row = con.execute("""
        WITH m AS (SELECT DISTINCT p.estimated_person_id AS id, c.case_number_hash AS k, c.case_start_date AS day
                   FROM family_parties p JOIN family_cases c USING (case_number_hash)
                   WHERE c.case_type = 'Public law' AND p.party_role = 'Respondent' AND p.gender = 'F'
                   AND p.estimated_person_id IS NOT NULL),
        f AS (SELECT id, min(day) AS first FROM m GROUP BY id HAVING year(min(day)) BETWEEN 2011 AND 2015),
        r AS (SELECT f.id, max((m.day > f.first AND m.day <= f.first + INTERVAL 2557 DAY)::INT) AS ret
              FROM f JOIN m USING (id) GROUP BY f.id)
        SELECT count(*), avg(ret) FROM r
    """).fetchone()
    return int(row[0]), float(row[1])


def yearly_rows(con: duckdb.DuckDBPyConnection, table: str, date_col: str) -> pd.Series:
    """Rows per calendar year of ``date_col``."""
    df = con.execute(
        f"SELECT year({date_col}) AS y, count(*) AS n FROM {table} WHERE {date_col} IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).df()
    return df.set_index("y")["n"]


def quarterly_claims(con: duckdb.DuckDBPyConnection, claim_type: str) -> pd.Series:
    """Claims issued per quarter of a claim type."""
    df = con.execute(f"""SELECT year(issue_date) * 10 + quarter(issue_date) AS q, count(*) AS n
                         FROM civil_cases WHERE claim_type = '{claim_type}' GROUP BY 1 ORDER BY 1""").df()
    return df.set_index("q")["n"]
