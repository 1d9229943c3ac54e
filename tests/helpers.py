"""Hand-built extracts for tests: a few valid rows per table, written from the schema declarations.

Every value is chosen by rule so each test knows exactly what is in the files. Codes that carry
leading zeros (`00101`) are planted in every offence-code column.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from djs_toolkit.schema import DATASETS, TABLES

N_ROWS = 3
OFFENCE_CODE = "00101"
_PA = {
    "string": pa.string(),
    "category": pa.string(),
    "date": pa.date32(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
}


def _value(table: str, col, i: int):
    ds = DATASETS.get(TABLES[table].dataset)
    if col.name == "row_id_hash":
        return f"{table[:4]}r{i}"
    if col.name == "source_dataset":
        return None  # filled by the link builder
    if col.dtype == "string" and (col.name.endswith("_hash") or col.name.startswith("estimated_")):
        # Keys and join columns: the same value in every table, so joins line up.
        return f"{col.name[:6]}{i}"
    if col.name in ("ho_offence_code", "mo_code", "main_offence_code", "final_offence_ho_code"):
        return OFFENCE_CODE
    if col.name == "party_type":
        return "Individual"
    if col.dtype == "date":
        start = ds.start if ds else dt.date(2015, 1, 1)
        return start + dt.timedelta(days=400 + i)
    if col.dtype == "int":
        lo = col.valid_range[0] if col.valid_range else 0
        return int(lo) + 1 + i
    if col.dtype == "float":
        return 0.5
    if col.dtype == "bool":
        return i % 2 == 0
    if col.codes:
        return col.codes[i % len(col.codes)]
    return f"v{i}"


def valid_tables() -> dict[str, pd.DataFrame]:
    """Every table with N_ROWS valid rows, xjs_link linking every person-record."""
    out = {}
    for name, table in TABLES.items():
        if name == "xjs_link":
            continue
        out[name] = pd.DataFrame({c.name: [_value(name, c, i) for i in range(N_ROWS)] for c in table.columns})
    link = []
    for label, ds in DATASETS.items():
        for i, rid in enumerate(out[ds.person_table]["row_id_hash"]):
            link.append({"source_dataset": label, "row_id_hash": rid, "estimated_xjs_id": f"person{i}"})
    out["xjs_link"] = pd.DataFrame(link)
    return out


def write_table(root: Path, name: str, df: pd.DataFrame, fmt: str = "parquet", stem: str | None = None) -> Path:
    """Write one table as CSV (UTF-8, LF) or Parquet with the canonical physical types."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{stem or name}.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8", date_format="%Y-%m-%d")
        return path
    table = TABLES[name]
    fields = [
        pa.field(c, _PA[table.column(c).dtype] if c in table.column_names else pa.array(df[c]).type) for c in df.columns
    ]
    pq.write_table(pa.Table.from_pandas(df, schema=pa.schema(fields), preserve_index=False), path)
    return path


def write_extract(root: Path, fmt: str = "parquet", tables: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write a whole hand-built extract; returns ``root``."""
    for name, df in (tables or valid_tables()).items():
        write_table(root, name, df, fmt)
    return root


def rows_of(name: str, rows: list[dict]) -> pd.DataFrame:
    """Rows of table ``name``: every column from the valid template row, overridden per row."""
    template = valid_tables()[name].iloc[0].to_dict()
    return pd.DataFrame([{**template, **r} for r in rows], columns=list(TABLES[name].column_names))


def empty_tables() -> dict[str, pd.DataFrame]:
    """Every table with its columns and no rows."""
    return {name: rows_of(name, []) for name in TABLES}
