"""Every research notebook x parameter set in pipeline.yaml runs on the tiny dummy extract (papermill, fresh
kernels, two processes) and leaves only checked, scanned outputs behind: OpenSAFELY's "run_all on dummy
data" check (docs/workflow.md §1.7, §2.4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from djs_toolkit.outputs.scan import scan_release
from djs_toolkit.runner import run_pipeline
from djs_toolkit.runner.bundle import verify_bundle
from djs_toolkit.runner.pipeline import load_pipeline
from djs_toolkit.sdc import load_profile
from djs_toolkit.sdc.release_attack import attack_release
from djs_toolkit.sdc.release_tables import read_release_folder

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tiny_extract_dir, tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    shutil.copy(ROOT / "pipeline.yaml", project / "pipeline.yaml")
    report = run_pipeline(project / "pipeline.yaml", data=str(tiny_extract_dir), jobs=2, echo=lambda _: None)
    return project, report


def test_every_notebook_and_parameter_set_runs(bundle):
    _, report = bundle
    expected = {spec.label for spec in load_pipeline(ROOT / "pipeline.yaml").runs}
    assert len(expected) == 23
    assert {r["run"]: r["status"] for r in report.rows} == dict.fromkeys(expected, "ok")
    # exit code 1 means the safety scan withheld something (fail closed); that is checked below, not here.
    assert report.bundle is not None


def test_bundle_verifies_and_only_checked_outputs_leave(bundle):
    _, report = bundle
    folder = report.bundle
    assert verify_bundle(folder) == []
    assert scan_release(folder) == {}
    results = json.loads((folder / "results.json").read_text())["results"]
    assert results and {o["status"] for o in results.values()} <= {"pass", "review", "fail"}
    # A failed output is recorded for the checker but never released.
    failed = {f["name"] for o in results.values() if o["status"] == "fail" for f in o.get("files", [])}
    released = {p.name for p in (folder / "release").iterdir()}
    assert not failed & {f"release/{n}" for n in released}
    assert any(n.endswith("upset_fig.png") for n in released) and any(n.endswith("km_fig.png") for n in released)
    # Outputs that do not depend on a run's parameters are made once per pipeline (pr_measures, all_sets).
    names = sorted(
        uid
        for uid in results
        if uid.split(".", 1)[1] in ("pr_by_type", "pr_rates", "overlap_sets", "linkage_sensitivity", "upset_fig")
    )
    assert names == [
        "overlaps-possession-crime.linkage_sensitivity",
        "overlaps-possession-crime.overlap_sets",
        "overlaps-possession-crime.upset_fig",
        "reentry-release.pr_by_type",
        "reentry-release.pr_rates",
    ]
    # Executed notebooks are logs: never in the bundle.
    assert not list(folder.rglob("*.ipynb"))


def test_the_whole_release_attack_recovers_nothing(bundle):
    # Issue 16 item 8: every released table of the pipeline read together, every linear relation in one LP.
    _, report = bundle
    doc = json.loads((report.bundle / "results.json").read_text())
    summary = doc["djs_toolkit"]["release_attack"]
    assert summary["tables"] >= 30 and summary["equations"] > 0
    assert summary["findings"] == 0 and summary["outputs_withheld"] == 0
    assert "no withheld or small count can be recovered" in (report.bundle / "CLEARANCE.md").read_text()
    # attacking the bundle as released, again, finds nothing either
    prof = load_profile(doc["djs_toolkit"]["profile"]["name"])
    res = attack_release(read_release_folder(report.bundle, doc, prof), prof)
    assert not res.findings and res.seconds < 60
    # one route for survival tables: every KM and CIF output went through the safe path
    curves = [k for k in doc["results"] if k.split(".", 1)[1] in ("km", "cif")]
    weighted = [k for k in curves if doc["results"][k]["djs_toolkit"]["statistic"] == "weighted_risk"]
    assert curves and all(
        doc["results"][k]["properties"]["method"] in ("km", "cif") for k in set(curves) - set(weighted)
    )
    # the target trial's weighted curves are checked through their unweighted counts (numbers at risk, events)
    assert weighted and all(doc["results"][k]["djs_toolkit"]["n"] for k in weighted)
