"""The notebooks that read a released column by name run under a rounding profile too: `opensafely` names a rounded
column for its rounding (`events_rounded5`), and notebook 00 failed with "The table has no column `events`"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from djs_toolkit.runner import run_pipeline

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# One parameter set of each notebook that reads a released column by name (the srs runs are in
# test_research_notebooks; the others read theirs through plotting functions that take the Output).
PIPELINE = """version: 1
timeout: 600
notebooks:
  - notebook: notebooks/00_extract_overview.ipynb
    name: overview
  - notebook: notebooks/30_flows.ipynb
    name: flows
    sets:
      - {name: first, kind: first_entry}
  - notebook: notebooks/40_wider_issues.ipynb
    name: wider
    sets:
      - {name: sex, group_by: sex}
  - notebook: notebooks/60_family_court_outcomes.ipynb
    name: family-outcomes
    sets:
      - {name: ipw, method: ipw}
"""


def test_notebooks_run_under_the_opensafely_profile(tiny_extract_dir, tmp_path):
    (tmp_path / "notebooks").mkdir()
    for nb in ("00_extract_overview", "30_flows", "40_wider_issues", "60_family_court_outcomes"):
        shutil.copy(ROOT / "notebooks" / f"{nb}.ipynb", tmp_path / "notebooks")
    (tmp_path / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    report = run_pipeline(
        tmp_path / "pipeline.yaml", data=str(tiny_extract_dir), profile="opensafely", jobs=2, ledger="off",
        echo=lambda _: None,
    )  # fmt: skip
    assert {r["run"]: (r["status"], r.get("error", "")) for r in report.rows} == dict.fromkeys(
        ["overview", "flows-first", "wider-sex", "family-outcomes-ipw"], ("ok", "")
    )
