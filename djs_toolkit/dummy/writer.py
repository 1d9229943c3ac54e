"""Step 6: schema-driven conversion to Arrow and writing of extract files.

Every declared column of every table is written with the declared dtype (docs/data.md §16; the
loader's layout): strings as strings, dates as Parquet date32 (CSV: ISO dates), ints as int64,
floats, bools; categories as strings. Closed code lists are checked before writing: a value outside
one is a generator bug, not a data defect. Missing values are injected here at configured rates
(docs/data.md §14) into descriptive columns. One file per table, or two-digit parts
``<table>_01.parquet`` when the extract is written in several chunks; each file is written to a
temporary name and renamed.

Example:
    >>> import numpy as np
    >>> from djs_toolkit.dummy.config import DummyConfig
    >>> t = to_arrow("xjs_link", {"source_dataset": np.array(["mags_hocas"], dtype=object),
    ...     "row_id_hash": np.array(["a"], dtype=object), "estimated_xjs_id": np.array(["b"], dtype=object)},
    ...     np.random.default_rng(0), DummyConfig())
    >>> t.schema.field("row_id_hash").type
    DataType(string)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA
from djs_toolkit.errors import DJSError
from djs_toolkit.schema import TABLES, Column

__all__ = ["ARROW_TYPES", "part_name", "to_arrow", "write_table"]

ARROW_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "category": pa.string(),
}


def _convert(v: object, dtype: str) -> pa.Array:
    typ = ARROW_TYPES[dtype]
    if isinstance(v, (pa.Array, pa.ChunkedArray)):
        return v.cast(typ) if v.type != typ else v
    a = np.asarray(v)
    if dtype == "date":
        a = a.astype(np.int64)
        return pa.array(a.astype(np.int32), type=pa.int32(), mask=a == NA).cast(pa.date32())
    if dtype == "int":
        a = a.astype(np.int64)
        return pa.array(a, type=pa.int64(), mask=a == NA)
    if dtype == "float":
        return pa.array(a.astype(np.float64), type=pa.float64(), from_pandas=True)
    if dtype == "bool":
        return pa.array(a.astype(bool), type=pa.bool_())
    return pa.array(a, type=pa.string(), from_pandas=True)


def _injectable(table: str, col: Column) -> bool:
    """Descriptive columns that get random missing values at the default rate."""
    t = TABLES[table]
    return (
        col.nullable
        and not col.name.endswith("_hash")
        and not col.name.startswith("estimated_")
        and col.name != t.window_column
        and col.dtype not in ("date", "bool")
        and not col.missing_codes
        and col.name not in t.key
    )


def to_arrow(table: str, frame: dict, rng: np.random.Generator, cfg: DummyConfig) -> pa.Table:
    """The declared columns of ``table`` from ``frame`` as an Arrow table, with missing values injected.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> empty = np.array([], dtype=object)
        >>> cols = {"source_dataset": empty, "row_id_hash": empty, "estimated_xjs_id": empty}
        >>> to_arrow("xjs_link", cols, np.random.default_rng(0), DummyConfig()).num_rows
        0
    """
    decl = TABLES[table]
    arrays, names = [], []
    n = None
    for col in decl.columns:
        if col.name not in frame or frame[col.name] is None:
            raise DJSError(f"dummy generator bug: table {table} column {col.name} was not built")
        arr = _convert(frame[col.name], col.dtype)
        if n is None:
            n = len(arr)
        elif len(arr) != n:
            raise DJSError(f"dummy generator bug: table {table} column {col.name} has the wrong length")
        if col.closed and col.codes is not None and len(arr):
            outside = pc.and_(pc.invert(pc.is_in(arr, value_set=pa.array(col.codes))), pc.is_valid(arr))
            bad = pc.sum(outside).as_py()
            if bad:
                raise DJSError(f"dummy generator bug: table {table} column {col.name} has values outside its code list")
        if not col.nullable and arr.null_count:
            raise DJSError(f"dummy generator bug: table {table} column {col.name} has missing values")
        key = f"{table}.{col.name}"
        rate = cfg.missing_overrides.get(key, cfg.missing_rate if _injectable(table, col) else 0.0)
        if rate > 0 and len(arr):
            mask = pa.array(rng.random(len(arr)) < rate)
            arr = pc.if_else(mask, pa.scalar(None, arr.type), arr)
        arrays.append(arr)
        names.append(col.name)
    return pa.Table.from_arrays(arrays, names=names)


def part_name(table: str, part: int | None, fmt: str) -> str:
    """File name of a table or of one of its parts.

    Example:
        >>> part_name("probation_flatfile", 3, "parquet")
        'probation_flatfile_03.parquet'
    """
    return f"{table}.{fmt}" if part is None else f"{table}_{part:02d}.{fmt}"


def write_table(tbl: pa.Table, path: Path, fmt: str) -> None:
    """Write ``tbl`` to ``path`` through a temporary file and an atomic rename.

    Example:
        >>> import tempfile, pyarrow as pa
        >>> from pathlib import Path
        >>> d = Path(tempfile.mkdtemp())
        >>> write_table(pa.table({"a": [1]}), d / "t.csv", "csv")
        >>> (d / "t.csv").read_text()
        '"a"\\n1\\n'
    """
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "parquet":
        pq.write_table(tbl, tmp, compression="zstd", compression_level=1, use_dictionary=True, write_statistics=True)
    elif fmt == "csv":
        pcsv.write_csv(tbl, tmp, pcsv.WriteOptions(include_header=True, quoting_style="needed"))
    else:
        raise DJSError(f"unknown format {fmt}")
    os.replace(tmp, path)
