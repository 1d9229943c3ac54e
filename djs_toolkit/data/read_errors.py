"""Reader and engine failures described without a row value.

DuckDB's CSV errors quote the offending line ("Original Line: ..."), its conversion errors quote the value, and
Python's `UnicodeDecodeError` carries the bytes around the bad one: none of these may reach a message, because
messages end up in consoles and notebooks that output checkers see. Every failure is caught where the files are read
(`engine.Engine`) and re-described from what is safe to name: the file, the table, the column, the line number and
the fix.
"""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import duckdb

from djs_toolkit.data.files import TableFiles

__all__ = ["NOT_UTF8_FIX", "engine_error_message", "first_bad_utf8", "not_utf8_message", "reader_problem"]

NOT_UTF8_FIX = "re-export the file as UTF-8 (Excel: Save As > CSV UTF-8; R: write.csv(fileEncoding = 'UTF-8'))"
_BLOCK = 1 << 20
_LINE = re.compile(r"[Ll]ine:?\s*(\d+)")
_FILE = re.compile(r"^\s*file\s*=\s*(.+?)\s*$", re.MULTILINE)


def first_bad_utf8(path: Path) -> tuple[int, str | None] | None:
    """Where a file first stops being UTF-8: (line number, column name when the line parses), or None if it is UTF-8.

    Reads the file once in blocks (a national extract's CSV never sits in memory); only the bad line is re-read to
    name its column. A byte-order mark is allowed.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = p.write_bytes("id,ethnicity\\n1,White\\n2,Whit\\xe9\\n".encode("latin-1"))
        >>> first_bad_utf8(p)
        (3, 'ethnicity')
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with Path(path).open("rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            final = not block
            try:
                decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                # The decoder may hold back up to 3 bytes of an unfinished sequence from the previous block: counting
                # the newlines before the bad byte within this block (plus those held back, which are never newlines)
                # gives the line.
                start = max(exc.start - len(exc.object) + len(block), 0)
                line += block[:start].count(b"\n")
                return line, _column_of_line(Path(path), line)
            if final:
                return None
            line += block.count(b"\n")


def _column_of_line(path: Path, line_no: int) -> str | None:
    """The header name of the first field of physical line `line_no` that is not UTF-8 (None when it cannot be told)."""
    with path.open("rb") as fh:
        header_raw = fh.readline()
        raw = header_raw
        for _ in range(line_no - 1):
            raw = fh.readline()
    # Latin-1 maps every byte to one character, so commas and quotes stay where they are and each field's bytes can be
    # recovered exactly to test them.
    header = next(csv.reader([header_raw.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf")]), [])
    fields = next(csv.reader([raw.decode("latin-1")]), [])
    for name, field in zip(header, fields, strict=False):
        try:
            field.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return name.strip()
    return None


def not_utf8_message(path: Path, table: str, line: int | None, column: str | None = None) -> str:
    """The one description of a file that is not UTF-8 (no byte of it shown; the fix is `NOT_UTF8_FIX`).

    Example:
        >>> not_utf8_message(Path("mags.csv"), "mags_defendant_case", 7, "ethnicity")
        '`mags.csv` (table mags_defendant_case) is not UTF-8 at line 7, column `ethnicity`'
    """
    where = f" at line {line}" if line else ""
    col = f", column `{column}`" if column else ""
    tbl = f" (table {table})" if table else ""
    return f"`{Path(path).name}`{tbl} is not UTF-8{where}{col}"


def _named_file(text: str, tf: TableFiles) -> Path | None:
    m = _FILE.search(text)
    if m:
        named = Path(m.group(1).strip()).name
        for p in tf.paths:
            if p.name == named:
                return p
    return None


def reader_problem(exc: BaseException, tf: TableFiles) -> tuple[str, str]:
    """(problem kind, description) for a failure reading a table's files: `encoding` or `malformed_file`.

    The exception's text is read for the line number and the file only; nothing of it is repeated.

    Example:
        >>> tf = TableFiles("xjs_link", "xjs_link", "csv", (Path("xjs_link.csv"),))
        >>> err = duckdb.InvalidInputException("CSV Error on Line: 5\\nOriginal Line: a,b,SECRET\\nfile = xjs_link.csv")
        >>> reader_problem(err, tf)[1]  # doctest: +ELLIPSIS
        '`xjs_link.csv` could not be read as CSV near line 5: check the delimiter (comma), quoting ...'
    """
    text = str(exc)
    path = _named_file(text, tf)
    if isinstance(exc, UnicodeDecodeError) or "unicode" in text.lower() or "utf-8" in text.lower():
        for p in [path] if path is not None else [q for q in tf.paths if q.suffix.lower() == ".csv"]:
            if p.exists() and p.stat().st_size:
                found = first_bad_utf8(p)
                if found is not None:
                    return "encoding", not_utf8_message(p, "", *found)
        line = _LINE.search(text)
        return "encoding", not_utf8_message(path or tf.paths[0], "", int(line.group(1)) if line else None)
    line = _LINE.search(text)
    where = f" near line {line.group(1)}" if line else ""
    kind = "CSV" if tf.fmt == "csv" else "Parquet"
    if path is not None:
        name = f"`{path.name}`"
    else:
        name = f"`{tf.paths[0].name}`" + (" or another part" if len(tf.paths) > 1 else "")
    fix = (
        "check the delimiter (comma), quoting and that every row has the same number of fields"
        if tf.fmt == "csv"
        else "the file is damaged or not Parquet: re-export it"
    )
    return "malformed_file", f"{name} could not be read as {kind}{where}: {fix}"


def engine_error_message(exc: duckdb.Error, sources: dict[str, TableFiles]) -> str:
    """A DuckDB query failure as one safe message: the query's own mistakes named, data errors described.

    Errors about the query itself (syntax, unknown table or column) quote only the query and keep their text; errors
    raised while reading files name file, table and line; anything else (conversion and out-of-range errors quote
    the value) is named by its kind only.

    Example:
        >>> engine_error_message(duckdb.ConversionException("Could not convert string 'AB12' to INT32"), {})
        'a query on the extract failed in DuckDB (ConversionException): its message is withheld because it may hold \
a row value. Check the types of the columns the query casts or compares.'
    """
    text = str(exc)
    if isinstance(exc, (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)):
        return f"the query is not valid for the extract: {text.strip()}"
    path_text = _FILE.search(text)
    if path_text:
        named = Path(path_text.group(1).strip()).name
        for tf in sources.values():
            if any(p.name == named for p in tf.paths):
                kind, desc = reader_problem(exc, tf)
                return f"{desc} (table {tf.table})" + (f": {NOT_UTF8_FIX}" if kind == "encoding" else "")
    return (
        f"a query on the extract failed in DuckDB ({type(exc).__name__}): its message is withheld because it may hold "
        "a row value. Check the types of the columns the query casts or compares."
    )
