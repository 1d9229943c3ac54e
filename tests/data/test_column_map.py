"""Column map: loading with every problem reported at once, and the commented draft."""

from __future__ import annotations

import pytest
import yaml

from djs_toolkit import DJSUserError
from djs_toolkit.data import draft_column_map, load_column_map
from tests.helpers import valid_tables, write_extract, write_table


def test_load_reports_every_problem(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text(
        "tables:\n  prisons:\n    file: x\n  mags_defendant_case:\n    columns:\n      a: not_a_column\n"
        "extract_end: 31/03/2023\n"
    )
    with pytest.raises(DJSUserError) as info:
        load_column_map(p)
    msg = str(info.value)
    assert msg.startswith("Column map `m.yaml` has 3 problem(s):")
    assert "`prisons` is not a canonical table" in msg and "`not_a_column`" in msg and "`extract_end`" in msg


def test_load_rejects_bad_yaml_with_line(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("tables:\n  x: [\n")
    with pytest.raises(DJSUserError, match="not valid YAML near line"):
        load_column_map(p)


def test_draft_matches_aliases_and_comments_guesses(tmp_path):
    t = valid_tables()
    pf = t.pop("probation_flatfile").rename(columns={"age_at_offence": "AGE_AT_OFFENCE", "gender": "sex_x"})
    root = write_extract(tmp_path, tables=t)
    write_table(root, "probation_flatfile", pf, stem="moj_probation_flatfile_01")
    mags = t["mags_defendant_case"].rename(columns={"age_at_offence": "age"})
    write_table(root, "mags_defendant_case", mags)
    text = draft_column_map(root)
    assert (
        "    file: moj_probation_flatfile  # guessed: file `moj_probation_flatfile` is an alias of probation_flatfile"
        in text
    )
    assert "      AGE_AT_OFFENCE: age_at_offence\n" in text
    assert "      age: age_at_offence  # guessed: alias of age_at_offence" in text
    assert "# UNMATCHED: `sex_x` matches no column of probation_flatfile" in text
    assert "# missing: gender (S-code)" in text
    doc = yaml.safe_load(text)
    assert doc["tables"]["mags_defendant_case"]["columns"]["age"] == "age_at_offence"
    # The draft loads as a valid column map as it stands.
    p = tmp_path / "draft.yaml"
    p.write_text(text)
    assert load_column_map(p).files["probation_flatfile"] == "moj_probation_flatfile"
