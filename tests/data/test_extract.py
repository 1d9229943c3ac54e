"""Round trips: canonical names and dtypes, leading zeros, BOM, multi-part and aliased files, SQL."""

from __future__ import annotations

import pandas as pd
import pytest

from djs_toolkit import DJSUserError, open_extract
from tests.helpers import OFFENCE_CODE, valid_tables, write_extract, write_table

DTYPES = {
    "string": "string",
    "category": "category",
    "date": "datetime64[ns]",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_round_trip_canonical_dtypes_and_leading_zeros(tmp_path, fmt):
    from djs_toolkit.schema import TABLES

    ex = open_extract(write_extract(tmp_path, fmt))
    assert ex.tables == list(TABLES)
    for name, table in TABLES.items():
        df = ex.table(name)
        assert list(df.columns) == list(table.column_names)
        assert {c: str(df[c].dtype) for c in df} == {c.name: DTYPES[c.dtype] for c in table.columns}
    assert ex.table("probation_flatfile")["mo_code"].tolist() == [OFFENCE_CODE] * 3
    assert ex.table("mags_offence")["ho_offence_code"].tolist() == [OFFENCE_CODE] * 3
    pf = ex.table("probation_flatfile")
    assert pf["referral_date"].tolist() == [pd.Timestamp("2015-02-05") + pd.Timedelta(days=i) for i in range(3)]
    assert list(pf["gender"].cat.categories) == ["M", "F"]
    assert pf["gender"].tolist() == ["M", "F", "M"]


def test_csv_with_bom_and_empty_strings(tmp_path):
    root = write_extract(tmp_path, "csv")
    path = root / "probation_flatfile.csv"
    text = path.read_text(encoding="utf-8").splitlines()
    # Empty ethnicity is a real code (kept as ""); empty lsoa is missing.
    header = text[0].split(",")
    row = text[1].split(",")
    row[header.index("ethnicity_desc")] = ""
    row[header.index("lsoa_residence")] = ""
    text[1] = ",".join(row)
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(text) + "\n").encode("utf-8"))
    ex = open_extract(root)
    assert ex.validate().ok
    pf = ex.table("probation_flatfile")
    assert pf["ethnicity_desc"].iloc[0] == ""
    assert pd.isna(pf["lsoa_residence"].iloc[0])
    assert pf["row_id_hash"].iloc[0] == "probr0"


def test_multi_part_parquet_under_real_alias_name(tmp_path):
    t = valid_tables()
    pf = t.pop("probation_flatfile")
    root = write_extract(tmp_path, tables=t)
    for i in range(3):
        write_table(root, "probation_flatfile", pf.iloc[[i]], stem=f"moj_probation_flatfile_{i + 1:02d}")
    ex = open_extract(root)
    assert ex.validate().ok
    assert ex.table("probation_flatfile")["row_id_hash"].tolist() == ["probr0", "probr1", "probr2"]


def test_folder_of_parts_and_column_map_file_stem(tmp_path):
    t = valid_tables()
    rq = t.pop("probation_rqmnts")
    root = write_extract(tmp_path / "x", tables=t)
    write_table(root / "req_parts", "probation_rqmnts", rq.iloc[:1], stem="a")
    write_table(root / "req_parts", "probation_rqmnts", rq.iloc[1:], stem="b")
    ex = open_extract(root)
    assert "probation_rqmnts" not in ex.tables
    assert set(ex.validate().problems.query("kind == 'unknown_file'")["message"]) == {
        "file(s) `req_parts` match no table"
    }
    cmap = tmp_path / "map.yaml"
    cmap.write_text("tables:\n  probation_rqmnts:\n    file: req_parts\n")
    ex = open_extract(root, column_map=cmap)
    assert ex.validate().ok and len(ex.table("probation_rqmnts")) == 3


def test_sql_reads_canonical_views(tmp_path):
    ex = open_extract(write_extract(tmp_path))
    got = ex.sql("SELECT source_dataset, COUNT(*) AS n FROM xjs_link GROUP BY 1 ORDER BY 1")
    assert got["n"].tolist() == [3] * 6
    assert got["source_dataset"].tolist()[0] == "civil_caseman_pcol"


def test_unknown_table_and_missing_folder_are_user_errors(tmp_path):
    ex = open_extract(write_extract(tmp_path))
    with pytest.raises(DJSUserError, match="is not a Data First table"):
        ex.table("prisons")
    with pytest.raises(DJSUserError, match="not found"):
        open_extract(tmp_path / "nope")


def test_empty_folder_reports_no_tables(tmp_path):
    rep = open_extract(tmp_path).validate()
    assert not rep.ok and rep.problems["kind"].tolist() == ["no_tables"]
