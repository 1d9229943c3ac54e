"""The embedded engine: one DuckDB connection per extract, a view per canonical table.

Each table gets two views over its files in place: ``_raw_<table>`` (the file columns as they are)
and ``<table>`` (canonical names and types, column map applied, missing optional columns as
typed NULLs). Type conversion is done with portable SQL (CAST, TRY_CAST, NULLIF, CASE) so the same
statements can later run on Spark (docs/architecture.md §5: SQL kept dialect-portable).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from djs_toolkit.data.column_map import ColumnMap, normalise_name
from djs_toolkit.data.files import TableFiles, find_table_files
from djs_toolkit.data.read_errors import engine_error_message, reader_problem
from djs_toolkit.data.readers import UnreadableFile, part_schema_problems, read_column_names, table_expression
from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import TABLES, Column

__all__ = ["SQL_TYPES", "Engine", "memory_limit_mib", "quote_ident"]

SQL_TYPES = {
    "string": "VARCHAR",
    "category": "VARCHAR",
    "date": "DATE",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
}
_TRUE = "('TRUE', 'T', 'Y', 'YES', '1')"
_FALSE = "('FALSE', 'F', 'N', 'NO', '0')"
_INT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}


def quote_ident(name: str) -> str:
    """Quote a SQL identifier.

    Example:
        >>> quote_ident('a"b')
        '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


@dataclass
class TableSource:
    """How one canonical table is read: its files, the source column of each canonical column."""

    files: TableFiles
    source_of: dict[str, str] = field(default_factory=dict)  # canonical -> source column
    source_types: dict[str, str] = field(default_factory=dict)  # source column -> SQL type
    unexpected: list[str] = field(default_factory=list)  # source columns with no canonical name
    file_problems: list[tuple[str, str]] = field(default_factory=list)  # (kind, description)
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # canonical -> every source column mapped to it
    readable: bool = True


def text_expr(q: str) -> str:
    return f"NULLIF(TRIM(CAST({q} AS VARCHAR)), '')"


def typed_expression(col: Column, source: str | None, source_type: str = "VARCHAR") -> str:
    """SQL turning a source column into the canonical column (NULL where it does not parse).

    Example:
        >>> from djs_toolkit.schema import TABLES
        >>> typed_expression(TABLES["xjs_link"].column("row_id_hash"), "row_id_hash")
        'NULLIF(CAST("row_id_hash" AS VARCHAR), \\'\\')'
    """
    target = SQL_TYPES[col.dtype]
    if source is None:
        return f"CAST(NULL AS {target})"
    q = quote_ident(source)
    st = source_type.upper()
    if col.dtype in ("string", "category"):
        # Strings are not trimmed: label variants such as " Sexual offences" are real (docs/data.md §14.3).
        return f"NULLIF(CAST({q} AS VARCHAR), '')" if col.empty_is_missing else f"CAST({q} AS VARCHAR)"
    if col.dtype == "date":
        if st == "DATE":
            return q
        if st.startswith("TIMESTAMP"):
            return f"CAST({q} AS DATE)"
        return f"TRY_CAST({text_expr(q)} AS DATE)"
    if col.dtype == "int":
        if st in _INT_TYPES:
            return f"CAST({q} AS BIGINT)"
        return f"TRY_CAST({text_expr(q)} AS BIGINT)"
    if col.dtype == "float":
        if st in _INT_TYPES or st in ("DOUBLE", "FLOAT", "REAL") or st.startswith("DECIMAL"):
            return f"CAST({q} AS DOUBLE)"
        return f"TRY_CAST({text_expr(q)} AS DOUBLE)"
    if st == "BOOLEAN":
        return q
    t = f"UPPER({text_expr(q)})"
    return f"CASE WHEN {t} IN {_TRUE} THEN TRUE WHEN {t} IN {_FALSE} THEN FALSE END"


def is_native(col: Column, source_type: str) -> bool:
    """Whether the source is already stored in the canonical type (so nothing can fail to parse)."""
    st = source_type.upper()
    return {
        "date": st == "DATE" or st.startswith("TIMESTAMP"),
        "int": st in _INT_TYPES,
        "float": st in _INT_TYPES or st in ("DOUBLE", "FLOAT", "REAL") or st.startswith("DECIMAL"),
        "bool": st == "BOOLEAN",
        "string": True,
        "category": True,
    }[col.dtype]


def memory_limit_mib() -> int:
    """DuckDB's memory budget: ``DJS_DUCKDB_MEMORY_MIB`` if set, else a quarter of physical memory.

    DuckDB's default (80% of RAM) leaves no room for the pandas frames a notebook fetches, and the
    process is killed instead of spilling; with a quarter, a national spine fits in 12 GiB with its
    pandas copy (bench/spine.py).

    Example:
        >>> memory_limit_mib() >= 512
        True
    """
    env = os.environ.get("DJS_DUCKDB_MEMORY_MIB", "").strip()
    if env.isdigit():
        return max(512, int(env))
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        total = 12 * 2**30
    return max(512, int(total / 4 / 2**20))


class Engine:
    """A DuckDB connection with raw and canonical views over an extract's files.

    Args:
        root: the extract folder.
        column_map: the column map (file stems and column renames).

    Example:
        >>> eng = Engine(Path("no-such-folder"), ColumnMap())
        >>> eng.tables
        []
    """

    def __init__(self, root: Path, column_map: ColumnMap) -> None:
        self.root = Path(root)
        self.column_map = column_map
        self.con = duckdb.connect(":memory:")
        # Spill large joins to the system temp folder, not to `.tmp/` in the user's working folder
        # (which may be a shared project drive in the SRS).
        spill = Path(tempfile.gettempdir()) / "djs_duckdb"
        self.con.execute(f"SET temp_directory = '{spill.as_posix()}'")
        self.con.execute(f"SET memory_limit = '{memory_limit_mib()}MiB'")
        # No progress bar: notebooks and logs show counts we choose, nothing else. In Jupyter without
        # ipywidgets DuckDB refuses to change the setting, and draws no bar there either.
        with contextlib.suppress(duckdb.Error):
            self.con.execute("SET enable_progress_bar = false")
        # Work tables (the spine and what analyses derive from it) live in a compressed in-memory
        # database: a national spine is about 5x smaller there (bench/spine.py).
        self.con.execute("ATTACH ':memory:' AS djs_work (COMPRESS)")
        self.con.execute("USE djs_work")
        files, self.unknown_files = find_table_files(self.root, column_map.files)
        self.sources: dict[str, TableSource] = {}
        for name, tf in files.items():
            self.sources[name] = self._register(name, tf)

    @property
    def tables(self) -> list[str]:
        """Canonical tables found in the extract and readable."""
        return [n for n, s in self.sources.items() if s.readable]

    def _register(self, name: str, tf: TableFiles) -> TableSource:
        src = TableSource(files=tf)
        if all(p.stat().st_size == 0 for p in tf.paths):
            src.file_problems.append(("empty_file", f"file `{tf.paths[0].name}` is empty"))
            src.readable = False
            return src
        for p in tf.paths:
            if p.stat().st_size == 0:
                src.file_problems.append(("empty_file", f"part `{p.name}` is empty"))
        table = TABLES[name]
        raw = f"_raw_{name}"
        try:
            for desc in part_schema_problems(tf):
                src.file_problems.append(("part_schema", desc))
            names = read_column_names(tf)
            canon_of = {s: self.column_map.rename(name, s) for s in names}
            keep_empty = tuple(
                s for s, c in canon_of.items() if c in table.column_names and not table.column(c).empty_is_missing
            )
            self.con.execute(f"CREATE VIEW {quote_ident(raw)} AS SELECT * FROM {table_expression(tf, keep_empty)}")
            described = self.con.execute(f"DESCRIBE SELECT * FROM {quote_ident(raw)}").fetchall()
            if tf.fmt == "csv":
                # DuckDB checks CSV structure lazily and UTF-8 only in the columns a query reads: force one full
                # pass over every column now, so a malformed or mis-encoded file is reported here, once, rather than
                # halfway through an analysis with the offending line quoted in the error.
                counts = ", ".join(f"COUNT({quote_ident(r[0])})" for r in described)
                self.con.execute(f"SELECT COUNT(*), {counts} FROM {quote_ident(raw)}").fetchall()
        except UnreadableFile as exc:
            src.file_problems.append((exc.kind, exc.description))
            src.readable = False
            return src
        except duckdb.Error as exc:
            src.file_problems.append(reader_problem(exc, tf))
            src.readable = False
            return src
        src.source_types = {r[0]: r[1] for r in described}
        for s in src.source_types:
            c = canon_of.get(s, normalise_name(s))
            if c in table.column_names and c not in src.source_of:
                src.source_of[c] = s
            elif c in table.column_names:
                # Two source columns for one canonical column: which one an analysis reads would be a guess.
                src.duplicates.setdefault(c, [src.source_of[c]]).append(s)
            else:
                src.unexpected.append(s)
        exprs = []
        for col in table.columns:
            source = src.source_of.get(col.name)
            stype = "VARCHAR" if source is None else src.source_types.get(source, "VARCHAR")
            exprs.append(f"{typed_expression(col, source, stype)} AS {quote_ident(col.name)}")
        self.con.execute(f"CREATE VIEW {quote_ident(name)} AS SELECT {', '.join(exprs)} FROM {quote_ident(raw)}")
        return src

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run SQL on the connection and return a pandas DataFrame.

        Example:
            >>> Engine(Path("no-such-folder"), ColumnMap()).query("SELECT 1 AS x")["x"].tolist()
            [1]
        """
        try:
            return self.con.execute(sql, params or []).df()
        except duckdb.Error as exc:
            # The boundary: DuckDB's text may quote a row (CSV errors) or a value (conversion errors).
            raise DJSUserError(engine_error_message(exc, {n: src.files for n, src in self.sources.items()})) from None
