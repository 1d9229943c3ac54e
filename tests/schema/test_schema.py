"""The declarations: real names where the reference has them, P elsewhere, docs from the same source."""

from __future__ import annotations

from djs_toolkit.schema import DATASETS, TABLES, schema_counts, to_markdown


def test_counts_of_tables_columns_and_placeholders():
    assert schema_counts() == {"tables": 17, "tables_P": 13, "columns": 164, "columns_P": 107}


def test_real_names_from_the_reference_are_tagged_seen():
    assert TABLES["xjs_link"].column("estimated_xjs_id").provenance == "S-code"
    assert TABLES["probation_flatfile"].column("event_id_hash").provenance == "S-code"
    assert TABLES["family_cases"].column("case_number_hash").provenance == "S"
    assert TABLES["prison_journey"].column("estimated_offender_id").provenance == "S"
    assert set(TABLES["xjs_link"].column("source_dataset").codes) == {
        "mags_hocas",
        "crown_xhibit",
        "prison_nomis",
        "probation_delius",
        "familyman",
        "civil_caseman_pcol",
    }


def test_ids_and_codes_are_strings():
    for table in TABLES.values():
        for c in table.columns:
            if (
                c.name.endswith("_hash")
                or c.name.endswith("_code")
                or (c.name.startswith("estimated_") and c.name != "estimated_match_score")
            ):
                assert c.dtype == "string", (table.name, c.name)


def test_every_dataset_has_a_person_table_with_row_id_hash():
    assert [d.start.isoformat() for d in DATASETS.values()] == [
        "2011-01-01",
        "2013-01-01",
        "2011-01-01",
        "2014-01-01",
        "2011-01-01",
        "2012-01-01",
    ]
    for ds in DATASETS.values():
        assert "row_id_hash" in TABLES[ds.person_table].column_names
        assert not TABLES[ds.person_table].column("row_id_hash").nullable


def test_markdown_has_one_section_per_table_and_every_column():
    md = to_markdown()
    assert md.count("\n## ") == 17
    for table in TABLES.values():
        for c in table.columns:
            assert f"| `{c.name}` | {c.dtype} |" in md
    assert "Coverage: 2014-01-01 to 2020-12-31 (checked on `referral_date`)." in md
