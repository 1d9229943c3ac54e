"""The `djs` command: validate exit codes, drafts, the data dictionary; user errors without traceback."""

from __future__ import annotations

from djs_toolkit.cli import main
from tests.helpers import valid_tables, write_extract


def test_validate_exit_codes(tmp_path, capsys):
    assert main(["validate", str(write_extract(tmp_path / "ok"))]) == 0
    assert "Validation: OK - 0 error(s), 0 warning(s)" in capsys.readouterr().out
    t = valid_tables()
    t["probation_flatfile"] = t["probation_flatfile"].drop(columns="referral_date")
    assert main(["validate", str(write_extract(tmp_path / "bad", tables=t))]) == 1
    out = capsys.readouterr().out
    assert "Validation: FAILED - 1 error(s)" in out and "[missing_column] probation_flatfile.referral_date" in out


def test_user_error_has_no_traceback(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Extract folder") and "Traceback" not in err


def test_draft_column_map_and_markdown(tmp_path, capsys):
    root = write_extract(tmp_path / "x")
    assert main(["validate", str(root), "--draft-column-map", str(tmp_path / "m.yaml")]) == 0
    assert (tmp_path / "m.yaml").read_text().startswith("# djs_toolkit column map: DRAFT")
    assert main(["schema", "--markdown", "--out", str(tmp_path / "dd.md")]) == 0
    assert (tmp_path / "dd.md").read_text().count("\n## ") == 17


def test_spine_command_prints_counts_and_diagnostics(tmp_path, capsys):
    assert main(["spine", str(write_extract(tmp_path / "x"))]) == 0
    out = capsys.readouterr().out
    assert "Events per dataset and type:" in out and "records_linked_to_several_persons" in out
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines()}
    assert rows[("civil_caseman_pcol", "civil_claim")] == ["3", "3"]
    assert rows[("familyman", "family_order")] == ["1", "1"]
