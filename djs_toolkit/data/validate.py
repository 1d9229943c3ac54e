"""The checks behind `Extract.validate()`, run in DuckDB over the files in place.

One aggregate query per table computes every column check at once (types, nulls, code lists,
ranges, coverage window); keys and links take one query each.
"""

from __future__ import annotations

import difflib
import re

import pandas as pd

from djs_toolkit.data.engine import Engine, TableSource, is_native, quote_ident, text_expr, typed_expression
from djs_toolkit.data.read_errors import NOT_UTF8_FIX
from djs_toolkit.data.report import Problem, Severity
from djs_toolkit.schema import DATASETS, EXTRACT_END, TABLES, Column, Table

__all__ = ["check_extract_level", "check_links", "check_table"]

_SHOW_MIN_ROWS = 10  # show an unexpected code only if at least this many rows carry it (SRS threshold)
_CODE_LIKE = re.compile(r"^[\w .,:;/&()'+-]{1,40}$")
_HASH_LIKE = re.compile(r"^[0-9a-fA-F]{12,}$")
_EARLIEST = "1900-01-01"
# Columns whose dates may lie after the extract date by nature (a release date fixed at sentencing).
_SCHEDULED_DATES = {("prison_journey", "conditional_release_date")}
_FIX_MAP = (
    "add `{src}: {col}` under `tables: {table}: columns:` in your column map "
    "(`djs validate ROOT --draft-column-map map.yaml` drafts one)"
)


def _missing_fix(table: Table, col: Column, unexpected: list[str]) -> str:
    aliases = {a.lower() for a in col.aliases}
    candidates = [u for u in unexpected if u.lower() in aliases]
    candidates = candidates or difflib.get_close_matches(col.name, unexpected, n=1, cutoff=0.6)
    if not candidates:
        # A shared word (`def_age` ~ `age_at_offence`) is a good enough hint to name in the fix.
        words = {w for n in (col.name, *aliases) for w in re.split(r"[^a-z0-9]+", n.lower()) if len(w) >= 3}
        shared = [u for u in unexpected if words & set(re.split(r"[^a-z0-9]+", u.lower()))]
        candidates = sorted(shared, key=lambda u: -difflib.SequenceMatcher(None, u.lower(), col.name).ratio())[:1]
    if candidates:
        return f"map column `{candidates[0]}` to `{col.name}` in your column map: " + _FIX_MAP.format(
            src=candidates[0], col=col.name, table=table.name
        )
    return _FIX_MAP.format(src="<your column>", col=col.name, table=table.name)


def _agg(cond: str) -> str:
    return f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)"


def _codes_sql(codes: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + c.replace("'", "''") + "'" for c in codes) + ")"


def _bad_code_note(engine: Engine, table: Table, col: Column, src: TableSource) -> str:
    """Name unexpected codes only when they look like codes and are common enough to be safe."""
    s = src.source_of[col.name]
    expr = typed_expression(col, s, src.source_types.get(s, "VARCHAR"))
    rows = engine.con.execute(
        f"SELECT v, COUNT(*) AS n FROM (SELECT {expr} AS v FROM {quote_ident('_raw_' + table.name)}) "
        f"WHERE v IS NOT NULL AND v NOT IN {_codes_sql(col.codes or ())} GROUP BY v ORDER BY n DESC, v LIMIT 50"
    ).fetchall()
    shown = [v for v, n in rows if n >= _SHOW_MIN_ROWS and _CODE_LIKE.match(v) and not _HASH_LIKE.match(v)]
    hidden = len(rows) - len(shown)
    parts = []
    if shown:
        parts.append("values " + ", ".join(f"`{v}`" for v in shown[:10]))
    if hidden:
        parts.append(
            f"{hidden}{'+' if len(rows) == 50 else ''} other distinct value(s) not shown (rare or not code-like)"
        )
    return "; ".join(parts)


def check_table(engine: Engine, name: str) -> tuple[list[Problem], int]:
    """Every check on one table. Returns (problems, number of rows).

    Example:
        >>> from pathlib import Path
        >>> from djs_toolkit.data.column_map import ColumnMap
        >>> check_table(Engine(Path("no-such-folder"), ColumnMap()), "xjs_link")[1]
        0
    """
    table = TABLES[name]
    src = engine.sources.get(name)
    if src is None:
        return [], 0
    out: list[Problem] = []
    for kind, desc in src.file_problems:
        sev: Severity = "warning" if (kind == "empty_file" and src.readable) else "error"
        fix = {
            "empty_file": "re-export the table; an empty file holds no rows",
            "part_schema": "re-export the parts with the same columns and types, or map them separately",
            "malformed_file": "re-export as UTF-8 CSV with a header row, or as Parquet",
            "encoding": NOT_UTF8_FIX,
        }[kind]
        out.append(Problem(sev, name, "", kind, 1, desc, fix))
    if not src.readable:
        return out, 0
    for canon, sources in sorted(src.duplicates.items()):
        named = " and ".join(f"`{s}`" for s in sources)
        out.append(
            Problem(
                "error",
                name,
                canon,
                "duplicate_mapping",
                len(sources),
                f"columns {named} both map to `{canon}`",
                f"map only one of them to `{canon}` in your column map (`tables: {name}: columns:`), "
                "or drop the other from the export",
            )
        )
    for extra in src.unexpected:
        out.append(
            Problem(
                "warning",
                name,
                extra,
                "unexpected_column",
                1,
                f"column `{extra}` is not in the {name} schema and is ignored",
                "map it to a canonical column in your column map, or ignore this warning",
            )
        )
    for col in table.columns:
        if col.name not in src.source_of:
            sev = "error" if col.required else "warning"
            out.append(
                Problem(
                    sev,
                    name,
                    col.name,
                    "missing_column",
                    1,
                    f"column `{col.name}` ({col.provenance}) not found"
                    + ("" if sev == "error" else "; it reads as all missing"),
                    _missing_fix(table, col, src.unexpected),
                )
            )
    raw = quote_ident("_raw_" + name)
    selects, checks = ["COUNT(*) AS n_rows"], []
    ds = DATASETS.get(table.dataset)
    end = engine.column_map.extract_end or EXTRACT_END
    for i, col in enumerate(table.columns):
        s = src.source_of.get(col.name)
        if s is None:
            continue
        st = src.source_types.get(s, "VARCHAR")
        typed = typed_expression(col, s, st)
        q = quote_ident(s)
        if not is_native(col, st):
            selects.append(f"{_agg(f'{text_expr(q)} IS NOT NULL AND ({typed}) IS NULL')} AS c{i}_type")
            checks.append((col, "type", f"c{i}_type"))
        if col.dtype in ("string", "category") and st.upper() not in ("VARCHAR", "BLOB") and "CHAR" not in st.upper():
            selects.append(f"{_agg(f'{q} IS NOT NULL')} AS c{i}_numcode")
            checks.append((col, "numcode", f"c{i}_numcode"))
        if not col.nullable:
            selects.append(f"{_agg(f'({typed}) IS NULL AND {text_expr(q)} IS NULL')} AS c{i}_null")
            checks.append((col, "null", f"c{i}_null"))
        if col.closed and col.codes:
            selects.append(
                f"{_agg(f'({typed}) IS NOT NULL AND ({typed}) NOT IN {_codes_sql(col.codes)}')} AS c{i}_code"
            )
            checks.append((col, "code", f"c{i}_code"))
        if col.valid_range is not None:
            lo, hi = col.valid_range
            selects.append(f"{_agg(f'({typed}) < {lo} OR ({typed}) > {hi}')} AS c{i}value_range")
            checks.append((col, "range", f"c{i}value_range"))
        if col.dtype == "date":
            # Dates before 1900 are placeholders (1899-12-30 is Excel's day zero), never events; dates after the data
            # cut-off are typing slips unless the column holds a scheduled date.
            selects.append(f"{_agg(f'({typed}) < DATE {_EARLIEST!r}')} AS c{i}_early")
            checks.append((col, "early", f"c{i}_early"))
            if (table.name, col.name) not in _SCHEDULED_DATES:
                selects.append(f"{_agg(f'({typed}) > DATE {str(end)!r}')} AS c{i}_late")
                checks.append((col, "late", f"c{i}_late"))
        if col.name == table.window_column and ds is not None:
            outside = f"({typed}) < DATE {str(ds.start)!r} OR ({typed}) > DATE {str(ds.end)!r}"
            selects.append(f"{_agg(outside)} AS c{i}_window")
            checks.append((col, "window", f"c{i}_window"))
    res = engine.con.execute(f"SELECT {', '.join(selects)} FROM {raw}").fetchdf().iloc[0]
    n_rows = int(res["n_rows"])
    if n_rows == 0:
        out.append(
            Problem(
                "warning",
                name,
                "",
                "no_rows",
                0,
                "the table has a header but no rows",
                "check the export: an empty table gives empty analyses",
            )
        )
    for col, kind, key in checks:
        n = 0 if pd.isna(res[key]) else int(res[key])
        if n == 0:
            continue
        if kind == "type":
            out.append(
                Problem(
                    "error",
                    name,
                    col.name,
                    "wrong_type",
                    n,
                    f"{n:,} value(s) do not parse as {col.dtype}"
                    + (" (ISO dates YYYY-MM-DD expected)" if col.dtype == "date" else ""),
                    f"re-export `{col.name}` as {col.dtype}, or map the right column to it",
                )
            )
        elif kind == "numcode":
            out.append(
                Problem(
                    "warning",
                    name,
                    col.name,
                    "wrong_type",
                    n,
                    f"stored as numbers ({n:,} values): leading zeros such as `00101` may be lost",
                    f"re-export `{col.name}` as text",
                )
            )
        elif kind == "null":
            out.append(
                Problem(
                    "error",
                    name,
                    col.name,
                    "null_value",
                    n,
                    f"{n:,} missing value(s) in a column that must always be filled",
                    f"check that `{col.name}` is mapped to the right source column",
                )
            )
        elif kind == "code":
            note = _bad_code_note(engine, table, col, src)
            out.append(
                Problem(
                    "error",
                    name,
                    col.name,
                    "bad_code",
                    n,
                    f"{n:,} value(s) outside the code list" + (f" ({note})" if note else ""),
                    f"recode to one of: {', '.join(col.codes or ())}",
                )
            )
        elif kind == "range" and col.valid_range is not None:  # range checks exist only for columns with one
            lo, hi = col.valid_range
            out.append(
                Problem(
                    "warning",
                    name,
                    col.name,
                    "out_of_range",
                    n,
                    f"{n:,} value(s) outside the plausible range {lo:g} to {hi:g}",
                    "cap or set to missing in your analysis (real data has outliers)",
                )
            )
        elif kind == "early":
            out.append(
                Problem(
                    "error",
                    name,
                    col.name,
                    "implausible_date",
                    n,
                    f"{n:,} date(s) before {_EARLIEST[:4]}: placeholders (such as 1899-12-30, Excel's day zero), "
                    "not events",
                    f"set them to missing in the export (or re-export `{col.name}` without placeholder dates)",
                )
            )
        elif kind == "late":
            out.append(
                Problem(
                    "warning",
                    name,
                    col.name,
                    "implausible_date",
                    n,
                    f"{n:,} date(s) after the extract date {end}",
                    "check the export (a typing slip in the year?); set `extract_end:` in your column map if the "
                    "extract is newer; analyses ignore events after the extract date",
                )
            )
        elif kind == "window" and ds is not None:  # window checks exist only for a dataset's tables
            out.append(
                Problem(
                    "warning",
                    name,
                    col.name,
                    "out_of_window",
                    n,
                    f"{n:,} date(s) outside the {ds.title} coverage window {ds.start} to {ds.end}",
                    "expected for left-censored or late records; analyses censor at the window",
                )
            )
    out += _duplicate_keys(engine, table, src)
    return out, n_rows


def _duplicate_keys(engine: Engine, table: Table, src: TableSource) -> list[Problem]:
    if any(k not in src.source_of for k in table.key):
        return []
    keys = ", ".join(quote_ident(k) for k in table.key)
    n = engine.con.execute(
        f"SELECT COALESCE(SUM(c - 1), 0) FROM (SELECT COUNT(*) AS c FROM {quote_ident(table.name)} "
        f"GROUP BY {keys} HAVING COUNT(*) > 1) AS d"
    ).fetchall()[0][0]
    if not n:
        return []
    sev = table.duplicate_key
    return [
        Problem(
            sev,
            table.name,
            ", ".join(table.key),
            "duplicate_key",
            int(n),
            f"{int(n):,} extra row(s) repeat a key value",
            "de-duplicate on the key before counting"
            if sev == "warning"
            else "check the export and the column map: the key must be unique",
        )
    ]


def check_links(engine: Engine) -> list[Problem]:
    """Link rows pointing to no record, and person-records with no link row.

    Example:
        >>> from pathlib import Path
        >>> from djs_toolkit.data.column_map import ColumnMap
        >>> check_links(Engine(Path("no-such-folder"), ColumnMap()))
        []
    """
    if "xjs_link" not in engine.tables:
        return []
    out: list[Problem] = []
    for label, ds in DATASETS.items():
        pt = ds.person_table
        if pt not in engine.tables:
            continue
        people = f"SELECT row_id_hash FROM {quote_ident(pt)}"
        if pt == "civil_parties":
            # Organisations are parties but never persons: they have no link row (docs/data.md §8).
            people += " WHERE party_type IS NULL OR party_type <> 'Organisation'"
        orphans, unlinked = engine.con.execute(
            f"""
            WITH link AS (SELECT DISTINCT row_id_hash FROM xjs_link WHERE source_dataset = '{label}'),
                 rec AS ({people})
            SELECT (SELECT COUNT(*) FROM link WHERE row_id_hash NOT IN (SELECT row_id_hash FROM rec
                                                                        WHERE row_id_hash IS NOT NULL)),
                   (SELECT COUNT(*) FROM rec WHERE row_id_hash NOT IN (SELECT row_id_hash FROM link))
            """
        ).fetchall()[0]
        if orphans:
            out.append(
                Problem(
                    "warning",
                    "xjs_link",
                    "row_id_hash",
                    "orphan_link",
                    int(orphans),
                    f"{int(orphans):,} `{label}` link row(s) point to no record in {pt}",
                    f"check that {pt} is complete and mapped; these links are ignored",
                )
            )
        if unlinked:
            out.append(
                Problem(
                    "warning",
                    pt,
                    "row_id_hash",
                    "unlinked_record",
                    int(unlinked),
                    f"{int(unlinked):,} record(s) have no xjs_link row",
                    "these records have no person id and drop out of person-level analyses",
                )
            )
    return out


def check_extract_level(engine: Engine) -> list[Problem]:
    """Whole-extract problems: no tables at all, missing tables (the linking table is required), unmatched files."""
    out: list[Problem] = []
    if not engine.sources:
        out.append(
            Problem(
                "error",
                "",
                "",
                "no_tables",
                0,
                f"no Data First table files found in `{engine.root.name}`",
                "point to the extract folder, or name the files in your column map (`file:`)",
            )
        )
        return out
    if "xjs_link" not in engine.sources:
        # Every person-level analysis goes through the spine, which cannot be built without the linking lookup:
        # `djs run` would fail on it, so validation says so first.
        out.append(
            Problem(
                "error",
                "xjs_link",
                "",
                "missing_table",
                0,
                "the linking table is not in the extract: no person-level analysis (the spine) can run without it",
                "add the xjs_link file to the extract folder, or name its file with `tables: xjs_link: file: <stem>` "
                "in your column map",
            )
        )
    for name in TABLES:
        if name not in engine.sources and name != "xjs_link":
            out.append(
                Problem(
                    "warning",
                    name,
                    "",
                    "missing_table",
                    0,
                    "table not found in the extract",
                    f"name its file with `tables: {name}: file: <stem>` in your column map, "
                    "or ignore if your project has no access to it",
                )
            )
    for stem in engine.unknown_files:
        out.append(
            Problem(
                "warning",
                "",
                "",
                "unknown_file",
                1,
                f"file(s) `{stem}` match no table",
                f"add `file: {stem}` under its canonical table in your column map",
            )
        )
    return out


def summary_frame(rows: dict[str, int]) -> pd.DataFrame:
    """Rows per table as a DataFrame."""
    return pd.DataFrame([{"table": t, "rows": n, "columns": len(TABLES[t].columns)} for t, n in rows.items()])
