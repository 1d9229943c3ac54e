"""`djs run`, `djs verify` and `djs doctor` on the command line: exit codes and messages."""

from __future__ import annotations

import pandas as pd
import pytest

from djs_toolkit import outputs
from djs_toolkit.cli import main
from djs_toolkit.outputs import stage as runner_stage
from djs_toolkit.runner.bundle import assemble


@pytest.fixture()
def bundle(tmp_path, monkeypatch):
    """A bundle assembled from two staged records (no kernel needed)."""
    stage = tmp_path / "stage" / "nb1"
    monkeypatch.setenv(runner_stage.ENV_STAGE, str(stage))
    monkeypatch.setenv(runner_stage.ENV_PROFILE, "srs")
    monkeypatch.setenv(runner_stage.ENV_RUN_NAME, "nb1")
    outputs.save_table(pd.DataFrame({"court": ["a", "b"], "n": [30, 40]}), "courts", "by court", "all")
    outputs.save_table(pd.DataFrame({"court": ["a", "b"], "n": [30, 2]}), "small", "by court", "all")
    out = tmp_path / "outputs" / "r1"
    withheld = assemble(
        [
            {
                "label": "nb1",
                "notebook": "nb1.ipynb",
                "notebook_sha256": "0" * 64,
                "parameters": {"seed": 1},
                "stage": stage,
                "scan": [],
            }
        ],
        "srs",
        tmp_path / "build",
        out,
    )
    assert withheld == {}
    return out


def test_run_with_a_bad_pipeline_prints_one_report_without_traceback(tmp_path, capsys):
    (tmp_path / "pipeline.yaml").write_text("notebooks:\n  - notebook: missing.ipynb\n    colour: red\n")
    assert main(["run", str(tmp_path / "pipeline.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: pipeline.yaml: 2 problem(s), nothing was run")
    assert "notebook missing.ipynb not found" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "outputs").exists()


def test_run_without_a_pipeline_file_says_what_to_pass(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run"]) == 2
    assert "pipeline file pipeline.yaml not found" in capsys.readouterr().err


def test_verify_exit_codes_and_listing(bundle, capsys):
    assert main(["verify", str(bundle)]) == 0
    assert "file(s) verified against manifest-sha256.txt" in capsys.readouterr().out
    (bundle / "release" / "nb1.courts.csv").write_text("court,n\na,31\nb,40\n")
    assert main(["verify", str(bundle)]) == 1
    out = capsys.readouterr().out
    assert "1 problem(s)" in out and "modified: release/nb1.courts.csv" in out
    assert main(["verify", str(bundle / "nope")]) == 1


def test_bundle_from_records_holds_only_release_candidates(bundle):
    assert sorted(p.name for p in (bundle / "release").iterdir()) == ["nb1.courts.csv", "nb1.small.csv"]
    assert (bundle / "release" / "nb1.small.csv").read_text() == "court,n\na,[suppressed]\nb,[suppressed]\n"
    md = (bundle / "CLEARANCE.md").read_text()
    assert "| nb1 | nb1.ipynb | seed=1 | 2 |" in md and "## nb1.small: review" in md


def test_doctor_quick_exit_code(tmp_path, capsys):
    assert main(["doctor", "--root", str(tmp_path), "--quick"]) == 0
    assert "checks passed." in capsys.readouterr().out
