"""The column map: a YAML file a researcher edits to map their extract's names to canonical ones.

Many real Data First names are unconfirmed (docs/data.md §0, §15), so the map is how the same
notebook runs on the dummy extract and on the real one. Format::

    version: 1
    extract_end: 2023-03-31          # optional: the extract's data cut-off
    tables:
      probation_flatfile:            # canonical table name
        file: moj_probation_flatfile # file stem, numbered parts, or folder in the extract
        columns:
          def_age: age_at_offence    # your column name: canonical column name

`draft_column_map` writes a first draft by matching file and column names against the canonical
names and aliases, with every guess commented.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from djs_toolkit.data.files import find_table_files
from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import TABLES, Table

__all__ = ["ColumnMap", "draft_column_map", "load_column_map", "normalise_name"]


def normalise_name(name: str) -> str:
    """Lower-case a name and fold runs of non-alphanumerics to one underscore.

    Example:
        >>> normalise_name(" Row ID-Hash ")
        'row_id_hash'
    """
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


@dataclass(frozen=True)
class ColumnMap:
    """Per table: the file stem and a mapping from source column names to canonical names.

    Example:
        >>> cm = ColumnMap(columns={"mags_defendant_case": {"def_age": "age_at_offence"}})
        >>> cm.rename("mags_defendant_case", "DEF_AGE")
        'age_at_offence'
    """

    files: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    extract_end: dt.date | None = None

    def rename(self, table: str, source: str) -> str:
        """Canonical name for a source column (case-insensitive; unmapped names normalised)."""
        mapping = {normalise_name(k): v for k, v in self.columns.get(table, {}).items()}
        return mapping.get(normalise_name(source), normalise_name(source))


def load_column_map(path: str | Path | None) -> ColumnMap:
    """Read and check a column map YAML file; None gives the empty map.

    Every problem is reported at once in one `DJSUserError`.

    Example:
        >>> load_column_map(None).files
        {}
    """
    if path is None:
        return ColumnMap()
    p = Path(path)
    if not p.is_file():
        raise DJSUserError(f"Column map file `{p}` not found: give the path of your column map YAML.")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8-sig")) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" near line {line + 1}" if line is not None else ""
        raise DJSUserError(f"Column map `{p.name}` is not valid YAML{where}: fix the indentation or quoting.") from None
    problems: list[str] = []
    files: dict[str, str] = {}
    columns: dict[str, dict[str, str]] = {}
    tables = doc.get("tables") or {}
    if not isinstance(tables, dict):
        problems.append("`tables:` must be a mapping of canonical table names to entries.")
        tables = {}
    for tname, entry in tables.items():
        if tname not in TABLES:
            problems.append(f"`{tname}` is not a canonical table: use one of {', '.join(sorted(TABLES))}.")
            continue
        entry = entry or {}
        if entry.get("file"):
            files[tname] = str(entry["file"])
        cols = entry.get("columns") or {}
        valid = set(TABLES[tname].column_names)
        for src, canon in cols.items():
            if canon not in valid:
                problems.append(
                    f"`{tname}.columns.{src}` maps to `{canon}`, which is not a column of {tname}: "
                    "see `djs schema --markdown` for the canonical names."
                )
        columns[tname] = {str(k): str(v) for k, v in cols.items() if v in valid}
    end = doc.get("extract_end")
    if end is not None and not isinstance(end, dt.date):
        try:
            end = dt.date.fromisoformat(str(end))
        except ValueError:
            problems.append("`extract_end` must be an ISO date such as 2023-03-31.")
            end = None
    if problems:
        raise DJSUserError(f"Column map `{p.name}` has {len(problems)} problem(s):\n- " + "\n- ".join(problems))
    return ColumnMap(files=files, columns=columns, extract_end=end)


def _match_column(table: Table, source: str) -> tuple[str | None, str]:
    norm = normalise_name(source)
    for c in table.columns:
        if norm == c.name:
            return c.name, "exact"
    for c in table.columns:
        if norm in {normalise_name(a) for a in c.aliases}:
            return c.name, f"guessed: alias of {c.name}"
    return None, "unmatched"


def draft_column_map(root: str | Path) -> str:
    """Draft a column map for the extract in ``root``, every guess commented.

    Args:
        root: the extract folder.

    Returns:
        YAML text to review, edit and save.

    Example:
        >>> "version: 1" in draft_column_map("no-such-folder")
        True
    """
    from djs_toolkit.data.readers import read_column_names

    root = Path(root)
    found, unknown = find_table_files(root)
    out = [
        "# djs_toolkit column map: DRAFT written by `djs validate --draft-column-map`.",
        "# Check every line marked `guessed`, map every `UNMATCHED` column or delete it,",
        "# then pass this file with --column-map (or open_extract(root, column_map=...)).",
        "version: 1",
        "tables:",
    ]
    for tname, tf in sorted(found.items()):
        table = TABLES[tname]
        note = "" if tf.stem == tname else f"  # guessed: file `{tf.stem}` is an alias of {tname}"
        out += [f"  {tname}:", f"    file: {tf.stem}{note}", "    columns:"]
        seen: set[str] = set()
        for src in read_column_names(tf):
            canon, how = _match_column(table, src)
            if canon is None:
                out.append(f"      # UNMATCHED: `{src}` matches no column of {tname}; map it as `{src}: <canonical>`")
                continue
            seen.add(canon)
            comment = "" if how == "exact" else f"  # {how}"
            out.append(f"      {src}: {canon}{comment}")
        for c in table.columns:
            if c.name not in seen:
                out.append(f"      # missing: {c.name} ({c.provenance}) - add `<your name>: {c.name}` if you have it")
    for stem in unknown:
        out.append(f"  # UNMATCHED file `{stem}`: add it under its canonical table with `file: {stem}`")
    return "\n".join(out) + "\n"
