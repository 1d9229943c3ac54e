"""Finding each table's files in an extract folder.

A table is stored as one file (`<stem>.parquet` / `<stem>.csv`), as numbered parts
(`<stem>_01.parquet` ... `<stem>_30.parquet`, the layout researchers saw for probation,
docs/data.md §1.9) or as a folder of parts (`<stem>/*.parquet`). The stem is the canonical table
name, the name given in the column map, or one of the table's aliases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from djs_toolkit.schema import TABLES

__all__ = ["DATA_SUFFIXES", "TableFiles", "find_table_files", "list_data_files"]

DATA_SUFFIXES = (".parquet", ".csv")
_PART = re.compile(r"^(?P<stem>.+?)(?:_(?P<part>\d{1,3}))?$")
# Folders the loader never reads: ground truth of the dummy extract, caches.
_IGNORED_DIRS = {"truth", "__pycache__", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class TableFiles:
    """The files holding one table.

    Attributes:
        table: canonical table name.
        stem: the file stem found in the folder.
        fmt: ``parquet`` or ``csv``.
        paths: the files, parts in order.
    """

    table: str
    stem: str
    fmt: str
    paths: tuple[Path, ...]


def list_data_files(root: Path) -> dict[str, list[Path]]:
    """Group the data files in ``root`` by stem (parts and part folders folded together).

    Example:
        >>> list_data_files(Path("no-such-folder"))
        {}
    """
    groups: dict[str, list[Path]] = {}
    if not root.is_dir():
        return groups
    for p in sorted(root.iterdir()):
        if p.is_dir():
            if p.name in _IGNORED_DIRS or p.name.startswith("."):
                continue
            parts = sorted(q for q in p.iterdir() if q.suffix.lower() in DATA_SUFFIXES)
            if parts:
                groups.setdefault(p.name.lower(), []).extend(parts)
        elif p.suffix.lower() in DATA_SUFFIXES:
            m = _PART.match(p.stem)
            stem = (m.group("stem") if m and m.group("part") else p.stem).lower()
            groups.setdefault(stem, []).append(p)
    return groups


def _part_key(p: Path) -> tuple[int, str]:
    m = _PART.match(p.stem)
    return (int(m.group("part")) if m and m.group("part") else 0, p.name)


def find_table_files(root: Path, file_stems: dict[str, str] | None = None) -> tuple[dict[str, TableFiles], list[str]]:
    """Match the data files in ``root`` to canonical tables.

    Args:
        root: the extract folder.
        file_stems: canonical table name -> file stem, from the column map.

    Returns:
        (files per canonical table, file stems that matched no table).

    Example:
        >>> find_table_files(Path("no-such-folder"))
        ({}, [])
    """
    groups = list_data_files(root)
    file_stems = {k: v.lower() for k, v in (file_stems or {}).items()}
    found: dict[str, TableFiles] = {}
    used: set[str] = set()
    for name, table in TABLES.items():
        candidates = [file_stems[name]] if name in file_stems else [name, *table.aliases]
        for stem in candidates:
            stem = stem.lower()
            if stem in groups and stem not in used:
                paths = sorted(groups[stem], key=_part_key)
                fmts = {p.suffix.lower().lstrip(".") for p in paths}
                # Mixed CSV and Parquet parts: read the Parquet ones (the canonical format).
                fmt = "parquet" if "parquet" in fmts else "csv"
                found[name] = TableFiles(name, stem, fmt, tuple(p for p in paths if p.suffix.lower() == "." + fmt))
                used.add(stem)
                break
    unknown = sorted(s for s in groups if s not in used)
    return found, unknown
