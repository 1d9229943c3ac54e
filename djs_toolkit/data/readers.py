"""Reading table files in place: DuckDB table expressions, headers and part schemas.

Nothing here loads a whole table into pandas: DuckDB reads CSV and Parquet where they lie.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from djs_toolkit.data.files import TableFiles
from djs_toolkit.data.read_errors import NOT_UTF8_FIX, not_utf8_message
from djs_toolkit.errors import DJSUserError

__all__ = ["UnreadableFile", "part_schema_problems", "read_column_names", "sql_string", "table_expression"]


def sql_string(text: str) -> str:
    """Quote ``text`` as a SQL string literal.

    Example:
        >>> sql_string("it's")
        "'it''s'"
    """
    return "'" + text.replace("'", "''") + "'"


def _csv_header(path: Path) -> list[str]:
    # Only the first line is read, as bytes: decoding a text stream would read ahead and fail on a bad byte further
    # down, with Python's message quoting the bytes around it. utf-8-sig drops a byte-order mark (Excel writes one).
    with path.open("rb") as fh:
        first = fh.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile("encoding", not_utf8_message(path, "", 1)) from None
    row = next(csv.reader([text]), None)
    return [c.strip() for c in row] if row else []


class UnreadableFile(DJSUserError):
    """A table file that cannot be read: `kind` (`encoding`, `malformed_file`) and a description naming no value.

    Validation reports it as a problem of its table; anywhere else it is the user error it says.

    Example:
        >>> print(UnreadableFile("encoding", "`t.csv` is not UTF-8 at line 1"))  # doctest: +ELLIPSIS
        `t.csv` is not UTF-8 at line 1: re-export the file as UTF-8 ...
    """

    def __init__(self, kind: str, description: str) -> None:
        fix = NOT_UTF8_FIX if kind == "encoding" else "re-export it"
        super().__init__(f"{description}: {fix}")
        self.kind = kind
        self.description = description


def read_column_names(tf: TableFiles) -> list[str]:
    """Column names of the table's first non-empty part.

    Raises:
        UnreadableFile: the header is not UTF-8, or a Parquet file is damaged.

    Example:
        >>> read_column_names(TableFiles("t", "t", "csv", ()))
        []
    """
    for p in tf.paths:
        if p.stat().st_size == 0:
            continue
        if tf.fmt == "parquet":
            return list(_parquet_schema(p).names)
        return _csv_header(p)
    return []


def _parquet_schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError; its text names the file's structure only
        raise UnreadableFile(
            "malformed_file", f"`{path.name}` could not be read as Parquet ({type(exc).__name__})"
        ) from None


def part_schema_problems(tf: TableFiles) -> list[str]:
    """Describe parts whose columns or types differ from the first part (names only, no values).

    Example:
        >>> part_schema_problems(TableFiles("t", "t", "csv", ()))
        []
    """
    problems: list[str] = []
    ref: dict[str, str] | None = None
    ref_name = ""
    for p in tf.paths:
        if p.stat().st_size == 0:
            continue
        if tf.fmt == "parquet":
            schema = _parquet_schema(p)
            cols = {n: str(schema.field(n).type) for n in schema.names}
        else:
            cols = dict.fromkeys(_csv_header(p), "text")
        if ref is None:
            ref, ref_name = cols, p.name
            continue
        missing = sorted(set(ref) - set(cols))
        extra = sorted(set(cols) - set(ref))
        retyped = sorted(n for n in set(ref) & set(cols) if ref[n] != cols[n])
        bits = []
        if missing:
            bits.append("lacks " + ", ".join(f"`{n}`" for n in missing))
        if extra:
            bits.append("adds " + ", ".join(f"`{n}`" for n in extra))
        if retyped:
            bits.append("stores " + ", ".join(f"`{n}` as {cols[n]} (not {ref[n]})" for n in retyped))
        if bits:
            problems.append(f"part `{p.name}` differs from `{ref_name}`: " + "; ".join(bits))
    return problems


def table_expression(tf: TableFiles, keep_empty: tuple[str, ...] = ()) -> str:
    """A DuckDB table expression reading the table's non-empty files in place.

    CSV is read as text (`all_varchar`) so types are checked by validation rather than guessed;
    ``keep_empty`` names source columns whose empty fields stay as ``""`` instead of missing.

    Example:
        >>> table_expression(TableFiles("t", "t", "parquet", (Path("a.parquet"),)))
        "read_parquet(['a.parquet'], union_by_name=true)"
    """
    paths = [p for p in tf.paths if not p.exists() or p.stat().st_size > 0]
    files = "[" + ", ".join(sql_string(p.as_posix()) for p in paths) + "]"
    if tf.fmt == "parquet":
        return f"read_parquet({files}, union_by_name=true)"
    # The header is read here and the columns are given explicitly: DuckDB's sniffer otherwise
    # guesses a different header when a row is malformed, and the error would go unreported.
    header = _csv_header(paths[0]) if paths else []
    columns = "{" + ", ".join(f"{sql_string(c)}: 'VARCHAR'" for c in header) + "}"
    opts = [
        "header=true",
        "auto_detect=false",
        f"columns={columns}",
        "delim=','",
        "quote='\"'",
        "escape='\"'",
        "strict_mode=true",
        "null_padding=false",
    ]
    if keep_empty:
        opts.append("force_not_null=[" + ", ".join(sql_string(c) for c in keep_empty) + "]")
    return f"read_csv({files}, {', '.join(opts)})"
