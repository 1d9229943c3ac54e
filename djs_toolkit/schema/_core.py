"""Declarations: `Column`, `Table`, `Dataset`.

One declaration per table drives validation (`djs_toolkit.data`), the dummy generator
(`djs_toolkit.dummy`) and the data dictionary (`djs schema --markdown`), so the three never drift
(the ehrql pattern, docs/workflow.md §1.2, §3.4).

Provenance tags follow docs/data.md §0: ``S`` seen in a public source, ``S-code`` seen in research
code run on the real extract, ``S-int`` seen in MoJ internal tables, ``I`` inferred, ``P`` a
placeholder name invented here (a candidate for the column map).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["DTYPES", "PROVENANCE", "Column", "Dataset", "Table"]

DType = Literal["string", "date", "int", "float", "bool", "category"]
Provenance = Literal["S", "S-code", "S-int", "I", "P"]

DTYPES: tuple[str, ...] = ("string", "date", "int", "float", "bool", "category")
PROVENANCE: tuple[str, ...] = ("S", "S-code", "S-int", "I", "P")


@dataclass(frozen=True)
class Column:
    """One column of a Data First table.

    Args:
        name: canonical name used everywhere in the toolkit.
        dtype: ``string`` (ids and codes: never numeric, so leading zeros survive), ``date``,
            ``int``, ``float``, ``bool`` or ``category``.
        provenance: where the name comes from (``S``, ``S-code``, ``S-int``, ``I``, ``P``).
        description: one line for the data dictionary.
        nullable: whether missing values are allowed.
        codes: the code list, if any.
        closed: if True, values outside ``codes`` are a validation error.
        missing_codes: codes that mean "not known" (e.g. ``Refusal``), kept as values.
        aliases: other names the column is known by, used to draft a column map.
        empty_is_missing: read an empty CSV field as missing (False keeps ``""`` as a value).
        valid_range: (low, high) plausible range for numbers; outside is a warning.

    Example:
        >>> Column("gender", "category", "S-code", "Sex.", codes=("M", "F"), closed=True).closed
        True
    """

    name: str
    dtype: DType
    provenance: Provenance
    description: str
    nullable: bool = True
    codes: tuple[str, ...] | None = None
    closed: bool = False
    missing_codes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    empty_is_missing: bool = True
    valid_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"column {self.name}: dtype {self.dtype!r} is not one of {DTYPES}")
        if self.provenance not in PROVENANCE:
            raise ValueError(f"column {self.name}: provenance {self.provenance!r} unknown")
        if self.closed and not self.codes:
            raise ValueError(f"column {self.name}: a closed code list needs codes")

    @property
    def required(self) -> bool:
        """A missing required column is an error; a missing optional one is a warning.

        Names seen on the real extract (S, S-code) and non-nullable columns are required;
        inferred and placeholder names are optional because the real name may differ
        (docs/data.md §16: "missing [P] columns warn, missing [S] columns error").
        """
        return (not self.nullable) or self.provenance in ("S", "S-code")


@dataclass(frozen=True)
class Table:
    """One table of a Data First dataset.

    Args:
        name: canonical table name (also the default file stem in an extract).
        dataset: the ``source_dataset`` label of its dataset (e.g. ``mags_hocas``).
        provenance: where the table name comes from.
        description: one line for the data dictionary.
        columns: the column declarations.
        key: columns that identify a row.
        duplicate_key: severity of duplicate keys (``warning`` where the real data has them).
        window_column: the date column checked against the dataset's coverage window.
        aliases: other file stems the table is known by (e.g. ``moj_probation_flatfile``).
        grain: one line saying what a row is.

    Example:
        >>> t = Table("t", "mags_hocas", "P", "demo", (Column("id", "string", "P", "id", nullable=False),), key=("id",))
        >>> t.column("id").dtype
        'string'
    """

    name: str
    dataset: str
    provenance: Provenance
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    duplicate_key: Literal["error", "warning"] = "error"
    window_column: str | None = None
    aliases: tuple[str, ...] = ()
    grain: str = ""

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: duplicate column names")
        for k in (*self.key, *([self.window_column] if self.window_column else [])):
            if k not in names:
                raise ValueError(f"table {self.name}: {k} is not a column")

    @property
    def column_names(self) -> tuple[str, ...]:
        """Canonical column names in declaration order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The declaration of column ``name``.

        Example:
            >>> from djs_toolkit.schema import TABLES
            >>> TABLES["xjs_link"].column("estimated_xjs_id").provenance
            'S-code'
        """
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name}")


@dataclass(frozen=True)
class Dataset:
    """A Data First dataset with its coverage window.

    Args:
        label: the ``source_dataset`` value in ``xjs_link`` (e.g. ``mags_hocas``).
        title: human name.
        start: first date covered.
        end: last date covered.
        person_table: the table whose ``row_id_hash`` rows are linked to persons by ``xjs_link``.
        cliff: date from which coverage falls (Common Platform), or None.
        left_censored: whether records that began before ``start`` appear (prison journeys).
        note: one line on coverage.

    Example:
        >>> from djs_toolkit.schema import DATASETS
        >>> DATASETS["probation_delius"].start.year
        2014
    """

    label: str
    title: str
    start: dt.date
    end: dt.date
    person_table: str | None
    cliff: dt.date | None = None
    left_censored: bool = False
    note: str = ""
    tables: tuple[str, ...] = field(default_factory=tuple)
