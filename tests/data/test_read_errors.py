"""Reading a messy extract: every reader and engine failure is one problem or DJSUserError naming file, table, column,
line and fix, never a row value; validation flags what a run would trip over (issue 20, cases 1 and 7)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from djs_toolkit import DJSUserError, open_extract
from djs_toolkit.data import draft_column_map
from djs_toolkit.data.read_errors import engine_error_message, first_bad_utf8
from tests.helpers import valid_tables, write_extract

SECRET = "ZQXSECRET9"


def problems_of(root, column_map=None):
    rep = open_extract(root, column_map=column_map).validate()
    return rep, {(r.severity, r.table, r.column, r.kind, r.count) for r in rep.problems.itertuples()}


def _plant_latin1(path, line_no: int, column: str) -> None:
    """Put `SECRET` plus a Latin-1 byte (Whit\\xe9) into `column` of physical line `line_no`."""
    lines = path.read_bytes().split(b"\n")
    header = lines[0].decode().split(",")
    fields = lines[line_no - 1].split(b",")
    fields[header.index(column)] = SECRET.encode() + b"Whit\xe9"
    lines[line_no - 1] = b",".join(fields)
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("line_no", [2, 4])  # near the top and on the last line
def test_a_latin1_byte_anywhere_is_an_encoding_error_with_line_and_column(tmp_path, line_no):
    root = write_extract(tmp_path, "csv")
    _plant_latin1(root / "mags_defendant_case.csv", line_no, "ethnicity")
    rep, found = problems_of(root)
    assert found == {("error", "mags_defendant_case", "", "encoding", 1)}
    (msg,) = rep.problems["message"]
    assert msg == f"`mags_defendant_case.csv` is not UTF-8 at line {line_no}, column `ethnicity`"
    assert "re-export the file as UTF-8" in rep.problems["fix"].iloc[0]
    assert SECRET not in str(rep) and "mags_r" not in str(rep)  # neither the value nor the row's id
    with pytest.raises(DJSUserError, match="not UTF-8 at line") as err:
        open_extract(root).table("mags_defendant_case")
    assert SECRET not in str(err.value)


def test_a_header_that_is_not_utf8_is_reported_and_drafting_a_map_says_so(tmp_path):
    root = write_extract(tmp_path, "csv")
    path = root / "xjs_link.csv"
    path.write_bytes(b"\xe9" + path.read_bytes())
    _, found = problems_of(root)
    assert ("error", "xjs_link", "", "encoding", 1) in found
    with pytest.raises(DJSUserError, match="`xjs_link.csv` is not UTF-8 at line 1: re-export"):
        draft_column_map(root)


def test_first_bad_utf8_across_read_blocks_and_with_a_bom(tmp_path, monkeypatch):
    import djs_toolkit.data.read_errors as re_mod

    monkeypatch.setattr(re_mod, "_BLOCK", 7)  # the bad byte and a split multi-byte character straddle blocks
    p = tmp_path / "t.csv"
    p.write_bytes("\ufeffid,name\n1,Zoë\n2,Chloé\n".encode() + b"3,Ren\xe9e\n")
    assert first_bad_utf8(p) == (4, "name")
    p.write_bytes("id,name\n1,Zoë\n".encode())
    assert first_bad_utf8(p) is None


def test_a_damaged_parquet_file_is_a_malformed_file(tmp_path):
    root = write_extract(tmp_path)
    (root / "civil_events.parquet").write_bytes(b"PAR1 not really parquet")
    rep, found = problems_of(root)
    assert found == {("error", "civil_events", "", "malformed_file", 1)}
    assert "`civil_events.parquet` could not be read as Parquet" in str(rep)


def test_engine_errors_keep_query_mistakes_and_withhold_values(tmp_path):
    ex = open_extract(write_extract(tmp_path, "csv"))
    with pytest.raises(DJSUserError) as err:
        ex.sql(f"SELECT CAST('{SECRET}' AS INTEGER)")
    assert SECRET not in str(err.value) and "ConversionException" in str(err.value)
    with pytest.raises(DJSUserError, match="the query is not valid for the extract: Catalog Error"):
        ex.sql("SELECT * FROM no_such_table")
    # A file changed under an open extract: DuckDB's error quotes the line; the message names file, line and table.
    _plant_latin1(tmp_path / "xjs_link.csv", 3, "row_id_hash")
    with pytest.raises(DJSUserError) as err:
        ex.sql("SELECT * FROM xjs_link")
    assert str(err.value).startswith("`xjs_link.csv` is not UTF-8 at line 3, column `row_id_hash` (table xjs_link)")
    assert SECRET not in str(err.value) and "person" not in str(err.value)


def test_engine_error_message_for_a_malformed_csv_names_file_line_and_table():
    from pathlib import Path

    from djs_toolkit.data.files import TableFiles

    tf = TableFiles("civil_events", "civil_events", "csv", (Path("/x/civil_events.csv"),))
    err = duckdb.InvalidInputException(
        f"CSV Error on Line: 7\nOriginal Line: a,{SECRET},c\nExpected Number of Columns: 3 Found: 4\n"
        "  file = /x/civil_events.csv\n"
    )
    msg = engine_error_message(err, {"civil_events": tf})
    assert msg.startswith("`civil_events.csv` could not be read as CSV near line 7") and SECRET not in msg
    assert msg.endswith("(table civil_events)")


def test_two_source_columns_mapped_to_one_canonical_column_is_an_error(tmp_path):
    t = valid_tables()
    t["probation_flatfile"]["def_gender"] = t["probation_flatfile"]["gender"]
    root = write_extract(tmp_path, "csv", tables=t)
    cmap = tmp_path / "map.yaml"
    cmap.write_text("version: 1\ntables:\n  probation_flatfile:\n    columns:\n      def_gender: gender\n")
    rep, found = problems_of(root, column_map=cmap)
    assert found == {("error", "probation_flatfile", "gender", "duplicate_mapping", 2)}
    assert "columns `gender` and `def_gender` both map to `gender`" in str(rep)


def test_dates_before_1900_are_errors_and_after_the_extract_date_warnings(tmp_path):
    t = valid_tables()
    t["prison_journey"].loc[1, "journey_start_date"] = pd.Timestamp("1899-12-30").date()
    t["mags_offence"].loc[0, "offence_date"] = pd.Timestamp("2032-01-01").date()
    t["prison_journey"].loc[0, "conditional_release_date"] = pd.Timestamp("2031-06-01").date()  # scheduled: fine
    rep, found = problems_of(write_extract(tmp_path, "csv", tables=t))
    assert ("error", "prison_journey", "journey_start_date", "implausible_date", 1) in found
    assert ("warning", "mags_offence", "offence_date", "implausible_date", 1) in found
    assert not any(f[2] == "conditional_release_date" for f in found)
    assert "1 date(s) before 1900" in str(rep) and "1 date(s) after the extract date 2023-03-31" in str(rep)
    assert not rep.ok


def test_a_missing_linking_table_is_an_error_as_for_the_spine(tmp_path):
    root = write_extract(tmp_path)
    (root / "xjs_link.parquet").unlink()
    rep, found = problems_of(root)
    assert ("error", "xjs_link", "", "missing_table", 0) in found and not rep.ok
    assert "no person-level analysis (the spine) can run without it" in str(rep)
