"""`Extract`: an opened Data First extract (real or dummy), read in place through DuckDB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from djs_toolkit.data.column_map import ColumnMap, load_column_map
from djs_toolkit.data.engine import Engine, quote_ident
from djs_toolkit.data.report import Problem, ValidationReport
from djs_toolkit.data.validate import check_extract_level, check_links, check_table, summary_frame
from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import EXTRACT_END, TABLES, Table

__all__ = ["Extract", "open_extract", "to_canonical_dtypes"]


def to_canonical_dtypes(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Give a frame read from DuckDB the canonical pandas dtypes of ``table``.

    strings -> ``string``; categories -> ``category`` (the code list for closed lists); dates ->
    ``datetime64[ns]``; ints -> ``Int64``; floats -> ``float64``; bools -> ``boolean``.

    Example:
        >>> from djs_toolkit.schema import TABLES
        >>> df = pd.DataFrame({"source_dataset": ["mags_hocas"], "row_id_hash": ["0a"], "estimated_xjs_id": ["1"]})
        >>> str(to_canonical_dtypes(df, TABLES["xjs_link"])["source_dataset"].dtype)
        'category'
    """
    out: dict[str, pd.Series | pd.Categorical] = {}
    for col in table.columns:
        s = df[col.name]
        if col.dtype == "string":
            out[col.name] = s.astype("string")
        elif col.dtype == "category":
            cats = list(col.codes) if col.closed and col.codes else sorted(s.dropna().unique())
            out[col.name] = pd.Categorical(s, categories=cats)
        elif col.dtype == "date":
            out[col.name] = pd.to_datetime(s).astype("datetime64[ns]")
        elif col.dtype == "int":
            out[col.name] = s.astype("Int64")
        elif col.dtype == "float":
            out[col.name] = s.astype("float64")
        else:
            out[col.name] = s.astype("boolean")
    return pd.DataFrame(out, index=df.index)


class Extract:
    """An opened extract: canonical tables over the files in place.

    Use `open_extract` to make one.

    Attributes:
        root: the extract folder.
        column_map: the column map in use.
        extract_end: the data cut-off (column map `extract_end`, else the schema default).
        built: the derived work tables built on its connection (`spine`, `cases`), each built once.
    """

    def __init__(self, root: Path, column_map: ColumnMap) -> None:
        self.root = root
        self.column_map = column_map
        self.engine = Engine(root, column_map)
        self.extract_end: dt.date = column_map.extract_end or EXTRACT_END
        self._table_checks: dict[str, tuple[list[Problem], int]] = {}
        self._report: ValidationReport | None = None
        self.built: set[str] = set()

    @property
    def tables(self) -> list[str]:
        """Canonical names of the tables present and readable, in schema order.

        Example:
            >>> Extract(Path("no-such-folder"), ColumnMap()).tables
            []
        """
        return [t for t in TABLES if t in self.engine.tables]

    def _checks(self, name: str) -> tuple[list[Problem], int]:
        if name not in self._table_checks:
            self._table_checks[name] = check_table(self.engine, name)
        return self._table_checks[name]

    def validate(self) -> ValidationReport:
        """Check every table and the links between them; every problem in one report.

        Example:
            >>> Extract(Path("no-such-folder"), ColumnMap()).validate().ok
            False
        """
        if self._report is None:
            problems = check_extract_level(self.engine)
            rows = {}
            for name in TABLES:
                if name in self.engine.sources:
                    p, n = self._checks(name)
                    problems += p
                    rows[name] = n
            problems += check_links(self.engine)
            self._report = ValidationReport(problems, summary_frame(rows))
        return self._report

    def table(self, name: str) -> pd.DataFrame:
        """One canonical table as pandas, validated, with canonical names and dtypes.

        Raises:
            DJSUserError: the table is absent, or has errors (all listed, each with its fix).

        Example:
            >>> Extract(Path("no-such-folder"), ColumnMap()).table("xjs_link")
            Traceback (most recent call last):
            djs_toolkit.DJSUserError: Table `xjs_link` is not in the extract: ...
        """
        if name not in TABLES:
            raise DJSUserError(f"`{name}` is not a Data First table: use one of {', '.join(TABLES)}.")
        src = self.engine.sources.get(name)
        if src is None:
            raise DJSUserError(
                f"Table `{name}` is not in the extract: name its file with `tables: {name}: file: <stem>` "
                "in your column map."
            )
        self.raise_if_errors(name)
        df = self.engine.query(f"SELECT * FROM {quote_ident(name)}")
        return to_canonical_dtypes(df, TABLES[name])

    def raise_if_errors(self, name: str) -> None:
        """Raise one `DJSUserError` listing every error of table ``name`` with its fix.

        Example:
            >>> Extract(Path("no-such-folder"), ColumnMap()).raise_if_errors("xjs_link")
        """
        problems, _ = self._checks(name) if name in self.engine.sources else ([], 0)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            lines = [f"- [{p.kind}] {p.column or name}: {p.message}. Fix: {p.fix}." for p in errors]
            raise DJSUserError(f"Table `{name}` has {len(errors)} problem(s):\n" + "\n".join(lines))

    def sql(self, query: str) -> pd.DataFrame:
        """Run DuckDB SQL over the extract's canonical tables (by table name), files read in place.

        Example:
            >>> Extract(Path("no-such-folder"), ColumnMap()).sql("SELECT 2 AS two")["two"].tolist()
            [2]
        """
        return self.engine.query(query)

    def __repr__(self) -> str:
        return f"<Extract {self.root.name}: {len(self.tables)} tables>"


def open_extract(root: str | Path, column_map: str | Path | ColumnMap | None = None) -> Extract:
    """Open a Data First extract (real or dummy) in ``root``.

    Args:
        root: folder holding the table files (CSV or Parquet, single or multi-part).
        column_map: path of a column map YAML (or a `ColumnMap`) mapping your names to canonical ones.

    Returns:
        The `Extract`.

    Example:
        >>> import tempfile
        >>> ex = open_extract(tempfile.mkdtemp())
        >>> ex.tables
        []
    """
    root = Path(root)
    if not root.is_dir():
        raise DJSUserError(f"Extract folder `{root}` not found: give the folder that holds the table files.")
    cmap = column_map if isinstance(column_map, ColumnMap) else load_column_map(column_map)
    return Extract(root, cmap)
