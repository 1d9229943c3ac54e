"""Each bad-input kind produces exactly its problem (and nothing else), with counts, no values."""

from __future__ import annotations

import pandas as pd
import pytest

from djs_toolkit import DJSUserError, open_extract
from tests.helpers import valid_tables, write_extract, write_table

SECRET = "ZQXSECRET9"  # planted in bad rows: must never appear in a report or message


def problems_of(root, column_map=None):
    rep = open_extract(root, column_map=column_map).validate()
    return rep, {(r.severity, r.table, r.column, r.kind, r.count) for r in rep.problems.itertuples()}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_valid_extract_has_no_problems(tmp_path, fmt):
    rep, found = problems_of(write_extract(tmp_path, fmt))
    assert rep.ok and found == set()
    assert rep.summary.set_index("table").loc["xjs_link", "rows"] == 18


def test_missing_required_column_is_an_error(tmp_path):
    t = valid_tables()
    t["probation_flatfile"] = t["probation_flatfile"].drop(columns="referral_date")
    rep, found = problems_of(write_extract(tmp_path, tables=t))
    assert found == {("error", "probation_flatfile", "referral_date", "missing_column", 1)}
    assert not rep.ok


def test_renamed_column_is_reported_then_fixed_by_column_map(tmp_path):
    t = valid_tables()
    t["mags_defendant_case"] = t["mags_defendant_case"].rename(columns={"age_at_offence": "def_age"})
    root = write_extract(tmp_path / "x", tables=t)
    rep, found = problems_of(root)
    assert found == {
        ("warning", "mags_defendant_case", "age_at_offence", "missing_column", 1),
        ("warning", "mags_defendant_case", "def_age", "unexpected_column", 1),
    }
    fix = rep.problems.query("kind == 'missing_column'")["fix"].iloc[0]
    assert fix.startswith("map column `def_age` to `age_at_offence` in your column map")
    cmap = tmp_path / "map.yaml"
    cmap.write_text("version: 1\ntables:\n  mags_defendant_case:\n    columns:\n      def_age: age_at_offence\n")
    rep, found = problems_of(root, cmap)
    assert found == set()
    ages = open_extract(root, column_map=cmap).table("mags_defendant_case")["age_at_offence"]
    assert ages.tolist() == [1, 2, 3]


def test_wrong_type_counts_unparseable_values(tmp_path):
    t = valid_tables()
    df = t["probation_flatfile"].astype({"age_at_offence": "object"})
    df.loc[0, "age_at_offence"] = SECRET
    df.loc[1, "age_at_offence"] = "12.5x"
    t["probation_flatfile"] = df
    rep, found = problems_of(write_extract(tmp_path, "csv", tables=t))
    assert found == {("error", "probation_flatfile", "age_at_offence", "wrong_type", 2)}
    assert SECRET not in str(rep)


def test_bad_code_hidden_when_rare_named_when_common(tmp_path):
    t = valid_tables()
    df = t["probation_flatfile"]
    df.loc[0, "gender"] = SECRET
    t["probation_flatfile"] = df
    rep, found = problems_of(write_extract(tmp_path / "a", tables=t))
    assert found == {("error", "probation_flatfile", "gender", "bad_code", 1)}
    assert SECRET not in str(rep)
    # A common, code-like unexpected value (>= 10 rows) is named so the researcher can recode it.
    big = pd.concat([t["probation_flatfile"]] * 5, ignore_index=True)
    big["event_id_hash"] = [f"e{i}" for i in range(len(big))]
    big["row_id_hash"] = [f"r{i}" for i in range(len(big))]
    big["gender"] = ["U"] * 12 + ["M"] * 3
    t["probation_flatfile"] = big
    rep, _ = problems_of(write_extract(tmp_path / "b", tables=t))
    msg = rep.problems.query("kind == 'bad_code'")["message"].iloc[0]
    assert msg == "12 value(s) outside the code list (values `U`)"


def test_null_in_non_nullable_column(tmp_path):
    t = valid_tables()
    t["family_cases"].loc[1, "case_type"] = None
    rep, found = problems_of(write_extract(tmp_path, "csv", tables=t))
    assert found == {("error", "family_cases", "case_type", "null_value", 1)}


def test_duplicate_keys_error_or_warning_by_table(tmp_path):
    t = valid_tables()
    t["xjs_link"] = pd.concat([t["xjs_link"], t["xjs_link"].iloc[[0, 0]]], ignore_index=True)
    pf = t["probation_flatfile"]
    t["probation_flatfile"] = pd.concat([pf, pf.iloc[[2]].assign(row_id_hash="extra")], ignore_index=True)
    t["xjs_link"] = pd.concat(
        [
            t["xjs_link"],
            pd.DataFrame(
                [{"source_dataset": "probation_delius", "row_id_hash": "extra", "estimated_xjs_id": "person2"}]
            ),
        ]
    )
    rep, found = problems_of(write_extract(tmp_path, tables=t))
    assert found == {
        ("warning", "xjs_link", "source_dataset, row_id_hash", "duplicate_key", 2),
        ("warning", "probation_flatfile", "event_id_hash", "duplicate_key", 1),
    }


def test_dates_outside_coverage_window_warn(tmp_path):
    t = valid_tables()
    t["probation_flatfile"].loc[0, "referral_date"] = pd.Timestamp("2010-05-01").date()
    t["civil_cases"].loc[2, "issue_date"] = pd.Timestamp("2022-02-01").date()
    rep, found = problems_of(write_extract(tmp_path, tables=t))
    assert found == {
        ("warning", "probation_flatfile", "referral_date", "out_of_window", 1),
        ("warning", "civil_cases", "issue_date", "out_of_window", 1),
    }
    assert rep.ok


def test_orphan_link_rows_and_unlinked_records(tmp_path):
    t = valid_tables()
    link = t["xjs_link"]
    link = link[~((link.source_dataset == "prison_nomis") & (link.row_id_hash == "prisr1"))]
    orphan = pd.DataFrame([{"source_dataset": "familyman", "row_id_hash": SECRET, "estimated_xjs_id": "p9"}])
    t["xjs_link"] = pd.concat([link, orphan], ignore_index=True)
    rep, found = problems_of(write_extract(tmp_path, tables=t))
    assert found == {
        ("warning", "xjs_link", "row_id_hash", "orphan_link", 1),
        ("warning", "prison_journey", "row_id_hash", "unlinked_record", 1),
    }
    assert SECRET not in str(rep)


def test_organisations_need_no_link_row(tmp_path):
    t = valid_tables()
    t["civil_parties"].loc[0, "party_type"] = "Organisation"
    link = t["xjs_link"]
    t["xjs_link"] = link[~((link.source_dataset == "civil_caseman_pcol") & (link.row_id_hash == "civir0"))]
    _, found = problems_of(write_extract(tmp_path, tables=t))
    assert found == set()


def test_empty_file_is_an_error(tmp_path):
    root = write_extract(tmp_path)
    (root / "family_events.parquet").unlink()
    (root / "family_events.csv").write_bytes(b"")
    rep, found = problems_of(root)
    assert found == {("error", "family_events", "", "empty_file", 1)}
    with pytest.raises(DJSUserError, match="family_events"):
        open_extract(root).table("family_events")


def test_malformed_csv_reported_without_content(tmp_path):
    root = write_extract(tmp_path, "csv")
    path = root / "civil_events.csv"
    path.write_text(path.read_text() + f"x,y,z,{SECRET},2020-01-01,extra,fields\n")
    rep, found = problems_of(root)
    assert found == {("error", "civil_events", "", "malformed_file", 1)}
    assert SECRET not in str(rep)
    assert "near line 5" in rep.problems["message"].iloc[0]


def test_parquet_part_with_different_schema(tmp_path):
    t = valid_tables()
    root = write_extract(tmp_path, tables={k: v for k, v in t.items() if k != "probation_rqmnts"})
    rq = t["probation_rqmnts"]
    write_table(root, "probation_rqmnts", rq.iloc[:2], stem="probation_rqmnts_01")
    write_table(root, "probation_rqmnts", rq.iloc[2:].drop(columns="length"), stem="probation_rqmnts_02")
    rep, found = problems_of(root)
    assert found == {("error", "probation_rqmnts", "", "part_schema", 1)}
    assert "part `probation_rqmnts_02.parquet` differs from `probation_rqmnts_01.parquet`: lacks `length`" in str(rep)


def test_table_raises_one_report_listing_every_problem_and_fix(tmp_path):
    t = valid_tables()
    df = t["probation_flatfile"].drop(columns="referral_date")
    df.loc[0, "gender"] = SECRET
    df.loc[1, "row_id_hash"] = None
    t["probation_flatfile"] = df
    root = write_extract(tmp_path, tables=t)
    with pytest.raises(DJSUserError) as info:
        open_extract(root).table("probation_flatfile")
    msg = str(info.value)
    assert msg.startswith("Table `probation_flatfile` has 3 problem(s):")
    assert "[missing_column] referral_date" in msg and "[bad_code] gender" in msg
    assert "[null_value] row_id_hash" in msg and msg.count("Fix:") == 3
    assert SECRET not in msg
    # Other tables stay usable.
    assert len(open_extract(root).table("probation_rqmnts")) == 3
