"""Fault suite, bad inputs (issue 20 cases 1-3 and 7): a messy extract or pipeline is refused by `djs validate` and
`djs run` alike, before any kernel starts, with one clear message, exit status 2 (1 for validate), no traceback, no id
or row value printed, and nothing written."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from djs_toolkit.cli import main
from djs_toolkit.runner.pipeline import load_pipeline
from djs_toolkit.runner.run import RunInterrupted
from tests.faults.tools import COUNTS, assert_no_leak, assert_one_clear_error, cli, plant_latin1, write_notebook

ROOT = Path(__file__).resolve().parents[2]
SECRET = "ZQXSECRET9"


def _run(tmp_path: Path, data: Path, *more: str, pipeline: Path = ROOT / "pipeline.yaml", capsys=None):
    return cli("run", pipeline, "--data", data, "--runs", tmp_path / "runs", "--outputs", tmp_path / "outputs", *more,
               capsys=capsys)  # fmt: skip


def _nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "runs").exists() and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("where", ["last", "first"])
def test_a_latin1_byte_in_a_csv_stops_validate_and_run_without_showing_the_row(
    extract, tmp_path, capsys, extract_ids, where
):
    row = plant_latin1(extract / "mags_defendant_case.csv", where)
    code, out, err = cli("validate", extract, capsys=capsys)
    assert code == 1 and "Traceback" not in out + err
    line = re.search(r"`mags_defendant_case.csv` is not UTF-8 at line (\d+), column `ethnicity`", out)
    assert line and (where == "first") == (int(line.group(1)) < 10)
    assert "fix: re-export the file as UTF-8" in out
    code, run_out, run_err = _run(tmp_path, extract, capsys=capsys)
    assert_one_clear_error(code, run_err)
    assert "1 validation error(s)" in run_err and f"at line {line.group(1)}, column `ethnicity`" in run_err
    assert "--allow-invalid" in run_err
    _nothing_written(tmp_path)
    assert_no_leak([out, err, run_out, run_err], extract_ids, tuple(row))


def test_probation_parts_with_different_columns_stop_the_run_instead_of_dropping_probation(
    extract, tmp_path, capsys, extract_ids
):
    df = pd.read_csv(extract / "probation_flatfile.csv", dtype=str, keep_default_na=False)
    (extract / "probation_flatfile.csv").unlink()
    df.iloc[:300].to_csv(extract / "probation_flatfile_01.csv", index=False)
    df.iloc[300:].drop(columns=df.columns[-1]).to_csv(extract / "probation_flatfile_02.csv", index=False)
    code, out, err = cli("validate", extract, capsys=capsys)
    assert code == 1 and "[part_schema] probation_flatfile" in out
    assert "`probation_flatfile_02.csv` could not be read as CSV near line 2" in out  # the part that is wrong
    code, run_out, run_err = _run(tmp_path, extract, capsys=capsys)
    assert_one_clear_error(code, run_err)
    assert "2 validation error(s)" in run_err and "[part_schema] probation_flatfile" in run_err
    _nothing_written(tmp_path)
    assert_no_leak([out, err, run_out, run_err], extract_ids)


def _mixed_dates(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[1::3] = [re.sub(r"(\d{4})-(\d{2})-(\d{2})", r"\3/\2/\1", line) for line in lines[1::3]]
    path.write_text("\n".join(lines), encoding="utf-8")


def _early_date(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[3] = re.sub(r"\d{4}-\d{2}-\d{2}", "1899-12-30", lines[3], count=1)
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda x: (x / "xjs_link.csv").unlink(), "[missing_table] xjs_link"),
        (lambda x: _mixed_dates(x / "prison_journey.csv"), "[wrong_type] prison_journey.journey_start_date"),
        (lambda x: _early_date(x / "prison_journey.csv"), "[implausible_date] prison_journey.journey_start_date"),
    ],
    ids=["missing-linking-table", "mixed-date-format", "date-1899"],
)
def test_validate_and_run_agree_on_what_is_an_error(extract, tmp_path, capsys, extract_ids, damage, expected):
    damage(extract)
    code, out, err = cli("validate", extract, capsys=capsys)
    assert code == 1 and expected in out and "Traceback" not in err
    code, run_out, run_err = _run(tmp_path, extract, capsys=capsys)
    assert_one_clear_error(code, run_err)
    assert expected in run_err and "nothing was run" in run_err
    _nothing_written(tmp_path)
    assert_no_leak([out, err, run_out, run_err], extract_ids)


def test_a_date_after_the_extract_date_is_flagged_as_a_warning(extract, capsys):
    path = extract / "mags_offence.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[5] = re.sub(r"\d{4}-\d{2}-\d{2}", "2032-01-01", lines[5], count=1)
    path.write_text("\n".join(lines), encoding="utf-8")
    code, out, _ = cli("validate", extract, capsys=capsys)
    assert code == 0 and "[implausible_date] mags_offence.offence_date: 1 date(s) after the extract date" in out


def test_two_source_columns_for_one_canonical_column_fail_validation(extract, tmp_path, capsys):
    df = pd.read_csv(extract / "prison_journey.csv", dtype=str, keep_default_na=False)
    df["sex"] = df["gender"]
    df.to_csv(extract / "prison_journey.csv", index=False)
    (tmp_path / "map.yaml").write_text("version: 1\ntables:\n  prison_journey:\n    columns:\n      sex: gender\n")
    code, out, _ = cli("validate", extract, "--column-map", tmp_path / "map.yaml", capsys=capsys)
    assert (
        code == 1
        and "[duplicate_mapping] prison_journey.gender: columns `gender` and `sex` both map to `gender`" in out
    )


def test_a_bad_parameter_value_is_refused_before_any_kernel_starts(tmp_path, capsys):
    nb = write_notebook(
        tmp_path / "nb" / "groups.ipynb", 'group_by: str = "sex"  # breakdown; choices: sex, ethnicity_group, age_band'
    )
    (tmp_path / "p.yaml").write_text(
        "notebooks:\n  - notebook: nb/groups.ipynb\n    sets:\n"
        "      - {name: sex, group_by: sex}\n      - {name: shoe, group_by: shoe_size}\n"
    )
    (tmp_path / "data").mkdir()
    code, _, err = _run(tmp_path, tmp_path / "data", pipeline=tmp_path / "p.yaml", capsys=capsys)
    assert_one_clear_error(code, err)
    assert (
        "run groups-shoe: parameter `group_by` must be one of 'sex', 'ethnicity_group', 'age_band', got 'shoe_size'"
        in err
    )
    assert "nothing was run" in err
    _nothing_written(tmp_path)
    assert nb.is_file()


@pytest.mark.parametrize(
    ("notebook", "value", "choices"),
    [
        ("notebooks/40_wider_issues.ipynb", {"group_by": "shoe_size"}, "'sex', 'ethnicity_group', 'age_band'"),
        ("notebooks/10_reentry.ipynb", {"index_type": "bogus"}, "'release', 'court_disposal', 'case_end'"),
        ("notebooks/30_flows.ipynb", {"kind": "sideways"}, "'first_entry', 're_entry', 'transition'"),
    ],
)
def test_the_research_notebooks_declare_their_choices(tmp_path, notebook, value, choices):
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("*.py"))
    (tmp_path / "p.yaml").write_text(f"notebooks:\n  - notebook: {notebook}\n    parameters: {value}\n")
    with pytest.raises(Exception) as err:
        load_pipeline(tmp_path / "p.yaml")
    assert f"must be one of {choices}" in str(err.value)


def test_notebooks_that_cannot_run_are_refused_before_any_kernel_starts(tmp_path, capsys):
    write_notebook(tmp_path / "nb" / "r.ipynb", "", kernelspec={"name": "ir", "language": "R", "display_name": "R"})
    (tmp_path / "nb" / "broken.ipynb").write_text('{"cells": [' + SECRET)
    (tmp_path / "p.yaml").write_text("notebooks:\n  - notebook: nb/r.ipynb\n  - notebook: nb/broken.ipynb\n")
    (tmp_path / "data").mkdir()
    code, _, err = _run(tmp_path, tmp_path / "data", pipeline=tmp_path / "p.yaml", capsys=capsys)
    assert_one_clear_error(code, err)
    assert "notebook nb/r.ipynb is for the `ir` kernel (language R)" in err
    assert "notebook nb/broken.ipynb is not a readable .ipynb" in err and SECRET not in err
    _nothing_written(tmp_path)


def test_a_notebook_without_kernelspec_passes_the_checks(tmp_path):
    nb = write_notebook(tmp_path / "nb" / "plain.ipynb", *COUNTS)
    doc = nbformat.read(nb, as_version=4)
    assert "kernelspec" not in doc.metadata
    (tmp_path / "p.yaml").write_text("notebooks:\n  - notebook: nb/plain.ipynb\n")
    assert load_pipeline(tmp_path / "p.yaml").labels() == ["plain"]


def test_an_unwritable_outputs_folder_is_refused_before_the_first_notebook(tmp_path, capsys):
    write_notebook(tmp_path / "nb" / "c.ipynb", *COUNTS)
    (tmp_path / "p.yaml").write_text("notebooks:\n  - notebook: nb/c.ipynb\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "blocked").write_text("a file where the outputs folder should go")
    code = main(["run", str(tmp_path / "p.yaml"), "--data", str(tmp_path / "data"), "--runs", str(tmp_path / "runs"),
                 "--outputs", str(tmp_path / "blocked" / "outputs")])  # fmt: skip
    err = capsys.readouterr().err
    assert_one_clear_error(code, err)
    assert f"--outputs {tmp_path / 'blocked' / 'outputs'}: cannot be created" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permissions do not bind root")
def test_an_outputs_folder_without_write_permission_is_refused(tmp_path, capsys):
    write_notebook(tmp_path / "nb" / "c.ipynb", *COUNTS)
    (tmp_path / "p.yaml").write_text("notebooks:\n  - notebook: nb/c.ipynb\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs").chmod(0o500)
    try:
        code, _, err = _run(tmp_path, tmp_path / "data", pipeline=tmp_path / "p.yaml", capsys=capsys)
    finally:
        (tmp_path / "outputs").chmod(0o700)
    assert_one_clear_error(code, err)
    assert "cannot write in" in err and not (tmp_path / "runs").exists()


def test_resume_names_a_damaged_run_file(tmp_path, capsys):
    write_notebook(tmp_path / "nb" / "c.ipynb", *COUNTS)
    (tmp_path / "p.yaml").write_text("notebooks:\n  - notebook: nb/c.ipynb\n")
    run = tmp_path / "runs" / "20260101T0000Z-abcdef"
    run.mkdir(parents=True)
    (run / "run.json").write_text('{"data": ')
    code, _, err = cli("run", tmp_path / "p.yaml", "--resume", "--runs", tmp_path / "runs", capsys=capsys)
    assert_one_clear_error(code, err)
    assert f"{run / 'run.json'} is damaged (not valid JSON)" in err and "delete that run's folder" in err


def test_an_unexpected_fault_is_named_without_its_message(monkeypatch, capsys):
    import djs_toolkit.data as data

    def boom(*_a, **_k):
        raise ValueError(f"could not convert {SECRET}")

    monkeypatch.setattr(data, "open_extract", boom)
    code, out, err = cli("validate", ".", capsys=capsys)
    assert code == 3 and "Traceback" not in err and SECRET not in out + err
    assert err.startswith("error: unexpected ValueError at ") and "test_inputs.py:" in err and "(boom)" in err


def test_ctrl_c_prints_the_resume_command(monkeypatch, capsys):
    import djs_toolkit.runner as runner

    def interrupted(*_a, **_k):
        raise RunInterrupted("interrupted: resume with `djs run --resume --run-id 20260101T0000Z-abcdef`")

    monkeypatch.setattr(runner, "run_pipeline", interrupted)
    code, _, err = cli("run", capsys=capsys)
    assert code == 130 and err == "interrupted: resume with `djs run --resume --run-id 20260101T0000Z-abcdef`\n"


def test_a_shared_ledger_in_use_by_another_run_is_refused(tmp_path, capsys):
    from djs_toolkit.sdc.ledger import Ledger

    write_notebook(tmp_path / "nb" / "c.ipynb", *COUNTS)
    (tmp_path / "p.yaml").write_text("notebooks:\n  - notebook: nb/c.ipynb\n")
    (tmp_path / "data").mkdir()
    with Ledger(tmp_path / "ledger").lock("djs run (another project run)"):
        code, _, err = _run(tmp_path, tmp_path / "data", "--ledger", tmp_path / "ledger", pipeline=tmp_path / "p.yaml",
                            capsys=capsys)  # fmt: skip
    assert_one_clear_error(code, err)
    assert f"the ledger {tmp_path / 'ledger'} is in use by another `djs run`: process {os.getpid()}" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
